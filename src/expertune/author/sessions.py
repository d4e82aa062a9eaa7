"""Authoring sessions in the store: the turn tree, the head, and edits as events with diffs.

Every function is one transaction, so whatever the expert does is saved as it happens (a killed
studio loses at most the draft being written). Nothing is overwritten: an edit of a turn that
the conversation already continued from (it has children) adds an edited sibling - a new branch -
while an edit of the newest turn changes its text and records the diff against the model's
draft as an event.
"""

from __future__ import annotations

import difflib
import getpass
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertune.errors import InputError, NotFound
from expertune.store import repo
from expertune.store.author_models import AuthorEvent, AuthorSession, AuthorTurn
from expertune.store.tables import utcnow
from expertune.workspace import Workspace


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "expert"


def create_session(ws: Workspace, *, backend: dict[str, Any], topic: str | None = None, system: str | None = None,
                   params: dict[str, Any] | None = None, template: str | None = None, title: str | None = None,
                   author: str | None = None, source: str = "studio", source_ref: str | None = None) -> int:
    with ws.session() as db:
        sess = AuthorSession(title=title or topic, topic=topic, system=system, backend=backend, params=params or {},
                             template=template, author=author or default_author(), source=source, source_ref=source_ref)
        db.add(sess)
        db.flush()
        return sess.id


def get_session(db: Session, session_id: int) -> AuthorSession:
    sess = db.get(AuthorSession, session_id)
    if sess is None:
        raise NotFound(f"authoring session {session_id} does not exist; `expertune author sessions list` shows them")
    return sess


def get_turn(db: Session, turn_id: int) -> AuthorTurn:
    turn = db.get(AuthorTurn, turn_id)
    if turn is None:
        raise NotFound(f"turn {turn_id} does not exist")
    return turn


def list_sessions(ws: Workspace) -> list[dict[str, Any]]:
    with ws.session() as db:
        rows = []
        for sess in db.scalars(select(AuthorSession).order_by(AuthorSession.id)):
            turns = list(db.scalars(select(AuthorTurn).where(AuthorTurn.session_id == sess.id)))
            rows.append({**session_dict(sess), "turns": len(turns),
                         "accepted": sum(t.status == "accepted" for t in turns)})
        return rows


def session_dict(sess: AuthorSession) -> dict[str, Any]:
    return {"id": sess.id, "title": sess.title, "topic": sess.topic, "system": sess.system, "backend": sess.backend,
            "params": sess.params, "template": sess.template, "author": sess.author, "source": sess.source,
            "source_ref": sess.source_ref, "head_id": sess.head_id, "created_at": sess.created_at.isoformat()}


def turn_dict(turn: AuthorTurn) -> dict[str, Any]:
    return {"id": turn.id, "parent_id": turn.parent_id, "role": turn.role, "text": turn.text, "origin": turn.origin,
            "status": turn.status, "draft_text": turn.draft_text, "model": turn.model, "params": turn.params,
            "seed": turn.seed, "finish_reason": turn.finish_reason, "instructions": turn.instructions,
            "sources": turn.sources, "template": turn.template, "based_on_id": turn.based_on_id,
            "response_id": turn.response_id, "meta": turn.meta, "created_at": turn.created_at.isoformat()}


def event_dict(ev: AuthorEvent) -> dict[str, Any]:
    return {"id": ev.id, "turn_id": ev.turn_id, "action": ev.action, "before": ev.before, "after": ev.after,
            "diff": ev.diff, "author": ev.author, "note": ev.note, "created_at": ev.created_at.isoformat()}


def export_session(ws: Workspace, session_id: int) -> dict[str, Any]:
    """The whole session: settings, every turn of the tree (branches included) and the events."""
    with ws.session() as db:
        sess = get_session(db, session_id)
        turns = db.scalars(select(AuthorTurn).where(AuthorTurn.session_id == session_id).order_by(AuthorTurn.id))
        events = db.scalars(select(AuthorEvent).where(AuthorEvent.session_id == session_id).order_by(AuthorEvent.id))
        return {**session_dict(sess), "turns": [turn_dict(t) for t in turns], "events": [event_dict(e) for e in events]}


# -- the tree ---------------------------------------------------------------------------------

def path_to(db: Session, turn_id: int | None) -> list[AuthorTurn]:
    """The branch from the root to `turn_id` (inclusive), oldest first."""
    path = []
    while turn_id is not None:
        turn = get_turn(db, turn_id)
        path.append(turn)
        turn_id = turn.parent_id
    return path[::-1]


