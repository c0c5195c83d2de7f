"""What an export gets when it imports ``openai`` or ``guardrails``: kithost's versions.

Exports build OpenAI clients at import time (``client = AsyncOpenAI()`` for their guardrails),
which fails without ``OPENAI_API_KEY`` and would bypass kithost's provider settings. kithost
gives the export's module a ``__builtins__`` of its own whose ``__import__`` hands it, for those
two packages, a view of the real module in which a few names are kithost's:

- ``openai.AsyncOpenAI`` → ``ProviderClient`` (whatever arguments the export passes);
  ``openai.OpenAI`` → a plain sync client on the provider's key and base URL;
- ``guardrails.run_guardrails`` and ``instantiate_guardrails`` → the real ones, with kithost's
  answers to failing checks and to a missing spaCy model (``checks``);
- ``guardrails.GuardrailAgent`` → the real factory, its guardrails given ``ProviderClient``;
- ``guardrails.GuardrailsAsyncOpenAI`` → the real client on kithost's provider.

Why this way: nothing process-wide changes. No environment variable is set (another turn, or a
worker thread, could read it meanwhile), and no library attribute is patched (every other user
of ``openai`` in the process would see it, during the load and after). The view is the export's
alone, for its module-level code and for its functions at run time alike, and the real modules
stay untouched.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import openai

from kithost.workflows.guardrails.client import ProviderClient
from kithost.workflows.providers import ProviderConfig

ImportFunction = Callable[..., types.ModuleType]


class ExportEnvironment:
    """The import-time environment of every export loaded with one provider configuration."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.builtins: dict[str, Any] = {**vars(builtins), "__import__": self._import}

    def prepare(self, module: types.ModuleType) -> None:
        """Before the export's code runs: its imports go through this environment."""
        module.__dict__["__builtins__"] = self.builtins

    def finish(self, module: types.ModuleType) -> None:
        """After: an OpenAI client that reached the module some other way is replaced too
        (``client`` and ``ctx.guardrail_llm``, as Agent Builder writes them)."""
        for name, value in list(vars(module).items()):
            if type(value) is openai.AsyncOpenAI:
                setattr(module, name, ProviderClient(self.config))
            elif type(getattr(value, "guardrail_llm", None)) is openai.AsyncOpenAI:
                value.guardrail_llm = ProviderClient(self.config)

    def _import(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,  # __import__'s own names
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        module = builtins.__import__(name, globals, locals, fromlist or (), level)
        return self._view(module) if level == 0 else module

    def _view(self, module: types.ModuleType) -> types.ModuleType:
        names = self._replaced.get(module.__name__)
        return module if names is None else _ModuleView(module, names, self._view)

    @cached_property
    def _replaced(self) -> dict[str, dict[str, Callable[[], Any]]]:
        """Per module, the names this environment answers (each built on first use: only
        exports that use guardrails pay for importing them)."""
        run_guardrails = {
            "run_guardrails": lambda: self._run_guardrails,
            "instantiate_guardrails": lambda: self._instantiate_guardrails,
        }
        agent = {"GuardrailAgent": lambda: self._guardrail_agent}
        client = {"GuardrailsAsyncOpenAI": lambda: self._guardrails_client}
        return {
            "openai": {
                "AsyncOpenAI": lambda: self._async_client,
                "OpenAI": lambda: self._sync_client,
            },
            "guardrails": {**run_guardrails, **agent, **client},
            "guardrails.runtime": run_guardrails,
            "guardrails.agents": agent,
            "guardrails.client": client,
        }

    @cached_property
    def _async_client(self) -> type[ProviderClient]:
        config = self.config

        class AsyncOpenAI(ProviderClient):
            """kithost's provider client, whatever the export passes (key, base URL, …)."""

            def __init__(self, *_args: Any, **_kwargs: Any) -> None:
                super().__init__(config)

        return AsyncOpenAI

    @cached_property
    def _sync_client(self) -> type[openai.OpenAI]:
        config = self.config

        class OpenAI(openai.OpenAI):
            """A sync client on kithost's provider (model names are not aliased here)."""

            def __init__(self, *_args: Any, **_kwargs: Any) -> None:
                super().__init__(
                    api_key=config.api_key or "unused",
                    base_url=config.base_url,
                    timeout=config.timeout_seconds,
                    max_retries=config.max_retries,
                )

        return OpenAI

    @cached_property
    def _run_guardrails(self) -> Any:
        from guardrails import runtime  # only exports that use it pay for it

        from kithost.workflows.guardrails.checks import kithost_run_guardrails

        return kithost_run_guardrails(runtime.run_guardrails)

    @cached_property
    def _instantiate_guardrails(self) -> Any:
        from guardrails import runtime

        from kithost.workflows.guardrails.checks import kithost_instantiate_guardrails

        return kithost_instantiate_guardrails(runtime.instantiate_guardrails)

    @cached_property
    def _guardrail_agent(self) -> Callable[..., Any]:
        """The library's ``GuardrailAgent`` with its functions re-bound to this environment's
        imports: the contexts it builds (``AsyncOpenAI()`` inside) get ``ProviderClient``."""
        from guardrails import agents

        namespace = {**vars(agents), "__builtins__": self.builtins}
        for name in ("_create_agents_guardrails_from_config", "_create_default_tool_context"):
            namespace[name] = _rebound(getattr(agents, name), namespace)
        factory = _rebound(agents.GuardrailAgent.__new__, namespace)

        def GuardrailAgent(*args: Any, **kwargs: Any) -> Any:  # the export's name
            return factory(agents.GuardrailAgent, *args, **kwargs)

        return GuardrailAgent

    @cached_property
    def _guardrails_client(self) -> type[Any]:
        from guardrails.client import GuardrailsAsyncOpenAI as Real

        provider = self.config

        class GuardrailsAsyncOpenAI(Real):
            """The library's client on kithost's provider, for its calls and its checks."""

            def __init__(
                self, config: Any, raise_guardrail_errors: bool = False, **_openai_kwargs: Any
            ) -> None:
                super().__init__(
                    config,
                    raise_guardrail_errors,
                    api_key=provider.api_key or "unused",
                    base_url=provider.base_url,
                    timeout=provider.timeout_seconds,
                    max_retries=provider.max_retries,
                )
                self._resource_client = ProviderClient(provider)
                self.context.guardrail_llm = ProviderClient(provider)

        return GuardrailsAsyncOpenAI


class _ModuleView(types.ModuleType):
    """A real module, but for the names given (and for submodules, viewed the same way)."""

    def __init__(
        self,
        real: types.ModuleType,
        names: Mapping[str, Callable[[], Any]],
        view: Callable[[types.ModuleType], types.ModuleType],
    ) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__.update(_real=real, _names=names, _view_of=view)
        for key in ("__spec__", "__loader__", "__package__", "__file__", "__path__", "__all__"):
            if hasattr(real, key):
                self.__dict__[key] = getattr(real, key)

    def __getattr__(self, name: str) -> Any:
        names: Mapping[str, Callable[[], Any]] = self.__dict__["_names"]
        if name in names:
            return names[name]()
        value = getattr(self.__dict__["_real"], name)
        return self.__dict__["_view_of"](value) if isinstance(value, types.ModuleType) else value

    def __dir__(self) -> list[str]:
        return dir(self.__dict__["_real"])


def _rebound(function: Any, namespace: dict[str, Any]) -> Any:
    """``function`` running with ``namespace`` as its globals (so with its builtins)."""
    copy = types.FunctionType(
        function.__code__,
        namespace,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy
