"""Helpers for the devauth API tests: a probe device route, a management client, device shortcuts."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings
from menderlite.web import identity_of, json_response
from tests.support.devices import SimulatedDevice

MANAGEMENT = "/api/management/v2/devauth"
INTERNAL = "/api/internal/v1/devauth"
PROBE = "/api/devices/v1/probe/whoami"

probe_routes = web.RouteTableDef()


@probe_routes.get(PROBE)
async def whoami(request: web.Request) -> web.Response:
    """A device route behind the real device guard: answers with the verified identity."""
    identity = identity_of(request)
    return json_response(
        {"subject": identity.subject, "tenant_id": identity.tenant_id, "is_device": identity.is_device,
         "token_id": identity.token_id, "plan": identity.plan}
    )


def build_app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app.router.add_routes(probe_routes)
    return app




class Management:
    """The management API as a user calls it, plus the device-side helpers the tests keep needing."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return await self.client.request(method, MANAGEMENT + path, headers={**self.headers, **(headers or {})}, **kwargs)

    async def devices(self, query: str = "") -> list[dict[str, Any]]:
        response = await self.call("GET", f"/devices{query}")
        assert response.status == 200, await response.text()
        return await response.json()

    async def device(self, device_id: str) -> dict[str, Any]:
        response = await self.call("GET", f"/devices/{device_id}")
        assert response.status == 200, await response.text()
        return await response.json()

    async def find(self, device: SimulatedDevice) -> dict[str, Any]:
        """The server's record of a simulated device, found by its identity."""
        matches = [found for found in await self.devices("?per_page=500") if found["identity_data"] == device.identity]
        assert len(matches) == 1, matches
        return matches[0]

    async def auth_set_for_key(self, device: SimulatedDevice) -> tuple[str, str]:
        """(device id, auth set id) of the device's current key."""
        record = await self.find(device)
        sets = [auth_set for auth_set in record["auth_sets"] if auth_set["pubkey"] == device.public_key_pem]
        assert len(sets) == 1, record
        return record["id"], sets[0]["id"]

    async def set_status(self, device_id: str, auth_set_id: str, status: str) -> Any:
        return await self.call("PUT", f"/devices/{device_id}/auth/{auth_set_id}/status", json={"status": status})

    async def accept(self, device: SimulatedDevice) -> str:
        """Accept the device's current key; returns the device id."""
        device_id, auth_set_id = await self.auth_set_for_key(device)
        response = await self.set_status(device_id, auth_set_id, "accepted")
        assert response.status == 204, await response.text()
        return device_id

    async def preauthorize(self, device: SimulatedDevice) -> Any:
        return await self.call("POST", "/devices", json={"identity_data": device.identity, "pubkey": device.public_key_pem})



async def probe(client: TestClient, token: str | None) -> Any:
    """Call the probe device route with a token (or none)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.get(PROBE, headers=headers)


async def accepted_device(client: TestClient, management: Management, key_type: Any = "ed25519") -> tuple[SimulatedDevice, str]:
    """A device that asked to join (401), was accepted by a user, and now holds a token."""
    device = SimulatedDevice.create(key_type)
    assert (await device.authenticate(client)).status == 401
    device_id = await management.accept(device)
    result = await device.authenticate(client)
    assert result.status == 200, result.body
    return device, device_id
