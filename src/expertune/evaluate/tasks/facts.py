"""Knowledge injection: did the facts the training data taught stick?

A facts file holds question/answer pairs, one JSON object a line: {"question": ..., "answer": ...,
"aliases": [...]} (aliases optional). The questions should ask for what the training data taught
in words of their own (a copy of a training prompt measures recall of that prompt, not of the
fact). Each model is scored two ways, base vs tuned on the same items:

  - **match**: the greedy answer contains the reference (or an alias) after normalisation
    (lower case, punctuation, articles and extra spaces removed, as in SQuAD's evaluation);
    paired correctness, McNemar's test (stats.mcnemar);
  - **log-probability**: the mean per-token log-probability of the reference answer given the
    question, which needs no generation and no parser; paired difference with a t interval.

`eval facts FILE` runs it on the workspace's base model and an adapter; `tasks: {facts: {file}}`
runs it for every candidate of an eval run, and the evidence summary reads both comparisons.
"""

from __future__ import annotations

import re
import string
from typing import Any, Sequence

from pydantic import Field

from expertune.config import StrictModel
from expertune.errors import InputError
from expertune.evaluate import registry
from expertune.evaluate.results import TaskResult, as_result
from expertune.evaluate.stats import mcnemar, mean_interval
from expertune.evaluate.tasks.common import compare_with_baseline, slug, task_models, write_result
from expertune.llm.base import GenParams

SYSTEM = "Answer the question briefly."


def normalise(text: str) -> str:
    text = text.lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def matches(answer: str, references: Sequence[str]) -> bool:
    """The normalised answer contains a normalised reference (word-bounded)."""
    norm = f" {normalise(answer)} "
    return any(ref and f" {ref} " in norm for ref in (normalise(r) for r in references))


def load_facts(source: str, ws=None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from expertune.data.evalsets import load_records

    records, origin = load_records(source, "prompts", ws)
    items, problems = [], []
    for line, rec in records:
        q, a = rec.get("question") or rec.get("prompt"), rec.get("answer")
        if not isinstance(q, str) or not q.strip() or not isinstance(a, str) or not a.strip():
            problems.append(f"{origin['source']}:{line}: needs a non-empty \"question\" and \"answer\"")
            continue
        aliases = rec.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(x, str) for x in aliases):
            problems.append(f"{origin['source']}:{line}: \"aliases\" must be a list of strings")
            continue
        items.append({"id": f"L{line}", "question": q.strip(), "answer": a.strip(), "aliases": aliases})
    if problems:
        raise InputError("\n".join(problems[:20]) + "\nfix these lines: {\"question\": ..., \"answer\": ...}")
    if not items:
        raise InputError(f"{origin['source']}: no facts")
    return items, origin


def conversation(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def run_model(model: Any, items: Sequence[dict[str, Any]], params: GenParams) -> dict[str, Any]:
    from expertune.evaluate.tasks.mcq import generate_all
    from expertune.evaluate.tasks.perplexity import scorer_for

    convs = [conversation(it["question"]) for it in items]
    gens = generate_all(model, convs, params)
    scores = scorer_for(model)([(c, it["answer"]) for c, it in zip(convs, items)])
    records = []
    for it, g, s in zip(items, gens, scores):
        records.append({"item": it["id"], "answer": g.text, "finish_reason": g.finish_reason,
                        "correct": g.finish_reason != "error" and matches(g.text, [it["answer"], *it["aliases"]]),
                        "logprob": float(s["sum_logprob"]) / max(1, int(s["n_tokens"]))})
    return {"model": getattr(model, "id", str(model)), "records": records}


def compare(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """Match (McNemar) and reference log-probability (paired t interval), tuned vs base."""
    b = {r["item"]: r for r in base["records"]}
    t = {r["item"]: r for r in tuned["records"]}
    shared = [i for i in b if i in t]
    bb, tt = [b[i]["correct"] for i in shared], [t[i]["correct"] for i in shared]
    n = len(shared)
    diffs = mean_interval([t[i]["logprob"] - b[i]["logprob"] for i in shared], method="t")
    return {
        "match": {"metric": "facts recalled", "detail": "normalised match", "split": "facts file", "n": n,
                  "base_accuracy": sum(bb) / n if n else None, "tuned_accuracy": sum(tt) / n if n else None,
                  "mcnemar": mcnemar(bb, tt)},
        "logprob": {"metric": "facts log-prob", "detail": "reference answer, nats/token", "split": "facts file", "n": n,
                    "base_value": sum(b[i]["logprob"] for i in shared) / n if n else None,
                    "tuned_value": sum(t[i]["logprob"] for i in shared) / n if n else None,
                    "difference": diffs["mean"], "ci": diffs["ci"]},
    }


def run_facts(models: dict[str, Any], items: Sequence[dict[str, Any]], *, baseline: str,
              params: GenParams = GenParams(max_new_tokens=48), info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every model in turn (one in memory at a time), then each compared with the baseline."""
    from expertune.evaluate.tasks.common import release_model

    result: dict[str, Any] = {"kind": "facts", "source": info or {}, "items": list(items), "models": {}, "baseline": baseline}
    for label, model in models.items():
        result["models"][label] = run_model(model, items, params)
        release_model(model)
    result["comparisons"] = compare_with_baseline(result, compare)
    return result


# -- `eval run` task and report section ------------------------------------------------------------
class FactsTaskConfig(StrictModel):
    """`tasks: {facts: {file: facts.jsonl}}`: the facts for every candidate of the run."""

    file: str  # JSONL file or registered eval set of prompts with answers
    max_new_tokens: int = Field(48, ge=1)


@registry.task("facts", config=FactsTaskConfig, description="question/answer facts: match and log-probability")
def _run_task(ctx, cfg: FactsTaskConfig) -> dict[str, Any]:
    items, info = load_facts(cfg.file, ctx.ws)
    models, _ = task_models(ctx)
    result = run_facts(models, items, baseline=ctx.baseline, params=GenParams(max_new_tokens=cfg.max_new_tokens), info=info)
    path = write_result(ctx.folder, f"facts-{slug(cfg.file)}.json", result, task_name="facts")
    return {"path": str(path), "baseline": result["baseline"], "comparisons": result["comparisons"]}


@registry.report_section("facts", title="Facts (knowledge injection)", results="facts")
def report_section(result: TaskResult | dict[str, Any], *, charts: bool = True) -> str:
    from expertune.evaluate.report.html import esc, fmt_num, table

    result = as_result(result)
    rows = []
    for label, c in result.comparisons.items():
        m, lp = c["match"], c["logprob"]
        rows.append([label, m["n"], fmt_num(m["base_accuracy"]), fmt_num(m["tuned_accuracy"]),
                     f"{m['mcnemar']['base_only']}/{m['mcnemar']['tuned_only']}", fmt_num(m["mcnemar"]["p_value"], 4),
                     fmt_num(lp["difference"]), "–" if lp["ci"][0] is None else f"[{fmt_num(lp['ci'][0])}, {fmt_num(lp['ci'][1])}]"])
    return ("<section class=\"expertune-facts\"><h3>Facts</h3><p>Did the facts the training data taught stick? "
            f"Baseline: {esc(result.baseline)}.</p>"
            + table(["model", "facts", "baseline recalled", "model recalled", "discordant (baseline only/model only)",
                          "McNemar p", "log-prob difference (nats/token)", "95% t interval"], rows) + "</section>")
