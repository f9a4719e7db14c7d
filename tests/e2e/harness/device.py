"""A simulated Mender device: the real `mender` 3.4 daemon in its own work directory.

Work directory layout (host paths; in the namespace modes the device sees `etc` as /etc/mender, `share` as
/usr/share/mender and `root` as /mnt):

    mender.conf             ServerURL, short poll intervals, DBus off, ServerCertificate...
    etc/artifact_info       artifact_name=<initial name>
    share/identity/mender-device-identity     prints the lines of ./identity
    share/inventory/mender-inventory-e2e      prints the lines of ./inventory (editable while running)
    share/modules/v3/*      copies of the Debian update modules (single-file, directory, script, ...)
    data/                   the client's data store (-d): device_type, mender-agent.pem, LMDB, logs
    root/files/             where single-file artifacts made with `dest_dir=device.dest_dir` install
    mender.log              the daemon's log (debug level); commands.log: one-shot commands
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.harness import diagnostics
from tests.e2e.harness.clients import ClientPaths
from tests.e2e.harness.isolation import (
    DEVICE_ENV,
    DEVICE_ROOT_MOUNT,
    HOST_MODULES,
    Isolation,
    Mode,
)

T = TypeVar("T")
Attributes = Mapping[str, str | list[str]]

DEFAULT_DEVICE_TYPE = "qemux86-64"
DEFAULT_ARTIFACT_NAME = "e2e-initial"
_numbers = itertools.count(1)
# Debug log lines end with ` func=... file="..."`: noise in a failure report.
_LOG_SOURCE_SUFFIX = re.compile(r' func=("[^"]*"|\S+) file=("[^"]*"|\S+)$')


def random_mac() -> str:
    """A locally administered unicast MAC address (02:...), unique enough to tell devices apart."""
    return "02:" + ":".join(f"{byte:02x}" for byte in os.urandom(5))


def key_value_lines(attributes: Attributes) -> str:
    """The `key=value` lines identity and inventory scripts print (a list value repeats the key)."""
    lines = []
    for key, value in attributes.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}={item}")
    return "".join(f"{line}\n" for line in lines)


def rsa_private_key_pem(bits: int) -> bytes:
    """PKCS#1 PEM, the format the client stores in mender-agent.pem."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())


