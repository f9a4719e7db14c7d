"""The devauth service layer: admission of devices, their auth sets and tokens; no aiohttp here.

Statuses (SEMANTICS.md §2): an auth set is `pending`, `accepted`, `rejected` or `preauthorized`; a device's
status is derived from its auth sets (`derive_status`, `noauth` when it has none) and stored on the device
row. Every change of a device's status is announced with `DeviceStatusChanged`; a new device with
`DeviceAppeared`; a removed one with `DeviceDecommissioned` (handlers run inside our write transaction).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import jwt as pyjwt
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import after_commit, new_id, utcnow
from menderlite.devauth import crypto, identity
from menderlite.devauth.models import AuthSet, Device, Limit, Token
from menderlite.devauth.verdicts import Verdict, VerdictCache, token_key
from menderlite.events import DeviceAppeared, DeviceDecommissioned, DeviceStatusChanged
from menderlite.timeutil import rfc3339
from menderlite.tokens import TokenError, TokenExpired
from menderlite.web.errors import ApiError
from menderlite.web.guards import Identity

if TYPE_CHECKING:
    from menderlite.context import Context

log = logging.getLogger(__name__)

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"
PREAUTHORIZED = "preauthorized"
NOAUTH = "noauth"
DEVICE_STATUSES = (PENDING, ACCEPTED, REJECTED, PREAUTHORIZED, NOAUTH)
SETTABLE_STATUSES = (ACCEPTED, REJECTED, PENDING)

MAX_DEVICES = "max_devices"
LIMIT_NAMES = (MAX_DEVICES,)

# Catalogue messages (SEMANTICS.md §8).
DEVICE_UNAUTHORIZED = "dev auth: unauthorized"
UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token expired"
SIGNATURE_MISSING = "missing request signature header"
SIGNATURE_FAILED = "signature verification failed"
DEVICE_NOT_FOUND = "device not found"
AUTH_SET_NOT_FOUND = "authorization set not found"
TOKEN_NOT_FOUND = "token not found"
LIMIT_REACHED = "maximum number of accepted devices reached"
AUTH_DECODE = "failed to decode auth request"
AUTH_INVALID = "invalid auth request"
PREAUTH_DECODE = "failed to decode preauth request"
LIST_STATUS_ERROR = "parameter status must be one of: pending, rejected, accepted, preauthorized or noauth"
COUNT_STATUS_ERROR = "status must be one of: pending, accepted, rejected, preauthorized, noauth"


# The re-admission of an accepted device (`_readmit`), built once: it is the hot path of auth requests.
_ACCEPTED_KEY = (
    select(AuthSet.id, AuthSet.status, AuthSet.device_id, Device.status.label("device_status"), Device.decommissioning, Token.expires_at)
    .join(Device, Device.id == AuthSet.device_id)
    .outerjoin(Token, Token.id == AuthSet.id)
    .where(
        AuthSet.tenant_id == bindparam("tenant"),
        AuthSet.id_data_sha256 == bindparam("id_hash"),
        AuthSet.pubkey_sha256 == bindparam("key_hash"),
    )
)
# What a token's verification reads when its verdict is not cached (the first request after a start).
_TOKEN_STANDING = (
    select(AuthSet.status, AuthSet.device_id, Device.decommissioning)
    .join(Token, Token.id == AuthSet.id)
    .join(Device, Device.id == AuthSet.device_id)
    .where(Token.id == bindparam("token_id"), Token.tenant_id == bindparam("tenant"), AuthSet.tenant_id == bindparam("tenant"))
)
_EXTEND_TOKEN = (
    update(Token)
    .where(Token.tenant_id == bindparam("tenant"), Token.id == bindparam("token_id"), Token.expires_at < bindparam("new_expiry"))
    .values(expires_at=bindparam("new_expiry"))
)


def derive_status(auth_set_statuses: Iterable[str]) -> str:
    """A device's status from its auth sets, in the priority order of the real service."""
    statuses = set(auth_set_statuses)
    for status in (ACCEPTED, PREAUTHORIZED, PENDING, REJECTED):
        if status in statuses:
            return status
    return NOAUTH


