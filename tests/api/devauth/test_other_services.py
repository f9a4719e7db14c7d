"""devauth's events reaching the real inventory and deployments services: admission shows in the inventory,
and a decommissioned device leaves the inventory and its unfinished deployments at once (no test doubles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from menderlite.artifact.writer import PayloadSource, write_module_artifact
from tests.api.devauth.helpers import Management, accepted_device
from tests.support.devices import SimulatedDevice

INVENTORY = "/api/management/v1/inventory/devices"
DEVICE_ATTRIBUTES = "/api/devices/v1/inventory/device/attributes"
ARTIFACTS = "/api/management/v1/deployments/artifacts"
DEPLOYMENTS = "/api/management/v1/deployments/deployments"
NEXT = "/api/devices/v1/deployments/device/deployments/next"
DEVICE_TYPE = "qemux86-64"


async def inventory_record(client: TestClient, headers: dict[str, str], device_id: str) -> tuple[int, Any]:
    response = await client.get(f"{INVENTORY}/{device_id}", headers=headers)
    return response.status, await response.json()


def identity_status(record: dict[str, Any]) -> Any:
    return next(a["value"] for a in record["attributes"] if (a["scope"], a["name"]) == ("identity", "status"))


async def upload_release(client: TestClient, headers: dict[str, str], tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.mender"
    write_module_artifact(
        path, name=name, device_types=[DEVICE_TYPE], payload_type="single-file",
        files=[PayloadSource.of_bytes("payload.bin", b"x" * 1000)],
    )
    form = aiohttp.FormData()
    form.add_field("artifact", path.read_bytes(), filename="artifact.mender", content_type="application/octet-stream")
    response = await client.post(ARTIFACTS, data=form, headers=headers)
    assert response.status == 201, await response.text()


async def deploy(client: TestClient, headers: dict[str, str], name: str, release: str, devices: list[str]) -> str:
    body = {"name": name, "artifact_name": release, "devices": devices}
    response = await client.post(DEPLOYMENTS, json=body, headers=headers)
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


async def device_statuses(client: TestClient, headers: dict[str, str], deployment_id: str) -> dict[str, str]:
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices", headers=headers)
    assert response.status == 200, await response.text()
    return {device["id"]: device["status"] for device in await response.json()}


async def check_in(client: TestClient, device: SimulatedDevice) -> Any:
    body = {"device_type": DEVICE_TYPE, "artifact_name": "factory"}
    return await client.post(NEXT, json=body, headers=device.auth_headers())


async def test_decommission_reaches_inventory_and_deployments(
    client: TestClient, management: Management, user_headers: dict[str, str], tmp_path: Path
) -> None:
    leaving, leaving_id = await accepted_device(client, management, "ec256")
    staying, staying_id = await accepted_device(client, management, "ed25519")
    for device in (leaving, staying):
        attributes = [{"name": "device_type", "value": DEVICE_TYPE}, {"name": "artifact_name", "value": "factory"}]
        response = await client.patch(DEVICE_ATTRIBUTES, json=attributes, headers=device.auth_headers())
        assert response.status == 200, await response.text()
    status, record = await inventory_record(client, user_headers, leaving_id)
    assert status == 200 and identity_status(record) == "accepted"

    await upload_release(client, user_headers, tmp_path, "release-2")
    both = await deploy(client, user_headers, "both", "release-2", [leaving_id, staying_id])
    only_leaving = await deploy(client, user_headers, "only-leaving", "release-2", [leaving_id])
    response = await check_in(client, leaving)
    assert response.status == 200, await response.text()
    assert (await response.json())["id"] == both
    response = await client.put(
        f"/api/devices/v1/deployments/device/deployments/{both}/status", json={"status": "downloading"},
        headers=leaving.auth_headers(),
    )
    assert response.status == 204

    assert (await management.call("DELETE", f"/devices/{leaving_id}")).status == 204

    assert (await check_in(client, leaving)).status == 401  # its token died with it
    status, body = await inventory_record(client, user_headers, leaving_id)
    assert (status, body["error"]) == (404, "Device not found")
    assert (await inventory_record(client, user_headers, staying_id))[0] == 200
    shared = await device_statuses(client, user_headers, both)
    assert shared[leaving_id] == "decommissioned"
    assert shared.get(staying_id, "pending") == "pending"  # listed once it has checked in
    assert await device_statuses(client, user_headers, only_leaving) == {leaving_id: "decommissioned"}
    response = await client.get(f"{DEPLOYMENTS}/{only_leaving}", headers=user_headers)
    assert (await response.json())["status"] == "finished"
    # The other device carries on with the deployment they shared.
    response = await check_in(client, staying)
    assert response.status == 200
    assert (await response.json())["id"] == both


async def test_inventory_follows_admission_and_preauthorized_set_deletion(
    client: TestClient, management: Management, user_headers: dict[str, str]
) -> None:
    device = SimulatedDevice.create("ec384", {"mac": "02:00:00:00:00:77"})
    response = await management.preauthorize(device)
    assert response.status == 201
    device_id = response.headers["Location"].rsplit("/", 1)[1]
    status, record = await inventory_record(client, user_headers, device_id)
    assert status == 200 and identity_status(record) == "preauthorized"

    _, auth_set_id = await management.auth_set_for_key(device)
    assert (await management.call("DELETE", f"/devices/{device_id}/auth/{auth_set_id}")).status == 204
    assert (await inventory_record(client, user_headers, device_id))[0] == 404

    assert (await device.authenticate(client)).status == 401  # asks again: a new, pending device
    device_id, _ = await management.auth_set_for_key(device)
    status, record = await inventory_record(client, user_headers, device_id)
    assert status == 200 and identity_status(record) == "pending"
    [mac] = [a for a in record["attributes"] if a["name"] == "mac"]
    assert (mac["scope"], mac["value"]) == ("identity", "02:00:00:00:00:77")
