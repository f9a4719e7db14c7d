"""Inventory at fleet scale: seed N devices (~20 attributes each) and time the hot queries over HTTP.

    python -m bench.inventory [--quick] [--devices N] [--rounds R]

The devices are written through the inventory service layer in batches into a fresh temporary data
directory; the queries go through HTTP to the real application served in-process on 127.0.0.1.
`run(quick)` returns the figures for a unified benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from menderlite.app import create_app
from menderlite.artifact.writer import write_single_file_artifact
from menderlite.config import Settings, load
from menderlite.context import Context
from menderlite.db import migrate
from menderlite.deployments.artifacts import UploadMeta
from menderlite.deployments.inputs import NewDeployment
from menderlite.inventory.values import SCOPE_IDENTITY, SCOPE_INVENTORY, Attribute
from menderlite.web import ApiError, Identity
from menderlite.web.guards import DEVICE_VERIFIER, USER_VERIFIER

FULL_DEVICES = 100_000
QUICK_DEVICES = 10_000
BATCH = 2_000
GROUPS = 30
DEPLOYMENTS = 500
BENCH_TOKEN = "bench-admin-token"
DEVICE_TOKEN = "bench-device-token"
DEVICE_HEADERS = {"Authorization": f"Bearer {DEVICE_TOKEN}"}

DEVICE_TYPES = [f"type-{n}" for n in range(10)]
CLIENT_VERSIONS = ["3.4.0", "3.5.0", "3.3.0", "2.6.1", "3.5.1"]
CITIES = ["Oslo", "Berlin", "Paris", "Madrid", "Rome", "Vienna"]


def device_attributes(rng: random.Random, number: int) -> dict[str, list[Attribute]]:
    """~20 inventory attributes like mender-client's scripts report, plus identity and status."""
    mac = ":".join(f"{(number >> shift) & 255:02x}" for shift in (24, 16, 8, 0))
    inventory = {
        "device_type": rng.choice(DEVICE_TYPES),
        "artifact_name": f"release-{rng.randrange(50)}",
        "mender_client_version": rng.choice(CLIENT_VERSIONS),
        "kernel": f"Linux version 5.{rng.randrange(10)}.0",
        "hostname": f"dev-{number:06d}",
        "mac_eth0": f"02:00:{mac}",
        "ipv4_eth0": f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}/8",
        "network_interfaces": rng.choice([["eth0", "lo"], ["eth0", "lo", "wlan0"]]),
        "cpu_model": rng.choice(["ARMv7 Processor rev 4 (v7l)", "ARMv8 Cortex-A72", "Intel Atom"]),
        "mem_total_kB": float(rng.choice([512_000, 1_024_000, 2_048_000, 4_096_000])),
        "rootfs_type": "ext4",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "hw_revision": float(rng.randrange(1, 6)),
        "bootloader_integration": rng.choice(["uboot", "grub"]),
        "serial_number": f"{rng.getrandbits(64):016x}",
        "geo-city": rng.choice(CITIES),
        "uptime_s": float(rng.randrange(10**7)),
        "cpu_temperature": round(rng.uniform(30, 80), 1),
        "storage_total_bytes": float(rng.choice([8, 16, 32, 64]) * 2**30),
        "rootfs-image.version": f"v{rng.randrange(3)}.{rng.randrange(20)}",
    }
    identity = {
        "mac": f"02:00:{mac}",
        "sn": f"SN{number:08d}",
        "status": rng.choice(["accepted"] * 8 + ["pending", "rejected"]),
    }
    return {
        SCOPE_INVENTORY: [
            Attribute(name, value if not isinstance(value, list) else tuple(value)) for name, value in inventory.items()
        ],
        SCOPE_IDENTITY: [Attribute(name, value) for name, value in identity.items()],
    }


async def seed(ctx: Context, devices: int) -> tuple[float, list[str]]:
    """Writes `devices` devices through the service layer; most batches go to one of GROUPS groups.
    Returns the seconds it took and the device ids."""
    rng = random.Random(42)
    started = time.perf_counter()
    device_ids: list[str] = []
    for first in range(0, devices, BATCH):
        numbers = range(first, min(first + BATCH, devices))
        batch = {f"{rng.getrandbits(128):032x}": device_attributes(rng, number) for number in numbers}
        batch_index = first // BATCH
        group = None if batch_index % 10 == 9 else f"group-{batch_index % GROUPS}"
        await ctx.inventory.import_devices("", batch, group=group)
        device_ids += batch
    return time.perf_counter() - started, device_ids


