"""`menderlite serve` and `migrate` as real processes: start-up, keys, TLS, shutdown."""

from __future__ import annotations

import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.server import (
    ServerProcess,
    free_port,
    start_server,
    start_tls_server,
)


def test_serve_starts_answers_and_stops_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        with urllib.request.urlopen(f"{server.url}/api/internal/v1/useradm/health", timeout=5) as response:
            assert response.status == 204
    finally:
        assert server.stop() == 0
    log = server.log
    assert f"serving on http://127.0.0.1:{server.port}" in log
    assert "stopped" in log
    keys = tmp_path / "data" / "keys"
    for name in ("jwt-private.pem", "url-secret"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    assert (tmp_path / "data" / "menderlite.db").exists()


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    first.stop()
    key = (tmp_path / "data" / "keys" / "jwt-private.pem").read_bytes()
    second = start_server(tmp_path / "data")
    second.stop()
    assert (tmp_path / "data" / "keys" / "jwt-private.pem").read_bytes() == key


def test_migrate_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "menderlite", "migrate", "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    assert (tmp_path / "d" / "menderlite.db").exists()


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "menderlite", "serve", "--data-dir", str(tmp_path / "d"), "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert "menderlite: error: cannot serve on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_flags_are_checked(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "menderlite", "serve", "--data-dir", str(tmp_path / "d"), "--tls-cert", "x.pem"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "--tls-cert and --tls-key must be given together" in result.stderr


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    data_dir = tmp_path_factory.mktemp("tls") / "data"
    server, cert = start_tls_server(data_dir, "--tls-hostname", "ota.example.lan", "--tls-hostname", "192.168.7.7")
    yield server, cert
    server.stop()


def test_self_signed_certificate_covers_the_names(tls_server: tuple[ServerProcess, Path]) -> None:
    server, cert_path = tls_server
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "ota.example.lan"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.168.7.7"}
    assert f"ServerCertificate={cert_path}" in server.log
    assert stat.S_IMODE((cert_path.parent / "server.key").stat().st_mode) == 0o600


def test_client_trusting_the_certificate_connects(tls_server: tuple[ServerProcess, Path]) -> None:
    server, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(f"https://127.0.0.1:{server.port}/api/internal/v1/devauth/alive", context=context, timeout=5) as response:
        assert response.status == 204
    with urllib.request.urlopen(f"https://localhost:{server.port}/status", context=context, timeout=5) as response:
        assert response.status == 200


def test_client_not_trusting_the_certificate_is_refused(tls_server: tuple[ServerProcess, Path]) -> None:
    server, _ = tls_server
    with pytest.raises(urllib.error.URLError) as error:
        urllib.request.urlopen(f"https://127.0.0.1:{server.port}/status", context=ssl.create_default_context(), timeout=5)
    assert isinstance(error.value.reason, ssl.SSLCertVerificationError)


def test_curl_trusts_the_certificate_via_cacert(tls_server: tuple[ServerProcess, Path]) -> None:
    server, cert = tls_server
    if subprocess.run(["which", "curl"], capture_output=True).returncode != 0:
        pytest.skip("curl is not installed")
    trusted = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(cert), f"https://127.0.0.1:{server.port}/status"], capture_output=True, text=True, timeout=30)
    assert trusted.stdout == "200", trusted.stderr
    untrusted = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"https://127.0.0.1:{server.port}/status"], capture_output=True, text=True, timeout=30)
    assert untrusted.returncode != 0


def test_self_signed_certificate_is_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, cert = start_tls_server(data_dir)
    first.stop()
    original = cert.read_bytes()
    second, _ = start_tls_server(data_dir)
    second.stop()
    assert cert.read_bytes() == original
    assert "created a self-signed certificate" not in second.log


def test_free_port_helper() -> None:
    assert 1024 < free_port() < 65536


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    body = b'{"id_data": "{\\"mac\\":\\"02:00:00:00:00:01\\"}", "pubkey": "not a key"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        head = (
            "POST /api/devices/v1/authentication/auth_requests HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"X-MEN-Signature: c2ln\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        connection.sendall(head + body[:10])  # the request is in flight: its body is still arriving
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None, "the server quit with a request in flight"
        connection.sendall(body[10:])
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 400 "), response[:200]
    assert b'"error":"invalid auth request: cannot decode public key"' in response
    assert server.process.wait(timeout=30) == 0
    assert "shutting down" in server.log and "stopped" in server.log


def test_sigint_stops_the_server_too(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    assert server.stop(signal.SIGINT) == 0
