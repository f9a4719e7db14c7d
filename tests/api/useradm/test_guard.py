"""The management guard on EVERY management route of every service: a missing, malformed, expired, forged,
foreign-issuer, revoked or dead user's token gives 401 JSON before the route runs; login and password reset
stay public."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from menderlite.context import Context
from menderlite.tokens import Keys
from tests.api.useradm.conftest import (
    INTERNAL,
    USERADM,
    MakeUser,
    bearer,
    claims_of,
    management_routes,
)

USERS = f"{USERADM}/users"


@pytest.fixture(scope="module")
def foreign_keys() -> Keys:
    return Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048), b"x" * 32)


async def assert_every_route_refuses(client: TestClient, headers: dict[str, str], error: str) -> None:
    wrong = []
    for route in management_routes(client):
        body = {} if route.method in ("POST", "PUT", "PATCH") else None
        response = await client.request(route.method, route.path, json=body, headers=headers)
        if response.status != 401 or not response.headers["Content-Type"].startswith("application/json"):
            wrong.append(f"{route}: {response.status}")
        elif (await response.json())["error"] != error:
            wrong.append(f"{route}: {(await response.json())['error']}")
    assert not wrong, wrong


async def test_no_token(client: TestClient) -> None:
    await assert_every_route_refuses(client, {}, "missing or invalid auth header")
    await assert_every_route_refuses(client, {"Authorization": "Basic YWRtaW46YWRtaW4="}, "missing or invalid auth header")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
async def test_malformed_token(client: TestClient, token: str) -> None:
    await assert_every_route_refuses(client, bearer(token), "invalid jwt")


async def test_expired_forged_and_foreign_tokens(client: TestClient, ctx: Context, make_user: MakeUser, foreign_keys: Keys) -> None:
    _, headers = await make_user("guarded@example.com")
    claims = claims_of(headers["Authorization"].removeprefix("Bearer "))
    assert (await client.get(USERS, headers=headers)).status == 200  # the real token works (and is now cached)
    expired = ctx.keys.issue_jwt({**claims, "exp": int(time.time()) - 1})  # same jti, still recorded
    await assert_every_route_refuses(client, bearer(expired), "invalid jwt")
    await assert_every_route_refuses(client, bearer(ctx.keys.issue_jwt({**claims, "iss": "Mender"})), "invalid jwt")
    await assert_every_route_refuses(client, bearer(foreign_keys.issue_jwt(claims)), "invalid jwt")
    alg_none = headers["Authorization"].removeprefix("Bearer ").rsplit(".", 1)[0] + "."
    await assert_every_route_refuses(client, bearer(alg_none), "invalid jwt")


async def test_revoked_token(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("revoked@example.com", tenant_id="t-guard")
    assert (await client.get(USERS, headers=headers)).status == 200
    assert (await client.delete(f"{INTERNAL}/tokens", params={"tenant_id": "t-guard"})).status == 204
    await assert_every_route_refuses(client, headers, "unauthorized")


async def test_deleted_users_token(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    user_id, headers = await make_user("leaver@example.com")
    assert (await client.get(USERS, headers=headers)).status == 200
    assert (await client.delete(f"{USERS}/{user_id}", headers=user_headers)).status == 204
    await assert_every_route_refuses(client, headers, "unauthorized")


async def test_public_useradm_routes_need_no_token(client: TestClient) -> None:
    assert (await client.post(f"{USERADM}/auth/login")).status == 401  # Basic auth, not a token
    assert (await client.post(f"{USERADM}/auth/password-reset/start", json={"email": "x@example.com"})).status == 202
    assert (await client.post(f"{USERADM}/auth/password-reset/complete", json={"secret": "x", "password": "long-enough"})).status == 400
