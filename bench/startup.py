"""Start-up time and idle memory of `menderlite serve` with the default configuration.

    python -m bench.startup [--quick]

- first start: a fresh data directory (the migrations run, the keys are generated);
- restart: the same data directory again (what every later start costs); repeated, median reported.

Start-up time runs from launching the command to the first 204 of `GET /api/internal/v1/devauth/alive`
(polled every 10 ms). Idle RSS is the server's resident memory after it has served that request and sat
idle for a second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import print_table, rss_bytes
from tests.support.server import free_port, server_environment

MIB = 1024 * 1024
ALIVE = "/api/internal/v1/devauth/alive"
TIMEOUT_SECONDS = 60


def start_once(data_dir: Path) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "menderlite", "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    log = data_dir.parent / f"startup-{port}.log"
    with open(log, "wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=server_environment())
    try:
        seconds = _wait_alive(f"http://127.0.0.1:{port}{ALIVE}", process, started, log)
        time.sleep(1.0)
        rss = rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"seconds": seconds, "idle_rss_mib": rss / MIB}


def _wait_alive(url: str, process: subprocess.Popen[bytes], started: float, log: Path) -> float:
    while time.perf_counter() - started < TIMEOUT_SECONDS:
        if process.poll() is not None:
            raise RuntimeError(f"menderlite serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 204:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"menderlite serve did not answer within {TIMEOUT_SECONDS} s:\n{log.read_text()}")


def run(quick: bool) -> dict[str, Any]:
    restarts = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="menderlite-bench-") as work:
        data_dir = Path(work) / "data"
        first = start_once(data_dir)
        again = [start_once(data_dir) for _ in range(restarts)]
    return {
        "first_start_seconds": first["seconds"],
        "first_start_idle_rss_mib": first["idle_rss_mib"],
        "restart_seconds": statistics.median(run["seconds"] for run in again),
        "idle_rss_mib": statistics.median(run["idle_rss_mib"] for run in again),
        "restarts": restarts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one restart instead of five")
    results = run(parser.parse_args(argv).quick)
    print_table([
        ("first start (migrations, keys)", f"{results['first_start_seconds']:.2f} s"),
        ("restart", f"{results['restart_seconds']:.2f} s"),
        ("idle RSS", f"{results['idle_rss_mib']:.1f} MiB"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
