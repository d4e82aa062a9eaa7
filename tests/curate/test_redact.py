import pytest
from sqlalchemy import select, update

from curate_helpers import build, record, response_id
from expertune.curate.edits import plan_redaction, redact
from expertune.errors import StaleEditError
from expertune.store import repo
from expertune.store.tables import Response, Revision

ORIGINAL = "Write to jane.doe@example.com  or call +44 20 7946 0958.\nCard: 4111 1111 1111 1111 (expired)."


def test_redaction_applied_then_reverted_restores_the_original_exactly(ws):
    build(ws, [record("What should I do?", ORIGINAL), record("Clean?", "Nothing personal here, 1 March 2024.")])
    rid = response_id(ws, "Write to")
    dry = redact(ws)
    assert not dry.applied and dry.as_dict()["items"] == {"EMAIL": 1, "PHONE": 1, "CARD": 1}
    assert "-Write to jane.doe@example.com" in dry.changes[0].diff() and "+Write to [EMAIL]" in dry.changes[0].diff()
    with ws.session() as s:
        assert repo.get(s, "response", rid).text == ORIGINAL  # a dry run writes nothing

    applied = redact(ws, apply=True, author="dpo")
    assert applied.applied and len(applied.changes) == 1
    with ws.session() as s:
        r = repo.get(s, "response", rid)
        assert r.text == "Write to [EMAIL]  or call [PHONE].\nCard: [CARD] (expired)." and r.version == 2
        (rev,) = repo.revisions(s, "response", rid)
        assert (rev.reason, rev.author, rev.note) == ("redaction", "dpo", "CARD=1, EMAIL=1, PHONE=1")
        repo.revert_revision(s, rev.id, author="dpo")
    with ws.session() as s:
        assert repo.get(s, "response", rid).text == ORIGINAL
    assert redact(ws).changes  # the original is back, so it would be redacted again


def test_prompts_are_redacted_as_group_revisions(ws):
    build(ws, [record("I live at 221B Baker Street; can I break my lease?", "Usually not without cause.",
                      context=[{"role": "user", "content": "My number is 07700 900123."},
                               {"role": "assistant", "content": "Noted."}])])
    plan = redact(ws, apply=True)
    (change,) = plan.changes
    assert change.entity == "group" and set(change.after) == {"prompt", "context"}
    with ws.session() as s:
        g = repo.get(s, "group", change.id)
        assert g.prompt == "I live at [ADDRESS]; can I break my lease?"
        assert g.context[0]["content"] == "My number is [PHONE]."
        assert {r.field for r in repo.revisions(s, "group", g.id)} == {"prompt", "context"}


def test_a_concurrent_edit_refuses_the_whole_redaction(ws):
    build(ws, [record("Q1?", "Mail a@example.com please."), record("Q2?", "Mail b@example.com please.")])
    with ws.session() as s:
        changes = plan_redaction(s)
    second = response_id(ws, "Mail b@")
    with ws.session() as s:  # someone edits the second response after the plan was made
        s.execute(update(Response).where(Response.id == second).values(version=Response.version + 1))
    with pytest.raises(StaleEditError):
        with ws.session() as s:
            for c in changes:
                repo.edit(s, c.entity, c.id, c.after, expected_version=c.version, author="x", reason="redaction")
    with ws.session() as s:  # one transaction: the first response was not changed either
        assert s.scalar(select(Response.text).where(Response.text.startswith("Mail a@"))) == "Mail a@example.com please."
        assert s.scalar(select(Revision.id)) is None
