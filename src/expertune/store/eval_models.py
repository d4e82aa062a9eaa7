"""Evaluation tables: runs, their frozen prompt lists, and the generation / judgment caches.

Generations and judgments are caches keyed by content hashes (model identity, prompt, parameters,
seed; judge, rubric, prompt, both answers, order), not by run: a resumed or repeated run finds the
work already done and makes no new call for it. A run freezes its plan (prompts, resolved
candidates and judges) so its results can always be recomputed from the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from expertune.store.base import Base, utcnow


class EvalRun(Base):
    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="created")  # created|generated|judged|done
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the validated EvalConfig
    config_hash: Mapped[str] = mapped_column(String(64))
    # Frozen at creation: resolved candidates and judges (model ids, adapter hashes), dataset version.
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    folder: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalPrompt(Base):
    """A prompt of a run, frozen at creation so later store edits cannot change a past run."""

    __tablename__ = "eval_prompts"

    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_name: Mapped[str] = mapped_column(String(200))
    in_domain: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(Text)  # e.g. "split:test group 3f2a…" or "evalset:ood#4"
    topic: Mapped[str | None] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column(JSON)
    prompt_hash: Mapped[str] = mapped_column(String(64), index=True)


class EvalGeneration(Base):
    """One generated answer, keyed by (model identity, prompt, parameters, seed, sample)."""

    __tablename__ = "eval_generations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(Text)
    candidate: Mapped[str] = mapped_column(String(200))  # display name when it was generated
    prompt_hash: Mapped[str] = mapped_column(String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    sample: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    finish_reason: Mapped[str] = mapped_column(String(16))  # stop | length | error
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalJudgment(Base):
    """One judge's verdict on one ordered pair of answers. Failed rows are kept for the report
    but never used as a cached result: the next run retries them."""

    __tablename__ = "eval_judgments"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    judge: Mapped[str] = mapped_column(String(200))
    judge_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # ok | failed
    verdict: Mapped[str | None] = mapped_column(String(64))  # a neutral label or "tie"
    # label -> {"answer": sha256 of the answer, "candidate": name, "generation": key}: the winner
    # is resolved through the answer hash, so a cached judgment can never be read inverted.
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # label -> criterion -> score
    reason: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalCost(Base):
    """The cost ledger: one row per paid judgment or remote answer, its attempts summed (replies
    that could not be read were still billed, so they are included)."""

    __tablename__ = "eval_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # generate | judge
    actor: Mapped[str] = mapped_column(String(200))  # judge or candidate name
    model: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
