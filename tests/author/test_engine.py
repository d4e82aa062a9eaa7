"""The authoring engine against a scripted OpenAI-compatible streaming server on 127.0.0.1:
the turn tree, drafts with their parameters and seeds, directing, edits as diffs, takes that
differ from accepted answers, acceptance into prompt groups (idempotent, with provenance) and
taking answers back as revisions, cancel mid-stream and a 429 retried."""

import itertools

import pytest
from author_helpers import StreamingServer, last_user, system_text, words
from sqlalchemy import select

from expertune.author import dataset, drafting, sessions
from expertune.author.backends import backend_spec, open_backend
from expertune.errors import InputError
from expertune.store.author_models import AuthorEvent, AuthorTurn
from expertune.store.tables import PromptGroup, Provenance, Response, Revision


class Script:
    """Replies: revisions are short and marked; proposals are questions; answers are numbered."""

    def __init__(self):
        self.count = itertools.count(1)

    def __call__(self, body):
        user = last_user(body)
        if user.startswith("Revise your previous answer"):
            return words("Short revised answer.")
        if "Propose" in user:
            return words("What if the offer was revoked?")
        return words(f"Answer {next(self.count)} to: {user}")


@pytest.fixture
def server():
    with StreamingServer(Script()) as srv:
        yield srv


@pytest.fixture
def sid(ws, server):
    spec = backend_spec("scripted-model", base_url=server.base_url, backoff_base=0.0)
    return sessions.create_session(ws, backend=spec, topic="Contracts", system="You are a contract-law tutor.",
                                   params={"max_new_tokens": 64}, author="ann")


def draft(ws, sid, user_turn, server, **kw):
    model = open_backend(sessions.export_session(ws, sid)["backend"])
    return [drafting.run(ws, plan, model) for plan in drafting.plan_drafts(ws, user_turn, **kw)]


def turn(ws, turn_id):
    with ws.session() as db:
        return sessions.get_turn(db, turn_id)


