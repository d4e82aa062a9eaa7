"""Writers racing on one SQLite store, in real processes: each waits or is refused cleanly.

Every worker runs what the CLI runs (a workspace session around a library call) in its own
process and reports "ok", an ExpertuneError message, or a traceback.
"""

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import chat_record, synthetic_groups, write_jsonl
from expertune.curate.edits import redact
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.errors import ExpertuneError
from expertune.store import repo
from expertune.store.tables import Response, Revision
from expertune.workspace import Workspace

CTX = multiprocessing.get_context("fork")
# SQLite's locking; the PostgreSQL writers are tested in test_concurrency_postgres.py.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def _worker(root: str, action: str, arg, barrier, results) -> None:
    try:
        if barrier is not None:
            barrier.wait()
        ws = Workspace(Path(root))
        if action == "edit":
            rid, text = arg
            with ws.session() as s:
                repo.edit_response(s, rid, {"text": text}, expected_version=1, author=text, reason="race")
        elif action == "split":
            assign_splits(ws, val=0.2, test=0.2)
        elif action == "import":
            import_file(ws, Path(arg))
        results.put((action, arg, "ok"))
    except ExpertuneError as err:
        results.put((action, arg, f"refused: {err}"))
    except BaseException:  # noqa: BLE001 - the point is to catch what a user would see
        results.put((action, arg, "traceback: " + traceback.format_exc()))


def _run(procs, results, n):
    for p in procs:
        p.start()
    out = [results.get(timeout=300) for _ in range(n)]
    for p in procs:
        p.join()
    return out


def test_twenty_racing_edit_pairs_one_wins_one_is_refused_cleanly(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record(f"Q{i}", f"A{i}") for i in range(20)]))
    with ws.session() as s:
        ids = s.scalars(select(Response.id).order_by(Response.id)).all()
    results = CTX.Queue()
    barrier = CTX.Barrier(40)
    jobs = [(rid, f"edit {rid} by {who}") for rid in ids for who in ("alice", "bob")]
    procs = [CTX.Process(target=_worker, args=(str(ws.root), "edit", job, barrier, results)) for job in jobs]
    out = _run(procs, results, len(jobs))

    tracebacks = [r for r in out if r[2].startswith("traceback")]
    assert not tracebacks, tracebacks[0][2]
    winners = {arg[0]: arg[1] for _, arg, status in out if status == "ok"}
    losers = [status for _, _, status in out if status != "ok"]
    assert sorted(winners) == sorted(ids) and len(losers) == 20
    assert all("changed by someone else" in status for status in losers), losers
    with ws.session() as s:  # no lost update: the stored text and the one revision are the winner's
        for rid, text in winners.items():
            assert repo.get(s, "response", rid).text == text
            assert [r.after for r in repo.revisions(s, "response", rid)] == [text]


def test_edits_and_a_split_during_a_large_import_wait_for_it(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "small.jsonl", [chat_record(f"Q{i}", f"A{i}") for i in range(10)]))
    big = write_jsonl(tmp_path / "big.jsonl", synthetic_groups(10_000, 3, start=1000))
    wal = ws.root / "expertune.db-wal"
    base = wal.stat().st_size if wal.exists() else 0
    results = CTX.Queue()
    importer = CTX.Process(target=_worker, args=(str(ws.root), "import", str(big), None, results))
    importer.start()
    deadline = time.time() + 120
    while time.time() < deadline and importer.is_alive():  # wait for the write phase (the WAL grows)
        if wal.exists() and wal.stat().st_size > base + 256 * 1024:
            break
        time.sleep(0.01)
    assert importer.is_alive(), "the import finished before the writers started; make the file larger"
    writers = [CTX.Process(target=_worker, args=(str(ws.root), "edit", (rid, f"edited {rid}"), None, results))
               for rid in range(1, 11)]
    writers.append(CTX.Process(target=_worker, args=(str(ws.root), "split", None, None, results)))
    out = _run(writers, results, len(writers) + 1)
    importer.join()
    assert [r for r in out if r[2] != "ok"] == []
    with ws.session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 30_010
        assert s.scalar(select(func.count()).select_from(Revision)) == 10


def _hold_write_lock(ws: Workspace) -> sqlite3.Connection:
    conn = sqlite3.connect(ws.root / "expertune.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_writer_behind_a_long_write_says_it_waits_and_is_refused_cleanly_past_the_limit(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record("Q", "A")]))
    holder = _hold_write_lock(ws)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "expertune", "-w", str(ws.root), "response", "edit", "1", "--version", "1", "--text", "B"],
            capture_output=True, text=True, env={**os.environ, "EXPERTUNE_LOCK_TIMEOUT": "3"},
        )
    finally:
        holder.rollback()
        holder.close()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2
    assert "waiting for another writer" in proc.stderr and "is busy" in proc.stderr


def test_reading_sessions_are_not_blocked_by_a_writer(ws, tmp_path, monkeypatch):
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record("Q", "Mail a@example.com please.")]))
    monkeypatch.setenv("EXPERTUNE_LOCK_TIMEOUT", "0.5")
    fresh = Workspace(ws.root)
    holder = _hold_write_lock(ws)
    try:
        assert len(redact(fresh).changes) == 1  # the dry run only reads
        with pytest.raises(ExpertuneError, match="is busy"):
            redact(fresh, apply=True)
    finally:
        holder.rollback()
        holder.close()


def test_a_commit_by_another_writer_while_a_fix_is_planned_does_not_crash_it(ws, tmp_path, monkeypatch):
    """The redaction plan is made while someone else commits an edit; the redaction still lands."""
    import expertune.curate.edits as edits

    import_file(ws, write_jsonl(tmp_path / "d.jsonl", [chat_record("Q1", "Mail a@example.com please."),
                                                       chat_record("Q2", "Nothing personal.")]))
    real = edits.plan_redaction

    def planner(session):
        changes = real(session)
        other = Workspace(ws.root)  # another command, another connection, commits meanwhile
        with other.session() as s:
            rid = s.scalar(select(Response.id).where(Response.text == "Nothing personal."))
            repo.edit_response(s, rid, {"status": "rejected"}, expected_version=1, author="x", reason="r")
        other.engine.dispose()
        return changes

    monkeypatch.setattr(edits, "plan_redaction", planner)
    plan = edits.redact(ws, apply=True)
    assert plan.applied
    with ws.session() as s:
        assert sorted(s.scalars(select(Revision.field))) == ["status", "text"]
