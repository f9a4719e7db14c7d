"""`mender-cli` 1.9 with an isolated HOME, token cache and working directory (it reads .mender-clirc from
$HOME and from the current directory, and caches the token in $XDG_CACHE_HOME/mender/authtoken)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        """The JSON a `--raw` command printed (devices list --raw prints on stderr)."""
        for text in (self.stdout, self.stderr):
            start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
            if start >= 0:
                return json.loads(text[start:])
        raise AssertionError(f"no JSON in the output of mender-cli: {self.output}")


class MenderCli:
    def __init__(self, binary: str, server_url: str, home: Path, *, cafile: Path | None = None, skip_verify: bool = False) -> None:
        self.binary = binary
        self.server_url = server_url
        self.home = home
        self.cafile = cafile
        self.skip_verify = skip_verify
        home.mkdir(parents=True, exist_ok=True)

    @property
    def token_path(self) -> Path:
        return self.home / ".cache" / "mender" / "authtoken"

    @property
    def token(self) -> str | None:
        return self.token_path.read_text() if self.token_path.exists() else None

    def _environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if key not in {"SSL_CERT_FILE", "SSL_CERT_DIR"}}
        environment.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.home / ".cache"))
        if self.cafile is not None:
            environment["SSL_CERT_FILE"] = str(self.cafile)
        return environment

    def run(self, *args: str, timeout: float = 120) -> CliResult:
        """`mender-cli --server URL [-k] <args>`; never raises on a non-zero exit."""
        command = [self.binary, "--server", self.server_url, *(["--skip-verify"] if self.skip_verify else []), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.home,
                                env=self._environment(), stdin=subprocess.DEVNULL)
        return CliResult(result.returncode, result.stdout, result.stderr)

    def login(self, username: str, password: str) -> CliResult:
        return self.run("login", "--username", username, "--password", password)

    def upload(self, artifact: Path, description: str | None = None) -> CliResult:
        return self.run("artifacts", "upload", "--no-progress", *(["--description", description] if description else []), str(artifact))

    def list_artifacts(self, depth: int | None = None) -> CliResult:
        return self.run("artifacts", "list", *(["-d", str(depth)] if depth is not None else []))

    def delete_artifact(self, artifact_id: str) -> CliResult:
        return self.run("artifacts", "delete", artifact_id)

    def list_devices(self, depth: int | None = None, raw: bool = False) -> CliResult:
        return self.run("devices", "list", *(["-d", str(depth)] if depth is not None else []), *(["--raw"] if raw else []))
