"""Bad input and missing or wrong credentials on every deployment endpoint: the documented 4xx, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.deployments.conftest import upload_ok
from tests.api.deployments.fleet import (
    DEPLOYMENTS,
    DEPLOYMENTS_V2,
    DEVICE_DEPLOYMENTS,
    INTERNAL,
    NEXT,
    Device,
    admit_device,
)
from tests.support.artifacts import ArtifactMaker

UNKNOWN = str(uuid.uuid4())
NOT_V4 = str(uuid.uuid1())


async def error_of(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) <= {"error", "request_id"}
    return body["error"]


@pytest.fixture
async def device(client: TestClient) -> Device:
    return await admit_device(client)


# --- the device's side ---------------------------------------------------------------------------------


async def test_next_with_missing_or_bad_values(client: TestClient, device: Device) -> None:
    response = await client.get(NEXT, params={"device_type": "qemux86-64"}, headers=device.headers)
    assert await error_of(response, 400) == "artifact_name: non zero value required"
    response = await client.get(NEXT, params={"artifact_name": "a"}, headers=device.headers)
    assert await error_of(response, 400) == "device_type: non zero value required"
    response = await client.get(NEXT, headers=device.headers)
    assert await error_of(response, 400) == "artifact_name: non zero value required;device_type: non zero value required"

    response = await client.post(NEXT, data=b"", headers={**device.headers, "Content-Type": "application/json"})
    assert await error_of(response, 400) == "failed to decode request body: JSON payload is empty"
    response = await client.post(NEXT, data=b"{nope", headers={**device.headers, "Content-Type": "application/json"})
    assert (await error_of(response, 400)).startswith("failed to decode request body: ")
    response = await client.post(NEXT, json=["device_type"], headers=device.headers)
    assert (await error_of(response, 400)).startswith("failed to decode request body: ")
    response = await client.post(NEXT, json={"artifact_name": "a"}, headers=device.headers)
    assert await error_of(response, 400) == "device_type: non zero value required"
    response = await client.post(NEXT, json={"artifact_name": "a", "device_type": "t", "extra": 5}, headers=device.headers)
    assert await error_of(response, 400) == "failed to decode request body: values must be strings: extra"
    response = await client.post(NEXT, data=b"{}", headers={**device.headers, "Content-Type": "text/plain"})
    assert response.status == 415


async def test_the_v2_next_path_is_not_found_so_the_client_falls_back(client: TestClient, device: Device) -> None:
    body = {"device_provides": {"artifact_name": "a", "device_type": "t"}}
    response = await client.post("/api/devices/v2/deployments/device/deployments/next", json=body, headers=device.headers)
    assert response.status == 404


async def test_device_endpoints_need_a_device_token(client: TestClient, user_headers: dict[str, str]) -> None:
    query = {"artifact_name": "a", "device_type": "t"}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, user_headers):
        assert (await client.get(NEXT, params=query, headers=headers)).status == 401
        assert (await client.post(NEXT, json=query, headers=headers)).status == 401
        assert (await client.put(f"{DEVICE_DEPLOYMENTS}/{UNKNOWN}/status", json={"status": "success"}, headers=headers)).status == 401
        assert (await client.put(f"{DEVICE_DEPLOYMENTS}/{UNKNOWN}/log", json={"messages": []}, headers=headers)).status == 401


async def test_status_report_with_bad_values(client: TestClient, device: Device) -> None:
    def put(deployment_id: str, body: Any) -> Any:
        return client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/status", json=body, headers=device.headers)

    assert await error_of(await put("not-a-uuid", {"status": "success"}), 400) == "ID is not UUIDv4"
    assert await error_of(await put(NOT_V4, {"status": "success"}), 400) == "ID is not UUIDv4"
    assert await error_of(await put(UNKNOWN, {"status": "success"}), 404) == "Deployment not found"
    for bad in ({"status": "pending"}, {"status": "done"}, {"status": 3}, {}, {"state": "success"}):
        assert await error_of(await put(UNKNOWN, bad), 400) == "unknown status value"
    assert await error_of(await put(UNKNOWN, {"status": "installing", "substate": "x" * 201}), 400) == "substate: must be at most 200 characters"
    assert await error_of(await put(UNKNOWN, {"status": "installing", "substate": 7}), 400) == "substate: must be a string"
    response = await client.put(f"{DEVICE_DEPLOYMENTS}/{UNKNOWN}/status", data=b"", headers={**device.headers, "Content-Type": "application/json"})
    assert await error_of(response, 400) == "failed to decode request body: JSON payload is empty"


async def test_log_upload_with_bad_values(client: TestClient, device: Device) -> None:
    def put(deployment_id: str, body: Any) -> Any:
        return client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/log", json=body, headers=device.headers)

    good = {"timestamp": "2026-01-01T00:00:00Z", "level": "info", "message": "ok"}
    assert await error_of(await put("x", {"messages": [good]}), 400) == "ID is not UUIDv4"
    assert await error_of(await put(UNKNOWN, {"messages": []}), 400) == "invalid deployment log: no messages"
    assert await error_of(await put(UNKNOWN, {}), 400) == "invalid deployment log: no messages"
    assert await error_of(await put(UNKNOWN, {"messages": "text"}), 400) == "invalid deployment log: messages: must be a list"
    missing = {"timestamp": "2026-01-01T00:00:00Z", "message": "ok"}
    assert await error_of(await put(UNKNOWN, {"messages": [good, missing]}), 400) == "invalid deployment log: message 2: level: non zero value required"
    bad_time = {**good, "timestamp": "yesterday"}
    assert "timestamp" in await error_of(await put(UNKNOWN, {"messages": [bad_time]}), 400)
    assert await error_of(await put(UNKNOWN, {"messages": [good]}), 404) == "Deployment not found"


# --- management ----------------------------------------------------------------------------------------


async def test_create_with_bad_bodies(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("input-release"))

    async def create(body: Any, path: str = DEPLOYMENTS) -> Any:
        return await client.post(path, json=body, headers=user_headers)

    response = await client.post(DEPLOYMENTS, data=b"", headers={**user_headers, "Content-Type": "application/json"})
    assert await error_of(response, 400) == "failed to decode request body: JSON payload is empty"
    response = await client.post(DEPLOYMENTS, data=b"{}", headers={**user_headers, "Content-Type": "text/plain"})
    assert response.status == 415
    assert await error_of(await create({}), 400) == (
        "Validating request body: name: non zero value required;artifact_name: non zero value required;"
        "devices: non zero value required;"
    )
    base = {"name": "n", "artifact_name": "input-release", "devices": ["d1"]}
    cases = [
        ({"devices": []}, "devices: non zero value required;"),
        ({"devices": "d1"}, "devices: must be a list of non-empty device IDs;"),
        ({"devices": ["d1", ""]}, "devices: must be a list of non-empty device IDs;"),
        ({"devices": ["d1", 2]}, "devices: must be a list of non-empty device IDs;"),
        ({"name": 5}, "name: must be a string;"),
        ({"name": "x" * 4097}, "name: the length must be between 1 and 4096;"),
        ({"retries": -1}, "retries: must be an integer between 0 and 100;"),
        ({"retries": "3"}, "retries: must be an integer between 0 and 100;"),
        ({"phases": {"batch_size": 5}}, "phases: must be a list of objects;"),
        ({"phases": [{"batch_size": 0}, {}]}, "phases: batch_size of phase 1 must be an integer between 1 and 100;"),
        ({"phases": [{}, {"start_ts": "2030-01-01T00:00:00Z"}]}, "phases: batch_size is required in phase 1 (only the last phase may omit it);"),
        ({"phases": [{"batch_size": 50}, {}]}, "phases: start_ts is required in phase 2 (only the first phase may omit it);"),
        ({"phases": [{"batch_size": 50, "start_ts": "soon"}, {}]}, "phases: start_ts of phase 1 must be an RFC 3339 date-time;"),
        (
            {"phases": [{"batch_size": 50, "start_ts": "2030-01-02T00:00:00Z"}, {"start_ts": "2030-01-01T00:00:00Z"}]},
            "phases: start_ts of phase 2 is before the start of phase 1;",
        ),
        (
            {"phases": [{"batch_size": 60}, {"batch_size": 60, "start_ts": "2030-01-01T00:00:00Z"}]},
            "phases: the batch sizes add up to more than 100 percent;",
        ),
    ]
    for change, message in cases:
        assert await error_of(await create({**base, **change}), 400) == f"Validating request body: {message}", change
    assert await error_of(await create({**base, "artifact_name": "no-such-release"}), 422) == "No artifact for the deployment"
    assert await error_of(await create({"name": "n", "artifact_name": "input-release"}, DEPLOYMENTS_V2), 400) == (
        "Validating request body: filter_id: non zero value required;"
    )
    assert await error_of(await create({**base, "filter_id": 5}, DEPLOYMENTS_V2), 400) == "Validating request body: filter_id: must be a string;"


async def test_plan_gating(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Phases and retries need professional, dynamic deployments enterprise (only where the plan lacks it)."""
    from menderlite.web.guards import USER_VERIFIER, Identity

    await upload_ok(client, user_headers, maker.single_file("plan-release"))
    verify = client.app[USER_VERIFIER]
    plan = {"value": "os"}

    async def with_plan(token: str | None, method: str, path: str) -> Identity:
        identity = await verify(token, method, path)
        return Identity(**{**{f: getattr(identity, f) for f in identity.__slots__}, "plan": plan["value"]})  # type: ignore[attr-defined]

    monkeypatch.setitem(client.app._state, USER_VERIFIER, with_plan)
    base = {"name": "n", "artifact_name": "plan-release", "devices": ["d1", "d2"]}
    phased = {"phases": [{"batch_size": 50}, {"start_ts": "2030-01-01T00:00:00Z"}]}
    for plan["value"], body, status in [
        ("os", {**base, "retries": 1}, 403),
        ("os", {**base, **phased}, 403),
        ("os", base, 201),
        ("professional", {**base, "retries": 1, **phased}, 201),
        ("professional", {"name": "n", "artifact_name": "plan-release", "filter_id": "f"}, 403),
    ]:
        path = DEPLOYMENTS_V2 if "filter_id" in body else DEPLOYMENTS
        response = await client.post(path, json=body, headers=user_headers)
        assert response.status == status, (plan, body, await response.text())
        if status == 403:
            assert (await response.json())["error"] == "Feature not available in your Plan"


