"""The events devauth announces to the other services, and that they run inside devauth's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.context import Context
from menderlite.devauth.models import Device
from menderlite.events import (
    DeviceAppeared,
    DeviceDecommissioned,
    DeviceStatusChanged,
    Event,
)
from tests.api.devauth.helpers import Management, probe
from tests.support.devices import SimulatedDevice


class Recorder:
    def __init__(self, ctx: Context) -> None:
        self.events: list[Event] = []
        self.seen_in_transaction: list[bool] = []
        for event_type in (DeviceAppeared, DeviceStatusChanged, DeviceDecommissioned):
            ctx.events.subscribe(event_type, self.handle)

    async def handle(self, event: Any, session: AsyncSession) -> None:
        self.events.append(event)
        # The handler shares devauth's transaction: it sees the device row as devauth left it.
        device_id = event.device_ids[0] if isinstance(event, DeviceStatusChanged) else event.device_id
        device = await session.scalar(select(Device).where(Device.id == device_id))
        self.seen_in_transaction.append(device is not None)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def recorder(ctx: Context) -> Recorder:
    return Recorder(ctx)


async def test_lifecycle_of_a_device_that_asks_to_join(client: TestClient, management: Management, recorder: Recorder) -> None:
    device = SimulatedDevice.create("ec256", {"mac": "02:00:00:00:00:01", "sn": "S1"})
    await device.authenticate(client)
    device_id, auth_set_id = await management.auth_set_for_key(device)
    assert recorder.take() == [DeviceAppeared("", device_id, {"mac": "02:00:00:00:00:01", "sn": "S1"}, "pending")]

    await device.authenticate(client)
    assert recorder.take() == []  # nothing new

    await management.set_status(device_id, auth_set_id, "accepted")
    assert recorder.take() == [DeviceStatusChanged("", (device_id,), "accepted")]
    await management.set_status(device_id, auth_set_id, "accepted")
    assert recorder.take() == []

    device.rotate_key("ed25519")
    await device.authenticate(client)
    assert recorder.take() == []  # a second key does not change an accepted device's status

    await management.set_status(device_id, auth_set_id, "rejected")
    assert recorder.take() == [DeviceStatusChanged("", (device_id,), "pending")]  # the new key is pending

    record = await management.device(device_id)
    for auth_set in record["auth_sets"]:
        await management.call("DELETE", f"/devices/{device_id}/auth/{auth_set['id']}")
    # The rejected set goes first (still pending), then the pending one (nothing left).
    assert recorder.take() == [DeviceStatusChanged("", (device_id,), "noauth")]

    await management.call("DELETE", f"/devices/{device_id}")
    assert recorder.take() == [DeviceDecommissioned("", device_id)]
    assert all(recorder.seen_in_transaction)


async def test_preauthorization_events(client: TestClient, management: Management, recorder: Recorder) -> None:
    device = SimulatedDevice.create("ed25519", {"sn": "P1"})
    response = await management.preauthorize(device)
    device_id = response.headers["Location"].rsplit("/", 1)[1]
    assert recorder.take() == [DeviceAppeared("", device_id, {"sn": "P1"}, "preauthorized")]
    assert (await device.authenticate(client)).status == 200
    assert recorder.take() == [DeviceStatusChanged("", (device_id,), "accepted")]

    other = SimulatedDevice.create("ed25519", {"sn": "P2"})
    response = await management.preauthorize(other)
    other_id, other_set = await management.auth_set_for_key(other)
    recorder.take()
    await management.call("DELETE", f"/devices/{other_id}/auth/{other_set}")
    assert recorder.take() == [DeviceDecommissioned("", other_id)]


async def test_a_failing_subscriber_undoes_the_change(client: TestClient, ctx: Context, management: Management) -> None:
    device = SimulatedDevice.create()
    await device.authenticate(client)
    device_id = await management.accept(device)
    token = (await device.authenticate(client)).token
    assert (await probe(client, token)).status == 200

    async def broken(event: DeviceDecommissioned, session: AsyncSession) -> None:
        raise RuntimeError("inventory is broken")

    ctx.events.subscribe(DeviceDecommissioned, broken)
    response = await management.call("DELETE", f"/devices/{device_id}")
    assert response.status == 500
    assert (await management.device(device_id))["status"] == "accepted"
    assert (await probe(client, token)).status == 200  # nothing was committed, so the token still works
