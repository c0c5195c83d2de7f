"""``kithost import`` as an operator runs it: a subprocess reading a second, real kithost process
(the same threads API as OpenAI's hosted ChatKit) through the official SDK, and writing into a
target database that a third kithost serves. What the target then shows through the SDK must
equal what the source shows, field by field; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from kithost.importer.options import parse_since
from kithost.store.database import create_engine
from tests.support.databases import fresh_database
from tests.support.import_sources import (
    START,
    HttpStub,
    SourceHistory,
    StoredRows,
    add_later,
    chatkit_request,
    import_command,
    import_environment,
    iso_day,
    rest_history,
    run_import,
    sdk,
    seed_history,
    seed_odd_items,
    stored_rows,
    validate_items,
    wait_for,
    without_copied_previews,
)
from tests.support.process import ADMIN_KEY, KithostProcess

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def files() -> Iterator[HttpStub]:
    """Serves the previews of some source attachments (others live on the source itself)."""
    stub = HttpStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def history(server: KithostProcess, files: HttpStub) -> SourceHistory:
    """The source: ``server`` (a kithost on this module's database) with hundreds of threads."""
    return seed_history(server, files)


@pytest.fixture
def target_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path / "target-db") as url:
        yield url


@pytest.fixture
def target(target_url: str, start_kithost: Callable[..., KithostProcess]) -> KithostProcess:
    """A kithost serving the (empty) database the import writes into."""
    return start_kithost(target_url)


def source_api(server: KithostProcess) -> str:
    return f"{server.url}/v1"


def assert_same_history(
    server: KithostProcess, target: KithostProcess, history: SourceHistory
) -> dict[str, Any]:
    """The target shows every thread and item as the source does; copied previews are served
    by the target's own signed links. Returns the target's history."""
    theirs = rest_history(server.url)
    ours = rest_history(target.url)
    copied = set(history.copied_previews)
    list(without_copied_previews(theirs, copied))
    links = list(without_copied_previews(ours, copied))
    assert [t["id"] for t in ours["threads"]] == [t["id"] for t in theirs["threads"]]
    assert ours["threads"] == theirs["threads"]
    for thread in theirs["threads"]:
        assert ours["items"][thread["id"]] == theirs["items"][thread["id"]], thread["id"]
    assert sum(len(items) for items in ours["items"].values()) == history.rest_items
    with httpx.Client(timeout=30) as client:
        for _thread_id, attachment_id, link in links:
            assert link.startswith(f"{target.url}/v1/chatkit/files/{attachment_id}/content?")
            response = client.get(link)
            assert response.status_code == 200
            assert response.content == history.copied_previews[attachment_id]
    return ours


def assert_storage(database_url: str, target: KithostProcess, history: SourceHistory) -> StoredRows:
    """What the target stores: valid ChatKit items, and attachments copied like uploads."""
    rows = stored_rows(database_url)
    validate_items(rows)
    assert len(rows.items) == history.rest_items
    assert set(rows.threads) == set(history.thread_ids)
    for attachment_id, content in history.copied_previews.items():
        row = rows.attachments[attachment_id]
        assert row["uploaded"] is True
        assert row["size"] == len(content)
        assert row["thread_id"] == history.thread_ids[1]
        assert row["user_id"] == history.users[1]
        blob = target.workdir / "data" / "files" / row["storage_key"][-2:] / row["storage_key"]
        assert blob.read_bytes() == content
    for attachment_id in history.uncopied:
        row = rows.attachments[attachment_id]
        assert row["uploaded"] is False
        assert row["storage_key"] is None
        assert row["thread_id"] == history.thread_ids[1]
    return rows


