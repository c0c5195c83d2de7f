"""Moving file search over: ``kithost import --vector-stores``, then ``kithost vector-stores add``.

The source stands in for OpenAI: a second, real kithost serving the same vector stores API,
read through the official SDK. The import recreates its stores under their ids in the target
database and says which files to add; ``add`` uploads the team's own copies (a folder),
matching them by name so that the hosted attributes carry over. Then an export whose
``FileSearchTool`` names the hosted store id answers from those files on Chat Completions:
the issue's "done when", end to end, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.chatkit_stream import Conversation, client_secret
from tests.support.databases import fresh_database
from tests.support.documents import docx_bytes, filler, pdf_bytes
from tests.support.fake_model import FakeModelServer, ModelRequest, Reply, text, tool_call
from tests.support.hosted_exports import hosted_export
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.workflow_files import (
    admin_client,
    is_title_request,
    kithost_env,
    workflow_requests,
    write,
)

pytestmark = pytest.mark.timeout(600)

WORKFLOW = "wf_moved_librarian"
PASSAGE = "Expense reports above 500 euros need the approval of a finance director."
FILES: dict[str, dict[str, Any]] = {
    "expenses.pdf": {"team": "finance", "year": 2025},
    "onboarding.docx": {"team": "people", "public": True},
    "glossary.md": {},
}


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("Expenses"))


@pytest.fixture(scope="module")
def source(
    fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """ "OpenAI": a kithost whose store has the three files with their attributes."""
    workdir = tmp_path_factory.mktemp("source")
    with fresh_database("sqlite", workdir) as url:
        process = KithostProcess(url, workdir).start()
        yield process
        process.stop()


@pytest.fixture(scope="module")
def hosted(source: KithostProcess) -> dict[str, Any]:
    with admin_client(source) as admin:
        store = admin.vector_stores.create(
            name="Company handbook",
            metadata={"owner": "ops", "region": "eu"},
            expires_after={"anchor": "last_active_at", "days": 30},
        )
        for name, attributes in FILES.items():
            uploaded = admin.files.create(
                file=(name, io.BytesIO(document(name, f"{name} on OpenAI"))),
                purpose="assistants",
            )
            done = admin.vector_stores.files.create_and_poll(
                vector_store_id=store.id,
                file_id=uploaded.id,
                attributes=attributes or None,
                poll_interval_ms=100,
            )
            assert done.status == "completed", done.last_error
    return {"id": store.id}


def document(name: str, words: str) -> bytes:
    """A real file of the kind its name says."""
    if name.endswith(".pdf"):
        return pdf_bytes([words])
    if name.endswith(".docx"):
        return docx_bytes([words])
    return words.encode()


@pytest.fixture
def copies(tmp_path: Path) -> Path:
    """The team's own copies of the files, in a folder (with one OpenAI never had)."""
    folder = tmp_path / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "expenses.pdf").write_bytes(
        pdf_bytes([filler(120, seed=1), f"{filler(40, seed=2)}\n{PASSAGE}"])
    )
    (folder / "onboarding.docx").write_bytes(docx_bytes([filler(200, seed=3)]))
    (folder / "glossary.md").write_text(f"# Glossary\n\n{filler(150, seed=4)}\n")
    (folder / "faq.txt").write_text(f"Questions.\n{filler(100, seed=5)}\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")  # hidden: never added
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n")  # not a kind of document: skipped
    return folder


@pytest.fixture
def target(database_url: str, fake: FakeModelServer, tmp_path: Path) -> KithostProcess:
    """The kithost everything moves to (started by the tests that serve)."""
    folder = tmp_path / "workflows"
    env = kithost_env(fake.base_url, "chat_completions", folder)
    return KithostProcess(database_url, tmp_path / "target", env)


