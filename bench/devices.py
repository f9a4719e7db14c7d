"""The device API under load: check-in, auth request and inventory upload against `menderlite serve`.

    python -m bench.devices [--quick]

The server runs as a user runs it: `menderlite serve` with the default configuration (access log on, INFO,
written to a file). A simulated fleet (bench/fleet.py) is admitted for real; `wrk` then replays requests
round robin over the fleet's devices, each with its own JWT (or its own signed auth request):

1. check-in: `POST /api/devices/v1/deployments/device/deployments/next`, nothing pending (204), measured in
   turns with its ceiling: a bare aiohttp app on the same core answering requests of the same shape;
2. auth request of an accepted device (RSA 3072 keys, as mender-client generates them): a new JWT (200);
3. inventory upload of 20 attributes, as mender-client sends it, with PUT and with PATCH (200).

Reported per request type: requests/s, p50/p99 latency, the server's CPU time per request (user + system of
the whole process, the database thread included) and the share of a core it used.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.artifacts import management_token
from bench.ceilings import BareServer, json_ceiling_requests
from bench.common import (
    Target,
    measure_interleaved,
    measure_replay,
    pin_server,
    print_table,
    raw_request,
)
from bench.fleet import FleetDevice, admit_fleet
from tests.support.devices import AUTH_PATH
from tests.support.server import start_server

NEXT = "/api/devices/v1/deployments/device/deployments/next"
INVENTORY = "/api/devices/v1/inventory/device/attributes"
DEVICE_TYPE = "raspberrypi4"
FULL = {"devices": 1000, "rsa_devices": 64, "seconds": 5.0, "warmup": 2.0, "rounds": 3}
QUICK = {"devices": 100, "rsa_devices": 8, "seconds": 2.0, "warmup": 1.0, "rounds": 1}
INVENTORY_ROUNDS = 4  # distinct bodies per device (the uptime changes), replayed in turn


def check_in_body(artifact_name: str = "release-1") -> bytes:
    """What mender-client 3.4 POSTs to the v1 `next` (its v2 request answers 404): the device's provides."""
    provides = {"artifact_name": artifact_name, "device_type": DEVICE_TYPE, "rootfs-image.version": artifact_name}
    return json.dumps(provides, separators=(",", ":")).encode()


def inventory_body(number: int, round_number: int) -> bytes:
    """20 attributes like mender-client's inventory scripts report (strings and lists of strings)."""
    attributes: dict[str, Any] = {
        "device_type": DEVICE_TYPE,
        "artifact_name": "release-1",
        "rootfs-image.version": "release-1",
        "mender_client_version": "3.4.0+ds1-5+b1",
        "mender_bootstrap_artifact_version": "3.4.0",
        "kernel": "Linux version 6.1.0-rpi7-rpi-v8 (debian-kernel@lists.debian.org)",
        "os": "Raspbian GNU/Linux 12 (bookworm)",
        "hostname": f"bench-{number:06d}",
        "network_interfaces": ["eth0", "lo", "wlan0"],
        "mac_eth0": f"02:00:00:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}",
        "ipv4_eth0": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}/8",
        "ipv6_eth0": f"fe80::{number & 0xFFFF:x}/64",
        "cpu_model": "ARMv8 Processor rev 3 (v8l)",
        "mem_total_kB": "3884428",
        "rootfs_type": "ext4",
        "bootloader_integration": "uboot",
        "hardware_revision": "c03114",
        "serial_number": f"10000000{number:08x}",
        "geo-city": "Oslo",
        "uptime_s": str(3600 * 24 + 60 * round_number + number % 60),
    }
    document = [{"name": name, "value": value} for name, value in attributes.items()]
    return json.dumps(document, separators=(",", ":")).encode()


def bearer(device: FleetDevice) -> dict[str, str]:
    return {"Authorization": f"Bearer {device.token}"}


def check_in_requests(host: str, fleet: list[FleetDevice], path: str = NEXT) -> list[bytes]:
    body = check_in_body()
    headers = {"Content-Type": "application/json"}
    return [raw_request("POST", path, host, {**bearer(device), **headers}, body) for device in fleet]


