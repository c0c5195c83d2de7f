"""Waiting, from the test side, for something the server thread does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


class Signal:
    """A condition both threads and event loops can wait on: the server thread calls
    :meth:`notify` after a change; waiters re-check their predicate."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._condition = threading.Condition(self.lock)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def notify(self) -> None:
        with self.lock:
            self._condition.notify_all()
            for loop, event in self._waiters:
                loop.call_soon_threadsafe(event.set)
            self._waiters.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Block this thread until ``predicate()`` holds; TimeoutError after ``timeout``."""
        with self.lock:
            if not self._condition.wait_for(predicate, timeout):
                raise TimeoutError(f"{what} after {timeout}s")

    async def wait_for_async(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 - a lost wait must not eat the whole test timeout
        what: str,
    ) -> None:
        """Like :meth:`wait_for`, without blocking the event loop."""
        try:
            async with asyncio.timeout(timeout):
                while not await self._changed_since(predicate):
                    pass
        except TimeoutError:
            raise TimeoutError(f"{what} after {timeout}s") from None

    async def _changed_since(self, predicate: Callable[[], bool]) -> bool:
        """True if ``predicate()`` holds now; else False after the next :meth:`notify`."""
        with self.lock:
            if predicate():
                return True
            waiter = (asyncio.get_running_loop(), asyncio.Event())
            self._waiters.append(waiter)
        try:
            await waiter[1].wait()
        finally:
            with self.lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return False
