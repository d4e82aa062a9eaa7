"""Reading the expert's documents into passages: one reader per file type, one chunker.

Markdown and plain text are read as UTF-8; HTML goes through BeautifulSoup (scripts, styles and
navigation chrome removed, encoding detected from the bytes); PDF through pypdf, page by page, so a
passage can cite its page. A file that cannot be read raises `UnreadableDocument` with the reason,
which the indexer reports next to the file instead of stopping.

Chunks are runs of whole paragraphs of about `TARGET_WORDS` words: small enough that a retrieved
passage is worth attaching to an authoring prompt, large enough to carry a rule with its context.
A heading starts a new chunk, so a passage does not straddle two sections.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
            ".html": "html", ".htm": "html", ".pdf": "pdf"}
TARGET_WORDS = 150
MAX_WORDS = 300


class UnreadableDocument(Exception):
    """The file cannot be turned into text; the message says why and what to do."""


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None = None


@dataclass(frozen=True)
class ReadDocument:
    kind: str
    title: str
    chunks: list[Chunk]


def read_document(data: bytes, kind: str, name: str) -> ReadDocument:
    if kind == "pdf":
        title, pages = _read_pdf(data)
        chunks = [Chunk(text, page) for page, body in pages for text in chunk_blocks(_blocks(body))]
    elif kind == "html":
        title, blocks = _read_html(data)
        chunks = [Chunk(t) for t in chunk_blocks(blocks)]
    else:
        text = _decode(data)
        if kind == "markdown":
            text = _FRONT_MATTER.sub("", text, count=1)
        heading = _FIRST_HEADING.search(text) if kind == "markdown" else None
        title = heading.group(1).strip() if heading else ""
        chunks = [Chunk(t) for t in chunk_blocks(_blocks(text))]
    if not chunks:
        hint = " (a scanned PDF has no text layer: run OCR on it first)" if kind == "pdf" else ""
        raise UnreadableDocument(f"no text found{hint}")
    return ReadDocument(kind, title or name, chunks)


def chunk_blocks(blocks: list[str]) -> list[str]:
    """Group paragraphs into chunks of about TARGET_WORDS words; a heading starts a new chunk."""
    chunks: list[str] = []
    current: list[str] = []
    words = 0

    def flush() -> None:
        nonlocal current, words
        if current:
            chunks.append("\n\n".join(current))
        current, words = [], 0

    for block in blocks:
        n = len(block.split())
        if block.startswith("#") and _HEADING.match(block):
            flush()
        if n > MAX_WORDS:  # one huge paragraph: cut it into windows of whole words
            flush()
            tokens = block.split()
            chunks.extend(" ".join(tokens[i:i + TARGET_WORDS]) for i in range(0, len(tokens), TARGET_WORDS))
            continue
        if words and words + n > MAX_WORDS:
            flush()
        current.append(block)
        words += n
        if words >= TARGET_WORDS:
            flush()
    flush()
    return chunks


_HEADING = re.compile(r"^#{1,6}\s")
_FIRST_HEADING = re.compile(r"^#{1,6}[ \t]+(.+)$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def _blocks(text: str) -> list[str]:
    return [b.strip() for b in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if b.strip()]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnreadableDocument(f"not UTF-8 text (byte {err.start}); re-save it as UTF-8") from None


_BLOCK_TAGS = ["p", "div", "li", "ul", "ol", "dt", "dd", "dl", "tr", "table", "section", "article", "main",
               "aside", "blockquote", "pre", "figure", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6"]
_BREAK = "\x1e"  # marks a block boundary while the text is flattened; never in real text


def _read_html(data: bytes) -> tuple[str, list[str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "head"]):
        tag.decompose()
    # Block elements become paragraphs; inline elements (<em>, <a>) stay inside their sentence; a
    # heading becomes a Markdown heading so it starts a new chunk.
    for br in soup.find_all("br"):
        br.replace_with(_BREAK)
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
        if tag.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            tag.insert(0, "#" * int(tag.name[1]) + " ")
    blocks = [" ".join(part.split()) for part in soup.get_text().split(_BREAK)]
    return title, [b for b in blocks if b and not re.fullmatch(r"#+", b)]


def _read_pdf(data: bytes) -> tuple[str, list[tuple[int, str]]]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf logs what it repairs; the reason a file fails is reported with the file instead.
    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is password-protected; save an unprotected copy")
        title = ((reader.metadata or {}).get("/Title") or "").strip() if reader.metadata else ""
        pages = [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UnreadableDocument(f"not a readable PDF ({type(err).__name__}: {err})") from None
    finally:
        log.setLevel(level)
    return str(title), pages
