"""RBAC through the real routes of every service: each built-in role and a custom role, walked over EVERY
management route the app serves, through the guard and through the internal verify endpoint; changes to
roles taking effect at once; what a refused request leaves behind (nothing).

A request counts as refused by RBAC when it answers 403 `forbidden` (the guard's answer); an allowed
request reaches the route, which may still answer 400/404/415 for the empty body and made-up ids we send.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.web import Identity
from tests.api.deployments.conftest import upload_ok
from tests.api.useradm.conftest import (
    INTERNAL,
    USERADM,
    MakeUser,
    Route,
    management_routes,
)
from tests.support.artifacts import ArtifactMaker, artifact_maker  # noqa: F401 - session fixture
from tests.support.devices import admit

USERS = f"{USERADM}/users"
ARTIFACTS = "/api/management/v1/deployments/artifacts"
DEPLOYMENTS = "/api/management/v1/deployments/deployments"
DEVICES = "/api/management/v2/devauth/devices"
INVENTORY = "/api/management/v1/inventory/devices"
SEARCH = "/api/management/v2/inventory/filters/search"
VERIFY = f"{INTERNAL}/auth/verify"

# What every logged-in user may do on their own account, whatever their roles.
SELF_SERVICE = {
    ("GET", f"{USERADM}/settings"), ("POST", f"{USERADM}/settings"),
    ("GET", f"{USERADM}/2faqr"), ("PUT", f"{USERADM}/2faverify"),
}
OBSERVER_POSTS = {("POST", SEARCH)}  # device searches: reads sent as POST
CI_ROUTES = {
    ("GET", ARTIFACTS), ("GET", f"{ARTIFACTS}/{{id}}"), ("POST", ARTIFACTS), ("POST", f"{ARTIFACTS}/generate"),
}


def test_the_walk_covers_every_service(client: TestClient) -> None:
    """A guard against a walk that silently shrinks: all four services' management APIs are in it."""
    routes = management_routes(client)
    assert len(routes) >= 60
    patterns = {route.pattern for route in routes}
    for prefix in ("/api/management/v1/useradm/", "/api/management/v2/devauth/", "/api/management/v1/inventory/",
                   "/api/management/v2/inventory/", "/api/management/v1/deployments/", "/api/management/v2/deployments/"):
        assert any(pattern.startswith(prefix) for pattern in patterns), prefix


async def refused_by_guard(client: TestClient, route: Route, headers: dict[str, str]) -> bool:
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    response = await client.request(route.method, route.path, json=body, headers=headers)
    assert response.status != 401, f"{route}: {await response.text()}"
    assert response.status != 500, f"{route}: {await response.text()}"
    return response.status == 403 and (await response.json())["error"] == "forbidden"


async def refused_by_verify(client: TestClient, route: Route, headers: dict[str, str]) -> bool:
    forwarded = {**headers, "X-Original-Method": route.method, "X-Original-URI": f"{route.path}?page=1"}
    response = await client.post(VERIFY, headers=forwarded)
    assert response.status in (200, 403), f"{route}: {await response.text()}"
    return response.status == 403


async def assert_policy(client: TestClient, headers: dict[str, str], allowed: Callable[[Route], bool]) -> None:
    """Walk every management route: the guard and the internal verify endpoint both decide as `allowed`."""
    wrong = []
    for route in management_routes(client):
        expected_refusal = not allowed(route)
        if await refused_by_verify(client, route, headers) != expected_refusal:
            wrong.append(f"verify: {route}")
        if await refused_by_guard(client, route, headers) != expected_refusal:
            wrong.append(f"guard: {route}")
    assert not wrong, f"decided contrary to the policy: {wrong}"


def key(route: Route) -> tuple[str, str]:
    return route.method, route.pattern


