"""Background jobs (trainings, evaluations) started from the studio.

The job's state lives here, not in the web process: a worker process (`expertune.studio.worker`)
updates it, so closing the browser tab or restarting the studio shows every job as it is. A row
whose worker died without saying so is recognised by its `pid` and marked failed on the next read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from expertune.store.base import Base, utcnow


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # train | evaluate
    # queued | running | completed | failed | cancelled (a cancelled training can resume)
    status: Mapped[str] = mapped_column(String(16), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(200))
    run_ref: Mapped[str | None] = mapped_column(String(200))  # training run id / evaluation run id
    pid: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
