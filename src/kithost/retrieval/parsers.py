"""Text out of uploaded files: plain text and Markdown, HTML, JSON, CSV, PDF (pypdf) and DOCX.

Parsing is CPU work: callers run ``extract_text`` in a thread. Failures are ``FileProblem``s with
OpenAI's ``last_error`` codes, and messages a person can act on.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import IO, Literal
from xml.etree import ElementTree

ProblemCode = Literal["unsupported_file", "invalid_file"]

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
CSV_SUFFIXES = frozenset({".csv", ".tsv"})
JSON_SUFFIXES = frozenset({".json", ".jsonl"})
# A DOCX's document.xml beyond this (uncompressed) is refused: a zip bomb, not a document.
MAX_DOCX_XML_BYTES = 256 * 1024 * 1024

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class FileProblem(Exception):
    def __init__(self, code: ProblemCode, message: str):
        super().__init__(message)
        self.code: ProblemCode = code
        self.message = message


def kind_of(filename: str, data: bytes) -> str:
    """``pdf``, ``docx``, ``html``, ``json``, ``csv`` or ``text``, by content, then by name."""
    suffix = PurePosixPath(filename.lower()).suffix
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if suffix == ".docx" or _is_docx(data):
            return "docx"
        raise FileProblem(
            "unsupported_file",
            f"'{filename}' is a ZIP archive that is not a Word document (.docx); "
            "add the files inside it one by one.",
        )
    if suffix in (".pdf", ".docx"):
        raise FileProblem(
            "invalid_file", f"'{filename}' is named {suffix} but its content is not one."
        )
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in JSON_SUFFIXES:
        return "json"
    if suffix in CSV_SUFFIXES:
        return "csv"
    return "text"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def extract_text(filename: str, data: bytes) -> str:
    """The file's text; raises ``FileProblem`` when it has none or cannot be read."""
    kind = kind_of(filename, data)
    if kind == "pdf":
        text = _pdf_text(filename, data)
    elif kind == "docx":
        text = _docx_text(filename, data)
    else:
        text = _decode(filename, data)
        if kind == "html":
            text = html_text(text)
        elif kind == "json":
            _check_json(filename, text)
    if not text.strip():
        raise FileProblem("invalid_file", f"'{filename}' contains no text to search.")
    return text


def _decode(filename: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192]:
        raise FileProblem(
            "unsupported_file",
            f"'{filename}' looks binary. Supported: text, Markdown, HTML, JSON, CSV, PDF and "
            "DOCX files.",
        )
    # Not UTF-8 but text: most such files are Windows-1252 (a superset of Latin-1).
    return data.decode("cp1252", errors="replace")


def _check_json(filename: str, text: str) -> None:
    try:
        json.loads(text)
        return
    except ValueError:
        pass
    # JSON Lines: one document a line.
    try:
        for line in text.splitlines():
            if line.strip():
                json.loads(line)
    except ValueError as exc:
        raise FileProblem("invalid_file", f"'{filename}' is not valid JSON: {exc}.") from None


def _pdf_text(filename: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileProblem(
                "invalid_file", f"'{filename}' is a password-protected PDF; add an unlocked copy."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileProblem:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise FileProblem(
            "invalid_file", f"'{filename}' could not be read as a PDF: {exc}."
        ) from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise FileProblem(
            "invalid_file",
            f"'{filename}' has no text layer (a scanned PDF?); kithost does not read images.",
        )
    return text


def _docx_text(filename: str, data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise FileProblem("invalid_file", f"'{filename}' is too large once unpacked.")
            with archive.open(info) as xml:
                return _wordprocessing_text(xml)
    except FileProblem:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as exc:
        raise FileProblem(
            "invalid_file", f"'{filename}' could not be read as a Word document: {exc}."
        ) from None


def _wordprocessing_text(xml: IO[bytes]) -> str:
    """Paragraph text of WordprocessingML (``w:t`` runs, tabs and breaks), paragraph by paragraph.

    The standard library's expat parser refuses external entities and caps entity expansion.
    """
    parts: list[str] = []
    for event, element in ElementTree.iterparse(xml, events=("start", "end")):  # noqa: S314
        tag = element.tag
        if event == "start":
            continue
        if tag == f"{_W}t":
            parts.append(element.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif tag == f"{_W}p":
            parts.append("\n")
            element.clear()
    return "".join(parts)


_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "br", "li", "ul", "ol", "tr", "table", "pre", "blockquote", "hr"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer"),
        *("dt", "dd", "title", "td", "th"),
    }
)
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "head"})


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _HIDDEN_TAGS:
            self._hidden += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN_TAGS and self._hidden:
            self._hidden -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif not self._hidden:
            self.parts.append(data)

    def text(self) -> str:
        title = " ".join("".join(self._title).split())
        body = "".join(self.parts)
        lines = (" ".join(line.split()) for line in body.splitlines())
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        return f"{title}\n\n{text}" if title else text


def html_text(html: str) -> str:
    """The visible text of an HTML page (scripts and styles left out), the title first."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()
