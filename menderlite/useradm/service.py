"""The useradm service layer: users, their tokens, roles, settings, 2FA and password reset. No aiohttp here.

Other services use: `verify_request` (the management guard), `deployment_group_restriction`, `user_count`,
`create_user`, `create_tenant`, `revoke_tokens`, `find_users`, `list_users`, `update_user`, `delete_user`.
Login asks tenantadm for the account's status and plan (`account_of`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import smtplib
import time
import uuid
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import after_commit, new_id, utcnow
from menderlite.events import TenantCreated
from menderlite.timeutil import rfc3339
from menderlite.tokens import TokenError
from menderlite.useradm import mail, rbac, totp
from menderlite.useradm.fields import (
    email_field,
    normalize_email,
    optional_bool,
    optional_string,
    string_list,
)
from menderlite.useradm.grants import Grant, GrantCache
from menderlite.useradm.models import PasswordReset, Role, Tenant, Token, User, UserRole
from menderlite.useradm.passwords import (
    PasswordHasher,
    is_bcrypt_hash,
    validate_password,
)
from menderlite.web.errors import ApiError
from menderlite.web.guards import Identity

if TYPE_CHECKING:
    from menderlite.context import Context

log = logging.getLogger("menderlite.useradm")

PLAN_ORDER = {"os": 0, "professional": 1, "enterprise": 2}
RBAC_PLAN = "enterprise"
TWO_FACTOR_PLAN = "professional"
TFA_ENABLED = "enabled"
TFA_DISABLED = "disabled"
TFA_KEY = "2fa"
FIRST_USER_COMMAND = "menderlite user create --email EMAIL --password PASSWORD"
MIN_URI_PARTS = 4


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized")


def user_id_for(email: str) -> str:
    """UUIDv5 of the email in the OID namespace, as the real useradm derives user ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, email))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def require_plan(plan: str, minimum: str) -> None:
    if PLAN_ORDER.get(plan, 0) < PLAN_ORDER[minimum]:
        raise ApiError(403, "Feature not available in your Plan")


@dataclass(frozen=True)
class UserInfo:
    """A user as the API shows it (never the password hash)."""

    id: str
    tenant_id: str
    email: str
    created_ts: datetime
    updated_ts: datetime
    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, user: User, roles: Iterable[str]) -> UserInfo:
        return cls(user.id, user.tenant_id, user.email, user.created_ts, user.updated_ts, tuple(roles))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "created_ts": rfc3339(self.created_ts),
            "updated_ts": rfc3339(self.updated_ts),
            "roles": list(self.roles),
        }


