"""stats.agreement_summary (kappa and raw agreement with prompt-clustered bootstrap intervals) and
the validity verdict drawn from it."""

import pytest
from sklearn.metrics import cohen_kappa_score

from expertune.evaluate import stats as st
from expertune.evaluate.pairwise.human_stats import validity

JUDGE = ["win", "win", "loss", "win", "tie", "win", "win", "loss", "win", "tie", "loss", "win"]
HUMAN = ["win", "win", "loss", "win", "tie", "win", "loss", "loss", "tie", "tie", "loss", "tie"]
PROMPTS = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 5]


def test_point_values_are_sklearns_and_the_intervals_contain_them():
    a = st.agreement_summary(JUDGE, HUMAN, PROMPTS, st.OUTCOMES, n_boot=400, seed=3)
    assert a["kappa"] == pytest.approx(cohen_kappa_score(JUDGE, HUMAN))
    assert a["raw_agreement"] == pytest.approx(9 / 12)
    assert (a["n"], a["prompts"]) == (12, 6)
    assert a["kappa_ci"][0] <= a["kappa"] <= a["kappa_ci"][1]
    assert a["raw_ci"][0] <= 0.75 <= a["raw_ci"][1] <= 1.0
    assert a == st.agreement_summary(JUDGE, HUMAN, PROMPTS, st.OUTCOMES, n_boot=400, seed=3)  # seeded


def test_resampling_prompts_widens_the_interval_when_a_prompts_items_agree_together():
    judge = ["win"] * 10 + ["loss"] * 10
    human = ["win"] * 5 + ["loss"] * 5 + ["loss"] * 10  # prompt 0's ten items all agree, prompt 1's half
    clustered = st.agreement_summary(judge, human, [0] * 10 + [1] * 10, n_boot=300, seed=0)
    independent = st.agreement_summary(judge, human, None, n_boot=300, seed=0)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(clustered["raw_ci"]) > width(independent["raw_ci"])


def test_empty_and_undefined_kappa():
    empty = st.agreement_summary([], [], [], st.OUTCOMES)
    assert (empty["n"], empty["kappa"], empty["kappa_ci"]) == (0, None, None)
    constant = st.agreement_summary(["win"] * 4, ["win"] * 4, [0, 1, 2, 3], st.OUTCOMES, n_boot=50)
    assert constant["kappa"] is None and constant["kappa_replicates"] == 0 and constant["raw_agreement"] == 1.0


@pytest.mark.parametrize("n, kappa, ci, verdict", [
    (5, 0.9, (0.8, 1.0), "undecided"),
    (40, 0.85, (0.7, 0.95), "trusted"),
    (40, 0.7, (0.45, 0.9), "probably trusted"),
    (40, 0.5, (0.3, 0.7), "use with care"),
    (40, 0.1, (-0.1, 0.3), "not trusted"),
])
def test_validity_bands(n, kappa, ci, verdict):
    assert validity({"n": n, "kappa": kappa, "kappa_ci": ci}).startswith(verdict + ":")
