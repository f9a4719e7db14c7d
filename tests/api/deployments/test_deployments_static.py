"""A static deployment driven by simulated devices: artifact choice per device type, noartifact,
already-installed, success and failure with logs, and the statistics and status at every step."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from yarl import URL

from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    admit_device,
    counts,
    create_deployment,
    device_statuses,
    get_json,
    show,
    statistics,
)
from tests.support.artifacts import ArtifactMaker


async def test_static_rollout_to_several_device_types(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    qemu_artifact = await upload_ok(client, user_headers, maker.single_file("app-v2", ("qemux86-64",), size=12000))
    rpi_artifact = await upload_ok(client, user_headers, maker.single_file("app-v2", ("rpi4",), size=9000))
    await upload_ok(client, user_headers, maker.single_file("other-release", ("qemux86-64",)))
    qemu = await admit_device(client, device_type="qemux86-64")
    rpi = await admit_device(client, device_type="rpi4")
    beagle = await admit_device(client, device_type="beaglebone")
    current = await admit_device(client, device_type="qemux86-64", artifact_name="app-v2")
    failing = await admit_device(client, device_type="qemux86-64")
    everyone = [qemu, rpi, beagle, current, failing]
    outsider = await admit_device(client, device_type="qemux86-64")

    deployment_id = await create_deployment(client, user_headers, "app-v2", [device.id for device in everyone], name="fleet update")
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["name"] == "fleet update" and deployment["artifact_name"] == "app-v2"
    assert deployment["status"] == "pending" and deployment["device_count"] == 0 and deployment["max_devices"] == 5
    assert sorted(deployment["artifacts"]) == sorted([qemu_artifact, rpi_artifact])
    assert "finished" not in deployment and deployment["retries"] == 0 and deployment["dynamic"] is False
    assert await statistics(client, user_headers, deployment_id) == counts()
    assert await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/device_list") == [d.id for d in everyone]
    assert await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices") == []

    # a device that is not in the list gets nothing
    assert await outsider.next() is None

    # no artifact for its device type: noartifact, the deployment is in progress
    assert await beagle.next() is None
    assert await statistics(client, user_headers, deployment_id) == counts(noartifact=1)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "inprogress" and deployment["device_count"] == 1

    # the device already runs the release: already-installed, no download
    assert await current.next() is None
    assert await statistics(client, user_headers, deployment_id) == counts(noartifact=1, already_installed=1)

    # each device type gets its own artifact, with a signed absolute link
    instructions = await qemu.next()
    assert instructions is not None and instructions["id"] == deployment_id
    artifact = instructions["artifact"]
    assert artifact["id"] == qemu_artifact and artifact["artifact_name"] == "app-v2"
    assert artifact["device_types_compatible"] == ["qemux86-64"]
    assert URL(artifact["source"]["uri"]).is_absolute() and artifact["source"]["expire"].endswith("Z")
    assert await qemu.next() == {**instructions, "artifact": {**artifact, "source": (await qemu.next())["artifact"]["source"]}}  # type: ignore[index]
    rpi_instructions = await rpi.next(method="GET")
    assert rpi_instructions is not None and rpi_instructions["artifact"]["id"] == rpi_artifact
    assert await statistics(client, user_headers, deployment_id) == counts(pending=2, noartifact=1, already_installed=1)

    # progress, step by step
    assert await qemu.report(deployment_id, "downloading") == 204
    assert await statistics(client, user_headers, deployment_id) == counts(pending=1, downloading=1, noartifact=1, already_installed=1)
    payload = await qemu.download(instructions)
    assert len(payload) > 4096
    assert await qemu.report(deployment_id, "installing", substate="installing.enter;script:foo") == 204
    assert await qemu.report(deployment_id, "rebooting") == 204
    assert await statistics(client, user_headers, deployment_id) == counts(pending=1, rebooting=1, noartifact=1, already_installed=1)
    assert await qemu.report(deployment_id, "success") == 204
    qemu.artifact_name = "app-v2"
    assert await statistics(client, user_headers, deployment_id) == counts(pending=1, success=1, noartifact=1, already_installed=1)
    assert (await show(client, user_headers, deployment_id))["status"] == "inprogress"

    # a failure with its log
    failing_instructions = await failing.next()
    assert failing_instructions is not None
    await failing.install(failing_instructions, outcome="failure")
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices/{failing.id}/log", headers=user_headers)
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == (
        "2026-11-25 19:18:56.123456789 +0000 UTC info: Running Mender client version: 3.4.0\n"
        "2026-11-25 19:18:57 +0000 UTC error: Artifact Payload type 'rootfs-image' is not supported\n"
    )
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices/{qemu.id}/log", headers=user_headers)
    assert response.status == 404
    assert (await response.json())["error"] == "Resource not found"

    # the last device finishes the deployment
    await rpi.install(rpi_instructions)
    assert await statistics(client, user_headers, deployment_id) == counts(success=2, failure=1, noartifact=1, already_installed=1)
    deployment = await show(client, user_headers, deployment_id)
    assert deployment["status"] == "finished" and deployment["device_count"] == 5
    assert deployment["finished"] >= deployment["created"]
    devices = await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    by_id = {device["id"]: device for device in devices}
    assert {device_id: device["status"] for device_id, device in by_id.items()} == {
        qemu.id: "success", rpi.id: "success", beagle.id: "noartifact", current.id: "already-installed", failing.id: "failure",
    }
    assert by_id[failing.id]["log"] is True and by_id[qemu.id]["log"] is False
    assert by_id[qemu.id]["substate"] == "installing.enter;script:foo"
    assert by_id[qemu.id]["device_type"] == "qemux86-64" and "finished" in by_id[qemu.id]
    assert by_id[qemu.id]["created"] == deployment["created"]

    # nothing more to do for anyone; a finished device deployment stays as it is
    for device in everyone:
        assert await device.next() is None
    assert await qemu.report(deployment_id, "success") == 204
    assert await qemu.report(deployment_id, "downloading") == 409
    assert await device_statuses(client, user_headers, deployment_id) == {d: s["status"] for d, s in by_id.items()}


async def test_second_deployment_of_the_same_release_is_already_installed(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker
) -> None:
    await upload_ok(client, user_headers, maker.single_file("same-again"))
    device = await admit_device(client)
    first = await create_deployment(client, user_headers, "same-again", [device.id])
    instructions = await device.next()
    assert instructions is not None
    await device.install(instructions)
    assert (await show(client, user_headers, first))["status"] == "finished"
    second = await create_deployment(client, user_headers, "same-again", [device.id])
    assert await device.next() is None
    assert await statistics(client, user_headers, second) == counts(already_installed=1)
    assert (await show(client, user_headers, second))["status"] == "finished"


async def test_depends_choose_the_artifact_on_post_only(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    """POST .../next matches every depends key against the device's provides (enterprise); GET does not."""
    needs_v1 = await upload_ok(client, user_headers, maker.single_file("depends-v2", ("qemux86-64",), size=6000, extra=["-d", "rootfs-image.version:v1"]))
    needs_v2 = await upload_ok(client, user_headers, maker.single_file("depends-v2", ("qemux86-64",), size=9000, extra=["-d", "rootfs-image.version:v2"]))
    on_v2 = await admit_device(client, provides={"rootfs-image.version": "v2"})
    on_v3 = await admit_device(client, provides={"rootfs-image.version": "v3"})
    by_get = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "depends-v2", [on_v2.id, on_v3.id, by_get.id])
    instructions = await on_v2.next()
    assert instructions is not None and instructions["artifact"]["id"] == needs_v2
    assert await on_v3.next() is None  # no artifact's depends hold
    instructions = await by_get.next(method="GET")
    assert instructions is not None and instructions["artifact"]["id"] == needs_v1  # the smallest for its type
    assert await statistics(client, user_headers, deployment_id) == counts(pending=2, noartifact=1)


