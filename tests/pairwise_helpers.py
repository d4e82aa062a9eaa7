"""Shared pieces of the pairwise-evaluation tests: a workspace with prompt sets, candidates served
by a local fake OpenAI-compatible server, and scripted judges of known behaviour."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from expertune.data.evalsets import add_evalset
from expertune.evaluate.pairwise.judges import ScriptCall, register_script
from expertune.llm.testing import FakeOpenAIServer

MARKER = "[[EXPERT-MARK]]"


def prompt_number(body: dict[str, Any]) -> int:
    """Candidate prompts are 'Question N ...'; the number decides the scripted answer."""
    text = body["messages"][-1]["content"]
    return int(re.search(r"Question (\d+)", text).group(1))


# The planted truth of the standard scenario: who carries the marker on which prompt.
# In-domain prompts 0-3, out-of-domain 100-101; prompt 3 gets identical answers from both.
MARKS = {0: "tuned", 1: "tuned", 2: "base", 100: "tuned"}
SAME = {3}
TRUTH = {0: "win", 1: "win", 2: "loss", 3: "tie", 100: "win", 101: "tie"}


def candidate_answer(body: dict[str, Any], marks: dict[int, str] = MARKS, same: set[int] = SAME,
                     planted: dict[int, str] | None = None) -> str:
    n = prompt_number(body)
    if n in same:
        return "Same answer."
    who = body["model"]
    mark = f" {MARKER}" if marks.get(n) == who else ""
    extra = (planted or {}).get(n, "") if who == "tuned" else ""
    return f"{who.capitalize()} answer to question {n} at T={body.get('temperature')}.{mark}{extra}"


def is_judge_request(body: dict[str, Any]) -> bool:
    return body["messages"][0]["role"] == "system" and "impartial expert judge" in body["messages"][0]["content"]


def make_workspace(ws, tmp_path: Path, *, in_domain: int = 4, out_domain: int = 2):
    ind = tmp_path / "in.jsonl"
    ind.write_text("".join(json.dumps({"prompt": f"Question {i}: explain contract rule {i}."}) + "\n" for i in range(in_domain)))
    add_evalset(ws, ind, name="indomain", in_domain=True)
    if out_domain:
        ood = tmp_path / "ood.jsonl"
        ood.write_text("".join(json.dumps({"prompt": f"Question {100 + i}: a cooking question {i}.", "domain": "out"}) + "\n"
                               for i in range(out_domain)))
        add_evalset(ws, ood, name="ood")
    return ws


def remote_candidates(base_url: str) -> list[dict[str, Any]]:
    return [{"name": "base", "type": "openai", "base_url": base_url, "model": "base", "backoff_base": 0.001},
            {"name": "tuned", "type": "openai", "base_url": base_url, "model": "tuned", "backoff_base": 0.001}]


def eval_config(base_url: str, judges: list[dict[str, Any]], *, out_domain: bool = True, **extra) -> dict[str, Any]:
    prompts = [{"evalset": "indomain"}] + ([{"evalset": "ood"}] if out_domain else [])
    return {"candidates": remote_candidates(base_url), "baseline": "base", "prompts": prompts,
            "grid": {"temperatures": [0.5], "max_new_tokens": [64], "seeds": [0]}, "judges": judges,
            "bootstrap": 200, **extra}


# -- scripted judges ------------------------------------------------------------------------------
def verdict_json(verdict: str, reason: str = "scripted", labels=("A", "B")) -> str:
    scores = {label: {c: 3 for c in ("Creativity", "Coherence", "Depth", "Engagement", "Quality")} for label in labels}
    return json.dumps({"scores": scores, "reason": reason, "verdict": verdict})


def prefers_marker(call: ScriptCall) -> str:
    """Picks the answer that contains the marker; a tie when both or neither do."""
    has = [label for label, text in call.answers.items() if MARKER in text]
    return verdict_json(has[0] if len(has) == 1 else "tie", "marker")


def always_first(call: ScriptCall) -> str:
    return verdict_json(call.labels[0], "first slot")


def malformed(call: ScriptCall) -> str:
    return "I think the first one is better. Verdict: A"


CALLS: dict[str, int] = {}


def counting(name, fn):
    def wrapped(call: ScriptCall) -> str:
        CALLS[name] = CALLS.get(name, 0) + 1
        return fn(call)
    return wrapped


def register_scripts() -> None:
    register_script("prefers_marker", counting("prefers_marker", prefers_marker))
    register_script("always_first", counting("always_first", always_first))
    register_script("malformed", counting("malformed", malformed))


def candidate_server(**kwargs) -> FakeOpenAIServer:
    return FakeOpenAIServer(lambda body: candidate_answer(body, **kwargs))


# -- an HTTP judge on the fake server -------------------------------------------------------------
def judge_answers(body: dict[str, Any]) -> dict[str, str]:
    text = body["messages"][1]["content"]
    return {m.group(1): m.group(2) for m in re.finditer(r"\[Answer (\w+)\]\n(.*?)\n\[End of Answer \1\]", text, re.S)}


def comparison_id(body: dict[str, Any]) -> str:
    """Which comparison (prompt, answers, order) a judge request is about; re-prompts keep it."""
    import hashlib

    return hashlib.sha256(body["messages"][1]["content"].encode()).hexdigest()[:16]


def marker_reply(body: dict[str, Any]) -> str:
    answers = judge_answers(body)
    has = [label for label, text in answers.items() if MARKER in text]
    return verdict_json(has[0] if len(has) == 1 else "tie", "marker", labels=tuple(answers))


def constructed_summary(tasks: dict, candidates=("base", "tuned"), baseline: str = "base"):
    """A valid RunSummary of a run without pairwise judging whose tasks report `tasks` (each a
    task summary's JSON form), for the evidence lines of constructed results."""
    from expertune.evaluate.summary import parse_run_summary

    url = "http://127.0.0.1:9/v1"
    lineage = {"created_at": "2026-01-01T00:00:00", "expertune_version": "test", "baseline": baseline,
               "candidates": [{"name": c, "type": "openai", "model_id": f"openai:{c}", "base": c,
                               "endpoint": {"base_url": url, "model": c}} for c in candidates],
               "grid": {}, "rubric_hash": "0" * 64}
    return parse_run_summary({"run": {"id": 1, "status": "done", "folder": "/nowhere", "created_at": "2026-01-01T00:00:00"},
                              "lineage": lineage, "labels": ["A", "B"],
                              "counts": {"prompts": 0, "items": 0, "missing_answers": 0, "identical_answers": 0,
                                         "flagged_planted_verdict": 0},
                              "tasks": tasks}, "constructed summary")
