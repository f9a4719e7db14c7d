"""A fleet rolling out one small artifact through a real `menderlite serve`.

    python -m bench.rollout [--quick] [--devices N] [--poll-interval S]

Starts the server, admits N simulated devices (default 10,000, --quick 200; Ed25519 keys, preauthorized and
authenticated over HTTP: real device JWTs), uploads small single-file artifacts and, for each poll interval
(a realistic and an aggressive one, or only --poll-interval), creates one deployment to every device and
lets the devices do what mender-client does: check for an update every interval (POST .../next, the first
check at a random point of the first interval), download the artifact from the signed link, report
downloading, installing and success. Reports the rollout's wall time (deployment creation to the last
success), errors (must be 0), and the server's CPU time per device rolled out; then every device checks in
again and again with nothing to do (the hottest request of the server) to measure the server CPU time per
check-in. The devices run in a separate process (this script's worker), loopback only, with a bounded
number of connections and a time limit per rollout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from bench.artifacts import management_token, upload
from bench.common import cpu_seconds, print_table
from menderlite.artifact.writer import write_single_file_artifact
from tests.support.devices import SimulatedDevice
from tests.support.server import start_server

DEVICE_TYPE = "bench-device"
DEPLOYMENTS = "/api/management/v1/deployments/deployments"
PREAUTHORIZE = "/api/management/v2/devauth/devices"
NEXT = "/api/devices/v1/deployments/device/deployments/next"
DEVICE_DEPLOYMENTS = "/api/devices/v1/deployments/device/deployments"
FULL = {"devices": 10000, "intervals": {"realistic": 60.0, "aggressive": 5.0}, "idle_check_ins": 50000}
QUICK = {"devices": 200, "intervals": {"realistic": 5.0, "aggressive": 1.0}, "idle_check_ins": 5000}
CONNECTIONS = 128  # the simulator's bound on concurrent requests


# --- the orchestrator ----------------------------------------------------------------------------------


def make_release(directory: Path, name: str) -> Path:
    """A small single-file artifact (a 16 KiB payload; the real client refuses anything under 4 KiB)."""
    payload = directory / f"{name}.bin"
    payload.write_bytes(os.urandom(16384))
    output = directory / f"{name}.mender"
    write_single_file_artifact(
        output, name=name, device_types=[DEVICE_TYPE], file_path=payload, file_name="payload.bin",
        dest_dir="/opt/bench", temp_dir=directory,
    )
    return output


def run(
    quick: bool, devices: int | None = None, poll_interval: float | None = None, idle_check_ins: int | None = None
) -> dict[str, Any]:
    preset = QUICK if quick else FULL
    count = devices or int(preset["devices"])  # type: ignore[call-overload]
    intervals = {"custom": poll_interval} if poll_interval else dict(preset["intervals"])  # type: ignore[call-overload]
    with tempfile.TemporaryDirectory(prefix="menderlite-rollout-") as work:
        directory = Path(work)
        server = start_server(directory / "data")  # the default configuration
        try:
            token = management_token(server)
            releases = []
            for label in intervals:
                name = f"rollout-{label}-{uuid.uuid4().hex[:6]}"
                upload(server, token, make_release(directory, name))
                releases.append(name)
            spec = {
                "url": server.url,
                "server_pid": server.process.pid,
                "token": token,
                "devices": count,
                "connections": CONNECTIONS,
                "scenarios": [
                    {"label": label, "interval": interval, "release": release}
                    for (label, interval), release in zip(intervals.items(), releases)
                ],
                "idle_check_ins": idle_check_ins or preset["idle_check_ins"],
            }
            spec_path = directory / "spec.json"
            spec_path.write_text(json.dumps(spec))
            worker = subprocess.run(
                [sys.executable, "-m", "bench.rollout", "--worker", str(spec_path)],
                capture_output=True, text=True, check=False,
            )
            if worker.returncode != 0:
                raise RuntimeError(f"the device simulator failed:\n{worker.stderr[-4000:]}\n{server.log[-4000:]}")
            results = json.loads(worker.stdout)
        finally:
            server.stop()
    return results


def report(results: dict[str, Any]) -> None:
    print(f"rollout of one small artifact to {results['devices']} devices (admitted in {results['admit_seconds']:.1f} s)")
    rows = []
    for scenario in results["scenarios"]:
        rows += [
            (f"{scenario['label']} ({scenario['interval']:g} s polls): rollout wall time",
             f"{scenario['wall_seconds']:.1f} s", f"all {results['devices']} succeeded",
             "ok" if scenario["succeeded"] == results["devices"] else "FAIL"),
            ("  check-ins / status reports / downloads",
             f"{scenario['check_ins']} / {scenario['reports']} / {scenario['downloads']}", "", ""),
            ("  server CPU per device rolled out", f"{scenario['cpu_ms_per_device']:.2f} ms", "", ""),
            ("  errors", str(scenario["errors"]), "0", "ok" if scenario["errors"] == 0 else "FAIL"),
        ]
    idle = results["idle"]
    rows += [
        ("idle check-in (nothing pending): server CPU", f"{idle['cpu_us_per_check_in']:.0f} µs", "", ""),
        ("  check-ins per second", f"{idle['check_ins_per_second']:.0f}", "", ""),
        ("  errors", str(idle["errors"]), "0", "ok" if idle["errors"] == 0 else "FAIL"),
    ]
    print_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 devices and shorter poll intervals")
    parser.add_argument("--devices", type=int, help="fleet size")
    parser.add_argument("--poll-interval", type=float, help="one rollout at this poll interval (seconds)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # the device simulator process
    args = parser.parse_args(argv)
    if args.worker is not None:
        results = asyncio.run(simulate(json.loads(args.worker.read_text())))
        print(json.dumps(results))
        return 0
    results = run(args.quick, args.devices, args.poll_interval)
    report(results)
    failed = results["idle"]["errors"] or any(
        s["errors"] or s["succeeded"] != results["devices"] for s in results["scenarios"]
    )
    return 1 if failed else 0


# --- the device simulator (worker process) -------------------------------------------------------------


@dataclass
class BenchDevice:
    simulated: SimulatedDevice
    id: str = ""
    artifact_name: str = "bench-initial"

    @property
    def headers(self) -> dict[str, str]:
        return self.simulated.auth_headers()


@dataclass
class Tally:
    check_ins: int = 0
    reports: int = 0
    downloads: int = 0
    errors: int = 0
    succeeded: int = 0
    last_success: float = 0.0
    first_error: str = ""

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


async def simulate(spec: dict[str, Any]) -> dict[str, Any]:
    url, pid = spec["url"], spec["server_pid"]
    connector = aiohttp.TCPConnector(limit=spec["connections"])
    # Per-socket timeouts only: waiting for one of the bounded connections is not a failure.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
    async with aiohttp.ClientSession(base_url=url, connector=connector, timeout=timeout) as http:
        user = {"Authorization": f"Bearer {spec['token']}"}
        started = time.perf_counter()
        fleet = await admit_fleet(http, user, spec["devices"])
        results: dict[str, Any] = {"devices": len(fleet), "admit_seconds": time.perf_counter() - started, "scenarios": []}
        for scenario in spec["scenarios"]:
            results["scenarios"].append(await roll_out(http, user, fleet, scenario, pid))
        results["idle"] = await idle_check_ins(http, fleet, spec["idle_check_ins"], pid)
    return results


async def admit_fleet(http: aiohttp.ClientSession, user: dict[str, str], count: int) -> list[BenchDevice]:
    """Preauthorize each device with its key through the management API, then let it authenticate."""

    lanes = asyncio.Semaphore(64)

    async def admit(number: int) -> BenchDevice:
        async with lanes:
            return await admit_one(number)

    async def admit_one(number: int) -> BenchDevice:
        device = BenchDevice(SimulatedDevice.create("ed25519", {"mac": f"02:00:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}:01", "sn": f"bench-{number}"}))
        body = {"identity_data": device.simulated.identity, "pubkey": device.simulated.public_key_pem}
        async with http.post(PREAUTHORIZE, json=body, headers=user) as response:
            if response.status != 201:
                raise RuntimeError(f"preauthorize: {response.status} {await response.text()}")
            device.id = response.headers["Location"].rsplit("/", 1)[1]
        outcome = await device.simulated.authenticate_url(url_of(http), http)
        if outcome.status != 200:
            raise RuntimeError(f"auth request: {outcome.status} {outcome.body}")
        return device

    return list(await asyncio.gather(*(admit(number) for number in range(count))))


def url_of(http: aiohttp.ClientSession) -> str:
    return str(http._base_url)


async def roll_out(
    http: aiohttp.ClientSession, user: dict[str, str], fleet: list[BenchDevice], scenario: dict[str, Any], pid: int
) -> dict[str, Any]:
    interval, release = float(scenario["interval"]), scenario["release"]
    tally = Tally()
    body = {"name": f"bench {scenario['label']}", "artifact_name": release, "devices": [device.id for device in fleet]}
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    async with http.post(DEPLOYMENTS, json=body, headers=user) as response:
        if response.status != 201:
            raise RuntimeError(f"create deployment: {response.status} {await response.text()}")
        deployment_id = response.headers["Location"].rsplit("/", 1)[1]
    deadline = started + interval * 4 + 120 + len(fleet) * 0.05

    async def device_loop(device: BenchDevice) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        while time.perf_counter() < deadline:
            instructions = await check_in(http, device, tally)
            if instructions is not None and await install(http, device, instructions, tally):
                tally.succeeded += 1
                tally.last_success = time.perf_counter()
                return
            await asyncio.sleep(interval)
        tally.error(f"device {device.id} did not finish in time")

    await asyncio.gather(*(device_loop(device) for device in fleet))
    cpu_used = cpu_seconds(pid) - cpu_before
    async with http.get(f"{DEPLOYMENTS}/{deployment_id}/statistics", headers=user) as response:
        statistics = await response.json()
    if statistics.get("success") != len(fleet):
        tally.error(f"statistics say {statistics}")
    return {
        "label": scenario["label"],
        "interval": interval,
        "wall_seconds": (tally.last_success or time.perf_counter()) - started,
        "succeeded": tally.succeeded,
        "check_ins": tally.check_ins,
        "reports": tally.reports,
        "downloads": tally.downloads,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "cpu_ms_per_device": cpu_used / len(fleet) * 1000,
        "statistics": statistics,
    }


async def check_in(http: aiohttp.ClientSession, device: BenchDevice, tally: Tally) -> dict[str, Any] | None:
    body = {"device_type": DEVICE_TYPE, "artifact_name": device.artifact_name, "rootfs-image.single-file.version": device.artifact_name}
    tally.check_ins += 1
    try:
        async with http.post(NEXT, json=body, headers=device.headers) as response:
            if response.status == 200:
                return await response.json()
            if response.status != 204:
                tally.error(f"next: {response.status} {await response.text()}")
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.error(f"next: {exc!r}")
    return None


async def install(http: aiohttp.ClientSession, device: BenchDevice, instructions: dict[str, Any], tally: Tally) -> bool:
    deployment_id = instructions["id"]
    try:
        if not await report_status(http, device, deployment_id, "downloading", tally):
            return False
        uri = URL(instructions["artifact"]["source"]["uri"])
        tally.downloads += 1
        async with http.get(uri.path_qs) as response:  # no Authorization header: the link is signed
            payload = await response.read()
            if response.status != 200 or len(payload) < 4096:
                tally.error(f"download: {response.status}, {len(payload)} bytes")
                return False
        for status in ("installing", "success"):
            if not await report_status(http, device, deployment_id, status, tally):
                return False
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.error(f"install: {exc!r}")
        return False
    device.artifact_name = instructions["artifact"]["artifact_name"]
    return True


async def report_status(http: aiohttp.ClientSession, device: BenchDevice, deployment_id: str, status: str, tally: Tally) -> bool:
    tally.reports += 1
    async with http.put(f"{DEVICE_DEPLOYMENTS}/{deployment_id}/status", json={"status": status}, headers=device.headers) as response:
        if response.status != 204:
            tally.error(f"status {status}: {response.status} {await response.text()}")
            return False
    return True


async def idle_check_ins(http: aiohttp.ClientSession, fleet: list[BenchDevice], total: int, pid: int) -> dict[str, Any]:
    """Devices with nothing to do check in back to back (all deployments are finished): CPU per check-in."""
    tally = Tally()
    queue = [fleet[number % len(fleet)] for number in range(total)]

    async def lane(devices: list[BenchDevice]) -> None:
        for device in devices:
            if await check_in(http, device, tally) is not None:
                tally.error("an idle device got instructions")

    lanes = 64
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(lane(queue[number::lanes]) for number in range(lanes)))
    elapsed = time.perf_counter() - started
    cpu_used = cpu_seconds(pid) - cpu_before
    return {
        "check_ins": tally.check_ins,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "cpu_us_per_check_in": cpu_used / max(tally.check_ins, 1) * 1e6,
        "check_ins_per_second": tally.check_ins / elapsed,
    }


if __name__ == "__main__":
    sys.exit(main())
