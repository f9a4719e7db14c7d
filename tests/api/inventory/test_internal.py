"""Internal API: tenant provisioning and device creation, for peers in the internal networks only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings
from menderlite.context import Context
from tests.api.inventory.conftest import INTERNAL, V1, attributes_of


async def test_create_tenant(client: TestClient) -> None:
    response = await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "5f1e"})
    assert response.status == 201
    for body in ({}, {"tenant_id": ""}, {"tenant_id": 5}):
        bad = await client.post(f"{INTERNAL}/tenants", json=body)
        assert bad.status == 400
        assert (await bad.json())["error"] == "tenant_id must be provided"
    empty = await client.post(f"{INTERNAL}/tenants", headers={"Content-Type": "application/json"})
    assert empty.status == 400


async def test_create_device_then_upsert(client: TestClient, user_headers) -> None:
    response = await client.post(f"{INTERNAL}/devices", json={"id": "i1"})
    assert response.status == 201
    assert response.headers["Location"] == "devices/i1"
    device = await (await client.get(f"{V1}/devices/i1", headers=user_headers)).json()
    assert [a["name"] for a in device["attributes"]] == ["created_ts", "updated_ts"]
    again = await client.post(
        f"{INTERNAL}/devices",
        json={
            "id": "i1",
            "attributes": [
                {"name": "ip", "value": "1.2.3.4", "description": "IP"},
                {"name": "mac", "value": "aa", "scope": "identity"},
            ],
            "extra": True,
        },
    )
    assert again.status == 201
    attributes = attributes_of(await (await client.get(f"{V1}/devices/i1", headers=user_headers)).json())
    assert attributes[("inventory", "ip")] == "1.2.3.4"
    assert attributes[("identity", "mac")] == "aa"


async def test_create_device_in_a_tenant(client: TestClient, user_headers, ctx: Context) -> None:
    response = await client.post(f"{INTERNAL}/devices?tenant_id=t1", json={"id": "i2"})
    assert response.status == 201
    assert (await ctx.inventory.get_device("t1", "i2"))["id"] == "i2"
    # The default tenant's user does not see another tenant's devices.
    assert (await client.get(f"{V1}/devices/i2", headers=user_headers)).status == 404


async def test_create_device_validates(client: TestClient) -> None:
    for body, message in (
        ({}, "device id must be provided"),
        ({"id": ""}, "device id must be provided"),
        (
            {"id": "i3", "attributes": [{"name": "a", "value": None}]},
            "supported types are string, float64, and arrays thereof",
        ),
        (
            {"id": "i3", "attributes": [{"name": "group", "value": "x", "scope": "system"}]},
            "attributes of scope system are maintained by the inventory service",
        ),
        ({"id": "i3", "attributes": {"name": "a"}}, "failed to decode request body"),
        ({"id": 5}, "device id must be provided"),
        ({"id": "x" * 1025}, "device id can have at most 1024 characters"),
        ({"id": "i3", "attributes": [{"name": "a", "value": 10**400}]}, "supported types are string, float64"),
    ):
        response = await client.post(f"{INTERNAL}/devices", json=body)
        assert response.status == 400
        assert message in (await response.json())["error"]


async def test_malformed_bodies(client: TestClient) -> None:
    for path in ("/devices", "/tenants"):
        for raw in (b'{"id": NaN, "tenant_id": NaN}', b'{"id": 1' + b"0" * 5000 + b'}'):
            response = await client.post(INTERNAL + path, data=raw, headers={"Content-Type": "application/json"})
            assert response.status == 400
            assert (await response.json())["error"].startswith("failed to decode request body: ")


async def test_internal_api_refuses_outside_peers(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(server={"internal_networks": ["10.99.0.0/16"]}))
    client = await aiohttp_client(app)
    for path, body in ((f"{INTERNAL}/tenants", {"tenant_id": "x"}), (f"{INTERNAL}/devices", {"id": "x"})):
        response = await client.post(path, json=body)
        assert response.status == 403
