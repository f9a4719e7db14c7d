"""Tables owned by the deployments service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db import Base, tenant_column, utcnow

# --- artifacts -----------------------------------------------------------------------------------------


class Artifact(Base):
    """An uploaded (or generated) artifact; its file is the blob `storage_key`."""

    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(4096), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    device_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    info_format: Mapped[str] = mapped_column(String(32), nullable=False, default="mender")
    info_version: Mapped[int] = mapped_column(Integer, nullable=False)
    signed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # updates[] exactly as the API shows them: {type_info:{type}, files:[{name,checksum,size,date}], meta_data}
    updates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    provides: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    depends: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    clears_provides: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the whole file
    storage_key: Mapped[str] = mapped_column(String(255), nullable=False)
    created: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    modified: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_artifacts_tenant_id_name", "tenant_id", "name"),
        Index("ix_artifacts_tenant_id_created", "tenant_id", "created"),
    )


class ArtifactDependsKey(Base):
    """One combination of an artifact's depends (cartesian product of list values, keys sorted).

    Two artifacts with the same name conflict iff they share a combination; the unique constraint on
    (tenant_id, key_hash), where key_hash = sha256(name NUL combination), enforces it.
    """

    __tablename__ = "artifact_depends_keys"

    artifact_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    combination: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON, for error messages

    __table_args__ = (UniqueConstraint("tenant_id", "key_hash"),)


class ArtifactGeneration(Base):
    """A pending `POST /artifacts/generate`: the raw upload is the blob `raw_key` until the artifact is built."""

    __tablename__ = "artifact_generations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the id the artifact will get
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(4096), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    device_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    raw_key: Mapped[str] = mapped_column(String(255), nullable=False)
    raw_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    __table_args__ = (Index("ix_artifact_generations_tenant_id_name", "tenant_id", "name"),)


class DeploymentsTenant(Base):
    """Per-tenant settings of the deployments service (provisioned tenants, storage limit)."""

    __tablename__ = "deployments_tenants"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    storage_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: the default applies
    created: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


# --- deployments ---------------------------------------------------------------------------------------


def _tenant_id() -> Mapped[str]:
    """Not indexed on its own: each of these tables has composite indexes that start with it (or is only
    reached through its parent), and a lone index would cost every insert of the check-in path."""
    return mapped_column(String(64), nullable=False, default="")


class Deployment(Base):
    """A rollout of one release (artifact name) to a device list (static) or a saved filter (dynamic).

    `seq` orders deployments (creation order, strictly increasing across tenants): the next-update algorithm
    compares it instead of timestamps, which may tie. `stats` holds the per-status counters of its device
    deployments, kept in the same write transaction as every device-deployment change.
    """

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = _tenant_id()
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(4096), nullable=False)
    artifact_name: Mapped[str] = mapped_column(String(4096), nullable=False)
    created: Mapped[datetime] = mapped_column(nullable=False)
    finished: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending, inprogress, finished
    # The first phase's start (null: open at creation); the API shows `scheduled` while it is in the future.
    starts_at: Mapped[datetime | None] = mapped_column(nullable=True)
    device_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_devices: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # dynamic: 0 means no limit
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    dynamic: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    filter: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {id, name, terms} at creation
    initial_device_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    artifact_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False)  # frozen at creation
    stats: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False)
    # [{id, batch_size, start_ts (ISO 8601 or null), size (null: no limit), device_count}]; [] when not phased.
    # Kept on the row, so a device joining a phase is one update together with the counters.
    phases: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)

    __table_args__ = (
        Index("ix_deployments_tenant_id_seq", "tenant_id", "seq"),
        Index("ix_deployments_tenant_id_status_seq", "tenant_id", "status", "seq"),
    )


class DeploymentDevice(Base):
    """The device list of a static deployment, indexed for a device's check-in."""

    __tablename__ = "deployment_devices"

    deployment_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[str] = _tenant_id()
    deployment_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        Index("ix_deployment_devices_check_in", "tenant_id", "device_id", "deployment_seq"),
        Index("ix_deployment_devices_position", "deployment_id", "position"),
    )


class DeploymentArtifact(Base):
    """Which artifacts a deployment froze at creation (artifact edit/delete checks)."""

    __tablename__ = "deployment_artifacts"

    deployment_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    artifact_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = _tenant_id()

    __table_args__ = (Index("ix_deployment_artifacts_tenant_id_artifact_id", "tenant_id", "artifact_id"),)


class DeviceDeployment(Base):
    """A device's part in a deployment. `active` (pending, downloading, installing, rebooting) is stored so
    that a check-in finds the device's oldest active one and its latest finished one with one index."""

    __tablename__ = "device_deployments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = _tenant_id()
    deployment_id: Mapped[str] = mapped_column(String(36), ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False)
    device_id: Mapped[str] = mapped_column(String(255), nullable=False)
    deployment_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created: Mapped[datetime] = mapped_column(nullable=False)  # the deployment's creation time
    started: Mapped[datetime] = mapped_column(nullable=False)  # when the record was made
    finished: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    substate: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    artifact_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    phase: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_log: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (
        UniqueConstraint("deployment_id", "device_id"),
        Index("ix_device_deployments_check_in", "tenant_id", "device_id", "active", "deployment_seq"),
        Index("ix_device_deployments_listing", "deployment_id", "started"),
    )


class DeviceDeploymentLog(Base):
    """The last deployment log a device uploaded for its device deployment (each upload replaces it)."""

    __tablename__ = "device_deployment_logs"

    device_deployment_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("device_deployments.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = _tenant_id()
    messages: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)
