"""Artifacts made with the real `mender-artifact` 3.9, cached for the session (same arguments, same file)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The client refuses downloads under 4096 bytes ("Image size is smaller than expected").
MIN_DOWNLOAD_BYTES = 4096


@dataclass(frozen=True)
class ToolResult:
    rc: int
    stdout: str
    stderr: str


def pseudo_random_bytes(size: int, seed: str) -> bytes:
    """Deterministic incompressible bytes: artifacts keep their size whatever the compression."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class ArtifactFactory:
    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, timeout: float = 120) -> ToolResult:
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout)
        return ToolResult(result.returncode, result.stdout, result.stderr)

    def _cached(self, kind: str, parameters: Mapping[str, object]) -> tuple[Path, Path]:
        """(artifact path, scratch dir) for these parameters; the artifact exists if made before."""
        digest = hashlib.sha256(json.dumps([kind, parameters], sort_keys=True, default=str).encode()).hexdigest()[:16]
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", str(parameters.get("name", kind)))[:60]
        scratch = self.directory / f"{safe_name}-{digest}"
        return scratch / f"{safe_name}.mender", scratch

    def _write(self, output: Path, args: Sequence[str]) -> Path:
        result = self.run(*args, "-o", str(output))
        assert result.rc == 0, f"mender-artifact {' '.join(args)} failed ({result.rc}): {result.stderr}{result.stdout}"
        size = output.stat().st_size
        assert size >= MIN_DOWNLOAD_BYTES, f"{output} is {size} bytes: the client refuses downloads under {MIN_DOWNLOAD_BYTES}"
        return output

    @staticmethod
    def _device_type_args(device_types: str | Sequence[str]) -> list[str]:
        types = [device_types] if isinstance(device_types, str) else list(device_types)
        assert types, "an artifact needs at least one device type"
        return [arg for device_type in types for arg in ("-t", device_type)]

    def single_file(
        self,
        name: str,
        *,
        dest_dir: str,
        device_types: str | Sequence[str] = "qemux86-64",
        filename: str = "hello.txt",
        content: bytes | str | None = None,
        permissions: str = "644",
        extra_args: Sequence[str] = (),
    ) -> Path:
        """A module-image artifact of type single-file: installs `filename` (default content: the artifact
        name and a newline) into `dest_dir` on the device (use `device.dest_dir`)."""
        body = (f"{name}\n" if content is None else content)
        body_bytes = body.encode() if isinstance(body, str) else body
        parameters = {"name": name, "dest_dir": dest_dir, "types": device_types, "filename": filename,
                      "content": hashlib.sha256(body_bytes).hexdigest(), "permissions": permissions, "extra": list(extra_args)}
        output, scratch = self._cached("single-file", parameters)
        if output.exists():
            return output
        files = scratch / "files"
        files.mkdir(parents=True, exist_ok=True)
        (files / "dest_dir").write_text(f"{dest_dir}\n")
        (files / "filename").write_text(f"{filename}\n")
        (files / "permissions").write_text(f"{permissions}\n")
        (files / filename).write_bytes(body_bytes)
        args = ["write", "module-image", "-T", "single-file", *self._device_type_args(device_types), "-n", name,
                "-f", str(files / "dest_dir"), "-f", str(files / "filename"), "-f", str(files / "permissions"),
                "-f", str(files / filename), *extra_args]
        return self._write(output, args)

    def rootfs_image(
        self,
        name: str,
        *,
        device_types: str | Sequence[str] = "qemux86-64",
        size: int = 64 * 1024,
        extra_args: Sequence[str] = (),
    ) -> Path:
        """A rootfs-image artifact of a `size`-byte incompressible dummy image (a simulated device has no
        dual rootfs, so deploying it fails deterministically)."""
        parameters = {"name": name, "types": device_types, "size": size, "extra": list(extra_args)}
        output, scratch = self._cached("rootfs-image", parameters)
        if output.exists():
            return output
        scratch.mkdir(parents=True, exist_ok=True)
        image = scratch / "rootfs.ext4"
        image.write_bytes(pseudo_random_bytes(size, name))
        args = ["write", "rootfs-image", *self._device_type_args(device_types), "-n", name, "-f", str(image), *extra_args]
        return self._write(output, args)

    def module_image(
        self,
        name: str,
        *,
        module_type: str,
        files: Sequence[Path],
        device_types: str | Sequence[str] = "qemux86-64",
        extra_args: Sequence[str] = (),
    ) -> Path:
        """Any module-image artifact (`-T module_type`, one `-f` per file), e.g. `directory` or `script`."""
        parameters = {"name": name, "type": module_type, "types": device_types, "extra": list(extra_args),
                      "files": [(str(path), hashlib.sha256(path.read_bytes()).hexdigest()) for path in files]}
        output, scratch = self._cached(module_type, parameters)
        if output.exists():
            return output
        scratch.mkdir(parents=True, exist_ok=True)
        args = ["write", "module-image", "-T", module_type, *self._device_type_args(device_types), "-n", name,
                *[arg for path in files for arg in ("-f", str(path))], *extra_args]
        return self._write(output, args)

    def script(self, name: str, script: str, *, device_types: str | Sequence[str] = "qemux86-64", extra_args: Sequence[str] = ()) -> Path:
        """A module-image of type `script`: the device runs `script` (shell) at ArtifactInstall. Handy for a
        slow install (`sleep 5`) or for leaving a trace (`echo ran > <device.dest_dir>/trace`)."""
        digest = hashlib.sha256(script.encode()).hexdigest()[:16]
        source = self.directory / "scripts" / digest / "install.sh"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(script if script.startswith("#!") else f"#!/bin/sh\n{script}")
        source.chmod(0o755)
        return self.module_image(name, module_type="script", files=[source], device_types=device_types, extra_args=extra_args)

    def validate(self, artifact: Path, *, key: Path | None = None) -> ToolResult:
        return self.run("validate", *(["-k", str(key)] if key else []), str(artifact))

    def read(self, artifact: Path) -> ToolResult:
        return self.run("read", str(artifact))