async def test_bad_ids_and_unknown_deployments(client: TestClient, user_headers: dict[str, str]) -> None:
    for path in ("", "/statistics", "/devices", "/device_list", "/devices/some-device/log"):
        assert await error_of(await client.get(f"{DEPLOYMENTS}/not-a-uuid{path}", headers=user_headers), 400) == "ID is not UUIDv4"
        assert await error_of(await client.get(f"{DEPLOYMENTS}/{NOT_V4}{path}", headers=user_headers), 400) == "ID is not UUIDv4"
    for path, message in [
        ("", "Resource not found"),
        ("/statistics", "Resource not found"),
        ("/devices", "Deployment not found"),
        ("/device_list", "Resource not found"),
        ("/devices/some-device/log", "Resource not found"),
    ]:
        assert await error_of(await client.get(f"{DEPLOYMENTS}/{UNKNOWN}{path}", headers=user_headers), 404) == message


async def test_abort_with_bad_values(client: TestClient, user_headers: dict[str, str]) -> None:
    def put(deployment_id: str, body: Any) -> Any:
        return client.put(f"{DEPLOYMENTS}/{deployment_id}/status", json=body, headers=user_headers)

    assert await error_of(await put("nope", {"status": "aborted"}), 400) == "ID is not UUIDv4"
    for bad in ({"status": "finished"}, {"status": "ABORTED"}, {}, {"status": None}):
        assert await error_of(await put(UNKNOWN, bad), 400) == "Unexpected deployment status"
    assert await error_of(await put(UNKNOWN, {"status": "aborted"}), 404) == "Resource not found"
    response = await client.put(f"{DEPLOYMENTS}/{UNKNOWN}/status", data=b"", headers={**user_headers, "Content-Type": "application/json"})
    assert await error_of(response, 400) == "failed to decode request body: JSON payload is empty"


