"""Management v1: listing devices with filters, sort and paging; showing and deleting one."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from menderlite.events import DeviceAppeared
from tests.api.inventory.conftest import V1, attributes_of, ids_of


@pytest.fixture
async def fleet(upload, publish) -> list[str]:
    """Five devices, oldest first."""
    await upload(
        "d1", [{"name": "device_type", "value": "rpi"}, {"name": "mem", "value": 512}, {"name": "name", "value": "b"}]
    )
    await upload(
        "d2", [{"name": "device_type", "value": "bbb"}, {"name": "mem", "value": "512"}, {"name": "name", "value": "a"}]
    )
    await upload(
        "d3", [{"name": "device_type", "value": "rpi"}, {"name": "mem", "value": 1024}, {"name": "name", "value": "a"}]
    )
    await upload("d4", [{"name": "device_type", "value": "rpi"}, {"name": "name", "value": "c"}])
    await publish(DeviceAppeared("", "d5", {"mac": "aa:bb"}, "pending"))
    return ["d1", "d2", "d3", "d4", "d5"]


async def list_ids(client: TestClient, headers: dict[str, str], query: str = "") -> list[str]:
    response = await client.get(f"{V1}/devices{query}", headers=headers)
    assert response.status == 200, await response.text()
    return ids_of(await response.json())


async def test_list_is_oldest_first_with_total_and_links(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices?per_page=2&page=2", headers=user_headers)
    assert response.status == 200
    assert ids_of(await response.json()) == ["d3", "d4"]
    assert response.headers["X-Total-Count"] == "5"
    base = f"http://127.0.0.1:{client.port}{V1}/devices"
    assert response.headers["Link"] == (
        f'<{base}?page=1&per_page=2>; rel="prev", <{base}?page=3&per_page=2>; rel="next", '
        f'<{base}?page=1&per_page=2>; rel="first"'
    )
    last = await client.get(f"{V1}/devices?per_page=2&page=3", headers=user_headers)
    assert ids_of(await last.json()) == ["d5"]
    assert 'rel="next"' not in last.headers["Link"]
    beyond = await client.get(f"{V1}/devices?per_page=2&page=9", headers=user_headers)
    assert await beyond.json() == []
    assert beyond.headers["X-Total-Count"] == "5"
    for query in ("page=100000000000000000000000", "page=9223372036854775807&per_page=500&device_type=rpi&sort=name"):
        far = await client.get(f"{V1}/devices?{query}", headers=user_headers)
        assert far.status == 400, await far.text()  # offsets beyond 64-bit SQL integers
        assert (await far.json())["error"] == "Param page is out of bounds"


async def test_listed_devices_carry_every_scope(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices", headers=user_headers)
    devices = {device["id"]: device for device in await response.json()}
    pending = attributes_of(devices["d5"])
    assert pending[("identity", "mac")] == "aa:bb"
    assert pending[("identity", "status")] == "pending"
    assert ("system", "created_ts") in pending and ("system", "updated_ts") in pending
    assert attributes_of(devices["d1"])[("inventory", "mem")] == 512


async def test_attribute_filters(client: TestClient, user_headers, fleet) -> None:
    assert await list_ids(client, user_headers, "?device_type=rpi") == ["d1", "d3", "d4"]
    assert await list_ids(client, user_headers, "?device_type=eq:rpi") == ["d1", "d3", "d4"]
    assert await list_ids(client, user_headers, "?device_type=rpi&name=a") == ["d3"]
    # A value that reads as a number matches both the number and the string.
    assert await list_ids(client, user_headers, "?mem=512") == ["d1", "d2"]
    assert await list_ids(client, user_headers, "?identity/mac=aa:bb") == ["d5"]
    assert await list_ids(client, user_headers, "?identity/status=pending") == ["d5"]
    assert await list_ids(client, user_headers, "?nothing=here") == []
    assert await list_ids(client, user_headers, "?device_type=RPI") == []
    assert await list_ids(client, user_headers, "?mem=%20512") == []  # not a number: only the string " 512"
    assert await list_ids(client, user_headers, "?mem=5_12") == []


async def test_filter_total_counts_matches(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices?device_type=rpi&per_page=1", headers=user_headers)
    assert ids_of(await response.json()) == ["d1"]
    assert response.headers["X-Total-Count"] == "3"
    assert "device_type=rpi" in response.headers["Link"]


async def test_multi_key_sort(client: TestClient, user_headers, fleet) -> None:
    assert await list_ids(client, user_headers, "?sort=name:asc,device_type:desc") == ["d5", "d3", "d2", "d1", "d4"]
    assert await list_ids(client, user_headers, "?sort=name:asc,device_type:asc") == ["d5", "d2", "d3", "d1", "d4"]
    # The order defaults to desc; missing attributes come last in descending order, ties reversed.
    assert await list_ids(client, user_headers, "?sort=name") == ["d4", "d1", "d3", "d2", "d5"]
    # Mongo order: missing < numbers < strings.
    assert await list_ids(client, user_headers, "?sort=mem:asc") == ["d4", "d5", "d1", "d3", "d2"]
    assert await list_ids(client, user_headers, "?sort=mem:desc") == ["d2", "d3", "d1", "d5", "d4"]
    assert await list_ids(client, user_headers, "?sort=identity/id:desc") == ["d5", "d4", "d3", "d2", "d1"]


async def test_sort_with_filter_and_paging(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices?device_type=rpi&sort=name:desc&per_page=2", headers=user_headers)
    assert ids_of(await response.json()) == ["d4", "d1"]
    assert response.headers["X-Total-Count"] == "3"


async def test_bad_sort_order(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices?sort=name:upwards", headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == "invalid sort order"
    too_many = await client.get(f"{V1}/devices?sort=" + ",".join(f"a{n}:asc" for n in range(33)), headers=user_headers)
    assert too_many.status == 400
    assert (await too_many.json())["error"] == "invalid sort: at most 32 sort criteria"


async def test_too_many_filters(client: TestClient, user_headers, fleet) -> None:
    at_the_bound = "&".join(f"a{n}=1" for n in range(50))  # a number filter matches string or number: 2 each
    assert (await client.get(f"{V1}/devices?{at_the_bound}", headers=user_headers)).status == 200
    response = await client.get(f"{V1}/devices?{at_the_bound}&one=more", headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"].startswith("invalid filter: too many conditions")


async def test_group_filters(client: TestClient, user_headers, fleet) -> None:
    for device_id in ("d2", "d4"):
        response = await client.put(f"{V1}/devices/{device_id}/group", json={"group": "prod"}, headers=user_headers)
        assert response.status == 204
    await client.put(f"{V1}/devices/d3/group", json={"group": "test"}, headers=user_headers)
    assert await list_ids(client, user_headers, "?group=prod") == ["d2", "d4"]
    assert await list_ids(client, user_headers, "?has_group=true") == ["d2", "d3", "d4"]
    assert await list_ids(client, user_headers, "?has_group=false") == ["d1", "d5"]
    assert await list_ids(client, user_headers, "?has_group=1&device_type=rpi") == ["d3", "d4"]
    assert await list_ids(client, user_headers, "?group=nope") == []
    bad = await client.get(f"{V1}/devices?has_group=maybe", headers=user_headers)
    assert bad.status == 400
    assert (await bad.json())["error"] == "Can't parse param has_group"


@pytest.mark.parametrize(
    ("query", "message"), [("page=0", "Param page is out of bounds"), ("per_page=x", "Can't parse param per_page")]
)
async def test_bad_paging(client: TestClient, user_headers, query: str, message: str) -> None:
    response = await client.get(f"{V1}/devices?{query}", headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == message


async def test_show_device(client: TestClient, user_headers, fleet) -> None:
    response = await client.get(f"{V1}/devices/d1", headers=user_headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    device = await response.json()
    assert set(device) == {"id", "attributes", "updated_ts"}
    assert attributes_of(device)[("inventory", "device_type")] == "rpi"
    missing = await client.get(f"{V1}/devices/nope", headers=user_headers)
    assert missing.status == 404
    assert (await missing.json())["error"] == "Device not found"


async def test_delete_device(client: TestClient, user_headers, fleet) -> None:
    response = await client.delete(f"{V1}/devices/d1", headers=user_headers)
    assert response.status == 204
    assert (await client.get(f"{V1}/devices/d1", headers=user_headers)).status == 404
    assert await list_ids(client, user_headers, "?device_type=rpi") == ["d3", "d4"]
    again = await client.delete(f"{V1}/devices/d1", headers=user_headers)
    assert again.status == 204  # unknown devices too


async def test_deleted_device_can_report_again(client: TestClient, user_headers, upload, fleet) -> None:
    await client.delete(f"{V1}/devices/d1", headers=user_headers)
    await upload("d1", [{"name": "fresh", "value": "yes"}])
    attributes = attributes_of(await (await client.get(f"{V1}/devices/d1", headers=user_headers)).json())
    assert attributes[("inventory", "fresh")] == "yes"
    assert ("inventory", "device_type") not in attributes


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/devices"),
        ("GET", "/devices/d1"),
        ("DELETE", "/devices/d1"),
        ("GET", "/devices/d1/group"),
        ("PUT", "/devices/d1/group"),
        ("DELETE", "/devices/d1/group/g"),
        ("GET", "/groups"),
        ("GET", "/groups/g/devices"),
        ("PATCH", "/groups/g/devices"),
        ("DELETE", "/groups/g/devices"),
    ],
)
async def test_management_needs_a_user_token(client: TestClient, device_headers, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer bogus"}, await device_headers("d1")):
        response = await client.request(
            method, V1 + path, headers=headers, json={"group": "g"} if method == "PUT" else ["d1"]
        )
        assert response.status == 401
        assert (await response.json())["error"] in ("missing or invalid auth header", "invalid jwt")
