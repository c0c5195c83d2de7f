"""For ``kithost import`` tests: a source kithost full of history, a small HTTP stub that
serves preview files and can stand in front of the source (429s, a gate that holds requests),
the import command as a subprocess, and readers of what both sides show.

The source is a second real kithost process: it serves the same threads API as OpenAI's hosted
ChatKit. Its history is seeded through kithost's storage layer in the ChatKit protocol's shape,
with every item kind (the six with a REST form, and hidden ones that have none).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import threading
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
from sqlalchemy import select

from kithost.core import ids
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.store.database import create_engine
from kithost.store.tables import attachments, thread_items, threads
from kithost.store.threads import ThreadRepository
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import protocol_item, seed

with warnings.catch_warnings():
    # chatkit deprecates its own widget classes as it defines them: a warning on first import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.types import ThreadItem
    from pydantic import TypeAdapter

ITEM = TypeAdapter[ThreadItem](ThreadItem)
# The protocol kinds with a REST form; the others are never listed, so never imported.
REST_KINDS = ("user_message", "assistant_message", "widget", "client_tool_call", "task", "workflow")
# 2025-06-01T00:00:00Z: threads are an hour apart from here on.
START = 1_748_736_000
HOUR = 3600


def validate(data: Any) -> ThreadItem:
    """As a ChatKit ``ThreadItem``; widget classes warn when built, as on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ITEM.validate_python(data)


