"""The review queue as the studio shows it: a filtered page of responses, bulk changes with undo,
revision history with diffs, and what changed under a stale edit.

Paging is done by the database (COUNT plus LIMIT/OFFSET over an indexed order), so a queue of
10,000 responses costs one page of rows, not 10,000 (bench/studio_review.py measures it).
Every change goes through `store.repo.edit_response`, so it is a revision with who and why, and a
change based on an old version is refused.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertune.errors import InputError
from expertune.store import repo
from expertune.store.tables import PromptGroup, Response, Revision, Topic

PER_PAGE = 50
BULK_ACTIONS = {"accept": "accepted", "reject": "rejected", "draft": "draft"}


@dataclass
class ReviewFilter:
    topic: str | None = None
    status: str | None = None
    author: str | None = None
    split: str | None = None
    response_ids: frozenset[int] | None = None  # e.g. the records of one check's findings
    page: int = 1
    per_page: int = PER_PAGE


@dataclass
class ReviewRow:
    id: int
    group_id: int
    version: int
    status: str
    rating: int | None
    preferred: bool
    author: str | None
    split: str | None
    topic: str | None
    prompt: str
    text: str


def _query(flt: ReviewFilter):
    query = select(Response.id).join(PromptGroup, PromptGroup.id == Response.group_id)
    if flt.topic:
        query = query.join(Topic, Topic.id == PromptGroup.topic_id).where(Topic.name == flt.topic)
    if flt.status:
        query = query.where(Response.status == flt.status)
    if flt.author:
        query = query.where(Response.author == flt.author)
    if flt.split:
        query = query.where(PromptGroup.split == (None if flt.split == "unassigned" else flt.split))
    if flt.response_ids is not None:
        query = query.where(Response.id.in_(sorted(flt.response_ids)))
    return query


def list_page(session: Session, flt: ReviewFilter) -> tuple[list[ReviewRow], int]:
    """One page of responses matching `flt` (texts cut to a preview) and the number matching."""
    if flt.page < 1:
        raise InputError(f"page {flt.page}: pages are numbered from 1")
    ids = _query(flt).subquery()
    total = session.scalar(select(func.count()).select_from(ids))
    rows = session.execute(
        select(Response.id, Response.group_id, Response.version, Response.status, Response.rating,
               Response.preferred, Response.author, PromptGroup.split, Topic.name,
               func.substr(PromptGroup.prompt, 1, 160), func.substr(Response.text, 1, 240))
        .join(PromptGroup, PromptGroup.id == Response.group_id)
        .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
        .where(Response.id.in_(select(ids.c.id)))
        .order_by(Response.id)
        .limit(flt.per_page).offset((flt.page - 1) * flt.per_page)
    ).all()
    return [ReviewRow(*row) for row in rows], total


def filter_options(session: Session) -> dict[str, list[str]]:
    return {
        "topics": list(session.scalars(select(Topic.name).order_by(Topic.name))),
        "authors": [a for a in session.scalars(select(Response.author).distinct().order_by(Response.author)) if a],
        "statuses": ["accepted", "draft", "rejected"],
        "splits": ["train", "val", "test", "unassigned"],
    }


def bulk_status(session: Session, versions: dict[int, int], action: str, *, author: str) -> list[int]:
    """Set the status of every response in `versions` ({id: version the user saw}); all or none.

    Returns the ids of the revisions written, which is what undo needs."""
    if action not in BULK_ACTIONS:
        raise InputError(f"bulk action {action!r}: expected one of {', '.join(BULK_ACTIONS)}")
    if not versions:
        raise InputError("no responses selected: tick the responses to change first")
    last = session.scalar(select(func.max(Revision.id))) or 0
    for rid, version in sorted(versions.items()):
        repo.edit_response(session, rid, {"status": BULK_ACTIONS[action]}, expected_version=version,
                           author=author, reason="bulk review", note=f"bulk {action} of {len(versions)}")
    return list(session.scalars(select(Revision.id).where(Revision.id > last).order_by(Revision.id)))


def undo(session: Session, revision_ids: Iterable[int], *, author: str) -> int:
    """Revert the given revisions, newest first; each revert is itself a revision."""
    ids = sorted(set(revision_ids), reverse=True)
    for rev_id in ids:
        repo.revert_revision(session, rev_id, author=author)
    return len(ids)


def text_diff(before: Any, after: Any) -> list[tuple[str, str]]:
    """A word-wrapped unified diff as (kind, line) pairs, kind in add/del/ctx/hunk, for a template."""
    a, b = _as_text(before).splitlines(), _as_text(after).splitlines()
    out = []
    for line in difflib.unified_diff(a, b, lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        out.append((kind, line))
    return out


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(f"[{t.get('role')}] {t.get('content')}" for t in value)
    return str(value)


def history(session: Session, response_id: int) -> list[dict[str, Any]]:
    """The revisions of a response, newest first, each with its diff."""
    return [{"rev": v, "diff": text_diff(v.before, v.after)}
            for v in reversed(repo.revisions(session, "response", response_id))]


def changes_since(session: Session, response_id: int, version: int) -> list[Revision]:
    """What others changed after `version`: the revisions a stale edit would have overwritten."""
    return [v for v in repo.revisions(session, "response", response_id) if v.from_version >= version]


def text_at(session: Session, response_id: int, version: int) -> str:
    """The response's text as it was at `version` (walks the text revisions back from now)."""
    response = repo.get(session, "response", response_id)
    text = response.text
    for v in reversed(repo.revisions(session, "response", response_id)):
        if v.field == "text" and v.from_version >= version:
            text = v.before
    return text
