"""cli tasks: refused unless `[workflows] allow_cli`, then run as argv (no shell) with a timeout."""

from __future__ import annotations

import shutil

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from menderlite.context import Context
from menderlite.workflows.models import WorkflowDefinition
from tests.api.workflows.conftest import (
    AppFactory,
    cli_task,
    definition,
    http_task,
    register,
    run_job,
    start,
    wait_for,
)

needs_coreutils = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("true", "false", "sleep", "echo")), reason="coreutils (true, false, sleep, echo) not installed"
)


@needs_coreutils
async def test_commands_run_when_allowed(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    tasks = [
        cli_task("hello", "echo", '{"greeting": "${workflow.input.who}"}'),
        cli_task("literal", "echo", "$(id)", ";", "true", "${workflow.input.who}"),
        cli_task("use-output", "echo", "${hello.json.greeting}"),
    ]
    document = await run_job(client, definition("shell", tasks, inputs=["who"]), {"who": "world"})
    assert document["status"] == "done"
    hello, literal, use = document["results"]
    assert hello["cli"] == {"command": ["echo", '{"greeting": "world"}'], "output": '{"greeting": "world"}\n', "error": "", "exitCode": 0}
    assert hello["success"] is True
    assert literal["cli"]["output"] == "$(id) ; true world\n"  # no shell: nothing but ${...} was expanded
    assert use["cli"]["output"] == "world\n"


@needs_coreutils
async def test_a_failing_command_fails_the_job_after_its_attempts(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    document = await run_job(client, definition("fails", [{**cli_task("no", "false"), "retries": 1}, cli_task("after", "true")]), {})
    assert document["status"] == "failed"
    [result] = document["results"]
    assert result["success"] is False
    assert result["cli"]["exitCode"] == 1


@needs_coreutils
async def test_a_command_over_its_execution_timeout_is_killed(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    document = await run_job(client, definition("slow", [cli_task("sleep", "sleep", "60", executionTimeOut=1)]), {})
    assert document["status"] == "failed"
    [result] = document["results"]
    assert result["error"] == "timed out after 1 s"
    assert result["cli"]["exitCode"] == -1


async def test_a_missing_program_fails_the_task(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    document = await run_job(client, definition("missing", [cli_task("ghost", "/nonexistent/program-x")]), {})
    assert document["status"] == "failed"
    assert document["results"][0]["error"].startswith("cannot run '/nonexistent/program-x'")


async def test_stored_cli_tasks_fail_with_a_clear_message_once_cli_is_disabled(client: TestClient, ctx: Context) -> None:
    # A definition stored while cli tasks were allowed (written straight to the table, as an earlier
    # configuration would have let the API do), then run by a server where they are not.
    await register(client, definition("shell", [http_task("placeholder", "http://127.0.0.1:1/")]))
    stored = definition("shell", [cli_task("touch", "touch", "/tmp/menderlite-must-not-exist")])
    async with ctx.db.write() as session:
        await session.execute(update(WorkflowDefinition).where(WorkflowDefinition.name == "shell").values(definition=stored))
    document = await wait_for(client, "shell", await start(client, "shell", {}))
    assert document["status"] == "failed"
    [result] = document["results"]
    assert "allow_cli = false" in result["error"]
    assert result["cli"]["exitCode"] == -1 and result["cli"]["output"] == ""


async def test_file_bodies_are_read_only_when_allowed(app_with: AppFactory, tmp_path_factory: pytest.TempPathFactory) -> None:
    body_file = tmp_path_factory.mktemp("bodies") / "body.json"
    body_file.write_text('{"device": "${workflow.input.device}"}')
    client = await app_with(workflows={"allow_cli": True})
    # nothing listens on port 1: the request fails, but the body read from the file is in the result
    task = http_task("post", "http://127.0.0.1:1/", method="POST", body=f"@{body_file}")
    document = await run_job(client, definition("file-body", [task]), {"device": "d-7"})
    assert document["results"][0]["httpRequest"]["body"] == '{"device": "d-7"}'


async def test_an_input_never_turns_a_body_into_a_file(app_with: AppFactory) -> None:
    client = await app_with(workflows={"allow_cli": True})
    task = http_task("post", "http://127.0.0.1:1/", method="POST", body="${workflow.input.body}")
    document = await run_job(client, definition("input-body", [task]), {"body": "@/etc/passwd"})
    assert document["results"][0]["httpRequest"]["body"] == "@/etc/passwd"