class UseradmService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = ctx.settings.useradm
        self.passwords = PasswordHasher(self.config.bcrypt_rounds)
        self.grants = GrantCache()
        self._background: set[asyncio.Task[None]] = set()
        ctx.events.subscribe(TenantCreated, self._on_tenant_created)

    # --- login and tokens ------------------------------------------------------------------------------

    async def login(self, email: str, password: str, token2fa: str | None = None) -> str:
        """A new user JWT for valid credentials (and a valid current TOTP code when 2FA is on)."""
        email = normalize_email(email)
        async with self.ctx.db.read() as session:
            # The one lookup without a tenant: the email is what names the account (unique across tenants).
            user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            await self.passwords.waste_time(password)
            raise unauthorized()
        if not await self.passwords.check(password, user.password_hash):
            raise unauthorized()
        step = self._second_factor_step(user, token2fa)
        now = utcnow()
        expires = now + timedelta(seconds=self.config.jwt_expiration_seconds)
        jti = new_id()
        async with self.ctx.db.write() as session:
            # Read while holding the write path: a suspension committed before this point is seen, and one
            # committed after it revokes the token stored below.
            account = await self.ctx.tenantadm.account_of(user.tenant_id)
            if account.status == "suspended":
                raise ApiError(401, "tenant account suspended")
            if account.status != "active":  # an account that is not activated yet
                raise unauthorized()
            plan = account.plan
            current_hash = await session.scalar(
                select(User.password_hash).where(User.id == user.id, User.tenant_id == user.tenant_id)
            )
            if current_hash != user.password_hash:  # deleted or password changed meanwhile
                raise unauthorized()
            if step is not None and not await self._use_totp_step(session, user, step):
                raise unauthorized()
            await session.execute(
                delete(Token).where(
                    Token.tenant_id == user.tenant_id, Token.user_id == user.id, Token.expires_at <= now
                )
            )
            session.add(Token(id=jti, tenant_id=user.tenant_id, user_id=user.id, created_ts=now, expires_at=expires))
        claims: dict[str, Any] = {
            "jti": jti,
            "sub": user.id,
            "iss": self.config.jwt_issuer,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "mender.user": True,
            "mender.plan": plan,
            "scp": "mender.*",
        }
        if user.tenant_id:
            claims["mender.tenant"] = user.tenant_id
        return await asyncio.to_thread(self.ctx.keys.issue_jwt, claims)

    def _second_factor_step(self, user: User, code: str | None) -> int | None:
        """The accepted TOTP step when the user has verified 2FA; None when 2FA does not apply."""
        if not (user.tfa_status == TFA_ENABLED and user.totp_verified and user.totp_secret):
            return None
        if not code:
            raise ApiError(401, "2fa token required")
        step = totp.accepted_step(user.totp_secret, code, time.time(), user.totp_last_step)
        if step is None:
            raise unauthorized()
        return step

    @staticmethod
    async def _use_totp_step(session: AsyncSession, user: User, step: int) -> bool:
        """Record `step` as used; False when a concurrent request used it (or a later one) first."""
        result = await session.execute(
            update(User)
            .where(User.id == user.id, User.tenant_id == user.tenant_id, User.totp_last_step < step)
            .values(totp_last_step=step)
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def verify_request(self, token: str | None, method: str, path: str) -> Identity:
        """The management guard: a valid, unrevoked user token of an existing user, allowed by RBAC."""
        grant = await self._grant_for(token)
        if not grant.policy.allows(method, path):
            raise ApiError(403, "forbidden")
        return grant.identity

    async def verify_forwarded(self, token: str | None, method: str | None, path: str | None) -> Identity:
        """Internal auth/verify: like the guard, for the method and path another component forwards."""
        grant = await self._grant_for(token)
        if not method or path is None:
            raise ApiError(400, "missing X-Original-URI or X-Original-Method header")
        if not path.startswith("/") or len(path.split("/")) < MIN_URI_PARTS:
            raise ApiError(400, "X-Original-URI must have at least 4 components, e.g. /api/management/v1/foo")
        if not grant.policy.allows(method, path):
            raise ApiError(403, "forbidden")
        return grant.identity

    async def verify_plan(self, token: str | None, required_plan: str | None) -> None:
        """Internal plan/verify: 200 when the caller's tenant plan is at least `required_plan`, else 401."""
        grant = await self._grant_for(token)
        if not required_plan:
            raise ApiError(400, "missing X-Mender-Required-Minimal-Plan header")
        if required_plan not in PLAN_ORDER:
            raise ApiError(400, f"unknown plan {required_plan!r}: must be one of {', '.join(PLAN_ORDER)}")
        plan = await self.ctx.tenantadm.plan_of(grant.identity.tenant_id)
        if PLAN_ORDER.get(plan, 0) < PLAN_ORDER[required_plan]:
            raise unauthorized()

    async def _grant_for(self, token: str | None) -> Grant:
        if not token:
            raise ApiError(401, "missing or invalid auth header")
        cached = self.grants.get(token)
        if cached is not None:
            return cached
        generation = self.grants.generation
        try:
            claims = self.ctx.keys.verify_jwt(token, issuer=self.config.jwt_issuer)
        except TokenError:  # bad signature, foreign issuer, malformed and expired alike (useradm: 401)
            raise ApiError(401, "invalid jwt") from None
        identity = self._identity_from_claims(claims, token)
        async with self.ctx.db.read() as session:
            known = await session.scalar(
                select(Token.id)
                .join(User, User.id == Token.user_id)
                .where(
                    Token.id == identity.token_id,
                    Token.tenant_id == identity.tenant_id,
                    Token.user_id == identity.subject,
                    User.tenant_id == identity.tenant_id,
                )
            )
            if known is None:  # revoked, or the user is gone
                raise unauthorized()
            policy = await self._policy_of(session, identity.tenant_id, identity.subject)
        grant = Grant(identity, policy, float(claims["exp"]))
        self.grants.put(token, grant, generation)
        return grant

    def _identity_from_claims(self, claims: Mapping[str, Any], token: str) -> Identity:
        subject, jti = claims.get("sub"), claims.get("jti")
        tenant_id = claims.get("mender.tenant", "")
        plan = claims.get("mender.plan", self.ctx.settings.tenantadm.default_plan)
        if (
            claims.get("mender.user") is not True
            or not isinstance(subject, str)
            or not subject
            or not isinstance(jti, str)
            or not isinstance(tenant_id, str)
            or not isinstance(plan, str)
        ):
            raise unauthorized()
        return Identity(subject=subject, tenant_id=tenant_id, is_user=True, plan=plan, token_id=jti, token=token)

    async def deployment_group_restriction(self, identity: Identity) -> frozenset[str] | None:
        """For a deployment creation the management guard let through: None when it may target any device,
        else only devices of these groups (CREATE_DEPLOYMENT permissions of the user's roles)."""
        if not identity.is_user:
            return frozenset()
        cached = self.grants.get(identity.token) if identity.token else None
        if cached is not None and cached.identity == identity:
            return cached.policy.deployment_group_restriction()
        async with self.ctx.db.read() as session:
            policy = await self._policy_of(session, identity.tenant_id, identity.subject)
        return policy.deployment_group_restriction()

    async def revoke_tokens(self, tenant_id: str, user_id: str | None = None) -> None:
        """Delete the tokens of a tenant's users (or of one user): they stop working at once."""
        async with self.ctx.db.write() as session:
            statement = delete(Token).where(Token.tenant_id == tenant_id)
            if user_id is not None:
                statement = statement.where(Token.user_id == user_id)
            await session.execute(statement)
            if user_id is None:
                after_commit(session, lambda: self.grants.drop_tenant(tenant_id))
            else:
                after_commit(session, lambda: self.grants.drop_user(tenant_id, user_id))

    async def _revoke_user_tokens(
        self, session: AsyncSession, tenant_id: str, user_id: str, keep: str | None = None
    ) -> None:
        statement = delete(Token).where(Token.tenant_id == tenant_id, Token.user_id == user_id)
        if keep:
            statement = statement.where(Token.id != keep)
        await session.execute(statement)
        after_commit(session, lambda: self.grants.drop_user(tenant_id, user_id))

    # --- RBAC --------------------------------------------------------------------------------------------

    async def _policy_of(self, session: AsyncSession, tenant_id: str, user_id: str) -> rbac.Policy:
        names = (
            await session.scalars(
                select(UserRole.role_name).where(UserRole.tenant_id == tenant_id, UserRole.user_id == user_id)
            )
        ).all()
        if not names:
            return rbac.FULL_ACCESS
        # Names of deleted roles stay assigned and grant nothing: losing a role must never mean full access.
        return rbac.Policy.for_roles(await self._roles_named(session, tenant_id, names))

    @staticmethod
    async def _roles_named(session: AsyncSession, tenant_id: str, names: Sequence[str]) -> list[rbac.RoleDefinition]:
        roles = [rbac.BUILTIN_ROLES[name] for name in names if name in rbac.BUILTIN_ROLES]
        custom = [name for name in names if name not in rbac.BUILTIN_ROLES]
        if custom:
            rows = await session.scalars(select(Role).where(Role.tenant_id == tenant_id, Role.name.in_(custom)))
            roles.extend(_role_definition(row) for row in rows)
        return roles

    async def _check_roles_exist(self, session: AsyncSession, tenant_id: str, names: Sequence[str]) -> None:
        found = {role.name for role in await self._roles_named(session, tenant_id, names)}
        missing = [name for name in names if name not in found]
        if missing:
            raise ApiError(422, f"role not found: {missing[0]}")

    # --- users -------------------------------------------------------------------------------------------

    async def create_user(
        self,
        tenant_id: str,
        email: str,
        password: str | None = None,
        *,
        password_hash: str | None = None,
        roles: Sequence[str] = (),
        user_id: str | None = None,
    ) -> UserInfo:
        """Create a user (422 when the email is taken); give either a password or a bcrypt hash.

        `user_id` imposes the id (tenantadm's internal `POST /users`; 422 when taken); by default it is
        derived from the email."""
        email = email_field({"email": email})
        if password_hash is not None:
            if not is_bcrypt_hash(password_hash):
                raise ApiError(400, "password_hash: not a bcrypt hash")
            hashed = password_hash
        else:
            hashed = await self.passwords.hash(validate_password(password))
        roles = list(dict.fromkeys(roles))
        now = utcnow()
        async with self.ctx.db.write() as session:
            await self._check_roles_exist(session, tenant_id, roles)
            if await session.scalar(select(User.id).where(User.email == email)) is not None:
                raise ApiError(422, "user with a given email already exists")
            if user_id is not None:
                if await session.scalar(select(User.id).where(User.id == user_id)) is not None:
                    raise ApiError(422, "user with a given id already exists")
            else:
                user_id = user_id_for(email)
                # Ids are global keys; a user who changed their email still holds the id derived from the old one.
                if await session.scalar(select(User.id).where(User.id == user_id)) is not None:
                    user_id = new_id()
            user = User(
                id=user_id, tenant_id=tenant_id, email=email, password_hash=hashed,
                created_ts=now, updated_ts=now, settings={},
            )
            session.add(user)
            await session.flush()
            session.add_all(UserRole(tenant_id=tenant_id, user_id=user_id, role_name=name) for name in roles)
        return UserInfo.of(user, roles)

    async def create_user_from(self, identity: Identity, document: Mapping[str, Any]) -> UserInfo:
        """POST /users: `{email, password, roles?}` in the caller's tenant."""
        email = email_field(document)
        password = validate_password(document.get("password"))
        roles = string_list(document, "roles") or []
        if roles:
            require_plan(identity.plan, RBAC_PLAN)
        return await self.create_user(identity.tenant_id, email, password, roles=roles)

    async def list_users(self, tenant_id: str) -> list[UserInfo]:
        async with self.ctx.db.read() as session:
            users = (
                await session.scalars(
                    select(User).where(User.tenant_id == tenant_id).order_by(User.created_ts, User.email)
                )
            ).all()
            roles = await self._roles_by_user(session, tenant_id)
        return [UserInfo.of(user, roles.get(user.id, ())) for user in users]

    async def find_users(
        self,
        *,
        tenant_id: str | None = None,
        email: str | None = None,
        email_contains: str | None = None,
        user_id: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UserInfo]:
        """Users of every tenant matching all the given filters (email exact after normalisation, or a part
        of it), oldest first; roles are not loaded. For tenantadm's internal user list and tenant search."""
        statement = select(User)
        if tenant_id is not None:
            statement = statement.where(User.tenant_id == tenant_id)
        if email is not None:
            statement = statement.where(User.email == normalize_email(email))
        if email_contains is not None:
            statement = statement.where(User.email.contains(email_contains.strip().lower(), autoescape=True))
        if user_id is not None:
            statement = statement.where(User.id == user_id)
        statement = statement.order_by(User.created_ts, User.id).offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        async with self.ctx.db.read() as session:
            users = (await session.scalars(statement)).all()
        return [UserInfo.of(user, ()) for user in users]

    async def list_all_users(self) -> list[UserInfo]:
        """Every user of every tenant (for the `menderlite user list` command)."""
        async with self.ctx.db.read() as session:
            users = (await session.scalars(select(User).order_by(User.tenant_id, User.created_ts, User.email))).all()
            assignments = (await session.execute(select(UserRole.user_id, UserRole.role_name))).all()
        roles: dict[str, list[str]] = {}
        for user_id, name in assignments:
            roles.setdefault(user_id, []).append(name)
        return [UserInfo.of(user, sorted(roles.get(user.id, ()))) for user in users]

    @staticmethod
    async def _roles_by_user(session: AsyncSession, tenant_id: str, user_id: str | None = None) -> dict[str, list[str]]:
        statement = select(UserRole.user_id, UserRole.role_name).where(UserRole.tenant_id == tenant_id)
        if user_id is not None:
            statement = statement.where(UserRole.user_id == user_id)
        roles: dict[str, list[str]] = {}
        for row_user, name in (await session.execute(statement.order_by(UserRole.role_name))).all():
            roles.setdefault(row_user, []).append(name)
        return roles

    async def get_user(self, tenant_id: str, user_id: str) -> UserInfo:
        async with self.ctx.db.read() as session:
            user = await session.scalar(select(User).where(User.id == user_id, User.tenant_id == tenant_id))
            if user is None:
                raise ApiError(404, "user not found")
            roles = await self._roles_by_user(session, tenant_id, user_id)
        return UserInfo.of(user, roles.get(user_id, ()))

    async def update_user(self, identity: Identity, user_id: str, document: Mapping[str, Any]) -> None:
        """PUT /users/{id}: email, password and/or roles (which replace the list). A new password revokes
        the user's tokens, except the one making this request."""
        email = email_field(document) if document.get("email") not in (None, "") else None
        password = validate_password(document["password"]) if document.get("password") not in (None, "") else None
        roles = string_list(document, "roles")
        if email is None and password is None and roles is None:
            raise ApiError(400, "no update information provided")
        if roles is not None:
            require_plan(identity.plan, RBAC_PLAN)
        hashed = await self.passwords.hash(password) if password is not None else None
        tenant_id = identity.tenant_id
        async with self.ctx.db.write() as session:
            user = await session.scalar(select(User).where(User.id == user_id, User.tenant_id == tenant_id))
            if user is None:
                raise ApiError(404, "user not found")
            if email is not None and email != user.email:
                if await session.scalar(select(User.id).where(User.email == email)) is not None:
                    raise ApiError(422, "user with a given email already exists")
                user.email = email
            if hashed is not None:
                user.password_hash = hashed
                keep = identity.token_id if identity.subject == user_id else None
                await self._revoke_user_tokens(session, tenant_id, user_id, keep=keep)
            if roles is not None:
                await self._check_roles_exist(session, tenant_id, roles)
                await session.execute(
                    delete(UserRole).where(UserRole.tenant_id == tenant_id, UserRole.user_id == user_id)
                )
                session.add_all(UserRole(tenant_id=tenant_id, user_id=user_id, role_name=name) for name in roles)
                after_commit(session, lambda: self.grants.drop_user(tenant_id, user_id))
            user.updated_ts = utcnow()

    async def delete_user(self, tenant_id: str, user_id: str) -> None:
        """Remove a user (no error when unknown); their tokens stop working at once."""
        async with self.ctx.db.write() as session:
            for table in (Token, UserRole, PasswordReset):
                await session.execute(delete(table).where(table.tenant_id == tenant_id, table.user_id == user_id))
            await session.execute(delete(User).where(User.tenant_id == tenant_id, User.id == user_id))
            after_commit(session, lambda: self.grants.drop_user(tenant_id, user_id))

    async def set_password(self, email: str, password: str) -> UserInfo:
        """Set a password by email and revoke the user's tokens (the CLI's way in for a locked-out admin)."""
        email = normalize_email(email)
        hashed = await self.passwords.hash(validate_password(password))
        async with self.ctx.db.write() as session:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                raise ApiError(404, "user not found")
            user.password_hash = hashed
            user.updated_ts = utcnow()
            await self._revoke_user_tokens(session, user.tenant_id, user.id)
            await session.execute(
                delete(PasswordReset).where(PasswordReset.tenant_id == user.tenant_id, PasswordReset.user_id == user.id)
            )
        return UserInfo.of(user, ())

    async def user_count(self, tenant_id: str = "") -> int:
        async with self.ctx.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(User).where(User.tenant_id == tenant_id)) or 0)

    async def warn_if_no_users(self) -> None:
        async with self.ctx.db.read() as session:
            anyone = await session.scalar(select(User.id).limit(1))
        if anyone is None:
            log.warning("no user exists yet: create the first one with `%s`", FIRST_USER_COMMAND)

    # --- roles -------------------------------------------------------------------------------------------

    async def list_roles(self, identity: Identity) -> list[dict[str, Any]]:
        require_plan(identity.plan, RBAC_PLAN)
        async with self.ctx.db.read() as session:
            rows = (await session.scalars(select(Role).where(Role.tenant_id == identity.tenant_id).order_by(Role.name))).all()
        return [role.to_json() for role in rbac.BUILTIN_ROLES.values()] + [_role_definition(row).to_json() for row in rows]

    async def get_role(self, identity: Identity, name: str) -> dict[str, Any]:
        require_plan(identity.plan, RBAC_PLAN)
        if name in rbac.BUILTIN_ROLES:
            return rbac.BUILTIN_ROLES[name].to_json()
        async with self.ctx.db.read() as session:
            row = await session.scalar(select(Role).where(Role.tenant_id == identity.tenant_id, Role.name == name))
        if row is None:
            raise ApiError(404, "role not found")
        return _role_definition(row).to_json()

    async def create_role(self, identity: Identity, document: Mapping[str, Any]) -> str:
        """POST /roles; returns the new role's id (its name)."""
        require_plan(identity.plan, RBAC_PLAN)
        try:
            name = rbac.validate_role_name(document.get("name"))
            permissions = rbac.parse_permissions(document.get("permissions"))
        except rbac.InvalidRole as exc:
            raise ApiError(400, str(exc)) from None
        description = optional_string(document, "description") or ""
        if name in rbac.BUILTIN_ROLES:
            raise ApiError(422, "role with a given name already exists")
        now = utcnow()
        async with self.ctx.db.write() as session:
            if await session.scalar(select(Role.name).where(Role.tenant_id == identity.tenant_id, Role.name == name)):
                raise ApiError(422, "role with a given name already exists")
            session.add(
                Role(
                    tenant_id=identity.tenant_id, name=name, description=description,
                    permissions=[permission.to_json() for permission in permissions],
                    created_ts=now, updated_ts=now,
                )
            )
            # Users may hold this name from a deleted role of the same name: their access changes.
            tenant_id = identity.tenant_id
            after_commit(session, lambda: self.grants.drop_tenant(tenant_id))
        return name

    async def update_role(self, identity: Identity, name: str, document: Mapping[str, Any]) -> None:
        """PUT /roles/{id}: description and/or permissions; built-in roles cannot be changed."""
        require_plan(identity.plan, RBAC_PLAN)
        if name in rbac.BUILTIN_ROLES:
            raise ApiError(400, "built-in roles cannot be changed")
        new_name = document.get("name")
        if new_name is not None and new_name != name:
            raise ApiError(400, "name: a role cannot be renamed")
        description = optional_string(document, "description")
        try:
            permissions = rbac.parse_permissions(document["permissions"]) if "permissions" in document else None
        except rbac.InvalidRole as exc:
            raise ApiError(400, str(exc)) from None
        if description is None and permissions is None:
            raise ApiError(400, "no update information provided")
        tenant_id = identity.tenant_id
        async with self.ctx.db.write() as session:
            role = await session.scalar(select(Role).where(Role.tenant_id == tenant_id, Role.name == name))
            if role is None:
                raise ApiError(404, "role not found")
            if description is not None:
                role.description = description
            if permissions is not None:
                role.permissions = [permission.to_json() for permission in permissions]
            role.updated_ts = utcnow()
            after_commit(session, lambda: self.grants.drop_tenant(tenant_id))

    async def delete_role(self, identity: Identity, name: str) -> None:
        """DELETE /roles/{id} (no error when unknown). Users keep the name, which then grants nothing."""
        require_plan(identity.plan, RBAC_PLAN)
        if name in rbac.BUILTIN_ROLES:
            raise ApiError(400, "built-in roles cannot be deleted")
        tenant_id = identity.tenant_id
        async with self.ctx.db.write() as session:
            await session.execute(delete(Role).where(Role.tenant_id == tenant_id, Role.name == name))
            after_commit(session, lambda: self.grants.drop_tenant(tenant_id))

    # --- settings and 2FA --------------------------------------------------------------------------------

    async def _user_of(self, session: AsyncSession, identity: Identity) -> User:
        user = await session.scalar(select(User).where(User.id == identity.subject, User.tenant_id == identity.tenant_id))
        if user is None:
            raise unauthorized()
        return user

    async def get_settings(self, identity: Identity) -> dict[str, Any]:
        async with self.ctx.db.read() as session:
            user = await self._user_of(session, identity)
        document = dict(user.settings or {})
        if user.tfa_status:
            document[TFA_KEY] = user.tfa_status
        return document

    async def save_settings(self, identity: Identity, document: Mapping[str, Any]) -> None:
        """POST /settings replaces the document; its "2fa" key switches two-factor login on or off
        (absent: unchanged). Turning it on creates a new TOTP secret that still needs /2faverify."""
        tfa = document.get(TFA_KEY)
        if tfa is not None and tfa not in (TFA_ENABLED, TFA_DISABLED):
            raise ApiError(400, f'{TFA_KEY}: must be "{TFA_ENABLED}" or "{TFA_DISABLED}"')
        if tfa == TFA_ENABLED:
            require_plan(identity.plan, TWO_FACTOR_PLAN)
        rest = {key: value for key, value in document.items() if key != TFA_KEY}
        async with self.ctx.db.write() as session:
            user = await self._user_of(session, identity)
            user.settings = rest
            if tfa == TFA_ENABLED and user.tfa_status != TFA_ENABLED:
                user.tfa_status = TFA_ENABLED
                user.totp_secret = totp.new_secret()
                user.totp_verified = False
                user.totp_last_step = 0  # replay protection starts afresh with the new secret
            elif tfa == TFA_DISABLED:
                user.tfa_status = TFA_DISABLED
                user.totp_secret = None
                user.totp_verified = False
            user.updated_ts = utcnow()

    async def two_factor_qr(self, identity: Identity) -> dict[str, str]:
        """The otpauth:// URL of the pending TOTP secret and its QR code (base64 PNG)."""
        async with self.ctx.db.read() as session:
            user = await self._user_of(session, identity)
        if user.tfa_status != TFA_ENABLED or not user.totp_secret:
            raise ApiError(400, "2fa is not enabled")
        if user.totp_verified:
            raise ApiError(400, "2fa is already verified")
        url = totp.provisioning_uri(user.totp_secret, user.email)
        return {"qr": await asyncio.to_thread(totp.qr_png_base64, url), "url": url}

    async def verify_two_factor(self, identity: Identity, code: Any) -> None:
        """PUT /2faverify: a valid current code confirms the secret; from then on login needs a code."""
        if not isinstance(code, str) or not code:
            raise ApiError(400, "token2fa: non zero value required")
        async with self.ctx.db.write() as session:
            user = await self._user_of(session, identity)
            if user.tfa_status != TFA_ENABLED or not user.totp_secret:
                raise ApiError(400, "2fa is not enabled")
            step = totp.accepted_step(user.totp_secret, code, time.time(), user.totp_last_step)
            if step is None:
                raise ApiError(400, "invalid 2fa token")
            user.totp_last_step = step
            user.totp_verified = True

    # --- password reset ----------------------------------------------------------------------------------

    async def start_password_reset(self, document: Mapping[str, Any], base_url: str) -> None:
        """Always succeeds for a valid email (no account enumeration); a known one gets a link."""
        email = email_field(document)
        secret = secrets.token_hex(32)
        now = utcnow()
        lifetime = self.config.password_reset_expiration_seconds
        async with self.ctx.db.write() as session:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                return
            await session.execute(
                delete(PasswordReset).where(
                    PasswordReset.tenant_id == user.tenant_id,
                    PasswordReset.user_id == user.id,
                    PasswordReset.expires_at <= now,
                )
            )
            session.add(
                PasswordReset(
                    secret_hash=hash_secret(secret), tenant_id=user.tenant_id, user_id=user.id,
                    expires_at=now + timedelta(seconds=lifetime),
                )
            )
        self._deliver_reset_link(email, self._reset_link(secret, base_url), lifetime)

    def _reset_link(self, secret: str, base_url: str) -> str:
        if self.config.password_reset_url:
            return self.config.password_reset_url.replace("{secret}", secret)
        return f"{base_url.rstrip('/')}/ui/#/password/{secret}"

    def _deliver_reset_link(self, email: str, link: str, lifetime: int) -> None:
        smtp = self.ctx.settings.smtp
        if not smtp.host:
            log.warning("password reset for %s: no SMTP server is configured, give the user this link: %s", email, link)
            return
        message = mail.password_reset_message(smtp.sender, email, link, max(1, lifetime // 60))
        # In the background, so that known and unknown emails answer equally fast.
        self._spawn(self._send_mail(message, email))

    async def _send_mail(self, message: Any, recipient: str) -> None:
        try:
            await asyncio.to_thread(mail.send, self.ctx.settings.smtp, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("could not send the password-reset mail to %s: %s", recipient, exc)
        else:
            log.info("sent a password-reset mail to %s", recipient)

    async def complete_password_reset(self, document: Mapping[str, Any]) -> None:
        """Set the new password for a valid, unused, unexpired secret; the secret and the user's tokens go."""
        secret = document.get("secret")
        if secret is None:
            secret = document.get("secret_hash")
        if secret is None or secret == "":
            raise ApiError(400, "secret: non zero value required")
        if not isinstance(secret, str):
            raise ApiError(400, "secret: must be a string")
        hashed = await self.passwords.hash(validate_password(document.get("password")))
        now = utcnow()
        async with self.ctx.db.write() as session:
            # Looked up by the secret's hash: the secret is the only thing that names the account here.
            reset = await session.scalar(select(PasswordReset).where(PasswordReset.secret_hash == hash_secret(secret)))
            if reset is None or reset.expires_at <= now:
                raise ApiError(400, "invalid or expired password reset secret")
            tenant_id, user_id = reset.tenant_id, reset.user_id
            await session.execute(
                update(User)
                .where(User.id == user_id, User.tenant_id == tenant_id)
                .values(password_hash=hashed, updated_ts=now)
            )
            await session.execute(
                delete(PasswordReset).where(PasswordReset.tenant_id == tenant_id, PasswordReset.user_id == user_id)
            )
            await self._revoke_user_tokens(session, tenant_id, user_id)

    # --- tenants -----------------------------------------------------------------------------------------

    async def create_tenant(self, tenant_id: str) -> None:
        """Register a tenant (idempotent)."""
        if not tenant_id:
            raise ApiError(400, "tenant_id: non zero value required")
        async with self.ctx.db.write() as session:
            await self._ensure_tenant(session, tenant_id)

    @staticmethod
    async def _ensure_tenant(session: AsyncSession, tenant_id: str) -> None:
        if await session.scalar(select(Tenant.tenant_id).where(Tenant.tenant_id == tenant_id)) is None:
            session.add(Tenant(tenant_id=tenant_id, created_ts=utcnow()))

    async def _on_tenant_created(self, event: TenantCreated, session: AsyncSession) -> None:
        if event.tenant_id:
            await self._ensure_tenant(session, event.tenant_id)

    async def tenant_exists(self, tenant_id: str) -> bool:
        if not tenant_id:
            return True
        async with self.ctx.db.read() as session:
            return await session.scalar(select(Tenant.tenant_id).where(Tenant.tenant_id == tenant_id)) is not None

    async def create_tenant_user(self, tenant_id: str, document: Mapping[str, Any]) -> UserInfo:
        """Internal POST /tenants/{tid}/users: `{email, password | password_hash, propagate?}`.

        `propagate` (default true) is accepted; there is no separate tenantadm user store to propagate to.
        """
        email = email_field(document)
        password, password_hash = document.get("password"), document.get("password_hash")
        propagate = optional_bool(document, "propagate", True)
        if password is not None and password_hash is not None:
            raise ApiError(400, "password and password_hash are mutually exclusive")
        if password_hash is not None and propagate:
            raise ApiError(400, "password_hash cannot be used together with propagate")
        if password_hash is None:
            password = validate_password(password)
        if not await self.tenant_exists(tenant_id):
            raise ApiError(404, "tenant not found")
        return await self.create_user(tenant_id, email, password, password_hash=password_hash)

    # --- background work ---------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush_background(self) -> None:
        """Wait for pending background work (mails)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        await self.flush_background()
        self.passwords.close()


def _role_definition(row: Role) -> rbac.RoleDefinition:
    return rbac.RoleDefinition(row.name, row.description, rbac.permissions_from_json(row.permissions))
