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
