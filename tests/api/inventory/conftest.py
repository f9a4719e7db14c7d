"""Helpers for the inventory API tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings
from menderlite.context import Context
from menderlite.events import Event
from menderlite.inventory import query, store
from menderlite.web import Identity
from menderlite.web.guards import DEVICE_VERIFIER

DEVICE_ATTRIBUTES = "/api/devices/v1/inventory/device/attributes"
V1 = "/api/management/v1/inventory"
V2 = "/api/management/v2/inventory"
INTERNAL = "/api/internal/v1/inventory"

Upload = Callable[..., Awaitable[Any]]
STUB_DEVICE_PREFIX = "inventory-test-device:"


@pytest.fixture
def app(settings: Settings) -> web.Application:
    """The real app, whose device guard also admits stub tokens naming a device id.

    Inventory tests address devices that devauth never saw (so identity attributes are only what the test
    publishes); every other token still goes through devauth's real verifier. test_devauth_integration.py
    covers real devices end to end.
    """
    app = create_app(settings)
    real_verifier = app[DEVICE_VERIFIER]

    async def verifier(token: str | None, method: str, path: str) -> Identity:
        if token and token.startswith(STUB_DEVICE_PREFIX):
            return Identity(subject=token.removeprefix(STUB_DEVICE_PREFIX), is_device=True, token=token)
        return await real_verifier(token, method, path)

    app[DEVICE_VERIFIER] = verifier
    return app


@pytest.fixture
def device_headers() -> Callable[[str], Awaitable[dict[str, str]]]:
    async def make(device_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {STUB_DEVICE_PREFIX}{device_id}"}

    return make


@pytest.fixture
def upload(client: TestClient, device_headers: Callable[..., Any]) -> Upload:
    """`await upload(device_id, [{name, value}...], method="PATCH")`: a device reports attributes; asserts 200."""

    async def send(device_id: str, attributes: list[dict[str, Any]], method: str = "PATCH", expect: int = 200) -> Any:
        headers = await device_headers(device_id)
        response = await client.request(method, DEVICE_ATTRIBUTES, json=attributes, headers=headers)
        assert response.status == expect, await response.text()
        return response

    return send


@pytest.fixture
def publish(ctx: Context) -> Callable[[Event], Awaitable[None]]:
    """Publish a devauth event the way devauth does: inside a write transaction."""

    async def send(event: Event) -> None:
        async with ctx.db.write() as session:
            await ctx.events.publish(event, session)

    return send


def attributes_of(device: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(attribute["scope"], attribute["name"]): attribute["value"] for attribute in device["attributes"]}


def ids_of(devices: list[dict[str, Any]]) -> list[str]:
    return [device["id"] for device in devices]


@pytest.fixture(params=["selective", "broad"])
def planning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The query planner's two regimes; "broad": every filter counts as unselective, as `status = accepted` does in a big fleet."""
    if request.param == "broad":
        monkeypatch.setattr(query, "ESTIMATE_CAP", 1)
        monkeypatch.setattr(store, "ESTIMATE_CAP", 1)
    return request.param
