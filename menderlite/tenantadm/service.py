"""The tenantadm service layer: tenant accounts, tenant tokens, suspension; no aiohttp here.

A tenant is provisioned in every service through their service methods, gets an admin user in useradm and
a device limit in devauth by plan. Devices join a tenant with its tenant token (an RS256 JWT signed with the
server key, `sub` = `mender.tenant` = the tenant id); devices without one join the default tenant ("").

Suspending a tenant revokes every user and device token of it (useradm and devauth service methods); login
and new device auth requests are refused while it lasts. A suspension made by another process (the
`menderlite tenant suspend` command) is noticed by the server's poll of non-active tenants
(`sync_suspensions`), which drops the in-memory token caches.

Payments (Stripe) and reCAPTCHA are not implemented: the reCAPTCHA field and the card token are accepted and
ignored, the "Stripe client secret" is a random per-tenant stand-in, and nothing is ever sent anywhere.

Other services use: `plan_of`, `account_of` (useradm login), `tenant_of_auth_request` (devauth).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import bcrypt
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import new_id, new_object_id, utcnow
from menderlite.events import TenantCreated
from menderlite.tenantadm import inputs
from menderlite.tenantadm.inputs import ACTIVE, INACTIVE, SUSPENDED
from menderlite.tenantadm.models import Tenant
from menderlite.timeutil import rfc3339
from menderlite.tokens import TokenError
from menderlite.useradm.fields import email_field
from menderlite.useradm.passwords import validate_password
from menderlite.web.errors import ApiError
from menderlite.web.guards import Identity

if TYPE_CHECKING:
    from menderlite.context import Context

log = logging.getLogger("menderlite.tenantadm")

# Accepted-device limits seeded by plan (SEMANTICS.md §6); 0 is no limit.
PLAN_DEVICE_LIMITS = {"os": 50, "professional": 250, "enterprise": 0}
ADMIN_ROLE = "RBAC_ROLE_PERMIT_ALL"
MAX_DEVICES = "max_devices"
MAX_Q_USERS = 1000  # admin users whose email matches `q` that the tenant search considers

_USER_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
TENANT_NOT_FOUND = "tenant not found"
TOKEN_INVALID = "tenant_token is invalid"
ACCOUNT_SUSPENDED = "Account suspended"
ACCOUNT_INACTIVE = "Account inactive"
NO_TENANT = "user is not a part of any tenant organization"
EMAIL_TAKEN = "user with a given email already exists"


@dataclass(frozen=True)
class Account:
    """What login and token issuing need to know about a tenant."""

    status: str
    plan: str


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    status: str
    plan: str
    tenant_token: str
    api_limits: dict[str, Any]
    trial: bool
    trial_expiration: datetime | None
    created_ts: datetime

    @classmethod
    def of(cls, row: Tenant) -> TenantInfo:
        return cls(
            row.tenant_id, row.name, row.status, row.plan, row.tenant_token, dict(row.api_limits or {}),
            row.trial, row.trial_expiration, row.created_ts,
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "tenant_token": self.tenant_token,
            "status": self.status,
            "plan": self.plan,
            "trial": self.trial,
            "api_limits": self.api_limits,
            "created_at": rfc3339(self.created_ts),
        }
        if self.trial_expiration is not None:
            document["trial_expiration"] = rfc3339(self.trial_expiration)
        return document


@dataclass(frozen=True)
class NewAccount:
    """A validated sign-up: organization, admin email and password, plan."""

    name: str
    email: str
    password: str
    plan: str


class TenantadmService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.tenantadm
        # Suspended tenants this process has cut off (its token caches are clean for them).
        self._cut_off: set[str] | None = None

    # --- what other services ask ------------------------------------------------------------------------

    async def plan_of(self, tenant_id: str) -> str:
        """The plan of a tenant; the default tenant's (and that of tenants unknown here) comes from settings."""
        return (await self.account_of(tenant_id)).plan

    async def account_of(self, tenant_id: str) -> Account:
        """Status and plan. The default tenant, and tenants provisioned in the services without a tenant
        account (internal APIs, `menderlite user create --tenant-id`), are active with the default plan."""
        if tenant_id:
            async with self.ctx.db.read() as session:
                row = (
                    await session.execute(select(Tenant.status, Tenant.plan).where(Tenant.tenant_id == tenant_id))
                ).first()
            if row is not None:
                return Account(row.status, row.plan)
        return Account(ACTIVE, self.settings.default_plan)

    async def tenant_of_auth_request(self, tenant_token: str) -> str:
        """The tenant a device asks to join: "" without a tenant token, else the token's (401 if refused)."""
        if not tenant_token:
            return ""
        return (await self.verify_tenant_token(tenant_token)).id

    # --- tenant tokens ---------------------------------------------------------------------------------

    def _issue_tenant_token(self, tenant_id: str) -> tuple[str, str]:
        now = int(time.time())
        token_id = new_id()
        claims = {
            "jti": token_id,
            "sub": tenant_id,
            "mender.tenant": tenant_id,
            "iss": self.ctx.settings.devauth.jwt_issuer,
            "iat": now,
            "exp": now + self.settings.tenant_token_expiration_seconds,
        }
        return self.ctx.keys.issue_jwt(claims), token_id

    async def verify_tenant_token(self, token: str | None) -> TenantInfo:
        """The tenant of a valid current tenant token of an active tenant, else 401 with the reason."""
        if not token:
            raise ApiError(401, TOKEN_INVALID)
        try:
            claims = self.ctx.keys.verify_jwt(token, issuer=self.ctx.settings.devauth.jwt_issuer)
        except TokenError:  # bad signature, foreign key, expired, malformed
            raise ApiError(401, TOKEN_INVALID) from None
        tenant_id = claims.get("mender.tenant")
        if (
            not isinstance(tenant_id, str)
            or not tenant_id
            or claims.get("sub") != tenant_id
            or "mender.device" in claims
            or "mender.user" in claims
        ):
            raise ApiError(401, TOKEN_INVALID)
        async with self.ctx.db.read() as session:
            row = await session.get(Tenant, tenant_id)
        if row is None or row.token_id != claims.get("jti"):  # unknown tenant, or a replaced token
            raise ApiError(401, TOKEN_INVALID)
        if row.status == SUSPENDED:
            raise ApiError(401, ACCOUNT_SUSPENDED)
        if row.status != ACTIVE:
            raise ApiError(401, ACCOUNT_INACTIVE)
        return TenantInfo.of(row)

    # --- creating accounts -----------------------------------------------------------------------------

    async def authorize_account_creation(self, token: str | None, method: str, path: str) -> None:
        """Anyone when sign-up is on; else users of the default tenant whose roles allow the request."""
        if self.settings.signup:
            return
        if token is None:
            raise ApiError(403, "tenant sign-up is disabled: ask an administrator of this server")
        identity = await self.ctx.useradm.verify_request(token, method, path)
        if identity.tenant_id:
            raise ApiError(403, "forbidden")

    @staticmethod
    def parse_new_account(document: Mapping[str, Any], *, default_plan: str = inputs.DEFAULT_PLAN) -> NewAccount:
        """The fields of a sign-up form (`organization`, `email`, `password`, `plan`); 400 when malformed."""
        name = inputs.organization_name(document.get("organization"))
        email = email_field(document)
        try:
            password = validate_password(document.get("password"))
        except ApiError as exc:  # useradm's 422 "password too short": a malformed request here
            raise ApiError(400, exc.message) from None
        return NewAccount(name, email, password, inputs.plan(document.get("plan"), default=default_plan))

    async def create_tenant(
        self, account: NewAccount, *, status: str = ACTIVE, trial: bool = False
    ) -> TenantInfo:
        """Create the tenant, provision it in every service, create its admin user, set its device limit.

        409 when the admin email is taken (emails are unique across tenants: they name the login)."""
        if await self.ctx.useradm.find_users(email=account.email, limit=1):
            raise ApiError(409, EMAIL_TAKEN)
        tenant_id = new_object_id()
        token, token_id = await asyncio.to_thread(self._issue_tenant_token, tenant_id)
        now = utcnow()
        async with self.ctx.db.write() as session:
            session.add(
                Tenant(
                    tenant_id=tenant_id, name=account.name, status=status, plan=account.plan,
                    api_limits=inputs.default_api_limits(), trial=trial, admin_user_id="",
                    tenant_token=token, token_id=token_id, checkout_secret="", created_ts=now, updated_ts=now,
                )
            )
            # Subscribers provision the tenant in this very transaction.
            await self.ctx.events.publish(TenantCreated(tenant_id, name=account.name, plan=account.plan), session)
        try:
            await self._provision(tenant_id, account.plan)
            user = await self.ctx.useradm.create_user(tenant_id, account.email, account.password, roles=[ADMIN_ROLE])
        except BaseException as exc:
            await self._remove_row(tenant_id)
            if isinstance(exc, ApiError) and exc.status == 422 and exc.message == EMAIL_TAKEN:
                raise ApiError(409, EMAIL_TAKEN) from None  # taken meanwhile
            raise
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            row.admin_user_id = user.id
        log.info("created tenant %s (%s, plan %s, %s)", tenant_id, account.name, account.plan, status)
        return TenantInfo.of(row)

    async def _provision(self, tenant_id: str, plan: str) -> None:
        """What each service's internal `POST /tenants` does, through their service layers (idempotent)."""
        await self.ctx.useradm.create_tenant(tenant_id)
        await self.ctx.devauth.provision_tenant(tenant_id)
        await self.ctx.inventory.provision_tenant(tenant_id)
        await self.ctx.deployments.artifacts.provision_tenant(tenant_id)
        await self.ctx.devauth.set_limit(tenant_id, MAX_DEVICES, PLAN_DEVICE_LIMITS[plan])

    async def _remove_row(self, tenant_id: str) -> None:
        async with self.ctx.db.write() as session:
            await session.execute(delete(Tenant).where(Tenant.tenant_id == tenant_id))

    # --- reading ---------------------------------------------------------------------------------------

    @staticmethod
    async def _row(session: AsyncSession, tenant_id: str) -> Tenant:
        row = await session.get(Tenant, tenant_id) if tenant_id else None
        if row is None:
            raise ApiError(404, TENANT_NOT_FOUND)
        return row

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        async with self.ctx.db.read() as session:
            return TenantInfo.of(await self._row(session, tenant_id))

    async def tenant_of_user(self, identity: Identity) -> TenantInfo:
        """`GET /user/tenant`: the caller's tenant; 404 for users of the default tenant (they have none)."""
        if not identity.tenant_id:
            raise ApiError(404, NO_TENANT)
        async with self.ctx.db.read() as session:
            row = await session.get(Tenant, identity.tenant_id)
        if row is None:
            raise ApiError(404, NO_TENANT)
        return TenantInfo.of(row)

    async def list_tenants(
        self, *, q: str | None = None, username: str | None = None, offset: int = 0, limit: int = 20
    ) -> tuple[list[TenantInfo], bool]:
        """A page of tenants, oldest first; `username`: the tenant of that user; `q`: the id, or a part of
        the name or of the admin's email. The flag tells whether another page follows."""
        statement = select(Tenant)
        if username:
            users = await self.ctx.useradm.find_users(email=username, limit=1)
            if not users or not users[0].tenant_id:
                return [], False
            statement = statement.where(Tenant.tenant_id == users[0].tenant_id)
        if q:
            admins = await self.ctx.useradm.find_users(email_contains=q, limit=MAX_Q_USERS)
            statement = statement.where(
                or_(
                    Tenant.tenant_id == q,
                    Tenant.name.contains(q, autoescape=True),
                    Tenant.admin_user_id.in_([user.id for user in admins if user.tenant_id]),
                )
            )
        statement = statement.order_by(Tenant.created_ts, Tenant.tenant_id).offset(offset).limit(limit + 1)
        async with self.ctx.db.read() as session:
            rows = list((await session.scalars(statement)).all())
        return [TenantInfo.of(row) for row in rows[:limit]], len(rows) > limit

    # --- changing --------------------------------------------------------------------------------------

    async def update_tenant(self, tenant_id: str, document: Mapping[str, Any]) -> None:
        """Internal `PUT /tenants/{id}`: name, plan (which also sets the device limit), api_limits, trial,
        trial_expiration."""
        name = inputs.organization_name(document["name"], "name") if document.get("name") is not None else None
        plan = inputs.plan(document.get("plan"), default="") or None
        limits = inputs.api_limits(document["api_limits"]) if document.get("api_limits") is not None else None
        trial = inputs.optional_bool(document, "trial")
        trial_expiration = inputs.optional_time(document, "trial_expiration")
        if name is None and plan is None and limits is None and trial is None and "trial_expiration" not in document:
            raise ApiError(400, "no update information provided")
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            if name is not None:
                row.name = name
            if plan is not None:
                row.plan = plan
            if limits is not None:
                row.api_limits = limits
            if trial is not None:
                row.trial = trial
            if "trial_expiration" in document:
                row.trial_expiration = trial_expiration
            row.updated_ts = utcnow()
        if plan is not None:
            await self.ctx.devauth.set_limit(tenant_id, MAX_DEVICES, PLAN_DEVICE_LIMITS[plan])

    async def set_status(self, tenant_id: str, status: Any) -> None:
        """Internal `PUT /tenants/{id}/status`: `active` or `suspended`; suspending revokes every user and
        device token of the tenant at once."""
        status = inputs.status(status, (ACTIVE, SUSPENDED))
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            row.status = status
            row.updated_ts = utcnow()
        if status == SUSPENDED:
            await self._cut_off_tenant(tenant_id)
        else:
            self._known_cut_off().discard(tenant_id)
        log.info("tenant %s is %s", tenant_id, status)

    async def activate(self, tenant_id: str, status: Any) -> None:
        """Management v2 `PUT /tenants/{id}/status`: only `active`; a suspended tenant stays suspended (409)."""
        inputs.status(status, (ACTIVE,))
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            if row.status == SUSPENDED:
                raise ApiError(409, "tenant is suspended")
            row.status = ACTIVE
            row.updated_ts = utcnow()
        log.info("tenant %s is active", tenant_id)

    async def _cut_off_tenant(self, tenant_id: str) -> None:
        await self.ctx.useradm.revoke_tokens(tenant_id)
        await self.ctx.devauth.delete_tokens(tenant_id)
        self._known_cut_off().add(tenant_id)

    async def delete_inactive(self, tenant_id: str) -> None:
        """Remove a tenant that was never activated, with its users; 405 for any other tenant."""
        async with self.ctx.db.read() as session:
            row = await self._row(session, tenant_id)
        if row.status != INACTIVE:
            raise ApiError(405, "only inactive tenants can be removed")
        for user in await self.ctx.useradm.list_users(tenant_id):
            await self.ctx.useradm.delete_user(tenant_id, user.id)
        async with self.ctx.db.write() as session:
            await session.execute(delete(Tenant).where(Tenant.tenant_id == tenant_id, Tenant.status == INACTIVE))
        log.info("removed inactive tenant %s", tenant_id)

    async def cancel(self, tenant_id: str, document: Mapping[str, Any]) -> None:
        """Record a cancellation request (the account stays as it is until an operator acts on it)."""
        reason = inputs.required_text(document, "reason")
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            if row.status != ACTIVE:
                raise ApiError(409, "tenant is not active")
            row.cancel_reason = reason
            row.cancelled_ts = utcnow()
        log.warning("tenant %s (%s) asks to cancel its account", tenant_id, row.name)

    async def checkout_secret(self, tenant_id: str) -> str:
        """The stand-in for the Stripe client secret of a tenant, created on first use."""
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            if not row.checkout_secret:
                row.checkout_secret = "seti_menderlite_" + secrets.token_urlsafe(24)
            return row.checkout_secret

    async def complete_upgrade(self, tenant_id: str, document: Mapping[str, Any]) -> None:
        """End a trial with the given plan; the device limit follows the plan."""
        plan = inputs.plan(document.get("plan"), default=None)
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id)
            row.plan = plan
            row.trial = False
            row.trial_expiration = None
            row.updated_ts = utcnow()
        await self.ctx.devauth.set_limit(tenant_id, MAX_DEVICES, PLAN_DEVICE_LIMITS[plan])

    async def cancel_upgrade(self, tenant_id: str) -> None:
        """Nothing is pending without payments: the tenant only has to exist."""
        await self.get_tenant(tenant_id)

    # --- internal users (a view of useradm's users) ----------------------------------------------------

    async def list_users(
        self, *, name: str | None, tenant_id: str | None, user_id: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        users = await self.ctx.useradm.find_users(
            tenant_id=tenant_id, email=name, user_id=user_id, offset=offset, limit=limit + 1
        )
        plans = await self._plans_of({user.tenant_id for user in users[:limit]})
        documents = [
            {"id": user.id, "tenant_id": user.tenant_id, "name": user.email, "plan": plans[user.tenant_id]}
            for user in users[:limit]
        ]
        return documents, len(users) > limit

    async def _plans_of(self, tenant_ids: set[str]) -> dict[str, str]:
        plans = dict.fromkeys(tenant_ids, self.settings.default_plan)
        known = [tenant_id for tenant_id in tenant_ids if tenant_id]
        if known:
            async with self.ctx.db.read() as session:
                rows = await session.execute(select(Tenant.tenant_id, Tenant.plan).where(Tenant.tenant_id.in_(known)))
                plans.update({row.tenant_id: row.plan for row in rows})
        return plans

    async def create_user(self, document: Mapping[str, Any]) -> str:
        """Internal `POST /users {name, id, tenant_id}`: a user of an existing tenant, without a usable
        password (they set one with a password reset). Returns the id."""
        email = email_field(document, "name")
        user_id = inputs.required_text(document, "id")
        tenant_id = inputs.required_text(document, "tenant_id")
        if len(user_id) > 36:
            raise ApiError(400, "id: at most 36 characters")
        if not _USER_ID.fullmatch(user_id) or user_id == "me":  # /users/{id} must be able to name it
            raise ApiError(400, "id: letters, digits, '-', '_' and '.' only, not starting with '.' or '-', and not 'me'")
        await self.get_tenant(tenant_id)
        unusable = await asyncio.to_thread(_unusable_password_hash)
        user = await self.ctx.useradm.create_user(tenant_id, email, password_hash=unusable, user_id=user_id)
        return user.id

    async def update_user(self, tenant_id: str, user_id: str, document: Mapping[str, Any]) -> None:
        """Internal `PUT /tenants/{tid}/users/{uid} {name}`: the user's email."""
        email = email_field(document, "name")
        tenant = await self.get_tenant(tenant_id)
        # useradm's update on behalf of the tenant (the acting identity is no user: no token is kept).
        acting = Identity(subject="", tenant_id=tenant_id, plan=tenant.plan)
        await self.ctx.useradm.update_user(acting, user_id, {"email": email})

    async def delete_user(self, tenant_id: str, user_id: str) -> None:
        await self.ctx.useradm.delete_user(tenant_id, user_id)

    # --- suspensions made by another process -----------------------------------------------------------

    def _known_cut_off(self) -> set[str]:
        if self._cut_off is None:
            self._cut_off = set()
        return self._cut_off

    async def sync_suspensions(self) -> list[str]:
        """Cut off tenants suspended by another process (the CLI) since the last call: their tokens are
        already deleted, but this process's token caches may still hold them. Returns those tenants."""
        async with self.ctx.db.read() as session:
            suspended = set((await session.scalars(select(Tenant.tenant_id).where(Tenant.status == SUSPENDED))).all())
        if self._cut_off is None:  # first look (start-up): nothing is cached for them yet
            self._cut_off = suspended
            return []
        newly = sorted(suspended - self._cut_off)
        for tenant_id in newly:
            log.info("tenant %s was suspended elsewhere: revoking its tokens here", tenant_id)
            await self._cut_off_tenant(tenant_id)
        self._cut_off &= suspended  # re-activated tenants can be noticed again
        self._cut_off |= set(newly)
        return newly

    async def watch_suspensions(self, interval: float) -> None:
        """Run `sync_suspensions` every `interval` seconds until cancelled."""
        while True:
            try:
                await self.sync_suspensions()
            except Exception:  # the next round tries again
                log.exception("checking for suspended tenants failed")
            await asyncio.sleep(interval)


def _unusable_password_hash() -> str:
    """A bcrypt hash of a secret nobody knows: the account has no password until it is reset."""
    return bcrypt.hashpw(secrets.token_hex(32).encode(), bcrypt.gensalt(4)).decode("ascii")
