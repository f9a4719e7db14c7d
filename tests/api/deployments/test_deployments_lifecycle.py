"""Retries, phases (future start times included), abort, decommission and ordering, through simulated devices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.db import utcnow
from menderlite.timeutil import rfc3339
from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    Device,
    admit_device,
    admit_fleet,
    counts,
    create_deployment,
    device_statuses,
    get_json,
    show,
    statistics,
)
from tests.support.artifacts import ArtifactMaker


@pytest.fixture
async def release(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> str:
    await upload_ok(client, user_headers, maker.single_file("lifecycle-v2"))
    return "lifecycle-v2"


@pytest.fixture
def move_clock(ctx: Context) -> Callable[[timedelta], None]:
    """Let the deployments service see a later time (phases open at their start_ts)."""

    def move(offset: timedelta) -> None:
        ctx.deployments.clock = lambda: utcnow() + offset

    return move


async def poll_all(devices: list[Device]) -> dict[str, dict]:
    """Every device checks in once; the instructions of those that got some."""
    given = {}
    for device in devices:
        instructions = await device.next()
        if instructions is not None:
            given[device.id] = instructions
    return given


# --- retries -------------------------------------------------------------------------------------------


async def test_failed_attempts_are_retried_and_only_the_outcome_counts(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    lucky, unlucky = await admit_fleet(client, 2)
    deployment_id = await create_deployment(client, user_headers, release, [lucky.id, unlucky.id], retries=2)
    assert (await show(client, user_headers, deployment_id))["retries"] == 2

    for attempt in range(2):  # two failures: both retried
        instructions = await lucky.next()
        assert instructions is not None and instructions["id"] == deployment_id, f"attempt {attempt + 1}"
        await lucky.install(instructions, outcome="failure")
        assert await statistics(client, user_headers, deployment_id) == counts(pending=1)
        assert (await device_statuses(client, user_headers, deployment_id))[lucky.id] == "pending"
    instructions = await lucky.next()
    assert instructions is not None
    await lucky.install(instructions)  # third attempt succeeds
    assert await statistics(client, user_headers, deployment_id) == counts(success=1)

    for _ in range(3):  # 1 + 2 retries, all failing
        instructions = await unlucky.next()
        assert instructions is not None
        await unlucky.install(instructions, outcome="failure")
    assert await unlucky.next() is None
    assert await statistics(client, user_headers, deployment_id) == counts(success=1, failure=1)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "finished"
    devices = await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    assert {device["id"]: device["log"] for device in devices} == {lucky.id: True, unlucky.id: True}


# --- phases --------------------------------------------------------------------------------------------


async def test_phases_open_at_their_start_and_admit_their_share(
    client: TestClient, user_headers: dict[str, str], release: str, move_clock: Callable[[timedelta], None]
) -> None:
    devices = await admit_fleet(client, 10)
    now = datetime.now(UTC)
    phases = [
        {"batch_size": 20},
        {"batch_size": 30, "start_ts": rfc3339(now + timedelta(hours=1))},
        {"start_ts": rfc3339(now + timedelta(hours=2))},
    ]
    deployment_id = await create_deployment(client, user_headers, release, [d.id for d in devices], phases=phases)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "pending"
    shown = deployment["phases"]
    assert [phase.get("batch_size") for phase in shown] == [20, 30, None]
    assert [phase["device_count"] for phase in shown] == [0, 0, 0]
    assert "start_ts" not in shown[0] and shown[1]["start_ts"] == phases[1]["start_ts"]
    assert all(phase["id"] for phase in shown)

    first = await poll_all(devices)
    assert len(first) == 2  # 20% of 10
    assert len(await poll_all(devices)) == 2  # the same two again, nobody else
    assert [p["device_count"] for p in (await show(client, user_headers, deployment_id))["phases"]] == [2, 0, 0]

    move_clock(timedelta(hours=1, seconds=1))
    second = await poll_all(devices)
    assert len(second) == 5 and set(first) <= set(second)  # 30% of 10 more
    move_clock(timedelta(hours=2, seconds=1))
    third = await poll_all(devices)
    assert len(third) == 10
    assert [p["device_count"] for p in (await show(client, user_headers, deployment_id))["phases"]] == [2, 3, 5]
    for device in devices:
        await device.install(third[device.id])
    assert await statistics(client, user_headers, deployment_id) == counts(success=10)
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"


async def test_a_deployment_starting_later_is_scheduled(
    client: TestClient, user_headers: dict[str, str], release: str, move_clock: Callable[[timedelta], None]
) -> None:
    device = await admit_device(client)
    later = rfc3339(datetime.now(UTC) + timedelta(days=1))
    deployment_id = await create_deployment(client, user_headers, release, [device.id], phases=[{"start_ts": later}])
    assert (await show(client, user_headers, deployment_id))["status"] == "scheduled"
    listed = await get_json(client, user_headers, f"{DEPLOYMENTS}?status=scheduled")
    assert [item["id"] for item in listed] == [deployment_id]
    assert await get_json(client, user_headers, f"{DEPLOYMENTS}?status=pending") == []
    assert await device.next() is None
    assert (await show(client, user_headers, deployment_id))["device_count"] == 0

    move_clock(timedelta(days=1, seconds=1))
    assert (await show(client, user_headers, deployment_id))["status"] == "pending"
    instructions = await device.next()
    assert instructions is not None and instructions["id"] == deployment_id


async def test_zero_device_phase_is_refused(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    devices = [f"dummy-device-{n}" for n in range(11)]
    later = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    body = {
        "name": "phased",
        "artifact_name": release,
        "devices": devices,
        "phases": [{"batch_size": 10}, {"batch_size": 20, "start_ts": later}, {"batch_size": 5, "start_ts": later}],
    }
    response = await client.post(DEPLOYMENTS, json=body, headers=user_headers)
    assert response.status == 400
    error = (await response.json())["error"]
    assert "Attempt to create a batch with zero devices not allowed" in error and "Batch: (3) will be empty" in error
    body["phases"] = [{"batch_size": 50}, {"batch_size": 50, "start_ts": later}, {"start_ts": later}]
    body["devices"] = devices[:10]  # 5 + 5 leave nobody for the last phase
    response = await client.post(DEPLOYMENTS, json=body, headers=user_headers)
    assert response.status == 400
    assert "Batch: (3) will be empty" in (await response.json())["error"]
    # one empty phase object is a plain deployment
    body["phases"] = [{}]
    response = await client.post(DEPLOYMENTS, json=body, headers=user_headers)
    assert response.status == 201
    assert "phases" not in await show(client, user_headers, response.headers["Location"].rsplit("/", 1)[1])


# --- abort ---------------------------------------------------------------------------------------------


async def test_abort_mid_way(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    done, busy, idle = await admit_fleet(client, 3)
    deployment_id = await create_deployment(client, user_headers, release, [done.id, busy.id, idle.id])
    instructions = await done.next()
    assert instructions is not None
    await done.install(instructions)
    assert await busy.next() is not None
    assert await busy.report(deployment_id, "downloading") == 204

    response = await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=user_headers)
    assert response.status == 204
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "finished" and "finished" in deployment and deployment["device_count"] == 2
    assert await statistics(client, user_headers, deployment_id) == counts(success=1, aborted=1)

    # the busy device learns it with 409, still sends its failure and log (the log is kept)
    response = await client.put(f"/api/devices/v1/deployments/device/deployments/{deployment_id}/status",
                                json={"status": "installing"}, headers=busy.headers)
    assert response.status == 409
    assert (await response.json())["error"] == "Deployment aborted"
    assert await busy.report(deployment_id, "failure") == 409
    assert await busy.upload_log(deployment_id) == 204
    # the device that never checked in never gets it
    assert await idle.next() is None
    assert await busy.next() is None
    assert await device_statuses(client, user_headers, deployment_id) == {done.id: "success", busy.id: "aborted"}

    response = await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=user_headers)
    assert response.status == 422
    assert (await response.json())["error"] == "Deployment already finished"
    assert (await show(client, user_headers, deployment_id))["finished"] == deployment["finished"]


async def test_artifact_of_an_unfinished_deployment_cannot_be_deleted(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker
) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("guarded"))
    unused_id = await upload_ok(client, user_headers, maker.single_file("unused-release"))
    artifacts = "/api/management/v1/deployments/artifacts"
    assert (await client.put(f"{artifacts}/{unused_id}", json={"description": "fine"}, headers=user_headers)).status == 204
    deployment_id = await create_deployment(client, user_headers, "guarded", ["dummy-device"])
    response = await client.delete(f"{artifacts}/{artifact_id}", headers=user_headers)
    assert response.status == 409
    assert (await response.json())["error"] == "Artifact is used in active deployment"
    response = await client.put(f"{artifacts}/{artifact_id}", json={"description": "new"}, headers=user_headers)
    assert response.status == 422
    assert (await response.json())["error"] == "Image has already been used in deployment"
    assert (await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=user_headers)).status == 204
    assert (await client.delete(f"{artifacts}/{artifact_id}", headers=user_headers)).status == 204
    assert (await show(client, user_headers, deployment_id))["artifacts"] == [artifact_id]


# --- decommission --------------------------------------------------------------------------------------


async def test_decommissioned_device_leaves_its_deployments(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    leaving, staying = await admit_fleet(client, 2)
    first = await create_deployment(client, user_headers, release, [leaving.id, staying.id], name="first")
    second = await create_deployment(client, user_headers, release, [leaving.id], name="second")
    instructions = await leaving.next()
    assert instructions is not None and instructions["id"] == first
    assert await leaving.report(first, "downloading") == 204

    response = await client.delete(f"/api/management/v2/devauth/devices/{leaving.id}", headers=user_headers)
    assert response.status == 204
    assert (await leaving.check())[0] == 401  # its token is gone
    assert await statistics(client, user_headers, first) == counts(decommissioned=1)
    # the newer deployment that listed it counts it too, and is finished with it
    assert await statistics(client, user_headers, second) == counts(decommissioned=1)
    assert (await show(client, user_headers, second))["status"] == "finished"
    assert (await show(client, user_headers, first))["status"] == "inprogress"

    instructions = await staying.next()
    assert instructions is not None
    await staying.install(instructions)
    assert await statistics(client, user_headers, first) == counts(success=1, decommissioned=1)
    assert (await show(client, user_headers, first))["status"] == "finished"


async def test_remove_device_from_deployments(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, release, [device.id])
    assert await device.next() is not None
    response = await client.delete(f"{DEPLOYMENTS}/devices/{device.id}", headers=user_headers)
    assert response.status == 204
    response = await client.put(f"/api/devices/v1/deployments/device/deployments/{deployment_id}/status",
                                json={"status": "installing"}, headers=device.headers)
    assert response.status == 409
    assert (await response.json())["error"] == "Device decommissioned"
    assert await statistics(client, user_headers, deployment_id) == counts(decommissioned=1)
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"
    # always 204, even for a device in no deployment
    assert (await client.delete(f"{DEPLOYMENTS}/devices/unknown-device", headers=user_headers)).status == 204


# --- ordering ------------------------------------------------------------------------------------------


async def test_oldest_deployment_first_then_the_next(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("order-a"))
    await upload_ok(client, user_headers, maker.single_file("order-b"))
    device = await admit_device(client)
    first = await create_deployment(client, user_headers, "order-a", [device.id])
    second = await create_deployment(client, user_headers, "order-b", [device.id])
    instructions = await device.next()
    assert instructions is not None and instructions["id"] == first
    await device.install(instructions)
    instructions = await device.next()
    assert instructions is not None and instructions["id"] == second
    await device.install(instructions)
    assert device.artifact_name == "order-b"
    assert await device.next() is None



async def test_a_new_log_replaces_the_previous_one(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, release, [device.id], retries=1)
    instructions = await device.next()
    assert instructions is not None
    await device.install(instructions, outcome="failure")
    second = [{"level": "error", "message": "second attempt failed", "timestamp": "2026-11-26T10:00:00.5Z"}]
    instructions = await device.next()
    assert instructions is not None
    assert await device.report(deployment_id, "failure") == 204
    assert await device.upload_log(deployment_id, second) == 204
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices/{device.id}/log", headers=user_headers)
    assert await response.text() == "2026-11-26 10:00:00.5 +0000 UTC error: second attempt failed\n"
    assert await statistics(client, user_headers, deployment_id) == counts(failure=1)
