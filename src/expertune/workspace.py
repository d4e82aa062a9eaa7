"""A workspace is a folder with expertune.yaml, the store (expertune.db) and runs/.

Commands find it like git finds a repository: the given folder, else the current folder or a parent.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import Field, field_validator
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from expertune.config import StrictModel, dump_yaml, load_config
from expertune.errors import ConfigError, WorkspaceNotFound
from expertune.store.db import READ_ONLY, open_store

SETTINGS_FILE = "expertune.yaml"
DB_FILE = "expertune.db"


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
    def __init__(self, root: Path):
        self.root = root.resolve()

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
        root.mkdir(parents=True, exist_ok=True)
        settings_path = root / SETTINGS_FILE
        if not settings_path.exists():
            settings = Settings(name=name or root.resolve().name, store_url=store_url)
            settings_path.write_text(_SETTINGS_HEADER + dump_yaml(settings), encoding="utf-8")
        ws = cls(root)
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

    @cached_property
    def _store(self) -> tuple[Engine, sessionmaker[Session]]:
        try:
            return open_store(self.store_url)
        except (SQLAlchemyError, ValueError) as err:  # a bad URL or unreachable server is a settings problem
            raise ConfigError(f"{self.root / SETTINGS_FILE}: store_url: cannot open the store ({err})") from None

    @property
    def engine(self) -> Engine:
        return self._store[0]

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error.

        It holds the store's write lock from the start (see store/db.py) unless `readonly`."""
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
