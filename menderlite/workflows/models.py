"""Tables owned by the workflows service: workflow definitions (every registered version) and jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db.base import Base

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
JOB_STATUSES = (PENDING, PROCESSING, DONE, FAILED)


class WorkflowDefinition(Base):
    """One version of a definition; the highest version of a name is the one jobs start with."""

    __tablename__ = "workflow_definitions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created: Mapped[datetime] = mapped_column(nullable=False)


class WorkflowJob(Base):
    """A started workflow: its inputs, where it is, and one result per task run so far."""

    __tablename__ = "workflow_jobs"
    __table_args__ = (
        # The runner's queue: the oldest pending jobs first; start-up finds jobs left processing.
        Index("ix_workflow_jobs_queue", "status", "insert_time", "id"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    workflow_name: Mapped[str] = mapped_column(String(256), nullable=False)
    workflow_version: Mapped[int] = mapped_column(Integer, nullable=False)
    input_parameters: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    insert_time: Mapped[datetime] = mapped_column(nullable=False)
