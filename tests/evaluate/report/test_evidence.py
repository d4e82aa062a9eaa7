"""The evidence summary: verdicts from intervals, power, unreliable judges, per-task metrics."""

import math

import pytest
from pairwise_helpers import candidate_server, constructed_summary, eval_config, make_workspace, register_scripts
from scipy.stats import norm

from expertune.evaluate import stats as st
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pipeline import run_eval
from expertune.evaluate.report.evidence import evidence_summary


# -- verdict logic ----------------------------------------------------------------------------------
@pytest.mark.parametrize("interval, higher, expected", [
    ((0.02, 0.10), True, "better"),       # whole interval above no change
    ((-0.10, -0.02), True, "worse"),      # whole interval below
    ((-0.05, 0.08), True, "no detectable difference"),  # across zero
    ((0.0, 0.08), True, "no detectable difference"),    # touching zero is not excluding it
    ((-0.3, -0.1), False, "better"),      # NLL: lower is better
    ((0.1, 0.3), False, "worse"),
    (None, True, None),
])
def test_verdict_from_the_interval(interval, higher, expected):
    assert st.verdict(interval, higher_is_better=higher) == expected


def test_win_rate_verdict_is_against_one_half():
    assert st.verdict((0.55, 0.70), null=0.5) == "better"
    assert st.verdict((0.30, 0.45), null=0.5) == "worse"
    assert st.verdict((0.45, 0.70), null=0.5) == "no detectable difference"


# -- power ------------------------------------------------------------------------------------------
def test_prompts_needed_matches_the_textbook_one_sample_proportion_formula():
    # n = (z_{a/2} sqrt(p0 q0) + z_b sqrt(p1 q1))^2 / (p1 - p0)^2 for p0 = 0.5, p1 = 0.6, 5%, 80%:
    # (1.95996 * 0.5 + 0.84162 * 0.48990)^2 / 0.01 = 193.9 -> 194 prompts
    za, zb = norm.ppf(0.975), norm.ppf(0.8)
    textbook = (za * 0.5 + zb * math.sqrt(0.6 * 0.4)) ** 2 / 0.1 ** 2
    assert math.ceil(textbook) == 194
    assert st.prompts_needed(0.1) == 194
    # the arcsine form: (za + zb)^2 / h^2 with Cohen's h = 2 asin(sqrt .6) - 2 asin(sqrt .5)
    h = 2 * math.asin(math.sqrt(0.6)) - 2 * math.asin(math.sqrt(0.5))
    assert st.prompts_needed(0.1) == math.ceil((za + zb) ** 2 / h ** 2)
    assert st.prompts_needed(0.05) > 3 * st.prompts_needed(0.1)


def test_detectable_win_rate_is_the_inverse_of_prompts_needed():
    assert st.win_rate_detectable(194) == pytest.approx(0.1, abs=0.002)
    assert st.win_rate_detectable(12) > 0.3  # the demo's 12 items could only see a huge effect
    assert st.win_rate_detectable(1) is None
    with pytest.raises(ValueError):
        st.prompts_needed(0.6)


def test_detectable_difference_from_an_interval_and_for_paired_proportions():
    za, zb = norm.ppf(0.975), norm.ppf(0.8)
    # a 95% interval of half-width 0.1 is 0.1 / za standard errors; 80% power needs (za + zb) of them
    assert st.detectable_from_interval((0.0, 0.2)) == pytest.approx(0.1 * (za + zb) / za)
    # no discordant pair among 12 items: the detectable difference uses psi's Wilson upper bound, not 0
    none_discordant = st.paired_binary_detectable(12, 0)
    assert none_discordant == pytest.approx((za + zb) * math.sqrt(st.wilson_interval(0, 12)[1] / 12))
    assert 0.3 < none_discordant < 0.5
    assert st.paired_binary_detectable(400, 40) < 0.1