def test_drafts_keep_model_params_and_seed_and_are_siblings(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is an offer?")
    d1, d2 = draft(ws, sid, u, server, n=2)
    a, b = turn(ws, d1), turn(ws, d2)
    assert a.parent_id == b.parent_id == u and a.role == "assistant"
    assert a.text == "Answer 1 to: What is an offer?" and a.draft_text == a.text
    assert a.model.endswith("|scripted-model") and a.finish_reason == "stop"
    assert [a.params["temperature"], b.params["temperature"]] == [0.5, 0.75]
    # the seed and temperature stored are the ones sent
    assert [r["seed"] for r in server.requests] == [a.seed, b.seed]
    assert [r["temperature"] for r in server.requests] == [0.5, 0.75]
    assert server.requests[0]["messages"][0] == {"role": "system", "content": "You are a contract-law tutor."}


def test_directed_revision_keeps_instruction_out_of_the_text(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is consideration?")
    [d] = draft(ws, sid, u, server)
    model = open_backend(sessions.export_session(ws, sid)["backend"])
    r = drafting.run(ws, drafting.plan_direct(ws, d, "shorter, cite Currie v Misa"), model)
    rev = turn(ws, r)
    assert "Currie v Misa" in last_user(server.requests[-1])  # the model was told
    assert rev.text == "Short revised answer." and "Currie" not in rev.text  # the training text was not
    assert rev.instructions == ["shorter, cite Currie v Misa"] and rev.based_on_id == d
    assert rev.parent_id == u and rev.origin == "directed"  # a sibling of the draft it revises
    # accepted, the instruction appears nowhere in the group or the response text
    out = dataset.accept(ws, r)
    with ws.session() as db:
        group = db.get(PromptGroup, out["group_id"])
        assert "Currie" not in (group.system or "") + group.prompt + str(group.context)
        assert db.get(Response, out["response_id"]).meta["instructions"] == ["shorter, cite Currie v Misa"]


def test_edit_of_newest_turn_records_diff_against_draft_and_earlier_edit_branches(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is acceptance?")
    [d] = draft(ws, sid, u, server)
    res = sessions.edit_turn(ws, d, "Acceptance is unqualified assent.", author="ann")
    assert res.turn_id == d and not res.branched
    t = turn(ws, d)
    assert t.text == "Acceptance is unqualified assent." and t.draft_text.startswith("Answer 1")
    with ws.session() as db:
        ev = db.scalars(select(AuthorEvent).where(AuthorEvent.turn_id == d, AuthorEvent.action == "edit")).one()
        assert "-Answer 1 to: What is acceptance?" in ev.diff and "+Acceptance is unqualified assent." in ev.diff
    # continue the conversation, then edit the first question: a new branch, the old one intact
    u2 = sessions.add_user_turn(ws, sid, "And silence?")
    res2 = sessions.edit_turn(ws, u, "What is acceptance in contract law?")
    assert res2.branched and res2.turn_id not in (u, u2)
    new = turn(ws, res2.turn_id)
    assert new.parent_id == turn(ws, u).parent_id and new.based_on_id == u
    assert turn(ws, u).text == "What is acceptance?" and turn(ws, u2).parent_id == d


def test_two_accepted_takes_make_one_group_with_context_and_provenance(ws, sid, server):
    u1 = sessions.add_user_turn(ws, sid, "What is an offer?")
    [d1] = draft(ws, sid, u1, server)
    dataset.accept(ws, d1)
    u2 = sessions.add_user_turn(ws, sid, "Can it be revoked?")
    [d2] = draft(ws, sid, u2, server)
    first = dataset.accept(ws, d2)
    model = open_backend(sessions.export_session(ws, sid)["backend"])
    [t] = [drafting.run(ws, p, model) for p in drafting.plan_takes(ws, u2, 1)]
    assert "Answer 2 to: Can it be revoked?" in system_text(server.requests[-1])  # must differ from it
    second = dataset.accept(ws, t)
    again = dataset.accept(ws, t)  # idempotent
    assert first["group_id"] == second["group_id"] == again["group_id"]
    assert again["response_id"] == second["response_id"] and not again["created"]
    with ws.session() as db:
        group = db.get(PromptGroup, first["group_id"])
        assert group.system == "You are a contract-law tutor." and group.prompt == "Can it be revoked?"
        assert group.context == [{"role": "user", "content": "What is an offer?"},
                                 {"role": "assistant", "content": "Answer 1 to: What is an offer?"}]
        assert group.topic.name == "Contracts"
        responses = db.scalars(select(Response).where(Response.group_id == group.id)).all()
        assert len(responses) == 2 and {r.status for r in responses} == {"accepted"}
        prov = db.scalars(select(Provenance).where(Provenance.response_id == second["response_id"])).all()
        assert [p.session_id for p in prov] == [sid]
        assert db.get(Response, second["response_id"]).meta["author_turn"] == t
    status = {row["user_turn_id"]: row for row in dataset.accepted_answers(ws, sid)}
    assert len(status[u2]["accepted"]) == 2 and status[u2]["drafts"] == 2


def test_takes_are_grounded_in_passages_as_any_draft_is(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "Can it be revoked?")
    [d] = draft(ws, sid, u, server)
    dataset.accept(ws, d)
    passage = {"path": "notes.md", "chunk": 3, "text": "Revocation must be communicated (Byrne v Van Tienhoven).",
               "score": 1.0}
    model = open_backend(sessions.export_session(ws, sid)["backend"])
    [t] = [drafting.run(ws, p, model) for p in drafting.plan_takes(ws, u, 1, sources=[passage])]
    system = system_text(server.requests[-1])
    # the passages reach the model as a single draft's do, then the answers to differ from
    [single] = drafting.plan_drafts(ws, u, sources=[passage])
    assert system.startswith(single.conversation[0]["content"]) and "Byrne v Van Tienhoven" in system
    assert "Answer 1 to: Can it be revoked?" in system
    take = turn(ws, t)
    assert (take.origin, take.sources) == ("take", [passage]) and "Byrne" not in take.text


def test_unaccept_and_reject_are_revisions_nothing_deleted(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is a warranty?")
    [d] = draft(ws, sid, u, server)
    rid = dataset.accept(ws, d)["response_id"]
    dataset.unaccept(ws, d, author="ann")
    dataset.reject(ws, d, author="ann")
    with ws.session() as db:
        assert db.get(Response, rid).status == "rejected"
        revs = db.scalars(select(Revision).where(Revision.entity == "response", Revision.entity_id == rid)).all()
        assert [(r.before, r.after, r.reason) for r in revs] == [("accepted", "draft", "unaccept"), ("draft", "rejected", "reject")]
        actions = db.scalars(select(AuthorEvent.action).where(AuthorEvent.turn_id == d).order_by(AuthorEvent.id)).all()
        assert actions == ["accept", "unaccept", "reject"]
    dataset.accept(ws, d)  # accepting again is a revision back to accepted
    with ws.session() as db:
        assert db.get(Response, rid).status == "accepted"


def test_edit_of_accepted_answer_is_a_response_revision(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is estoppel?")
    [d] = draft(ws, sid, u, server)
    rid = dataset.accept(ws, d)["response_id"]
    sessions.edit_turn(ws, d, "Estoppel stops a promisor going back on a relied-on promise.", author="ann")
    with ws.session() as db:
        assert db.get(Response, rid).text.startswith("Estoppel stops")
        [rev] = db.scalars(select(Revision).where(Revision.entity_id == rid, Revision.field == "text")).all()
        assert rev.before.startswith("Answer 1") and rev.reason == "manual edit"


def test_cancel_mid_stream_keeps_partial_draft_as_cancelled(ws, tmp_path):
    with StreamingServer(lambda body: words("one two three four five six seven eight"), pause=0.2) as srv:
        sid = sessions.create_session(ws, backend=backend_spec("m", base_url=srv.base_url), author="ann")
        u = sessions.add_user_turn(ws, sid, "Count.")
        pending = drafting.start(ws, drafting.plan_drafts(ws, u)[0], open_backend(backend_spec("m", base_url=srv.base_url)))
        pieces = []
        for piece in pending.stream:
            pieces.append(piece)
            if len(pieces) == 2:
                pending.cancel()
        d = pending.save()
    t = turn(ws, d)
    assert t.status == "cancelled" and t.finish_reason == "cancelled" and t.text.startswith("one two")
    assert t.text != "one two three four five six seven eight"
    with ws.session() as db:
        assert sessions.get_session(db, sid).head_id == u  # the conversation does not continue from it
    with pytest.raises(InputError, match="cancelled"):
        dataset.accept(ws, d)


def test_closing_write_drafts_mid_draft_stores_it_cancelled_and_starts_no_more(ws):
    """What the web studio does when the browser goes away mid-draft."""
    with StreamingServer(lambda body: words("one two three four five six seven eight"), pause=0.2) as srv:
        spec = backend_spec("m", base_url=srv.base_url)
        sid = sessions.create_session(ws, backend=spec, author="ann")
        u = sessions.add_user_turn(ws, sid, "Count.")
        written = drafting.write_drafts(ws, drafting.plan_drafts(ws, u, n=2), open_backend(spec), author="bob")
        assert next(written) == {"take": 0, "text": "one"}
        written.close()
        srv.streams_ended.acquire()
    assert len(srv.requests) == 1 and srv.disconnects == 1  # the second draft was never asked for
    with ws.session() as db:
        [d] = sessions.children(db, sid, u)
        [event] = db.scalars(select(AuthorEvent).where(AuthorEvent.turn_id == d.id))
        assert (d.status, d.finish_reason, event.action, event.author) == ("cancelled", "cancelled", "cancel", "bob")
        assert d.text.startswith("one") and d.text != "one two three four five six seven eight"
        assert sessions.get_session(db, sid).head_id == u


def test_status_counts_the_drafts_the_expert_can_review_not_cancelled_ones(ws):
    with StreamingServer(lambda body: words("one two three four five six")) as srv:
        spec = backend_spec("m", base_url=srv.base_url)
        sid = sessions.create_session(ws, backend=spec, author="ann")
        model = open_backend(spec)

        def cancelled_draft(user_turn):
            srv.pause = 0.2  # slow enough to cancel after the first piece
            pending = drafting.start(ws, drafting.plan_drafts(ws, user_turn)[0], model)
            for _ in pending.stream:
                pending.cancel()
            srv.pause = 0.0
            return pending.save()

        u1 = sessions.add_user_turn(ws, sid, "Count.")
        kept, turned_down = (drafting.run(ws, p, model) for p in drafting.plan_drafts(ws, u1, n=2))
        dataset.accept(ws, kept)
        dataset.reject(ws, turned_down)
        dropped = cancelled_draft(u1)
        u2 = sessions.add_user_turn(ws, sid, "Count again.", parent_id=kept)
        only_cancelled = cancelled_draft(u2)
    assert turn(ws, dropped).status == turn(ws, only_cancelled).status == "cancelled"
    # accepted and rejected drafts were reviewed; the cancelled ones were never finished
    [row] = dataset.accepted_answers(ws, sid)
    assert row["user_turn_id"] == u1 and row["drafts"] == 2 and [a["turn_id"] for a in row["accepted"]] == [kept]


def test_a_429_is_retried_before_the_stream(ws):
    replies = iter([(429, {"retry-after": "0"}, b'{"error": {"message": "slow down"}}')])

    def handler(body):
        return next(replies, words("Fine answer."))

    with StreamingServer(handler) as srv:
        spec = backend_spec("m", base_url=srv.base_url, max_attempts=2)
        sid = sessions.create_session(ws, backend=spec, author="ann")
        u = sessions.add_user_turn(ws, sid, "Hello?")
        [d] = [drafting.run(ws, p, open_backend(spec)) for p in drafting.plan_drafts(ws, u)]
        assert srv.statuses == [429, 200]
    assert turn(ws, d).text == "Fine answer."


def test_proposed_question_becomes_an_editable_user_turn(ws, sid, server):
    u = sessions.add_user_turn(ws, sid, "What is an offer?")
    [d] = draft(ws, sid, u, server)
    model = open_backend(sessions.export_session(ws, sid)["backend"])
    q = drafting.run(ws, drafting.plan_question(ws, sid, hint="a harder follow-up"), model)
    t = turn(ws, q)
    assert t.role == "user" and t.origin == "proposed" and t.parent_id == d
    assert t.text == "What if the offer was revoked?" and "harder follow-up" in last_user(server.requests[-1])
