"""The `expertune` command. Handlers parse arguments, call the library and print results.

`main` is the one way in: it quiets the libraries' own warnings and prints every `ExpertuneError`
as one line (as text, never markup) with exit code 2, so a user never sees a traceback for a
mistake they can fix.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

import typer
from rich.text import Text

from expertune.cli import author, curate, data, db, documents, evalsets, evaluate, human, records, serve, studio, train
from expertune.cli.common import err_console
from expertune.errors import ExpertuneError
from expertune.quiet import quiet_warnings

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
human.register(evaluate.eval_app)
documents.register(app)
author.register(app)
db.register(app)
serve.register(app)
studio.register(app)


def print_error(message: str) -> None:
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> None:
    quiet_warnings()
    try:
        app(args=list(argv) if argv is not None else None, prog_name="expertune")
    except ExpertuneError as err:
        print_error(str(err))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print(Text("interrupted", style="yellow"))
        sys.exit(130)
