"""The inventory service methods other services (deployments) call."""

from __future__ import annotations

import pytest

from menderlite.context import Context
from menderlite.events import DeviceAppeared, DeviceStatusChanged
from menderlite.web import ApiError

RPI = [{"scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "rpi"}]


@pytest.fixture
async def fleet(ctx: Context, upload, publish, client, user_headers) -> None:
    for device_id, device_type in (("a1", "rpi"), ("a2", "bbb"), ("a3", "rpi"), ("a4", "rpi")):
        await publish(DeviceAppeared("", device_id, {"mac": device_id}, "pending"))
        await upload(device_id, [{"name": "device_type", "value": device_type}])
    await publish(DeviceStatusChanged("", ("a1", "a2", "a3"), "accepted"))
    response = await client.patch(
        "/api/management/v1/inventory/groups/prod/devices", json=["a1", "a2", "a4"], headers=user_headers
    )
    assert response.status == 200


async def test_search_and_count(ctx: Context, fleet) -> None:
    inventory = ctx.inventory
    assert await inventory.search_device_ids("", RPI) == ["a1", "a3", "a4"]
    assert await inventory.count_matching("", RPI) == 3
    accepted_rpi = [*RPI, {"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"}]
    assert await inventory.search_device_ids("", accepted_rpi) == ["a1", "a3"]
    assert await inventory.count_matching("", accepted_rpi) == 2
    assert await inventory.search_device_ids("", []) == ["a1", "a2", "a3", "a4"]
    assert await inventory.search_device_ids("other-tenant", RPI) == []
    with pytest.raises(ApiError):
        await inventory.count_matching("", [{"scope": "inventory", "attribute": "x", "type": "$nope", "value": 1}])


async def test_device_matches(ctx: Context, fleet) -> None:
    inventory = ctx.inventory
    assert await inventory.device_matches("", "a1", RPI) is True
    assert await inventory.device_matches("", "a2", RPI) is False
    assert await inventory.device_matches("", "ghost", RPI) is False
    assert await inventory.device_matches("", "a2", []) is True
    negative = [{"scope": "inventory", "attribute": "device_type", "type": "$ne", "value": "rpi"}]
    assert await inventory.device_matches("", "a2", negative) is True
    assert await inventory.device_matches("other-tenant", "a1", RPI) is False


async def test_get_filter(ctx: Context, client, user_headers) -> None:
    response = await client.post(
        "/api/management/v2/inventory/filters", json={"name": "rpis", "terms": RPI}, headers=user_headers
    )
    filter_id = response.headers["Location"].rsplit("/", 1)[1]
    assert await ctx.inventory.get_filter("", filter_id) == {"id": filter_id, "name": "rpis", "terms": RPI}
    assert await ctx.inventory.get_filter("", "nope") is None
    assert await ctx.inventory.get_filter("other-tenant", filter_id) is None


async def test_groups(ctx: Context, fleet) -> None:
    inventory = ctx.inventory
    assert await inventory.device_ids_in_group("", "prod") == ["a1", "a2", "a4"]
    assert await inventory.device_ids_in_group("", "prod", status="accepted") == ["a1", "a2"]
    assert await inventory.device_ids_in_group("", "prod", status="rejected") == []
    assert await inventory.device_ids_in_group("", "none") == []
    assert await inventory.groups_of("", ["a1", "a3", "ghost"]) == {"a1": "prod", "a3": None, "ghost": None}
    assert await inventory.groups_of("", []) == {}
