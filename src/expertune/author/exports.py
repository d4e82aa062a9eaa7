"""Real chat histories: ChatGPT, Claude and Open WebUI data exports, parsed into conversation trees
that become authoring sessions.

Experts in the reference study authored their data by hand in chat UIs; their exports are the raw
material. Each format keeps a conversation as a tree (regenerating or editing a message branches)
and every branch is kept: `ImportedConversation.turns` lists the turns parents-first, each with its
`parent_id`, and `branches()` gives the root-to-leaf paths.

What is not a turn of the discussion (tool calls and their output, hidden system messages, reasoning
blocks, images, attachments) is skipped, and UI residue (citation markers, "not supported on your
device" placeholders, pasted speaker labels, collapsed reasoning blocks) is stripped. Both are
reported as `ExportProblem`s naming `file: json.path: what`, so nothing is lost silently.

Errors: a file that cannot be read at all (missing, not JSON, an unknown shape) raises an
`InputError` naming `file: json.path: reason`. A malformed conversation is reported as an error
problem and skipped whole (never half-imported); the other conversations are still parsed.

The per-format readers are in `_exports_formats.py`; this module holds the shared model, the file
handling, format detection, the tree builder and the residue cleaner.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from expertune.curate.artefacts import LABEL
from expertune.errors import InputError

Source = Literal["chatgpt", "claude", "openwebui"]
Role = Literal["system", "user", "assistant"]
FORMATS = ("auto", "chatgpt", "claude", "openwebui")


class ImportedTurn(BaseModel):
    id: str
    parent_id: str | None
    role: Role
    content: str
    model: str | None = None
    created_at: datetime | None = None


class ImportedConversation(BaseModel):
    source: Source
    source_id: str
    title: str
    created_at: datetime | None = None
    turns: list[ImportedTurn]
    # The branch the chat UI was showing (its last turn), when the export says so.
    current_leaf: str | None = None
    # Where the conversation is in the file, e.g. "$[3]" (for provenance and messages).
    locator: str = "$"

    def children(self, turn_id: str | None) -> list[ImportedTurn]:
        return [t for t in self.turns if t.parent_id == turn_id]

    def branches(self) -> list[list[ImportedTurn]]:
        """Every root-to-leaf path, in the order the turns are listed."""
        by_id = {t.id: t for t in self.turns}
        parents = {t.parent_id for t in self.turns}
        paths = []
        for leaf in (t for t in self.turns if t.id not in parents):
            path = [leaf]
            while path[-1].parent_id is not None:
                path.append(by_id[path[-1].parent_id])
            paths.append(path[::-1])
        return paths


class ExportProblem(BaseModel):
    file: str
    path: str  # JSON path inside the file, e.g. "$[2].mapping.abc.message.content.parts"
    reason: str
    # error: the conversation is not imported; skipped: content that is not a turn was left out;
    # stripped: residue removed from a turn's text; merged: consecutive same-speaker messages joined.
    kind: Literal["error", "skipped", "stripped", "merged"] = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"


class ParsedExport(BaseModel):
    file: str
    format: Source
    conversations: list[ImportedConversation]
    problems: list[ExportProblem]

    @property
    def errors(self) -> list[ExportProblem]:
        return [p for p in self.problems if p.kind == "error"]


def parse_chat_export(path: str | Path, fmt: str = "auto") -> ParsedExport:
    """Parse a ChatGPT, Claude or Open WebUI export (a .json file, a .zip export or its folder)."""
    from expertune.author._exports_formats import READERS, detect

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: unknown chat-export format; use one of {', '.join(FORMATS)}")
    name, data = _load(Path(path))
    single = isinstance(data, dict)
    items = [data] if single else data
    if not isinstance(items, list):
        raise InputError(f"{name}: $: expected a list of conversations or one conversation object, "
                         f"found {type(data).__name__}")
    source = detect(name, items, single) if fmt == "auto" else fmt
    problems: list[ExportProblem] = []
    conversations = []
    for i, item in enumerate(items):
        loc = "$" if single else f"$[{i}]"
        notes = Notes(name)
        try:
            conv = READERS[source](item, loc, notes)
        except BadExport as bad:
            problems.append(ExportProblem(file=name, path=bad.path, reason=f"{bad.reason}; conversation not imported"))
            continue
        problems.extend(notes.finish(loc))
        if conv.turns:
            conversations.append(conv)
        else:
            problems.append(ExportProblem(file=name, path=loc, reason="conversation has no messages", kind="skipped"))
    return ParsedExport(file=name, format=source, conversations=conversations, problems=problems)


# --- reading the file ------------------------------------------------------------------------


def _load(path: Path) -> tuple[str, Any]:
    if path.is_dir():
        path = path / "conversations.json"
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the export ({err.strerror or err})") from None
    return str(path), _parse_json(str(path), raw)


def _load_zip(path: Path) -> tuple[str, Any]:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".json") and not n.endswith("/")]
        member = next((n for n in names if Path(n).name == "conversations.json"), None)
        if member is None and len(names) == 1:
            member = names[0]
        if member is None:
            raise InputError(f"{path}: no conversations.json in the archive (found: {', '.join(names) or 'no JSON files'})")
        name = f"{path}/{member}"
        return name, _parse_json(name, zf.read(member))


def _parse_json(name: str, raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: $: not UTF-8 (byte {err.start}); export it again or re-save it as UTF-8") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: $: not valid JSON at line {err.lineno} column {err.colno} ({err.msg}); "
                         "is the file complete?") from None


# --- shared by the readers -------------------------------------------------------------------


class BadExport(Exception):
    """A conversation that cannot be imported; `path` is the JSON path of the offending value."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def key_path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if re.fullmatch(r"[\w-]+", key) else f"{base}[{json.dumps(key)}]"


def expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        found = "missing" if value is None else f"found {type(value).__name__}"
        raise BadExport(path, f"expected {what} ({found})")
    return value


@dataclass
class Notes:
    """What a reader left out or changed in one conversation, reported after it is parsed."""

    file: str
    items: list[ExportProblem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def skip(self, what: str) -> None:
        self.skipped[what] += 1

    def add(self, path: str, reason: str, kind: str) -> None:
        self.items.append(ExportProblem(file=self.file, path=path, reason=reason, kind=kind))

    def finish(self, loc: str) -> list[ExportProblem]:
        out = list(self.items)
        if self.skipped:
            listed = ", ".join(f"{n} {what}" for what, n in sorted(self.skipped.items()))
            out.append(ExportProblem(file=self.file, path=loc, reason=f"left out (not turns of the discussion): {listed}",
                                     kind="skipped"))
        return out


def timestamp(value: Any) -> datetime | None:
    """Epoch seconds (or milliseconds) or an ISO 8601 string; None when absent or unreadable."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value  # Open WebUI mixes seconds and milliseconds
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


# --- residue ---------------------------------------------------------------------------------

# Citation markers of ChatGPT's browsing and file search: "【12†source】" and the private-use-area
# form "\ue200cite\ue202turn0search1\ue201".
_CITATION = re.compile(r"【\d+(?::\d+)?†[^】\n]{0,80}】|\ue200(?:cite|filecite|navlist)\ue202[^\ue201]{0,400}\ue201")
# Claude exports put a placeholder where an artifact or tool block was shown.
_PLACEHOLDER = re.compile(
    r"(?:```\s*\n)?[ \t]*(?:This block is not supported on your current device yet\.|Viewing artifacts created via "
    r"the Analysis Tool web feature preview isn.t yet supported on mobile\.)[ \t]*(?:\n\s*```)?")
# Open WebUI stores reasoning, tool calls and code-interpreter output inside the answer as
# <details type="..."> blocks that the UI collapses.
_DETAILS = re.compile(r"<details\b[^>]*\btype=\"(?:reasoning|tool_calls|code_interpreter)\"[^>]*>.*?</details>\s*",
                      re.DOTALL)


def clean_text(text: str, path: str, notes: Notes) -> str:
    """Strip UI residue from one message, noting each kind with a sample of what was removed."""
    for rx, what in ((_DETAILS, "collapsed reasoning/tool block"), (_CITATION, "citation marker"),
                     (_PLACEHOLDER, "'not supported on this device' placeholder")):
        found = rx.findall(text)
        if found:
            text = re.sub(r"\n{3,}", "\n\n", rx.sub("", text))
            notes.add(path, f"stripped {len(found)} {what}{'s' if len(found) > 1 else ''} ({_sample(found[0])})",
                      "stripped")
    text = text.strip()
    label = LABEL.match(text)
    if label and text[label.end():].strip():
        notes.add(path, f"stripped the speaker label {_sample(label.group(0).strip())}", "stripped")
        text = text[label.end():].strip()
    return text


def _sample(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return json.dumps(s if len(s) <= n else s[: n - 1] + "…", ensure_ascii=False)


# --- the tree --------------------------------------------------------------------------------


@dataclass
class RawMessage:
    """One message as a reader found it; role None means "not a turn" (its children move up)."""

    id: str
    parent: str | None
    role: Role | None
    content: str
    path: str
    model: str | None = None
    created_at: datetime | None = None


def build_turns(messages: list[RawMessage], loc: str, notes: Notes) -> list[ImportedTurn]:
    """Turns parents-first (depth-first, siblings in export order), skipped messages spliced out,
    and a message merged into its parent when both have the same speaker and it is the only child
    (ChatGPT splits one answer around tool calls)."""
    by_id: dict[str, RawMessage] = {}
    for m in messages:
        if m.id in by_id:
            raise BadExport(m.path, f"message id {m.id!r} appears twice")
        by_id[m.id] = m

    def kept_parent(m: RawMessage) -> str | None:
        seen = {m.id}
        pid = m.parent
        while pid is not None:
            if pid not in by_id:
                raise BadExport(m.path, f"parent {pid!r} is not a message of this conversation")
            if pid in seen:
                raise BadExport(m.path, "the parent links form a cycle")
            seen.add(pid)
            if by_id[pid].role is not None:
                return pid
            pid = by_id[pid].parent
        return None

    kept = [m for m in messages if m.role is not None]
    parent_of = {m.id: kept_parent(m) for m in kept}
    children: dict[str | None, list[str]] = {}
    for m in kept:
        children.setdefault(parent_of[m.id], []).append(m.id)

    turns: list[ImportedTurn] = []
    index: dict[str, ImportedTurn] = {}
    stack = [(mid, None) for mid in reversed(children.get(None, []))]
    while stack:
        mid, parent = stack.pop()
        m = by_id[mid]
        up = index.get(parent) if parent is not None else None
        if up is not None and up.role == m.role and len(children[parent_of[mid]]) == 1:
            up.content = f"{up.content}\n\n{m.content}"
            notes.add(m.path, f"joined to the {m.role} message before it (one {m.role} turn split in the export)",
                      "merged")
            index[mid] = up
            new_parent = parent
        else:
            turn = ImportedTurn(id=m.id, parent_id=up.id if up else None, role=m.role, content=m.content,
                                model=m.model, created_at=m.created_at)
            turns.append(turn)
            index[mid] = turn
            new_parent = mid
        stack.extend((child, new_parent) for child in reversed(children.get(mid, [])))
    orphan = next((m for m in kept if m.id not in index), None)
    if orphan is not None:  # kept messages that are each other's parents: never reached from a root
        raise BadExport(orphan.path, "the parent links form a cycle")
    return turns