async def seed_deployments(ctx: Context, device_ids: list[str], directory: Path) -> tuple[float, int]:
    """One small artifact and DEPLOYMENTS deployments of it: one to the whole fleet, the others to 100
    devices each (what months of rollouts leave behind). Returns the seconds it took and the count."""
    started = time.perf_counter()
    payload = directory / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 64)
    artifact = directory / "bench.mender"
    write_single_file_artifact(
        artifact, name="bench-release", device_types=["type-3"], file_path=payload, file_name="payload.bin",
        dest_dir="/opt/bench", temp_dir=directory,
    )

    async def chunks() -> AsyncIterator[bytes]:
        yield artifact.read_bytes()

    await ctx.deployments.artifacts.upload("", UploadMeta(), chunks())
    admin = Identity(subject="bench-admin", is_user=True, token=BENCH_TOKEN)
    rng = random.Random(7)
    for number in range(DEPLOYMENTS):
        devices = tuple(device_ids) if number == 0 else tuple(rng.sample(device_ids, min(100, len(device_ids))))
        spec = NewDeployment(name=f"rollout-{number:04d}", artifact_name="bench-release", devices=devices)
        await ctx.deployments.create_deployment(admin, spec)
    return time.perf_counter() - started, DEPLOYMENTS


async def bench_verifier(token: str | None, method: str, path: str) -> Identity:
    if token != BENCH_TOKEN:
        raise ApiError(401, "unauthorized")
    return Identity(subject="bench-admin", is_user=True, token=token)


@dataclass(frozen=True)
class Query:
    name: str
    method: str
    path: str
    body: Any = None


