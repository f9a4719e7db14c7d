"""No request of the main paths scans a table: every statement they run is planned through an index
(SQLite's EXPLAIN QUERY PLAN on the real statements, with their parameters). SQLite has no statistics here,
so the plans do not depend on the data size; the planner's own choice between a selective filter and a
walk of the devices (by index counts) is exercised both ways."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event

from menderlite.context import Context
from menderlite.db.engine import register_regexp
from menderlite.events import DeviceAppeared
from tests.api.inventory.conftest import DEVICE_ATTRIBUTES, V1, V2

SEARCH = f"{V2}/filters/search"
# `SCAN x` of anything but a subquery, a CTE or a constant row is a walk over a whole table.
TABLE_SCAN = re.compile(r"\bSCAN (?!CONSTANT ROW|\(subquery-\d+\)|anon_\d+|groups\b)(\S+)")
# An index range holding every row of the tenant (all rows, in a single-tenant setup) is a table scan too,
# unless the index alone answers (a count, or a page walked in order that stops early).
TENANT_WALK = re.compile(r"SEARCH \S+ USING INDEX \S+ \(tenant_id=\?\)|INDEX ix_inventory_values_\w+ \(tenant_id=\?\)")


def full_walks(plan: str) -> list[str]:
    return TABLE_SCAN.findall(plan) + TENANT_WALK.findall(plan)


def term(attribute: str, operator: str, value: Any, scope: str = "inventory") -> dict[str, Any]:
    return {"scope": scope, "attribute": attribute, "type": operator, "value": value}


def by(attribute: str, order: str, scope: str = "inventory") -> list[dict[str, str]]:
    return [{"scope": scope, "attribute": attribute, "order": order}]


ACCEPTED = term("status", "$eq", "accepted", "identity")
# name -> (method, path, body, whether a page is read in order without sorting every match)
MAIN_PATHS: dict[str, tuple[str, str, Any, bool]] = {
    "v1 device list page": ("GET", f"{V1}/devices?page=2&per_page=2", None, True),
    "v1 list, filter + 2-key sort": ("GET", f"{V1}/devices?device_type=rpi&sort=mem:asc,host:desc", None, False),
    "v1 list by group": ("GET", f"{V1}/devices?group=g1", None, False),
    "v1 device": ("GET", f"{V1}/devices/d3", None, True),
    "v1 device group": ("GET", f"{V1}/devices/d3/group", None, True),
    "v1 groups": ("GET", f"{V1}/groups", None, True),
    "v1 groups by status": ("GET", f"{V1}/groups?status=accepted", None, True),
    "v1 group devices page": ("GET", f"{V1}/groups/g1/devices?page=1&per_page=1", None, True),
    "v2 three filters incl. $regex": (
        "POST",
        SEARCH,
        {"filters": [term("device_type", "$eq", "rpi"), term("mem", "$gte", 100), term("art", "$regex", "rel")]},
        True,
    ),
    "v2 GUI list (status accepted)": ("POST", SEARCH, {"filters": [ACCEPTED]}, True),
    "v2 GUI list, sorted": ("POST", SEARCH, {"filters": [ACCEPTED], "sort": by("art", "asc"), "page": 2, "per_page": 1}, True),
    "v2 whole fleet sorted": ("POST", SEARCH, {"sort": by("temp", "desc")}, True),
    "v2 sorted by device id": ("POST", SEARCH, {"sort": by("id", "desc", "identity")}, True),
    "v2 $in + range": ("POST", SEARCH, {"filters": [term("device_type", "$in", ["rpi", "bbb"]), term("mem", "$lt", 500)]}, True),
    "v2 $regex without prefix + $ne": (
        "POST",
        SEARCH,
        {"filters": [term("host", "$regex", ".*-1"), term("status", "$ne", "rejected", "identity")]},
        False,
    ),
    "v2 negations": ("POST", SEARCH, {"filters": [term("device_type", "$nin", ["rpi"]), term("tags", "$exists", False)]}, False),
    "v2 whole array": ("POST", SEARCH, {"filters": [term("tags", "$eq", ["a", "b"])]}, False),
    "v2 group": ("POST", SEARCH, {"filters": [term("group", "$eq", "g1", "system")]}, False),
    "v2 device ids": ("POST", SEARCH, {"device_ids": ["d1", "d2"], "filters": [term("mem", "$gt", 1)]}, False),
    # The GUI's device lists sort by the system timestamps; at 100,000 devices a page must not sort the fleet.
    "v1 list by updated_ts": ("GET", f"{V1}/devices?sort=system/updated_ts:desc&page=2&per_page=2", None, True),
    "v1 list by created_ts": ("GET", f"{V1}/devices?sort=system/created_ts:asc&per_page=3", None, True),
    "v2 GUI list by updated_ts": (
        "POST",
        SEARCH,
        {"filters": [ACCEPTED], "sort": by("updated_ts", "desc", "system"), "page": 1, "per_page": 2},
        True,
    ),
    "v2 GUI list by created_ts": ("POST", SEARCH, {"filters": [ACCEPTED], "sort": by("created_ts", "asc", "system")}, True),
    "v2 whole fleet by created_ts": ("POST", SEARCH, {"sort": by("created_ts", "desc", "system"), "per_page": 3}, True),
    "v2 GUI list by device id": ("POST", SEARCH, {"filters": [ACCEPTED], "sort": by("id", "asc", "identity")}, True),
}


@pytest.fixture
async def fleet(client: TestClient, ctx: Context, upload, publish, user_headers) -> None:
    for n in range(1, 8):
        await publish(DeviceAppeared("", f"d{n}", {"mac": f"m{n}"}, "accepted" if n < 5 else "pending"))
        await upload(
            f"d{n}",
            [
                {"name": "device_type", "value": "rpi" if n % 2 else "bbb"},
                {"name": "mem", "value": 100 * n},
                {"name": "art", "value": f"release-{n}"},
                {"name": "host", "value": f"h-{n}"},
                {"name": "temp", "value": 30.5 + n},
                {"name": "tags", "value": ["a", "b"] if n < 3 else ["c"]},
            ],
        )
    response = await client.patch(f"{V1}/groups/g1/devices", json=["d1", "d2", "d3"], headers=user_headers)
    assert response.status == 200


@pytest.fixture
def statements(ctx: Context) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the application runs (reads and writes), with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        seen.append((statement, parameters[0] if executemany else parameters))

    engines = (ctx.db.read_engine.sync_engine, ctx.db.write_engine.sync_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


def plans(ctx: Context, executed: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    connection = sqlite3.connect(ctx.db.path)
    register_regexp(connection)
    try:
        planned = []
        for statement, parameters in executed:
            if statement.lstrip().split(" ", 1)[0].upper() not in ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT"):
                continue
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            planned.append((statement, "; ".join(row[3] for row in rows)))
        return planned
    finally:
        connection.close()


@pytest.mark.parametrize("name", MAIN_PATHS)
async def test_main_paths_use_indexes(
    client: TestClient, ctx: Context, user_headers, fleet, statements, planning: str, name: str
) -> None:
    method, path, body, in_index_order = MAIN_PATHS[name]
    statements.clear()
    response = await client.request(method, path, json=body, headers=user_headers)
    assert response.status == 200, await response.text()
    planned = plans(ctx, statements)
    assert planned
    for statement, plan in planned:
        assert not full_walks(plan), f"{plan}\n{statement}"
        if in_index_order and planning == "broad":  # a big result: the page must not sort every match
            assert "TEMP B-TREE" not in plan, f"{plan}\n{statement}"


async def test_device_upload_uses_indexes(
    client: TestClient, ctx: Context, fleet, statements, device_headers
) -> None:
    """The write a device makes at every inventory poll: PUT (replace) and PATCH (merge), values changing."""
    for method, mem in (("PUT", 512), ("PATCH", 1024)):
        body = [{"name": "device_type", "value": "rpi"}, {"name": "mem", "value": mem}, {"name": "new", "value": ["x"]}]
        statements.clear()
        response = await client.request(method, DEVICE_ATTRIBUTES, json=body, headers=await device_headers("d3"))
        assert response.status == 200
        planned = plans(ctx, statements)
        assert any(statement.startswith("INSERT INTO inventory_values") for statement, _ in planned)
        for statement, plan in planned:
            assert not full_walks(plan), f"{plan}\n{statement}"
