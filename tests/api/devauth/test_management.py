"""Management API v2 of devauth: listing, counting, admission, removal, token revocation, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.devauth.helpers import MANAGEMENT, Management, accepted_device, probe
from tests.support.devices import SimulatedDevice

DEVICE_KEYS = {"id", "identity_data", "status", "decommissioning", "created_ts", "updated_ts", "auth_sets"}
AUTH_SET_KEYS = {"id", "identity_data", "pubkey", "status", "ts"}


async def pending_device(client: TestClient, identity: dict[str, Any] | None = None) -> SimulatedDevice:
    device = SimulatedDevice.create("ed25519", identity)
    assert (await device.authenticate(client)).status == 401
    return device


async def error_of(response: Any) -> str:
    body = await response.json()
    assert "request_id" in body
    return body["error"]


async def test_management_routes_need_a_user(client: TestClient) -> None:
    for method, path in [("GET", "/devices"), ("GET", "/devices/count"), ("DELETE", "/tokens/x"), ("GET", "/limits/max_devices")]:
        response = await client.request(method, MANAGEMENT + path)
        assert response.status == 401
        assert (await response.json())["error"] == "missing or invalid auth header"


async def test_device_document_has_the_v2_shape(client: TestClient, management: Management) -> None:
    device = await pending_device(client, {"mac": "02:00:00:00:00:01", "sku": "My Device 1", "sn": "SN1"})
    [record] = await management.devices()
    assert set(record) == DEVICE_KEYS
    assert record["identity_data"] == device.identity
    assert record["decommissioning"] is False
    assert record["created_ts"].endswith("Z") and record["updated_ts"].endswith("Z")
    [auth_set] = record["auth_sets"]
    assert set(auth_set) == AUTH_SET_KEYS
    assert auth_set["ts"].endswith("Z")
    assert await management.device(record["id"]) == record


async def test_unknown_device_is_404(management: Management) -> None:
    response = await management.call("GET", "/devices/no-such-device")
    assert response.status == 404
    assert await error_of(response) == "device not found"


async def test_list_is_oldest_first_with_filters_and_paging(client: TestClient, management: Management) -> None:
    devices = [await pending_device(client, {"sn": f"device-{n}"}) for n in range(5)]
    listed = await management.devices()
    assert [record["identity_data"]["sn"] for record in listed] == [f"device-{n}" for n in range(5)]
    created = [record["created_ts"] for record in listed]
    assert created == sorted(created)
    ids = [record["id"] for record in listed]

    await management.accept(devices[1])
    await management.accept(devices[3])
    accepted = await management.devices("?status=accepted")
    assert [record["id"] for record in accepted] == [ids[1], ids[3]]
    assert [record["id"] for record in await management.devices("?status=pending")] == [ids[0], ids[2], ids[4]]
    assert await management.devices("?status=rejected") == []
    chosen = await management.devices(f"?id={ids[4]}&id={ids[0]}&id=unknown")
    assert [record["id"] for record in chosen] == [ids[0], ids[4]]
    assert [record["id"] for record in await management.devices(f"?id={ids[3]}&status=accepted")] == [ids[3]]

    base = f"http://127.0.0.1:{client.port}{MANAGEMENT}/devices"
    first = await management.call("GET", "/devices?per_page=2&status=pending")
    assert [record["id"] for record in await first.json()] == [ids[0], ids[2]]
    assert first.headers["Link"] == (
        f'<{base}?status=pending&page=2&per_page=2>; rel="next", <{base}?status=pending&page=1&per_page=2>; rel="first"'
    )
    middle = await management.call("GET", "/devices?per_page=2&page=2")
    assert [record["id"] for record in await middle.json()] == ids[2:4]
    assert 'rel="prev"' in middle.headers["Link"] and 'rel="next"' in middle.headers["Link"]
    last = await management.call("GET", "/devices?per_page=2&page=3")
    assert [record["id"] for record in await last.json()] == ids[4:]
    assert 'rel="next"' not in last.headers["Link"]
    beyond = await management.call("GET", "/devices?per_page=2&page=9")
    assert await beyond.json() == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=bogus", "parameter status must be one of: pending, rejected, accepted, preauthorized or noauth"),
        ("?page=0", "Param page is out of bounds"),
        ("?per_page=501", "Param per_page is out of bounds"),
        ("?per_page=x", "Can't parse param per_page"),
        ("?page=x", "Can't parse param page"),
        ("?page=" + "9" * 30, "Param page is out of bounds"),  # no offset that large fits in SQL
        ("?page=9223372036854775807&per_page=500", "Param page is out of bounds"),
        ("?page=" + "9" * 5000, "Can't parse param page"),
    ],
)
async def test_list_rejects_bad_parameters(management: Management, query: str, message: str) -> None:
    response = await management.call("GET", f"/devices{query}")
    assert response.status == 400
    assert await error_of(response) == message


async def test_count_by_status_including_noauth(client: TestClient, management: Management) -> None:
    devices = [await pending_device(client) for _ in range(4)]
    await management.accept(devices[0])
    device_id, auth_set_id = await management.auth_set_for_key(devices[1])
    assert (await management.set_status(device_id, auth_set_id, "rejected")).status == 204
    noauth_id, noauth_set = await management.auth_set_for_key(devices[2])
    assert (await management.call("DELETE", f"/devices/{noauth_id}/auth/{noauth_set}")).status == 204
    assert (await management.preauthorize(SimulatedDevice.create())).status == 201

    expected = {"": 5, "pending": 1, "accepted": 1, "rejected": 1, "preauthorized": 1, "noauth": 1}
    for status, count in expected.items():
        response = await management.call("GET", f"/devices/count?status={status}")
        assert response.status == 200
        assert await response.json() == {"count": count}, status
    assert [record["id"] for record in await management.devices("?status=noauth")] == [noauth_id]
    bad = await management.call("GET", "/devices/count?status=decommissioned")
    assert bad.status == 400
    assert await error_of(bad) == "status must be one of: pending, accepted, rejected, preauthorized, noauth"


async def test_auth_set_status_moves_and_errors(client: TestClient, management: Management) -> None:
    device = await pending_device(client)
    other = await pending_device(client)
    device_id, auth_set_id = await management.auth_set_for_key(device)
    other_id, _ = await management.auth_set_for_key(other)

    async def status_of() -> Any:
        response = await management.call("GET", f"/devices/{device_id}/auth/{auth_set_id}/status")
        assert response.status == 200
        return (await response.json())["status"]

    assert await status_of() == "pending"
    for status in ("rejected", "pending", "accepted", "accepted", "pending", "rejected", "accepted"):
        assert (await management.set_status(device_id, auth_set_id, status)).status == 204
        assert await status_of() == status
        assert (await management.device(device_id))["status"] == status

    cases = [
        (device_id, auth_set_id, {"status": "preauthorized"}, 400, "incorrect device status"),
        (device_id, auth_set_id, {"status": "decommissioned"}, 400, "incorrect device status"),
        (device_id, auth_set_id, {}, 400, "incorrect device status"),
        (device_id, "no-such-set", {"status": "accepted"}, 404, "authorization set not found"),
        (other_id, auth_set_id, {"status": "rejected"}, 400, "dev auth: dev ID and auth ID mismatch"),
    ]
    for target, set_id, body, status, message in cases:
        response = await management.call("PUT", f"/devices/{target}/auth/{set_id}/status", json=body)
        assert response.status == status, body
        assert await error_of(response) == message
    empty = await management.call(
        "PUT", f"/devices/{device_id}/auth/{auth_set_id}/status", headers={"Content-Type": "application/json"}
    )
    assert empty.status == 400
    assert await error_of(empty) == "failed to decode status data: JSON payload is empty"
    missing = await management.call("GET", f"/devices/{other_id}/auth/{auth_set_id}/status")
    assert missing.status == 404
    assert await error_of(missing) == "authorization set not found"


async def test_moving_an_accepted_set_back_to_pending_kills_its_token(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    _, auth_set_id = await management.auth_set_for_key(device)
    assert (await probe(client, device.token)).status == 200
    assert (await management.set_status(device_id, auth_set_id, "pending")).status == 204
    assert (await probe(client, device.token)).status == 401
    assert (await device.authenticate(client)).status == 401


async def test_a_preauthorized_set_changes_only_by_authenticating_or_deletion(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create()
    assert (await management.preauthorize(device)).status == 201
    device_id, auth_set_id = await management.auth_set_for_key(device)
    response = await management.set_status(device_id, auth_set_id, "accepted")
    assert response.status == 400
    assert (await management.device(device_id))["status"] == "preauthorized"


async def test_preauthorize_creates_a_device_and_conflicts_return_the_device(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create("ec256", {"mac": "02:00:00:00:00:09", "sku": "x"})
    response = await management.preauthorize(device)
    assert response.status == 201
    assert await response.read() == b""
    location = response.headers["Location"]
    assert location.startswith("devices/")
    record = await management.device(location.split("/", 1)[1])
    assert record["status"] == "preauthorized"
    assert record["identity_data"] == device.identity
    assert [(s["status"], s["pubkey"]) for s in record["auth_sets"]] == [("preauthorized", device.public_key_pem)]

    same_identity = {"sku": "x", "mac": "02:00:00:00:00:09"}
    again = await management.call(
        "POST", "/devices", json={"identity_data": same_identity, "pubkey": SimulatedDevice.create().public_key_pem}
    )
    assert again.status == 409
    assert await again.json() == record  # the conflicting device, documented v2 shape; nothing added

    pending = await pending_device(client, {"sn": "already-asked"})
    conflict = await management.preauthorize(SimulatedDevice.create("ed25519", pending.identity))
    assert conflict.status == 409
    assert (await conflict.json())["status"] == "pending"
    assert len((await management.find(pending))["auth_sets"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"identity_data": {}, "pubkey": "PEM"}, "failed to decode preauth request: id_data: non zero value required;"),
        ({"pubkey": "PEM"}, "failed to decode preauth request: id_data: non zero value required;"),
        ({"identity_data": "mac=1", "pubkey": "PEM"}, "failed to decode preauth request: id_data: non zero value required;"),
        ({"identity_data": {"mac": "1"}}, "failed to decode preauth request: pubkey: non zero value required;"),
        ({"identity_data": {"mac": "1"}, "pubkey": "not a key"}, "failed to decode preauth request: cannot decode public key"),
        ({"identity_data": {"mac": "1"}, "pubkey": 42}, "failed to decode preauth request: pubkey: non zero value required;"),
        (
            {"identity_data": {"mac": "1"}, "pubkey": "RSA-1024"},
            "failed to decode preauth request: cannot decode public key: RSA key of 1024 bits is too short (minimum 2048)",
        ),
        ([1, 2], "failed to decode preauth request: expected a JSON object"),
    ],
)
async def test_preauthorize_rejects_bad_input(management: Management, body: Any, message: str) -> None:
    if isinstance(body, dict) and body.get("pubkey") == "PEM":
        body["pubkey"] = SimulatedDevice.create().public_key_pem
    if isinstance(body, dict) and body.get("pubkey") == "RSA-1024":
        body["pubkey"] = SimulatedDevice.create("rsa", rsa_bits=1024).public_key_pem
    response = await management.call("POST", "/devices", json=body)
    assert response.status == 400
    assert await error_of(response) == message
    assert await management.devices() == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{nope",
        b"\xff",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"identity_data":{"n":' + b"1" * 5000 + b'},"pubkey":""}',
    ],
    ids=["not JSON", "not UTF-8", "too deep", "integer too long"],
)
async def test_preauthorize_rejects_non_json(management: Management, raw: bytes) -> None:
    response = await management.call("POST", "/devices", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await error_of(response)).startswith("failed to decode preauth request: ")


async def test_preauthorize_rejects_identities_json_cannot_hold(management: Management) -> None:
    pubkey = json.dumps(SimulatedDevice.create().public_key_pem)
    deep = "[" * 900 + "]" * 900  # parses, but nests deeper than the identity encoder goes
    for identity_data in ('{"n":1e400}', '{"n":NaN}', '{"n":-Infinity}', '{"deep":%s}' % deep):
        body = f'{{"identity_data":{identity_data},"pubkey":{pubkey}}}'.encode()
        response = await management.call("POST", "/devices", data=body, headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert (await error_of(response)).startswith("failed to decode preauth request: ")
    assert await management.devices() == []


async def test_deleting_auth_sets(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    device.rotate_key("ec256")
    await device.authenticate(client)
    record = await management.device(device_id)
    accepted_set, pending_set = (auth_set["id"] for auth_set in record["auth_sets"])

    # Deleting the pending set of the rotated key: the device stays accepted.
    assert (await management.call("DELETE", f"/devices/{device_id}/auth/{pending_set}")).status == 204
    assert (await management.device(device_id))["status"] == "accepted"
    # Deleting the accepted set leaves the device without auth sets.
    assert (await management.call("DELETE", f"/devices/{device_id}/auth/{accepted_set}")).status == 204
    record = await management.device(device_id)
    assert record["status"] == "noauth"
    assert record["auth_sets"] == []
    missing = await management.call("DELETE", f"/devices/{device_id}/auth/{accepted_set}")
    assert missing.status == 404
    assert await error_of(missing) == "authorization set not found"
    wrong_device = await management.call("DELETE", f"/devices/other-device/auth/{pending_set}")
    assert wrong_device.status == 404


async def test_deleting_the_accepted_set_kills_the_token_at_once(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    _, auth_set_id = await management.auth_set_for_key(device)
    assert (await probe(client, device.token)).status == 200
    assert (await management.call("DELETE", f"/devices/{device_id}/auth/{auth_set_id}")).status == 204
    assert (await probe(client, device.token)).status == 401
    # Asking again creates a fresh pending auth set on the same device.
    assert (await device.authenticate(client)).status == 401
    assert (await management.device(device_id))["status"] == "pending"


async def test_deleting_a_preauthorized_set_removes_the_device(client: TestClient, management: Management) -> None:
    device = SimulatedDevice.create()
    await management.preauthorize(device)
    device_id, auth_set_id = await management.auth_set_for_key(device)
    assert (await management.call("DELETE", f"/devices/{device_id}/auth/{auth_set_id}")).status == 204
    assert (await management.call("GET", f"/devices/{device_id}")).status == 404
    assert (await device.authenticate(client)).status == 401  # no longer preauthorized: a new pending device
    assert (await management.find(device))["id"] != device_id


async def test_decommission_removes_the_device_and_kills_its_token_at_once(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    _, auth_set_id = await management.auth_set_for_key(device)
    assert (await probe(client, device.token)).status == 200
    response = await management.call("DELETE", f"/devices/{device_id}")
    assert response.status == 204
    assert (await probe(client, device.token)).status == 401
    assert (await management.call("GET", f"/devices/{device_id}")).status == 404
    assert (await management.call("GET", f"/devices/{device_id}/auth/{auth_set_id}/status")).status == 404
    assert await management.devices() == []
    again = await management.call("DELETE", f"/devices/{device_id}")
    assert again.status == 404
    assert await error_of(again) == "device not found"
    # The same hardware asking again is a new device, pending.
    assert (await device.authenticate(client)).status == 401
    record = await management.find(device)
    assert record["id"] != device_id and record["status"] == "pending"


async def test_revoking_a_token_by_jti(client: TestClient, management: Management) -> None:
    device, device_id = await accepted_device(client, management)
    _, auth_set_id = await management.auth_set_for_key(device)
    old_token = device.token
    assert (await probe(client, old_token)).status == 200
    assert (await management.call("DELETE", f"/tokens/{auth_set_id}")).status == 204
    assert (await probe(client, old_token)).status == 401
    missing = await management.call("DELETE", f"/tokens/{auth_set_id}")
    assert missing.status == 404
    assert await error_of(missing) == "token not found"
    # The device stays accepted: it asks again and gets a working token.
    new_token = (await device.authenticate(client)).token
    assert new_token is not None
    assert (await probe(client, new_token)).status == 200
    assert (await management.device(device_id))["status"] == "accepted"


async def test_device_limit(management: Management) -> None:
    response = await management.call("GET", "/limits/max_devices")
    assert response.status == 200
    assert await response.json() == {"limit": 0}
    other = await management.call("GET", "/limits/storage")
    assert other.status == 400
    assert await error_of(other) == "unsupported limit storage"


async def test_bodies_must_be_json(client: TestClient, management: Management) -> None:
    device = await pending_device(client)
    device_id, auth_set_id = await management.auth_set_for_key(device)
    body = b'{"status": "accepted"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"):
        for method, path in (("POST", "/devices"), ("PUT", f"/devices/{device_id}/auth/{auth_set_id}/status")):
            response = await management.call(method, path, data=body, headers={"Content-Type": content_type})
            assert response.status == 415, (method, path, content_type)
            assert await error_of(response) == "Bad Content-Type or charset, expected 'application/json'"
    response = await management.call("PUT", f"/devices/{device_id}/auth/{auth_set_id}/status", json=["accepted"])
    assert response.status == 400
    assert await error_of(response) == "failed to decode status data: expected a JSON object"
    assert (await management.device(device_id))["status"] == "pending"
