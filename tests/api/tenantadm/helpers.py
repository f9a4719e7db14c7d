"""Helpers for the tenantadm API tests: tenants made through the service layer, their admins logged in over
HTTP, devices joining with a tenant token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from menderlite.tenantadm.service import NewAccount, TenantInfo
from tests.support.devices import SimulatedDevice
from tests.support.users import login

V1 = "/api/management/v1/tenantadm"
V2 = "/api/management/v2/tenantadm"
INTERNAL = "/api/internal/v1/tenantadm"
DEVAUTH = "/api/management/v2/devauth"
PASSWORD = "tenant-password-1"


@dataclass
class TenantAccount:
    info: TenantInfo
    email: str
    password: str
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def token(self) -> str:
        return self.info.tenant_token


async def make_tenant(
    client: TestClient, name: str, email: str, *, plan: str = "os", status: str = "active", log_in: bool = True
) -> TenantAccount:
    tenantadm = client.app[CONTEXT].tenantadm
    info = await tenantadm.create_tenant(NewAccount(name, email, PASSWORD, plan), status=status)
    headers = {"Authorization": f"Bearer {await login(client, email, PASSWORD)}"} if log_in else {}
    return TenantAccount(info, email, PASSWORD, headers)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def device_in_tenant(client: TestClient, tenant: TenantAccount, identity: dict[str, Any] | None = None) -> tuple[SimulatedDevice, str]:
    """A device that asked to join `tenant` with its tenant token (401, pending), was accepted by the
    tenant's admin, and holds a token. Returns the device and its id."""
    device = SimulatedDevice.create("ed25519", identity)
    device.tenant_token = tenant.token
    pending = await device.authenticate(client)
    assert pending.status == 401, pending.body
    device_id, auth_set_id = await pending_auth_set(client, tenant.headers, device)
    response = await client.put(
        f"{DEVAUTH}/devices/{device_id}/auth/{auth_set_id}/status", json={"status": "accepted"}, headers=tenant.headers
    )
    assert response.status == 204, await response.text()
    accepted = await device.authenticate(client)
    assert accepted.status == 200, accepted.body
    return device, device_id


async def pending_auth_set(client: TestClient, headers: dict[str, str], device: SimulatedDevice) -> tuple[str, str]:
    response = await client.get(f"{DEVAUTH}/devices?per_page=500", headers=headers)
    assert response.status == 200, await response.text()
    for record in await response.json():
        if record["identity_data"] == device.identity:
            return record["id"], record["auth_sets"][-1]["id"]
    raise AssertionError(f"device {json.dumps(device.identity)} is not listed")
