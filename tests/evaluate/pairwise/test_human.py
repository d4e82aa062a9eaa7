"""Human blind judging: sessions (blind, random order recorded, resumable), sampling where the LLM
judges disagree, statistics against hand-computed values, and the terminal UI driven through a
pseudo-terminal by a scripted human.

Candidates are served by a local fake OpenAI-compatible server; their answers never contain the
candidates' names, so the pty test can check the human never sees them. The LLM judges are
scripted: "marker" prefers the answer carrying the marker; "contrarian" does too except on
question 1, where it prefers the other answer.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from pairwise_helpers import MARKER, MARKS, SAME, make_workspace, prefers_marker, prompt_number, verdict_json

from expertune.errors import InputError
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pairwise.human import (
    comparison_id, next_comparison, progress, record_human_judgment, start_human_session,
)
from expertune.evaluate.pairwise.human_stats import human_summary
from expertune.evaluate.pairwise.judges import ScriptCall, register_script
from expertune.evaluate.pipeline import run_eval
from expertune.llm.testing import FakeOpenAIServer

SIDE = {"tuned": "north", "base": "south"}  # what each candidate's answers say instead of its name


def answer(body) -> str:
    n = prompt_number(body)
    if n in SAME:
        return "Same answer."
    mark = f" {MARKER}" if MARKS.get(n) == body["model"] else ""
    return f"Reply to question {n}: the {SIDE[body['model']]} view at T={body.get('temperature')};{mark}"


def contrarian(call: ScriptCall) -> str:
    if "Question 1:" in call.conversation[-1]["content"]:
        lacking = [label for label, text in call.answers.items() if MARKER not in text]
        return verdict_json(lacking[0])
    return prefers_marker(call)


def config(base_url: str, judges) -> EvalConfig:
    return EvalConfig.model_validate({
        "candidates": [{"name": "base", "type": "openai", "base_url": base_url, "model": "base", "backoff_base": 0.001},
                       {"name": "tuned", "type": "openai", "base_url": base_url, "model": "tuned", "backoff_base": 0.001}],
        "baseline": "base", "prompts": [{"evalset": "indomain"}, {"evalset": "ood"}],
        "grid": {"temperatures": [0.5, 1.0], "max_new_tokens": [64], "seeds": [0]},
        "judges": judges, "bootstrap": 300})


@pytest.fixture
def run_ws(ws, tmp_path):
    """Six prompts x two temperatures; prompt 3's answers are identical, so 10 comparisons to judge."""
    make_workspace(ws, tmp_path)
    register_script("prefers_marker", prefers_marker)
    register_script("contrarian", contrarian)
    judges = [{"name": "marker", "type": "scripted", "script": "prefers_marker"},
              {"name": "contrarian", "type": "scripted", "script": "contrarian"},
              {"name": "alice", "type": "human"}]
    with FakeOpenAIServer(answer) as srv:
        result = run_eval(ws, config(srv.base_url, judges))
    return ws, result["run"]


# The scripted human's outcome for the candidate (tuned) by (question, temperature). The marker
# judge's counted verdicts are: 0 win, 1 win, 2 loss, 100 win, 101 tie at both temperatures.
HUMAN = {(0, 0.5): "win", (1, 0.5): "win", (2, 0.5): "loss", (100, 0.5): "win", (101, 0.5): "tie",
         (0, 1.0): "win", (1, 1.0): "loss", (2, 1.0): "loss", (100, 1.0): "tie", (101, 1.0): "tie"}
# By hand: agreement 8/10; marginals judge W6 L2 T2, human W4 L3 T3; chance (24 + 6 + 6) / 100.
KAPPA = (0.8 - 0.36) / (1 - 0.36)  # 0.6875
WIN_RATE = (4 + 0.5 * 3) / 10  # 0.55


def decide(question: int, temperature: float, answers: dict[str, str], labels: list[str]) -> str:
    """The key the scripted human presses: the label of the answer it prefers, or t."""
    outcome = HUMAN[(question, temperature)]
    if outcome == "tie":
        return "t"
    wanted = SIDE["tuned" if outcome == "win" else "base"]
    label = next(label for label, text in answers.items() if wanted in text)
    return "a" if label == labels[0] else "b"


