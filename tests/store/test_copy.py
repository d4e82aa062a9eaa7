"""`db copy`: SQLite -> PostgreSQL -> SQLite keeps every row; the content hash proves it."""

import pytest
from sqlalchemy import func, select

from expertune.data.ingest import import_file
from expertune.store import content
from expertune.store.copy import CopyError, copy_store
from expertune.store.db import make_engine
from expertune.store.tables import Response
from expertune.workspace import Workspace
from store.store_helpers import chat_rows, fill_store, write_jsonl


def store_hash(url: str) -> content.ContentHash:
    with content.snapshot(make_engine(url)) as conn:
        return content.content_hash(conn)


def test_sqlite_to_postgresql_to_sqlite_is_hash_identical(tmp_path, pg_url):
    ws = Workspace.init(tmp_path / "ws")
    fill_store(ws, tmp_path)
    original = store_hash(ws.store_url)
    assert sum(original.rows.values()) > 30

    report = copy_store(ws.store_url, pg_url)
    assert report.content_hash == original.digest and report.rows == original.rows
    back = f"sqlite:///{tmp_path / 'back.db'}"
    copy_store(pg_url, back)
    assert store_hash(pg_url).digest == store_hash(back).digest == original.digest

    # The copy is a working store: new rows get fresh ids (PostgreSQL's sequences were moved on).
    moved = Workspace.init(tmp_path / "moved", store_url=pg_url)
    assert import_file(moved, write_jsonl(tmp_path / "more.jsonl", chat_rows("more", 2))).imported_responses == 6
    with moved.session() as s:
        assert s.scalar(select(func.count(Response.id))) == original.rows["responses"] + 6


def test_hash_sees_any_change_and_names_the_table(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    fill_store(ws, tmp_path)
    before = store_hash(ws.store_url)
    with ws.session() as s:
        s.execute(Response.__table__.update().where(Response.id == 2).values(text="changed"))
    after = store_hash(ws.store_url)
    assert after.digest != before.digest
    assert after.differences(before) == ["responses: 13 vs 13 rows, content differs"]


def test_copy_refuses_a_target_with_data(tmp_path, store_url):
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_jsonl(tmp_path / "a.jsonl", chat_rows("a", 1)))
    copy_store(ws.store_url, store_url)
    with pytest.raises(CopyError, match="already holds data .*responses 3"):
        copy_store(ws.store_url, store_url)
    with pytest.raises(CopyError, match="own store"):
        copy_store(ws.store_url, ws.store_url)
