"""The evaluation maths in one module: intervals, paired tests, classification metrics, agreement
between raters, and the statistics of pairwise judgments.

Where a maintained library computes a figure we call it (scikit-learn for classification metrics
and Cohen's kappa, statsmodels for Wilson intervals, McNemar's test and Fleiss' kappa, SciPy for
the binomial test, t intervals and the item bootstraps): a hand-written macro-F1 once skipped the
classes a collapsed model never predicted. Our own code remains only where no library has the
behaviour needed: the bootstrap that resamples whole prompts (clusters), the length-controlled
win rate, and combining a judge's two orders. Each is tested against a library where they share
cases (tests/evaluate/test_stats.py).

Outcomes of pairwise judging are from the candidate's point of view: "win", "tie" or "loss"
against the baseline. Win rates count a tie as half a win. Every bootstrap takes an explicit seed
and is exactly reproducible.

Combining a judge's two orders into the one counted verdict (`combine_orders`):
  - both orders needed: if either failed, the item has no verdict from that judge ("incomplete");
  - the same outcome in both orders -> that outcome ("agree");
  - a tie in one order and a win (or loss) in the other -> the win (or loss) ("tie+decisive"):
    the judge expressed one preference that its other reading did not contradict;
  - a win in one order and a loss in the other -> a tie, counted as a flip: the judge followed
    the position, not the answers.

The intervals of pairwise win rates resample prompts: the answers to one prompt across seeds,
samples and grid cells are not independent, so that interval ("ci") is the headline. A Wilson
interval over all items is kept for reference under the name "wilson_unclustered".
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any, Sequence

import numpy as np
from scipy import stats as sps

WIN, TIE, LOSS = "win", "tie", "loss"
OUTCOMES = (WIN, TIE, LOSS)
SCORE = {WIN: 1.0, TIE: 0.5, LOSS: 0.0}
INVALID = "invalid"  # the confusion-matrix column for answers that named no valid label
CLUSTERED = "bootstrap over prompts"  # how the headline interval of a win rate is computed


# -- proportions and means ------------------------------------------------------------------------
def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (successes may be fractional: ties count half);
    None when there is nothing to estimate (n = 0)."""
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return None
    lo, hi = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    # At p = 0 or 1 the bound is exactly 0 or 1; rounding would otherwise leave ~1e-17 off it.
    return (0.0 if successes <= 0 else float(lo), 1.0 if successes >= n else float(hi))


def proportion(successes: int, n: int) -> dict[str, Any]:
    """A proportion of independent items with its Wilson interval, as stored in results."""
    ci = wilson_interval(successes, n)
    return {"k": successes, "n": n, "value": successes / n if n else None, "ci": list(ci) if ci else None}


def mean_interval(values: Sequence[float], *, method: str = "t", level: float = 0.95,
                  n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean with a t interval or a percentile bootstrap interval (seeded, so reruns agree)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "ci": [None, None], "method": method}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "ci": [None, None], "method": method}
    if method == "bootstrap":
        res = sps.bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                            rng=np.random.default_rng(seed))
        lo, hi = res.confidence_interval
    elif method == "t":
        lo, hi = sps.ttest_1samp(x, 0.0).confidence_interval(level) if x.std() > 0 else (mean, mean)
    else:
        raise ValueError(f"unknown interval method {method!r}")
    return {"n": n, "mean": mean, "ci": [float(lo), float(hi)], "method": method}


def population_std(values: Sequence[float]) -> float | None:
    vals = list(values)
    return float(np.std(vals)) if vals else None


