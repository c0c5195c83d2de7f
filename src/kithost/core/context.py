"""What every conversation-plane call knows about its caller (ChatKit's ``TContext``)."""

from __future__ import annotations

from dataclasses import dataclass

from kithost.core.sessions import ChatSession


@dataclass(frozen=True)
class RequestContext:
    """The authenticated session behind a request, and where its links should point."""

    session: ChatSession
    public_url: str
    request_id: str | None = None
    # The id a ``threads.create`` will give its thread, chosen up front so that the turn's run
    # names its thread from the start (store.generate_thread_id hands it out).
    new_thread_id: str | None = None

    @property
    def user(self) -> str:
        return self.session.user
