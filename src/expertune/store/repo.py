"""Edits with optimistic locking. Every change writes a Revision; a stale edit is refused.

Single edits and bulk fixes (redaction, artefact fixes) go through the same `apply_edits`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from expertune.errors import InputError, NotFound, StaleEditError
from expertune.store.tables import STATUSES, PromptGroup, Response, Revision, utcnow

# entity name -> (table, editable fields)
EDITABLE = {
    "response": (Response, {"text", "status", "rating", "preferred"}),
    "group": (PromptGroup, {"system", "prompt", "context", "tags", "split"}),
}


def get(session: Session, entity: str, entity_id: int) -> Response | PromptGroup:
    model = EDITABLE[entity][0]
    obj = session.get(model, entity_id)
    if obj is None:
        label = "response" if entity == "response" else "prompt group"
        raise NotFound(f"{label} {entity_id} does not exist")
    return obj


def _check_value(field: str, value: Any) -> None:
    if field == "status" and value not in STATUSES:
        raise InputError(f"status {value!r}: expected one of {', '.join(STATUSES)}")
    if field == "rating" and value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
        raise InputError(f"rating {value!r}: expected a whole number from 1 to 5")
    if field in ("text", "prompt") and (not isinstance(value, str) or not value.strip()):
        raise InputError(f"{field}: cannot be empty")
    if field == "split" and value not in ("train", "val", "test", None):
        raise InputError(f"split {value!r}: expected train, val or test")


@dataclass(frozen=True)
class Edit:
    """One planned change of one record, based on the version the planner read."""

    entity: str  # response | group
    id: int
    changes: dict[str, Any]
    expected_version: int
    note: str | None = None


def edit(
    session: Session,
    entity: str,
    entity_id: int,
    changes: dict[str, Any],
    *,
    expected_version: int,
    author: str,
    reason: str,
    note: str | None = None,
) -> Response | PromptGroup:
    """Apply `changes` if the stored version is still `expected_version`, recording revisions."""
    apply_edits(session, [Edit(entity, entity_id, changes, expected_version, note)], author=author, reason=reason)
    return session.get(EDITABLE[entity][0], entity_id, populate_existing=True)


def apply_edits(session: Session, edits: list[Edit], *, author: str, reason: str) -> None:
    """Apply every edit or none: a missing record or one changed since its expected version
    refuses the whole batch.

    Meant to run in a short write transaction after the edits were planned elsewhere, so the
    write lock is held only for a few bulk statements. The version check and the write are one
    UPDATE ... WHERE version = expected whose row count is checked, so two editors racing on the
    same record cannot both succeed, whatever the database.
    """
    for e in edits:
        fields = EDITABLE[e.entity][1]
        unknown = set(e.changes) - fields
        if unknown:
            raise InputError(f"cannot edit {', '.join(sorted(unknown))}; editable fields: {', '.join(sorted(fields))}")
        for field, value in e.changes.items():
            _check_value(field, value)
    revisions: list[dict[str, Any]] = []
    for entity in EDITABLE:
        mine = [e for e in edits if e.entity == entity]
        if mine:
            revisions += _apply_entity(session, entity, mine, author=author, reason=reason)
    if revisions:
        session.connection().execute(insert(Revision.__table__), revisions)  # Core: no ORM bookkeeping per row


def _stale(entity: str, entity_id: int, expected: int, stored: int | None) -> StaleEditError:
    return StaleEditError(
        f"{entity} {entity_id} was changed by someone else (your edit is based on version "
        f"{expected}, the store has version {stored}); reload it, re-apply your edit and try again"
    )


def _apply_entity(session: Session, entity: str, edits: list[Edit], *, author: str, reason: str) -> list[dict[str, Any]]:
    model = EDITABLE[entity][0]
    table = model.__table__
    fields = sorted({f for e in edits for f in e.changes})
    stored: dict[int, Any] = {}
    ids = [e.id for e in edits]
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        query = select(table.c.id, table.c.version, *(table.c[f] for f in fields)).where(table.c.id.in_(ids[start : start + 900]))
        stored.update((row.id, row) for row in session.execute(query))
    for e in edits:
        if e.id not in stored:
            label = "response" if entity == "response" else "prompt group"
            raise NotFound(f"{label} {e.id} does not exist")
        if stored[e.id].version != e.expected_version:
            raise _stale(entity, e.id, e.expected_version, stored[e.id].version)

    now = utcnow()
    by_fields: dict[tuple[str, ...], list[Edit]] = defaultdict(list)
    for e in edits:
        by_fields[tuple(sorted(e.changes))].append(e)
    conn = session.connection()
    for names, group in by_fields.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_expected"))
            .values(**{n: bindparam(f"_new_{n}", type_=table.c[n].type) for n in names},
                    version=bindparam("_next"), updated_at=now)
        )
        params = [{"_id": e.id, "_expected": e.expected_version, "_next": e.expected_version + 1,
                   **{f"_new_{n}": e.changes[n] for n in names}} for e in group]
        # Row counts of executemany are only trustworthy where the driver says so.
        batches = [params] if conn.dialect.supports_sane_multi_rowcount else [[p] for p in params]
        for batch in batches:
            written = conn.execute(stmt, batch).rowcount
            if written != len(batch):  # changed between the check and the write (not on SQLite)
                raise StaleEditError(
                    f"{len(batch) - written} {entity} record(s) were changed by someone else while this edit ran; "
                    "nothing was written; reload and try again"
                )
    return [
        {"entity": entity, "entity_id": e.id, "field": field, "before": getattr(stored[e.id], field), "after": value,
         "from_version": e.expected_version, "to_version": e.expected_version + 1, "author": author,
         "reason": reason, "note": e.note, "created_at": now}
        for e in edits
        for field, value in e.changes.items()
        if getattr(stored[e.id], field) != value
    ]


def edit_response(session: Session, response_id: int, changes: dict[str, Any], **kwargs: Any) -> Response:
    return edit(session, "response", response_id, changes, **kwargs)


def edit_group(session: Session, group_id: int, changes: dict[str, Any], **kwargs: Any) -> PromptGroup:
    return edit(session, "group", group_id, changes, **kwargs)


def revisions(session: Session, entity: str, entity_id: int) -> list[Revision]:
    query = select(Revision).where(Revision.entity == entity, Revision.entity_id == entity_id).order_by(Revision.id)
    return list(session.scalars(query))


def revert_revision(session: Session, revision_id: int, *, author: str) -> Response | PromptGroup:
    """Undo one revision by writing a new one that restores its `before` value."""
    rev = session.get(Revision, revision_id)
    if rev is None:
        raise NotFound(f"revision {revision_id} does not exist")
    current = get(session, rev.entity, rev.entity_id)
    return edit(session, rev.entity, rev.entity_id, {rev.field: rev.before}, expected_version=current.version,
                author=author, reason="revert", note=f"revert of revision {rev.id}")
