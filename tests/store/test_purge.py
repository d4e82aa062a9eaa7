"""purge: the text leaves the response, every revision and the database files; a tombstone stays."""

import glob
import subprocess

import pytest
from sqlalchemy import select

from expertune.data.ingest import import_file
from expertune.store import repo
from expertune.store.tables import Response
from expertune.store.purge import MARKER, purge_response
from store.store_helpers import write_jsonl

SECRET = "Call Jane Roe-Smythe at 0161 496 0000 about her tenancy"
EDITED = "Call J. Roe-Smythe about her tenancy, zqxjvw"


def _workspace_with_secret(ws, tmp_path) -> int:
    rows = [{"messages": [{"role": "user", "content": "Who to call?"}, {"role": "assistant", "content": SECRET}]},
            {"messages": [{"role": "user", "content": "Other?"}, {"role": "assistant", "content": "Nobody in particular."}]}]
    import_file(ws, write_jsonl(tmp_path / "secret.jsonl", rows))
    with ws.session() as s:
        rid = s.scalars(select(Response.id).where(Response.text == SECRET)).one()
        repo.edit_response(s, rid, {"text": EDITED, "rating": 3}, expected_version=1, author="ana", reason="redaction")
    return rid


def _database_bytes(ws, pg_cluster_root=None) -> bytes:
    if ws.engine.dialect.name == "sqlite":
        files = glob.glob(str(ws.root / "expertune.db*"))
    else:
        with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")  # table files on disk are current; dropped ones unlinked
            db = conn.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
        files = [f for f in glob.glob(f"{pg_cluster_root}/data/base/{db}/*")]
    return b"".join(open(f, "rb").read() for f in files)


def test_purge_erases_text_from_history_and_files_and_leaves_a_tombstone(ws, tmp_path, request):
    root = request.getfixturevalue("pg").root if ws.engine.dialect.name == "postgresql" else None
    rid = _workspace_with_secret(ws, tmp_path)
    before = _database_bytes(ws, root)
    assert SECRET.encode() in before or EDITED.encode() in before  # the test can see the text on disk

    report = purge_response(ws, rid, reason="erasure request #12 from the data subject", author="dpo")

    with ws.session() as s:
        r = s.get(Response, rid)
        assert (r.text, r.status, r.meta, r.version) == (MARKER, "rejected", None, 3)
        history = repo.revisions(s, "response", rid)
        assert [(v.field, v.before, v.after) for v in history if v.field == "text"] == [
            ("text", None, None), ("text", None, None)]
        tomb = history[-1]
        assert (tomb.reason, tomb.author, tomb.note, tomb.id) == (
            "purge", "dpo", "erasure request #12 from the data subject", report.tombstone_id)
        assert [(v.field, v.before, v.after) for v in history if v.field == "rating"] == [("rating", None, 3)]
    assert report.revisions_blanked == 1 and report.elsewhere == []
    assert any(f.endswith("secret.jsonl:1") for f in report.files)
    after = _database_bytes(ws, root)
    for needle in (SECRET, EDITED, "Roe-Smythe", "zqxjvw"):
        assert needle.encode() not in after


@pytest.mark.parametrize("backend", ["sqlite"])
def test_purge_reports_copies_elsewhere_and_refuses_without_reason(ws, tmp_path):
    rid = _workspace_with_secret(ws, tmp_path)
    import_file(ws, write_jsonl(tmp_path / "again.jsonl", [
        {"messages": [{"role": "user", "content": "Same answer, other prompt"}, {"role": "assistant", "content": EDITED}]}]))
    with pytest.raises(Exception, match="--reason"):
        purge_response(ws, rid, reason="  ", author="dpo")
    report = purge_response(ws, rid, reason="request", author="dpo")
    with pytest.raises(Exception, match="already purged"):
        purge_response(ws, rid, reason="request", author="dpo")
    with ws.session() as s:
        other = s.scalars(select(Response.id).where(Response.text == EDITED)).one()
    assert report.elsewhere == [f"responses.text row {other}"]


def test_response_history_shows_who_purged_and_why(ws, tmp_path):
    from cli.clirun import cli

    rid = _workspace_with_secret(ws, tmp_path)
    assert cli("-w", ws.root, "purge", rid, "--reason", "erasure request 42 [art. 17]", "--author", "dpo").code == 0
    shown = cli("-w", ws.root, "response", "history", rid, "--json")
    assert [v["note"] for v in __import__("json").loads(shown.out) if v["reason"] == "purge"] == ["erasure request 42 [art. 17]"]
    table = cli("-w", ws.root, "response", "history", rid)
    assert table.code == 0 and "erasure request 42 [art. 17]" in " ".join(table.out.replace("│", " ").split())
    assert SECRET not in table.out and EDITED not in table.out
