"""Tenant isolation: a device or a user of another tenant never sees, joins, reports on or changes a
deployment of this one, even with the same device id."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    DEVICE_DEPLOYMENTS,
    INTERNAL,
    admit_device,
    counts,
    create_deployment,
    show,
    statistics,
)
from tests.support.artifacts import ArtifactMaker
from tests.support.users import admin_headers

OTHER_TENANT = "tenant-b"


@pytest.fixture
def tenant_of_token(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Tokens put here are verified as usual, then their caller is moved to the tenant given."""
    from menderlite.web.guards import DEVICE_VERIFIER, USER_VERIFIER

    moved: dict[str, str] = {}
    for key in (USER_VERIFIER, DEVICE_VERIFIER):
        verify = client.app[key]

        async def in_tenant(token, method, path, verify=verify):  # type: ignore[no-untyped-def]
            identity = await verify(token, method, path)
            return replace(identity, tenant_id=moved[token]) if token in moved else identity

        monkeypatch.setitem(client.app._state, key, in_tenant)
    return moved


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_another_tenant_cannot_reach_a_deployment(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker, tenant_of_token: dict[str, str]
) -> None:
    await upload_ok(client, user_headers, maker.single_file("tenant-release"))
    device = await admit_device(client)
    deployment_id = await create_deployment(client, user_headers, "tenant-release", [device.id])
    instructions = await device.next()
    assert instructions is not None and instructions["id"] == deployment_id
    assert await device.report(deployment_id, "downloading") == 204
    assert await device.upload_log(deployment_id) == 204

    # the same device id, in another tenant: nothing to do there, and this deployment is not found
    tenant_of_token[token_of(device.headers)] = OTHER_TENANT
    assert await device.next() is None
    response = await client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/status", json={"status": "success"}, headers=device.headers)
    assert response.status == 404 and (await response.json())["error"] == "Deployment not found"
    assert await device.upload_log(deployment_id) == 404

    # a user of the other tenant
    other = await admin_headers(client, "other-tenant-admin@example.com", "other-tenant-password")
    tenant_of_token[token_of(other)] = OTHER_TENANT
    for path in ("", "/statistics", "/devices", "/device_list", f"/devices/{device.id}/log"):
        response = await client.get(f"{DEPLOYMENTS}/{deployment_id}{path}", headers=other)
        assert response.status == 404, path
    response = await client.get(DEPLOYMENTS, headers=other)
    assert await response.json() == [] and response.headers["X-Total-Count"] == "0"
    response = await client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json={"status": "aborted"}, headers=other)
    assert response.status == 404
    assert (await client.delete(f"{DEPLOYMENTS}/devices/{device.id}", headers=other)).status == 204
    response = await client.post(
        DEPLOYMENTS, json={"name": "n", "artifact_name": "tenant-release", "devices": [device.id]}, headers=other
    )
    assert response.status == 422 and (await response.json())["error"] == "No artifact for the deployment"
    response = await client.get(f"{INTERNAL}/tenants/{OTHER_TENANT}/deployments")
    assert await response.json() == []

    # nothing of the above changed the deployment; back in its own tenant, the device finishes it
    assert await statistics(client, user_headers, deployment_id) == counts(downloading=1)
    assert (await show(client, user_headers, deployment_id))["status"] == "inprogress"
    del tenant_of_token[token_of(device.headers)]
    assert await device.report(deployment_id, "success") == 204
    assert await statistics(client, user_headers, deployment_id) == counts(success=1)
    response = await client.get(f"{INTERNAL}/tenants/default/deployments")
    assert [item["id"] for item in await response.json()] == [deployment_id]