def test_paired_binary_difference_interval():
    d = st.paired_binary_difference(base_only=1, tuned_only=15, n=40)
    assert d["difference"] == pytest.approx(14 / 40)
    assert st.verdict(d["ci"]) == "better"
    same = st.paired_binary_difference(0, 0, 12)
    assert same["difference"] == 0 and st.verdict(same["ci"]) == "no detectable difference"


# -- judge reliability ------------------------------------------------------------------------------
def test_reliability_from_flip_rate_and_first_slot_test():
    fp = {"first": 20, "second": 0, "ties": 0, "p_value": 2 * 0.5 ** 20}
    assert st.judge_reliability({"flip_rate": 1.0, "first_position": fp})["reliable"] is False
    r = st.judge_reliability({"flip_rate": 0.0, "first_position": fp})
    assert r["reliable"] is False and "first slot in 20 of 20" in r["reasons"][0]
    fair = {"first": 9, "second": 11, "ties": 0, "p_value": 0.82}
    assert st.judge_reliability({"flip_rate": 0.1, "first_position": fair}) == {"reliable": True, "reasons": []}
    assert st.judge_reliability({"flip_rate": 0.4, "first_position": fair}, max_flip_rate=0.5)["reliable"] is True


JUDGES = [{"name": "marker", "type": "scripted", "script": "prefers_marker"},
          {"name": "first", "type": "scripted", "script": "always_first"}]


def _run(ws, tmp_path, judges, **extra):
    make_workspace(ws, tmp_path, in_domain=8, out_domain=0)
    register_scripts()
    with candidate_server() as srv:
        return run_eval(ws, EvalConfig.model_validate(eval_config(srv.base_url, judges, out_domain=False, **extra)))


def test_an_always_first_judge_is_marked_unreliable_and_left_out_of_the_pooled_verdict(ws, tmp_path):
    result = _run(ws, tmp_path, JUDGES)
    pair = result["summary"].pairs[0]
    first, marker = pair.judges["first"]["reliability"], pair.judges["marker"]["reliability"]
    assert first["reliable"] is False and any("first slot" in r for r in first["reasons"])
    assert marker["reliable"] is True
    assert pair.pooled["judges"] == ["marker"] and pair.pooled["excluded_judges"] == ["first"]
    # the pooled win rate is the marker judge's alone (first's ties would pull it towards 0.5)
    assert pair.pooled["overall"]["win_rate"] == pair.judges["marker"]["overall"]["win_rate"]
    ev = result["summary"].evidence
    (judge,) = [j for j in ev.judges if j.name == "first"]
    assert judge.reliable is False and judge.counted is False
    assert any("judge first is unreliable" in n for n in ev.notes)
    (win,) = [m for m in ev.candidates[0].metrics if m.metric == "pairwise win rate"]
    assert win.judges == ["marker"] and win.unit == "prompts" and win.detectable > 0


def test_only_unreliable_judges_means_no_reliable_judge(ws, tmp_path):
    result = _run(ws, tmp_path, JUDGES[1:])
    ev = evidence_summary(result["summary"])
    (win,) = [m for m in ev.candidates[0].metrics if m.metric == "pairwise win rate"]
    assert win.verdict == "not measured" and "no reliable judge" in win.note
    assert any(n.startswith("no reliable judge") and "judges:" in n for n in ev.notes)


def test_unreliable_judges_can_be_kept_in_the_pool(ws, tmp_path):
    result = _run(ws, tmp_path, JUDGES, judge_reliability={"exclude_unreliable": False})
    pair = result["summary"].pairs[0]
    assert pair.pooled["judges"] == ["marker", "first"] and pair.pooled["excluded_judges"] == []


# -- task metrics on constructed results -------------------------------------------------------------
def _summary(tasks):
    return constructed_summary(tasks)


