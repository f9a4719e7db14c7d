"""Listing deployments: order, paging, filters, the internal per-tenant list, and the devices of a deployment."""

from __future__ import annotations

import time
from datetime import timedelta

from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.db import utcnow
from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    INTERNAL,
    admit_fleet,
    create_deployment,
    get_json,
)
from tests.support.artifacts import ArtifactMaker


async def names(client: TestClient, headers: dict[str, str], query: str = "") -> list[str]:
    return [item["name"] for item in await get_json(client, headers, f"{DEPLOYMENTS}?{query}")]


async def test_list_order_paging_and_filters(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("Listing-Release"))
    await upload_ok(client, user_headers, maker.single_file("other-app"))
    before = int(time.time())
    ids = {}
    for name, release in [("Alpha rollout", "Listing-Release"), ("beta", "other-app"), ("gamma", "Listing-Release"),
                          ("delta 100%_done", "other-app"), ("epsilon", "Listing-Release")]:
        ids[name] = await create_deployment(client, user_headers, release, ["dummy-1", "dummy-2"], name=name)
    assert await names(client, user_headers) == ["epsilon", "delta 100%_done", "gamma", "beta", "Alpha rollout"]

    response = await client.get(f"{DEPLOYMENTS}?per_page=2&page=2", headers=user_headers)
    assert [item["name"] for item in await response.json()] == ["gamma", "beta"]
    assert response.headers["X-Total-Count"] == "5"
    link = response.headers["Link"]
    assert 'page=1&per_page=2>; rel="prev"' in link and 'page=3&per_page=2>; rel="next"' in link and 'rel="first"' in link
    response = await client.get(f"{DEPLOYMENTS}?per_page=2&page=3", headers=user_headers)
    assert [item["name"] for item in await response.json()] == ["Alpha rollout"]
    assert 'rel="next"' not in response.headers["Link"]

    # search: case-insensitive, name or artifact name, LIKE wildcards taken literally
    assert await names(client, user_headers, "search=ALPHA") == ["Alpha rollout"]
    assert await names(client, user_headers, "search=listing-release") == ["epsilon", "gamma", "Alpha rollout"]
    assert await names(client, user_headers, "search=100%25_") == ["delta 100%_done"]
    assert await names(client, user_headers, "search=a_p") == []

    # status
    await client.put(f"{DEPLOYMENTS}/{ids['beta']}/status", json={"status": "aborted"}, headers=user_headers)
    assert await names(client, user_headers, "status=finished") == ["beta"]
    assert await names(client, user_headers, "status=aborted") == ["beta"]
    assert await names(client, user_headers, "status=pending") == ["epsilon", "delta 100%_done", "gamma", "Alpha rollout"]
    assert await names(client, user_headers, "status=inprogress") == []
    response = await client.get(f"{DEPLOYMENTS}?status=pending&per_page=1", headers=user_headers)
    assert response.headers["X-Total-Count"] == "4"
    assert "status=pending" in response.headers["Link"]

    # creation time, inclusive Unix seconds
    after = int(time.time())
    assert len(await names(client, user_headers, f"created_after={before}&created_before={after + 1}")) == 5
    assert await names(client, user_headers, f"created_after={after + 2}") == []
    assert await names(client, user_headers, f"created_before={before - 1}") == []


async def test_internal_tenant_list(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("internal-list"))
    for number in range(3):
        await create_deployment(client, user_headers, "internal-list", ["d"], name=f"internal {number}")
    response = await client.get(f"{INTERNAL}/tenants/default/deployments")
    assert response.status == 200
    assert [item["name"] for item in await response.json()] == ["internal 2", "internal 1", "internal 0"]
    assert response.headers["X-Total-Count"] == "3"
    assert "Link" not in response.headers
    response = await client.get(f"{INTERNAL}/tenants/default/deployments?page=2&per_page=2&search=internal")
    assert [item["name"] for item in await response.json()] == ["internal 0"]
    assert response.headers["X-Total-Count"] == "3" and 'rel="prev"' in response.headers["Link"]
    response = await client.get(f"{INTERNAL}/tenants/someothertenant/deployments")
    assert response.status == 200 and await response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_devices_of_a_deployment_paged_on_request(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("device-paging"))
    devices = await admit_fleet(client, 5)
    deployment_id = await create_deployment(client, user_headers, "device-paging", [d.id for d in devices])
    for device in devices:
        assert await device.next() is not None
    everything = await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    assert [item["id"] for item in everything] == [d.id for d in devices]  # in the order they joined
    assert all(item["status"] == "pending" and item["log"] is False for item in everything)
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices?per_page=2&page=2", headers=user_headers)
    assert [item["id"] for item in await response.json()] == [d.id for d in devices[2:4]]
    assert response.headers["X-Total-Count"] == "5" and 'rel="next"' in response.headers["Link"]


async def test_time_filters_are_inclusive(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("inclusive"))
    fixed = utcnow().replace(microsecond=0) - timedelta(days=3)
    ctx.deployments.clock = lambda: fixed
    await create_deployment(client, user_headers, "inclusive", ["d"], name="on the second")
    ctx.deployments.clock = utcnow
    second = int(fixed.timestamp())
    assert await names(client, user_headers, f"created_after={second}&created_before={second}") == ["on the second"]
    assert await names(client, user_headers, f"created_after={second + 1}&created_before={second + 10}") == []
