"""Saved filters (v2): create, list, show, delete, execute."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.inventory.conftest import V2, ids_of

FILTERS = f"{V2}/filters"
RPI = [{"scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "rpi"}]


@pytest.fixture
async def devices(upload) -> None:
    await upload("f1", [{"name": "device_type", "value": "rpi"}])
    await upload("f2", [{"name": "device_type", "value": "bbb"}])
    await upload("f3", [{"name": "device_type", "value": "rpi"}])


async def create(client: TestClient, headers: dict[str, str], name: str, terms: list[dict[str, Any]] = RPI) -> str:
    response = await client.post(FILTERS, json={"name": name, "terms": terms}, headers=headers)
    assert response.status == 201, await response.text()
    location = response.headers["Location"]
    assert location.startswith(f"{FILTERS}/")
    return location.rsplit("/", 1)[1]


async def test_create_show_and_list(client: TestClient, user_headers) -> None:
    filter_id = await create(client, user_headers, "raspberries")
    shown = await client.get(f"{FILTERS}/{filter_id}", headers=user_headers)
    assert shown.status == 200
    assert await shown.json() == {"id": filter_id, "name": "raspberries", "terms": RPI}
    other = await create(
        client, user_headers, "beagles", [{"scope": "inventory", "attribute": "n", "type": "$in", "value": [1, "2"]}]
    )
    listing = await client.get(FILTERS, headers=user_headers)
    assert listing.status == 200
    assert [f["id"] for f in await listing.json()] == [filter_id, other]
    assert listing.headers["X-Total-Count"] == "2"
    assert 'rel="first"' in listing.headers["Link"]
    page = await client.get(f"{FILTERS}?per_page=1&page=2", headers=user_headers)
    assert [f["name"] for f in await page.json()] == ["beagles"]
    bad_page = await client.get(f"{FILTERS}?per_page=0", headers=user_headers)
    assert bad_page.status == 400


async def test_names_are_unique(client: TestClient, user_headers) -> None:
    await create(client, user_headers, "mine")
    duplicate = await client.post(FILTERS, json={"name": "mine", "terms": RPI}, headers=user_headers)
    assert duplicate.status == 409
    assert (await duplicate.json())["error"]
    assert len(await (await client.get(FILTERS, headers=user_headers)).json()) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x"}, "at least one filter term must be provided"),
        ({"name": "x", "terms": []}, "at least one filter term must be provided"),
        ({"terms": RPI}, "invalid filter: name must be a non-empty string"),
        ({"name": "", "terms": RPI}, "invalid filter: name must be a non-empty string"),
        (
            {"name": "x", "terms": [{"scope": "inventory", "attribute": "a", "type": "$bogus", "value": 1}]},
            "unknown type",
        ),
        (
            {"name": "x", "terms": [{"scope": "inventory", "attribute": "a", "type": "$eq"}]},
            "invalid filter: value must be provided",
        ),
        ({"name": "x", "terms": "device_type=rpi"}, "invalid filter: filters must be an array"),
        ({"name": "x", "terms": [None]}, "invalid filter: each filter must be a JSON object"),
        (
            {"name": "x", "terms": [{"scope": "inventory", "attribute": "a", "type": "$gt", "value": 10**400}]},
            "invalid filter: numbers must fit a 64-bit float",
        ),
        ({"name": "x", "terms": RPI * 101}, "invalid filter: too many conditions"),
        ({"name": ["x"], "terms": RPI}, "invalid filter: name must be a non-empty string"),
    ],
)
async def test_create_validates(client: TestClient, user_headers, body: dict[str, Any], message: str) -> None:
    response = await client.post(FILTERS, json=body, headers=user_headers)
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_create_body_errors(client: TestClient, user_headers) -> None:
    for raw in (b'{"name": "x", "terms": [NaN]}', b'{"name": "x", "terms": [' + b"[" * 100_000 + b"]" * 100_000 + b']}'):
        odd = await client.post(FILTERS, data=raw, headers={**user_headers, "Content-Type": "application/json"})
        assert odd.status == 400
        assert (await odd.json())["error"].startswith("failed to decode request body: ")
    empty = await client.post(FILTERS, headers={**user_headers, "Content-Type": "application/json"})
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode request body: JSON payload is empty"
    wrong_type = await client.post(FILTERS, data=b"{}", headers={**user_headers, "Content-Type": "text/plain"})
    assert wrong_type.status == 415


async def test_unknown_filter(client: TestClient, user_headers) -> None:
    for path in ("/nope", "/nope/search"):
        response = await client.get(FILTERS + path, headers=user_headers)
        assert response.status == 404
        assert (await response.json())["error"] == "filter not found"


async def test_delete(client: TestClient, user_headers) -> None:
    filter_id = await create(client, user_headers, "gone")
    response = await client.delete(f"{FILTERS}/{filter_id}", headers=user_headers)
    assert response.status == 204
    assert (await client.get(f"{FILTERS}/{filter_id}", headers=user_headers)).status == 404
    assert (await client.delete(f"{FILTERS}/{filter_id}", headers=user_headers)).status == 204
    await create(client, user_headers, "gone")  # the name is free again


async def test_execute_with_paging(client: TestClient, user_headers, devices) -> None:
    filter_id = await create(client, user_headers, "raspberries")
    response = await client.get(f"{FILTERS}/{filter_id}/search", headers=user_headers)
    assert response.status == 200
    assert ids_of(await response.json()) == ["f1", "f3"]
    assert response.headers["X-Total-Count"] == "2"
    second = await client.get(f"{FILTERS}/{filter_id}/search?per_page=1&page=2", headers=user_headers)
    assert ids_of(await second.json()) == ["f3"]
    assert 'rel="prev"' in second.headers["Link"]
    bad = await client.get(f"{FILTERS}/{filter_id}/search?page=x", headers=user_headers)
    assert bad.status == 400


async def test_filters_need_a_user(client: TestClient, device_headers) -> None:
    for method, path in (
        ("GET", FILTERS),
        ("POST", FILTERS),
        ("GET", f"{FILTERS}/x"),
        ("DELETE", f"{FILTERS}/x"),
        ("GET", f"{FILTERS}/x/search"),
    ):
        for headers in ({}, {"Authorization": "Bearer bogus"}, await device_headers("f1")):
            response = await client.request(method, path, json={"name": "a", "terms": RPI}, headers=headers)
            assert response.status == 401
            assert (await response.json())["error"] in ("missing or invalid auth header", "invalid jwt")
