"""The expert's documents: `add_documents` reads and chunks them, `search_passages` finds the passages
relevant to the turn being authored (`passage_dict` is one as a draft's source; `ticked_passages`
the ones an expert ticked in the studio), and `questions_conversation` asks an LLM to propose
questions from a passage.

Retrieval is BM25 through `bm25s` (sparse matrices; indexes thousands of passages in well under a
second) with Snowball stemming (PyStemmer) and stop words in the workspace's first language. Nothing
goes to the store: the index is a folder in the workspace, rebuilt whole whenever a document is
added, changed or removed (`remove_documents`), because BM25's term weights depend on the whole
collection; 1,000 Markdown files (8,000 passages) take ~3 s on 2 cores (bench/docs_index.py).

    <workspace>/documents/manifest.json           one entry per document: path, sha256, kind, title,
                                                  chunks; and which index generation is current
    <workspace>/documents/index-N/                the bm25s index of generation N
    <workspace>/documents/index-N/chunks.jsonl    its passages, in index order
    <workspace>/documents/index-N/offsets.npy     where each passage starts, so a query reads only
                                                  the passages it returns (a cold query stays ~20 ms)

A document is identified by its resolved path and content hash: adding an unchanged file again is a
no-op, a changed file replaces its passages. Files that cannot be read are reported, not fatal.
Writes take a lock and build a new generation before the manifest switches to it (an atomic
replace), so a reader never sees half an index and a killed `docs add` leaves the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
from pydantic import BaseModel

from expertune.atomic import write_atomic
from expertune.author._documents_read import SUFFIXES, UnreadableDocument, read_document
from expertune.errors import InputError

if TYPE_CHECKING:
    from expertune.workspace import Workspace

DOCUMENTS_DIR = "documents"
_FORMAT = 1
# Workspace language -> (Snowball stemmer, bm25s stop-word list). Other languages: no stemming.
_LANGUAGES = {"en": ("english", "en"), "de": ("german", "de"), "fr": ("french", "fr"), "es": ("spanish", "es"),
              "it": ("italian", "it"), "nl": ("dutch", "nl"), "pt": ("portuguese", "pt"), "ru": ("russian", "ru"),
              "sv": ("swedish", "sv"), "no": ("norwegian", "no"), "da": ("danish", "da"), "tr": ("turkish", "tr")}


class DocumentInfo(BaseModel):
    path: str
    kind: str
    title: str
    sha256: str
    size: int
    chunks: int
    added_at: str


class Passage(BaseModel):
    doc_path: str
    chunk_index: int
    text: str
    score: float
    page: int | None = None
    title: str = ""


class FailedDocument(BaseModel):
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class DocumentsReport(BaseModel):
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    failed: list[FailedDocument] = []
    skipped: list[str] = []  # files in a given folder that are not a supported type
    removed: list[str] = []  # by remove_documents
    documents: int = 0  # in the index after this call
    chunks: int = 0


def documents_dir(ws: "Workspace") -> Path:
    return ws.root / DOCUMENTS_DIR


def add_documents(ws: "Workspace", paths: Iterable[str | Path]) -> DocumentsReport:
    """Index files (Markdown, text, HTML, PDF) and folders of them (recursively)."""
    from filelock import FileLock

    folder = documents_dir(ws)
    folder.mkdir(exist_ok=True)
    report = DocumentsReport()
    files = _expand(paths, report)
    with FileLock(str(folder / ".lock")):
        state = _State.load(folder)
        changed = False
        for path in files:
            key = str(path)
            try:
                data = path.read_bytes()
            except OSError as err:
                report.failed.append(FailedDocument(path=key, reason=f"cannot read ({err.strerror or err})"))
                continue
            sha = hashlib.sha256(data).hexdigest()
            old = state.docs.get(key)
            if old and old.sha256 == sha:
                report.unchanged.append(key)
                continue
            try:
                doc = read_document(data, SUFFIXES[path.suffix.lower()], path.name)
            except UnreadableDocument as err:
                report.failed.append(FailedDocument(path=key, reason=str(err)))
                continue
            state.docs[key] = DocumentInfo(path=key, kind=doc.kind, title=doc.title, sha256=sha, size=len(data),
                                           chunks=len(doc.chunks), added_at=_now())
            state.chunks[key] = [{"doc": key, "chunk": i, "page": c.page, "text": c.text} for i, c in enumerate(doc.chunks)]
            (report.updated if old else report.added).append(key)
            changed = True
        if changed:
            state.save(folder, _language(ws))
        report.documents = len(state.docs)
        report.chunks = sum(d.chunks for d in state.docs.values())
    return report


def remove_documents(ws: "Workspace", paths: Iterable[str | Path]) -> DocumentsReport:
    """Take documents out of the index: files, or every indexed document under a folder. The files
    themselves are not touched (they may already be gone)."""
    from filelock import FileLock

    folder = documents_dir(ws)
    report = DocumentsReport()
    if not (folder / "manifest.json").is_file():
        report.failed = [FailedDocument(path=str(p), reason="not in the index") for p in paths]
        return report
    with FileLock(str(folder / ".lock")):
        state = _State.load(folder)
        for raw in paths:
            target = Path(raw).expanduser().resolve()
            hits = [k for k in state.docs if Path(k) == target or target in Path(k).parents]
            if not hits:
                report.failed.append(FailedDocument(path=str(raw), reason="not in the index (see `expertune docs list`)"))
            for key in hits:
                del state.docs[key], state.chunks[key]
                report.removed.append(key)
        if report.removed:
            state.save(folder, _language(ws))
        report.documents = len(state.docs)
        report.chunks = sum(d.chunks for d in state.docs.values())
    return report


def list_documents(ws: "Workspace") -> list[DocumentInfo]:
    return sorted(_State.load(documents_dir(ws), passages=False).docs.values(), key=lambda d: d.path)


def search_passages(ws: "Workspace", query: str, k: int = 5) -> list[Passage]:
    """The k passages most relevant to `query` (only those sharing a term with it), best first."""
    index = _Index.open(documents_dir(ws))
    if index is None or k < 1:
        return []
    return index.search(query, k)


def passage_dict(p: Any) -> dict[str, Any]:
    """A passage as drafts record it in their sources (and the studios show it): path, chunk, text, score."""
    get = (lambda k: p.get(k)) if isinstance(p, dict) else (lambda k: getattr(p, k, None))
    return {"path": str(get("path") or get("doc_path")), "chunk": get("chunk") if get("chunk") is not None else get("chunk_index"),
            "text": get("text"), "score": float(get("score") or 0.0)}


def ticked_passages(ws: "Workspace", query: str, ticked: Iterable[int], k: int = 5) -> list[dict[str, Any]]:
    """The passages an expert ticked among the k that `query` finds, as drafts' sources. The browser
    studio sends the panel's query and the positions ticked, not the passages' text, so a draft is
    grounded in what the index holds; Regenerate and Write takes both resolve them here."""
    ticked = list(ticked)
    if not ticked:
        return []
    found = search_passages(ws, query, k)
    if any(not 0 <= i < len(found) for i in ticked):  # the documents changed since the panel was shown
        raise InputError("the ticked passages are no longer in the documents panel; search again and tick them")
    return [passage_dict(found[i]) for i in ticked]


# --- proposing questions from a passage -------------------------------------------------------

_QUESTIONS_SYSTEM = (
    "You help a domain expert write training questions. Propose questions an expert in the field "
    "would ask about the passage: specific, answerable from expertise, each on its own line, numbered, "
    "with nothing else before or after the list."
)


def questions_conversation(passage: Passage, n: int = 3) -> list[dict]:
    """Chat messages asking an LLM for `n` questions an expert would ask about `passage`."""
    where = passage.title or Path(passage.doc_path).name
    if passage.page is not None:
        where += f", page {passage.page}"
    user = (f"Passage from {where}:\n\"\"\"\n{passage.text.strip()}\n\"\"\"\n\n"
            f"Propose {n} question{'s' if n != 1 else ''} an expert would ask about this passage.")
    return [{"role": "system", "content": _QUESTIONS_SYSTEM}, {"role": "user", "content": user}]


# A list item: "1.", "2)", "(3)", "a.", "Q4:", "-", "*", "•", the marker possibly in bold ("**1.**").
_LIST_ITEM = re.compile(
    r"^\s*(?:\*\*|__)?(?:[-*+•]|\(?\d{1,3}[.):]|\(?[a-zA-Z][.)]|Q\d{1,3}[.):])(?:\*\*|__)?\s+(?P<q>\S.*)$")
_WRAP = re.compile(r"^(?:\*\*|__|[\"'“])+|(?:\*\*|__|[\"'”])+$")


def parse_proposed_questions(text: str) -> list[str]:
    """The questions in an LLM's reply: list items, else lines ending in '?'; unwrapped, deduplicated."""
    lines = text.splitlines()
    items = [m.group("q") for m in map(_LIST_ITEM.match, lines) if m]
    if not items:
        items = [line for line in lines if line.strip().endswith("?")]
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        q = _WRAP.sub("", item.strip()).strip()
        if q.lower().startswith("question:"):
            q = q[len("question:"):].strip()
        if q and q.casefold() not in seen:
            seen.add(q.casefold())
            out.append(q)
    return out


