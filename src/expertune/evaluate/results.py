"""What evaluation tasks store: the result files in a run folder (mcq-<exam>.json, classify-<task>.json,
perplexity.json, forgetting-<set>.json, facts-<set>.json, refusal-<set>.json) and the summary each
`tasks:` entry of `eval run` returns (runs/eval-<id>/tasks/<name>.json).

Like the run records (expertune.records), they are pydantic models, validated when written and when
read: a damaged or hand-edited results file is an InputError naming the file and the field, not a
KeyError in a report section. The top level of each result is typed, and so are the blocks with a
stable shape below it: an exam's and a labelled task's per-model run and summaries, the McNemar
comparisons, the forgetting verdicts, a perplexity set's summary. The per-item records keep the
shape their task gives them, and so do the facts / refusal comparisons (each carries its own
metric keys for the evidence summary).

The typed blocks dump to exactly the JSON written before they existed: fields in the order the
producers wrote them, and keys a producer only sometimes writes left out when unset (not null).

Compatibility: files written before these models existed carry no `schema_version` and no
`task_name`; they read as version 1. A file from a newer expertune is refused, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer

from expertune.atomic import write_atomic
from expertune.errors import InputError
from expertune.records import Record, describe_validation, validated

# Of result files and task summaries; raise it (and read the older shape) when a field changes meaning.
RESULTS_VERSION = 1


class TaskResult(Record):
    """Base of a stored result: its kind (which report section shows it), the schema version, and
    the `tasks:` entry that produced it (None when a standalone command did). A kind without a
    model of its own (a plugin's) reads as this base, its other fields kept as they are."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    kind: str
    schema_version: int = RESULTS_VERSION
    task_name: str | None = None


class Block(BaseModel):
    """A typed block inside a result. `optional_keys`: keys the producer writes only sometimes;
    unset (None) they are left out of the JSON, as before, instead of written as null."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    optional_keys: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _leave_out_unset(self, handler):
        data = handler(self)
        for key in self.optional_keys:
            if isinstance(data, dict) and data.get(key) is None:
                data.pop(key, None)
        return data


class Proportion(Block):
    """A proportion of independent items with its 95% Wilson interval (stats.proportion)."""

    k: int
    n: int
    value: float | None  # None: no items
    ci: list[float] | None


class McNemarTest(Block):
    """McNemar's test on paired correctness (stats.mcnemar): base_only = baseline right, model wrong."""

    n_items: int
    base_only: int
    tuned_only: int
    discordant: int
    method: str  # "none" (no discordant pair), "exact-binomial" or "chi2-continuity"
    statistic: float | None
    p_value: float


class PairedAccuracy(Block):
    """A model against the baseline on the same items: accuracies ("base" = the baseline, "tuned" =
    the other model), their difference and McNemar's test."""

    n: int
    base_accuracy: float | None  # None: no shared items
    tuned_accuracy: float | None
    difference: float | None
    mcnemar: McNemarTest


class LetterCounts(Block):
    chosen: dict[str, int]  # the letters answered, and "invalid"
    gold: dict[str, int]


class McqFormatSummary(Block):
    """One model's figures in one exam format (tasks/mcq.py summarise_format)."""

    optional_keys: ClassVar[frozenset[str]] = frozenset({"accuracy_all_shifts", "consistency", "logprob_agreement"})

    n_items: int
    errors: int  # failed generations, left out of every rate
    accuracy: Proportion  # as written (shift 0)
    adherence: Proportion
    invalid: Proportion
    truncated: int
    per_area: dict[str, Proportion]
    per_shift: dict[str, Proportion]
    methods: dict[str, int]  # how the answers were extracted
    accuracy_all_shifts: Proportion | None = None  # with option shifts only
    consistency: Proportion | None = None  # with option shifts only
    letters: LetterCounts
    letter_recall: dict[str, float]
    letter_recall_std: float | None
    logprob_agreement: Proportion | None = None  # with scoring "both" only


class McqModelRun(Block):
    """One model's answers to an exam (tasks/mcq.py run_model) and their summary per format."""

    model: str
    params: dict[str, Any]
    records: list[dict[str, Any]]
    logprob_records: list[dict[str, Any]] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, McqFormatSummary]


class ClassMetrics(Block):
    """One label's counts and scores (stats.classification_metrics); recall = sensitivity. The
    scores are None only in files written before undefined ratios counted as 0."""

    support: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None
    sensitivity: float | None
    specificity: float | None


class MacroAverages(Block):
    precision: float | None  # None: no items or no labels
    recall: float | None
    f1: float | None
    sensitivity: float | None
    specificity: float | None


class MicroAverages(Block):
    precision: float | None
    recall: float | None
    f1: float | None


class ConfusionMatrix(Block):
    labels: list[str]  # the rows (gold)
    columns: list[str]  # the labels and "invalid"
    matrix: list[list[int]]