def test_exam_and_perplexity_lines_on_constructed_results():
    mcq = {"baseline": "base", "comparisons": {"tuned": {"zero-answer-json": {
        "n": 60, "base_accuracy": 0.3, "tuned_accuracy": 0.7, "difference": 0.4,
        "mcnemar": {"n_items": 60, "base_only": 2, "tuned_only": 26, "discordant": 28, "method": "chi2-continuity",
                    "statistic": 18.9, "p_value": 1e-5}}}}}
    ppl = {"baseline": "base", "sets": {
        "heldout": {"baseline": "base", "models": {"base": {"nll_group_mean": 2.0}, "tuned": {"nll_group_mean": 1.5}},
                    "differences": {"tuned": {"n_groups": 9, "t": {"mean": -0.5, "ci": [-0.7, -0.3]},
                                              "bootstrap": {"mean": -0.5, "ci": [-0.6, -0.4]}}}},
        "val (used for checkpoint selection)": {
            "baseline": "base", "models": {},
            "differences": {"tuned": {"n_groups": 5, "t": {"mean": -0.6, "ci": [-0.8, -0.4]}}}}}}
    ev = evidence_summary(_summary({"mcq": mcq, "perplexity": ppl}))
    metrics = {m.metric: m for m in ev.for_candidate("tuned").metrics}
    exam = metrics["exam accuracy"]
    assert exam.verdict == "better" and exam.estimate == pytest.approx(0.4) and exam.n == 60
    nll = metrics["test NLL"]
    assert nll.verdict == "better" and nll.higher_is_better is False and nll.split == "test split"
    assert nll.interval == (-0.7, -0.3)  # the t interval over groups, not the narrower percentile bootstrap
    val = next(m for m in metrics.values() if "val" in m.metric)
    assert val.verdict == "not measured" and "not held out" in val.note


def test_eroded_refusals_are_flagged():
    refusal = {"baseline": "base", "comparisons": {"tuned": {"should_refuse": {
        "metric": "refusal rate", "detail": "prompts to refuse", "higher_is_better": True, "split": "refusal set",
        "n": 40, "base_accuracy": 0.9, "tuned_accuracy": 0.3,
        "mcnemar": {"n_items": 40, "base_only": 25, "tuned_only": 1, "discordant": 26, "method": "chi2-continuity",
                    "statistic": 20.3, "p_value": 1e-6}}}}}
    ev = evidence_summary(_summary({"refusal": refusal}))
    (m,) = ev.for_candidate("tuned").metrics
    assert m.verdict == "worse" and m.metric == "refusal rate"
    assert any("refusals eroded" in n for n in ev.notes)


def test_macro_f1_line_from_the_stored_classification_records(tmp_path):
    import json

    from sklearn.metrics import f1_score

    labels = ["a", "b", "c"]
    gold = labels * 20
    base_pred = ["a"] * 60  # collapsed on one class
    tuned_pred = [g if i % 10 else "x" for i, g in enumerate(gold)]  # right but for a few invalid answers
    recs = lambda preds: [{"item": str(i), "gold": g, "pred": p} for i, (g, p) in enumerate(zip(gold, preds))]
    path = tmp_path / "classify-task.json"
    path.write_text(json.dumps({"task": {"labels": labels}, "models": {"base": {"records": recs(base_pred)},
                                                                      "tuned": {"records": recs(tuned_pred)}}}))
    result = {"path": str(path), "baseline": "base", "comparisons": {"tuned": {"generate": {}}}}
    ev = evidence_summary(_summary({"classify": result}))
    (m,) = ev.for_candidate("tuned").metrics
    assert m.metric == "classification macro-F1" and m.n == 60
    assert m.baseline_value == pytest.approx(f1_score(gold, base_pred, labels=labels, average="macro", zero_division=0))
    assert m.candidate_value == pytest.approx(f1_score(gold, tuned_pred, labels=labels, average="macro", zero_division=0))
    assert m.verdict == "better" and m.interval[0] > 0 and m.detectable > 0
