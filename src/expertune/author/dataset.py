"""Accepting drafts into the dataset, and taking them back out, as revisions.

An accepted assistant turn becomes a Response in the prompt group of its branch: system prompt
(the branch's system turn, else the session persona), context (the earlier turns of the branch)
and prompt (the user turn it answers). Group and response identity are the importer's own
content keys (data.records.Record), so a draft accepted twice, or equal to an imported answer,
finds the stored row instead of adding a duplicate; several accepted drafts for one context are
one group's several responses. Provenance points back to the session; the turn points to its
response (`AuthorTurn.response_id`) and the response's meta names session and turn.

Un-accepting (back to draft) and rejecting change the response's status through store.repo's
edits, so each is a Revision; nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertune.author.sessions import default_author, get_session, get_turn, path_to, record_event
from expertune.data.records import Record, Turn
from expertune.errors import InputError
from expertune.store import repo
from expertune.store.author_models import AuthorSession, AuthorTurn
from expertune.store.tables import PromptGroup, Provenance, Response, Topic
from expertune.workspace import Workspace


def branch_record(db: Session, sess: AuthorSession, turn: AuthorTurn) -> Record:
    """The training example an accepted assistant turn stands for."""
    path = path_to(db, turn.id)
    system = next((t.text for t in path if t.role == "system"), sess.system)
    dialogue = [t for t in path if t.role in ("user", "assistant")]
    prompt = dialogue[-2] if len(dialogue) >= 2 else None
    if prompt is None or prompt.role != "user":
        raise InputError(f"turn {turn.id} does not answer a user turn; only answers to a question can be accepted")
    return Record(line=0, prompt=prompt.text, response=turn.text, system=system,
                  context=[Turn(t.role, t.text) for t in dialogue[:-2]], topic=sess.topic, author=turn.model,
                  author_kind="model" if turn.model else "human", gen_params=turn.params,
                  meta={"author_session": sess.id, "author_turn": turn.id, "origin": turn.origin,
                        "instructions": turn.instructions or [], "edited": bool((turn.meta or {}).get("edited"))})


def _group(db: Session, rec: Record) -> PromptGroup:
    key = rec.group_key()
    group = db.scalar(select(PromptGroup).where(PromptGroup.key == key))
    if group is not None:
        return group
    topic_id = None
    if rec.topic:
        topic = db.scalar(select(Topic).where(Topic.name == rec.topic))
        if topic is None:
            topic = Topic(name=rec.topic, in_domain=True)
            db.add(topic)
            db.flush()
        topic_id = topic.id
    group = PromptGroup(key=key, system=rec.system, context=[t.as_dict() for t in rec.context], prompt=rec.prompt,
                        topic_id=topic_id, tags=["authored"], kind="chat")
    db.add(group)
    db.flush()
    return group


def accept(ws: Workspace, turn_id: int, *, author: str | None = None) -> dict[str, Any]:
    """Accept a draft into the dataset (idempotent); the conversation continues from it."""
    author = author or default_author()
    with ws.session() as db:
        turn = get_turn(db, turn_id)
        sess = get_session(db, turn.session_id)
        if turn.role != "assistant":
            raise InputError(f"turn {turn_id} is a {turn.role} turn; only assistant answers are accepted")
        if turn.status == "cancelled":
            raise InputError(f"turn {turn_id} was cancelled mid-stream; regenerate it (/regen) instead of accepting it")
        if not turn.text.strip():
            raise InputError(f"turn {turn_id} is empty; edit or regenerate it first")
        rec = branch_record(db, sess, turn)
        group = _group(db, rec)
        rkey = rec.response_key()
        response = db.scalar(select(Response).where(Response.group_id == group.id, Response.key == rkey))
        created = response is None
        if created:
            response = Response(group_id=group.id, key=rkey, text=rec.response, status="accepted", author=rec.author,
                                author_kind=rec.author_kind, gen_params=rec.gen_params, meta=rec.meta)
            db.add(response)
            db.flush()
        elif response.status != "accepted":
            repo.edit_response(db, response.id, {"status": "accepted"}, expected_version=response.version,
                               author=author, reason="accept", note=f"authoring session {sess.id}, turn {turn.id}")
        has_provenance = db.scalar(select(Provenance.id).where(Provenance.response_id == response.id,
                                                               Provenance.session_id == sess.id))
        if has_provenance is None:
            db.add(Provenance(response_id=response.id, session_id=sess.id,
                              source_path=f"author session {sess.id} turn {turn.id}"))
        if turn.status != "accepted" or turn.response_id != response.id:
            turn.status, turn.response_id = "accepted", response.id
            record_event(db, turn, "accept", author=author, after={"group_id": group.id, "response_id": response.id})
        sess.head_id = turn.id
        return {"turn_id": turn.id, "group_id": group.id, "response_id": response.id, "created": created}


def _take_back(ws: Workspace, turn_id: int, status: str, *, author: str | None, note: str | None) -> dict[str, Any]:
    author = author or default_author()
    action = "reject" if status == "rejected" else "unaccept"
    with ws.session() as db:
        turn = get_turn(db, turn_id)
        if turn.role != "assistant":
            raise InputError(f"turn {turn_id} is a {turn.role} turn; only assistant answers are accepted or rejected")
        if action == "unaccept" and turn.status != "accepted":
            raise InputError(f"turn {turn_id} is not accepted (status {turn.status})")
        before = turn.status
        if turn.response_id is not None:
            response = repo.get(db, "response", turn.response_id)
            if response.status != status:
                repo.edit_response(db, response.id, {"status": status}, expected_version=response.version,
                                   author=author, reason=action, note=note or f"authoring session {turn.session_id}, turn {turn.id}")
        turn.status = status
        record_event(db, turn, action, author=author, before=before, after=status, note=note)
        return {"turn_id": turn.id, "response_id": turn.response_id, "status": status}


def unaccept(ws: Workspace, turn_id: int, *, author: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Take an accepted draft out of the training data (its response goes back to draft)."""
    return _take_back(ws, turn_id, "draft", author=author, note=note)


def reject(ws: Workspace, turn_id: int, *, author: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Mark a draft rejected (and its response, if it was accepted before)."""
    return _take_back(ws, turn_id, "rejected", author=author, note=note)


def accepted_answers(ws: Workspace, session_id: int) -> list[dict[str, Any]]:
    """Per user turn of the session: its prompt, how many drafts answer it and the accepted ones
    (the studio's /status, `author sessions show`).

    A draft here is one the expert can review or did review: waiting, accepted or rejected. A
    draft cancelled mid-stream is left out: it was never finished, cannot be accepted, and counting
    it would make "1 accepted of 3 drafts" read as if two answers had been turned down. A prompt
    whose drafts were all cancelled is therefore listed like a prompt without drafts: not at all."""
    with ws.session() as db:
        turns = list(db.scalars(select(AuthorTurn).where(AuthorTurn.session_id == session_id).order_by(AuthorTurn.id)))
        by_id = {t.id: t for t in turns}
        rows: dict[int, dict[str, Any]] = {}
        for t in turns:
            if t.role == "assistant" and t.parent_id in by_id and t.status != "cancelled":
                row = rows.setdefault(t.parent_id, {"user_turn_id": t.parent_id, "prompt": by_id[t.parent_id].text,
                                                    "drafts": 0, "accepted": []})
                row["drafts"] += 1
                if t.status == "accepted":
                    row["accepted"].append({"turn_id": t.id, "response_id": t.response_id, "text": t.text})
        return list(rows.values())
