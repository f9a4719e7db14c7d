"""Odd input to the workflows API: deep JSON, invalid UTF-8, huge bodies, many tasks, big numbers: always a
4xx (or a 201 and a job that finishes), never a 500 or a runner that stops taking jobs."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from tests.api.workflows.conftest import METADATA, WORKFLOW, definition, http_task, register, start, wait_for


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def definition_bytes(**extra: object) -> bytes:
    return json.dumps({**definition("odd", []), **extra}).encode()


DEEP_DEFINITIONS = [
    pytest.param(('{"name": "deep", "version": 1, "tasks": [], "extra": ' + nested(depth) + "}").encode(), id=f"extra-{depth}")
    for depth in (100, 900, 990, 5000, 100000)
] + [
    pytest.param(('{"name": "deep", "version": 1, "tasks": [], "inputParameters": ' + nested(depth) + "}").encode(), id=f"inputs-{depth}")
    for depth in (990, 5000)
]


@pytest.mark.parametrize("body", DEEP_DEFINITIONS)
async def test_deeply_nested_definitions_are_refused_or_stored_never_a_500(client: TestClient, body: bytes) -> None:
    response = await client.post(METADATA, data=body)
    assert response.status in (201, 400), await response.text()
    listed = await client.get(METADATA)
    assert listed.status == 200, await listed.text()


@pytest.mark.parametrize("depth", [100, 900, 990, 5000, 100000])
async def test_deeply_nested_inputs_are_refused_or_queued_never_a_500(client: TestClient, depth: int) -> None:
    await register(client, definition("empty", []))
    response = await client.post(f"{WORKFLOW}/empty", data=('{"a": ' + nested(depth) + "}").encode())
    assert response.status in (201, 400), await response.text()
    if response.status == 201:
        job_id = (await response.json())["id"]
        shown = await client.get(f"{WORKFLOW}/empty/{job_id}")
        assert shown.status == 200, await shown.text()
    # the runner still runs jobs
    job_id = await start(client, "empty", {})
    assert (await wait_for(client, "empty", job_id))["status"] == "done"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\xff\xfe", "version": 1, "tasks": []}',
        b'{"name": "odd\x00", "version": 1, "tasks": []}',
        b'{"name": "odd", "version": 1, "tasks": [], "description": "\\ud800"}',
        b"\xef\xbb\xbf{}",
    ],
)
async def test_invalid_utf8_and_odd_characters_in_definitions(client: TestClient, body: bytes) -> None:
    response = await client.post(METADATA, data=body)
    assert response.status in (201, 400), await response.text()
    assert (await client.get(METADATA)).status == 200


@pytest.mark.parametrize(
    "extra",
    [
        {"version": -1},
        {"version": 2**63},
        {"version": 1e300},
        {"version": "1"},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", retries=256)]},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", retries=-1)]},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", connectionTimeOut=-5)]},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", readTimeOut=-5)]},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", readTimeOut=2**63)]},
        {"tasks": [http_task("t", "http://127.0.0.1:9/", headers={"A": 1})]},
        {"tasks": [{"name": "t", "type": "cli", "cli": {"command": ["true"], "executionTimeOut": -1}}]},
        {"tasks": [{"name": "t", "type": "nats"}]},
        {"tasks": "all"},
        {"tasks": [None]},
    ],
)
async def test_out_of_range_fields_are_400(client: TestClient, extra: dict[str, object]) -> None:
    response = await client.post(METADATA, data=definition_bytes(**extra))
    assert response.status == 400, await response.text()


async def test_many_tasks_and_max_retries_register_and_a_huge_body_is_413(client: TestClient) -> None:
    tasks = [http_task(f"t{index}", "not a url", retries=255) for index in range(500)]
    response = await client.post(METADATA, data=definition_bytes(tasks=tasks))
    assert response.status == 201, await response.text()
    huge = b'{"name": "huge", "version": 1, "tasks": [], "description": "' + b"x" * (64 * 1024 * 1024) + b'"}'
    response = await client.post(METADATA, data=huge)
    assert response.status == 413, response.status
    response = await client.post(f"{WORKFLOW}/odd", data=b'{"a": "' + b"x" * (64 * 1024 * 1024) + b'"}')
    assert response.status == 413, response.status


async def test_status_codes_out_of_http_range_do_not_break_a_job(client: TestClient) -> None:
    await register(client, definition("codes", [http_task("t", "http://127.0.0.1:9/", statusCodes=[-1, 0, 99999, 2**70])]))
    job_id = await start(client, "codes", {})
    assert (await wait_for(client, "codes", job_id))["status"] == "failed"
