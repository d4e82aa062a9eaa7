"""Registered evaluation sets: prompt files, multiple-choice exams and labelled tasks.

They are stored whole so that curation can check training data against them (contamination)
and evaluation can run them by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from expertune.data.formats.lines import decode_lines
from expertune.data.records import Reject
from expertune.hashing import file_sha256
from expertune.errors import InputError, NotFound, require_input_file
from expertune.store.tables import EvalSet, EvalSetItem
from expertune.workspace import Workspace

KINDS = ("prompts", "mcq", "classify")


def _kind_of(record: dict) -> str | None:
    if "question" in record and "options" in record:
        return "mcq"
    if "text" in record and "label" in record:
        return "classify"
    if "prompt" in record or "messages" in record or "question" in record:
        return "prompts"
    return None


def _text_of(record: dict, kind: str) -> str | None:
    if kind == "mcq":
        return record.get("question")
    if kind == "classify":
        return record.get("text")
    if isinstance(record.get("prompt"), str):
        return record["prompt"]
    if isinstance(record.get("question"), str):
        return record["question"]
    messages = record.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "user":
        return messages[-1].get("content")
    return None


def parse_evalset(path: Path, kind: str = "auto") -> tuple[str, list[dict[str, Any]]]:
    """Read a JSONL eval set; every bad line is an error naming it (an eval set must be exact)."""
    require_input_file(path)
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    for line_no, text in decode_lines(path.read_bytes()):
        if isinstance(text, Reject):
            problems.append(f"{path}:{line_no}: {text.reason}")
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as err:
            problems.append(f"{path}:{line_no}: bad JSON ({err.msg})")
            continue
        except RecursionError:  # json.loads recurses once per level of nesting
            problems.append(f"{path}:{line_no}: bad JSON (nested too deeply)")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{line_no}: expected a JSON object")
            continue
        rkind = _kind_of(record) if kind == "auto" else kind
        if kind == "auto" and items and rkind != items[0]["kind"]:
            problems.append(f"{path}:{line_no}: a {rkind} record in a {items[0]['kind']} set; one kind per file")
            continue
        body = _text_of(record, rkind) if rkind else None
        if not isinstance(body, str) or not body.strip():
            problems.append(f"{path}:{line_no}: no prompt/question/text found (expected keys: prompt, question+options, or text+label)")
            continue
        if rkind == "classify" and not isinstance(record.get("label"), str):
            problems.append(f"{path}:{line_no}: label must be a string")
            continue
        items.append({"line": line_no, "text": body, "payload": record, "kind": rkind})
    if problems:
        raise InputError("\n".join(problems[:20]) + (f"\n... {len(problems) - 20} more" if len(problems) > 20 else ""))
    if not items:
        raise InputError(f"{path}: no records")
    return items[0]["kind"], items


def add_evalset(ws: Workspace, path: Path, *, name: str | None = None, kind: str = "auto",
                in_domain: bool | None = None, replace: bool = False) -> dict[str, Any]:
    """Register `path`. `in_domain=None` reads it from the records' "domain" field ("out" marks an
    out-of-domain set) and defaults to in-domain."""
    if kind not in ("auto", *KINDS):
        raise InputError(f"--kind {kind!r}: expected auto or one of {', '.join(KINDS)}")
    name = name or path.stem
    found_kind, items = parse_evalset(path, kind)
    digest = file_sha256(path)
    if in_domain is None:
        in_domain = not all(str(it["payload"].get("domain", "")).lower() in ("out", "out-of-domain") for it in items)
    with ws.session() as session:
        existing = session.scalar(select(EvalSet).where(EvalSet.name == name))
        if existing and existing.file_sha256 == digest and existing.in_domain == in_domain:
            return {**_as_dict(existing, len(items)), "created": False}
        if existing and not replace:
            raise InputError(f"eval set {name!r} exists with other content; pass --replace or choose --name")
        if existing:
            session.execute(delete(EvalSetItem).where(EvalSetItem.set_id == existing.id))
            session.delete(existing)
            session.flush()
        es = EvalSet(name=name, kind=found_kind, in_domain=in_domain, source_path=str(path.resolve()), file_sha256=digest)
        session.add(es)
        session.flush()
        session.add_all(EvalSetItem(set_id=es.id, idx=i, line=it["line"], text=it["text"], payload=it["payload"])
                        for i, it in enumerate(items))
        return {**_as_dict(es, len(items)), "created": True}


def _as_dict(es: EvalSet, count: int) -> dict[str, Any]:
    return {"name": es.name, "kind": es.kind, "in_domain": es.in_domain, "path": es.source_path,
            "sha256": es.file_sha256, "items": count}


def list_evalsets(ws: Workspace) -> list[dict[str, Any]]:
    with ws.session(readonly=True) as session:
        sets = session.scalars(select(EvalSet).order_by(EvalSet.name)).all()
        counts = {s.id: len(session.scalars(select(EvalSetItem.idx).where(EvalSetItem.set_id == s.id)).all()) for s in sets}
        return [_as_dict(s, counts[s.id]) for s in sets]


def get_evalset(ws: Workspace, name: str) -> dict[str, Any]:
    """The set with its items: [{"idx", "line", "text", "payload"}] in file order."""
    with ws.session(readonly=True) as session:
        es = session.scalar(select(EvalSet).where(EvalSet.name == name))
        if es is None:
            known = ", ".join(session.scalars(select(EvalSet.name))) or "none"
            raise NotFound(f"eval set {name!r} is not registered (known: {known}); run `expertune evalsets add FILE`")
        items = session.scalars(select(EvalSetItem).where(EvalSetItem.set_id == es.id).order_by(EvalSetItem.idx)).all()
        return {**_as_dict(es, len(items)),
                "items": [{"idx": i.idx, "line": i.line, "text": i.text, "payload": i.payload} for i in items]}


def load_records(source: str | Path, kind: str, ws: Workspace | None = None) -> tuple[list[tuple[int, dict]], dict[str, Any]]:
    """(line, record) pairs of a JSONL file or of a registered eval set of `kind`, with where they
    came from ({"source", "name", "sha256", "kind": "file"|"evalset"})."""
    path = Path(source)
    if path.is_file():
        _, rows = parse_evalset(path, kind)
        return [(r["line"], r["payload"]) for r in rows], {
            "source": str(path.resolve()), "name": path.stem, "sha256": file_sha256(path), "kind": "file"}
    if ws is None or path.suffix in (".jsonl", ".json"):
        raise InputError(f"{source}: no such file (and no workspace to look up a registered {kind} eval set of that name)")
    es = get_evalset(ws, str(source))
    if es["kind"] != kind:
        raise InputError(f"eval set {source!r} is of kind {es['kind']}, not {kind}")
    return [(it["line"], it["payload"]) for it in es["items"]], {
        "source": f"evalset:{es['name']}", "name": es["name"], "sha256": es["sha256"], "kind": "evalset"}
