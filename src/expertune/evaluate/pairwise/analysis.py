"""From stored results to the numbers: every figure of `eval stats` and the report comes from here.

`load_run_data` reads a run's frozen plan, its generations and its judgments; `summarize` turns
them into per-judge and pooled statistics (evaluate/stats.py does the arithmetic).

Units: an *item* is one comparison (prompt x grid cell x seed x sample, candidate vs baseline).
Each judge gives an item one verdict from its two orders (stats.combine_orders). Every headline
interval ("ci") resamples prompts, since the items of one prompt are not independent; the Wilson
interval over items is kept only as "wilson_unclustered". Identical answers are a tie
without asking any judge. The pooled verdict of an item is the mean of its judges' scores
(win 1, tie 0.5, loss 0) over the judges that gave one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from expertune.data.splits import CHECKPOINT_SELECTION
from expertune.evaluate import stats as st
from expertune.evaluate.config import JudgeReliability
from expertune.evaluate.pairwise.generation import load_generations, plan_generations
from expertune.evaluate.pairwise.judging import (
    Comparison, build_comparisons, build_request, llm_judges, load_judgments, text_sha,
)
from expertune.evaluate.runs import EvalRunRecord, get_run, run_config
from expertune.store.eval_models import EvalCost
from expertune.workspace import Workspace


def resolve_outcome(verdict: str, mapping: dict[str, dict[str, Any]], candidate_sha: str, baseline_sha: str) -> str:
    """The candidate's outcome from a judgment, through the stored label -> answer mapping.

    The winner is looked up by the hash of the answer shown under the winning label, never by a
    slot position or a candidate name, so a judgment cannot be read inverted (nor mis-read when a
    cached judgment is reused by a run whose candidates have other names).
    """
    if verdict == "tie":
        return st.TIE
    shown = mapping.get(verdict, {}).get("answer")
    if shown == candidate_sha:
        return st.WIN
    if shown == baseline_sha:
        return st.LOSS
    raise ValueError(f"judgment verdict {verdict!r} maps to an answer that is in neither slot of this comparison")


def shown_names(mapping: dict[str, dict[str, Any]], comparison: Comparison) -> dict[str, str]:
    """Label -> this run's name of the answer shown under it, through the answer hashes like
    `resolve_outcome`: a reused judgment stores the names of the run that bought it, which may
    differ from this run's (renamed candidates, another baseline)."""
    names = {text_sha(comparison.baseline_gen.text): comparison.baseline,
             text_sha(comparison.candidate_gen.text): comparison.candidate}
    return {label: names.get(m.get("answer"), "?") for label, m in mapping.items()}


@dataclass
class JudgeView:
    """One judge's view of one item."""

    orders: list[str | None] = field(default_factory=lambda: [None, None])  # outcome per order (None: none)
    picks: list[str | None] = field(default_factory=lambda: [None, None])  # first | second | tie
    rows: list[Any] = field(default_factory=lambda: [None, None])  # EvalJudgment per order
    status: list[str] = field(default_factory=lambda: ["pending", "pending"])  # ok | failed | pending
    verdict: str | None = None
    kind: str = "incomplete"


@dataclass
class Item:
    comparison: Comparison
    judges: dict[str, JudgeView] = field(default_factory=dict)

    @property
    def cluster(self) -> int:
        return self.comparison.prompt.idx

    def pooled_score(self, judges: list[str] | None = None) -> float | None:
        """Mean score over the judges (all, or those named) that gave a verdict."""
        scores = [st.SCORE[v.verdict] for name, v in self.judges.items()
                  if v.verdict is not None and (judges is None or name in judges)]
        return sum(scores) / len(scores) if scores else None

    @property
    def flagged(self) -> bool:
        return any(r is not None and (r.flags or {}).get("planted_verdict") for v in self.judges.values() for r in v.rows)


@dataclass
class RunData:
    run: EvalRunRecord
    items: list[Item]  # complete comparisons (both answers exist)
    missing: int  # comparisons lacking an answer (generation failed or not run yet)
    generations: dict[str, Any]
    judge_names: list[str]
    labels: list[str]
    costs: list[dict[str, Any]]


