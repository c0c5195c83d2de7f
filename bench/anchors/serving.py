"""Serve an anchor exactly as ``kithost serve`` serves kithost: uvicorn's defaults (uvloop and
httptools when installed, as they are here), one worker, ``proxy_headers``, warnings only."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import uvicorn


def serve(app: Any, port: int, host: str = "127.0.0.1") -> None:
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", proxy_headers=True)


def port_parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    return parser.parse_args(argv)
