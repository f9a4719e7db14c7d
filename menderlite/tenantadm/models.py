"""Tables owned by the tenantadm service.

The tenants table is keyed by `tenant_id` (a 24-hex ObjectId-like id), the same column name every other
table uses for the tenant it belongs to. The admin's email is not kept here: useradm owns users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db import Base, utcnow


class Tenant(Base):
    __tablename__ = "tenantadm_tenants"
    __table_args__ = (
        Index("ix_tenantadm_tenants_created", "created_ts", "tenant_id"),  # list order (paging)
        Index("ix_tenantadm_tenants_status", "status"),  # the non-active tenants, polled by the server
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active, suspended, inactive
    plan: Mapped[str] = mapped_column(String(16), nullable=False)  # os, professional, enterprise
    api_limits: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    trial: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    trial_expiration: Mapped[datetime | None] = mapped_column(nullable=True)
    # The user created with the tenant (its admin); `q` in the tenant list matches their email.
    admin_user_id: Mapped[str] = mapped_column(String(36), nullable=False, default="")
    # The current tenant token and its `jti`: only the current token admits devices.
    tenant_token: Mapped[str] = mapped_column(Text, nullable=False)
    token_id: Mapped[str] = mapped_column(String(36), nullable=False)
    # Stand-in for the Stripe client secret (payments are not implemented: see service.py).
    checkout_secret: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancelled_ts: Mapped[datetime | None] = mapped_column(nullable=True)
    created_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_ts: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
