"""What every conversation-plane call knows about its caller (ChatKit's ``TContext``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kithost.core.attachments import AttachmentRecord
from kithost.core.sessions import ChatSession
from kithost.core.threads import ThreadRecord


@dataclass
class Checked:
    """The threads and attachments one request has found to be its caller's, by id.

    The pre-check fills it (and the store, as it creates or reads), so that the SDK's later
    loads of the same thread in the same request skip the query. An owner never changes, so
    this cannot go stale on that point; a thread or attachment deleted meanwhile is caught by
    the writes, whose statements check the owner themselves (store/chatkit_store.py).
    """

    threads: dict[str, ThreadRecord] = field(default_factory=dict)
    # Threads this request found gone (deleted meanwhile): not found again, never re-created.
    gone_threads: set[str] = field(default_factory=set)
    attachments: dict[str, AttachmentRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """The authenticated session behind a request, and where its links should point."""

    session: ChatSession
    public_url: str
    request_id: str | None = None
    # The id a ``threads.create`` will give its thread, chosen up front so that the turn's run
    # names its thread from the start (store.generate_thread_id hands it out).
    new_thread_id: str | None = None
    # This request's ownership checks (ConversationService gives each request its own); None:
    # nothing is trusted and every store call checks.
    # Not part of equality or the hash: a mutable record of this request's findings.
    checked: Checked | None = field(default=None, compare=False)

    @property
    def user(self) -> str:
        return self.session.user
