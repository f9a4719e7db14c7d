"""Signed download links and the public download endpoint (Range, conditional requests, expiry, tampering)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.db import utcnow
from menderlite.deployments.artifacts import DownloadFile
from menderlite.timeutil import parse_rfc3339
from tests.api.deployments.conftest import ARTIFACTS, upload_ok
from tests.support.artifacts import ArtifactMaker
from tests.support.users import admin_headers


async def assert_json_error(response: aiohttp.ClientResponse, message: str) -> None:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.json() == {"error": message, "request_id": response.headers["X-MEN-RequestID"]}


async def link_for(client: TestClient, headers: dict[str, str], artifact_id: str) -> dict[str, str]:
    response = await client.get(f"{ARTIFACTS}/{artifact_id}/download", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


def relative(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.path}?{parts.query}"


async def test_link_and_plain_download(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    path = maker.single_file("download-me", size=30000)
    artifact_id = await upload_ok(client, user_headers, path)
    link = await link_for(client, user_headers, artifact_id)
    assert set(link) == {"uri", "expire"}
    expire = parse_rfc3339(link["expire"])
    assert timedelta(minutes=14) < expire - utcnow() <= timedelta(minutes=15)
    assert link["uri"].startswith(f"http://{client.server.host}:{client.server.port}/download/{artifact_id}?")

    response = await client.get(relative(link["uri"]))  # no Authorization header
    assert response.status == 200
    body = await response.read()
    assert body == path.read_bytes()
    assert response.headers["Content-Length"] == str(path.stat().st_size)
    assert response.headers["Content-Type"] == "application/vnd.mender-artifact"
    assert response.headers["Content-Disposition"] == 'attachment; filename="download-me.mender"'
    assert "Last-Modified" in response.headers

    head = await client.head(relative(link["uri"]))
    assert head.status == 200
    assert head.headers["Content-Length"] == str(path.stat().st_size)


async def test_public_url_setting_is_used_for_links(aiohttp_client, make_settings, maker: ArtifactMaker) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import create_app

    app = create_app(make_settings(server={"public_url": "https://updates.example.test:8443/"}))
    client = await aiohttp_client(app)
    headers = await admin_headers(client)
    artifact_id = await upload_ok(client, headers, maker.single_file("public-url"))
    link = await link_for(client, headers, artifact_id)
    assert link["uri"].startswith(f"https://updates.example.test:8443/download/{artifact_id}?")


async def test_range_requests(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    path = maker.single_file("ranges", size=30000)
    data = path.read_bytes()
    url = relative((await link_for(client, user_headers, await upload_ok(client, user_headers, path)))["uri"])

    response = await client.get(url, headers={"Range": "bytes=100-199"})
    assert response.status == 206
    assert await response.read() == data[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert response.headers["Content-Length"] == "100"

    response = await client.get(url, headers={"Range": "bytes=5000-"})  # how mender-client resumes
    assert response.status == 206
    assert await response.read() == data[5000:]
    assert response.headers["Content-Range"] == f"bytes 5000-{len(data) - 1}/{len(data)}"

    response = await client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"
    await assert_json_error(response, "requested range not satisfiable")

    response = await client.get(url, headers={"Range": "bytes=abc"})  # unparsable
    assert response.status == 416
    await assert_json_error(response, "requested range not satisfiable")

    head = await client.head(url, headers={"Range": f"bytes={len(data)}-"})
    assert head.status == 416
    assert await head.read() == b""


async def test_conditional_requests(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    path = maker.single_file("conditional")
    url = relative((await link_for(client, user_headers, await upload_ok(client, user_headers, path)))["uri"])
    future = format_datetime(utcnow() + timedelta(days=1), usegmt=True)
    past = format_datetime(utcnow() - timedelta(days=365), usegmt=True)

    response = await client.get(url, headers={"If-Modified-Since": future})
    assert response.status == 304
    response = await client.get(url, headers={"If-Modified-Since": past})
    assert response.status == 200
    response = await client.get(url, headers={"If-Unmodified-Since": past})
    assert response.status == 412
    await assert_json_error(response, "precondition failed")
    response = await client.get(url, headers={"If-Unmodified-Since": future})
    assert response.status == 200
    assert await response.read() == path.read_bytes()


async def test_expired_link(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("expired"))
    uri, expire = ctx.deployments.artifacts.download_link("", artifact_id, "http://x", lifetime_seconds=-5)
    response = await client.get(relative(uri))
    assert response.status == 403
    assert (await response.json())["error"] == "URL expired"


async def test_tampered_links(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    first = await upload_ok(client, user_headers, maker.single_file("tamper-1"))
    second = await upload_ok(client, user_headers, maker.single_file("tamper-2"))
    uri = (await link_for(client, user_headers, first))["uri"]
    parts = urlsplit(uri)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))

    def with_params(path: str, **changes: str) -> str:
        return f"{path}?{urlencode({**params, **changes})}"

    later = (parse_rfc3339(params["x-men-expire"]) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    attempts = [
        with_params(parts.path, **{"x-men-signature": params["x-men-signature"][:-2] + "AA"}),
        with_params(parts.path, **{"x-men-signature": params["x-men-signature"][:-1] + "é"}),  # not ASCII
        with_params(parts.path, **{"x-men-expire": "not a time"}),
        with_params(parts.path, **{"x-men-expire": later}),  # extend the lifetime
        with_params(parts.path, tenant_id="someone-else"),
        with_params(f"/download/{second}"),  # another artifact with this signature
        parts.path,  # no signature at all
    ]
    for attempt in attempts:
        response = await client.get(attempt)
        assert response.status == 403, attempt
        assert (await response.json())["error"] == "invalid download link signature", attempt


async def test_link_of_a_deleted_artifact(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.single_file("gone"))
    url = relative((await link_for(client, user_headers, artifact_id))["uri"])
    assert (await client.delete(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)).status == 204
    response = await client.get(url)
    assert response.status == 404
    await assert_json_error(response, "Resource not found")


async def test_file_deleted_between_check_and_send(
    client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The artifact is deleted after the download found its row, before the file is opened: a JSON 404."""
    artifact_id = await upload_ok(client, user_headers, maker.single_file("vanishing"))
    url = relative((await link_for(client, user_headers, artifact_id))["uri"])
    service = ctx.deployments.artifacts
    found_file = service.file_for_download

    async def then_deleted(tenant_id: str, wanted: str) -> DownloadFile:
        download = await found_file(tenant_id, wanted)
        await service.delete(tenant_id, wanted)
        return download

    monkeypatch.setattr(service, "file_for_download", then_deleted)
    response = await client.get(url)
    assert response.status == 404
    await assert_json_error(response, "Resource not found")
    assert "Content-Disposition" not in response.headers


