"""Inventory follows devauth's events, inside devauth's write transaction."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.events import DeviceAppeared, DeviceDecommissioned, DeviceStatusChanged
from tests.api.inventory.conftest import V1, V2, attributes_of, ids_of


async def test_device_that_only_sent_an_auth_request_is_in_inventory(client: TestClient, user_headers, publish) -> None:
    await publish(
        DeviceAppeared("", "new-1", {"mac": "52:54:00:aa", "sn": 1234, "status": "spoofed", "cpus": [1, 2]}, "pending")
    )
    response = await client.get(f"{V1}/devices/new-1", headers=user_headers)
    assert response.status == 200
    attributes = attributes_of(await response.json())
    assert attributes[("identity", "mac")] == "52:54:00:aa"
    assert attributes[("identity", "sn")] == 1234
    assert attributes[("identity", "cpus")] == [1, 2]
    assert attributes[("identity", "status")] == "pending"  # from the event; an id_data "status" is dropped
    assert ("system", "created_ts") in attributes
    listed = await client.get(f"{V1}/devices?identity/status=pending", headers=user_headers)
    assert ids_of(await listed.json()) == ["new-1"]


async def test_unstorable_identity_values_are_skipped(client: TestClient, user_headers, publish) -> None:
    await publish(DeviceAppeared("", "new-2", {"mac": "aa", "weird": {"nested": True}, "flag": True}, "preauthorized"))
    attributes = attributes_of(await (await client.get(f"{V1}/devices/new-2", headers=user_headers)).json())
    assert attributes[("identity", "mac")] == "aa"
    assert ("identity", "weird") not in attributes and ("identity", "flag") not in attributes


async def test_status_changes_update_and_create(client: TestClient, user_headers, publish, upload) -> None:
    await publish(DeviceAppeared("", "st-1", {"mac": "1"}, "pending"))
    await upload("st-2", [{"name": "device_type", "value": "rpi"}])
    await publish(DeviceStatusChanged("", ("st-1", "st-2", "st-3"), "accepted"))
    for device_id in ("st-1", "st-2", "st-3"):
        device = await (await client.get(f"{V1}/devices/{device_id}", headers=user_headers)).json()
        assert attributes_of(device)[("identity", "status")] == "accepted"
    st1 = attributes_of(await (await client.get(f"{V1}/devices/st-1", headers=user_headers)).json())
    assert st1[("identity", "mac")] == "1"  # the other identity attributes stay
    search = await client.post(
        f"{V2}/filters/search",
        json={"filters": [{"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"}]},
        headers=user_headers,
    )
    assert ids_of(await search.json()) == ["st-1", "st-2", "st-3"]
    await publish(DeviceStatusChanged("", ("st-1",), "rejected"))
    st1 = attributes_of(await (await client.get(f"{V1}/devices/st-1", headers=user_headers)).json())
    assert st1[("identity", "status")] == "rejected"


async def test_decommissioned_device_disappears(client: TestClient, user_headers, publish, upload) -> None:
    await publish(DeviceAppeared("", "bye", {"mac": "1"}, "accepted"))
    await upload("bye", [{"name": "device_type", "value": "rpi"}])
    await client.put(f"{V1}/devices/bye/group", json={"group": "doomed"}, headers=user_headers)
    await publish(DeviceDecommissioned("", "bye"))
    assert (await client.get(f"{V1}/devices/bye", headers=user_headers)).status == 404
    assert await (await client.get(f"{V1}/devices", headers=user_headers)).json() == []
    assert await (await client.get(f"{V1}/groups", headers=user_headers)).json() == []
    search = await client.post(f"{V2}/filters/search", json={}, headers=user_headers)
    assert await search.json() == []
    await publish(DeviceDecommissioned("", "never-existed"))  # harmless


async def test_status_decommissioned_removes_devices(client: TestClient, user_headers, publish) -> None:
    await publish(DeviceAppeared("", "old-1", {"mac": "1"}, "accepted"))
    await publish(DeviceAppeared("", "old-2", {"mac": "2"}, "accepted"))
    await publish(DeviceStatusChanged("", ("old-1",), "decommissioned"))
    assert (await client.get(f"{V1}/devices/old-1", headers=user_headers)).status == 404
    assert (await client.get(f"{V1}/devices/old-2", headers=user_headers)).status == 200


async def test_reactions_roll_back_with_the_publisher(ctx: Context, client: TestClient, user_headers) -> None:
    with pytest.raises(RuntimeError):
        async with ctx.db.write() as session:
            await ctx.events.publish(DeviceAppeared("", "ghost", {"mac": "1"}, "pending"), session)
            raise RuntimeError("devauth failed after publishing")
    assert (await client.get(f"{V1}/devices/ghost", headers=user_headers)).status == 404
    # The attribute names interned in the rolled-back transaction are not trusted afterwards either.
    async with ctx.db.write() as session:
        await ctx.events.publish(DeviceAppeared("", "real", {"mac": "2"}, "pending"), session)
    attributes = attributes_of(await (await client.get(f"{V1}/devices/real", headers=user_headers)).json())
    assert attributes[("identity", "mac")] == "2"


async def test_events_are_tenant_scoped(ctx: Context, client: TestClient, user_headers, publish) -> None:
    await publish(DeviceAppeared("tenant-a", "dev-a", {"mac": "1"}, "pending"))
    assert (await client.get(f"{V1}/devices/dev-a", headers=user_headers)).status == 404
    assert (await ctx.inventory.get_device("tenant-a", "dev-a"))["id"] == "dev-a"
    await publish(DeviceStatusChanged("", ("dev-a",), "accepted"))  # another tenant's device of the same id
    tenant_a = attributes_of(await ctx.inventory.get_device("tenant-a", "dev-a"))
    assert tenant_a[("identity", "status")] == "pending"
    await publish(DeviceDecommissioned("", "dev-a"))
    assert (await ctx.inventory.get_device("tenant-a", "dev-a"))["id"] == "dev-a"
