"""Forgetting check: a general (usually out-of-domain) set evaluated for base and tuned, flagged
when the tuned model drops beyond a margin: accuracy for exams and labelled tasks (default 2
percentage points), NLL per token for prompt/text sets (default +0.1 nats).

The flag uses the point estimate, as the margin is a tolerance the user sets; the interval or
McNemar p-value is reported next to it so a flag on a tiny set is read with care.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import Field

from expertune.config import StrictModel
from expertune.errors import InputError
from expertune.evaluate import registry
from expertune.evaluate.report.html import esc, fmt_num, table
from expertune.evaluate.results import (
    AccuracyVerdict, ClassifyResult, McNemarTest, McqResult, NllVerdict, PerplexityResult, TaskResult, as_result,
    parse_result,
)
from expertune.evaluate.tasks.common import slug, task_models, write_result
from expertune.llm.base import ChatModel, GenParams


class ForgettingConfig(StrictModel):
    margin_accuracy: float = Field(0.02, ge=0, le=1, description="allowed accuracy drop (0.02 = 2 points)")
    margin_nll: float = Field(0.1, ge=0, description="allowed rise of NLL per token, in nats")
    mcq_scoring: str = Field("logprob", pattern="^(generate|logprob)$")
    mcq_format: str = "zero-answer-json"  # used when mcq_scoring is generate
    max_new_tokens: int = Field(128, ge=1)


def assess(result: dict[str, Any], config: ForgettingConfig = ForgettingConfig(), *,
           model: str = "tuned") -> dict[str, Any]:
    """The verdict for `model` against the result's baseline, from a stored mcq / classify /
    perplexity result (the verdict's JSON form: results.AccuracyVerdict or NllVerdict)."""
    inner = parse_result(result, f"the {result.get('kind')} result of the forgetting check")
    if isinstance(inner, PerplexityResult):
        name = next(iter(inner.sets))
        s = inner.set_summary(name)
        diff = s.differences[model]
        change = diff.t.mean
        return NllVerdict(set=name, base=s.models[s.baseline].nll_group_mean, tuned=s.models[model].nll_group_mean,
                          change=change, margin=config.margin_nll,
                          flagged=change is not None and change > config.margin_nll + 1e-12,
                          interval={"t": diff.t.ci, "bootstrap": diff.bootstrap.ci}).model_dump(mode="json")
    if isinstance(inner, McqResult):
        fmt = inner.config["formats"][0] if inner.config["scoring"] != "logprob" else "logprob"
        base, tuned = (inner.models[label].summary[fmt].accuracy.value for label in (inner.baseline, model))
        return _accuracy_verdict(fmt, base, tuned, inner.comparisons[model][fmt].mcnemar, config)
    if isinstance(inner, ClassifyResult):
        fmt = "generate" if inner.config["scoring"] != "logprob" else "logprob"
        base, tuned = (inner.models[label].summary.by_scoring()[fmt].accuracy.value for label in (inner.baseline, model))
        return _accuracy_verdict(fmt, base, tuned, inner.comparisons[model][fmt].mcnemar, config)
    raise InputError(f"cannot assess forgetting from a {inner.kind!r} result")


def _accuracy_verdict(fmt: str, base: float | None, tuned: float | None, test: McNemarTest,
                      config: ForgettingConfig) -> dict[str, Any]:
    drop = base - tuned if base is not None and tuned is not None else None
    return AccuracyVerdict(scoring=fmt, base=base, tuned=tuned, change=-drop if drop is not None else None,
                           margin=config.margin_accuracy, flagged=drop is not None and drop > config.margin_accuracy + 1e-12,
                           mcnemar=test).model_dump(mode="json")


def verdicts(inner: dict[str, Any], config: ForgettingConfig) -> dict[str, Any]:
    """One verdict per model other than the baseline."""
    return {label: assess(inner, config, model=label) for label in inner["models"] if label != inner["baseline"]}


def run_forgetting(models: dict[str, ChatModel], source: str, *, ws=None, config: ForgettingConfig = ForgettingConfig(),
                   model_info: dict[str, dict] | None = None, baseline: str | None = None,
                   progress: Callable[[str], Callable[[int, int], None] | None] | None = None) -> dict[str, Any]:
    """Evaluate `source` (file or eval set of any kind) for the baseline (default "base") and every
    other model, and assess each one's drop."""
    if len(models) < 2:
        raise InputError("the forgetting check compares a base and a tuned model: pass --adapter or --adapter-path")
    kind, info = _kind_of(source, ws)
    common = {"model_info": model_info, "baseline": baseline, "progress": progress}
    if kind == "mcq":
        from expertune.evaluate.tasks import mcq

        items, exam_info = mcq.load_exam(source, ws)
        inner = mcq.run_exam(models, items, formats=config.mcq_format, scoring=config.mcq_scoring,
                             params=GenParams(max_new_tokens=config.max_new_tokens), exam_info=exam_info, **common)
    elif kind == "classify":
        from expertune.evaluate.tasks import classify

        items, task_info = classify.load_task(source, ws)
        inner = classify.run_task(models, items, task_info=task_info, **common)
    else:
        from expertune.evaluate.tasks import perplexity

        examples, set_info = perplexity.ood_examples(source, ws)
        name = f"ood:{set_info['name']}"
        inner = perplexity.run_sets(models, {name: examples}, ws=ws, set_info={name: set_info},
                                    reference_params=GenParams(max_new_tokens=config.max_new_tokens), **common)
    found = verdicts(inner, config)
    return {"kind": "forgetting", "source": info, "set_kind": kind, "config": config.model_dump(),
            "baseline": inner["baseline"], "verdicts": found, "flagged": any(v["flagged"] for v in found.values()),
            "result": inner}


def _kind_of(source: str, ws) -> tuple[str, dict[str, Any]]:
    from pathlib import Path

    path = Path(source)
    if path.is_file():
        from expertune.data.evalsets import parse_evalset

        kind, _ = parse_evalset(path)
        return kind, {"source": str(path.resolve()), "name": path.stem}
    if ws is None:
        raise InputError(f"{source}: no such file (and no workspace to look up an eval set of that name)")
    from expertune.data.evalsets import get_evalset

    es = get_evalset(ws, source)
    return es["kind"], {"source": f"evalset:{es['name']}", "name": es["name"], "in_domain": es["in_domain"]}


def reassess(result: dict[str, Any], config: ForgettingConfig | None = None) -> dict[str, Any]:
    """The verdicts again from the stored inner result (e.g. with another margin)."""
    cfg = config or ForgettingConfig(**result["config"])
    found = verdicts(result["result"], cfg)
    return {**result, "config": cfg.model_dump(), "verdicts": found, "flagged": any(v["flagged"] for v in found.values())}


def _row(name: str, label: str, baseline: str, v: AccuracyVerdict | NllVerdict) -> list[str]:
    if isinstance(v, AccuracyVerdict):
        change = f"{100 * v.change:+.1f} points" if v.change is not None else "–"
        margin = f"−{100 * v.margin:.1f} points"
        evidence = f"McNemar p = {fmt_num(v.mcnemar.p_value, 4)} ({v.mcnemar.method})"
    else:
        change = f"{v.change:+.3f} nats" if v.change is not None else "–"
        margin = f"+{v.margin:.2f} nats"
        lo, hi = v.interval["t"] or (None, None)
        evidence = f"95% t interval [{fmt_num(lo)}, {fmt_num(hi)}]"
    measure = "accuracy" if isinstance(v, AccuracyVerdict) else "NLL per token"
    status = "⚠ possible forgetting" if v.flagged else "ok"
    return [name, f"{label} vs {baseline}", measure, fmt_num(v.base), fmt_num(v.tuned), change, margin, evidence, status]


@registry.report_section("forgetting", title="Forgetting check", results="forgetting")
def report_section(result: TaskResult | dict[str, Any]) -> str:
    result = as_result(result)
    name = result.source.get("name", "")
    status = ("<strong style=\"color:#b00\">⚠ possible forgetting: a drop beyond the margin</strong>" if result.flagged
              else "<strong style=\"color:#070\">no drop beyond the margin</strong>")
    verdicts = table(["set", "comparison", "measure", "baseline", "model", "change", "margin", "evidence", "status"],
                     [_row(name, label, result.baseline, v) for label, v in result.verdicts.items()])
    return (f"<section class=\"expertune-forgetting\"><h3>Forgetting check: {esc(name)}</h3>"
            f"<p>{status}</p>{verdicts}</section>")


# -- `eval run` task and report section ------------------------------------------------------------
class ForgettingTaskConfig(ForgettingConfig):
    """`tasks: {forgetting: {set: general.jsonl, margin_accuracy: 0.02}}` in an eval config."""

    set: str  # a general exam, labelled task or prompt set (file or eval set)


@registry.task("forgetting", config=ForgettingTaskConfig, description="base vs tuned on a general set")
def _run_task(ctx, cfg: ForgettingTaskConfig) -> dict[str, Any]:
    models, meta = task_models(ctx)
    config = ForgettingConfig(**cfg.model_dump(exclude={"set"}))
    result = run_forgetting(models, cfg.set, ws=ctx.ws, config=config, model_info=meta, baseline=ctx.baseline)
    path = write_result(ctx.folder, f"forgetting-{slug(cfg.set)}.json", result, task_name="forgetting")
    return {"path": str(path), "baseline": result["baseline"], "flagged": result["flagged"], "verdicts": result["verdicts"]}