class MenderDevice:
    def __init__(
        self,
        work_dir: Path,
        server_url: str,
        *,
        clients: ClientPaths,
        isolation: Isolation,
        name: str | None = None,
        device_type: str = DEFAULT_DEVICE_TYPE,
        artifact_name: str = DEFAULT_ARTIFACT_NAME,
        identity: Attributes | None = None,
        inventory: Attributes | None = None,
        server_certificate: Path | None = None,
        skip_verify: bool = False,
        tenant_token: str | None = None,
        update_poll_seconds: int = 1,
        inventory_poll_seconds: int = 2,
        retry_poll_seconds: int = 1,
        config: Mapping[str, Any] | None = None,
        key_bits: int | None = 2048,
    ) -> None:
        """`key_bits=None` lets the client generate its own RSA 3072 key (slower); otherwise a fresh key of
        that size is put in the data store beforehand."""
        self.name = name or f"device-{os.getpid()}-{next(_numbers)}"
        self.work_dir = work_dir
        self.server_url = server_url
        self.clients = clients
        self.isolation = isolation
        self.device_type = device_type
        self.initial_artifact_name = artifact_name
        self.identity: dict[str, str | list[str]] = dict(identity) if identity is not None else {"mac": random_mac(), "serial": self.name}
        self.config: dict[str, Any] = {
            "ServerURL": server_url,
            "UpdatePollIntervalSeconds": update_poll_seconds,
            "InventoryPollIntervalSeconds": inventory_poll_seconds,
            "RetryPollIntervalSeconds": retry_poll_seconds,
            "DBus": {"Enabled": False},
        }
        if server_certificate is not None:
            self.config["ServerCertificate"] = str(server_certificate)
        if skip_verify:
            self.config["SkipVerify"] = True
        if tenant_token:
            self.config["TenantToken"] = tenant_token
        self.config.update(config or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self._prepare(inventory if inventory is not None else {"hostname": self.name}, key_bits)
        diagnostics.register(self)

    # --- layout ---------------------------------------------------------------------------------------------
    @property
    def etc_dir(self) -> Path:
        return self.work_dir / "etc"

    @property
    def share_dir(self) -> Path:
        return self.work_dir / "share"

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def root_dir(self) -> Path:
        return self.work_dir / "root"

    @property
    def files_dir(self) -> Path:
        """Host path where artifacts made with `dest_dir=device.dest_dir` put their files."""
        return self.root_dir / "files"

    @property
    def dest_dir(self) -> str:
        """The `dest_dir` for single-file/directory artifacts, as this device sees `files_dir`.

        In the namespace modes it is the same for every device (/mnt/files), so one artifact per device type
        serves many devices and each installs into its own work dir."""
        return str(self.device_view_of_root() / "files")

    def device_view_of_root(self) -> Path:
        return DEVICE_ROOT_MOUNT if self.isolation.mounts_device_root else self.root_dir

    def installed_file(self, filename: str) -> Path:
        return self.files_dir / filename

    @property
    def config_path(self) -> Path:
        return self.work_dir / "mender.conf"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "mender.log"

    @property
    def commands_log_path(self) -> Path:
        return self.work_dir / "commands.log"

    @property
    def mac(self) -> str:
        return str(self.identity["mac"])

    @property
    def id_data(self) -> str:
        """The `id_data` string the client sends in auth_requests (compact JSON, sorted keys)."""
        return json.dumps(dict(sorted(self.identity.items())), separators=(",", ":"))

    def _prepare(self, inventory: Attributes, key_bits: int | None) -> None:
        for directory in (self.etc_dir, self.share_dir / "identity", self.share_dir / "inventory",
                          self.share_dir / "modules" / "v3", self.data_dir, self.files_dir):
            directory.mkdir(parents=True, exist_ok=True)
        (self.etc_dir / "artifact_info").write_text(f"artifact_name={self.initial_artifact_name}\n")
        (self.data_dir / "device_type").write_text(f"device_type={self.device_type}\n")
        (self.work_dir / "identity").write_text(key_value_lines(self.identity))
        self.set_inventory(inventory)
        self._write_script(self.share_dir / "identity" / "mender-device-identity", self.work_dir / "identity")
        self._write_script(self.share_dir / "inventory" / "mender-inventory-e2e", self.work_dir / "inventory")
        for module in HOST_MODULES.iterdir():
            shutil.copy2(module, self.share_dir / "modules" / "v3" / module.name)
        if key_bits:
            key_path = self.data_dir / "mender-agent.pem"
            key_path.write_bytes(rsa_private_key_pem(key_bits))
            key_path.chmod(0o600)
        self.config_path.write_text(json.dumps(self.config, indent=2))

    def update_config(self, **keys: Any) -> None:
        """Change mender.conf keys (e.g. ServerURL=proxy.url); the daemon reads them at its next start()."""
        self.config.update(keys)
        self.config_path.write_text(json.dumps(self.config, indent=2))

    @staticmethod
    def _write_script(path: Path, data_file: Path) -> None:
        path.write_text(f"#!/bin/sh\nexec cat {shlex.quote(str(data_file))}\n")
        path.chmod(0o755)

    def set_inventory(self, attributes: Attributes) -> None:
        """Replace the attributes the inventory script reports (besides the client's own ones); takes
        effect at the next inventory send (`send_inventory()` forces one)."""
        (self.work_dir / "inventory").write_text(key_value_lines(attributes))

    # --- running --------------------------------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        return {**os.environ, DEVICE_ENV: str(self.work_dir)}

    def _mender_argv(self, *args: str) -> list[str]:
        return [self.clients.mender, "--no-syslog", "-c", str(self.config_path),
                "-b", str(self.work_dir / "no-fallback-config"), "-d", str(self.data_dir), *args]

    def _command(self, argv: list[str]) -> list[str]:
        return self.isolation.command(self.etc_dir, self.share_dir, self.root_dir, argv)

    def _claim_host_files(self) -> None:
        if self.isolation.mode is Mode.DISPATCH and self.isolation.dispatch is not None:
            self.isolation.dispatch.claim_artifact_info(str(self.work_dir), self.initial_artifact_name)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> MenderDevice:
        """Start `mender daemon` (debug log in mender.log)."""
        assert not self.running, f"{self.name} is already running"
        self._claim_host_files()
        self._log_handle = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self._command(self._mender_argv("-l", "debug", "daemon")),
            stdin=subprocess.DEVNULL, stdout=self._log_handle, stderr=subprocess.STDOUT,
            cwd=self.work_dir, env=self._environment(), start_new_session=True,
        )
        return self

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; also kills whatever the daemon left in its process group.
        Returns the daemon's exit status (None if it never ran)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait()
        self._kill_group()
        self._await_group_exit()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return self.process.returncode

    def _kill_group(self) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _await_group_exit(self, timeout: float = 5) -> None:
        """SIGKILL is asynchronous: give the killed children a moment to be gone."""
        deadline = time.monotonic() + timeout
        while self.leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the daemon and release what the device holds (fixtures call this)."""
        try:
            self.stop()
        finally:
            if self.isolation.dispatch is not None:
                self.isolation.dispatch.release_artifact_info(str(self.work_dir))
            diagnostics.unregister(self)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.running, f"{self.name} is not running:\n{self.log_tail()}"
        assert self.process is not None
        self.process.send_signal(sig)

    def check_update(self) -> None:
        """SIGUSR1: the daemon checks for an update now instead of at the next poll."""
        self._signal(signal.SIGUSR1)

    def send_inventory(self) -> None:
        """SIGUSR2: the daemon sends its inventory now."""
        self._signal(signal.SIGUSR2)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A one-shot `mender <args>` with this device's config, data store and isolation (rc, stdout, stderr)."""
        argv = self._mender_argv(*args)
        self._claim_host_files()
        result = subprocess.run(self._command(argv), capture_output=True, text=True, timeout=timeout,
                                cwd=self.work_dir, env=self._environment(), stdin=subprocess.DEVNULL)
        with open(self.commands_log_path, "a") as log:
            log.write(f"$ mender {' '.join(args)}  -> rc {result.returncode}\n{result.stdout}{result.stderr}\n")
        return result

    def bootstrap(self, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`mender bootstrap`: rc 0 when the server gave a token, non-zero otherwise."""
        return self.run("bootstrap", timeout=timeout)

    def show_artifact(self) -> str:
        result = self.run("show-artifact")
        assert result.returncode == 0, f"show-artifact failed: {result.stderr}"
        return result.stdout.strip()

    def show_provides(self) -> dict[str, str]:
        result = self.run("show-provides")
        assert result.returncode == 0, f"show-provides failed: {result.stderr}"
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def leftover_processes(self) -> list[int]:
        """PIDs of processes still carrying this device's marker in their environment (should be none)."""
        return processes_with_env(DEVICE_ENV, str(self.work_dir))

    # --- logs and waiting -----------------------------------------------------------------------------------
    def log_mark(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    @property
    def log_title(self) -> str:
        state = "running" if self.running else f"exited {self.process.returncode}" if self.process else "not started"
        return f"device {self.name} ({state}, isolation {self.isolation.mode.value}) {self.log_path}"

    def log_tail(self, lines: int = diagnostics.DEFAULT_TAIL_LINES) -> str:
        text = "\n".join(_LOG_SOURCE_SUFFIX.sub("", line) for line in self.log_text().splitlines())
        commands = self.commands_log_path.read_text(errors="replace") if self.commands_log_path.exists() else ""
        return diagnostics.tail(text, lines) + (f"\n[one-shot commands]\n{diagnostics.tail(commands, 20)}" if commands else "")

    def wait_for_log(self, pattern: str | re.Pattern[str], *, since: int = 0, timeout: float = 30) -> re.Match[str]:
        """Wait until the daemon's log (from `since`, see `log_mark()`) matches `pattern` (regex); also fails
        early if the daemon exits."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> re.Match[str] | None:
            match = regex.search(self.log_text(since))
            if match is None and self.process is not None and not self.running:
                diagnostics.wait_for(lambda: False, what=f"{regex.pattern!r} in {self.name}'s log (the daemon exited)", timeout=0)
            return match

        return diagnostics.wait_for(found, what=f"{regex.pattern!r} in {self.name}'s log", timeout=timeout)

    def wait_for(self, predicate: Callable[[], T | None], *, what: str, timeout: float = 30) -> T:
        return diagnostics.wait_for(predicate, what=f"{what} ({self.name})", timeout=timeout)


def processes_with_env(variable: str, value: str) -> list[int]:
    """PIDs of live (not zombie) processes whose environment has variable=value (readable ones only)."""
    wanted = f"{variable}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and wanted in environment.split(b"\0"):
            pids.append(int(entry.name))
    return pids
