"""`expertune --help` is drawn by expertune.cli.root_help, not typer's renderer (whose import costs
a third of the command's time); it must read exactly as typer would draw it, colours included."""

import copy
import os
import subprocess
import sys
from typing import Optional

import pytest
import typer
from typer import rich_utils
from typer.core import TyperGroup

from expertune.cli.app import LazyCommands, LazyGroup, module_summaries
from expertune.cli.root_help import print_root_help

# The root's help as typer draws it: the same group listing the same summaries.
TYPERS = """
import copy, sys
from expertune.cli import app
def typers_help(self, ctx, formatter):
    listing = copy.copy(self)
    listing.commands = app.LazyCommands(app.module_summaries)
    super(app.LazyGroup, listing).format_help(ctx, formatter)
app.LazyGroup.format_help = typers_help
app.main(["--help"])
"""


@pytest.mark.parametrize("env", [{"COLUMNS": "100"}, {"COLUMNS": "64", "FORCE_COLOR": "1"}])
def test_the_root_help_reads_as_typer_draws_it(env):
    env = {**os.environ, **env}
    ours = subprocess.run([sys.executable, "-m", "expertune", "--help"], capture_output=True, text=True, env=env)
    typers = subprocess.run([sys.executable, "-c", TYPERS], capture_output=True, text=True, env=env)
    assert ours.returncode == typers.returncode == 0, ours.stderr + typers.stderr
    assert "init" in ours.stdout and "Options" in ours.stdout
    assert ours.stdout == typers.stdout


def test_panels_deprecated_hidden_and_paired_options_as_typer_draws_them(capsys, monkeypatch):
    """What the root does not have today but a command added to it could: its own panel, a
    deprecated or hidden command, an --x/--no-x option, help in several paragraphs."""
    monkeypatch.setenv("COLUMNS", "90")
    app = typer.Typer(help="A tool.\n\nMore about it, which the first paragraph leaves out.")

    @app.callback()
    def _root(verbose: bool = typer.Option(False, "--verbose/--quiet", "-v", help="Say more (or less).", show_default=False),
              level: Optional[int] = typer.Option(None, help="A level.")) -> None:
        pass

    @app.command(rich_help_panel="Exams")
    def grade() -> None:
        """Grade an exam with --flags.\n\nDetails."""

    @app.command(deprecated=True)
    def old() -> None:
        """Do what `new` does."""

    @app.command(hidden=True)
    def secret() -> None:
        """Not listed."""

    @app.command()
    def new() -> None:
        """The new way."""

    group = typer.main.get_group(app)
    ctx = group.make_context("tool", ["--help"], resilient_parsing=True)
    print_root_help(group, ctx)
    ours = capsys.readouterr().out
    rich_utils.rich_format_help(obj=group, ctx=ctx, markup_mode="rich")
    assert ours == capsys.readouterr().out
    assert "Exams" in ours and "(deprecated)" in ours and "secret" not in ours and "More about it" in ours


def test_help_text_is_never_read_as_markup(capsys):
    app = typer.Typer(help="Tags like [bold]these[/bold] and [EMAIL] are text.")

    @app.command()
    def grade() -> None:
        """Shows [red]this[/red] as written."""

    @app.command()
    def other() -> None:
        """Another."""

    group = typer.main.get_group(app)
    print_root_help(group, group.make_context("tool", ["--help"], resilient_parsing=True))
    out = capsys.readouterr().out
    assert "[bold]these[/bold] and [EMAIL]" in out and "[red]this[/red]" in out


def test_the_root_help_builds_no_command(capsys):
    """Listing reads summaries (name and help); building a command's parameters is left to running it."""
    group = typer.main.get_group(typer.Typer(cls=LazyGroup, help="x"))
    listing = copy.copy(group)
    listing.commands = LazyCommands(module_summaries)
    print_root_help(listing, group.make_context("expertune", ["--help"], resilient_parsing=True))
    assert all(not c.params for c in listing.commands.values())
