"""Where the real Mender clients are, and what to do when they are missing (skip, or fail in CI)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest

REQUIRED_ENV = "MENDERLITE_E2E_REQUIRED"

# package -> binary; mender-client's binary is `mender`.
CLIENT_BINARIES = {"mender-client": "mender", "mender-cli": "mender-cli", "mender-artifact": "mender-artifact"}


@dataclass(frozen=True)
class ClientPaths:
    mender: str
    mender_cli: str
    mender_artifact: str


def e2e_required(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(REQUIRED_ENV, "").strip().lower() in {"1", "true", "yes"}


def find_clients(which: Callable[[str], str | None] = shutil.which) -> tuple[ClientPaths | None, list[str]]:
    """The binaries' paths, or None and the list of missing packages."""
    found = {package: which(binary) for package, binary in CLIENT_BINARIES.items()}
    missing = [f"{package} ({CLIENT_BINARIES[package]})" for package, path in found.items() if path is None]
    if missing:
        return None, missing
    return ClientPaths(found["mender-client"], found["mender-cli"], found["mender-artifact"]), []  # type: ignore[arg-type]


def unavailable(reason: str, environ: Mapping[str, str] = os.environ) -> None:
    """Skip the test with `reason`, or fail it when the e2e tests are required (CI)."""
    if e2e_required(environ):
        pytest.fail(f"{reason} (and {REQUIRED_ENV}=1 requires the end-to-end tests to run)", pytrace=False)
    pytest.skip(reason)


def require_clients(
    environ: Mapping[str, str] = os.environ, which: Callable[[str], str | None] = shutil.which
) -> ClientPaths:
    paths, missing = find_clients(which)
    if paths is None:
        unavailable(
            "end-to-end test needs the real Mender clients; missing: "
            + ", ".join(missing)
            + " (apt-get install mender-client mender-cli mender-artifact)",
            environ,
        )
    assert paths is not None
    return paths