def load_run_data(ws: Workspace, run_ref: int | str) -> RunData:
    run = get_run(ws, run_ref)
    config = run_config(run)
    labels = list(config.rubric.labels)
    rubric_hash = run.lineage.rubric_hash
    gens_all = load_generations(ws, [t.key for t in plan_generations(run)], ok_only=False)
    gens_ok = {k: g for k, g in gens_all.items() if g.finish_reason != "error"}
    comparisons = build_comparisons(run, gens_ok)
    judges = llm_judges(run)  # human judgments have their own statistics (evaluate/pairwise/human_stats.py)
    requests = {}
    for c in comparisons:
        if c.complete and not c.identical:
            for j in judges:
                for order in (0, 1):
                    requests[(id(c), j.name, order)] = build_request(c, order, j, rubric_hash, labels)
    rows = load_judgments(ws, [r.key for r in requests.values()])
    items = []
    for c in comparisons:
        if not c.complete:
            continue
        item = Item(c)
        cand_sha, base_sha = text_sha(c.candidate_gen.text), text_sha(c.baseline_gen.text)
        for j in judges:
            view = JudgeView()
            if c.identical:
                view.verdict, view.kind, view.status = st.TIE, "identical", ["ok", "ok"]
            else:
                for order in (0, 1):
                    row = rows.get(requests[(id(c), j.name, order)].key)
                    view.rows[order] = row
                    if row is None:
                        continue
                    view.status[order] = row.status
                    if row.status == "ok":
                        view.orders[order] = resolve_outcome(row.verdict, row.mapping, cand_sha, base_sha)
                        view.picks[order] = "tie" if row.verdict == "tie" else "first" if row.verdict == labels[0] else "second"
                view.verdict, view.kind = st.combine_orders(*view.orders)
            item.judges[j.name] = view
        items.append(item)
    with ws.session() as session:
        costs = [{"stage": r.stage, "actor": r.actor, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "usd": r.usd}
                 for r in session.scalars(select(EvalCost).where(EvalCost.run_id == run.id))]
    return RunData(run, items, sum(not c.complete for c in comparisons), gens_all, [j.name for j in judges], labels, costs)


# -- summary -------------------------------------------------------------------------------------
def summarize(data: RunData) -> dict[str, Any]:
    config = run_config(data.run)
    n_boot, seed = config.bootstrap, config.stats_seed
    run = data.run
    out: dict[str, Any] = {
        "run": run.model_dump(mode="json", include={"id", "name", "status", "created_at", "folder"}),
        "lineage": run.lineage.model_dump(mode="json"),
        "labels": data.labels,
        "bootstrap": {"replicates": n_boot, "seed": seed},
        "counts": {"prompts": len(run.prompts), "items": len(data.items), "missing_answers": data.missing,
                   "identical_answers": sum(i.comparison.identical for i in data.items),
                   "flagged_planted_verdict": sum(i.flagged for i in data.items)},
        "pairs": [],
        "truncation": truncation(data),
        "failures": failures(data),
        "costs": cost_summary(data.costs),
    }
    # Prompts of the val split chose the training checkpoint: summarised apart, never in the headline.
    val_sets = {p.label for p in config.prompts if p.split == "val"}
    held_out = [i for i in data.items if i.comparison.prompt.set_name not in val_sets]
    rel = config.judge_reliability
    out["judge_reliability"] = rel.model_dump(mode="json")
    out["pairs"] = pair_summaries(held_out, run.lineage.baseline, data.judge_names, n_boot, seed, rel)
    if len(held_out) < len(data.items):
        out["checkpoint_selection"] = {
            "note": CHECKPOINT_SELECTION, "sets": sorted(val_sets),
            "pairs": pair_summaries([i for i in data.items if i.comparison.prompt.set_name in val_sets],
                                    run.lineage.baseline, data.judge_names, n_boot, seed, rel)}
    return out


def pair_summaries(items: list[Item], baseline: str, judges: list[str], n_boot: int, seed: int,
                   reliability: JudgeReliability | None = None) -> list[dict[str, Any]]:
    """One summary per candidate against the baseline."""
    by_pair: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_pair[item.comparison.candidate].append(item)
    return [pair_summary(cand, baseline, members, judges, n_boot, seed, reliability) for cand, members in by_pair.items()]


def pair_summary(candidate: str, baseline: str, items: list[Item], judges: list[str], n_boot: int, seed: int,
                 reliability: JudgeReliability | None = None) -> dict[str, Any]:
    """Per-judge statistics, each judge's reliability verdict, and the pooled verdict over the
    judges that count (by default the reliable ones: a judge that follows positions adds only
    noise pulled towards a tie)."""
    rel = reliability or JudgeReliability()
    per_judge = {name: judge_summary(name, items, n_boot, seed) for name in judges}
    for j in per_judge.values():
        j["reliability"].update(st.judge_reliability(j["reliability"], max_flip_rate=rel.max_flip_rate, alpha=rel.alpha))
    counted = [n for n, j in per_judge.items() if j["reliability"]["reliable"] or not rel.exclude_unreliable]
    pooled = pooled_summary(items, n_boot, seed, counted)
    pooled["judges"] = counted
    pooled["excluded_judges"] = [n for n in judges if n not in counted]
    return {"candidate": candidate, "baseline": baseline, "judges": per_judge,
            "pooled": pooled, "agreement": agreement(items, judges)}


