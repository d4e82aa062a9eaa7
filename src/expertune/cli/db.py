"""Store administration: `db status|upgrade|copy`, `backup`, `restore`, `purge`."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import List, Optional

import typer

from expertune.cli.common import JsonOpt, console, emit, err_console, workspace

db_app = typer.Typer(help="The store: schema status and upgrade, copy to another database.", no_args_is_help=True)


def _out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@db_app.command("status")
def status(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Which database the workspace uses, its schema revision and pending migrations (changes nothing)."""
    from expertune.store.status import store_status

    data = store_status(workspace(ctx).store_url)

    def render(d):
        _out(f"store: {d['store']} ({d['backend']})")
        _out(f"schema: {d['revision']} (newest {d['head']}) — " +
             ("up to date" if d["up_to_date"] else f"{len(d['pending'])} migration(s) pending: run `expertune db upgrade`"))
        if d["rows"] and any(d["rows"].values()):
            _out("rows: " + ", ".join(f"{k} {v}" for k, v in d["rows"].items() if v))

    emit(data, as_json, render)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Apply pending schema migrations (the same Alembic migrations on SQLite and PostgreSQL)."""
    from expertune.store.status import upgrade_store

    data = upgrade_store(workspace(ctx).store_url)
    emit(data, as_json, lambda d: _out(
        f"schema upgraded from {d['from']} to {d['to']} ({len(d['applied'])} migration(s))" if d["applied"]
        else f"schema already at {d['to']}; nothing to do"))


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="SQLAlchemy URL of an empty database, e.g. postgresql+psycopg://user@host/db or sqlite:///path.db"),
    as_json: bool = JsonOpt,
) -> None:
    """Copy the whole store to another (empty) database, verified by content hash."""
    from expertune.store.copy import copy_store

    report = copy_store(workspace(ctx).store_url, to)

    def render(d):
        _out(f"copied {d['total_rows']} rows from {d['source']} to {d['target']}; content hash {d['content_hash'][:16]}… identical")
        _out(f"to work on the copy, set in expertune.yaml:  store_url: {d['target']}")

    emit(report.as_dict(), as_json, render)


def backup(ctx: typer.Context, file: Path = typer.Argument(..., help="Backup file to write."), as_json: bool = JsonOpt) -> None:
    """Back up the store while others keep working (SQLite online backup; PostgreSQL logical dump), verified."""
    from expertune.store.backup import backup as backup_store

    report = backup_store(workspace(ctx).store_url, file)
    emit(report.as_dict(), as_json, lambda d: _out(
        f"backed up {d['total_rows']} rows to {d['file']} ({d['kind']}); verified, content hash {d['content_hash'][:16]}…"))


def restore(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A file written by `expertune backup`."),
    replace: bool = typer.Option(False, "--replace", help="Replace the store's current content (required when it holds data)."),
    as_json: bool = JsonOpt,
) -> None:
    """Restore a backup into the workspace's store (either backend), verified by content hash."""
    from expertune.store.backup import restore as restore_store

    report = restore_store(workspace(ctx).store_url, file, replace=replace)
    emit(report.as_dict(), as_json, lambda d: _out(
        f"restored {d['total_rows']} rows from {d['file']}; content hash {d['content_hash'][:16]}… matches the backup"))


def purge(
    ctx: typer.Context,
    responses: Optional[List[int]] = typer.Argument(None, help="Response ids to erase."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept in the tombstone revision), e.g. the request it answers."),
    author: Optional[str] = typer.Option(None, help="Who (default: the login name)."),
    vacuum: bool = typer.Option(False, "--vacuum", help="Only redo the on-disk erasure step (VACUUM, WAL truncation)."),
    as_json: bool = JsonOpt,
) -> None:
    """Erase responses' text for real: from the response, its revision history and the database files."""
    from expertune.store.purge import erase_freed_bytes, purge_response

    ws = workspace(ctx)
    if vacuum:
        emit({"erased_on_disk": erase_freed_bytes(ws.engine)}, as_json, lambda d: _out(d["erased_on_disk"]))
        return
    if not responses:
        raise typer.BadParameter("give the id(s) of the response(s) to purge, or --vacuum")
    reports = [purge_response(ws, rid, reason=reason or "", author=author or getpass.getuser()).as_dict() for rid in responses]

    def render(rows):
        for d in rows:
            _out(f"response {d['response_id']}: text purged from it and {d['revisions_blanked']} revision(s); "
                 f"tombstone revision {d['tombstone_id']}")
            for place in d["elsewhere"]:
                err_console.print(f"  the same text is still in {place}", markup=False, highlight=False, soft_wrap=True)
            for f in d["files"]:
                err_console.print(f"  outside the store, may still hold it: {f}", markup=False, highlight=False, soft_wrap=True)
        if rows:
            _out(rows[-1]["erased_on_disk"])

    emit(reports, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command()(backup)
    app.command()(restore)
    app.command()(purge)
