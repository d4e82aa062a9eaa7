"""Bulk fixes written as revisions: redaction of personal data and removal of chat-export labels.

A plan lists every change with the version it is based on; applying it writes all of them through
`repo.apply_edits` (optimistic locking) in one short transaction, so either every change lands or
none does, and each one can be reverted like any other revision.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from sqlalchemy import select

from expertune.curate.artefacts import find_artefacts, find_turn_artefacts, fix_chat_prefixes, fix_turn
from expertune.curate.pii import redact_text
from expertune.store import repo
from expertune.store.tables import PromptGroup, Response
from expertune.workspace import Workspace

REDACTION = "redaction"
ARTEFACT_FIX = "artefact fix"


@dataclass
class Change:
    entity: str  # response | group
    id: int
    version: int
    before: dict[str, Any]
    after: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)  # what was found, e.g. {"kind": "EMAIL", "text": ...}

    def note(self) -> str | None:
        kinds = Counter(i["kind"] for i in self.items)
        return ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or None

    def diff(self) -> str:
        lines = []
        for name in self.before:
            before, after = _text(self.before[name]), _text(self.after[name])
            lines += list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                               f"{self.entity} {self.id} {name} (v{self.version})", "after", lineterm="", n=0))
        return "\n".join(lines)


@dataclass
class EditPlan:
    reason: str
    changes: list[Change]
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "applied": self.applied,
            "records": len(self.changes),
            "items": dict(Counter(i["kind"] for c in self.changes for i in c.items)),
            "changes": [{**asdict(c), "diff": c.diff()} for c in self.changes],
        }


def _text(value: Any) -> str:
    if isinstance(value, list):  # context turns
        return "\n".join(f"[{t.get('role')}] {t.get('content')}" for t in value)
    return value or ""


def _redact_field(value: Any, items: list[dict[str, Any]], field_name: str) -> Any:
    if isinstance(value, list):
        return [{**t, "content": _redact_field(t.get("content") or "", items, f"{field_name}.{n}")} for n, t in enumerate(value)]
    if not value:
        return value
    new, matches = redact_text(value)
    items += [{"kind": m.kind, "text": m.text, "field": field_name, "start": m.start, "end": m.end} for m in matches]
    return new


def plan_redaction(session) -> list[Change]:
    changes = []
    for rid, version, text in session.execute(select(Response.id, Response.version, Response.text).order_by(Response.id)):
        items: list[dict[str, Any]] = []
        new = _redact_field(text, items, "text")
        if items:
            changes.append(Change("response", rid, version, {"text": text}, {"text": new}, items))
    rows = session.execute(select(PromptGroup.id, PromptGroup.version, PromptGroup.system, PromptGroup.context,
                                  PromptGroup.prompt).order_by(PromptGroup.id))
    for gid, version, system, context, prompt in rows:
        items = []
        before = {"system": system, "context": context or [], "prompt": prompt}
        after = {name: _redact_field(value, items, name) for name, value in before.items()}
        if items:
            changed = [k for k in before if before[k] != after[k]]
            changes.append(Change("group", gid, version, {k: before[k] for k in changed}, {k: after[k] for k in changed}, items))
    return changes


def plan_artefact_fix(session) -> list[Change]:
    changes = []
    for rid, version, text in session.execute(select(Response.id, Response.version, Response.text).order_by(Response.id)):
        fixed = fix_chat_prefixes(text)
        if fixed != text:
            kinds = {a.kind for a in find_artefacts(text)} & {"chat-prefix", "ui-text"}
            changes.append(Change("response", rid, version, {"text": text}, {"text": fixed}, [{"kind": k} for k in sorted(kinds)]))
    rows = session.execute(select(PromptGroup.id, PromptGroup.version, PromptGroup.system, PromptGroup.context,
                                  PromptGroup.prompt).order_by(PromptGroup.id))
    for gid, version, system, context, prompt in rows:
        before = {"system": system, "context": context or [], "prompt": prompt}
        after = {
            "system": fix_turn(system) if system else system,
            "context": [{**t, "content": fix_turn(t.get("content") or "")} for t in context or []],
            "prompt": fix_turn(prompt),
        }
        changed = [k for k in before if before[k] != after[k]]
        if changed:
            texts = [system or "", *(t.get("content") or "" for t in context or []), prompt]
            items = [{"kind": a.kind, "detail": a.detail} for t in texts for a in find_turn_artefacts(t)]
            changes.append(Change("group", gid, version, {k: before[k] for k in changed}, {k: after[k] for k in changed}, items))
    return changes


def _run(ws: Workspace, planner: Callable, reason: str, apply: bool, author: str) -> EditPlan:
    # Planning reads everything and runs the detectors: slow on large stores, so it runs in a
    # read-only transaction that blocks no one. The writes then take the write lock for a few
    # bulk statements; a record changed in between refuses the whole plan (optimistic locking).
    with ws.session(readonly=True) as session:
        plan = EditPlan(reason, planner(session))
    if apply:
        with ws.session() as session:
            repo.apply_edits(session, [repo.Edit(c.entity, c.id, c.after, c.version, c.note()) for c in plan.changes],
                             author=author, reason=reason)
        plan.applied = True
    return plan


def redact(ws: Workspace, *, apply: bool = False, author: str = "expertune") -> EditPlan:
    """Replace personal data with typed placeholders ([EMAIL], [PHONE], ...) in every response and prompt."""
    return _run(ws, plan_redaction, REDACTION, apply, author)


def fix_artefacts(ws: Workspace, *, apply: bool = False, author: str = "expertune") -> EditPlan:
    """Remove pasted chat-export labels and chat UI text: from every response (with pasted user
    turns) and from the start of every prompt, earlier turn and system prompt."""
    return _run(ws, plan_artefact_fix, ARTEFACT_FIX, apply, author)
