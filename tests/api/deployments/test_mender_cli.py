"""mender-cli 1.9 (the real binary) uploads, lists and deletes artifacts against the in-process test server
(a real TCP server on 127.0.0.1), with a real admin's token in its cache. tests/e2e/test_scenarios.py does the
same against `menderlite serve`, logging in with mender-cli."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from tests.api.deployments.conftest import stored_files
from tests.support.artifacts import ArtifactMaker
from tests.support.users import admin_headers


def mender_cli() -> str:
    found = shutil.which("mender-cli")
    if found:
        return found
    message = "mender-cli is not installed (apt-get install mender-cli)"
    if os.environ.get("MENDERLITE_E2E_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


async def run_cli(client: TestClient, home: Path, *args: str) -> tuple[int, str, str]:
    cache = home / "cache"
    (cache / "mender").mkdir(parents=True, exist_ok=True)
    (cache / "mender" / "authtoken").write_text((await admin_headers(client))["Authorization"].removeprefix("Bearer "))
    process = await asyncio.create_subprocess_exec(
        mender_cli(), "--server", str(client.make_url("")).rstrip("/"), *args,
        cwd=home, env={**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_mender_cli_upload_list_and_delete(client: TestClient, ctx: Context, maker: ArtifactMaker, tmp_path: Path) -> None:
    with_meta = maker.directory("cli-dir", meta_data={"key": "value"})  # meta-data broke mender-cli on real Mender
    plain = maker.single_file("cli-single", size=3 * 1024 * 1024)
    for path in (with_meta, plain):
        code, out, err = await run_cli(client, tmp_path, "artifacts", "upload", "--no-progress", "--description", "from mender-cli", str(path))
        assert code == 0, out + err
    assert len(stored_files(ctx)) == 2

    code, out, err = await run_cli(client, tmp_path, "artifacts", "list", "-d", "3")
    assert code == 0, out + err
    assert "cli-dir" in out and "cli-single" in out
    assert "from mender-cli" in out

    artifact_id = next(record.id for record in await ctx.deployments.artifacts.list("") if record.name == "cli-single")
    code, out, err = await run_cli(client, tmp_path, "artifacts", "delete", artifact_id)
    assert code == 0, out + err
    assert [record.name for record in await ctx.deployments.artifacts.list("")] == ["cli-dir"]
    assert json.loads(json.dumps([r.to_api() for r in await ctx.deployments.artifacts.list("")]))[0]["updates"][0]["meta_data"] == [{"key": "value"}]
