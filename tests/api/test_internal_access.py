"""Every route under /api/internal/ and /api/v1/ (workflows) answers 403 to a peer outside the internal
networks, whatever forwarding headers claim, and before reading any body; no handler there is marked
public."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.app import create_app
from menderlite.config import Settings
from menderlite.web.guards import ACCESS_ATTRIBUTE

SPOOFING_HEADERS = {
    "X-Forwarded-For": "127.0.0.1",
    "X-Real-IP": "127.0.0.1",
    "Forwarded": "for=127.0.0.1",
    "X-Forwarded-Host": "localhost",
}


def internal_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith(("/api/internal/", "/api/v1/")) and route.method != "HEAD":
            found.append((route.method, re.sub(r"\{[^}]+\}", "0123456789abcdef01234567", path), route.handler))
    return found


async def test_internal_routes_refuse_outside_peers(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]) -> None:
    client: TestClient = await aiohttp_client(create_app(make_settings(server={"internal_networks": ["10.99.0.0/16"]})))
    routes = internal_routes(client.app)
    assert any(path.startswith("/api/v1/workflow/") for _, path, _ in routes)
    assert any(path.startswith("/api/internal/v1/tenantadm/") for _, path, _ in routes)
    answers = {}
    for method, path, handler in routes:
        assert getattr(handler, ACCESS_ATTRIBUTE, None) in (None, "internal"), f"{method} {path} is marked public"
        response = await client.request(method, path, data=b'{"status": "active"}', headers=SPOOFING_HEADERS)
        answers[f"{method} {path}"] = response.status
    assert {route: status for route, status in answers.items() if status != 403} == {}


async def test_odd_spellings_of_guarded_paths_do_not_slip_past_the_guard(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client: TestClient = await aiohttp_client(create_app(make_settings(server={"internal_networks": ["10.99.0.0/16"]})))
    assert await raw_get_status(client, "/status") == 200
    for path in (
        "//api/internal/v1/tenantadm/tenants",
        "/api//internal/v1/tenantadm/tenants",
        "/api/internal//v1/tenantadm/tenants",
        "/api/./internal/v1/tenantadm/tenants",
        "/api/management/../internal/v1/tenantadm/tenants",
        "/api/%69nternal/v1/tenantadm/tenants",
        "/api/internal/v1/tenantadm/tenants/",
        "/api/internal/v1/tenantadm/tenants%2F",
        "//api/v1/metadata/workflows",
        "/api/v1/./metadata/workflows",
        "/api/x/../v1/metadata/workflows",
        "/api/v1/metadata/workflows/",
    ):
        status = await raw_get_status(client, path)
        assert status in (403, 404), f"{path}: {status}"
    # management and device routes without a token likewise: 401 or 404, never the data
    for path in (
        "//api/management/v2/devauth/devices",
        "/api//management/v2/devauth/devices",
        "/api/./management/v1/useradm/users",
        "/api/x/../management/v1/useradm/users",
        "/api/%6Danagement/v1/useradm/users",
        "/api/management/v1/useradm/users/",
        "//api/devices/v1/deployments/device/deployments/next?device_type=a&artifact_name=b",
    ):
        status = await raw_get_status(client, path)
        assert status in (401, 404), f"{path}: {status}"


async def raw_get_status(client: TestClient, path: str) -> int:
    """The status of `GET path` sent as written (an HTTP client would normalise it first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    return int(status_line.split()[1])
