"""Metrics shared by exams, classification tasks and perplexity: intervals, per-class scores,
McNemar's test for paired base/tuned correctness; plus the small plumbing those evaluations
share: report fragments, result files in run folders, and the hooks into `eval run` and the report.

The metric functions are pure (lists in, dicts out) so results can be recomputed from stored outputs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

INVALID = "invalid"  # the confusion-matrix column for answers that named no valid label


# -- intervals -------------------------------------------------------------------------------------
def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion: the project's shared implementation (stats.py),
    with the uninformative [0, 1] for n = 0 so stored results always hold two numbers."""
    from expertune.evaluate.stats import wilson_interval as wilson

    return wilson(successes, n, confidence) or (0.0, 1.0)


def proportion(successes: int, n: int) -> dict[str, Any]:
    """A proportion with its Wilson interval, as stored in results."""
    lo, hi = wilson_interval(successes, n)
    return {"k": successes, "n": n, "value": successes / n if n else None, "ci": [lo, hi]}


def mean_interval(values: Sequence[float], *, method: str = "t", level: float = 0.95,
                  n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean with a t interval or a percentile bootstrap interval (seeded, so reruns agree)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "ci": [None, None], "method": method}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "ci": [None, None], "method": method}
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    elif method == "t":
        from scipy import stats

        sem = float(x.std(ddof=1)) / math.sqrt(n)
        half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sem
        lo, hi = mean - half, mean + half
    else:
        raise ValueError(f"unknown interval method {method!r}")
    return {"n": n, "mean": mean, "ci": [float(lo), float(hi)], "method": method}


# -- paired correctness ----------------------------------------------------------------------------
def mcnemar(base: Sequence[bool], tuned: Sequence[bool], *, exact_below: int = 25) -> dict[str, Any]:
    """McNemar's test on paired correctness of the same items.

    Only discordant pairs carry information: b = base right and tuned wrong, c = the reverse.
    With few discordant pairs the chi-square approximation is poor, so below `exact_below` the
    exact two-sided binomial test (b ~ Bin(b + c, 1/2)) is used.
    """
    if len(base) != len(tuned):
        raise ValueError("base and tuned must score the same items")
    b = sum(1 for x, y in zip(base, tuned) if x and not y)
    c = sum(1 for x, y in zip(base, tuned) if y and not x)
    n = b + c
    out: dict[str, Any] = {"n_items": len(base), "base_only": b, "tuned_only": c, "discordant": n}
    if n == 0:
        return {**out, "method": "none", "statistic": None, "p_value": 1.0}
    if n < exact_below:
        from scipy.stats import binom

        p = min(1.0, 2 * float(binom.cdf(min(b, c), n, 0.5)))
        return {**out, "method": "exact-binomial", "statistic": None, "p_value": p}
    from scipy.stats import chi2

    stat = (abs(b - c) - 1) ** 2 / n  # continuity-corrected
    return {**out, "method": "chi2-continuity", "statistic": stat, "p_value": float(chi2.sf(stat, 1))}


