"""Artifact upload and download through a real `menderlite serve`: throughput and the server's memory.

    python -m bench.artifacts [--quick] [--size-mib N]

Builds a single-file artifact of N MiB (default 1024, --quick 64; random payload, stored uncompressed inside
the gzip stream so that building it does not dominate the run), uploads it as mender-cli does (multipart,
chunked), and reports upload MB/s and the server's peak RSS growth during the upload (goal: < 64 MiB), then
downloads it through a signed link with curl (best of three, MB/s), compares that with a bare aiohttp
FileResponse serving the same file (the ceiling, measured in the same run the same way; goal: >= 80%), and
resumes from the middle with a Range request (206). The servers run on one core, curl on the other.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.ceilings import BareServer, curl_download
from bench.common import RssSampler, pin_server, print_table, rss_bytes
from menderlite.artifact.writer import write_single_file_artifact
from tests.support.server import ServerProcess, start_server

MIB = 1024 * 1024
RSS_GOAL_MIB = 64
ARTIFACTS = "/api/management/v1/deployments/artifacts"


def management_token(server: ServerProcess) -> str:
    """A user JWT: create an admin with `menderlite user create`, then log in like mender-cli does."""
    email, password = "bench@menderlite.test", "bench-password-123"
    subprocess.run(
        [sys.executable, "-m", "menderlite", "user", "create", "--data-dir", str(server.data_dir), "--email", email, "--password", password],
        check=True, capture_output=True,
    )
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{server.url}/api/management/v1/useradm/auth/login", method="POST", data=b"",
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode().strip()


def make_artifact(directory: Path, size_mib: int) -> Path:
    payload = directory / "payload.bin"
    with open(payload, "wb") as handle:
        handle.writelines(os.urandom(MIB) for _ in range(size_mib))
    output = directory / "bench.mender"
    write_single_file_artifact(
        output, name=f"bench-{uuid.uuid4().hex[:8]}", device_types=["bench-device"], file_path=payload,
        file_name="payload.bin", dest_dir="/opt/bench", temp_dir=directory, compresslevel=0,
    )
    payload.unlink()
    return output


def _multipart_chunks(path: Path, boundary: str) -> Iterator[bytes]:
    size = path.stat().st_size
    yield (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n{size}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nbenchmark\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"{path.name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def upload(server: ServerProcess, token: str, path: Path) -> str:
    """Chunked multipart upload, as mender-cli sends it; returns the artifact id."""
    boundary = uuid.uuid4().hex
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3600)
    connection.request(
        "POST", ARTIFACTS, body=_multipart_chunks(path, boundary), encode_chunked=True,
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}", "Transfer-Encoding": "chunked"},
    )
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 201:
        raise RuntimeError(f"upload failed: {response.status} {body[:500]!r}")
    return response.headers["Location"].rsplit("/", 1)[1]


def _reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM so that it measures from now on (Linux: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(quick: bool, size_mib: int | None = None) -> dict[str, Any]:
    size_mib = size_mib or (64 if quick else 1024)
    rounds = 5 if quick else 3  # a 64 MiB download lasts ~25 ms: one round is mostly noise
    with tempfile.TemporaryDirectory(prefix="menderlite-bench-") as work:
        directory = Path(work)
        artifact = make_artifact(directory, size_mib)
        size = artifact.stat().st_size
        server = start_server(directory / "data")  # the default configuration
        try:
            token = management_token(server)
            pid = server.process.pid
            pin_server(pid)
            hwm_reset = _reset_peak_rss(pid)
            rss_before = rss_bytes(pid)
            with RssSampler(pid) as sampler:
                started = time.perf_counter()
                artifact_id = upload(server, token, artifact)
                upload_seconds = time.perf_counter() - started
            hwm_growth = _status_kib(pid, "VmHWM") * 1024 - rss_before if hwm_reset else sampler.growth
            request = urllib.request.Request(f"{server.url}{ARTIFACTS}/{artifact_id}/download", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=60) as response:
                link = json.loads(response.read())["uri"]
            assert urlsplit(link).hostname == "127.0.0.1"
            # The ceiling and the download alternate, so that other work on the machine hits both alike.
            with BareServer(artifact) as bare:
                pin_server(bare.process.pid)
                ceilings, downloads = [], []
                for _ in range(rounds):
                    ceilings.append(curl_download(bare.url + "/file", runs=1))
                    downloads.append(curl_download(link, runs=1))
            ceiling = max(ceilings, key=lambda measured: measured["mb_per_second"])
            downloaded = max(downloads, key=lambda measured: measured["mb_per_second"])
            ranged = curl_download(link, runs=1, headers={"Range": f"bytes={size // 2}-"})
        finally:
            server.stop()
    return {
        "artifact_bytes": size,
        "upload_mb_per_second": size / upload_seconds / 1e6,
        "upload_seconds": upload_seconds,
        "upload_peak_rss_growth_mib": max(hwm_growth, sampler.growth) / MIB,
        "upload_sampled_rss_growth_mib": sampler.growth / MIB,
        "file_response_mb_per_second": ceiling["mb_per_second"],
        "download_status": downloaded["status"],
        "download_complete": all(measured["bytes"] == size and measured["status"] == 200 for measured in downloads),
        "download_mb_per_second": downloaded["mb_per_second"],
        "download_ratio": downloaded["mb_per_second"] / ceiling["mb_per_second"],
        "rounds": rounds,
        "range_status": ranged["status"],
        "range_bytes": ranged["bytes"],
        "range_complete": ranged["status"] == 206 and ranged["bytes"] == size - size // 2,
        "range_mb_per_second": ranged["mb_per_second"],
    }


def report(results: dict[str, Any]) -> None:
    rss_ok = results["upload_peak_rss_growth_mib"] < RSS_GOAL_MIB
    print(f"artifact upload/download, {results['artifact_bytes'] / MIB:.0f} MiB artifact")
    print_table([
        ("upload", f"{results['upload_mb_per_second']:.1f} MB/s", "", ""),
        ("upload peak RSS growth", f"{results['upload_peak_rss_growth_mib']:.1f} MiB", "", f"< {RSS_GOAL_MIB} MiB", "ok" if rss_ok else "OVER"),
        ("FileResponse ceiling", f"{results['file_response_mb_per_second']:.1f} MB/s"),
        ("download", f"{results['download_mb_per_second']:.1f} MB/s", f"{results['download_ratio']:.2f}", ">= 0.80, 200, complete",
         "ok" if results["download_ratio"] >= 0.8 and results["download_status"] == 200 and results["download_complete"] else "FAIL"),
        ("range download (2nd half)", f"{results['range_mb_per_second']:.1f} MB/s", "", "206, complete", "ok" if results["range_complete"] else "FAIL"),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.artifacts", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 64 MiB artifact instead of 1 GiB")
    parser.add_argument("--size-mib", type=int, help="artifact size in MiB")
    args = parser.parse_args(argv)
    results = run(args.quick, args.size_mib)
    report(results)
    return 0 if results["upload_peak_rss_growth_mib"] < RSS_GOAL_MIB and results["download_complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
