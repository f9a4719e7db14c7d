"""Management v2 search: the ten operators with MongoDB semantics, sort, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.events import DeviceStatusChanged
from menderlite.inventory import query, store
from tests.api.inventory.conftest import V1, V2, ids_of

SEARCH = f"{V2}/filters/search"


@pytest.fixture
async def fleet(client: TestClient, upload, publish, user_headers) -> None:
    await upload(
        "s1",
        [
            {"name": "device_type", "value": "x"},
            {"name": "name", "value": "alpha"},
            {"name": "num", "value": 10},
            {"name": "tags", "value": ["a", "b"]},
            {"name": "nums", "value": [1, 5]},
            {"name": "code", "value": "10"},
        ],
    )
    await upload(
        "s2",
        [
            {"name": "device_type", "value": "x"},
            {"name": "name", "value": "beta"},
            {"name": "num", "value": 20},
            {"name": "tags", "value": ["b", "c"]},
            {"name": "nums", "value": [7]},
        ],
    )
    await upload(
        "s3",
        [
            {"name": "device_type", "value": "x"},
            {"name": "name", "value": "Gamma"},
            {"name": "num", "value": "20"},
            {"name": "tags", "value": []},
            {"name": "code", "value": 10},
        ],
    )
    await upload("s4", [{"name": "device_type", "value": "x"}])
    await publish(DeviceStatusChanged("", ("s1", "s2"), "accepted"))
    response = await client.patch(f"{V1}/groups/prod/devices", json=["s1", "s2"], headers=user_headers)
    assert response.status == 200


def term(attribute: str, operator: str, value: Any, scope: str = "inventory") -> dict[str, Any]:
    return {"scope": scope, "attribute": attribute, "type": operator, "value": value}


async def search(client: TestClient, headers: dict[str, str], *filters: dict[str, Any], **body: Any) -> list[str]:
    response = await client.post(SEARCH, json={"filters": list(filters), **body}, headers=headers)
    assert response.status == 200, await response.text()
    devices = await response.json()
    assert response.headers["X-Total-Count"] == str(len(devices)) or "page" in body or "per_page" in body
    return ids_of(devices)


# $eq: type-strict, any array element, or the whole array
EQUALITY = [
    (term("name", "$eq", "alpha"), ["s1"]),
    (term("num", "$eq", 20), ["s2"]),
    (term("num", "$eq", "20"), ["s3"]),
    (term("num", "$eq", 20.0), ["s2"]),
    (term("tags", "$eq", "b"), ["s1", "s2"]),
    (term("tags", "$eq", ["a", "b"]), ["s1"]),
    (term("tags", "$eq", ["b", "a"]), []),
    (term("tags", "$eq", []), ["s3"]),
    (term("nums", "$eq", 5), ["s1"]),
    (term("nums", "$eq", [1, 5]), ["s1"]),
    (term("nums", "$eq", [1]), []),
    (term("name", "$eq", True), []),
    (term("name", "$eq", {"a": 1}), []),
]

# $ne: also devices lacking the attribute
NOT_EQUAL = [
    (term("name", "$ne", "alpha"), ["s2", "s3", "s4"]),
    (term("tags", "$ne", "b"), ["s3", "s4"]),
    (term("num", "$ne", 20), ["s1", "s3", "s4"]),
    (term("tags", "$ne", ["a", "b"]), ["s2", "s3", "s4"]),
    (term("nothing", "$ne", "x"), ["s1", "s2", "s3", "s4"]),
]

# ranges: same type only, any element, never a missing attribute
RANGES = [
    (term("num", "$gt", 10), ["s2"]),
    (term("num", "$gte", 10), ["s1", "s2"]),
    (term("num", "$lt", 20), ["s1"]),
    (term("num", "$lte", 20), ["s1", "s2"]),
    (term("num", "$lt", 100), ["s1", "s2"]),
    (term("num", "$gt", "1"), ["s3"]),
    (term("name", "$gt", "alpha"), ["s2"]),
    (term("name", "$lt", "beta"), ["s1", "s3"]),  # binary order: "Gamma" < "alpha"
    (term("nums", "$gt", 6), ["s2"]),
    (term("nums", "$lt", 2), ["s1"]),
    (term("nums", "$gte", 5), ["s1", "s2"]),
    (term("num", "$gt", [1]), []),
]

# $in: type-strict members, array elements, whole arrays
MEMBERSHIP = [
    (term("num", "$in", [20, "10"]), ["s2"]),
    (term("code", "$in", ["10"]), ["s1"]),
    (term("code", "$in", [10]), ["s3"]),
    (term("tags", "$in", ["c", "z"]), ["s2"]),
    (term("tags", "$in", [["a", "b"]]), ["s1"]),
    (term("tags", "$in", []), []),
    (term("code", "$in", [None]), ["s2", "s4"]),  # null: the attribute is missing
    (term("code", "$in", [None, "10"]), ["s1", "s2", "s4"]),
    (term("name", "$in", [True, {"a": 1}, ["alpha", 1]]), []),
]

# $nin: also devices lacking the attribute
NOT_IN = [
    (term("tags", "$nin", ["a"]), ["s2", "s3", "s4"]),
    (term("name", "$nin", ["alpha", "beta"]), ["s3", "s4"]),
    (term("tags", "$nin", []), ["s1", "s2", "s3", "s4"]),
    (term("code", "$nin", [None]), ["s1", "s3"]),
    (term("code", "$nin", [None, 10]), ["s1"]),
]

# $exists: an empty array exists
EXISTS = [
    (term("tags", "$exists", True), ["s1", "s2", "s3"]),
    (term("tags", "$exists", False), ["s4"]),
    (term("nothing", "$exists", True), []),
    (term("nothing", "$exists", False), ["s1", "s2", "s3", "s4"]),
]

# $regex: anchored at the start, /re/flags, strings only, array elements
REGEX = [
    (term("name", "$regex", "alp"), ["s1"]),
    (term("name", "$regex", "lpha"), []),
    (term("name", "$regex", "a|b"), ["s1", "s2"]),
    (term("name", "$regex", "lpha|eta"), []),
    (term("name", "$regex", ".*a$"), ["s1", "s2", "s3"]),
    (term("name", "$regex", "/GAMMA/i"), ["s3"]),
    (term("name", "$regex", "GAMMA"), []),
    (term("name", "$regex", "("), []),
    (term("name", "$regex", "/alpha/z"), []),
    (term("tags", "$regex", "c"), ["s2"]),
    (term("num", "$regex", "1"), []),
    (term("code", "$regex", "1"), ["s1"]),
    (term("name", "$regex", "(?i)GAM"), ["s3"]),  # PCRE's leading inline flags
    (term("name", "$regex", "/(?i)GAM/s"), ["s3"]),
    (term("name", "$regex", "x)|(a"), []),  # invalid on its own: must not escape the anchor
    (term("name", "$regex", "(?i)amma"), []),
]

# identity/id is the device id; system attributes are the device's group and timestamps
DEVICE_ATTRIBUTES = [
    (term("id", "$eq", "s2", "identity"), ["s2"]),
    (term("id", "$in", ["s1", "s3", "zz"], "identity"), ["s1", "s3"]),
    (term("id", "$regex", "s[12]", "identity"), ["s1", "s2"]),
    (term("id", "$ne", "s1", "identity"), ["s2", "s3", "s4"]),
    (term("id", "$exists", True, "identity"), ["s1", "s2", "s3", "s4"]),
    (term("status", "$eq", "accepted", "identity"), ["s1", "s2"]),
    (term("status", "$ne", "accepted", "identity"), ["s3", "s4"]),
    (term("group", "$eq", "prod", "system"), ["s1", "s2"]),
    (term("group", "$ne", "prod", "system"), ["s3", "s4"]),
    (term("group", "$exists", False, "system"), ["s3", "s4"]),
    (term("group", "$nin", ["prod"], "system"), ["s3", "s4"]),
    (term("group", "$regex", "pr", "system"), ["s1", "s2"]),
    (term("updated_ts", "$lt", "2000-01-01T00:00:00Z", "system"), []),
    (term("created_ts", "$gt", "2000-01-01T00:00:00Z", "system"), ["s1", "s2", "s3", "s4"]),
    (term("created_ts", "$gt", "not a time", "system"), []),
    (term("created_ts", "$gt", "0001-01-01T00:00:00+14:00", "system"), ["s1", "s2", "s3", "s4"]),
    (term("updated_ts", "$lt", "9999-12-31T23:59:59-14:00", "system"), ["s1", "s2", "s3", "s4"]),
    (term("group", "$in", [None], "system"), ["s3", "s4"]),
    (term("group", "$nin", [None], "system"), ["s1", "s2"]),
    (term("id", "$in", [None], "identity"), []),
]


@pytest.fixture(params=["selective", "broad"])
def planning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """ "broad": every filter counts as unselective, so the first pages are found by walking the devices."""
    if request.param == "broad":
        monkeypatch.setattr(query, "ESTIMATE_CAP", 1)
        monkeypatch.setattr(store, "ESTIMATE_CAP", 1)
    return request.param


@pytest.mark.parametrize(
    "cases",
    [EQUALITY, NOT_EQUAL, RANGES, MEMBERSHIP, NOT_IN, EXISTS, REGEX, DEVICE_ATTRIBUTES],
    ids=["eq", "ne", "gt-gte-lt-lte", "in", "nin", "exists", "regex", "id-status-group-timestamps"],
)
async def test_operators(
    client: TestClient, user_headers, fleet, planning: str, cases: list[tuple[dict[str, Any], list[str]]]
) -> None:
    wrong = []
    for predicate, expected in cases:
        found = await search(client, user_headers, predicate)
        if found != expected:
            wrong.append(f"{predicate}: expected {expected}, got {found}")
    assert not wrong, "\n".join(wrong)


async def test_filters_are_anded(client: TestClient, user_headers, fleet, planning: str) -> None:
    assert await search(client, user_headers, term("num", "$gte", 10), term("num", "$lte", 15)) == ["s1"]
    assert await search(client, user_headers, term("nums", "$gte", 2), term("nums", "$lte", 6)) == ["s1"]
    assert await search(client, user_headers, term("tags", "$eq", "b"), term("name", "$ne", "alpha")) == ["s2"]
    assert await search(client, user_headers, term("tags", "$exists", True), term("name", "$regex", "(")) == []
    assert await search(
        client,
        user_headers,
        term("device_type", "$eq", "x"),
        term("nothing", "$nin", ["a"]),
        term("code", "$exists", False),
    ) == ["s2", "s4"]


async def test_timestamps_compare_as_times(client: TestClient, user_headers, fleet) -> None:
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert await search(client, user_headers, term("updated_ts", "$gte", hour_ago, "system")) == [
        "s1",
        "s2",
        "s3",
        "s4",
    ]


def by(*keys: str) -> list[dict[str, str]]:
    """`by("inventory/num:asc", ...)` -> v2 sort criteria."""
    criteria = []
    for key in keys:
        name, order = key.split(":")
        scope, attribute = name.split("/")
        criteria.append({"scope": scope, "attribute": attribute, "order": order})
    return criteria


SORTS = [
    # MongoDB order: missing < numbers < strings
    (by("inventory/num:asc"), ["s4", "s1", "s2", "s3"]),
    (by("inventory/num:desc"), ["s3", "s2", "s1", "s4"]),
    (by("inventory/code:asc"), ["s2", "s4", "s3", "s1"]),
    (by("inventory/code:desc"), ["s1", "s3", "s4", "s2"]),
    # arrays: by their least element ascending, their greatest descending
    (by("inventory/nums:asc"), ["s3", "s4", "s1", "s2"]),
    (by("inventory/nums:desc"), ["s2", "s1", "s4", "s3"]),
    # several keys, device attributes
    (by("inventory/device_type:asc", "inventory/name:desc"), ["s2", "s1", "s3", "s4"]),
    (by("system/group:asc", "identity/id:desc"), ["s4", "s3", "s2", "s1"]),
    (by("identity/id:desc"), ["s4", "s3", "s2", "s1"]),
    # ties keep insertion order, reversed for a descending key
    (by("inventory/nothing:asc"), ["s1", "s2", "s3", "s4"]),
    (by("inventory/nothing:desc"), ["s4", "s3", "s2", "s1"]),
    (by("inventory/device_type:desc"), ["s4", "s3", "s2", "s1"]),
    # the system timestamps (the GUI's device lists); s1 and s2 were updated last, together (status, group)
    (by("system/created_ts:asc"), ["s1", "s2", "s3", "s4"]),
    (by("system/created_ts:desc"), ["s4", "s3", "s2", "s1"]),
    (by("system/updated_ts:asc"), ["s3", "s4", "s1", "s2"]),
    (by("system/updated_ts:desc"), ["s2", "s1", "s4", "s3"]),
]


@pytest.mark.parametrize(
    ("sort", "expected"), SORTS, ids=[",".join(f"{c['attribute']}:{c['order']}" for c in s) for s, _ in SORTS]
)
async def test_sort(
    client: TestClient, user_headers, fleet, planning: str, sort: list[dict[str, str]], expected: list[str]
) -> None:
    assert await search(client, user_headers, sort=sort) == expected
    assert await search(client, user_headers, term("device_type", "$eq", "x"), sort=sort) == expected
    second_page = await client.post(SEARCH, json={"sort": sort, "page": 2, "per_page": 3}, headers=user_headers)
    assert ids_of(await second_page.json()) == expected[3:]
    assert second_page.headers["X-Total-Count"] == "4"


async def test_bad_sort(client: TestClient, user_headers, fleet) -> None:
    response = await client.post(
        SEARCH, json={"sort": [{"scope": "inventory", "attribute": "num", "order": "up"}]}, headers=user_headers
    )
    assert response.status == 400
    assert (await response.json())["error"] == "invalid sort order"


async def test_paging_and_headers(client: TestClient, user_headers, fleet, planning: str) -> None:
    response = await client.post(
        SEARCH, json={"page": 2, "per_page": 3, "filters": [term("device_type", "$eq", "x")]}, headers=user_headers
    )
    assert response.status == 200
    assert ids_of(await response.json()) == ["s4"]
    assert response.headers["X-Total-Count"] == "4"
    assert 'rel="prev"' in response.headers["Link"]
    first = await client.post(SEARCH, json={"page": 1, "per_page": 3}, headers=user_headers)
    assert ids_of(await first.json()) == ["s1", "s2", "s3"]
    assert 'rel="next"' in first.headers["Link"]
    defaults = await client.post(SEARCH, json={"page": 0, "per_page": 0}, headers=user_headers)
    assert ids_of(await defaults.json()) == ["s1", "s2", "s3", "s4"]
    empty_body = await client.post(SEARCH, headers=user_headers)
    assert empty_body.status == 200
    assert empty_body.headers["X-Total-Count"] == "4"
    beyond = await client.post(
        SEARCH, json={"page": 5, "per_page": 3, "filters": [term("device_type", "$eq", "x")]}, headers=user_headers
    )
    assert await beyond.json() == []
    assert beyond.headers["X-Total-Count"] == "4"
    for huge in ({"page": 10**30}, {"page": 1e300, "per_page": 10**30}, {"page": 2**63 - 1, "per_page": 500}):
        far = await client.post(SEARCH, json={**huge, "sort": by("inventory/num:asc")}, headers=user_headers)
        assert far.status == 200, await far.text()
        assert await far.json() == []
        assert far.headers["X-Total-Count"] == "4"


async def test_device_ids_restrict_the_search(client: TestClient, user_headers, fleet) -> None:
    assert await search(client, user_headers, term("tags", "$exists", True), device_ids=["s1", "s3", "s4"]) == [
        "s1",
        "s3",
    ]
    assert await search(client, user_headers, device_ids=["s2", "nope"]) == ["s2"]
    assert await search(client, user_headers, device_ids=[]) == ["s1", "s2", "s3", "s4"]  # no restriction


@pytest.mark.parametrize(
    "body",
    [
        {"filters": [term("name", "$like", "a")]},
        {"filters": [{"scope": "inventory", "attribute": "name", "type": "$eq"}]},
        {"filters": [term("name", "$eq", None)]},
        {"filters": [{"attribute": "name", "type": "$eq", "value": "a"}]},
        {"filters": [term("name", "$in", "alpha")]},
        {"filters": [term("name", "$exists", 1)]},
        {"filters": [term("name", "$regex", ["a"])]},
        {"filters": "name=alpha"},
        {"page": "2"},
        {"device_ids": "s1"},
        {"device_ids": [1]},
        ["not", "an", "object"],
        "text",
        {"page": 2.5},
        {"page": [1]},
        {"filters": [1]},
        {"filters": {"scope": "inventory"}},
        {"filters": [{"scope": 1, "attribute": "name", "type": "$eq", "value": "a"}]},
        {"filters": [{"scope": "inventory", "attribute": ["name"], "type": "$eq", "value": "a"}]},
        {"filters": [{"scope": "inventory", "attribute": "name", "type": ["$eq"], "value": "a"}]},
        {"filters": [term("num", "$eq", 10**400)]},
        {"filters": [term("num", "$in", [1, 10**309])]},
        {"sort": {"scope": "inventory", "attribute": "name"}},
        {"sort": [1]},
        {"sort": [{"scope": "inventory", "attribute": "name", "order": ["asc"]}]},
        {"sort": [{"scope": "inventory", "order": "asc"}]},
    ],
)
async def test_bad_requests(client: TestClient, user_headers, body: Any) -> None:
    response = await client.post(SEARCH, json=body, headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"page": NaN}',
        b'{"per_page": Infinity}',
        b'{"filters": [{"scope": "inventory", "attribute": "num", "type": "$gt", "value": -Infinity}]}',
        b'{"filters": [{"scope": "inventory", "attribute": "num", "type": "$eq", "value": 1' + b"0" * 5000 + b"}]}",
        b'{"filters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"filters": [}',
        b"\xff\xfe",
    ],
    ids=["nan", "infinity", "-infinity", "5000-digits", "deep", "broken", "not-utf8"],
)
async def test_malformed_bodies(client: TestClient, user_headers, fleet, raw: bytes) -> None:
    response = await client.post(SEARCH, data=raw, headers={**user_headers, "Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"].startswith("failed to decode request body: ")


async def test_search_needs_json_and_a_user(client: TestClient, user_headers, device_headers) -> None:
    wrong_type = await client.post(SEARCH, data=b"{}", headers={**user_headers, "Content-Type": "text/plain"})
    assert wrong_type.status == 415
    for headers in ({}, {"Authorization": "Bearer nope"}, await device_headers("s1")):
        response = await client.post(SEARCH, json={}, headers=headers)
        assert response.status == 401


async def test_sort_after_an_attribute_becomes_an_array(client: TestClient, user_headers, upload) -> None:
    await upload("k1", [{"name": "v", "value": 5}])
    await upload("k2", [{"name": "v", "value": 3}])
    by_v = [{"scope": "inventory", "attribute": "v", "order": "asc"}]
    assert await search(client, user_headers, sort=by_v) == ["k2", "k1"]
    await upload("k3", [{"name": "v", "value": [9, 1, 4]}])  # now several value rows for one device
    assert await search(client, user_headers, sort=by_v) == ["k3", "k2", "k1"]
    descending = [{"scope": "inventory", "attribute": "v", "order": "desc"}]
    response = await client.post(SEARCH, json={"sort": descending, "per_page": 2}, headers=user_headers)
    assert ids_of(await response.json()) == ["k3", "k1"]
    assert response.headers["X-Total-Count"] == "3"
    await upload("k4", [{"name": "v", "value": "text"}])
    assert await search(client, user_headers, sort=by_v) == ["k3", "k2", "k1", "k4"]
