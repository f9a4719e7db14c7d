"""Odd bodies on every tenantadm endpoint that takes one: the documented 4xx JSON error, never a 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.api.tenantadm.helpers import INTERNAL, V1, V2, TenantAccount

JSON = {"Content-Type": "application/json"}
ODD_BODIES = [
    b'{"status": NaN, "name": Infinity}',
    b'{"name": 1e999}',
    b'{"name": ' + b"1" * 5000 + b"}",
    b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"\xff\xfe{}",
    b"null",
    b"[]",
    b'"text"',
    b"",
]


def endpoints(tenant_id: str) -> list[tuple[str, str]]:
    return [
        ("PUT", f"{INTERNAL}/tenants/{tenant_id}"),
        ("PUT", f"{INTERNAL}/tenants/{tenant_id}/status"),
        ("POST", f"{INTERNAL}/users"),
        ("PUT", f"{INTERNAL}/tenants/{tenant_id}/users/some-user"),
        ("PUT", f"{V2}/tenants/{tenant_id}/status"),
        ("POST", f"{V2}/tenants/{tenant_id}/cancel"),
        ("POST", f"{V2}/tenants/{tenant_id}/upgrade/complete"),
        ("POST", f"{V1}/tenants"),
        ("POST", f"{V2}/tenants"),
        ("POST", f"{V2}/tenants/trial"),
    ]


@pytest.mark.parametrize("body", ODD_BODIES, ids=lambda body: body[:12].decode("latin-1"))
async def test_odd_json_is_a_400(client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount, body: bytes) -> None:
    for method, path in endpoints(tenant_a.id):
        response = await client.request(method, path, data=body, headers={**user_headers, **JSON})
        assert response.status == 400, f"{method} {path}: {response.status} {await response.text()}"
        assert "error" in await response.json()


async def test_odd_forms_are_a_400(client: TestClient, user_headers: dict[str, str]) -> None:
    for form in ({"organization": "x" * 300}, {"organization": "Org", "email": "a@b.example", "password": "p" * 100}):
        response = await client.post(f"{V1}/tenants", data=form, headers=user_headers)
        assert response.status == 400, await response.text()
    broken = b"--boundary\r\nContent-Disposition: form-data; name=\"organization\"\r\n\r\nOrg"  # never ends
    response = await client.post(
        f"{V1}/tenants", data=broken, headers={**user_headers, "Content-Type": "multipart/form-data; boundary=boundary"}
    )
    assert response.status == 400, await response.text()


FORM = {"organization": "Org", "email": "new@org.example", "password": "long-enough-password"}
ODD_FIELD_VALUES = [
    {"organization": ["Org"]},
    {"organization": {"a": 1}},
    {"organization": 12},
    {"organization": "Örg ☃"},
    {"organization": "x\u0000y"},
    {"email": ["new@org.example"]},
    {"email": "ünïcode@org.example"},
    {"email": "a" * 100_000 + "@org.example"},
    {"email": "new@org.example\r\nBcc: x@y.example"},
    {"password": ["long-enough-password"]},
    {"password": 123456789},
    {"password": "p" * 100_000},
    {"plan": ["os"]},
    {"plan": {"os": 1}},
    {"plan": 1},
    {"plan": "Enterprise"},
]


@pytest.mark.parametrize("change", ODD_FIELD_VALUES, ids=lambda change: repr(change)[:40])
async def test_odd_sign_up_fields_in_json_are_a_400(client: TestClient, user_headers: dict[str, str], change: dict[str, object]) -> None:
    for path in (f"{V1}/tenants", f"{V2}/tenants", f"{V2}/tenants/trial"):
        response = await client.post(path, json={**FORM, **change}, headers=user_headers)
        assert response.status in (400, 409), f"{path}: {response.status} {await response.text()}"


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"organization=Org&email=new%40org.example&password=long-enough-password", "application/x-www-form-urlencoded; charset=bogus"),
        (b"organization=Org&email=new%40org.example&password=long-enough-password", "application/x-www-form-urlencoded; charset=utf-16"),
        (b"organization=%FF%FE&email=new%40org.example&password=long-enough-password", "application/x-www-form-urlencoded"),
        (b"organization=\xff\xfe&email=new%40org.example&password=long-enough-password", "application/x-www-form-urlencoded"),
        (b"organization=O%00rg&email=new%40org.example&password=long-enough-password", "application/x-www-form-urlencoded"),
        (b"organization&email&password", "application/x-www-form-urlencoded"),
        (b"%%%%=%%%%", "application/x-www-form-urlencoded"),
        (b"organization=" + b"x" * 100_000, "application/x-www-form-urlencoded"),
        (b"--b\r\nContent-Disposition: form-data; name=\"organization\"; filename=\"o.txt\"\r\n\r\nOrg\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\nContent-Disposition: form-data; name=\"organization\"\r\nContent-Type: text/plain; charset=bogus\r\n\r\nOrg\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\n\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"x", "multipart/form-data"),
        (b"{}", "application/json; charset=latin-1"),
        (b"{}", "text/plain"),
    ],
)
async def test_odd_sign_up_forms_are_a_4xx(client: TestClient, user_headers: dict[str, str], body: bytes, content_type: str) -> None:
    for path in (f"{V1}/tenants", f"{V2}/tenants", f"{V2}/tenants/trial"):
        response = await client.post(path, data=body, headers={**user_headers, "Content-Type": content_type})
        assert 400 <= response.status < 500, f"{path}: {response.status} {await response.text()}"
        assert "error" in await response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"trial_expiration": "0001-01-01T00:00:00+14:00"},
        {"trial_expiration": "9999-12-31T23:59:59-14:00"},
        {"trial_expiration": "2024-02-30T00:00:00Z"},
        {"trial_expiration": "2024-01-01T00:00:00"},
        {"trial_expiration": 1700000000},
        {"name": "x" * 100_000},
        {"name": ["Acme"]},
        {"plan": ["os"]},
        {"plan": {"os": True}},
        {"trial": "yes"},
        {"api_limits": {"devices": {"quota": {"max_calls": 2**64}}}},
        {"api_limits": {"devices": {"quota": {"max_calls": 1.5}}}},
        {"api_limits": {"devices": {"bursts": [{"uri": ["x"]}]}}},
        {"api_limits": {"devices": {"bursts": "all"}}},
        {"api_limits": {"devices": []}},
        {"api_limits": {"other": {}}},
    ],
    ids=lambda body: repr(body)[:50],
)
async def test_odd_internal_updates_are_a_400(client: TestClient, tenant_a: TenantAccount, body: dict[str, object]) -> None:
    response = await client.put(f"{INTERNAL}/tenants/{tenant_a.id}", json=body)
    assert response.status == 400, await response.text()


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("PUT", "/tenants/{id}/status", {"status": ["suspended"]}),
        ("PUT", "/tenants/{id}/status", {"status": {"suspended": 1}}),
        ("PUT", "/tenants/{id}/status", {"status": "SUSPENDED"}),
        ("POST", "/users", {"name": "u@a.example", "id": ["x"], "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u@a.example", "id": "x" * 37, "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u@a.example", "id": "ü/../x", "tenant_id": ["{id}"]}),
        ("POST", "/users", {"name": ["u@a.example"], "id": "x", "tenant_id": "{id}"}),
        # ids the management API could not address (or that name another route): /users/me, /users/a/b
        ("POST", "/users", {"name": "u1@a.example", "id": "me", "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u2@a.example", "id": "a/b", "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u3@a.example", "id": "..", "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u4@a.example", "id": " x", "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u5@a.example", "id": "x?y", "tenant_id": "{id}"}),
        ("POST", "/users", {"name": "u6@a.example", "id": "x\n", "tenant_id": "{id}"}),
        ("PUT", "/tenants/{id}/users/nobody", {"name": ["u@a.example"]}),
        ("PUT", "/tenants/{id}/users/nobody", {"name": "not an email"}),
    ],
)
async def test_odd_internal_fields_are_a_4xx(client: TestClient, tenant_a: TenantAccount, method: str, path: str, body: dict[str, object]) -> None:
    document = {key: (value.replace("{id}", tenant_a.id) if isinstance(value, str) else value) for key, value in body.items()}
    response = await client.request(method, INTERNAL + path.replace("{id}", tenant_a.id), json=document)
    assert 400 <= response.status < 500, await response.text()


@pytest.mark.parametrize(
    "query",
    ["q=" + "%25" * 5000, "q=%00", "q=%FF", "username=%FF%FE", "username=" + "a" * 10000, "page=0", "per_page=100000", "page=99999999999999999999", "tenant_id=%00"],
)
async def test_odd_internal_queries_never_fail(client: TestClient, tenant_a: TenantAccount, query: str) -> None:
    for path in ("/tenants", "/users"):
        response = await client.get(f"{INTERNAL}{path}?{query}")
        assert response.status in (200, 400), f"{path}?{query[:40]}: {response.status} {await response.text()}"


@pytest.mark.parametrize("tenant_id", ["%FF", "x" * 5000, "..%2F..", "%00", "0" * 24])
async def test_odd_tenant_ids_in_paths_are_404(client: TestClient, user_headers: dict[str, str], tenant_id: str) -> None:
    for method, path in (("GET", f"{INTERNAL}/tenants/{tenant_id}"), ("PUT", f"{V2}/tenants/{tenant_id}/status"),
                         ("POST", f"{V2}/tenants/{tenant_id}/upgrade/start"), ("DELETE", f"{V2}/tenants/{tenant_id}")):
        response = await client.request(method, path, json={"status": "active"}, headers=user_headers)
        assert response.status == 404, f"{method} {path[:60]}: {response.status} {await response.text()}"


@pytest.mark.parametrize(
    "path, body",
    [
        ("/status", {"status": ["active"]}),
        ("/status", {"status": {"active": True}}),
        ("/status", {"status": 1}),
        ("/upgrade/complete", {"plan": ["os"]}),
        ("/upgrade/complete", {"plan": {"os": 1}}),
        ("/upgrade/complete", {}),
        ("/cancel", {"reason": ["x"]}),
        ("/cancel", {"reason": {"x": 1}}),
        ("/cancel", {"reason": " "}),
    ],
)
async def test_odd_management_fields_are_a_400(
    client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount, path: str, body: dict[str, object]
) -> None:
    method = "PUT" if path == "/status" else "POST"
    response = await client.request(method, f"{V2}/tenants/{tenant_a.id}{path}", json=body, headers=user_headers)
    assert response.status == 400, await response.text()
