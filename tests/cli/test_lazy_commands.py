"""The root command builds a module's commands only when one of them is used (cli/app.py).

Its table of command names must be what the modules register: a command missing from it could
not be run, a stale name would fail when listed. `--help` output itself is the same as an eager
build's (checked by diffing every command's help when the table was introduced).
"""

import pkgutil

import typer

import expertune.cli
from expertune.cli.app import COMMAND_MODULES, app, module_commands, module_summaries
from clirun import cli


def test_the_table_names_exactly_what_each_module_registers():
    for module in set(COMMAND_MODULES.values()):
        listed = {name for name, owner in COMMAND_MODULES.items() if owner == module}
        assert set(module_commands(module)) == listed, module


def test_every_command_module_is_in_the_table():
    """A module of expertune.cli with register(app) adds root commands, unless it is one of the
    groups that evaluate.py adds to `expertune eval`."""
    eval_groups = {"exams", "human"}
    modules = {m.name for m in pkgutil.iter_modules(expertune.cli.__path__)
               if m.name not in eval_groups and hasattr(__import__(f"expertune.cli.{m.name}", fromlist=["x"]), "register")}
    assert modules == set(COMMAND_MODULES.values())


def test_root_lists_every_command_in_table_order():
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    assert root.list_commands(ctx) == list(COMMAND_MODULES)
    assert all(root.get_command(ctx, name).name == name for name in COMMAND_MODULES)
    assert root.get_command(ctx, "no-such-command") is None


def test_a_mistyped_command_exits_2_with_a_suggestion():
    result = cli("stat")
    assert result.code == 2
    assert "No such command 'stat'" in result.err and "Did you mean 'stats'" in result.err


def test_the_root_help_lists_summaries_equal_to_the_built_commands():
    fields = ("name", "help", "short_help", "hidden", "deprecated", "rich_help_panel")
    for module in set(COMMAND_MODULES.values()):
        built, listed = module_commands(module), module_summaries(module)
        assert list(listed) == list(built), module
        for name, command in built.items():
            summary = listed[name]
            assert [getattr(summary, f) for f in fields] == [getattr(command, f) for f in fields], name


def test_the_root_help_builds_no_command():
    module_commands.cache_clear()
    result = cli("--help")
    assert result.code == 0
    assert module_commands.cache_info().currsize == 0
    listed = " ".join(result.out.split())
    assert all(name in listed for name in COMMAND_MODULES)
    assert "Groups, responses, responses per prompt" in listed  # stats' help, from its docstring
