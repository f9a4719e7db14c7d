"""The shared `device_headers` fixture gives real device tokens once devauth is installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.devauth.helpers import Management, probe


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
