"""What every chat-export reader shares: the imported conversation model, the problems reported
while reading, the tree builder and the residue cleaner. `exports.py` (files, detection) and
`_exports_formats.py` (one reader per format) both build on it, so neither imports the other back.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel

from expertune.curate.artefacts import LABEL

Source = Literal["chatgpt", "claude", "openwebui"]
Role = Literal["system", "user", "assistant"]


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
