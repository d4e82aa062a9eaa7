"""`eval run`: create a run from a config, then generate, judge, run extension tasks, summarise.

Each stage can also run alone (evaluate.pairwise.generation.run_generation,
evaluate.pairwise.judging.run_judging, run_tasks, evaluate.summary.run_summary); all of them resume from what the store already holds.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager

from expertune.evaluate.config import EvalConfig, load_eval_config
from expertune.evaluate.pairwise.generation import run_generation
from expertune.evaluate.pairwise.judging import run_judging
from expertune.evaluate.results import TaskSummary, parse_task_summary, write_task_summary
from expertune.evaluate.runs import EvalRunRecord, TaskContext, create_run, get_run, run_config, set_status
from expertune.evaluate.summary import RunSummary, run_summary, write_run_summary
from expertune.workspace import Workspace

# stage name -> a context manager yielding an update(done, total) callback (the CLI's progress bar)
ProgressFactory = Callable[[str], ContextManager[Callable[[int, int], None]]]


def _stage(progress: ProgressFactory | None, name: str):
    return progress(name) if progress else nullcontext(None)


def start_run(ws: Workspace, config: EvalConfig | Path, overrides: list[str] | None = None) -> EvalRunRecord:
    if isinstance(config, EvalConfig):
        return create_run(ws, config)
    return create_run(ws, load_eval_config(config, overrides), source=str(Path(config).resolve()))


def run_tasks(ws: Workspace, run_ref: int | str) -> dict[str, TaskSummary]:
    """Run the extension tasks of the run's config (exams, classification, ...); each summary is
    saved under runs/eval-<id>/tasks/<name>.json."""
    from expertune.evaluate.tasks import all_tasks

    run = get_run(ws, run_ref)
    config = run_config(run)
    if not config.tasks:
        return {}
    tasks = all_tasks()
    ctx = TaskContext(ws, run.id, Path(run.folder), run.lineage.candidates, run.lineage.baseline)
    out = {}
    for name, raw in config.tasks.items():
        task = tasks[name]
        returned = task.run(ctx, task.config_model.model_validate(raw))
        summary = parse_task_summary(json.loads(json.dumps(returned, default=str)), f"task {name}", task_name=name)
        write_task_summary(Path(run.folder) / "tasks" / f"{name}.json", summary)
        out[name] = summary
    return out


def write_summary(ws: Workspace, run_ref: int | str) -> RunSummary:
    """The run's statistics with, first, what their evidence amounts to (evaluate/report/evidence.py),
    written to runs/eval-<id>/summary.json."""
    from expertune.evaluate.report.evidence import evidence_summary

    summary = run_summary(ws, run_ref)
    summary = summary.updated(evidence=evidence_summary(summary))
    write_run_summary(summary)
    return summary


def run_eval(ws: Workspace, config: EvalConfig | Path | None = None, *, overrides: list[str] | None = None,
             resume: int | str | None = None, budget_usd: float | None = None,
             progress: ProgressFactory | None = None, on_estimate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Everything: a new run from `config` (or `resume` an existing run), every stage, the summary."""
    run = get_run(ws, resume) if resume is not None else start_run(ws, config, overrides)
    result: dict[str, Any] = {"run": run.id, "folder": run.folder}
    if run.prompts:
        with _stage(progress, "generating") as update:
            result["generation"] = run_generation(ws, run.id, progress=update)
    if run.lineage.judges:
        with _stage(progress, "judging") as update:
            result["judging"] = run_judging(ws, run.id, budget_usd=budget_usd, progress=update, on_estimate=on_estimate)
    result["tasks"] = run_tasks(ws, run.id)
    result["summary"] = write_summary(ws, run.id)
    set_status(ws, run.id, "done")
    return result
