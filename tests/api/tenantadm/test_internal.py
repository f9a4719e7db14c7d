"""Internal API of tenantadm: verify, list/show/update tenants, the users view, account status."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from menderlite.app import CONTEXT
from tests.api.tenantadm.helpers import INTERNAL, TenantAccount, claims_of, make_tenant


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def resigned(token: str, key: Any, **changes: Any) -> str:
    """The token's claims with `changes`, signed RS256 with `key`."""
    claims = {**claims_of(token), **changes}
    return jwt.encode(claims, key, algorithm="RS256")


# --- verify ------------------------------------------------------------------------------------------------


async def test_verify_returns_the_tenant_of_a_valid_token(client: TestClient, tenant_a: TenantAccount) -> None:
    response = await client.post(f"{INTERNAL}/tenants/verify", headers=bearer(tenant_a.token))
    assert response.status == 200
    document = await response.json()
    assert (document["id"], document["name"], document["status"], document["plan"]) == (tenant_a.id, "Acme", "active", "os")
    assert set(document["api_limits"]) == {"management", "devices"}
    claims = claims_of(tenant_a.token)
    assert claims["sub"] == claims["mender.tenant"] == tenant_a.id
    assert claims["iss"] == "Mender" and claims["jti"] and claims["exp"] > time.time() + 5 * 365 * 86400


async def test_verify_refuses_bad_tokens(client: TestClient, tenant_a: TenantAccount) -> None:
    keys = client.app[CONTEXT].keys
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    tokens = {
        "missing": None,
        "garbage": "not.a.jwt",
        "forged with another key": resigned(tenant_a.token, foreign),
        "expired": resigned(tenant_a.token, keys.private_key, iat=now - 100, exp=now - 10),
        "unknown tenant": resigned(tenant_a.token, keys.private_key, sub="0" * 24, **{"mender.tenant": "0" * 24}),
        "sub is not the tenant": resigned(tenant_a.token, keys.private_key, sub="someone"),
        "replaced token": resigned(tenant_a.token, keys.private_key, jti="another-jti"),
        "foreign issuer": resigned(tenant_a.token, keys.private_key, iss="mender.useradm"),
        "a device token": resigned(tenant_a.token, keys.private_key, **{"mender.device": True}),
    }
    for what, token in tokens.items():
        response = await client.post(f"{INTERNAL}/tenants/verify", headers=bearer(token) if token else {})
        assert response.status == 401, what
        assert (await response.json())["error"] == "tenant_token is invalid", what


async def test_verify_of_a_suspended_tenant_says_account_suspended(client: TestClient, tenant_a: TenantAccount) -> None:
    await client.app[CONTEXT].tenantadm.set_status(tenant_a.id, "suspended")
    response = await client.post(f"{INTERNAL}/tenants/verify", headers=bearer(tenant_a.token))
    assert response.status == 401
    assert (await response.json())["error"] == "Account suspended"


# --- list and show ------------------------------------------------------------------------------------------


async def test_list_filters_by_q_and_username(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    async def ids(query: str) -> list[str]:
        response = await client.get(f"{INTERNAL}/tenants{query}")
        assert response.status == 200, await response.text()
        return [tenant["id"] for tenant in await response.json()]

    assert await ids("") == [tenant_a.id, tenant_b.id]
    assert await ids(f"?q={tenant_b.id}") == [tenant_b.id]  # the id, exactly
    assert await ids("?q=olt") == [tenant_b.id]  # a part of the name
    assert await ids("?q=acme.exa") == [tenant_a.id]  # a part of the admin's email
    assert await ids("?q=%25") == []  # LIKE wildcards are literal
    assert await ids("?username=admin@bolt.example") == [tenant_b.id]
    assert await ids("?username=ADMIN@acme.example") == [tenant_a.id]
    assert await ids("?username=nobody@example.com") == []


async def test_list_pages_with_links(client: TestClient) -> None:
    made = [await make_tenant(client, f"Org {n}", f"admin{n}@org{n}.example", log_in=False) for n in range(3)]
    response = await client.get(f"{INTERNAL}/tenants?per_page=2")
    assert [tenant["id"] for tenant in await response.json()] == [made[0].id, made[1].id]
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' not in response.headers["Link"]
    response = await client.get(f"{INTERNAL}/tenants?per_page=2&page=2")
    assert [tenant["id"] for tenant in await response.json()] == [made[2].id]
    assert 'rel="next"' not in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]
    for bad in ("page=0", "per_page=x", "per_page=501"):
        assert (await client.get(f"{INTERNAL}/tenants?{bad}")).status == 400


