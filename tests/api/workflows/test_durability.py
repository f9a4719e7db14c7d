"""Jobs survive a restart: a job running or pending when the server stops runs after a new start on the same
data directory, and stopping does not wait for a running job beyond its bound."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.api.workflows.conftest import (
    JOB_WAIT_S,
    AppFactory,
    definition,
    http_task,
    job,
    register,
    start,
    wait_for,
)
from tests.api.workflows.target import Target


async def test_running_and_pending_jobs_resume_after_a_restart(app_with: AppFactory, aiohttp_server: Callable[..., Any]) -> None:
    seen = Target()
    server = await aiohttp_server(seen.app(), host="127.0.0.1")
    one_at_a_time = {"concurrency": 1, "stop_timeout_seconds": 0.05}
    first = await app_with(workflows=one_at_a_time)
    tasks = [http_task("wait", str(server.make_url("/hold"))), http_task("then", str(server.make_url("/echo")))]
    await register(first, definition("restartable", tasks, inputs=["n"]))
    running = await start(first, "restartable", {"n": "1"})
    await asyncio.wait_for(seen.held.wait(), JOB_WAIT_S)
    waiting = await start(first, "restartable", {"n": "2"})
    assert (await job(first, "restartable", running))["status"] == "processing"
    assert (await job(first, "restartable", waiting))["status"] == "pending"

    # The first job is stuck in its first task: stopping gives it its bound, then leaves it for the next run.
    await asyncio.wait_for(first.close(), JOB_WAIT_S)
    assert seen.calls["/echo"] == 0

    seen.release.set()
    second = await app_with(workflows=one_at_a_time)
    for job_id in (running, waiting):
        document = await wait_for(second, "restartable", job_id)
        assert document["status"] == "done"
        assert [result["name"] for result in document["results"]] == ["wait", "then"]
    assert seen.calls["/hold"] == 3  # the interrupted attempt, its rerun, and the second job's
    assert seen.calls["/echo"] == 2


async def test_a_job_whose_first_tasks_finished_goes_on_from_the_next_one(app_with: AppFactory, aiohttp_server: Callable[..., Any]) -> None:
    seen = Target()
    server = await aiohttp_server(seen.app(), host="127.0.0.1")
    settings = {"stop_timeout_seconds": 0.05}
    first = await app_with(workflows=settings)
    tasks = [
        http_task("once", str(server.make_url("/token"))),
        http_task("wait", str(server.make_url("/hold"))),
        http_task("use", str(server.make_url("/echo")), method="POST", body="${once.json.auth.token}"),
    ]
    await register(first, definition("steps", tasks))
    job_id = await start(first, "steps", {})
    await asyncio.wait_for(seen.held.wait(), JOB_WAIT_S)
    await asyncio.wait_for(first.close(), JOB_WAIT_S)

    seen.release.set()
    second = await app_with(workflows=settings)
    document = await wait_for(second, "steps", job_id)
    assert document["status"] == "done"
    assert seen.calls["/token"] == 1  # not run again
    assert seen.requests[-1].body == "tok-123"  # its output still feeds the later task
