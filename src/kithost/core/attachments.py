"""An attachment's metadata row as the rest of kithost sees it; its bytes live in blob storage
under ``storage_key``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AttachmentRecord:
    id: str
    user: str
    name: str
    mime_type: str
    data: dict[str, Any]
    session_id: str | None = None
    thread_id: str | None = None
    size: int | None = None
    storage_key: str | None = None
    uploaded: bool = False
