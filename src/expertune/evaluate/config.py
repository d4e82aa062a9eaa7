"""The evaluation config (one YAML file, validated; `--set key=value` overrides).

    candidates: models to compare (local base, base + adapter, or an OpenAI-compatible endpoint)
    baseline:   the candidate every other one is compared with (default: the first)
    prompts:    prompt sets: a split of the store (val/test) or a registered eval set of prompts
    grid:       temperatures x max_new_tokens x seeds x samples
    judges:     local models, OpenAI-compatible endpoints, human experts (and, from Python only,
                scripted judges)
    rubric:     criteria scored 1-5, the neutral labels
    judge_reliability: when a judge counts as unreliable (and is left out of the pooled verdict)
    tasks:      extra evaluations registered by other modules (exams, classification, ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PlainValidator, field_validator, model_validator

from expertune.config import StrictModel, load_config
from expertune.evaluate import registry
from expertune.evaluate.endpoints import EndpointFields
from expertune.evaluate.rubric import Rubric


def _with_default_type(data: Any, default: str) -> Any:
    if isinstance(data, dict) and "type" not in data:
        return {**data, "type": default}
    return data


# auto: bf16 where the CPU computes it natively, else fp32 (emulated bf16 is several times slower);
# fp32 forces fp32. Resolved when a run is created; not fp32, it is part of the model id.
Precision = Literal["auto", "fp32", "bf16"]


class LocalCandidate(StrictModel):
    type: Literal["local"] = "local"
    name: str = Field(min_length=1, max_length=100)
    # Base model; default: the adapter's recorded base, else the workspace's base_model.
    model: str | None = None
    adapter: str | None = None  # registry reference: name, name@3, name@current
    adapter_path: str | None = None  # or an adapter folder
    batch_size: int = Field(32, ge=1, le=1024)
    precision: Precision | None = None  # default: the config's `precision`

    @model_validator(mode="after")
    def _one_adapter(self) -> "LocalCandidate":
        if self.adapter and self.adapter_path:
            raise ValueError("give either adapter (a registry name@version) or adapter_path (a folder), not both")
        return self


class RemoteCandidate(EndpointFields):
    type: Literal["openai"]
    name: str = Field(min_length=1, max_length=100)


Candidate = Annotated[Union[LocalCandidate, RemoteCandidate], Field(discriminator="type")]


class PromptSet(StrictModel):
    split: Literal["val", "test"] | None = None  # prompt groups of the store (training prompts never)
    evalset: str | None = None  # a registered eval set of kind "prompts"
    name: str | None = None  # display name (default: "split:test" or the eval set's name)
    # Default: the eval set's own flag; for a split, each group's topic flag (in-domain if none).
    in_domain: bool | None = None
    limit: int | None = Field(None, ge=1)  # the first N prompts (stable order), for quick runs

    @model_validator(mode="after")
    def _one_source(self) -> "PromptSet":
        if (self.split is None) == (self.evalset is None):
            raise ValueError("give exactly one of split (val|test) or evalset (a registered eval set name)")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.split == "val":
            from expertune.data.splits import CHECKPOINT_SELECTION

            return f"split:val ({CHECKPOINT_SELECTION})"
        return f"split:{self.split}" if self.split else str(self.evalset)


class Grid(StrictModel):
    temperatures: list[Annotated[float, Field(ge=0, le=2)]] = Field(default_factory=lambda: [0.7], min_length=1)
    max_new_tokens: list[Annotated[int, Field(ge=1, le=32768)]] = Field(default_factory=lambda: [256], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    samples: int = Field(1, ge=1, le=100)  # answers per prompt per seed
    top_p: float = Field(1.0, gt=0, le=1)

    @property
    def cells(self) -> list[tuple[float, int]]:
        return [(t, m) for t in self.temperatures for m in self.max_new_tokens]


def _judge_settings(value: Any) -> Any:
    """A `judges:` entry, validated by the settings model its kind registered with `@judge_kind`:
    a shipped kind's (evaluate/pairwise/judges.py), else that of a kind an installed plugin
    registers (`expertune.judges` entry points). The registry is the one list of judge kinds."""
    from expertune.evaluate.pairwise.judges import SHIPPED_JUDGE_KINDS

    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind not in SHIPPED_JUDGE_KINDS:
        registry.load_judge_plugins()
    entry = registry.JUDGE_KINDS.get(kind)
    if entry is None:
        raise ValueError(f"type {kind!r} is not a judge kind (installed: {', '.join(registry.JUDGE_KINDS)})")
    if isinstance(value, entry.config_model):
        return value
    return entry.config_model.model_validate(value)


# Validated by the judge kinds' own settings models, not by a union written down here.
Judge = Annotated[Any, PlainValidator(_judge_settings)]


class JudgeReliability(StrictModel):
    """When a judge is unreliable: it follows the answers' positions rather than their content.
    Unreliable judges are still reported, with the reason, but left out of the pooled verdict
    unless exclude_unreliable is false."""

    max_flip_rate: float = Field(0.3, ge=0, le=1)  # opposite decisive verdicts in the two orders
    alpha: float = Field(0.05, gt=0, lt=1)  # significance of the first-slot preference (binomial test)
    exclude_unreliable: bool = True


class EvalConfig(StrictModel):
    name: str | None = None
    candidates: list[Candidate] = Field(min_length=1)
    baseline: str | None = None
    prompts: list[PromptSet] = Field(default_factory=list)
    grid: Grid = Field(default_factory=Grid)
    judges: list[Judge] = Field(default_factory=list)
    rubric: Rubric = Field(default_factory=Rubric)
    judge_reliability: JudgeReliability = Field(default_factory=JudgeReliability)
    bootstrap: int = Field(2000, ge=100, le=100000)  # bootstrap replicates for intervals
    stats_seed: int = 0
    budget_usd: float | None = Field(None, ge=0)  # stop paid calls before exceeding this (run total)
    tasks: dict[str, Any] = Field(default_factory=dict)  # registered tasks (evaluate/tasks/): exams, classification, ...
    # Local candidates' precision unless one sets its own; a top-level key so `--set precision=fp32` reaches it.
    precision: Precision = "auto"

    @model_validator(mode="before")
    @classmethod
    def _default_types(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("candidates", "judges"):
                if isinstance(data.get(key), list):
                    data[key] = [_with_default_type(x, "local") for x in data[key]]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "EvalConfig":
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidates: names must be unique (got {names})")
        judge_names = [j.name for j in self.judges]
        if len(set(judge_names)) != len(judge_names):
            raise ValueError(f"judges: names must be unique (got {judge_names})")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a candidate name ({', '.join(names)})")
        if self.judges and len(self.candidates) < 2:
            raise ValueError("pairwise judging needs at least two candidates")
        if self.judges and not self.prompts:
            raise ValueError("judges need prompts: add a prompt set (split: test, or evalset: NAME)")
        return self

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: dict[str, Any]) -> dict[str, Any]:
        from expertune.evaluate.tasks import validate_tasks

        return validate_tasks(tasks)

    @property
    def baseline_name(self) -> str:
        return self.baseline or self.candidates[0].name

    def candidate(self, name: str):
        return next(c for c in self.candidates if c.name == name)


def load_eval_config(path: Path | None, overrides: list[str] | None = None) -> EvalConfig:
    return load_config(EvalConfig, path, overrides)
