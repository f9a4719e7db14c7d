"""Groups: one per device, the name rules, bulk membership with counts, listings."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from menderlite.events import DeviceAppeared
from tests.api.inventory.conftest import V1, attributes_of

INVALID_CHARACTERS = "Group name can only contain: upper/lowercase alphanum, -(dash), _(underscore)"


@pytest.fixture
async def devices(upload) -> list[str]:
    for device_id in ("g1", "g2", "g3", "g4"):
        await upload(device_id, [{"name": "device_type", "value": "rpi"}])
    return ["g1", "g2", "g3", "g4"]


async def group_of(client: TestClient, headers: dict[str, str], device_id: str) -> object:
    response = await client.get(f"{V1}/devices/{device_id}/group", headers=headers)
    assert response.status == 200
    return (await response.json())["group"]


async def test_assign_move_and_read_group(client: TestClient, user_headers, devices) -> None:
    assert await group_of(client, user_headers, "g1") is None
    response = await client.put(f"{V1}/devices/g1/group", json={"group": "staging"}, headers=user_headers)
    assert response.status == 204
    assert await response.read() == b""
    assert await group_of(client, user_headers, "g1") == "staging"
    await client.put(f"{V1}/devices/g1/group", json={"group": "prod_1-A"}, headers=user_headers)
    assert await group_of(client, user_headers, "g1") == "prod_1-A"  # one group per device: moved
    device = await (await client.get(f"{V1}/devices/g1", headers=user_headers)).json()
    assert attributes_of(device)[("system", "group")] == "prod_1-A"


async def test_group_of_unknown_device(client: TestClient, user_headers) -> None:
    response = await client.get(f"{V1}/devices/nope/group", headers=user_headers)
    assert response.status == 404
    assert (await response.json())["error"] == "Device not found"
    assign = await client.put(f"{V1}/devices/nope/group", json={"group": "x"}, headers=user_headers)
    assert assign.status == 404
    assert (await assign.json())["error"] == "Device not found"


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ("", "Group name cannot be blank"),
        (None, "Group name cannot be blank"),
        ("a" * 1025, "Group name can at most have 1024 characters"),
        ("has space", INVALID_CHARACTERS),
        ("dots.no", INVALID_CHARACTERS),
        ("ümlaut", INVALID_CHARACTERS),
        ("new\nline", INVALID_CHARACTERS),
    ],
)
async def test_group_name_rules(client: TestClient, user_headers, devices, group: object, message: str) -> None:
    response = await client.put(f"{V1}/devices/g1/group", json={"group": group}, headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == message
    assert await group_of(client, user_headers, "g1") is None


async def test_bulk_add_validates_the_group_name(client: TestClient, user_headers, devices) -> None:
    response = await client.patch(f"{V1}/groups/bad.name/devices", json=["g1"], headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == INVALID_CHARACTERS
    assert await group_of(client, user_headers, "g1") is None


async def test_longest_group_name_is_accepted(client: TestClient, user_headers, devices) -> None:
    name = "a" * 1024
    response = await client.put(f"{V1}/devices/g1/group", json={"group": name}, headers=user_headers)
    assert response.status == 204


async def test_group_body_errors(client: TestClient, user_headers, devices) -> None:
    empty = await client.put(f"{V1}/devices/g1/group", headers={**user_headers, "Content-Type": "application/json"})
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode device group data: JSON payload is empty"
    not_object = await client.put(f"{V1}/devices/g1/group", json=["x"], headers=user_headers)
    assert not_object.status == 400


async def test_clear_group(client: TestClient, user_headers, devices) -> None:
    await client.put(f"{V1}/devices/g1/group", json={"group": "staging"}, headers=user_headers)
    wrong = await client.delete(f"{V1}/devices/g1/group/prod", headers=user_headers)
    assert wrong.status == 404
    assert await group_of(client, user_headers, "g1") == "staging"
    response = await client.delete(f"{V1}/devices/g1/group/staging", headers=user_headers)
    assert response.status == 204
    assert await group_of(client, user_headers, "g1") is None
    again = await client.delete(f"{V1}/devices/g1/group/staging", headers=user_headers)
    assert again.status == 404
    unknown = await client.delete(f"{V1}/devices/nope/group/staging", headers=user_headers)
    assert unknown.status == 404


async def test_bulk_add_counts_and_ignores_unknown_devices(client: TestClient, user_headers, devices) -> None:
    await client.put(f"{V1}/devices/g1/group", json={"group": "prod"}, headers=user_headers)
    response = await client.patch(f"{V1}/groups/prod/devices", json=["g1", "g2", "ghost"], headers=user_headers)
    assert response.status == 200
    assert await response.json() == {"matched_count": 2, "updated_count": 1}
    assert (await client.get(f"{V1}/devices/ghost", headers=user_headers)).status == 404  # not created
    moved = await client.patch(f"{V1}/groups/test/devices", json=["g2", "g3"], headers=user_headers)
    assert await moved.json() == {"matched_count": 2, "updated_count": 2}
    assert await group_of(client, user_headers, "g2") == "test"
    nothing = await client.patch(f"{V1}/groups/test/devices", json=["ghost"], headers=user_headers)
    assert await nothing.json() == {"matched_count": 0, "updated_count": 0}


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_bulk_body_errors(client: TestClient, user_headers, method: str) -> None:
    empty_list = await client.request(method, f"{V1}/groups/prod/devices", json=[], headers=user_headers)
    assert empty_list.status == 400
    assert (await empty_list.json())["error"] == "no device IDs present in payload"
    not_list = await client.request(method, f"{V1}/groups/prod/devices", json={"id": "x"}, headers=user_headers)
    assert not_list.status == 400
    not_strings = await client.request(method, f"{V1}/groups/prod/devices", json=[1, 2], headers=user_headers)
    assert not_strings.status == 400
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'["a", NaN]'):
        odd = await client.request(
            method, f"{V1}/groups/prod/devices", data=raw, headers={**user_headers, "Content-Type": "application/json"}
        )
        assert odd.status == 400
        assert (await odd.json())["error"].startswith("failed to decode device group data: ")
    empty = await client.request(
        method, f"{V1}/groups/prod/devices", headers={**user_headers, "Content-Type": "application/json"}
    )
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode device group data: JSON payload is empty"


async def test_bulk_remove_only_touches_members(client: TestClient, user_headers, devices) -> None:
    await client.patch(f"{V1}/groups/prod/devices", json=["g1", "g2"], headers=user_headers)
    await client.patch(f"{V1}/groups/test/devices", json=["g3"], headers=user_headers)
    response = await client.delete(f"{V1}/groups/prod/devices", json=["g1", "g3", "ghost"], headers=user_headers)
    assert response.status == 200
    assert await response.json() == {"matched_count": 1, "updated_count": 1}
    assert await group_of(client, user_headers, "g1") is None
    assert await group_of(client, user_headers, "g2") == "prod"
    assert await group_of(client, user_headers, "g3") == "test"
    none = await client.delete(f"{V1}/groups/prod/devices", json=["g4"], headers=user_headers)
    assert await none.json() == {"matched_count": 0, "updated_count": 0}


async def test_list_groups(client: TestClient, user_headers, devices, publish) -> None:
    empty = await client.get(f"{V1}/groups", headers=user_headers)
    assert empty.status == 200
    assert await empty.json() == []
    await client.patch(f"{V1}/groups/prod/devices", json=["g1", "g2"], headers=user_headers)
    await client.patch(f"{V1}/groups/alpha/devices", json=["g3"], headers=user_headers)
    await publish(DeviceAppeared("", "g4", {"mac": "1"}, "pending"))
    await client.patch(f"{V1}/groups/beta/devices", json=["g4"], headers=user_headers)
    assert await (await client.get(f"{V1}/groups", headers=user_headers)).json() == ["alpha", "beta", "prod"]
    pending = await client.get(f"{V1}/groups?status=pending", headers=user_headers)
    assert await pending.json() == ["beta"]
    accepted = await client.get(f"{V1}/groups?status=accepted", headers=user_headers)
    assert await accepted.json() == []


async def test_group_devices_paged(client: TestClient, user_headers, devices) -> None:
    await client.patch(f"{V1}/groups/prod/devices", json=["g1", "g3", "g4"], headers=user_headers)
    response = await client.get(f"{V1}/groups/prod/devices?per_page=2", headers=user_headers)
    assert response.status == 200
    assert await response.json() == ["g1", "g3"]
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]
    second = await client.get(f"{V1}/groups/prod/devices?per_page=2&page=2", headers=user_headers)
    assert await second.json() == ["g4"]
    assert 'rel="next"' not in second.headers["Link"]
    missing = await client.get(f"{V1}/groups/nope/devices", headers=user_headers)
    assert missing.status == 404
    assert (await missing.json())["error"] == "group not found"
    bad = await client.get(f"{V1}/groups/prod/devices?per_page=0", headers=user_headers)
    assert bad.status == 400


async def test_deleted_device_leaves_its_group(client: TestClient, user_headers, devices) -> None:
    await client.patch(f"{V1}/groups/solo/devices", json=["g1"], headers=user_headers)
    await client.delete(f"{V1}/devices/g1", headers=user_headers)
    assert await (await client.get(f"{V1}/groups", headers=user_headers)).json() == []
    assert (await client.get(f"{V1}/groups/solo/devices", headers=user_headers)).status == 404
