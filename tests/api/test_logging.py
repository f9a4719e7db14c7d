"""One access-log line per request, and no secret (password, token, Authorization header) in any log."""

from __future__ import annotations

import base64
import logging
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from tests.support.server import start_server
from tests.support.users import login

PASSWORD = "very-secret-password-42"


async def test_no_secret_reaches_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.app[CONTEXT].useradm.create_user("", "logger@example.com", PASSWORD)
    token = await login(client, "logger@example.com", PASSWORD)
    wrong = base64.b64encode(b"logger@example.com:wrong-password-99").decode()
    await client.post("/api/management/v1/useradm/auth/login", headers={"Authorization": f"Basic {wrong}"})
    await client.get("/api/management/v1/useradm/users", headers={"Authorization": f"Bearer {token}"})
    await client.get("/api/management/v1/useradm/users", headers={"Authorization": f"Bearer {token}x"})
    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    for secret in (PASSWORD, "wrong-password-99", token, token.split(".")[2], wrong):
        assert secret not in text


def test_access_log_has_one_line_per_request_without_query(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        for path in ("/api/internal/v1/devauth/alive?token=sekret", "/no/such/path", "/status"):
            try:
                urllib.request.urlopen(f"{server.url}{path}", timeout=5).read()
            except urllib.error.HTTPError:
                pass
    finally:
        server.stop()
    lines = [line for line in server.log.splitlines() if "aiohttp.access" in line]
    assert len(lines) == 4  # the readiness probe + the three requests
    assert re.search(r"GET /api/internal/v1/devauth/alive 204 [\d.]+ms [0-9a-f-]{36}$", lines[1])
    assert re.search(r"GET /no/such/path 404 [\d.]+ms [0-9a-f-]{36}$", lines[2])
    assert "sekret" not in server.log


def test_log_level_is_configurable(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"MENDERLITE_SERVER_LOG_LEVEL": "WARNING"})
    urllib.request.urlopen(f"{server.url}/status", timeout=5).read()
    server.stop()
    assert "aiohttp.access" not in server.log and " INFO " not in server.log
    assert "no user exists yet" in server.log  # warnings still show
