"""Importing files into the store: one transaction per command, idempotent by content hash.

All files of one import are parsed first, so every problem in every file is reported at once;
then, unless something was rejected (and rejects are not allowed), all of them are written in
one short transaction: `import good1 bad good2` writes nothing, and a missing file counts as a
rejected file. Parsing happens before the write lock is taken, so other writers wait only for
the inserts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from expertune.data.formats import detect_format, parse_file
from expertune.data.records import Record, Reject
from expertune.errors import InputError
from expertune.hashing import file_sha256
from expertune.store.tables import STATUSES, ImportBatch, ImportReject, PromptGroup, Provenance, Response, Topic
from expertune.workspace import Workspace

# Writes go to the store in chunks inside the one transaction, so memory stays flat on large files.
CHUNK = 5000

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    file: str
    format: str
    read: int = 0
    imported_groups: int = 0
    imported_responses: int = 0
    rejected: int = 0
    duplicates: int = 0
    committed: bool = False
    batch_id: int | None = None
    rejects: list[Reject] = field(default_factory=list)
    duplicate_lines: list[int] = field(default_factory=list)

    @property
    def unreadable(self) -> bool:
        """The whole file could not be read (missing, a folder, bad header): one reject on line 0."""
        return any(r.line == 0 for r in self.rejects)

    @property
    def good(self) -> int:
        """Records that parsed and can be imported."""
        return 0 if self.unreadable else self.read - self.rejected

    def as_dict(self) -> dict:
        d = asdict(self)
        d["good"] = self.good
        d["rejects"] = [{"line": r.line, "reason": r.reason} for r in self.rejects]
        return d


def import_file(ws: Workspace, path: Path, **kwargs) -> ImportReport:
    """Import one file; see `import_files`. A whole-file problem (missing file, unreadable CSV
    header) raises InputError here, since there is no other file to report it next to."""
    (report,) = import_files(ws, [path], **kwargs)
    if report.unreadable:
        raise InputError(f"{path}: {report.rejects[0].reason}")
    return report


def import_files(
    ws: Workspace,
    paths: Iterable[Path],
    *,
    fmt: str = "auto",
    topic: str | None = None,
    status: str = "accepted",
    csv_map: dict[str, str] | None = None,
    allow_rejects: bool = False,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """Parse every file of `paths`, then add their records to the store in one transaction.

    Every input record ends up imported, skipped as a duplicate of stored content, or rejected
    with its line and reason; a file that cannot be read at all is one reject on line 0. With any
    reject in any file and no `allow_rejects`, nothing is written, so the user fixes the files
    and runs the same command again.
    """
    if status not in STATUSES:
        raise InputError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    parsed = [_parse(Path(p), fmt, topic, csv_map) for p in paths]
    reports = [report for report, _ in parsed]
    if any(r.rejects for r in reports) and not allow_rejects:
        return reports

    total = sum(len(records) for _, records in parsed)
    done = 0

    def file_progress(n: int, _: int) -> None:
        if progress:
            progress(done + n, total)

    with ws.session() as session:
        for report, records in parsed:
            path = Path(report.file)
            if report.unreadable:  # allowed by --allow-rejects, but there is nothing to batch
                continue
            batch = ImportBatch(
                source_path=str(path.resolve()),
                file_sha256=file_sha256(path),
                format=report.format,
                options={"topic": topic, "status": status, "csv_map": csv_map, "format": fmt},
            )
            session.add(batch)
            session.flush()
            report.batch_id = batch.id
            _write_records(session, batch, records, status, report, file_progress)
            done += len(records)
            if report.rejects:
                session.execute(
                    insert(ImportReject),
                    [{"batch_id": batch.id, "line": r.line, "reason": r.reason} for r in report.rejects],
                )
            batch.counts = {k: v for k, v in report.as_dict().items() if isinstance(v, int) and k != "batch_id"}
    for report in reports:
        report.committed = report.batch_id is not None
    return reports


def _parse(path: Path, fmt: str, topic: str | None, csv_map: dict[str, str] | None) -> tuple[ImportReport, list[Record]]:
    """The file's report (reads and rejects) and its records; nothing touches the store."""
    report = ImportReport(file=str(path), format=fmt)
    records: list[Record] = []
    try:
        if path.is_dir():
            raise InputError(f"is a folder, not a file; name the files in it (e.g. {path / '*.jsonl'})")
        if not path.is_file():
            raise InputError("no such file")
        report.format = fmt if fmt != "auto" else detect_format(path)
        for outcome in parse_file(path, fmt, csv_map=csv_map, default_topic=topic):
            report.read += 1
            if isinstance(outcome, Reject):
                report.rejects.append(outcome)
            else:
                records.append(outcome)
    except InputError as err:  # a whole-file problem: the file is one reject, reported with the others
        report.rejects.append(Reject(0, str(err)))
        records = []
    report.rejected = len(report.rejects)
    return report, records


