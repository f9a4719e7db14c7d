"""Self-tests of the end-to-end harness: real clients, real isolation, against `menderlite serve` (which on
this branch only answers health checks) or a recording server standing in for the services to come."""

from __future__ import annotations

import http.client as http_client
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import diagnostics
from tests.e2e.harness.api import HttpApi, ManagementApi
from tests.e2e.harness.artifacts import (
    MIN_DOWNLOAD_BYTES,
    ArtifactFactory,
    pseudo_random_bytes,
)
from tests.e2e.harness.clients import REQUIRED_ENV, require_clients
from tests.e2e.harness.device import MenderDevice
from tests.e2e.harness.isolation import (
    ARTIFACT_INFO_TARGET,
    DEVICE_ROOT_MOUNT,
    IDENTITY_TARGET,
    INVENTORY_TARGET,
    DispatchInstallation,
    Isolation,
    IsolationUnavailable,
    Mode,
    probe,
)
from tests.e2e.harness.recorder import (
    AUTH_PATH,
    INVENTORY_PATH,
    NEXT_V2_PATH,
    RecordedRequest,
    RecordingServer,
    Reply,
)

pytestmark = pytest.mark.e2e


# --- harness logic (no clients needed) --------------------------------------------------------------------------


def test_missing_clients_skip_with_a_clear_message() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_clients(environ={}, which=lambda binary: None if binary == "mender-cli" else f"/usr/bin/{binary}")
    assert "missing: mender-cli (mender-cli)" in str(skipped.value)
    assert "apt-get install" in str(skipped.value)


def test_missing_clients_fail_when_e2e_is_required() -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        require_clients(environ={REQUIRED_ENV: "1"}, which=lambda binary: None if binary == "mender" else f"/usr/bin/{binary}")
    assert "missing: mender-client (mender)" in str(failed.value)
    assert f"{REQUIRED_ENV}=1" in str(failed.value)


class FakeLog:
    log_title = "fake process"

    def log_tail(self, lines: int = 60) -> str:
        return "last words of the fake process"


def test_wait_for_returns_the_value_or_fails_with_log_tails() -> None:
    values = iter([None, 0, "ready"])
    assert diagnostics.wait_for(lambda: next(values), what="ready", timeout=5, interval=0.01) == "ready"
    with pytest.raises(pytest.fail.Exception) as failed:
        diagnostics.wait_for(lambda: False, what="the impossible", timeout=0.05, interval=0.01, sources=[FakeLog()])
    message = str(failed.value)
    assert "timed out after 0.05s waiting for the impossible" in message
    assert "----- fake process" in message and "last words of the fake process" in message


def test_dispatch_lock_serializes_runs_and_leaves_nothing_behind(tmp_path: Path) -> None:
    state_dir = tmp_path / "dispatch-state"
    first, second = DispatchInstallation(state_dir=state_dir), DispatchInstallation(state_dir=state_dir, lock_timeout=0.3)
    first._lock()
    with pytest.raises(IsolationUnavailable, match="another test run holds"):
        second._lock()
    first._unlock()
    assert not state_dir.exists()
    second._lock()
    assert (state_dir / "lock").exists()
    second._unlock()
    assert not state_dir.exists()


# --- devices against a recording server ---------------------------------------------------------------------------


def token_for(request: RecordedRequest) -> str:
    """A recording-server 'device token': the device's MAC (no trailing newline: that breaks the client)."""
    return "token-" + json.loads(request.json()["id_data"])["mac"]


def accept_every_device(recorder: RecordingServer) -> None:
    recorder.route("POST", AUTH_PATH, lambda request: Reply(200, token_for(request)))
    recorder.route("PUT", INVENTORY_PATH, Reply(200))
    recorder.route("POST", NEXT_V2_PATH, Reply(204))


def sent_by(device: MenderDevice) -> Callable[[RecordedRequest], bool]:
    """Matches the auth requests of `device` (by the identity data it sends)."""
    return lambda request: bool(request.json()["id_data"] == device.id_data)


