"""Jobs with http tasks against a local server: success, the statusCodes rule with retries, templating from
the inputs and from an earlier task's JSON, timeouts, redacted credentials."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.api.workflows.conftest import definition, http_task, run_job
from tests.api.workflows.target import Target


@pytest.fixture
async def target(aiohttp_server: Callable[..., Any]) -> tuple[Target, TestServer]:
    target = Target()
    server = await aiohttp_server(target.app(), host="127.0.0.1")
    return target, server


def url(server: TestServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"  # as written in a definition: ${...} not URL-encoded


async def test_a_successful_http_task_is_done_with_request_and_response(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    task = http_task(
        "post",
        url(server, "/echo?device=${workflow.input.device_id}"),
        method="POST",
        contentType="application/json",
        body='{"id": "${workflow.input.device_id}", "n": ${workflow.input.count}}',
        headers={"X-Request-ID": "${workflow.input.request_id}"},
    )
    document = await run_job(client, definition("post", [task], inputs=["device_id"]), {"device_id": "d-1", "count": 3, "request_id": "r-9"})
    assert document["status"] == "done"
    assert len(seen.requests) == 1
    request = seen.requests[0]
    assert (request.method, request.query, request.body) == ("POST", {"device": "d-1"}, '{"id": "d-1", "n": 3}')
    assert request.headers["X-Request-ID"] == "r-9"
    assert request.headers["Content-Type"] == "application/json"
    [result] = document["results"]
    assert result["name"] == "post" and result["type"] == "http" and result["success"] is True
    assert result["httpRequest"] == {
        "uri": url(server, "/echo?device=d-1"),
        "method": "POST",
        "body": '{"id": "d-1", "n": 3}',
        "headers": ["X-Request-ID: r-9", "Content-Type: application/json"],
    }
    assert result["httpResponse"]["statusCode"] == 200
    assert json.loads(result["httpResponse"]["body"])["body"] == '{"id": "d-1", "n": 3}'
    # the reference's names for the same parts
    assert result["request"] == result["httpRequest"] and result["response"] == result["httpResponse"]


async def test_a_later_task_uses_an_earlier_tasks_json_and_unknown_inputs_stay_literal(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    tasks = [
        http_task("login", url(server, "/token")),
        http_task(
            "use",
            url(server, "/echo"),
            method="PUT",
            body="${login.json.auth.token} ${login.json.devices.[1].id} ${login.json.auth} ${login.json.nothing} ${workflow.input.unknown} ${nope.json.x}",
            headers={"Authorization": "Bearer ${login.json.auth.token}"},
        ),
    ]
    document = await run_job(client, definition("chain", tasks), {})
    assert document["status"] == "done"
    assert seen.requests[1].body == 'tok-123 dev-b {"token":"tok-123","expires":60}  ${workflow.input.unknown} '
    assert seen.requests[1].headers["Authorization"] == "Bearer tok-123"
    # credentials are not kept in the job's results
    assert document["results"][1]["httpRequest"]["headers"] == ["Authorization: Bearer [redacted]"]
    assert "tok-123" not in json.dumps(document["results"][1]["httpRequest"]["headers"])


async def test_status_codes_decide_success_and_failures_are_retried(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    # without statusCodes: below 400 is success; two failures then success, within retries=2
    flaky = http_task("flaky", url(server, "/flaky/2"), retries=2)
    document = await run_job(client, definition("flaky", [flaky]), {})
    assert document["status"] == "done"
    assert seen.calls["/flaky/2"] == 3
    assert document["results"][0]["httpResponse"] == {"statusCode": 200, "body": "ok"}


async def test_a_task_failing_every_attempt_fails_the_job_and_stops_it(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    tasks = [
        http_task("created", url(server, "/status/201"), statusCodes=[200], retries=2),
        http_task("never", url(server, "/echo")),
    ]
    document = await run_job(client, definition("strict", tasks), {})
    assert document["status"] == "failed"
    assert seen.calls["/status/201"] == 3  # retries + 1 attempts
    assert seen.calls["/echo"] == 0
    [result] = document["results"]
    assert result["success"] is False
    assert result["httpResponse"] == {"statusCode": 201, "body": "status 201"}


async def test_listed_status_codes_may_include_errors(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    document = await run_job(client, definition("gone-ok", [http_task("gone", url(server, "/status/404"), statusCodes=[200, 404])]), {})
    assert document["status"] == "done"
    document = await run_job(client, definition("error", [http_task("e", url(server, "/status/500"))]), {})
    assert document["status"] == "failed"


async def test_unreachable_and_bad_uris_fail_with_a_reason(client: TestClient, target: tuple[Target, TestServer], caplog: pytest.LogCaptureFixture) -> None:
    seen, server = target
    caplog.set_level(logging.INFO)
    tasks = [http_task("bad", "ftp://127.0.0.1/${workflow.input.secret}", headers={"Authorization": "Bearer s3cret"})]
    document = await run_job(client, definition("bad-uri", tasks), {"secret": "in-uri"})
    [result] = document["results"]
    assert document["status"] == "failed"
    assert result["error"].startswith("invalid uri")
    assert result["httpResponse"] == {"statusCode": 0, "body": ""}
    refused = http_task("refused", url(server, "/echo").replace(str(server.port), "1"), connectionTimeOut=2000)
    document = await run_job(client, definition("refused", [refused]), {})
    assert document["status"] == "failed"
    assert document["results"][0]["error"].startswith("request failed")
    logged = caplog.text
    assert "s3cret" not in logged and "in-uri" not in logged


async def test_a_read_timeout_fails_the_task(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    try:
        document = await run_job(client, definition("slow", [http_task("slow", url(server, "/hold"), readTimeOut=200)]), {})
    finally:
        seen.release.set()
    assert document["status"] == "failed"
    assert document["results"][0]["error"].startswith("timed out")


async def test_form_data_is_sent_url_encoded(client: TestClient, target: tuple[Target, TestServer]) -> None:
    seen, server = target
    task = http_task("form", url(server, "/echo"), method="POST", formdata={"name": "${workflow.input.name}", "x": "a&b"})
    document = await run_job(client, definition("form", [task]), {"name": "Ann Lee"})
    assert document["status"] == "done"
    assert seen.requests[0].body == "name=Ann+Lee&x=a%26b"
    assert seen.requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_only_listed_environment_variables_expand(
    app_with: Callable[..., Any], target: tuple[Target, TestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever reaches the internal networks can register definitions: the server's environment is not
    theirs to read, except the variables `[workflows] env` lists."""
    monkeypatch.setenv("INVENTORY_ADDR", "http://inventory.local")
    monkeypatch.setenv("CLOUD_SECRET_KEY", "do-not-leak")
    client = await app_with(workflows={"env": ["INVENTORY_ADDR"]})
    seen, server = target
    task = http_task("env", url(server, "/echo"), method="POST", body="[${env.INVENTORY_ADDR}] [${env.CLOUD_SECRET_KEY}]")
    document = await run_job(client, definition("env", [task]), {})
    assert document["status"] == "done"
    assert seen.requests[0].body == "[http://inventory.local] []"
