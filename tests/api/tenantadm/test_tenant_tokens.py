"""Tenant tokens under attack: unsigned, HMAC-signed with the public key, claims missing or mismatched, of a
deleted tenant, tokens of another kind (user, device) in their place and tenant tokens used as user or
device tokens, a device of tenant A knocking with tenant B's tenant token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from tests.api.tenantadm.helpers import DEVAUTH, INTERNAL, TenantAccount, claims_of, device_in_tenant, make_tenant
from tests.api.tenantadm.test_internal import resigned
from tests.support.devices import SimulatedDevice

NEXT = "/api/devices/v1/deployments/device/deployments/next?device_type=x&artifact_name=y"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A JWT built by hand (PyJWT refuses to HMAC-sign with a PEM key): `secret` None means no signature."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def refused_everywhere(client: TestClient, token: str) -> list[str]:
    """Where `token` as a tenant token was accepted: by internal verify, or by a device auth request."""
    accepted = []
    response = await client.post(f"{INTERNAL}/tenants/verify", headers={"Authorization": f"Bearer {token}"})
    if response.status != 401:
        accepted.append(f"verify: {response.status}")
    device = SimulatedDevice.create()
    device.tenant_token = token
    result = await device.authenticate(client)
    if result.status != 401 or result.json()["error"] != "tenant_token is invalid":
        accepted.append(f"auth request: {result.status} {result.body!r}")
    return accepted


async def test_forged_and_misshapen_tenant_tokens_are_refused(client: TestClient, tenant_a: TenantAccount, user_headers: dict[str, str]) -> None:
    keys = client.app[CONTEXT].keys
    claims = claims_of(tenant_a.token)
    public_pem = keys.public_key_pem()
    without_tenant = {k: v for k, v in claims.items() if k != "mender.tenant"}
    device, _ = await device_in_tenant(client, tenant_a)
    tokens = {
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims, None),
        "alg None": handmade({"alg": "None", "typ": "JWT"}, claims, None),
        "HS256 with the public key": handmade({"alg": "HS256", "typ": "JWT"}, claims, public_pem),
        "HS256 with the public key, stripped": handmade({"alg": "HS256", "typ": "JWT"}, claims, public_pem.strip()),
        "no mender.tenant": resigned(tenant_a.token, keys.private_key, **{"mender.tenant": None}),
        "mender.tenant removed": jwt.encode(without_tenant, keys.private_key, algorithm="RS256"),
        **{f"{claim} removed": jwt.encode({k: v for k, v in claims.items() if k != claim}, keys.private_key, algorithm="RS256")
           for claim in ("exp", "jti", "iss", "sub", "iat")},
        "jti null": resigned(tenant_a.token, keys.private_key, jti=None),
        "RS512 with the server key": jwt.encode(claims, keys.private_key, algorithm="RS512"),
        "PS256 with the server key": jwt.encode(claims, keys.private_key, algorithm="PS256"),
        "sub is another tenant": resigned(tenant_a.token, keys.private_key, sub="0" * 24),
        "mender.tenant is another tenant": resigned(tenant_a.token, keys.private_key, **{"mender.tenant": "0" * 24}),
        "mender.tenant is not a string": resigned(tenant_a.token, keys.private_key, **{"mender.tenant": [tenant_a.id]}),
        "an admin's user token": tenant_a.headers["Authorization"].split()[1],
        "the default tenant's user token": user_headers["Authorization"].split()[1],
        "a device token of the tenant": device.token or "",
        "a user token re-issued under the device issuer": resigned(
            tenant_a.headers["Authorization"].split()[1], keys.private_key, iss="Mender"
        ),
    }
    accepted = {what: where for what, token in tokens.items() if (where := await refused_everywhere(client, token))}
    assert accepted == {}
    # none of them left a device behind
    assert await client.app[CONTEXT].devauth.count_devices("") == 0
    assert await client.app[CONTEXT].devauth.count_devices(tenant_a.id) == 1


async def test_a_tenant_token_is_neither_a_user_nor_a_device_token(client: TestClient, tenant_a: TenantAccount) -> None:
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    for path in (f"{DEVAUTH}/devices", "/api/management/v1/tenantadm/user/tenant", "/api/management/v1/useradm/users"):
        assert (await client.get(path, headers=headers)).status == 401, path
    assert (await client.get(NEXT, headers=headers)).status == 401
    response = await client.patch("/api/devices/v1/inventory/device/attributes", json=[{"name": "a", "value": "b"}], headers=headers)
    assert response.status == 401


async def test_the_token_of_a_deleted_tenant_is_refused(client: TestClient, user_headers: dict[str, str]) -> None:
    tenant = await make_tenant(client, "Gone", "admin@gone.example", status="inactive", log_in=False)
    response = await client.delete(f"/api/management/v2/tenantadm/tenants/{tenant.id}", headers=user_headers)
    assert response.status == 204, await response.text()
    assert await refused_everywhere(client, tenant.token) == []


async def test_a_device_of_tenant_a_with_tenant_b_s_token_is_a_new_pending_device_of_b(
    client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount
) -> None:
    device, device_id = await device_in_tenant(client, tenant_a)
    token_in_a = device.token
    device.tenant_token = tenant_b.token
    result = await device.authenticate(client)
    assert result.status == 401  # pending in B: B's admin decides
    listed_in_b = await (await client.get(f"{DEVAUTH}/devices", headers=tenant_b.headers)).json()
    assert [(record["status"], record["id"] != device_id) for record in listed_in_b] == [("pending", True)]
    # in A it is still the same accepted device, and its token of A still reaches only A
    record = await (await client.get(f"{DEVAUTH}/devices/{device_id}", headers=tenant_a.headers)).json()
    assert record["status"] == "accepted"
    assert (await client.get(NEXT, headers=device.auth_headers(token_in_a))).status == 204
    claims = claims_of(token_in_a or "")
    assert claims["mender.tenant"] == tenant_a.id
    # a device token of A with B's tenant id written in is a forgery
    keys = client.app[CONTEXT].keys
    forged = resigned(token_in_a or "", keys.private_key, **{"mender.tenant": tenant_b.id})
    assert (await client.get(NEXT, headers=device.auth_headers(forged))).status == 401
