"""How a simulated device gets its own /etc/mender and /usr/share/mender without changing the host.

mender-client 3.4 reads some paths it cannot be told to move (CLIENTS.md §3): /etc/mender/artifact_info,
/usr/share/mender/identity/, /usr/share/mender/inventory/ and /usr/share/mender/modules/v3/. Three modes:

- `namespace` (root): `unshare --mount --propagation private`, then bind mounts of the device's `etc` onto
  /etc/mender, its `share` onto /usr/share/mender and its `root` onto /mnt. The mounts exist only in the
  device's private mount namespace: the host sees nothing, and devices run side by side.
- `userns` (no root, unprivileged user namespaces allowed): the same inside `unshare --user --map-root-user`.
- `dispatch` (no namespaces, but /usr/share/mender and /etc/mender writable): for the session, dispatcher
  scripts in the host's identity/ and inventory/ folders run the scripts of the device named by the
  MENDERLITE_E2E_DEVICE environment variable (inherited from its mender process), and /etc/mender/artifact_info
  is written for the devices. Everything is restored at the end of the session (and recovered at the next
  start after a crash). Limits: running devices must share one initial artifact name, the host's update
  modules are used, and a device's root is its host path (`device.dest_dir` differs per device).

`MENDERLITE_E2E_ISOLATION=namespace|userns|dispatch` forces a mode; by default the first that works is used.
"""

from __future__ import annotations

import enum
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ISOLATION_ENV = "MENDERLITE_E2E_ISOLATION"
DISPATCH_STATE_ENV = "MENDERLITE_E2E_DISPATCH_STATE"
DEFAULT_DISPATCH_STATE = "/var/tmp/menderlite-e2e-dispatch"
DEVICE_ENV = "MENDERLITE_E2E_DEVICE"

HOST_ETC = Path("/etc/mender")
HOST_SHARE = Path("/usr/share/mender")
HOST_MODULES = HOST_SHARE / "modules" / "v3"
# In the namespace modes every device sees its own root directory here, so one artifact whose dest_dir is
# under /mnt installs into each device's own work dir.
DEVICE_ROOT_MOUNT = Path("/mnt")


class Mode(enum.Enum):
    NAMESPACE = "namespace"
    USERNS = "userns"
    DISPATCH = "dispatch"


class IsolationUnavailable(RuntimeError):
    pass


_MOUNT_SCRIPT = """set -e
mount --bind "$1" /etc/mender
mount --bind "$2" /usr/share/mender
if [ -n "$3" ]; then mount --bind "$3" "$4"; fi
shift 4
exec "$@"
"""


def _unshare_prefix(mode: Mode) -> list[str]:
    if mode is Mode.USERNS:
        return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
    return ["unshare", "--mount", "--propagation", "private"]


def _root_mount_available() -> bool:
    return DEVICE_ROOT_MOUNT.is_dir()


def namespace_command(mode: Mode, etc_dir: Path, share_dir: Path, root_dir: Path | None, argv: Sequence[str]) -> list[str]:
    root = str(root_dir) if root_dir is not None else ""
    return [*_unshare_prefix(mode), "--", "/bin/sh", "-c", _MOUNT_SCRIPT, "sh",
            str(etc_dir), str(share_dir), root, str(DEVICE_ROOT_MOUNT), *argv]


def probe(mode: Mode) -> str | None:
    """None if `mode` works here, else why not."""
    if not HOST_ETC.is_dir() or not HOST_SHARE.is_dir():
        return f"{HOST_ETC} or {HOST_SHARE} is missing (is mender-client installed?)"
    if mode is Mode.DISPATCH:
        targets = [HOST_ETC, HOST_SHARE / "identity", HOST_SHARE / "inventory"]
        unwritable = [str(path) for path in targets if not (path.is_dir() and os.access(path, os.W_OK))]
        return f"not writable: {', '.join(unwritable)}" if unwritable else None
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="menderlite-e2e-probe-") as scratch:
        etc, share, root = (Path(scratch) / name for name in ("etc", "share", "root"))
        for directory in (etc, share, root):
            directory.mkdir()
        (etc / "probe").write_text("ok")
        argv = ["cat", "/etc/mender/probe"]
        command = namespace_command(mode, etc, share, root if _root_mount_available() else None, argv)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command[:6])}: {exc}"
    if result.returncode != 0 or result.stdout != "ok":
        return f"{' '.join(_unshare_prefix(mode))} with bind mounts failed: {result.stderr.strip() or result.returncode}"
    return None


# --- dispatch mode ------------------------------------------------------------------------------------------

_MARK = "# menderlite-e2e dispatcher (installed by the test suite, removed at its end)"
IDENTITY_TARGET = HOST_SHARE / "identity" / "mender-device-identity"
INVENTORY_TARGET = HOST_SHARE / "inventory" / "mender-inventory-menderlite-e2e"
ARTIFACT_INFO_TARGET = HOST_ETC / "artifact_info"

_IDENTITY_DISPATCHER = f"""#!/bin/sh
{_MARK}
[ -n "${DEVICE_ENV}" ] || exit 1
exec "${DEVICE_ENV}/share/identity/mender-device-identity"
"""

_INVENTORY_DISPATCHER = f"""#!/bin/sh
{_MARK}
[ -n "${DEVICE_ENV}" ] || exit 0
for script in "${DEVICE_ENV}"/share/inventory/mender-inventory-*; do
    if [ -x "$script" ]; then "$script"; fi
done
exit 0
"""