def _write_records(
    session: Session,
    batch: ImportBatch,
    records: list[Record],
    status: str,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    group_ids: dict[str, int] = dict(session.execute(select(PromptGroup.key, PromptGroup.id)).all())
    seen_responses: set[str] = set(session.scalars(select(Response.key)))
    topic_ids: dict[str, int] = {name: id_ for name, id_ in session.execute(select(Topic.name, Topic.id))}

    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        new_groups: dict[str, Record] = {}
        fresh: list[tuple[Record, str, str]] = []
        for rec in chunk:
            gkey, rkey = rec.group_key(), rec.response_key()
            if rkey in seen_responses:
                report.duplicates += 1
                report.duplicate_lines.append(rec.line)
                continue
            seen_responses.add(rkey)
            if gkey not in group_ids and gkey not in new_groups:
                new_groups[gkey] = rec
            fresh.append((rec, gkey, rkey))

        for rec in new_groups.values():
            if rec.topic and rec.topic not in topic_ids:
                topic_ids[rec.topic] = session.execute(
                    insert(Topic).returning(Topic.id), [{"name": rec.topic, "in_domain": True}]
                ).scalar_one()
        if new_groups:
            rows = [_group_row(gkey, rec, topic_ids) for gkey, rec in new_groups.items()]
            for gid, gkey in session.execute(insert(PromptGroup).returning(PromptGroup.id, PromptGroup.key), rows):
                group_ids[gkey] = gid
            report.imported_groups += len(rows)

        if fresh:
            rows = [_response_row(rec, group_ids[gkey], rkey, status) for rec, gkey, rkey in fresh]
            ids = session.execute(insert(Response).returning(Response.id, sort_by_parameter_order=True), rows).scalars().all()
            session.execute(
                insert(Provenance),
                [
                    {"response_id": rid, "batch_id": batch.id, "source_path": batch.source_path, "line": rec.line}
                    for rid, (rec, _, _) in zip(ids, fresh)
                ],
            )
            report.imported_responses += len(rows)
        if progress:
            progress(min(start + CHUNK, len(records)), len(records))


def _group_row(gkey: str, rec: Record, topic_ids: dict[str, int]) -> dict:
    return {
        "key": gkey,
        "system": rec.system,
        "context": [t.as_dict() for t in rec.context],
        "prompt": rec.prompt,
        "topic_id": topic_ids.get(rec.topic) if rec.topic else None,
        "tags": list(rec.tags),
        "kind": "mcq" if rec.mcq else "chat",
        "mcq": rec.mcq.as_dict() if rec.mcq else None,
    }


def _response_row(rec: Record, group_id: int, rkey: str, status: str) -> dict:
    return {
        "group_id": group_id,
        "key": rkey,
        "text": rec.response,
        "status": rec.status or status,
        "rating": rec.rating,
        "preferred": rec.preferred,
        "author_kind": rec.author_kind,
        "author": rec.author,
        "gen_params": rec.gen_params,
        "meta": rec.meta,
    }
