"""Classification tasks: text → one label of a fixed set (all labels the task file uses).

The same prompt renders evaluation questions and training records (`to_training_records`), so an
adapter trained through the ordinary pipeline is evaluated on exactly the format it learnt.
Answers are parsed under constraints (exact, case-insensitive, leading label, the only label
mentioned); anything else, including several labels, is "invalid" rather than a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import Field

from expertune.config import StrictModel
from expertune.errors import InputError
from expertune.evaluate import registry
from expertune.evaluate.report.html import esc, figure_img, fmt_num, fmt_pct, table, new_figure
from expertune.evaluate.results import ConfusionMatrix, TaskResult, as_result
from expertune.evaluate.stats import INVALID, classification_metrics, mcnemar
from expertune.evaluate.tasks.common import compare_with_baseline, evaluate_models, slug, task_models, write_result
from expertune.llm.base import ChatModel, GenParams

Progress = Callable[[int, int], None]
SCORINGS = ("generate", "logprob", "both")


@dataclass(frozen=True)
class TaskItem:
    id: str
    text: str
    label: str
    split: str | None = None
    line: int | None = None


# -- loading ---------------------------------------------------------------------------------------
def _items(rows: Sequence[tuple[int, dict]], source: str) -> list[TaskItem]:
    items, problems = [], []
    for line, obj in rows:
        text, label, split = obj.get("text"), obj.get("label"), obj.get("split")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{source}:{line}: field 'text' must be a non-empty string")
        elif not isinstance(label, str) or not label.strip():
            problems.append(f"{source}:{line}: field 'label' must be a non-empty string")
        elif split is not None and split not in ("train", "val", "test"):
            problems.append(f"{source}:{line}: field 'split' must be train, val or test (got {split!r})")
        else:
            items.append(TaskItem(id=f"L{line}", text=text.strip(), label=label.strip(), split=split, line=line))
    if problems:
        more = f"\n... {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError("\n".join(problems[:20]) + more)
    if not items:
        raise InputError(f"{source}: no records")
    return items


def load_task(source: str | Path, ws=None) -> tuple[list[TaskItem], dict[str, Any]]:
    """All records of a task (JSONL of {"text", "label", "split"?}, or an eval set of kind classify)."""
    from expertune.data.evalsets import load_records

    records, origin = load_records(source, "classify", ws)
    return _items(records, origin["source"]), origin


def label_set(items: Sequence[TaskItem]) -> list[str]:
    """The fixed label set: every label the task uses, in every split (sorted, so stable)."""
    return sorted({it.label for it in items})


def eval_items(items: Sequence[TaskItem]) -> list[TaskItem]:
    """The test split when the task marks splits, otherwise every item."""
    if not any(it.split for it in items):
        return list(items)
    test = [it for it in items if it.split == "test"]
    if not test:
        raise InputError("the task marks splits but has no \"split\": \"test\" records to evaluate on")
    return test


def train_items(items: Sequence[TaskItem]) -> list[TaskItem]:
    """The train split when the task marks splits; a file without splits is all training data."""
    if not any(it.split for it in items):
        return list(items)
    return [it for it in items if it.split == "train"]


# -- prompts and parsing ---------------------------------------------------------------------------
def build_prompt(text: str, labels: Sequence[str]) -> list[dict[str, str]]:
    """The one prompt used for evaluation and for training records."""
    return [{"role": "user", "content": (
        f"Classify the text into exactly one of these labels: {', '.join(labels)}.\n"
        f"Reply with the label only.\n\nText: {text}")}]


def to_training_records(task_path: str | Path, ws=None) -> list[dict[str, Any]]:
    """Chat records (label as the answer) for the train-split items, in the evaluation format."""
    items, info = load_task(task_path, ws)
    labels = label_set(items)
    return [{"messages": [*build_prompt(it.text, labels), {"role": "assistant", "content": it.label}],
             "meta": {"task": info["name"], "label": it.label, "source_line": it.line}}
            for it in train_items(items)]


def export_training(task_path: str | Path, out: Path, ws=None) -> dict[str, Any]:
    from expertune.data.export import write_jsonl

    records = to_training_records(task_path, ws)
    if not records:
        raise InputError(f"{task_path}: no \"split\": \"train\" records to export")
    n = write_jsonl(iter(records), out)
    return {"path": str(out), "rows": n}


def _clean(text: str) -> str:
    t = text.strip()
    t = re.sub(r"^(?i:label|answer|category|class)\s*[:=\-]\s*", "", t)
    return t.strip().strip("*`'\"“”‘’ ").rstrip(".!;:,").strip().strip("*`'\"“”‘’ ")


def _mention_pattern(labels: Sequence[str]) -> re.Pattern:
    alternatives = sorted(labels, key=len, reverse=True)  # longest first: "terms of art" before "terms"
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(lab) for lab in alternatives) + r")(?!\w)", re.I)


def parse_label(text: Any, labels: Sequence[str]) -> tuple[str | None, str]:
    """(label or None, method): exact | case | leading | mentioned | ambiguous | none."""
    if not isinstance(text, str) or not text.strip() or not labels:
        return None, "none"
    if text.strip() in labels:
        return text.strip(), "exact"
    cleaned = _clean(text)
    folded = {lab.casefold(): lab for lab in labels}
    if cleaned in labels:
        return cleaned, "exact"
    if cleaned.casefold() in folded:
        return folded[cleaned.casefold()], "case"
    pattern = _mention_pattern(labels)
    head = pattern.match(cleaned)
    # A reply that starts with a label and then ends the phrase ("formation, because ...") answers
    # first; "formation or terms" does not, and falls through to the mention count (ambiguous).
    if head and re.match(r"\s*(?:$|[.,:;!)\]\n—–-])", cleaned[head.end():]):
        return folded[head.group(1).casefold()], "leading"
    found = {folded[m.group(1).casefold()] for m in pattern.finditer(text[:5000])}
    if len(found) == 1:
        return found.pop(), "mentioned"
    return None, "ambiguous" if found else "none"


# -- running ---------------------------------------------------------------------------------------
def label_logprobs(model: ChatModel, convs: list, labels: Sequence[str]) -> tuple[list[dict[str, float]], str]:
    """Score each label as the whole assistant answer (sum of token log-probs, end of turn
    included) when the model exposes its weights; otherwise the first token's log-probability,
    which needs labels with distinct first tokens."""
    # A local model scores through its own method, which renders with its adapter's template and
    # system-prompt policy (llm/local.py), as training did.
    completion_logprobs = getattr(model, "completion_logprobs", None)
    if callable(completion_logprobs):
        scores = completion_logprobs([(conv, lab) for conv in convs for lab in labels])
        k = len(labels)
        return [{lab: float(scores[i * k + j]["sum_logprob"]) for j, lab in enumerate(labels)}
                for i in range(len(convs))], "sequence"
    if not hasattr(model, "next_token_logprobs"):
        raise InputError(f"model {getattr(model, 'id', model)!r} cannot score labels by log-probability; use --scoring generate")
    return model.next_token_logprobs(convs, list(labels)), "first-token"


def run_model(model: ChatModel, items: Sequence[TaskItem], labels: Sequence[str], *, scoring: str = "generate",
              params: GenParams = GenParams(max_new_tokens=16), progress: Progress | None = None) -> dict[str, Any]:
    from expertune.evaluate.tasks.mcq import generate_all

    if scoring not in SCORINGS:
        raise InputError(f"--scoring {scoring!r}: expected one of {', '.join(SCORINGS)}")
    convs = [build_prompt(it.text, labels) for it in items]
    out: dict[str, Any] = {"model": getattr(model, "id", str(model)), "params": params.as_dict(), "records": []}
    if scoring in ("generate", "both"):
        gens = generate_all(model, convs, params, progress=progress)
        out["records"] = [_score({"item": it.id, "gold": it.label, "raw": g.text, "finish_reason": g.finish_reason,
                                  "error": g.error}, labels) for it, g in zip(items, gens)]
    if scoring in ("logprob", "both"):
        scores, method = label_logprobs(model, convs, labels)
        out["logprob_method"] = method
        out["logprob_records"] = [_score_logprob({"item": it.id, "gold": it.label, "logprobs": s}) for it, s in zip(items, scores)]
    return out


def _score(rec: dict[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    pred, method = parse_label(rec["raw"], labels)
    return {**rec, "pred": pred, "method": method, "correct": pred == rec["gold"]}


def _score_logprob(rec: dict[str, Any]) -> dict[str, Any]:
    lps = rec["logprobs"]
    pred = max(lps, key=lambda k: lps[k]) if lps else None
    return {**rec, "pred": pred, "method": "logprob", "correct": pred == rec["gold"]}


def _answered(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records with an answer: a failed generation (finish_reason "error") is reported, not scored."""
    return [r for r in records if r.get("finish_reason") != "error"]