# -- cluster bootstrap (own code: resamples whole prompts) ----------------------------------------
def _clusters(values: Sequence[float], clusters: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts (each item its own cluster when clusters is None)."""
    v = np.asarray(values, dtype=float)
    if clusters is None:
        return v, np.ones_like(v)
    ids = {c: i for i, c in enumerate(dict.fromkeys(clusters))}
    idx = np.array([ids[c] for c in clusters], dtype=int)
    return np.bincount(idx, weights=v, minlength=len(ids)), np.bincount(idx, minlength=len(ids)).astype(float)


def bootstrap_means(values: Sequence[float], clusters: Sequence[Any] | None = None, *, n_boot: int = 2000,
                    seed: int = 0) -> np.ndarray:
    """Bootstrap replicates of the mean, resampling whole clusters (e.g. prompts) with replacement:
    answers to the same prompt are not independent, so the prompt is the unit of resampling."""
    sums, sizes = _clusters(values, clusters)
    if len(sums) == 0:
        return np.array([])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    return sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)


def bootstrap_interval(values: Sequence[float], clusters: Sequence[Any] | None = None, *, n_boot: int = 2000,
                       seed: int = 0, confidence: float = 0.95) -> tuple[float, float] | None:
    reps = bootstrap_means(values, clusters, n_boot=n_boot, seed=seed)
    if reps.size == 0:
        return None
    alpha = (1 - confidence) / 2
    return (float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha)))


def paired_bootstrap_difference(values_a: Sequence[float], clusters_a: Sequence[Any] | None, values_b: Sequence[float],
                                clusters_b: Sequence[Any] | None, *, n_boot: int = 2000, seed: int = 0,
                                confidence: float = 0.95) -> dict[str, Any] | None:
    """Difference of means a - b with a bootstrap interval and a two-sided p-value.

    Each replicate pairs one resample of group a with one of group b (each resampled by cluster
    within itself) and records the difference; the p-value is twice the share of replicates on
    the far side of zero (at most 1).
    """
    if not len(values_a) or not len(values_b):
        return None
    rng = np.random.default_rng(seed)
    seed_a, seed_b = (int(x) for x in rng.integers(0, 2**63 - 1, size=2))
    reps = bootstrap_means(values_a, clusters_a, n_boot=n_boot, seed=seed_a) - bootstrap_means(values_b, clusters_b, n_boot=n_boot, seed=seed_b)
    alpha = (1 - confidence) / 2
    diff = float(np.mean(values_a) - np.mean(values_b))
    p = min(1.0, 2 * min(float(np.mean(reps <= 0)), float(np.mean(reps >= 0))))
    return {"difference": diff, "interval": (float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha))), "p_value": p}


# -- paired correctness ----------------------------------------------------------------------------
def mcnemar(base: Sequence[bool], tuned: Sequence[bool], *, exact_below: int = 25) -> dict[str, Any]:
    """McNemar's test on paired correctness of the same items (statsmodels).

    Only discordant pairs carry information: b = base right and tuned wrong, c = the reverse.
    With few discordant pairs the chi-square approximation is poor, so below `exact_below` the
    exact two-sided binomial test is used, else the continuity-corrected chi-square.
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    if len(base) != len(tuned):
        raise ValueError("base and tuned must score the same items")
    b = sum(1 for x, y in zip(base, tuned) if x and not y)
    c = sum(1 for x, y in zip(base, tuned) if y and not x)
    n = b + c
    out: dict[str, Any] = {"n_items": len(base), "base_only": b, "tuned_only": c, "discordant": n}
    if n == 0:
        return {**out, "method": "none", "statistic": None, "p_value": 1.0}
    exact = n < exact_below
    res = sm_mcnemar([[0, b], [c, 0]], exact=exact, correction=True)
    return {**out, "method": "exact-binomial" if exact else "chi2-continuity",
            "statistic": None if exact else float(res.statistic), "p_value": float(res.pvalue)}


# -- classification --------------------------------------------------------------------------------
_NO_LABEL = "\x00no label"  # stands in for invalid predictions inside scikit-learn (never a task label)


def confusion_matrix(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict[str, Any]:
    """Rows are gold labels, columns the labels plus "invalid" (no usable answer)."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    columns = [*labels, INVALID]
    valid = [p if p in labels else _NO_LABEL for p in pred]
    matrix = sk_confusion(list(gold), valid, labels=[*labels, _NO_LABEL]) if len(gold) else np.zeros((len(columns),) * 2, int)
    return {"labels": list(labels), "columns": columns, "matrix": [[int(x) for x in row] for row in matrix[:len(labels)]]}


def classification_metrics(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict[str, Any]:
    """Per-class precision, recall (= sensitivity), F1 and specificity, macro and micro averages
    (scikit-learn, zero_division=0).

    Macro averages run over every label of the task: a class the model never predicts has
    precision 0, not "undefined and skipped", so a collapsed model cannot look good. An invalid
    prediction (None or not a label) is a miss for the gold class and a false positive for no
    class, so micro precision counts only valid predictions while micro recall counts all items:
    the gap between them is the cost of unparseable answers.
    """
    from sklearn.metrics import multilabel_confusion_matrix, precision_recall_fscore_support

    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    labels = list(labels)
    gold = list(gold)
    valid = [p if p in labels else _NO_LABEL for p in pred]
    n = len(gold)
    correct = sum(1 for g, p in zip(gold, valid) if g == p)
    out: dict[str, Any] = {"n": n, "accuracy": proportion(correct, n),
                           "invalid": proportion(sum(p == _NO_LABEL for p in valid), n),
                           "confusion": confusion_matrix(gold, pred, labels)}
    if n == 0 or not labels:
        none = {k: None for k in ("precision", "recall", "f1", "sensitivity", "specificity")}
        return {**out, "per_class": {}, "macro": none, "micro": {"precision": None, "recall": None, "f1": None}}
    precision, recall, f1, support = precision_recall_fscore_support(gold, valid, labels=labels, zero_division=0)
    per_class: dict[str, dict[str, Any]] = {}
    for i, (lab, cm) in enumerate(zip(labels, multilabel_confusion_matrix(gold, valid, labels=labels))):
        (tn, fp), (fn, tp) = cm.tolist()
        per_class[lab] = {
            "support": int(support[i]), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
            "sensitivity": float(recall[i]), "specificity": tn / (tn + fp) if tn + fp else 0.0,
        }
    macro = {k: float(np.mean([m[k] for m in per_class.values()]))
             for k in ("precision", "recall", "f1", "sensitivity", "specificity")}
    micro = precision_recall_fscore_support(gold, valid, labels=labels, average="micro", zero_division=0)[:3]
    return {**out, "per_class": per_class, "macro": macro,
            "micro": dict(zip(("precision", "recall", "f1"), (float(x) for x in micro)))}


def macro_f1_difference(gold: Sequence[str], base_pred: Sequence[str | None], tuned_pred: Sequence[str | None],
                        labels: Sequence[str], *, n_boot: int = 2000, seed: int = 0,
                        confidence: float = 0.95) -> dict[str, Any]:
    """Macro-F1 of tuned minus base on the same items (scikit-learn's f1_score over every label,
    invalid answers counting as misses), with SciPy's paired percentile bootstrap over items:
    macro-F1 is not a mean of per-item scores, so each replicate recomputes it on resampled items."""
    from sklearn.metrics import f1_score

    labels = list(labels)
    g = np.asarray(list(gold), dtype=object)
    b = np.asarray([p if p in labels else _NO_LABEL for p in base_pred], dtype=object)
    t = np.asarray([p if p in labels else _NO_LABEL for p in tuned_pred], dtype=object)

    def f1(y, p):
        return float(f1_score(y, p, labels=labels, average="macro", zero_division=0))

    n = len(g)
    if n == 0:
        return {"n": 0, "base": None, "tuned": None, "difference": None, "ci": None}
    base, tuned = f1(g, b), f1(g, t)
    if n == 1:  # nothing to resample: the interval is the one item's difference
        return {"n": 1, "base": base, "tuned": tuned, "difference": tuned - base, "ci": [tuned - base, tuned - base]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # identical replicates (a degenerate interval) are an answer, not a problem
        res = sps.bootstrap((np.arange(n),), lambda idx: f1(g[idx], t[idx]) - f1(g[idx], b[idx]), n_resamples=n_boot,
                            confidence_level=confidence, method="percentile", vectorized=False,
                            rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    return {"n": n, "base": base, "tuned": tuned, "difference": tuned - base, "ci": [float(lo), float(hi)]}


# -- agreement between raters ---------------------------------------------------------------------
def _defined(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def raw_agreement(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    return float(np.mean([x == y for x, y in zip(a, b)])) if len(a) else None


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], categories: Sequence[Any] | None = None) -> float | None:
    """Cohen's kappa of two raters over the same items (scikit-learn); None when undefined: no
    items, or both raters constant on the same category, where chance agreement is already 1."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    if not len(a):
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _defined(cohen_kappa_score(list(a), list(b), labels=list(categories) if categories is not None else None))


def fleiss_table(ratings: Sequence[Sequence[Any]], categories: Sequence[Any]) -> np.ndarray:
    """items x raters labels -> items x categories counts (statsmodels' aggregate_raters)."""
    from statsmodels.stats.inter_rater import aggregate_raters

    if not len(ratings):
        return np.zeros((0, len(categories)))
    pos = {c: i for i, c in enumerate(categories)}
    return aggregate_raters(np.array([[pos[x] for x in row] for row in ratings]), n_cat=len(categories))[0].astype(float)


def fleiss_kappa(table: Any) -> float | None:
    """Fleiss' kappa from an items x categories table of rating counts (same raters per item)."""
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    t = np.asarray(table, dtype=float)
    if t.size == 0:
        return None
    raters = t.sum(axis=1)
    if not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError("every item needs the same number (>= 2) of ratings")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _defined(sm_fleiss(t, method="fleiss"))


def fleiss_agreement(table: Any) -> float | None:
    """Mean observed pairwise agreement (Fleiss' P-bar), the raw figure next to kappa."""
    t = np.asarray(table, dtype=float)
    if t.size == 0:
        return None
    n = t.sum(axis=1)[0]
    return float(((np.square(t).sum(axis=1) - n) / (n * (n - 1))).mean())


# -- pairwise verdicts ----------------------------------------------------------------------------
def combine_orders(first: str | None, second: str | None) -> tuple[str | None, str]:
    """One verdict from the two orders' outcomes (None = that order failed); see module doc."""
    if first is None or second is None:
        return None, "incomplete"
    if first == second:
        return first, "agree"
    if TIE in (first, second):
        return (second if first == TIE else first), "tie+decisive"
    return TIE, "flip"


def counts(outcomes: Sequence[str]) -> dict[str, Any]:
    c = Counter(outcomes)
    n = len(outcomes)
    out: dict[str, Any] = {"n": n, "wins": c[WIN], "ties": c[TIE], "losses": c[LOSS]}
    out["win_rate"] = (c[WIN] + 0.5 * c[TIE]) / n if n else None
    for key in OUTCOMES:
        out[f"{key}_share"] = c[key] / n if n else None
    return out


def mean_score_summary(scores: Sequence[float], clusters: Sequence[Any] | None, *, n_boot: int = 2000,
                       seed: int = 0) -> dict[str, Any]:
    """Win rate of scores in [0, 1] (1 win, 0.5 tie, 0 loss, or averages over judges) with the
    headline interval resampling prompts ("ci") and, labelled as such, the Wilson interval that
    treats every item as independent ("wilson_unclustered")."""
    n = len(scores)
    total = float(sum(scores))
    return {"n": n, "win_rate": total / n if n else None, "prompts": len(set(clusters)) if clusters is not None else n,
            "ci": bootstrap_interval(scores, clusters, n_boot=n_boot, seed=seed), "ci_method": CLUSTERED,
            "wilson_unclustered": wilson_interval(total, n)}


def win_rate_summary(outcomes: Sequence[str], clusters: Sequence[Any] | None, *, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, Any]:
    """Counts and win rate (ties half) with the intervals of `mean_score_summary`."""
    return {**mean_score_summary([SCORE[o] for o in outcomes], clusters, n_boot=n_boot, seed=seed), **counts(outcomes)}


def flip_rate(kinds: Sequence[str]) -> dict[str, Any]:
    """Share of complete items whose two orders gave opposite decisive verdicts."""
    complete = [k for k in kinds if k != "incomplete"]
    c = Counter(complete)
    n = len(complete)
    return {"n": n, "flips": c["flip"], "flip_rate": c["flip"] / n if n else None,
            "tie_plus_decisive": c["tie+decisive"], "agree": c["agree"]}


def first_position(picks: Sequence[str]) -> dict[str, Any]:
    """How often the answer in the first slot wins among decisive single-order judgments;
    0.5 is unbiased. `picks` holds "first", "second" or "tie" per valid judgment."""
    c = Counter(picks)
    decisive = c["first"] + c["second"]
    rate = c["first"] / decisive if decisive else None
    p = float(sps.binomtest(c["first"], decisive, 0.5).pvalue) if decisive else None
    return {"n": len(picks), "first": c["first"], "second": c["second"], "ties": c["tie"],
            "first_rate": rate, "p_value": p}


def judge_reliability(reliability: dict[str, Any], *, max_flip_rate: float = 0.3, alpha: float = 0.05) -> dict[str, Any]:
    """Whether a judge's verdicts can be trusted, from its own two orders: a judge that often gives
    opposite verdicts when the answers swap places (flip rate above `max_flip_rate`), or whose
    preference for the first slot is significant (two-sided binomial test p < `alpha`), follows
    positions rather than answers. Returns {"reliable", "reasons"}; reasons say which test failed."""
    reasons = []
    flips = reliability.get("flip_rate")
    if flips is not None and flips > max_flip_rate:
        reasons.append(f"flip rate {flips:.0%} > {max_flip_rate:.0%}: its verdict changes when the answers swap places")
    fp = reliability.get("first_position") or {}
    if fp.get("p_value") is not None and fp["p_value"] < alpha:
        reasons.append(f"picks the first slot in {fp['first']} of {fp['first'] + fp['second']} decisive judgments "
                       f"(binomial p = {fp['p_value']:.2g} < {alpha:g})")
    return {"reliable": not reasons, "reasons": reasons}


# -- verdicts and power ---------------------------------------------------------------------------
BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"


def verdict(interval: Sequence[float] | None, *, null: float = 0.0, higher_is_better: bool = True) -> str | None:
    """"better" when the whole interval lies on the good side of `null` (no change), "worse" when
    it lies on the bad side, else "no detectable difference"; None without an interval."""
    if not interval or interval[0] is None or interval[1] is None:
        return None
    lo, hi = float(interval[0]), float(interval[1])
    if lo > null:
        return BETTER if higher_is_better else WORSE
    if hi < null:
        return WORSE if higher_is_better else BETTER
    return NO_DIFFERENCE


def _z(confidence: float, power: float) -> tuple[float, float]:
    return float(sps.norm.ppf(1 - (1 - confidence) / 2)), float(sps.norm.ppf(power))


def win_rate_effect_size(win_rate: float) -> float:
    """Cohen's h of a win rate against 0.5 (statsmodels' proportion_effectsize)."""
    from statsmodels.stats.proportion import proportion_effectsize

    return float(proportion_effectsize(win_rate, 0.5))


def prompts_needed(effect: float, *, confidence: float = 0.95, power: float = 0.8) -> int:
    """Prompts needed to detect a win rate of 0.5 + `effect` against no difference (0.5) with a
    two-sided test at 1 - confidence and the given power: the one-sample arcsine (Cohen's h) power
    calculation of statsmodels. Each prompt counts once (the prompt is the unit of the interval);
    ties, which lower the variance, make it conservative."""
    from statsmodels.stats.power import NormalIndPower

    if not 0 < abs(effect) < 0.5:
        raise ValueError("effect must be a win-rate difference from 0.5, between 0 and 0.5 (e.g. 0.1 for 60%)")
    n = NormalIndPower().solve_power(effect_size=win_rate_effect_size(0.5 + abs(effect)), alpha=1 - confidence,
                                     power=power, ratio=0, alternative="two-sided")
    return int(math.ceil(n))


def win_rate_detectable(n: int, *, confidence: float = 0.95, power: float = 0.8) -> float | None:
    """The smallest win-rate difference from 0.5 that n prompts detect with the given power (the
    inverse of `prompts_needed`)."""
    from statsmodels.stats.power import NormalIndPower

    if n < 2:
        return None
    h = NormalIndPower().solve_power(nobs1=n, alpha=1 - confidence, power=power, ratio=0, alternative="two-sided")
    rate = math.sin(float(h) / 2 + math.asin(math.sqrt(0.5))) ** 2
    return min(0.5, rate - 0.5)


def detectable_from_interval(interval: Sequence[float] | None, *, confidence: float = 0.95, power: float = 0.8) -> float | None:
    """The smallest difference a test with this interval detects with the given power: the
    interval's half-width is z(1 - alpha/2) standard errors, the detectable difference is
    (z(1 - alpha/2) + z(power)) standard errors."""
    if not interval or interval[0] is None or interval[1] is None:
        return None
    za, zb = _z(confidence, power)
    return (float(interval[1]) - float(interval[0])) / 2 * (za + zb) / za


def paired_binary_detectable(n: int, discordant: int, *, confidence: float = 0.95, power: float = 0.8) -> float | None:
    """Smallest difference in paired proportions (accuracy, refusal rate) that n paired items
    detect: the difference has standard error sqrt(psi / n) under no change, where psi is the
    share of discordant pairs; psi is taken at its Wilson upper bound so that a run with few or no
    discordant pairs does not claim a tiny detectable difference."""
    if n < 2:
        return None
    za, zb = _z(confidence, power)
    psi = wilson_interval(discordant, n, confidence)[1]
    return min(1.0, (za + zb) * math.sqrt(psi / n))


def paired_binary_difference(base_only: int, tuned_only: int, n: int) -> dict[str, Any]:
    """Paired difference of proportions (tuned - base) from McNemar's counts, with a t interval
    over the items' differences (+1 tuned only, -1 base only, 0 concordant)."""
    diffs = [1.0] * tuned_only + [-1.0] * base_only + [0.0] * (n - tuned_only - base_only)
    m = mean_interval(diffs, method="t")
    return {"difference": m["mean"], "ci": m["ci"] if m["mean"] is not None else None,
            "detectable": paired_binary_detectable(n, base_only + tuned_only)}


# -- length control -------------------------------------------------------------------------------
def _logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float = 0.04, iters: int = 50) -> tuple[float, float]:
    """Intercept and slope of P(y) = sigmoid(a + b x) for soft labels y in [0, 1], by Newton's
    method with a weak ridge penalty (a N(0, 5^2) prior) so perfect separation stays finite."""
    X = np.column_stack([np.ones_like(x), x])
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ w)))
        grad = X.T @ (y - p) - ridge * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(w[0]), float(w[1])


