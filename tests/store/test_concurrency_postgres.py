"""Four processes editing and importing at once on a PostgreSQL store: no lost update, no traceback.

Two editors append tokens to the same response by read-modify-write (retrying when refused as
stale); two importers import the same shared files plus one file of their own each, so their
transactions insert the same new prompt groups at the same time.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import func, select

from store import store_helpers as workers
from store.store_helpers import chat_rows, write_jsonl
from expertune.data.ingest import import_file
from expertune.store import repo
from expertune.store.tables import Response
from expertune.workspace import Workspace

EDITS = 12


@pytest.mark.parametrize("backend", ["postgresql"])
def test_four_processes_edit_and_import_without_lost_updates_or_tracebacks(ws, tmp_path):
    seed = write_jsonl(tmp_path / "seed.jsonl", chat_rows("seed", 1))
    import_file(ws, seed)
    with ws.session() as s:
        rid = s.scalars(select(Response.id).order_by(Response.id)).first()
        start_text = s.get(Response, rid).text
    shared = [str(write_jsonl(tmp_path / f"shared{i}.jsonl", chat_rows(f"shared{i}", 40))) for i in range(3)]
    own = [str(write_jsonl(tmp_path / f"own{i}.jsonl", chat_rows(f"own{i}", 40))) for i in range(2)]

    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        editors = [pool.submit(workers.editor, str(ws.root), rid, f"e{i}", EDITS) for i in range(2)]
        importers = [pool.submit(workers.importer, str(ws.root), shared + [own[0]]),
                     pool.submit(workers.importer, str(ws.root), [own[1]] + shared[::-1])]
        edit_results = [f.result() for f in editors]
        import_results = [f.result() for f in importers]

    errors = [e for r in edit_results + import_results for e in r["errors"]]
    assert errors == []
    tokens = [t for r in edit_results for t in r["done"]]
    assert len(tokens) == 2 * EDITS
    with ws.session() as s:
        final = s.get(Response, rid)
        # No lost update: every successful edit is in the text, and versions counted each one once.
        assert sorted(final.text.removeprefix(start_text).split()) == sorted(tokens)
        assert final.version == 1 + len(tokens)
        history = repo.revisions(s, "response", rid)
        assert [(v.from_version, v.to_version) for v in history] == [(i, i + 1) for i in range(1, len(tokens) + 1)]
        # Every shared record imported exactly once, whichever importer got there first.
        assert s.scalar(select(func.count(Response.id))) == 3 * (1 + 5 * 40)
    assert sum(r["imported"] for r in import_results) == 3 * 5 * 40
