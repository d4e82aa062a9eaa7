"""What every command shares: the workspace option, --json output, printing.

User text is data. Topics, answers, reasons, names, file names and option values reach the
terminal through these consoles, which never read rich markup, emoji codes or highlighting in what
they print: a topic "law [/] and order" or a file "no[/]such.jsonl" is shown as written (rich would
otherwise raise on the `[/]`, or silently restyle a `[bold]`). Styling is added with `Text` objects
(`Text.assemble("run ", (run_id, "bold"))`, `Text(sev, style=...)`), never by formatting markup
into a string, so there is no string a value could be interpolated into and misread.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import typer
from rich.console import Console

if TYPE_CHECKING:
    from expertune.workspace import Workspace

# Heavy modules (the store's SQLAlchemy, the libraries behind each command) are imported inside
# the commands: `expertune --help` and the quick commands start without them (tests/cli/test_startup_imports.py).


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `make demo | tee`) gets a wide fixed width instead of rich's 80
    # columns, which would truncate the tables.
    return Console(stderr=stderr, width=None if stream.isatty() else 140, markup=False, emoji=False, highlight=False)


console = _console(stderr=False)
err_console = _console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print the result as JSON (for scripts and tests).")
SetOpt = typer.Option(None, "--set", help="Override a config key: --set key=value (repeatable).")


def workspace(ctx: typer.Context) -> Workspace:
    from expertune.workspace import Workspace

    root = (ctx.obj or {}).get("workspace")
    return Workspace.find(Path(root) if root else None)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """`data` as JSON (a record: its JSON form, the keys of its file) or through `render`."""
    if as_json:
        data = [_json_form(d) for d in data] if isinstance(data, list) else _json_form(data)
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")
    else:
        render(data)


def _json_form(value: Any) -> Any:
    """A record (a pydantic model) as its JSON form; anything else as it is.

    Recognised by its method rather than its class, so that printing JSON does not import
    pydantic where nothing else did (`stats --json`).
    """
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _json_default(value: Any) -> Any:
    """A record inside a result (`eval run`'s summary, the report's) as its JSON form; anything else as text."""
    form = _json_form(value)
    return str(value) if form is value else form


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields an update(done, total) callback."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # The description can hold a file name: shown as text, not markup.
    with Progress(
        TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err_console, transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
