"""A workspace is a folder with expertune.yaml, the store (expertune.db) and runs/.

Commands find it like git finds a repository: the given folder, else the current folder or a parent.

Only `init` creates a store. Opening an existing workspace whose SQLite file is gone or empty is
refused: SQLite would silently create an empty database there, and every later command would
report an empty dataset as if that were the truth.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from expertune.cachedir import cache_dir
from expertune.errors import ConfigError, StoreError, WorkspaceNotFound, user_path_errors
from expertune.yamlfile import parse_yaml, read_text

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from expertune.settings import Settings

# SQLAlchemy (a quarter of a second to import, half a second with its ORM) is imported when the
# store is opened, and pydantic (a fifth of a second with its first model) when the settings are,
# not with the workspace: `expertune stats` finds the workspace and reads a SQLite store without
# either (store/readonly.py, tests/cli/test_startup_imports.py).

SETTINGS_FILE = "expertune.yaml"
DB_FILE = "expertune.db"

# Python modules of database drivers -> what to install (SQLAlchemy names the module it missed).
DRIVER_PACKAGES = {"psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pymysql": "PyMySQL",
                   "MySQLdb": "mysqlclient", "asyncpg": "asyncpg", "pg8000": "pg8000", "oracledb": "oracledb",
                   "pyodbc": "pyodbc"}


class Workspace:
    def __init__(self, root: Path, *, create_store: bool = False):
        self.root = root.resolve()
        self._create_store = create_store

    # -- locating ---------------------------------------------------------------------------
    @classmethod
    def find(cls, start: Path | None = None) -> "Workspace":
        here = (start or Path.cwd()).resolve()
        if start is not None:
            if (here / SETTINGS_FILE).is_file():
                return cls(here)
            raise WorkspaceNotFound(f"{here} is not an expertune workspace (no {SETTINGS_FILE}); run `expertune init {start}`")
        for folder in (here, *here.parents):
            if (folder / SETTINGS_FILE).is_file():
                return cls(folder)
        raise WorkspaceNotFound(
            f"no expertune workspace here or in a parent of {here}; run `expertune init` or pass -w DIR"
        )

    @classmethod
    def init(cls, root: Path, *, name: str | None = None, store_url: str | None = None) -> "Workspace":
        if root.exists() and not root.is_dir():
            raise ConfigError(f"{root}: is a file, not a folder; name a new or existing folder for the workspace")
        with user_path_errors(None, root):
            root.mkdir(parents=True, exist_ok=True)
            settings_path = root / SETTINGS_FILE
            if not settings_path.exists():
                from expertune.config import dump_yaml
                from expertune.settings import Settings

                settings = Settings(name=name or root.resolve().name, store_url=store_url)
                settings_path.write_text(_SETTINGS_HEADER + dump_yaml(settings), encoding="utf-8")
            ws = cls(root, create_store=True)
            for sub in ("runs", "exports"):
                (ws.root / sub).mkdir(exist_ok=True)
        ws.engine  # creates the store and runs migrations
        return ws

    # -- settings and store -----------------------------------------------------------------
    @cached_property
    def settings(self) -> Settings:
        """expertune.yaml, validated whole."""
        from expertune.config import validate
        from expertune.settings import Settings

        path = self.root / SETTINGS_FILE
        text = read_text(path)
        settings = validate(Settings, parse_yaml(text, path), str(path))
        _remember_valid(text)
        return settings

    @cached_property
    def store_url(self) -> str:
        """Where the store is, from expertune.yaml.

        Validating the file costs pydantic's start-up (a fifth of a second), more than a quick
        command (`stats`) takes in all; so a text that passed validation before is read as it is.
        A new text is validated first: a typo is refused by every command.
        """
        path = self.root / SETTINGS_FILE
        text = read_text(path)
        url = parse_yaml(text, path).get("store_url") if _known_valid(text) else self.settings.store_url
        return url or f"sqlite:///{self.root / DB_FILE}"

    @property
    def sqlite_file(self) -> Path | None:
        """The database file when the store is SQLite on disk (None for a server or in memory)."""
        url = self.store_url
        plain = url.removeprefix("sqlite:///")
        # The usual URL (the default one among them) is a path after "sqlite:///", which SQLAlchemy
        # would read the same way; anything else (a query, a %-escape, a driver name, another
        # database) is left to SQLAlchemy.
        if plain != url and not any(c in plain for c in "?%"):
            return Path(plain) if plain not in ("", ":memory:") else None
        from sqlalchemy import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError:
            return None
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return Path(parsed.database)

    @cached_property
    def _store(self) -> tuple[Engine, sessionmaker[Session]]:
        from sqlalchemy.exc import DatabaseError, SQLAlchemyError

        from expertune.store.db import open_store

        db = self.sqlite_file
        if db is not None and not self._create_store:
            self._refuse_missing_store(db)
        try:
            return open_store(self.store_url)
        except ImportError as err:  # the URL names a driver that is not installed
            package = DRIVER_PACKAGES.get((err.name or "").split(".")[0], err.name)
            raise ConfigError(f"{self.root / SETTINGS_FILE}: store_url needs the database driver {err.name!r}, which is "
                              f"not installed; install it with `pip install {package}`") from None
        except DatabaseError as err:
            if db is None:
                raise ConfigError(f"{self.root / SETTINGS_FILE}: store_url: cannot open the store ({err.orig})") from None
            raise StoreError(
                f"{db}: not a readable SQLite database ({err.orig}). Restore it from a backup, or recover what "
                f"is readable with `sqlite3 {db} .recover | sqlite3 recovered.db` and move recovered.db into "
                f"its place") from None
        except (SQLAlchemyError, ValueError) as err:  # a bad URL or unreachable server is a settings problem
            raise ConfigError(f"{self.root / SETTINGS_FILE}: store_url: cannot open the store ({err})") from None

    def _refuse_missing_store(self, db: Path) -> None:
        wal = db.with_name(db.name + "-wal")
        if db.is_file() and (db.stat().st_size > 0 or (wal.is_file() and wal.stat().st_size > 0)):
            return
        state = "is empty (0 bytes)" if db.is_file() else "is missing"
        raise StoreError(
            f"{db}: the store of workspace {self.root} {state}. Restore expertune.db from a backup; to start "
            f"over with an empty store, run `expertune init {self.root}`")

    @property
    def engine(self) -> Engine:
        return self._store[0]

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error.

        It holds the store's write lock from the start (see store/db.py) unless `readonly`."""
        from expertune.store.db import READ_ONLY

        with self._store[1].begin() as session:
            if readonly:
                session.connection(execution_options={READ_ONLY: True})
            yield session

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"


def _validity_marker(text: str) -> Path | None:
    """A file in the cache whose presence says `text` passed validation against this schema (None
    where the schema's source cannot be read, as in a frozen build: every command validates then).

    Addressed by the text and by the source of the modules defining the schema, so an edit of
    either is a new address: nothing to invalidate.
    """
    digest = hashlib.sha256(text.encode())
    try:
        for module in ("settings.py", "config.py"):
            digest.update(Path(__file__).with_name(module).read_bytes())
    except OSError:
        return None
    return cache_dir() / "valid-settings" / digest.hexdigest()


def _known_valid(text: str) -> bool:
    marker = _validity_marker(text)
    return marker is not None and marker.is_file()


def _remember_valid(text: str) -> None:
    marker = _validity_marker(text)
    if marker is None or marker.is_file():
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:  # a read-only cache costs the next command a validation, nothing else
        pass


_SETTINGS_HEADER = """\
# expertune workspace settings. Every key is validated; unknown keys are errors.
# store_url: empty = SQLite file expertune.db here; or any SQLAlchemy URL (postgresql+psycopg://...).
"""