def cli(target: KithostProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m kithost …`` on the target's database and files, as an operator runs it."""
    target.workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    env.update(
        KITHOST_DATABASE_URL=target.database_url,
        KITHOST_DATA_DIR=str(target.workdir / "data"),
        OPENAI_AGENTS_DISABLE_TRACING="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "kithost", *args],
        cwd=target.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def import_stores(target: KithostProcess, source: KithostProcess, *args: str) -> Any:
    return cli(
        target,
        "import",
        "--vector-stores",
        "--base-url",
        f"{source.url}/v1",
        "--api-key",
        ADMIN_KEY,
        *args,
    )


def test_stores_move_over_and_an_export_answers_from_the_copies(
    source: KithostProcess,
    hosted: dict[str, Any],
    target: KithostProcess,
    copies: Path,
    fake: FakeModelServer,
) -> None:
    store_id = hosted["id"]
    dry = import_stores(target, source, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f'{store_id} "Company handbook": would create; 3 files on OpenAI' in dry.stdout

    imported = import_stores(target, source)
    assert imported.returncode == 0, imported.stderr
    lines = imported.stdout.splitlines()
    assert f'{store_id} "Company handbook": created; 3 files on OpenAI' in lines
    assert '      expenses.pdf  {"team": "finance", "year": 2025}' in lines, lines
    assert "      glossary.md" in lines
    assert f"    then: kithost vector-stores add {store_id} PATH…  (files or folders)" in lines

    listed = cli(target, "vector-stores", "files", store_id)
    assert listed.returncode == 0, listed.stderr
    assert re.findall(r"\(to add\)\s+(\S+)", listed.stdout) == list(FILES)

    added = cli(target, "vector-stores", "add", store_id, str(copies))
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"{store_id}: 4 added, 0 failed" in added.stdout
    assert "still to add" not in added.stdout
    assert "skipped 1 files of other kinds in the folders" in added.stderr

    # Again: the import finds everything here; add leaves the files alone.
    again = import_stores(target, source)
    assert f'{store_id} "Company handbook": already here; 3 files on OpenAI' in again.stdout
    assert "    3 already added here" in again.stdout
    assert "to add" not in again.stdout
    twice = cli(target, "vector-stores", "add", store_id, str(copies / "glossary.md"))
    assert twice.returncode == 0
    assert "glossary.md: already in" in twice.stderr

    write(
        Path(target.extra_env["KITHOST_WORKFLOWS_DIR"]),
        "librarian.py",
        hosted_export(
            WORKFLOW,
            "FileSearchTool",
            f'file_search = FileSearchTool(vector_store_ids=["{store_id}"])',
            "file_search",
            "You answer from the company handbook.",
        ),
    )
    target.start()
    try:
        with admin_client(target) as admin:
            store = admin.vector_stores.retrieve(store_id)
            assert (store.name, store.metadata) == (
                "Company handbook",
                {"owner": "ops", "region": "eu"},
            )
            assert store.expires_after is not None
            assert store.expires_after.days == 30
            assert store.file_counts.completed == 4
            attributes = {
                entry.id: entry.attributes
                for entry in admin.vector_stores.files.list(vector_store_id=store_id)
            }
            names = {file_id: admin.files.retrieve(file_id).filename for file_id in attributes}
            by_name = {names[file_id]: attrs for file_id, attrs in attributes.items()}
            assert by_name == {
                "expenses.pdf": FILES["expenses.pdf"],
                "onboarding.docx": FILES["onboarding.docx"],
                "glossary.md": {},
                "faq.txt": {},
            }
            fake.push(*searches_then_quotes())
            with Conversation(target.url, client_secret(admin, WORKFLOW)) as chat:
                stream = chat.start("Who approves a big expense report?")
    finally:
        target.stop()
    assert stream.errors == []
    calling, answering = workflow_requests(fake.requests)
    assert "file_search" in calling.tool_names
    [result] = [said for role, said in answering.transcript if role == "tool"]
    assert result.splitlines()[2].startswith("[1] expenses.pdf (score ")
    assert stream.answer.startswith("From expenses.pdf:")
    [item] = stream.done_items("assistant_message")
    sources = [a["source"] for part in item["content"] for a in part["annotations"]]
    assert sources[0]["filename"] == "expenses.pdf"
    assert "finance director" in sources[0]["description"]


def searches_then_quotes() -> tuple[Reply, Callable[[ModelRequest], Reply]]:
    def answer(request: ModelRequest) -> Reply:
        results = [said for role, said in request.transcript if role == "tool"]
        found = re.search(r"^\[1\] (\S+) ", results[-1], re.MULTILINE) if results else None
        return text(f"From {found.group(1)}: approval." if found else "No result.")

    return tool_call("file_search", {"query": "expense report approval finance director"}), answer


def test_add_says_what_went_wrong(
    source: KithostProcess, hosted: dict[str, Any], target: KithostProcess, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("A fine text file about lighthouse keepers.")
    unknown = cli(target, "vector-stores", "add", "vs_0000000000nothere", str(good))
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: ")
    assert "vs_0000000000nothere" in unknown.stderr

    created = cli(target, "vector-stores", "create", "--name", "scratch")
    assert created.returncode == 0, created.stderr
    store_id = created.stdout.strip()
    assert store_id.startswith("vs_")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"this is not a PDF at all")
    mixed = cli(target, "vector-stores", "add", store_id, str(broken), str(good))
    assert mixed.returncode == 1
    assert f"{store_id}: 1 added, 1 failed" in mixed.stdout
    assert re.search(r"failed: .*broken\.pdf: 'broken\.pdf' is named \.pdf", mixed.stderr)
    missing = cli(target, "vector-stores", "add", store_id, str(tmp_path / "nope.txt"))
    assert missing.returncode == 1
    assert "nope.txt: no such file or folder" in missing.stderr

    found = cli(target, "vector-stores", "search", store_id, "lighthouse keepers")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("1 results (keyword search)")
    assert "[1] good.txt  score 1.000" in found.stdout
    listing = cli(target, "vector-stores", "list")
    assert re.search(
        rf"^{store_id}  scratch  1 completed, 0 in progress, 1 failed$",
        listing.stdout,
        re.MULTILINE,
    )


def test_import_refuses_a_bad_key(source: KithostProcess, target: KithostProcess) -> None:
    refused = cli(
        target,
        "import",
        "--vector-stores",
        "--base-url",
        f"{source.url}/v1",
        "--api-key",
        "sk-not-a-key-of-this-source-0000000000",
    )
    assert refused.returncode == 2
    assert "refused the API key (401)" in refused.stderr
    assert "sk-not-a-key" not in refused.stderr + refused.stdout