def png(width: int = 1, height: int = 1, seed_byte: int = 0) -> bytes:
    """A valid PNG (kithost checks uploads' first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([seed_byte, 0x80, 0x40]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# ---------------------------------------------------------------------------------------------
# A small HTTP stub: preview files, an HTML page, and a proxy in front of the source


@dataclass
class StubState:
    upstream: str | None = None
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    rate_limit_first: int = 0
    """Answer 429 (Retry-After: 1) to this many API requests before forwarding any."""
    rate_limited: int = 0
    hold: Callable[[str], bool] | None = None
    """Requests for which this says True wait until ``release``."""
    held: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class HttpStub:
    """Real HTTP on a free port. ``/static/NAME`` serves files, ``/html/…`` an HTML page, and
    anything else is forwarded to ``upstream`` (after the configured 429s and holds)."""

    def __init__(self, upstream: str | None = None):
        self.state = StubState(upstream=upstream)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                _handle(self, state)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, name: str, content: bytes, content_type: str) -> str:
        self.state.files[name] = (content, content_type)
        return f"{self.url}/static/{name}"

    def release(self) -> None:
        self.state.released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handle(handler: BaseHTTPRequestHandler, state: StubState) -> None:
    path = handler.path
    if path.startswith("/static/"):
        found = state.files.get(path.removeprefix("/static/").split("?")[0])
        if found is None:
            _send(handler, 404, b"not found", "text/plain")
        else:
            _send(handler, 200, found[0], found[1])
        return
    if path.startswith("/html/"):
        _send(handler, 200, b"<!doctype html><html><body>Welcome</body></html>", "text/html")
        return
    with state.lock:
        limited = state.rate_limited < state.rate_limit_first
        if limited:
            state.rate_limited += 1
        hold = not limited and state.hold is not None and state.hold(path)
        if hold:
            state.held += 1
    if limited:
        body = json.dumps(
            {
                "error": {
                    "message": "Too many requests",
                    "type": "rate_limit_exceeded",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        ).encode()
        _send(handler, 429, body, "application/json", {"Retry-After": "1"})
        return
    if hold:
        state.released.wait(timeout=120)
        _send(handler, 503, b"{}", "application/json", {"x-should-retry": "false"})
        return
    assert state.upstream is not None
    headers = {
        name: value
        for name, value in handler.headers.items()
        if name.lower() in ("authorization", "openai-beta", "accept", "content-type")
    }
    with httpx.Client(timeout=60) as client:
        response = client.get(f"{state.upstream}{path}", headers=headers)
    _send(handler, response.status_code, response.content, response.headers["content-type"])


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the importer was killed while it waited


# ---------------------------------------------------------------------------------------------
# The source's history


@dataclass
class SourceHistory:
    users: list[str]
    thread_ids: list[str]
    big_thread: str
    rest_items: int
    """Items the REST view shows (hidden kinds excluded)."""
    copied_previews: dict[str, bytes]
    """Attachment id → the bytes its preview link serves (these must be copied)."""
    uncopied: set[str]
    """Attachments whose bytes cannot be copied (a dead link, or no link at all)."""


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).isoformat()


class HistoryBuilder:
    """Protocol items for one thread, each validated as a ChatKit ``ThreadItem``."""

    def __init__(self, thread_id: str, start: float):
        self.thread_id = thread_id
        self.time = start
        self.items: list[ItemRecord] = []
        self.visible = 0

    def add(self, kind: str, fields: dict[str, Any], *, same_second: bool = False) -> str:
        if not same_second:
            self.time += 1
        item_id = ids.item_id()
        data = {
            "id": item_id,
            "thread_id": self.thread_id,
            "created_at": _at(self.time),
            "type": kind,
            **fields,
        }
        item = validate(data)
        self.items.append(
            ItemRecord(item_id, self.thread_id, kind, self.time, item.model_dump(mode="json"))
        )
        if kind in REST_KINDS:
            self.visible += 1
        return item_id

    # the kinds

    def user(self, text: str, **extra: Any) -> str:
        fields = {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
            **extra,
        }
        return self.add("user_message", fields)

    def assistant(self, text: str, annotations: Sequence[dict[str, Any]] = ()) -> str:
        part = {"type": "output_text", "text": text, "annotations": list(annotations)}
        return self.add("assistant_message", {"content": [part]}, same_second=True)

    def widget(self, title: str) -> str:
        tree = {
            "type": "Card",
            "size": "md",
            "children": [
                {"type": "Title", "value": title, "size": "lg"},
                {"type": "Text", "value": "Ünïcode “quotes” and emoji 🚀", "color": "secondary"},
                {
                    "type": "Row",
                    "children": [
                        {"type": "Badge", "label": "new", "color": "success"},
                        {
                            "type": "Button",
                            "label": "Open",
                            "onClickAction": {"type": "open", "payload": {"id": 7}},
                        },
                    ],
                },
            ],
        }
        return self.add("widget", {"widget": tree, "copy_text": title})

    def tool_call(self, name: str, completed: bool) -> str:
        fields: dict[str, Any] = {
            "status": "completed" if completed else "pending",
            "call_id": f"call_{uuid.uuid4().hex[:12]}",
            "name": name,
            "arguments": {"city": "Zürich", "days": 3, "units": ["c", "f"], "nested": {"a": None}},
            "output": {"forecast": [1.5, 2, "three"], "ok": True} if completed else None,
        }
        return self.add("client_tool_call", fields)

    def task(self, task: dict[str, Any]) -> str:
        return self.add("task", {"task": task})

    def workflow(self, kind: str, tasks: list[dict[str, Any]], **extra: Any) -> str:
        return self.add("workflow", {"workflow": {"type": kind, "tasks": tasks, **extra}})

    def hidden(self) -> None:
        """Kinds with no REST form: never listed, so never imported."""
        self.add("hidden_context_item", {"content": {"state": "x"}})
        self.add("sdk_hidden_context", {"content": "The user cancelled the stream."})
        self.add("end_of_turn", {})
        self.add("generated_image", {"image": {"id": "img_1", "url": "https://img.test/1.png"}})


URL_NOTE = {
    "type": "annotation",
    "source": {"type": "url", "url": "https://docs.test/a", "title": "Docs"},
}
FILE_NOTE = {
    "type": "annotation",
    "source": {"type": "file", "filename": "report.pdf", "title": "Report"},
    "index": 3,
}
ENTITY_NOTE = {"type": "annotation", "source": {"type": "entity", "id": "ent_1", "title": "Ent"}}


def _pattern(builder: HistoryBuilder, index: int) -> None:
    """A few turns whose kinds vary with ``index``: every kind appears many times."""
    builder.user(f"Question {index}")
    builder.assistant(f"Answer {index}", [URL_NOTE] if index % 2 else [])
    shape = index % 6
    if shape == 0:
        builder.widget(f"Card {index}")
    elif shape == 1:
        builder.tool_call("get_weather", completed=index % 4 == 1)
        builder.user(
            "And tomorrow?",
            quoted_text="the weather today",
            inference_options={"model": "gpt-4.1", "tool_choice": {"id": "search"}},
        )
    elif shape == 2:
        builder.task({"type": "custom", "title": "Looked it up", "content": "Found 3 pages"})
        builder.task({"type": "thought", "content": "Thinking about it"})
        builder.task({"type": "web_search", "title": "Searched", "queries": ["a", "b"]})
    elif shape == 3:
        builder.workflow(
            "custom",
            [
                {
                    "type": "custom",
                    "title": "Step 1",
                    "content": "done",
                    "status_indicator": "complete",
                },
                {"type": "thought", "title": None, "content": ""},
                {"type": "file", "title": "Read the file"},
            ],
            summary={"title": "Worked for a bit"},
            expanded=True,
        )
    elif shape == 4:
        builder.workflow("reasoning", [{"type": "thought", "content": "hmm"}])
        builder.assistant("With sources", [FILE_NOTE, ENTITY_NOTE, URL_NOTE])
        builder.hidden()
    else:
        builder.user(
            "A tagged message",
            content=[
                {"type": "input_text", "text": "Hello "},
                {"type": "input_tag", "id": "t1", "text": "@ada", "data": {"k": 1}},
            ],
        )


def seed_history(
    server: KithostProcess,
    files: HttpStub,
    *,
    thread_count: int = 210,
    users: int = 5,
    big_items: int = 240,
) -> SourceHistory:
    """Hundreds of threads across several users on the ``server``'s database.

    The oldest thread is long (``big_items`` messages: several pages). A few threads share
    their creation second. Attachments: images and a PDF uploaded to the source itself (its
    signed preview links), a PDF and an image served by ``files``, a ``data:`` image, a dead
    link and a file without any link.
    """
    tag = uuid.uuid4().hex[:8]
    people = [f"importer-{tag}-user{n}" for n in range(users)]
    seeded: list[tuple[ThreadRecord, list[ItemRecord]]] = []
    thread_ids: list[str] = []
    visible = 0
    statuses: list[dict[str, Any]] = [
        {},
        {"status": "locked", "status_reason": "Moderation"},
        {"status": "closed", "status_reason": None},
        {"status": "closed", "status_reason": "Resolved"},
    ]
    for index in range(thread_count):
        # Threads 10 and 11 (and 20, 21) share a second; times increase otherwise.
        created = START + index * HOUR - (HOUR if index in (11, 21) else 0)
        title = None if index % 7 == 0 else f"Thread {index} — “{people[index % users]}”"
        status = statuses[index % 4] if index % 5 == 0 else {}
        thread = ThreadRecord(
            id=ids.thread_id(),
            user=people[index % users],
            created_at=float(created),
            title=title,
            **status,
        )
        builder = HistoryBuilder(thread.id, created)
        if index == 0:
            for turn in range(big_items // 2):
                builder.user(f"Long thread question {turn}")
                builder.assistant(f"Long thread answer {turn}")
        elif index % 50 != 49:  # every 50th thread has no items at all
            _pattern(builder, index)
        seeded.append((thread, builder.items))
        thread_ids.append(thread.id)
        visible += builder.visible
    copied, uncopied, extra = _attachments(server, files, people[1], seeded[1][0].id)
    seeded[1][1].extend(extra)
    visible += len(extra)
    seed(server.database_url, seeded)
    return SourceHistory(
        users=people,
        thread_ids=thread_ids,
        big_thread=thread_ids[0],
        rest_items=visible,
        copied_previews=copied,
        uncopied=uncopied,
    )


def _attachments(
    server: KithostProcess, files: HttpStub, user: str, thread_id: str
) -> tuple[dict[str, bytes], set[str], list[ItemRecord]]:
    """User messages with attachments, for thread ``thread_id`` of ``user``."""
    photo, scan = png(2, 2, 1), PDF
    uploaded = _upload(
        server, user, [("photo.png", photo, "image/png"), ("scan.pdf", scan, "application/pdf")]
    )
    served_pdf = files.serve(f"{uuid.uuid4().hex}.pdf", PDF + b"served", "application/pdf")
    served_png = png(3, 1, 2)
    served_image = files.serve(f"{uuid.uuid4().hex}.png", served_png, "image/png")
    inline_png = png(1, 1, 3)
    inline = "data:image/png;base64," + base64.b64encode(inline_png).decode()
    own = {
        "pdf_link": ids.attachment_id(),
        "image_link": ids.attachment_id(),
        "inline": ids.attachment_id(),
        "dead": ids.attachment_id(),
        "bare": ids.attachment_id(),
    }
    made = [
        {**uploaded[0], "thread_id": thread_id},
        {**uploaded[1], "thread_id": thread_id},
        # A file with a link: the protocol has no field for it, the REST view shows it.
        {
            "type": "file",
            "id": own["pdf_link"],
            "name": "served.pdf",
            "mime_type": "application/pdf",
            "preview_url": served_pdf,
        },
        {
            "type": "image",
            "id": own["image_link"],
            "name": "served.png",
            "mime_type": "image/png",
            "preview_url": served_image,
        },
        {
            "type": "image",
            "id": own["inline"],
            "name": "inline.png",
            "mime_type": "image/png",
            "preview_url": inline,
        },
        {
            "type": "image",
            "id": own["dead"],
            "name": "gone.png",
            "mime_type": "image/png",
            "preview_url": f"{files.url}/static/missing.png",
        },
        {"type": "file", "id": own["bare"], "name": "bare.txt", "mime_type": "text/plain"},
    ]
    builder = HistoryBuilder(thread_id, START + HOUR + 1000)
    builder.user("Here are my files", attachments=made[:4])
    builder.assistant("Thanks")
    builder.user("And these", attachments=made[4:], quoted_text="Thanks")
    # The REST view shows the stored link; the protocol drops a file's, so put it back.
    first = builder.items[0].data["attachments"]
    first[2]["preview_url"] = served_pdf
    copied = {
        uploaded[0]["id"]: photo,
        own["pdf_link"]: PDF + b"served",
        own["image_link"]: served_png,
        own["inline"]: inline_png,
    }
    # The uploaded PDF has no link (kithost shows none for files), nor has the bare file.
    uncopied = {uploaded[1]["id"], own["dead"], own["bare"]}
    return copied, uncopied, builder.items


def _upload(
    server: KithostProcess, user: str, uploads: list[tuple[str, bytes, str]]
) -> list[dict[str, Any]]:
    """Files uploaded through the source's own ``/v1/chatkit/files`` (signed preview links)."""
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as admin:
        session = admin.beta.chatkit.sessions.create(
            user=user,
            workflow={"id": "wf_kithost_demo"},
            chatkit_configuration={"file_upload": {"enabled": True}},
        )
    made = []
    with httpx.Client(timeout=30) as client:
        for name, content, mime_type in uploads:
            response = client.post(
                f"{server.url}/v1/chatkit/files",
                headers={"Authorization": f"Bearer {session.client_secret}"},
                files={"file": (name, content, mime_type)},
            )
            assert response.status_code == 200, response.text
            attachment = response.json()
            attachment.pop("upload_url", None)
            made.append(attachment)
    return made


