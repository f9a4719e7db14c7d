"""Ceilings measured in the same run: what a bare aiohttp app can do on this machine.

- requests/s of a small JSON answer to check-in-shaped requests (the denominator of the check-in ratio),
  measured by bench/devices.py in turns with the check-in;
- MB/s of FileResponse serving the artifact file (the denominator of the download ratio), measured by
  bench/artifacts.py in turns with the artifact download.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import load_cpus, python, raw_request
from tests.support.server import free_port

DEVICE_TOKEN_LENGTH = 780  # a device JWT signed with RS256 and a 3072-bit key is about this long


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


def json_ceiling_requests(host: str, body: bytes, devices: int = 1000) -> list[bytes]:
    """Requests shaped like a device check-in (a POST with a JSON body and a token of a real token's length,
    a different one per device), for the bare app's /json."""
    headers = {"Content-Type": "application/json"}
    return [raw_request("POST", "/json", host, {"Authorization": f"Bearer {_fake_token()}", **headers}, body) for _ in range(devices)]


def _fake_token() -> str:
    return base64.urlsafe_b64encode(os.urandom(DEVICE_TOKEN_LENGTH)).decode()[:DEVICE_TOKEN_LENGTH]


def curl_download(url: str, *, runs: int = 3, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Best of `runs` downloads with curl to /dev/null, on the load generator's cores (MB = 10^6 bytes):
    {"mb_per_second", "status", "bytes"}."""
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{http_code} %{size_download}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    cpus = load_cpus()
    best: dict[str, Any] = {}
    for _ in range(runs):
        output = subprocess.run(
            command + [url], capture_output=True, text=True, check=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus)
        ).stdout.split()
        measured = {"mb_per_second": float(output[0]) / 1e6, "status": int(output[1]), "bytes": int(output[2])}
        if not best or measured["mb_per_second"] > best["mb_per_second"]:
            best = measured
    return best
