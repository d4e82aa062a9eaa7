"""A workspace is a folder with expertune.yaml, the store (expertune.db) and runs/.

Commands find it like git finds a repository: the given folder, else the current folder or a parent.

Only `init` creates a store. Opening an existing workspace whose SQLite file is gone or empty is
refused: SQLite would silently create an empty database there, and every later command would
report an empty dataset as if that were the truth.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal

from pydantic import Field, field_validator

from expertune.config import StrictModel, dump_yaml, load_config
from expertune.errors import ConfigError, StoreError, WorkspaceNotFound, user_path_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

# SQLAlchemy (a quarter of a second to import, half a second with its ORM) is imported when the
# store is opened, not with the workspace: `expertune stats` finds the workspace and reads a
# SQLite store without it (store/readonly.py, tests/cli/test_startup_imports.py).

SETTINGS_FILE = "expertune.yaml"
DB_FILE = "expertune.db"

# Python modules of database drivers -> what to install (SQLAlchemy names the module it missed).
DRIVER_PACKAGES = {"psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pymysql": "PyMySQL",
                   "MySQLdb": "mysqlclient", "asyncpg": "asyncpg", "pg8000": "pg8000", "oracledb": "oracledb",
                   "pyodbc": "pyodbc"}


class SplitSettings(StrictModel):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    stratify: Literal["topic"] | None = None

    @field_validator("test")
    @classmethod
    def _fractions_leave_train(cls, test: float, info) -> float:
        if test + info.data.get("val", 0) >= 1:
            raise ValueError("val + test must be below 1 so some groups remain for training")
        return test


class Settings(StrictModel):
    name: str = "expertune"
    # Any SQLAlchemy URL; empty means SQLite in the workspace folder.
    store_url: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])
    base_model: str = "builtin:smollm2-135m-instruct"
    split: SplitSettings = Field(default_factory=SplitSettings)
    # Thresholds of the curation checks, validated by expertune.curate's own config model.
    checks: dict[str, Any] = Field(default_factory=dict)


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
        return load_config(Settings, self.root / SETTINGS_FILE)

    @property
    def store_url(self) -> str:
        return self.settings.store_url or f"sqlite:///{self.root / DB_FILE}"

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


_SETTINGS_HEADER = """\
# expertune workspace settings. Every key is validated; unknown keys are errors.
# store_url: empty = SQLite file expertune.db here; or any SQLAlchemy URL (postgresql+psycopg://...).
"""