def table_names(database_url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def untouched(database_url: str) -> bool:
    """Nothing was created: no SQLite file, no tables."""
    if database_url.startswith("sqlite"):
        return not Path(database_url.split("///", 1)[1]).exists()
    return table_names(database_url) == set()


# the whole history


def test_import_brings_every_thread_and_item_across(
    server: KithostProcess, history: SourceHistory, target: KithostProcess, target_url: str
) -> None:
    run = run_import(target, source_api(server))

    assert run.returncode == 0, run.stderr
    summary = run.summary
    assert summary["threads_found"] == len(history.thread_ids)
    assert summary["threads_new"] == len(history.thread_ids)
    assert summary["threads_failed"] == 0
    assert summary["items_imported"] == history.rest_items
    assert summary["items_failed"] == 0
    assert summary["failures"] == []
    assert summary["differences"] == []
    assert summary["attachments_copied"] == len(history.copied_previews)
    assert summary["attachments_not_copied"] == len(history.uncopied)
    reasons = {note["attachment_id"]: note["reason"] for note in summary["not_copied"]}
    assert set(reasons) == history.uncopied
    assert sorted(reasons.values()) == [
        "preview_url answered 404",
        "the source gives no preview_url",
        "the source gives no preview_url",
    ]
    assert "threads to go through" in run.stderr  # the progress display

    assert_same_history(server, target, history)
    assert_storage(target_url, target, history)


def test_imported_history_shows_in_the_chat(
    server: KithostProcess, history: SourceHistory, target: KithostProcess
) -> None:
    """The conversation plane (chatkit's own server) loads every imported item of a user."""
    user = history.users[1]
    assert run_import(target, source_api(server), "--user", user).returncode == 0
    with sdk(target.url) as client:
        session = client.beta.chatkit.sessions.create(
            user=user,
            workflow={"id": "wf_kithost_demo"},
            rate_limits={"max_requests_per_1_minute": 1000},
        )
        expected = {t["id"]: t for t in rest_history(target.url)["threads"]}
    secret = session.client_secret

    listed = chatkit_request(target.url, secret, "threads.list", limit=100)
    assert listed.status_code == 200, listed.text
    assert {t["id"] for t in listed.json()["data"]} == set(expected)
    with sdk(server.url) as source:
        for thread_id in expected:
            page = chatkit_request(target.url, secret, "items.list", thread_id=thread_id, limit=100)
            assert page.status_code == 200, page.text
            source_ids = [
                i.id for i in source.beta.chatkit.threads.list_items(thread_id, order="desc")
            ]
            assert [i["id"] for i in page.json()["data"]] == source_ids[:100]

    with_files = chatkit_request(
        target.url, secret, "threads.get_by_id", thread_id=history.thread_ids[1]
    )
    assert with_files.status_code == 200, with_files.text
    attachments = [
        a for item in with_files.json()["items"]["data"] for a in item.get("attachments", [])
    ]
    assert len(attachments) == len(history.copied_previews) + len(history.uncopied)
    with httpx.Client(timeout=30) as client:
        for attachment in attachments:
            if attachment["id"] in history.copied_previews and attachment["type"] == "image":
                response = client.get(attachment["preview_url"])
                assert response.status_code == 200
                assert response.content == history.copied_previews[attachment["id"]]


# filters, and runs that add only what is missing


def test_filters_choose_threads_and_later_runs_add_the_rest(
    server: KithostProcess, history: SourceHistory, target: KithostProcess
) -> None:
    with sdk(server.url) as client:
        everything = [t.to_dict() for t in client.beta.chatkit.threads.list(limit=100)]
    by_id = {t["id"]: t for t in everything}
    chosen = [history.thread_ids[3], history.thread_ids[150]]

    def imported() -> set[str]:
        with sdk(target.url) as client:
            return {t.id for t in client.beta.chatkit.threads.list(limit=100)}

    run = run_import(target, source_api(server), "--thread", chosen[0], "--thread", chosen[1])
    assert run.returncode == 0, run.stderr
    assert run.summary["threads_new"] == 2
    assert imported() == set(chosen)

    user = history.users[2]
    expected = set(chosen) | {t["id"] for t in everything if t["user"] == user}
    run = run_import(target, source_api(server), "--user", user)
    assert run.returncode == 0, run.stderr
    overlap = {i for i in chosen if by_id[i]["user"] == user}
    assert run.summary["threads_new"] == len(expected) - 2
    assert run.summary["threads_skipped"] == len(overlap)
    assert imported() == expected

    day = iso_day(START + 180 * 3600)
    since = parse_since(day)
    expected |= {t["id"] for t in everything if t["created_at"] >= since}
    run = run_import(target, source_api(server), "--since", day)
    assert run.returncode == 0, run.stderr
    assert imported() == expected

    unix = str(START + 40 * 3600)
    both = {
        t["id"]
        for t in everything
        if t["user"] == history.users[4] and t["created_at"] >= int(unix)
    }
    run = run_import(target, source_api(server), "--user", history.users[4], "--since", unix)
    assert run.returncode == 0, run.stderr
    assert run.summary["threads_found"] == len(both)
    expected |= both
    assert imported() == expected

    bad = run_import(target, source_api(server), "--since", "last tuesday")
    assert bad.returncode == 2
    assert "neither a date" in bad.stderr

    run = run_import(target, source_api(server))
    assert run.returncode == 0, run.stderr
    assert run.summary["threads_skipped"] == len(expected)
    assert run.summary["threads_new"] == len(everything) - len(expected)
    assert run.summary["items_skipped"] == 0  # complete threads are not walked again
    assert_same_history(server, target, history)


def test_a_second_run_changes_nothing_and_a_later_one_adds_only_what_is_new(
    server: KithostProcess, history: SourceHistory, target: KithostProcess, target_url: str
) -> None:
    assert run_import(target, source_api(server)).returncode == 0
    before = stored_rows(target_url)

    again = run_import(target, source_api(server))

    assert again.returncode == 0, again.stderr
    summary = again.summary
    assert summary["threads_new"] == summary["threads_updated"] == 0
    assert summary["threads_skipped"] == len(history.thread_ids)
    assert summary["items_imported"] == summary["attachments_copied"] == 0
    assert stored_rows(target_url) == before  # not a single column changed

    new_thread, added = add_later(server, history)
    later = run_import(target, source_api(server))

    assert later.returncode == 0, later.stderr
    summary = later.summary
    assert summary["threads_new"] == 1
    assert summary["threads_updated"] == 1
    assert summary["items_imported"] == added
    assert summary["items_skipped"] == len(before_items(before, history.thread_ids[5]))
    after = stored_rows(target_url)
    for item_id, row in before.items.items():
        assert after.items[item_id] == row
    for thread_id, row in before.threads.items():
        if thread_id != history.thread_ids[5]:  # the one that got an item: only updated_at moved
            assert after.threads[thread_id] == row
        else:
            assert {**after.threads[thread_id], "updated_at": None} == {**row, "updated_at": None}
    assert after.attachments == before.attachments
    assert new_thread in after.threads
    assert_same_history(server, target, history)


def before_items(rows: StoredRows, thread_id: str) -> list[str]:
    return [item_id for item_id, row in rows.items.items() if row["thread_id"] == thread_id]


def test_dry_run_prints_the_plan_and_writes_nothing(
    server: KithostProcess,
    history: SourceHistory,
    target_url: str,
    tmp_path: Path,
    start_kithost: Callable[..., KithostProcess],
) -> None:
    never_started = KithostProcess(target_url, tmp_path)

    dry = run_import(never_started, source_api(server), "--dry-run", json_summary=False)

    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("new     cthr_")
    planned = [line for line in dry.stdout.splitlines() if line.startswith("new ")]
    assert len(planned) == len(history.thread_ids)
    assert "Dry run: nothing was written." in dry.stdout
    assert f"{history.rest_items} would import" in dry.stdout
    assert untouched(target_url)
    assert not (tmp_path / "data" / "files").exists()

    target = start_kithost(target_url)
    assert run_import(target, source_api(server), "--user", history.users[0]).returncode == 0
    before = stored_rows(target_url)
    files_before = sorted((target.workdir / "data").rglob("*"))

    dry = run_import(target, source_api(server), "--dry-run")

    assert dry.returncode == 0, dry.stderr
    mine = [t for t in before.threads.values() if t["user_id"] == history.users[0]]
    assert dry.summary["threads_skipped"] == len(mine)
    assert dry.summary["threads_new"] == len(history.thread_ids) - len(mine)
    assert dry.summary["dry_run"] is True
    assert stored_rows(target_url) == before
    assert sorted((target.workdir / "data").rglob("*")) == files_before


# a crash, and a busy source


def test_a_run_killed_half_way_resumes(
    server: KithostProcess, history: SourceHistory, target: KithostProcess, target_url: str
) -> None:
    """SIGKILL once four threads' requests are held at a gate: one of them is the long
    thread's second page, so that thread is half imported. The next run completes it all."""
    item_requests = 0

    def hold(path: str) -> bool:
        nonlocal item_requests
        if "/items" not in path:
            return False
        item_requests += 1
        long_thread_page_two = f"/threads/{history.big_thread}/items" in path and "after=" in path
        return long_thread_page_two or item_requests > 40

    gate = HttpStub(upstream=server.url)
    gate.state.hold = hold
    log = (target.workdir / "import.log").open("w")
    try:
        process = subprocess.Popen(
            import_command(f"{gate.url}/v1", "--concurrency", "4"),
            cwd=target.workdir,
            env=import_environment(target),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: gate.state.held >= 4 or process.poll() is not None, "4 held requests")
        assert process.poll() is None, (target.workdir / "import.log").read_text()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
    finally:
        gate.close()
        log.close()

    crashed = stored_rows(target_url)
    validate_items(crashed)
    assert set(crashed.threads) == set(history.thread_ids)  # rows come first, all of them
    assert 0 < len(crashed.items) < history.rest_items
    assert len(before_items(crashed, history.big_thread)) == 100  # its first page only
    with sdk(server.url) as client:
        newest = {
            thread_id: next(iter(client.beta.chatkit.threads.list_items(thread_id, limit=1)), None)
            for thread_id in history.thread_ids
        }
    present = {thread_id: before_items(crashed, thread_id) for thread_id in history.thread_ids}
    incomplete = [
        thread_id
        for thread_id, item in newest.items()
        if item is not None and item.id not in present[thread_id]
    ]
    assert history.big_thread in incomplete

    resumed = run_import(target, source_api(server))

    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.summary
    assert summary["threads_new"] == 0
    assert summary["threads_updated"] == len(incomplete)
    assert summary["threads_skipped"] == len(history.thread_ids) - len(incomplete)
    assert summary["items_imported"] == history.rest_items - len(crashed.items)
    assert summary["items_skipped"] == sum(len(present[t]) for t in incomplete)
    assert summary["failures"] == []
    after = stored_rows(target_url)
    for item_id, row in crashed.items.items():
        assert after.items[item_id] == row
    assert_same_history(server, target, history)
    assert_storage(target_url, target, history)


def test_a_rate_limited_source_is_waited_for(
    server: KithostProcess, history: SourceHistory, target: KithostProcess
) -> None:
    """The first requests get 429 with Retry-After: 1; the SDK waits and retries each."""
    busy = HttpStub(upstream=server.url)
    busy.state.rate_limit_first = 5
    user = history.users[3]
    try:
        run = run_import(target, f"{busy.url}/v1", "--user", user)
    finally:
        busy.close()

    assert run.returncode == 0, run.stderr
    assert busy.state.rate_limited == 5
    assert run.summary["rate_limited"] == 5
    assert run.summary["failures"] == []
    theirs = rest_history(server.url)
    ours = rest_history(target.url)
    mine = [t for t in theirs["threads"] if t["user"] == user]
    assert ours["threads"] == mine
    assert ours["items"] == {t["id"]: theirs["items"][t["id"]] for t in mine}

    text = run_import(target, source_api(server), "--user", user, json_summary=False)
    assert text.returncode == 0
    assert f"{len(mine)} already imported (skipped)" in text.stdout


# sources that cannot be used


def test_an_unusable_source_is_refused_clearly_before_anything_is_written(
    server: KithostProcess,
    history: SourceHistory,
    files: HttpStub,
    target_url: str,
    tmp_path: Path,
) -> None:
    target = KithostProcess(target_url, tmp_path)
    api = source_api(server)
    # A port bound but never listening refuses every connection while this socket holds it
    # (a port that is merely free now could be taken by another test's server).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        cases: list[tuple[str, str | None, str]] = [
            (api, "sk-wrong-key", "refused the API key (401"),
            (server.url, ADMIN_KEY, "is not a ChatKit API"),
            (f"{files.url}/html/v1", ADMIN_KEY, "with text/html, not a list of threads"),
            (nobody, ADMIN_KEY, "Could not connect to"),
            (api, None, "No API key for the source"),
        ]
        for source_url, key, message in cases:
            run = run_import(target, source_url, key=key)
            assert run.returncode == 2, (source_url, run.stderr)
            assert message in run.stderr, run.stderr
            assert "Traceback" not in run.stderr
            assert run.stdout == ""
    assert untouched(target_url)