def length_difference(candidate_lengths: Sequence[float], baseline_lengths: Sequence[float]) -> np.ndarray:
    """(Lc - Lb) / (Lc + Lb): in [-1, 1], 0 when both answers are equally long."""
    lc = np.asarray(candidate_lengths, dtype=float)
    lb = np.asarray(baseline_lengths, dtype=float)
    total = lc + lb
    return np.divide(lc - lb, total, out=np.zeros_like(total), where=total > 0)


def length_controlled_win_rate(scores: Sequence[float], candidate_lengths: Sequence[float], baseline_lengths: Sequence[float],
                               clusters: Sequence[Any] | None = None, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any] | None:
    """Win rate at zero length difference: a logistic model of the candidate's score (1, 0.5, 0)
    on the normalised length difference, read at 0, with a cluster-bootstrap interval. The slope
    says how much longer answers were favoured (log-odds per unit of normalised difference)."""
    y = np.asarray(scores, dtype=float)
    if y.size == 0:
        return None
    x = length_difference(candidate_lengths, baseline_lengths)
    a, b = _logistic_fit(x, y)
    keys = list(clusters) if clusters is not None else list(range(len(y)))
    groups: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    members = list(groups.values())
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        idx = np.concatenate([members[j] for j in rng.integers(0, len(members), size=len(members))])
        reps.append(1 / (1 + math.exp(-_logistic_fit(x[idx], y[idx])[0])))
    return {"n": int(y.size), "win_rate": 1 / (1 + math.exp(-a)), "slope": b,
            "interval": (float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))),
            "mean_length_difference": float(x.mean())}