def _verdicts(items: list[Item], judge: str) -> list[Item]:
    return [i for i in items if i.judges[judge].verdict is not None]


def judge_summary(judge: str, items: list[Item], n_boot: int, seed: int) -> dict[str, Any]:
    rated = _verdicts(items, judge)
    outcomes = [i.judges[judge].verdict for i in rated]
    clusters = [i.cluster for i in rated]
    overall = st.win_rate_summary(outcomes, clusters, n_boot=n_boot, seed=seed)
    views = [i.judges[judge] for i in items]
    overall["failed_items"] = sum("failed" in v.status for v in views)
    overall["pending_items"] = sum("pending" in v.status and "failed" not in v.status for v in views)
    picks = [p for v in views if v.kind != "identical" for p in v.picks if p is not None]
    scores = [st.SCORE[o] for o in outcomes]
    return {
        "overall": overall,
        "reliability": {**st.flip_rate([v.kind for v in views if v.kind != "identical"]), "first_position": st.first_position(picks)},
        "length_controlled": st.length_controlled_win_rate(
            scores, [len(i.comparison.candidate_gen.text) for i in rated], [len(i.comparison.baseline_gen.text) for i in rated],
            clusters, n_boot=min(n_boot, 1000), seed=seed),
        "domain": domain_split([(i, st.SCORE[i.judges[judge].verdict]) for i in rated], n_boot, seed, outcomes_of=lambda i: i.judges[judge].verdict),
        "grid": grid_split([(i, st.SCORE[i.judges[judge].verdict]) for i in rated], n_boot, seed),
        "criteria": criteria(items, judge, n_boot, seed),
    }


def pooled_summary(items: list[Item], n_boot: int, seed: int, judges: list[str] | None = None) -> dict[str, Any]:
    scored = [(i, s) for i in items if (s := i.pooled_score(judges)) is not None]
    scores = [s for _, s in scored]
    clusters = [i.cluster for i, _ in scored]
    return {
        "overall": st.mean_score_summary(scores, clusters, n_boot=n_boot, seed=seed),
        "length_controlled": st.length_controlled_win_rate(
            scores, [len(i.comparison.candidate_gen.text) for i, _ in scored],
            [len(i.comparison.baseline_gen.text) for i, _ in scored], clusters, n_boot=min(n_boot, 1000), seed=seed),
        "domain": domain_split(scored, n_boot, seed),
        "grid": grid_split(scored, n_boot, seed),
    }


