"""POST /api/devices/v1/authentication/auth_requests with real keys of every supported type."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from menderlite.context import Context
from tests.api.devauth.helpers import Management, probe
from tests.support.devices import (
    AUTH_PATH,
    KEY_TYPES,
    SimulatedDevice,
    generate_key,
    sign,
)

ONE_WEEK = 604800


async def post_auth(client: TestClient, body: bytes, headers: dict[str, str]) -> Any:
    return await client.post(AUTH_PATH, data=body, headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("key_type", KEY_TYPES)
async def test_pending_then_accepted_device_gets_a_verifiable_jwt(
    client: TestClient, ctx: Context, management: Management, key_type: Any
) -> None:
    device = SimulatedDevice.create(key_type, {"mac": "02:00:00:00:00:01", "sn": f"sn-{key_type}"})
    first = await device.authenticate(client)
    assert first.status == 401
    assert first.json()["error"] == "dev auth: unauthorized"
    again = await device.authenticate(client)
    assert again.status == 401

    [record] = await management.devices()
    assert record["status"] == "pending"
    assert record["identity_data"] == device.identity
    [auth_set] = record["auth_sets"]
    assert auth_set["status"] == "pending"
    assert auth_set["pubkey"] == device.public_key_pem
    assert auth_set["identity_data"] == device.identity

    response = await management.set_status(record["id"], auth_set["id"], "accepted")
    assert response.status == 204
    response = await client.post(AUTH_PATH, data=device.auth_request()[0], headers=device.auth_request()[1])
    assert response.status == 200
    token = await response.text()
    assert token == token.strip() and not token.startswith('"') and "\n" not in token

    claims = jwt.decode(token, ctx.keys.public_key, algorithms=["RS256"], issuer="Mender")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims["jti"] == auth_set["id"]
    assert claims["sub"] == record["id"]
    assert claims["mender.device"] is True
    assert claims["mender.plan"] == "enterprise"
    assert "mender.tenant" not in claims
    assert claims["exp"] - claims["iat"] == ONE_WEEK

    whoami = await probe(client, token)
    assert whoami.status == 200
    assert await whoami.json() == {
        "subject": record["id"], "tenant_id": "", "is_device": True, "token_id": auth_set["id"], "plan": "enterprise"
    }
    assert (await management.device(record["id"]))["status"] == "accepted"


async def test_rsa_3072_key_like_the_real_client(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("rsa", rsa_bits=3072)
    assert (await device.authenticate(client)).status == 401
    await management.accept(device)
    assert (await device.authenticate(client)).status == 200


async def test_rejected_device_loses_its_token_at_once(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("ec256")
    await device.authenticate(client)
    device_id = await management.accept(device)
    token = (await device.authenticate(client)).token
    assert (await probe(client, token)).status == 200
    assert (await probe(client, token)).status == 200  # now served from the verdict cache

    _, auth_set_id = await management.auth_set_for_key(device)
    assert (await management.set_status(device_id, auth_set_id, "rejected")).status == 204
    dead = await probe(client, token)
    assert dead.status == 401
    assert (await dead.json())["error"] == "unauthorized"
    assert (await device.authenticate(client)).status == 401
    assert (await management.device(device_id))["status"] == "rejected"


@pytest.mark.parametrize("key_type", ["rsa", "ec384", "ed25519"])
async def test_preauthorized_device_is_accepted_on_its_first_request(
    client: TestClient, management: Management, key_type: Any
) -> None:
    device = SimulatedDevice.create(key_type)
    response = await management.preauthorize(device)
    assert response.status == 201
    device_id = response.headers["Location"].rsplit("/", 1)[1]
    assert (await management.device(device_id))["status"] == "preauthorized"

    result = await device.authenticate(client)
    assert result.status == 200
    assert (await probe(client, result.token)).status == 200
    record = await management.device(device_id)
    assert record["status"] == "accepted"
    assert [auth_set["status"] for auth_set in record["auth_sets"]] == ["accepted"]


async def test_preauthorized_device_with_another_key_stays_waiting(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("ed25519")
    assert (await management.preauthorize(device)).status == 201
    device.rotate_key("ec256")
    assert (await device.authenticate(client)).status == 401
    record = await management.find(device)
    assert record["status"] == "preauthorized"
    assert sorted(auth_set["status"] for auth_set in record["auth_sets"]) == ["pending", "preauthorized"]


async def test_key_rotation_adds_a_pending_auth_set_to_the_same_device(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("ed25519")
    await device.authenticate(client)
    device_id = await management.accept(device)
    old_token = (await device.authenticate(client)).token

    device.rotate_key("ec521")
    assert (await device.authenticate(client)).status == 401
    record = await management.device(device_id)
    assert record["status"] == "accepted"
    assert [auth_set["status"] for auth_set in record["auth_sets"]] == ["accepted", "pending"]
    assert (await probe(client, old_token)).status == 200  # the old key keeps working until the new one is accepted

    assert await management.accept(device) == device_id
    record = await management.device(device_id)
    assert [auth_set["status"] for auth_set in record["auth_sets"]] == ["rejected", "accepted"]
    assert (await probe(client, old_token)).status == 401
    new_token = (await device.authenticate(client)).token
    assert new_token is not None
    assert (await probe(client, new_token)).status == 200
    assert len(await management.devices()) == 1


async def test_equivalent_identity_data_is_the_same_device(client: TestClient, management: Management) -> None:
    first = SimulatedDevice.create("ed25519", {"sn": "A1", "mac": "02:00:00:00:00:aa", "n": 1})
    await first.authenticate(client)
    # Another key, the same identity written differently: key order, spacing, 1.0 for 1.
    second = SimulatedDevice.create("ec256", first.identity)
    body = json.dumps(
        {"id_data": '{ "n": 1.0, "mac": "02:00:00:00:00:aa",  "sn": "A1" }', "pubkey": second.public_key_pem}
    ).encode()
    response = await post_auth(client, body, {"X-MEN-Signature": sign(second.private_key, body)})
    assert response.status == 401
    [record] = await management.devices()
    assert record["identity_data"] == {"mac": "02:00:00:00:00:aa", "n": 1, "sn": "A1"}
    assert len(record["auth_sets"]) == 2


async def test_signature_covers_the_exact_raw_body(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("ec256")
    document = {"id_data": device.id_data, "pubkey": device.public_key_pem, "tenant_token": ""}
    body = (json.dumps(document, indent=3) + "\n\n").encode()  # odd spacing: still the bytes that were signed
    response = await post_auth(client, body, {"X-MEN-Signature": sign(device.private_key, body)})
    assert response.status == 401
    assert (await response.json())["error"] == "dev auth: unauthorized"

    signed_elsewhere = json.dumps(document).encode()  # the same document, other bytes
    response = await post_auth(client, body, {"X-MEN-Signature": sign(device.private_key, signed_elsewhere)})
    assert response.status == 401
    assert (await response.json())["error"] == "signature verification failed"
    assert len(await management.devices()) == 1


def _pem(key: Any, public_format: serialization.PublicFormat = serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, public_format).decode()


def _bad_requests() -> list[Any]:
    """Cases (document or raw bytes, signing key or None, status, message or message prefix), by name."""
    good = generate_key("ed25519")
    pem = _pem(good)
    identity = '{"mac":"02:00:00:00:00:01"}'
    short_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    k1 = ec.generate_private_key(ec.SECP256K1())
    bad_key = "invalid auth request: cannot decode public key"
    cases = {
        "empty body": (b"", good, 400, "failed to decode auth request: JSON payload is empty"),
        "not JSON": (b"{id_data:", good, 400, "failed to decode auth request: "),
        "JSON array": (b"[1, 2]", good, 400, "failed to decode auth request: "),
        "id_data object": (
            {"id_data": {"mac": "x"}, "pubkey": pem}, good, 400, "failed to decode auth request: id_data must be a string"
        ),
        "pubkey number": ({"id_data": identity, "pubkey": 5}, good, 400, "failed to decode auth request: pubkey must be a string"),
        "no id_data": ({"pubkey": pem}, good, 400, "invalid auth request: id_data must be provided"),
        "id_data not JSON": ({"id_data": "{mac", "pubkey": pem}, good, 400, "invalid auth request: id_data is not valid JSON"),
        "id_data array": ({"id_data": '["a"]', "pubkey": pem}, good, 400, "invalid auth request: id_data must be a JSON object"),
        "id_data string": ({"id_data": '"mac"', "pubkey": pem}, good, 400, "invalid auth request: id_data must be a JSON object"),
        "id_data integer too long": (
            {"id_data": '{"n":%s}' % ("1" * 5000), "pubkey": pem}, good, 400, "invalid auth request: id_data is not valid JSON"
        ),
        "id_data too deep": (
            {"id_data": '{"a":%s}' % ("[" * 100_000), "pubkey": pem}, good, 400, "invalid auth request: id_data is not valid JSON"
        ),
        "id_data NaN": ({"id_data": '{"n":NaN}', "pubkey": pem}, good, 400, "invalid auth request: id_data is not valid JSON"),
        "id_data infinite": (
            {"id_data": '{"n":1e400}', "pubkey": pem}, good, 400, "invalid auth request: id_data cannot be encoded"
        ),
        "integer too long in the body": (
            b'{"id_data":"{}","n":' + b"1" * 5000 + b"}", good, 400, "failed to decode auth request: "
        ),
        "body too deep": (b"[" * 100_000 + b"]" * 100_000, good, 400, "failed to decode auth request: "),
        "not UTF-8": (b'{"id_data":"\xff"}', good, 400, "failed to decode auth request: "),
        "no pubkey": ({"id_data": identity}, good, 400, "invalid auth request: pubkey must be provided"),
        "garbage pubkey": ({"id_data": identity, "pubkey": "hello"}, good, 400, bad_key),
        "broken PEM body": (
            {"id_data": identity, "pubkey": "-----BEGIN PUBLIC KEY-----\nAAAA!!\n-----END PUBLIC KEY-----\n"}, good, 400, bad_key
        ),
        "RSA PUBLIC KEY block": (
            {"id_data": identity, "pubkey": _pem(short_rsa, serialization.PublicFormat.PKCS1)}, short_rsa, 400, bad_key
        ),
        "short RSA key": (
            {"id_data": identity, "pubkey": _pem(short_rsa)}, short_rsa, 400,
            f"{bad_key}: RSA key of 1024 bits is too short (minimum 2048)",
        ),
        "secp256k1 key": ({"id_data": identity, "pubkey": _pem(k1)}, k1, 400, f"{bad_key}: unsupported elliptic curve"),
        "missing signature": ({"id_data": identity, "pubkey": pem}, None, 400, "missing request signature header"),
        "another key's signature": (
            {"id_data": identity, "pubkey": pem}, generate_key("ed25519"), 401, "signature verification failed"
        ),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize(("document", "key", "status", "message"), _bad_requests())
async def test_bad_auth_requests_get_the_catalogue_errors(
    client: TestClient, management: Management, document: Any, key: Any, status: int, message: str
) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = {"X-MEN-Signature": sign(key, body)} if key is not None else {}
    response = await post_auth(client, body, headers)
    assert response.status == status
    error = (await response.json())["error"]
    assert error.startswith(message), error
    assert await management.devices() == []


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA", "=" * 8])
async def test_malformed_signatures_fail_verification(client: TestClient, signature: str) -> None:
    device = SimulatedDevice.create("ec256")
    body, headers = device.auth_request()
    response = await post_auth(client, body, {**headers, "X-MEN-Signature": signature})
    if signature:
        assert response.status == 401
        assert (await response.json())["error"] == "signature verification failed"
    else:
        assert response.status == 400
        assert (await response.json())["error"] == "missing request signature header"


@pytest.mark.parametrize("key_type", ["rsa", "ec224", "ed25519"])
async def test_signature_of_another_body_fails_for_each_key_type(client: TestClient, key_type: Any) -> None:
    device = SimulatedDevice.create(key_type)
    body, headers = device.auth_request()
    tampered = body.replace(b'"tenant_token":""', b'"tenant_token":"x"')
    response = await post_auth(client, tampered, headers)
    assert response.status == 401
    assert (await response.json())["error"] == "signature verification failed"


async def test_wrong_content_type_and_oversized_body(client: TestClient) -> None:
    device = SimulatedDevice.create()
    body, headers = device.auth_request()
    response = await client.post(AUTH_PATH, data=body, headers={**headers, "Content-Type": "text/plain"})
    assert response.status == 415
    assert (await response.json())["error"] == "Bad Content-Type or charset, expected 'application/json'"
    device.identity = {"blob": "x" * 2_000_000}
    body, headers = device.auth_request()
    response = await client.post(AUTH_PATH, data=body, headers=headers)
    assert response.status == 413
    assert (await response.json())["error"] == "request body too large"


async def test_auth_request_needs_no_token_and_refuses_a_bad_tenant_token(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create()
    device.tenant_token = "some-tenant-token"  # not a tenant token tenantadm issued (tests/api/tenantadm)
    result = await device.authenticate(client)
    assert result.status == 401 and result.json()["error"] == "tenant_token is invalid"
    assert await management.devices() == []
    device.tenant_token = ""  # without one: the default tenant
    assert (await device.authenticate(client)).status == 401
    assert (await management.find(device))["status"] == "pending"


async def test_concurrent_requests_create_each_device_once(client: TestClient, management: Management) -> None:
    devices = [SimulatedDevice.create("ed25519") for _ in range(20)]
    results = await asyncio.gather(*(device.authenticate(client) for device in devices for _ in range(3)))
    assert {result.status for result in results} == {401}
    listed = await management.devices("?per_page=100")
    assert len(listed) == 20
    assert all(len(record["auth_sets"]) == 1 for record in listed)