async def test_list_with_bad_parameters(client: TestClient, user_headers: dict[str, str]) -> None:
    for query, message in [
        ("status=bogus", "unknown status bogus"),
        ("created_before=x", "timestamp parsing failed for created_before parameter: invalid timestamp: x"),
        ("created_after=1.5", "timestamp parsing failed for created_after parameter: invalid timestamp: 1.5"),
        ("created_after=99999999999999999999", "timestamp parsing failed for created_after parameter: invalid timestamp: 99999999999999999999"),
        ("page=x", "Can't parse param page"),
        ("per_page=0", "Param per_page is out of bounds"),
        ("per_page=501", "Param per_page is out of bounds"),
    ]:
        assert await error_of(await client.get(f"{DEPLOYMENTS}?{query}", headers=user_headers), 400) == message
        assert await error_of(await client.get(f"{INTERNAL}/tenants/default/deployments?{query}"), 400) == message
    assert await error_of(await client.get(f"{INTERNAL}/tenants/bad%20tenant/deployments"), 400) == "invalid tenant id"


async def test_management_endpoints_need_user_credentials(client: TestClient, device: Device) -> None:
    requests = [
        ("GET", DEPLOYMENTS),
        ("POST", DEPLOYMENTS),
        ("POST", f"{DEPLOYMENTS}/group/production"),
        ("POST", DEPLOYMENTS_V2),
        ("GET", f"{DEPLOYMENTS}/{UNKNOWN}"),
        ("PUT", f"{DEPLOYMENTS}/{UNKNOWN}/status"),
        ("GET", f"{DEPLOYMENTS}/{UNKNOWN}/statistics"),
        ("GET", f"{DEPLOYMENTS}/{UNKNOWN}/devices"),
        ("GET", f"{DEPLOYMENTS}/{UNKNOWN}/device_list"),
        ("GET", f"{DEPLOYMENTS}/{UNKNOWN}/devices/d/log"),
        ("DELETE", f"{DEPLOYMENTS}/devices/d"),
    ]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}, device.headers):
        for method, path in requests:
            response = await client.request(method, path, json={"status": "aborted"}, headers=headers)
            assert response.status == 401, (method, path, headers)
            assert "error" in await response.json()


