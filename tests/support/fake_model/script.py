"""Which reply each request gets (rules, then the queue, then the default) and the record.

Shared between the test thread (scripting, assertions) and the server thread (answering),
hence the lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.fake_model.recorded import ModelRequest, echo
from tests.support.fake_model.replies import Reply
from tests.support.fake_model.waiting import Signal

Responder = Reply | Callable[[ModelRequest], Reply]
"""A fixed reply, or a function of the request (e.g. to echo or count)."""


@dataclass
class Rule:
    """Answer requests matching ``predicate``; ``times`` limits how often (None: always)."""

    predicate: Callable[[ModelRequest], bool]
    reply: Responder
    times: int | None = None
    hits: int = 0

    def takes(self, request: ModelRequest) -> bool:
        return (self.times is None or self.hits < self.times) and self.predicate(request)


def _resolve(responder: Responder, request: ModelRequest) -> Reply:
    return responder if isinstance(responder, Reply) else responder(request)


class Script:
    """Rules first (one turn may call several agents, each recognisable by its request),
    then queued replies in order, then ``default``."""

    def __init__(self, default: Responder = echo) -> None:
        self.default = default
        self._changed = Signal()
        self._queue: deque[Responder] = deque()
        self._rules: list[Rule] = []
        self._requests: list[ModelRequest] = []

    def push(self, *replies: Responder) -> None:
        """Queue replies for the next requests that no rule takes."""
        with self._changed.lock:
            self._queue.extend(replies)

    def when(
        self,
        predicate: Callable[[ModelRequest], bool],
        reply: Responder,
        *,
        times: int | None = None,
    ) -> Rule:
        """Answer matching requests with ``reply``, e.g.
        ``when(lambda r: "Classify" in r.instructions, structured({"category": "billing"}))``."""
        rule = Rule(predicate, reply, times)
        with self._changed.lock:
            self._rules.append(rule)
        return rule

    def record(self, request: ModelRequest) -> None:
        with self._changed.lock:
            self._requests.append(request)
        self._changed.notify()

    def choose(self, request: ModelRequest) -> Reply:
        """Pick (and consume) the reply for a recorded request."""
        with self._changed.lock:
            rule = next((rule for rule in self._rules if rule.takes(request)), None)
            if rule is not None:
                rule.hits += 1
                responder = rule.reply
            elif self._queue:
                responder = self._queue.popleft()
            else:
                responder = self.default
        request.reply = _resolve(responder, request)
        return request.reply

    def choose_rule(self, request: ModelRequest) -> Reply | None:
        """The reply of the first rule that takes ``request``, or None: for requests that
        answer by themselves (embeddings) and must not eat the queue of model replies."""
        with self._changed.lock:
            rule = next((rule for rule in self._rules if rule.takes(request)), None)
            if rule is None:
                return None
            rule.hits += 1
        request.reply = _resolve(rule.reply, request)
        return request.reply

    @property
    def requests(self) -> list[ModelRequest]:
        """Every request received so far, oldest first (including rejected ones)."""
        with self._changed.lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Queued replies not yet consumed: assert 0 to prove the script was used up."""
        with self._changed.lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued replies, rules and recorded requests (between tests)."""
        with self._changed.lock:
            self._queue.clear()
            self._rules.clear()
            self._requests.clear()

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[ModelRequest]:
        """Block until at least ``count`` requests arrived; return them all."""
        self._changed.wait_for(self._arrived(count), timeout, self._short(count))
        return self.requests

    async def wait_for_requests_async(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a lost wait must not eat the test timeout
    ) -> list[ModelRequest]:
        """Like :meth:`wait_for_requests`, without blocking the event loop."""
        await self._changed.wait_for_async(self._arrived(count), timeout, self._short(count))
        return self.requests

    def _arrived(self, count: int) -> Callable[[], bool]:
        return lambda: len(self._requests) >= count

    def _short(self, count: int) -> str:
        return f"fewer than {count} model requests arrived"
