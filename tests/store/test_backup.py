"""backup/restore on both backends: verified, consistent while others write, round-trips by hash."""

import gzip
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import select

from store import store_helpers as workers
from expertune.store import content
from expertune.store.backup import BackupError, backup, read_backup, restore
from expertune.store.db import make_engine
from expertune.store.tables import Response
from expertune.workspace import Workspace
from store.store_helpers import fill_store


def store_hash(url: str) -> str:
    with content.snapshot(make_engine(url)) as conn:
        return content.content_hash(conn).digest


def test_backup_restore_round_trip(ws, tmp_path):
    fill_store(ws, tmp_path)
    report = backup(ws.store_url, tmp_path / "b.bak")
    assert report.content_hash == store_hash(ws.store_url)
    assert report.kind == ("sqlite" if ws.engine.dialect.name == "sqlite" else "dump")
    fresh = Workspace.init(tmp_path / "fresh")  # a backup of either backend restores into SQLite
    assert restore(fresh.store_url, tmp_path / "b.bak").content_hash == report.content_hash
    assert store_hash(fresh.store_url) == report.content_hash


def test_restore_replaces_only_when_asked_and_undoes_later_changes(ws, tmp_path):
    fill_store(ws, tmp_path)
    report = backup(ws.store_url, tmp_path / "b.bak")
    with ws.session() as s:
        s.execute(Response.__table__.update().where(Response.id == 5).values(text="later change"))
    with pytest.raises(BackupError, match="--replace"):
        restore(ws.store_url, tmp_path / "b.bak")
    restore(ws.store_url, tmp_path / "b.bak", replace=True)
    assert store_hash(ws.store_url) == report.content_hash


def test_backup_during_concurrent_writes_is_one_consistent_state(ws, tmp_path):
    """Two processes keep editing while the backup runs; the backup is one committed state (its hash
    is the hash of what it holds, checked by backup() itself) and restores to exactly that."""
    fill_store(ws, tmp_path)
    with ws.session() as s:
        rid = s.scalars(select(Response.id).order_by(Response.id.desc())).first()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        editors = [pool.submit(workers.editor, str(ws.root), rid, f"w{i}", 25) for i in range(2)]
        while True:  # start the backup once the editors are writing
            with ws.session() as s:
                if s.get(Response, rid).version > 3:
                    break
            time.sleep(0.05)
        reports = [backup(ws.store_url, tmp_path / f"b{i}.bak") for i in range(2)]
        results = [f.result() for f in editors]
    errors = [e.strip().splitlines()[-3:] for r in results for e in r["errors"]]
    assert errors == []  # writers wait for the backup (or are refused cleanly), on both backends
    assert sum(len(r["done"]) for r in results) > 3
    target = Workspace.init(tmp_path / "target")
    for i, report in enumerate(reports):
        restore(target.store_url, tmp_path / f"b{i}.bak", replace=True)
        assert store_hash(target.store_url) == report.content_hash


def test_a_damaged_dump_is_refused(tmp_path, pg_url):
    ws = Workspace.init(tmp_path / "ws", store_url=pg_url)
    fill_store(ws, tmp_path)
    backup(ws.store_url, tmp_path / "b.bak")
    lines = gzip.open(tmp_path / "b.bak", "rt", encoding="utf-8").read().splitlines()
    bad = [line.replace("edited ✓", "edited !") for line in lines]
    with gzip.open(tmp_path / "bad.bak", "wt", encoding="utf-8") as f:
        f.write("\n".join(bad) + "\n")
    with pytest.raises(BackupError, match="damaged"):
        read_backup(tmp_path / "bad.bak")
    with gzip.open(tmp_path / "cut.bak", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[:-3]) + "\n")
    target = Workspace.init(tmp_path / "target")
    with pytest.raises(BackupError, match="truncated"):
        restore(target.store_url, tmp_path / "cut.bak")
