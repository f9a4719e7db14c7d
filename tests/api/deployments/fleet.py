"""Simulated devices (real keys, real device tokens) that check for updates and report like mender-client 3.4
does, plus small helpers for the deployment management API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

from tests.support.devices import SimulatedDevice, admit

DEPLOYMENTS = "/api/management/v1/deployments/deployments"
DEPLOYMENTS_V2 = "/api/management/v2/deployments/deployments"
NEXT = "/api/devices/v1/deployments/device/deployments/next"
DEVICE_DEPLOYMENTS = "/api/devices/v1/deployments/device/deployments"
INTERNAL = "/api/internal/v1/deployments"
INVENTORY_ATTRIBUTES = "/api/devices/v1/inventory/device/attributes"
INVENTORY_DEVICES = "/api/management/v1/inventory/devices"
FILTERS = "/api/management/v2/inventory/filters"
LOG_MESSAGES = [
    {"level": "info", "message": "Running Mender client version: 3.4.0", "timestamp": "2026-11-25T19:18:56.123456789Z"},
    {"level": "error", "message": "Artifact Payload type 'rootfs-image' is not supported", "timestamp": "2026-11-25T19:18:57Z"},
]


@dataclass
class Device:
    """One simulated device: what it runs, and its conversation with the server."""

    client: TestClient
    id: str
    simulated: SimulatedDevice
    device_type: str = "qemux86-64"
    artifact_name: str = "initial"
    provides: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return self.simulated.auth_headers()

    async def check(self, *, method: str = "POST") -> tuple[int, Any]:
        """Ask for the next update (POST with provides as the client does, or GET); (status, body or None)."""
        if method == "POST":
            body = {"device_type": self.device_type, "artifact_name": self.artifact_name, **self.provides}
            response = await self.client.post(NEXT, json=body, headers=self.headers)
        else:
            query = {"device_type": self.device_type, "artifact_name": self.artifact_name}
            response = await self.client.get(NEXT, params=query, headers=self.headers)
        body = await response.json() if response.status in (200, 400, 401, 403, 404) else None
        return response.status, body

    async def next(self, *, method: str = "POST") -> dict[str, Any] | None:
        """The instructions, or None for 204 (anything else fails the test)."""
        status, body = await self.check(method=method)
        assert status in (200, 204), (status, body)
        return body if status == 200 else None

    async def report(self, deployment_id: str, status: str, **extra: Any) -> int:
        response = await self.client.put(
            f"{DEVICE_DEPLOYMENTS}/{deployment_id}/status", json={"status": status, **extra}, headers=self.headers
        )
        return response.status

    async def upload_log(self, deployment_id: str, messages: list[dict[str, str]] | None = None) -> int:
        response = await self.client.put(
            f"{DEVICE_DEPLOYMENTS}/{deployment_id}/log", json={"messages": messages or LOG_MESSAGES}, headers=self.headers
        )
        return response.status

    async def upload_inventory(self, **attributes: str) -> None:
        """PATCH inventory attributes, as a device reports them (names with `_` as given)."""
        body = [{"name": name, "value": value} for name, value in attributes.items()]
        response = await self.client.patch(INVENTORY_ATTRIBUTES, json=body, headers=self.headers)
        assert response.status == 200, await response.text()

    async def download(self, instructions: dict[str, Any]) -> bytes:
        """Fetch the artifact from the signed link, without credentials, as the client does."""
        uri = URL(instructions["artifact"]["source"]["uri"])
        response = await self.client.get(uri.path_qs)
        assert response.status == 200, await response.text()
        return await response.read()

    async def install(self, instructions: dict[str, Any], outcome: str = "success") -> None:
        """The client's happy path: downloading, the download, installing, then the outcome (+ log on failure)."""
        deployment_id = instructions["id"]
        assert await self.report(deployment_id, "downloading") == 204
        await self.download(instructions)
        assert await self.report(deployment_id, "installing") == 204
        assert await self.report(deployment_id, outcome) == 204
        if outcome == "failure":
            assert await self.upload_log(deployment_id) == 204
        else:
            self.artifact_name = instructions["artifact"]["artifact_name"]


async def admit_device(client: TestClient, device_id: str | None = None, **attributes: Any) -> Device:
    simulated, admitted_id = await admit(client, device_id)
    return Device(client=client, id=admitted_id, simulated=simulated, **attributes)


async def admit_fleet(client: TestClient, count: int, **attributes: Any) -> list[Device]:
    return list(await asyncio.gather(*(admit_device(client, **attributes) for _ in range(count))))


# --- management ----------------------------------------------------------------------------------------


async def create_deployment(
    client: TestClient, headers: dict[str, str], artifact_name: str, devices: list[str], *, name: str = "rollout", **extra: Any
) -> str:
    response = await client.post(
        DEPLOYMENTS, json={"name": name, "artifact_name": artifact_name, "devices": devices, **extra}, headers=headers
    )
    assert response.status == 201, await response.text()
    location = response.headers["Location"]
    assert location.startswith(DEPLOYMENTS + "/")
    return location.rsplit("/", 1)[1]


async def create_dynamic_deployment(
    client: TestClient, headers: dict[str, str], artifact_name: str, filter_id: str, *, name: str = "dynamic", **extra: Any
) -> str:
    response = await client.post(
        DEPLOYMENTS_V2, json={"name": name, "artifact_name": artifact_name, "filter_id": filter_id, **extra}, headers=headers
    )
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


async def create_filter(client: TestClient, headers: dict[str, str], name: str, terms: list[dict[str, Any]]) -> str:
    response = await client.post(FILTERS, json={"name": name, "terms": terms}, headers=headers)
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


async def set_group(client: TestClient, headers: dict[str, str], device_id: str, group: str) -> None:
    response = await client.put(f"{INVENTORY_DEVICES}/{device_id}/group", json={"group": group}, headers=headers)
    assert response.status == 204, await response.text()


def attribute_is(attribute: str, value: Any, scope: str = "inventory") -> dict[str, Any]:
    return {"scope": scope, "attribute": attribute, "type": "$eq", "value": value}


async def get_json(client: TestClient, headers: dict[str, str], path: str) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def show(client: TestClient, headers: dict[str, str], deployment_id: str) -> dict[str, Any]:
    return await get_json(client, headers, f"{DEPLOYMENTS}/{deployment_id}")


async def statistics(client: TestClient, headers: dict[str, str], deployment_id: str) -> dict[str, int]:
    return await get_json(client, headers, f"{DEPLOYMENTS}/{deployment_id}/statistics")


def counts(**nonzero: int) -> dict[str, int]:
    """A full statistics document: every counter 0 except those given (already_installed -> already-installed)."""
    document = dict.fromkeys(
        ("pending", "downloading", "installing", "rebooting", "success", "failure", "noartifact", "already-installed",
         "aborted", "decommissioned"),
        0,
    )
    for key, value in nonzero.items():
        document[key.replace("_", "-")] = value
    return document


async def device_statuses(client: TestClient, headers: dict[str, str], deployment_id: str) -> dict[str, str]:
    devices = await get_json(client, headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    return {device["id"]: device["status"] for device in devices}
