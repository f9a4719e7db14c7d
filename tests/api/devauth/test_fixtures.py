"""The shared test helpers: `device_headers` gives real device tokens; the simulated device talks to `serve`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.api.devauth.helpers import INTERNAL, Management, probe
from tests.support.devices import SimulatedDevice
from tests.support.server import start_server


async def test_device_headers_are_real_tokens_of_accepted_devices(
    client: TestClient, management: Management, device_headers: Callable[..., Any]
) -> None:
    headers = await device_headers("dev-1")
    token = headers["Authorization"].removeprefix("Bearer ")
    response = await probe(client, token)
    assert response.status == 200
    assert (await response.json())["subject"] == "dev-1"
    record = await management.device("dev-1")
    assert record["status"] == "accepted"
    assert record["identity_data"] == {"sn": "dev-1"}

    again = await device_headers("dev-1")  # the same device again: a fresh token, no conflict
    assert (await probe(client, again["Authorization"].removeprefix("Bearer "))).status == 200
    other = await device_headers("dev-2")
    assert (await (await probe(client, other["Authorization"].removeprefix("Bearer "))).json())["subject"] == "dev-2"
    assert len(await management.devices()) == 2


async def test_simulated_device_against_a_running_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "served")
    try:
        device = SimulatedDevice.create("ec256", {"mac": "02:00:00:00:00:42"})
        result = await device.authenticate_url(server.url)
        assert result.status == 401
        assert result.json()["error"] == "dev auth: unauthorized"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}{INTERNAL}/tenants//devices") as response:
                [record] = await response.json()
            assert record["identity_data"] == device.identity and record["status"] == "pending"
            async with session.post(f"{server.url}{INTERNAL}/tokens/verify", headers={"Authorization": "Bearer x.y.z"}) as response:
                assert response.status == 401
    finally:
        assert server.stop() == 0