# -- the library ------------------------------------------------------------------------------------
def test_a_session_is_blind_random_resumable_and_stored_through_the_answer_hashes(run_ws):
    ws, run_id = run_ws
    session = start_human_session(ws, run_id, "bob")
    assert progress(session) == {"done": 0, "total": 10, "pending": 10}
    orders = {session.order_of(c) for c in session.comparisons}
    assert orders == {0, 1}  # both orders occur among ten comparisons
    seen = []
    while (shown := next_comparison(session)) is not None:
        text = json.dumps(shown.__dict__)
        assert "tuned" not in text and "base" not in text  # blind to candidate names
        n = int(re.search(r"Question (\d+)", shown.conversation[-1]["content"]).group(1))
        t = float(re.search(r"T=(\d+\.\d+)", next(iter(shown.answers.values()))).group(1))
        verdict = {"a": "A", "b": "B", "t": "tie"}[decide(n, t, shown.answers, shown.labels)]
        record_human_judgment(session, shown.comparison_id, verdict, note="checked" if n == 0 else None)
        seen.append(shown.comparison_id)
        if len(seen) == 4:
            session = start_human_session(ws, run_id, "bob")  # a new start resumes where it stopped
    assert len(seen) == len(set(seen)) == 10
    # a second start presents the same order (stable), and has nothing left
    again = start_human_session(ws, run_id, "bob")
    assert [comparison_id(c) for c in again.comparisons] == [comparison_id(c) for c in session.comparisons]
    assert next_comparison(again) is None
    bob = human_summary(ws, run_id)["pairs"][0]["humans"]["bob"]
    assert (bob["wins"], bob["ties"], bob["losses"], bob["notes"]) == (4, 3, 3, 2)
    judged = again.judged()
    assert {row.flags["order"] for row in judged.values()} == {0, 1}  # the order shown is recorded

    # the decisive verdicts become DPO pairs: the chosen answer over the other, ties give none
    from expertune.train.dpo import human_pairs

    pairs = human_pairs(ws)
    assert len(pairs) == 7 and all(p["source"] == "human:bob" for p in pairs)
    assert sum("north" in p["chosen"][0]["content"] for p in pairs) == 4
    assert all(p["prompt"][-1]["content"].startswith("Question") for p in pairs)

    from expertune.evaluate.report.build import build_report

    page, meta = build_report(ws, run_id)
    assert "human" in meta["sections"] and not meta["section_errors"]
    assert "Judge validity" in page and "<td>bob</td>" in page


def test_verdicts_and_scores_are_validated(run_ws):
    ws, run_id = run_ws
    session = start_human_session(ws, run_id, "carol")
    shown = next_comparison(session)
    with pytest.raises(InputError, match="verdict 'C'"):
        record_human_judgment(session, shown.comparison_id, "C")
    with pytest.raises(InputError, match="Quality = 7"):
        record_human_judgment(session, shown.comparison_id, "A", scores={"A": {"Quality": 7}})
    row = record_human_judgment(session, shown.comparison_id, "a", scores={"a": {"quality": 4}})
    assert (row.verdict, row.scores, row.judge) == ("A", {"A": {"Quality": 4}}, "human:carol")
    # judging it again replaces the judgment instead of adding a second one
    record_human_judgment(session, shown.comparison_id, "tie")
    assert progress(session)["done"] == 1


def test_sample_prefers_the_comparisons_where_llm_judges_disagree(run_ws):
    ws, run_id = run_ws
    session = start_human_session(ws, run_id, "dave", sample=2, prefer="disagreement")
    questions = {c.prompt.messages[-1]["content"].split(":")[0] for c in session.comparisons}
    assert questions == {"Question 1"} and len(session.comparisons) == 2  # both temperatures of question 1
    # the sample is kept: a later start without --sample judges the same two
    assert [comparison_id(c) for c in start_human_session(ws, run_id, "dave").comparisons] == \
        [comparison_id(c) for c in session.comparisons]


def test_human_judges_are_not_asked_by_the_llm_judging_stage(run_ws):
    ws, run_id = run_ws
    from expertune.evaluate.summary import run_summary

    summary = run_summary(ws, run_id)
    assert set(summary.pairs[0].judges) == {"marker", "contrarian"}
    assert summary.human is None  # nobody has judged yet


# -- the terminal UI through a pseudo-terminal -----------------------------------------------------
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(ws, run_id, *args):
    import pexpect

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "160", "LINES": "60", "TERM": "xterm"}
    return pexpect.spawn(sys.executable, ["-m", "expertune", "-w", str(ws.root), "eval", "human", str(run_id), "--name", "alice",
                                          *args], env=env, encoding="utf-8", timeout=60, dimensions=(60, 160))