def add_later(server: KithostProcess, history: SourceHistory) -> tuple[str, int]:
    """New history at the source after a first import: one new thread, one new item in an old
    one. Returns the new thread's id and how many REST items were added in all."""
    thread = ThreadRecord(
        id=ids.thread_id(), user=history.users[0], created_at=float(START + 400 * HOUR)
    )
    fresh = HistoryBuilder(thread.id, thread.created_at)
    fresh.user("A new conversation")
    fresh.assistant("Welcome back")
    old_thread = history.thread_ids[5]
    later = HistoryBuilder(old_thread, START + 300 * HOUR)
    later.user("One more thing")
    seed(server.database_url, [(thread, fresh.items)])
    seed_items(server.database_url, later.items)
    history.thread_ids.append(thread.id)
    history.rest_items += fresh.visible + later.visible
    return thread.id, fresh.visible + later.visible


def seed_odd_items(server: KithostProcess) -> tuple[str, str, dict[str, str]]:
    """A thread of its own user with items that are not valid ChatKit items (stored raw, so
    that the REST view renders what a source might send). Returns user, thread, item ids."""
    user = f"importer-odd-{uuid.uuid4().hex[:8]}"
    thread = ThreadRecord(id=ids.thread_id(), user=user, created_at=float(START))
    builder = HistoryBuilder(thread.id, START)
    made = {"ok": builder.user("Fine")}
    raw = {
        # a widget root chatkit does not know
        "widget": ("widget", {"widget": {"type": "Hologram", "children": []}}),
        # arguments that are a JSON list, not an object
        "tool_call": (
            "client_tool_call",
            {"status": "pending", "call_id": "c1", "name": "f", "arguments": [1, 2]},
        ),
        # a thought without content: REST shows summary null, ChatKit needs a string
        "thought": ("task", {"task": {"type": "thought", "title": "Pondering"}}),
        # a user message without inference options: REST shows null, ChatKit needs an object
        "no_options": (
            "user_message",
            {
                "content": [{"type": "input_text", "text": "Hi"}],
                "attachments": [],
                "inference_options": None,
            },
        ),
    }
    items = list(builder.items)
    for offset, (name, (kind, fields)) in enumerate(raw.items(), start=10):
        item = protocol_item(thread.id, kind, START + offset, **fields)
        items.append(item)
        made[name] = item.id
    seed(server.database_url, [(thread, items)])
    return user, thread.id, made


