"""Upload rules from the session's ``file_upload`` configuration, checked on the server."""

from __future__ import annotations

from kithost.core.errors import InvalidRequest, PermissionDenied
from kithost.core.sessions import ChatSession

MEGABYTE = 1024 * 1024

# What hosted ChatKit accepts (PDFs and PNG, JPG, GIF, WEBP images), plus plain-text formats.
DEFAULT_MIME_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
)
IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# Leading bytes of the binary formats, so a file cannot claim to be an image it is not.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def normalise_mime_type(mime_type: str | None) -> str:
    return (mime_type or "application/octet-stream").split(";")[0].strip().lower()


class UploadPolicy:
    def __init__(self, allowed_mime_types: tuple[str, ...] = DEFAULT_MIME_TYPES):
        self.allowed = frozenset(normalise_mime_type(m) for m in allowed_mime_types)

    def max_bytes(self, session: ChatSession) -> int:
        return session.configuration.max_file_size_mb * MEGABYTE

    def check_declared(self, session: ChatSession, mime_type: str, size: int | None) -> str:
        """Refuse an upload the session does not allow; return the normalised MIME type."""
        config = session.configuration
        if not config.uploads_enabled:
            raise PermissionDenied(
                "File uploads are not enabled for this session.", code="uploads_disabled"
            )
        kind = normalise_mime_type(mime_type)
        if kind not in self.allowed:
            raise InvalidRequest(
                f"Files of type '{kind}' are not accepted. Accepted types: "
                f"{', '.join(sorted(self.allowed))}.",
                param="mime_type",
                code="unsupported_file_type",
            )
        if size is not None and size > self.max_bytes(session):
            raise too_large(session)
        return kind

    @staticmethod
    def content_matches(mime_type: str, head: bytes) -> bool:
        """False when the first bytes contradict the declared type (checked where we can)."""
        if mime_type == "image/webp":
            return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        signatures = _SIGNATURES.get(mime_type)
        return signatures is None or head.startswith(signatures)


def too_large(session: ChatSession) -> InvalidRequest:
    limit = session.configuration.max_file_size_mb
    return InvalidRequest(
        f"The file is larger than this session's limit of {limit} MB.",
        param="file",
        code="file_too_large",
    )


def too_many(session: ChatSession) -> InvalidRequest:
    return InvalidRequest(
        f"This session may upload at most {session.configuration.max_files} files.",
        param="file",
        code="too_many_files",
    )
