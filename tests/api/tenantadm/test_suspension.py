"""Suspending a tenant cuts its users and devices off at once; activating lets them back in. A suspension
made by another process (the CLI) reaches the running server's token caches."""

from __future__ import annotations

import base64

import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT, create_app
from tests.api.tenantadm.helpers import INTERNAL, TenantAccount, device_in_tenant

USERS = "/api/management/v1/useradm/users"
NEXT = "/api/devices/v1/deployments/device/deployments/next?device_type=x&artifact_name=y"


@pytest.fixture(autouse=True)
def no_background_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server polls for suspensions made elsewhere right at start and then every few seconds; these
    tests call `sync_suspensions` themselves, so the poll after the first waits for an hour."""
    import menderlite.tenantadm

    monkeypatch.setattr(menderlite.tenantadm, "SUSPENSION_POLL_SECONDS", 3600.0)


async def login_response(client: TestClient, tenant: TenantAccount) -> tuple[int, str]:
    credentials = base64.b64encode(f"{tenant.email}:{tenant.password}".encode()).decode()
    response = await client.post("/api/management/v1/useradm/auth/login", headers={"Authorization": f"Basic {credentials}"})
    return response.status, await response.text()


async def test_suspension_cuts_users_and_devices_off(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    device, _ = await device_in_tenant(client, tenant_a)
    other_device, _ = await device_in_tenant(client, tenant_b)
    assert (await client.get(USERS, headers=tenant_a.headers)).status == 200  # warm the caches
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 204

    response = await client.put(f"{INTERNAL}/tenants/{tenant_a.id}/status", json={"status": "suspended"})
    assert response.status == 200

    assert (await client.get(USERS, headers=tenant_a.headers)).status == 401
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 401
    status, body = await login_response(client, tenant_a)
    assert status == 401 and '"tenant account suspended"' in body
    refused = await device.authenticate(client)
    assert refused.status == 401 and refused.json()["error"] == "Account suspended"
    # the other tenant is untouched
    assert (await client.get(USERS, headers=tenant_b.headers)).status == 200
    assert (await client.get(NEXT, headers=other_device.auth_headers())).status == 204


async def test_activation_lets_them_back_in(client: TestClient, tenant_a: TenantAccount) -> None:
    device, _ = await device_in_tenant(client, tenant_a)
    tenantadm = client.app[CONTEXT].tenantadm
    await tenantadm.set_status(tenant_a.id, "suspended")
    await tenantadm.set_status(tenant_a.id, "active")
    assert (await login_response(client, tenant_a))[0] == 200
    renewed = await device.authenticate(client)  # its auth set is still accepted
    assert renewed.status == 200
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 204


async def test_a_suspension_by_another_process_reaches_the_caches(client: TestClient, tenant_a: TenantAccount) -> None:
    ctx = client.app[CONTEXT]
    device, _ = await device_in_tenant(client, tenant_a)
    assert await ctx.tenantadm.sync_suspensions() == []  # the server's first look
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 204  # cached verdict now
    assert (await client.get(USERS, headers=tenant_a.headers)).status == 200

    # what `menderlite tenant suspend` does: its own service objects (and caches) on the same database
    other = create_app(ctx.settings)[CONTEXT]
    try:
        await other.tenantadm.set_status(tenant_a.id, "suspended")
    finally:
        await other.useradm.close()
        await other.db.close()
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 204  # still cached: the gap

    assert await ctx.tenantadm.sync_suspensions() == [tenant_a.id]
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 401
    assert (await client.get(USERS, headers=tenant_a.headers)).status == 401
    assert await ctx.tenantadm.sync_suspensions() == []  # once


async def test_a_token_from_before_the_suspension_opens_nothing(client: TestClient, tenant_a: TenantAccount) -> None:
    device, _ = await device_in_tenant(client, tenant_a)
    assert (await client.get("/api/management/v1/tenantadm/user/tenant", headers=tenant_a.headers)).status == 200
    await client.app[CONTEXT].tenantadm.set_status(tenant_a.id, "suspended")
    form = {"organization": "Spawn", "email": "spawn@acme.example", "password": "spawn-password-1"}
    attempts = [
        ("GET", "/api/management/v1/tenantadm/user/tenant", None),
        ("POST", "/api/management/v2/tenantadm/secret", None),
        ("POST", f"/api/management/v2/tenantadm/tenants/{tenant_a.id}/upgrade/start", None),
        ("POST", f"/api/management/v2/tenantadm/tenants/{tenant_a.id}/cancel", {"reason": "r"}),
        ("GET", "/api/management/v2/devauth/devices", None),
        ("GET", "/api/management/v1/inventory/devices", None),
        ("GET", "/api/management/v1/deployments/artifacts", None),
        ("POST", "/api/management/v1/useradm/users", {"email": "new@acme.example", "password": "new-password-1"}),
        ("GET", "/api/management/v1/useradm/settings", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=tenant_a.headers)
        assert response.status == 401, f"{method} {path}: {response.status}"
    for path in ("/api/management/v1/tenantadm/tenants", "/api/management/v2/tenantadm/tenants"):
        response = await client.post(path, data=form, headers=tenant_a.headers)
        assert response.status in (401, 403), f"{path}: {response.status}"
    response = await client.post("/api/internal/v1/useradm/auth/verify", headers={
        **tenant_a.headers, "X-Original-URI": "/api/management/v1/useradm/users", "X-Original-Method": "GET"})
    assert response.status == 401
    assert (await client.get(NEXT, headers=device.auth_headers())).status == 401
