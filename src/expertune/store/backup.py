"""`expertune backup FILE` and `expertune restore FILE`: consistent copies of a live store.

- SQLite: SQLite's online backup API (`sqlite3.Connection.backup`), run inside a read transaction
  so the copy is exactly one committed state while others keep writing (WAL readers never block
  writers). The backup is itself a SQLite store; a small `expertune_backup` table in it records
  the content hash of that state.
- PostgreSQL: a portable logical dump written through SQLAlchemy from one REPEATABLE READ
  snapshot: gzip'd JSON lines, a header (schema revision), each table's columns and rows encoded
  as in store/content.py, and a trailer with the content hash. Not `pg_dump`: pg_dump must be at
  least the server's major version and is often absent where `pip install expertune[postgres]`
  is all there is, and its output only restores into PostgreSQL; this dump needs only the driver,
  restores into either backend and shares its encoding and verification with `db copy`.

Every backup is verified before it is kept: the written file is read back (for a dump, restored
into a scratch SQLite store) and its content hash compared with the hash of the snapshot it was
taken from. A restore replaces the store's whole content in one transaction and commits only when
the result's content hash equals the one recorded in the backup.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from expertune.errors import ExpertuneError, InputError
from expertune.store import content
from expertune.store.copy import display_url
from expertune.store.db import head_revision, make_engine, upgrade

SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
DUMP_FORMAT = "expertune-dump"
META_TABLE = "expertune_backup"


class BackupError(ExpertuneError):
    pass


@dataclass
class BackupReport:
    file: str
    kind: str  # sqlite | dump
    revision: str | None
    content_hash: str
    rows: dict[str, int]

    def as_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "revision": self.revision, "content_hash": self.content_hash,
                "rows": self.rows, "total_rows": sum(self.rows.values())}


# -- backup -----------------------------------------------------------------------------------
def backup(url: str, path: Path) -> BackupReport:
    """Write a verified backup of the store at `url` to `path` (replaced only when verified)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the backup")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if make_url(url).get_backend_name() == "sqlite":
            kind, taken = "sqlite", _backup_sqlite(make_url(url).database, partial)
        else:
            kind, taken = "dump", _dump(make_engine(url), partial)
        kept = read_backup(partial)
        if kept.hash.digest != taken.digest:
            raise BackupError(f"{path}: the written backup does not match the store "
                              f"({'; '.join(taken.differences(kept.hash))}); nothing was kept")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(str(path), kind, taken.revision, taken.digest, taken.rows)


def _backup_sqlite(db_path: str, out: Path) -> content.ContentHash:
    src = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    engine = create_engine("sqlite://", creator=lambda: src, poolclass=StaticPool)
    try:
        # SQLAlchemy initialises its dialect on the first connect and rolls back once, so the
        # read transaction starts only after that: the backup and the hash see one committed state.
        with engine.connect() as conn:
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchall()
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)
            finally:
                dst.close()
            taken = content.content_hash(conn)
    finally:
        engine.dispose()
        src.close()
    dst = sqlite3.connect(out)
    dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    with dst:
        dst.execute(f"CREATE TABLE {META_TABLE} (content_hash TEXT, revision TEXT, created_at TEXT)")
        dst.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?, ?)",
                    (taken.digest, taken.revision, datetime.now(timezone.utc).isoformat()))
    dst.close()
    return taken


def _dump(engine, out: Path) -> content.ContentHash:
    with content.snapshot(engine) as conn, gzip.open(out, "wt", encoding="utf-8") as f:
        taken = content.content_hash(conn)
        f.write(json.dumps({"format": DUMP_FORMAT, "version": 1, "revision": taken.revision,
                            "created_at": datetime.now(timezone.utc).isoformat()}) + "\n")
        for table in content.tables():
            f.write(json.dumps({"table": table.name, "columns": [c.name for c in table.columns],
                                "rows": taken.rows[table.name]}) + "\n")
            for row in content.read_rows(conn, table):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.write(json.dumps({"end": True, "content_hash": taken.digest}) + "\n")
    return taken


# -- reading a backup -------------------------------------------------------------------------
@dataclass
class BackupContent:
    """What a backup holds: its schema revision, its recorded hash and the hash of its rows."""

    revision: str | None
    recorded: str | None
    hash: content.ContentHash


