"""Hundreds of simulated devices polling and reporting at once: no phase slot handed out twice, no status
lost, exact statistics, one device deployment per device."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from menderlite.context import Context
from menderlite.db import utcnow
from menderlite.deployments import models
from menderlite.timeutil import rfc3339
from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    Device,
    admit_fleet,
    counts,
    create_deployment,
    show,
    statistics,
)
from tests.support.artifacts import ArtifactMaker

FLEET = 200


async def poll_concurrently(devices: list[Device], rounds: int = 2) -> dict[str, dict]:
    """Every device polls `rounds` times, all at once; the instructions each one got (must be identical)."""
    results = await asyncio.gather(*(device.next() for device in devices for _ in range(rounds)))
    given: dict[str, dict] = {}
    for index, instructions in enumerate(results):
        device = devices[index // rounds]
        if instructions is not None:
            assert given.setdefault(device.id, instructions)["id"] == instructions["id"]
    return given


async def test_many_devices_at_once(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("crowd-v2"))
    devices = await admit_fleet(client, FLEET)
    later = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    deployment_id = await create_deployment(
        client, user_headers, "crowd-v2", [device.id for device in devices],
        phases=[{"batch_size": 25}, {"start_ts": later}], retries=1,
    )

    first = await poll_concurrently(devices)
    assert len(first) == FLEET // 4  # exactly the first phase's slots, however many polled at once
    deployment = await show(client, user_headers, deployment_id)
    assert [phase["device_count"] for phase in deployment["phases"]] == [FLEET // 4, 0]
    assert deployment["device_count"] == FLEET // 4
    assert await statistics(client, user_headers, deployment_id) == counts(pending=FLEET // 4)

    ctx.deployments.clock = lambda: utcnow() + timedelta(hours=1, seconds=1)
    given = await poll_concurrently(devices)
    assert len(given) == FLEET
    assert all(given[device_id]["artifact"]["id"] == first[device_id]["artifact"]["id"] for device_id in first)

    # everybody installs at once while the others keep polling; every tenth device fails once, then retries
    failing_once = {device.id for device in devices[::10]}

    async def roll_out(device: Device) -> None:
        instructions = given[device.id]
        if device.id in failing_once:
            await device.install(instructions, outcome="failure")
            instructions = await device.next()
            assert instructions is not None and instructions["id"] == deployment_id
        await device.install(instructions)

    await asyncio.gather(*(roll_out(device) for device in devices), poll_concurrently(devices[:50], rounds=1))
    assert await statistics(client, user_headers, deployment_id) == counts(success=FLEET)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "finished" and deployment["device_count"] == FLEET
    assert sum(phase["device_count"] for phase in deployment["phases"]) == FLEET
    async with ctx.db.read() as session:
        per_device = await session.execute(
            select(models.DeviceDeployment.device_id, func.count())
            .where(models.DeviceDeployment.deployment_id == deployment_id)
            .group_by(models.DeviceDeployment.device_id)
        )
        assert sorted(count for _, count in per_device) == [1] * FLEET
    assert not any(await asyncio.gather(*(device.next() for device in devices)))


async def test_one_device_polling_many_times_at_once_joins_once(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("eager"))
    devices = await admit_fleet(client, 3)
    deployment_id = await create_deployment(client, user_headers, "eager", [device.id for device in devices])
    results = await asyncio.gather(*(device.next() for device in devices for _ in range(10)))
    assert all(result is not None and result["id"] == deployment_id for result in results)
    assert (await show(client, user_headers, deployment_id))["device_count"] == 3
    assert await statistics(client, user_headers, deployment_id) == counts(pending=3)
