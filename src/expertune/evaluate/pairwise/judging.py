"""The judging stage: every judge sees every comparison in both orders under neutral labels.

A comparison is one prompt x grid cell x seed x sample, candidate vs baseline. Order 0 puts the
baseline under the first label, order 1 the candidate. Each judgment is stored the moment it
exists with its label -> answer mapping, keyed by what the judge sees (judge identity, rubric,
prompt, answers in shown order; see `judgment_key`), so a resumed or repeated run, or one with
the baseline swapped, asks nothing twice. Failed judgments are
stored for the report and retried next time; a budget stop leaves the rest for a later run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import func, select

from expertune.evaluate.frozen import FrozenJudge
from expertune.evaluate.pairwise.generation import GenTask, load_generations, plan_generations
from expertune.evaluate.pairwise.judges import Budget, JudgeOutcome, JudgeRequest, make_judge
from expertune.evaluate.pairwise.verdicts import planted_verdicts
from expertune.evaluate.runs import EvalRunRecord, FrozenPrompt, get_run, rows_by_key, run_config, set_status, sha256_json
from expertune.store.eval_models import EvalCost, EvalJudgment
from expertune.workspace import Workspace


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Comparison:
    candidate: str
    baseline: str
    prompt: FrozenPrompt  # the run's frozen prompt
    temperature: float
    max_new_tokens: int
    seed: int
    sample: int
    candidate_gen: Any  # EvalGeneration or None when missing/failed
    baseline_gen: Any

    @property
    def complete(self) -> bool:
        return self.candidate_gen is not None and self.baseline_gen is not None

    @property
    def identical(self) -> bool:
        return self.complete and self.candidate_gen.text == self.baseline_gen.text

    @property
    def cell(self) -> tuple[float, int]:
        return (self.temperature, self.max_new_tokens)

    def slots(self, order: int) -> list[tuple[str, Any]]:
        """(candidate name, generation) in slot order: order 0 = baseline first."""
        first = [(self.baseline, self.baseline_gen), (self.candidate, self.candidate_gen)]
        return first if order == 0 else first[::-1]


def build_comparisons(run: EvalRunRecord, gens: dict[str, Any] | None = None, ws: Workspace | None = None) -> list[Comparison]:
    tasks = plan_generations(run)
    if gens is None:
        gens = load_generations(ws, [t.key for t in tasks])
    baseline = run.lineage.baseline
    index: dict[tuple, GenTask] = {(t.candidate, t.prompt_idx, t.temperature, t.max_new_tokens, t.seed, t.sample): t for t in tasks}
    prompts = {p.idx: p for p in run.prompts}
    out = []
    for (cand, idx, temp, mnt, seed, sample), task in index.items():
        if cand == baseline:
            continue
        base_task = index[(baseline, idx, temp, mnt, seed, sample)]
        out.append(Comparison(cand, baseline, prompts[idx], temp, mnt, seed, sample, gens.get(task.key), gens.get(base_task.key)))
    return out


def llm_judges(run: EvalRunRecord) -> list[FrozenJudge]:
    """The run's frozen judges that this stage asks; human judges answer in evaluate/pairwise/human.py."""
    return [j for j in run.lineage.judges if j.type != "human"]


def judgment_key(judge_id: str, rubric_hash: str, prompt_hash: str, shown_shas: list[str]) -> str:
    """The cache identity of a judgment: what the judge actually sees. The judge identity carries
    the prompt template's version, so with the rubric (criteria, labels), the conversation and
    the answers in the order shown it determines the rendered judge prompt. Which candidate is the
    baseline (and so which order number this is) is not part of it: a run with the baseline
    swapped shows the judge byte-identical prompts and reuses their judgments."""
    return sha256_json({"judge": judge_id, "rubric": rubric_hash, "prompt": prompt_hash, "shown": list(shown_shas)})


def build_request(comparison: Comparison, order: int, judge: FrozenJudge, rubric_hash: str, labels: list[str]) -> JudgeRequest:
    slots = comparison.slots(order)
    shas = [text_sha(g.text) for _, g in slots]
    mapping = {label: {"candidate": name, "answer": sha, "generation": g.key}
               for label, (name, g), sha in zip(labels, slots, shas)}
    planted = {label: found for label, (_, g) in zip(labels, slots) if (found := planted_verdicts(g.text, labels))}
    return JudgeRequest(
        key=judgment_key(judge.judge_id, rubric_hash, comparison.prompt.prompt_hash, shas),
        conversation=comparison.prompt.messages,
        answers={label: g.text for label, (_, g) in zip(labels, slots)},
        mapping=mapping,
        flags={"planted_verdict": planted} if planted else {},
    )


