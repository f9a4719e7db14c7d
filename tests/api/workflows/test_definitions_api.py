"""Register (POST) and list (GET) workflow definitions: /api/v1/metadata/workflows."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.workflows.conftest import (
    METADATA,
    AppFactory,
    cli_task,
    definition,
    http_task,
    register,
)

NOTIFY = definition("notify", [http_task("call", "http://127.0.0.1:1/x")], inputs=["device_id"])


async def test_registered_definitions_are_listed_as_sent(client: TestClient) -> None:
    assert await (await client.get(METADATA)).json() == []
    response = await client.post(METADATA, json=NOTIFY)
    assert response.status == 201
    assert await response.read() == b""
    listed = await client.get(METADATA)
    assert listed.status == 200
    assert listed.headers["Content-Type"].startswith("application/json")
    assert await listed.json() == [NOTIFY]


async def test_a_second_registration_of_a_name_is_a_conflict_unless_its_version_is_higher(client: TestClient) -> None:
    await register(client, NOTIFY)
    for version in (1, 0):
        response = await client.post(METADATA, json={**NOTIFY, "version": version, "description": "other"})
        assert response.status == 409
        assert (await response.json())["error"] == "Workflow already exists"
    newer = {**NOTIFY, "version": 2, "description": "newer"}
    await register(client, newer)
    await register(client, definition("another", []))
    assert await (await client.get(METADATA)).json() == [definition("another", []), newer]


async def test_a_definition_without_a_name_is_refused(client: TestClient) -> None:
    for document in ({"version": 1, "tasks": []}, {"name": "", "tasks": []}, {"name": None}):
        response = await client.post(METADATA, json=document)
        assert response.status == 400
        assert (await response.json())["error"] == "Workflow missing name"
    assert await (await client.get(METADATA)).json() == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"", "Error parsing JSON data: JSON payload is empty"),
        (b"{not json", "Error parsing JSON data: "),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"name": 5}', "workflow.name: expected a string"),
        (b'{"name": "w", "version": "1"}', "workflow.version: expected a non-negative integer"),
        (b'{"name": "w", "version": -1}', "workflow.version: expected a non-negative integer"),
        (b'{"name": "w", "tasks": {}}', "workflow.tasks: expected a list of objects"),
        (b'{"name": "w", "tasks": [5]}', "workflow.tasks: expected a list of objects"),
        (b'{"name": "w", "inputParameters": [1]}', "workflow.inputParameters: expected a list of strings"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "nats"}]}', "type must be one of http, cli, smtp"),
        (b'{"name": "w", "tasks": [{"type": "http", "http": {"uri": "http://x"}}]}', "task #1.name: required"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "http"}]}', "the 'http' parameters are required"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "http", "http": {}}]}', "http.uri: required"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "http", "retries": 256, "http": {"uri": "u"}}]}', "retries must be at most 255"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "http", "http": {"uri": "u", "headers": {"a": 1}}}]}', "headers: expected an object of strings"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "http", "http": {"uri": "u", "statusCodes": [true]}}]}', "statusCodes: expected a list of integers"),
        (b'{"name": "w", "tasks": [{"name": "t", "type": "smtp", "smtp": {"to": "a@b"}}]}', "smtp.to: expected a list of strings"),
        (b'{"name": "w", "version": NaN}', "Error parsing JSON data: "),
    ],
)
async def test_bad_definitions_are_400_with_the_reason(client: TestClient, body: bytes, fragment: str) -> None:
    response = await client.post(METADATA, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert fragment in (await response.json())["error"]
    assert await (await client.get(METADATA)).json() == []


async def test_any_content_type_is_read_as_json_like_the_real_service(client: TestClient) -> None:
    response = await client.post(METADATA, data=b'{"name": "plain", "version": 1, "tasks": []}', headers={"Content-Type": "text/plain"})
    assert response.status == 201


async def test_cli_tasks_and_file_bodies_are_refused_unless_allowed(client: TestClient) -> None:
    refused: list[dict[str, Any]] = [
        definition("shell", [cli_task("run", "true")]),
        definition("file", [http_task("post", "http://127.0.0.1:1/", method="POST", body="@/etc/passwd")]),
    ]
    for document in refused:
        response = await client.post(METADATA, json=document)
        assert response.status == 400
        error = (await response.json())["error"]
        assert "allow_cli = false" in error
    assert await (await client.get(METADATA)).json() == []


async def test_cli_tasks_register_when_allowed(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    await register(client, definition("shell", [cli_task("run", "true")]))
    assert [item["name"] for item in await (await client.get(METADATA)).json()] == ["shell"]


async def test_the_api_is_internal_only(app_with: AppFactory) -> None:
    client = await app_with(server={"internal_networks": ["10.99.0.0/16"]})
    for response in (await client.get(METADATA), await client.post(METADATA, json=NOTIFY), await client.post("/api/v1/workflow/notify", json={})):
        assert response.status == 403
    assert (await client.get("/status")).status == 200