def children(db: Session, session_id: int, parent_id: int | None) -> list[AuthorTurn]:
    query = select(AuthorTurn).where(AuthorTurn.session_id == session_id)
    query = query.where(AuthorTurn.parent_id.is_(None) if parent_id is None else AuthorTurn.parent_id == parent_id)
    return list(db.scalars(query.order_by(AuthorTurn.id)))


def add_turn(db: Session, sess: AuthorSession, *, parent_id: int | None, role: str, text: str, origin: str,
             move_head: bool = True, **fields: Any) -> AuthorTurn:
    if parent_id is not None and get_turn(db, parent_id).session_id != sess.id:
        raise InputError(f"turn {parent_id} belongs to another session")
    turn = AuthorTurn(session_id=sess.id, parent_id=parent_id, role=role, text=text, origin=origin, **fields)
    db.add(turn)
    db.flush()
    if move_head:
        sess.head_id = turn.id
    sess.updated_at = utcnow()
    return turn


def add_user_turn(ws: Workspace, session_id: int, text: str, *, parent_id: int | None = None,
                  origin: str = "typed", **fields: Any) -> int:
    """The expert's next message, after the head (or after `parent_id`); it becomes the head."""
    if not text.strip():
        raise InputError("the user turn is empty; type the question or instruction for the model")
    with ws.session() as db:
        sess = get_session(db, session_id)
        parent = parent_id if parent_id is not None else sess.head_id
        return add_turn(db, sess, parent_id=parent, role="user", text=text, origin=origin, **fields).id


def set_head(ws: Workspace, session_id: int, turn_id: int | None) -> None:
    with ws.session() as db:
        sess = get_session(db, session_id)
        if turn_id is not None and get_turn(db, turn_id).session_id != session_id:
            raise InputError(f"turn {turn_id} is not in session {session_id}")
        sess.head_id = turn_id


def set_template(ws: Workspace, session_id: int, name: str | None) -> None:
    """The structure template guiding the session's next drafts (guidance only, never training text);
    None clears it. An unknown name is refused with the known ones."""
    if name is not None:
        from expertune.author.templates import get_template

        get_template(ws, name)
    with ws.session() as db:
        get_session(db, session_id).template = name


def back(ws: Workspace, session_id: int) -> int | None:
    """Move the head to its parent (to branch from an earlier point); returns the new head."""
    with ws.session() as db:
        sess = get_session(db, session_id)
        if sess.head_id is not None:
            sess.head_id = get_turn(db, sess.head_id).parent_id
        return sess.head_id


def record_event(db: Session, turn: AuthorTurn, action: str, *, author: str, before: Any = None, after: Any = None,
                 diff: str | None = None, note: str | None = None) -> AuthorEvent:
    ev = AuthorEvent(session_id=turn.session_id, turn_id=turn.id, action=action, before=before, after=after,
                     diff=diff, author=author, note=note)
    db.add(ev)
    db.flush()
    return ev


def unified_diff(before: str, after: str, *, label: str = "draft") -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=label, tofile="edited"))


@dataclass
class EditResult:
    turn_id: int
    branched: bool  # True: an edited sibling was added; False: the turn was changed in place


def edit_turn(ws: Workspace, turn_id: int, text: str, *, author: str | None = None) -> EditResult:
    """The expert's edit of a turn; see the module docstring for when it branches."""
    if not text.strip():
        raise InputError("the edited text is empty; use /reject to drop a draft")
    author = author or default_author()
    with ws.session() as db:
        turn = get_turn(db, turn_id)
        sess = get_session(db, turn.session_id)
        if text == turn.text:
            return EditResult(turn.id, False)
        baseline = turn.draft_text if turn.draft_text is not None else turn.text
        if children(db, turn.session_id, turn.id):
            fields = {k: getattr(turn, k) for k in ("model", "params", "seed", "finish_reason", "instructions",
                                                     "sources", "template")}
            new = add_turn(db, sess, parent_id=turn.parent_id, role=turn.role, text=text, origin="edited",
                           draft_text=turn.draft_text, based_on_id=turn.id, **fields)
            record_event(db, new, "edit", author=author, before=turn.text, after=text, diff=unified_diff(baseline, text),
                         note=f"edited copy of turn {turn.id}, which the conversation had continued from")
            return EditResult(new.id, True)
        record_event(db, turn, "edit", author=author, before=turn.text, after=text, diff=unified_diff(baseline, text))
        turn.text = text
        turn.meta = {**(turn.meta or {}), "edited": True}
        if turn.response_id is not None:  # already in the dataset: the response gets a revision too
            response = repo.get(db, "response", turn.response_id)
            repo.edit_response(db, response.id, {"text": text}, expected_version=response.version, author=author,
                               reason="manual edit", note=f"authoring session {sess.id}, turn {turn.id}")
        sess.head_id = turn.id
        return EditResult(turn.id, False)