# --- storage ---------------------------------------------------------------------------------


@dataclass
class _State:
    docs: dict[str, DocumentInfo] = field(default_factory=dict)
    chunks: dict[str, list[dict]] = field(default_factory=dict)
    generation: int = 0

    @classmethod
    def load(cls, folder: Path, *, passages: bool = True) -> "_State":
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            return cls()
        data = json.loads(manifest.read_text(encoding="utf-8"))
        state = cls({k: DocumentInfo.model_validate(v) for k, v in data["documents"].items()},
                    generation=data["generation"])
        state.chunks = {k: [] for k in state.docs}
        if not passages:
            return state
        with (folder / f"index-{state.generation}" / "chunks.jsonl").open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                state.chunks[row["doc"]].append(row)
        return state

    def save(self, folder: Path, language: str) -> None:
        """Write the passages and index into a new generation folder, then switch the manifest to it."""
        import bm25s

        rows = [row for key in sorted(self.docs) for row in self.chunks[key]]
        generation = self.generation + 1
        target = folder / f"index-{generation}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        if rows:  # every document removed: an empty generation, no index
            stemmer, stopwords = _analyzer(language)
            tokens = bm25s.tokenize([r["text"] for r in rows], stopwords=stopwords, stemmer=stemmer, show_progress=False)
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            retriever.save(str(target), show_progress=False)
        lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in rows]
        (target / "chunks.jsonl").write_bytes(b"".join(lines))
        # Byte offset of each passage, so a query reads only the passages it returns.
        np.save(target / "offsets.npy", np.cumsum([0] + [len(line) for line in lines], dtype=np.int64)[: len(lines)])
        manifest = {"format": _FORMAT, "language": language, "generation": generation,
                    "documents": {k: v.model_dump() for k, v in sorted(self.docs.items())}}
        write_atomic(folder / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
        self.generation = generation
        # Keep the previous generation: a reader that read the old manifest a moment ago may still open it.
        for old in folder.glob("index-*"):
            if old.name not in (target.name, f"index-{generation - 1}"):
                shutil.rmtree(old, ignore_errors=True)


class _Index:
    """A loaded index, cached per process and reloaded when the manifest changes."""

    _cache: dict[Path, tuple[tuple[int, int, int], "_Index"]] = {}

    def __init__(self, folder: Path):
        import bm25s

        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        self.language = manifest.get("language", "en")
        self.titles = {k: v["title"] for k, v in manifest["documents"].items()}
        generation = folder / f"index-{manifest['generation']}"
        self.chunks_file = generation / "chunks.jsonl"
        self.offsets = np.load(generation / "offsets.npy")
        self.retriever = bm25s.BM25.load(str(generation), mmap=False, show_progress=False) if len(self.offsets) else None
        self.stemmer, self.stopwords = _analyzer(self.language)

    @classmethod
    def open(cls, folder: Path) -> "_Index | None":
        manifest = folder / "manifest.json"
        try:
            st = manifest.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # the manifest is replaced, never rewritten in place
        cached = cls._cache.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
        index = cls(folder)
        cls._cache[folder] = (stamp, index)
        return index

    def search(self, query: str, k: int) -> list[Passage]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords=self.stopwords, stemmer=self.stemmer, return_ids=False,
                                show_progress=False)
        if not tokens[0] or not len(self.offsets):
            return []
        ids, scores = self.retriever.retrieve(tokens, k=min(k, len(self.offsets)), show_progress=False)
        out = []
        for i, score in zip(ids[0], scores[0]):
            if score <= 0:
                continue
            row = self.row(int(i))
            out.append(Passage(doc_path=row["doc"], chunk_index=row["chunk"], text=row["text"], score=float(score),
                               page=row["page"], title=self.titles.get(row["doc"], "")))
        return out


    def row(self, i: int) -> dict:
        with self.chunks_file.open("rb") as f:
            f.seek(int(self.offsets[i]))
            return json.loads(f.readline())


def _analyzer(language: str):
    import Stemmer

    stemmer_name, stopwords = _LANGUAGES.get(language, (None, None))
    return (Stemmer.Stemmer(stemmer_name) if stemmer_name else None), stopwords


def _language(ws: "Workspace") -> str:
    languages = ws.settings.languages
    return languages[0] if languages else "en"


def _expand(paths: Iterable[str | Path], report: DocumentsReport) -> list[Path]:
    files: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if child.suffix.lower() in SUFFIXES:
                    files[child.resolve()] = None
                else:
                    report.skipped.append(str(child))
        elif not path.exists():
            report.failed.append(FailedDocument(path=str(path), reason="no such file or folder"))
        elif path.suffix.lower() not in SUFFIXES:
            report.failed.append(FailedDocument(
                path=str(path), reason=f"unsupported type {path.suffix or '(none)'!r}; supported: {', '.join(sorted(SUFFIXES))}"))
        else:
            files[path.resolve()] = None
    return list(files)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