def read_backup(path: Path) -> BackupContent:
    """Read a backup whole and hash its rows; raises if it is damaged or disagrees with itself."""
    with open_backup(path) as (revision, recorded, tables):
        if _kind(path) == "sqlite":
            with _sqlite_conn(path) as conn:
                got = content.content_hash(conn)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                scratch = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
                _create_schema(scratch, revision)
                with scratch.begin() as conn:
                    for table, rows in tables:
                        content.write_rows(conn, table, rows)
                    got = content.content_hash(conn)
                scratch.dispose()
    if recorded is not None and recorded != got.digest:
        raise BackupError(f"{path}: damaged: its rows hash to {got.digest[:12]}…, the backup recorded {recorded[:12]}…")
    return BackupContent(revision, recorded, got)


def _kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head[:2] == GZIP_MAGIC:
        return "dump"
    raise InputError(f"{path}: not an expertune backup (neither a SQLite store nor an expertune dump)")


@contextmanager
def _sqlite_conn(path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def open_backup(path: Path):
    """(revision, recorded hash or None, iterator of (table, encoded rows)) of a backup file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such backup file")
    if _kind(path) == "sqlite":
        with _sqlite_conn(path) as conn:
            revision = content.current_revision_of(conn)
            recorded = None
            if conn.dialect.has_table(conn, META_TABLE):
                recorded = conn.execute(text(f"SELECT content_hash FROM {META_TABLE}")).scalar()
            yield revision, recorded, ((t, content.read_rows(conn, t)) for t in content.tables())
        return
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = _json_line(path, f.readline(), 1)
        if not isinstance(header, dict) or header.get("format") != DUMP_FORMAT:
            raise InputError(f"{path}: not an expertune dump (line 1 has no \"format\": \"{DUMP_FORMAT}\")")
        yield header.get("revision"), _trailer_hash(path), _dump_tables(path, f)


def _trailer_hash(path: Path) -> str:
    """The content hash in the dump's last line (read first, so a truncated dump is refused early)."""
    last = None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        try:
            for line in f:
                last = line
        except (EOFError, OSError) as err:
            raise BackupError(f"{path}: truncated or damaged ({err}); use another backup") from None
    trailer = _json_line(path, last, "(last)") if last else None
    if not isinstance(trailer, dict) or not trailer.get("end"):
        raise BackupError(f"{path}: truncated (no end marker); use another backup")
    return trailer["content_hash"]


def _json_line(path: Path, line: str, number: int | str):
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise BackupError(f"{path}: line {number}: not JSON ({err.msg}); the dump is damaged") from None


def _dump_tables(path: Path, f) -> Iterator[tuple[Table, Iterator[list]]]:
    known = {t.name: t for t in content.tables()}
    number = 1
    while True:
        number += 1
        entry = _json_line(path, f.readline(), number)
        if entry.get("end"):
            return
        table = known.get(entry.get("table"))
        if table is None or entry["columns"] != [c.name for c in table.columns]:
            raise BackupError(f"{path}: line {number}: table {entry.get('table')!r} does not match this "
                              "expertune's schema; restore with the expertune version that wrote it")
        rows = []
        for _ in range(entry["rows"]):
            number += 1
            rows.append(_json_line(path, f.readline(), number))
        yield table, iter(rows)


def _create_schema(engine, revision: str | None) -> None:
    if revision != head_revision():
        raise BackupError(f"the backup is at schema revision {revision}, this expertune at {head_revision()}; "
                          "restore it with the expertune version that wrote it, then upgrade")
    upgrade(engine)


# -- restore ----------------------------------------------------------------------------------
def restore(url: str, path: Path, *, replace: bool = False) -> BackupReport:
    """Replace the whole content of the store at `url` with the backup at `path`, verified."""
    path = Path(path)
    engine = make_engine(url)
    upgrade(engine)
    with open_backup(path) as (revision, recorded, tables):
        _create_schema(engine, revision)
        with engine.begin() as conn:
            held = {name: n for name, n in content.row_counts(conn).items() if n}
            if held and not replace:
                raise BackupError(f"{display_url(url)} holds data ({sum(held.values())} rows); restoring replaces "
                                  "all of it: pass --replace (take a backup first if in doubt)")
            content.clear(conn)
            for table, rows in tables:
                content.write_rows(conn, table, rows)
            content.reset_sequences(conn)
            got = content.content_hash(conn)
            expected = recorded
            if expected is None:  # a plain SQLite store used as a backup: it is its own reference
                with _sqlite_conn(path) as src:
                    expected = content.content_hash(src).digest
            if got.digest != expected:
                raise BackupError(f"{path}: the restored store does not match the backup "
                                  f"(hash {got.digest[:12]}… vs {expected[:12]}…); nothing was changed")
    return BackupReport(str(path), _kind(path), revision, got.digest, got.rows)
