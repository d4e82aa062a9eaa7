import pytest

from curate_helpers import build, findings, record, set_checks, words
from expertune.curate import run_checks
from expertune.curate.checks.balance import entropy


def test_entropy_is_normalised():
    assert entropy([10, 10, 10]) == pytest.approx(1.0) and entropy([5]) == 1.0
    assert 0 < entropy([30, 1]) < 0.3


def test_imbalanced_topics_and_single_response_groups(ws):
    big = [record(f"Big {i}?", words(20, seed=i), topic="Big") for i in range(15) for _ in range(2)]
    big = [dict(r, messages=r["messages"][:-1] + [{"role": "assistant", "content": r["messages"][-1]["content"] + f" v{k}"}])
           for k, r in enumerate(big)]
    small = [record("Small?", "Only one answer here.", topic="Small"), record("Other?", "Lonely.", topic="Small")]
    build(ws, big + small)
    report = run_checks(ws, only=["balance"])
    summary = [f for f in findings(report, "balance") if f.severity == "info" and "topic(s)" in f.message]
    assert summary[0].data["imbalance_ratio"] == 15.0
    (imbalance,) = [f for f in report.findings if f.severity == "warning" and "imbalanced" in f.message]
    assert "'Small'" in imbalance.message
    (singles,) = [f for f in report.findings if "single accepted response" in f.message]
    assert singles.severity == "info" and len(singles.group_ids) == 2  # 2 of 17 groups: below the warning share
    relaxed = set_checks(ws, {"balance": {"max_imbalance": 20, "min_entropy": 0.1}})
    assert not [f for f in run_checks(relaxed, only=["balance"]).findings if f.severity == "warning"]


def test_balanced_data_has_no_warnings(ws):
    build(ws, [record(f"Q{t}{i}?", f"Answer {k} {words(8, seed=i)}", topic=t) for t in "ABC" for i in range(3) for k in range(2)])
    assert all(f.severity == "info" for f in run_checks(ws, only=["balance"]).findings)


def test_diversity_numbers_separate_repetitive_from_varied_topics(ws):
    repetitive = [record(f"R{i}?", "The contract is valid because the contract is valid and binding on the parties.",
                         topic="Repetitive") for i in range(10)]
    varied = [record(f"V{i}?", words(15, seed=100 + i), topic="Varied") for i in range(10)]
    build(ws, repetitive + varied)
    report = run_checks(ws, only=["diversity"])
    assert all(f.severity == "info" for f in report.findings)
    per_topic = report.results[0].stats["per_topic"]
    assert per_topic["Repetitive"]["distinct_2"] < per_topic["Varied"]["distinct_2"]
    assert per_topic["Repetitive"]["compression_ratio"] > per_topic["Varied"]["compression_ratio"]
    assert report.results[0].stats["spread"]["distinct_2_range"] > 0