def judge_in_terminal(child, count: int, *, labels=("A", "B"), note_on=None, score_on=None) -> list[str]:
    """Judge `count` comparisons as the scripted human; returns the screens seen."""
    screens = []
    for _ in range(count):
        child.expect(r"\[(\d+)/(\d+)\] A/B")
        screen = ANSI.sub("", child.before)
        screens.append(screen)
        n = int(re.findall(r"Question (\d+):", screen)[-1])
        answers = {}
        for label in labels:
            block = screen.split(f"Answer {label}")[-1]
            answers[label] = re.search(r"Reply to question \d+: the (\w+) view at T=(\d+\.\d+)", block).group(0)
        t = float(re.search(r"T=(\d+\.\d+)", answers[labels[0]]).group(1))
        if n == note_on:
            child.send("n")
            child.expect("note: ")
            child.sendline("cites the wrong statute")
            child.expect(r"\[\d+/\d+\] A/B")
        if n == score_on:
            child.send("s")
            for _ in range(2 * 5):  # two answers x five criteria
                child.expect(r"of answer \w: 1-5")
                child.send("4")
            child.expect(r"\[\d+/\d+\] A/B")
        child.send(decide(n, t, answers, list(labels)))
        child.expect("recorded")
    return screens


@pytest.mark.timeout(300)
def test_terminal_ui_scripted_human_judges_ten_comparisons_and_stats_match_hand_values(run_ws):
    import pexpect

    ws, run_id = run_ws
    child = spawn(ws, run_id)
    screens = judge_in_terminal(child, 4, note_on=0, score_on=2)
    child.expect(r"\[5/10\] A/B")
    child.send("q")  # stop; the four judgments are stored
    child.expect("stopped: 4 of 10 judged")
    child.expect(pexpect.EOF)
    child = spawn(ws, run_id)  # resume
    screens += judge_in_terminal(child, 6, note_on=0, score_on=2)
    child.expect(r"done: (\x1b\[[0-9;]*m)*10 of 10 comparisons judged by alice")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert all("tuned" not in s.lower() and "base" not in s.lower() for s in screens)  # blind

    h = human_summary(ws, run_id)
    (pair,) = h["pairs"]
    alice = pair["humans"]["alice"]
    assert (alice["n"], alice["wins"], alice["ties"], alice["losses"]) == (10, 4, 3, 3)
    assert alice["win_rate"] == pytest.approx(WIN_RATE)
    assert alice["notes"] == 2  # question 0 at both temperatures
    lo, hi = alice["ci"]
    assert lo <= WIN_RATE <= hi and alice["prompts"] == 5  # the interval resamples the 5 prompts
    marker = next(j for j in pair["judge_validity"] if j["judge"] == "marker")
    assert marker["n"] == 10
    assert marker["raw_agreement"] == pytest.approx(0.8)
    assert marker["kappa"] == pytest.approx(KAPPA)
    assert marker["kappa_ci"][0] <= KAPPA <= marker["kappa_ci"][1]
    assert marker["validity"].startswith(("probably trusted", "use with care"))  # 0.69 with a wide interval
    # the scores typed in the terminal are stored on that comparison's judgment
    rows = start_human_session(ws, run_id, "alice").judged().values()
    assert sum(bool(r.scores) for r in rows) == 2 and sum(bool(r.reason) for r in rows) == 2

    # and `eval stats` prints them
    import subprocess

    out = subprocess.run([sys.executable, "-m", "expertune", "-w", str(ws.root), "eval", "stats", str(run_id)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert "human:alice: win rate 55.0%" in out.stdout
    assert f"judge marker vs humans: κ {KAPPA:.3f}" in out.stdout


def test_eval_human_outside_a_terminal_and_bad_names_are_clean_errors(run_ws):
    import subprocess

    ws, run_id = run_ws
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    base = [sys.executable, "-m", "expertune", "-w", str(ws.root), "eval", "human", str(run_id)]
    piped = subprocess.run([*base, "--name", "alice"], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    assert piped.returncode == 2 and "terminal" in piped.stderr and "Traceback" not in piped.stderr
    from expertune.errors import ConfigError

    with pytest.raises(ConfigError, match="human judge name"):
        start_human_session(ws, run_id, "a b")
    with pytest.raises(ConfigError, match="--prefer 'loud'"):
        start_human_session(ws, run_id, "alice", sample=3, prefer="loud")
