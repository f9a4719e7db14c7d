"""A real `menderlite serve` process for the end-to-end tests, with its access log as a request record."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import diagnostics
from tests.e2e.harness.api import HttpApi
from tests.support.server import (
    ServerProcess,
    server_environment,
    start_server,
    start_tls_server,
)

# "2026-11-25 21:19:24,755 INFO aiohttp.access: POST /api/... 404 1.2ms <request id>"
_ACCESS_LINE = re.compile(r"aiohttp\.access: (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) [\d.]+ms (?P<request_id>\S+)$")


@dataclass(frozen=True)
class AccessLogEntry:
    method: str
    path: str
    status: int
    request_id: str


class E2EServer:
    """`menderlite serve` on a free loopback port with a fresh data directory (HTTP or self-signed HTTPS)."""

    def __init__(self, process: ServerProcess, cafile: Path | None = None) -> None:
        self.process = process
        self.cafile = cafile
        self._test_start = 0

    # --- identity ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.process.url

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir

    @property
    def tls(self) -> bool:
        return self.process.scheme == "https"

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def http(self, token: str | None = None) -> HttpApi:
        return HttpApi(self.url, cafile=self.cafile, token=token)

    # --- log --------------------------------------------------------------------------------------------
    def mark(self) -> int:
        """A position in the log; pass it as `since=` to look only at what happened afterwards."""
        return self.log_path.stat().st_size

    def mark_test_start(self) -> None:
        """Called by the fixtures at each test start: failure reports show this test's part of a shared log."""
        self._test_start = self.mark()

    def log_text(self, since: int = 0) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    @property
    def log_title(self) -> str:
        return f"menderlite serve {self.url} log ({self.log_path})"

    def log_tail(self, lines: int = diagnostics.DEFAULT_TAIL_LINES) -> str:
        return diagnostics.tail(self.log_text(self._test_start), lines)

    def requests(self, since: int = 0) -> list[AccessLogEntry]:
        entries = []
        for line in self.log_text(since).splitlines():
            match = _ACCESS_LINE.search(line)
            if match:
                entries.append(AccessLogEntry(match["method"], match["path"], int(match["status"]), match["request_id"]))
        return entries

    def find_requests(
        self, method: str, path: str | re.Pattern[str], status: int | None = None, since: int = 0
    ) -> list[AccessLogEntry]:
        """Access-log entries matching `method`, `path` (exact string or a regex matched in full) and `status`.

        The server writes the access line after sending the response: right after a client call returns,
        use `wait_for_request`, not this."""
        def matches(entry: AccessLogEntry) -> bool:
            path_ok = entry.path == path if isinstance(path, str) else path.fullmatch(entry.path) is not None
            return entry.method == method and path_ok and (status is None or entry.status == status)

        return [entry for entry in self.requests(since) if matches(entry)]

    def wait_for_request(
        self, method: str, path: str | re.Pattern[str], status: int | None = None, *, since: int = 0, timeout: float = 30
    ) -> AccessLogEntry:
        found = diagnostics.wait_for(
            lambda: self.find_requests(method, path, status, since),
            what=f"{method} {getattr(path, 'pattern', path)}" + (f" -> {status}" if status else "") + " in the server's access log",
            timeout=timeout,
        )
        return found[0]

    # --- process ----------------------------------------------------------------------------------------
    def menderlite(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `menderlite <args> --data-dir <this server's data dir>` (e.g. service commands creating users)."""
        command = [sys.executable, "-m", "menderlite", *args, "--data-dir", str(self.data_dir)]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=server_environment())

    def stop(self) -> int:
        diagnostics.unregister(self)
        return self.process.stop()


def start_e2e_server(base_dir: Path, *args: str, tls: bool = False) -> E2EServer:
    """Start `menderlite serve` with a fresh data dir under `base_dir`; `tls` serves a self-signed certificate
    (`server.cafile` is `<data-dir>/tls/server.crt`, valid for 127.0.0.1 and localhost)."""
    data_dir = base_dir / "data"
    if tls:
        process, cert = start_tls_server(data_dir, *args)
        server = E2EServer(process, cafile=cert)
    else:
        server = E2EServer(start_server(data_dir, *args))
    diagnostics.register(server)
    return server
