"""Bad arguments and broken workspaces: one message naming the path or field and the fix, exit 2.

Each case once raised a traceback or printed a misleading message (issue 9, items 17 and 18).
Commands run through the real entry point in-process (`clirun.cli`); an exception escaping it
fails the test.
"""

from __future__ import annotations

import pytest

from clirun import cli
from conftest import chat_record, write_jsonl

UNWRITABLE = "/sys/expertune-test"  # sysfs refuses new files, even to root (these tests run as root)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-args")
    root = tmp / "ws"
    assert cli("init", root).code == 0
    rows = [chat_record(f"Question {i}?", f"Answer {i}.", topic="T") for i in range(4)]
    assert cli("-w", root, "import", write_jsonl(tmp / "d.jsonl", rows)).code == 0
    assert cli("-w", root, "split").code == 0
    return root


def refused(*args, names: str, fix: str):
    result = cli(*args)
    assert result.code == 2, (result.code, result.out, result.err)
    message = " ".join(result.err.split())  # undo the console's line wrapping
    assert names in message and fix in message, message
    return message


# -- output paths: check --html, export -o, datacard -o ---------------------------------------------
OUTPUTS = {
    "check --html": ["check", "--only", "balance", "--html"],
    "export -o": ["export", "-o"],
    "datacard -o": ["datacard", "--no-checks", "-o"],
}


@pytest.mark.parametrize("command", OUTPUTS)
def test_output_onto_a_folder_is_refused(ws, tmp_path, command):
    refused("-w", ws, *OUTPUTS[command], tmp_path, names=str(tmp_path), fix="is a folder, not a file")


@pytest.mark.parametrize("command", OUTPUTS)
def test_output_into_an_unwritable_folder_is_refused(ws, command):
    refused("-w", ws, *OUTPUTS[command], f"{UNWRITABLE}/out.txt", names=UNWRITABLE, fix="permission denied")


@pytest.mark.parametrize("command", OUTPUTS)
def test_a_failed_write_names_the_asked_file_not_its_temporary(ws, command):
    # /proc exists and refuses new files: the failure comes from the write itself, not a check before it.
    message = refused("-w", ws, *OUTPUTS[command], "/proc/expertune-out.txt", names="/proc/expertune-out", fix="")
    assert ".tmp" not in message


@pytest.mark.parametrize("command", OUTPUTS)
def test_output_below_a_file_is_refused(ws, tmp_path, command):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    refused("-w", ws, *OUTPUTS[command], a_file / "out.txt", names=str(a_file), fix="is a file, not a folder")


@pytest.mark.parametrize("command", OUTPUTS)
def test_output_into_a_missing_folder_creates_it(ws, tmp_path, command):
    out = tmp_path / "new" / "folder" / "out.txt"
    assert cli("-w", ws, *OUTPUTS[command], out).code in (0, 1)  # check exits 1 on findings
    assert out.is_file()


# -- input files ---------------------------------------------------------------------------------
def test_text_file_missing_not_utf8_or_a_folder(ws, tmp_path):
    edit = ["-w", ws, "response", "edit", "1", "--version", "1", "--text-file"]
    refused(*edit, tmp_path / "missing.txt", names=f"--text-file {tmp_path / 'missing.txt'}", fix="no such file")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    refused(*edit, latin1, names=f"--text-file {latin1}", fix="not UTF-8 text (byte 3); re-save it as UTF-8")
    refused(*edit, tmp_path, names=f"--text-file {tmp_path}", fix="is a folder, not a file")


def test_importing_a_folder_says_it_is_a_folder(ws, tmp_path):
    message = refused("-w", ws, "import", tmp_path, names=str(tmp_path), fix="is a folder, not a file")
    assert "no such file" not in message


def test_deeply_nested_json_in_an_eval_set_is_a_bad_line(ws, tmp_path):
    nested = tmp_path / "nested.jsonl"
    nested.write_text('{"prompt": "ok?"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    refused("-w", ws, "evalsets", "add", nested, names=f"{nested}:2", fix="nested too deeply")


# -- recipes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("extends", ["me.yaml", "5"])
def test_recipe_extending_itself_or_a_number(ws, tmp_path, monkeypatch, extends):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "me.yaml").write_text(f"extends: {extends}\n")
    refused("-w", ws, "train", "me.yaml", names="me.yaml: extends:", fix="extend")


def test_recipe_errors_name_the_recipe_file_and_field(ws, tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("extends: cpu-quick\nlearning_rat: 0.1\n")
    message = refused("-w", ws, "train", "audit", recipe, names=f"recipe {recipe}: invalid configuration",
                      fix="learning_rat: unknown key")
    assert "--set" not in message


# -- workspaces and stores -----------------------------------------------------------------------
def test_init_onto_a_file_or_an_unwritable_place(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    refused("init", a_file, names=str(a_file), fix="is a file, not a folder")
    refused("init", f"{UNWRITABLE}/ws", names=UNWRITABLE, fix="permission denied")


def test_postgres_url_without_its_driver_names_the_package(tmp_path):
    root = tmp_path / "pg"
    assert cli("init", root).code == 0
    with (root / "expertune.yaml").open("a") as f:
        f.write("store_url: postgresql+psycopg2://user@127.0.0.1/expertune\n")
    refused("-w", root, "stats", names="store_url", fix='pip install "expertune[postgres]"')


def test_a_corrupt_store_names_the_database_file_and_the_remedy(tmp_path):
    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    db = root / "expertune.db"
    db.write_bytes(b"this is not sqlite" * 300)
    message = refused("-w", root, "stats", names=f"{db}: not a readable SQLite database", fix="from a backup")
    assert ".recover" in message and "store_url" not in message


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_missing_or_empty_store_is_refused_not_recreated(tmp_path, damage):
    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    assert cli("-w", root, "import", write_jsonl(tmp_path / "d.jsonl", [chat_record("Q?", "A.")])).code == 0
    db = root / "expertune.db"
    db.unlink() if damage == "deleted" else db.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    state = "is missing" if damage == "deleted" else "is empty (0 bytes)"
    refused("-w", root, "stats", names=f"{db}: the store of workspace {root} {state}", fix=f"expertune init {root}")
    assert (db.stat().st_size == 0) if damage == "emptied" else not db.exists()  # nothing was created
    assert cli("init", root).code == 0 and cli("-w", root, "stats").code == 0  # init starts over on purpose


# -- check options -------------------------------------------------------------------------------
def test_check_only_without_a_name_is_refused(ws):
    refused("-w", ws, "check", "--only", ",", names="--only", fix="known checks: ")


def test_check_max_length_must_be_positive(ws):
    refused("-w", ws, "check", "--only", "length", "--max-length", "-1", names="--max-length",
            fix="not in the range x>=1")