async def test_odd_values_get_a_4xx_never_a_500(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    """Huge numbers, times beyond year 1..9999 once in UTC, lone UTF-16 surrogates (Go's decoder makes them
    U+FFFD, and so do we: they cannot be stored or sent back as UTF-8)."""
    await upload_ok(client, user_headers, maker.single_file("odd-release"))
    device = await admit_device(client)
    json_headers = {**user_headers, "Content-Type": "application/json"}

    async def create(raw: str, path: str = DEPLOYMENTS) -> Any:
        return await client.post(path, data=raw.encode(), headers=json_headers)

    response = await create('{"name": "odd \\ud800", "artifact_name": "odd-release", "devices": ["\\udc00", "%s"]}' % device.id)
    assert response.status == 201, await response.text()
    deployment_id = response.headers["Location"].rsplit("/", 1)[1]
    shown = await (await client.get(f"{DEPLOYMENTS}/{deployment_id}", headers=user_headers)).json()
    assert shown["name"] == "odd \ufffd"
    device_list = await (await client.get(f"{DEPLOYMENTS}/{deployment_id}/device_list", headers=user_headers)).json()
    assert device_list == ["\ufffd", device.id]

    for start in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        body = {"name": "n", "artifact_name": "odd-release", "devices": ["d"], "phases": [{"batch_size": 50, "start_ts": start}, {}]}
        assert await error_of(await client.post(DEPLOYMENTS, json=body, headers=user_headers), 400) == (
            "Validating request body: phases: start_ts of phase 1 must be an RFC 3339 date-time;"
        )
    body = {"name": "n", "artifact_name": "odd-release", "filter_id": "f", "max_devices": 10**30}
    assert await error_of(await client.post(DEPLOYMENTS_V2, json=body, headers=user_headers), 400) == (
        "Validating request body: max_devices: must be an integer between 0 and 2147483647;"
    )
    for query in ("page=99999999999999999999", "page=9223372036854775807"):
        for path in (DEPLOYMENTS, f"{DEPLOYMENTS}/{deployment_id}/devices", f"{INTERNAL}/tenants/default/deployments"):
            headers = {} if path.startswith(INTERNAL) else user_headers
            assert await error_of(await client.get(f"{path}?{query}", headers=headers), 400) == "Param page is out of bounds"
    response = await client.get(f"{DEPLOYMENTS}?page=18000000000000000&per_page=500", headers=user_headers)
    assert response.status == 200 and await response.json() == []

    # the device's side: a lone surrogate as device type, in a log, times that overflow
    device_json = {**device.headers, "Content-Type": "application/json"}
    raw = b'{"artifact_name": "initial", "device_type": "\\ud800"}'
    assert (await client.post(NEXT, data=raw, headers=device_json)).status == 204  # no artifact for that type
    statistics = await (await client.get(f"{DEPLOYMENTS}/{deployment_id}/statistics", headers=user_headers)).json()
    assert statistics["noartifact"] == 1
    log = b'{"messages": [{"timestamp": "2026-01-01T00:00:00Z", "level": "info\\ud800", "message": "\\udfff"}]}'
    response = await client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/log", data=log, headers=device_json)
    assert response.status == 204, await response.text()
    response = await client.get(f"{DEPLOYMENTS}/{deployment_id}/devices/{device.id}/log", headers=user_headers)
    assert await response.text() == "2026-01-01 00:00:00 +0000 UTC info\ufffd: \ufffd\n"
    for stamp in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        messages = {"messages": [{"timestamp": stamp, "level": "info", "message": "m"}]}
        response = await client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/log", json=messages, headers=device.headers)
        assert await error_of(response, 400) == "invalid deployment log: message 1: timestamp: must be an RFC 3339 date-time"


async def test_devices_of_a_deployment_with_bad_paging(client: TestClient, user_headers: dict[str, str]) -> None:
    for query, message in [("page=0", "Param page is out of bounds"), ("per_page=x", "Can't parse param per_page"),
                           ("per_page=501", "Param per_page is out of bounds")]:
        response = await client.get(f"{DEPLOYMENTS}/{UNKNOWN}/devices?{query}", headers=user_headers)
        assert await error_of(response, 400) == message


async def test_wrong_content_type_on_every_json_endpoint(client: TestClient, user_headers: dict[str, str], device: Device) -> None:
    plain = {"Content-Type": "text/plain"}
    for path, headers in [
        (DEPLOYMENTS, user_headers),
        (f"{DEPLOYMENTS}/group/production", user_headers),
        (DEPLOYMENTS_V2, user_headers),
        (NEXT, device.headers),
    ]:
        response = await client.post(path, data=b"{}", headers={**headers, **plain})
        assert await error_of(response, 415) == "Bad Content-Type or charset, expected 'application/json'", path
    for path, headers in [
        (f"{DEPLOYMENTS}/{UNKNOWN}/status", user_headers),
        (f"{DEVICE_DEPLOYMENTS}/{UNKNOWN}/status", device.headers),
        (f"{DEVICE_DEPLOYMENTS}/{UNKNOWN}/log", device.headers),
    ]:
        response = await client.put(path, data=b"{}", headers={**headers, **plain})
        assert await error_of(response, 415) == "Bad Content-Type or charset, expected 'application/json'", path


async def test_reports_for_a_deployment_the_device_is_not_in(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    """404 for a device outside an existing deployment, and for one listed that has not checked in yet."""
    await upload_ok(client, user_headers, maker.single_file("not-in-release"))
    member, listed, outsider = await admit_device(client), await admit_device(client), await admit_device(client)
    response = await client.post(
        DEPLOYMENTS, json={"name": "n", "artifact_name": "not-in-release", "devices": [member.id, listed.id]}, headers=user_headers
    )
    deployment_id = response.headers["Location"].rsplit("/", 1)[1]
    assert await member.next() is not None
    for device in (outsider, listed):
        response = await client.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/status", json={"status": "success"}, headers=device.headers)
        assert await error_of(response, 404) == "Deployment not found"
        assert await device.upload_log(deployment_id) == 404
    statistics = await (await client.get(f"{DEPLOYMENTS}/{deployment_id}/statistics", headers=user_headers)).json()
    assert statistics["pending"] == 1 and statistics["success"] == 0
