"""The ``kithost`` command: serve, migrate, import, and operator tools, one module per group.

Each module has ``register(app)``; adding a group is one line in the import and one in GROUPS.
"""

from __future__ import annotations

import typer

from kithost.cli import (
    imports,
    keys,
    retention,
    serve,
    sessions,
    traces,
    users,
    vector_stores,
    webhooks,
    workflows,
)

app = typer.Typer(
    help="kithost: OpenAI's hosted ChatKit API, on your own machine.", no_args_is_help=True
)

# --help lists single commands (import, migrate, serve, traces), then groups, each in this order.
GROUPS = (
    imports,
    serve,
    traces,
    keys,
    sessions,
    workflows,
    vector_stores,
    webhooks,
    users,
    retention,
)
for group in GROUPS:
    group.register(app)


def main() -> None:
    app()
