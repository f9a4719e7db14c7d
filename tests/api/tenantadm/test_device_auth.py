"""Auth requests with a tenant token: the device joins that tenant; bad, expired, forged, unknown and
suspended tokens are refused; devices without a token keep joining the default tenant."""

from __future__ import annotations

import time

import jwt
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from menderlite.app import CONTEXT
from tests.api.tenantadm.helpers import (
    DEVAUTH,
    TenantAccount,
    claims_of,
    device_in_tenant,
)
from tests.support.devices import SimulatedDevice


def device_with_token(token: str) -> SimulatedDevice:
    device = SimulatedDevice.create()
    device.tenant_token = token
    return device


async def test_a_device_with_a_tenant_token_joins_that_tenant(client: TestClient, tenant_a: TenantAccount, user_headers: dict[str, str]) -> None:
    device, device_id = await device_in_tenant(client, tenant_a)
    claims = claims_of(device.token or "")
    assert claims["sub"] == device_id
    assert claims["mender.tenant"] == tenant_a.id and claims["mender.plan"] == "os" and claims["mender.device"] is True
    # its token works on device routes, in its tenant
    response = await client.get("/api/devices/v1/deployments/device/deployments/next?device_type=x&artifact_name=y", headers=device.auth_headers())
    assert response.status == 204
    # the default tenant's admin does not see it
    listed = await (await client.get(f"{DEVAUTH}/devices", headers=user_headers)).json()
    assert listed == []


async def test_a_device_without_a_tenant_token_joins_the_default_tenant(client: TestClient, tenant_a: TenantAccount, user_headers: dict[str, str]) -> None:
    device = SimulatedDevice.create()
    assert (await device.authenticate(client)).status == 401
    listed = await (await client.get(f"{DEVAUTH}/devices", headers=user_headers)).json()
    assert [record["identity_data"] for record in listed] == [device.identity]
    assert await (await client.get(f"{DEVAUTH}/devices", headers=tenant_a.headers)).json() == []


async def test_refused_tenant_tokens(client: TestClient, tenant_a: TenantAccount) -> None:
    keys = client.app[CONTEXT].keys
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = claims_of(tenant_a.token)
    tokens = {
        "garbage": "garbage",
        "forged with another key": jwt.encode(claims, foreign, algorithm="RS256"),
        "expired": jwt.encode({**claims, "iat": now - 100, "exp": now - 10}, keys.private_key, algorithm="RS256"),
        "unknown tenant": jwt.encode({**claims, "sub": "f" * 24, "mender.tenant": "f" * 24}, keys.private_key, algorithm="RS256"),
        "HS256": jwt.encode(claims, "a-shared-secret-that-is-not-the-rsa-key", algorithm="HS256"),
    }
    for what, token in tokens.items():
        result = await device_with_token(token).authenticate(client)
        assert result.status == 401, what
        assert result.json()["error"] == "tenant_token is invalid", what
    # nothing was recorded anywhere
    assert await client.app[CONTEXT].devauth.count_devices(tenant_a.id) == 0
    assert await client.app[CONTEXT].devauth.count_devices("") == 0


async def test_a_suspended_tenant_refuses_new_devices(client: TestClient, tenant_a: TenantAccount) -> None:
    await client.app[CONTEXT].tenantadm.set_status(tenant_a.id, "suspended")
    result = await device_with_token(tenant_a.token).authenticate(client)
    assert result.status == 401
    assert result.json()["error"] == "Account suspended"
    assert await client.app[CONTEXT].devauth.count_devices(tenant_a.id) == 0


async def test_the_device_limit_follows_the_plan(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    devauth = client.app[CONTEXT].devauth
    assert await devauth.get_limit(tenant_a.id, "max_devices") == 50
    assert await devauth.get_limit(tenant_b.id, "max_devices") == 250
    # a limit reached refuses acceptance (422), as devauth does for any tenant
    await devauth.set_limit(tenant_a.id, "max_devices", 1)
    await device_in_tenant(client, tenant_a)
    second = device_with_token(tenant_a.token)
    assert (await second.authenticate(client)).status == 401
    listed = await (await client.get(f"{DEVAUTH}/devices?status=pending", headers=tenant_a.headers)).json()
    [pending] = listed
    response = await client.put(
        f"{DEVAUTH}/devices/{pending['id']}/auth/{pending['auth_sets'][0]['id']}/status",
        json={"status": "accepted"}, headers=tenant_a.headers,
    )
    assert response.status == 422


async def test_the_same_identity_in_two_tenants_is_two_devices(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    identity = {"mac": "02:00:00:00:00:42"}
    _, in_a = await device_in_tenant(client, tenant_a, identity)
    _, in_b = await device_in_tenant(client, tenant_b, identity)
    assert in_a != in_b
    assert (await client.get(f"{DEVAUTH}/devices/{in_b}", headers=tenant_a.headers)).status == 404