def summarise(model_result: dict[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    out = {}
    for key, name in (("records", "generate"), ("logprob_records", "logprob")):
        all_recs = model_result.get(key) or []
        recs = _answered(all_recs)
        if all_recs:
            m = classification_metrics([r["gold"] for r in recs], [r["pred"] for r in recs], labels)
            m["errors"] = len(all_recs) - len(recs)
            m["methods"] = {meth: sum(1 for r in recs if r["method"] == meth) for meth in sorted({r["method"] for r in recs})}
            out[name] = m
    if model_result.get("records") and model_result.get("logprob_records"):
        lp = {r["item"]: r["pred"] for r in model_result["logprob_records"]}
        answered = _answered(model_result["records"])
        agree = sum(1 for r in answered if r["pred"] is not None and r["pred"] == lp.get(r["item"]))
        out["agreement"] = {"k": agree, "n": len(answered), "value": agree / len(answered) if answered else None}
    return out


def compare(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, name in (("records", "generate"), ("logprob_records", "logprob")):
        b = {r["item"]: r["correct"] for r in _answered(base.get(key) or [])}
        t = {r["item"]: r["correct"] for r in _answered(tuned.get(key) or [])}
        shared = [i for i in b if i in t]
        if shared:
            out[name] = {"n": len(shared), "base_accuracy": sum(b[i] for i in shared) / len(shared),
                         "tuned_accuracy": sum(t[i] for i in shared) / len(shared),
                         "mcnemar": mcnemar([b[i] for i in shared], [t[i] for i in shared])}
    return out


def run_task(models: dict[str, ChatModel], items: Sequence[TaskItem], *, scoring: str = "generate",
             params: GenParams = GenParams(max_new_tokens=16), task_info: dict[str, Any] | None = None,
             model_info: dict[str, dict] | None = None, limit: int | None = None, baseline: str | None = None,
             progress: Callable[[str], Progress | None] | None = None) -> dict[str, Any]:
    """Evaluate each model on the task's evaluation items; the result is stored as classify.json."""
    labels = label_set(items)
    evaluated = eval_items(items)[:limit] if limit else eval_items(items)
    result: dict[str, Any] = {
        "kind": "classify",
        "task": {**(task_info or {}), "n_items": len(evaluated), "labels": labels},
        "config": {"scoring": scoring, "params": params.as_dict(), "limit": limit},
        "items": [asdict(it) for it in evaluated],
        "models": {},
    }
    return evaluate_models(
        result, models,
        lambda model, prog: run_model(model, evaluated, labels, scoring=scoring, params=params, progress=prog),
        lambda res: summarise(res, labels), compare, model_info=model_info, baseline=baseline, progress=progress)


def rescore(result: dict[str, Any]) -> dict[str, Any]:
    """Recompute predictions and metrics from the stored raw answers and log-probs."""
    labels = result["task"]["labels"]
    out = json.loads(json.dumps(result))
    for res in out["models"].values():
        res["records"] = [_score({k: r[k] for k in ("item", "gold", "raw", "finish_reason", "error")}, labels)
                          for r in res.get("records") or []]
        if "logprob_records" in res:
            res["logprob_records"] = [_score_logprob({k: r[k] for k in ("item", "gold", "logprobs")})
                                      for r in res["logprob_records"]]
        res["summary"] = summarise(res, labels)
    out["comparisons"] = compare_with_baseline(out, compare)
    return out


# -- report ----------------------------------------------------------------------------------------
def confusion_chart(conf: ConfusionMatrix, title: str) -> str:
    import numpy as np

    matrix = np.array(conf.matrix, dtype=float)
    fig, ax = new_figure(1.2 + 0.7 * len(conf.columns), 1.0 + 0.55 * len(conf.labels))
    ax.imshow(matrix, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(conf.columns)), conf.columns, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(conf.labels)), conf.labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    top = matrix.max() or 1
    for (r, c), v in np.ndenumerate(matrix):
        ax.text(c, r, int(v), ha="center", va="center", fontsize=8, color="white" if v > top / 2 else "black")
    ax.set_title(title, fontsize=9)
    return figure_img(fig, f"confusion matrix: {title}")


@registry.report_section("classify", title="Classification tasks", results="classify")
def report_section(result: TaskResult | dict[str, Any], *, charts: bool = True) -> str:
    result = as_result(result)
    task = result.task
    parts = [f"<section class=\"expertune-classify\"><h3>Classification: {esc(task.get('name') or task.get('source', ''))}</h3>",
             f"<p>{task['n_items']} items, labels: {esc(', '.join(task['labels']))}; scoring {esc(result.config['scoring'])}.</p>"]
    rows = []
    for label, res in result.models.items():
        for mode, m in res.summary.by_scoring().items():
            rows.append([label, mode, fmt_pct(m.accuracy), fmt_num(m.macro.f1), fmt_num(m.micro.f1),
                         fmt_num(m.macro.specificity), fmt_pct(m.invalid)])
    parts.append(table(["model", "scoring", "accuracy", "macro F1", "micro F1", "macro specificity", "invalid"], rows))
    for label, res in result.models.items():
        for mode, m in res.summary.by_scoring().items():
            per = [[c, v.support, fmt_num(v.precision), fmt_num(v.recall), fmt_num(v.f1), fmt_num(v.specificity)]
                   for c, v in m.per_class.items()]
            parts.append(table(["class", "support", "precision", "recall (sensitivity)", "F1", "specificity"],
                                    per, caption=f"{label} · {mode}"))
            if charts:
                parts.append(confusion_chart(m.confusion, f"{label} · {mode}"))
    crow = [[label, mode, fmt_num(c.base_accuracy), fmt_num(c.tuned_accuracy),
             f"{c.mcnemar.base_only}/{c.mcnemar.tuned_only}", c.mcnemar.method, fmt_num(c.mcnemar.p_value, 4)]
            for label, per in result.comparisons.items() for mode, c in per.items()]
    if crow:
        parts.append(table(["model", "scoring", f"{result.baseline} accuracy", "model accuracy", "discordant (baseline only/model only)",
                                 "test", "p"], crow, caption=f"Each model vs {result.baseline} on the same items (McNemar)"))
    parts.append("</section>")
    return "\n".join(parts)


__all__ = ["INVALID", "TaskItem", "build_prompt", "eval_items", "export_training", "label_set", "load_task",
           "parse_label", "report_section", "rescore", "run_task", "to_training_records"]


# -- `eval run` task and report section ------------------------------------------------------------
class ClassifyTaskConfig(StrictModel):
    """`tasks: {classify: {...}}` in an eval config: the labelled task for every candidate."""

    task: str  # JSONL file or registered eval set
    scoring: Literal["generate", "logprob", "both"] = "generate"
    max_new_tokens: int = Field(16, ge=1)
    limit: int | None = Field(None, ge=1)


@registry.task("classify", config=ClassifyTaskConfig, description="text classification with per-class metrics")
def _run_task(ctx, cfg: ClassifyTaskConfig) -> dict[str, Any]:
    items, info = load_task(cfg.task, ctx.ws)
    models, meta = task_models(ctx)
    result = run_task(models, items, scoring=cfg.scoring, params=GenParams(max_new_tokens=cfg.max_new_tokens),
                      task_info=info, model_info=meta, limit=cfg.limit, baseline=ctx.baseline)
    path = write_result(ctx.folder, f"classify-{slug(cfg.task)}.json", result, task_name="classify")
    return {"path": str(path), "baseline": result["baseline"], "comparisons": result["comparisons"],
            "summary": {label: res["summary"] for label, res in result["models"].items()}}