def domain_split(scored: list[tuple[Item, float]], n_boot: int, seed: int, outcomes_of=None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    groups = {"in": [(i, s) for i, s in scored if i.comparison.prompt.in_domain],
              "out": [(i, s) for i, s in scored if not i.comparison.prompt.in_domain]}
    for name, members in groups.items():
        summary = st.mean_score_summary([s for _, s in members], [i.cluster for i, _ in members], n_boot=n_boot, seed=seed)
        if outcomes_of is not None:
            summary.update({k: v for k, v in st.counts([outcomes_of(i) for i, _ in members]).items() if k != "win_rate"})
        out[name] = summary
    out["difference"] = st.paired_bootstrap_difference(
        [s for _, s in groups["in"]], [i.cluster for i, _ in groups["in"]],
        [s for _, s in groups["out"]], [i.cluster for i, _ in groups["out"]], n_boot=n_boot, seed=seed)
    return out


def grid_split(scored: list[tuple[Item, float]], n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Win rate per grid cell; a cell still holds several seeds and samples of each prompt, so its
    interval resamples prompts too."""
    cells: dict[tuple, list[tuple[Item, float]]] = defaultdict(list)
    for i, s in scored:
        cells[i.comparison.cell].append((i, s))
    return [{"temperature": t, "max_new_tokens": m,
             **st.mean_score_summary([s for _, s in v], [i.cluster for i, _ in v], n_boot=n_boot, seed=seed)}
            for (t, m), v in sorted(cells.items())]


def criteria(items: list[Item], judge: str, n_boot: int, seed: int) -> dict[str, Any]:
    """Mean score per criterion for each side, and per-criterion win rates (the candidate's score,
    averaged over the two orders, against the baseline's), with intervals over prompts."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"candidate": [], "baseline": []})
    outcomes: dict[str, list[str]] = defaultdict(list)
    clusters: dict[str, list[int]] = defaultdict(list)
    for item in items:
        c = item.comparison
        if c.identical:
            continue
        cand_sha = text_sha(c.candidate_gen.text)
        per_item: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"candidate": [], "baseline": []})
        for row in item.judges[judge].rows:
            if row is None or row.status != "ok" or not row.scores:
                continue
            for label, crit_scores in row.scores.items():
                side = "candidate" if row.mapping.get(label, {}).get("answer") == cand_sha else "baseline"
                for crit, value in crit_scores.items():
                    per_item[crit][side].append(float(value))
        for crit, sides in per_item.items():
            for side in ("candidate", "baseline"):
                sums[crit][side].extend(sides[side])
            if sides["candidate"] and sides["baseline"]:
                a = sum(sides["candidate"]) / len(sides["candidate"])
                b = sum(sides["baseline"]) / len(sides["baseline"])
                outcomes[crit].append(st.WIN if a > b else st.LOSS if a < b else st.TIE)
                clusters[crit].append(item.cluster)
    out = {}
    for crit, sides in sums.items():
        out[crit] = {
            "candidate_mean": sum(sides["candidate"]) / len(sides["candidate"]) if sides["candidate"] else None,
            "baseline_mean": sum(sides["baseline"]) / len(sides["baseline"]) if sides["baseline"] else None,
            **st.win_rate_summary(outcomes[crit], clusters[crit], n_boot=n_boot, seed=seed),
        }
    return out


def agreement(items: list[Item], judges: list[str]) -> dict[str, Any]:
    """Cohen's kappa and raw agreement for every judge pair, Fleiss' kappa across all judges,
    on the items every compared judge gave a verdict (identical answers excluded: no judgment)."""
    pairs = []
    for a_i, a in enumerate(judges):
        for b in judges[a_i + 1:]:
            both = [i for i in items if not i.comparison.identical and i.judges[a].verdict and i.judges[b].verdict]
            va, vb = [i.judges[a].verdict for i in both], [i.judges[b].verdict for i in both]
            pairs.append({"judges": [a, b], "n": len(both), "kappa": st.cohen_kappa(va, vb, st.OUTCOMES),
                          "raw_agreement": st.raw_agreement(va, vb)})
    fleiss = None
    if len(judges) >= 2:
        full = [i for i in items if not i.comparison.identical and all(i.judges[j].verdict for j in judges)]
        table = st.fleiss_table([[i.judges[j].verdict for j in judges] for i in full], st.OUTCOMES)
        fleiss = {"judges": judges, "n": len(full), "kappa": st.fleiss_kappa(table) if full else None,
                  "raw_agreement": st.fleiss_agreement(table) if full else None}
    return {"pairs": pairs, "fleiss": fleiss}


def truncation(data: RunData) -> dict[str, Any]:
    """Share of answers cut by max_new_tokens (finish reason "length"), per candidate and cell."""
    out: dict[str, Any] = {}
    cells: dict[tuple, Counter] = defaultdict(Counter)
    for task in plan_generations(data.run):
        g = data.generations.get(task.key)
        status = "missing" if g is None else g.finish_reason
        cells[(task.candidate, task.temperature, task.max_new_tokens)][status] += 1
    for (cand, t, m), c in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        done = c["stop"] + c["length"]
        entry = out.setdefault(cand, {"answers": 0, "truncated": 0, "errors": 0, "missing": 0, "cells": []})
        entry["answers"] += done
        entry["truncated"] += c["length"]
        entry["errors"] += c["error"]
        entry["missing"] += c["missing"]
        entry["cells"].append({"temperature": t, "max_new_tokens": m, "answers": done, "truncated": c["length"],
                               "truncation_rate": c["length"] / done if done else None, "errors": c["error"]})
    for entry in out.values():
        entry["truncation_rate"] = entry["truncated"] / entry["answers"] if entry["answers"] else None
    return out


def failures(data: RunData) -> dict[str, Any]:
    out = {}
    for judge in data.judge_names:
        errors: Counter = Counter()
        for item in data.items:
            for row in item.judges[judge].rows:
                if row is not None and row.status == "failed":
                    errors[(row.error or "unknown")[:200]] += 1
        out[judge] = {"failed_judgments": sum(errors.values()), "errors": [{"error": e, "count": n} for e, n in errors.most_common(5)]}
    return out


def cost_summary(costs: list[dict[str, Any]]) -> dict[str, Any]:
    by_actor: dict[str, dict[str, float]] = defaultdict(lambda: {"usd": 0.0, "input_tokens": 0, "output_tokens": 0, "calls": 0})
    for c in costs:
        entry = by_actor[f"{c['stage']}:{c['actor']}"]
        entry["usd"] += c["usd"]
        entry["input_tokens"] += c["input_tokens"]
        entry["output_tokens"] += c["output_tokens"]
        entry["calls"] += 1
    return {"total_usd": round(sum(c["usd"] for c in costs), 6), "by_actor": dict(by_actor)}
