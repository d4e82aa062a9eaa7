"""`expertune db status|upgrade`: which database a workspace uses and where its schema stands.

Commands open the store through `open_store`, which upgrades the schema on the way; these two
look without touching it first (status) or upgrade on purpose and say from where to where
(upgrade), which is what a team sharing a PostgreSQL server wants before everyone's commands
start migrating it.
"""

from __future__ import annotations

from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from expertune.errors import ConfigError
from expertune.store import content
from expertune.store.copy import display_url
from expertune.store.db import alembic_config, current_revision, head_revision, make_engine, upgrade


def _engine(url: str):
    try:
        engine = make_engine(url)
        with engine.connect():
            pass
        return engine
    except (SQLAlchemyError, ValueError) as err:
        raise ConfigError(f"store_url {display_url(url)}: cannot open the store ({getattr(err, 'orig', None) or err})") from None


def pending(current: str | None) -> list[str]:
    """Migrations not yet applied, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    revs = [r.revision for r in script.walk_revisions("base", "heads")][::-1]
    return revs[revs.index(current) + 1:] if current in revs else revs


def store_status(url: str) -> dict[str, Any]:
    engine = _engine(url)
    current = current_revision(engine)
    todo = pending(current)
    rows = None
    if not todo:
        with engine.connect() as conn:
            rows = content.row_counts(conn)
    return {"store": display_url(url), "backend": engine.dialect.name, "revision": current, "head": head_revision(),
            "pending": todo, "up_to_date": not todo, "rows": rows}


def upgrade_store(url: str) -> dict[str, Any]:
    engine = _engine(url)
    before = current_revision(engine)
    upgrade(engine)
    return {"store": display_url(url), "from": before, "to": current_revision(engine), "applied": pending(before)}
