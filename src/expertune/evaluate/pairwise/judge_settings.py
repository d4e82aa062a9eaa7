"""The `judges:` settings of the shipped judge kinds, each validated by the model its kind registers
with `@judge_kind` (evaluate/pairwise/judges.py). The eval config (evaluate/config.py) has no list
of them: a `judges:` entry is validated by whichever kind the registry holds for its `type`, so a
kind of an installed plugin is a `judges:` type like these."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from expertune.config import StrictModel
from expertune.evaluate.endpoints import EndpointFields


class LocalJudge(StrictModel):
    type: Literal["local"] = "local"
    name: str = Field(min_length=1, max_length=100)
    model: str | None = None  # default: the workspace's base_model
    adapter: str | None = None
    adapter_path: str | None = None
    # Per-criterion scores cost one forward pass per criterion and answer; off by default.
    rubric_scores: bool = False
    tie_margin: float = Field(0.0, ge=0)  # |logp(A) - logp(B)| below this is a tie
    batch_size: int = Field(8, ge=1, le=256)


class OpenAIJudge(EndpointFields):
    type: Literal["openai"]
    name: str = Field(min_length=1, max_length=100)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(512, ge=16)
    # auto: json_schema, then json_object, then plain text, stepping down when the server refuses.
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    max_parse_attempts: int = Field(3, ge=1, le=10)  # re-prompts when the reply is not the JSON asked for


class ScriptedJudge(StrictModel):
    """A Python function registered in expertune.evaluate.pairwise.judges.SCRIPTS (tests, experiments)."""

    type: Literal["scripted"]
    name: str = Field(min_length=1, max_length=100)
    script: str
    concurrency: int = Field(1, ge=1)
    max_parse_attempts: int = Field(3, ge=1, le=10)


class HumanJudge(StrictModel):
    """A domain expert judging blind in `expertune eval human RUN --name NAME` (or the studio);
    LLM judging skips it. Its judgments are stored as those of `human:NAME`."""

    type: Literal["human"]
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")
