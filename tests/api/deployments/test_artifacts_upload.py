"""Upload, show and list artifacts made by the real mender-artifact; refusals leave neither row nor file."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from menderlite.timeutil import parse_rfc3339
from tests.api.deployments.conftest import (
    ARTIFACTS,
    stored_files,
    upload,
    upload_form,
    upload_ok,
)
from tests.support.artifacts import (
    ArtifactMaker,
    make_v1_artifact,
    mender_artifact_read,
    with_bytes_flipped,
    with_payload_changed,
)
from tests.support.users import admin_headers

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def show(client: TestClient, headers: dict[str, str], artifact_id: str) -> dict:
    response = await client.get(f"{ARTIFACTS}/{artifact_id}", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_upload_and_show_every_field(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    path = maker.single_file(
        "api-full", ("qemux86-64", "rpi4"), size=20000, meta_data={"k": "v"},
        extra=["-g", "grp", "-N", "before", "-p", "p.key:p-value", "-d", "d.key:d-value"],
    )
    response = await upload(client, user_headers, path, description="first build", size=path.stat().st_size)
    assert response.status == 201, await response.text()
    location = response.headers["Location"]
    assert location.startswith("/api/management/v1/deployments/artifacts/")
    artifact_id = location.rsplit("/", 1)[1]
    assert UUID4.match(artifact_id)

    document = await show(client, user_headers, artifact_id)
    assert set(document) == {
        "id", "name", "description", "device_types_compatible", "info", "signed", "updates",
        "artifact_provides", "artifact_depends", "size", "modified",
    }
    assert document["id"] == artifact_id
    assert document["name"] == "api-full"
    assert document["description"] == "first build"
    assert document["device_types_compatible"] == ["qemux86-64", "rpi4"]
    assert document["info"] == {"format": "mender", "version": 3}
    assert document["signed"] is False
    assert document["size"] == path.stat().st_size and isinstance(document["size"], int)
    assert parse_rfc3339(document["modified"]).tzinfo is not None
    assert document["artifact_provides"] == {
        "artifact_name": "api-full", "artifact_group": "grp", "p.key": "p-value", "rootfs-image.single-file.version": "api-full",
    }
    assert document["artifact_depends"] == {"device_type": ["qemux86-64", "rpi4"], "artifact_name": ["before"], "d.key": "d-value"}
    [update] = document["updates"]
    assert update["type_info"] == {"type": "single-file"}
    assert update["meta_data"] == [{"k": "v"}]  # an array: mender-cli 1.9 cannot decode an object here
    files = {f["name"]: f for f in update["files"]}
    assert set(files) == {"dest_dir", "filename", "permissions", "payload.bin"}
    assert files["payload.bin"]["size"] == 20000
    assert files["permissions"]["checksum"] == hashlib.sha256(b"644\n").hexdigest()
    assert parse_rfc3339(files["payload.bin"]["date"]).year >= 2020

    assert stored_files(ctx) == [f"default/{artifact_id}"]
    assert (ctx.settings.artifacts_dir / "default" / artifact_id).read_bytes() == path.read_bytes()

    listing = await client.get(ARTIFACTS, headers=user_headers)
    assert listing.status == 200
    assert await listing.json() == [document]


async def test_payload_without_meta_data_has_null_meta_data(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    artifact_id = await upload_ok(client, user_headers, maker.rootfs("api-rootfs-v3"))
    document = await show(client, user_headers, artifact_id)
    assert document["updates"][0]["meta_data"] is None
    assert document["updates"][0]["type_info"] == {"type": "rootfs-image"}
    assert document["description"] == ""


@pytest.mark.parametrize(
    ("kind", "version", "payload_type", "signed"),
    [
        ("rootfs-v2", 2, "rootfs-image", False),
        ("directory", 3, "directory", False),
        ("xz", 3, "single-file", False),
        ("none", 3, "single-file", False),
        ("zstd", 3, "single-file", False),
        ("rsa", 3, "single-file", True),
        ("ecdsa", 3, "single-file", True),
    ],
)
async def test_formats_compressions_and_signatures(
    client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker, kind: str, version: int, payload_type: str, signed: bool
) -> None:
    paths = {
        "rootfs-v2": lambda: maker.rootfs("api-v2", version=2),
        "directory": lambda: maker.directory("api-dir", meta_data={"a": 1}),
        "xz": lambda: maker.single_file("api-xz", compression="lzma"),
        "none": lambda: maker.single_file("api-none", compression="none"),
        "zstd": lambda: maker.zstd(maker.single_file("api-zstd")),
        "rsa": lambda: maker.signed(maker.single_file("api-signed"), "rsa"),
        "ecdsa": lambda: maker.signed(maker.single_file("api-signed"), "ecdsa"),
    }
    path = paths[kind]()
    document = await show(client, user_headers, await upload_ok(client, user_headers, path))
    assert document["info"] == {"format": "mender", "version": version}
    assert document["updates"][0]["type_info"]["type"] == payload_type
    assert document["signed"] is signed
    assert document["size"] == path.stat().st_size
    assert document["artifact_depends"]["device_type"] == ["qemux86-64"]
    # what the real tool reads (the zstd variant: from the gzip original, which it can read)
    expected = mender_artifact_read(maker.single_file("api-zstd") if kind == "zstd" else path)
    assert (document["name"], document["device_types_compatible"]) == (expected["name"], expected["device_types"])
    [update], [expected_update] = document["updates"], expected["updates"]
    assert [(f["name"], f["size"], f["checksum"]) for f in update["files"]] == [
        (f["name"], f["size"], f["checksum"]) for f in expected_update["files"]
    ]
    assert all(parse_rfc3339(f["date"]).strftime("%Y-%m-%d %H:%M:%S +0000 UTC") == e["modified"]
               for f, e in zip(update["files"], expected_update["files"]))
    assert update["meta_data"] == ([expected_update["meta_data"]] if expected_update["meta_data"] is not None else None)
    assert expected_update["provides"].items() <= document["artifact_provides"].items()
    assert expected_update["depends"].items() <= document["artifact_depends"].items()


async def test_format_1_upload(client: TestClient, user_headers: dict[str, str], tmp_path: Path) -> None:
    path = make_v1_artifact(tmp_path / "v1.mender", name="legacy-v1", device_type="vexpress", files={"rootfs.img": b"x" * 6000})
    document = await show(client, user_headers, await upload_ok(client, user_headers, path))
    assert (document["name"], document["info"]["version"], document["device_types_compatible"]) == ("legacy-v1", 1, ["vexpress"])


async def test_upload_with_content_length_and_a_multi_megabyte_artifact(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    """Bigger than the JSON body limit (1 MiB): multipart streaming is not subject to it."""
    path = maker.single_file("api-big", size=6 * 1024 * 1024, compression="none")
    response = await upload(client, user_headers, path.read_bytes())  # bytes: sent with a Content-Length
    assert response.status == 201, await response.text()
    artifact_id = response.headers["Location"].rsplit("/", 1)[1]
    assert (await show(client, user_headers, artifact_id))["size"] == path.stat().st_size > 6 * 1024 * 1024


# --- refusals: the documented 4xx, nothing stored ------------------------------------------------------


async def assert_nothing_stored(client: TestClient, user_headers: dict[str, str], ctx: Context) -> None:
    listing = await client.get(ARTIFACTS, headers=user_headers)
    assert await listing.json() == []
    assert stored_files(ctx) == []


async def test_non_artifact_file_is_refused(client: TestClient, user_headers: dict[str, str], ctx: Context) -> None:
    response = await upload(client, user_headers, b"this is not a mender artifact\n" * 400)
    assert response.status == 400
    assert (await response.json())["error"].startswith("reader:")
    await assert_nothing_stored(client, user_headers, ctx)


async def test_checksum_mismatch_is_refused(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, tmp_path: Path) -> None:
    broken = with_payload_changed(maker.single_file("api-tampered"), tmp_path / "tampered.mender")
    response = await upload(client, user_headers, broken)
    assert response.status == 400
    assert (await response.json())["error"].startswith("invalid checksum")
    await assert_nothing_stored(client, user_headers, ctx)


async def test_corrupt_payload_is_refused(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, tmp_path: Path) -> None:
    broken = with_bytes_flipped(maker.single_file("api-corrupt", size=50000), tmp_path / "corrupt.mender", "data/0000.tar.gz")
    response = await upload(client, user_headers, broken)
    assert response.status == 400
    await assert_nothing_stored(client, user_headers, ctx)


async def test_truncated_upload_is_refused(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    data = maker.single_file("api-truncated", size=50000).read_bytes()
    response = await upload(client, user_headers, data[: len(data) // 2])
    assert response.status == 400
    await assert_nothing_stored(client, user_headers, ctx)


async def test_missing_artifact_part_and_wrong_content_type(client: TestClient, user_headers: dict[str, str], ctx: Context) -> None:
    response = await client.post(ARTIFACTS, data=_multipart_without_file(), headers=user_headers)
    assert response.status == 400
    assert (await response.json())["error"] == "request does not contain the artifact file"
    response = await client.post(ARTIFACTS, json={"artifact": "x"}, headers=user_headers)
    assert response.status == 415
    assert (await response.json())["error"] == "Bad Content-Type, expected 'multipart/form-data'"
    await assert_nothing_stored(client, user_headers, ctx)


def _multipart_without_file():  # type: ignore[no-untyped-def]
    import aiohttp

    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append("only a description")
    part.set_content_disposition("form-data", name="description")
    return writer


async def test_form_fields_are_bounded(client: TestClient, user_headers: dict[str, str], ctx: Context) -> None:
    """Text parts are read into memory: each is capped, and so is their number."""
    response = await upload(client, user_headers, b"x", fields={f"field{index}": "v" for index in range(100)})
    assert response.status == 400
    assert (await response.json())["error"] == "too many form fields before the artifact part"
    response = await upload(client, user_headers, b"x", description="d" * (65 << 10))
    assert response.status == 400
    assert (await response.json())["error"] == "form field description is too large"
    await assert_nothing_stored(client, user_headers, ctx)


async def test_upload_needs_a_user(client: TestClient, maker: ArtifactMaker) -> None:
    response = await client.post(ARTIFACTS, data=upload_form(maker.single_file("api-anon")))
    assert response.status == 401


async def test_client_disconnect_mid_upload_leaves_nothing(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    """A raw connection that announces more bytes than it sends and then goes away."""

    data = maker.single_file("api-disconnect", size=200000, compression="none").read_bytes()
    service = ctx.deployments.artifacts
    upload_method = service.upload
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    started = asyncio.Event()

    async def watched_upload(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        try:
            result = await upload_method(*args, **kwargs)
        except BaseException as exc:  # ApiError (connection reset) or CancelledError (handler cancellation)
            outcome.set_result(exc)
            raise
        outcome.set_result(None)
        return result

    service.upload = watched_upload  # type: ignore[method-assign]
    boundary = "menderliteboundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"a.mender\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body_length = len(head) + len(data) + len(f"\r\n--{boundary}--\r\n")
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    request = (
        f"POST {ARTIFACTS} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {user_headers['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {body_length}\r\n\r\n"
    ).encode()
    writer.write(request + head + data[: len(data) // 4])
    await writer.drain()
    await asyncio.wait_for(started.wait(), 30)
    writer.write(data[len(data) // 4 : len(data) // 2])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    error = await asyncio.wait_for(outcome, 30)
    assert error is not None  # the upload failed while streaming...
    await assert_nothing_stored(client, user_headers, ctx)  # ...and left no temporary file behind


# --- sizes and storage limits --------------------------------------------------------------------------


@pytest.fixture
def small_max(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(deployments={"max_artifact_bytes": 8192})


async def test_artifact_above_the_maximum_size(aiohttp_client, small_max, maker: ArtifactMaker) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import CONTEXT, create_app

    app = create_app(small_max)
    client = await aiohttp_client(app)
    headers = await admin_headers(client)
    path = maker.single_file("api-too-big", size=20000, compression="none")
    for kwargs in ({"size": path.stat().st_size}, {}):  # refused from the size field, and while streaming
        response = await upload(client, headers, path, **kwargs)
        assert response.status == 400
        assert (await response.json())["error"] == "Artifact file too large"
    assert stored_files(app[CONTEXT]) == []


async def test_storage_limit_and_usage(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    first = maker.single_file("api-limit-1", size=8000, compression="none")
    second = maker.single_file("api-limit-2", size=8000, compression="none")
    response = await client.get("/api/management/v1/deployments/limits/storage", headers=user_headers)
    assert await response.json() == {"limit": 0, "usage": 0}

    await upload_ok(client, user_headers, first)
    limit = first.stat().st_size + second.stat().st_size - 1
    response = await client.put("/api/internal/v1/deployments/tenants/default/limits/storage", json={"limit": limit})
    assert response.status == 204
    response = await client.get("/api/management/v1/deployments/limits/storage", headers=user_headers)
    assert await response.json() == {"limit": limit, "usage": first.stat().st_size}

    for kwargs in ({"size": second.stat().st_size}, {}):  # refused up front from `size`, and while streaming
        response = await upload(client, user_headers, second, **kwargs)
        assert response.status == 422
        assert (await response.json())["error"] == "storage limit exceeded"
    assert len(stored_files(ctx)) == 1

    await client.put("/api/internal/v1/deployments/tenants/default/limits/storage", json={"limit": 0})
    await upload_ok(client, user_headers, second)
    response = await client.get("/api/management/v1/deployments/limits/storage", headers=user_headers)
    assert (await response.json())["usage"] == first.stat().st_size + second.stat().st_size


async def test_default_tenant_limit_comes_from_settings(aiohttp_client, make_settings) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import create_app

    app = create_app(make_settings(deployments={"storage_limit_bytes": 123456}))
    client = await aiohttp_client(app)
    response = await client.get("/api/management/v1/deployments/limits/storage", headers=await admin_headers(client))
    assert await response.json() == {"limit": 123456, "usage": 0}


# --- uniqueness ----------------------------------------------------------------------------------------


async def test_same_name_with_overlapping_depends_conflicts(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("api-dup", ("arm1", "arm2")))
    response = await upload(client, user_headers, maker.single_file("api-dup", ("arm2", "arm3")))
    assert response.status == 409
    message = (await response.json())["error"]
    assert message.startswith("An artifact with the same name has conflicting depends: ")
    assert "arm2" in message
    await upload_ok(client, user_headers, maker.single_file("api-dup", ("arm4",)))
    await upload_ok(client, user_headers, maker.single_file("api-other-name", ("arm2",)))
    assert len(stored_files(ctx)) == 3


async def test_same_name_and_device_type_but_different_other_depends_is_allowed(client: TestClient, user_headers: dict[str, str], maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("api-dep", ("arm1",), extra=["-N", "v1"]))
    await upload_ok(client, user_headers, maker.single_file("api-dep", ("arm1",), extra=["-N", "v2"]))
    response = await upload(client, user_headers, maker.single_file("api-dep", ("arm1",), extra=["-N", "v2", "-N", "v3"]))
    assert response.status == 409


# --- verification keys ---------------------------------------------------------------------------------


async def test_signature_checked_when_keys_are_configured(aiohttp_client, make_settings, maker: ArtifactMaker) -> None:  # type: ignore[no-untyped-def]
    from menderlite.app import CONTEXT, create_app

    _, rsa_public = maker.key_pair("rsa")
    app = create_app(make_settings(deployments={"artifact_verify_keys": [str(rsa_public)]}))
    client = await aiohttp_client(app)
    headers = await admin_headers(client)
    unsigned = maker.single_file("api-verify")
    await upload_ok(client, headers, maker.signed(unsigned, "rsa"))
    response = await upload(client, headers, maker.signed(maker.single_file("api-verify-ec"), "ecdsa"))
    assert response.status == 400
    assert (await response.json())["error"] == "artifact signature verification failed"
    assert len(stored_files(app[CONTEXT])) == 1  # the refused one left nothing
    await upload_ok(client, headers, maker.single_file("api-verify-unsigned"))


# --- storage failures ----------------------------------------------------------------------------------


async def test_disk_full_while_receiving(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from menderlite.deployments import artifacts as artifacts_module

    def no_space(handle, digest, chunk):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts_module, "_write_chunk", no_space)
    response = await upload(client, user_headers, maker.single_file("api-disk-full"))
    assert response.status == 400
    assert (await response.json())["error"] == "not enough disk space to store the artifact"
    await assert_nothing_stored(client, user_headers, ctx)


async def test_disk_full_while_moving_into_place(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    async def no_space(temp_path, key):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ctx.storage, "commit", no_space)
    response = await upload(client, user_headers, maker.single_file("api-disk-full-2"))
    assert response.status == 400
    await assert_nothing_stored(client, user_headers, ctx)


async def test_failure_after_the_file_moved_takes_the_file_back(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the transaction fails once the file is in place, neither the row nor the file remains."""
    real_commit = ctx.storage.commit

    async def commit_then_fail(temp_path, key):  # type: ignore[no-untyped-def]
        await real_commit(temp_path, key)
        raise RuntimeError("simulated failure at the end of the transaction")

    monkeypatch.setattr(ctx.storage, "commit", commit_then_fail)
    response = await upload(client, user_headers, maker.single_file("api-late-failure"))
    assert response.status == 500
    await assert_nothing_stored(client, user_headers, ctx)
