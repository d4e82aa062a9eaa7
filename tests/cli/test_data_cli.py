"""The CLI as a user runs it: a real subprocess, --json output, exit codes, no tracebacks."""

import json
import subprocess
import sys

from conftest import chat_record, write_jsonl


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "expertune", *args], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def run_json(*args, cwd=None):
    proc = run(*args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_init_import_split_snapshot_stats_flow(tmp_path):
    ws = tmp_path / "ws"
    assert run_json("init", str(ws))["workspace"] == str(ws)
    empty = run("-w", str(ws), "stats")
    assert empty.returncode == 0 and "no data yet" in empty.stdout and "expertune import" in empty.stdout
    data = write_jsonl(tmp_path / "d.jsonl", [chat_record(f"Q{i}", f"A{i}-{k}", topic="T") for i in range(20) for k in range(2)])
    result = run_json("import", str(data), cwd=ws)["files"][0]
    assert (result["read"], result["imported_groups"], result["imported_responses"]) == (40, 20, 40)
    split = run_json("-w", str(ws), "split", "--val", "0.2", "--test", "0.2")
    assert split["assigned"] == 20 and sum(split["counts"].values()) == 20
    version = run_json("-w", str(ws), "snapshot", "--name", "v1")
    assert version["created"] and sum(version["counts"]["responses"].values()) == 40
    stats = run_json("-w", str(ws), "stats")
    assert stats["groups"] == 20 and stats["responses_per_prompt"] == {"2": 20}
    out = tmp_path / "out.jsonl"
    assert run_json("-w", str(ws), "export", "--format", "prompt-completion", "--split", "train", "-o", str(out))["rows"] > 0


def test_rejected_lines_are_listed_with_file_and_line_and_exit_2(tmp_path):
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    data = write_jsonl(tmp_path / "d.jsonl", [chat_record("Q", "A"), "{broken", {"messages": [{"role": "user", "content": "no answer"}]}])
    proc = run("-w", str(ws), "import", str(data))
    assert proc.returncode == 2
    assert f"{data}:2:" in proc.stderr and f"{data}:3:" in proc.stderr
    assert "rejected 2" in proc.stdout
    ok = run("-w", str(ws), "import", str(data), "--allow-rejects", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["files"][0]["imported_responses"] == 1


def test_user_errors_exit_2_with_one_clear_message(tmp_path):
    proc = run("stats", cwd=tmp_path)
    assert proc.returncode == 2 and "expertune init" in proc.stderr
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    proc = run("-w", str(ws), "import", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2 and "missing.jsonl" in proc.stderr


def test_stale_edit_from_cli_is_refused(tmp_path):
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    run_json("-w", str(ws), "import", str(write_jsonl(tmp_path / "d.jsonl", [chat_record("Q", "A")])))
    assert run_json("-w", str(ws), "response", "edit", "1", "--version", "1", "--text", "B")["version"] == 2
    proc = run("-w", str(ws), "response", "edit", "1", "--version", "1", "--text", "C")
    assert proc.returncode == 2 and "changed by someone else" in proc.stderr
    history = run_json("-w", str(ws), "response", "history", "1")
    assert [(h["before"], h["after"]) for h in history] == [("A", "B")]


def test_multi_file_import_with_a_reject_or_missing_file_commits_nothing(tmp_path):
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    good1 = write_jsonl(tmp_path / "good1.jsonl", [chat_record("Q1", "A1")])
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{broken"])
    good2 = write_jsonl(tmp_path / "good2.jsonl", [chat_record("Q2", "A2")])
    for middle in (bad, tmp_path / "missing.jsonl"):
        proc = run("-w", str(ws), "import", str(good1), str(middle), str(good2))
        assert proc.returncode == 2 and "nothing imported" in proc.stderr
        assert str(middle) in proc.stderr
        assert run_json("-w", str(ws), "stats")["groups"] == 0


def test_the_rejects_hint_counts_only_records_that_parsed(tmp_path):
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    good1 = write_jsonl(tmp_path / "good1.jsonl", [chat_record("Q1", "A1")])
    good2 = write_jsonl(tmp_path / "good2.jsonl", [chat_record("Q2", "A2")])
    proc = run("-w", str(ws), "import", str(good1), str(tmp_path / "missing.jsonl"), str(good2))
    assert "import the 2 good records" in " ".join(proc.stderr.split())
    alone = run("-w", str(ws), "import", str(tmp_path / "missing.jsonl"))
    message = alone.stderr.replace(str(tmp_path), "TMP")
    assert alone.returncode == 2 and "good record" not in message and "-1" not in message


def test_allow_rejects_does_not_hide_a_file_that_could_not_be_read(tmp_path):
    ws = tmp_path / "ws"
    run_json("init", str(ws))
    good = write_jsonl(tmp_path / "good.jsonl", [chat_record("Q1", "A1")])
    proc = run("-w", str(ws), "import", str(tmp_path / "nosuch.jsonl"), "--allow-rejects")
    assert proc.returncode == 2 and "nosuch.jsonl" in proc.stderr
    proc = run("-w", str(ws), "import", str(good), str(tmp_path / "nosuch.jsonl"), "--allow-rejects")
    assert proc.returncode == 2
    assert run_json("-w", str(ws), "stats")["groups"] == 1  # the readable file was imported
