"""Tables owned by the deployments service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
