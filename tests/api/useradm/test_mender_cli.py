"""The real Debian `mender-cli login` against a real `menderlite serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tests.support.server import server_environment, start_server

pytestmark = pytest.mark.e2e

MENDER_CLI = shutil.which("mender-cli") or "/usr/bin/mender-cli"


def require_mender_cli() -> None:
    if not os.access(MENDER_CLI, os.X_OK):
        if os.environ.get("MENDERLITE_E2E_REQUIRED") == "1":
            pytest.fail(f"mender-cli not found at {MENDER_CLI} and MENDERLITE_E2E_REQUIRED=1")
        pytest.skip(f"mender-cli not installed ({MENDER_CLI}): install the Debian package mender-cli to run this test")


def api(url: str, token: str, method: str = "GET", body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def enable_two_factor(server_url: str, token: str) -> pyotp.TOTP:
    useradm = f"{server_url}/api/management/v1/useradm"
    api(f"{useradm}/settings", token, "POST", {"2fa": "enabled"})
    otpauth = api(f"{useradm}/2faqr", token)["url"]  # type: ignore[index]
    totp = pyotp.TOTP(parse_qs(urlsplit(otpauth).query)["secret"][0])
    api(f"{useradm}/2faverify", token, "PUT", {"token2fa": totp.now()})
    return totp


def test_mender_cli_login(tmp_path: Path, shared_keys: dict[str, Path]) -> None:
    require_mender_cli()
    env = {
        "MENDERLITE_USERADM_BCRYPT_ROUNDS": "4",
        "MENDERLITE_KEYS_JWT_PRIVATE_KEY": str(shared_keys["jwt_private_key"]),
        "MENDERLITE_KEYS_URL_SECRET": str(shared_keys["url_secret"]),
    }
    data_dir = tmp_path / "data"
    server = start_server(data_dir, env=env)
    try:
        assert "menderlite user create --email EMAIL --password PASSWORD" in server.log  # no user yet

        created = subprocess.run(
            [sys.executable, "-m", "menderlite", "user", "create", "--data-dir", str(data_dir), "--email", "admin@example.com", "--password", "right-password"],
            capture_output=True, text=True, timeout=60, env=server_environment(env),
        )
        assert created.returncode == 0, created.stderr

        home, cache, workdir = tmp_path / "home", tmp_path / "cache", tmp_path / "work"
        for directory in (home, cache, workdir):
            directory.mkdir()
        cli_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_CACHE_HOME": str(cache)}

        def mender_cli_login(password: str, *extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [MENDER_CLI, "--server", server.url, "login", "--username", "admin@example.com", "--password", password, *extra],
                capture_output=True, text=True, timeout=60, env=cli_env, cwd=workdir,
            )

        good = mender_cli_login("right-password")
        assert good.returncode == 0, good.stdout + good.stderr
        assert "login successful" in good.stdout + good.stderr
        token = (cache / "mender" / "authtoken").read_bytes()
        assert token.count(b".") == 2 and not token.endswith(b"\n") and not token.startswith(b'"')

        request = urllib.request.Request(f"{server.url}/api/management/v1/useradm/users", headers={"Authorization": f"Bearer {token.decode()}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert [user["email"] for user in json.load(response)] == ["admin@example.com"]

        bad = mender_cli_login("wrong-password")
        assert bad.returncode != 0
        assert "login failed with status 401" in bad.stdout + bad.stderr

        # With two-factor login on, `--2fa-code` carries the current code.
        totp = enable_two_factor(server.url, token.decode())
        without_code = mender_cli_login("right-password")
        assert without_code.returncode != 0 and "login failed with status 401" in without_code.stdout + without_code.stderr
        with_code = mender_cli_login("right-password", "--2fa-code", totp.at(time.time() + 30))
        assert with_code.returncode == 0, with_code.stdout + with_code.stderr
    finally:
        server.stop()
    assert "right-password" not in server.log and "wrong-password" not in server.log
    assert token.decode() not in server.log
