"""OpenAI-compatible judges against a real HTTP server on 127.0.0.1 (started by the test):
retries of 429s and malformed bodies, re-prompts, response_format fallback, the budget, and a
judging process killed with SIGKILL and resumed without repeating finished comparisons."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from pairwise_helpers import (
    TRUTH, candidate_answer, comparison_id, eval_config, is_judge_request, make_workspace, marker_reply,
)

from expertune.errors import ConfigError
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pairwise.generation import run_generation
from expertune.evaluate.pairwise.judging import run_judging
from expertune.evaluate.pipeline import run_eval, start_run
from expertune.llm.testing import FakeOpenAIServer, completion
from expertune.store.eval_models import EvalCost


class Scripted:
    """A fake server: candidates answer by the helpers; the judge prefers the marker. Faults are
    injected per comparison by attempt number; requests are counted per comparison."""

    def __init__(self, faults=None, judge_delay=0.0, usage=(1000, 100)):
        self.faults = faults or {}  # attempt number -> "429" | "500" | "garbage" | "not-json" | "schema-400"
        self.judge_delay = judge_delay
        self.usage = usage
        self.per_comparison = Counter()
        self.formats = []
        self.lock = threading.Lock()

    def __call__(self, body):
        if not is_judge_request(body):
            return candidate_answer(body)
        cid = comparison_id(body)
        with self.lock:
            self.per_comparison[cid] += 1
            attempt = self.per_comparison[cid]
            self.formats.append((body.get("response_format") or {}).get("type"))
        if self.judge_delay:
            time.sleep(self.judge_delay)
        fault = self.faults.get(attempt)
        if fault == "429":
            return 429, {"retry-after": "0"}, b'{"error": {"message": "rate limited"}}'
        if fault == "500":
            return 500, {}, b'{"error": {"message": "overloaded"}}'
        if fault == "garbage":
            return 200, {}, b"<html>proxy error</html>"
        content = "I prefer A. Verdict: A" if fault == "not-json" else marker_reply(body)
        return 200, {}, json.dumps(completion(content, prompt_tokens=self.usage[0], completion_tokens=self.usage[1])).encode()

    @property
    def judge_requests(self):
        return sum(self.per_comparison.values())


def judge_cfg(url, **extra):
    return {"name": "api", "type": "openai", "base_url": url, "model": "judge-model", "backoff_base": 0.001,
            "concurrency": 2, **extra}


def test_429_garbage_bodies_and_bad_json_are_retried_then_judged_correctly(ws, tmp_path):
    make_workspace(ws, tmp_path)
    server = Scripted(faults={1: "429", 2: "garbage", 3: "500", 4: "not-json"})
    with FakeOpenAIServer(server) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, max_attempts=4)]))
        result = run_eval(ws, config)
    j = result["judging"]["judges"]["api"]
    assert j["judged"] == 10 and j["failed"] == 0  # 5 non-identical prompts x 2 orders
    # per comparison: 429, garbage, 500 (HTTP retries), an unreadable reply (re-prompt), then the verdict
    assert set(server.per_comparison.values()) == {5}
    o = result["summary"].pairs[0].judges["api"]["overall"]
    assert (o["wins"], o["ties"], o["losses"]) == (sum(v == "win" for v in TRUTH.values()),
                                                   sum(v == "tie" for v in TRUTH.values()),
                                                   sum(v == "loss" for v in TRUTH.values()))
    with ws.session() as s:
        from expertune.store.eval_models import EvalJudgment

        stored = s.query(EvalJudgment).all()
        assert all(r.status == "ok" and r.attempts == 5 for r in stored)
        # usage of the two replies that arrived (unreadable + final) is billed and in the ledger
        assert all(r.input_tokens == 2000 and r.output_tokens == 200 for r in stored)


def test_exhausted_retries_are_failures_and_retried_next_run(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=2, out_domain=0)
    server = Scripted(faults={1: "429", 2: "429"})
    with FakeOpenAIServer(server) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, max_attempts=2)], out_domain=False))
        first = run_eval(ws, config)
        assert first["judging"]["judges"]["api"]["failed"] == 4
        assert first["summary"].pairs[0].judges["api"]["overall"]["n"] == 0  # never a tie or a win
        assert "HTTP 429" in first["summary"].failures["api"]["errors"][0]["error"]
        second = run_judging(ws, first["run"])
    assert second["judges"]["api"]["judged"] == 4  # the third request per comparison succeeds


def test_response_format_steps_down_when_the_server_refuses_json_schema(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=2, out_domain=0)
    server = Scripted()
    inner = server.__call__

    def handler(body):
        if is_judge_request(body) and (body.get("response_format") or {}).get("type") == "json_schema":
            return 400, {}, b'{"error": {"message": "response_format json_schema is not supported by this model"}}'
        return inner(body)

    with FakeOpenAIServer(handler) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, concurrency=1)], out_domain=False))
        result = run_eval(ws, config)
    assert result["judging"]["judges"]["api"]["judged"] == 4
    assert server.formats == ["json_object"] * 4  # after the first refusal, no json_schema request again


def test_wrong_key_or_model_stops_the_stage_with_a_clear_error(ws, tmp_path, monkeypatch):
    make_workspace(ws, tmp_path, in_domain=1, out_domain=0)

    def handler(body):
        if is_judge_request(body):
            return 401, {}, b'{"error": {"message": "invalid api key"}}'
        return candidate_answer(body)

    monkeypatch.setenv("EXPERTUNE_TEST_KEY", "sk-test")
    with FakeOpenAIServer(handler) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, api_key_env="EXPERTUNE_TEST_KEY")], out_domain=False))
        with pytest.raises(ConfigError, match="EXPERTUNE_TEST_KEY"):
            run_eval(ws, config)
    # a missing key variable is refused when the run is created, before anything is generated
    config = EvalConfig.model_validate(eval_config("http://127.0.0.1:9/v1", [judge_cfg("http://127.0.0.1:9/v1", api_key_env="MISSING_KEY_VAR")],
                                                   out_domain=False))
    with pytest.raises(ConfigError, match="MISSING_KEY_VAR is not set"):
        start_run(ws, config)


def test_budget_stops_before_spending_more_and_the_ledger_adds_up(ws, tmp_path):
    make_workspace(ws, tmp_path)
    server = Scripted(usage=(1000, 100))
    prices = {"price_input_per_1m": 1.0, "price_output_per_1m": 10.0, "max_tokens": 100, "concurrency": 1}
    with FakeOpenAIServer(server) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, **prices)]))
        run = start_run(ws, config)
        run_generation(ws, run.id)
        estimate = run_judging(ws, run.id, estimate_only=True)
        assert estimate["estimated_usd"] > 0 and estimate["judges"]["api"]["pending"] == 10
        first = run_judging(ws, run.id, budget_usd=0.0065)  # each call costs 0.002 (1000 in + 100 out)
        assert first["budget_stopped"] and first["judges"]["api"]["skipped"] > 0
        assert first["spent_usd"] <= 0.0065
        spent_calls = first["judges"]["api"]["judged"]
        assert server.judge_requests == spent_calls >= 1
        with ws.session() as s:
            ledger = sum(c.usd for c in s.query(EvalCost).filter_by(run_id=run.id))
        assert ledger == pytest.approx(0.002 * spent_calls)
        rest = run_judging(ws, run.id, budget_usd=1.0)
    assert rest["judges"]["api"]["judged"] == 10 - spent_calls and not rest["budget_stopped"]
    assert server.judge_requests == 10  # nothing asked twice
    assert rest["spent_before_usd"] == pytest.approx(0.002 * spent_calls)


def test_killed_judging_process_resumes_without_repeating_finished_comparisons(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=6, out_domain=2)
    server = Scripted(judge_delay=0.15)
    with FakeOpenAIServer(server) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, concurrency=2)]))
        run = start_run(ws, config)
        run_generation(ws, run.id)
        cmd = [sys.executable, "-m", "expertune", "-w", str(ws.root), "eval", "judge", str(run.id), "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while server.judge_requests < 6 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        total = 7 * 2  # 7 non-identical prompts x 2 orders
        before = Counter(server.per_comparison)
        with ws.session() as s:
            from expertune.store.eval_models import EvalJudgment

            finished = {j.key for j in s.query(EvalJudgment).filter_by(status="ok")}
        assert 1 <= len(finished) < total
        resumed = run_judging(ws, run.id)
    assert resumed["judges"]["api"]["cached"] == len(finished)
    assert resumed["judges"]["api"]["judged"] == total - len(finished)
    finished_ids = _comparison_ids(ws, run.id, finished)
    assert len(finished_ids) == len(finished) and len(server.per_comparison) == total
    after = server.per_comparison
    assert all(after[cid] == before[cid] == 1 for cid in finished_ids)  # zero repeated requests
    assert all(after[cid] == before[cid] + 1 for cid in after if cid not in finished_ids)  # the rest: asked once more


def _comparison_ids(ws, run_id, keys):
    """The server-side comparison ids (hash of the judge prompt) of stored judgment keys."""
    from pairwise_helpers import comparison_id

    from expertune.evaluate.pairwise.judging import build_comparisons, build_request
    from expertune.evaluate.pairwise.verdicts import judge_messages
    from expertune.evaluate.runs import get_run, run_config

    run = get_run(ws, run_id)
    config = run_config(run)
    out = set()
    for c in build_comparisons(run, ws=ws):
        for order in (0, 1):
            r = build_request(c, order, run.lineage.judges[0], run.lineage.rubric_hash, config.rubric.labels)
            if r.key in keys:
                out.add(comparison_id({"messages": judge_messages(r.conversation, r.answers, config.rubric)}))
    return out


def test_concurrent_refusals_step_the_format_down_once(ws, tmp_path):
    """Eight requests in flight are all refused for json_schema: each steps down from the format
    it used, so the judge lands on json_object (never plain text) and no judgment fails."""
    make_workspace(ws, tmp_path, in_domain=10, out_domain=0)  # 9 non-identical comparisons: 18 judgments
    server = Scripted()
    inner = server.__call__
    eight_at_once = threading.Barrier(8, timeout=30)

    def handler(body):
        if is_judge_request(body) and (body.get("response_format") or {}).get("type") == "json_schema":
            eight_at_once.wait()  # every refusal arrives while all eight are in flight
            return 400, {}, b'{"error": {"message": "response_format json_schema is not supported by this model"}}'
        return inner(body)

    with FakeOpenAIServer(handler) as srv:
        config = EvalConfig.model_validate(eval_config(srv.base_url, [judge_cfg(srv.base_url, concurrency=8)], out_domain=False))
        result = run_eval(ws, config)
    j = result["judging"]["judges"]["api"]
    assert (j["judged"], j["failed"]) == (18, 0)
    assert server.formats == ["json_object"] * 18  # after the eight refusals, never json_schema nor plain text
