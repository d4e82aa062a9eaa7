"""Statistics of pairwise judgments: pure functions on plain lists and arrays (numpy/scipy).

Outcomes are from the candidate's point of view: "win", "tie" or "loss" against the baseline.
Win rates count a tie as half a win. Every bootstrap takes an explicit seed and is exactly
reproducible.

Combining a judge's two orders into the one counted verdict (`combine_orders`):
  - both orders needed: if either failed, the item has no verdict from that judge ("incomplete");
  - the same outcome in both orders -> that outcome ("agree");
  - a tie in one order and a win (or loss) in the other -> the win (or loss) ("tie+decisive"):
    the judge expressed one preference that its other reading did not contradict;
  - a win in one order and a loss in the other -> a tie, counted as a flip: the judge followed
    the position, not the answers.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import numpy as np
from scipy import stats as sps

WIN, TIE, LOSS = "win", "tie", "loss"
OUTCOMES = (WIN, TIE, LOSS)
SCORE = {WIN: 1.0, TIE: 0.5, LOSS: 0.0}


# -- verdicts -------------------------------------------------------------------------------------
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


# -- intervals ------------------------------------------------------------------------------------
def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion (successes may be fractional: ties count half)."""
    if n <= 0:
        return None
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p) / n + z * z / (4 * n * n))) / denom
    # At p = 0 or 1 the bound is exactly 0 or 1; rounding would otherwise leave ~1e-17 off it.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return (low, high)


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


def win_rate_summary(outcomes: Sequence[str], clusters: Sequence[Any] | None = None, *, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, Any]:
    """Counts, win rate (ties half), Wilson and cluster-bootstrap 95% intervals."""
    out = counts(outcomes)
    scores = [SCORE[o] for o in outcomes]
    out["wilson"] = wilson_interval(sum(scores), len(scores))
    out["bootstrap"] = bootstrap_interval(scores, clusters, n_boot=n_boot, seed=seed)
    return out


def mean_score_summary(scores: Sequence[float], clusters: Sequence[Any] | None = None, *, n_boot: int = 2000,
                       seed: int = 0) -> dict[str, Any]:
    """For scores in [0, 1] that are already averages (e.g. pooled over judges)."""
    n = len(scores)
    total = float(sum(scores))
    return {"n": n, "win_rate": total / n if n else None, "wilson": wilson_interval(total, n),
            "bootstrap": bootstrap_interval(scores, clusters, n_boot=n_boot, seed=seed)}


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


# -- judge reliability ----------------------------------------------------------------------------
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


def raw_agreement(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    return float(np.mean([x == y for x, y in zip(a, b)])) if len(a) else None


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], categories: Sequence[Any] | None = None) -> float | None:
    """Cohen's kappa of two raters over the same items (None when undefined: no items, or both
    raters constant on the same category, where chance agreement is already 1)."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    if not len(a):
        return None
    cats = list(categories) if categories is not None else sorted(set(a) | set(b), key=str)
    table = np.zeros((len(cats), len(cats)))
    pos = {c: i for i, c in enumerate(cats)}
    for x, y in zip(a, b):
        table[pos[x], pos[y]] += 1
    return cohen_kappa_table(table)


def cohen_kappa_table(table: Any) -> float | None:
    t = np.asarray(table, dtype=float)
    n = t.sum()
    if n == 0:
        return None
    po = np.trace(t) / n
    pe = float((t.sum(axis=1) / n) @ (t.sum(axis=0) / n))
    return None if pe >= 1 else float((po - pe) / (1 - pe))


def fleiss_kappa(table: Any) -> float | None:
    """Fleiss' kappa from an items x categories table of rating counts (same raters per item)."""
    t = np.asarray(table, dtype=float)
    if t.size == 0:
        return None
    n_items = t.shape[0]
    raters = t.sum(axis=1)
    if not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError("every item needs the same number (>= 2) of ratings")
    n = raters[0]
    p_j = t.sum(axis=0) / (n_items * n)
    p_i = (np.square(t).sum(axis=1) - n) / (n * (n - 1))
    p_bar, pe = p_i.mean(), float(np.square(p_j).sum())
    return None if pe >= 1 else float((p_bar - pe) / (1 - pe))


def fleiss_table(ratings: Sequence[Sequence[Any]], categories: Sequence[Any]) -> np.ndarray:
    """items x raters labels -> items x categories counts."""
    pos = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(ratings), len(categories)))
    for i, row in enumerate(ratings):
        for label in row:
            table[i, pos[label]] += 1
    return table


def fleiss_agreement(table: Any) -> float | None:
    """Mean observed pairwise agreement (Fleiss' P-bar), the raw figure next to kappa."""
    t = np.asarray(table, dtype=float)
    if t.size == 0:
        return None
    n = t.sum(axis=1)[0]
    return float(((np.square(t).sum(axis=1) - n) / (n * (n - 1))).mean())


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
