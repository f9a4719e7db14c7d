"""The internal useradm API: auth/verify, plan/verify, tenants, tenant users, token revocation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bcrypt
import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT, create_app
from menderlite.context import Context
from tests.api.useradm.conftest import (
    INTERNAL,
    PASSWORD,
    USERADM,
    MakeUser,
    bearer,
    claims_of,
    login,
    token_for,
)

VERIFY = f"{INTERNAL}/auth/verify"
PLAN = f"{INTERNAL}/plan/verify"
USERS = f"{USERADM}/users"


def forwarded(headers: dict[str, str], method: str = "GET", uri: str = USERS) -> dict[str, str]:
    return {**headers, "X-Original-Method": method, "X-Original-URI": uri}


async def test_alive_and_health(client: TestClient) -> None:
    assert (await client.get(f"{INTERNAL}/alive")).status == 204
    assert (await client.get(f"{INTERNAL}/health")).status == 204


async def test_verify_accepts_a_valid_token(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("ops@example.com")
    response = await client.post(VERIFY, headers=forwarded(headers, "POST", f"{USERS}?page=2"))
    assert response.status == 200
    assert await response.read() == b""
    assert (await client.get(VERIFY, headers=forwarded(headers))).status == 200
    alternative = {**headers, "X-Forwarded-Method": "GET", "X-Forwarded-URI": USERS}
    assert (await client.post(VERIFY, headers=alternative)).status == 200
    lowercase_scheme = {"Authorization": headers["Authorization"].replace("Bearer", "bearer")}
    assert (await client.post(VERIFY, headers=forwarded(lowercase_scheme))).status == 200


async def test_verify_applies_rbac_to_the_forwarded_request(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("watcher@example.com", roles=["RBAC_ROLE_OBSERVER"])
    assert (await client.post(VERIFY, headers=forwarded(headers, "GET", "/api/management/v1/deployments/deployments"))).status == 200
    denied = await client.post(VERIFY, headers=forwarded(headers, "POST", "/api/management/v1/deployments/deployments"))
    assert denied.status == 403
    assert (await denied.json())["error"] == "forbidden"
    encoded = await client.post(VERIFY, headers=forwarded(headers, "DELETE", "/api/management/v1/useradm/users/x%2Fy"))
    assert encoded.status == 403


async def test_verify_refusals(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    user_id, headers = await make_user("quit@example.com")
    missing = await client.post(VERIFY, headers=forwarded({}))
    assert missing.status == 401 and (await missing.json())["error"] == "missing or invalid auth header"
    garbage = await client.post(VERIFY, headers=forwarded(bearer("not-a-jwt")))
    assert garbage.status == 401 and (await garbage.json())["error"] == "invalid jwt"
    claims = claims_of(headers["Authorization"].removeprefix("Bearer "))
    expired = ctx.keys.issue_jwt({**claims, "exp": claims["iat"] - 1})
    assert (await client.post(VERIFY, headers=forwarded(bearer(expired)))).status == 401  # useradm: 401, not 403
    for incomplete in ({**headers, "X-Original-URI": USERS}, {**headers, "X-Original-Method": "GET"}):
        response = await client.post(VERIFY, headers=incomplete)
        assert response.status == 400
    short = await client.post(VERIFY, headers=forwarded(headers, "GET", "/api/x"))
    assert short.status == 400
    await ctx.useradm.delete_user("", user_id)
    gone = await client.post(VERIFY, headers=forwarded(headers))
    assert gone.status == 401 and (await gone.json())["error"] == "unauthorized"


@pytest.mark.parametrize(("plan", "required", "status"), [
    ("enterprise", "os", 200), ("enterprise", "professional", 200), ("enterprise", "enterprise", 200),
    ("professional", "os", 200), ("professional", "professional", 200), ("professional", "enterprise", 401),
    ("os", "os", 200), ("os", "professional", 401),
])
async def test_plan_verify(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], plan: str, required: str, status: int) -> None:
    app = create_app(make_settings(tenantadm={"default_plan": plan}))
    client = await aiohttp_client(app)
    await app[CONTEXT].useradm.create_user("", "planner@example.com", PASSWORD)
    headers = bearer(await token_for(client, "planner@example.com"))
    response = await client.post(PLAN, headers={**headers, "X-Mender-Required-Minimal-Plan": required})
    assert response.status == status


async def test_plan_verify_refusals(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("p@example.com")
    assert (await client.post(PLAN, headers={"X-Mender-Required-Minimal-Plan": "os"})).status == 401
    assert (await client.post(PLAN, headers=headers)).status == 400
    unknown = await client.post(PLAN, headers={**headers, "X-Mender-Required-Minimal-Plan": "gold"})
    assert unknown.status == 400


async def test_create_tenant_and_its_users(client: TestClient, ctx: Context) -> None:
    assert (await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "5f8ca3d0b1e1c2a3b4c5d6e7"})).status == 201
    assert (await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "5f8ca3d0b1e1c2a3b4c5d6e7"})).status == 201  # idempotent
    created = await client.post(
        f"{INTERNAL}/tenants/5f8ca3d0b1e1c2a3b4c5d6e7/users", json={"email": "owner@tenant.example", "password": PASSWORD, "propagate": False}
    )
    assert created.status == 201
    token = await token_for(client, "owner@tenant.example")
    assert claims_of(token)["mender.tenant"] == "5f8ca3d0b1e1c2a3b4c5d6e7"
    listed = await (await client.get(USERS, headers=bearer(token))).json()
    assert [user["email"] for user in listed] == ["owner@tenant.example"]
    duplicate = await client.post(f"{INTERNAL}/tenants/5f8ca3d0b1e1c2a3b4c5d6e7/users", json={"email": "owner@tenant.example", "password": PASSWORD})
    assert duplicate.status == 422
    assert (await duplicate.json())["error"] == "user with a given email already exists"


async def test_tenant_user_with_a_password_hash(client: TestClient) -> None:
    await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "t-hash"})
    password_hash = bcrypt.hashpw(b"imported-password", bcrypt.gensalt(4)).decode()
    body = {"email": "imported@example.com", "password_hash": password_hash, "propagate": False}
    assert (await client.post(f"{INTERNAL}/tenants/t-hash/users", json=body)).status == 201
    assert (await login(client, "imported@example.com", "imported-password")).status == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"email": "x@example.com"}, 400, "password: non zero value required"),
        ({"email": "x@example.com", "password": "short"}, 422, "password too short"),
        ({"email": "x@example.com", "password": PASSWORD, "password_hash": "$2b$04$" + "a" * 53}, 400, "password and password_hash are mutually exclusive"),
        ({"email": "x@example.com", "password_hash": "$2b$04$" + "a" * 53}, 400, "password_hash cannot be used together with propagate"),
        ({"email": "x@example.com", "password_hash": "plain", "propagate": False}, 400, "password_hash: not a bcrypt hash"),
        ({"email": "x@example.com", "password": PASSWORD, "propagate": "yes"}, 400, "propagate: must be true or false"),
        ({"password": PASSWORD}, 400, "email: non zero value required"),
    ],
)
async def test_tenant_user_bad_input(client: TestClient, body: dict, status: int, error: str) -> None:
    await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "t-bad"})
    response = await client.post(f"{INTERNAL}/tenants/t-bad/users", json=body)
    assert response.status == status
    assert (await response.json())["error"] == error


async def test_tenant_user_of_an_unknown_tenant_is_404(client: TestClient) -> None:
    response = await client.post(f"{INTERNAL}/tenants/unknown/users", json={"email": "x@example.com", "password": PASSWORD})
    assert response.status == 404
    assert (await response.json())["error"] == "tenant not found"


async def test_tenant_created_event_registers_the_tenant(client: TestClient, ctx: Context) -> None:
    from menderlite.events import TenantCreated

    async with ctx.db.write() as session:
        await ctx.events.publish(TenantCreated(tenant_id="from-event", name="Acme"), session)
    response = await client.post(f"{INTERNAL}/tenants/from-event/users", json={"email": "acme@example.com", "password": PASSWORD})
    assert response.status == 201


@pytest.mark.parametrize("body", [{}, {"tenant_id": ""}, {"tenant_id": 5}])
async def test_create_tenant_bad_input(client: TestClient, body: dict) -> None:
    response = await client.post(f"{INTERNAL}/tenants", json=body)
    assert response.status == 400


async def test_delete_tokens_of_a_tenant_or_one_user(client: TestClient, make_user: MakeUser) -> None:
    first_id, first = await make_user("one@t.example", tenant_id="t-tokens")
    _, second = await make_user("two@t.example", tenant_id="t-tokens")
    _, elsewhere = await make_user("three@u.example", tenant_id="t-other")
    for headers in (first, second, elsewhere):
        assert (await client.get(USERS, headers=headers)).status == 200
    response = await client.delete(f"{INTERNAL}/tokens", params={"tenant_id": "t-tokens", "user_id": first_id})
    assert response.status == 204
    assert (await client.get(USERS, headers=first)).status == 401
    assert (await client.get(USERS, headers=second)).status == 200
    assert (await client.delete(f"{INTERNAL}/tokens", params={"tenant_id": "t-tokens"})).status == 204
    assert (await client.get(USERS, headers=second)).status == 401
    assert (await client.get(USERS, headers=elsewhere)).status == 200
    assert (await login(client, "two@t.example")).status == 200  # logging in again works


@pytest.mark.parametrize("params", [{}, {"tenant_id": ""}, {"user_id": "x"}])
async def test_delete_tokens_needs_a_tenant(client: TestClient, params: dict) -> None:
    response = await client.delete(f"{INTERNAL}/tokens", params=params)
    assert response.status == 400
    assert (await response.json())["error"] == "tenant_id must be provided"


async def test_internal_api_is_refused_outside_the_internal_networks(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings(server={"internal_networks": ["10.0.0.0/8"]}))
    client = await aiohttp_client(app)
    assert (await client.delete(f"{INTERNAL}/tokens", params={"tenant_id": "t"})).status == 403
    assert (await client.post(VERIFY)).status == 403
