"""Typed records that modules hand each other and write to disk: a training run (runs/<id>/run.json),
the lineage it carries (base model, dataset version, device plan, starting adapter, adapter), the
adapter registry's rows and the marker file in every registered adapter folder.

Like inspect_ai's `EvalLog`, a record is a pydantic model, validated when it is built (so a writer
cannot store a misspelt or missing field) and when it is read (so a damaged or foreign run.json
fails with the file and field named, not with a KeyError three modules later). Callers use
attributes; only writers and `--json` output turn a record back into JSON.

Why a top-level module and not train/records.py: the run record is written by train/, but read by
the adapter registry (store/), by llm/ (an adapter's system-prompt policy), by the studio and the
CLI, and evaluation's lineage refers to it too. A leaf module that imports only pydantic and the
recipe models keeps all of them free of import cycles (store/ must not import train/'s machinery).

Compatibility: run.json files written before these models existed (no `schema_version`, no `kind`,
no `device.parameters`) read as version 1 with the missing fields at their defaults. A file from
a newer expertune (a higher `schema_version`) is refused with a message saying so. `extra="forbid"`
everywhere: every writer of these records is ours, so an unknown key is a bug or a damaged file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from expertune.atomic import write_atomic
from expertune.errors import InputError, NotFound
from expertune.train.recipe import DpoRecipe, Recipe

SCHEMA_VERSION = 1  # of run.json; raise it (and read the older shape) when a field changes meaning
RUN_FILE = "run.json"

RunStatus = Literal["prepared", "running", "interrupted", "trained", "completed"]


class Record(BaseModel):
    """Base of every record: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def updated(self, **changes: Any) -> Self:
        """A validated copy with `changes` (pydantic's model_copy(update=...) does not validate)."""
        return type(self).model_validate({**self.model_dump(), **changes})


class SystemPromptPolicy(Record):
    """The recipe's system-prompt policy as recorded (llm.render.SystemPolicy is the behaviour)."""

    mode: Literal["as-data", "drop", "override"] = "as-data"
    text: str | None = None


class BaseModelRef(Record):
    """The base model a run trained on (models.resolve.ResolvedModel)."""

    name: str  # as the user wrote it
    kind: str  # builtin | folder | gguf | hub
    path: str
    sha256: str | None = None
    chat_template_source: str


class DatasetRef(Record):
    """The dataset version a run trained on (data.versions)."""

    id: int
    hash: str
    name: str | None = None
    counts: dict[str, Any] = Field(default_factory=dict)


class DevicePlan(Record):
    """Device, precision and checkpointing chosen for a run (train.device.plan_device)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str  # cpu | cuda | mps
    precision: str  # fp32 | bf16 | fp16
    gradient_checkpointing: bool
    reason: str
    cpu_count: int
    gpu_name: str | None = None
    parameters: int | None = None  # of the base model (absent in runs planned before it decided checkpointing)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class Hardware(Record):
    cpu: str | None = None
    cores: int | None = None
    ram_gib: float | None = None
    platform: str | None = None
    gpus: list[str] = Field(default_factory=list)


class AdapterRef(Record):
    """The adapter a completed run registered."""

    name: str
    version: int
    ref: str  # name@version
    path: str


class AdapterInfo(Record):
    """An adapter as loaded (llm.adapters.read_adapter / registered_adapter): its folder, weights
    hash and lineage. Evaluation freezes it into a run's plan, DPO records where it started from."""

    path: str
    kind: str  # lora | full
    sha256: str  # of the weights: the cache identity of everything generated with it
    name: str | None = None
    version: int | None = None
    base_model: str | None = None
    base_sha256: str | None = None
    run_id: str | None = None
    dataset_hash: str | None = None
    chat_template_source: str | None = None
    registry_id: int | None = None
    recipe: dict[str, Any] = Field(default_factory=dict)
    system_prompt_policy: SystemPromptPolicy | None = None  # None: as-data

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.name else Path(self.path).name


