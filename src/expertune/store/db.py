"""Engine creation, write locking and automatic schema upgrade.

SQLite allows one writer at a time. A transaction that starts as a reader and later writes must
upgrade its lock, and in WAL mode that upgrade fails at once with "database is locked" when
another connection wrote in the meantime: the busy timeout is not used for it. So every
transaction takes the write lock up front (BEGIN IMMEDIATE), where waiting works, unless it is
declared read-only (`READ_ONLY` execution option, `Workspace.session(readonly=True)`), which
never blocks and is never blocked. A writer that waits more than a couple of seconds says so;
one that waits past `EXPERTUNE_LOCK_TIMEOUT` seconds is refused with `StoreBusy`, never a
traceback.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from expertune.errors import ConfigError, ExpertuneError, StoreBusy
from expertune.store.revision import HEAD_REVISION, VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Opening a store compares the stored revision with HEAD_REVISION (store/revision.py), so a
# command on an up-to-date store never imports Alembic (a tenth of a second of start-up, with
# Mako and Pygments behind it).
# Execution option of a connection whose transactions only read.
READ_ONLY = "expertune_read_only"
# A writer waiting longer than this tells the user why it is not moving.
NOTICE_AFTER_S = 2.0
DEFAULT_LOCK_TIMEOUT_S = 600.0


def _notify_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Replaceable (the studio shows it elsewhere); called once per waiting transaction.
notify_wait: Callable[[str], None] = _notify_stderr


def lock_timeout() -> float:
    value = os.environ.get("EXPERTUNE_LOCK_TIMEOUT", "")
    try:
        return float(value) if value else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        raise ExpertuneError(f"EXPERTUNE_LOCK_TIMEOUT={value!r}: expected a number of seconds") from None


def _is_locked(err: BaseException) -> bool:
    return isinstance(err, sqlite3.OperationalError) and ("locked" in str(err) or "busy" in str(err))


def _busy_message(db: str, waited: float | None) -> str:
    how_long = f"has been writing to it for over {waited:.0f} s" if waited is not None else "is writing to it"
    return (f"the store {db} is busy: another expertune command {how_long}; "
            "run this command again when it has finished (or raise EXPERTUNE_LOCK_TIMEOUT)")


def begin_immediate(dbapi_conn: sqlite3.Connection, db: str, timeout: float) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock: quietly at first, then with a notice."""
    started = time.monotonic()
    try:
        for attempt, wait in enumerate((min(NOTICE_AFTER_S, timeout), timeout - NOTICE_AFTER_S)):
            if wait <= 0:
                break
            if attempt:
                notify_wait(f"waiting for another writer to finish with {db}…")
            dbapi_conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if not _is_locked(err):
                    raise
        raise StoreBusy(_busy_message(db, time.monotonic() - started))
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers work while an import writes; synchronous=NORMAL is durable in WAL mode
    # except for the last transactions on power loss, never corrupting.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
    cur.close()


def parse_url(url: str) -> URL:
    """The store URL as SQLAlchemy reads it, or a ConfigError that says what one looks like."""
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(f"{url!r} is not a database URL; use e.g. sqlite:///path/to/expertune.db or "
                          "postgresql+psycopg://user@host/dbname") from None


def make_engine(url: str) -> Engine:
    parse_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": lock_timeout()})
        db = engine.url.database or url
        event.listen(engine, "connect", _sqlite_pragmas)
        # Write transactions this thread holds on this engine. A transaction opened inside one
        # of them cannot get the lock its own thread holds, so it starts as a plain reader.
        held = threading.local()

        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            raw = conn.connection.driver_connection
            if conn.get_execution_options().get(READ_ONLY) or getattr(held, "count", 0):
                raw.execute("BEGIN")
                conn.info["expertune_writer"] = False
                return
            begin_immediate(raw, db, lock_timeout())
            conn.info["expertune_writer"] = True
            held.count = getattr(held, "count", 0) + 1

        def _end(conn):
            if conn.info.pop("expertune_writer", False):
                held.count -= 1

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)

        @event.listens_for(engine, "handle_error")
        def _locked(ctx):
            # Anything that still meets the lock (a read-only transaction that wrote) is refused
            # cleanly rather than crashing.
            if _is_locked(ctx.original_exception):
                raise StoreBusy(_busy_message(db, None)) from None

        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as err:  # the database driver is an optional extra
        extra = ' (use postgresql+psycopg://... with pip install "expertune[postgres]")' if url.startswith("postgresql") else ""
        raise ConfigError(f"store_url {url.split('@')[-1]}: its database driver is not installed: {err.name}{extra}") from None
    if engine.dialect.name == "postgresql":
        from expertune.store import postgres

        postgres.configure(engine)  # one writer at a time, as on SQLite
    return engine


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration's revision, as Alembic reads it from store/migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """Whether the store's one stored revision is HEAD_REVISION, read without Alembic.

    Anything else (no version table, no row, several rows, an older revision) is False and
    left to Alembic, which knows what to make of it."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return False
        stored = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return stored == [HEAD_REVISION]


def unknown_revisions(engine: Engine) -> list[str]:
    """Revisions stored in the database that this expertune's migrations do not know: the store
    was written by a newer expertune (or another program)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions("base", "heads")}
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        stored = MigrationContext.configure(conn).get_current_heads()
    return [rev for rev in stored if rev not in known]


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when already there."""
    if _at_head(engine):
        return
    unknown = unknown_revisions(engine)
    if unknown:
        raise ConfigError(f"store {engine.url.render_as_string(hide_password=True)} is at schema revision "
                          f"{', '.join(unknown)}, which this expertune does not know (its newest is {head_revision()}): "
                          "it was written by a newer expertune; upgrade expertune (pip install -U expertune) to use it")
    if current_revision(engine) == head_revision():
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
