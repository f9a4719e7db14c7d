"""Credentials an http task sends never show in the job's results nor reach another origin: header values of
Authorization-like headers, the password of a URI's userinfo, headers followed through a redirect."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.api.workflows.conftest import definition, http_task, run_job

SECRET = "s3cret-value"


class Recorder:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def record(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        return web.json_response({"ok": True})


@pytest.fixture
async def servers(aiohttp_server: Callable[..., Any]) -> tuple[Recorder, TestServer, TestServer]:
    """A server recording what it gets, and another origin redirecting to it."""
    recorder = Recorder()
    app = web.Application()
    app.router.add_get("/record", recorder.record)
    other = await aiohttp_server(app, host="127.0.0.1")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{other.port}/record")

    redirecting = web.Application()
    redirecting.router.add_get("/go", redirect)
    redirecting.router.add_get("/record", recorder.record)
    first = await aiohttp_server(redirecting, host="127.0.0.1")
    return recorder, first, other


async def test_credentials_are_not_in_the_results(client: TestClient, servers: tuple[Recorder, TestServer, TestServer]) -> None:
    recorder, first, _ = servers
    headers = {
        "authorization": f"Bearer {SECRET}",
        "Proxy-Authorization": SECRET,
        "COOKIE": f"session={SECRET}",
    }
    tasks = [
        http_task("headers", f"http://127.0.0.1:{first.port}/record", headers=headers),
        http_task("userinfo", f"http://user:{SECRET}@127.0.0.1:{first.port}/record"),
        http_task("userinfo-failing", f"http://user:{SECRET}@127.0.0.1:1/record", connectionTimeOut=2000),
        http_task("userinfo-unparsable", f"http://user:{SECRET}@127.0.0.1:99999/record"),
    ]
    document = await run_job(client, definition("creds", tasks), {})
    shown = json.dumps(document)
    assert SECRET not in shown, shown
    assert recorder.headers[0]["Authorization"] == f"Bearer {SECRET}"  # it was sent
    assert recorder.headers[1]["Authorization"].startswith("Basic ")
    assert document["results"][1]["httpRequest"]["uri"] == f"http://user:[redacted]@127.0.0.1:{first.port}/record"


async def test_a_redirect_to_another_origin_does_not_carry_credentials(
    client: TestClient, servers: tuple[Recorder, TestServer, TestServer]
) -> None:
    recorder, first, _ = servers
    task = http_task("go", f"http://127.0.0.1:{first.port}/go", headers={"Authorization": f"Bearer {SECRET}", "Cookie": f"s={SECRET}"})
    await run_job(client, definition("redirected", [task]), {})
    assert recorder.headers, "the redirect was not followed"
    assert all(SECRET not in json.dumps(headers) for headers in recorder.headers), recorder.headers


async def test_inputs_cannot_inject_headers_or_requests(client: TestClient, servers: tuple[Recorder, TestServer, TestServer]) -> None:
    recorder, first, _ = servers
    injected = "x\r\nAuthorization: Bearer injected\r\n\r\nGET /record HTTP/1.1"
    tasks = [
        http_task("header", f"http://127.0.0.1:{first.port}/record", headers={"X-Value": "${workflow.input.v}"}),
    ]
    document = await run_job(client, definition("inject-header", tasks), {"v": injected})
    assert document["status"] == "failed" and document["results"][0]["error"].startswith("request failed")
    for uri in (f"http://127.0.0.1:{first.port}/record?q=${{workflow.input.v}}", f"http://127.0.0.1:{first.port}/${{workflow.input.v}}"):
        await run_job(client, definition(f"inject-uri-{len(recorder.headers)}", [http_task("uri", uri)]), {"v": injected})
    weird_method = http_task("method", f"http://127.0.0.1:{first.port}/record", method="GET /record HTTP/1.1\r\nX-A: b\r\n")
    document = await run_job(client, definition("inject-method", [weird_method]), {})
    assert document["status"] == "failed"
    assert all("injected" not in json.dumps(headers) for headers in recorder.headers)
    assert all(len(headers) < 10 for headers in recorder.headers)
