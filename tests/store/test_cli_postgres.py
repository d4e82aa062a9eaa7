"""Every dataset command as a user runs it (a real subprocess) on a workspace whose store is PostgreSQL."""

import json
import subprocess
import sys

import pytest

from store.store_helpers import chat_rows, write_jsonl


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "expertune", *args], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def run_json(*args):
    proc = run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_cli_flow_on_postgresql(tmp_path, store_url):
    ws = str(tmp_path / "ws")
    assert run_json("init", ws, "--store-url", store_url)["store"] == store_url
    data = write_jsonl(tmp_path / "d.jsonl", chat_rows("pg", 20, 2))
    imported = run_json("-w", ws, "import", str(data))["files"][0]
    assert (imported["imported_groups"], imported["imported_responses"]) == (20, 40)
    assert run_json("-w", ws, "import", str(data))["files"][0]["duplicates"] == 40  # re-import: a no-op
    assert sum(run_json("-w", ws, "split", "--val", "0.2", "--test", "0.2")["counts"].values()) == 20
    assert run_json("-w", ws, "stats")["groups"] == 20
    check = run("-w", ws, "check", "--only", "duplicates,near-duplicates,leakage,contamination,artefacts,pii,balance", "--json")
    assert check.returncode in (0, 1), check.stderr
    assert {"duplicates", "leakage", "pii"} <= set(json.loads(check.stdout)["checks"])
    out = tmp_path / "train.jsonl"
    assert run_json("-w", ws, "export", "--format", "prompt-completion", "--split", "train", "-o", str(out))["rows"] > 0
    assert sum(run_json("-w", ws, "snapshot", "--name", "v1")["counts"]["responses"].values()) == 40

    shown = run_json("-w", ws, "response", "show", "1")
    assert run_json("-w", ws, "response", "edit", "1", "--version", str(shown["version"]), "--text", "New text.")["version"] == 2
    stale = run("-w", ws, "response", "edit", "1", "--version", "1", "--text", "Late edit.")
    assert stale.returncode == 2 and "changed by someone else" in stale.stderr
    history = run_json("-w", ws, "response", "history", "1")
    assert [(h["before"], h["after"]) for h in history] == [(shown["text"], "New text.")]
    run_json("-w", ws, "response", "revert", str(history[0]["id"]))
    assert run_json("-w", ws, "response", "show", "1")["text"] == shown["text"]
