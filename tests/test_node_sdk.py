"""The official ``openai`` npm SDK drives kithost: the Node conformance suite in ``tests/node/``.

For each backend this seeds threads and items straight into the database, describes them in a
JSON file, and runs ``node --test tests/node/`` against the real server with

* ``KITHOST_BASE_URL``: the server's root URL (the suite appends ``/v1``),
* ``KITHOST_API_KEY``: an admin key,
* ``KITHOST_SEED_FILE``: the JSON description written by :func:`build_seed`.

The node suite compares every listing against the full expected id order from that file, so the
module's server must hold nothing else: do not add tests here that seed more threads.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kithost.core import ids
from kithost.core.threads import ItemRecord, ThreadRecord
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message

NODE_DIR = Path(__file__).parent / "node"
NODE_TIMEOUT_SECONDS = 100
MIN_NODE_MAJOR = 20  # node:test with --test-reporter
MIN_NODE_TESTS = 50  # the suite's size when written: fewer means files went missing
# The built-in offline workflow (kithost.workflows.builtin), named here so that collecting this
# module does not import the ChatKit runtime.
DEMO_WORKFLOW_ID = "wf_kithost_demo"
DEMO_WORKFLOW_VERSION = "1"

# Seeded times: fixed and in the past, with fractions that the REST view must truncate.
BASE_TIME = 1_760_000_000.0
THREADS_PER_USER = 25
ITEM_COUNT = 30

Seeded = list[tuple[ThreadRecord, list[ItemRecord]]]
JSONObject = dict[str, Any]


@dataclass
class SeedPlan:
    """Records to write into the database, and what the node suite must see over HTTP."""

    records: Seeded = field(default_factory=list)
    expected_threads: dict[str, JSONObject] = field(default_factory=dict)

    def add(self, thread: ThreadRecord, items: list[ItemRecord] | None = None) -> str:
        self.records.append((thread, items or []))
        self.expected_threads[thread.id] = {
            "id": thread.id,
            "object": "chatkit.thread",
            "created_at": int(thread.created_at),
            "title": thread.title,
            "status": (
                {"type": "active"}
                if thread.status == "active"
                else {"type": thread.status, "reason": thread.status_reason}
            ),
            "user": thread.user,
        }
        return thread.id

    def ids_ascending(self) -> list[str]:
        """Every thread id, oldest first (seeded times are distinct, so there are no ties)."""
        return sorted(
            self.expected_threads, key=lambda tid: self.expected_threads[tid]["created_at"]
        )


def thread_at(user: str, created_at: float, **fields: Any) -> ThreadRecord:
    """A thread whose id carries its creation time, as hosted ids do."""
    return make_thread(user, created_at, id=ids.new_id(ids.THREAD_PREFIX, created_at), **fields)


def item_id_at(created_at: float) -> str:
    return ids.new_id(ids.ITEM_PREFIX, created_at)


def item_catalogue(thread_id: str) -> list[Callable[[float], tuple[ItemRecord, JSONObject | None]]]:
    """One factory per item kind: the stored protocol item and its REST form (None if hidden).

    The REST forms are written out by hand from hosted-api.md §4.3, not computed by kithost.
    Fields listed in ``json_fields`` are JSON strings on the wire; the node suite parses them
    before comparing.
    """

    def rest(item: ItemRecord, rest_type: str, **fields: Any) -> JSONObject:
        return {
            "id": item.id,
            "object": "chatkit.thread_item",
            "created_at": int(item.created_at),
            "thread_id": thread_id,
            "type": rest_type,
            **fields,
        }

    def plain_user_message(at: float) -> tuple[ItemRecord, JSONObject]:
        item = user_message(thread_id, f"question at {at}", at, id=item_id_at(at))
        return item, rest(
            item,
            "chatkit.user_message",
            content=[{"type": "input_text", "text": f"question at {at}"}],
            attachments=[],
            inference_options={"model": None, "tool_choice": None},
        )

    def rich_user_message(at: float) -> tuple[ItemRecord, JSONObject]:
        file_id = ids.new_id(ids.ATTACHMENT_PREFIX, at)
        image_id = ids.new_id(ids.ATTACHMENT_PREFIX, at)
        item = user_message(
            thread_id,
            "compare these",
            at,
            id=item_id_at(at),
            quoted_text="an earlier answer",
            inference_options={"model": "gpt-test", "tool_choice": {"id": "search"}},
            attachments=[
                {
                    "id": file_id,
                    "type": "file",
                    "name": "report.pdf",
                    "mime_type": "application/pdf",
                },
                {
                    "id": image_id,
                    "type": "image",
                    "name": "chart.png",
                    "mime_type": "image/png",
                    "preview_url": "https://files.example.test/chart.png",
                },
            ],
        )
        return item, rest(
            item,
            "chatkit.user_message",
            content=[
                {"type": "input_text", "text": "compare these"},
                {"type": "quoted_text", "text": "an earlier answer"},
            ],
            attachments=[
                {
                    "id": file_id,
                    "type": "file",
                    "name": "report.pdf",
                    "mime_type": "application/pdf",
                    "preview_url": None,
                },
                {
                    "id": image_id,
                    "type": "image",
                    "name": "chart.png",
                    "mime_type": "image/png",
                    "preview_url": "https://files.example.test/chart.png",
                },
            ],
            inference_options={"model": "gpt-test", "tool_choice": {"id": "search"}},
            unordered_fields=["content"],
        )

    def assistant_message(at: float) -> tuple[ItemRecord, JSONObject]:
        url_source = {"type": "url", "url": "https://example.test/a", "title": "A"}
        file_source = {"type": "file", "filename": "notes.md", "title": "Notes"}
        entity_source = {"type": "entity", "id": "ent_1", "title": "An entity"}
        item = protocol_item(
            thread_id,
            "assistant_message",
            at,
            id=item_id_at(at),
            content=[
                {
                    "type": "output_text",
                    "text": f"answer at {at}",
                    "annotations": [
                        {"type": "annotation", "source": url_source, "index": 3},
                        {"type": "annotation", "source": file_source},
                        {"type": "annotation", "source": entity_source},
                    ],
                },
                {"type": "output_text", "text": "and a plain part", "annotations": []},
            ],
        )
        return item, rest(
            item,
            "chatkit.assistant_message",
            content=[
                {
                    "type": "output_text",
                    "text": f"answer at {at}",
                    "annotations": [
                        {"type": "url", "source": {"type": "url", "url": "https://example.test/a"}},
                        {"type": "file", "source": {"type": "file", "filename": "notes.md"}},
                    ],
                },
                {"type": "output_text", "text": "and a plain part", "annotations": []},
            ],
        )

    def widget(at: float) -> tuple[ItemRecord, JSONObject]:
        tree = {"type": "Card", "children": [{"type": "Text", "value": f"widget at {at}"}]}
        item = protocol_item(thread_id, "widget", at, id=item_id_at(at), widget=tree)
        return item, rest(item, "chatkit.widget", widget=tree, json_fields=["widget"])

    def finished_tool_call(at: float) -> tuple[ItemRecord, JSONObject]:
        arguments = {"city": "Lyon", "days": 3}
        output = {"forecast": ["sun", "rain"], "ok": True}
        item = protocol_item(
            thread_id,
            "client_tool_call",
            at,
            id=item_id_at(at),
            status="completed",
            call_id=f"call_{int(at)}",
            name="get_weather",
            arguments=arguments,
            output=output,
        )
        return item, rest(
            item,
            "chatkit.client_tool_call",
            status="completed",
            call_id=f"call_{int(at)}",
            name="get_weather",
            arguments=arguments,
            output=output,
            json_fields=["arguments", "output"],
        )

    def pending_tool_call(at: float) -> tuple[ItemRecord, JSONObject]:
        item = protocol_item(
            thread_id,
            "client_tool_call",
            at,
            id=item_id_at(at),
            status="pending",
            call_id=f"call_{int(at)}",
            name="pick_file",
            arguments={},
        )
        return item, rest(
            item,
            "chatkit.client_tool_call",
            status="in_progress",
            call_id=f"call_{int(at)}",
            name="pick_file",
            arguments={},
            output=None,
            json_fields=["arguments"],
        )

    def thought_task(at: float) -> tuple[ItemRecord, JSONObject]:
        task = {"type": "thought", "title": "Thinking", "content": "weighing options"}
        item = protocol_item(thread_id, "task", at, id=item_id_at(at), task=task)
        return item, rest(
            item,
            "chatkit.task",
            task_type="thought",
            heading="Thinking",
            summary="weighing options",
        )

    def custom_task(at: float) -> tuple[ItemRecord, JSONObject]:
        task = {"type": "custom", "title": "Booked", "content": None}
        item = protocol_item(thread_id, "task", at, id=item_id_at(at), task=task)
        return item, rest(item, "chatkit.task", task_type="custom", heading="Booked", summary=None)

    def workflow(at: float) -> tuple[ItemRecord, JSONObject]:
        tasks = [
            {"type": "custom", "title": "Step one", "content": "done"},
            {"type": "thought", "title": None, "content": "considered"},
        ]
        item = protocol_item(
            thread_id,
            "workflow",
            at,
            id=item_id_at(at),
            workflow={"type": "custom", "tasks": tasks, "expanded": False},
        )
        return item, rest(
            item,
            "chatkit.task_group",
            tasks=[
                {"type": "custom", "heading": "Step one", "summary": "done"},
                {"type": "thought", "heading": None, "summary": "considered"},
            ],
        )

    def hidden(kind: str, **fields: Any) -> Callable[[float], tuple[ItemRecord, None]]:
        def make(at: float) -> tuple[ItemRecord, None]:
            return protocol_item(thread_id, kind, at, id=item_id_at(at), **fields), None

        return make

    return [
        plain_user_message,
        assistant_message,
        widget,
        hidden("end_of_turn"),
        rich_user_message,
        finished_tool_call,
        thought_task,
        workflow,
        hidden("hidden_context_item", content={"note": "never shown"}),
        plain_user_message,
        pending_tool_call,
        custom_task,
        assistant_message,
        hidden("sdk_hidden_context", content="internal"),
    ]


def build_seed(tag: str) -> tuple[Seeded, JSONObject]:
    """Three users' interleaved threads, a thread with many items, and threads to delete."""
    rng = random.Random(tag)  # noqa: S311 - a reproducible shuffle, not a secret
    plan = SeedPlan()

    users = [f"node-{tag}-{name}" for name in ("alice", "bob", "carol")]
    user_threads: dict[str, list[str]] = {user: [] for user in users}
    for k in range(THREADS_PER_USER * len(users)):
        user = users[k % len(users)]
        fields: dict[str, Any] = {"title": f"thread {k}" if k % 4 else None}
        if k % 7 == 3:
            fields.update(status="locked", status_reason="under review")
        elif k % 11 == 5:
            fields.update(status="closed", status_reason=None)
        thread = thread_at(user, BASE_TIME + 10 * k + 0.75, **fields)
        user_threads[user].append(plan.add(thread))

    items_user = f"node-{tag}-items"
    items_thread = thread_at(items_user, BASE_TIME - 5_000.25, title="many items")
    catalogue = item_catalogue(items_thread.id)
    items: list[ItemRecord] = []
    visible: list[JSONObject] = []
    hidden: list[str] = []
    for n in range(ITEM_COUNT):
        item, rest_form = catalogue[n % len(catalogue)](BASE_TIME - 4_000 + 7 * n + 0.5)
        items.append(item)
        if rest_form is None:
            hidden.append(item.id)
        else:
            visible.append(rest_form)
    plan.add(items_thread, items)

    doomed_user = f"node-{tag}-doomed"
    doomed = [thread_at(doomed_user, BASE_TIME + 5_000 + 10 * k + 0.1) for k in range(3)]
    doomed_items = [
        user_message(doomed[1].id, f"doomed {n}", at, id=item_id_at(at))
        for n, at in enumerate(BASE_TIME + 5_011.5 + k for k in range(3))
    ]
    for thread in doomed:
        plan.add(thread, doomed_items if thread is doomed[1] else [])

    # Insert out of time order: listings must sort by created_at, not by insertion.
    records = list(plan.records)
    rng.shuffle(records)
    records = [(thread, rng.sample(items, len(items))) for thread, items in records]

    description: JSONObject = {
        "workflow": {"id": DEMO_WORKFLOW_ID, "version": DEMO_WORKFLOW_VERSION},
        "threads": plan.expected_threads,
        "all_threads_asc": plan.ids_ascending(),
        "users": [{"user": user, "threads_asc": user_threads[user]} for user in users],
        "item_thread": {"id": items_thread.id, "items_asc": visible, "hidden_item_ids": hidden},
        "doomed": {
            "user": doomed_user,
            "threads_asc": [thread.id for thread in doomed],
            "thread_with_items": doomed[1].id,
            "item_ids_asc": [item.id for item in doomed_items],
        },
        "unknown": {"thread_id": ids.thread_id(), "session_id": ids.session_id()},
    }
    return records, description


