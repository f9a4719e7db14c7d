"""Start a workflow (POST /api/v1/workflow/{name}) and read its status (GET /api/v1/workflow/{name}/{id})."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from menderlite.timeutil import parse_rfc3339
from tests.api.workflows.conftest import (
    WORKFLOW,
    definition,
    job,
    register,
    start,
    wait_for,
)

EMPTY = definition("empty", [], inputs=["device_id", "tenant_id"])


async def test_start_answers_201_with_a_24_hex_id_and_the_job_runs(client: TestClient) -> None:
    await register(client, EMPTY)
    response = await client.post(f"{WORKFLOW}/empty", json={"device_id": "d1", "tenant_id": ""})
    assert response.status == 201
    body = await response.json()
    assert set(body) == {"id", "name"} and body["name"] == "empty"
    assert re.fullmatch(r"[0-9a-f]{24}", body["id"])
    document = await wait_for(client, "empty", body["id"])
    assert document["status"] == "done"
    assert document["results"] == []


async def test_status_shows_the_job_as_stored(client: TestClient) -> None:
    await register(client, EMPTY)
    before = datetime.now(UTC)
    job_id = await start(client, "empty", {"device_id": "d1", "tenant_id": "t1", "extra": "kept"})
    document = await wait_for(client, "empty", job_id)
    assert set(document) == {"id", "workflowName", "inputParameters", "status", "results", "insert_time"}
    assert document["id"] == job_id
    assert document["workflowName"] == "empty"
    assert document["inputParameters"] == [
        {"name": "device_id", "value": "d1"},
        {"name": "tenant_id", "value": "t1"},
        {"name": "extra", "value": "kept"},
    ]
    assert document["insert_time"].endswith("Z")
    assert before - timedelta(seconds=1) <= parse_rfc3339(document["insert_time"]) <= datetime.now(UTC)


async def test_non_string_inputs_are_json_encoded_and_lists_joined(client: TestClient) -> None:
    await register(client, definition("typed", []))
    inputs = {"n": 5, "f": 2.5, "whole": 3.0, "b": True, "none": None, "obj": {"a": [1, "x"]}, "ids": ["a", "b", 7, {"k": 1}], "empty": []}
    document = await wait_for(client, "typed", await start(client, "typed", inputs))
    assert {item["name"]: item["value"] for item in document["inputParameters"]} == {
        "n": "5",
        "f": "2.5",
        "whole": "3",
        "b": "true",
        "none": "null",
        "obj": '{"a":[1,"x"]}',
        "ids": 'a,b,7,{"k":1}',
        "empty": "",
    }


async def test_the_documented_name_value_list_is_accepted_too(client: TestClient) -> None:
    await register(client, EMPTY)
    body = [{"name": "device_id", "value": "d1"}, {"name": "tenant_id", "value": ""}]
    document = await wait_for(client, "empty", await start(client, "empty", body))
    assert document["inputParameters"] == body
    assert document["status"] == "done"


async def test_missing_inputs_are_listed_in_definition_order(client: TestClient) -> None:
    await register(client, EMPTY)
    for body, missing in (({}, "[device_id tenant_id]"), ({"tenant_id": "t"}, "[device_id]")):
        response = await client.post(f"{WORKFLOW}/empty", json=body)
        assert response.status == 400
        assert (await response.json())["error"] == f"Missing input parameters: {missing}"


async def test_an_unknown_workflow_is_404(client: TestClient) -> None:
    response = await client.post(f"{WORKFLOW}/provision_device", json={"device": "{}"})
    assert response.status == 404
    assert (await response.json())["error"] == "Workflow not found"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "JSON payload is empty"),
        (b"{", ""),
        (b'"text"', "expected a JSON object"),
        (b"42", "expected a JSON object"),
        (b"[1]", 'expected a list of {"name", "value"} objects'),
        (b'[{"value": "x"}]', 'expected a list of {"name", "value"} objects'),
        (b'{"a": Infinity}', ""),
        (b'{"a": 1e999}', ""),
    ],
)
async def test_bad_bodies_are_400(client: TestClient, body: bytes, reason: str) -> None:
    await register(client, EMPTY)
    response = await client.post(f"{WORKFLOW}/empty", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith("Unable to parse the input parameters: ") and reason in error


async def test_status_of_an_unknown_job_is_404_not_found(client: TestClient) -> None:
    await register(client, EMPTY)
    await register(client, definition("other", []))
    job_id = await start(client, "empty", {"device_id": "d", "tenant_id": "t"})
    for path in (f"{WORKFLOW}/empty/0123456789abcdef01234567", f"{WORKFLOW}/other/{job_id}", f"{WORKFLOW}/empty/not-an-id", f"{WORKFLOW}/nothing/{job_id}"):
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json())["error"] == "not found"
    assert (await job(client, "empty", job_id))["id"] == job_id


async def test_the_highest_version_decides_the_required_inputs(client: TestClient) -> None:
    await register(client, definition("evolving", [], inputs=["a"], version=1))
    await register(client, definition("evolving", [], inputs=["a", "b"], version=2))
    response = await client.post(f"{WORKFLOW}/evolving", json={"a": "1"})
    assert response.status == 400
    assert (await response.json())["error"] == "Missing input parameters: [b]"
    assert (await wait_for(client, "evolving", await start(client, "evolving", {"a": "1", "b": "2"})))["status"] == "done"
