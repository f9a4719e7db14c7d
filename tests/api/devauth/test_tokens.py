"""The device guard and token verification: forged, expired and revoked tokens; with and without the cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from menderlite.config import Settings
from menderlite.context import Context
from menderlite.devauth.models import Token
from tests.api.devauth.helpers import INTERNAL, Management, accepted_device, probe

WEEK = 604800


@pytest.fixture(params=[100000, 0], ids=["cached", "uncached"])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(devauth={"verify_cache_size": request.param})


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


async def verify(client: TestClient, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.post(f"{INTERNAL}/tokens/verify", headers=headers)


async def assert_refused(client: TestClient, token: str | None, status: int = 401) -> None:
    response = await probe(client, token)
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"] == ("unauthorized" if status == 401 else "token expired")
    assert body["request_id"] == response.headers["X-MEN-RequestID"]
    assert (await verify(client, token)).status == status


async def test_good_token_passes_the_guard_and_internal_verify(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    for _ in range(3):
        response = await probe(client, device.token)
        assert response.status == 200
        assert (await response.json())["subject"] == device_id
    assert (await verify(client, device.token)).status == 200


async def test_missing_token(client: TestClient) -> None:
    await assert_refused(client, None)
    response = await verify(client, None)
    assert (await response.json())["error"] == "no authorization header"


async def test_forged_tokens_are_refused(client: TestClient, ctx: Context, management: Management) -> None:
    device, _ = await accepted_device(client, management)
    good = device.token
    assert good is not None
    claims = claims_of(good)
    header, payload, signature = good.split(".")

    tampered_claims = {**claims, "sub": "someone-else"}
    tampered = f"{header}.{b64(json.dumps(tampered_claims).encode())}.{signature}"
    public_pem = ctx.keys.public_key_pem()
    hs256 = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{payload}"
    hs256 += "." + b64(hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest())
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = jwt.encode(claims, stranger_key, algorithm="RS256")
    not_a_device = ctx.keys.issue_jwt({k: v for k, v in claims.items() if k != "mender.device"})
    user_like = ctx.keys.issue_jwt({**claims, "mender.device": False, "mender.user": True})
    other_issuer = ctx.keys.issue_jwt({**claims, "iss": "mender.useradm"})
    other_tenant = ctx.keys.issue_jwt({**claims, "mender.tenant": "tenant-2"})
    unknown_jti = ctx.keys.issue_jwt({**claims, "jti": "00000000-0000-4000-8000-000000000000"})
    wrong_subject = ctx.keys.issue_jwt({**claims, "sub": "another-device"})

    for token in (
        tampered, unsigned(claims), unsigned(claims, "None"), hs256, stranger, not_a_device, user_like,
        other_issuer, other_tenant, unknown_jti, wrong_subject, "garbage", f"{header}.{payload}", good + "x",
    ):
        await assert_refused(client, token)
    assert (await probe(client, good)).status == 200


async def test_expired_token_is_403_and_its_row_is_deleted(client: TestClient, ctx: Context, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    _, auth_set_id = await management.auth_set_for_key(device)
    fresh = device.token
    assert (await probe(client, fresh)).status == 200

    two_weeks_ago = time.time() - 2 * WEEK
    ctx.devauth.clock = lambda: two_weeks_ago
    try:
        stale = (await device.authenticate(client)).token
    finally:
        ctx.devauth.clock = time.time
    assert stale is not None and claims_of(stale)["exp"] < time.time()
    # The fresh token issued first keeps the row alive: an old expired token must not revoke it.
    await assert_refused(client, stale, 403)
    assert (await probe(client, fresh)).status == 200
    expired_claims = claims_of(stale)
    expired_user_token = ctx.keys.issue_jwt({**expired_claims, "iss": "mender.useradm", "mender.device": False})
    await assert_refused(client, expired_user_token, 401)

    async with ctx.db.write() as session:  # let the row expire too, as if no newer token had been issued
        row = await session.get(Token, auth_set_id)
        assert row is not None
        row.expires_at = row.expires_at.replace(year=2000)
    response = await probe(client, stale)
    assert response.status == 403
    async with ctx.db.read() as session:
        assert (await session.scalars(select(Token).where(Token.id == auth_set_id))).first() is None
    assert (await probe(client, fresh)).status == 401  # the row is gone: every token of the set is dead
    # The device simply asks again.
    renewed = (await device.authenticate(client)).token
    assert (await probe(client, renewed)).status == 200
    assert (await management.device(device_id))["status"] == "accepted"


async def test_asking_again_later_extends_the_token_row(client: TestClient, ctx: Context, management: Management) -> None:
    earlier = time.time() - 3 * 86400
    ctx.devauth.clock = lambda: earlier
    try:
        device, _ = await accepted_device(client, management)  # its token row expires in four days
        first = device.token
    finally:
        ctx.devauth.clock = time.time
    _, auth_set_id = await management.auth_set_for_key(device)
    second = (await device.authenticate(client)).token
    assert first is not None and second is not None and claims_of(second)["exp"] > claims_of(first)["exp"]
    async with ctx.db.read() as session:
        row = await session.get(Token, auth_set_id)
    assert row is not None and int(row.expires_at.timestamp()) == claims_of(second)["exp"]
    assert (await probe(client, first)).status == 200 and (await probe(client, second)).status == 200


async def test_each_revocation_works_at_once(client: TestClient, management: Management) -> None:
    """Every way of revoking a token; each time the token just worked (and may sit in the cache)."""
    revocations = {
        "reject": lambda device_id, auth_set_id: management.set_status(device_id, auth_set_id, "rejected"),
        "reset to pending": lambda device_id, auth_set_id: management.set_status(device_id, auth_set_id, "pending"),
        "delete auth set": lambda device_id, auth_set_id: management.call("DELETE", f"/devices/{device_id}/auth/{auth_set_id}"),
        "decommission": lambda device_id, auth_set_id: management.call("DELETE", f"/devices/{device_id}"),
        "revoke jti": lambda device_id, auth_set_id: management.call("DELETE", f"/tokens/{auth_set_id}"),
        "internal device tokens": lambda device_id, auth_set_id: client.delete(
            f"{INTERNAL}/tokens?tenant_id=&device_id={device_id}"
        ),
        "internal tenant tokens": lambda device_id, auth_set_id: client.delete(f"{INTERNAL}/tokens?tenant_id="),
    }
    for name, revoke in revocations.items():
        device, device_id = await accepted_device(client, management)
        bystander, _ = await accepted_device(client, management)
        _, auth_set_id = await management.auth_set_for_key(device)
        for _ in range(2):
            assert (await probe(client, device.token)).status == 200
            assert (await probe(client, bystander.token)).status == 200
        response = await revoke(device_id, auth_set_id)
        assert response.status == 204, name
        assert (await probe(client, device.token)).status == 401, name
        expected = 401 if name == "internal tenant tokens" else 200
        assert (await probe(client, bystander.token)).status == expected, name


async def test_older_tokens_of_the_same_auth_set_stay_valid(client: TestClient, management: Management) -> None:
    device, _ = await accepted_device(client, management)
    first = device.token
    second = (await device.authenticate(client)).token
    assert first is not None and second is not None
    assert claims_of(first)["jti"] == claims_of(second)["jti"]
    assert (await probe(client, first)).status == 200
    assert (await probe(client, second)).status == 200


async def test_tokens_are_signed_off_the_event_loop(
    client: TestClient, ctx: Context, management: Management, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RSA signing takes about a millisecond: other devices' requests must not wait for it."""
    signing_threads: list[threading.Thread] = []
    keys_class = type(ctx.keys)
    issue_jwt = keys_class.issue_jwt

    def recording_issue_jwt(keys: Any, claims: dict[str, Any]) -> str:
        signing_threads.append(threading.current_thread())
        return issue_jwt(keys, claims)

    monkeypatch.setattr(keys_class, "issue_jwt", recording_issue_jwt)
    device, device_id = await accepted_device(client, management)
    assert signing_threads and threading.main_thread() not in signing_threads
    assert (await probe(client, device.token)).status == 200
    assert claims_of(device.token)["sub"] == device_id
