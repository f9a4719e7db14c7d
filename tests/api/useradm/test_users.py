"""Users CRUD through the management API, scoped to the caller's tenant."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.timeutil import parse_rfc3339
from tests.api.useradm.conftest import (
    PASSWORD,
    USERADM,
    MakeUser,
    bearer,
    login,
    token_for,
)

USERS = f"{USERADM}/users"


async def test_create_show_list_user(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(USERS, json={"email": "New.User@Example.com", "password": "long-enough"}, headers=user_headers)
    assert response.status == 201
    expected_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "new.user@example.com"))
    assert response.headers["Location"] == f"users/{expected_id}"
    assert await response.read() == b""

    shown = await client.get(f"{USERS}/{expected_id}", headers=user_headers)
    assert shown.status == 200
    user = await shown.json()
    assert set(user) == {"id", "email", "created_ts", "updated_ts", "roles"}
    assert user["id"] == expected_id and user["email"] == "new.user@example.com" and user["roles"] == []
    parse_rfc3339(user["created_ts"])
    parse_rfc3339(user["updated_ts"])

    listed = await (await client.get(USERS, headers=user_headers)).json()
    assert [item["email"] for item in listed] == ["admin@example.com", "new.user@example.com"]
    assert all("password" not in str(item) for item in listed)  # neither password nor hash ever leaves

    assert (await login(client, "new.user@example.com", "long-enough")).status == 200


async def test_create_user_with_roles(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(
        USERS, json={"email": "obs@example.com", "password": PASSWORD, "roles": ["RBAC_ROLE_OBSERVER"]}, headers=user_headers
    )
    assert response.status == 201
    user = await (await client.get(f"{USERADM}/{response.headers['Location']}", headers=user_headers)).json()
    assert user["roles"] == ["RBAC_ROLE_OBSERVER"]
    unknown = await client.post(USERS, json={"email": "x@example.com", "password": PASSWORD, "roles": ["NOPE"]}, headers=user_headers)
    assert unknown.status == 422
    assert (await unknown.json())["error"] == "role not found: NOPE"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"email": "a@example.com", "password": "short"}, 422, "password too short"),
        ({"email": "a@example.com", "password": "x" * 73}, 422, "password too long: at most 72 bytes"),
        ({"email": "admin@example.com", "password": PASSWORD}, 422, "user with a given email already exists"),
        ({"email": "ADMIN@example.com", "password": PASSWORD}, 422, "user with a given email already exists"),
        ({"email": "not-an-email", "password": PASSWORD}, 400, "email: not-an-email does not validate as email"),
        ({"email": "ü@example.com", "password": PASSWORD}, 400, "email: ü@example.com does not validate as email"),
        ({"password": PASSWORD}, 400, "email: non zero value required"),
        ({"email": 5, "password": PASSWORD}, 400, "email: must be a string"),
        ({"email": "a@example.com"}, 400, "password: non zero value required"),
        ({"email": "a@example.com", "password": 12345678}, 400, "password: must be a string"),
        ({"email": "a@example.com", "password": PASSWORD, "roles": "RBAC_ROLE_CI"}, 400, "roles: must be a list of strings"),
    ],
)
async def test_create_user_bad_input(client: TestClient, user_headers: dict[str, str], body: dict, status: int, error: str) -> None:
    response = await client.post(USERS, json=body, headers=user_headers)
    assert response.status == status
    assert (await response.json())["error"] == error


async def test_create_user_body_errors(client: TestClient, user_headers: dict[str, str]) -> None:
    empty = await client.post(USERS, data=b"", headers={**user_headers, "Content-Type": "application/json"})
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode request body: JSON payload is empty"
    not_object = await client.post(USERS, json=["x"], headers=user_headers)
    assert not_object.status == 400
    wrong_type = await client.post(USERS, data="email=x", headers={**user_headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status == 415


async def test_show_unknown_user_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.get(f"{USERS}/{uuid.uuid4()}", headers=user_headers)
    assert response.status == 404
    assert (await response.json())["error"] == "user not found"


async def test_show_me(client: TestClient, make_user: MakeUser) -> None:
    user_id, headers = await make_user("me@example.com", roles=["RBAC_ROLE_CI"])
    response = await client.get(f"{USERS}/me", headers=headers)
    assert response.status == 200
    assert (await response.json())["id"] == user_id


async def test_update_email_and_roles(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    user_id, _ = await make_user("olivia@example.com")
    response = await client.put(f"{USERS}/{user_id}", json={"email": "olivia2@example.com", "roles": ["RBAC_ROLE_CI"]}, headers=user_headers)
    assert response.status == 204
    user = await (await client.get(f"{USERS}/{user_id}", headers=user_headers)).json()
    assert user["email"] == "olivia2@example.com" and user["id"] == user_id and user["roles"] == ["RBAC_ROLE_CI"]
    assert user["updated_ts"] >= user["created_ts"]
    assert (await login(client, "olivia2@example.com")).status == 200
    assert (await login(client, "olivia@example.com")).status == 401
    # Roles omitted: kept. Roles []: removed.
    await client.put(f"{USERS}/{user_id}", json={"email": "olivia3@example.com"}, headers=user_headers)
    assert (await (await client.get(f"{USERS}/{user_id}", headers=user_headers)).json())["roles"] == ["RBAC_ROLE_CI"]
    await client.put(f"{USERS}/{user_id}", json={"roles": []}, headers=user_headers)
    assert (await (await client.get(f"{USERS}/{user_id}", headers=user_headers)).json())["roles"] == []


async def test_a_new_user_with_a_freed_email_gets_a_fresh_id(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    first_id, _ = await make_user("paul@example.com")
    await client.put(f"{USERS}/{first_id}", json={"email": "paul.renamed@example.com"}, headers=user_headers)
    response = await client.post(USERS, json={"email": "paul@example.com", "password": PASSWORD}, headers=user_headers)
    assert response.status == 201
    assert response.headers["Location"] != f"users/{first_id}"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "no update information provided"),
        ({"email": "", "password": ""}, 400, "no update information provided"),
        ({"password": "short"}, 422, "password too short"),
        ({"email": "admin@example.com"}, 422, "user with a given email already exists"),
        ({"email": "bad"}, 400, "email: bad does not validate as email"),
        ({"roles": ["UNKNOWN_ROLE"]}, 422, "role not found: UNKNOWN_ROLE"),
    ],
)
async def test_update_bad_input(client: TestClient, user_headers: dict[str, str], make_user: MakeUser, body: dict, status: int, error: str) -> None:
    user_id, _ = await make_user("quinn@example.com")
    response = await client.put(f"{USERS}/{user_id}", json=body, headers=user_headers)
    assert response.status == status
    assert (await response.json())["error"] == error


async def test_update_unknown_user_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.put(f"{USERS}/{uuid.uuid4()}", json={"email": "z@example.com"}, headers=user_headers)
    assert response.status == 404
    assert (await response.json())["error"] == "user not found"


async def test_changing_a_password_revokes_the_users_other_tokens(client: TestClient, make_user: MakeUser) -> None:
    user_id, first = await make_user("rose@example.com")
    second = bearer(await token_for(client, "rose@example.com"))
    response = await client.put(f"{USERS}/{user_id}", json={"password": "a-new-password"}, headers=first)
    assert response.status == 204
    assert (await client.get(USERS, headers=first)).status == 200  # the token that changed it
    assert (await client.get(USERS, headers=second)).status == 401
    assert (await login(client, "rose@example.com")).status == 401
    assert (await login(client, "rose@example.com", "a-new-password")).status == 200


async def test_an_admin_changing_a_password_revokes_all_of_that_users_tokens(
    client: TestClient, user_headers: dict[str, str], make_user: MakeUser
) -> None:
    user_id, headers = await make_user("sam@example.com")
    assert (await client.put(f"{USERS}/{user_id}", json={"password": "another-password"}, headers=user_headers)).status == 204
    assert (await client.get(USERS, headers=headers)).status == 401
    assert (await client.get(USERS, headers=user_headers)).status == 200


async def test_delete_user(client: TestClient, user_headers: dict[str, str], make_user: MakeUser) -> None:
    user_id, _ = await make_user("tom@example.com")
    assert (await client.delete(f"{USERS}/{user_id}", headers=user_headers)).status == 204
    assert (await client.get(f"{USERS}/{user_id}", headers=user_headers)).status == 404
    assert (await client.delete(f"{USERS}/{user_id}", headers=user_headers)).status == 204  # unknown: still 204


async def test_users_of_other_tenants_are_invisible(client: TestClient, ctx: Context, user_headers: dict[str, str], make_user: MakeUser) -> None:
    other_id, other_headers = await make_user("uma@example.com", tenant_id="tenant-b")
    listed = await (await client.get(USERS, headers=user_headers)).json()
    assert [user["email"] for user in listed] == ["admin@example.com"]
    assert (await client.get(f"{USERS}/{other_id}", headers=user_headers)).status == 404
    assert (await client.put(f"{USERS}/{other_id}", json={"email": "x@example.com"}, headers=user_headers)).status == 404
    assert (await client.delete(f"{USERS}/{other_id}", headers=user_headers)).status == 204
    assert (await client.get(f"{USERS}/{other_id}", headers=other_headers)).status == 200  # not deleted
    assert [user["email"] for user in await (await client.get(USERS, headers=other_headers)).json()] == ["uma@example.com"]
    assert await ctx.useradm.user_count() == 1
    assert await ctx.useradm.user_count("tenant-b") == 1


async def test_emails_are_unique_across_tenants(client: TestClient, ctx: Context, make_user: MakeUser) -> None:
    """Login carries no tenant, so one email must name one account."""
    _, headers = await make_user("vic@example.com", tenant_id="tenant-c")
    await ctx.useradm.create_user("", "shared@example.com", PASSWORD)
    response = await client.post(USERS, json={"email": "shared@example.com", "password": PASSWORD}, headers=headers)
    assert response.status == 422
    assert (await response.json())["error"] == "user with a given email already exists"


async def test_password_hash_is_bcrypt_and_never_plain(ctx: Context) -> None:
    from sqlalchemy import select

    from menderlite.useradm.models import User

    await ctx.useradm.create_user("", "wendy@example.com", PASSWORD)
    async with ctx.db.read() as session:
        stored = await session.scalar(select(User.password_hash).where(User.email == "wendy@example.com"))
    assert stored.startswith("$2b$04$") and PASSWORD not in stored
