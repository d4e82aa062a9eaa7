"""Edits with optimistic locking. Every change writes a Revision; a stale edit is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from expertune.errors import InputError, NotFound, StaleEditError
from expertune.store.models import PromptGroup, Response, Revision, utcnow

STATUSES = {"draft", "accepted", "rejected"}
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
        raise InputError(f"status {value!r}: expected one of {', '.join(sorted(STATUSES))}")
    if field == "rating" and value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
        raise InputError(f"rating {value!r}: expected a whole number from 1 to 5")
    if field in ("text", "prompt") and (not isinstance(value, str) or not value.strip()):
        raise InputError(f"{field}: cannot be empty")
    if field == "split" and value not in ("train", "val", "test", None):
        raise InputError(f"split {value!r}: expected train, val or test")


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
    """Apply `changes` if the stored version is still `expected_version`, recording revisions.

    The version check and the write are one UPDATE ... WHERE version = expected, so two editors
    racing on the same record cannot both succeed, whatever the database.
    """
    model, fields = EDITABLE[entity]
    unknown = set(changes) - fields
    if unknown:
        raise InputError(f"cannot edit {', '.join(sorted(unknown))}; editable fields: {', '.join(sorted(fields))}")
    for field, value in changes.items():
        _check_value(field, value)
    current = get(session, entity, entity_id)
    before = {f: getattr(current, f) for f in changes}
    result = session.execute(
        update(model)
        .where(model.id == entity_id, model.version == expected_version)
        .values(**changes, version=expected_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(current)
        raise StaleEditError(
            f"{entity} {entity_id} was changed by someone else (your edit is based on version "
            f"{expected_version}, the store has version {current.version}); reload it, re-apply your edit and try again"
        )
    session.add_all(
        Revision(
            entity=entity, entity_id=entity_id, field=field, before=before[field], after=value,
            from_version=expected_version, to_version=expected_version + 1,
            author=author, reason=reason, note=note,
        )
        for field, value in changes.items()
        if before[field] != value
    )
    session.flush()
    session.refresh(current)
    return current


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
