"""Fixtures of the end-to-end tests (see README.md in this folder).

- `server` / `tls_server` (module scope): `menderlite serve` over HTTP / self-signed HTTPS, fresh data dir.
- `make_device(server, **options)`: a started `MenderDevice` (stopped, and checked for leftover processes,
  after the test); `start=False` to prepare it only. Against a `tls_server` it trusts the server's
  certificate unless `trust_server=False`.
- `make_cli(server)`: a `MenderCli` with its own HOME and token cache.
- `artifacts` (session): an `ArtifactFactory` (mender-artifact, cached per session).
- `recorder`: a started `RecordingServer`.
- `make_proxy(server)`: a started `FaultProxy` in front of an HTTP server (cut or throttle downloads).
Failing tests get the log tails of the server and devices in use appended to their report.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import diagnostics
from tests.e2e.harness.artifacts import ArtifactFactory
from tests.e2e.harness.cli import MenderCli
from tests.e2e.harness.clients import ClientPaths, require_clients, unavailable
from tests.e2e.harness.device import MenderDevice
from tests.e2e.harness.isolation import Isolation, IsolationUnavailable, select
from tests.e2e.harness.proxy import FaultProxy
from tests.e2e.harness.recorder import RecordingServer
from tests.e2e.harness.server import E2EServer, start_e2e_server


@pytest.fixture(scope="session")
def mender_clients() -> ClientPaths:
    """Paths of the three binaries; skips (or fails with MENDERLITE_E2E_REQUIRED=1) when one is missing."""
    return require_clients()


@pytest.fixture(scope="session")
def isolation(mender_clients: ClientPaths) -> Iterator[Isolation]:
    try:
        chosen = select()
    except IsolationUnavailable as exc:
        unavailable(str(exc))
    yield chosen
    chosen.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mender_clients: ClientPaths) -> Iterator[E2EServer]:
    started = start_e2e_server(tmp_path_factory.mktemp("server"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, mender_clients: ClientPaths) -> Iterator[E2EServer]:
    started = start_e2e_server(tmp_path_factory.mktemp("tls-server"), tls=True)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _server_logs_per_test(request: pytest.FixtureRequest) -> None:
    """Failure reports show only this test's part of a module-scoped server's log."""
    for name in ("server", "tls_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).mark_test_start()


DeviceFactory = Callable[..., MenderDevice]


@pytest.fixture
def make_device(tmp_path: Path, mender_clients: ClientPaths, isolation: Isolation) -> Iterator[DeviceFactory]:
    devices: list[MenderDevice] = []
    numbers = itertools.count(1)

    def make(server: E2EServer | RecordingServer | str, *, start: bool = True, trust_server: bool = True, **options: Any) -> MenderDevice:
        url = server if isinstance(server, str) else server.url
        cafile = getattr(server, "cafile", None)
        if cafile is not None and trust_server:
            options.setdefault("server_certificate", cafile)
        device = MenderDevice(tmp_path / f"device{next(numbers)}", url, clients=mender_clients, isolation=isolation, **options)
        devices.append(device)
        if start:
            device.start()
        return device

    yield make
    leftovers: list[int] = []
    errors: list[BaseException] = []
    for device in devices:
        try:
            device.close()
        except Exception as exc:  # keep closing the others
            errors.append(exc)
        leftovers += device.leftover_processes()
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not leftovers, f"processes of simulated devices survived stop(): {leftovers}"
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, mender_clients: ClientPaths) -> ArtifactFactory:
    return ArtifactFactory(mender_clients.mender_artifact, tmp_path_factory.mktemp("artifacts"))


@pytest.fixture
def make_cli(tmp_path: Path, mender_clients: ClientPaths) -> Callable[..., MenderCli]:
    numbers = itertools.count(1)

    def make(server: E2EServer, *, trust_server: bool = True, skip_verify: bool = False) -> MenderCli:
        cafile = server.cafile if trust_server else None
        return MenderCli(mender_clients.mender_cli, server.url, tmp_path / f"cli{next(numbers)}", cafile=cafile, skip_verify=skip_verify)

    return make


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    with RecordingServer() as started:
        yield started


@pytest.fixture
def make_proxy() -> Iterator[Callable[[E2EServer | RecordingServer], FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(upstream: E2EServer | RecordingServer) -> FaultProxy:
        proxy = FaultProxy(upstream.url).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        already_shown = report.longreprtext
        for source in diagnostics.active_sources():
            if f"----- {source.log_title}" not in already_shown:
                report.sections.append((f"e2e log: {source.log_title}", source.log_tail()))
