"""Statistics against textbook values, and exact reproducibility of the seeded bootstraps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_h
from scipy import stats as sps

from expertune.evaluate import stats as st

# Fleiss (1971) as reproduced on Wikipedia: 10 subjects, 14 raters, 5 categories -> kappa 0.210.
FLEISS_1971 = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_wilson_interval_textbook():
    lo, hi = st.wilson_interval(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)
    lo, hi = st.wilson_interval(0, 10)
    assert lo == 0 and round(hi, 3) == 0.278
    assert st.wilson_interval(0, 0) is None
    # ties as half a win: 7 wins + 2 ties of 10 is the interval of 8/10
    assert st.wilson_interval(7 + 0.5 * 2, 10) == st.wilson_interval(8, 10)


@pytest.mark.parametrize("table, kappa", [
    ([[20, 5], [10, 15]], 0.4),  # Wikipedia's worked example: po 0.7, pe 0.5
    ([[45, 15], [25, 15]], 0.1304),
    ([[25, 35], [5, 35]], 0.2593),
])
def test_cohen_kappa_textbook_tables(table, kappa):
    # the table given as two raters' labels
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    assert st.cohen_kappa(a, b) == pytest.approx(kappa, abs=1e-4)


def test_cohen_kappa_edge_cases():
    assert st.cohen_kappa(["win"] * 5, ["win"] * 5) is None  # chance agreement is 1: undefined
    assert st.cohen_kappa(["win", "loss"], ["win", "loss"]) == 1.0
    assert st.cohen_kappa(["win", "loss"], ["loss", "win"]) == -1.0
    assert st.cohen_kappa([], []) is None
    assert st.raw_agreement(["win", "tie", "loss"], ["win", "tie", "win"]) == pytest.approx(2 / 3)


def test_fleiss_kappa_1971_example():
    assert st.fleiss_kappa(FLEISS_1971) == pytest.approx(0.210, abs=5e-4)
    assert st.fleiss_agreement(FLEISS_1971) == pytest.approx(0.378, abs=5e-4)


def test_fleiss_table_from_ratings_and_two_raters_match_scotts_pi():
    ratings = [["win", "win", "tie"], ["loss", "loss", "loss"], ["win", "tie", "tie"], ["win", "win", "win"]]
    table = st.fleiss_table(ratings, st.OUTCOMES)
    assert table.tolist() == [[2, 1, 0], [0, 0, 3], [1, 2, 0], [3, 0, 0]]
    assert st.fleiss_kappa(table) is not None
    with pytest.raises(ValueError):
        st.fleiss_kappa([[1, 0], [2, 0]])  # unequal rater counts


def test_combine_orders_rule():
    W, T, L = st.WIN, st.TIE, st.LOSS
    assert st.combine_orders(W, W) == (W, "agree")
    assert st.combine_orders(L, L) == (L, "agree")
    assert st.combine_orders(T, T) == (T, "agree")
    assert st.combine_orders(T, W) == (W, "tie+decisive")
    assert st.combine_orders(L, T) == (L, "tie+decisive")
    assert st.combine_orders(W, L) == (T, "flip")
    assert st.combine_orders(L, W) == (T, "flip")
    assert st.combine_orders(None, W) == (None, "incomplete")  # a failed order is never a verdict


def test_counts_flip_rate_and_first_position():
    c = st.counts([st.WIN, st.WIN, st.TIE, st.LOSS])
    assert (c["wins"], c["ties"], c["losses"], c["win_rate"]) == (2, 1, 1, 0.625)
    f = st.flip_rate(["flip", "agree", "flip", "incomplete", "tie+decisive"])
    assert (f["n"], f["flips"], f["flip_rate"]) == (4, 2, 0.5)
    fp = st.first_position(["first"] * 10)
    assert fp["first_rate"] == 1.0 and fp["p_value"] == pytest.approx(2 / 2**10)
    assert st.first_position(["first", "second", "tie"])["first_rate"] == 0.5


def test_bootstrap_is_seeded_and_exactly_reproducible():
    rng = np.random.default_rng(1)
    values = rng.choice([0.0, 0.5, 1.0], size=60).tolist()
    clusters = [i // 3 for i in range(60)]
    a = st.bootstrap_means(values, clusters, n_boot=500, seed=42)
    b = st.bootstrap_means(values, clusters, n_boot=500, seed=42)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, st.bootstrap_means(values, clusters, n_boot=500, seed=43))
    assert st.bootstrap_interval(values, clusters, n_boot=500, seed=7) == st.bootstrap_interval(values, clusters, n_boot=500, seed=7)
    lo, hi = st.bootstrap_interval(values, clusters, n_boot=2000, seed=0)
    assert lo < np.mean(values) < hi


def test_cluster_bootstrap_is_wider_when_items_of_a_prompt_agree():
    # 10 prompts x 5 identical items: the real sample size is 10, not 50.
    values = [float(p % 2) for p in range(10) for _ in range(5)]
    clustered = st.bootstrap_interval(values, [p for p in range(10) for _ in range(5)], n_boot=2000, seed=0)
    naive = st.bootstrap_interval(values, None, n_boot=2000, seed=0)
    assert clustered[1] - clustered[0] > 1.5 * (naive[1] - naive[0])


def test_paired_bootstrap_difference():
    same = st.paired_bootstrap_difference([1, 0] * 20, None, [0, 1] * 20, None, n_boot=1000, seed=0)
    assert same["difference"] == 0 and same["p_value"] > 0.5
    far = st.paired_bootstrap_difference([1.0] * 15 + [0.5] * 5, None, [0.0] * 15 + [0.5] * 5, None, n_boot=1000, seed=0)
    assert far["difference"] == pytest.approx(0.75) and far["p_value"] < 0.01
    assert far == st.paired_bootstrap_difference([1.0] * 15 + [0.5] * 5, None, [0.0] * 15 + [0.5] * 5, None, n_boot=1000, seed=0)
    assert st.paired_bootstrap_difference([], None, [1.0], None) is None


def test_length_controlled_win_rate_removes_a_pure_length_preference():
    rng = np.random.default_rng(0)
    n = 1500
    x = rng.normal(0.25, 0.3, n)  # the candidate is usually longer
    p = 1 / (1 + np.exp(-4 * x))  # a judge that only likes length
    y = (rng.random(n) < p).astype(float)
    base = np.full(n, 100.0)
    cand = base * (1 + x) / (1 - x)  # so that (Lc - Lb) / (Lc + Lb) == x
    lc = st.length_controlled_win_rate(y, cand, base, n_boot=50, seed=0)
    assert y.mean() > 0.65
    assert lc["win_rate"] == pytest.approx(0.5, abs=0.05)
    assert lc["slope"] == pytest.approx(4, abs=0.8)
    # equal lengths: the length-controlled rate is the plain rate (up to the weak prior)
    y2 = np.array([1.0] * 70 + [0.0] * 30)
    assert st.length_controlled_win_rate(y2, [50] * 100, [50] * 100, n_boot=20)["win_rate"] == pytest.approx(0.7, abs=0.01)
    # perfect separation stays finite
    sep = st.length_controlled_win_rate([1.0, 1.0, 0.0, 0.0], [120, 130, 80, 90], [100] * 4, n_boot=20, seed=1)
    assert 0 < sep["win_rate"] < 1


def test_win_rate_summary_has_both_intervals():
    s = st.win_rate_summary([st.WIN] * 8 + [st.LOSS] * 2, list(range(10)), n_boot=500, seed=0)
    assert s["win_rate"] == 0.8 and s["prompts"] == 10
    assert (round(s["wilson_unclustered"][0], 3), round(s["wilson_unclustered"][1], 3)) == (0.490, 0.943)
    assert s["ci"][0] <= 0.8 <= s["ci"][1] and s["ci_method"] == "bootstrap over prompts"


def test_the_headline_interval_of_a_win_rate_resamples_prompts():
    # 4 prompts x 3 seeds x 5 samples: 60 comparisons, but only 4 independent prompts.
    outcomes = [st.WIN if p < 3 else st.LOSS for p in range(4) for _ in range(15)]
    prompts = [p for p in range(4) for _ in range(15)]
    s = st.win_rate_summary(outcomes, prompts, n_boot=2000, seed=0)
    assert s["n"] == 60 and s["prompts"] == 4 and s["win_rate"] == 0.75
    assert s["ci"] == st.bootstrap_interval([st.SCORE[o] for o in outcomes], prompts, n_boot=2000, seed=0)
    width, wilson_width = s["ci"][1] - s["ci"][0], s["wilson_unclustered"][1] - s["wilson_unclustered"][0]
    assert width > 2 * wilson_width  # the unclustered Wilson interval claims 60 independent answers
    assert "wilson" not in s and "bootstrap" not in s  # no unlabelled interval left to quote


@settings(max_examples=60, deadline=None)
@given(st_h.lists(st_h.floats(0, 1), min_size=20, max_size=60), st_h.integers(0, 10**6))
def test_cluster_bootstrap_with_singleton_clusters_agrees_with_scipy(values, seed):
    """Our cluster bootstrap, with every item its own cluster, is scipy's percentile bootstrap."""
    ours = st.bootstrap_interval(values, None, n_boot=4000, seed=seed)
    ref = sps.bootstrap((np.asarray(values),), np.mean, n_resamples=4000, method="percentile",
                        rng=np.random.default_rng(seed + 1)).confidence_interval
    # Independent random streams: agreement up to Monte Carlo error and one atom of the discrete
    # bootstrap distribution (a mean over n values moves in steps of at most spread / n).
    tolerance = (max(values) - min(values)) * (0.04 + 1 / len(values)) + 1e-9
    assert ours[0] == pytest.approx(ref.low, abs=tolerance) and ours[1] == pytest.approx(ref.high, abs=tolerance)


