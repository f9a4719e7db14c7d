"""Every benchmark figure in one run: a table (figure, value, ratio to the ceiling, goal, PASS/FAIL) and JSON.

    python -m bench [--quick] [--json PATH] [--only STEP ...]

Steps (all by default, in this order): devices (figures 1-3, with the JSON ceiling), rollout (4), artifacts
(5, with the FileResponse ceiling), management (6), startup (7). Each ceiling is measured in turns with the
figure it is the denominator of. `--quick` runs every step with small sizes (under two
minutes on two cores; CI runs it so that the benchmarks keep working). The verdicts are benchmarks, not
tests: the command fails only when a step crashes. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Row, have_wrk, print_table, write_json

STEPS = ("devices", "rollout", "artifacts", "management", "startup")
NEEDS_WRK = ("devices",)
DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"

# Goals (issue 9).
CHECK_IN_RATIO_GOAL = 0.5
UPLOAD_RSS_GOAL_MIB = 64
DOWNLOAD_RATIO_GOAL = 0.8
QUERY_P95_GOAL_MS = 200
IDLE_RSS_GOAL_MIB = 80
START_GOAL_SECONDS = 2.0


def machine() -> dict[str, Any]:
    """CPU model, cores and memory from /proc, and the software the figures depend on."""
    import aiohttp
    import sqlalchemy

    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0)
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "event_loop": "asyncio (default policy), the same for menderlite and the bare ceilings",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


# --- the steps --------------------------------------------------------------------------------------------


def step_devices(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from bench import devices

    return devices.run(quick)


def step_rollout(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from bench import rollout

    return rollout.run(quick)


def step_artifacts(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from bench import artifacts

    return artifacts.run(quick)


def step_management(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from bench import inventory

    return inventory.run(quick, progress=lambda text: print(f"  {text}", flush=True))


def step_startup(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from bench import startup

    return startup.run(quick)


RUNNERS: dict[str, Callable[[bool, dict[str, Any]], dict[str, Any]]] = {
    "devices": step_devices,
    "rollout": step_rollout,
    "artifacts": step_artifacts,
    "management": step_management,
    "startup": step_startup,
}


# --- the table --------------------------------------------------------------------------------------------


def _load(figures: dict[str, Any]) -> str:
    return (
        f"{figures['requests_per_second']:,.0f} req/s, p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
        f"{figures['cpu_us_per_request']:,.0f} µs CPU/req"
    )


def _clean(figures: dict[str, Any]) -> bool:
    return figures["errors"] == 0 and figures["non_2xx"] == 0


def rows_for(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    ceiling = results.get("devices", {}).get("json_ceiling")
    if ceiling:
        rows.append(Row("ceiling: bare aiohttp, JSON answer to a check-in-shaped POST", _load(ceiling)))
    if "artifacts" in results:
        rows.append(Row("ceiling: bare aiohttp FileResponse of the artifact", f"{results['artifacts']['file_response_mb_per_second']:,.0f} MB/s"))

    devices = results.get("devices")
    if devices:

        def ratio(figures: dict[str, Any]) -> str:
            return f"{figures['requests_per_second'] / ceiling['requests_per_second']:.2f}" if ceiling else ""

        check_in = devices["check_in"]
        check_in_ok = bool(ceiling) and _clean(check_in) and check_in["requests_per_second"] >= CHECK_IN_RATIO_GOAL * ceiling["requests_per_second"]
        rows.append(Row("1. check-in: POST next, nothing pending (204)", _load(check_in), ratio(check_in), f">= {CHECK_IN_RATIO_GOAL:.2f}, no error", check_in_ok))
        rows.append(Row("2. auth request, accepted device (RSA 3072)", _load(devices["auth_request"]), ratio(devices["auth_request"]), "no error", _clean(devices["auth_request"])))
        for method in ("put", "patch"):
            figures = devices[f"inventory_{method}"]
            rows.append(Row(f"3. inventory {method.upper()}, 20 attributes", _load(figures), ratio(figures), "no error", _clean(figures)))

    rollout = results.get("rollout")
    if rollout:
        for scenario in rollout["scenarios"]:
            ok = scenario["errors"] == 0 and scenario["succeeded"] == rollout["devices"]
            rows.append(Row(
                f"4. rollout to {rollout['devices']:,} devices, {scenario['label']} ({scenario['interval']:g} s polls)",
                f"{scenario['wall_seconds']:.1f} s wall, {scenario['succeeded']:,} succeeded, {scenario['errors']} errors, "
                f"{scenario['cpu_ms_per_device']:.1f} ms CPU/device",
                "", "all succeed, 0 errors", ok,
            ))

    artifacts = results.get("artifacts")
    if artifacts:
        size = artifacts["artifact_bytes"] / 2**20
        rows.append(Row(f"5. artifact upload ({size:,.0f} MiB)", f"{artifacts['upload_mb_per_second']:,.0f} MB/s"))
        growth = artifacts["upload_peak_rss_growth_mib"]
        rows.append(Row("5. upload: server peak RSS growth", f"{growth:.1f} MiB", "", f"< {UPLOAD_RSS_GOAL_MIB} MiB", growth < UPLOAD_RSS_GOAL_MIB))
        download_ok = artifacts["download_status"] == 200 and artifacts["download_complete"] and artifacts["download_ratio"] >= DOWNLOAD_RATIO_GOAL
        rows.append(Row("5. artifact download (signed link)", f"{artifacts['download_mb_per_second']:,.0f} MB/s", f"{artifacts['download_ratio']:.2f}", f">= {DOWNLOAD_RATIO_GOAL:.2f}, complete", download_ok))
        rows.append(Row("5. Range download (second half)", f"{artifacts['range_status']}, {artifacts['range_mb_per_second']:,.0f} MB/s", "", "206, complete", artifacts["range_complete"]))

    management = results.get("management")
    if management:
        for name, figures in management["queries"].items():
            ok = figures["p95_ms"] < QUERY_P95_GOAL_MS
            rows.append(Row(f"6. {management['devices']:,} devices: {name}", f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms", "", f"p95 < {QUERY_P95_GOAL_MS} ms", ok))

    start = results.get("startup")
    if start:
        rows.append(Row("7. idle RSS after start", f"{start['idle_rss_mib']:.1f} MiB", "", f"< {IDLE_RSS_GOAL_MIB} MiB", start["idle_rss_mib"] < IDLE_RSS_GOAL_MIB))
        rows.append(Row("7. start-up to first 204 from alive (restart)", f"{start['restart_seconds']:.2f} s", "", f"< {START_GOAL_SECONDS:g} s", start["restart_seconds"] < START_GOAL_SECONDS))
        rows.append(Row("7. first start (migrations, new keys)", f"{start['first_start_seconds']:.2f} s", "", f"< {START_GOAL_SECONDS:g} s", start["first_start_seconds"] < START_GOAL_SECONDS))
    return rows


# --- the command ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, every figure (< 2 minutes)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON})")
    parser.add_argument("--only", nargs="+", choices=STEPS, metavar="STEP", help=f"run only these steps: {', '.join(STEPS)}")
    args = parser.parse_args(argv)
    steps = [step for step in STEPS if not args.only or step in args.only]
    started = time.monotonic()
    results: dict[str, Any] = {}
    crashed: dict[str, str] = {}
    for step in steps:
        if step in NEEDS_WRK and not have_wrk():
            crashed[step] = "wrk is not installed (Debian package `wrk`)"
            print(f"== {step}: skipped, {crashed[step]}", flush=True)
            continue
        print(f"== {step} ...", flush=True)
        step_started = time.monotonic()
        try:
            results[step] = RUNNERS[step](args.quick, results)
        except Exception:
            crashed[step] = traceback.format_exc()
            print(crashed[step], file=sys.stderr, flush=True)
        print(f"   {step}: {time.monotonic() - step_started:.0f} s", flush=True)
    rows = rows_for(results)
    seconds = time.monotonic() - started
    info = machine()
    print(f"\nmenderlite benchmarks ({'quick' if args.quick else 'full'} run, {seconds:.0f} s) on {info['cpu_model']}, "
          f"{info['cores']} cores, {info['memory_gib']} GiB; server pinned to one core, load generators on the others\n")
    print_table(rows)
    failed = [row.figure for row in rows if row.ok is False]
    print(f"\n{sum(row.ok is True for row in rows)} goals met, {len(failed)} not met" + (f"; steps that crashed: {', '.join(crashed)}" if crashed else ""))
    write_json(args.json, {
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": info,
        "table": [row.document() for row in rows],
        "results": results,
        "crashed": crashed,
    })
    print(f"results written to {args.json}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
