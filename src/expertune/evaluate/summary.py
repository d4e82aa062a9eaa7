"""The summary of an evaluation run, as `expertune eval stats` prints it and the report and the
evidence summary read it: the pairwise statistics (pairwise/analysis.py), the human judgments when
there are any (pairwise/human_stats.py), and the stored results of the run's tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expertune.evaluate.pairwise.analysis import load_run_data, summarize
from expertune.evaluate.pairwise.human_stats import human_summary
from expertune.evaluate.results import read_task_summary
from expertune.workspace import Workspace


def run_summary(ws: Workspace, run_ref: int | str) -> dict[str, Any]:
    """The statistics of a run (as `expertune eval stats` prints them), with extension tasks'
    summaries when present."""
    data = load_run_data(ws, run_ref)
    summary = summarize(data)
    human = human_summary(ws, run_ref)
    if human["humans"]:
        summary["human"] = human
    tasks_dir = Path(data.run.folder) / "tasks"
    if tasks_dir.is_dir():
        summary["tasks"] = {p.stem: read_task_summary(p).model_dump(mode="json") for p in sorted(tasks_dir.glob("*.json"))}
    return summary
