"""Run a real `menderlite serve` process on a free loopback port (for CLI, TLS and end-to-end tests)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def server_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a `menderlite` subprocess: ours (test switches such as MENDERLITE_E2E_REQUIRED are
    reserved names that `menderlite` ignores) with unbuffered output, plus `extra`."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    scheme: str = "http"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    scheme: str = "http",
    cafile: Path | None = None,
    wait: bool = True,
) -> ServerProcess:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "menderlite", "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port), *args]
    environment = server_environment(env)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=environment)
    server = ServerProcess(data_dir, port, process, log_path, scheme)
    if wait:
        wait_until_alive(server, cafile=cafile)
    return server


def wait_until_alive(server: ServerProcess, timeout: float = 30, cafile: Path | None = None) -> None:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"menderlite serve exited with {server.process.returncode}:\n{server.log}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/internal/v1/devauth/alive", timeout=2, context=context) as response:
                if response.status == 204:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"menderlite serve did not come up:\n{server.log}")


def start_tls_server(data_dir: Path, *args: str, timeout: float = 30) -> tuple[ServerProcess, Path]:
    """Start with --tls-self-signed and wait, trusting the certificate the server generates."""
    server = start_server(data_dir, "--tls-self-signed", *args, scheme="https", wait=False)
    cert = data_dir / "tls" / "server.crt"
    deadline = time.monotonic() + timeout
    while not cert.exists() and time.monotonic() < deadline and server.process.poll() is None:
        time.sleep(0.05)
    wait_until_alive(server, cafile=cert)
    return server, cert
