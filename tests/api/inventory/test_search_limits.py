"""Any search body gets an answer or a 400, never a 500: wrong types anywhere, numbers out of range, deep
nesting, lone surrogates, huge pages, and queries at (and beyond) the size bounds that keep every accepted
query within SQLite's limits (expression depth, tables in a join, bound parameters)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.inventory.filters import MAX_CONDITIONS, MAX_LIST_VALUES, MAX_SORT_KEYS
from tests.api.inventory.conftest import V2, ids_of

SEARCH = f"{V2}/filters/search"
ARRAY = [f"e{i}" for i in range(MAX_CONDITIONS - 1)]  # an $eq on it weighs exactly MAX_CONDITIONS
SORTABLE = [f"s{i}" for i in range(MAX_SORT_KEYS)]


def term(attribute: str, operator: str, value: Any, scope: str = "inventory") -> dict[str, Any]:
    return {"scope": scope, "attribute": attribute, "type": operator, "value": value}


def by(*attributes: str, order: str = "asc") -> list[dict[str, str]]:
    return [{"scope": "inventory", "attribute": attribute, "order": order} for attribute in attributes]


@pytest.fixture
async def fleet(upload) -> None:
    """Every filter below matches: nothing short-circuits to an empty answer before the big query runs."""
    for device_id in ("m1", "m2"):
        await upload(
            device_id,
            [
                {"name": "kind", "value": "x"},
                {"name": "pair", "value": ["a", "b"]},
                {"name": "long", "value": ARRAY},
                *({"name": name, "value": index} for index, name in enumerate(SORTABLE)),
                *({"name": f"multi{i}", "value": [i, i + 1]} for i in range(MAX_SORT_KEYS)),
            ],
        )


async def post(client: TestClient, headers: dict[str, str], body: Any) -> tuple[int, Any]:
    response = await client.post(SEARCH, json=body, headers=headers)
    assert response.status in (200, 400), await response.text()
    return response.status, await response.json()


BOTH = ["m1", "m2"]
AT_THE_BOUNDS = {
    "eq filters": ({"filters": [term("kind", "$eq", "x")] * MAX_CONDITIONS}, BOTH),
    "ne filters": ({"filters": [term("kind", "$ne", "y")] * MAX_CONDITIONS}, BOTH),
    "regex filters": ({"filters": [term("kind", "$regex", "x")] * MAX_CONDITIONS}, BOTH),
    "in filters": ({"filters": [term("kind", "$in", ["x", 1])] * (MAX_CONDITIONS // 2)}, BOTH),
    "whole array": ({"filters": [term("long", "$eq", ARRAY)]}, BOTH),
    "not the whole array": ({"filters": [term("long", "$ne", ARRAY)]}, []),
    "arrays in $in": ({"filters": [term("pair", "$in", [["a", "b"]] * ((MAX_CONDITIONS - 2) // 3))]}, BOTH),
    "arrays in $nin": ({"filters": [term("pair", "$nin", [["b", "a"]] * ((MAX_CONDITIONS - 2) // 3))]}, BOTH),
    "long $in": ({"filters": [term("kind", "$in", ["x", *(f"v{i}" for i in range(MAX_LIST_VALUES - 1))])]}, BOTH),
    "many device ids": ({"device_ids": ["m1", *(f"d{i}" for i in range(MAX_LIST_VALUES - 1))]}, ["m1"]),
    "sort keys": ({"filters": [term("kind", "$eq", "x")], "sort": by(*SORTABLE)}, BOTH),
    "sort keys on arrays": ({"sort": by(*(f"multi{i}" for i in range(MAX_SORT_KEYS)), order="desc")}, BOTH),
}


@pytest.mark.parametrize(("body", "expected"), AT_THE_BOUNDS.values(), ids=AT_THE_BOUNDS.keys())
async def test_queries_at_the_bounds_are_answered(
    client: TestClient, user_headers, fleet, planning: str, body: dict[str, Any], expected: list[str]
) -> None:
    status, devices = await post(client, user_headers, body)
    assert status == 200, devices
    assert sorted(ids_of(devices)) == expected


BEYOND_THE_BOUNDS = {
    "filters": ({"filters": [term("kind", "$eq", "x")] * (MAX_CONDITIONS + 1)}, "too many conditions"),
    "whole array": ({"filters": [term("long", "$eq", [*ARRAY, "more"])]}, "too many conditions"),
    "arrays in $in": ({"filters": [term("pair", "$in", [["a", "b"]] * MAX_CONDITIONS)]}, "too many conditions"),
    "long $in": ({"filters": [term("kind", "$nin", list(range(MAX_LIST_VALUES + 1)))]}, "too many values"),
    "device ids": ({"device_ids": [f"d{i}" for i in range(MAX_LIST_VALUES + 1)]}, "too many values"),
    "sort keys": ({"sort": by(*SORTABLE, "one-more")}, "at most 32 sort criteria"),
}


@pytest.mark.parametrize(("body", "message"), BEYOND_THE_BOUNDS.values(), ids=BEYOND_THE_BOUNDS.keys())
async def test_queries_beyond_the_bounds_are_refused(client: TestClient, user_headers, body: Any, message: str) -> None:
    status, error = await post(client, user_headers, body)
    assert status == 400
    assert message in error["error"]
