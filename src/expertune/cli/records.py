"""Commands to look at and edit single records; every edit is a revision."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, workspace
from expertune.errors import InputError, read_user_text

response_app = typer.Typer(help="Show, edit and revert responses (every edit is a revision).", no_args_is_help=True)


def response_dict(r) -> dict:
    return {
        "id": r.id, "group_id": r.group_id, "version": r.version, "status": r.status, "rating": r.rating,
        "preferred": r.preferred, "author": r.author, "author_kind": r.author_kind, "text": r.text,
        "meta": r.meta, "gen_params": r.gen_params,
    }


def revision_dict(v) -> dict:
    return {
        "id": v.id, "entity": v.entity, "entity_id": v.entity_id, "field": v.field, "before": v.before,
        "after": v.after, "from_version": v.from_version, "to_version": v.to_version, "author": v.author,
        "reason": v.reason, "note": v.note, "created_at": v.created_at.isoformat(),
    }


def why(revision: dict) -> str:
    """The revision's reason, with its note when it has one (a purge's reason is its note)."""
    return f"{revision['reason']}: {revision['note']}" if revision.get("note") else revision["reason"]


@response_app.command("show")
def show(ctx: typer.Context, response_id: int, as_json: bool = JsonOpt) -> None:
    """Show a response with its prompt."""
    from expertune.store import repo

    with workspace(ctx).session() as s:
        r = repo.get(s, "response", response_id)
        g = r.group
        data = {**response_dict(r), "prompt": g.prompt, "system": g.system, "context": g.context}

    def render(d):
        console.print(Text.assemble((f"response {d['id']}", "bold"),
                                    f" v{d['version']} · {d['status']} · rating {d['rating']} · group {d['group_id']}"))
        console.print(Text.assemble(("prompt:", "dim"), " ", d["prompt"]))
        console.print(d["text"])

    emit(data, as_json, render)


@response_app.command("edit")
def edit(
    ctx: typer.Context,
    response_id: int,
    version: int = typer.Option(..., "--version", help="The version you are editing (from `response show`); a newer stored version refuses the edit."),
    text: Optional[str] = typer.Option(None, help="New text."),
    text_file: Optional[Path] = typer.Option(None, help="Read the new text from a file."),
    status: Optional[str] = typer.Option(None, help="draft|accepted|rejected"),
    rating: Optional[int] = typer.Option(None, help="1-5"),
    preferred: Optional[bool] = typer.Option(None, "--preferred/--not-preferred"),
    reason: str = typer.Option("manual edit", help="Why (kept in the revision)."),
    author: Optional[str] = typer.Option(None, help="Who (default: the login name)."),
    as_json: bool = JsonOpt,
) -> None:
    """Edit a response; refused if someone else changed it since the version you read."""
    from expertune.store import repo

    if text_file is not None:
        text = read_user_text(text_file, "--text-file")
    changes = {k: v for k, v in {"text": text, "status": status, "rating": rating, "preferred": preferred}.items() if v is not None}
    if not changes:
        raise InputError("nothing to change: pass --text, --text-file, --status, --rating or --preferred")
    with workspace(ctx).session() as s:
        r = repo.edit_response(s, response_id, changes, expected_version=version,
                               author=author or getpass.getuser(), reason=reason)
        data = response_dict(r)
    emit(data, as_json, lambda d: console.print(f"response {d['id']} is now version {d['version']}"))


@response_app.command("history")
def history(ctx: typer.Context, response_id: int, as_json: bool = JsonOpt) -> None:
    """List the revisions of a response."""
    from expertune.store import repo

    with workspace(ctx).session() as s:
        repo.get(s, "response", response_id)
        data = [revision_dict(v) for v in repo.revisions(s, "response", response_id)]

    def render(rows):
        t = Table("revision", "field", "version", "who", "why", "when")
        for v in rows:
            t.add_row(str(v["id"]), v["field"], f"{v['from_version']}→{v['to_version']}", v["author"], why(v), v["created_at"][:19])
        console.print(t)

    emit(data, as_json, render)


@response_app.command("revert")
def revert(ctx: typer.Context, revision_id: int, author: Optional[str] = None, as_json: bool = JsonOpt) -> None:
    """Undo a revision (writes a new revision that restores the earlier value)."""
    from expertune.store import repo

    with workspace(ctx).session() as s:
        obj = repo.revert_revision(s, revision_id, author=author or getpass.getuser())
        data = {"entity_id": obj.id, "version": obj.version}
    emit(data, as_json, lambda d: console.print(f"reverted revision {revision_id}; record {d['entity_id']} is now version {d['version']}"))


def register(app: typer.Typer) -> None:
    app.add_typer(response_app, name="response")