async def test_a_new_device_type_gets_another_artifact(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    qemu_artifact = await upload_ok(client, user_headers, maker.single_file("retyped", ("qemux86-64",)))
    rpi_artifact = await upload_ok(client, user_headers, maker.single_file("retyped", ("rpi4",)))
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "retyped", [device.id])
    assert (await device.next())["artifact"]["id"] == qemu_artifact  # type: ignore[index]
    device.device_type = "rpi4"
    assert (await device.next())["artifact"]["id"] == rpi_artifact  # type: ignore[index]
    devices = await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    assert devices[0]["device_type"] == "rpi4"
    # the device itself may say that it runs the release already
    assert await device.report(deployment_id, "already-installed") == 204
    assert await statistics(client, user_headers, deployment_id) == counts(already_installed=1)


async def test_depends_are_ignored_below_the_enterprise_plan(aiohttp_client, make_settings, maker: ArtifactMaker) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import create_app
    from tests.support.users import admin_headers

    client = await aiohttp_client(create_app(make_settings(tenantadm={"default_plan": "professional"})))
    headers = await admin_headers(client)
    small = await upload_ok(client, headers, maker.single_file("plan-depends", ("qemux86-64",), size=6000, extra=["-d", "rootfs-image.version:v1"]))
    await upload_ok(client, headers, maker.single_file("plan-depends", ("qemux86-64",), size=9000, extra=["-d", "rootfs-image.version:v2"]))
    device = await admit_device(client, provides={"rootfs-image.version": "v2"})
    await create_deployment(client, headers, "plan-depends", [device.id])
    instructions = await device.next()
    assert instructions is not None and instructions["artifact"]["id"] == small