# --- what the service hands out ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSetInfo:
    id: str
    identity_data: dict[str, Any]
    pubkey: str
    status: str
    ts: datetime

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identity_data": self.identity_data,
            "pubkey": self.pubkey,
            "status": self.status,
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    identity_data: dict[str, Any]
    status: str
    decommissioning: bool
    created_ts: datetime
    updated_ts: datetime
    auth_sets: tuple[AuthSetInfo, ...]

    def document(self) -> dict[str, Any]:
        """The v2 `Device` shape of the API reference."""
        return {
            "id": self.id,
            "identity_data": self.identity_data,
            "status": self.status,
            "decommissioning": self.decommissioning,
            "created_ts": rfc3339(self.created_ts),
            "updated_ts": rfc3339(self.updated_ts),
            "auth_sets": [auth_set.document() for auth_set in self.auth_sets],
        }


@dataclass(frozen=True)
class AuthRequest:
    """A validated, signature-checked auth request."""

    id_data: str  # normalised
    id_hash: str
    identity: dict[str, Any]
    key: crypto.ParsedKey
    tenant_token: str


@dataclass(frozen=True)
class _Admission:
    """What an auth request led to: a token to issue (`device_id` set) or a refusal message."""

    device_id: str | None = None
    auth_set_id: str | None = None
    refusal: str = DEVICE_UNAUTHORIZED


