"""The real `mender-client` (Debian package) authenticating against the app: pending, then accepted.

The client runs its identity script from the fixed path /usr/share/mender/identity/; the test bind-mounts a
temporary directory there inside a private mount namespace (`unshare --mount`), so the host stays unchanged.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization

from menderlite.context import Context

pytestmark = pytest.mark.e2e

MENDER = "/usr/bin/mender"
IDENTITY = {"mac": "02:12:34:56:78:9a", "serial": "e2e-device-1"}


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("MENDERLITE_E2E_REQUIRED") == "1":
        pytest.fail(f"{reason} (MENDERLITE_E2E_REQUIRED=1)")
    pytest.skip(reason)


def mount_namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount --bind /tmp /mnt"],
        capture_output=True, timeout=30,
    )
    return probe.returncode == 0


@pytest.fixture
def device_dir(tmp_path: Path) -> Path:
    """The simulated device's files: identity script, data directory (keys, store), config."""
    require(Path(MENDER).exists(), f"{MENDER} is missing: apt-get install mender-client")
    require(mount_namespaces_work(), "cannot bind-mount in a private mount namespace (unshare --mount needs root)")
    root = tmp_path / "device"
    share = root / "share"
    (share / "identity").mkdir(parents=True)
    (share / "inventory").mkdir()
    script = share / "identity" / "mender-device-identity"
    script.write_text("#!/bin/sh\n" + "".join(f"echo {key}={value}\n" for key, value in IDENTITY.items()))
    script.chmod(0o755)
    data = root / "data"
    data.mkdir()
    (data / "device_type").write_text("device_type=qemux86-64\n")
    return root


async def bootstrap(device_dir: Path, server_url: str) -> tuple[int, str]:
    config = device_dir / "mender.conf"
    config.write_text(
        '{"ServerURL": "%s", "UpdatePollIntervalSeconds": 5, "InventoryPollIntervalSeconds": 5,'
        ' "RetryPollIntervalSeconds": 5, "DBus": {"Enabled": false}}' % server_url
    )
    command = (
        f"mount --bind {device_dir / 'share'} /usr/share/mender && "
        f"exec {MENDER} --no-syslog -c {config} -b /nonexistent -d {device_dir / 'data'} bootstrap"
    )
    process = await asyncio.create_subprocess_exec(
        "unshare", "--mount", "--propagation", "private", "sh", "-c", command,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode or 0, output.decode(errors="replace")


async def test_real_client_goes_pending_then_bootstraps_once_accepted(client: TestClient, ctx: Context, device_dir: Path) -> None:
    server_url = f"http://127.0.0.1:{client.port}"
    status, log = await bootstrap(device_dir, server_url)
    assert status == 1, log
    assert "dev auth: unauthorized" in log  # our 401 body, as the client logs it

    devices, _ = await ctx.devauth.list_devices("")
    assert len(devices) == 1, log
    [device] = devices
    assert device.status == "pending"
    assert device.identity_data == IDENTITY
    # The client signed with the RSA 3072 key it generated; we stored exactly its public half.
    private = serialization.load_pem_private_key((device_dir / "data" / "mender-agent.pem").read_bytes(), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    [auth_set] = device.auth_sets
    assert auth_set.pubkey == public_pem
    assert private.key_size == 3072  # type: ignore[union-attr]

    await ctx.devauth.set_auth_set_status("", device.id, auth_set.id, "accepted")
    status, log = await bootstrap(device_dir, server_url)
    assert status == 0, log
    assert "successfully received new authorization data" in log