class TrainingRun(Record):
    """What every training run records, SFT or DPO: the lineage first, then the outcome."""

    schema_version: int = SCHEMA_VERSION
    id: str
    status: RunStatus
    created_at: float
    system_prompt_policy: SystemPromptPolicy | None = None  # None only in runs from before it was recorded
    base_model: BaseModelRef
    dataset_version: DatasetRef
    device: DevicePlan
    libraries: dict[str, str] = Field(default_factory=dict)
    hardware: Hardware = Field(default_factory=Hardware)
    git_commit: str | None = None
    gate: dict[str, Any] = Field(default_factory=dict)  # curate.gate.GateReport.as_dict: curate's own report
    command: list[str] = Field(default_factory=list)

    # The outcome (absent until training ends).
    steps: int | None = None
    best_step: int | None = None
    train_loss: float | None = None
    best_eval_loss: float | None = None  # SFT's validation loss (DPO: none)
    trained_tokens: int | None = None  # SFT's (DPO: none)
    tokens_per_second: float | None = None
    wall_seconds: float | None = None
    log_history: list[dict[str, Any]] = Field(default_factory=list)  # TRL's, as logged
    adapter: AdapterRef | None = None  # set when the adapter is registered (status completed)

    @property
    def policy(self) -> SystemPromptPolicy:
        """The system-prompt policy the run trained with (old runs: their recipe's)."""
        return self.system_prompt_policy or SystemPromptPolicy(mode=self.recipe.system_prompt,
                                                               text=self.recipe.system_prompt_text)


class TokenAudit(Record):
    """train.audit.AuditReport without its samples: what SFT was checked to train."""

    template_source: str
    eos_token: str
    max_length: int
    examples: dict[str, int] = Field(default_factory=dict)
    trained_tokens: dict[str, int] = Field(default_factory=dict)
    token_lengths: dict[str, dict[str, int | float]] = Field(default_factory=dict)
    no_trained_token: list[dict[str, Any]] = Field(default_factory=list)
    truncated: list[dict[str, Any]] = Field(default_factory=list)
    eos_not_trained: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


class SftRun(TrainingRun):
    """A supervised fine-tuning run (train/run.py, train/worker.py)."""

    kind: Literal["sft"] = "sft"
    recipe: Recipe
    examples: dict[str, int] = Field(default_factory=dict)  # per split
    num_processes: int | None = None
    threads_per_process: int | None = None
    audit: TokenAudit

    max_steps: int | None = None
    best_checkpoint: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    resumed_from: str | None = None
    wall_seconds_before_resume: float = 0.0


class PairCounts(Record):
    train: int
    held_out: int
    sources: dict[str, int] = Field(default_factory=dict)


class PairAudit(Record):
    """Every DPO completion ends with EOS and fits max_length (train.dpo.audit_pairs)."""

    pairs: int
    completions_without_eos: int
    truncated_pairs: int
    max_length: int


class MarginSummary(Record):
    """Held-out preference margin before and after DPO (train.dpo.margin_summary)."""

    pairs: int
    groups: int
    before: float | None = None
    after: float | None = None
    change: float | None = None
    change_ci: tuple[float, float] | None = None
    ci_method: str
    improved_pairs: int


class DpoRun(TrainingRun):
    """A preference-training run continuing an SFT adapter (train/dpo.py)."""

    kind: Literal["dpo"]
    recipe: DpoRecipe
    from_adapter: AdapterInfo
    pairs: PairCounts
    audit: PairAudit
    margins: MarginSummary | None = None


class AdapterMetrics(Record):
    """The training outcome the adapter registry keeps with each adapter (store/adapters.py)."""

    best_step: int | None = None
    best_eval_loss: float | None = None
    train_loss: float | None = None
    steps: int | None = None
    trained_tokens: int | None = None
    tokens_per_second: float | None = None
    wall_seconds: float | None = None

    @classmethod
    def of_run(cls, run: TrainingRun) -> "AdapterMetrics":
        """What the run measured (a DPO run has no validation loss or token count: None)."""
        return cls.model_validate({k: getattr(run, k) for k in cls.model_fields})


class RunLineage(Record):
    """What the adapter registry (store/adapters.py) and the adapter's marker keep of the run that
    trained it: the registry needs this much of a run, not its whole record."""

    run_id: str
    adapter_name: str
    method: str
    recipe: dict[str, Any]  # the recipe as the run recorded it
    base_model: str
    base_sha256: str | None = None
    chat_template_source: str | None = None
    dataset_hash: str
    system_prompt_policy: SystemPromptPolicy
    metrics: AdapterMetrics

    @classmethod
    def of_run(cls, run: TrainingRun) -> "RunLineage":
        return cls(run_id=run.id, adapter_name=run.recipe.adapter_name, method=run.recipe.method,
                   recipe=run.recipe.model_dump(mode="json"), base_model=run.base_model.name,
                   base_sha256=run.base_model.sha256, chat_template_source=run.base_model.chat_template_source,
                   dataset_hash=run.dataset_version.hash, system_prompt_policy=run.policy,
                   metrics=AdapterMetrics.of_run(run))