def test_items_that_cannot_come_across_are_reported(
    server: KithostProcess, target: KithostProcess, target_url: str, tmp_path: Path
) -> None:
    """Source items kithost cannot store faithfully (seeded raw, as another server might send
    them): two fail with their reason, two are imported with the differences listed."""
    user, thread_id, bad = seed_odd_items(server)
    try:
        run = run_import(target, source_api(server), "--user", user)

        assert run.returncode == 1, run.stderr
        summary = run.summary
        assert summary["items_imported"] == 3
        assert summary["items_failed"] == 2
        reasons = {note["item_id"]: note["reason"] for note in summary["failures"]}
        assert reasons[bad["widget"]].startswith("not a valid ChatKit widget item: widget")
        assert reasons[bad["tool_call"]] == (
            "the client tool call's arguments are not a JSON object"
        )
        differences = {note["item_id"]: note["reason"] for note in summary["differences"]}
        assert differences == {
            bad["thought"]: 'summary: null → ""',
            bad["no_options"]: ('inference_options: null → {"model": null, "tool_choice": null}'),
        }
        rows = stored_rows(target_url)
        validate_items(rows)
        assert {r["id"] for r in rows.items.values()} == {
            bad["ok"],
            bad["thought"],
            bad["no_options"],
        }

        dry = run_import(
            KithostProcess(f"sqlite+aiosqlite:///{tmp_path}/none.db", tmp_path),
            source_api(server),
            "--user",
            user,
            "--dry-run",
            json_summary=False,
        )
        assert dry.returncode == 1
        assert "\nFailed:\n" in dry.stdout
        assert f"{thread_id} item {bad['tool_call']}: the client tool call's" in dry.stdout
        assert "Imported, but kithost shows them differently:" in dry.stdout
    finally:
        with sdk(server.url) as client:
            client.beta.chatkit.threads.delete(thread_id)
