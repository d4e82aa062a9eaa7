"""An import killed with SIGKILL leaves the store exactly as it was, and usable."""

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select, text

from conftest import synthetic_groups, write_jsonl
from expertune.data.ingest import import_file
from expertune.store.tables import ImportBatch, PromptGroup, Provenance, Response
from expertune.workspace import Workspace


def _state(ws):
    with ws.session() as s:
        counts = tuple(s.scalar(select(func.count()).select_from(t)) for t in (PromptGroup, Response, Provenance, ImportBatch))
        texts = sorted(s.scalars(select(Response.text)))
    return counts, texts


def test_sigkill_mid_import_leaves_store_unchanged(ws, tmp_path):
    import_file(ws, write_jsonl(tmp_path / "small.jsonl", synthetic_groups(10, 2)))
    before = _state(ws)
    big = write_jsonl(tmp_path / "big.jsonl", synthetic_groups(12_000, 3, start=1000))
    wal = ws.root / "expertune.db-wal"
    base = wal.stat().st_size if wal.exists() else 0

    proc = subprocess.Popen(
        [sys.executable, "-m", "expertune", "-w", str(ws.root), "import", str(big), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # Kill once the import has started writing its transaction (the WAL grows), not before.
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > base + 512 * 1024:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed; make the file larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    fresh = Workspace(ws.root)
    assert _state(fresh) == before
    with fresh.session() as s:
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    again = import_file(fresh, big)
    assert again.imported_responses == 36_000
