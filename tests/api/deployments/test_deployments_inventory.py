"""Deployments that rely on the inventory: to a group, dynamic (saved filter), and group-restricted users."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.timeutil import rfc3339
from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    DEPLOYMENTS_V2,
    Device,
    admit_device,
    admit_fleet,
    attribute_is,
    counts,
    create_deployment,
    create_dynamic_deployment,
    create_filter,
    get_json,
    set_group,
    show,
    statistics,
)
from tests.support.artifacts import ArtifactMaker
from tests.support.devices import SimulatedDevice
from tests.support.users import login

USERADM = "/api/management/v1/useradm"


@pytest.fixture
async def release(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> str:
    await upload_ok(client, user_headers, maker.single_file("inventory-v2", ("qemux86-64", "rpi4")))
    return "inventory-v2"


async def in_ring(devices: list[Device], ring: str) -> None:
    for device in devices:
        await device.upload_inventory(ring=ring, device_type=device.device_type)


# --- group deployments ---------------------------------------------------------------------------------


async def test_deploy_to_the_accepted_devices_of_a_group(client: TestClient, user_headers: dict[str, str], ctx: Context, release: str) -> None:
    members = await admit_fleet(client, 3)
    other = await admit_device(client)
    for device in members:
        await set_group(client, user_headers, device.id, "production")
    await set_group(client, user_headers, other.id, "staging")
    waiting = SimulatedDevice.create("ed25519", {"sn": "not-accepted-yet"})
    assert (await waiting.authenticate(client)).status == 401  # pending in devauth, known to inventory
    pending_id = (await ctx.devauth.list_devices("", status="pending"))[0][0].id
    await set_group(client, user_headers, pending_id, "production")

    response = await client.post(f"{DEPLOYMENTS}/group/production", json={"name": "to production", "artifact_name": release}, headers=user_headers)
    assert response.status == 201, await response.text()
    deployment_id = response.headers["Location"].rsplit("/", 1)[1]
    assert sorted(await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/device_list")) == sorted(d.id for d in members)
    assert (await show(client, user_headers, deployment_id))["max_devices"] == 3
    for device in members:
        instructions = await device.next()
        assert instructions is not None
        await device.install(instructions)
    assert await other.next() is None
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"

    response = await client.post(f"{DEPLOYMENTS}/group/nobody-here", json={"name": "n", "artifact_name": release}, headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == "No devices for the deployment"
    response = await client.post(f"{DEPLOYMENTS}/group/production", json={"name": "n"}, headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == "Validating request body: artifact_name: non zero value required;"


# --- dynamic deployments -------------------------------------------------------------------------------


async def test_dynamic_deployment_follows_the_saved_filter(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    beta = await admit_fleet(client, 2)
    stable = await admit_device(client)
    await in_ring(beta, "beta")
    await in_ring([stable], "stable")
    filter_id = await create_filter(client, user_headers, "beta ring", [attribute_is("ring", "beta")])

    deployment_id = await create_dynamic_deployment(client, user_headers, release, filter_id, name="beta rollout")
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["dynamic"] is True and deployment["initial_device_count"] == 2
    assert deployment["filter"]["id"] == filter_id and deployment["filter"]["name"] == "beta ring"
    assert deployment["filter"]["terms"] == [attribute_is("ring", "beta")]
    assert "max_devices" not in deployment and deployment["status"] == "pending"
    assert await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/device_list") == []

    assert await stable.next() is None
    for device in beta:
        instructions = await device.next()
        assert instructions is not None and instructions["id"] == deployment_id
        await device.install(instructions)
    assert await statistics(client, user_headers, deployment_id) == counts(success=2)
    assert (await show(client, user_headers, deployment_id))["status"] == "inprogress"  # runs until aborted

    # a device that starts matching later gets it too
    await in_ring([stable], "beta")
    instructions = await stable.next()
    assert instructions is not None and instructions["id"] == deployment_id
    await stable.install(instructions)
    assert await statistics(client, user_headers, deployment_id) == counts(success=3)
    response = await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=user_headers)
    assert response.status == 204
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"

    response = await client.post(DEPLOYMENTS_V2, json={"name": "n", "artifact_name": release, "filter_id": "no-such-filter"}, headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == "filter not found"


async def test_dynamic_deployment_stops_at_max_devices(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    devices = await admit_fleet(client, 3)
    await in_ring(devices, "canary")
    filter_id = await create_filter(client, user_headers, "canaries", [attribute_is("ring", "canary")])
    deployment_id = await create_dynamic_deployment(client, user_headers, release, filter_id, max_devices=2)
    assert (await show(client, user_headers, deployment_id))["max_devices"] == 2
    first, second, third = devices
    one = await first.next()
    two = await second.next()
    assert one is not None and two is not None
    assert await third.next() is None  # two device deployments exist: the limit
    await first.install(one)
    await second.install(two, outcome="failure")
    assert await statistics(client, user_headers, deployment_id) == counts(success=1, failure=1)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "finished" and deployment["device_count"] == 2
    assert await third.next() is None


async def test_dynamic_deployment_with_phases(client: TestClient, user_headers: dict[str, str], ctx: Context, release: str) -> None:
    devices = await admit_fleet(client, 4)
    await in_ring(devices, "phased")
    filter_id = await create_filter(client, user_headers, "phased", [attribute_is("ring", "phased")])
    later = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    deployment_id = await create_dynamic_deployment(
        client, user_headers, release, filter_id, phases=[{"batch_size": 50}, {"start_ts": later}]
    )
    given = [await device.next() for device in devices]
    assert sum(instructions is not None for instructions in given) == 2  # 50% of the 4 initial matches
    ctx.deployments.clock = lambda: datetime.now(UTC) + timedelta(hours=1, seconds=1)
    assert all([await device.next() for device in devices])
    assert [p["device_count"] for p in (await show(client, user_headers, deployment_id))["phases"]] == [2, 2]
    response = await client.post(
        DEPLOYMENTS_V2,
        json={"name": "n", "artifact_name": release, "filter_id": filter_id, "phases": [{"batch_size": 10}, {"start_ts": later}]},
        headers=user_headers,
    )
    assert response.status == 400
    assert "Batch: (1) will be empty" in (await response.json())["error"]


async def test_a_device_never_gets_a_deployment_older_than_its_last_finished_one(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker
) -> None:
    await upload_ok(client, user_headers, maker.single_file("older-dynamic"))
    await upload_ok(client, user_headers, maker.single_file("newer-static"))
    device, fresh = await admit_fleet(client, 2)
    await in_ring([device, fresh], "alpha")
    filter_id = await create_filter(client, user_headers, "gamma ring", [attribute_is("ring", "gamma")])
    older = await create_dynamic_deployment(client, user_headers, "older-dynamic", filter_id)
    newer = await create_deployment(client, user_headers, "newer-static", [device.id])
    instructions = await device.next()
    assert instructions is not None and instructions["id"] == newer
    await device.install(instructions)

    await in_ring([device, fresh], "gamma")  # now both match the older, dynamic deployment
    assert await device.next() is None  # it finished a newer deployment already
    instructions = await fresh.next()
    assert instructions is not None and instructions["id"] == older
    assert (await show(client, user_headers, older))["device_count"] == 1


async def test_dynamic_max_devices_holds_under_concurrency(client: TestClient, user_headers: dict[str, str], release: str) -> None:
    devices = await admit_fleet(client, 60)
    await asyncio.gather(*(device.upload_inventory(ring="crowd") for device in devices))
    filter_id = await create_filter(client, user_headers, "crowd", [attribute_is("ring", "crowd")])
    deployment_id = await create_dynamic_deployment(client, user_headers, release, filter_id, max_devices=15)
    results = await asyncio.gather(*(device.next() for device in devices for _ in range(2)))
    assert len({device.id for device, result in zip([d for d in devices for _ in range(2)], results) if result}) == 15
    assert (await show(client, user_headers, deployment_id))["device_count"] == 15
    assert await statistics(client, user_headers, deployment_id) == counts(pending=15)


# --- group-restricted users ----------------------------------------------------------------------------


@pytest.fixture
async def restricted_headers(client: TestClient, user_headers: dict[str, str]) -> dict[str, str]:
    """A user whose only role lets them create deployments for the devices of group `test`."""
    role = {"name": "DEPLOY_TEST", "permissions": [{"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "test"}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    user = {"email": "deployer@example.com", "password": "deployer-password", "roles": ["DEPLOY_TEST"]}
    assert (await client.post(f"{USERADM}/users", json=user, headers=user_headers)).status == 201
    return {"Authorization": f"Bearer {await login(client, user['email'], user['password'])}"}


async def test_group_restricted_user(
    client: TestClient, user_headers: dict[str, str], restricted_headers: dict[str, str], release: str
) -> None:
    inside = await admit_fleet(client, 2)
    outside = await admit_device(client)
    for device in inside:
        await set_group(client, user_headers, device.id, "test")
    await set_group(client, user_headers, outside.id, "production")
    await in_ring([*inside, outside], "any")

    async def create(path: str, body: dict) -> tuple[int, dict]:
        response = await client.post(path, json={"name": "n", "artifact_name": release, **body}, headers=restricted_headers)
        return response.status, (await response.json() if response.status != 201 else {})

    status, body = await create(DEPLOYMENTS, {"devices": [inside[0].id, outside.id]})
    assert status == 403
    assert body["error"] == "the deployment targets devices outside the device groups you may deploy to"
    assert (await create(DEPLOYMENTS, {"devices": [inside[0].id, "unknown-device"]}))[0] == 403
    assert (await create(DEPLOYMENTS, {"devices": [device.id for device in inside]}))[0] == 201
    assert (await create(f"{DEPLOYMENTS}/group/test", {}))[0] == 201
    assert (await create(f"{DEPLOYMENTS}/group/production", {}))[0] == 403

    everyone = await create_filter(client, user_headers, "everyone", [attribute_is("ring", "any")])
    group_test = await create_filter(client, user_headers, "group test", [attribute_is("group", "test", scope="system")])
    assert (await create(DEPLOYMENTS_V2, {"filter_id": everyone}))[0] == 403
    assert (await create(DEPLOYMENTS_V2, {"filter_id": group_test}))[0] == 201
    # an unrestricted admin may target anything
    response = await client.post(DEPLOYMENTS, json={"name": "n", "artifact_name": release, "devices": [outside.id]}, headers=user_headers)
    assert response.status == 201