@dataclass
class DispatchInstallation:
    """The host files of dispatch mode: installed once per session, restored by `uninstall()`."""

    state_dir: Path = field(default_factory=lambda: Path(os.environ.get(DISPATCH_STATE_ENV, DEFAULT_DISPATCH_STATE)))
    lock_timeout: float = 300
    _lock_file: int | None = None
    _claims: dict[str, str] = field(default_factory=dict)

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    def install(self) -> None:
        self._lock()
        self._recover()
        state: dict[str, str | None] = {}
        for target in (IDENTITY_TARGET, INVENTORY_TARGET, ARTIFACT_INFO_TARGET):
            backup = self.state_dir / target.name
            if target.exists() or target.is_symlink():
                shutil.move(str(target), backup)
                state[str(target)] = str(backup)
            else:
                state[str(target)] = None
            self._state_file.write_text(json.dumps(state))  # written as we go: a crash mid-way is recoverable
        self._write_script(IDENTITY_TARGET, _IDENTITY_DISPATCHER)
        self._write_script(INVENTORY_TARGET, _INVENTORY_DISPATCHER)

    def uninstall(self) -> None:
        try:
            self._recover()
        finally:
            self._unlock()

    def claim_artifact_info(self, owner: str, artifact_name: str) -> None:
        """All running devices read the host's /etc/mender/artifact_info: they must agree on its content."""
        others = {name for key, name in self._claims.items() if key != owner}
        if others and others != {artifact_name}:
            raise IsolationUnavailable(
                f"dispatch isolation: devices share {ARTIFACT_INFO_TARGET}; a running device uses "
                f"{sorted(others)[0]!r}, this one wants {artifact_name!r} (use mount namespaces for that)"
            )
        self._claims[owner] = artifact_name
        ARTIFACT_INFO_TARGET.write_text(f"artifact_name={artifact_name}\n")

    def release_artifact_info(self, owner: str) -> None:
        self._claims.pop(owner, None)

    def _recover(self) -> None:
        """Put back what a session (this one, or one that crashed) replaced."""
        if self._state_file.exists():
            state: dict[str, str | None] = json.loads(self._state_file.read_text())
            for target_name, backup in state.items():
                target_path = Path(target_name)
                if backup is not None and Path(backup).exists():
                    shutil.move(backup, target_path)
                elif backup is None and target_path.exists():
                    target_path.unlink()
            self._state_file.unlink()
        for target in (IDENTITY_TARGET, INVENTORY_TARGET):
            if target.exists() and _MARK in target.read_text(errors="replace"):
                target.unlink()
        self._claims.clear()

    @staticmethod
    def _write_script(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    @property
    def _lock_path(self) -> Path:
        return self.state_dir / "lock"

    def _lock(self) -> None:
        """One dispatch installation per machine at a time (parallel test runs would fight over the host files).

        The holder removes the lock file (and the state dir) when it is done, so a waiter that got the lock on
        a file already unlinked tries again on the current one."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            except FileNotFoundError:  # the holder removed the state dir just now
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                if time.monotonic() > deadline:
                    raise IsolationUnavailable(f"another test run holds {self._lock_path}") from None
                time.sleep(0.2)
                continue
            if self._is_current_lock_file(descriptor):
                self._lock_file = descriptor
                return
            os.close(descriptor)

    def _is_current_lock_file(self, descriptor: int) -> bool:
        try:
            return os.stat(self._lock_path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            return False

    def _unlock(self) -> None:
        """Release the lock, leaving nothing behind on the host once no crash state is left to recover."""
        if self._lock_file is None:
            return
        try:
            if not self._state_file.exists():
                self._lock_path.unlink(missing_ok=True)
                try:
                    self.state_dir.rmdir()
                except OSError:  # not empty (someone else's files): leave it
                    pass
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            os.close(self._lock_file)
            self._lock_file = None


# --- the session's choice -------------------------------------------------------------------------------------


@dataclass
class Isolation:
    mode: Mode
    dispatch: DispatchInstallation | None = None

    @property
    def per_device_artifact_info(self) -> bool:
        """Whether running devices may start with different artifact names (not in dispatch mode)."""
        return self.mode is not Mode.DISPATCH

    @property
    def mounts_device_root(self) -> bool:
        return self.mode is not Mode.DISPATCH and _root_mount_available()

    def command(self, etc_dir: Path, share_dir: Path, root_dir: Path, argv: Sequence[str]) -> list[str]:
        if self.mode is Mode.DISPATCH:
            return list(argv)
        return namespace_command(self.mode, etc_dir, share_dir, root_dir if self.mounts_device_root else None, argv)

    def close(self) -> None:
        if self.dispatch is not None:
            self.dispatch.uninstall()


def select(requested: str | None = None) -> Isolation:
    """The first mode that works (or the requested one); raises IsolationUnavailable with every reason."""
    requested = requested if requested is not None else os.environ.get(ISOLATION_ENV, "")
    if requested:
        try:
            candidates = [Mode(requested)]
        except ValueError:
            raise IsolationUnavailable(f"{ISOLATION_ENV}={requested!r}: use one of {', '.join(m.value for m in Mode)}") from None
    else:
        candidates = list(Mode)
    reasons = []
    for mode in candidates:
        reason = probe(mode)
        if reason is None:
            return open_isolation(mode)
        reasons.append(f"{mode.value}: {reason}")
    raise IsolationUnavailable("no way to isolate simulated devices here: " + "; ".join(reasons))


def open_isolation(mode: Mode) -> Isolation:
    if mode is Mode.DISPATCH:
        installation = DispatchInstallation()
        installation.install()
        return Isolation(mode, installation)
    return Isolation(mode)
