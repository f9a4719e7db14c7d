"""RBAC through real HTTP requests: each built-in role, custom roles, and changes taking effect at once.

Routes of services that are not part of this app yet are stood in for by probe routes (answering 200);
where a real route exists it is used instead, and "allowed" then means "not refused by the guard".
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings
from menderlite.context import Context
from menderlite.web import Identity, json_response
from tests.api.useradm.conftest import USERADM, MakeUser

USERS = f"{USERADM}/users"
ARTIFACTS = "/api/management/v1/deployments/artifacts"
GENERATE = f"{ARTIFACTS}/generate"
ARTIFACT = f"{ARTIFACTS}/0c3a5a5e-1e0a-4a4b-9c56-5a3c0f6a7b8c"
DEPLOYMENTS = "/api/management/v1/deployments/deployments"
DEVICES = "/api/management/v2/devauth/devices"
DEVICE_STATUS = f"{DEVICES}/d1/auth/a1/status"
SEARCH = "/api/management/v2/inventory/filters/search"

PROBES = [
    ("GET", ARTIFACTS), ("POST", ARTIFACTS), ("POST", GENERATE),
    ("GET", "/api/management/v1/deployments/artifacts/{id}"), ("DELETE", "/api/management/v1/deployments/artifacts/{id}"),
    ("GET", "/api/management/v1/deployments/artifacts/{id}/download"),
    ("POST", DEPLOYMENTS), ("GET", DEVICES),
    ("PUT", "/api/management/v2/devauth/devices/{id}/auth/{aid}/status"), ("POST", SEARCH),
]


async def probe(request: web.Request) -> web.Response:
    return json_response({"probe": True})


def add_probe_routes(app: web.Application) -> None:
    existing = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource is not None}
    for method, path in PROBES:
        if (method, path) not in existing:
            app.router.add_route(method, path, probe)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    app = create_app(settings)
    add_probe_routes(app)
    return app


async def status_of(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    body = {} if method in ("POST", "PUT") else None
    response = await client.request(method, path, json=body, headers=headers)
    if response.status == 403:
        assert (await response.json())["error"] == "forbidden"
    return response.status


async def assert_allowed(client: TestClient, headers: dict[str, str], *requests: tuple[str, str]) -> None:
    for method, path in requests:
        assert await status_of(client, method, path, headers) not in (401, 403), f"{method} {path} refused"


async def assert_denied(client: TestClient, headers: dict[str, str], *requests: tuple[str, str]) -> None:
    for method, path in requests:
        assert await status_of(client, method, path, headers) == 403, f"{method} {path} not refused"


EVERYTHING = [
    ("GET", USERS), ("POST", USERS), ("GET", ARTIFACTS), ("POST", ARTIFACTS), ("DELETE", ARTIFACT),
    ("POST", DEPLOYMENTS), ("GET", DEVICES), ("PUT", DEVICE_STATUS), ("POST", SEARCH),
]
SELF_SERVICE = [("GET", f"{USERADM}/settings"), ("POST", f"{USERADM}/settings"), ("GET", f"{USERS}/me")]


async def test_user_without_roles_may_do_everything(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("norole@example.com")
    await assert_allowed(client, headers, *EVERYTHING)


async def test_permit_all(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("all@example.com", roles=["RBAC_ROLE_PERMIT_ALL"])
    await assert_allowed(client, headers, *EVERYTHING)


async def test_observer_reads_but_changes_nothing(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("observer@example.com", roles=["RBAC_ROLE_OBSERVER"])
    await assert_allowed(client, headers, ("GET", USERS), ("GET", ARTIFACTS), ("GET", ARTIFACT), ("GET", DEVICES), ("POST", SEARCH), *SELF_SERVICE)
    head = await client.head(USERS, headers=headers)
    assert head.status == 200
    await assert_denied(
        client, headers, ("POST", USERS), ("PUT", f"{USERS}/me"), ("POST", ARTIFACTS), ("DELETE", ARTIFACT),
        ("POST", DEPLOYMENTS), ("PUT", DEVICE_STATUS), ("POST", f"{USERADM}/roles"),
    )


async def test_ci_uploads_and_lists_artifacts_only(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("ci@example.com", roles=["RBAC_ROLE_CI"])
    await assert_allowed(client, headers, ("GET", ARTIFACTS), ("POST", ARTIFACTS), ("POST", GENERATE), ("GET", ARTIFACT), *SELF_SERVICE)
    await assert_denied(
        client, headers, ("DELETE", ARTIFACT), ("GET", USERS), ("GET", DEVICES), ("POST", DEPLOYMENTS), ("POST", SEARCH),
        ("GET", f"{ARTIFACT}/download"),
    )


async def test_custom_role(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    role = {
        "name": "USER_VIEWER_AND_DEVICE_ACCEPTER",
        "permissions": [
            {"action": "http", "object": {"type": "GET", "value": "/api/management/v1/useradm/users(/.*)?"}},
            {"action": "http", "object": {"type": "PUT", "value": "/api/management/v2/devauth/devices/[^/]+/auth/[^/]+/status"}},
        ],
    }
    assert (await client.post(f"{USERADM}/roles", json=role, headers=user_headers)).status == 201
    user_id, headers = await make_user("custom@example.com", roles=[role["name"]])
    await assert_allowed(client, headers, ("GET", USERS), ("GET", f"{USERS}/{user_id}"), ("PUT", DEVICE_STATUS))
    await assert_denied(
        client, headers, ("POST", USERS), ("DELETE", f"{USERS}/{user_id}"), ("GET", DEVICES), ("GET", ARTIFACTS),
    )


async def test_patterns_are_anchored(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    role = {"name": "EXACT", "permissions": [{"action": "http", "object": {"type": "any", "value": "/api/management/v1/useradm/users"}}]}
    await client.post(f"{USERADM}/roles", json=role, headers=user_headers)
    user_id, headers = await make_user("exact@example.com", roles=["EXACT"])
    await assert_allowed(client, headers, ("GET", USERS), ("POST", USERS))
    await assert_denied(client, headers, ("GET", f"{USERS}/{user_id}"))


async def test_group_deployment_role(client: TestClient, ctx: Context, user_headers: dict[str, str], make_user: MakeUser) -> None:
    role = {"name": "DEPLOY_TEST", "permissions": [{"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "test"}}]}
    await client.post(f"{USERADM}/roles", json=role, headers=user_headers)
    user_id, headers = await make_user("deployer@example.com", roles=["DEPLOY_TEST"])
    await assert_allowed(client, headers, ("POST", DEPLOYMENTS))
    await assert_denied(client, headers, ("GET", ARTIFACTS), ("DELETE", ARTIFACT), ("GET", USERS))
    token = headers["Authorization"].removeprefix("Bearer ")
    identity = await ctx.useradm.verify_request(token, "POST", DEPLOYMENTS)
    assert await ctx.useradm.deployment_group_restriction(identity) == frozenset({"test"})


async def test_deployment_group_restriction_of_other_users(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    async def restriction(email: str, roles: list[str]) -> frozenset[str] | None:
        _, headers = await make_user(email, roles=roles)
        identity = await ctx.useradm.verify_request(headers["Authorization"].removeprefix("Bearer "), "GET", "/api/management/v1/useradm/settings")
        return await ctx.useradm.deployment_group_restriction(identity)

    assert await restriction("a@example.com", []) is None
    assert await restriction("b@example.com", ["RBAC_ROLE_PERMIT_ALL"]) is None
    assert await restriction("c@example.com", ["RBAC_ROLE_OBSERVER"]) == frozenset()
    assert await restriction("d@example.com", ["RBAC_ROLE_CI"]) == frozenset()
    # Not cached (fresh identity object): answered from the database.
    user = await ctx.useradm.create_user("", "e@example.com", "long-enough", roles=["RBAC_ROLE_CI"])
    assert await ctx.useradm.deployment_group_restriction(Identity(subject=user.id, is_user=True)) == frozenset()
    assert await ctx.useradm.deployment_group_restriction(Identity(subject="device-1", is_device=True)) == frozenset()


async def test_role_changes_apply_to_live_tokens_at_once(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    user_id, headers = await make_user("changing@example.com")
    await assert_allowed(client, headers, ("POST", ARTIFACTS))  # no roles: everything (and now cached)

    assert (await client.put(f"{USERS}/{user_id}", json={"roles": ["RBAC_ROLE_OBSERVER"]}, headers=user_headers)).status == 204
    await assert_denied(client, headers, ("POST", ARTIFACTS))

    role = {"name": "UPLOADER", "permissions": [{"action": "http", "object": {"type": "GET", "value": "/nothing"}}]}
    await client.post(f"{USERADM}/roles", json=role, headers=user_headers)
    await client.put(f"{USERS}/{user_id}", json={"roles": ["UPLOADER"]}, headers=user_headers)
    await assert_denied(client, headers, ("POST", ARTIFACTS), ("GET", USERS))

    changed = {"permissions": [{"action": "http", "object": {"type": "POST", "value": ARTIFACTS}}]}
    assert (await client.put(f"{USERADM}/roles/UPLOADER", json=changed, headers=user_headers)).status == 202
    await assert_allowed(client, headers, ("POST", ARTIFACTS))

    # Deleting the role takes its permissions away, and never leaves the user with full access.
    assert (await client.delete(f"{USERADM}/roles/UPLOADER", headers=user_headers)).status == 204
    await assert_denied(client, headers, ("POST", ARTIFACTS), ("GET", USERS))
    await assert_allowed(client, headers, *SELF_SERVICE)
