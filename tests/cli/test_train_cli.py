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