class DevauthService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.devauth
        self.verdicts = VerdictCache(self.settings.verify_cache_size)
        self.clock: Callable[[], float] = time.time  # when tokens are issued (tests move it)

    # --- auth requests ---------------------------------------------------------------------------------

    def parse_auth_request(self, body: bytes, signature: str | None) -> AuthRequest:
        """Validate the body and check `X-MEN-Signature` over the exact raw bytes; raises ApiError."""
        try:
            document = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, too-long integers, too-deep nesting
            raise ApiError(400, f"{AUTH_DECODE}: {exc}") from None
        if document is None:
            raise ApiError(400, f"{AUTH_DECODE}: JSON payload is empty")
        if not isinstance(document, dict):
            raise ApiError(400, f"{AUTH_DECODE}: expected a JSON object")
        for name in ("id_data", "pubkey", "tenant_token"):
            if not isinstance(document.get(name, ""), str):
                raise ApiError(400, f"{AUTH_DECODE}: {name} must be a string")
        id_data, pubkey = document.get("id_data", ""), document.get("pubkey", "")
        if not id_data:
            raise ApiError(400, f"{AUTH_INVALID}: id_data must be provided")
        try:
            device_identity = identity.parse_id_data(id_data)
            normalised = identity.normalise(device_identity)
        except identity.IdentityError as exc:
            raise ApiError(400, f"{AUTH_INVALID}: {exc}") from None
        if not pubkey:
            raise ApiError(400, f"{AUTH_INVALID}: pubkey must be provided")
        key = self._parse_key(pubkey, AUTH_INVALID)
        if not signature:
            raise ApiError(400, SIGNATURE_MISSING)
        if not crypto.verify_signature(key.key, signature, body):
            raise ApiError(401, SIGNATURE_FAILED)
        return AuthRequest(
            id_data=normalised,
            id_hash=identity.identity_hash(normalised),
            identity=json.loads(normalised),
            key=key,
            tenant_token=document.get("tenant_token", ""),
        )

    async def submit_auth_request(self, body: bytes, signature: str | None) -> str:
        """Handle `POST /auth_requests`: the device's JWT, or ApiError (401 while not accepted).

        A device with a `tenant_token` joins that tenant (tenantadm verifies the token: 401 when it is bad
        or the tenant is suspended); one without joins the default tenant.
        """
        request = self.parse_auth_request(body, signature)
        issued_at = int(self.clock())
        expires_at = issued_at + self.settings.jwt_expiration_seconds
        async with self.ctx.db.write() as session:
            # Checked while holding the write path: a suspension committed before is seen; one committed
            # after revokes the token this request stores.
            tenant_id = await self.ctx.tenantadm.tenant_of_auth_request(request.tenant_token)
            admission = await self._readmit(session, tenant_id, request, expires_at)
            if admission is None:
                admission = await self._admit(session, tenant_id, request)
                if admission.device_id is not None and admission.auth_set_id is not None:
                    await self._store_token(session, tenant_id, admission.device_id, admission.auth_set_id, expires_at)
        if admission.device_id is None or admission.auth_set_id is None:
            raise ApiError(401, admission.refusal)
        return await self._issue_token(tenant_id, admission.device_id, admission.auth_set_id, issued_at, expires_at)

    async def _readmit(
        self, session: AsyncSession, tenant_id: str, request: AuthRequest, expires_at: int
    ) -> _Admission | None:
        """The common case in two statements: an accepted device, with a token row, asks again with its
        accepted key. Nothing changes but the token row's expiry (its status stays accepted, nothing is
        announced). None when the case is any other: `_admit` handles it."""
        row = (
            await session.execute(_ACCEPTED_KEY, {"tenant": tenant_id, "id_hash": request.id_hash, "key_hash": request.key.sha256})
        ).first()
        if row is None or row.status != ACCEPTED or row.device_status != ACCEPTED or row.decommissioning:
            return None
        if row.expires_at is None:
            return None  # no token row yet: `_admit` and `_store_token` create it
        expiry = datetime.fromtimestamp(expires_at, UTC)
        if row.expires_at < expiry:
            await session.execute(_EXTEND_TOKEN, {"tenant": tenant_id, "token_id": row.id, "new_expiry": expiry})
        return _Admission(device_id=row.device_id, auth_set_id=row.id)

    async def _admit(self, session: AsyncSession, tenant_id: str, request: AuthRequest) -> _Admission:
        auth_set = await session.scalar(
            select(AuthSet).where(
                AuthSet.tenant_id == tenant_id,
                AuthSet.id_data_sha256 == request.id_hash,
                AuthSet.pubkey_sha256 == request.key.sha256,
            )
        )
        if auth_set is not None and auth_set.status == PREAUTHORIZED:
            return await self._admit_preauthorized(session, auth_set)
        device = await session.scalar(
            select(Device).where(Device.tenant_id == tenant_id, Device.id_data_sha256 == request.id_hash)
        )
        appeared = device is None
        if device is None:
            device = Device(
                id=new_id(), tenant_id=tenant_id, id_data=request.id_data, id_data_sha256=request.id_hash, status=PENDING
            )
            session.add(device)
            await session.flush()
        if device.decommissioning:
            return _Admission()
        if auth_set is None:
            auth_set = self._new_auth_set(device, request.id_data, request.id_hash, request.key, PENDING)
            session.add(auth_set)
            await session.flush()
        if appeared:
            await self._publish(session, DeviceAppeared(tenant_id, device.id, request.identity, device.status))
        else:
            await self._refresh_status(session, device)
        if auth_set.status == ACCEPTED:
            return _Admission(device_id=device.id, auth_set_id=auth_set.id)
        return _Admission()

    async def _admit_preauthorized(self, session: AsyncSession, auth_set: AuthSet) -> _Admission:
        device = await self._device_row(session, auth_set.tenant_id, auth_set.device_id)
        if device.status != ACCEPTED and await self._limit_reached(session, device.tenant_id):
            return _Admission(refusal=UNAUTHORIZED)
        await self._accept(session, device, auth_set)
        return _Admission(device_id=device.id, auth_set_id=auth_set.id)

    async def _store_token(
        self, session: AsyncSession, tenant_id: str, device_id: str, auth_set_id: str, expires_at: int
    ) -> None:
        expiry = datetime.fromtimestamp(expires_at, UTC)
        token = await session.get(Token, auth_set_id)
        if token is None:
            session.add(Token(id=auth_set_id, tenant_id=tenant_id, device_id=device_id, expires_at=expiry))
        else:
            token.expires_at = max(token.expires_at, expiry)

    async def _issue_token(self, tenant_id: str, device_id: str, auth_set_id: str, issued_at: int, expires_at: int) -> str:
        claims: dict[str, Any] = {
            "jti": auth_set_id,
            "sub": device_id,
            "iss": self.settings.jwt_issuer,
            "iat": issued_at,
            "exp": expires_at,
            "mender.device": True,
            "mender.plan": await self.ctx.tenantadm.plan_of(tenant_id),
        }
        if tenant_id:
            claims["mender.tenant"] = tenant_id
        # RSA signing (~1 ms with a 3072-bit key) releases the GIL: in a thread it leaves the event loop free
        # for other devices' requests and uses another core.
        return await asyncio.to_thread(self.ctx.keys.issue_jwt, claims)

    # --- token verification (every device request) -----------------------------------------------------

    async def verify_request(self, token: str | None, method: str, path: str) -> Identity:
        """The device guard: the caller's identity, or ApiError 401 (invalid) / 403 (expired)."""
        if not token:
            raise ApiError(401, UNAUTHORIZED)
        return await self.verify_token(token)

    async def verify_token(self, token: str) -> Identity:
        key = token_key(token)
        cached = self.verdicts.get(key, time.time())
        if cached is not None:
            return cached.identity(token)
        generation = self.verdicts.generation
        verdict = await self._verify_uncached(token)
        self.verdicts.put(key, verdict, generation)
        return verdict.identity(token)

    async def _verify_uncached(self, token: str) -> Verdict:
        try:
            claims = self.ctx.keys.verify_jwt(token, issuer=self.settings.jwt_issuer)
        except TokenExpired:
            await self._refuse_expired(token)
        except TokenError:
            raise ApiError(401, UNAUTHORIZED) from None
        tenant_id = claims.get("mender.tenant", "")
        device_id, token_id, plan = claims["sub"], claims["jti"], claims.get("mender.plan", "enterprise")
        if claims.get("mender.device") is not True or not all(
            isinstance(value, str) for value in (tenant_id, device_id, token_id, plan)
        ):
            raise ApiError(401, UNAUTHORIZED)
        async with self.ctx.db.read() as session:
            row = (await session.execute(_TOKEN_STANDING, {"tenant": tenant_id, "token_id": token_id})).one_or_none()
        if row is None or row.status != ACCEPTED or row.device_id != device_id or row.decommissioning:
            raise ApiError(401, UNAUTHORIZED)
        return Verdict(tenant_id, device_id, token_id, plan, float(claims["exp"]))

    async def _refuse_expired(self, token: str) -> NoReturn:
        """403 for an expired device token, whose row goes unless a newer token of the same auth set lives."""
        # The signature was valid (PyJWT checks it before `exp`), so the claims can be trusted.
        claims = pyjwt.decode(token, options={"verify_signature": False})
        token_id, tenant_id = claims.get("jti"), claims.get("mender.tenant", "")
        if (
            claims.get("iss") != self.settings.jwt_issuer
            or claims.get("mender.device") is not True
            or not isinstance(token_id, str)
            or not isinstance(tenant_id, str)
        ):
            raise ApiError(401, UNAUTHORIZED)  # e.g. an expired user token: not ours to judge
        async with self.ctx.db.write() as session:
            row = await session.scalar(
                select(Token).where(Token.id == token_id, Token.tenant_id == tenant_id, Token.expires_at <= utcnow())
            )
            if row is not None:
                self._invalidate_device(session, tenant_id, row.device_id)
                await session.delete(row)
        raise ApiError(403, TOKEN_EXPIRED)

    # --- management: reading --------------------------------------------------------------------------

    async def list_devices(
        self, tenant_id: str, *, status: str | None = None, ids: Sequence[str] = (), offset: int = 0, limit: int = 20
    ) -> tuple[list[DeviceInfo], bool]:
        """A page of devices, oldest first (ties by id); the flag tells whether another page follows."""
        if status and status not in DEVICE_STATUSES:
            raise ApiError(400, LIST_STATUS_ERROR)
        query = select(Device).where(Device.tenant_id == tenant_id)
        if status:
            query = query.where(Device.status == status)
        if ids:
            query = query.where(Device.id.in_(list(dict.fromkeys(ids))))
        query = query.order_by(Device.created_ts, Device.id).offset(offset).limit(limit + 1)
        async with self.ctx.db.read() as session:
            devices = list((await session.scalars(query)).all())
            has_next = len(devices) > limit
            devices = devices[:limit]
            auth_sets = await self._auth_sets_of(session, tenant_id, [device.id for device in devices])
        return [self._device_info(device, auth_sets.get(device.id, [])) for device in devices], has_next

    async def get_device(self, tenant_id: str, device_id: str) -> DeviceInfo:
        async with self.ctx.db.read() as session:
            device = await self._find_device(session, tenant_id, device_id)
            if device is None:
                raise ApiError(404, DEVICE_NOT_FOUND)
            return await self._load_device_info(session, device)

    async def count_devices(self, tenant_id: str, status: str | None = None) -> int:
        if status and status not in DEVICE_STATUSES:
            raise ApiError(400, COUNT_STATUS_ERROR)
        query = select(func.count()).select_from(Device).where(Device.tenant_id == tenant_id)
        if status:
            query = query.where(Device.status == status)
        async with self.ctx.db.read() as session:
            return int(await session.scalar(query) or 0)

    async def device_status(self, tenant_id: str, device_id: str) -> str | None:
        """The devauth status of a device, or None if devauth does not know it."""
        async with self.ctx.db.read() as session:
            return await session.scalar(
                select(Device.status).where(Device.tenant_id == tenant_id, Device.id == device_id)
            )

    async def get_auth_set_status(self, tenant_id: str, device_id: str, auth_set_id: str) -> str:
        async with self.ctx.db.read() as session:
            status = await session.scalar(
                select(AuthSet.status).where(
                    AuthSet.tenant_id == tenant_id, AuthSet.id == auth_set_id, AuthSet.device_id == device_id
                )
            )
        if status is None:
            raise ApiError(404, AUTH_SET_NOT_FOUND)
        return status

    # --- management: changes --------------------------------------------------------------------------

    async def preauthorize(self, tenant_id: str, identity_data: Any, pubkey: Any, *, device_id: str | None = None) -> str:
        """Create a preauthorized device and auth set; its first auth request with this key is accepted.

        Returns the new device id; 409 (body: the existing device) if the identity or `device_id` is taken.
        `device_id` lets tests and tools choose the id; the API always generates one.
        """
        if not isinstance(identity_data, dict) or not identity_data:
            raise ApiError(400, f"{PREAUTH_DECODE}: id_data: non zero value required;")
        if not isinstance(pubkey, str) or not pubkey:
            raise ApiError(400, f"{PREAUTH_DECODE}: pubkey: non zero value required;")
        try:
            normalised = identity.normalise(identity_data)
        except identity.IdentityError as exc:
            raise ApiError(400, f"{PREAUTH_DECODE}: {exc}") from None
        key = self._parse_key(pubkey, PREAUTH_DECODE)
        id_hash = identity.identity_hash(normalised)
        async with self.ctx.db.write() as session:
            conflict = await session.scalar(
                select(Device).where(Device.tenant_id == tenant_id, Device.id_data_sha256 == id_hash)
            )
            if conflict is None and device_id is not None:
                conflict = await session.get(Device, device_id)
                if conflict is not None and conflict.tenant_id != tenant_id:
                    raise ApiError(409, "device id already in use")
            if conflict is not None:
                document = (await self._load_device_info(session, conflict)).document()
                raise ApiError(409, "device already exists", body=document)
            device = Device(
                id=device_id or new_id(),
                tenant_id=tenant_id,
                id_data=normalised,
                id_data_sha256=id_hash,
                status=PREAUTHORIZED,
            )
            session.add(device)
            await session.flush()
            session.add(self._new_auth_set(device, normalised, id_hash, key, PREAUTHORIZED))
            await session.flush()
            await self._publish(session, DeviceAppeared(tenant_id, device.id, json.loads(normalised), PREAUTHORIZED))
        return device.id

    async def set_auth_set_status(self, tenant_id: str, device_id: str, auth_set_id: str, status: Any) -> None:
        """Accept, reject or reset (pending) an auth set; accepting rejects the device's other live sets."""
        if status not in SETTABLE_STATUSES:
            raise ApiError(400, "incorrect device status")
        async with self.ctx.db.write() as session:
            auth_set = await session.scalar(
                select(AuthSet).where(AuthSet.tenant_id == tenant_id, AuthSet.id == auth_set_id)
            )
            if auth_set is None:
                raise ApiError(404, AUTH_SET_NOT_FOUND)
            if auth_set.device_id != device_id:
                raise ApiError(400, "dev auth: dev ID and auth ID mismatch")
            if auth_set.status == status:
                return
            if auth_set.status == PREAUTHORIZED:
                raise ApiError(400, "dev auth: bad request")
            device = await self._device_row(session, tenant_id, device_id)
            if status == ACCEPTED:
                if device.status != ACCEPTED and await self._limit_reached(session, tenant_id):
                    raise ApiError(422, LIMIT_REACHED)
                await self._accept(session, device, auth_set)
                return
            if auth_set.status == ACCEPTED:
                await self._delete_device_tokens(session, tenant_id, device_id)
            auth_set.status = status
            await self._refresh_status(session, device)

    async def delete_auth_set(self, tenant_id: str, device_id: str, auth_set_id: str) -> None:
        """Remove an auth set; removing a preauthorized one removes the device too."""
        async with self.ctx.db.write() as session:
            auth_set = await session.scalar(
                select(AuthSet).where(
                    AuthSet.tenant_id == tenant_id, AuthSet.id == auth_set_id, AuthSet.device_id == device_id
                )
            )
            if auth_set is None:
                raise ApiError(404, AUTH_SET_NOT_FOUND)
            if auth_set.status == PREAUTHORIZED:
                await self._remove_device(session, tenant_id, device_id)
                return
            if auth_set.status == ACCEPTED:
                await self._delete_device_tokens(session, tenant_id, device_id)
            await session.delete(auth_set)
            await session.flush()
            await self._refresh_status(session, await self._device_row(session, tenant_id, device_id))

    async def decommission(self, tenant_id: str, device_id: str) -> None:
        """Remove a device: its tokens stop working at once; other services drop it on DeviceDecommissioned."""
        async with self.ctx.db.write() as session:
            device = await self._find_device(session, tenant_id, device_id)
            if device is None:
                raise ApiError(404, DEVICE_NOT_FOUND)
            await self._remove_device(session, tenant_id, device_id)

    async def revoke_token(self, tenant_id: str, token_id: str) -> None:
        """Delete a token by `jti`: every token of that auth set stops working; the device re-authenticates."""
        async with self.ctx.db.write() as session:
            token = await session.scalar(select(Token).where(Token.tenant_id == tenant_id, Token.id == token_id))
            if token is None:
                raise ApiError(404, TOKEN_NOT_FOUND)
            self._invalidate_device(session, tenant_id, token.device_id)
            await session.delete(token)

    async def delete_tokens(self, tenant_id: str, device_id: str | None = None) -> None:
        """Delete the tokens of one device, or of every device of the tenant."""
        async with self.ctx.db.write() as session:
            if device_id is not None:
                await self._delete_device_tokens(session, tenant_id, device_id)
                return
            await session.execute(delete(Token).where(Token.tenant_id == tenant_id))
            self.verdicts.invalidate_tenant(tenant_id)
            after_commit(session, lambda: self.verdicts.invalidate_tenant(tenant_id))

    # --- limits and tenants ---------------------------------------------------------------------------

    async def get_limit(self, tenant_id: str, name: str) -> int:
        self._check_limit_name(name)
        async with self.ctx.db.read() as session:
            return await self._limit(session, tenant_id, name)

    async def set_limit(self, tenant_id: str, name: str, value: Any) -> None:
        self._check_limit_name(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 2**63:
            raise ApiError(400, "failed to decode limit request: limit must be a non-negative integer")
        async with self.ctx.db.write() as session:
            row = await session.get(Limit, (tenant_id, name))
            if row is None:
                session.add(Limit(tenant_id=tenant_id, name=name, value=value))
            else:
                row.value = value

    async def clear_limit(self, tenant_id: str, name: str) -> None:
        """Remove the limit: the tenant has no limit (0) from now on, whatever the settings say."""
        await self.set_limit(tenant_id, name, 0)

    async def provision_tenant(self, tenant_id: Any) -> None:
        """Prepare devauth for a new tenant: every table is shared, so there is nothing to create."""
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ApiError(400, "tenant_id must be provided")

    # --- internals -------------------------------------------------------------------------------------

    def _parse_key(self, pubkey: str, context: str) -> crypto.ParsedKey:
        try:
            return crypto.parse_public_key(pubkey, min_rsa_bits=self.settings.min_rsa_key_bits)
        except crypto.PublicKeyError as exc:
            raise ApiError(400, f"{context}: {exc}") from None

    @staticmethod
    def _new_auth_set(device: Device, id_data: str, id_hash: str, key: crypto.ParsedKey, status: str) -> AuthSet:
        return AuthSet(
            id=new_id(),
            tenant_id=device.tenant_id,
            device_id=device.id,
            id_data=id_data,
            id_data_sha256=id_hash,
            pubkey=key.pem,
            pubkey_sha256=key.sha256,
            status=status,
            ts=utcnow(),
        )

    async def _accept(self, session: AsyncSession, device: Device, auth_set: AuthSet) -> None:
        """Accept `auth_set`; the device's other accepted or preauthorized sets become rejected."""
        others = await session.scalars(
            select(AuthSet).where(
                AuthSet.tenant_id == device.tenant_id,
                AuthSet.device_id == device.id,
                AuthSet.id != auth_set.id,
                AuthSet.status.in_((ACCEPTED, PREAUTHORIZED)),
            )
        )
        rejected = []
        for other in others.all():
            other.status = REJECTED
            rejected.append(other.id)
        if rejected:
            await session.execute(delete(Token).where(Token.tenant_id == device.tenant_id, Token.id.in_(rejected)))
            self._invalidate_device(session, device.tenant_id, device.id)
        auth_set.status = ACCEPTED
        await session.flush()
        await self._refresh_status(session, device)

    async def _refresh_status(self, session: AsyncSession, device: Device) -> None:
        """Store the status derived from the device's auth sets; announce it if it changed."""
        await session.flush()
        statuses = await session.scalars(
            select(AuthSet.status).where(AuthSet.tenant_id == device.tenant_id, AuthSet.device_id == device.id)
        )
        status = derive_status(statuses)
        if status == device.status:
            return
        device.status = status
        device.updated_ts = utcnow()
        await self._publish(session, DeviceStatusChanged(device.tenant_id, (device.id,), status))

    async def _remove_device(self, session: AsyncSession, tenant_id: str, device_id: str) -> None:
        self._invalidate_device(session, tenant_id, device_id)
        await self._publish(session, DeviceDecommissioned(tenant_id, device_id))
        await session.execute(delete(Token).where(Token.tenant_id == tenant_id, Token.device_id == device_id))
        await session.execute(delete(AuthSet).where(AuthSet.tenant_id == tenant_id, AuthSet.device_id == device_id))
        await session.execute(delete(Device).where(Device.tenant_id == tenant_id, Device.id == device_id))

    async def _delete_device_tokens(self, session: AsyncSession, tenant_id: str, device_id: str) -> None:
        self._invalidate_device(session, tenant_id, device_id)
        await session.execute(delete(Token).where(Token.tenant_id == tenant_id, Token.device_id == device_id))

    def _invalidate_device(self, session: AsyncSession, tenant_id: str, device_id: str) -> None:
        """Forget cached verdicts now and again after the commit (see verdicts.py for why twice)."""
        self.verdicts.invalidate_device(tenant_id, device_id)
        after_commit(session, lambda: self.verdicts.invalidate_device(tenant_id, device_id))

    async def _publish(self, session: AsyncSession, event: Any) -> None:
        await self.ctx.events.publish(event, session)

    async def _limit_reached(self, session: AsyncSession, tenant_id: str) -> bool:
        limit = await self._limit(session, tenant_id, MAX_DEVICES)
        if limit == 0:
            return False
        accepted = await session.scalar(
            select(func.count()).select_from(Device).where(Device.tenant_id == tenant_id, Device.status == ACCEPTED)
        )
        return int(accepted or 0) >= limit

    async def _limit(self, session: AsyncSession, tenant_id: str, name: str) -> int:
        value = await session.scalar(select(Limit.value).where(Limit.tenant_id == tenant_id, Limit.name == name))
        if value is not None:
            return int(value)
        if name == MAX_DEVICES and tenant_id == "":
            return self.settings.max_devices
        return 0

    @staticmethod
    def _check_limit_name(name: str) -> None:
        if name not in LIMIT_NAMES:
            raise ApiError(400, f"unsupported limit {name}")

    @staticmethod
    async def _find_device(session: AsyncSession, tenant_id: str, device_id: str) -> Device | None:
        return await session.scalar(select(Device).where(Device.tenant_id == tenant_id, Device.id == device_id))

    async def _device_row(self, session: AsyncSession, tenant_id: str, device_id: str) -> Device:
        device = await self._find_device(session, tenant_id, device_id)
        if device is None:  # an auth set always has its device (foreign key)
            raise ApiError(404, DEVICE_NOT_FOUND)
        return device

    @staticmethod
    async def _auth_sets_of(session: AsyncSession, tenant_id: str, device_ids: list[str]) -> dict[str, list[AuthSet]]:
        if not device_ids:
            return {}
        rows = await session.scalars(
            select(AuthSet)
            .where(AuthSet.tenant_id == tenant_id, AuthSet.device_id.in_(device_ids))
            .order_by(AuthSet.ts, AuthSet.id)
        )
        grouped: dict[str, list[AuthSet]] = {}
        for auth_set in rows:
            grouped.setdefault(auth_set.device_id, []).append(auth_set)
        return grouped

    async def _load_device_info(self, session: AsyncSession, device: Device) -> DeviceInfo:
        auth_sets = await self._auth_sets_of(session, device.tenant_id, [device.id])
        return self._device_info(device, auth_sets.get(device.id, []))

    @staticmethod
    def _device_info(device: Device, auth_sets: list[AuthSet]) -> DeviceInfo:
        return DeviceInfo(
            id=device.id,
            identity_data=json.loads(device.id_data),
            status=device.status,
            decommissioning=device.decommissioning,
            created_ts=device.created_ts,
            updated_ts=device.updated_ts,
            auth_sets=tuple(
                AuthSetInfo(
                    id=auth_set.id,
                    identity_data=json.loads(auth_set.id_data),
                    pubkey=auth_set.pubkey,
                    status=auth_set.status,
                    ts=auth_set.ts,
                )
                for auth_set in auth_sets
            ),
        )