QUERIES = [
    Query("v1 device list, page 3", "GET", "/api/management/v1/inventory/devices?page=3&per_page=20"),
    Query(
        "v1 list, filter + 2-key sort",
        "GET",
        "/api/management/v1/inventory/devices?device_type=type-3&sort=mem_total_kB:asc,hostname:desc",
    ),
    Query("v1 groups", "GET", "/api/management/v1/inventory/groups"),
    Query("v1 groups?status=accepted", "GET", "/api/management/v1/inventory/groups?status=accepted"),
    Query("v1 group devices, page 2", "GET", "/api/management/v1/inventory/groups/group-0/devices?page=2"),
    Query(
        "v2 search, 3 filters incl. $regex",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {
            "page": 2,
            "per_page": 20,
            "filters": [
                {"scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "type-3"},
                {"scope": "inventory", "attribute": "mem_total_kB", "type": "$gte", "value": 2_048_000},
                {"scope": "inventory", "attribute": "artifact_name", "type": "$regex", "value": "release-1"},
            ],
        },
    ),
    Query(
        "v2 search, status accepted (GUI list)",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {
            "page": 1,
            "per_page": 20,
            "filters": [{"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"}],
        },
    ),
    Query(
        "v2 search, status accepted, sorted",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {
            "page": 2,
            "per_page": 20,
            "filters": [{"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"}],
            "sort": [{"scope": "inventory", "attribute": "artifact_name", "order": "asc"}],
        },
    ),
    Query(
        "v2 search, $regex (no prefix) + $ne",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {
            "filters": [
                {"scope": "inventory", "attribute": "hostname", "type": "$regex", "value": ".*-0012"},
                {"scope": "identity", "attribute": "status", "type": "$ne", "value": "rejected"},
            ],
        },
    ),
    Query(
        "v2 search, whole fleet sorted",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {"sort": [{"scope": "inventory", "attribute": "cpu_temperature", "order": "desc"}]},
    ),
    Query(
        "v1 list sorted by updated_ts",
        "GET",
        "/api/management/v1/inventory/devices?page=2&per_page=20&sort=system/updated_ts:desc",
    ),
    Query(
        "v2 search, status accepted, by created_ts",
        "POST",
        "/api/management/v2/inventory/filters/search",
        {
            "page": 1,
            "per_page": 20,
            "filters": [{"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"}],
            "sort": [{"scope": "system", "attribute": "created_ts", "order": "desc"}],
        },
    ),
    Query("deployments list, page 1", "GET", "/api/management/v1/deployments/deployments?page=1&per_page=20"),
    Query("deployments list, page 10", "GET", "/api/management/v1/deployments/deployments?page=10&per_page=20"),
    Query("deployments list, search", "GET", "/api/management/v1/deployments/deployments?search=rollout-04&per_page=20"),
]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def time_request(session: aiohttp.ClientSession, base: str, query: Query) -> tuple[float, str]:
    started = time.perf_counter()
    async with session.request(query.method, base + query.path, json=query.body) as response:
        await response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{query.name}: HTTP {response.status}")
        return elapsed, response.headers.get("X-Total-Count", "")


async def measure(base: str, rounds: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {BENCH_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for query in QUERIES:
            await time_request(session, base, query)  # warm-up
            samples, total = [], ""
            for _ in range(rounds):
                elapsed, total = await time_request(session, base, query)
                samples.append(elapsed)
            results[query.name] = {
                "p50_ms": round(statistics.median(samples), 2),
                "p95_ms": round(percentile(samples, 0.95), 2),
                "max_ms": round(max(samples), 2),
                "matches": int(total) if total else None,
            }
        results["device inventory PUT (mender-client)"] = await measure_device_upload(base, rounds)
    return results


async def measure_device_upload(base: str, rounds: int) -> dict[str, Any]:
    """The write a device makes every inventory poll: PUT of ~20 attributes, one of them changed."""
    samples = []
    async with aiohttp.ClientSession() as session:
        for round_number in range(rounds + 1):
            rng = random.Random(round_number)
            attributes = device_attributes(rng, 7)[SCOPE_INVENTORY]
            body = [
                {"name": a.name, "value": list(a.value) if isinstance(a.value, tuple) else a.value} for a in attributes
            ]
            started = time.perf_counter()
            async with session.put(
                f"{base}/api/devices/v1/inventory/device/attributes", json=body, headers=DEVICE_HEADERS
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"device upload: HTTP {response.status}")
            if round_number:  # the first one creates the device
                samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "max_ms": round(max(samples), 2),
        "matches": None,
    }


async def bench_device_verifier(token: str | None, method: str, path: str) -> Identity:
    if token != DEVICE_TOKEN:
        raise ApiError(401, "unauthorized")
    return Identity(subject="bench-device", is_device=True, token=token)


def bench_settings(data_dir: Path) -> Settings:
    return load(environ={}, flags={"server": {"data_dir": str(data_dir), "access_log": False, "log_level": "WARNING"}})


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def run_async(devices: int, rounds: int, progress: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="menderlite-bench-") as directory:
        data_dir = Path(directory) / "data"
        settings = bench_settings(data_dir)
        migrate.upgrade(settings.database_path)
        ctx = Context.from_settings(settings)
        app = create_app(settings, ctx)
        app[USER_VERIFIER] = bench_verifier
        app[DEVICE_VERIFIER] = bench_device_verifier
        progress(f"seeding {devices} devices ...")
        seed_seconds, device_ids = await seed(ctx, devices)
        runner, base = await serve(app)  # runs the application's start-up (the deployments worker)
        deployments_seconds, deployments = await seed_deployments(ctx, device_ids, Path(directory))
        progress(
            f"seeded in {seed_seconds:.1f} s, {deployments} deployments in {deployments_seconds:.1f} s; "
            f"measuring {rounds} rounds per query ..."
        )
        try:
            queries = await measure(base, rounds)
        finally:
            await runner.cleanup()
        size = sum(path.stat().st_size for path in data_dir.glob("menderlite.db*"))
        return {
            "devices": devices,
            "attributes_per_device": 23,
            "seed_seconds": round(seed_seconds, 1),
            "deployments": deployments,
            "database_megabytes": round(size / 1e6, 1),
            "rounds": rounds,
            "queries": queries,
        }


def run(
    quick: bool = False,
    devices: int | None = None,
    rounds: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seed and measure; returns {"devices", "seed_seconds", "queries": {name: {"p50_ms", "p95_ms", ...}}}."""
    count = devices or (QUICK_DEVICES if quick else FULL_DEVICES)
    return asyncio.run(run_async(count, rounds or (10 if quick else 40), progress or (lambda _: None)))


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\ninventory: {result['devices']} devices x ~{result['attributes_per_device']} attributes, "
        f"seeded in {result['seed_seconds']} s, database {result['database_megabytes']} MB, "
        f"{result['rounds']} rounds per query\n"
    )
    width = max(len(name) for name in result["queries"])
    print(f"{'query':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'matches':>8}")
    for name, figures in result["queries"].items():
        matches = "" if figures["matches"] is None else str(figures["matches"])
        print(
            f"{name:<{width}}  {figures['p50_ms']:>8.1f}  {figures['p95_ms']:>8.1f}  {figures['max_ms']:>8.1f}  {matches:>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inventory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DEVICES} devices and fewer rounds")
    parser.add_argument("--devices", type=int, help=f"number of devices (default {FULL_DEVICES})")
    parser.add_argument("--rounds", type=int, help="timed requests per query (default 40, quick 10)")
    args = parser.parse_args(argv)
    result = run(args.quick, args.devices, args.rounds, progress=lambda text: print(text, file=sys.stderr, flush=True))
    print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
