"""`expertune db copy --to URL`: move a workspace's store to another database, losslessly.

The copy reads the source in one consistent snapshot (others may keep writing), creates the
target's schema with the same Alembic migrations, inserts every row with its ids, moves
PostgreSQL's id sequences past them, and commits only if the target's content hash (see
store/content.py) equals the source's. The target must be empty: a copy never merges.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from expertune.errors import ConfigError, ExpertuneError
from expertune.store import content
from expertune.store.db import current_revision, head_revision, make_engine, upgrade


class CopyError(ExpertuneError):
    pass


@dataclass
class CopyReport:
    source: str
    target: str
    rows: dict[str, int]
    content_hash: str

    def as_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "rows": self.rows, "total_rows": sum(self.rows.values()),
                "content_hash": self.content_hash}


def display_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def open_target(url: str):
    """An engine on `url` with the current schema, refused when it already holds any data."""
    try:
        engine = make_engine(url)
        upgrade(engine)
        with engine.connect() as conn:
            counts = {name: n for name, n in content.row_counts(conn).items() if n}
    except SQLAlchemyError as err:
        raise ConfigError(f"--to {display_url(url)}: cannot open the target store ({err.__class__.__name__}: {err.orig if hasattr(err, 'orig') else err})") from None
    if counts:
        held = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        raise CopyError(f"{display_url(url)} already holds data ({held} rows); copy into an empty database "
                        "(create a new one, or drop this one if it is a failed earlier copy)")
    return engine


def check_source_revision(engine, url: str) -> None:
    rev, head = current_revision(engine), head_revision()
    if rev != head:
        raise CopyError(f"{display_url(url)} is at schema revision {rev}, this expertune at {head}; "
                        "run `expertune db upgrade` first")


def copy_store(source_url: str, target_url: str) -> CopyReport:
    if make_url(source_url) == make_url(target_url):
        raise CopyError(f"--to {display_url(target_url)} is the workspace's own store; give another database")
    source = make_engine(source_url)
    check_source_revision(source, source_url)
    target = open_target(target_url)
    with content.snapshot(source) as src, target.begin() as dst:
        rows = {t.name: content.write_rows(dst, t, content.read_rows(src, t)) for t in content.tables()}
        content.reset_sequences(dst)
        before, after = content.content_hash(src), content.content_hash(dst)
        if before.digest != after.digest:  # leaving the block with an error rolls the target back
            raise CopyError(f"the copy differs from the source ({'; '.join(before.differences(after))}); "
                            "nothing was committed to the target")
    return CopyReport(display_url(source_url), display_url(target_url), rows, after.digest)
