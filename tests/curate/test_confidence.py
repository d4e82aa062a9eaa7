import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from curate_helpers import build, findings, record, response_id, set_checks
from expertune.curate import run_checks
from expertune.store.tables import ScoreCache

pytestmark = pytest.mark.integration


def test_least_likely_responses_are_listed_and_scores_are_cached(ws):
    build(ws, [
        record("What is an offer?", "An offer is a promise to be bound on certain terms."),
        record("What is acceptance?", "Acceptance is agreement to the terms of an offer."),
        record("What is a contract?", "A contract is an agreement the law will enforce."),
        record("What is a breach?", "qz vlorp grindle wex 77 ))) flib snarq oo"),  # planted: garbled
    ])
    ws = set_checks(ws, {"confidence": {"review": 2, "batch_size": 3}})
    report = run_checks(ws, only=["confidence"])
    (review,) = findings(report, "confidence", "review")
    garbled = response_id(ws, "qz vlorp")
    assert review.severity == "info" and review.response_ids[0] == garbled
    assert all(f.response_ids == [garbled] for f in findings(report, "confidence", "outlier"))
    stats = report.results[0].stats
    assert stats["computed"] == 4 and stats["cached"] == 0 and sum(stats["histogram"]["counts"]) == 4
    assert stats["mean_logprob"]["min"] == pytest.approx(min(stats["scores"].values()), abs=1e-4)
    with ws.session() as s:
        assert s.scalar(select(func.count()).select_from(ScoreCache)) == 4

    again = run_checks(ws, only=["confidence"]).results[0].stats
    assert again["cached"] == 4 and again["computed"] == 0 and again["scores"] == stats["scores"]


def _cached_scores(ws) -> int:
    with ws.session() as s:
        return s.scalar(select(func.count()).select_from(ScoreCache))


TWO = [record("What is an offer?", "An offer is a promise to be bound on certain terms."),
       record("What is acceptance?", "Acceptance is agreement to the terms of an offer.")]


def test_default_check_runs_no_model_and_with_model_or_enabled_does(ws):
    """The CLI in a real subprocess: a default `check` scores nothing (no model is loaded, the report
    says what was left out); --with-model scores every response, with JSON alone on stdout."""
    build(ws, TWO)
    default = subprocess.run([sys.executable, "-m", "expertune", "-w", str(ws.root), "check", "--json"],
                             capture_output=True, text=True)
    assert default.returncode == 0, default.stderr
    report = json.loads(default.stdout)
    assert "confidence" not in report["checks"] and report["source"]["not_run"] == ["confidence"]
    assert _cached_scores(ws) == 0
    table = subprocess.run([sys.executable, "-m", "expertune", "-w", str(ws.root), "check"], capture_output=True, text=True)
    assert "not run: confidence" in table.stdout and "--with-model" in table.stdout

    scored = subprocess.run([sys.executable, "-m", "expertune", "-w", str(ws.root), "check", "--with-model", "--json"],
                            capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    report = json.loads(scored.stdout)  # the progress bar is on stderr, never in the JSON
    assert report["checks"]["confidence"]["stats"]["computed"] == 2 and report["source"]["not_run"] == []
    assert _cached_scores(ws) == 2


def test_enabled_in_settings_runs_confidence_by_default(ws):
    build(ws, TWO)
    assert [r.check for r in run_checks(ws, only=["duplicates"], with_model=True).results] == ["duplicates"]
    assert "confidence" not in [r.check for r in run_checks(ws).results]
    ws = set_checks(ws, {"confidence": {"enabled": True}})
    report = run_checks(ws)
    assert report.results[-1].check == "confidence" and report.results[-1].stats["computed"] == 2
    assert report.source["not_run"] == []
