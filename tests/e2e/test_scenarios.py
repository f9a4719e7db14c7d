"""Issue 8: the eight user scenarios with the real Debian clients (mender-client 3.4, mender-cli 1.9,
mender-artifact 3.9) against a real `menderlite serve` (see README.md in this folder for the harness).

The servers are shared by the module's tests: every test uses its own artifact and deployment names.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness.api import ManagementApi
from tests.e2e.harness.artifacts import ArtifactFactory, pseudo_random_bytes
from tests.e2e.harness.server import E2EServer

pytestmark = pytest.mark.e2e

ADMIN = ("admin@e2e.example", "correct-horse-battery")
DOWNLOAD = re.compile(r"/download/[0-9a-f-]+")
STATISTICS_KEYS = ("pending", "downloading", "installing", "rebooting", "success", "failure", "noartifact",
                   "already-installed", "aborted", "decommissioned")


def create_admin(server: E2EServer) -> tuple[str, str]:
    created = server.menderlite("user", "create", "--email", ADMIN[0], "--password", ADMIN[1])
    assert created.returncode == 0, created.stderr
    return ADMIN


@pytest.fixture(scope="module")
def management(server: E2EServer) -> ManagementApi:
    return ManagementApi.login(server.http(), *create_admin(server))


@pytest.fixture(scope="module")
def tls_management(tls_server: E2EServer) -> ManagementApi:
    return ManagementApi.login(tls_server.http(), *create_admin(tls_server))


def status_path(deployment_id: str) -> str:
    return f"/api/devices/v1/deployments/device/deployments/{deployment_id}/status"


# --- 1: happy path (over HTTPS with the self-signed certificate) -----------------------------------------------------


def test_happy_path_over_https(tls_server: E2EServer, tls_management: ManagementApi, make_device: Any,
                               make_cli: Any, artifacts: ArtifactFactory) -> None:
    management = tls_management
    mark = tls_server.mark()
    device = make_device(tls_server, artifact_name="happy-v1")
    tls_server.wait_for_request("POST", "/api/devices/v1/authentication/auth_requests", 401, since=mark)

    device_id = management.accept_device(mac=device.mac)
    inventory = management.wait_for_inventory(device_id, device_type="qemux86-64", artifact_name="happy-v1")
    assert inventory["hostname"] == device.name
    assert inventory["mender_client_version"].startswith("3.4")

    artifact = artifacts.single_file("happy-v2", dest_dir=device.dest_dir, content="the new version\n")
    cli = make_cli(tls_server)
    assert cli.login(*ADMIN).rc == 0
    upload = cli.upload(artifact, description="scenario 1")
    assert upload.rc == 0, upload.output
    [uploaded] = [a for a in management.artifacts() if a["name"] == "happy-v2"]
    assert uploaded["description"] == "scenario 1"
    assert uploaded["device_types_compatible"] == ["qemux86-64"]
    assert uploaded["size"] == artifact.stat().st_size

    deployment_id = management.create_deployment("happy", "happy-v2", [device_id])
    device.check_update()
    statistics = management.wait_for_statistics(deployment_id, success=1, timeout=60)
    assert statistics == {**{key: 0 for key in STATISTICS_KEYS}, "success": 1}
    assert device.installed_file("hello.txt").read_text() == "the new version\n"
    deployment = management.wait_for_deployment_status(deployment_id, "finished")
    assert deployment["artifact_name"] == "happy-v2" and deployment["device_count"] == 1
    assert deployment["artifacts"] == [uploaded["id"]] and deployment["finished"] >= deployment["created"]
    [device_deployment] = management.deployment_devices(deployment_id)
    assert (device_deployment["id"], device_deployment["status"], device_deployment["log"]) == (device_id, "success", False)
    # The device fetched the signed link without a token (over HTTPS too), once, in full.
    assert [(r.method, r.status) for r in tls_server.requests(since=mark) if DOWNLOAD.fullmatch(r.path)] == [("GET", 200)]

    management.wait_for_inventory(device_id, artifact_name="happy-v2")
    assert device.show_artifact() == "happy-v2"


# --- 2: failure with log ------------------------------------------------------------------------------------------


def test_failed_install_reports_failure_and_a_readable_log(server: E2EServer, management: ManagementApi, make_device: Any,
                                                           artifacts: ArtifactFactory) -> None:
    device = make_device(server, artifact_name="fail-v1")
    device_id = management.accept_device(mac=device.mac)
    management.upload(artifacts.rootfs_image("fail-v2"))

    deployment_id = management.create_deployment("failing", "fail-v2", [device_id])
    device.check_update()
    management.wait_for_statistics(deployment_id, failure=1, timeout=60)
    management.wait_for_deployment_status(deployment_id, "finished")

    log = management.wait_for_device_log(deployment_id, device_id)
    assert "Artifact Payload type 'rootfs-image' is not supported" in log
    # `<Go UTC time> <level>: <message>` per message, the level as the client sent it (SEMANTICS.md, logs).
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC"
    assert re.match(rf"{timestamp} info: Running Mender client version: 3\.4", log), log[:500]
    assert re.search(rf"^{timestamp} error: .*Artifact Payload type 'rootfs-image' is not supported", log, re.MULTILINE)
    [device_deployment] = management.deployment_devices(deployment_id)
    assert device_deployment["status"] == "failure"
    assert device_deployment["log"] is True
    assert device.show_artifact() == "fail-v1"


# --- 3: abort while installing ---------------------------------------------------------------------------------------


def test_abort_while_installing_tells_the_device_409(server: E2EServer, management: ManagementApi, make_device: Any,
                                                     artifacts: ArtifactFactory) -> None:
    device = make_device(server, artifact_name="abort-v1")
    device_id = management.accept_device(mac=device.mac)
    # The install waits for a file the test creates after the abort: the abort lands during the install, always.
    go = f"{device.dest_dir}/go-abort"
    install = f"for i in $(seq 600); do [ -e {go} ] && exit 0; sleep 0.1; done; exit 1\n"
    management.upload(artifacts.script("abort-v2", install))

    deployment_id = management.create_deployment("aborted", "abort-v2", [device_id])
    device.check_update()
    management.wait_for_statistics(deployment_id, installing=1, timeout=60)
    management.abort(deployment_id)
    (device.files_dir / "go-abort").touch()

    server.wait_for_request("PUT", status_path(deployment_id), 409, timeout=30)
    device.wait_for_log(r"Status report rejected, deployment aborted at the backend")
    deployment = management.wait_for_deployment_status(deployment_id, "finished")
    assert management.statistics(deployment_id)["aborted"] == 1
    assert deployment["status"] == "finished"
    assert [d["status"] for d in management.deployment_devices(deployment_id)] == ["aborted"]
    # The device then reports `failure` (also answered 409) and polls on: nothing more for it to do.
    mark = server.mark()
    device.check_update()
    server.wait_for_request("POST", "/api/devices/v1/deployments/device/deployments/next", 204, since=mark)


# --- 4: already installed ----------------------------------------------------------------------------------------------


def test_deploying_the_installed_artifact_finishes_already_installed(server: E2EServer, management: ManagementApi,
                                                                      make_device: Any, artifacts: ArtifactFactory) -> None:
    device = make_device(server, artifact_name="same-v1")
    device_id = management.accept_device(mac=device.mac)
    management.upload(artifacts.single_file("same-v1", dest_dir=device.dest_dir))
    mark = server.mark()

    deployment_id = management.create_deployment("same", "same-v1", [device_id])
    device.check_update()
    management.wait_for_statistics(deployment_id, already_installed=1, timeout=60)
    management.wait_for_deployment_status(deployment_id, "finished")
    assert [d["status"] for d in management.deployment_devices(deployment_id)] == ["already-installed"]
    assert server.find_requests("GET", DOWNLOAD, since=mark) == []
    assert not device.installed_file("hello.txt").exists()
    assert device.show_artifact() == "same-v1"


# --- 5: resume a broken download ---------------------------------------------------------------------------------------


def test_broken_download_resumes_with_range(server: E2EServer, management: ManagementApi, make_device: Any,
                                            make_proxy: Any, artifacts: ArtifactFactory) -> None:
    proxy = make_proxy(server)
    device = make_device(proxy.url, artifact_name="resume-v1")
    device_id = management.accept_device(mac=device.mac)
    content = pseudo_random_bytes(300_000, "resume")
    artifact = artifacts.single_file("resume-v2", dest_dir=device.dest_dir, filename="big.bin", content=content)
    management.upload(artifact)
    uploaded_size = artifact.stat().st_size
    proxy.cut(DOWNLOAD.pattern, after_bytes=100_000)

    deployment_id = management.create_deployment("resume", "resume-v2", [device_id])
    device.check_update()
    # mender-client 3.4 waits one minute before it resumes a broken download.
    management.wait_for_statistics(deployment_id, success=1, timeout=150)
    assert device.installed_file("big.bin").read_bytes() == content

    downloads = [request for request in proxy.requests if DOWNLOAD.fullmatch(request.path)]
    assert [(r.status, r.cut) for r in downloads] == [(200, True), (206, False)]
    resumed_at = re.fullmatch(r"bytes=(\d+)-", downloads[1].range or "")
    assert resumed_at and 0 < int(resumed_at[1]) <= 100_000, downloads[1]
    # The 206 carried exactly the rest of the file.
    assert downloads[1].bytes_sent == uploaded_size - int(resumed_at[1])
    server.wait_for_request("GET", DOWNLOAD, 206)


# --- 6: two device types, three devices, one deployment -----------------------------------------------------------------


def test_one_deployment_gives_each_device_the_artifact_for_its_type(server: E2EServer, management: ManagementApi,
                                                                     make_device: Any, artifacts: ArtifactFactory) -> None:
    types = ["qemux86-64", "qemux86-64", "raspberrypi4"]
    devices = [make_device(server, device_type=device_type, artifact_name="multi-v1") for device_type in types]
    device_ids = [management.accept_device(mac=device.mac) for device in devices]
    # One artifact per type, both named multi-v2. With mount namespaces every device sees its own work dir at
    # the same dest_dir; in the dispatch fallback, devices sharing an artifact share its dest_dir.
    dest_dirs = {device.device_type: device.dest_dir for device in reversed(devices)}
    uploaded = {device_type: management.upload(artifacts.single_file(
        "multi-v2", dest_dir=dest_dir, device_types=[device_type], content=f"multi-v2 for {device_type}\n"))
        for device_type, dest_dir in dest_dirs.items()}

    deployment_id = management.create_deployment("multi", "multi-v2", device_ids)
    for device in devices:
        device.check_update()
    management.wait_for_statistics(deployment_id, success=3, timeout=90)
    for device in devices:
        installed = (device.installed_file("hello.txt") if device.isolation.mounts_device_root
                     else Path(dest_dirs[device.device_type]) / "hello.txt")
        assert installed.read_text() == f"multi-v2 for {device.device_type}\n"
    deployment = management.wait_for_deployment_status(deployment_id, "finished")
    assert sorted(deployment["artifacts"]) == sorted(uploaded.values()) and deployment["device_count"] == 3
    assert {d["id"]: d["device_type"] for d in management.deployment_devices(deployment_id)} == dict(zip(device_ids, types))
    for device_id in device_ids:
        management.wait_for_inventory(device_id, artifact_name="multi-v2")


# --- 7: mender-cli ----------------------------------------------------------------------------------------------------


def test_mender_cli_login_artifacts_and_devices(server: E2EServer, management: ManagementApi, make_cli: Any,
                                                make_device: Any, artifacts: ArtifactFactory, tmp_path: Path) -> None:
    cli = make_cli(server)
    wrong = cli.login(ADMIN[0], "not-the-password")
    assert wrong.rc != 0
    assert "login failed with status 401" in wrong.output
    assert cli.token is None

    assert cli.login(*ADMIN).rc == 0
    assert cli.token and cli.token == cli.token.strip()

    artifact = artifacts.single_file("cli-v1", dest_dir="/opt/cli")
    upload = cli.upload(artifact, description="from mender-cli")
    assert upload.rc == 0, upload.output
    mark = server.mark()
    again = cli.upload(artifact)  # same name and device type: 409 on the real server too
    assert again.rc != 0, again.output
    server.wait_for_request("POST", "/api/management/v1/deployments/artifacts", 409, since=mark)
    # An artifact with payload meta-data too: mender-cli 1.9 fails on the whole list if it is not an array.
    assert cli.upload(directory_artifact_with_meta_data(artifacts, tmp_path)).rc == 0
    [record] = [a for a in management.artifacts() if a["name"] == "cli-v1"]
    for depth in range(4):
        listed = cli.list_artifacts(depth=depth)
        assert listed.rc == 0, listed.output
        assert "cli-v1" in listed.stdout and "cli-meta-v1" in listed.stdout
    assert record["id"] in cli.list_artifacts(depth=0).stdout
    assert "from mender-cli" in cli.list_artifacts(depth=1).stdout

    deleted = cli.delete_artifact(record["id"])
    assert deleted.rc == 0, deleted.output
    assert all(a["name"] != "cli-v1" for a in management.artifacts())
    assert "cli-v1" not in cli.list_artifacts(depth=3).stdout

    device = make_device(server, start=False)
    assert device.bootstrap().returncode != 0  # pending
    record = management.wait_for_device(status="pending", mac=device.mac)
    devices = cli.list_devices(depth=1)
    assert devices.rc == 0, devices.output
    assert record["id"] in devices.stdout and device.mac in devices.stdout
    assert record["auth_sets"][0]["id"] in cli.list_devices(depth=3).stdout
    raw = cli.list_devices(raw=True)
    assert raw.rc == 0, raw.output
    assert any(d["identity_data"]["mac"] == device.mac and d["status"] == "pending" for d in raw.json())


def directory_artifact_with_meta_data(artifacts: ArtifactFactory, scratch: Path) -> Path:
    payload = scratch / "payload"
    payload.mkdir()
    (payload / "app.txt").write_text("app\n")
    update_tar = scratch / "update.tar"
    with tarfile.open(update_tar, "w") as archive:
        archive.add(payload / "app.txt", arcname="app.txt")
    dest_dir = scratch / "dest_dir"
    dest_dir.write_text("/opt/cli-meta\n")
    meta = scratch / "meta.json"
    meta.write_text(json.dumps({"release": "cli-meta-v1", "parts": [1, 2]}))
    return artifacts.module_image("cli-meta-v1", module_type="directory", files=[update_tar, dest_dir],
                                  extra_args=["-m", str(meta)])


# --- 8: artifacts generated by the server ------------------------------------------------------------------------------


def test_generated_artifact_validates_and_installs(server: E2EServer, management: ManagementApi, make_device: Any,
                                                   artifacts: ArtifactFactory, tmp_path: Path) -> None:
    device = make_device(server, artifact_name="gen-v1")
    device_id = management.accept_device(mac=device.mac)
    payload = pseudo_random_bytes(20_000, "generated")
    artifact_id = management.generate_artifact(
        name="gen-v2", device_types=["qemux86-64"], file_name="app.bin", content=payload,
        args={"dest_dir": device.dest_dir}, description="generated",
    )
    record = management.wait_for_artifact(artifact_id)
    assert record["name"] == "gen-v2"

    downloaded = tmp_path / "gen-v2.mender"
    downloaded.write_bytes(management.download_artifact(artifact_id))
    validation = artifacts.validate(downloaded)
    assert validation.rc == 0, validation.stderr + validation.stdout
    assert "gen-v2" in artifacts.read(downloaded).stdout

    deployment_id = management.create_deployment("generated", "gen-v2", [device_id])
    device.check_update()
    management.wait_for_statistics(deployment_id, success=1, timeout=60)
    assert device.installed_file("app.bin").read_bytes() == payload
