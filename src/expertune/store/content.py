"""The store's content, independent of the database behind it: rows, their encoding and a hash.

Moving a workspace between SQLite and PostgreSQL, backing it up and restoring it all need one
notion of "the same content". Each row is encoded column by column into plain JSON values by
column *type* (timestamps as UTC ISO strings, JSON columns as their parsed value, booleans as
booleans), so what SQLite and PostgreSQL hand back for the same data encodes identically. The
content hash is a SHA-256 over every table of the schema (sorted by name), its columns and its
rows sorted by primary key, plus the schema revision; it does not depend on the backend, on row
order on disk or on sequence positions. A copy, a backup and a restore are verified by comparing
it before committing.

Reads that must see one consistent state while others write use `snapshot()`: a REPEATABLE READ,
read-only transaction on PostgreSQL, a read transaction (a WAL snapshot) on SQLite.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from sqlalchemy import JSON, Boolean, Connection, DateTime, Engine, Float, Integer, Table, delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from expertune.errors import ExpertuneError
from expertune.store.tables import Base  # importing tables registers every table on Base.metadata

CHUNK = 2000


def tables() -> list[Table]:
    """Every table of the schema, parents before children (the order to insert them in)."""
    return list(Base.metadata.sorted_tables)


# -- encoding ---------------------------------------------------------------------------------
def encode(column, value: Any) -> Any:
    """A column value as a plain JSON value that is the same whichever backend returned it."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        # SQLite hands back naive datetimes (stored in UTC), PostgreSQL aware ones.
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(kind, Boolean):
        return bool(value)
    if isinstance(kind, Float):
        return float(value)
    if isinstance(kind, Integer):
        return int(value)
    if isinstance(kind, JSON):
        return value
    if isinstance(value, str):
        return value
    raise TypeError(f"{column.table.name}.{column.name}: no portable encoding for {type(value).__name__}")


def decode(column, value: Any) -> Any:
    """The inverse of `encode`: a value ready to insert into either backend."""
    if value is not None and isinstance(column.type, DateTime):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return value


def _pk_order(table: Table):
    return [c for c in table.primary_key.columns]


def read_rows(conn: Connection, table: Table) -> Iterator[list[Any]]:
    """The table's rows, encoded, in primary-key order (ties in collation are sorted by the hash)."""
    result = conn.execution_options(stream_results=True).execute(select(table).order_by(*_pk_order(table)))
    for part in result.partitions(CHUNK):
        for row in part:
            yield [encode(col, v) for col, v in zip(table.columns, row)]


class WriteError(ExpertuneError):
    """A row the target database refuses (PostgreSQL: NUL characters, over-long strings)."""


def write_rows(conn: Connection, table: Table, rows: Iterable[list[Any]]) -> int:
    """Insert encoded rows (columns in table order) into `table`; returns how many.

    A refused row is reported by table and primary key with the database's reason; the caller's
    transaction is then rolled back, so nothing of a failed copy or restore is committed.
    """
    cols = list(table.columns)
    n, batch = 0, []
    for row in rows:
        batch.append({c.name: decode(c, v) for c, v in zip(cols, row)})
        if len(batch) == CHUNK:
            n += _insert(conn, table, batch)
            batch = []
    if batch:
        n += _insert(conn, table, batch)
    return n


def _insert(conn: Connection, table: Table, batch: list[dict[str, Any]]) -> int:
    try:
        with conn.begin_nested():
            conn.execute(insert(table), batch)
        return len(batch)
    except (DBAPIError, ExpertuneError) as err:  # the PostgreSQL engine turns some refusals into clean errors
        culprit = _first_refused(conn, table, batch)
        pk = ", ".join(f"{c.name}={culprit[c.name]!r}" for c in table.primary_key.columns) if culprit else "?"
        reason = getattr(err, "detail", None) or str(getattr(err, "orig", err)).strip().splitlines()[0]
        raise WriteError(f"{table.name} row {pk}: the target database refuses it ({reason}); fix it in the "
                         "source store and try again; nothing was committed") from None


def _first_refused(conn: Connection, table: Table, batch: list[dict[str, Any]]) -> dict[str, Any] | None:
    for row in batch:
        try:
            with conn.begin_nested():
                conn.execute(insert(table), [row])
                raise _Probe
        except _Probe:
            continue
        except (DBAPIError, ExpertuneError):
            return row
    return None


class _Probe(Exception):
    """Rolls back a probing insert's savepoint."""


def clear(conn: Connection) -> None:
    """Delete every row of every table, children first."""
    for table in reversed(tables()):
        conn.execute(delete(table))


def row_counts(conn: Connection) -> dict[str, int]:
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables()}


def reset_sequences(conn: Connection) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequences past them (SQLite needs nothing:
    it takes max(id) + 1)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX({pk[0].name}), 1), MAX({pk[0].name}) IS NOT NULL) "
            f"FROM {table.name}"
        ), {"t": table.name, "c": pk[0].name})


# -- hashing ----------------------------------------------------------------------------------
def _line(values: Any) -> bytes:
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass
class ContentHash:
    digest: str
    revision: str | None
    tables: dict[str, str] = field(default_factory=dict)  # table -> its own hash, to say what differs
    rows: dict[str, int] = field(default_factory=dict)

    def differences(self, other: "ContentHash") -> list[str]:
        out = [f"schema revision {self.revision} vs {other.revision}"] if self.revision != other.revision else []
        for name in sorted(set(self.tables) | set(other.tables)):
            if self.tables.get(name) != other.tables.get(name):
                out.append(f"{name}: {self.rows.get(name, 0)} vs {other.rows.get(name, 0)} rows, content differs")
        return out


def content_hash(conn: Connection) -> ContentHash:
    """The backend-independent hash of everything in the store, as `conn` sees it."""
    revision = current_revision_of(conn)
    total = hashlib.sha256(_line(["revision", revision]))
    result = ContentHash(digest="", revision=revision)
    for table in sorted(tables(), key=lambda t: t.name):
        h = hashlib.sha256(_line([table.name, [c.name for c in table.columns]]))
        # Sorting the encoded lines in Python makes the order independent of collations.
        lines = sorted(_line(row) for row in read_rows(conn, table))
        for line in lines:
            h.update(b"\n" + line)
        result.tables[table.name] = h.hexdigest()
        result.rows[table.name] = len(lines)
        total.update(f"\n{table.name}:{h.hexdigest()}".encode())
    result.digest = total.hexdigest()
    return result


def current_revision_of(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


# -- consistent reads -------------------------------------------------------------------------
@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one committed state, without blocking writers."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    else:
        conn = engine.connect()
    with conn, conn.begin():
        if engine.dialect.name == "sqlite":
            # A deferred transaction takes its WAL snapshot at the first read: take it now.
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
        yield conn
