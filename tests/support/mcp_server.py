"""A real MCP server for the hosted-MCP tests, built with the ``mcp`` package.

``python -m tests.support.mcp_server --port N --token T --record FILE`` serves the same tools
over both HTTP transports an export's ``HostedMCPTool`` may name: streamable HTTP at ``/mcp``
and SSE at ``/sse`` (messages at ``/messages/``). Every request must carry
``Authorization: Bearer T`` (else 401). Each HTTP request's headers of interest and each tool
call are appended to FILE as JSON lines, so a test can assert what the server received.

:class:`McpServerProcess` runs it as a subprocess on a free port, for the tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ORDERS = {
    "A-1001": "shipped on 3 March by Parcelo, tracking PX-77",
    "A-1002": "waiting for payment",
}
TOOL_NAMES = ("lookup_order", "cancel_order", "list_warehouses")
RECORDED_HEADERS = ("authorization", "x-tenant", "x-api-key")


def build_app(token: str, record: Path) -> Any:
    """The ASGI app: both transports behind a bearer-token check that records what it saw."""
    from mcp.server.mcpserver import MCPServer
    from starlette.responses import JSONResponse

    def note(entry: dict[str, Any]) -> None:
        with record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    class RecordingServer(MCPServer[Any]):
        async def list_tools(self) -> Any:
            note({"list_tools": True})
            return await super().list_tools()

    server = RecordingServer("orders", instructions="Order desk of the test shop.")

    @server.tool()
    def lookup_order(order_id: str) -> str:
        """Look up an order's status by its id (e.g. A-1001)."""
        note({"call": "lookup_order", "arguments": {"order_id": order_id}})
        status = ORDERS.get(order_id)
        return f"Order {order_id}: {status}" if status else f"No order {order_id}."

    @server.tool()
    def cancel_order(order_id: str, reason: str = "") -> str:
        """Cancel an order by its id."""
        note({"call": "cancel_order", "arguments": {"order_id": order_id, "reason": reason}})
        return f"Order {order_id} is cancelled."

    @server.tool()
    def list_warehouses() -> str:
        """List the shop's warehouses."""
        note({"call": "list_warehouses", "arguments": {}})
        return "Leeds, Lyon"

    app = server.streamable_http_app()
    app.router.routes.extend(server.sse_app().routes)

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        note(
            {
                "path": scope["path"],
                "method": scope["method"],
                "headers": {name: headers.get(name) for name in RECORDED_HEADERS},
            }
        )
        if headers.get("authorization") != f"Bearer {token}":
            response = JSONResponse({"error": "unauthorized"}, status_code=401)
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    app = build_app(args.token, args.record)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


@dataclass
class McpServerProcess:
    """The server above as a subprocess; ``stop()``/``start()`` take it down and up again."""

    token: str
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from tests.support.process import free_port

        self.port = self.port or free_port()
        self.record = self.workdir / f"mcp-{self.port}.jsonl"
        self.log_path = self.workdir / f"mcp-{self.port}.log"

    @property
    def url(self) -> str:
        """The streamable HTTP endpoint."""
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def sse_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sse"

    def start(self, timeout: float = 30.0) -> McpServerProcess:
        command = [sys.executable, "-m", "tests.support.mcp_server"]
        command += ["--port", str(self.port), "--token", self.token, "--record", str(self.record)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=Path(__file__).resolve().parents[2], stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MCP server exited early:\n{self.log_path.read_text()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"MCP server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def entries(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        lines = self.record.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The tool calls the server ran, in order."""
        return [(e["call"], e["arguments"]) for e in self.entries() if "call" in e]

    def listings(self) -> int:
        """How many times a client listed the tools."""
        return sum(1 for entry in self.entries() if "list_tools" in entry)

    def requests(self) -> list[dict[str, Any]]:
        """Every MCP request it received (not ``start``'s probe): path, method and the
        recorded headers."""
        return [entry for entry in self.entries() if entry.get("path", "/") != "/"]

    def forget(self) -> None:
        """Start a fresh record (between tests)."""
        self.record.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
