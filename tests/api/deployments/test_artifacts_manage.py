"""Edit, delete, releases, and the internal tenant endpoints."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from menderlite.context import Context
from tests.api.deployments.conftest import (
    ARTIFACTS,
    stored_files,
    upload_form,
    upload_ok,
)
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    admit_device,
    create_deployment,
    show,
)
from tests.support.artifacts import ArtifactMaker

INTERNAL = "/api/internal/v1/deployments"


async def test_edit_description(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("edit-me"), description="old")
    before = await (await client.get(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)).json()
    response = await client.put(f"{ARTIFACTS}/{artifact_id}", json={"description": "new text"}, headers=user_headers)
    assert response.status == 204
    after = await (await client.get(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)).json()
    assert after["description"] == "new text"
    assert after["modified"] >= before["modified"]
    response = await client.put(f"{ARTIFACTS}/{artifact_id}", json={"description": "x" * 4097}, headers=user_headers)
    assert response.status == 400
    response = await client.put(f"{ARTIFACTS}/{artifact_id}", data=b"", headers={**user_headers, "Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"] == "failed to decode request body: JSON payload is empty"


async def test_bad_and_unknown_ids(client: TestClient, user_headers: dict[str, str]) -> None:
    unknown = str(uuid.uuid4())
    for method, path in [("GET", "not-a-uuid"), ("PUT", "not-a-uuid"), ("DELETE", "not-a-uuid"), ("GET", "not-a-uuid/download")]:
        response = await client.request(method, f"{ARTIFACTS}/{path}", json={"description": ""} if method == "PUT" else None, headers=user_headers)
        assert response.status == 400, (method, path)
        assert (await response.json())["error"] == "ID is not UUIDv4"
    for method, path in [("GET", unknown), ("PUT", unknown), ("DELETE", unknown), ("GET", f"{unknown}/download")]:
        response = await client.request(method, f"{ARTIFACTS}/{path}", json={"description": ""} if method == "PUT" else None, headers=user_headers)
        assert response.status == 404, (method, path)
        assert (await response.json())["error"] == "Resource not found"


async def test_delete_removes_row_and_file(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("delete-me"))
    assert stored_files(ctx) == [f"default/{artifact_id}"]
    response = await client.delete(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)
    assert response.status == 204
    assert (await client.get(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)).status == 404
    assert stored_files(ctx) == []
    # the name and device type are free again
    await upload_ok(client, user_headers, maker.single_file("delete-me"))


async def _edit(client: TestClient, headers: dict[str, str], artifact_id: str) -> tuple[int, str | None]:
    response = await client.put(f"{ARTIFACTS}/{artifact_id}", json={"description": "changed"}, headers=headers)
    return response.status, (await response.json())["error"] if response.status != 204 else None


async def _delete(client: TestClient, headers: dict[str, str], artifact_id: str) -> tuple[int, str | None]:
    response = await client.delete(f"{ARTIFACTS}/{artifact_id}", headers=headers)
    return response.status, (await response.json())["error"] if response.status != 204 else None


USED = (422, "Image has already been used in deployment")
ACTIVE = (409, "Artifact is used in active deployment")


async def test_edit_and_delete_while_a_deployment_runs_and_after_it_finished(
    client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker
) -> None:
    """Through a real deployment and a device that installs it: no edit once used (even finished), no delete
    until the deployment finished; both artifacts of the release are held, not those of another release."""
    x86 = await upload_ok(client, user_headers, maker.single_file("held-v1", ("qemux86-64",)))
    arm = await upload_ok(client, user_headers, maker.single_file("held-v1", ("raspberrypi4",)))
    other = await upload_ok(client, user_headers, maker.single_file("free-v1", ("qemux86-64",)))
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "held-v1", [device.id])

    for artifact_id in (x86, arm):
        assert await _edit(client, user_headers, artifact_id) == USED
        assert await _delete(client, user_headers, artifact_id) == ACTIVE
    assert await _edit(client, user_headers, other) == (204, None)
    assert sorted(stored_files(ctx)) == sorted(f"default/{a}" for a in (x86, arm, other))

    instructions = await device.next()
    assert instructions is not None and instructions["artifact"]["id"] == x86
    assert await _delete(client, user_headers, x86) == ACTIVE  # still running
    await device.install(instructions)
    assert (await show(client, user_headers, deployment_id))["status"] == "finished"

    assert await _edit(client, user_headers, x86) == USED  # used once is enough
    assert await _edit(client, user_headers, arm) == USED  # frozen into the deployment though never downloaded
    assert await _delete(client, user_headers, x86) == (204, None)
    assert await _delete(client, user_headers, arm) == (204, None)
    assert stored_files(ctx) == [f"default/{other}"]
    # the finished deployment still shows, with the ids of the artifacts it used
    assert sorted((await show(client, user_headers, deployment_id))["artifacts"]) == sorted([x86, arm])


async def test_an_aborted_deployment_frees_its_artifact_for_deletion(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("aborted-v1"))
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "aborted-v1", [device.id])
    assert await _delete(client, user_headers, artifact_id) == ACTIVE
    response = await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=user_headers)
    assert response.status == 204
    assert await _edit(client, user_headers, artifact_id) == USED
    assert await _delete(client, user_headers, artifact_id) == (204, None)


async def test_an_artifact_uploaded_after_the_deployment_is_not_held(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    """A deployment freezes the release's artifacts at creation; a later upload of the same name is free."""
    await upload_ok(client, user_headers, maker.single_file("later-v1", ("qemux86-64",)))
    device = await admit_device(client)
    await create_deployment(client, user_headers, "later-v1", [device.id])
    later = await upload_ok(client, user_headers, maker.single_file("later-v1", ("beaglebone",)))
    assert await _edit(client, user_headers, later) == (204, None)
    assert await _delete(client, user_headers, later) == (204, None)


