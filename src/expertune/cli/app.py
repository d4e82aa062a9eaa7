"""The `expertune` command. Handlers parse arguments, call the library and print results."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from expertune.cli import author, curate, data, evalsets, evaluate, records, train
from expertune.cli.common import err_console
from expertune.errors import ExpertuneError

app = typer.Typer(
    name="expertune",
    help="Turn a domain expert's knowledge into a specialised small LLM, and prove it helped.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    workspace: Optional[str] = typer.Option(
        None, "-w", "--workspace", help="Workspace folder (default: the current folder or a parent)."
    ),
) -> None:
    ctx.obj = {"workspace": workspace}


data.register(app)
records.register(app)
evalsets.register(app)
train.register(app)
curate.register(app)
evaluate.register(app)
author.register(app)


def main() -> None:
    try:
        app()
    except ExpertuneError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
