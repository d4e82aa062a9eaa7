"""LLM-assisted curation, always as proposals the expert accepts or rejects.

Three kinds, each written by the authoring model and stored as a CurationProposal; nothing
touches the dataset until the expert decides:
- rewrite: a corrected version of a response, for the responses the confidence check ranks least
  likely under the base model (CLEAR-style correction). Accepting edits the response (a Revision
  with reason "llm rewrite"); the original stays in the revision history.
- paraphrase: another wording of a group's prompt. Accepting adds a prompt group with the
  paraphrased prompt (same system prompt and context) and the original group's accepted answers,
  so the model learns the answers are not tied to one wording.
- followup: a follow-up question to a group's answer. Accepting opens an authoring session whose
  branch is that exchange and whose head is the follow-up question, for the expert to answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from expertune.author.sessions import add_turn, default_author
from expertune.data.records import Record, Turn
from expertune.errors import InputError, NotFound
from expertune.llm.base import GenParams
from expertune.llm.streaming import StreamingModel
from expertune.store import repo
from expertune.store.author_models import AuthorSession, CurationProposal
from expertune.store.tables import PromptGroup, Provenance, Response, utcnow
from expertune.workspace import Workspace

KINDS = ("rewrite", "paraphrase", "followup")


def _ask(model: StreamingModel, content: str, params: GenParams) -> str:
    stream = model.stream([{"role": "user", "content": content}], params)
    for _ in stream:
        pass
    result = stream.wait()
    if result.finish_reason in ("error", "cancelled") or not result.text.strip():
        raise InputError(f"the model could not write a proposal ({result.error or result.finish_reason}); try again")
    return result.text.strip()


def _exchange(group: PromptGroup, answer: str | None = None) -> str:
    lines = [f"{t['role'].upper()}: {t['content']}" for t in group.context or []]
    lines.append(f"USER: {group.prompt}")
    if answer is not None:
        lines.append(f"ASSISTANT: {answer}")
    return "\n\n".join(lines)


def least_likely(ws: Workspace, n: int) -> list[int]:
    """Ids of the n accepted responses the confidence check ranks least likely (base model)."""
    from expertune.curate.runner import run_checks

    report = run_checks(ws, only="confidence")
    scores = report.results[0].stats.get("scores", {})
    return [int(rid) for rid, _ in sorted(scores.items(), key=lambda kv: kv[1])[:n]]


def propose(ws: Workspace, kind: str, model: StreamingModel, *, response_ids: list[int] | None = None,
            group_ids: list[int] | None = None, n: int = 5, params: GenParams | None = None) -> list[int]:
    """Write proposals of one kind; rewrites default to the n least likely responses."""
    if kind not in KINDS:
        raise InputError(f"proposal kind {kind!r}: expected one of {', '.join(KINDS)}")
    params = params or GenParams(temperature=0.7, max_new_tokens=256)
    targets: list[tuple[int, int | None]] = []  # (group id, response id)
    with ws.session() as db:
        if kind == "rewrite":
            for rid in response_ids if response_ids is not None else least_likely(ws, n):
                targets.append((repo.get(db, "response", rid).group_id, rid))
        else:
            for gid in group_ids or []:
                if db.get(PromptGroup, gid) is None:
                    raise NotFound(f"prompt group {gid} does not exist")
                targets.append((gid, None))
    created = []
    for gid, rid in targets:
        with ws.session() as db:
            group = db.get(PromptGroup, gid)
            answer = db.get(Response, rid).text if rid else _first_answer(db, gid)
            exchange = _exchange(group, answer)
        if kind == "rewrite":
            ask = ("An expert's training example follows; the answer may contain mistakes. Write a corrected "
                   "version of the final ASSISTANT answer: fix errors, keep what is right, keep its style. Reply "
                   "with the corrected answer only.\n\n" + exchange)
            reason = "ranked least likely by the confidence check" if response_ids is None else "requested"
        elif kind == "paraphrase":
            ask = ("Rephrase the final USER question so it asks exactly the same thing in different words. Reply "
                   "with the rephrased question only.\n\n" + _exchange(group))
            reason = "paraphrase of the prompt"
        else:
            ask = ("Propose the user's next question in this conversation: a follow-up that tests real "
                   "understanding. Reply with the question only.\n\n" + exchange)
            reason = "follow-up question"
        text = _ask(model, ask, params)
        with ws.session() as db:
            proposal = CurationProposal(kind=kind, group_id=gid, response_id=rid, text=text, model=model.id,
                                        params=params.as_dict(), reason=reason)
            db.add(proposal)
            db.flush()
            created.append(proposal.id)
    return created


def _first_answer(db, group_id: int) -> str | None:
    return db.scalar(select(Response.text).where(Response.group_id == group_id, Response.status == "accepted")
                     .order_by(Response.id).limit(1))


def list_proposals(ws: Workspace, status: str | None = "proposed") -> list[dict[str, Any]]:
    with ws.session() as db:
        query = select(CurationProposal).order_by(CurationProposal.id)
        if status:
            query = query.where(CurationProposal.status == status)
        return [{"id": p.id, "kind": p.kind, "group_id": p.group_id, "response_id": p.response_id, "text": p.text,
                 "model": p.model, "reason": p.reason, "status": p.status, "result_id": p.result_id}
                for p in db.scalars(query)]


def decide(ws: Workspace, proposal_id: int, accept: bool, *, author: str | None = None) -> dict[str, Any]:
    """Accept (apply) or reject a proposal; a decided proposal cannot be decided again."""
    author = author or default_author()
    with ws.session() as db:
        p = db.get(CurationProposal, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} does not exist; `expertune author proposals list` shows them")
        if p.status != "proposed":
            raise InputError(f"proposal {proposal_id} was already {p.status}")
        p.status, p.decided_by, p.decided_at = ("accepted" if accept else "rejected"), author, utcnow()
        if accept:
            p.result_id = _apply(db, p, author, ws.settings.base_model)
        return {"id": p.id, "kind": p.kind, "status": p.status, "result_id": p.result_id}


def _apply(db, p: CurationProposal, author: str, base_model: str) -> int:
    group = db.get(PromptGroup, p.group_id)
    if p.kind == "rewrite":
        response = repo.get(db, "response", p.response_id)
        repo.edit_response(db, response.id, {"text": p.text}, expected_version=response.version, author=author,
                           reason="llm rewrite", note=f"proposal {p.id} by {p.model}")
        return response.id
    if p.kind == "paraphrase":
        answers = db.scalars(select(Response).where(Response.group_id == group.id, Response.status == "accepted")).all()
        context = [Turn(t["role"], t["content"]) for t in group.context or []]
        key = Record(line=0, prompt=p.text, response="", system=group.system, context=context).group_key()
        new = db.scalar(select(PromptGroup).where(PromptGroup.key == key))
        if new is None:
            new = PromptGroup(key=key, system=group.system, context=group.context, prompt=p.text, topic_id=group.topic_id,
                              tags=[*(group.tags or []), "paraphrase"], kind=group.kind)
            db.add(new)
            db.flush()
        for a in answers:
            rkey = Record(line=0, prompt=p.text, response=a.text, system=group.system, context=context).response_key()
            if db.scalar(select(Response.id).where(Response.group_id == new.id, Response.key == rkey)) is None:
                copy = Response(group_id=new.id, key=rkey, text=a.text, status="accepted", author=a.author,
                                author_kind=a.author_kind, gen_params=a.gen_params,
                                meta={"paraphrase_of_group": group.id, "copied_from_response": a.id, "proposal": p.id})
                db.add(copy)
                db.flush()
                db.add(Provenance(response_id=copy.id, source_path=f"proposal {p.id} (paraphrase of group {group.id})"))
        return new.id
    # followup: a session continuing this exchange, its head the proposed question
    sess = AuthorSession(title=f"follow-up to group {group.id}", topic=group.topic.name if group.topic else None,
                         system=group.system, backend={"type": "local", "model": base_model}, params={}, author=author,
                         source="proposal", source_ref=f"proposal {p.id}")
    db.add(sess)
    db.flush()
    parent = None
    for t in [*(group.context or []), {"role": "user", "content": group.prompt}]:
        parent = add_turn(db, sess, parent_id=parent, role=t["role"], text=t["content"], origin="imported").id
    answer = _first_answer(db, group.id)
    if answer is not None:
        parent = add_turn(db, sess, parent_id=parent, role="assistant", text=answer, origin="imported").id
    add_turn(db, sess, parent_id=parent, role="user", text=p.text, origin="proposed", model=p.model)
    return sess.id
