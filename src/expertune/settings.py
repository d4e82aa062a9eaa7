"""The workspace's settings: expertune.yaml, one validated model (workspace.py reads and writes it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from expertune.config import StrictModel


class SplitSettings(StrictModel):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    stratify: Literal["topic"] | None = None

    @field_validator("test")
    @classmethod
    def _fractions_leave_train(cls, test: float, info) -> float:
        if test + info.data.get("val", 0) >= 1:
            raise ValueError("val + test must be below 1 so some groups remain for training")
        return test


class Settings(StrictModel):
    name: str = "expertune"
    # Any SQLAlchemy URL; empty means SQLite in the workspace folder.
    store_url: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])
    base_model: str = "builtin:smollm2-135m-instruct"
    split: SplitSettings = Field(default_factory=SplitSettings)
    # Thresholds of the curation checks, validated by expertune.curate's own config model.
    checks: dict[str, Any] = Field(default_factory=dict)
