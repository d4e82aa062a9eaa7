"""Evaluations beyond pairwise judging, each a `tasks:` entry of the eval YAML and most also a
command of their own (`eval mcq|classify|perplexity|forgetting|facts|refusal`):

    mcq.py          multiple-choice exams (prompt formats in exam_formats.py), option-bias analysis
    classify.py     classification tasks with per-class metrics
    perplexity.py   held-out and out-of-domain perplexity
    forgetting.py   a general set scored for base and tuned, flagged beyond a margin
    facts.py        knowledge injection: question/answer facts
    refusal.py      safety regression: refusals on harmful and look-alike prompts
    common.py       what they share: result files, opening the models, comparing with the baseline
    standalone.py   the standalone commands' runs: load the set, open the models, write the result

Each task module registers its task and its report section with the decorators of
evaluate/registry.py. The shipped tasks are the modules imported here, in the order of their report
sections; other distributions add theirs through the `expertune.tasks` entry point group.
"""

from __future__ import annotations

from typing import Any

from expertune.evaluate import registry
from expertune.evaluate.tasks import mcq  # noqa: F401 - the shipped tasks, in report order
from expertune.evaluate.tasks import classify  # noqa: F401
from expertune.evaluate.tasks import perplexity  # noqa: F401
from expertune.evaluate.tasks import forgetting  # noqa: F401
from expertune.evaluate.tasks import facts  # noqa: F401
from expertune.evaluate.tasks import refusal  # noqa: F401


def all_tasks() -> dict[str, registry.EvalTask]:
    """Every task: the shipped ones and those of installed entry-point plugins."""
    registry.load_entry_points()
    return registry.TASKS


def validate_tasks(tasks: dict[str, Any]) -> dict[str, Any]:
    """The `tasks:` section of an eval config, each entry validated by its task's config model."""
    if not tasks:
        return tasks
    all_tasks()
    return registry.validate_tasks(tasks)
