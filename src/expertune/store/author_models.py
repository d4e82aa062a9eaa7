"""Authoring tables: sessions, their turn trees (drafts are assistant turns), events, proposals.

A session is a tree of turns. Regenerating, directing or editing an earlier turn adds a sibling,
so nothing is overwritten; the session's `head_id` is where the conversation continues. An
assistant turn is a draft: it keeps the model, parameters and seed that wrote it, the directing
instructions and the passages (sources) it was written with, and its first text (`draft_text`);
an edit changes `text` and writes an AuthorEvent with the diff against the draft. Accepting a
draft links it to a Response in the prompt group of its branch (`response_id`).

Curation proposals (LLM rewrites, paraphrases, follow-up questions) wait here until the expert
accepts or rejects them; nothing is applied to the dataset without that decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from expertune.store.base import Base, utcnow


class AuthorSession(Base):
    __tablename__ = "author_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(200))
    system: Mapped[str | None] = mapped_column(Text)  # the persona / system prompt (training text)
    # The authoring backend: {"type": "local", "model": ...} or an OpenAI-compatible endpoint.
    backend: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # default generation parameters
    template: Mapped[str | None] = mapped_column(String(100))  # structure template guiding the model
    author: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32), default="studio")  # studio | chatgpt | claude | openwebui
    source_ref: Mapped[str | None] = mapped_column(Text)  # file and conversation id of an import
    head_id: Mapped[int | None] = mapped_column(Integer)  # the turn the conversation continues from
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthorTurn(Base):
    __tablename__ = "author_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("author_sessions.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("author_turns.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # system | user | assistant
    text: Mapped[str] = mapped_column(Text)  # current text (after edits)
    # typed | proposed | draft | regen | take | directed | edited | imported
    origin: Mapped[str] = mapped_column(String(16))
    # draft | accepted | rejected | cancelled (assistant turns); user/system turns stay "draft"
    status: Mapped[str] = mapped_column(String(16), default="draft")
    draft_text: Mapped[str | None] = mapped_column(Text)  # what the model wrote, never changed
    model: Mapped[str | None] = mapped_column(Text)  # backend identity (weights hash or endpoint)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # temperature, max tokens, top_p, seed
    seed: Mapped[int | None] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    instructions: Mapped[list[Any]] = mapped_column(JSON, default=list)  # directing, never training text
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)  # passages attached to the prompt
    template: Mapped[str | None] = mapped_column(String(100))
    based_on_id: Mapped[int | None] = mapped_column(Integer)  # the turn this one revises or re-edits
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"), index=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthorEvent(Base):
    """What the expert did to a turn: edit (with the diff against the draft), accept, unaccept,
    reject, cancel. The history of a session; never deleted."""

    __tablename__ = "author_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("author_sessions.id"), index=True)
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("author_turns.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    diff: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CurationProposal(Base):
    """An LLM suggestion for the dataset (rewrite, paraphrase, follow-up) awaiting the expert."""

    __tablename__ = "curation_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # rewrite | paraphrase | followup
    group_id: Mapped[int] = mapped_column(ForeignKey("prompt_groups.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was proposed (e.g. confidence rank)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)  # proposed|accepted|rejected
    decided_by: Mapped[str | None] = mapped_column(String(200))
    result_id: Mapped[int | None] = mapped_column(Integer)  # the response or group the acceptance wrote
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
