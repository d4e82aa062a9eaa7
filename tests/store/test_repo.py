import pytest
from sqlalchemy import select

from expertune.errors import StaleEditError
from expertune.store import repo
from expertune.store.tables import PromptGroup, Response, Revision


def _one_response(ws) -> int:
    with ws.session() as s:
        g = PromptGroup(key="k1", prompt="What is consideration?", context=[], tags=[])
        s.add(g)
        s.flush()
        r = Response(group_id=g.id, key="r1", text="Something of value exchanged.")
        s.add(r)
        s.flush()
        return r.id


def test_stale_edit_is_refused_and_earlier_edit_kept(ws):
    rid = _one_response(ws)
    # Two editors read version 1.
    with ws.session() as s:
        assert repo.get(s, "response", rid).version == 1
    with ws.session() as s:
        repo.edit_response(s, rid, {"text": "Alice's edit."}, expected_version=1, author="alice", reason="manual edit")
    with pytest.raises(StaleEditError) as err:
        with ws.session() as s:
            repo.edit_response(s, rid, {"text": "Bob's edit."}, expected_version=1, author="bob", reason="manual edit")
    assert "version 1" in str(err.value) and "version 2" in str(err.value)
    with ws.session() as s:
        r = s.get(Response, rid)
        assert (r.text, r.version) == ("Alice's edit.", 2)
        revs = repo.revisions(s, "response", rid)
        assert [(v.field, v.before, v.after, v.author, v.from_version, v.to_version) for v in revs] == [
            ("text", "Something of value exchanged.", "Alice's edit.", "alice", 1, 2)
        ]


def test_revert_restores_exact_text_as_a_new_revision(ws):
    rid = _one_response(ws)
    with ws.session() as s:
        repo.edit_response(s, rid, {"text": "changed  \n text", "rating": 4}, expected_version=1, author="a", reason="manual edit")
    with ws.session() as s:
        text_rev = next(v for v in repo.revisions(s, "response", rid) if v.field == "text")
        repo.revert_revision(s, text_rev.id, author="a")
    with ws.session() as s:
        r = s.get(Response, rid)
        assert r.text == "Something of value exchanged." and r.rating == 4 and r.version == 3
        assert s.scalars(select(Revision.reason).order_by(Revision.id)).all() == ["manual edit", "manual edit", "revert"]


def test_failed_edit_writes_nothing(ws):
    rid = _one_response(ws)
    with pytest.raises(Exception):
        with ws.session() as s:
            repo.edit_response(s, rid, {"rating": 9}, expected_version=1, author="a", reason="x")
    with ws.session() as s:
        assert s.get(Response, rid).version == 1
        assert s.scalars(select(Revision)).all() == []
