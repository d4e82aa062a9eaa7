"""LLM-assisted curation as proposals (rewrites, paraphrases, follow-ups) written by a scripted
OpenAI-compatible streaming server on 127.0.0.1: nothing changes until the expert accepts, an
accepted rewrite is a revision, a paraphrase a new group with the answers, a follow-up a session."""

import pytest
from author_helpers import StreamingServer, last_user, words
from sqlalchemy import select

from expertune.author import proposals
from expertune.author.backends import backend_spec, open_backend
from expertune.errors import InputError
from expertune.store.author_models import AuthorSession, AuthorTurn
from expertune.store.tables import PromptGroup, Response, Revision


def reply(body):
    ask = last_user(body)
    if ask.startswith("An expert's training example"):
        return words("Corrected: an offer is a definite promise to be bound.")
    if ask.startswith("Rephrase"):
        return words("How would you define an offer?")
    return words("Can an offer be revoked after it is posted?")


@pytest.fixture
def model():
    with StreamingServer(reply) as srv:
        yield open_backend(backend_spec("scripted", base_url=srv.base_url))


def first_group(ws):
    with ws.session() as db:
        g = db.scalars(select(PromptGroup).where(PromptGroup.prompt == "What is an offer?")).one()
        return g.id, [r.id for r in g.responses], [r.text for r in g.responses]


def test_rewrite_is_applied_only_when_accepted_as_a_revision(tiny_ws, model):
    gid, rids, texts = first_group(tiny_ws)
    [a, b] = proposals.propose(tiny_ws, "rewrite", model, response_ids=rids)
    with tiny_ws.session() as db:
        assert [r.text for r in db.get(PromptGroup, gid).responses] == texts  # nothing applied yet
    proposals.decide(tiny_ws, a, True, author="ann")
    proposals.decide(tiny_ws, b, False, author="ann")
    with tiny_ws.session() as db:
        assert db.get(Response, rids[0]).text == "Corrected: an offer is a definite promise to be bound."
        assert db.get(Response, rids[1]).text == texts[1]
        [rev] = db.scalars(select(Revision).where(Revision.entity_id == rids[0], Revision.entity == "response")).all()
        assert rev.before == texts[0] and rev.reason == "llm rewrite"
    assert [p["status"] for p in proposals.list_proposals(tiny_ws, None)] == ["accepted", "rejected"]
    with pytest.raises(InputError, match="already accepted"):
        proposals.decide(tiny_ws, a, False)


def test_paraphrase_adds_a_group_with_the_answers_and_followup_opens_a_session(tiny_ws, model):
    gid, _, texts = first_group(tiny_ws)
    [p] = proposals.propose(tiny_ws, "paraphrase", model, group_ids=[gid])
    [f] = proposals.propose(tiny_ws, "followup", model, group_ids=[gid])
    new_gid = proposals.decide(tiny_ws, p, True)["result_id"]
    sid = proposals.decide(tiny_ws, f, True)["result_id"]
    with tiny_ws.session() as db:
        new = db.get(PromptGroup, new_gid)
        old = db.get(PromptGroup, gid)
        assert new.prompt == "How would you define an offer?" and new.system == old.system
        assert sorted(r.text for r in new.responses) == sorted(texts) and new.split is None
        sess = db.get(AuthorSession, sid)
        head = db.get(AuthorTurn, sess.head_id)
        assert head.role == "user" and head.text == "Can an offer be revoked after it is posted?"
        parent = db.get(AuthorTurn, head.parent_id)
        assert parent.role == "assistant" and parent.text == texts[0]


def test_cli_propose_list_and_accept(tiny_ws):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    gid, _, _ = first_group(tiny_ws)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    cli = [sys.executable, "-m", "expertune", "-w", str(tiny_ws.root), "author"]
    with StreamingServer(reply) as srv:
        done = subprocess.run([*cli, "propose", "paraphrase", "--group", str(gid), "--model", "scripted",
                               "--base-url", srv.base_url, "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert row["text"] == "How would you define an offer?" and row["status"] == "proposed"
    accepted = subprocess.run([*cli, "proposals", "accept", str(row["id"]), "--json"], env=env, capture_output=True,
                              text=True, check=True)
    assert json.loads(accepted.stdout)[0]["status"] == "accepted"
    again = subprocess.run([*cli, "proposals", "accept", str(row["id"])], env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "already accepted" in again.stderr