def seed_items(database_url: str, items: Sequence[ItemRecord]) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            repo = ThreadRepository(engine)
            for item in items:
                await repo.add_item(item)
        finally:
            await engine.dispose()

    asyncio.run(run())


# ---------------------------------------------------------------------------------------------
# The command


@dataclass
class ImportRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def import_environment(target: KithostProcess) -> dict[str, str]:
    """``kithost import`` writing where ``target`` serves from: its database, files and links."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    env.update(
        KITHOST_DATABASE_URL=target.database_url,
        KITHOST_DATA_DIR=str(target.workdir / "data"),
        KITHOST_PUBLIC_URL=target.url,
        OPENAI_AGENTS_DISABLE_TRACING="1",
    )
    return env


def import_command(
    source_url: str, *args: str, key: str | None = ADMIN_KEY, json_summary: bool = True
) -> list[str]:
    """``python -m kithost import`` from ``source_url`` (``key=None``: no ``--api-key``)."""
    command = [sys.executable, "-m", "kithost", "import", "--base-url", source_url]
    if key is not None:
        command += ["--api-key", key]
    if json_summary:
        command.append("--json")
    return [*command, *args]


def run_import(
    target: KithostProcess,
    source_url: str,
    *args: str,
    key: str | None = ADMIN_KEY,
    json_summary: bool = True,
) -> ImportRun:
    result = subprocess.run(
        import_command(source_url, *args, key=key, json_summary=json_summary),
        cwd=target.workdir,
        env=import_environment(target),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return ImportRun(result.returncode, result.stdout, result.stderr)


# ---------------------------------------------------------------------------------------------
# Reading both sides


def sdk(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key=ADMIN_KEY, max_retries=0)


def rest_threads(client: openai.OpenAI, **params: Any) -> list[dict[str, Any]]:
    """Every thread, through the SDK's auto-pagination with an odd page size."""
    return [thread.to_dict() for thread in client.beta.chatkit.threads.list(limit=37, **params)]


