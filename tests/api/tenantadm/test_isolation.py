"""Tenant isolation through the real services: with two tenants created by tenantadm, devices joined by
tenant token, artifacts, deployments and users made by each tenant's admin, neither tenant (nor the default
tenant) sees or touches the other's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from menderlite.artifact.writer import write_single_file_artifact
from tests.api.tenantadm.helpers import DEVAUTH, TenantAccount, device_in_tenant
from tests.support.devices import SimulatedDevice

INVENTORY = "/api/management/v1/inventory"
INVENTORY_V2 = "/api/management/v2/inventory"
DEPLOYMENTS = "/api/management/v1/deployments"
USERS = "/api/management/v1/useradm/users"
DEVICE_INVENTORY = "/api/devices/v1/inventory/device/attributes"
DEVICE_NEXT = "/api/devices/v1/deployments/device/deployments/next"


async def ok(response: aiohttp.ClientResponse, status: int = 200) -> Any:
    body = await response.text()
    assert response.status == status, f"{response.method} {response.url}: {response.status} {body}"
    return json.loads(body) if body else None


async def upload_artifact(client: TestClient, headers: dict[str, str], path: Path) -> str:
    form = aiohttp.FormData()
    form.add_field("artifact", path.read_bytes(), filename=path.name, content_type="application/octet-stream")
    response = await client.post(f"{DEPLOYMENTS}/artifacts", data=form, headers=headers)
    await ok(response, 201)
    return response.headers["Location"].rsplit("/", 1)[1]


def artifact_file(tmp_path: Path, name: str) -> Path:
    payload = tmp_path / f"{name}.txt"
    payload.write_text(f"{name}\n")
    output = tmp_path / f"{name}.mender"
    write_single_file_artifact(
        output, name=name, device_types=["qemux86-64"], file_path=payload, file_name="hello.txt", dest_dir="/tmp"
    )
    return output


class TenantWorld:
    """What one tenant's admin made: a device (with inventory), an artifact, a deployment, a second user."""

    def __init__(self, tenant: TenantAccount) -> None:
        self.tenant = tenant
        self.device: SimulatedDevice | None = None
        self.device_id = ""
        self.artifact_id = ""
        self.deployment_id = ""
        self.user_id = ""

    async def build(self, client: TestClient, tmp_path: Path, label: str) -> TenantWorld:
        headers = self.tenant.headers
        # the same identity in both tenants: isolation must not rely on identities differing
        self.device, self.device_id = await device_in_tenant(client, self.tenant, {"mac": "02:00:00:00:00:01"})
        attributes = [{"name": "device_type", "value": "qemux86-64"}, {"name": "artifact_name", "value": "initial"},
                      {"name": "colour", "value": label}]
        await ok(await client.patch(DEVICE_INVENTORY, json=attributes, headers=self.device.auth_headers()), 200)
        self.artifact_id = await upload_artifact(client, headers, artifact_file(tmp_path, f"release-{label}"))
        response = await client.post(
            f"{DEPLOYMENTS}/deployments",
            json={"name": f"rollout-{label}", "artifact_name": f"release-{label}", "devices": [self.device_id]},
            headers=headers,
        )
        await ok(response, 201)
        self.deployment_id = response.headers["Location"].rsplit("/", 1)[1]
        response = await client.post(USERS, json={"email": f"second@{label}.example", "password": "second-password"}, headers=headers)
        await ok(response, 201)
        self.user_id = response.headers["Location"].rsplit("/", 1)[1]
        return self


async def test_two_tenants_never_see_each_other(
    client: TestClient, tmp_path: Path, tenant_a: TenantAccount, tenant_b: TenantAccount, user_headers: dict[str, str]
) -> None:
    a = await TenantWorld(tenant_a).build(client, tmp_path, "a")
    b = await TenantWorld(tenant_b).build(client, tmp_path, "b")

    for mine, theirs in ((a, b), (b, a)):
        headers = mine.tenant.headers
        # devauth
        assert [device["id"] for device in await ok(await client.get(f"{DEVAUTH}/devices", headers=headers))] == [mine.device_id]
        assert (await client.get(f"{DEVAUTH}/devices/{theirs.device_id}", headers=headers)).status == 404
        assert (await client.delete(f"{DEVAUTH}/devices/{theirs.device_id}", headers=headers)).status == 404
        # inventory (v1 list, v1 device, v2 search)
        listed = await ok(await client.get(f"{INVENTORY}/devices", headers=headers))
        assert [device["id"] for device in listed] == [mine.device_id]
        assert (await client.get(f"{INVENTORY}/devices/{theirs.device_id}", headers=headers)).status == 404
        found = await ok(await client.post(f"{INVENTORY_V2}/filters/search", json={}, headers=headers))
        assert [device["id"] for device in found] == [mine.device_id]
        # deployments: artifacts, deployments, the device's next update
        artifacts = await ok(await client.get(f"{DEPLOYMENTS}/artifacts", headers=headers))
        assert [artifact["id"] for artifact in artifacts] == [mine.artifact_id]
        assert (await client.get(f"{DEPLOYMENTS}/artifacts/{theirs.artifact_id}", headers=headers)).status == 404
        assert (await client.delete(f"{DEPLOYMENTS}/artifacts/{theirs.artifact_id}", headers=headers)).status == 404
        deployments = await ok(await client.get(f"{DEPLOYMENTS}/deployments", headers=headers))
        assert [deployment["id"] for deployment in deployments] == [mine.deployment_id]
        assert (await client.get(f"{DEPLOYMENTS}/deployments/{theirs.deployment_id}", headers=headers)).status == 404
        assert mine.device is not None
        instructions = await ok(
            await client.get(f"{DEVICE_NEXT}?device_type=qemux86-64&artifact_name=initial", headers=mine.device.auth_headers())
        )
        assert instructions["id"] == mine.deployment_id
        # useradm
        users = await ok(await client.get(USERS, headers=headers))
        assert sorted(user["email"] for user in users) == sorted([mine.tenant.email, f"second@{'a' if mine is a else 'b'}.example"])
        assert (await client.get(f"{USERS}/{theirs.user_id}", headers=headers)).status == 404
        assert (await client.delete(f"{USERS}/{theirs.user_id}", headers=headers)).status == 204  # no error...
    for world in (a, b):  # ...and nothing was deleted
        assert (await client.get(f"{USERS}/{world.user_id}", headers=world.tenant.headers)).status == 200

    # the default tenant sees none of it
    assert await ok(await client.get(f"{DEVAUTH}/devices", headers=user_headers)) == []
    assert await ok(await client.get(f"{INVENTORY}/devices", headers=user_headers)) == []
    assert await ok(await client.get(f"{DEPLOYMENTS}/artifacts", headers=user_headers)) == []
    assert await ok(await client.get(f"{DEPLOYMENTS}/deployments", headers=user_headers)) == []
    assert [user["email"] for user in await ok(await client.get(USERS, headers=user_headers))] == ["admin@example.com"]


async def test_a_device_token_of_one_tenant_reaches_only_that_tenant(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    device, device_id = await device_in_tenant(client, tenant_a)
    await ok(await client.patch(DEVICE_INVENTORY, json=[{"name": "colour", "value": "red"}], headers=device.auth_headers()), 200)
    mine = await ok(await client.get(f"{INVENTORY}/devices/{device_id}", headers=tenant_a.headers))
    assert {"name": "colour", "value": "red", "scope": "inventory"}.items() <= next(
        attribute for attribute in mine["attributes"] if attribute["name"] == "colour"
    ).items()
    assert (await client.get(f"{INVENTORY}/devices/{device_id}", headers=tenant_b.headers)).status == 404
