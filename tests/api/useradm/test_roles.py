"""Roles CRUD: built-in roles, custom roles, validation and plan gating."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT, create_app
from tests.api.useradm.conftest import PASSWORD, USERADM, MakeUser, bearer, token_for

ROLES = f"{USERADM}/roles"
DEPLOYERS = {
    "name": "DEPLOY_TEST_GROUP",
    "description": "may deploy to the test group",
    "permissions": [
        {"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "test"}},
        {"action": "http", "object": {"type": "GET", "value": "/api/management/v1/deployments/.*"}},
    ],
}


async def test_builtin_roles_are_listed(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.get(ROLES, headers=user_headers)
    assert response.status == 200
    roles = {role["name"]: role for role in await response.json()}
    assert set(roles) == {"RBAC_ROLE_PERMIT_ALL", "RBAC_ROLE_OBSERVER", "RBAC_ROLE_CI"}
    assert roles["RBAC_ROLE_PERMIT_ALL"]["permissions"] == [{"action": "any", "object": {"type": "any", "value": "any"}}]
    assert {"action": "http", "object": {"type": "GET", "value": ".*"}} in roles["RBAC_ROLE_OBSERVER"]["permissions"]
    for role in roles.values():
        assert set(role) == {"name", "description", "permissions"}
    shown = await client.get(f"{ROLES}/RBAC_ROLE_CI", headers=user_headers)
    assert shown.status == 200 and (await shown.json())["name"] == "RBAC_ROLE_CI"


async def test_custom_role_lifecycle(client: TestClient, user_headers: dict[str, str]) -> None:
    created = await client.post(ROLES, json=DEPLOYERS, headers=user_headers)
    assert created.status == 201
    assert created.headers["Location"] == "roles/DEPLOY_TEST_GROUP"
    shown = await client.get(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)
    assert await shown.json() == DEPLOYERS
    assert DEPLOYERS in await (await client.get(ROLES, headers=user_headers)).json()

    new_permissions = [{"action": "http", "object": {"type": "any", "value": "/api/management/v1/useradm/.*"}}]
    updated = await client.put(f"{ROLES}/DEPLOY_TEST_GROUP", json={"description": "changed", "permissions": new_permissions}, headers=user_headers)
    assert updated.status == 202
    assert await (await client.get(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)).json() == {
        "name": "DEPLOY_TEST_GROUP", "description": "changed", "permissions": new_permissions,
    }
    only_description = await client.put(f"{ROLES}/DEPLOY_TEST_GROUP", json={"name": "DEPLOY_TEST_GROUP", "description": "again"}, headers=user_headers)
    assert only_description.status == 202
    assert (await (await client.get(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)).json())["permissions"] == new_permissions

    assert (await client.delete(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)).status == 204
    missing = await client.get(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)
    assert missing.status == 404
    assert (await missing.json())["error"] == "role not found"
    assert (await client.delete(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)).status == 204


async def test_http_method_names_are_normalized(client: TestClient, user_headers: dict[str, str]) -> None:
    role = {"name": "lower", "permissions": [{"action": "http", "object": {"type": "get", "value": ".*"}}]}
    assert (await client.post(ROLES, json=role, headers=user_headers)).status == 201
    shown = await (await client.get(f"{ROLES}/lower", headers=user_headers)).json()
    assert shown == {"name": "lower", "description": "", "permissions": [{"action": "http", "object": {"type": "GET", "value": ".*"}}]}


def _permission(action: Any, kind: Any, value: Any) -> dict[str, Any]:
    return {"name": "R", "permissions": [{"action": action, "object": {"type": kind, "value": value}}]}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"permissions": []}, 400, "name: non zero value required"),
        ({"name": "  "}, 400, "name: non zero value required"),
        ({"name": "a/b"}, 400, "name: must not contain '/' or control characters"),
        ({"name": "RBAC_ROLE_CI"}, 422, "role with a given name already exists"),
        ({"name": "R", "permissions": "all"}, 400, "permissions: must be a list"),
        ({"name": "R", "permissions": ["x"]}, 400, "permissions: each permission must be an object"),
        (_permission("delete_everything", "any", "any"), 400, "permissions: action must be one of any, http, CREATE_DEPLOYMENT"),
        (_permission("http", "FETCH", ".*"), 400, "permissions: object type of an http permission must be any or one of GET, POST, PUT, PATCH, DELETE"),
        (_permission("http", "GET", ""), 400, "permissions: object type and value must be non-empty strings"),
        (_permission("CREATE_DEPLOYMENT", "DEVICE", "test"), 400, "permissions: object type of CREATE_DEPLOYMENT must be DEVICE_GROUP"),
        ({"name": "R", "permissions": [{"action": "http"}]}, 400, "permissions: object must be an object with type and value"),
        ({"name": "R", "description": 5}, 400, "description: must be a string"),
    ],
)
async def test_create_role_bad_input(client: TestClient, user_headers: dict[str, str], body: dict, status: int, error: str) -> None:
    response = await client.post(ROLES, json=body, headers=user_headers)
    assert response.status == status
    assert (await response.json())["error"] == error


async def test_invalid_regular_expression_is_refused(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(ROLES, json=_permission("http", "GET", "/api/(unclosed"), headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"].startswith("permissions: invalid regular expression '/api/(unclosed'")


async def test_duplicate_role_is_refused(client: TestClient, user_headers: dict[str, str]) -> None:
    assert (await client.post(ROLES, json=DEPLOYERS, headers=user_headers)).status == 201
    again = await client.post(ROLES, json=DEPLOYERS, headers=user_headers)
    assert again.status == 422
    assert (await again.json())["error"] == "role with a given name already exists"


@pytest.mark.parametrize("name", ["RBAC_ROLE_PERMIT_ALL", "RBAC_ROLE_OBSERVER", "RBAC_ROLE_CI"])
async def test_builtin_roles_cannot_be_changed_or_deleted(client: TestClient, user_headers: dict[str, str], name: str) -> None:
    changed = await client.put(f"{ROLES}/{name}", json={"description": "mine now"}, headers=user_headers)
    assert changed.status == 400
    assert (await changed.json())["error"] == "built-in roles cannot be changed"
    deleted = await client.delete(f"{ROLES}/{name}", headers=user_headers)
    assert deleted.status == 400
    assert (await deleted.json())["error"] == "built-in roles cannot be deleted"
    assert (await client.get(f"{ROLES}/{name}", headers=user_headers)).status == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "no update information provided"),
        ({"name": "OTHER", "description": "x"}, 400, "name: a role cannot be renamed"),
        ({"permissions": [{"action": "nope"}]}, 400, "permissions: action must be one of any, http, CREATE_DEPLOYMENT"),
    ],
)
async def test_update_role_bad_input(client: TestClient, user_headers: dict[str, str], body: dict, status: int, error: str) -> None:
    await client.post(ROLES, json=DEPLOYERS, headers=user_headers)
    response = await client.put(f"{ROLES}/DEPLOY_TEST_GROUP", json=body, headers=user_headers)
    assert response.status == status
    assert (await response.json())["error"] == error


async def test_update_unknown_role_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.put(f"{ROLES}/NOT_THERE", json={"description": "x"}, headers=user_headers)
    assert response.status == 404


async def test_roles_are_per_tenant(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    _, tenant_admin = await make_user("boss@tenant.example", tenant_id="tenant-r")
    assert (await client.post(ROLES, json=DEPLOYERS, headers=tenant_admin)).status == 201
    assert (await client.get(f"{ROLES}/DEPLOY_TEST_GROUP", headers=user_headers)).status == 404
    assert (await client.post(ROLES, json=DEPLOYERS, headers=user_headers)).status == 201  # same name, other tenant
    other = await client.post(
        f"{USERADM}/users", json={"email": "x@example.com", "password": PASSWORD, "roles": ["DEPLOY_TEST_GROUP"]}, headers=user_headers
    )
    assert other.status == 201


async def test_roles_need_the_enterprise_plan(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings(tenantadm={"default_plan": "professional"}))
    client = await aiohttp_client(app)
    await app[CONTEXT].useradm.create_user("", "pro@example.com", PASSWORD)
    headers = bearer(await token_for(client, "pro@example.com"))
    for response in (
        await client.get(ROLES, headers=headers),
        await client.post(ROLES, json=DEPLOYERS, headers=headers),
        await client.post(f"{USERADM}/users", json={"email": "o@example.com", "password": PASSWORD, "roles": ["RBAC_ROLE_CI"]}, headers=headers),
    ):
        assert response.status == 403
        assert (await response.json())["error"] == "Feature not available in your Plan"
    # Without roles, users are managed as usual.
    assert (await client.post(f"{USERADM}/users", json={"email": "o@example.com", "password": PASSWORD}, headers=headers)).status == 201


async def test_a_catastrophic_role_pattern_cannot_stall_the_server(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    """Role paths are RE2 patterns: `(a+)+$` against a long path answers at once (a backtracking engine would
    hold the event loop for hours)."""
    devices = "/api/management/v1/inventory/devices/"
    role = _permission("http", "GET", devices + "(a+)+$")
    assert (await client.post(ROLES, json=role, headers=user_headers)).status == 201
    _, headers = await make_user("patterns@example.com", roles=[role["name"]])
    response = await client.get(devices + "a" * 5000 + "b", headers=headers)
    assert response.status == 403
    allowed = await client.get(devices + "a" * 5000, headers=headers)
    assert allowed.status == 404  # allowed by the role: inventory answers
    assert (await allowed.json())["error"] == "Device not found"
