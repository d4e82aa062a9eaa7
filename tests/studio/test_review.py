"""Review queue: server-side paging and filters, decisions, edits with reasons, stale-edit merge,
history with diffs, preferences, bulk actions with undo — all recorded as revisions by the user."""

import re

from sqlalchemy import select

from expertune.store import repo
from expertune.store.tables import Response, Revision
from expertune.studio import review
from studio_helpers import client, fill, post


def rows_on(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'name="sel" value="(\d+)"', page)]


def test_the_list_is_paged_by_the_database(ws):
    fill(ws, n_groups=60, per_group=2)
    c = client(ws)
    first, third = c.get("/review").text, c.get("/review?page=3").text
    assert rows_on(first) == list(range(1, 51)) and rows_on(third) == list(range(101, 121))
    assert "120 responses · page 1 of 3" in first
    with ws.session() as s:
        rows, total = review.list_page(s, review.ReviewFilter(page=2, per_page=7))
    assert total == 120 and [r.id for r in rows] == list(range(8, 15))


def test_filters_narrow_the_list(ws):
    fill(ws, n_groups=4, per_group=2)
    c = client(ws)
    post(c, "/responses/3/set", {"version": 1, "status": "rejected"})
    assert rows_on(c.get("/review?status=rejected").text) == [3]
    assert rows_on(c.get("/review?topic=Contracts&status=accepted").text) == [1, 2, 4, 5, 6, 7, 8]
    assert rows_on(c.get("/review?topic=Nothing").text) == []
    assert rows_on(c.get("/review?split=unassigned").text) == list(range(1, 9))


def test_accept_reject_rate_prefer_and_edit_are_revisions_by_the_user(ws):
    fill(ws)
    c = client(ws, user="bob")
    post(c, "/responses/1/set", {"version": 1, "status": "rejected"})
    post(c, "/responses/1/set", {"version": 2, "rating": 2})
    post(c, "/responses/1/set", {"version": 3, "preferred": "yes"})
    r = post(c, "/responses/1/edit", {"version": 4, "text": "A better answer.", "reason": "tone"})
    assert r.status_code == 200
    with ws.session() as s:
        resp = s.get(Response, 1)
        assert (resp.status, resp.rating, resp.preferred, resp.text, resp.version) == ("rejected", 2, True, "A better answer.", 5)
        revs = repo.revisions(s, "response", 1)
    assert [(v.field, v.author) for v in revs] == [("status", "bob"), ("rating", "bob"), ("preferred", "bob"), ("text", "bob")]
    assert revs[-1].reason == "tone"
    page = c.get("/responses/1").text
    assert '<span class="del">-Answer 0 to 0</span>' in page and '<span class="add">+A better answer.</span>' in page


def test_a_stale_edit_shows_the_other_change_and_merges(ws):
    fill(ws)
    alice, bob = client(ws, user="alice"), client(ws, user="bob")
    assert post(alice, "/responses/2/edit", {"version": 1, "text": "Alice's wording.", "reason": "clarity"}).status_code == 200
    r = post(bob, "/responses/2/edit", {"version": 1, "text": "Bob's wording.", "reason": "tone"})
    assert r.status_code == 409
    assert "by <strong>alice</strong>" in r.text and '<span class="add">+Alice&#39;s wording.</span>' in r.text
    assert '<span class="add">+Bob&#39;s wording.</span>' in r.text
    assert 'name="version" value="2"' in r.text  # the merge form saves on top of alice's version
    with ws.session() as s:
        assert s.get(Response, 2).text == "Alice's wording."  # nothing overwritten
    assert post(bob, "/responses/2/edit", {"version": 2, "text": "Alice's wording, Bob's tone.", "reason": "merge"}).status_code == 200
    with ws.session() as s:
        assert s.get(Response, 2).text == "Alice's wording, Bob's tone."
        assert [v.author for v in repo.revisions(s, "response", 2)] == ["alice", "bob"]


def test_preferences_of_a_group(ws):
    fill(ws, n_groups=1, per_group=3)
    c = client(ws)
    versions = [("v1", 1), ("v2", 1), ("v3", 1)]
    post(c, "/groups/1/preferred", [("preferred", 2), *versions])
    post(c, "/groups/1/preferred", [("preferred", 3), ("v1", 1), ("v2", 2), ("v3", 1)])
    with ws.session() as s:
        assert [r.preferred for r in s.scalars(select(Response).order_by(Response.id))] == [False, False, True]


def test_bulk_action_then_undo(ws):
    fill(ws, n_groups=3, per_group=2)
    c = client(ws, user="carol")
    r = post(c, "/review/bulk", [("action", "reject"), ("sel", 2), ("sel", 5), ("v2", 1), ("v5", 1), ("back", "/review?status=accepted")],
             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review?status=accepted&undo=")
    page = c.get(r.headers["location"]).text
    assert "Changed 2 responses." in page and 'id="undo"' in page
    with ws.session() as s:
        assert {x.id for x in s.scalars(select(Response).where(Response.status == "rejected"))} == {2, 5}
    undo_ids = r.headers["location"].split("undo=")[1]
    post(c, "/review/undo", {"revisions": undo_ids})
    with ws.session() as s:
        assert s.scalar(select(Response).where(Response.status == "rejected")) is None
        assert [v.reason for v in s.scalars(select(Revision).order_by(Revision.id))] == ["bulk review"] * 2 + ["revert"] * 2


def test_bulk_refuses_a_stale_row_and_changes_nothing(ws):
    fill(ws)
    c = client(ws)
    post(c, "/responses/3/set", {"version": 1, "rating": 5})
    r = post(c, "/review/bulk", [("action", "reject"), ("sel", 1), ("sel", 3), ("v1", 1), ("v3", 1)])
    assert r.status_code == 409
    with ws.session() as s:
        assert s.get(Response, 1).status == "accepted"


def test_redirects_stay_on_the_site(ws):
    fill(ws)
    c = client(ws)
    r = post(c, "/review/bulk", [("action", "reject"), ("sel", 1), ("v1", 1), ("back", "//evil.example/")], follow_redirects=False)
    assert r.headers["location"].startswith("/review?undo=")
