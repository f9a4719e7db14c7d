"""Tables owned by the useradm service.

Emails are unique across all tenants: login (Basic auth) and password reset carry no tenant, so the email
alone must name one account (the real multi-tenant Mender keeps a global user index for the same reason).
Every other query is scoped by `tenant_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db import Base, tenant_column, utcnow


class User(Base):
    __tablename__ = "useradm_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    # The user's settings document (GET/POST /settings) without the "2fa" key, which lives below.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # "" (never set), "enabled" or "disabled": the "2fa" value of the settings document.
    tfa_status: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The last TOTP time step accepted for this user: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class UserRole(Base):
    __tablename__ = "useradm_user_roles"
    __table_args__ = (Index("ix_useradm_user_roles_tenant_role", "tenant_id", "role_name"),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("useradm_users.id", ondelete="CASCADE"), primary_key=True
    )
    role_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class Role(Base):
    """A custom role; the built-in ones live in code (rbac.BUILTIN_ROLES)."""

    __tablename__ = "useradm_roles"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    permissions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class Token(Base):
    """An issued user JWT (by its jti): deleting the row revokes the token."""

    __tablename__ = "useradm_tokens"
    __table_args__ = (Index("ix_useradm_tokens_tenant_user", "tenant_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("useradm_users.id", ondelete="CASCADE"), nullable=False
    )
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)


class PasswordReset(Base):
    """A pending password reset; only the SHA-256 of the mailed secret is stored."""

    __tablename__ = "useradm_password_resets"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("useradm_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(nullable=False)


class Tenant(Base):
    """Tenants useradm was told about (internal POST /tenants or the TenantCreated event)."""

    __tablename__ = "useradm_tenants"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
