"""Internal API of devauth: token deletion, tenant limits, tenant provisioning, tenant device status and list."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.api.devauth.helpers import INTERNAL, Management, accepted_device
from tests.support.devices import SimulatedDevice


async def error_of(response: object) -> str:
    return (await response.json())["error"]  # type: ignore[attr-defined]


async def test_delete_tokens_needs_a_tenant(client: TestClient) -> None:
    response = await client.delete(f"{INTERNAL}/tokens")
    assert response.status == 400
    assert await error_of(response) == "tenant_id must be provided"
    assert (await client.delete(f"{INTERNAL}/tokens?tenant_id=other-tenant")).status == 204


async def test_tenant_limits(client: TestClient) -> None:
    for tenant in ("", "5f0ca3ac8ca1b3b2d1ee7a31"):
        path = f"{INTERNAL}/tenant/{tenant}/limits/max_devices"
        assert await (await client.get(path)).json() == {"limit": 0}
        assert (await client.put(path, json={"limit": 7})).status == 204
        assert await (await client.get(path)).json() == {"limit": 7}
        assert (await client.put(path, json={"limit": 0})).status == 204
        assert await (await client.get(path)).json() == {"limit": 0}
        assert (await client.put(path, json={"limit": 3})).status == 204
        assert (await client.delete(path)).status == 204
        assert await (await client.get(path)).json() == {"limit": 0}
    assert await (await client.get(f"{INTERNAL}/tenant/another/limits/max_devices")).json() == {"limit": 0}


async def test_tenant_limit_errors(client: TestClient) -> None:
    path = f"{INTERNAL}/tenant/t1/limits/max_devices"
    for body in ({"limit": -1}, {"limit": "5"}, {"limit": 1.5}, {"limit": True}, {}, [3]):
        response = await client.put(path, json=body)
        assert response.status == 400, body
        assert (await error_of(response)).startswith("failed to decode limit request"), body
    empty = await client.put(path, headers={"Content-Type": "application/json"})
    assert empty.status == 400
    assert await error_of(empty) == "failed to decode limit request: JSON payload is empty"
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"{INTERNAL}/tenant/t1/limits/max_users", json={"limit": 1})
        assert response.status == 400
        assert await error_of(response) == "unsupported limit max_users"


async def test_provision_tenant(client: TestClient) -> None:
    response = await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "58be8208dd77460001fe0d78"})
    assert response.status == 201
    for body in ({}, {"tenant_id": ""}, {"tenant_id": 5}):
        response = await client.post(f"{INTERNAL}/tenants", json=body)
        assert response.status == 400
        assert await error_of(response) == "tenant_id must be provided"
    assert (await client.post(f"{INTERNAL}/tenants", data=b"x", headers={"Content-Type": "application/json"})).status == 400


async def test_tenant_device_status(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    response = await client.get(f"{INTERNAL}/tenants//devices/{device_id}/status")
    assert response.status == 200
    assert await response.json() == {"status": "accepted"}
    for path in (f"{INTERNAL}/tenants//devices/unknown/status", f"{INTERNAL}/tenants/other/devices/{device_id}/status"):
        missing = await client.get(path)
        assert missing.status == 404
        assert await error_of(missing) == "device not found"


async def test_tenant_device_list(client: TestClient, management: Management) -> None:
    _, accepted_id = await accepted_device(client, management)
    pending = SimulatedDevice.create()
    await pending.authenticate(client)
    listed = await (await client.get(f"{INTERNAL}/tenants//devices")).json()
    assert listed == await management.devices()
    assert [record["id"] for record in listed][0] == accepted_id
    only_accepted = await (await client.get(f"{INTERNAL}/tenants//devices?status=accepted")).json()
    assert [record["id"] for record in only_accepted] == [accepted_id]
    paged = await client.get(f"{INTERNAL}/tenants//devices?per_page=1")
    assert len(await paged.json()) == 1
    assert 'rel="next"' in paged.headers["Link"]
    assert await (await client.get(f"{INTERNAL}/tenants/other-tenant/devices")).json() == []
    bad = await client.get(f"{INTERNAL}/tenants//devices?status=nope")
    assert bad.status == 400
