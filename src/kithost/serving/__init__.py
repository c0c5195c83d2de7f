"""How ``kithost serve`` runs uvicorn: read deadlines on connections, and redacted logs."""

from __future__ import annotations

from typing import Any

from kithost.serving.log_redaction import uvicorn_log_config
from kithost.serving.protocol import TimedHttpToolsProtocol
from kithost.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` about connections and logs."""
    return {
        # httptools, as uvicorn picks by default, with header and body read deadlines.
        "http": TimedHttpToolsProtocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "log_config": uvicorn_log_config(),
    }
