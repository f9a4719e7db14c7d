"""Login: the bare JWT and its claims, wrong credentials, and the management guard's token checks."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from menderlite.context import Context
from menderlite.tokens import Keys
from tests.api.useradm.conftest import (
    INTERNAL,
    LOGIN,
    PASSWORD,
    USERADM,
    MakeUser,
    basic,
    bearer,
    claims_of,
    login,
    token_for,
)

USERS = f"{USERADM}/users"


async def test_login_returns_the_bare_jwt_with_the_documented_claims(client: TestClient, ctx: Context) -> None:
    user = await ctx.useradm.create_user("", "alice@example.com", PASSWORD)
    before = int(time.time())
    response = await login(client, "alice@example.com")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/jwt"
    body = await response.read()
    assert not body.endswith(b"\n") and not body.startswith(b'"')
    token = body.decode()
    assert token.count(".") == 2
    claims = ctx.keys.verify_jwt(token, issuer="mender.useradm")  # RS256 with the server's key
    assert claims["sub"] == user.id == str(uuid.uuid5(uuid.NAMESPACE_OID, "alice@example.com"))
    assert claims["iss"] == "mender.useradm"
    assert claims["mender.user"] is True
    assert claims["mender.plan"] == "enterprise"
    assert claims["scp"] == "mender.*"
    assert "mender.tenant" not in claims  # default tenant
    assert uuid.UUID(claims["jti"]).version == 4
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 604800
    # The token works on a management route.
    assert (await client.get(USERS, headers=bearer(token))).status == 200


async def test_login_of_a_tenant_user_carries_the_tenant(client: TestClient, ctx: Context) -> None:
    await ctx.useradm.create_user("tenant-a", "bob@example.com", PASSWORD)
    claims = claims_of(await token_for(client, "bob@example.com"))
    assert claims["mender.tenant"] == "tenant-a"


async def test_issuer_and_lifetime_come_from_the_configuration(aiohttp_client, make_settings) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import CONTEXT, create_app

    app = create_app(make_settings(useradm={"jwt_issuer": "my-issuer", "jwt_expiration_seconds": 120}))
    client = await aiohttp_client(app)
    await app[CONTEXT].useradm.create_user("", "carol@example.com", PASSWORD)
    token = await token_for(client, "carol@example.com")
    claims = claims_of(token)
    assert claims["iss"] == "my-issuer"
    assert claims["exp"] - claims["iat"] == 120
    assert (await client.get(USERS, headers=bearer(token))).status == 200


async def test_email_is_case_insensitive(client: TestClient, ctx: Context) -> None:
    await ctx.useradm.create_user("", "Dave@Example.COM", PASSWORD)
    assert (await login(client, "dave@example.com")).status == 200
    assert (await login(client, "DAVE@example.com")).status == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("erin@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("erin@example.com", "")],
)
async def test_wrong_credentials_give_401_unauthorized_without_saying_why(
    client: TestClient, ctx: Context, email: str, password: str
) -> None:
    await ctx.useradm.create_user("", "erin@example.com", PASSWORD)
    response = await login(client, email, password)
    assert response.status == 401
    body = await response.json()
    assert body["error"] == "unauthorized"
    assert body["request_id"] == response.headers["X-MEN-RequestID"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer abc", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + base64.b64encode(b":pw").decode()],
)
async def test_missing_or_malformed_basic_auth(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post(LOGIN, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "invalid or missing auth header"


async def test_login_body_must_be_json_when_present(client: TestClient, ctx: Context) -> None:
    await ctx.useradm.create_user("", "frank@example.com", PASSWORD)
    auth = basic("frank@example.com", PASSWORD)
    bad_json = await client.post(LOGIN, data="{", headers={**auth, "Content-Type": "application/json"})
    assert bad_json.status == 400
    assert (await bad_json.json())["error"].startswith("failed to decode request body")
    wrong_type = await client.post(LOGIN, data="x", headers={**auth, "Content-Type": "text/plain"})
    assert wrong_type.status == 415
    bad_code_type = await client.post(LOGIN, headers=auth, json={"token2fa": 123456})
    assert bad_code_type.status == 400
    # A code sent although 2FA is off is ignored, as is an empty JSON object.
    assert (await client.post(LOGIN, headers=auth, json={"token2fa": "123456"})).status == 200
    assert (await client.post(LOGIN, headers=auth, json={})).status == 200


# --- the management guard ----------------------------------------------------------------------------------


async def test_missing_token_gives_401_json(client: TestClient) -> None:
    response = await client.get(USERS)
    assert response.status == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert (await response.json())["error"] == "missing or invalid auth header"
    assert (await client.get(USERS, headers={"Authorization": "Basic abc"})).status == 401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
async def test_malformed_token_gives_401(client: TestClient, token: str) -> None:
    response = await client.get(USERS, headers=bearer(token))
    assert response.status == 401
    assert (await response.json())["error"] == "invalid jwt"


async def test_expired_token_gives_401(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    _, headers = await make_user("gina@example.com")
    claims = claims_of(headers["Authorization"].removeprefix("Bearer "))
    claims["exp"] = int(time.time()) - 1  # same jti, still recorded: only the expiry is wrong
    expired = ctx.keys.issue_jwt(claims)
    response = await client.get(USERS, headers=bearer(expired))
    assert response.status == 401
    assert (await response.json())["error"] == "invalid jwt"


async def test_foreign_issuer_and_foreign_key_give_401(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    _, headers = await make_user("hank@example.com")
    claims = claims_of(headers["Authorization"].removeprefix("Bearer "))
    foreign_issuer = ctx.keys.issue_jwt({**claims, "iss": "Mender"})
    assert (await client.get(USERS, headers=bearer(foreign_issuer))).status == 401
    other_keys = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048), b"x" * 32)
    forged = other_keys.issue_jwt(claims)
    assert (await client.get(USERS, headers=bearer(forged))).status == 401


async def test_a_signed_token_that_was_never_issued_is_refused(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    user_id, headers = await make_user("ivy@example.com")
    claims = claims_of(headers["Authorization"].removeprefix("Bearer "))
    unknown_jti = ctx.keys.issue_jwt({**claims, "jti": str(uuid.uuid4())})
    response = await client.get(USERS, headers=bearer(unknown_jti))
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    device_like = ctx.keys.issue_jwt({**claims, "mender.user": False, "mender.device": True})
    assert (await client.get(USERS, headers=bearer(device_like))).status == 401
    other_tenant = ctx.keys.issue_jwt({**claims, "mender.tenant": "someone-else"})
    assert (await client.get(USERS, headers=bearer(other_tenant))).status == 401


async def test_revoked_token_stops_working_at_once(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("jack@example.com", tenant_id="t1")
    assert (await client.get(USERS, headers=headers)).status == 200  # now cached by the guard
    response = await client.delete(f"{INTERNAL}/tokens", params={"tenant_id": "t1"})
    assert response.status == 204
    assert (await client.get(USERS, headers=headers)).status == 401


async def test_token_of_a_deleted_user_stops_working_at_once(client: TestClient, make_user: MakeUser) -> None:
    _, admin = await make_user("admin2@example.com")
    victim_id, victim = await make_user("kate@example.com")
    assert (await client.get(USERS, headers=victim)).status == 200
    assert (await client.delete(f"{USERS}/{victim_id}", headers=admin)).status == 204
    assert (await client.get(USERS, headers=victim)).status == 401
    assert (await login(client, "kate@example.com")).status == 401


async def test_expired_token_rows_are_cleaned_up_on_login(client: TestClient, ctx: Context) -> None:
    from sqlalchemy import func, select, update

    from menderlite.db import utcnow
    from menderlite.useradm.models import Token

    await ctx.useradm.create_user("", "leo@example.com", PASSWORD)
    await token_for(client, "leo@example.com")
    async with ctx.db.write() as session:
        await session.execute(update(Token).values(expires_at=utcnow() - timedelta(seconds=1)))
    await token_for(client, "leo@example.com")
    async with ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Token)) == 1