# -- classification metrics (issue 9 item 1) -------------------------------------------------------
def test_a_collapsed_classifier_gets_its_true_macro_scores():
    always_a = st.classification_metrics(list("aabbcc"), ["a"] * 6, ["a", "b", "c"])
    assert always_a["macro"]["f1"] == pytest.approx(1 / 6)  # F1 0.5 for a, 0 for the never-predicted b and c
    assert always_a["macro"]["precision"] == pytest.approx(1 / 9) and always_a["macro"]["recall"] == pytest.approx(1 / 3)
    half_invalid = st.classification_metrics(list("aabb"), ["a", "a", "invalid", None], ["a", "b"])
    assert half_invalid["accuracy"]["value"] == 0.5 and half_invalid["macro"]["f1"] == pytest.approx(0.5)
    assert half_invalid["per_class"]["b"]["precision"] == 0.0 and half_invalid["per_class"]["b"]["f1"] == 0.0


LAB3 = ["x", "y", "z"]


@settings(max_examples=150, deadline=None)
@given(st_h.lists(st_h.tuples(st_h.sampled_from(LAB3), st_h.sampled_from([*LAB3, None, "other"])), min_size=1, max_size=40))
def test_classification_metrics_agree_with_scikit_learn(pairs):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    gold = [g for g, _ in pairs]
    pred = [p if p in LAB3 else "INVALID" for _, p in pairs]  # what sklearn sees: a non-label prediction
    m = st.classification_metrics(gold, [p for _, p in pairs], LAB3)
    for average in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=LAB3, average=average, zero_division=0)
        assert (m[average]["precision"], m[average]["recall"], m[average]["f1"]) == pytest.approx((p, r, f))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=LAB3, zero_division=0)
    for i, lab in enumerate(LAB3):
        c = m["per_class"][lab]
        assert (c["precision"], c["recall"], c["f1"], c["support"]) == pytest.approx((p[i], r[i], f[i], s[i]))
    full = confusion_matrix(gold, pred, labels=[*LAB3, "INVALID"])
    assert m["confusion"]["matrix"] == full[:3].tolist()


