"""The summary of an evaluation run, as `expertune eval stats` prints it, runs/eval-<id>/summary.json
stores it and the report and the evidence summary read it: the pairwise statistics
(pairwise/analysis.py), the human judgments when there are any (pairwise/human_stats.py), and the
stored results of the run's tasks.

Like the run's lineage (evaluate/runs.py) and the task results (evaluate/results.py), it is a
pydantic model, `RunSummary`, validated when it is built and when summary.json is read back. Its
top level and the small blocks of stable shape are typed; the statistics below a pair (per-judge
win rates, intervals, agreement) keep the shape evaluate/stats.py gives them.

Compatibility: the JSON is the one `eval stats --json` always printed, key for key in the same
order (the optional blocks are left out when absent, never written as null). Files written before
the model existed read: they may lack `evidence`, `bootstrap` and `judge_reliability`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from expertune.errors import InputError
from expertune.evaluate.config import JudgeReliability
from expertune.evaluate.report.evidence import EvidenceSummary, evidence_summary
from expertune.evaluate.results import TaskSummary, parse_task_summary, read_task_summary
from expertune.evaluate.runs import EvalLineage
from expertune.records import Record, validated
from expertune.workspace import Workspace

SUMMARY_FILE = "summary.json"


class SummaryRun(Record):
    """Which run the summary is of."""

    id: int
    name: str | None = None
    status: str
    folder: str
    created_at: str


class Bootstrap(Record):
    replicates: int
    seed: int


class SummaryCounts(Record):
    prompts: int
    items: int  # complete comparisons
    missing_answers: int
    identical_answers: int
    flagged_planted_verdict: int


class PairSummary(Record):
    """One candidate against the baseline (analysis.pair_summary): per-judge statistics, the pooled
    verdict over the counted judges, agreement between judges."""

    candidate: str
    baseline: str
    judges: dict[str, dict[str, Any]]  # judge -> overall, reliability, length_controlled, domain, grid, criteria
    pooled: dict[str, Any]  # overall, length_controlled, domain, grid, judges (counted), excluded_judges
    agreement: dict[str, Any]  # pairs (Cohen's kappa per judge pair), fleiss

    @property
    def counted_judges(self) -> list[str]:
        """The judges of the pooled verdict (summaries from before reliability: all of them)."""
        return self.pooled.get("judges", list(self.judges))


class CheckpointSelection(Record):
    """The pairs on the val split's prompts, which chose the training checkpoint: never in the headline."""

    note: str
    sets: list[str]
    pairs: list[PairSummary]


class HumanSummary(Record):
    """Human win rates and judge validity (pairwise/human_stats.py human_summary)."""

    humans: list[str]
    pairs: list[dict[str, Any]] = Field(default_factory=list)  # candidate, baseline, humans, pooled, judge_validity, ...


# Left out of the JSON when absent, as they always were (not written as null).
_OPTIONAL = ("evidence", "bootstrap", "judge_reliability", "checkpoint_selection", "human", "tasks")


class RunSummary(Record):
    """The statistics of a run (runs/eval-<id>/summary.json, `eval stats --json`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    evidence: EvidenceSummary | None = None  # what the evidence amounts to (report/evidence.py); first, when there
    run: SummaryRun
    lineage: EvalLineage
    labels: list[str]  # the rubric's two answer labels
    bootstrap: Bootstrap | None = None
    counts: SummaryCounts
    pairs: list[PairSummary] = Field(default_factory=list)
    truncation: dict[str, dict[str, Any]] = Field(default_factory=dict)  # candidate -> answers, truncated, cells, ...
    failures: dict[str, dict[str, Any]] = Field(default_factory=dict)  # judge -> failed_judgments, errors
    costs: dict[str, Any] = Field(default_factory=dict)  # total_usd, by_actor
    judge_reliability: JudgeReliability | None = None
    checkpoint_selection: CheckpointSelection | None = None
    human: HumanSummary | None = None
    tasks: dict[str, TaskSummary] | None = None

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if not (k in _OPTIONAL and v is None)}


def parse_run_summary(data: Any, source: str | Path) -> RunSummary:
    """A run summary from its JSON form; `source` names it in errors."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a run summary (a JSON object is expected)")
    tasks = data.get("tasks")
    if isinstance(tasks, dict):  # summaries from before TaskSummary had no task_name: the key is it
        data = {**data, "tasks": {name: t if isinstance(t, TaskSummary) else
                                  parse_task_summary(t, f"{source}: tasks.{name}", task_name=name)
                                  for name, t in tasks.items()}}
    return validated(RunSummary, data, source, "run summary",
                     "the file was edited or damaged: run `expertune eval stats RUN` to write it again")


def read_run_summary(path: Path) -> RunSummary:
    """runs/eval-<id>/summary.json, validated."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err}); run `expertune eval stats RUN` to write it again") from None
    return parse_run_summary(data, path)


def run_summary(ws: Workspace, run_ref: int | str) -> RunSummary:
    """The statistics of a run (as `expertune eval stats` prints them), with the human judgments'
    statistics and extension tasks' summaries when present."""
    from expertune.evaluate.pairwise.analysis import load_run_data, summarize
    from expertune.evaluate.pairwise.human_stats import human_summary

    data = load_run_data(ws, run_ref)
    summary = summarize(data)
    human = human_summary(ws, run_ref)
    if human["humans"]:
        summary["human"] = human
    tasks_dir = Path(data.run.folder) / "tasks"
    if tasks_dir.is_dir():
        summary["tasks"] = {p.stem: read_task_summary(p) for p in sorted(tasks_dir.glob("*.json"))}
    return parse_run_summary(summary, f"eval run {data.run.id}: summary")


def run_evidence(ws: Workspace, run_ref: int | str) -> EvidenceSummary:
    """What the evidence of a run amounts to (report/evidence.py), from its summary."""
    return evidence_summary(run_summary(ws, run_ref))


def write_run_summary(summary: RunSummary) -> Path:
    """runs/eval-<id>/summary.json (validated again first: what is written is what a reader accepts)."""
    from expertune.atomic import write_atomic

    summary = summary.updated()
    path = Path(summary.run.folder) / SUMMARY_FILE
    return write_atomic(path, json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False, default=str))