def inventory_of(recorder: RecordingServer, device: MenderDevice) -> dict[str, Any] | None:
    """The latest inventory the device sent (attributes as a dict), None before the first one."""
    token = f"Bearer token-{device.mac}"
    sent = [request for request in recorder.find("PUT", INVENTORY_PATH) if request.headers.get("Authorization") == token]
    return {item["name"]: item["value"] for item in sent[-1].json()} if sent else None


def test_devices_side_by_side_have_their_own_identity_inventory_and_artifact_info(
    make_device: Any, recorder: RecordingServer, isolation: Isolation
) -> None:
    accept_every_device(recorder)
    names = ("first-v1", "second-v1") if isolation.per_device_artifact_info else ("shared-v1", "shared-v1")
    first = make_device(recorder, device_type="qemux86-64", artifact_name=names[0], inventory={"colour": "red", "tags": ["a", "b"]})
    second = make_device(recorder, device_type="raspberrypi4", artifact_name=names[1], inventory={"colour": "blue"})

    for device in (first, second):
        auth = recorder.wait_for_request("POST", AUTH_PATH, sent_by(device))
        assert auth.headers["X-MEN-Signature"]
        assert auth.json()["pubkey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert first.id_data != second.id_data
    assert json.loads(first.id_data) == {"mac": first.mac, "serial": first.name}

    first_inventory = first.wait_for(lambda: inventory_of(recorder, first), what="inventory at the recorder")
    second_inventory = second.wait_for(lambda: inventory_of(recorder, second), what="inventory at the recorder")
    assert (first_inventory["device_type"], first_inventory["artifact_name"]) == ("qemux86-64", names[0])
    assert (second_inventory["device_type"], second_inventory["artifact_name"]) == ("raspberrypi4", names[1])
    assert (first_inventory["colour"], first_inventory["tags"], second_inventory["colour"]) == ("red", ["a", "b"], "blue")


def test_one_shot_commands_run_in_the_device_isolation(make_device: Any, recorder: RecordingServer) -> None:
    device = make_device(recorder, start=False, artifact_name="one-shot-v7", device_type="beaglebone")
    assert device.show_artifact() == "one-shot-v7"
    assert device.show_provides() == {}  # provides live in the data store, filled by the first update


def serve_one_deployment(
    recorder: RecordingServer, artifact: Path, artifact_name: str, device_type: str, logs: list[Any] | None = None
) -> list[str]:
    """Make the recorder hand out one deployment of `artifact`; returns the list the statuses are reported to
    (and appends uploaded deployment logs to `logs`)."""
    statuses: list[str] = []
    handed_out = threading.Event()
    instructions = {
        "id": "deployment-1",
        "artifact": {"id": "artifact-1", "artifact_name": artifact_name, "device_types_compatible": [device_type],
                     "source": {"uri": f"{recorder.url}/download/artifact-1", "expire": "2099-01-01T00:00:00Z"}},
    }

    def next_deployment(request: RecordedRequest) -> Reply:
        if handed_out.is_set():
            return Reply(204)
        handed_out.set()
        return Reply(200, instructions)

    def status(request: RecordedRequest) -> Reply:
        statuses.append(request.json()["status"])
        return Reply(204)

    recorder.route("POST", NEXT_V2_PATH, next_deployment)
    recorder.route("GET", "/download/artifact-1", Reply(200, artifact.read_bytes()))
    recorder.route("PUT", "/api/devices/v1/deployments/device/deployments/deployment-1/status", status)
    def log(request: RecordedRequest) -> Reply:
        if logs is not None:
            logs.append(request.json())
        return Reply(204)

    recorder.route("PUT", "/api/devices/v1/deployments/device/deployments/deployment-1/log", log)
    return statuses


def test_device_installs_a_single_file_artifact_into_its_work_dir(
    make_device: Any, recorder: RecordingServer, artifacts: ArtifactFactory
) -> None:
    accept_every_device(recorder)
    device = make_device(recorder, start=False)
    artifact = artifacts.single_file("harness-install-v2", dest_dir=device.dest_dir, content="installed by the harness\n")
    statuses = serve_one_deployment(recorder, artifact, "harness-install-v2", device.device_type)
    device.start()

    device.wait_for(lambda: "success" in statuses or "failure" in statuses, what="the deployment to finish", timeout=60)
    assert statuses[-1] == "success", statuses
    assert device.installed_file("hello.txt").read_text() == "installed by the harness\n"
    if device.isolation.mounts_device_root:
        assert not (DEVICE_ROOT_MOUNT / "files" / "hello.txt").exists(), "the install leaked onto the host"
    device.wait_for(lambda: (inventory_of(recorder, device) or {}).get("artifact_name") == "harness-install-v2",
                    what="inventory with the new artifact name")
    device.stop()
    assert device.show_artifact() == "harness-install-v2"
    assert device.show_provides()["rootfs-image.single-file.version"] == "harness-install-v2"


def test_rootfs_image_fails_on_a_simulated_device_and_the_log_is_uploaded(
    make_device: Any, recorder: RecordingServer, artifacts: ArtifactFactory
) -> None:
    accept_every_device(recorder)
    device = make_device(recorder, start=False)
    logs: list[Any] = []
    statuses = serve_one_deployment(recorder, artifacts.rootfs_image("harness-rootfs-v2"), "harness-rootfs-v2", device.device_type, logs)
    device.start()
    device.wait_for(lambda: logs, what="the deployment log upload", timeout=60)
    assert statuses[-1] == "failure"
    messages = [entry["message"] for entry in logs[0]["messages"]]
    assert any("Artifact Payload type 'rootfs-image' is not supported" in message for message in messages), messages


def test_script_artifact_runs_on_the_device(make_device: Any, recorder: RecordingServer, artifacts: ArtifactFactory) -> None:
    accept_every_device(recorder)
    device = make_device(recorder, start=False)
    artifact = artifacts.script("harness-script-v1", f"mkdir -p {device.dest_dir} && echo ran > {device.dest_dir}/trace\n")
    statuses = serve_one_deployment(recorder, artifact, "harness-script-v1", device.device_type)
    device.start()
    device.wait_for(lambda: statuses and statuses[-1] in ("success", "failure"), what="the deployment to finish", timeout=60)
    assert statuses[-1] == "success"
    assert device.installed_file("trace").read_text() == "ran\n"


def test_dispatch_fallback_isolates_devices_without_namespaces(
    tmp_path: Path, mender_clients: Any, isolation: Isolation, recorder: RecordingServer
) -> None:
    """The fallback for machines without mount namespaces, exercised even where namespaces work."""
    if isolation.mode is not Mode.DISPATCH and probe(Mode.DISPATCH) is not None:
        pytest.skip(f"dispatch isolation is not possible here: {probe(Mode.DISPATCH)}")
    before = {path: path.read_bytes() if path.exists() else None for path in (IDENTITY_TARGET, INVENTORY_TARGET, ARTIFACT_INFO_TARGET)}
    installation = isolation.dispatch or DispatchInstallation()  # its lock serializes parallel test runs
    fallback = isolation if isolation.mode is Mode.DISPATCH else Isolation(Mode.DISPATCH, installation)
    if isolation.mode is not Mode.DISPATCH:
        installation.install()
    accept_every_device(recorder)
    device = MenderDevice(tmp_path / "device", recorder.url, clients=mender_clients, isolation=fallback, artifact_name="dispatched-v1",
                          inventory={"colour": "green"})
    try:
        device.start()
        inventory = device.wait_for(lambda: inventory_of(recorder, device), what="inventory at the recorder")
        assert (inventory["artifact_name"], inventory["colour"]) == ("dispatched-v1", "green")
        assert recorder.find("POST", AUTH_PATH)[0].json()["id_data"] == device.id_data
        assert device.dest_dir == str(device.files_dir)
    finally:
        device.close()
        if isolation.mode is not Mode.DISPATCH:
            installation.uninstall()
    assert device.leftover_processes() == []
    if isolation.mode is not Mode.DISPATCH:
        after = {path: path.read_bytes() if path.exists() else None for path in before}
        assert after == before, "dispatch mode did not restore the host files"
        assert not (installation.state_dir / "state.json").exists()


# --- devices against menderlite serve ----------------------------------------------------------------------------


def test_device_requests_reach_menderlite(make_device: Any, server: Any) -> None:
    since = server.mark()
    device = make_device(server)
    entry = server.wait_for_request("POST", AUTH_PATH, since=since)
    assert entry.status == 401  # a new device is pending until a user accepts it
    assert device.running


def test_bootstrap_is_refused_by_a_server_that_does_not_accept_the_device(make_device: Any, server: Any) -> None:
    since = server.mark()
    device = make_device(server, start=False)
    result = device.bootstrap()
    assert result.returncode != 0
    server.wait_for_request("POST", AUTH_PATH, since=since)


def test_stop_leaves_no_process_behind(make_device: Any, server: Any) -> None:
    since = server.mark()
    device = make_device(server)
    server.wait_for_request("POST", AUTH_PATH, since=since)
    pid = device.pid
    assert device.leftover_processes() == [pid]
    device.send_inventory()  # signals are handled, not fatal
    assert device.running
    assert device.stop() == 0  # a clean exit on SIGTERM, not a kill
    assert not device.running
    assert device.leftover_processes() == []
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_device_trusting_the_self_signed_certificate_connects(make_device: Any, tls_server: Any) -> None:
    since = tls_server.mark()
    device = make_device(tls_server)
    assert device.config["ServerCertificate"] == str(tls_server.data_dir / "tls" / "server.crt")
    tls_server.wait_for_request("POST", AUTH_PATH, since=since)


def test_device_without_the_certificate_is_refused(make_device: Any, tls_server: Any) -> None:
    since = tls_server.mark()
    device = make_device(tls_server, trust_server=False)
    device.wait_for_log(r"Failed to authorize with .*(self-signed certificate|certificate verify failed|x509)")
    assert tls_server.find_requests("POST", AUTH_PATH, since=since) == []


def test_device_through_the_fault_proxy_reaches_menderlite(make_device: Any, server: Any, make_proxy: Any) -> None:
    proxy = make_proxy(server)
    since = server.mark()
    make_device(proxy.url)
    server.wait_for_request("POST", AUTH_PATH, since=since)
    assert proxy.requests[0].path == AUTH_PATH


# --- the fault proxy ---------------------------------------------------------------------------------------------------


def test_fault_proxy_forwards_unchanged_and_cuts_or_throttles_matching_responses(recorder: RecordingServer, make_proxy: Any) -> None:
    payload = pseudo_random_bytes(200_000, "proxy")

    def download(request: RecordedRequest) -> Reply:
        if request.headers.get("Range"):
            start = int(request.headers["Range"].removeprefix("bytes=").split("-")[0])
            content_range = f"bytes {start}-{len(payload) - 1}/{len(payload)}"
            return Reply(206, payload[start:], headers={"Content-Range": content_range})
        return Reply(200, payload)

    recorder.route("GET", "/download/blob", download)
    recorder.route("POST", "/echo", lambda request: Reply(201, request.body, headers={"X-Seen-Host": request.headers["Host"]}))
    proxy = make_proxy(recorder)
    proxy.cut(r"/download/.*", after_bytes=50_000)
    http = HttpApi(proxy.url)

    with pytest.raises(http_client.IncompleteRead) as cut:
        http.get("/download/blob")
    assert len(cut.value.partial) == 50_000
    assert http.get("/download/blob").body == payload  # cut once only
    resumed = http.get("/download/blob", headers={"Range": "bytes=50000-"}).expect(206)
    assert resumed.body == payload[50_000:] and resumed.headers["Content-Range"] == f"bytes 50000-199999/{len(payload)}"
    echoed = http.post("/echo", data=b"signed bytes\n", headers={"Content-Type": "application/json"}).expect(201)
    assert echoed.body == b"signed bytes\n"
    assert echoed.headers["X-Seen-Host"] == proxy.url.removeprefix("http://")  # links built from Host lead back here
    assert [(r.status, r.range, r.cut) for r in proxy.requests[:3]] == [(200, None, True), (200, None, False), (206, "bytes=50000-", False)]

    proxy.throttle(r"/download/.*", bytes_per_second=400_000)
    started = time.monotonic()
    assert http.get("/download/blob").body == payload
    assert time.monotonic() - started >= 0.4  # 200 kB at 400 kB/s: a lower bound, never flaky


# --- mender-artifact and mender-cli ------------------------------------------------------------------------------


def test_artifact_helpers_make_valid_cached_artifacts(artifacts: ArtifactFactory) -> None:
    single = artifacts.single_file("harness-single-v1", dest_dir="/mnt/files", device_types=["qemux86-64", "raspberrypi4"])
    rootfs = artifacts.rootfs_image("harness-rootfs-v1")
    for artifact in (single, rootfs):
        assert artifacts.validate(artifact).rc == 0, artifacts.validate(artifact)
        assert artifact.stat().st_size >= MIN_DOWNLOAD_BYTES
    single_info, rootfs_info = artifacts.read(single).stdout, artifacts.read(rootfs).stdout
    assert "harness-single-v1" in single_info and "single-file" in single_info and "raspberrypi4" in single_info
    assert "harness-rootfs-v1" in rootfs_info and "rootfs-image" in rootfs_info
    assert artifacts.single_file("harness-single-v1", dest_dir="/mnt/files", device_types=["qemux86-64", "raspberrypi4"]) == single
    assert artifacts.single_file("harness-single-v1", dest_dir="/mnt/other") != single


def test_cli_reports_a_failed_login(make_cli: Any, server: Any) -> None:
    cli = make_cli(server)
    result = cli.login("admin@e2e.example", "correct-horse-battery")
    assert result.rc != 0
    assert "login failed with status 401" in result.stderr
    assert cli.token is None
    server.wait_for_request("POST", "/api/management/v1/useradm/auth/login", 401)


def test_cli_over_https_needs_the_certificate(make_cli: Any, tls_server: Any) -> None:
    trusting = make_cli(tls_server).login("admin@e2e.example", "correct-horse-battery")
    assert "login failed with status 401" in trusting.stderr  # the TLS handshake worked (no such user)
    untrusting = make_cli(tls_server, trust_server=False).login("admin@e2e.example", "correct-horse-battery")
    assert untrusting.rc != 0 and "certificate" in untrusting.output
    skipping = make_cli(tls_server, trust_server=False, skip_verify=True).login("admin@e2e.example", "correct-horse-battery")
    assert "login failed with status 401" in skipping.stderr


def test_management_api_helpers_send_the_documented_requests(recorder: RecordingServer) -> None:
    recorder.route("POST", "/api/management/v1/useradm/auth/login", Reply(200, "user-jwt"))
    pending_device = {"id": "d1", "status": "pending", "identity_data": {"mac": "02:00:00:00:00:01"},
                      "auth_sets": [{"id": "a1", "status": "pending"}]}
    recorder.route("GET", "/api/management/v2/devauth/devices", Reply(200, [pending_device]))
    recorder.route("PUT", "/api/management/v2/devauth/devices/d1/auth/a1/status", Reply(204))
    recorder.route("POST", "/api/management/v1/deployments/deployments", Reply(201, headers={"Location": "./deployments/dep-9"}))
    recorder.route("GET", "/api/management/v1/deployments/deployments/dep-9/statistics", Reply(200, {"success": 1, "already-installed": 0}))

    management = ManagementApi.login(HttpApi(recorder.url), "admin@e2e.example", "secret-password")
    assert management.accept_device(mac="02:00:00:00:00:01") == "d1"
    assert management.create_deployment("rollout", "app-v2", ["d1"]) == "dep-9"
    assert management.wait_for_statistics("dep-9", success=1, already_installed=0)["success"] == 1

    login, listing, accept, create, _ = recorder.requests
    assert login.headers["Authorization"].startswith("Basic ")
    assert listing.headers["Authorization"] == "Bearer user-jwt"
    assert accept.json() == {"status": "accepted"}
    assert create.json() == {"name": "rollout", "artifact_name": "app-v2", "devices": ["d1"]}
