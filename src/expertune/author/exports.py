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

The per-format readers are in `_exports_formats.py`; the conversation model, the tree builder and
the residue cleaner they share are in `_exports_tree.py`; this module reads the files.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from expertune.author._exports_formats import READERS, detect
from expertune.author._exports_tree import (  # noqa: F401  (ImportedConversation, ImportedTurn: the public model)
    BadExport, ExportProblem, ImportedConversation, ImportedTurn, Notes, Source,
)
from expertune.errors import InputError

FORMATS = ("auto", "chatgpt", "claude", "openwebui")


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
