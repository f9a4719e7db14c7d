"""Tables owned by the devauth service: devices, their auth sets, issued tokens and device limits.

A device's `status` is derived from its auth sets (see `service.derive_status`) and stored so that
listing and counting by status use an index. Auth sets and token rows go with their device (and a token
row with its auth set: the token id, `jti`, IS the auth set id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db import Base, utcnow

ID_LENGTH = 64


def tenant_column() -> Mapped[str]:
    """Like `menderlite.db.tenant_column`, without its own index: every index here starts with tenant_id."""
    return mapped_column(String(64), nullable=False, default="")


class Device(Base):
    __tablename__ = "devauth_devices"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    # The identity as normalised JSON text (sorted keys, compact); its SHA-256 identifies the device.
    id_data: Mapped[str] = mapped_column(Text, nullable=False)
    id_data_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    decommissioning: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "id_data_sha256", name="uq_devauth_devices_identity"),
        Index("ix_devauth_devices_age", "tenant_id", "created_ts", "id"),
        Index("ix_devauth_devices_status_age", "tenant_id", "status", "created_ts", "id"),
    )


class AuthSet(Base):
    __tablename__ = "devauth_auth_sets"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    device_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("devauth_devices.id", ondelete="CASCADE"), nullable=False
    )
    id_data: Mapped[str] = mapped_column(Text, nullable=False)
    id_data_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    pubkey: Mapped[str] = mapped_column(Text, nullable=False)  # canonical PKIX PEM
    pubkey_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "id_data_sha256", "pubkey_sha256", name="uq_devauth_auth_sets_identity_key"),
        Index("ix_devauth_auth_sets_device", "tenant_id", "device_id"),
    )


class Token(Base):
    """An issued device token, by `jti` (= auth set id); deleting the row revokes every token of the set."""

    __tablename__ = "devauth_tokens"

    id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("devauth_auth_sets.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = tenant_column()
    device_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (Index("ix_devauth_tokens_device", "tenant_id", "device_id"),)


class Limit(Base):
    """A per-tenant limit set through the internal API (today only `max_devices`)."""

    __tablename__ = "devauth_limits"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
