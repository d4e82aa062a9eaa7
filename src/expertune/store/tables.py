"""The store's tables. Schema changes go through Alembic migrations (store/migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from expertune.store.base import Base, utcnow


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    in_domain: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)


class ImportBatch(Base):
    """One run of `expertune import` over one file."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportReject(Base):
    """An input record that was reported and not imported (kept so nothing is lost)."""

    __tablename__ = "import_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)


class PromptGroup(Base):
    """A prompt (system prompt, earlier turns, final user prompt) with all its responses."""

    __tablename__ = "prompt_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Hash of the whitespace-normalised (system, context, prompt): identity for dedup and splits.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    system: Mapped[str | None] = mapped_column(Text)
    context: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prompt: Mapped[str] = mapped_column(Text)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    split: Mapped[str | None] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="chat")  # chat | mcq
    mcq: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    topic: Mapped[Topic | None] = relationship()
    responses: Mapped[list["Response"]] = relationship(back_populates="group")


# A response's review status: only accepted answers are trained on; rejected ones still teach
# preference training (accepted over rejected in their group).
STATUSES = ("accepted", "draft", "rejected")


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("group_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("prompt_groups.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # content hash within the group
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="accepted", index=True)  # one of STATUSES
    rating: Mapped[int | None] = mapped_column(Integer)
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    author_kind: Mapped[str] = mapped_column(String(8), default="human")  # human | model
    author: Mapped[str | None] = mapped_column(String(200))
    gen_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    group: Mapped[PromptGroup] = relationship(back_populates="responses")


class Revision(Base):
    """Every edit of a response or a prompt group: before, after, who, when, why."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))  # response | group
    entity_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(32))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Provenance(Base):
    """Where a response came from: a file line in an import batch, or an authoring session."""

    __tablename__ = "provenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    source_path: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(Integer)


class DatasetVersion(Base):
    """An immutable snapshot of the exported dataset that training runs and evaluations cite."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)  # folder of the exported split files
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVersionItem(Base):
    """Membership of a dataset version: which response at which version, in which split."""

    __tablename__ = "dataset_version_items"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), primary_key=True)
    response_version: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[int] = mapped_column(Integer, index=True)
    split: Mapped[str] = mapped_column(String(8))


class Adapter(Base):
    """A trained adapter (or full model) with its lineage; one per name is current."""

    __tablename__ = "adapters"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(Text)
    base_sha256: Mapped[str | None] = mapped_column(String(64))
    dataset_hash: Mapped[str | None] = mapped_column(String(64))
    recipe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdapterEvent(Base):
    """History of promotions and rollbacks, so rollback knows what was current before."""

    __tablename__ = "adapter_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id"))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id"))
    action: Mapped[str] = mapped_column(String(16))  # register | promote | rollback
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalSet(Base):
    """A registered evaluation set (prompts, exam or labelled task) kept out of training."""

    __tablename__ = "eval_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # prompts | mcq | classify
    in_domain: Mapped[bool] = mapped_column(Boolean, default=True)
    source_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalSetItem(Base):
    __tablename__ = "eval_set_items"

    set_id: Mapped[int] = mapped_column(ForeignKey("eval_sets.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # the prompt / question / text to classify
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the whole record


class ScoreCache(Base):
    """Model scores of texts (e.g. mean log-probability), keyed by a hash of model and content."""

    __tablename__ = "score_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The other table modules, so that Base.metadata holds every table once this module is imported.
import expertune.store.author_models  # noqa: E402, F401
import expertune.store.eval_models  # noqa: E402, F401
import expertune.store.job_models  # noqa: E402, F401
