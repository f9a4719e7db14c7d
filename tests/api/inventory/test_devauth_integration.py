"""Inventory fed by the real devauth: a device that only asked to join is already in the inventory with its
identity, its status follows the admission decisions, its own uploads land with its real token, and a
decommissioned device disappears."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.inventory.conftest import DEVICE_ATTRIBUTES, V1, attributes_of
from tests.support.devices import SimulatedDevice

DEVAUTH = "/api/management/v2/devauth/devices"


async def inventory_of(client: TestClient, user_headers: dict[str, str], device_id: str) -> dict[tuple[str, str], Any]:
    response = await client.get(f"{V1}/devices/{device_id}", headers=user_headers)
    assert response.status == 200, await response.text()
    return attributes_of(await response.json())


async def test_a_real_device_through_its_life(client: TestClient, user_headers: dict[str, str]) -> None:
    device = SimulatedDevice.create("ec256", {"mac": "02:12:34:56:78:9a", "sn": "SN-42", "status": "ignored"})
    assert (await device.authenticate(client)).status == 401  # pending
    [record] = await (await client.get(DEVAUTH, headers=user_headers)).json()
    device_id = record["id"]

    attributes = await inventory_of(client, user_headers, device_id)
    assert attributes[("identity", "mac")] == "02:12:34:56:78:9a"
    assert attributes[("identity", "sn")] == "SN-42"
    assert attributes[("identity", "status")] == "pending"  # id_data's own `status` key is dropped

    auth_id = record["auth_sets"][0]["id"]
    accepted = await client.put(f"{DEVAUTH}/{device_id}/auth/{auth_id}/status", json={"status": "accepted"}, headers=user_headers)
    assert accepted.status == 204
    assert (await inventory_of(client, user_headers, device_id))[("identity", "status")] == "accepted"

    assert (await device.authenticate(client)).status == 200
    body = [{"name": "device_type", "value": "qemux86-64"}, {"name": "artifact_name", "value": "release-1"}]
    uploaded = await client.put(DEVICE_ATTRIBUTES, json=body, headers=device.auth_headers())
    assert uploaded.status == 200
    attributes = await inventory_of(client, user_headers, device_id)
    assert attributes[("inventory", "device_type")] == "qemux86-64"
    assert attributes[("inventory", "artifact_name")] == "release-1"

    rejected = await client.put(f"{DEVAUTH}/{device_id}/auth/{auth_id}/status", json={"status": "rejected"}, headers=user_headers)
    assert rejected.status == 204
    assert (await inventory_of(client, user_headers, device_id))[("identity", "status")] == "rejected"
    refused = await client.patch(DEVICE_ATTRIBUTES, json=body, headers=device.auth_headers())
    assert refused.status == 401

    assert (await client.delete(f"{DEVAUTH}/{device_id}", headers=user_headers)).status == 204
    gone = await client.get(f"{V1}/devices/{device_id}", headers=user_headers)
    assert gone.status == 404
    assert (await gone.json())["error"] == "Device not found"


async def test_a_preauthorized_device(client: TestClient, user_headers: dict[str, str]) -> None:
    device = SimulatedDevice.create("ed25519", {"mac": "02:00:00:00:00:01", "cpus": "4"})
    body = {"identity_data": device.identity, "pubkey": device.public_key_pem}
    response = await client.post(DEVAUTH, json=body, headers=user_headers)
    assert response.status == 201, await response.text()
    device_id = response.headers["Location"].rsplit("/", 1)[1]

    attributes = await inventory_of(client, user_headers, device_id)
    assert attributes[("identity", "mac")] == "02:00:00:00:00:01"
    assert attributes[("identity", "cpus")] == "4"
    assert attributes[("identity", "status")] == "preauthorized"
    listed = await client.get(f"{V1}/devices?identity/status=preauthorized", headers=user_headers)
    assert [found["id"] for found in await listed.json()] == [device_id]

    assert (await device.authenticate(client)).status == 200  # the preauthorized key: accepted at once
    assert (await inventory_of(client, user_headers, device_id))[("identity", "status")] == "accepted"

    assert (await client.delete(f"{DEVAUTH}/{device_id}", headers=user_headers)).status == 204
    search = await client.post(
        "/api/management/v2/inventory/filters/search",
        json={"filters": [{"scope": "identity", "attribute": "id", "type": "$eq", "value": device_id}]},
        headers=user_headers,
    )
    assert await search.json() == []
    assert search.headers["X-Total-Count"] == "0"