async def test_show_and_unknown_tenant(client: TestClient, tenant_a: TenantAccount) -> None:
    response = await client.get(f"{INTERNAL}/tenants/{tenant_a.id}")
    assert response.status == 200
    assert (await response.json())["tenant_token"] == tenant_a.token
    response = await client.get(f"{INTERNAL}/tenants/{'0' * 24}")
    assert response.status == 404 and (await response.json())["error"] == "tenant not found"


async def test_internal_api_is_for_internal_networks_only(client: TestClient, tenant_a: TenantAccount) -> None:
    from menderlite.web.guards import INTERNAL_NETWORKS

    client.app._state[INTERNAL_NETWORKS] = ()
    assert (await client.get(f"{INTERNAL}/tenants")).status == 403


# --- update -------------------------------------------------------------------------------------------------

LIMITS = {
    "management": {"quota": {"max_calls": 100, "interval_sec": 60}},
    "devices": {
        "quota": {"max_calls": 1000, "interval_sec": 60},
        "bursts": [{"action": "PATCH", "uri": "/api/devices/v1/inventory/device/attributes", "min_interval_sec": 10}],
    },
}


async def test_update_name_plan_limits_and_trial(client: TestClient, tenant_a: TenantAccount) -> None:
    body = {"name": "Acme Corp", "plan": "professional", "api_limits": LIMITS, "trial": True, "trial_expiration": "2030-01-01T00:00:00Z"}
    response = await client.put(f"{INTERNAL}/tenants/{tenant_a.id}", json=body)
    assert response.status == 204, await response.text()
    document = await (await client.get(f"{INTERNAL}/tenants/{tenant_a.id}")).json()
    assert (document["name"], document["plan"], document["trial"]) == ("Acme Corp", "professional", True)
    assert document["api_limits"] == LIMITS
    assert document["trial_expiration"].startswith("2030-01-01T00:00:00")
    assert await client.app[CONTEXT].devauth.get_limit(tenant_a.id, "max_devices") == 250
    # new logins carry the new plan
    from tests.support.users import login

    assert claims_of(await login(client, tenant_a.email, tenant_a.password))["mender.plan"] == "professional"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "no update information provided"),
        ({"name": ""}, "name: non zero value required"),
        ({"name": 5}, "name: must be a string"),
        ({"plan": "gold"}, "plan: must be one of os, professional, enterprise"),
        ({"api_limits": []}, "api_limits: must be an object"),
        ({"api_limits": {"web": {}}}, "api_limits: unknown key 'web'"),
        ({"api_limits": {"devices": {"quota": {"max_calls": -1}}}}, "api_limits.devices.quota.max_calls: must be a non-negative integer"),
        ({"api_limits": {"devices": {"bursts": [{"uri": 5}]}}}, "api_limits.devices.bursts[0].uri: must be a string"),
        ({"trial": "yes"}, "trial: must be true or false"),
        ({"trial_expiration": "tomorrow"}, "trial_expiration: must be an RFC 3339 time"),
    ],
)
async def test_bad_updates_are_400(client: TestClient, tenant_a: TenantAccount, body: dict[str, Any], message: str) -> None:
    response = await client.put(f"{INTERNAL}/tenants/{tenant_a.id}", json=body)
    assert response.status == 400
    assert (await response.json())["error"] == message


async def test_update_of_an_unknown_tenant_and_bad_json(client: TestClient, tenant_a: TenantAccount) -> None:
    assert (await client.put(f"{INTERNAL}/tenants/{'0' * 24}", json={"name": "x"})).status == 404
    assert (await client.put(f"{INTERNAL}/tenants/{tenant_a.id}", data=b"{", headers={"Content-Type": "application/json"})).status == 400
    assert (await client.put(f"{INTERNAL}/tenants/{tenant_a.id}", data=b"name=x", headers={"Content-Type": "text/plain"})).status == 415


# --- status -------------------------------------------------------------------------------------------------


async def test_status_changes(client: TestClient, tenant_a: TenantAccount) -> None:
    path = f"{INTERNAL}/tenants/{tenant_a.id}/status"
    assert (await client.put(path, json={"status": "suspended"})).status == 200
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).status == "suspended"
    assert (await client.put(path, json={"status": "active"})).status == 200
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).status == "active"
    for body in ({}, {"status": "inactive"}, {"status": "gone"}, {"status": 1}):
        assert (await client.put(path, json=body)).status == 400, body
    assert (await client.put(f"{INTERNAL}/tenants/{'0' * 24}/status", json={"status": "active"})).status == 404


