"""Checks page: the worklist links findings to records, fixes are revisions, allow needs a reason."""

from sqlalchemy import select

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file
from expertune.store import repo
from expertune.store.tables import Response
from expertune.studio import checkstore
from studio_helpers import client, post


def planted(ws):
    rows = [chat_record("How do I reach the clerk?", "Write to clerk.jones@example.com today."),
            chat_record("What is an offer?", "Human: what is an offer?\nAssistant: A definite promise to be bound."),
            chat_record("What is acceptance?", "Unqualified assent to the terms of an offer.")]
    assert import_file(ws, write_jsonl(ws.root / "in.jsonl", rows)).committed
    return ws


def test_run_then_fix_personal_data_as_a_revision(ws):
    planted(ws)
    c = client(ws, user="dana")
    post(c, "/checks/run")
    page = c.get("/checks").text
    assert "pii" in page and '<a href="/responses/1?back=/checks">response 1</a>' in page
    preview = c.get("/checks/fix/redact").text
    assert "clerk.jones@example.com" in preview and "Apply these 1 changes" in preview
    post(c, "/checks/fix/redact")
    with ws.session() as s:
        assert "[EMAIL]" in s.get(Response, 1).text
        (rev,) = repo.revisions(s, "response", 1)
    assert (rev.author, rev.reason) == ("dana", "redaction")
    assert not checkstore.response_ids(ws, "pii")  # the worklist was refreshed after the fix


def test_strip_artefacts(ws):
    planted(ws)
    c = client(ws)
    post(c, "/checks/fix/artefacts")
    with ws.session() as s:
        assert s.get(Response, 2).text == "A definite promise to be bound."


def test_allow_records_reason_and_who_and_needs_a_reason(ws):
    planted(ws)
    c = client(ws, user="erin")
    post(c, "/checks/run")
    (item,) = [f for f in checkstore.worklist(ws) if f["check"] == "pii"]
    assert post(c, "/checks/allow", {"key": item["key"], "reason": " "}).status_code == 400
    post(c, "/checks/allow", {"key": item["key"], "reason": "public court address"})
    (decision,) = checkstore.decisions_list(ws)
    assert (decision["author"], decision["reason"], decision["check"]) == ("erin", "public court address", "pii")
    assert "Allowed by erin" in c.get("/checks").text


def test_the_review_list_filters_by_check_finding(ws):
    planted(ws)
    c = client(ws)
    post(c, "/checks/run")
    page = c.get("/review?check=pii").text
    assert 'name="sel" value="1"' in page and 'name="sel" value="3"' not in page