@pytest.mark.node
def test_node_sdk_conformance(server: KithostProcess, backend: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is required for the Node SDK conformance suite but `node` is not on PATH; "
            "install Node 20+ and run `npm ci` in tests/node (`make test` does that)."
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
        pytest.fail(f"Node {MIN_NODE_MAJOR}+ is required for tests/node, found {version}.")
    sdk = NODE_DIR / "node_modules" / "openai" / "package.json"
    assert sdk.is_file(), f"{sdk} is missing: run `npm ci` in {NODE_DIR} (`make test` does that)."

    records, description = build_seed(f"{backend[:2]}{secrets.token_hex(3)}")
    seed(server.database_url, records)
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(description, indent=2))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    env.update(
        KITHOST_BASE_URL=server.url,
        KITHOST_API_KEY=ADMIN_KEY,
        KITHOST_SEED_FILE=str(seed_file),
        NO_COLOR="1",
    )
    command = [node, "--test", "--test-reporter=spec", f"{NODE_DIR}{os.sep}"]
    try:
        result = subprocess.run(
            command,
            cwd=NODE_DIR.parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"node --test did not finish within {NODE_TIMEOUT_SECONDS} s on {backend}.\n"
            f"--- stdout ---\n{exc.stdout!s}\n--- stderr ---\n{exc.stderr!s}\n"
            f"--- server log ---\n{server.log_path.read_text()}"
        )
    assert result.returncode == 0, (
        f"node --test failed on {backend} (exit {result.returncode}).\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
        f"--- server log ---\n{server.log_path.read_text()}"
    )
    # Exit 0 also when no test file was found, or when tests were skipped: check the summary.
    summary = dict(
        re.findall(r"^\u2139 (tests|pass|fail|cancelled|skipped|todo) (\d+)$", result.stdout, re.M)
    )
    assert int(summary.get("tests", 0)) >= MIN_NODE_TESTS, result.stdout
    assert summary["pass"] == summary["tests"], result.stdout
    unfinished = {key: summary[key] for key in ("fail", "cancelled", "skipped", "todo")}
    assert unfinished == dict.fromkeys(unfinished, "0"), result.stdout