def load_judgments(ws: Workspace, keys: list[str], *, ok_only: bool = False) -> dict[str, EvalJudgment]:
    where = (EvalJudgment.status == "ok",) if ok_only else ()
    return rows_by_key(ws, EvalJudgment, keys, *where)


def run_spent(ws: Workspace, run_id: int) -> float:
    with ws.session() as session:
        return float(session.scalar(select(func.coalesce(func.sum(EvalCost.usd), 0.0)).where(EvalCost.run_id == run_id)) or 0.0)


def run_judging(ws: Workspace, run_ref: int | str, *, budget_usd: float | None = None, judges: list[str] | None = None,
                estimate_only: bool = False, progress: Callable[[int, int], None] | None = None,
                on_estimate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Judge what is not judged yet. Returns per judge: planned, cached, judged, failed, skipped
    (budget), cost; plus the up-front cost estimate of the pending requests."""
    run = get_run(ws, run_ref)
    config = run_config(run)
    rubric_hash = run.lineage.rubric_hash
    labels = list(config.rubric.labels)
    comparisons = [c for c in build_comparisons(run, ws=ws) if c.complete and not c.identical]
    frozen_judges = [j for j in llm_judges(run) if judges is None or j.name in judges]
    limit = budget_usd if budget_usd is not None else config.budget_usd
    budget = Budget(limit, run_spent(ws, run.id))
    plans = []
    for frozen in frozen_judges:
        requests = {r.key: r for c in comparisons for order in (0, 1)
                    for r in [build_request(c, order, frozen, rubric_hash, labels)]}
        done = load_judgments(ws, list(requests), ok_only=True)
        pending = [r for k, r in requests.items() if k not in done]
        judge = make_judge(frozen, config.rubric)
        plans.append((frozen, judge, pending, len(requests), len(done)))
    estimate = sum(judge.estimate(r) for _, judge, pending, _, _ in plans for r in pending)
    summary: dict[str, Any] = {"run": run.id, "estimated_usd": round(estimate, 6), "budget_usd": limit,
                               "spent_before_usd": round(budget.spent, 6), "judges": {}}
    for frozen, _, pending, planned, cached in plans:
        summary["judges"][frozen.name] = {"planned": planned, "cached": cached, "pending": len(pending)}
    if estimate_only:
        return summary
    if on_estimate:
        on_estimate(summary)  # the up-front estimate, before any paid call
    total = sum(len(p[2]) for p in plans)
    done_count = 0
    for frozen, judge, pending, planned, cached in plans:
        counts = {"planned": planned, "cached": cached, "pending": len(pending), "judged": 0, "failed": 0, "skipped": 0,
                  "cost_usd": 0.0}
        summary["judges"][frozen.name] = counts
        by_key = {r.key: r for r in pending}

        def on_outcome(outcome: JudgeOutcome, frozen=frozen, counts=counts, by_key=by_key) -> None:
            nonlocal done_count
            done_count += 1
            if outcome.status == "skipped":
                counts["skipped"] += 1
            else:
                _store(ws, run.id, frozen, by_key[outcome.key], outcome)
                counts["judged" if outcome.status == "ok" else "failed"] += 1
                counts["cost_usd"] = round(counts["cost_usd"] + outcome.cost_usd, 6)
            if progress:
                progress(done_count, total)

        judge.run(pending, on_outcome, budget)
        if hasattr(getattr(judge, "model", None), "close"):
            judge.model.close()
    summary["spent_usd"] = round(budget.spent, 6)
    summary["budget_stopped"] = budget.stopped
    set_status(ws, run.id, "judged")
    return summary


def _store(ws: Workspace, run_id: int, frozen: FrozenJudge, request: JudgeRequest, outcome: JudgeOutcome) -> None:
    flags = dict(request.flags)
    if outcome.problems:
        flags["problems"] = outcome.problems
    with ws.session() as session:
        session.merge(EvalJudgment(
            key=outcome.key, judge=frozen.name, judge_id=frozen.judge_id, status=outcome.status,
            verdict=outcome.verdict, mapping=request.mapping, scores=outcome.scores, reason=outcome.reason, flags=flags,
            raw=(outcome.raw or "")[:20000] or None, attempts=outcome.attempts, error=outcome.error,
            input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens, cost_usd=outcome.cost_usd,
            seconds=outcome.seconds,
        ))
        if outcome.input_tokens or outcome.output_tokens or outcome.cost_usd:
            session.add(EvalCost(run_id=run_id, stage="judge", actor=frozen.name, model=frozen.model_id, key=outcome.key,
                                 input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens, usd=outcome.cost_usd))
