"""Every command with markup-like text in the data, in file names and in option values: no traceback.

rich reads `[...]` in a string as markup: `[/]` raised, `[bold]` restyled silently. The commands are
found by walking the typer app, so a new command is exercised without editing this file. Each one
is run with its arguments only, then once per option carrying markup-like text, against a
workspace whose folder, settings, imported records, topics, revisions, snapshots and eval sets all
hold such text. Then a few scenarios run the commands that display that data and check it is shown
verbatim.

No model is loaded: the workspace's base_model is an unknown builtin and every model option gets a
name that is not a model, so the commands that would load one (train, train audit, eval run/generate,
eval mcq/classify/perplexity/forgetting, models pull/info, adapters merge, check's confidence and
length checks) stop at resolving it, with exit code 2.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer
import yaml

from clirun import cli
from conftest import chat_record, write_jsonl
from expertune.cli.app import app

MARKUP = "a[/]b [bold]c[/bold] [link=x.org]d[/link] [red e \\[f :fire:"
NO_SLASH = "m[bold]x[red y\\[z]"  # a name with "/" would be taken for a hub id (org/name)
MODEL_PARAMS = {"model", "name", "base_model", "adapter", "ref"}  # `name` is a model in `models pull/info`
# Commands documented to exit 1 on a finding (not an error): the checks and the training audit.
EXIT_ONE = {("check",), ("train",)}
# Commands that serve until stopped get a port that is already taken, so each invocation ends (with
# the busy-port error) once its arguments are parsed and checked.
SERVERS = {("studio",), ("serve",)}


# typer builds on its own copy of click, so parameters are told apart by their attributes.
def leaf_commands(group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from leaf_commands(command, prefix + (name,))
        else:
            yield prefix + (name,), command


COMMANDS = list(leaf_commands(typer.main.get_command(app)))


# click's parameter type -> the Python type the handler declared (List[Path] -> Path); others are text.
CLICK_TYPES = {"IntParamType": int, "IntRange": int, "FloatParamType": float, "FloatRange": float,
               "TyperPath": Path, "Path": Path}


def annotation(param) -> type:
    return CLICK_TYPES.get(type(param.type).__name__, str)


def text_for(param, files: dict[str, str]) -> str:
    if param.name in MODEL_PARAMS:
        return NO_SLASH
    if param.name in ("out", "html", "directory", "run", "export_training"):
        return files["new"] + param.name  # a fresh path per option: outputs must not create an input
    if annotation(param) is Path or param.name in ("file", "files", "config"):
        return files["missing"]
    return MARKUP


def value_for(param, files: dict[str, str]) -> str:
    """A valid value where the type demands one (ids are 1), else markup-like text."""
    if annotation(param) is int:
        return "1"
    if annotation(param) is float:
        return "0.5"
    return text_for(param, files)


def invocations(path: tuple[str, ...], command, files: dict[str, str]):
    args = [value_for(p, files) for p in command.params
            if p.param_type_name == "argument" and not getattr(p, "hidden", False)]
    if path in SERVERS:
        args += ["--port", files["busy_port"]]
    yield [*path, *args]
    for p in command.params:
        if p.param_type_name == "option" and not p.is_flag and p.name != "as_json":
            yield [*path, *args, p.opts[-1], text_for(p, files)]


@pytest.fixture(scope="module")
def markup_ws(tmp_path_factory):
    """A workspace whose folder, settings and data hold markup-like text (shared: building it is
    the slow part, and the commands only add to it)."""
    tmp_path = tmp_path_factory.mktemp("markup")
    root = tmp_path / f"ws {NO_SLASH}"
    assert cli("init", root, "--name", MARKUP).code == 0
    settings = root / "expertune.yaml"
    data = yaml.safe_load(settings.read_text())
    data["base_model"] = f"builtin:{NO_SLASH}"
    settings.write_text(yaml.safe_dump(data))
    records = write_jsonl(tmp_path / f"records {NO_SLASH}.jsonl", [
        # a pasted chat label and an e-mail address give `fix artefacts` and `redact` something to show
        chat_record(f"Question {i} {MARKUP}?", f"Human: hi\nAssistant: Answer {k} {MARKUP} mail {i}.{k}@example.com",
                    system=MARKUP, topic=f"law {MARKUP} {i % 2}") for i in range(6) for k in range(2)])
    evalset = write_jsonl(tmp_path / f"evalset {NO_SLASH}.jsonl", [{"prompt": f"Eval {i} {MARKUP}?"} for i in range(3)])
    w = ["-w", str(root)]
    assert cli(*w, "import", records, "--topic", MARKUP).code == 0
    assert cli(*w, "split", "--val", "0.3", "--test", "0.3").code == 0
    assert cli(*w, "snapshot", "--name", MARKUP, "--note", MARKUP).code == 0
    assert cli(*w, "evalsets", "add", evalset, "--name", f"set {MARKUP}").code == 0
    edit = cli(*w, "response", "edit", "1", "--version", "1", "--text", f"edited {MARKUP}",
               "--reason", f"fix {MARKUP} typo", "--author", MARKUP)
    assert edit.code == 0, edit.err
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    yield root, {"missing": str(tmp_path / f"no{MARKUP}such.jsonl"), "new": str(tmp_path / f"new {MARKUP} "),
                 "records": str(records), "busy_port": str(busy.getsockname()[1])}
    busy.close()


def test_the_walk_finds_every_command_group():
    paths = {path for path, _ in COMMANDS}
    assert {("init",), ("import",), ("stats",), ("response", "show"), ("evalsets", "list"), ("check",),
            ("eval", "run"), ("eval", "mcq"), ("adapters", "list"), ("models", "list"), ("report",)} <= paths


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_with_markup_text_exits_cleanly(markup_ws, path, command):
    root, files = markup_ws
    for args in invocations(path, command, files):
        result = cli("-w", root, *args)  # an exception escaping main() fails the test here
        allowed = {0, 1, 2} if path[:1] in {p[:1] for p in EXIT_ONE} else {0, 2}
        assert result.code in allowed, (args, result.code, result.err)
        assert "Traceback" not in result.out + result.err, args
        if result.code == 2:
            assert result.err.strip(), (args, "exit 2 without a message")


@pytest.mark.parametrize("args", [
    ["stats"],
    ["response", "show", "1"],
    ["response", "history", "1"],
    ["versions"],
    ["evalsets", "list"],
    ["redact"],
    ["fix", "artefacts"],
])
def test_stored_markup_text_is_shown_verbatim(markup_ws, args):
    root, _ = markup_ws
    result = cli("-w", root, *args)
    assert result.code in (0, 1), result.err
    shown = result.out + result.err
    assert "Traceback" not in shown
    # Tables may wrap a long cell; the tags themselves are never eaten or applied.
    for tag in ("[/]", "[bold]", "[link=", "\\["):
        assert tag in shown, (args, tag)


def test_markup_in_file_names_and_error_messages_is_printed_as_written(markup_ws, tmp_path):
    root, files = markup_ws
    result = cli("-w", root, "import", files["missing"])
    assert result.code == 2 and f"no{MARKUP}such.jsonl" in result.err.replace("\n", "")
    init = cli("init", tmp_path / "ws[/]2")
    assert init.code == 0 and "ws[/]2" in init.out
    out = cli("-w", root, "datacard", "-o", tmp_path / f"card {NO_SLASH}.md", "--no-checks")
    assert out.code == 0 and f"card {NO_SLASH}.md" in out.out.replace("\n", "")
