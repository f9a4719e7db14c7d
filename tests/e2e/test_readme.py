"""The README's "Connect a real device" section, run as written: its workstation commands (mender-cli, curl,
mender-artifact) against `menderlite serve --tls-self-signed` and a real mender-client, so the documented
commands keep working.

Each ```sh block runs in its own `bash -euo pipefail`, in one scratch directory, with the shell variables the
earlier blocks set. The test fills in what a reader would type from the output: the lines assigning SERVER,
DEVICE_ID, AUTH_ID and DEPLOYMENT_ID get the real values, and the example destination directory becomes the
simulated device's. Only the device-side block (files on the device, systemctl) is not run here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness.api import ManagementApi
from tests.e2e.harness.clients import unavailable
from tests.e2e.harness.diagnostics import wait_for
from tests.e2e.harness.server import E2EServer

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Connect a real device"
# The README's First steps create this user; the section logs in with it.
README_USER = ("admin@example.com", "a-long-password")
README_DEST_DIR = "/opt/hello"
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    heading: str
    language: str
    code: str


def section_blocks() -> list[Block]:
    """The fenced code blocks of the section, with the ### heading each is under."""
    text = README.read_text()
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + len(SECTION) + 2)
    section = text[start:end if end >= 0 else len(text)]
    blocks = []
    for match in _FENCE.finditer(section):
        headings = re.findall(r"^### (.+)$", section[: match.start()], re.MULTILINE)
        blocks.append(Block(headings[-1] if headings else "", match[1], match[2]))
    return blocks


class ShellSession:
    """Runs README blocks one after the other in bash, carrying the shell variables they set."""

    def __init__(self, work_dir: Path, environment: dict[str, str], variables: list[str]) -> None:
        self.work_dir = work_dir
        self.environment = environment
        self.variables = variables
        self.state = work_dir / ".readme-state.sh"
        self.state.write_text("")
        self.transcript: list[str] = []

    def run(self, code: str, assignments: dict[str, str] | None = None, timeout: float = 120) -> str:
        """Run `code` after the state of the earlier blocks; lines assigning one of `assignments` get its
        value instead of the README's example. Fails the test with the output if the block fails."""
        for name, value in (assignments or {}).items():
            code, count = re.subn(rf"^{name}=\S*", f"{name}={shlex.quote(value)}", code, flags=re.MULTILINE)
            assert count == 1, f"the README block does not assign {name} once:\n{code}"
        script = f"source {shlex.quote(str(self.state))}\n{code}\ndeclare -p {' '.join(self.variables)} > {shlex.quote(str(self.state))} 2>/dev/null || true\n"
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.work_dir, env=self.environment,
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        output = result.stdout + result.stderr
        self.transcript.append(f"$ {code}\n{output}")
        assert result.returncode == 0, f"README block failed (rc {result.returncode}):\n{code}\n--- output ---\n{output}"
        return output


@pytest.fixture(scope="module")
def readme_management(tls_server: E2EServer) -> ManagementApi:
    created = tls_server.menderlite("user", "create", "--email", README_USER[0], "--password", README_USER[1])
    assert created.returncode == 0, created.stderr
    return ManagementApi.login(tls_server.http(), *README_USER)


def test_readme_section_commands_work(tls_server: E2EServer, readme_management: ManagementApi, make_device: Any,
                                      tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        unavailable("the README's commands need curl (apt-get install curl)")
    management = readme_management
    blocks = section_blocks()
    [config_block] = [block for block in blocks if block.language == "json"]
    device_side, *workstation = [block for block in blocks if block.language == "sh"]
    assert "systemctl restart mender-client" in device_side.code
    login, accept, upload, generate, deploy, follow, abort = (block.code for block in workstation)

    # The device, configured with the keys the README documents (its values point at this server).
    documented = json.loads(config_block.code)
    device = make_device(tls_server, device_type="raspberrypi4", artifact_name="release-1")
    assert set(documented) <= set(device.config), f"README mender.conf keys unknown to a working device: {documented}"
    pending = management.wait_for_device(status="pending", mac=device.mac)

    work = tmp_path / "workstation"
    (work / "home").mkdir(parents=True)
    assert tls_server.cafile is not None
    shutil.copy(tls_server.cafile, work / "server.crt")  # the README's `$PWD/server.crt`
    environment = {key: value for key, value in os.environ.items()
                   if key not in {"XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE"}}
    environment["HOME"] = str(work / "home")
    variables = sorted({name for block in workstation for name in _ASSIGNMENT.findall(block.code)}
                       | {"SSL_CERT_FILE", "CURL_CA_BUNDLE"})
    shell = ShellSession(work, environment, variables)

    # 2. Accept it: log in, list the pending device, accept it through the API.
    listed = shell.run(login, {"SERVER": tls_server.url})
    auth_id = pending["auth_sets"][0]["id"]
    assert pending["id"] in listed and auth_id in listed and "pending" in listed
    shell.run(accept, {"DEVICE_ID": pending["id"], "AUTH_ID": auth_id})
    management.wait_for_inventory(pending["id"], device_type="raspberrypi4", artifact_name="release-1")

    # 3. Upload (made with mender-artifact, uploaded with mender-cli; and one generated by the server), deploy.
    dest_dir = device.dest_dir
    assert "hello-1.0" in shell.run(upload.replace(README_DEST_DIR, dest_dir))
    shell.run(generate.replace(README_DEST_DIR, dest_dir))
    generated = wait_for(lambda: [a for a in management.artifacts() if a["name"] == "hello-config-1.0"],
                         what="the generated artifact hello-config-1.0")
    location = re.search(r"^Location: .*/([0-9a-f-]{36})\s*$", shell.run(deploy), re.MULTILINE | re.IGNORECASE)
    assert location, "the deployment answer has no Location header ending with the deployment ID"
    deployment_id = location[1]

    device.check_update()
    management.wait_for_statistics(deployment_id, success=1, timeout=60)
    assert device.installed_file("hello.txt").read_text() == "hello from menderlite\n"
    followed = shell.run(follow, {"DEPLOYMENT_ID": deployment_id})
    assert '"status":"finished"' in followed.replace(" ", "") and '"success":1' in followed.replace(" ", "")

    # Abort: a deployment of the generated artifact to a device that never asks for it stays open until aborted.
    open_deployment = management.create_deployment("readme abort", generated[0]["name"], [str(uuid.uuid4())])
    shell.run(f"DEPLOYMENT_ID={open_deployment}\n{abort}")
    assert management.deployment(open_deployment)["status"] == "finished"
