"""`expertune eval ...` and `expertune report` as a user runs them: subprocesses, --json, exit codes.
Candidates and the judge are served by a local fake OpenAI-compatible server."""

import json
import subprocess
import sys

import yaml
from conftest import synthetic_groups, write_jsonl
from pairwise_helpers import candidate_answer, is_judge_request, marker_reply

from expertune.llm.testing import FakeOpenAIServer


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "expertune", *args], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def run_json(*args):
    proc = run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def handler(body):
    if is_judge_request(body):
        return marker_reply(body)
    if "Question number" in body["messages"][-1]["content"]:  # store prompts: "Question number N: ..."
        body = {**body, "messages": [{"role": "user", "content": body["messages"][-1]["content"].replace("Question number", "Question")}]}
    return candidate_answer(body)


def test_eval_run_stats_report_list_and_errors(tmp_path):
    # the data steps through the library (their CLI is tested elsewhere); each CLI call costs ~3 s
    from expertune.data.evalsets import add_evalset
    from expertune.data.ingest import import_file
    from expertune.data.splits import assign_splits
    from expertune.workspace import Workspace

    ws = tmp_path / "ws"
    workspace = Workspace.init(ws)
    import_file(workspace, write_jsonl(tmp_path / "d.jsonl", synthetic_groups(20)))
    assign_splits(workspace, val=0.1, test=0.2)
    ood = write_jsonl(tmp_path / "ood.jsonl", [{"prompt": f"Question {100 + i}: cooking {i}?", "domain": "out"} for i in range(2)])
    assert add_evalset(workspace, ood, name="ood")["in_domain"] is False

    with FakeOpenAIServer(handler) as srv:
        url = srv.base_url
        config = {
            "name": "cli demo",
            "candidates": [{"name": "base", "type": "openai", "base_url": url, "model": "base"},
                           {"name": "tuned", "type": "openai", "base_url": url, "model": "tuned"}],
            "prompts": [{"split": "test"}, {"evalset": "ood"}],
            "grid": {"temperatures": [0.7], "max_new_tokens": [64], "seeds": [0]},
            "judges": [{"name": "api", "type": "openai", "base_url": url, "model": "judge", "price_input_per_1m": 1.0}],
            "bootstrap": 200,
        }
        path = tmp_path / "eval.yaml"
        path.write_text(yaml.safe_dump(config))
        result = run_json("-w", str(ws), "eval", "run", str(path), "--set", "grid.seeds=[0]")
        run_id = result["run"]
        test_prompts = result["summary"]["counts"]["prompts"] - 2
        assert test_prompts >= 2
        assert result["generation"]["generated"] == 2 * (test_prompts + 2)
        assert result["judging"]["judges"]["api"]["judged"] > 0
        assert result["summary"]["costs"]["total_usd"] > 0

        # the human-readable form prints a table, no traceback
        human = run("-w", str(ws), "eval", "stats", str(run_id))
        assert human.returncode == 0 and "win rate" in human.stdout and "pooled" in human.stdout
        # the headline interval resamples prompts; the Wilson one is labelled as unclustered
        assert "95% CI" in human.stdout and "Wilson unclustered" in human.stdout and "bootstrap" not in human.stdout

        pair = result["summary"]["pairs"][0]
        assert pair["judges"]["api"]["overall"]["n"] == test_prompts + 2
        assert pair["pooled"]["domain"]["out"]["n"] == 2 and pair["pooled"]["domain"]["in"]["n"] == test_prompts

        report = run_json("-w", str(ws), "report", str(run_id), "-o", str(tmp_path / "r.html"))
        html = (tmp_path / "r.html").read_text()
        assert report["path"] == str(tmp_path / "r.html") and "headline" in report["sections"]
        assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "cli demo" in html

        listed = run_json("-w", str(ws), "eval", "list")
        assert listed[0]["id"] == run_id and listed[0]["status"] == "done"

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "judgez": []}))
    proc = run("-w", str(ws), "eval", "run", str(bad))
    assert proc.returncode == 2 and "judgez" in proc.stderr and "unknown key" in proc.stderr

    keyed = tmp_path / "keyed.yaml"
    keyed.write_text(yaml.safe_dump({**config, "judges": [{**config["judges"][0], "api_key_env": "NO_SUCH_KEY_VAR_X"}]}))
    proc = run("-w", str(ws), "eval", "run", str(keyed))
    assert proc.returncode == 2 and "NO_SUCH_KEY_VAR_X is not set" in proc.stderr  # before any generation