class ClassificationMetrics(Block):
    """One model's figures under one scoring (tasks/classify.py summarise)."""

    n: int
    accuracy: Proportion
    invalid: Proportion
    confusion: ConfusionMatrix
    per_class: dict[str, ClassMetrics]
    macro: MacroAverages
    micro: MicroAverages
    errors: int  # failed generations, left out of the figures
    methods: dict[str, int]  # how the answers were read


class Agreement(Block):
    """Share of answered items where the generated label is the log-prob one (no interval)."""

    k: int
    n: int
    value: float | None


class ClassifySummary(Block):
    """Per scoring method ("generate", "logprob") the model ran, and their agreement when both ran."""

    optional_keys: ClassVar[frozenset[str]] = frozenset({"generate", "logprob", "agreement"})

    generate: ClassificationMetrics | None = None
    logprob: ClassificationMetrics | None = None
    agreement: Agreement | None = None

    def by_scoring(self) -> dict[str, ClassificationMetrics]:
        return {name: m for name, m in (("generate", self.generate), ("logprob", self.logprob)) if m is not None}


class ClassifyModelRun(Block):
    """One model's answers to a labelled task (tasks/classify.py run_model) and their summary."""

    optional_keys: ClassVar[frozenset[str]] = frozenset({"logprob_method", "logprob_records"})

    model: str
    params: dict[str, Any]
    records: list[dict[str, Any]]
    logprob_method: str | None = None  # "sequence" or "first-token", when scored by log-prob
    logprob_records: list[dict[str, Any]] | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    summary: ClassifySummary


class PairedLabelAccuracy(Block):
    """A model against the baseline on the same items of a labelled task (tasks/classify.py compare)."""

    n: int
    base_accuracy: float
    tuned_accuracy: float
    mcnemar: McNemarTest


class MeanInterval(Block):
    """A mean with its 95% interval (stats.mean_interval); the ends are None below two values."""

    n: int
    mean: float | None
    ci: list[float | None]
    method: str  # "t" or "bootstrap"


class NllFigures(Block):
    """One model's NLL on a set (tasks/perplexity.py summarise_model)."""

    n_examples: int
    n_groups: int
    n_tokens: int
    nll_per_token: float | None  # pooled over all completion tokens
    perplexity: float | None
    nll_group_mean: float | None


class NllDifference(Block):
    """tuned − base group NLL, paired per group (tasks/perplexity.py paired_difference)."""

    n_groups: int
    t: MeanInterval
    bootstrap: MeanInterval
    tuned_lower: int  # groups where the other model's NLL is lower


class PerplexitySetSummary(Block):
    """The figures of one set (tasks/perplexity.py summarise_set)."""

    models: dict[str, NllFigures]
    baseline: str | None
    differences: dict[str, NllDifference]  # label -> against the baseline


class _Shipped(TaskResult):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class McqResult(_Shipped):
    """A multiple-choice exam for every model (tasks/mcq.py run_exam)."""

    kind: Literal["mcq"] = "mcq"
    exam: dict[str, Any]  # where the exam came from, n_items
    config: dict[str, Any]  # formats, shifts, shots, scoring, seed, params, note
    items: list[dict[str, Any]]
    shot_pool: list[dict[str, Any]] = Field(default_factory=list)
    models: dict[str, McqModelRun]
    baseline: str | None = None
    comparisons: dict[str, dict[str, PairedAccuracy]] = Field(default_factory=dict)  # label -> format -> vs the baseline


class ClassifyResult(_Shipped):
    """A labelled classification task for every model (tasks/classify.py run_task)."""

    kind: Literal["classify"] = "classify"
    task: dict[str, Any]  # where the task came from, n_items, labels
    config: dict[str, Any]
    items: list[dict[str, Any]]
    models: dict[str, ClassifyModelRun]
    baseline: str | None = None
    comparisons: dict[str, dict[str, PairedLabelAccuracy]] = Field(default_factory=dict)  # label -> scoring -> vs the baseline


