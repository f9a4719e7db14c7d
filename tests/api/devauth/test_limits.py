"""The accepted-device limit: from settings for the default tenant, overridable through the internal API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestClient

from menderlite.config import Settings
from tests.api.devauth.helpers import INTERNAL, Management, accepted_device, probe
from tests.support.devices import SimulatedDevice


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(devauth={"max_devices": 1})


async def limit_shown(management: Management) -> int:
    response = await management.call("GET", "/limits/max_devices")
    assert response.status == 200
    return (await response.json())["limit"]


async def test_accepting_over_the_limit_is_422(client: TestClient, management: Management) -> None:
    assert await limit_shown(management) == 1
    await accepted_device(client, management)
    second = SimulatedDevice.create("ec256")
    assert (await second.authenticate(client)).status == 401
    device_id, auth_set_id = await management.auth_set_for_key(second)
    response = await management.set_status(device_id, auth_set_id, "accepted")
    assert response.status == 422
    assert (await response.json())["error"] == "maximum number of accepted devices reached"
    assert (await management.device(device_id))["status"] == "pending"
    # Rejecting is always possible.
    assert (await management.set_status(device_id, auth_set_id, "rejected")).status == 204


async def test_an_accepted_device_rotating_its_key_is_not_a_new_device(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    device.rotate_key("ed25519")
    assert (await device.authenticate(client)).status == 401
    assert await management.accept(device) == device_id
    assert (await device.authenticate(client)).status == 200


async def test_preauthorized_device_over_the_limit_gets_401_unauthorized(client: TestClient, management: Management) -> None:
    first, first_id = await accepted_device(client, management)
    waiting = SimulatedDevice.create("ec384")
    assert (await management.preauthorize(waiting)).status == 201
    refused = await waiting.authenticate(client)
    assert refused.status == 401
    assert refused.json()["error"] == "unauthorized"
    assert (await management.find(waiting))["status"] == "preauthorized"

    assert (await management.call("DELETE", f"/devices/{first_id}")).status == 204
    admitted = await waiting.authenticate(client)
    assert admitted.status == 200
    assert (await probe(client, admitted.token)).status == 200


async def test_internal_limit_overrides_the_settings(client: TestClient, management: Management) -> None:
    await accepted_device(client, management)
    assert (await client.put(f"{INTERNAL}/tenant//limits/max_devices", json={"limit": 2})).status == 204
    assert await limit_shown(management) == 2
    await accepted_device(client, management)
    third = SimulatedDevice.create()
    await third.authenticate(client)
    device_id, auth_set_id = await management.auth_set_for_key(third)
    assert (await management.set_status(device_id, auth_set_id, "accepted")).status == 422

    assert (await client.delete(f"{INTERNAL}/tenant//limits/max_devices")).status == 204
    assert await limit_shown(management) == 0  # cleared: no limit, whatever the settings say
    assert (await management.set_status(device_id, auth_set_id, "accepted")).status == 204
