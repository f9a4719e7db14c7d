"""Devices report their attributes: PATCH merges, PUT (what mender-client 3.4 sends) replaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.events import DeviceAppeared
from tests.api.inventory.conftest import DEVICE_ATTRIBUTES, V1, attributes_of


async def get_device(client: TestClient, user_headers: dict[str, str], device_id: str) -> dict[str, Any]:
    response = await client.get(f"{V1}/devices/{device_id}", headers=user_headers)
    assert response.status == 200
    return await response.json()


async def test_patch_merges_and_answers_200_with_empty_body(client: TestClient, upload, user_headers) -> None:
    first = await upload("dev-1", [{"name": "device_type", "value": "rpi4"}, {"name": "artifact_name", "value": "v1"}])
    assert await first.read() == b""
    await upload("dev-1", [{"name": "artifact_name", "value": "v2"}, {"name": "cpus", "value": 4}])
    attributes = attributes_of(await get_device(client, user_headers, "dev-1"))
    assert attributes[("inventory", "device_type")] == "rpi4"  # kept: PATCH merges
    assert attributes[("inventory", "artifact_name")] == "v2"
    assert attributes[("inventory", "cpus")] == 4


async def test_put_replaces_the_inventory_scope_only(client: TestClient, upload, user_headers, publish) -> None:
    await publish(DeviceAppeared("", "dev-2", {"mac": "00:11"}, "accepted"))
    await upload("dev-2", [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}], method="PUT")
    response = await upload("dev-2", [{"name": "a", "value": "10"}, {"name": "c", "value": ["x", "y"]}], method="PUT")
    assert await response.read() == b""
    attributes = attributes_of(await get_device(client, user_headers, "dev-2"))
    assert attributes[("inventory", "a")] == "10"
    assert attributes[("inventory", "c")] == ["x", "y"]
    assert ("inventory", "b") not in attributes  # dropped: PUT replaces
    assert attributes[("identity", "mac")] == "00:11"  # other scopes untouched
    assert attributes[("identity", "status")] == "accepted"


async def test_first_upload_creates_the_device_with_system_attributes(client: TestClient, upload, user_headers) -> None:
    await upload("dev-3", [{"name": "device_type", "value": "qemux86-64"}], method="PUT")
    device = await get_device(client, user_headers, "dev-3")
    assert device["id"] == "dev-3"
    attributes = attributes_of(device)
    assert attributes[("system", "updated_ts")] == device["updated_ts"]
    assert attributes[("system", "created_ts")].endswith("Z")
    for attribute in device["attributes"]:
        assert set(attribute) <= {"name", "value", "scope", "description"}


async def test_updated_ts_moves_on_every_upload(client: TestClient, upload, user_headers) -> None:
    await upload("dev-4", [{"name": "a", "value": "1"}])
    before = await get_device(client, user_headers, "dev-4")
    await upload("dev-4", [{"name": "a", "value": "1"}])
    after = await get_device(client, user_headers, "dev-4")
    assert after["updated_ts"] >= before["updated_ts"]
    assert attributes_of(after)[("system", "created_ts")] == attributes_of(before)[("system", "created_ts")]


async def test_all_value_types_round_trip(client: TestClient, upload, user_headers) -> None:
    sent = {
        "text": "hello",
        "empty_text": "",
        "integer": 42,
        "real": 2.5,
        "negative": -7,
        "strings": ["eth0", "lo"],
        "numbers": [1, 2.5, 3],
        "empty_list": [],
    }
    await upload("dev-5", [{"name": name, "value": value} for name, value in sent.items()])
    attributes = attributes_of(await get_device(client, user_headers, "dev-5"))
    assert {name: attributes[("inventory", name)] for name in sent} == sent


async def test_names_come_back_as_sent(client: TestClient, upload, user_headers) -> None:
    await upload("dev-6", [{"name": "rootfs-image.version", "value": "1"}, {"name": "price$", "value": "2"}])
    attributes = attributes_of(await get_device(client, user_headers, "dev-6"))
    assert attributes[("inventory", "rootfs-image.version")] == "1"
    assert attributes[("inventory", "price$")] == "2"


async def test_devices_cannot_write_other_scopes(client: TestClient, upload, user_headers) -> None:
    await upload(
        "dev-7",
        [
            {"name": "status", "value": "accepted", "scope": "identity"},
            {"name": "group", "value": "x", "scope": "system"},
        ],
    )
    device = await get_device(client, user_headers, "dev-7")
    attributes = attributes_of(device)
    assert attributes[("inventory", "status")] == "accepted"
    assert attributes[("inventory", "group")] == "x"
    assert ("identity", "status") not in attributes
    assert ("system", "group") not in attributes


async def test_descriptions_are_kept_until_replaced(client: TestClient, upload, user_headers) -> None:
    await upload("dev-8", [{"name": "ip", "value": "1.2.3.4", "description": "IP address"}])
    await upload("dev-8", [{"name": "ip", "value": "1.2.3.5"}])
    device = await get_device(client, user_headers, "dev-8")
    (ip,) = [a for a in device["attributes"] if a["name"] == "ip"]
    assert ip == {"name": "ip", "value": "1.2.3.5", "scope": "inventory", "description": "IP address"}
    await upload("dev-8", [{"name": "ip", "value": "1.2.3.5", "description": "new"}])
    device = await get_device(client, user_headers, "dev-8")
    assert [a["description"] for a in device["attributes"] if a["name"] == "ip"] == ["new"]


async def test_a_repeated_name_takes_the_last_value(client: TestClient, upload, user_headers) -> None:
    await upload("dev-9", [{"name": "a", "value": "first"}, {"name": "a", "value": "last"}])
    assert attributes_of(await get_device(client, user_headers, "dev-9"))[("inventory", "a")] == "last"


async def test_changing_the_type_of_a_value(client: TestClient, upload, user_headers) -> None:
    await upload("dev-10", [{"name": "a", "value": ["x", "y"]}])
    await upload("dev-10", [{"name": "a", "value": 5}])
    assert attributes_of(await get_device(client, user_headers, "dev-10"))[("inventory", "a")] == 5
    await upload("dev-10", [{"name": "a", "value": []}])
    assert attributes_of(await get_device(client, user_headers, "dev-10"))[("inventory", "a")] == []


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"name": "a", "value": ["x", 1]}], "array values must be of consistent type: string or float64"),
        ([{"name": "a", "value": None}], "supported types are string, float64, and arrays thereof"),
        ([{"name": "a"}], "supported types are string, float64, and arrays thereof"),
        ([{"name": "a", "value": True}], "supported types are string, float64, and arrays thereof"),
        ([{"name": "a", "value": {"x": 1}}], "supported types are string, float64, and arrays thereof"),
        ([{"value": "x"}], "attribute name not present"),
        ([{"name": "", "value": "x"}], "attribute name not present"),
        ([{"name": "n" * 1025, "value": "x"}], "attribute name can have at most 1024 characters"),
        ([{"name": "a", "value": "x", "description": 5}], "attribute description must be a string"),
        ({"name": "a", "value": "x"}, "failed to decode request body"),
        (["a"], "failed to decode request body"),
    ],
)
async def test_bad_attributes_are_rejected(
    client: TestClient, device_headers: Callable[..., Any], method: str, body: Any, message: str
) -> None:
    response = await client.request(method, DEVICE_ATTRIBUTES, json=body, headers=await device_headers("dev-bad"))
    assert response.status == 400
    error = await response.json()
    assert message in error["error"]
    assert error["request_id"] == response.headers["X-MEN-RequestID"]


async def test_a_rejected_upload_changes_nothing(client: TestClient, upload, user_headers) -> None:
    await upload("dev-11", [{"name": "a", "value": "1"}])
    await upload("dev-11", [{"name": "a", "value": "2"}, {"name": "b", "value": None}], expect=400)
    assert attributes_of(await get_device(client, user_headers, "dev-11"))[("inventory", "a")] == "1"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_body_errors(client: TestClient, device_headers: Callable[..., Any], method: str) -> None:
    headers = await device_headers("dev-x")
    empty = await client.request(method, DEVICE_ATTRIBUTES, headers={**headers, "Content-Type": "application/json"})
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode request body: JSON payload is empty"
    wrong_type = await client.request(
        method, DEVICE_ATTRIBUTES, data=b"[]", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415
    broken = await client.request(
        method, DEVICE_ATTRIBUTES, data=b"[{", headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status == 400


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    "raw",
    [
        b'[{"name": "a", "value": 1' + b"0" * 400 + b"}]",  # beyond float64
        b'[{"name": "a", "value": [1, 1' + b"0" * 5000 + b"]}]",  # beyond Python's integer digit limit
        b'[{"name": "a", "value": NaN}]',
        b'[{"name": "a", "value": [Infinity]}]',
        b'[{"name": "a", "value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
    ],
    ids=["1e400", "5000-digits", "nan", "infinity", "deep"],
)
async def test_malformed_values_are_a_400(
    client: TestClient, device_headers: Callable[..., Any], user_headers, method: str, raw: bytes
) -> None:
    headers = {**(await device_headers("dev-odd")), "Content-Type": "application/json"}
    response = await client.request(method, DEVICE_ATTRIBUTES, data=raw, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]
    assert (await client.get(f"{V1}/devices/dev-odd", headers=user_headers)).status == 404


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_wrong_credentials(client: TestClient, user_headers: dict[str, str], method: str) -> None:
    body = [{"name": "a", "value": "1"}]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, user_headers):
        response = await client.request(method, DEVICE_ATTRIBUTES, json=body, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"] == "unauthorized"
    listing = await client.get(f"{V1}/devices", headers=user_headers)
    assert await listing.json() == []


async def test_chunked_body_with_trailing_newline_like_the_real_client(
    client: TestClient, device_headers, user_headers
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'[{"name":"device_type","value":"qemux86-64"},'
        yield b'{"name":"network_interfaces","value":["eth0","lo"]}]\n'

    headers = {**(await device_headers("dev-12")), "Content-Type": "application/json"}
    response = await client.put(DEVICE_ATTRIBUTES, data=chunks(), headers=headers)
    assert response.status == 200
    attributes = attributes_of(await get_device(client, user_headers, "dev-12"))
    assert attributes[("inventory", "network_interfaces")] == ["eth0", "lo"]


async def test_lone_surrogates_become_replacement_characters(client: TestClient, device_headers: Callable[..., Any], user_headers) -> None:
    """As Go's JSON decoder does: such strings could not be stored or sent back as UTF-8 otherwise."""
    headers = {**(await device_headers("dev-surrogate")), "Content-Type": "application/json"}
    raw = b'[{"name": "a\\ud800", "value": "\\udfffx", "description": "\\ud800"}]'
    assert (await client.patch(DEVICE_ATTRIBUTES, data=raw, headers=headers)).status == 200
    device = await (await client.get(f"{V1}/devices/dev-surrogate", headers=user_headers)).json()
    [attribute] = [attribute for attribute in device["attributes"] if attribute["scope"] == "inventory"]
    assert attribute == {"name": "a\ufffd", "value": "\ufffdx", "scope": "inventory", "description": "\ufffd"}