def rest_items(client: openai.OpenAI, thread_id: str) -> list[dict[str, Any]]:
    return [item.to_dict() for item in client.beta.chatkit.threads.list_items(thread_id, limit=33)]


def rest_history(server_url: str, thread_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """All threads (in list order) and every thread's items, as the REST API shows them."""
    with sdk(server_url) as client:
        listed = rest_threads(client)
        wanted = set(thread_ids) if thread_ids is not None else None
        chosen = [t for t in listed if wanted is None or t["id"] in wanted]
        return {
            "threads": chosen,
            "items": {t["id"]: rest_items(client, t["id"]) for t in chosen},
        }


def without_copied_previews(
    history: dict[str, Any], copied: set[str]
) -> Iterator[tuple[str, str, str]]:
    """Blank the preview links of copied attachments in place; yield (thread, item, link)."""
    for thread_id, items in history["items"].items():
        for item in items:
            for attachment in item.get("attachments", []):
                if attachment["id"] in copied:
                    yield thread_id, attachment["id"], attachment["preview_url"]
                    attachment["preview_url"] = "<copied>"


@dataclass(frozen=True)
class StoredRows:
    threads: dict[str, dict[str, Any]]
    items: dict[str, dict[str, Any]]
    attachments: dict[str, dict[str, Any]]


def stored_rows(database_url: str) -> StoredRows:
    """Every thread, item and attachment row of a database, as stored."""

    async def read() -> StoredRows:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                found = []
                for table in (threads, thread_items, attachments):
                    rows = (await conn.execute(select(table))).mappings().all()
                    found.append({row["id"]: dict(row) for row in rows})
        finally:
            await engine.dispose()
        return StoredRows(*found)

    return asyncio.run(read())


def validate_items(rows: StoredRows) -> None:
    """Every stored item is a valid ChatKit ``ThreadItem`` (the chat can load it)."""
    for row in rows.items.values():
        item = validate(row["data"])
        assert item.id == row["id"]
        assert item.thread_id == row["thread_id"]


def iso_day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def chatkit_request(server_url: str, secret: str, kind: str, **params: Any) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(
            f"{server_url}/v1/chatkit/conversation",
            headers={"Authorization": f"Bearer {secret}"},
            json={"type": kind, "params": params},
        )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll until ``condition`` holds (no timing is asserted; the limit only stops a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