async def test_already_installed_comes_before_artifact_matching(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker
) -> None:
    """A device that runs the release already is `already-installed`, even when no artifact would fit it
    (another device type, or depends its provides do not satisfy)."""
    await upload_ok(client, user_headers, maker.single_file("installed-v2", ("qemux86-64",), extra=["-d", "rootfs-image.version:v1"]))
    other_type = await admit_device(client, device_type="beaglebone", artifact_name="installed-v2")
    other_provides = await admit_device(client, artifact_name="installed-v2", provides={"rootfs-image.version": "v9"})
    mismatch = await admit_device(client, provides={"rootfs-image.version": "v9"})
    deployment_id = await create_deployment(client, user_headers, "installed-v2", [other_type.id, other_provides.id, mismatch.id])
    assert await other_type.next() is None
    assert await other_provides.next() is None
    assert await mismatch.next() is None
    assert await device_statuses(client, user_headers, deployment_id) == {
        other_type.id: "already-installed", other_provides.id: "already-installed", mismatch.id: "noartifact",
    }
    assert await statistics(client, user_headers, deployment_id) == counts(already_installed=2, noartifact=1)
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"


async def test_status_changes_a_device_may_report(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    """Any change between the reportable statuses while active (back to downloading too); the same status
    again is a no-op; `pending` is not reportable; a finished device deployment is final (409)."""
    await upload_ok(client, user_headers, maker.single_file("transitions-v2"))
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "transitions-v2", [device.id])
    instructions = await device.next()
    assert instructions is not None
    for status, expected in [("installing", counts(installing=1)), ("downloading", counts(downloading=1)),
                             ("downloading", counts(downloading=1)), ("rebooting", counts(rebooting=1))]:
        assert await device.report(deployment_id, status) == 204
        assert await statistics(client, user_headers, deployment_id) == expected
    response = await client.put(f"/api/devices/v1/deployments/device/deployments/{deployment_id}/status",
                                json={"status": "pending"}, headers=device.headers)
    assert response.status == 400 and (await response.json())["error"] == "unknown status value"
    again = await device.next()  # while active, the device gets the same deployment and artifact again
    assert again is not None and again["id"] == deployment_id and again["artifact"]["id"] == instructions["artifact"]["id"]
    assert await device.report(deployment_id, "failure") == 204
    devices = await get_json(client, user_headers, f"{DEPLOYMENTS}/{deployment_id}/devices")
    assert devices[0]["status"] == "failure" and "finished" in devices[0]
    assert await device.report(deployment_id, "failure") == 204  # the same again: nothing changes
    response = await client.put(f"/api/devices/v1/deployments/device/deployments/{deployment_id}/status",
                                json={"status": "success"}, headers=device.headers)
    assert response.status == 409 and (await response.json())["error"] == "Device deployment already finished"
    assert await statistics(client, user_headers, deployment_id) == counts(failure=1)
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"
