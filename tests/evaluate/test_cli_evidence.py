"""`expertune eval plan` and the evidence summary printed by `eval stats` (subprocesses)."""

import json
import subprocess
import sys

from pairwise_helpers import candidate_server, eval_config, make_workspace, register_scripts

from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pipeline import run_eval


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "expertune", *args], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_eval_plan_prints_the_prompts_an_effect_needs():
    proc = run("eval", "plan", "--effect", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert "194 prompts" in proc.stdout and "60%" in proc.stdout
    bad = run("eval", "plan", "--effect", "0.7")
    assert bad.returncode == 2 and "--effect" in bad.stderr


def test_eval_stats_prints_the_evidence_and_every_tasks_lines(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=6, out_domain=0)
    register_scripts()
    with candidate_server() as srv:
        judges = [{"name": "first", "type": "scripted", "script": "always_first"}]
        result = run_eval(ws, EvalConfig.model_validate(eval_config(srv.base_url, judges, out_domain=False)))
    # a stored exam result of the run (as the mcq task writes it), with a [markup]-like format name
    mcq = {"baseline": "base", "comparisons": {"tuned": {"fmt[bold]": {
        "n": 50, "base_accuracy": 0.3, "tuned_accuracy": 0.6, "difference": 0.3,
        "mcnemar": {"n_items": 50, "base_only": 2, "tuned_only": 17, "discordant": 19, "method": "exact-binomial",
                    "statistic": None, "p_value": 0.0007}}}}}
    (ws.runs_dir / f"eval-{result['run']}" / "tasks").mkdir(exist_ok=True)
    (ws.runs_dir / f"eval-{result['run']}" / "tasks" / "mcq.json").write_text(json.dumps(mcq))
    proc = run("-w", str(ws.root), "eval", "stats", str(result["run"]))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "evidence: tuned vs base" in out
    assert "exam accuracy" in out and "better" in out
    assert "mcq fmt[bold]: base 30.0% → tuned 60.0% (n=50, McNemar p=0.001)" in out  # the task's own line, escaped
    assert "no reliable judge" in " ".join(out.split())
    assert out.index("evidence:") < out.index("win rate")  # the summary comes first
    only = run("-w", str(ws.root), "eval", "stats", str(result["run"]), "--evidence")
    assert only.returncode == 0 and "exam accuracy" in only.stdout and "W/T/L" not in only.stdout
