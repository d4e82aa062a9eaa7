"""Plain-SQL reads for the quick commands, without loading SQLAlchemy on a SQLite store.

`expertune stats` answers in a fraction of a second, and importing SQLAlchemy takes a quarter of
a second (its ORM half a second). So `select_rows` reads a SQLite store that is at HEAD_REVISION
with the standard library's sqlite3. Every other case goes through `Workspace.session(readonly=True)`
exactly as a command that uses the ORM would: a PostgreSQL store (its users pay the import), a
store that needs migrating (it is migrated), and one that is missing, empty, damaged or from
another expertune (refused with the usual message), so this path never decides what is wrong
with a store.

The SQL therefore runs on SQLite and PostgreSQL alike, and names the tables and columns of
store/tables.py; tests/store/test_readonly.py runs every query of its callers against the
models' own schema, so a renamed column fails a test rather than a user.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from expertune.store.revision import HEAD_REVISION, VERSION_TABLE

if TYPE_CHECKING:
    from expertune.workspace import Workspace

Rows = list[tuple]


def select_rows(ws: Workspace, *queries: str) -> list[Rows]:
    """The rows of each SELECT, all read in one read-only transaction."""
    db = ws.sqlite_file
    rows = _select_sqlite(db, queries) if db is not None else None
    return rows if rows is not None else select_rows_in_session(ws, queries)


def select_rows_in_session(ws: Workspace, queries: tuple[str, ...]) -> list[Rows]:
    """The same through the workspace's SQLAlchemy session: any backend, migrating the store first."""
    from sqlalchemy import text

    with ws.session(readonly=True) as session:
        return [[tuple(row) for row in session.execute(text(query))] for query in queries]


def _select_sqlite(db: Path, queries: tuple[str, ...]) -> list[Rows] | None:
    """The rows, or None when the file cannot be read as a store at HEAD_REVISION."""
    # mode=rw never creates the file (an absent store must be refused, not made); mode=ro would
    # leave -wal and -shm files behind, which only a writable connection removes on closing.
    # query_only refuses writes instead.
    uri = f"{db.absolute().as_uri()}?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA query_only=ON")
        conn.execute("BEGIN")  # one snapshot for the revision and every query
        stored = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
        if stored != [(HEAD_REVISION,)]:
            return None
        return [conn.execute(query).fetchall() for query in queries]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
