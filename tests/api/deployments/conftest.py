"""Helpers for the artifact API tests: uploads as mender-cli sends them, and a look at what is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from menderlite.context import Context
from tests.support.artifacts import ArtifactMaker, artifact_maker  # noqa: F401 - session fixture

ARTIFACTS = "/api/management/v1/deployments/artifacts"


def upload_form(content: Path | bytes, *, description: str | None = None, size: int | None = None, fields: dict[str, str] | None = None,
                file_field: str = "artifact", filename: str = "artifact.mender") -> aiohttp.FormData:
    """Parts in mender-cli's order: size, description, then the file (a file object: sent chunked)."""
    form = aiohttp.FormData()
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    if size is not None:
        form.add_field("size", str(size))
    if description is not None:
        form.add_field("description", description)
    body: Any = open(content, "rb") if isinstance(content, Path) else content  # noqa: SIM115 - closed by aiohttp
    form.add_field(file_field, body, filename=filename, content_type="application/octet-stream")
    return form


async def upload(client: TestClient, headers: dict[str, str], path: Path | bytes, **kwargs: Any) -> aiohttp.ClientResponse:
    return await client.post(ARTIFACTS, data=upload_form(path, **kwargs), headers=headers)


async def upload_ok(client: TestClient, headers: dict[str, str], path: Path, **kwargs: Any) -> str:
    response = await upload(client, headers, path, **kwargs)
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


def stored_files(ctx: Context) -> list[str]:
    """Every file under the artifacts directory, temporary ones included (relative paths)."""
    root = ctx.settings.artifacts_dir
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@pytest.fixture
def maker(artifact_maker: ArtifactMaker) -> ArtifactMaker:  # noqa: F811
    return artifact_maker
