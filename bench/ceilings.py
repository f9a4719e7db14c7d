"""Ceilings measured in the same run: what a bare aiohttp app can do on this machine.

- requests/s of a small JSON answer (the denominator of the check-in ratio),
- MB/s of FileResponse serving a file (the denominator of the artifact download ratio).
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from bench.common import cpu_seconds, python, run_wrk
from tests.support.server import free_port


class BareServer:
    def __init__(self, file_path: Path | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [python(), "-m", "bench.bare_server", str(self.port), *([str(file_path)] if file_path else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/json", timeout=1).read()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("bare aiohttp server did not start") from None
                time.sleep(0.05)

    def __enter__(self) -> BareServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def json_ceiling(seconds: float, connections: int = 32) -> dict[str, float]:
    with BareServer() as server:
        run_wrk(server.url + "/json", seconds=1, connections=connections)  # warm-up
        before = cpu_seconds(server.process.pid)
        result = run_wrk(server.url + "/json", seconds=seconds, connections=connections)
        used = cpu_seconds(server.process.pid) - before
    return {
        "requests_per_second": result.requests_per_second,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_us_per_request": used / max(result.requests, 1) * 1e6,
    }


def download_mb_per_second(url: str, *, runs: int = 3, headers: dict[str, str] | None = None) -> float:
    """Best of `runs` downloads with curl to /dev/null (MB = 10^6 bytes)."""
    command = ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{speed_download}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    speeds = [float(subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return max(speeds) / 1e6


def file_ceiling(file_path: Path, runs: int = 3) -> float:
    with BareServer(file_path) as server:
        return download_mb_per_second(server.url + "/file", runs=runs)