# -- tests and kappas against their libraries (issue 16 item 8) ------------------------------------
@settings(max_examples=60, deadline=None)
@given(st_h.lists(st_h.tuples(st_h.booleans(), st_h.booleans()), min_size=1, max_size=80))
def test_mcnemar_agrees_with_the_binomial_and_chi_square_tests(pairs):
    base, tuned = [a for a, _ in pairs], [b for _, b in pairs]
    m = st.mcnemar(base, tuned)
    b, c = m["base_only"], m["tuned_only"]
    if b + c == 0:
        assert m["p_value"] == 1.0
    elif b + c < 25:
        assert m["p_value"] == pytest.approx(sps.binomtest(b, b + c, 0.5).pvalue)
    else:
        assert m["p_value"] == pytest.approx(sps.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1))


@settings(max_examples=60, deadline=None)
@given(st_h.integers(1, 200).flatmap(lambda n: st_h.tuples(st_h.integers(0, n), st_h.just(n))))
def test_wilson_interval_is_the_textbook_formula(kn):
    k, n = kn
    z = sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert st.wilson_interval(k, n) == pytest.approx((max(0.0, centre - half), min(1.0, centre + half)), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st_h.integers(0, 10**6))
def test_the_length_model_is_statsmodels_logistic_regression_without_its_prior(seed):
    """Our logistic fit (kept for its ridge prior and soft labels) is statsmodels' binomial GLM
    when the prior is off and the data are not separated."""
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 200)
    y = rng.choice([0.0, 0.5, 1.0], size=200, p=[0.3, 0.2, 0.5])
    a, b = st._logistic_fit(x, y, ridge=0.0)
    ref = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial()).fit().params
    assert (a, b) == pytest.approx(tuple(ref), abs=1e-6)


def test_macro_f1_difference_is_scikit_learns_with_a_paired_bootstrap_interval():
    from sklearn.metrics import f1_score

    labels = ["a", "b", "c"]
    gold = labels * 10
    base = ["a"] * 30  # collapsed on one class
    tuned = [g if i % 5 else None for i, g in enumerate(gold)]  # right but for a few unparseable answers
    d = st.macro_f1_difference(gold, base, tuned, labels, n_boot=500, seed=1)
    macro = lambda pred: f1_score(gold, ["\x00" if p is None else p for p in pred], labels=labels, average="macro", zero_division=0)
    assert d["base"] == pytest.approx(macro(base)) and d["tuned"] == pytest.approx(macro(tuned))
    assert d["ci"][0] < d["difference"] < d["ci"][1] and d["ci"][0] > 0  # a clear improvement
    assert st.macro_f1_difference(gold, base, tuned, labels, n_boot=500, seed=1) == d  # seeded
    same = st.macro_f1_difference(gold, tuned, tuned, labels, n_boot=200)
    assert same["difference"] == 0 and same["ci"] == [0.0, 0.0]
    assert st.macro_f1_difference(["a"], ["a"], ["b"], labels)["ci"] == [-1 / 3, -1 / 3]