# --- users (a view of useradm's users) ----------------------------------------------------------------------


async def test_users_list_filters_and_plans(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    response = await client.get(f"{INTERNAL}/users?tenant_id={tenant_b.id}")
    assert response.status == 200
    [user] = await response.json()
    assert (user["name"], user["tenant_id"], user["plan"]) == ("admin@bolt.example", tenant_b.id, "professional")
    by_name = await (await client.get(f"{INTERNAL}/users?name=admin@acme.example")).json()
    assert [found["tenant_id"] for found in by_name] == [tenant_a.id]
    by_id = await (await client.get(f"{INTERNAL}/users?id={user['id']}")).json()
    assert by_id == [user]
    assert await (await client.get(f"{INTERNAL}/users?login=github:1234")).json() == []
    response = await client.get(f"{INTERNAL}/users?per_page=1")
    assert len(await response.json()) == 1 and 'rel="next"' in response.headers["Link"]


async def test_users_create_update_delete(client: TestClient, tenant_a: TenantAccount) -> None:
    user_id = "8c1a4f58-7919-4c42-a656-10da91c41fe9"
    body = {"name": "second@acme.example", "id": user_id, "tenant_id": tenant_a.id}
    response = await client.post(f"{INTERNAL}/users", json=body)
    assert response.status == 201, await response.text()
    assert response.headers["Location"].endswith(user_id)
    [created] = await (await client.get(f"{INTERNAL}/users?id={user_id}")).json()
    assert created["tenant_id"] == tenant_a.id
    # the tenant's admin sees the new user in useradm
    listed = await (await client.get("/api/management/v1/useradm/users", headers=tenant_a.headers)).json()
    assert user_id in [user["id"] for user in listed]
    # duplicates: the name, the id
    assert (await client.post(f"{INTERNAL}/users", json={**body, "id": "other-id"})).status == 422
    assert (await client.post(f"{INTERNAL}/users", json={**body, "name": "third@acme.example"})).status == 422

    path = f"{INTERNAL}/tenants/{tenant_a.id}/users/{user_id}"
    assert (await client.put(path, json={"name": "renamed@acme.example"})).status == 204
    assert (await client.app[CONTEXT].useradm.find_users(user_id=user_id))[0].email == "renamed@acme.example"
    assert (await client.put(path, json={"name": tenant_a.email})).status == 422
    assert (await client.put(path, json={})).status == 400
    assert (await client.put(f"{INTERNAL}/tenants/{tenant_a.id}/users/unknown", json={"name": "x@acme.example"})).status == 404
    assert (await client.put(f"{INTERNAL}/tenants/{'0' * 24}/users/{user_id}", json={"name": "x@acme.example"})).status == 404

    assert (await client.delete(path)).status == 204
    assert await client.app[CONTEXT].useradm.find_users(user_id=user_id) == []
    assert (await client.delete(path)).status == 204


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"id": "u1", "tenant_id": "t"}, 400),
        ({"name": "bad", "id": "u1", "tenant_id": "t"}, 400),
        ({"name": "a@b.example", "tenant_id": "t"}, 400),
        ({"name": "a@b.example", "id": "u1"}, 400),
        ({"name": "a@b.example", "id": "x" * 37, "tenant_id": "t"}, 400),
        ({"name": "a@b.example", "id": "u1", "tenant_id": "0" * 24}, 404),
    ],
)
async def test_bad_user_creation(client: TestClient, body: dict[str, Any], status: int) -> None:
    assert (await client.post(f"{INTERNAL}/users", json=body)).status == status


async def test_a_user_created_internally_has_no_usable_password(client: TestClient, tenant_a: TenantAccount) -> None:
    import base64

    body = {"name": "nopass@acme.example", "id": "nopass-user", "tenant_id": tenant_a.id}
    assert (await client.post(f"{INTERNAL}/users", json=body)).status == 201
    for password in ("", "password", tenant_a.password):
        credentials = base64.b64encode(f"nopass@acme.example:{password}".encode()).decode()
        response = await client.post("/api/management/v1/useradm/auth/login", headers={"Authorization": f"Basic {credentials}"})
        assert response.status == 401
