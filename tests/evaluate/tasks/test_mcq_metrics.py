"""Intervals and McNemar's test used by exams and classification."""

import pytest
from scipy import stats

from expertune.evaluate.stats import mcnemar, mean_interval, proportion, wilson_interval


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(5, 8)
    assert lo == pytest.approx(0.3057, abs=1e-4) and hi == pytest.approx(0.8632, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None and proportion(0, 0)["ci"] is None
    assert proportion(0, 0)["value"] is None


def test_mcnemar_exact_and_chi_square():
    base = [True] * 10 + [False] * 3 + [True, False]
    tuned = [True] * 10 + [True] * 3 + [False, False]
    m = mcnemar(base, tuned)
    assert (m["base_only"], m["tuned_only"], m["method"]) == (1, 3, "exact-binomial")
    assert m["p_value"] == pytest.approx(min(1, 2 * stats.binom.cdf(1, 4, 0.5)))
    big_b = [True] * 30 + [False] * 10
    big_t = [False] * 30 + [True] * 10
    m = mcnemar(big_b, big_t)
    assert m["method"] == "chi2-continuity" and m["statistic"] == pytest.approx((20 - 1) ** 2 / 40)
    assert m["p_value"] == pytest.approx(stats.chi2.sf((20 - 1) ** 2 / 40, 1))
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar([True], [])


def test_mean_intervals():
    t = mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / 3 ** 0.5
    assert t["mean"] == 2.0 and t["ci"] == pytest.approx([2 - half, 2 + half])
    b = mean_interval([1.0, 2.0, 3.0], method="bootstrap", seed=1)
    assert 1.0 <= b["ci"][0] <= 2.0 <= b["ci"][1] <= 3.0 and b == mean_interval([1.0, 2.0, 3.0], method="bootstrap", seed=1)
    assert mean_interval([])["mean"] is None and mean_interval([4.0])["ci"] == [None, None]
