"""Measuring helpers shared by the benchmarks: process CPU/RSS from /proc, wrk runs, percentiles, tables."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
REPLAY_SCRIPT = Path(__file__).parent / "wrk" / "replay.lua"
CONNECTIONS = 64  # concurrent connections of every wrk run (ceiling and figures alike)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


class RssSampler:
    """Samples a process's RSS in a thread; `peak` is the highest value seen."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.start_rss = rss_bytes(pid)
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start_rss


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def p50_p95(values: Sequence[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "mean": statistics.fmean(values) if values else float("nan")}


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _latency_ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def server_cpus() -> set[int]:
    """The core a measured server runs on: the last one (the load generator gets the others)."""
    cpus = _cpus()
    return {cpus[-1]}


def load_cpus() -> set[int]:
    cpus = _cpus()
    return set(cpus[:-1]) or set(cpus)


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of a process (threads started later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, FileNotFoundError):
            pass


def pin_server(pid: int) -> None:
    """The measured server on its own core, so that the load generator does not compete with it."""
    if len(_cpus()) > 1:
        pin(pid, server_cpus())


def run_wrk(url: str, *, seconds: float, connections: int = CONNECTIONS, threads: int = 1, script: Path | None = None, env: dict[str, str] | None = None) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    cpus = load_cpus()
    output = subprocess.run(
        command + [url], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    ).stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", output).group(1))  # type: ignore[union-attr]
    elapsed_match = re.search(r"requests in ([\d.]+)(ms|s|m)", output)
    elapsed = float(elapsed_match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[elapsed_match.group(2)]  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)  # the latency distribution lines, not "75.50%"
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=requests,
        seconds=elapsed,
        requests_per_second=rps,
        p50_ms=_latency_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_latency_ms(p99.group(1)) if p99 else float("nan"),
        errors=errors,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
    )


def raw_request(method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request exactly as it goes on the wire (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def replay(url: str, requests: Sequence[bytes], *, seconds: float, directory: Path, connections: int = CONNECTIONS) -> WrkResult:
    """wrk replaying `requests` round robin (e.g. one per device) against `url` for `seconds`."""
    if any(b"\0" in request for request in requests):
        raise ValueError("a request holds a NUL byte")
    data = b"\0".join(requests)
    path = directory / f"wrk-requests-{hashlib.blake2b(data, digest_size=8).hexdigest()}.bin"
    if not path.exists():
        path.write_bytes(data)
    return run_wrk(url, seconds=seconds, connections=connections, script=REPLAY_SCRIPT, env={"WRK_REQUESTS": str(path)})


@dataclass(frozen=True)
class Target:
    """A server under load: where, its process (for CPU time) and the requests to replay."""

    url: str
    pid: int
    requests: Sequence[bytes]


def measure_interleaved(
    targets: dict[str, Target], *, seconds: float, directory: Path, warmup: float = 1.0, rounds: int = 1
) -> dict[str, dict[str, Any]]:
    """Each target's requests/s, latency and CPU time per request: after a warm-up, `rounds` rounds in which
    every target gets one run in turn (so that other work on the machine hits all alike); each target's
    best round (most requests/s) is reported, errors and non-2xx answers are summed over all rounds."""
    for target in targets.values():
        if warmup:
            replay(target.url, target.requests, seconds=warmup, directory=directory)
    measured: dict[str, list[tuple[WrkResult, float]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, target in targets.items():
            before = cpu_seconds(target.pid)
            result = replay(target.url, target.requests, seconds=seconds, directory=directory)
            measured[name].append((result, cpu_seconds(target.pid) - before))
    return {name: _best(runs) for name, runs in measured.items()}


def measure_replay(
    url: str, pid: int, requests: Sequence[bytes], *, seconds: float, directory: Path, warmup: float = 1.0, rounds: int = 1
) -> dict[str, Any]:
    """`measure_interleaved` of one server."""
    target = Target(url, pid, requests)
    return measure_interleaved({"only": target}, seconds=seconds, directory=directory, warmup=warmup, rounds=rounds)["only"]


def _best(runs: list[tuple[WrkResult, float]]) -> dict[str, Any]:
    best, used = max(runs, key=lambda item: item[0].requests_per_second)
    return {
        "requests": best.requests,
        "requests_per_second": best.requests_per_second,
        "p50_ms": best.p50_ms,
        "p99_ms": best.p99_ms,
        "cpu_us_per_request": used / max(best.requests, 1) * 1e6,
        "server_cpu_share": used / best.seconds if best.seconds else float("nan"),
        "rounds_requests_per_second": [round(result.requests_per_second) for result, _ in runs],
        "errors": sum(result.errors for result, _ in runs),
        "non_2xx": sum(result.non_2xx for result, _ in runs),
    }


@dataclass(frozen=True)
class Row:
    """One line of the results table; `ok` is None where the figure has no goal."""

    figure: str
    value: str
    ratio: str = ""
    goal: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else "PASS" if self.ok else "FAIL"

    def document(self) -> dict[str, object]:
        return {"figure": self.figure, "value": self.value, "ratio": self.ratio, "goal": self.goal, "verdict": self.verdict}


def print_table(rows: Sequence[Row | tuple[str, ...]]) -> None:
    """Rows of (figure, value, ratio to the ceiling, goal, verdict)."""
    cells = [
        (row.figure, row.value, row.ratio, row.goal, row.verdict) if isinstance(row, Row) else tuple(row) + ("",) * (5 - len(row))
        for row in rows
    ]
    header = ("figure", "value", "ratio", "goal", "")
    widths = [max(len(str(row[i])) for row in [header, *cells]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *cells]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip(), flush=True)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def python() -> str:
    return sys.executable
