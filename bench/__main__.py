"""``python -m bench``: run B1–B6 against kithost (and B1–B4's anchors); print one table.

Everything is started here (kithost, the fake model, the anchors, the databases) on 127.0.0.1
and stopped at the end. ``--quick`` makes every scenario smaller, for trying; ``--only B1,B3``
runs a subset. Raw figures go to ``bench/results/<time>.json``.

B2 and B3 also run against ``--baseline-ref`` (default: kithost before durable runs), each
measurement taking turns with the code under test, for the cost of journaling (issue 14).
``--ref`` measures a commit instead of the working tree (which others may be editing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench import (
    b1_sessions,
    b2_conversation,
    b3_streams,
    b4_scale,
    b5_search,
    b6_server_turns,
    builds,
    machine,
)
from bench.plan import Context, Outcome, Plan
from bench.table import render

SCENARIOS: dict[str, Callable[[Context], Awaitable[Outcome]]] = {
    "B1": b1_sessions.run,
    "B2": b2_conversation.run,
    "B3": b3_streams.run,
    "B4": b4_scale.run,
    "B5": b5_search.run,
    "B6": b6_server_turns.run,
}
RESULTS = Path(__file__).resolve().parent / "results"
COMPARED = {"B2", "B3"}  # the scenarios that also measure the baseline


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for trying")
    parser.add_argument("--only", default="", help="comma-separated scenarios, e.g. B1,B3")
    parser.add_argument(
        "--baseline-ref",
        default=builds.BEFORE_RUNS,
        help="git ref that B2 and B3 also measure, side by side (default %(default)s, kithost "
        "before durable runs); 'none' to skip",
    )
    parser.add_argument(
        "--ref", default=None, help="measure this git ref's src/ instead of the working tree"
    )
    return parser.parse_args(argv)


async def run_all(names: list[str], plan: Plan, args: argparse.Namespace) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="kithost-bench-") as workdir:
        current = builds.current()
        if args.ref:
            label = builds.current(args.ref).label
            current = builds.from_ref(args.ref, Path(workdir), label, "with")
            os.environ.update(current.env)  # every scenario's servers, B1 to B6
        baseline = None
        if args.baseline_ref.lower() != "none" and COMPARED & set(names):
            baseline = builds.baseline(args.baseline_ref, Path(workdir))
        ctx = Context(plan=plan, workdir=Path(workdir), current=current, baseline=baseline)
        for name in names:
            print(f"[bench] {name} …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            outcome = await SCENARIOS[name](ctx)
            outcome.seconds = time.perf_counter() - started
            print(f"[bench] {name} done in {outcome.seconds:.0f} s", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    return outcomes


def _event_loop_runner() -> Callable[[Awaitable[list[Outcome]]], list[Outcome]]:
    """uvloop when installed (it is, with uvicorn[standard]): a cheaper load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run  # type: ignore[return-value]
    return uvloop.run  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    plan = Plan.quick() if args.quick else Plan()
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
    info = machine.describe()
    started = time.perf_counter()
    outcomes = _event_loop_runner()(run_all(names, plan, args))
    total = time.perf_counter() - started
    print()
    print(machine.summary_line(info, os.getloadavg()))
    print()
    print(render([row for outcome in outcomes for row in outcome.rows]))
    print()
    durations = ", ".join(f"{o.name} {o.seconds:.0f} s" for o in outcomes)
    print(f"total {total:.0f} s ({durations}){' — quick plan' if args.quick else ''}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    record = {
        "machine": info,
        "plan": plan.__dict__,
        "code": {"ref": args.ref or "working tree", "head": builds.commit_of("HEAD")},
        "baseline_ref": args.baseline_ref,
        "total_seconds": total,
        "scenarios": {o.name: {"seconds": o.seconds, "raw": o.raw} for o in outcomes},
        "table": [row.cells() for outcome in outcomes for row in outcome.rows],
    }
    path.write_text(json.dumps(record, indent=2, default=str))
    print(
        f"raw figures: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
    )


if __name__ == "__main__":
    main()