def agreement_summary(a: Sequence[Any], b: Sequence[Any], clusters: Sequence[Any] | None = None,
                      categories: Sequence[Any] | None = None, *, n_boot: int = 1000, seed: int = 0,
                      confidence: float = 0.95) -> dict[str, Any]:
    """Raw agreement and Cohen's kappa of two raters over the same items, each with a bootstrap
    interval that resamples whole clusters (prompts: several items of one prompt are not
    independent). Replicates where kappa is undefined (both raters constant) are left out of its
    interval; `kappa_replicates` says how many remained."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    keys = list(clusters) if clusters is not None else list(range(len(a)))
    out: dict[str, Any] = {"n": len(a), "prompts": len(set(keys)), "raw_agreement": raw_agreement(a, b),
                           "kappa": cohen_kappa(a, b, categories), "raw_ci": None, "kappa_ci": None, "kappa_replicates": 0}
    if not len(a):
        return out
    groups: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    members = list(groups.values())
    rng = np.random.default_rng(seed)
    raws, kappas = [], []
    for _ in range(n_boot):
        idx = [i for j in rng.integers(0, len(members), size=len(members)) for i in members[j]]
        ra, rb = [a[i] for i in idx], [b[i] for i in idx]
        raws.append(raw_agreement(ra, rb))
        if (k := cohen_kappa(ra, rb, categories)) is not None:
            kappas.append(k)
    alpha = (1 - confidence) / 2
    out["raw_ci"] = (float(np.quantile(raws, alpha)), float(np.quantile(raws, 1 - alpha)))
    if kappas:
        out["kappa_ci"] = (float(np.quantile(kappas, alpha)), float(np.quantile(kappas, 1 - alpha)))
    out["kappa_replicates"] = len(kappas)
    return out
