"""The `expertune` command. Handlers parse arguments, call the library and print results.

`main` is the one way in: it quiets the libraries' own warnings and prints every `ExpertuneError`
as one line (as text, never markup) with exit code 2, so a user never sees a traceback for a
mistake they can fix.

Start-up is part of the interface (`expertune --help` and quick commands like `stats` answer in a
fraction of a second): a command's module is imported only when that command runs or lists its
help, and the modules import their libraries inside the handlers (tests/cli/test_startup_imports.py).
"""

from __future__ import annotations

import copy
import inspect
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Optional, Sequence

import typer
from rich.text import Text
from typer.core import TyperGroup

from expertune.cli.common import err_console
from expertune.errors import ExpertuneError
from expertune.quiet import quiet_warnings

# Every command, in the order `expertune --help` lists them, and the module of expertune.cli
# whose register(app) adds it. A command's module is imported, and its commands built, only when
# it is run or its help is shown: `expertune stats` does not load the other modules nor turn their
# sixty-odd commands into click commands; `expertune --help` imports them all but lists summaries.
# tests/cli/test_lazy_commands.py checks this table against what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "init": "data", "import": "data", "split": "data", "export": "data", "snapshot": "data",
    "versions": "data", "stats": "data",
    "check": "curate", "redact": "curate", "datacard": "curate",
    "report": "evaluate",
    "backup": "db", "restore": "db", "purge": "db",
    "serve": "serve",
    "studio": "studio",
    "response": "records",
    "evalsets": "evalsets",
    "models": "train", "train": "train", "adapters": "train",
    "fix": "curate",
    "eval": "evaluate",
    "docs": "documents", "templates": "documents",
    "author": "author",
    "db": "db",
}


@cache
def module_registry(module: str) -> typer.Typer:
    """What a module of expertune.cli registers: its handlers and their help, not yet click commands."""
    commands = typer.Typer()
    # An import statement's machinery (`python -X importtime` reports it; importlib.import_module's it does not)
    __import__(f"expertune.cli.{module}", fromlist=["register"]).register(commands)
    return commands


@cache
def module_commands(module: str) -> dict[str, typer.core.TyperCommand]:
    """The click commands a module of expertune.cli registers, built once per process."""
    return typer.main.get_group(module_registry(module)).commands


@cache
def module_summaries(module: str) -> dict[str, typer.core.TyperCommand]:
    """A module's commands as the root's help lists them: name and help, without the parameters.

    Typer builds a command's parameters from its handler's type hints, most of the time a full build
    takes; listing does not need them. The help is resolved as typer.main resolves it
    (tests/cli/test_lazy_commands.py compares each summary with the built command).
    """
    summaries: dict[str, typer.core.TyperCommand] = {}
    registry = module_registry(module)
    for info in registry.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        summaries[name] = typer.core.TyperCommand(
            name, help=inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help),
            short_help=info.short_help, hidden=info.hidden, deprecated=info.deprecated,
            rich_help_panel=info.rich_help_panel)
    for group in registry.registered_groups:
        info = typer.main.solve_typer_info_defaults(group)
        summaries[info.name] = TyperGroup(
            name=info.name, help=info.help, short_help=info.short_help, hidden=info.hidden,
            deprecated=info.deprecated, rich_help_panel=info.rich_help_panel)
    return summaries


class LazyCommands(Mapping):
    """The root's commands by name (in COMMAND_MODULES' order), each built on first look-up."""

    def __init__(self, build=module_commands) -> None:
        self.build = build

    def __getitem__(self, name: str):
        if name not in COMMAND_MODULES:
            raise KeyError(name)
        return self.build(COMMAND_MODULES[name])[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMAND_MODULES)

    def __len__(self) -> int:
        return len(COMMAND_MODULES)


class LazyGroup(TyperGroup):
    def __init__(self, *, commands=None, **kwargs) -> None:
        if commands:  # one way to add a command: it would otherwise be silently replaced
            raise TypeError(f"commands {sorted(commands)} added to the root directly; list them in COMMAND_MODULES")
        super().__init__(**kwargs)
        self.commands = LazyCommands()

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)  # the names, without building every command as TyperGroup's would

    def format_help(self, ctx, formatter) -> None:
        listing = copy.copy(self)  # the same group, listing summaries instead of built commands
        listing.commands = LazyCommands(module_summaries)
        if typer.core.HAS_RICH and self.rich_markup_mode is not None:
            from expertune.cli.root_help import print_root_help

            print_root_help(listing, ctx)
        else:  # plain help, as typer gives every command then (TYPER_USE_RICH=0)
            super(LazyGroup, listing).format_help(ctx, formatter)


app = typer.Typer(
    name="expertune",
    help="Turn a domain expert's knowledge into a specialised small LLM, and prove it helped.",
    cls=LazyGroup,
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
