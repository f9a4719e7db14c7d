"""The HTTP plumbing every service shares, exercised through the real app with a few test-only routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from menderlite.app import CONTEXT, create_app
from menderlite.config import Settings
from menderlite.web import (
    ApiError,
    Identity,
    access,
    identity_of,
    json_response,
    paging_headers,
    parse_paging,
    read_json,
)
from menderlite.web.guards import DEVICE_VERIFIER, USER_VERIFIER

ITEMS = list(range(45))


def extra_routes() -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/api/management/v1/test/echo")
    async def echo(request: web.Request) -> web.Response:
        return json_response({"got": await read_json(request), "who": identity_of(request).subject})

    @routes.get("/api/management/v1/test/items")
    async def items(request: web.Request) -> web.Response:
        page = parse_paging(request)
        chunk = ITEMS[page.offset : page.offset + page.limit]
        has_next = page.offset + page.limit < len(ITEMS)
        return json_response(chunk, headers=paging_headers(request, page, has_next=has_next, total=len(ITEMS)))

    @routes.get("/api/management/v1/test/boom")
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret-detail-that-must-not-leak")

    @routes.get("/api/management/v1/test/conflict")
    async def conflict(request: web.Request) -> web.Response:
        raise ApiError(409, "already there")

    @routes.get("/api/devices/v1/test/whoami")
    async def device_whoami(request: web.Request) -> web.Response:
        return json_response({"device": identity_of(request).subject})

    @routes.get("/api/internal/v1/test/ping")
    async def internal_ping(request: web.Request) -> web.Response:
        return json_response({"pong": True})

    @routes.post("/api/public/test/counter")
    @access("public")
    async def counter(request: web.Request) -> web.Response:
        body = await read_json(request)
        db = request.app[CONTEXT].db
        async with db.write() as session:
            current = (await session.execute(text("SELECT value FROM test_counter WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0)  # give other requests every chance to interleave
            await session.execute(text("UPDATE test_counter SET value = :v WHERE id = 1"), {"v": current + 1})
            await session.execute(text("INSERT INTO test_rows (n) VALUES (:n)"), {"n": body["n"]})
        return json_response({"ok": True}, status=201)

    return routes


async def fake_user_verifier(token: str | None, method: str, path: str) -> Identity:
    if token != "good-user-token":
        raise ApiError(401, "unauthorized")
    return Identity(subject="user-1", is_user=True, token=token)


async def fake_device_verifier(token: str | None, method: str, path: str) -> Identity:
    if token != "good-device-token":
        raise ApiError(401, "unauthorized")
    return Identity(subject="device-1", is_device=True, token=token)


def build(settings: Settings) -> web.Application:
    app = create_app(settings)
    app.router.add_routes(extra_routes())
    app[USER_VERIFIER] = fake_user_verifier
    app[DEVICE_VERIFIER] = fake_device_verifier
    return app


USER = {"Authorization": "Bearer good-user-token"}


@pytest.fixture
async def plumbing(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]) -> TestClient:
    return await aiohttp_client(build(make_settings(server={"max_json_body_bytes": 2048})))


async def test_request_id_generated_and_echoed(plumbing: TestClient) -> None:
    generated = await plumbing.get("/api/internal/v1/devauth/alive")
    assert generated.status == 204
    assert len(generated.headers["X-MEN-RequestID"]) == 36
    echoed = await plumbing.get("/api/internal/v1/devauth/alive", headers={"X-MEN-RequestID": "my-trace-42"})
    assert echoed.headers["X-MEN-RequestID"] == "my-trace-42"
    missing = await plumbing.get("/no/such/route", headers={"X-MEN-RequestID": "trace-404"})
    assert missing.headers["X-MEN-RequestID"] == "trace-404"
    assert (await missing.json())["request_id"] == "trace-404"


async def test_unknown_route_and_method_are_json(plumbing: TestClient) -> None:
    missing = await plumbing.get("/api/management/v1/nothing/here")
    assert missing.status == 404
    assert missing.content_type == "application/json"
    body = await missing.json()
    assert body["error"] == "Resource not found"
    assert body["request_id"] == missing.headers["X-MEN-RequestID"]
    wrong_method = await plumbing.delete("/status")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error"] == "Method not allowed"
    assert "GET" in wrong_method.headers["Allow"]


async def test_json_body_errors(plumbing: TestClient) -> None:
    too_large = await plumbing.post("/api/management/v1/test/echo", data=b'{"a":"' + b"x" * 4000 + b'"}', headers={**USER, "Content-Type": "application/json"})
    assert too_large.status == 413
    assert (await too_large.json())["error"] == "request body too large"
    wrong_type = await plumbing.post("/api/management/v1/test/echo", data=b"a=1", headers={**USER, "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status == 415
    assert (await wrong_type.json())["error"] == "Bad Content-Type or charset, expected 'application/json'"
    bad_charset = await plumbing.post("/api/management/v1/test/echo", data=b"{}", headers={**USER, "Content-Type": "application/json; charset=latin-1"})
    assert bad_charset.status == 415
    empty = await plumbing.post("/api/management/v1/test/echo", headers={**USER, "Content-Type": "application/json"})
    assert empty.status == 400
    assert (await empty.json())["error"] == "failed to decode request body: JSON payload is empty"
    broken = await plumbing.post("/api/management/v1/test/echo", data=b"{nope", headers={**USER, "Content-Type": "application/json"})
    assert broken.status == 400
    assert (await broken.json())["error"].startswith("failed to decode request body: ")
    fine = await plumbing.post("/api/management/v1/test/echo", json={"a": 1}, headers=USER)
    assert fine.status == 200
    assert fine.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await fine.json() == {"got": {"a": 1}, "who": "user-1"}


async def test_chunked_request_body_is_accepted(plumbing: TestClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for part in (b'{"chunked"', b": true", b"}\n"):
            yield part

    response = await plumbing.post("/api/management/v1/test/echo", data=chunks(), headers={**USER, "Content-Type": "application/json"})
    assert response.status == 200
    assert (await response.json())["got"] == {"chunked": True}


async def test_internal_error_is_json_logged_and_leaks_nothing(plumbing: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="menderlite.errors"):
        response = await plumbing.get("/api/management/v1/test/boom", headers=USER)
    assert response.status == 500
    text_body = await response.text()
    assert "secret-detail" not in text_body
    assert (await response.json())["error"] == "internal error"
    assert any("secret-detail-that-must-not-leak" in (record.exc_text or "") for record in caplog.records)


async def test_api_error_renders_catalogue_shape(plumbing: TestClient) -> None:
    response = await plumbing.get("/api/management/v1/test/conflict", headers={**USER, "X-MEN-RequestID": "r1"})
    assert response.status == 409
    assert await response.json() == {"error": "already there", "request_id": "r1"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "Param page is out of bounds"),
        ("page=-1", "Param page is out of bounds"),
        ("per_page=0", "Param per_page is out of bounds"),
        ("per_page=501", "Param per_page is out of bounds"),
        ("page=abc", "Can't parse param page"),
        ("per_page=1.5", "Can't parse param per_page"),
    ],
)
async def test_paging_bad_values(plumbing: TestClient, query: str, message: str) -> None:
    response = await plumbing.get(f"/api/management/v1/test/items?{query}", headers=USER)
    assert response.status == 400
    assert (await response.json())["error"] == message


async def test_paging_links_first_middle_last(plumbing: TestClient) -> None:
    base = f"http://127.0.0.1:{plumbing.port}/api/management/v1/test/items"
    first = await plumbing.get("/api/management/v1/test/items?per_page=20&sort=x", headers=USER)
    assert await first.json() == list(range(20))
    assert first.headers["X-Total-Count"] == "45"
    assert first.headers["Link"] == (
        f'<{base}?sort=x&page=2&per_page=20>; rel="next", <{base}?sort=x&page=1&per_page=20>; rel="first"'
    )
    middle = await plumbing.get("/api/management/v1/test/items?page=2", headers=USER)
    assert await middle.json() == list(range(20, 40))
    assert middle.headers["Link"] == (
        f'<{base}?page=1&per_page=20>; rel="prev", <{base}?page=3&per_page=20>; rel="next", '
        f'<{base}?page=1&per_page=20>; rel="first"'
    )
    last = await plumbing.get("/api/management/v1/test/items?page=3", headers=USER)
    assert await last.json() == list(range(40, 45))
    assert 'rel="next"' not in last.headers["Link"]
    assert 'rel="prev"' in last.headers["Link"]
    biggest = await plumbing.get("/api/management/v1/test/items?per_page=500", headers=USER)
    assert len(await biggest.json()) == 45


async def test_guards_fail_closed_and_accept_verified_tokens(plumbing: TestClient) -> None:
    no_token = await plumbing.get("/api/management/v1/test/items")
    assert no_token.status == 401
    assert (await no_token.json())["error"] == "unauthorized"
    bad_token = await plumbing.get("/api/management/v1/test/items", headers={"Authorization": "Bearer nope"})
    assert bad_token.status == 401
    user_on_device_route = await plumbing.get("/api/devices/v1/test/whoami", headers=USER)
    assert user_on_device_route.status == 401
    device = await plumbing.get("/api/devices/v1/test/whoami", headers={"Authorization": "Bearer good-device-token"})
    assert await device.json() == {"device": "device-1"}


async def test_guard_without_verifier_refuses(aiohttp_client: Callable[..., Any], settings: Settings) -> None:
    app = create_app(settings)
    app.router.add_routes(extra_routes())
    app.pop(USER_VERIFIER, None)
    client = await aiohttp_client(app)
    response = await client.get("/api/management/v1/test/items", headers=USER)
    assert response.status == 401


async def test_internal_api_only_for_configured_networks(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]) -> None:
    loopback_allowed = await aiohttp_client(build(make_settings()))
    assert (await loopback_allowed.get("/api/internal/v1/test/ping")).status == 200
    elsewhere = await aiohttp_client(build(make_settings(server={"internal_networks": ["10.0.0.0/8"]})))
    refused = await elsewhere.get("/api/internal/v1/test/ping", headers={"X-Forwarded-For": "10.1.2.3"})
    assert refused.status == 403
    assert "request_id" in await refused.json()
    assert (await elsewhere.get("/api/internal/v1/devauth/health")).status == 403
    assert (await elsewhere.get("/api/v1/health")).status == 403
    assert (await elsewhere.get("/status")).status == 200  # the workflows liveness page stays public


async def test_cors_preflight_and_headers(plumbing: TestClient) -> None:
    preflight = await plumbing.options(
        "/api/management/v1/test/items",
        headers={"Origin": "http://ui.lan", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization"
    normal = await plumbing.get("/api/management/v1/test/items", headers={**USER, "Origin": "http://ui.lan"})
    assert normal.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Total-Count" in normal.headers["Access-Control-Expose-Headers"]


async def test_health_endpoints(plumbing: TestClient) -> None:
    for service in ("devauth", "inventory", "deployments", "useradm", "tenantadm"):
        assert (await plumbing.get(f"/api/internal/v1/{service}/alive")).status == 204
        assert (await plumbing.get(f"/api/internal/v1/{service}/health")).status == 204
    assert (await plumbing.get("/health")).status == 204
    assert (await plumbing.get("/api/v1/health")).status == 204
    status = await plumbing.get("/status")
    assert await status.json() == {"status": "ok"}


async def test_health_reports_503_when_the_database_fails(plumbing: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(plumbing.app[CONTEXT].db, "ping", broken)
    response = await plumbing.get("/api/internal/v1/devauth/health")
    assert response.status == 503
    assert (await response.json())["error"] == "error reaching the database"


async def test_200_concurrent_writes_all_succeed(plumbing: TestClient) -> None:
    db = plumbing.app[CONTEXT].db
    async with db.write() as session:
        await session.execute(text("CREATE TABLE test_counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        await session.execute(text("CREATE TABLE test_rows (n INTEGER NOT NULL)"))
        await session.execute(text("INSERT INTO test_counter (id, value) VALUES (1, 0)"))
    responses = await asyncio.gather(
        *(plumbing.post("/api/public/test/counter", json={"n": n}) for n in range(200))
    )
    assert [response.status for response in responses] == [201] * 200
    async with db.read() as session:
        assert (await session.execute(text("SELECT value FROM test_counter"))).scalar_one() == 200
        numbers = sorted((await session.execute(text("SELECT n FROM test_rows"))).scalars())
    assert numbers == list(range(200))
