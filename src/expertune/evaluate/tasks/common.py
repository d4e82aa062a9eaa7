"""What the tasks share: result files in run folders, opening and releasing the models, running
each model in turn and comparing it with the baseline.

Their report fragments are built with evaluate/report/html.py; they register with the decorators of
evaluate/registry.py.

The maths (intervals, tests, per-class scores) lives in evaluate/stats.py, the one module for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable



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


def write_result(folder: Path, filename: str, data: dict[str, Any], *, task_name: str | None = None) -> Path:
    """Write a result file, validated by its kind's model (evaluate/results.py) and atomically;
    `task_name`: the `tasks:` entry of `eval run` that produced it."""
    from expertune.evaluate.results import write_result as write_validated

    return write_validated(folder, filename, {**data, "task_name": task_name} if task_name else data)


def result_files(run_dir: Path) -> list[Path]:
    """The exam/classification/perplexity/forgetting results stored in a run folder."""
    return sorted(p for kind in RESULT_KINDS for p in Path(run_dir).glob(f"{kind}*.json"))


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
    from expertune.llm.adapters import read_adapter
    from expertune.llm.local import LocalChatModel
    from expertune.store.adapters import resolve_adapter

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
        meta["tuned"] = {"base_model": base, "adapter": info.model_dump(mode="json"), "adapter_label": info.label}
    for label, m in models.items():
        meta[label]["model_id"] = m.id
    return models, meta


# -- hooks into `eval run` and the HTML report -----------------------------------------------------
def task_models(ctx: Any) -> tuple[dict[str, Any], dict[str, dict]]:
    """The chat models of an eval run's frozen candidates, by candidate name, and what they are."""
    models = {c.name: ctx.chat_model(c.name) for c in ctx.candidates}
    info = {c.name: {"model_id": c.model_id, "base_model": c.base,
                     "adapter": c.adapter.model_dump(mode="json") if c.adapter else None} for c in ctx.candidates}
    return models, info
