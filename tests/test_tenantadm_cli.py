"""`menderlite tenant create|list|show|suspend|activate`, in-process and (once) as a real process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from menderlite.cli import main
from menderlite.config import load
from tests.support.cli import write_test_config
from tests.support.server import server_environment

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config_file(tmp_path: Path, shared_keys: dict[str, Path]) -> Path:
    return write_test_config(tmp_path / "menderlite.toml", shared_keys)


@pytest.fixture
def run(tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.delenv("MENDERLITE_E2E_REQUIRED", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        status = main(["tenant", args[0], "--config", str(config_file), "--data-dir", str(tmp_path / "data"), *args[1:]])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return invoke


def create(run: Run, name: str = "Acme", email: str = "admin@acme.example", *extra: str) -> str:
    status, out, err = run("create", "--name", name, "--username", email, "--password", "acme-password", *extra)
    assert status == 0, err
    return out.strip()


def test_create_prints_the_id_and_show_prints_the_tenant(run: Run) -> None:
    tenant_id = create(run, "Acme", "admin@acme.example", "--plan", "professional")
    assert len(tenant_id) == 24 and int(tenant_id, 16) >= 0
    status, out, _ = run("show", tenant_id)
    assert status == 0
    tenant = json.loads(out)
    assert (tenant["id"], tenant["name"], tenant["status"], tenant["plan"]) == (tenant_id, "Acme", "active", "professional")
    claims = jwt.decode(tenant["tenant_token"], options={"verify_signature": False})
    assert claims["mender.tenant"] == claims["sub"] == tenant_id


def test_list_suspend_activate(run: Run) -> None:
    first = create(run, "Acme", "admin@acme.example")
    second = create(run, "Bolt", "admin@bolt.example")
    status, out, _ = run("list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["ID", "STATUS", "PLAN", "NAME"]
    assert [line.split() for line in lines[1:]] == [[first, "active", "os", "Acme"], [second, "active", "os", "Bolt"]]
    status, out, _ = run("suspend", first)
    assert status == 0 and "suspended" in out
    assert json.loads(run("show", first)[1])["status"] == "suspended"
    status, out, _ = run("activate", first)
    assert status == 0
    assert json.loads(run("show", first)[1])["status"] == "active"


def test_the_admin_can_log_in_with_the_tenant_in_the_token(run: Run, tmp_path: Path, config_file: Path) -> None:
    tenant_id = create(run)
    from menderlite.app import CONTEXT, create_app

    settings = load(config_file, environ={}, flags={"server": {"data_dir": str(tmp_path / "data")}})

    async def log_in() -> str:
        ctx = create_app(settings)[CONTEXT]
        try:
            return await ctx.useradm.login("admin@acme.example", "acme-password")
        finally:
            await ctx.useradm.close()
            await ctx.db.close()

    claims = jwt.decode(asyncio.run(log_in()), options={"verify_signature": False})
    assert claims["mender.tenant"] == tenant_id and claims["mender.plan"] == "os"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("create", "--name", "X", "--username", "admin@acme.example", "--password", "long-enough"), "user with a given email already exists"),
        (("create", "--name", "X", "--username", "new@x.example", "--password", "short"), "password too short"),
        (("create", "--name", "X", "--username", "nonsense", "--password", "long-enough"), "email: nonsense does not validate as email"),
        (("create", "--name", "Caf\u00e9", "--username", "new@x.example", "--password", "long-enough"), "organization: non-ascii characters are not allowed"),
        (("show", "000000000000000000000000"), "tenant not found"),
        (("suspend", "000000000000000000000000"), "tenant not found"),
        (("activate", "000000000000000000000000"), "tenant not found"),
    ],
)
def test_errors_are_one_line_with_status_2(run: Run, args: tuple[str, ...], error: str) -> None:
    create(run)
    status, out, err = run(*args)
    assert status == 2
    assert out == ""
    assert err == f"menderlite: error: {error}\n"


def test_a_bad_plan_is_a_usage_error(run: Run) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("create", "--name", "X", "--username", "a@x.example", "--password", "long-enough", "--plan", "gold")
    assert exit_info.value.code == 2


def test_as_a_process_with_the_password_on_stdin(tmp_path: Path, config_file: Path) -> None:
    command = [sys.executable, "-m", "menderlite", "tenant", "create", "--name", "Piped", "--username", "piped@x.example",
               "--password", "-", "--config", str(config_file), "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(command, input="piped-password\n", capture_output=True, text=True, timeout=60, env=server_environment())
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 24


def test_every_tenant_command_has_help() -> None:
    from tests.test_config import COMMANDS

    expected = {("tenant",), *((("tenant", action)) for action in ("create", "list", "show", "suspend", "activate"))}
    assert expected <= set(COMMANDS)  # test_config runs `--help` on each of them
