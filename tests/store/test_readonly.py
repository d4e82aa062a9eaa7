"""store/readonly.py: plain SQL read with sqlite3 (SQLite at the head revision) or the session.

The plain SQL of its callers must name what the models name, and return what the ORM query it
replaced returned, row for row, on both backends.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, func, select, text

from expertune.data import stats
from expertune.store import readonly
from expertune.store.revision import HEAD_REVISION, VERSION_TABLE
from expertune.store.tables import Base, PromptGroup, Response, Topic

# Every query run through select_rows; a new caller adds its own here.
QUERIES = {"stats groups": stats.GROUPS_SQL, "stats responses": stats.RESPONSES_SQL}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_plain_sql_names_the_models_tables_and_columns(name):
    """Run against a schema made from the models alone: a table or column renamed there (and in a
    migration) without the SQL following fails here, not in a user's `expertune stats`."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.connect() as conn:
        assert conn.execute(text(QUERIES[name])).all() == []


def fill(ws) -> None:
    """Groups with and without a topic, in every split and none, chat and mcq; responses in every
    status, with characters that are one character but several bytes."""
    with ws.session() as s:
        law, tax = Topic(name="law"), Topic(name="tax — ünïcode")
        s.add_all([law, tax])
        s.flush()
        layout = [(law.id, "train", "chat"), (law.id, "val", "mcq"), (tax.id, "test", "chat"), (None, None, "chat"),
                  (None, "train", "mcq"), (tax.id, None, "chat")]
        for i, (topic_id, split, kind) in enumerate(layout):
            group = PromptGroup(key=f"k{i}", prompt="Wie heißt das? ✓" * (i + 1), topic_id=topic_id, split=split, kind=kind)
            s.add(group)
            s.flush()
            for k, status in enumerate(("accepted", "draft", "accepted", "rejected")[: i % 4 + 1]):
                s.add(Response(group_id=group.id, key=f"r{k}", text="Antwort – é" * (k + i + 1), status=status))


def orm_rows(ws):
    """What dataset_stats read through the ORM before it used plain SQL."""
    with ws.session(readonly=True) as session:
        groups = session.execute(
            select(PromptGroup.id, PromptGroup.split, Topic.name, PromptGroup.kind, func.length(PromptGroup.prompt))
            .outerjoin(Topic, Topic.id == PromptGroup.topic_id)
        ).all()
        responses = session.execute(select(Response.group_id, Response.status, func.length(Response.text))).all()
    return [[tuple(r) for r in groups], [tuple(r) for r in responses]]


def test_plain_sql_reads_what_the_orm_query_read(ws, backend, monkeypatch):
    fill(ws)
    expected = orm_rows(ws)
    assert len(expected[0]) == 6 and len(expected[1]) == 13
    assert select_rows_in_session(ws) == expected
    if backend == "sqlite":  # read with sqlite3 alone, never handed to the session
        monkeypatch.setattr(readonly, "select_rows_in_session", _refuse)
    assert readonly.select_rows(ws, stats.GROUPS_SQL, stats.RESPONSES_SQL) == expected


def select_rows_in_session(ws):
    return readonly.select_rows_in_session(ws, (stats.GROUPS_SQL, stats.RESPONSES_SQL))


def _refuse(*args):
    raise AssertionError("handed to the session")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("stored", [["0001"], ["0099"], [HEAD_REVISION, "0099"], []])
def test_a_store_at_another_revision_is_left_to_the_session(ws, stored, monkeypatch):
    """Migrating an older store, or refusing one, is the session's job; sqlite3 reads only a
    store at the head revision, and writes nothing."""
    ws.engine.dispose()
    with sqlite3.connect(ws.sqlite_file) as conn:
        conn.execute(f"DELETE FROM {VERSION_TABLE}")
        conn.executemany(f"INSERT INTO {VERSION_TABLE} VALUES (?)", [(r,) for r in stored])
    conn.close()
    monkeypatch.setattr(readonly, "select_rows_in_session", lambda ws, queries: "session")
    assert readonly.select_rows(ws, stats.RESPONSES_SQL) == "session"
    with sqlite3.connect(ws.sqlite_file) as conn:
        assert conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [(r,) for r in stored]
    conn.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_missing_store_is_refused_by_the_session_and_not_created(ws, monkeypatch):
    from expertune.errors import StoreError
    from expertune.workspace import Workspace

    ws.engine.dispose()
    db = ws.sqlite_file
    db.unlink()
    with pytest.raises(StoreError, match="is missing"):
        stats.dataset_stats(Workspace(ws.root))
    assert not db.exists()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_reading_leaves_no_files_beside_the_store(ws):
    """A read-only (mode=ro) connection could not remove the -wal and -shm files it makes."""
    ws.engine.dispose()
    before = sorted(p.name for p in ws.sqlite_file.parent.iterdir())
    readonly.select_rows(ws, stats.GROUPS_SQL)
    assert sorted(p.name for p in ws.sqlite_file.parent.iterdir()) == before
