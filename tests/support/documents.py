"""Real documents of every type file search reads, made in the test (never checked in), and a
look at kithost's database and disk to check what ingestion and deletion did."""

from __future__ import annotations

import asyncio
import io
import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import text

from kithost.store.database import create_engine


def pdf_bytes(pages: list[str]) -> bytes:
    """A PDF with a text layer, one page per string (reportlab, as a word processor would)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for page in pages:
        y = 800
        for line in page.splitlines():
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted_pdf_bytes(content: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([content]))))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """A Word document (python-docx), with a table when given."""
    import docx

    document = docx.Document()
    document.add_heading("Handbook", level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def html_bytes(title: str, body: str, hidden_script: str) -> bytes:
    return (
        "<!doctype html><html><head><title>"
        + title
        + "</title><style>p { color: red }</style></head><body><h1>"
        + title
        + "</h1><p>"
        + body
        + "</p><script>var secret = '"
        + hidden_script
        + "';</script></body></html>"
    ).encode()


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2).encode()


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in rows).encode()


# fmt: off
VOCABULARY = (
    "policy", "customer", "order", "account", "payment", "invoice", "shipping", "warehouse",
    "support", "ticket", "manager", "report", "quarter", "budget", "review", "meeting",
    "schedule", "contract", "vendor", "product", "service", "quality", "process", "team",
    "project", "deadline", "update", "release", "feature", "request",
)
# fmt: on


def filler(words: int, seed: int) -> str:
    """Ordinary business prose from a small vocabulary: every word recurs in every file."""
    rng = random.Random(seed)  # noqa: S311 - reproducible filler, not a secret
    sentences = []
    for _ in range(words // 10):
        sentence = " ".join(rng.choice(VOCABULARY) for _ in range(10))
        sentences.append(sentence.capitalize() + ".")
    return " ".join(sentences)


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on kithost's database (to check what a request did)."""

    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(text(sql), params)]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def blob_path(workdir: Path, file_id: str) -> Path:
    """Where ``kithost serve`` in ``workdir`` keeps a file's bytes (KITHOST_DATA_DIR/files)."""
    return workdir / "data" / "files" / file_id[-2:] / file_id
