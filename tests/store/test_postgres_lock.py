"""The PostgreSQL writer lock: a writer behind another one waits (saying so) or is refused cleanly."""

import logging

import psycopg
import pytest
from sqlalchemy import select

from expertune.store import postgres, repo
from expertune.store.tables import PromptGroup, Response, ScoreCache
from store.store_helpers import chat_rows, write_jsonl
from expertune.data.ingest import import_file


def _hold_writer_lock(url: str):
    """Another session of the store that has written and not yet committed."""
    conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (postgres.WRITER_LOCK_KEY,))
    return conn


@pytest.mark.parametrize("backend", ["postgresql"])
def test_writer_behind_a_long_writer_is_refused_cleanly_and_writes_nothing(ws, store_url, monkeypatch, caplog):
    import_file(ws, write_jsonl(ws.root / "d.jsonl", chat_rows("a", 1)))
    monkeypatch.setattr(postgres, "WAIT_LIMIT_S", 0.3)
    holder = _hold_writer_lock(store_url)
    try:
        with caplog.at_level(logging.WARNING, logger="expertune.store.postgres"):
            with pytest.raises(postgres.StoreBusy, match="another writer has held the store"):
                with ws.session() as s:
                    rid = s.scalars(select(Response.id)).first()
                    repo.edit_response(s, rid, {"rating": 5}, expected_version=1, author="a", reason="manual edit")
        assert "waiting for another writer" in caplog.text
    finally:
        holder.close()
    with ws.session() as s:  # the lock is gone with its transaction; the edit was not applied
        assert s.get(Response, rid).rating is None
        repo.edit_response(s, rid, {"rating": 5}, expected_version=1, author="a", reason="manual edit")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_readers_do_not_wait_for_a_writer(ws, store_url):
    holder = _hold_writer_lock(store_url)
    try:
        with ws.session() as s:
            assert s.scalars(select(PromptGroup)).all() == []
    finally:
        holder.close()


@pytest.mark.parametrize("sql,write", [
    ("INSERT INTO t VALUES (1)", True), ("  update t set a=1", True), ("DELETE FROM t", True),
    ("CREATE TABLE t (a int)", True), ("SELECT * FROM t FOR UPDATE", True), ("SELECT * FROM t", False),
    ("SELECT 'INSERT'", False),
])
def test_which_statements_take_the_lock(sql, write):
    assert postgres.is_write(sql) is write


@pytest.mark.parametrize("backend", ["postgresql"])
def test_values_postgresql_refuses_are_clean_errors_naming_the_column(ws):
    import_file(ws, write_jsonl(ws.root / "d.jsonl", chat_rows("a", 1)))
    with pytest.raises(postgres.ValueRefused, match=r"revisions\.reason is 80 characters, at most 64 fit"):
        with ws.session() as s:
            repo.edit_response(s, 1, {"rating": 3}, expected_version=1, author="a", reason="r" * 80)
    with pytest.raises(postgres.ValueRefused, match=r"responses\.text contains a NUL character"):
        with ws.session() as s:
            repo.edit_response(s, 1, {"text": "a\x00b"}, expected_version=1, author="a", reason="x")
    with pytest.raises(postgres.ValueRefused, match=r"score_cache\.value holds NaN or Infinity"):
        with ws.session() as s:
            s.add(ScoreCache(key="k", value={"perplexity": float("inf")}))


def test_a_missing_driver_is_a_config_error_naming_the_extra():
    from expertune.errors import ConfigError
    from expertune.store.db import make_engine

    with pytest.raises(ConfigError, match=r'expertune\[postgres\]'):
        make_engine("postgresql+pg8000://u@/db")  # a driver that is not installed here
