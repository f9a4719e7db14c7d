"""End-to-end harness: real mender-client / mender-cli / mender-artifact against `menderlite serve`.

See tests/e2e/README.md. Fixtures live in tests/e2e/conftest.py.
"""

from tests.e2e.harness.api import HttpApi, HttpResponse, ManagementApi
from tests.e2e.harness.artifacts import ArtifactFactory
from tests.e2e.harness.cli import CliResult, MenderCli
from tests.e2e.harness.device import MenderDevice
from tests.e2e.harness.diagnostics import wait_for
from tests.e2e.harness.recorder import RecordingServer, Reply
from tests.e2e.harness.server import E2EServer

__all__ = [
    "ArtifactFactory", "CliResult", "E2EServer", "HttpApi", "HttpResponse", "ManagementApi", "MenderCli",
    "MenderDevice", "RecordingServer", "Reply", "wait_for",
]
