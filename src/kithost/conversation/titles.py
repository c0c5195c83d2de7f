"""Thread titles when the session asks for automatic titling.

A title needs only the thread's first message, so the workflow's model writes it while the
answer streams (``ThreadTitles.begin``). At the answer's end the stream waits at most
``TITLE_GRACE_SECONDS`` more for it, and the SDK's ``thread.updated`` carries it. A title still
being written then no longer holds the stream: it is saved when it comes (or the first line,
should the model fail) and shows the next time threads are listed. On Stop the thread gets the
model's title if it is already written, else the first line. Without a model, or when the model
fails, the first line of the message is the title.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chatkit.store import NotFoundError, Store

from kithost.core.context import RequestContext

log = logging.getLogger("kithost.conversation")

MAX_TITLE_LENGTH = 60
TITLE_GRACE_SECONDS = 0.5
"""How long the end of a first answer's stream waits for a title the model is still writing."""
TITLE_TIMEOUT_SECONDS = 30.0
"""The longest a model may take over a title; the thread keeps the first line after that."""

WriteTitle = Callable[[str, str], Awaitable[str | None]]
"""(first message, model) → the model's title, or None when it could not write one."""


def fallback_title(text: str) -> str | None:
    """A deterministic title from the first message: its first line, cut at a word boundary."""
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if not line:
        return None
    if len(line) <= MAX_TITLE_LENGTH:
        return line
    cut = line[:MAX_TITLE_LENGTH].rsplit(" ", 1)[0] or line[:MAX_TITLE_LENGTH]
    return cut.rstrip(" ,.;:-") + "…"


@dataclass
class _Title:
    text: str
    """The first message."""
    writing: asyncio.Task[str | None] | None
    """The model writing the title; None without a model."""

    def now(self) -> str | None:
        """The model's title if it is written, else the first line."""
        task = self.writing
        if task is not None and task.done() and not task.cancelled() and not task.exception():
            title = task.result()
            if title:
                return title
        return fallback_title(self.text)


class ThreadTitles:
    """The titles of this process's first exchanges, from the first message to the store."""

    def __init__(self, write: WriteTitle, store: Store[RequestContext]):
        self._write = write
        self._store = store
        self._titles: dict[str, _Title] = {}
        """Threads whose first answer is streaming, by id."""
        self._late: dict[str, tuple[_Title, asyncio.Task[None]]] = {}
        """Threads whose stream ended before their title was written: the task that saves it."""

    def pending(self, thread_id: str) -> bool:
        """A title is on its way for this thread: a next turn must not ask for another."""
        return thread_id in self._titles or thread_id in self._late

    def begin(self, thread_id: str, text: str, model: str | None) -> None:
        """Start titling the thread from its first message (the model's, when there is one)."""
        self.discard(thread_id)
        writing = None
        if model:
            # A task of its own, so that the title is written while the answer streams.
            writing = asyncio.create_task(self._bounded(text, model), name=f"title {thread_id}")
        self._titles[thread_id] = _Title(text, writing)

    async def _bounded(self, text: str, model: str) -> str | None:
        try:
            async with asyncio.timeout(TITLE_TIMEOUT_SECONDS):
                return await self._write(text, model)
        except TimeoutError:
            log.warning("title generation took more than %gs", TITLE_TIMEOUT_SECONDS)
            return None

    async def at_answer_end(self, thread_id: str, context: RequestContext) -> str | None:
        """The title for this stream's ``thread.updated``, or None when there is none yet.

        A title still being written after the grace period is saved when it comes.
        """
        title = self._titles.get(thread_id)
        if title is None:
            return None
        writing = title.writing
        if writing is not None and not writing.done():
            # Not wait_for: when the grace runs out the title goes on being written. A Stop
            # meanwhile cancels this wait and leaves the entry for at_stop.
            await asyncio.wait({writing}, timeout=TITLE_GRACE_SECONDS)
        self._titles.pop(thread_id, None)
        if writing is None or writing.done():
            return title.now()
        saving = asyncio.create_task(self._save_late(thread_id, title, context))
        self._late[thread_id] = (title, saving)
        return None

    def at_stop(self, thread_id: str) -> str | None:
        """On Stop (or an interrupted run): the model's title if already written, else the
        first line; a title still being written is abandoned."""
        title = self._titles.pop(thread_id, None)
        if title is None:
            return None
        if title.writing is not None:
            title.writing.cancel()
        return title.now()

    def discard(self, thread_id: str) -> None:
        """The answer failed: no title, and no model call left running."""
        title = self._titles.pop(thread_id, None)
        if title is not None and title.writing is not None:
            title.writing.cancel()

    async def _save_late(self, thread_id: str, title: _Title, context: RequestContext) -> None:
        try:
            assert title.writing is not None
            await asyncio.wait({title.writing})  # returns also when it fails or is cancelled
            text = title.now()
            if text is None:
                return
            # The stream's request is over: read the thread afresh, trusting nothing it read.
            fresh = RequestContext(
                session=context.session,
                public_url=context.public_url,
                request_id=context.request_id,
            )
            thread = await self._store.load_thread(thread_id, fresh)
            if thread.title:  # renamed meanwhile, or titled by a later turn: keep that
                return
            thread.title = text
            await self._store.save_thread(thread, fresh)
        except NotFoundError:
            pass  # deleted meanwhile
        except Exception as error:
            log.warning("saving the title of thread %s failed: %s", thread_id, error)
        finally:
            self._late.pop(thread_id, None)

    async def close(self) -> None:
        """At shutdown: titles still being written stop, and their threads keep the first line."""
        for title in self._titles.values():
            if title.writing is not None:
                title.writing.cancel()
        self._titles.clear()
        late = list(self._late.values())
        for title, _ in late:
            if title.writing is not None:
                title.writing.cancel()
        await asyncio.gather(*(saving for _, saving in late), return_exceptions=True)
