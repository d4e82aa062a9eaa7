"""Evaluation: generation harness, pairwise judges, statistics, exams, classification, report.

The heavy parts (torch, matplotlib) are imported only when a stage runs.
"""

from __future__ import annotations

from typing import Any


def run_eval(*args: Any, **kwargs: Any):
    """See expertune.evaluate.pipeline.run_eval."""
    from expertune.evaluate.pipeline import run_eval as _run_eval

    return _run_eval(*args, **kwargs)


__all__ = ["run_eval"]
