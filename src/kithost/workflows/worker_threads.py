"""Worker threads that know which turn they work for.

An export may call ``Runner.run_sync`` from a thread (``asyncio.to_thread``,
``loop.run_in_executor(None, …)``). kithost finds the turn through a context variable;
``asyncio.to_thread`` copies the caller's context into the thread, ``run_in_executor`` does
not, so the loop's default executor is given one that does.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_CARRYING: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


class ContextCarryingExecutor(ThreadPoolExecutor):
    """Runs each job in a copy of the context it was submitted from."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(functools.partial(context.run, fn, *args, **kwargs))


def carry_context_into_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Give ``loop`` a default executor that carries the context (once per loop)."""
    if loop in _CARRYING:
        return
    loop.set_default_executor(ContextCarryingExecutor(thread_name_prefix="kithost-worker"))
    _CARRYING.add(loop)


def in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