async def test_user_without_roles_may_do_everything(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("norole@example.com")
    await assert_policy(client, headers, lambda route: True)


async def test_permit_all_may_do_everything(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("all@example.com", roles=["RBAC_ROLE_PERMIT_ALL"])
    await assert_policy(client, headers, lambda route: True)


async def test_observer_is_read_only_across_all_services(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("observer@example.com", roles=["RBAC_ROLE_OBSERVER"])
    await assert_policy(
        client, headers, lambda route: route.method == "GET" or key(route) in OBSERVER_POSTS | SELF_SERVICE
    )
    assert (await client.head(USERS, headers=headers)).status == 200
    assert (await client.get(f"{USERS}/me", headers=headers)).status == 200


async def test_ci_may_only_upload_and_list_artifacts(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("ci@example.com", roles=["RBAC_ROLE_CI"])
    await assert_policy(client, headers, lambda route: key(route) in CI_ROUTES | SELF_SERVICE)
    assert (await client.get(f"{USERS}/me", headers=headers)).status == 200


CUSTOM_ROLE = {
    "name": "DEVICE_ADMISSION",
    "description": "may see the inventory and accept or reject devices",
    "permissions": [
        {"action": "http", "object": {"type": "GET", "value": "/api/management/v1/inventory/.*"}},
        {"action": "http", "object": {"type": "PUT", "value": "/api/management/v2/devauth/devices/[^/]+/auth/[^/]+/status"}},
    ],
}


async def test_custom_role(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    assert (await client.post(f"{USERADM}/roles", json=CUSTOM_ROLE, headers=user_headers)).status == 201
    _, headers = await make_user("custom@example.com", roles=[CUSTOM_ROLE["name"]])

    def allowed(route: Route) -> bool:
        inventory_read = route.method == "GET" and route.pattern.startswith("/api/management/v1/inventory/")
        admission = key(route) == ("PUT", f"{DEVICES}/{{id}}/auth/{{aid}}/status")
        return inventory_read or admission or key(route) in SELF_SERVICE

    await assert_policy(client, headers, allowed)


async def test_patterns_match_the_whole_path(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    role = {"name": "EXACT", "permissions": [{"action": "http", "object": {"type": "any", "value": USERS}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    user_id, headers = await make_user("exact@example.com", roles=["EXACT"])
    assert (await client.get(USERS, headers=headers)).status == 200
    assert (await client.get(f"{USERS}/{user_id}", headers=headers)).status == 403
    assert (await client.get(f"{USERS}/{user_id}/../..", headers=headers)).status in (403, 404)


async def test_refused_requests_change_nothing(
    client: TestClient, ctx: Context, user_headers: dict[str, str], make_user: MakeUser, artifact_maker: ArtifactMaker  # noqa: F811
) -> None:
    """Real objects of each service, acted on by roles that may not: 403 JSON, and everything stays."""
    _, observer = await make_user("watch@example.com", roles=["RBAC_ROLE_OBSERVER"])
    _, ci = await make_user("builder@example.com", roles=["RBAC_ROLE_CI"])
    victim_id, _ = await make_user("victim@example.com")
    device, device_id = await admit(client)
    artifact_id = await upload_ok(client, ci, artifact_maker.single_file("rbac-release"))  # CI may upload

    for headers, method, path, body in [
        (observer, "DELETE", f"{USERS}/{victim_id}", None),
        (observer, "POST", USERS, {"email": "sneaky@example.com", "password": "long-enough"}),
        (observer, "DELETE", f"{DEVICES}/{device_id}", None),
        (observer, "PUT", f"{INVENTORY}/{device_id}/group", {"group": "mine"}),
        (observer, "DELETE", f"{ARTIFACTS}/{artifact_id}", None),
        (observer, "POST", DEPLOYMENTS, {"name": "n", "artifact_name": "rbac-release", "devices": [device_id]}),
        (ci, "DELETE", f"{ARTIFACTS}/{artifact_id}", None),
        (ci, "GET", f"{ARTIFACTS}/{artifact_id}/download", None),
        (ci, "POST", DEPLOYMENTS, {"name": "n", "artifact_name": "rbac-release", "devices": [device_id]}),
        (ci, "GET", DEVICES, None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status == 403, f"{method} {path}: {response.status}"
        assert response.headers["Content-Type"].startswith("application/json")
        assert (await response.json())["error"] == "forbidden"

    assert (await client.get(f"{USERS}/{victim_id}", headers=observer)).status == 200
    assert "sneaky@example.com" not in [user.email for user in await ctx.useradm.list_users("")]
    assert (await client.get(f"{DEVICES}/{device_id}", headers=observer)).status == 200
    group = await client.get(f"{INVENTORY}/{device_id}/group", headers=observer)
    assert group.status == 200 and (await group.json())["group"] is None
    listed = await (await client.get(ARTIFACTS, headers=ci)).json()
    assert [artifact["id"] for artifact in listed] == [artifact_id]
    assert (await client.get(f"{ARTIFACTS}/{artifact_id}", headers=ci)).status == 200
    deployments = await (await client.get(DEPLOYMENTS, headers=observer)).json()
    assert deployments == []
    assert (await client.post(SEARCH, json={}, headers=observer)).status == 200
    assert (await device.authenticate(client)).status == 200  # still accepted


async def test_group_deployment_role(client: TestClient, ctx: Context, user_headers: dict[str, str], make_user: MakeUser) -> None:
    role = {"name": "DEPLOY_TEST", "permissions": [{"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "test"}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    _, headers = await make_user("deployer@example.com", roles=["DEPLOY_TEST"])
    creation = {("POST", DEPLOYMENTS), ("POST", f"{DEPLOYMENTS}/group/{{name}}"), ("POST", "/api/management/v2/deployments/deployments")}
    await assert_policy(client, headers, lambda route: key(route) in creation | SELF_SERVICE)
    token = headers["Authorization"].removeprefix("Bearer ")
    identity = await ctx.useradm.verify_request(token, "POST", DEPLOYMENTS)
    assert await ctx.useradm.deployment_group_restriction(identity) == frozenset({"test"})


async def test_deployment_group_restriction_of_other_users(
    client: TestClient, ctx: Context, user_headers: dict[str, str], make_user: MakeUser
) -> None:
    role = {"name": "DEPLOY_LAB", "permissions": [{"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "lab"}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201

    async def restriction(email: str, roles: list[str]) -> frozenset[str] | None:
        _, headers = await make_user(email, roles=roles)
        identity = await ctx.useradm.verify_request(headers["Authorization"].removeprefix("Bearer "), "GET", f"{USERADM}/settings")
        return await ctx.useradm.deployment_group_restriction(identity)

    assert await restriction("a@example.com", []) is None
    assert await restriction("b@example.com", ["RBAC_ROLE_PERMIT_ALL"]) is None
    # Observer and CI cannot create deployments at all: the guard refuses before any group check.
    assert await restriction("c@example.com", ["RBAC_ROLE_OBSERVER"]) is None
    assert await restriction("d@example.com", ["RBAC_ROLE_CI", "DEPLOY_LAB"]) == frozenset({"lab"})
    # Not cached (fresh identity object): answered from the database.
    user = await ctx.useradm.create_user("", "e@example.com", "long-enough", roles=["DEPLOY_LAB"])
    assert await ctx.useradm.deployment_group_restriction(Identity(subject=user.id, is_user=True)) == frozenset({"lab"})
    assert await ctx.useradm.deployment_group_restriction(Identity(subject="device-1", is_device=True)) == frozenset()


async def test_role_changes_apply_to_live_tokens_at_once(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    user_id, headers = await make_user("changing@example.com")
    upload = Route("POST", ARTIFACTS, ARTIFACTS)
    users = Route("GET", USERS, USERS)
    assert not await refused_by_guard(client, upload, headers)  # no roles: everything (and now cached)

    assert (await client.put(f"{USERS}/{user_id}", json={"roles": ["RBAC_ROLE_OBSERVER"]}, headers=user_headers)).status == 204
    assert await refused_by_guard(client, upload, headers)
    assert await refused_by_verify(client, upload, headers)

    role = {"name": "UPLOADER", "permissions": [{"action": "http", "object": {"type": "GET", "value": "/nothing"}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    assert (await client.put(f"{USERS}/{user_id}", json={"roles": ["UPLOADER"]}, headers=user_headers)).status == 204
    assert await refused_by_guard(client, upload, headers) and await refused_by_guard(client, users, headers)

    changed = {"permissions": [{"action": "http", "object": {"type": "POST", "value": ARTIFACTS}}]}
    assert (await client.put(f"{USERADM}/roles/UPLOADER", json=changed, headers=user_headers)).status == 202
    assert not await refused_by_guard(client, upload, headers)
    assert not await refused_by_verify(client, upload, headers)

    # Deleting the role takes its permissions away, and never leaves the user with full access.
    assert (await client.delete(f"{USERADM}/roles/UPLOADER", headers=user_headers)).status == 204
    assert await refused_by_guard(client, upload, headers) and await refused_by_guard(client, users, headers)
    assert (await client.get(f"{USERADM}/settings", headers=headers)).status == 200

    # Roles taken away: full access again.
    assert (await client.put(f"{USERS}/{user_id}", json={"roles": []}, headers=user_headers)).status == 204
    assert not await refused_by_guard(client, users, headers)


async def test_a_device_token_opens_no_management_route(client: TestClient) -> None:
    device, _ = await admit(client)
    headers = device.auth_headers()
    for route in management_routes(client):
        response = await client.request(route.method, route.path, headers=headers)
        assert response.status == 401, str(route)
    assert (await client.post(VERIFY, headers={**headers, "X-Original-Method": "GET", "X-Original-URI": USERS})).status == 401


async def test_an_http_permission_to_deploy_to_groups_is_not_limited_by_group_checks(
    client: TestClient, user_headers: dict[str, str], make_user: MakeUser, artifact_maker: ArtifactMaker  # noqa: F811
) -> None:
    """Only CREATE_DEPLOYMENT limits deployments to device groups; `POST .../group/.*` allows any group."""
    await upload_ok(client, user_headers, artifact_maker.single_file("group-release"))
    _, device_id = await admit(client)
    assert (await client.put(f"{INVENTORY}/{device_id}/group", json={"group": "prod"}, headers=user_headers)).status == 204
    role = {"name": "GROUP_DEPLOYER", "permissions": [{"action": "http", "object": {"type": "POST", "value": f"{DEPLOYMENTS}/group/.*"}}]}
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    _, headers = await make_user("group-deployer@example.com", roles=["GROUP_DEPLOYER"])

    body = {"name": "to prod", "artifact_name": "group-release"}
    created = await client.post(f"{DEPLOYMENTS}/group/prod", json=body, headers=headers)
    assert created.status == 201, await created.text()
    refused = await client.post(DEPLOYMENTS, json={**body, "devices": [device_id]}, headers=headers)
    assert refused.status == 403 and (await refused.json())["error"] == "forbidden"