async def test_delete_while_the_file_is_streamed(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker
) -> None:
    """A download already under way finishes with the whole file; the server keeps serving."""
    path = maker.single_file("streamed", size=8 << 20, compression="none")
    data = path.read_bytes()
    artifact_id = await upload_ok(client, user_headers, path)
    url = relative((await link_for(client, user_headers, artifact_id))["uri"])
    response = await client.get(url)
    assert response.status == 200
    first = await response.content.readexactly(1 << 16)
    assert (await client.delete(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)).status == 204
    assert first + await response.read() == data
    assert (await client.get(url)).status == 404
    assert (await client.get(f"{ARTIFACTS}", headers=user_headers)).status == 200


async def test_device_download_link(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    """What the deployments service hands to devices: 24 h, same endpoint."""
    path = maker.single_file("for-devices")
    artifact_id = await upload_ok(client, user_headers, path)
    uri, expire = ctx.deployments.artifacts.device_download_link("", artifact_id, "http://192.0.2.1:8080")
    assert uri.startswith(f"http://192.0.2.1:8080/download/{artifact_id}?")
    assert timedelta(hours=23, minutes=59) < expire - utcnow() <= timedelta(hours=24)
    response = await client.get(relative(uri))
    assert response.status == 200
    assert await response.read() == path.read_bytes()
