"""The statistics of human judgments: human win rates, and how far each LLM judge can be trusted.

For each candidate against the baseline:
  - each human's win rate (ties half) with the interval that resamples prompts, and the humans'
    pooled rate (per comparison, the mean over the humans who judged it);
  - each LLM judge's agreement with the humans — raw agreement and Cohen's kappa over the
    comparisons both judged, with prompt-clustered bootstrap intervals (stats.agreement_summary).
    The LLM verdict is the judge's counted verdict from its two orders; a human judges once;
  - human-human kappa when several people judged the same comparisons;
  - a validity verdict per LLM judge from its kappa with the humans (Landis & Koch's bands),
    read at the interval's lower bound so that a few lucky agreements do not earn trust.

Every figure is recomputed from the store (pairwise/analysis.py for the LLM judges, the `human:NAME`
judgments for the people) and resolved through answer hashes (analysis.resolve_outcome).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from expertune.evaluate import stats as st
from expertune.evaluate.pairwise.analysis import Item, load_run_data, resolve_outcome
from expertune.evaluate.pairwise.human import comparison_id, human_judgments, human_names, judgeable
from expertune.evaluate.pairwise.judging import text_sha
from expertune.evaluate.runs import get_run, run_config
from expertune.workspace import Workspace

MIN_SHARED = 10  # fewer comparisons judged by both than this: no validity verdict
TRUSTED, MODERATE = 0.6, 0.4  # kappa bands: substantial and above, moderate (Landis & Koch 1977)


def validity(agreement: dict[str, Any]) -> str:
    """Can this LLM judge stand in for the humans on this domain? From kappa and its interval."""
    if agreement["n"] < MIN_SHARED or agreement["kappa"] is None:
        return f"undecided: {agreement['n']} comparisons judged by both (need {MIN_SHARED})"
    low = agreement["kappa_ci"][0] if agreement["kappa_ci"] else agreement["kappa"]
    if low >= TRUSTED:
        return f"trusted: substantial agreement with the humans even at the interval's low end (κ ≥ {TRUSTED})"
    if agreement["kappa"] >= TRUSTED:
        return "probably trusted: substantial agreement, but the interval reaches below it; judge more comparisons"
    if agreement["kappa"] >= MODERATE:
        return "use with care: moderate agreement with the humans; check its verdicts by hand"
    return "not trusted: agrees with the humans little beyond chance on this domain"


def human_summary(ws: Workspace, run_ref: int | str) -> dict[str, Any]:
    """Human win rates, LLM-human and human-human agreement, and the judge validity table;
    `{"humans": []}` when nobody has judged this run."""
    run = get_run(ws, run_ref)
    config = run_config(run)
    names = human_names(ws, run)
    labels = list(config.rubric.labels)
    comparisons = judgeable(run, ws)
    verdicts: dict[str, dict[str, str]] = defaultdict(dict)  # comparison id -> human -> outcome
    notes: dict[str, int] = defaultdict(int)
    by_id = {comparison_id(c): c for c in comparisons}
    for name in names:
        for cid, row in human_judgments(ws, run, name, comparisons, run.lineage.rubric_hash, labels).items():
            c = by_id[cid]
            verdicts[cid][name] = resolve_outcome(row.verdict, row.mapping, text_sha(c.candidate_gen.text), text_sha(c.baseline_gen.text))
            notes[name] += bool(row.reason)
    names = [n for n in names if any(n in v for v in verdicts.values())]
    out: dict[str, Any] = {"humans": names, "pairs": []}
    if not names:
        return out
    data = load_run_data(ws, run.id)
    by_pair: dict[str, list[Item]] = defaultdict(list)
    for item in data.items:
        if comparison_id(item.comparison) in verdicts:
            by_pair[item.comparison.candidate].append(item)
    n_boot, seed = config.bootstrap, config.stats_seed
    for candidate, items in by_pair.items():
        out["pairs"].append(_pair(candidate, run.lineage.baseline, items, verdicts, names, data.judge_names,
                                  n_boot, seed, notes))
    return out


def _pair(candidate: str, baseline: str, items: list[Item], verdicts: dict[str, dict[str, str]], names: list[str],
          judges: list[str], n_boot: int, seed: int, notes: dict[str, int]) -> dict[str, Any]:
    def of(item: Item) -> dict[str, str]:
        return verdicts[comparison_id(item.comparison)]

    humans = {}
    for name in names:
        rated = [i for i in items if name in of(i)]
        humans[name] = {**st.win_rate_summary([of(i)[name] for i in rated], [i.cluster for i in rated], n_boot=n_boot, seed=seed),
                        "notes": notes[name]}
    pooled = [(i, sum(st.SCORE[v] for v in of(i).values()) / len(of(i))) for i in items]
    rows = []
    for judge in judges:
        pairs = [(i.judges[judge].verdict, h, i.cluster, name) for i in items for name, h in of(i).items()
                 if i.judges[judge].verdict is not None]
        agree = _agreement(pairs, n_boot, seed)
        per_human = {name: _agreement([p for p in pairs if p[3] == name], n_boot, seed) for name in names}
        rows.append({"judge": judge, **agree, "per_human": per_human, "validity": validity(agree)})
    between = []
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            both = [i for i in items if a in of(i) and b in of(i)]
            between.append({"humans": [a, b], **st.agreement_summary([of(i)[a] for i in both], [of(i)[b] for i in both],
                                                                    [i.cluster for i in both], st.OUTCOMES,
                                                                    n_boot=min(n_boot, 1000), seed=seed)})
    return {"candidate": candidate, "baseline": baseline, "humans": humans,
            "pooled": st.mean_score_summary([s for _, s in pooled], [i.cluster for i, _ in pooled], n_boot=n_boot, seed=seed),
            "judge_validity": rows, "human_agreement": between}


def _agreement(pairs: list[tuple[str, str, int, str]], n_boot: int, seed: int) -> dict[str, Any]:
    return st.agreement_summary([p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs], st.OUTCOMES,
                                n_boot=min(n_boot, 1000), seed=seed)