# -- classification --------------------------------------------------------------------------------
def confusion_matrix(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict[str, Any]:
    """Rows are gold labels, columns the labels plus "invalid" (no usable answer)."""
    columns = [*labels, INVALID]
    counts = {g: {c: 0 for c in columns} for g in labels}
    for g, p in zip(gold, pred):
        counts[g][p if p in counts else INVALID] += 1
    return {"labels": list(labels), "columns": columns, "matrix": [[counts[g][c] for c in columns] for g in labels]}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def classification_metrics(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict[str, Any]:
    """Per-class precision, recall (= sensitivity), F1 and specificity, macro and micro averages.

    An invalid prediction (None or not a label) is a miss for the gold class and a false positive
    for no class, so micro precision counts only valid predictions while micro recall counts all
    items: the gap between them is the cost of unparseable answers.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    n = len(gold)
    valid = [p if p in labels else None for p in pred]
    per_class: dict[str, dict[str, Any]] = {}
    tp_all = fp_all = fn_all = 0
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, valid) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, valid) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, valid) if g == lab and p != lab)
        tn = n - tp - fp - fn
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        per_class[lab] = {
            "support": tp + fn, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "sensitivity": recall, "specificity": _ratio(tn, tn + fp),
        }
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn

    def macro(key: str) -> float | None:
        # Classes without support (or never predicted, for precision) have no defined value;
        # averaging over the defined ones is stated rather than silently counting them as 0.
        vals = [m[key] for m in per_class.values() if m[key] is not None]
        return sum(vals) / len(vals) if vals else None

    micro_p, micro_r = _ratio(tp_all, tp_all + fp_all), _ratio(tp_all, tp_all + fn_all)
    correct = sum(1 for g, p in zip(gold, valid) if g == p)
    n_invalid = sum(1 for p in valid if p is None)
    return {
        "n": n,
        "accuracy": proportion(correct, n),
        "invalid": proportion(n_invalid, n),
        "per_class": per_class,
        "macro": {k: macro(k) for k in ("precision", "recall", "f1", "sensitivity", "specificity")},
        "micro": {"precision": micro_p, "recall": micro_r, "f1": _f1(micro_p, micro_r)},
        "confusion": confusion_matrix(gold, pred, labels),
    }


def population_std(values: Iterable[float]) -> float | None:
    vals = list(values)
    if not vals:
        return None
    m = sum(vals) / len(vals)
    return math.sqrt(sum((v - m) ** 2 for v in vals) / len(vals))


# -- report fragments ------------------------------------------------------------------------------
def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt_num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_pct(p: dict[str, Any] | None) -> str:
    """"62.5% [40.1–80.2]" from a proportion() dict."""
    if not p or p.get("value") is None:
        return "–"
    lo, hi = p["ci"]
    return f"{100 * p['value']:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}] (n={p['n']})"


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="expertune-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure_img(fig: Any, alt: str) -> str:
    """An <img> with the figure inlined as a base64 PNG, so the report is one self-contained file."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}"/>'


def new_figure(width: float = 6.0, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless: reports are built on servers and in CI
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


# -- result files ----------------------------------------------------------------------------------
RESULT_KINDS = ("mcq", "classify", "perplexity", "forgetting")


def new_run_dir(runs_dir: Path, prefix: str) -> Path:
    """runs/<prefix>-<UTC timestamp>, with a counter if two runs start in the same second."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        folder = runs_dir / (f"{prefix}-{stamp}" + (f"-{k}" if k else ""))
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run folder under {runs_dir}")


def pick_baseline(labels: Iterable[str], baseline: str | None = None) -> str | None:
    """The model the others are compared with: the given one, else "base", else the first."""
    labels = list(labels)
    if baseline is not None:
        if baseline not in labels:
            raise ValueError(f"baseline {baseline!r} is not one of the evaluated models ({', '.join(labels)})")
        return baseline
    return "base" if "base" in labels else (labels[0] if labels else None)


def release_model(model: Any) -> None:
    """Drop a local model's weights once its turn is over, so base and tuned are not both held."""
    close = getattr(model, "close", None)
    if callable(close):
        close()


def evaluate_models(result: dict[str, Any], models: dict[str, Any], run_one: Callable[[Any, Any], dict[str, Any]],
                    summarise: Callable[[dict[str, Any]], dict[str, Any]], compare: Callable[[dict, dict], dict],
                    *, model_info: dict[str, Any] | None = None, baseline: str | None = None,
                    progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Run every model in turn (one held in memory at a time), summarise it, and compare each
    with the baseline; fills result["models"], ["baseline"] and ["comparisons"]."""
    for label, model in models.items():
        res = run_one(model, progress(label) if progress else None)
        release_model(model)
        res["info"] = (model_info or {}).get(label, {})
        res["summary"] = summarise(res)
        result["models"][label] = res
    result["baseline"] = pick_baseline(models, baseline)
    result["comparisons"] = compare_with_baseline(result, compare)
    return result


def compare_with_baseline(result: dict[str, Any], compare: Callable[[dict, dict], dict]) -> dict[str, Any]:
    """Every model against the baseline, keyed by the other model's label."""
    b = result.get("baseline")
    models = result["models"]
    return {label: compare(models[b], res) for label, res in models.items() if b in models and label != b}


def write_result(folder: Path, filename: str, data: dict[str, Any]) -> Path:
    """Write a result JSON atomically (a crash never leaves half a file for the report to read)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def result_files(run_dir: Path) -> list[Path]:
    """The exam/classification/perplexity/forgetting results stored in a run folder."""
    return sorted(p for kind in RESULT_KINDS for p in Path(run_dir).glob(f"{kind}*.json"))


def report_sections(run_dir: Path, *, charts: bool = True) -> list[str]:
    """HTML fragments for every result of these kinds in `run_dir`, for the evaluation report."""
    import json

    from expertune.evaluate import classify, forgetting, mcq, perplexity

    builders = {"mcq": lambda r: mcq.report_section(r, charts=charts),
                "classify": lambda r: classify.report_section(r, charts=charts),
                "perplexity": perplexity.report_section, "forgetting": forgetting.report_section}
    out = []
    for path in result_files(run_dir):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours or unreadable: the report names its own inputs
        builder = builders.get(data.get("kind")) if isinstance(data, dict) else None
        if builder:
            out.append(builder(data))
    return out


def slug(text: str) -> str:
    """A file-name-safe short name of a set ("exam.jsonl" -> "exam", "evalset name" -> "evalset-name")."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(str(text)).stem).strip("-")[:60] or "set"


DEFAULT_BASE_MODEL = "builtin:smollm2-135m-instruct"


def open_local_models(ws, model: str | None = None, adapter: str | None = None, adapter_path: Path | None = None,
                      tuned_only: bool = False) -> tuple[dict[str, Any], dict[str, dict]]:
    """{"base": ..., "tuned": ...} local chat models (the adapter from the registry or a folder; the
    base from --model, else the adapter's base, else the workspace's) and what they are."""
    from expertune.errors import ConfigError, InputError, WorkspaceNotFound
    from expertune.llm.adapters import read_adapter, resolve_adapter
    from expertune.llm.local import LocalChatModel

    if adapter and adapter_path:
        raise InputError("pass either --adapter NAME or --adapter-path DIR, not both")
    info = None
    if adapter:
        if ws is None:
            raise WorkspaceNotFound("--adapter NAME needs a workspace (its registry); pass -w DIR or use --adapter-path")
        info = resolve_adapter(ws, adapter)
    elif adapter_path:
        info = read_adapter(adapter_path)
    base = model or (info.base_model if info and info.base_model else None) or (ws.settings.base_model if ws else DEFAULT_BASE_MODEL)
    if tuned_only and info is None:
        raise InputError("--tuned-only needs --adapter or --adapter-path")
    models: dict[str, Any] = {}
    meta: dict[str, dict] = {}
    if not tuned_only:
        models["base"] = LocalChatModel(base)
        meta["base"] = {"base_model": base}
    if info is not None:
        tuned = LocalChatModel(base, adapter_info=info)
        # An adapter only means something on the weights it was trained on.
        if info.kind == "lora" and info.base_sha256 and info.base_sha256 != tuned.base_sha256:
            raise ConfigError(f"adapter {info.label} was trained on a base with sha256 {info.base_sha256[:12]}…, but "
                              f"{base!r} has {tuned.base_sha256[:12]}…; pass --model {info.base_model or 'BASE'}")
        models["tuned"] = tuned
        meta["tuned"] = {"base_model": base, "adapter": info.as_dict(), "adapter_label": info.label}
    for label, m in models.items():
        meta[label]["model_id"] = m.id
    return models, meta


# -- hooks into `eval run` and the HTML report -----------------------------------------------------
def task_models(ctx: Any) -> tuple[dict[str, Any], dict[str, dict]]:
    """The chat models of an eval run's frozen candidates, by candidate name, and what they are."""
    models = {c["name"]: ctx.chat_model(c["name"]) for c in ctx.candidates}
    info = {c["name"]: {"model_id": c.get("model_id"), "base_model": c.get("base"),
                        "adapter": c.get("adapter")} for c in ctx.candidates}
    return models, info


def register_extension(kind: str, title: str, section: Callable[[dict[str, Any]], str], task: Any = None) -> None:
    """Add a report section that renders every stored `<kind>*.json` of the run folder, and
    optionally an `eval run` task (evaluate/extensions.py)."""
    import json

    from expertune.evaluate import report

    def builder(ctx: Any) -> str | None:
        fragments = []
        for path in sorted(Path(ctx.run["folder"]).glob(f"{kind}*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("kind") == kind:
                fragments.append(section(data))
        return "\n".join(fragments) or None

    report.register_section(kind, builder, title=title)
    if task is not None:
        from expertune.evaluate.extensions import register_task

        register_task(task)
