"""B1's anchor: a bare ASGI app that reads the request and answers a JSON body of a given size.

``python -m bench.anchors.bare --port N --body-size BYTES``. It does what any HTTP JSON API must
do — read the body, serialise a JSON object, send it — and nothing else: the floor under which
no Python web app on this server can go.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Receive, Scope, Send

from bench.anchors.serving import parse, port_parser, serve

_HEADERS = [(b"content-type", b"application/json")]


def make_app(body_size: int) -> object:
    skeleton = {"id": "bare", "object": "bench.bare", "padding": ""}
    padding = max(0, body_size - len(json.dumps(skeleton, separators=(",", ":"))))
    document = {**skeleton, "padding": "x" * padding}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = bool(message.get("more_body"))
        body = json.dumps(document, separators=(",", ":")).encode()
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = port_parser(__doc__)
    parser.add_argument("--body-size", type=int, default=1000)
    args = parse(parser, argv)
    serve(make_app(args.body_size), args.port, args.host)


if __name__ == "__main__":
    main()
