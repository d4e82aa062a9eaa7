"""Extension points for other evaluations (exams, classification, perplexity, forgetting).

A module registers a *task* (a config section under `tasks:` in the eval YAML and a function that
runs it against the run's candidates) and/or *report sections* (see evaluate/report.py). The
modules that do are imported on demand, the first time tasks or sections are needed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

# Sibling modules that may register tasks or report sections when imported.
PLUGIN_MODULES = (
    "expertune.evaluate.mcq",
    "expertune.evaluate.exam_formats",
    "expertune.evaluate.classify",
    "expertune.evaluate.perplexity",
    "expertune.evaluate.forgetting",
    "expertune.evaluate.facts",
    "expertune.evaluate.refusal",
    "expertune.evaluate.human_report",
)


@dataclass
class EvalTask:
    """`run(ctx, config)` evaluates the run's candidates, stores its own results and returns a
    JSON-able summary (saved under runs/eval-<id>/tasks/<name>.json and shown by `eval stats`).
    `ctx` is an evaluate.runs.TaskContext: workspace, run id and folder, frozen candidates,
    and `ctx.chat_model(name)` to get a loaded LocalChatModel / OpenAIChatModel."""

    name: str
    config_model: type[BaseModel]
    run: Callable[[Any, BaseModel], dict[str, Any]]
    description: str = ""


TASKS: dict[str, EvalTask] = {}
_loaded = False


def register_task(task: EvalTask) -> None:
    TASKS[task.name] = task


def load_plugins() -> None:
    """Import the modules that register tasks and report sections (once); they always ship."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in PLUGIN_MODULES:
        importlib.import_module(name)


def validate_tasks(tasks: dict[str, Any]) -> dict[str, Any]:
    """Validate each `tasks:` entry with its registered model; unknown names are errors."""
    if not tasks:
        return tasks
    load_plugins()
    out: dict[str, Any] = {}
    for name, raw in tasks.items():
        task = TASKS.get(name)
        if task is None:
            known = ", ".join(sorted(TASKS)) or "none installed"
            raise ValueError(f"tasks.{name}: unknown evaluation task (known: {known})")
        try:
            out[name] = task.config_model.model_validate(raw or {}).model_dump(mode="json")
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ValueError(f"tasks.{name}: {problems}") from None
    return out