def auth_requests(host: str, fleet: list[FleetDevice]) -> list[bytes]:
    return [
        raw_request(
            "POST", AUTH_PATH, host,
            {"Content-Type": "application/json", "Authorization": "Bearer", "X-MEN-Signature": device.auth_signature},
            device.auth_body.encode(),
        )
        for device in fleet
        if device.key_type == "rsa3072"
    ]


def inventory_requests(host: str, fleet: list[FleetDevice], method: str) -> list[bytes]:
    return [
        raw_request(method, INVENTORY, host, {**bearer(device), "Content-Type": "application/json"}, inventory_body(number, round_number))
        for round_number in range(INVENTORY_ROUNDS)
        for number, device in enumerate(fleet)
    ]


FIGURES = ("check_in", "inventory_put", "inventory_patch", "auth_request")


def measure_check_in(
    url: str, pid: int, requests: list[bytes], seconds: float, warmup: float, rounds: int, directory: Path
) -> dict[str, Any]:
    """The check-in and its ceiling (a bare aiohttp app on the same core, requests of the same shape), in
    turns: {"check_in": ..., "json_ceiling": ...}."""
    with BareServer() as bare:
        pin_server(bare.process.pid)
        ceiling = Target(bare.url, bare.process.pid, json_ceiling_requests(f"127.0.0.1:{bare.port}", check_in_body(), len(requests)))
        measured = measure_interleaved(
            {"json_ceiling": ceiling, "check_in": Target(url, pid, requests)},
            seconds=seconds, warmup=warmup, rounds=rounds, directory=directory,
        )
    return measured


def run(quick: bool, only: tuple[str, ...] = FIGURES, devices: int | None = None) -> dict[str, Any]:
    """Figures 1-3; `only` picks some of them (tools and profiling)."""
    preset = QUICK if quick else FULL
    seconds, warmup, rounds = preset["seconds"], preset["warmup"], int(preset["rounds"])
    with tempfile.TemporaryDirectory(prefix="menderlite-bench-") as work:
        directory = Path(work)
        server = start_server(directory / "data")  # default configuration: access log on
        try:
            pid, host = server.process.pid, f"127.0.0.1:{server.port}"
            fleet = admit_fleet(
                server.url, management_token(server), devices or int(preset["devices"]), int(preset["rsa_devices"]), directory / "fleet.json"
            )

            def measure(requests: list[bytes]) -> dict[str, float]:
                return measure_replay(server.url, pid, requests, seconds=seconds, warmup=warmup, rounds=rounds, directory=directory)

            pin_server(pid)

            results: dict[str, Any] = {
                "devices": len(fleet), "rsa_devices": int(preset["rsa_devices"]), "seconds": seconds, "rounds": rounds
            }
            builders = {
                "check_in": lambda: check_in_requests(host, fleet),
                "inventory_put": lambda: inventory_requests(host, fleet, "PUT"),
                "inventory_patch": lambda: inventory_requests(host, fleet, "PATCH"),
                "auth_request": lambda: auth_requests(host, fleet),
            }
            for name in FIGURES:
                if name == "check_in" and name in only:
                    results.update(measure_check_in(server.url, pid, builders[name](), seconds, warmup, rounds, directory))
                elif name in only:
                    results[name] = measure(builders[name]())
            results["server_log_bytes"] = server.log_path.stat().st_size
        finally:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.devices", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small fleet and short runs")
    parser.add_argument("--only", nargs="+", choices=FIGURES, default=FIGURES, help="measure only these")
    parser.add_argument("--devices", type=int, help="fleet size")
    args = parser.parse_args(argv)
    results = run(args.quick, tuple(args.only), args.devices)
    rows = []
    for name in ("json_ceiling", *args.only):
        if name not in results:
            continue
        figures = results[name]
        rows.append((
            name,
            f"{figures['requests_per_second']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
            f"{figures['cpu_us_per_request']:.0f} µs CPU/req, non-2xx {figures['non_2xx']}, errors {figures['errors']}",
        ))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
