"""PostgreSQL specifics: one writer at a time, like SQLite, so both backends keep the same promises.

The store's guarantees (an import is one transaction that sees what is already stored and skips
duplicates; a stale edit is refused; nobody crashes because someone else is writing) were designed
around SQLite, where one transaction writes at a time. Under PostgreSQL's default READ COMMITTED
two imports of overlapping files would both insert the same new prompt group and one would die on
the unique constraint. Rather than a retry loop per write path, every transaction takes one
transaction-scoped advisory lock just before its first write: writers queue, readers never wait,
and the lock is released by COMMIT or ROLLBACK. A transaction's reads after its first write see
everything committed before it got the lock, so an import reads the stored keys only once it
holds the lock (its first write is its batch row). Because no transaction holds row locks without
the writer lock, writers cannot deadlock on rows.

A writer that has to wait says so (a log warning, shown on stderr by the CLI) and gives up with a
clean error after WAIT_LIMIT_S.
"""

from __future__ import annotations

import logging
import math
import re

from sqlalchemy import Engine, event

from expertune.errors import ExpertuneError

log = logging.getLogger(__name__)

# Any int64 names the lock; this one is "expertune" in hex-ish form. Advisory locks are per database.
WRITER_LOCK_KEY = 0x657870657274756E
WAIT_LIMIT_S = 600
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|COMMENT|MERGE)\b", re.IGNORECASE)
_LOCKING_READ = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b", re.IGNORECASE)
_HELD = "expertune_writer_lock"


class StoreBusy(ExpertuneError):
    """Another writer held the store longer than we were willing to wait."""


class ValueRefused(ExpertuneError):
    """A value PostgreSQL will not store though SQLite would: an over-long string, a NUL character,
    NaN or Infinity inside a JSON value."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"PostgreSQL refuses the value: {detail}; shorten it or remove the character and "
                         "try again (nothing was written)")


def is_write(statement: str) -> bool:
    return bool(_WRITE.match(statement) or _LOCKING_READ.search(statement))


def acquire_writer_lock(dbapi_conn) -> None:
    """Take the store's writer lock for the current transaction, waiting (with a message) if needed."""
    with dbapi_conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))
        if cur.fetchone()[0]:
            return
        log.warning("waiting for another writer to finish (an import or a long edit)…")
        cur.execute("SELECT current_setting('lock_timeout')")
        previous = cur.fetchone()[0]
        cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(WAIT_LIMIT_S * 1000)}ms",))
        try:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))
        except Exception as err:
            if getattr(err, "sqlstate", None) == "55P03":  # lock_not_available
                raise StoreBusy(
                    f"another writer has held the store for more than {WAIT_LIMIT_S} s; nothing was written. "
                    "Try again when it has finished (see who with `SELECT * FROM pg_stat_activity`)"
                ) from None
            raise
        cur.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))


def _refused_values(ctx) -> str:
    """Name the values of the failed statement that break a declared length or contain NUL."""
    statement = getattr(getattr(ctx.execution_context, "compiled", None), "statement", None)
    table = getattr(statement, "table", None)
    columns = {c.name: c for c in getattr(table, "columns", [])}
    rows = ctx.parameters if isinstance(ctx.parameters, (list, tuple)) else [ctx.parameters]
    found = []
    for row in rows:
        for key, value in (row or {}).items() if isinstance(row, dict) else ():
            if _non_finite(getattr(value, "obj", value)):  # psycopg wraps JSON parameters in Json(obj)
                found.append(f"{getattr(table, 'name', '?')}.{key} holds NaN or Infinity, which JSON (and "
                             "PostgreSQL's json type) cannot represent")
            if not isinstance(value, str):
                continue
            length = getattr(getattr(columns.get(key), "type", None), "length", None)
            if length and len(value) > length:
                found.append(f"{getattr(table, 'name', '?')}.{key} is {len(value)} characters, at most {length} fit")
            if "\x00" in value:
                found.append(f"{getattr(table, 'name', '?')}.{key} contains a NUL character")
    return "; ".join(dict.fromkeys(found)) or str(ctx.original_exception).splitlines()[0]


def _non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    return False


def configure(engine: Engine) -> None:
    """Install the writer lock, and clean errors for values PostgreSQL refuses, on an engine."""

    @event.listens_for(engine, "handle_error")
    def _clean_value_errors(ctx):
        orig = ctx.original_exception
        refused = getattr(orig, "sqlstate", None) == "22001" or "cannot contain NUL" in str(orig)
        refused = refused or (getattr(orig, "sqlstate", None) == "22P02" and "type json" in str(orig))
        if refused:
            raise ValueRefused(_refused_values(ctx))

    @event.listens_for(engine, "begin")
    def _new_transaction(conn):
        conn.info[_HELD] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _lock_before_first_write(conn, cursor, statement, parameters, context, executemany):
        if conn.info.get(_HELD) or not is_write(statement):
            return
        if conn.in_transaction():  # autocommit statements (VACUUM, CREATE DATABASE) need no lock
            acquire_writer_lock(conn.connection.dbapi_connection)
            conn.info[_HELD] = True
