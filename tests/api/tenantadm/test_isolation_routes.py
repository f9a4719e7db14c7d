"""Tenant isolation, route by route: tenant A's admin and device use every id-taking route with ids copied
from tenant B (devices, auth sets, tokens, groups, saved filters, artifacts, deployments, device logs,
users, roles, tenantadm objects). Each answer is a 404 or an empty result, never B's data, and afterwards
B's objects are all as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

from tests.api.tenantadm.helpers import DEVAUTH, V2, TenantAccount, claims_of, make_tenant
from tests.api.tenantadm.test_isolation import DEPLOYMENTS, INVENTORY, INVENTORY_V2, USERS, TenantWorld, ok

USERADM = "/api/management/v1/useradm"
DEVICE_DEPLOYMENTS = "/api/devices/v1/deployments/device/deployments"
GROUP = "bgroup"
ROLE = "b-readers"


class FullWorld(TenantWorld):
    """A TenantWorld plus a group, a saved filter, a custom role, a failed deployment with its log."""

    auth_set_id = ""
    token_id = ""
    filter_id = ""

    async def build_more(self, client: TestClient) -> FullWorld:
        headers = self.tenant.headers
        assert self.device is not None
        self.token_id = claims_of(self.device.token)["jti"]
        record = await ok(await client.get(f"{DEVAUTH}/devices/{self.device_id}", headers=headers))
        self.auth_set_id = record["auth_sets"][0]["id"]
        await ok(await client.put(f"{INVENTORY}/devices/{self.device_id}/group", json={"group": GROUP}, headers=headers), 204)
        response = await client.post(
            f"{INVENTORY_V2}/filters",
            json={"name": "b-filter", "terms": [{"scope": "inventory", "attribute": "colour", "type": "$eq", "value": "b"}]},
            headers=headers,
        )
        await ok(response, 201)
        self.filter_id = response.headers["Location"].rsplit("/", 1)[1]
        role = {"name": ROLE, "permission_sets_with_scope": [{"name": "ReadReleases"}]}
        await ok(await client.post(f"{USERADM}/roles", json=role, headers=headers), 201)
        device_headers = self.device.auth_headers()
        await ok(await client.get(f"{DEVICE_DEPLOYMENTS}/next?device_type=qemux86-64&artifact_name=initial", headers=device_headers))
        await ok(await client.put(f"{DEVICE_DEPLOYMENTS}/{self.deployment_id}/status", json={"status": "failure"}, headers=device_headers), 204)
        log = {"messages": [{"timestamp": "2024-01-01T00:00:00Z", "level": "error", "message": "b's secret log"}]}
        await ok(await client.put(f"{DEVICE_DEPLOYMENTS}/{self.deployment_id}/log", json=log, headers=device_headers), 204)
        return self


async def snapshot(client: TestClient, world: FullWorld) -> dict[str, Any]:
    """What B's admin sees of B's objects (compared before and after A's attempts)."""
    headers = world.tenant.headers

    async def get(path: str) -> Any:
        return await ok(await client.get(path, headers=headers))

    device = await get(f"{DEVAUTH}/devices/{world.device_id}")
    inventory = await get(f"{INVENTORY}/devices/{world.device_id}")
    return {
        "devauth": device["status"],
        "auth_sets": [(auth_set["id"], auth_set["status"]) for auth_set in device["auth_sets"]],
        "inventory": sorted(json.dumps(a, sort_keys=True) for a in inventory["attributes"] if a["name"] != "updated_ts"),
        "group": await get(f"{INVENTORY}/devices/{world.device_id}/group"),
        "group_devices": await get(f"{INVENTORY}/groups/{GROUP}/devices"),
        "filter": await get(f"{INVENTORY_V2}/filters/{world.filter_id}"),
        "artifact": await get(f"{DEPLOYMENTS}/artifacts/{world.artifact_id}"),
        "deployment": await get(f"{DEPLOYMENTS}/deployments/{world.deployment_id}"),
        "statistics": await get(f"{DEPLOYMENTS}/deployments/{world.deployment_id}/statistics"),
        "deployment_devices": await get(f"{DEPLOYMENTS}/deployments/{world.deployment_id}/devices"),
        "log": (await client.get(f"{DEPLOYMENTS}/deployments/{world.deployment_id}/devices/{world.device_id}/log", headers=headers)).status,
        "user": await get(f"{USERS}/{world.user_id}"),
        "role": await get(f"{USERADM}/roles/{ROLE}"),
        "settings": await get(f"{USERADM}/settings"),
        "tenant": await get("/api/management/v1/tenantadm/user/tenant"),
    }


LISTS = [
    f"{DEVAUTH}/devices", f"{DEVAUTH}/devices/count", f"{DEVAUTH}/limits/max_devices",
    f"{INVENTORY}/devices", f"{INVENTORY}/groups", f"{INVENTORY_V2}/filters",
    f"{DEPLOYMENTS}/artifacts", f"{DEPLOYMENTS}/deployments", f"{DEPLOYMENTS}/deployments/releases",
    f"{DEPLOYMENTS}/limits/storage",
    USERS, f"{USERADM}/roles", f"{USERADM}/settings",
]


def attempts(b: FullWorld) -> list[tuple[str, str, Any, set[int]]]:
    """(method, path, JSON body, acceptable statuses) that use B's ids with A's credentials."""
    dev, aid, dep, art = b.device_id, b.auth_set_id, b.deployment_id, b.artifact_id
    return [
        ("GET", f"{DEVAUTH}/devices/{dev}", None, {404}),
        ("DELETE", f"{DEVAUTH}/devices/{dev}", None, {404}),
        ("GET", f"{DEVAUTH}/devices/{dev}/auth/{aid}/status", None, {404}),
        ("PUT", f"{DEVAUTH}/devices/{dev}/auth/{aid}/status", {"status": "rejected"}, {404}),
        ("DELETE", f"{DEVAUTH}/devices/{dev}/auth/{aid}", None, {404}),
        ("DELETE", f"{DEVAUTH}/tokens/{b.token_id}", None, {204, 404}),
        ("GET", f"{INVENTORY}/devices/{dev}", None, {404}),
        ("DELETE", f"{INVENTORY}/devices/{dev}", None, {204, 404}),
        ("GET", f"{INVENTORY}/devices/{dev}/group", None, {404}),
        ("PUT", f"{INVENTORY}/devices/{dev}/group", {"group": "agroup"}, {404}),
        ("DELETE", f"{INVENTORY}/devices/{dev}/group/{GROUP}", None, {404}),
        ("GET", f"{INVENTORY}/groups/{GROUP}/devices", None, {404}),
        ("PATCH", f"{INVENTORY}/groups/agroup/devices", [dev], {200}),
        ("DELETE", f"{INVENTORY}/groups/{GROUP}/devices", [dev], {200, 404}),
        ("GET", f"{INVENTORY_V2}/filters/{b.filter_id}", None, {404}),
        ("GET", f"{INVENTORY_V2}/filters/{b.filter_id}/search", None, {404}),
        ("DELETE", f"{INVENTORY_V2}/filters/{b.filter_id}", None, {204, 404}),  # 204 documented, no 404
        ("GET", f"{DEPLOYMENTS}/artifacts/{art}", None, {404}),
        ("PUT", f"{DEPLOYMENTS}/artifacts/{art}", {"description": "owned by A"}, {404}),
        ("GET", f"{DEPLOYMENTS}/artifacts/{art}/download", None, {404}),
        ("DELETE", f"{DEPLOYMENTS}/artifacts/{art}", None, {404}),
        ("GET", f"{DEPLOYMENTS}/deployments/{dep}", None, {404}),
        ("GET", f"{DEPLOYMENTS}/deployments/{dep}/statistics", None, {404}),
        ("GET", f"{DEPLOYMENTS}/deployments/{dep}/devices", None, {404}),
        ("GET", f"{DEPLOYMENTS}/deployments/{dep}/device_list", None, {404}),
        ("GET", f"{DEPLOYMENTS}/deployments/{dep}/devices/{dev}/log", None, {404}),
        ("PUT", f"{DEPLOYMENTS}/deployments/{dep}/status", {"status": "aborted"}, {404}),
        ("DELETE", f"{DEPLOYMENTS}/deployments/devices/{dev}", None, {204, 404}),
        ("POST", f"{DEPLOYMENTS}/deployments/group/{GROUP}", {"name": "steal", "artifact_name": "release-a"}, {400, 404, 422}),
        # a deployment of A naming B's device: whatever A gets, B's device is never offered A's artifact
        ("POST", f"{DEPLOYMENTS}/deployments", {"name": "reach", "artifact_name": "release-a", "devices": [dev]}, {201, 400, 404, 422}),
        ("POST", "/api/management/v2/deployments/deployments", {"name": "reach2", "artifact_name": "release-a", "filter_id": b.filter_id}, {400, 404, 422}),
        ("GET", f"{USERS}/{b.user_id}", None, {404}),
        ("PUT", f"{USERS}/{b.user_id}", {"email": "taken@a.example"}, {404}),
        ("DELETE", f"{USERS}/{b.user_id}", None, {204, 404}),
        ("GET", f"{USERADM}/roles/{ROLE}", None, {404}),
        ("PUT", f"{USERADM}/roles/{ROLE}", {"description": "changed by A"}, {404}),
        ("DELETE", f"{USERADM}/roles/{ROLE}", None, {204, 404}),
        # a role of A with the name of B's is A's own
        ("POST", f"{USERADM}/roles", {"name": ROLE, "permission_sets_with_scope": [{"name": "ManageUsers"}]}, {201}),
        ("PUT", f"{USERADM}/roles/{ROLE}", {"description": "A's now"}, {202}),
        ("DELETE", f"{USERADM}/roles/{ROLE}", None, {204}),
        ("POST", f"{V2}/tenants/{b.tenant.id}/cancel", {"reason": "A wants B gone"}, {404}),
        ("POST", f"{V2}/tenants/{b.tenant.id}/upgrade/start", None, {404}),
        ("POST", f"{V2}/tenants/{b.tenant.id}/upgrade/cancel", None, {404}),
        ("POST", f"{V2}/tenants/{b.tenant.id}/upgrade/complete", {"plan": "enterprise"}, {403, 404}),
        ("PUT", f"{V2}/tenants/{b.tenant.id}/status", {"status": "active"}, {403, 404}),
        ("DELETE", f"{V2}/tenants/{b.tenant.id}", None, {403, 404}),
    ]


async def test_every_route_with_ids_of_another_tenant(client: TestClient, tmp_path: Path, user_headers: dict[str, str]) -> None:
    # enterprise: custom roles need it
    tenant_a = await make_tenant(client, "Acme", "admin@acme.example", plan="enterprise")
    tenant_b = await make_tenant(client, "Bolt Inc.", "admin@bolt.example", plan="enterprise")
    a = await FullWorld(tenant_a).build(client, tmp_path, "a")
    b = await (await FullWorld(tenant_b).build(client, tmp_path, "b")).build_more(client)
    before = await snapshot(client, b)
    failures = []
    for method, path, body, statuses in attempts(b):
        response = await client.request(method, path, json=body, headers=a.tenant.headers)
        text = await response.text()
        if response.status not in statuses or "b's secret log" in text or b.device_id in text and response.status < 300:
            failures.append(f"{method} {path}: {response.status} {text[:200]}")
    # lists and counts of A (and of the default tenant) name nothing of B
    secrets = [b.device_id, b.artifact_id, b.deployment_id, b.filter_id, b.user_id, GROUP, ROLE, "b-filter", "release-b", b.tenant.id]
    for headers in (a.tenant.headers, user_headers):
        for path in LISTS:
            response = await client.get(path, headers=headers)
            text = await response.text()
            if response.status != 200 or any(secret in text for secret in secrets):
                failures.append(f"GET {path}: {response.status} {text[:200]}")
        response = await client.post(f"{INVENTORY_V2}/filters/search", json={"filters": [{"scope": "identity", "attribute": "id", "type": "$eq", "value": b.device_id}]}, headers=headers)
        if response.status != 200 or await response.json() != []:
            failures.append(f"search for B's device: {response.status} {await response.text()}")
    # A's own download link, bent towards B's artifact or B's tenant, is refused
    link = (await ok(await client.get(f"{DEPLOYMENTS}/artifacts/{a.artifact_id}/download", headers=a.tenant.headers)))["uri"]
    own = URL(link)
    assert (await client.get(own.relative())).status == 200
    for bent in (own.with_path(own.path.replace(a.artifact_id, b.artifact_id)), own.update_query(tenant_id=b.tenant.id)):
        response = await client.get(bent.relative())
        if response.status != 403:
            failures.append(f"bent download link {bent.relative()}: {response.status}")
    # A's device with B's deployment id
    assert a.device is not None
    device_headers = a.device.auth_headers()
    for path, body in ((f"{DEVICE_DEPLOYMENTS}/{b.deployment_id}/status", {"status": "success"}),
                       (f"{DEVICE_DEPLOYMENTS}/{b.deployment_id}/log", {"messages": [{"timestamp": "2024-01-01T00:00:00Z", "level": "info", "message": "from A"}]})):
        response = await client.put(path, json=body, headers=device_headers)
        if response.status != 404:
            failures.append(f"device PUT {path}: {response.status} {await response.text()}")
    after = await snapshot(client, b)
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not failures and not changed, "\n".join(failures) + f"\nchanged: {json.dumps(changed, indent=1)}"
    # and B's device still works
    assert b.device is not None
    response = await client.get(f"{DEVICE_DEPLOYMENTS}/next?device_type=qemux86-64&artifact_name=initial", headers=b.device.auth_headers())
    assert response.status == 204, await response.text()  # its own deployment failed; nothing of A's is offered


async def test_device_tokens_are_refused_on_management_routes_and_user_tokens_on_device_routes(
    client: TestClient, tmp_path: Path, tenant_a: TenantAccount
) -> None:
    a = await TenantWorld(tenant_a).build(client, tmp_path, "a")
    assert a.device is not None
    for path in (f"{DEVAUTH}/devices", f"{INVENTORY}/devices", f"{DEPLOYMENTS}/deployments", USERS, "/api/management/v1/tenantadm/user/tenant"):
        assert (await client.get(path, headers=a.device.auth_headers())).status == 401, path
    for method, path in (("GET", f"{DEVICE_DEPLOYMENTS}/next?device_type=qemux86-64&artifact_name=initial"),
                         ("PATCH", "/api/devices/v1/inventory/device/attributes")):
        response = await client.request(method, path, json=[{"name": "x", "value": "y"}], headers=a.tenant.headers)
        assert response.status == 401, (path, response.status)
