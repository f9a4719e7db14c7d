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
