"""Workflow jobs through a real `menderlite serve` process: SIGTERM while a job runs stops the server within
the job's bound, and the job finishes after the next start on the same data directory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.api.workflows.conftest import JOB_WAIT_S, definition, http_task
from tests.api.workflows.target import Target
from tests.support.server import ServerProcess, start_server


async def _start(data_dir: Path, shared_keys: dict[str, Path]) -> ServerProcess:
    env = {
        "MENDERLITE_KEYS_JWT_PRIVATE_KEY": str(shared_keys["jwt_private_key"]),
        "MENDERLITE_KEYS_URL_SECRET": str(shared_keys["url_secret"]),
        "MENDERLITE_WORKFLOWS_STOP_TIMEOUT_SECONDS": "0.1",
    }
    return await asyncio.to_thread(start_server, data_dir, env=env)


async def _status(session: aiohttp.ClientSession, server: ServerProcess, job_id: str) -> str:
    async with session.get(f"{server.url}/api/v1/workflow/held/{job_id}") as response:
        assert response.status == 200, await response.text()
        return (await response.json())["status"]


async def test_a_job_interrupted_by_sigterm_finishes_after_the_restart(
    tmp_path: Path, shared_keys: dict[str, Path], aiohttp_server: Callable[..., Any]
) -> None:
    seen = Target()
    target = await aiohttp_server(seen.app(), host="127.0.0.1")
    tasks = [
        http_task("wait", f"http://127.0.0.1:{target.port}/hold", headers={"Authorization": "Bearer very-secret-token"}),
        http_task("then", f"http://127.0.0.1:{target.port}/echo"),
    ]
    data_dir = tmp_path / "data"
    server = await _start(data_dir, shared_keys)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/api/v1/metadata/workflows", json=definition("held", tasks)) as response:
                assert response.status == 201, await response.text()
            async with session.post(f"{server.url}/api/v1/workflow/held", json={}) as response:
                assert response.status == 201, await response.text()
                job_id = (await response.json())["id"]
            await asyncio.wait_for(seen.held.wait(), JOB_WAIT_S)
            assert await _status(session, server, job_id) == "processing"
    finally:
        assert await asyncio.to_thread(server.stop) == 0  # did not wait for the held request
    assert seen.calls["/echo"] == 0

    seen.release.set()
    server = await _start(data_dir, shared_keys)
    try:
        async with aiohttp.ClientSession() as session:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + JOB_WAIT_S
            while (status := await _status(session, server, job_id)) not in ("done", "failed"):
                assert loop.time() < deadline, f"job still {status}"
                await asyncio.sleep(0.02)
            assert status == "done"
    finally:
        assert await asyncio.to_thread(server.stop) == 0
    assert seen.calls == {"/hold": 2, "/echo": 1}
    assert "resuming 1 workflow job(s)" in server.log
    assert "very-secret-token" not in server.log