class PerplexityResult(_Shipped):
    """Held-out perplexity of every model on each set (tasks/perplexity.py run_sets)."""

    kind: Literal["perplexity"] = "perplexity"
    config: dict[str, Any]
    models: dict[str, dict[str, Any]]  # label -> model id and what it is
    sets: dict[str, dict[str, Any]]  # set -> what the set is, per-model records, summary
    baseline: str | None = None

    # A set's entry opens with what the set is (its own keys, from its eval set), so the entry
    # stays a dict to keep the stored order; its summary, the part read across modules, is typed.
    @field_validator("sets")
    @classmethod
    def _summaries_valid(cls, sets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, entry in sets.items():
            try:
                if "summary" in entry:
                    PerplexitySetSummary.model_validate(entry["summary"])
            except ValidationError as err:  # named from the set down, not from the summary's root
                raise ValueError(f"{name}.summary: {describe_validation(err)}") from None
        return sets

    def set_summary(self, name: str) -> PerplexitySetSummary:
        return PerplexitySetSummary.model_validate(self.sets[name]["summary"])


class AccuracyVerdict(Block):
    """Forgetting on an exam or labelled task: the accuracy change of a model against the baseline."""

    metric: Literal["accuracy"] = "accuracy"
    scoring: str  # the exam format or classification scoring the verdict is on
    base: float | None
    tuned: float | None
    change: float | None  # tuned - base
    margin: float
    flagged: bool
    mcnemar: McNemarTest


class NllVerdict(Block):
    """Forgetting on a prompt/text set: the rise of NLL per token, with its intervals."""

    metric: Literal["nll_per_token"] = "nll_per_token"
    set: str
    base: float | None
    tuned: float | None
    change: float | None  # mean paired difference (tuned - base), nats per token
    margin: float
    flagged: bool
    interval: dict[str, list[float | None] | None]  # "t", "bootstrap" -> [low, high]


ForgettingVerdict = Annotated[AccuracyVerdict | NllVerdict, Field(discriminator="metric")]


class ForgettingResult(_Shipped):
    """Base against tuned on a general set (tasks/forgetting.py run_forgetting)."""

    kind: Literal["forgetting"] = "forgetting"
    source: dict[str, Any]
    set_kind: str  # the kind of the inner result: mcq, classify or perplexity
    config: dict[str, Any]  # the ForgettingConfig (margins)
    baseline: str | None = None
    verdicts: dict[str, ForgettingVerdict]  # label -> the verdict against the baseline
    flagged: bool
    result: dict[str, Any]  # the inner mcq / classify / perplexity result


class PairedItemsResult(_Shipped):
    """Facts and refusals (tasks/facts.py, tasks/refusal.py): answers to items, compared per item."""

    kind: Literal["facts", "refusal"]
    source: dict[str, Any] = Field(default_factory=dict)
    items: list[dict[str, Any]]
    models: dict[str, dict[str, Any]]
    baseline: str | None = None
    comparisons: dict[str, Any] = Field(default_factory=dict)


RESULT_MODELS: dict[str, type[TaskResult]] = {"mcq": McqResult, "classify": ClassifyResult,
                                              "perplexity": PerplexityResult, "forgetting": ForgettingResult,
                                              "facts": PairedItemsResult, "refusal": PairedItemsResult}


def _check_version(data: dict[str, Any], source: str | Path) -> None:
    version = data.get("schema_version")
    if isinstance(version, int) and version > RESULTS_VERSION:
        raise InputError(f"{source}: schema_version {version} was written by a newer expertune (this one reads up "
                         f"to {RESULTS_VERSION}); upgrade expertune to read it")


def parse_result(data: Any, source: str | Path) -> TaskResult:
    """A stored result from its JSON form, by its kind; `source` names the file in errors."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise InputError(f"{source}: not a task result (a JSON object with a \"kind\" is expected)")
    _check_version(data, source)
    return validated(RESULT_MODELS.get(data["kind"], TaskResult), data, source, f"{data['kind']} result",
                     "the file was edited or damaged: restore it or run the task again")


def as_result(result: TaskResult | dict[str, Any], source: str | Path = "result") -> TaskResult:
    """A result as its typed model (a report section may be handed the dict a task just built)."""
    return result if isinstance(result, TaskResult) else parse_result(json.loads(json.dumps(result, default=str)), source)


def _load(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err}); restore it or run the task again") from None


def read_result(path: Path) -> TaskResult:
    """A result file of a run folder, validated."""
    return parse_result(_load(path), path)


def result_kind(path: Path) -> str | None:
    """The "kind" a JSON file in a run folder declares (None: not a result, or not readable), to
    pick the files a report section shows before reading them in full."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


def write_result(folder: Path, filename: str, result: TaskResult | dict[str, Any]) -> Path:
    """Write a result atomically (a crash never leaves half a file for the report to read),
    validated first: a task that builds a wrong result fails here, not in the report."""
    record = parse_result(result.model_dump(mode="json") if isinstance(result, TaskResult) else
                          json.loads(json.dumps(result, default=str)), Path(folder) / filename)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return write_atomic(Path(folder) / filename, record.model_dump_json(indent=1))


class TaskSummary(Record):
    """What a `tasks:` entry of `eval run` returns and `eval stats` shows (runs/eval-<id>/tasks/<name>.json):
    the task, where its full result is, the baseline, and the task's own headline figures (each
    task chooses them: comparisons, summaries per model, verdicts, ...)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    task_name: str
    schema_version: int = RESULTS_VERSION
    path: str | None = None  # the result file
    baseline: str | None = None


def parse_task_summary(data: Any, source: str | Path, *, task_name: str | None = None) -> TaskSummary:
    """A task's summary from its JSON form (old files have no task_name: the file's stem is it)."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a task summary (a JSON object is expected)")
    _check_version(data, source)
    data = {"task_name": task_name or Path(source).stem, **data}
    return validated(TaskSummary, data, source, "task summary",
                     "the file was edited or damaged: restore it or run `expertune eval run --resume` again")


def read_task_summary(path: Path) -> TaskSummary:
    return parse_task_summary(_load(path), path)


def write_task_summary(path: Path, summary: TaskSummary) -> Path:
    summary = summary.updated()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(Path(path), summary.model_dump_json(indent=2))
