"""Helpers for the workflows API tests: definitions, jobs polled with a bounded wait, apps with settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings

WORKFLOW = "/api/v1/workflow"
METADATA = "/api/v1/metadata/workflows"
FINISHED = ("done", "failed")
JOB_WAIT_S = 30.0  # an upper bound for a job to finish, not a measured time


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """No pause between attempts: retries run at once."""
    return make_settings(workflows={"retry_delay_seconds": 0.0})


AppFactory = Callable[..., Any]


@pytest.fixture
def app_with(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]) -> AppFactory:
    """`client = await app_with(workflows={...}, smtp={...})`: an app on the test's data directory."""

    async def make(**overrides: dict[str, Any]) -> TestClient:
        workflows = {"retry_delay_seconds": 0.0, **overrides.pop("workflows", {})}
        app: web.Application = create_app(make_settings(workflows=workflows, **overrides))
        return await aiohttp_client(app)

    return make


def http_task(name: str, uri: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "retries": options.pop("retries", 0), "http": {"uri": uri, "method": "GET", **options}}


def cli_task(name: str, *command: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": "cli", "cli": {"command": list(command), **options}}


def definition(name: str, tasks: list[dict[str, Any]], inputs: list[str] | None = None, version: int = 1) -> dict[str, Any]:
    return {"name": name, "description": f"{name} (test)", "version": version, "inputParameters": inputs or [], "tasks": tasks}


async def register(client: TestClient, document: dict[str, Any]) -> None:
    response = await client.post(METADATA, json=document)
    assert response.status == 201, await response.text()


async def start(client: TestClient, name: str, inputs: Any = None) -> str:
    response = await client.post(f"{WORKFLOW}/{name}", json=inputs if inputs is not None else {})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["name"] == name
    return body["id"]


async def job(client: TestClient, name: str, job_id: str) -> dict[str, Any]:
    response = await client.get(f"{WORKFLOW}/{name}/{job_id}")
    assert response.status == 200, await response.text()
    return await response.json()


async def wait_for(client: TestClient, name: str, job_id: str, statuses: tuple[str, ...] = FINISHED) -> dict[str, Any]:
    """Poll the status API until the job reaches one of `statuses` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + JOB_WAIT_S
    while True:
        document = await job(client, name, job_id)
        if document["status"] in statuses:
            return document
        assert loop.time() < deadline, f"job {job_id} still {document['status']}: {document}"
        await asyncio.sleep(0.01)


async def run_job(client: TestClient, document: dict[str, Any], inputs: Any = None) -> dict[str, Any]:
    """Register `document`, start it and wait until it finishes."""
    await register(client, document)
    job_id = await start(client, document["name"], inputs)
    return await wait_for(client, document["name"], job_id)
