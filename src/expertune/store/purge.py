"""`expertune purge RESPONSE --reason …`: erase a response's text for real, history included.

Redaction and edits keep the original in the revision history by design (nothing is lost). A
data-protection request needs the opposite: the text gone from the store. Purging a response
- replaces its text with a marker, drops its `meta` (imported extra fields may hold personal
  data), marks it rejected so no export or training uses it, and gives it a key that is no longer
  a hash of the text;
- blanks `before`/`after` of every text revision of that response (the original, redactions,
  edits: every value the text ever had);
- writes a tombstone revision saying who purged it, when and why (the reason is a note, not data);
- searches every text and JSON column of every table for any value the text ever had and reports
  where it still occurs (another response with the same answer, a future table), since only the
  user can decide whether those copies are the same person's data;
- lists the files outside the store that may hold it (the import source lines, exported dataset
  versions), which the store cannot erase;
- then erases the bytes: SQLite runs with secure_delete, VACUUMs and truncates the WAL, so the
  text is in neither the database file nor its WAL; PostgreSQL rewrites the touched tables with
  VACUUM FULL, after which the old rows are in no table file (the server's WAL, replicas and
  backups keep them until they are recycled: say so to whoever asked for the erasure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, String, Text, func, or_, select, text, update

from expertune.errors import InputError, NotFound, StaleEditError
from expertune.store.content import tables
from expertune.store.tables import DatasetVersion, DatasetVersionItem, Provenance, Response, Revision, utcnow
from expertune.workspace import Workspace

MARKER = "[purged]"
SHOWN = 20


@dataclass
class PurgeReport:
    response_id: int
    version: int
    revisions_blanked: int
    tombstone_id: int
    elsewhere: list[str] = field(default_factory=list)  # "table.column row <pk>" still holding the text
    files: list[str] = field(default_factory=list)  # outside the store, may hold the text
    erased_on_disk: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def purge_response(ws: Workspace, response_id: int, *, reason: str, author: str) -> PurgeReport:
    if not reason or not reason.strip():
        raise InputError("--reason: say why the text is purged (e.g. the data-protection request it answers)")
    with ws.session() as s:
        if ws.engine.dialect.name == "sqlite":
            s.connection().exec_driver_sql("PRAGMA secure_delete=ON")  # freed bytes are zeroed
        r = s.get(Response, response_id)
        if r is None:
            raise NotFound(f"response {response_id} does not exist")
        history = list(s.scalars(select(Revision).where(
            Revision.entity == "response", Revision.entity_id == response_id, Revision.field == "text")))
        earlier = [rev for rev in history if rev.reason == "purge"]
        if earlier and r.text == MARKER:
            raise InputError(f"response {response_id} was already purged (revision {earlier[-1].id}, "
                             f"{earlier[-1].created_at:%Y-%m-%d}); use `expertune purge --vacuum` to redo the on-disk step")
        texts = {r.text} | {v for rev in history for v in (rev.before, rev.after) if isinstance(v, str) and v}
        texts.discard(MARKER)
        version = r.version
        done = s.execute(
            update(Response).where(Response.id == response_id, Response.version == version)
            .values(text=MARKER, key=f"purged-{response_id}", meta=None, status="rejected", preferred=False,
                    version=version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise StaleEditError(f"response {response_id} changed while it was being purged; run the purge again")
        s.execute(update(Revision).where(Revision.id.in_([rev.id for rev in history])).values(before=None, after=None)
                  .execution_options(synchronize_session=False))
        tombstone = Revision(entity="response", entity_id=response_id, field="text", before=None, after=None,
                             from_version=version, to_version=version + 1, author=author, reason="purge",
                             note=reason.strip())
        s.add(tombstone)
        s.flush()
        report = PurgeReport(response_id, version + 1, len(history), tombstone.id)
        report.elsewhere = find_text(s, texts)
        report.files = _outside_files(s, response_id)
    report.erased_on_disk = erase_freed_bytes(ws.engine)
    return report


def _patterns(value: str) -> list[str]:
    """The text as stored in a text column and as it appears inside a JSON document."""
    out = [value]
    for ascii_only in (True, False):
        quoted = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        if quoted not in out:
            out.append(quoted)
    return out


def find_text(session, texts: set[str]) -> list[str]:
    """Where any of `texts` still occurs in a text or JSON column, as "table.column row pk"."""
    if not texts:
        return []
    find = func.instr if session.get_bind().dialect.name == "sqlite" else func.strpos
    found: list[str] = []
    for table in tables():
        pk = list(table.primary_key.columns)
        for column in table.columns:
            if not isinstance(column.type, (String, Text, JSON)):
                continue
            as_text = func.cast(column, Text) if isinstance(column.type, JSON) else column
            hits = [find(as_text, p) > 0 for t in texts for p in _patterns(t)]
            query = select(*pk).where(or_(*hits)).limit(SHOWN)
            for row in session.execute(query):
                found.append(f"{table.name}.{column.name} row {', '.join(str(v) for v in row)}")
    return found


def _outside_files(session, response_id: int) -> list[str]:
    files = [f"{path}:{line}" if line else str(path) for path, line in session.execute(
        select(Provenance.source_path, Provenance.line).where(Provenance.response_id == response_id)) if path]
    files += [f"{path} (dataset version {name or vid})" for vid, name, path in session.execute(
        select(DatasetVersion.id, DatasetVersion.name, DatasetVersion.path)
        .join(DatasetVersionItem, DatasetVersionItem.version_id == DatasetVersion.id)
        .where(DatasetVersionItem.response_id == response_id))]
    return files


def erase_freed_bytes(engine) -> str:
    """Make the database files forget what was just overwritten; returns what was done."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside any transaction: VACUUM refuses to run inside one
        try:
            raw.driver_connection.isolation_level = None
            raw.execute("PRAGMA secure_delete=ON")
            raw.execute("VACUUM")
            busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            raw.close()
        if busy:
            return ("SQLite: VACUUM done, but readers kept the WAL from being truncated; run the purge's "
                    "last step again with `expertune purge --vacuum` when nobody is using the store")
        return "SQLite: secure_delete, VACUUM and WAL checkpoint (TRUNCATE): the text is in neither the database file nor its WAL"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (FULL) {Response.__tablename__}, {Revision.__tablename__}"))
    return ("PostgreSQL: VACUUM FULL rewrote responses and revisions, so no table file holds the text; the "
            "server's WAL, replicas and backups keep it until they are recycled")
