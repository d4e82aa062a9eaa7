"""`expertune train` argument handling that needs no training (no model is loaded here)."""

from __future__ import annotations

from clirun import cli
from expertune.train.run import resume_hint


def test_the_printed_resume_hint_resumes_that_run_and_so_does_resume_run(tmp_path):
    # Before: the hint printed `expertune train --resume RUN`, whose RUN was read as a recipe and
    # ignored, so it resumed the newest unfinished run instead of RUN.
    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    hint = resume_hint("run-7")
    assert hint.startswith("expertune train ")
    for args in (hint.split()[1:], ["train", "--resume", "run-7"]):
        result = cli("-w", root, *args)
        assert result.code == 2 and "run 'run-7' not found" in result.err, (args, result.err)
    clash = cli("-w", root, "train", "--resume", "run-7", "--run", "run-8")
    assert clash.code == 2 and "name one run" in clash.err


def test_resuming_a_run_whose_run_json_is_invalid_exits_2_naming_the_file_and_field(tmp_path):
    import json

    from run_helpers import OLD_RUN

    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    run_dir = root / "runs" / "broken-run"
    run_dir.mkdir(parents=True)
    data = json.loads((OLD_RUN / "run.json").read_text())
    data["recipe"]["lora"]["r"] = "sixteen"
    (run_dir / "run.json").write_text(json.dumps(data))
    result = cli("-w", root, "train", "--resume", "--run", "broken-run")
    assert result.code == 2 and str(run_dir / "run.json") in result.err and "recipe.lora.r" in result.err, result.err
    assert "Traceback" not in result.err


def test_adapters_list_json_keeps_its_keys_and_the_table_reads_the_rows(tmp_path):
    import json

    from run_helpers import sft_run

    from expertune.store.adapters import register_adapter
    from expertune.workspace import Workspace

    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    register_adapter(Workspace(root), sft_run(), tmp_path / "a1")
    result = cli("-w", root, "adapters", "list", "--json")
    assert result.code == 0, result.err
    (row,) = json.loads(result.out)
    assert sorted(row) == sorted(["id", "name", "version", "ref", "path", "kind", "run_id", "base_model", "base_sha256",
                                  "dataset_hash", "metrics", "is_current", "created_at", "recipe"])
    assert (row["ref"], row["is_current"], row["metrics"]["best_step"], row["recipe"]["adapter_name"]) == ("legal@1", True, 8, "legal")
    shown = cli("-w", root, "adapters", "show", "legal")
    assert shown.code == 0 and "legal@1" in shown.out and "1.9800" in shown.out, shown.err
    promoted = cli("-w", root, "adapters", "promote", "legal@1", "--json")
    assert promoted.code == 0 and json.loads(promoted.out)["ref"] == "legal@1"
