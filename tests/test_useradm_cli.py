"""`menderlite user create|list|set-password`, in-process and as a real process."""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from menderlite.app import CONTEXT, create_app
from menderlite.cli import main
from menderlite.config import load
from tests.support.cli import write_test_config
from tests.support.server import server_environment

LOGIN = "/api/management/v1/useradm/auth/login"


@pytest.fixture
def config_file(tmp_path: Path, shared_keys: dict[str, Path]) -> Path:
    return write_test_config(tmp_path / "menderlite.toml", shared_keys)


@pytest.fixture
def run(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    # In-process, `main` reads this process's environment: drop the test-only switch it would refuse.
    monkeypatch.delenv("MENDERLITE_E2E_REQUIRED", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        status = main(["user", args[0], "--config", str(config_file), "--data-dir", str(tmp_path / "data"), *args[1:]])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return invoke


def test_create_prints_the_id_and_list_shows_the_user(run: Callable[..., tuple[int, str, str]]) -> None:
    status, out, _ = run("create", "--email", "Admin@Example.com", "--password", "admin-password")
    assert status == 0
    assert out == str(uuid.uuid5(uuid.NAMESPACE_OID, "admin@example.com")) + "\n"
    status, out, _ = run("create", "--email", "ci@example.com", "--password", "ci-password", "--tenant-id", "acme", "--role", "RBAC_ROLE_CI", "--role", "RBAC_ROLE_OBSERVER")
    assert status == 0
    status, out, _ = run("list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "TENANT", "ROLES"]
    assert lines[1].split()[1:] == ["admin@example.com", "-", "-"]
    assert lines[2].split()[1:] == ["ci@example.com", "acme", "RBAC_ROLE_CI,RBAC_ROLE_OBSERVER"]
    status, out, _ = run("list", "--tenant-id", "acme")
    assert len(out.splitlines()) == 2 and "ci@example.com" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--email", "admin@example.com", "--password", "another-one"), "user with a given email already exists"),
        (("--email", "new@example.com", "--password", "short"), "password too short"),
        (("--email", "not-an-email", "--password", "long-enough"), "email: not-an-email does not validate as email"),
        (("--email", "new@example.com", "--password", "long-enough", "--role", "NO_SUCH_ROLE"), "role not found: NO_SUCH_ROLE"),
    ],
)
def test_create_errors_are_one_line(run: Callable[..., tuple[int, str, str]], args: tuple[str, ...], error: str) -> None:
    assert run("create", "--email", "admin@example.com", "--password", "admin-password")[0] == 0
    status, out, err = run("create", *args)
    assert status == 1
    assert out == ""
    assert err == f"menderlite: error: {error}\n"


def test_set_password(run: Callable[..., tuple[int, str, str]], tmp_path: Path, config_file: Path) -> None:
    run("create", "--email", "admin@example.com", "--password", "forgotten-password")
    status, out, _ = run("set-password", "--email", "ADMIN@example.com", "--password", "remembered-password")
    assert status == 0
    assert "admin@example.com" in out
    settings = load(config_file, environ={}, flags={"server": {"data_dir": str(tmp_path / "data")}})

    async def logins() -> tuple[int, int]:
        from aiohttp.test_utils import TestClient, TestServer

        app = create_app(settings)
        async with TestClient(TestServer(app)) as client:
            def basic(password: str) -> dict[str, str]:
                return {"Authorization": "Basic " + base64.b64encode(f"admin@example.com:{password}".encode()).decode()}

            old = (await client.post(LOGIN, headers=basic("forgotten-password"))).status
            new = (await client.post(LOGIN, headers=basic("remembered-password"))).status
        return old, new

    assert asyncio.run(logins()) == (401, 200)
    status, _, err = run("set-password", "--email", "nobody@example.com", "--password", "whatever-1")
    assert status == 1 and err == "menderlite: error: user not found\n"
    status, _, err = run("set-password", "--email", "admin@example.com", "--password", "short")
    assert status == 1 and err == "menderlite: error: password too short\n"


def test_set_password_revokes_the_users_tokens(make_settings: Callable[..., Any], run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        from aiohttp.test_utils import TestClient, TestServer

        app = create_app(make_settings())
        async with TestClient(TestServer(app)) as client:
            await app[CONTEXT].useradm.create_user("", "ops@example.com", "first-password")
            credentials = base64.b64encode(b"ops@example.com:first-password").decode()
            token = await (await client.post(LOGIN, headers={"Authorization": f"Basic {credentials}"})).text()
            # The CLI is another process in real life: another event loop and database connection here.
            status = await asyncio.to_thread(run, "set-password", "--email", "ops@example.com", "--password", "second-password")
            answer = await client.get("/api/management/v1/useradm/users", headers={"Authorization": f"Bearer {token}"})
            return status[0], answer.status

    assert asyncio.run(scenario()) == (0, 401)


def test_password_from_standard_input(tmp_path: Path, config_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "menderlite", "user", "create", "--config", str(config_file), "--data-dir", str(tmp_path / "d"),
         "--email", "stdin@example.com", "--password", "-"],
        input="password-from-stdin\n", capture_output=True, text=True, timeout=60, env=server_environment(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(uuid.uuid5(uuid.NAMESPACE_OID, "stdin@example.com"))
    assert "password-from-stdin" not in result.stderr


def test_missing_arguments_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["user", "create", "--data-dir", str(tmp_path), "--email", "x@example.com"])
    assert exit_info.value.code == 2


async def test_startup_warns_when_there_is_no_user(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        app = create_app(make_settings())
        await aiohttp_client(app)
    assert "menderlite user create --email EMAIL --password PASSWORD" in caplog.text
    caplog.clear()
    await app[CONTEXT].useradm.create_user("", "first@example.com", "first-password")
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        await aiohttp_client(create_app(make_settings()))
    assert "menderlite user create" not in caplog.text
