"""What every command shares: the workspace option, --json output, error printing."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from expertune.workspace import Workspace

# Piped output (CI logs, `make demo | tee`) gets a wide fixed width instead of rich's 80 columns,
# which would truncate the tables.
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

JsonOpt = typer.Option(False, "--json", help="Print the result as JSON (for scripts and tests).")
SetOpt = typer.Option(None, "--set", help="Override a config key: --set key=value (repeatable).")


def workspace(ctx: typer.Context) -> Workspace:
    root = (ctx.obj or {}).get("workspace")
    return Workspace.find(Path(root) if root else None)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        render(data)


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields an update(done, total) callback."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