async def test_a_deployment_of_another_tenant_does_not_hold_the_artifact(
    client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker
) -> None:
    """The check is per tenant: the same artifact id is never shared, but the same name is."""
    artifact_id = await upload_ok(client, user_headers, maker.single_file("tenant-held-v1"))
    assert not await ctx.deployments.artifact_in_use("58be8208dd77460001fe0d78", artifact_id, unfinished_only=False)
    device = await admit_device(client)
    await create_deployment(client, user_headers, "tenant-held-v1", [device.id])
    assert await ctx.deployments.artifact_in_use("", artifact_id, unfinished_only=True)
    assert not await ctx.deployments.artifact_in_use("58be8208dd77460001fe0d78", artifact_id, unfinished_only=True)


async def test_releases_group_by_name_descending(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    a1 = await upload_ok(client, user_headers, maker.single_file("release-a", ("arm1",)))
    a2 = await upload_ok(client, user_headers, maker.single_file("release-a", ("arm2",)))
    b1 = await upload_ok(client, user_headers, maker.single_file("release-b", ("arm1",)))
    response = await client.get("/api/management/v1/deployments/deployments/releases", headers=user_headers)
    assert response.status == 200
    releases = await response.json()
    assert [release["name"] for release in releases] == ["release-b", "release-a"]
    assert [artifact["id"] for artifact in releases[1]["artifacts"]] == [a1, a2]
    assert releases[0]["artifacts"][0]["id"] == b1
    assert set(releases[0]) == {"name", "artifacts"}
    response = await client.get("/api/management/v1/deployments/deployments/releases?name=release-a", headers=user_headers)
    assert [release["name"] for release in await response.json()] == ["release-a"]
    response = await client.get("/api/management/v1/deployments/deployments/releases?name=release", headers=user_headers)
    assert await response.json() == []


# --- internal API --------------------------------------------------------------------------------------


async def test_internal_tenant_provisioning(client: TestClient) -> None:
    response = await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "58be8208dd77460001fe0d78"})
    assert response.status == 201
    response = await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "58be8208dd77460001fe0d78"})
    assert response.status == 201  # provisioning again is harmless
    response = await client.post(f"{INTERNAL}/tenants", json={})
    assert response.status == 400
    assert (await response.json())["error"] == "tenant_id must be provided"


async def test_internal_storage_limits(client: TestClient) -> None:
    tenant = "58be8208dd77460001fe0d78"
    response = await client.get(f"{INTERNAL}/tenants/{tenant}/limits/storage")
    assert await response.json() == {"limit": 0, "usage": 0}
    response = await client.put(f"{INTERNAL}/tenants/{tenant}/limits/storage", json={"limit": 1073741824})
    assert response.status == 204
    response = await client.get(f"{INTERNAL}/tenants/{tenant}/limits/storage")
    assert await response.json() == {"limit": 1073741824, "usage": 0}
    for bad in ({"limit": -1}, {"limit": "1"}, {}, {"limit": 2**63}, {"limit": 10**30}, {"limit": 1.5}, {"limit": True}):
        response = await client.put(f"{INTERNAL}/tenants/{tenant}/limits/storage", json=bad)
        assert response.status == 400, bad
        assert (await response.json())["error"] == "limit: must be a non-negative integer"
    response = await client.put(f"{INTERNAL}/tenants/{tenant}/limits/storage", json={"limit": 2**63 - 1})
    assert response.status == 204
    response = await client.put(f"{INTERNAL}/tenants/..%2Fetc/limits/storage", json={"limit": 1})
    assert response.status in (400, 404)


async def test_internal_tenant_upload(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    tenant = "58be8208dd77460001fe0d78"
    artifact_id = str(uuid.uuid4())
    path = maker.single_file("tenant-art")
    response = await client.post(f"{INTERNAL}/tenants/{tenant}/artifacts", data=upload_form(path, fields={"artifact_id": artifact_id}))
    assert response.status == 201, await response.text()
    assert response.headers["Location"].endswith(f"/artifacts/{artifact_id}")
    assert [record.id for record in await ctx.deployments.artifacts.list(tenant)] == [artifact_id]
    assert stored_files(ctx) == [f"{tenant}/{artifact_id}"]
    # the default tenant does not see it, and may hold the same name
    assert await (await client.get(ARTIFACTS, headers=user_headers)).json() == []
    await upload_ok(client, user_headers, path)
    usage = await (await client.get(f"{INTERNAL}/tenants/{tenant}/limits/storage")).json()
    assert usage == {"limit": 0, "usage": path.stat().st_size}
    # the same id again, and a bad id
    response = await client.post(f"{INTERNAL}/tenants/{tenant}/artifacts", data=upload_form(maker.single_file("tenant-art-2"), fields={"artifact_id": artifact_id}))
    assert response.status == 409
    response = await client.post(f"{INTERNAL}/tenants/{tenant}/artifacts", data=upload_form(path, fields={"artifact_id": "nope"}))
    assert response.status == 400
    assert (await response.json())["error"] == "artifact_id is not a valid UUID"


async def test_internal_upload_to_the_default_tenant(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    response = await client.post(f"{INTERNAL}/tenants/default/artifacts", data=upload_form(maker.single_file("default-internal")))
    assert response.status == 201
    listing = await (await client.get(ARTIFACTS, headers=user_headers)).json()
    assert [artifact["name"] for artifact in listing] == ["default-internal"]