class AdapterRow(Record):
    """One adapter of the registry (store/adapters.py) with its lineage: the folder, the run that
    trained it, its base model and dataset version, its recipe and metrics, and whether it is the
    current version of its name."""

    id: int
    name: str
    version: int
    ref: str  # name@version
    path: str
    kind: str  # the recipe's method when it has one (lora, qlora, full), else lora
    run_id: str | None = None
    base_model: str
    base_sha256: str | None = None
    dataset_hash: str | None = None
    metrics: AdapterMetrics | None = None
    is_current: bool
    created_at: str  # ISO 8601, as `adapters list --json` has always shown it
    recipe: dict[str, Any] | None = None  # as the run recorded it (the recipe model validated it then)


class AdapterMarker(Record):
    """The lineage file in an adapter folder (llm.adapters.ADAPTER_MARKER), written when a run
    registers it. Every field may be missing: folders from before a field was recorded, and
    adapters trained elsewhere (no marker at all), are still read."""

    schema_version: int = SCHEMA_VERSION
    name: str | None = None
    version: int | None = None
    kind: Literal["lora", "full"] | None = None
    base_model: str | None = None
    base_sha256: str | None = None
    run_id: str | None = None
    dataset_hash: str | None = None
    chat_template_source: str | None = None
    system_prompt_policy: SystemPromptPolicy | None = None  # evaluation and serving render as training did


def _kind(value: Any) -> str:
    """SFT runs recorded before DPO existed carry no `kind`."""
    return (value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)) or "sft"


AnyRun = Annotated[Union[Annotated[SftRun, Tag("sft")], Annotated[DpoRun, Tag("dpo")]], Discriminator(_kind)]
_ANY_RUN: TypeAdapter[SftRun | DpoRun] = TypeAdapter(AnyRun)


def describe_validation(err: ValidationError, limit: int = 3, *, skip: int = 0) -> str:
    """`field.path: message` for the first few errors of a validation failure (`skip` leading path
    parts: a union's tag is not a field of the file)."""
    parts = []
    for e in err.errors()[:limit]:
        where = ".".join(str(p) for p in e["loc"][skip:]) or "(top level)"
        parts.append(f"{where}: {e['msg']}")
    more = len(err.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validated(model: Any, data: Any, source: str | Path, what: str, fix: str, *, skip: int = 0,
              error: type[Exception] = InputError) -> Any:
    """`data` validated by `model` (a pydantic model or TypeAdapter), or `error` naming the source,
    the first fields at fault and the fix: the one way a stored record's damage is reported."""
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
    except ValidationError as err:
        raise error(f"{source}: not a valid {what} ({describe_validation(err, skip=skip)}); {fix}") from None


def parse_run(data: Any, source: str | Path) -> SftRun | DpoRun:
    """A run record from its JSON form; `source` names the file in errors."""
    if isinstance(data, dict) and isinstance(data.get("schema_version"), int) and data["schema_version"] > SCHEMA_VERSION:
        raise InputError(f"{source}: schema_version {data['schema_version']} was written by a newer expertune "
                         f"(this one reads up to {SCHEMA_VERSION}); upgrade expertune to read this run")
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a run record (a JSON object is expected); restore it or remove the run folder")
    if _kind(data) not in ("sft", "dpo"):
        raise InputError(f"{source}: kind {data['kind']!r} is not a kind of run (sft or dpo); restore it or remove "
                         "the run folder")
    return validated(_ANY_RUN, data, source, "run record",
                     "the file was edited or damaged: restore it or remove the run folder", skip=1)


def read_run(run_dir: Path) -> SftRun | DpoRun:
    """runs/<id>/run.json, validated; a clear InputError (exit 2) naming the file and field if not."""
    path = Path(run_dir) / RUN_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no run record here") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err}); restore it or remove the run folder") from None
    return parse_run(data, path)


def write_run(run_dir: Path, record: SftRun | DpoRun) -> Path:
    """Write the run record atomically (validated again first: a field set by hand may be wrong)."""
    record = record.updated()
    return write_atomic(Path(run_dir) / RUN_FILE, record.model_dump_json(indent=2))
