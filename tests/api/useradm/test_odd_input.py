"""Odd JSON on every useradm endpoint that takes a body: always the documented 4xx JSON error, never a 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from tests.api.useradm.conftest import INTERNAL, PASSWORD, USERADM, MakeUser, login

JSON = {"Content-Type": "application/json"}
BODY_ENDPOINTS = [
    ("POST", f"{USERADM}/users"),
    ("PUT", f"{USERADM}/users/me"),
    ("POST", f"{USERADM}/roles"),
    ("POST", f"{USERADM}/settings"),
    ("PUT", f"{USERADM}/2faverify"),
    ("POST", f"{USERADM}/auth/password-reset/start"),
    ("POST", f"{USERADM}/auth/password-reset/complete"),
    ("POST", f"{INTERNAL}/tenants"),
    ("POST", f"{INTERNAL}/tenants/t1/users"),
]
ODD_BODIES = [
    b'{"email": NaN, "password": Infinity}',
    b'{"email": 1e999}',
    b'{"email": ' + b"1" * 5000 + b"}",
    b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"email": "a@b.c", "password": -Infinity}',
    b"\xff\xfe{}",
    b"null",
]


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
async def test_malformed_json_is_a_400(
    client: TestClient, user_headers: dict[str, str], method: str, path: str, body: bytes
) -> None:
    response = await client.request(method, path, data=body, headers={**user_headers, **JSON})
    assert response.status == 400, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    assert (await response.json())["error"]


async def test_lone_surrogates_are_replaced_not_a_500(client: TestClient, ctx: Context, user_headers: dict[str, str]) -> None:
    """Go's decoder turns an unpaired `\\uD800` into U+FFFD; so do we (it cannot be stored or sent as UTF-8)."""
    headers = {**user_headers, **JSON}
    settings = await client.post(f"{USERADM}/settings", data=b'{"name": "x\\ud800y", "\\udc00": 1}', headers=headers)
    assert settings.status == 201
    assert await (await client.get(f"{USERADM}/settings", headers=user_headers)).json() == {"name": "x\ufffdy", "\ufffd": 1}

    password = b'"' + b"\\ud800" * 8 + b'"'
    created = await client.post(f"{USERADM}/users", data=b'{"email": "odd@example.com", "password": ' + password + b"}", headers=headers)
    assert created.status == 201
    assert (await login(client, "odd@example.com", "\ufffd" * 8)).status == 200

    for path, body, status in [
        (f"{USERADM}/users", b'{"email": "r@example.com", "password": "long-enough", "roles": ["\\ud800"]}', 422),
        (f"{USERADM}/roles", b'{"name": "R", "description": "\\ud800"}', 201),
        (f"{USERADM}/auth/password-reset/start", b'{"email": "a@b.c\\ud800"}', 400),
        (f"{USERADM}/auth/password-reset/complete", b'{"secret": "\\ud800", "password": "long-enough"}', 400),
        (f"{INTERNAL}/tenants", b'{"tenant_id": "\\ud800"}', 201),
    ]:
        response = await client.post(path, data=body, headers=headers)
        assert response.status == status, (path, await response.text())
    assert (await client.get(f"{USERADM}/roles/R", headers=user_headers)).status == 200


async def test_odd_login_bodies(client: TestClient, make_user: MakeUser) -> None:
    await make_user("odd-login@example.com")
    from tests.api.useradm.conftest import basic

    auth = {**basic("odd-login@example.com", PASSWORD), **JSON}
    for body in (b'{"token2fa": NaN}', b"[1]", b'"x"', b'{"token2fa": ' + b"9" * 5000 + b"}"):
        response = await client.post(f"{USERADM}/auth/login", data=body, headers=auth)
        assert response.status == 400, (body, await response.text())
    assert (await client.post(f"{USERADM}/auth/login", data=b'{"token2fa": null}', headers=auth)).status == 200
