"""Errors that aiohttp itself generates (router, body limit) answer the API's JSON error shape on the real
service paths, like the errors the services raise."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient


async def assert_json_error(response: aiohttp.ClientResponse, status: int, message: str) -> None:
    assert response.status == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.json() == {"error": message, "request_id": response.headers["X-MEN-RequestID"]}


async def test_wrong_method_on_known_paths(client: TestClient, user_headers: dict[str, str]) -> None:
    for method, path in (
        ("DELETE", "/api/management/v1/deployments/artifacts"),
        ("PUT", "/api/management/v1/deployments/deployments"),
        ("POST", "/api/management/v1/inventory/devices/some-device"),
        ("POST", "/api/management/v1/useradm/users/some-user"),
    ):
        response = await client.request(method, path, headers=user_headers)
        await assert_json_error(response, 405, "Method not allowed")
        assert "Allow" in response.headers


async def test_unknown_paths(client: TestClient, user_headers: dict[str, str]) -> None:
    for path in ("/api/management/v1/deployments/nothing", "/api/management/v3/inventory/devices", "/favicon.ico"):
        await assert_json_error(await client.get(path, headers=user_headers), 404, "Resource not found")


async def test_oversized_json_bodies(client: TestClient, user_headers: dict[str, str]) -> None:
    huge = b'{"name":"' + b"x" * (2 << 20) + b'"}'
    for path in ("/api/management/v1/deployments/deployments", "/api/management/v2/inventory/filters/search"):
        response = await client.post(path, data=huge, headers={**user_headers, "Content-Type": "application/json"})
        await assert_json_error(response, 413, "request body too large")
