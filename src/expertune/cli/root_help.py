"""`expertune --help`, drawn as typer draws every other command's help: usage, description, then
the Options and Commands panels.

Drawn here because typer's renderer (typer.rich_utils) imports rich.markdown, markdown_it and
pygments at once: 80 ms, a third of the command's time, for help without any Markdown. The root
is ours and small (one option besides --help, commands listed by name and summary), so its help
needs only this; tests/cli/test_root_help.py checks it reads exactly as typer's would. Text is
never read as markup.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from rich.console import Console, Group
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme


class OptionHighlighter(RegexHighlighter):
    """Options, switches, types and the usage prefix in typer's colours."""

    highlights = [r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])", r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
                  r"(?P<types>\<[^\>]+\>)", r"(?P<usage>Usage: )"]


class TypesHighlighter(RegexHighlighter):
    """The brackets around a type, dim."""

    highlights = [r"^(?P<types_sep>(\[|<))", r"(?P<types_sep>\|)", r"(?P<types_sep>(\]|>))(\.\.\.)?$"]


THEME = Theme({"option": "bold cyan", "switch": "bold green", "types": "bold yellow", "types_sep": "dim",
               "usage": "yellow"})
highlight = OptionHighlighter()
highlight_type = TypesHighlighter()
COMMANDS = "Commands"


def print_root_help(group: Any, ctx: Any) -> None:
    """The help of a (typer) group; of its commands, only name and help are read."""
    console = _console()
    console.print(Padding(highlight(group.get_usage(ctx)), 1), style="bold")
    if group.help:
        console.print(Padding(_description(group.help), (0, 1, 1, 1)))
    options = [p for p in group.get_params(ctx) if p.param_type_name == "option" and not p.hidden]
    console.print(_panel("Options", _options_table(options, ctx)))
    panels: dict[str, list[Any]] = {COMMANDS: []}
    for command in group.commands.values():
        if not command.hidden:
            panels.setdefault(getattr(command, "rich_help_panel", None) or COMMANDS, []).append(command)
    width = max((len(c.name or "") for listed in panels.values() for c in listed), default=0)
    for name, listed in panels.items():
        if listed:
            console.print(_panel(name, _commands_table(listed, width)))


def _console() -> Console:
    """A console as typer's help has: TERMINAL_WIDTH sets the width; GITHUB_ACTIONS, FORCE_COLOR or
    PY_COLORS force colours, _TYPER_FORCE_DISABLE_TERMINAL turns them off."""
    force = True if any(os.environ.get(v) for v in ("GITHUB_ACTIONS", "FORCE_COLOR", "PY_COLORS")) else None
    if os.environ.get("_TYPER_FORCE_DISABLE_TERMINAL"):
        force = False
    width = os.environ.get("TERMINAL_WIDTH")
    return Console(theme=THEME, highlighter=highlight, force_terminal=force, width=int(width) if width else None)


def _description(text: str) -> Group:
    """The first paragraph on one line, the others dim below it."""
    first, *rest = _paragraphs(text)
    lines = [highlight(Text(first))]
    if rest:
        lines += [Text(""), highlight(Text("\n\n".join(rest), style="dim"))]
    return Group(*lines)


def _paragraphs(text: str) -> list[str]:
    """The help's paragraphs up to a line of \\f (click's end of help), the first on one line."""
    first, *rest = inspect.cleandoc(text).partition("\f")[0].split("\n\n")
    return [first.replace("\n", " ").strip(), *rest]


def _options_table(options: list[Any], ctx: Any) -> Table:
    table = Table(highlight=True, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    for _ in range(5):  # --long, -short, --no-long, -no-short, type: as wide as their text
        table.add_column()
    table.add_column(ratio=1)  # the help takes the rest of the line
    for option in options:
        metavar = option.make_metavar(ctx) if not option.is_flag else ""
        table.add_row(*_long_and_short(option.opts), *_long_and_short(option.secondary_opts),  # --x, --no-x
                      highlight_type(Text(metavar, style="bold yellow")), highlight(Text(option.help or "")))
    return table


def _long_and_short(opts: list[str]) -> tuple[Text, Text]:
    return highlight(",".join(o for o in opts if "--" in o)), highlight(",".join(o for o in opts if "--" not in o))


def _commands_table(commands: list[Any], width: int) -> Table:
    table = Table(highlight=False, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    # The names' width is the widest name of all panels, so that the panels line up.
    table.add_column(style="bold cyan", no_wrap=True, width=width)
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    deprecated = any(command.deprecated for command in commands)
    for command in commands:
        row = [Text(command.name or "", style="dim" if command.deprecated else ""),
               highlight(Text(_paragraphs(command.short_help or command.help or "")[0]))]
        if deprecated:  # a column of its own, only when a command is
            row.append(Text("(deprecated) ", style="red") if command.deprecated else None)
        table.add_row(*row)
    return table


def _panel(title: str, table: Table) -> Panel:
    return Panel(table, border_style="dim", title=title, title_align="left")
