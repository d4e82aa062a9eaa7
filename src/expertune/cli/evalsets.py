"""`expertune evalsets add|list`: register evaluation sets kept out of training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from expertune.cli.common import JsonOpt, console, emit, workspace

evalsets_app = typer.Typer(help="Register evaluation sets (prompt files, exams, labelled tasks).", no_args_is_help=True)


@evalsets_app.command("add")
def add(
    ctx: typer.Context,
    file: Path,
    name: Optional[str] = typer.Option(None, help="Name (default: the file name without extension)."),
    kind: str = typer.Option("auto", help="auto|prompts|mcq|classify"),
    out_of_domain: Optional[bool] = typer.Option(None, "--out-of-domain/--in-domain", help="Domain of the set (default: from the records' \"domain\" field, else in-domain)."),
    replace: bool = typer.Option(False, help="Replace a set of the same name with other content."),
    as_json: bool = JsonOpt,
) -> None:
    """Register an eval set from a JSONL file."""
    from expertune.data.evalsets import add_evalset

    result = add_evalset(workspace(ctx), file, name=name, kind=kind, in_domain=None if out_of_domain is None else not out_of_domain, replace=replace)
    emit(result, as_json, lambda d: console.print(Text.assemble(
        "eval set ", (d["name"], "bold"), f" ({d['kind']}, {'in' if d['in_domain'] else 'out of'} domain): "
        f"{d['items']} items{'' if d['created'] else ' (unchanged)'}")))


@evalsets_app.command("list")
def list_(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List registered eval sets."""
    from expertune.data.evalsets import list_evalsets

    rows = list_evalsets(workspace(ctx))

    def render(rows):
        t = Table("name", "kind", "domain", "items", "file")
        for r in rows:
            t.add_row(r["name"], r["kind"], "in" if r["in_domain"] else "out", str(r["items"]), r["path"])
        console.print(t)

    emit(rows, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(evalsets_app, name="evalsets")
