"""POST /artifacts/generate: a single-file artifact built in the background, durable across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from menderlite.app import CONTEXT, create_app
from menderlite.context import Context
from menderlite.deployments import models
from tests.api.deployments.conftest import ARTIFACTS, stored_files, upload_ok
from tests.support.artifacts import ArtifactMaker, run_mender_artifact

GENERATE = ARTIFACTS + "/generate"


def generate_form(content: bytes | None, **overrides: Any) -> aiohttp.FormData:
    fields = {
        "name": "generated-app",
        "description": "built by the server",
        "device_types_compatible": "qemux86-64,raspberrypi4",
        "type": "single_file",
        "args": json.dumps({"dest_dir": "/opt/app"}),
        **overrides,
    }
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if value is not None:
            form.add_field(name, value)
    if content is not None:
        form.add_field("file", content, filename="app.bin", content_type="application/octet-stream")
    return form


async def test_generate_builds_a_valid_artifact(client: TestClient, user_headers: dict[str, str], ctx: Context, tmp_path: Path) -> None:
    content = os.urandom(200000)
    response = await client.post(GENERATE, data=generate_form(content), headers=user_headers)
    assert response.status == 201, await response.text()
    artifact_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"{ARTIFACTS}/{artifact_id}"

    await ctx.deployments.artifacts.wait_idle()
    response = await client.get(f"{ARTIFACTS}/{artifact_id}", headers=user_headers)
    assert response.status == 200
    document = await response.json()
    assert document["name"] == "generated-app"
    assert document["description"] == "built by the server"
    assert document["device_types_compatible"] == ["qemux86-64", "raspberrypi4"]
    assert document["info"] == {"format": "mender", "version": 3}
    assert document["updates"][0]["type_info"] == {"type": "single-file"}
    files = {f["name"]: f for f in document["updates"][0]["files"]}
    assert files["app.bin"]["size"] == len(content)
    assert document["artifact_provides"]["rootfs-image.single-file.version"] == "generated-app"
    assert stored_files(ctx) == [f"default/{artifact_id}"]  # the raw upload is gone

    link = await (await client.get(f"{ARTIFACTS}/{artifact_id}/download", headers=user_headers)).json()
    downloaded = tmp_path / "generated.mender"
    downloaded.write_bytes(await (await client.get(link["uri"].split(str(client.server.port), 1)[1])).read())
    assert document["size"] == downloaded.stat().st_size
    validate = run_mender_artifact("validate", downloaded)
    assert validate.returncode == 0, validate.stderr
    read = run_mender_artifact("read", downloaded)
    assert read.returncode == 0 and "Name: generated-app" in read.stdout


@pytest.mark.parametrize(
    ("overrides", "with_file", "message"),
    [
        ({"name": None}, True, "request does not contain the name of the artifact"),
        ({"type": None}, True, "request does not contain the type of artifact"),
        ({"device_types_compatible": None}, True, "request does not contain the list of compatible device types"),
        ({}, False, "request does not contain the artifact file"),
        ({"type": "rootfs"}, True, "unsupported type of artifact: rootfs; supported types are: single_file"),
        ({"args": "not json"}, True, None),
        ({"args": json.dumps({"dest_dir": "relative/dir"})}, True, None),
        ({"args": json.dumps({"dest_dir": "/x", "filename": "../etc/passwd"})}, True, None),
        ({"args": json.dumps({"dest_dir": "/opt/app\nmore"})}, True, None),  # the module reads dest_dir as one line
        ({"args": "[" * 30000 + "]" * 30000}, True, "args: must be a JSON object, e.g. {\"dest_dir\": \"/opt/app\"}"),  # too deep
    ],
)
async def test_generate_validation(
    client: TestClient, user_headers: dict[str, str], ctx: Context, overrides: dict[str, Any], with_file: bool, message: str | None
) -> None:
    response = await client.post(GENERATE, data=generate_form(b"x" * 100 if with_file else None, **overrides), headers=user_headers)
    assert response.status == 400
    if message is not None:
        assert (await response.json())["error"] == message
    assert stored_files(ctx) == []


async def test_generate_not_unique(client: TestClient, user_headers: dict[str, str], ctx: Context, maker: ArtifactMaker) -> None:
    await upload_ok(client, user_headers, maker.single_file("generated-app", ("raspberrypi4",)))
    response = await client.post(GENERATE, data=generate_form(b"data"), headers=user_headers)
    assert response.status == 422
    assert (await response.json())["error"] == "Artifact not unique"
    response = await client.post(GENERATE, data=generate_form(b"data", device_types_compatible="other-board"), headers=user_headers)
    assert response.status == 201


async def test_generate_needs_multipart(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(GENERATE, json={"name": "x"}, headers=user_headers)
    assert response.status == 415


async def test_restart_during_generation_resumes_it(
    aiohttp_client, settings, user_headers: dict[str, str], client: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """The request survives a stop before the build: the raw file and its row are durable, the half-built
    temporary file is discarded at start-up, and the new process builds the artifact."""
    monkeypatch.setattr(ctx.deployments.artifacts, "_submit", lambda tenant_id, artifact_id: None)  # "crash" before building
    response = await client.post(GENERATE, data=generate_form(b"payload" * 1000), headers=user_headers)
    assert response.status == 201
    artifact_id = response.headers["Location"].rsplit("/", 1)[1]
    assert stored_files(ctx) == [f"default/{artifact_id}.raw"]
    half_built = ctx.settings.artifacts_dir / ".tmp" / "interrupted.part"
    half_built.write_bytes(b"half an artifact")
    assert await (await client.get(ARTIFACTS, headers=user_headers)).json() == []

    restarted = create_app(settings)
    client2 = await aiohttp_client(restarted)
    await restarted[CONTEXT].deployments.artifacts.wait_idle()
    listing = await (await client2.get(ARTIFACTS, headers=user_headers)).json()
    assert [(artifact["id"], artifact["name"]) for artifact in listing] == [(artifact_id, "generated-app")]
    assert stored_files(ctx) == [f"default/{artifact_id}"]
    assert not half_built.exists()


async def test_stop_during_the_build_leaves_no_half_artifact_and_the_next_start_builds_it(
    aiohttp_client, settings, user_headers: dict[str, str], client: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """The server stops while the artifact is being written: the build is abandoned (its partial file
    removed, no row), the request and its raw file stay, and the next start builds the artifact."""
    from menderlite.artifact import OperationCancelled
    from menderlite.deployments import artifacts as artifacts_module

    real_writer = artifacts_module.write_single_file_artifact
    writing = threading.Event()

    def stalled_writer(output: Path, *, cancel: threading.Event, **kwargs: Any) -> None:
        output.write_bytes(b"the first bytes of an artifact")  # a partial file, as a real writer leaves it
        writing.set()
        cancel.wait(60)  # until the server stops
        raise OperationCancelled()

    monkeypatch.setattr(artifacts_module, "write_single_file_artifact", stalled_writer)
    response = await client.post(GENERATE, data=generate_form(b"payload" * 1000), headers=user_headers)
    assert response.status == 201
    artifact_id = response.headers["Location"].rsplit("/", 1)[1]
    assert await asyncio.to_thread(writing.wait, 30)
    await client.close()  # the server stops mid-build

    assert stored_files(ctx) == [f"default/{artifact_id}.raw"]  # no partial artifact, the raw file kept
    monkeypatch.setattr(artifacts_module, "write_single_file_artifact", real_writer)
    restarted = create_app(settings)
    client2 = await aiohttp_client(restarted)
    await restarted[CONTEXT].deployments.artifacts.wait_idle()
    listing = await (await client2.get(ARTIFACTS, headers=user_headers)).json()
    assert [(artifact["id"], artifact["name"]) for artifact in listing] == [(artifact_id, "generated-app")]
    assert stored_files(ctx) == [f"default/{artifact_id}"]


async def test_start_up_after_a_crash_removes_orphan_files_and_ends_every_generation(
    aiohttp_client, settings, user_headers: dict[str, str], client: TestClient, ctx: Context, maker: ArtifactMaker  # type: ignore[no-untyped-def]
) -> None:
    """The states a crash (power loss, kill -9) can leave on disk and in the database, then a new start on
    the same data directory: files without a row are removed, every generation ends (built or dropped) and
    no longer blocks its name; files that are not the service's own are left alone."""
    kept = await upload_ok(client, user_headers, maker.single_file("kept"))
    root = ctx.settings.artifacts_dir
    orphan_raw = str(uuid.uuid4())  # moved into place, its row never committed; or its artifact was built
    (root / "default" / f"{orphan_raw}.raw").write_bytes(b"raw upload")
    orphan_artifact = str(uuid.uuid4())  # an upload's file moved into place, its row never committed
    (root / "default" / orphan_artifact).write_bytes((root / "default" / kept).read_bytes())
    tenant_orphan = root / "5f0c2a1b9e8d7c6b5a493827" / str(uuid.uuid4())  # a deleted artifact of a tenant
    tenant_orphan.parent.mkdir()
    tenant_orphan.write_bytes(b"deleted, file left behind")
    (root / "default" / "notes.txt").write_text("not ours")
    resumable, lost_raw = str(uuid.uuid4()), str(uuid.uuid4())
    (root / "default" / f"{resumable}.raw").write_bytes(b"payload" * 100)
    async with ctx.db.write() as session:
        for artifact_id, name in ((resumable, "resumed-app"), (lost_raw, "lost-app")):
            session.add(
                models.ArtifactGeneration(
                    id=artifact_id, tenant_id="", name=name, description="", device_types=["qemux86-64"], type="single_file",
                    args={"dest_dir": "/opt/app"}, file_name="app.bin", raw_key=f"default/{artifact_id}.raw", raw_size=700,
                )
            )
    await client.close()

    restarted = create_app(settings)
    client2 = await aiohttp_client(restarted)
    await restarted[CONTEXT].deployments.artifacts.wait_idle()
    assert stored_files(ctx) == sorted([f"default/{kept}", f"default/{resumable}", "default/notes.txt"])
    listing = await (await client2.get(ARTIFACTS, headers=user_headers)).json()
    assert sorted((artifact["id"], artifact["name"]) for artifact in listing) == sorted([(kept, "kept"), (resumable, "resumed-app")])
    async with restarted[CONTEXT].db.read() as session:
        assert list(await session.scalars(select(models.ArtifactGeneration.id))) == []
    again = await client2.post(GENERATE, data=generate_form(b"data", name="lost-app", device_types_compatible="qemux86-64"), headers=user_headers)
    assert again.status == 201, await again.text()


async def test_a_build_failing_unexpectedly_is_dropped(
    client: TestClient, user_headers: dict[str, str], ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure of the build ends the request (logged), rather than keeping it pending and its name taken."""
    from menderlite.deployments import artifacts as artifacts_module

    def broken_writer(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(artifacts_module, "write_single_file_artifact", broken_writer)
    response = await client.post(GENERATE, data=generate_form(b"payload"), headers=user_headers)
    assert response.status == 201
    await ctx.deployments.artifacts.wait_idle()
    assert stored_files(ctx) == []
    async with ctx.db.read() as session:
        assert list(await session.scalars(select(models.ArtifactGeneration.id))) == []
    monkeypatch.undo()
    again = await client.post(GENERATE, data=generate_form(b"payload"), headers=user_headers)
    assert again.status == 201
