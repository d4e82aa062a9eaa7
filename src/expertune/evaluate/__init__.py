"""Evaluation: does the tuned model beat the base, and how sure can we be?

    config.py    the eval config (candidates, prompts, grid, judges, rubric, tasks)
    runs.py      runs: the frozen plan (prompts, candidate and judge identities), lookup, folders
    pipeline.py  `eval run`: create a run, generate, judge, run the tasks, summarise
    summary.py   a run's summary: pairwise statistics, human judgments, the tasks' results
    stats.py     the maths: intervals, bootstraps, paired tests, classification metrics, kappa
    registry.py  the decorators tasks, report sections and judge kinds register with; entry-point plugins
    frozen.py    what a run freezes of its models (typed identities) and opening a frozen model again
    results.py   what tasks store (typed results and task summaries, validated on write and read)
    endpoints.py an OpenAI-compatible endpoint's settings; rubric.py the judges' rubric (leaf modules)
    prompts.py   collecting the prompts of a run
    pairwise/    generation, judging, judges, verdicts, analysis, human judging
    tasks/       exams, classification, perplexity, forgetting, facts, refusal
    report/      the HTML report, its sections and the evidence summary

The heavy parts (torch, matplotlib) are imported only when a stage runs.
"""

from __future__ import annotations

from typing import Any


def run_eval(*args: Any, **kwargs: Any):
    """See expertune.evaluate.pipeline.run_eval."""
    from expertune.evaluate.pipeline import run_eval as _run_eval

    return _run_eval(*args, **kwargs)


__all__ = ["run_eval"]
