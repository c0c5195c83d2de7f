"""``python -m tests.support.fake_model --port N``: the fake as a process, for benchmarks.

Every model request gets the same paced reply (``--tokens`` tokens, one per
``--token-interval-ms``; ``--tokens 0`` streams until the client leaves). A request for
structured output (an agent with an ``output_type``, such as an export's classifier) gets
``--structured JSON`` instead, when given: plain tokens would not parse. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from tests.support.fake_model.app import FakeModelApp
from tests.support.fake_model.recorded import ModelRequest
from tests.support.fake_model.replies import Reply, endless, structured, text
from tests.support.fake_model.script import Script
from tests.support.fake_model.server import uvicorn_server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_model", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--tokens", type=int, default=20, help="tokens per reply; 0: endless")
    parser.add_argument("--token-interval-ms", type=float, default=0.0)
    parser.add_argument("--first-token-delay-ms", type=float, default=0.0)
    parser.add_argument("--echo", action="store_true", help="echo the last user message instead")
    parser.add_argument("--model", action="append", help="model ids for /v1/models")
    parser.add_argument("--no-validate", action="store_true", help="accept any request body")
    parser.add_argument(
        "--structured",
        metavar="JSON",
        type=json.loads,
        help='the answer to structured-output requests, e.g. \'{"category": "billing"}\'',
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    first_token_delay = args.first_token_delay_ms / 1000
    token_interval = args.token_interval_ms / 1000
    fixed = tuple(f"t{i} " for i in range(args.tokens))

    def reply(request: ModelRequest) -> Reply:
        if args.structured is not None and request.output_schema is not None:
            chosen = structured(args.structured)
        elif args.echo:
            chosen = text(request.last_user_text or "(no user message)")
        elif args.tokens == 0:
            chosen = endless()
        else:
            chosen = text(fixed)
        return chosen.paced(first_token_delay, token_interval)

    app = FakeModelApp(Script(reply), args.model or ["gpt-fake"], validate=not args.no_validate)
    uvicorn_server(app, host=args.host, port=args.port, log_level="warning").run()


if __name__ == "__main__":
    main()
