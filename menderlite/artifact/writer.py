"""Writing version-3 Mender artifacts (gzip), as `mender-artifact write module-image` lays them out.

The payload is streamed: files are hashed in a first pass (the manifest precedes the data in the outer tar),
then the compressed payload tar is written to a temporary file (its size goes into the outer tar header) and
copied into the artifact. Nothing is held in memory beyond one chunk and the small header.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from menderlite.artifact.model import OperationCancelled

CHUNK = 1 << 20


@dataclass(frozen=True)
class PayloadSource:
    """One payload file: its name inside the artifact and where to read it (a path, or small bytes)."""

    name: str
    path: Path | None = None
    content: bytes | None = None

    @staticmethod
    def of_bytes(name: str, content: bytes) -> PayloadSource:
        return PayloadSource(name=name, content=content)

    @property
    def size(self) -> int:
        if self.content is not None:
            return len(self.content)
        assert self.path is not None
        return self.path.stat().st_size

    def open(self) -> BinaryIO:
        if self.content is not None:
            return io.BytesIO(self.content)
        assert self.path is not None
        return open(self.path, "rb")


def write_module_artifact(
    output: Path,
    *,
    name: str,
    device_types: Sequence[str],
    payload_type: str,
    files: Sequence[PayloadSource],
    provides: dict[str, str] | None = None,
    depends: dict[str, str | list[str]] | None = None,
    clears_provides: Sequence[str] | None = None,
    meta_data: dict[str, object] | None = None,
    temp_dir: Path | None = None,
    compresslevel: int = 6,
    cancel: threading.Event | None = None,
) -> None:
    """Write a one-payload v3 artifact of `payload_type` to `output` (created or replaced)."""
    if not name:
        raise ValueError("artifact name is empty")
    if not device_types:
        raise ValueError("at least one device type is needed")
    _check_unique_names(files)
    software = f"rootfs-image.{payload_type}"
    type_info: dict[str, object] = {"type": payload_type}
    if depends:
        type_info["artifact_depends"] = depends
    type_info["artifact_provides"] = provides if provides is not None else {f"{software}.version": name}
    type_info["clears_artifact_provides"] = (
        list(clears_provides) if clears_provides is not None else [f"{software}.*"]
    )
    header_info = {
        "payloads": [{"type": payload_type}],
        "artifact_provides": {"artifact_name": name},
        "artifact_depends": {"device_type": list(device_types)},
    }
    now = int(time.time())
    header_members = [("header-info", _json_bytes(header_info)), ("headers/0000/type-info", _json_bytes(type_info))]
    if meta_data is not None:
        header_members.append(("headers/0000/meta-data", _json_bytes(meta_data)))
    header = _gzip_tar(header_members, compresslevel)
    version = _json_bytes({"format": "mender", "version": 3})

    checksums = {f"data/0000/{source.name}": _sha256_of(source, cancel) for source in files}
    checksums["header.tar.gz"] = hashlib.sha256(header).hexdigest()
    checksums["version"] = hashlib.sha256(version).hexdigest()
    manifest = "".join(f"{checksums[path]}  {path}\n" for path in sorted(checksums)).encode()

    directory = temp_dir or output.parent
    data_path = directory / f"{output.name}.data.tmp"  # in the temp dir: orphans are removed at start-up
    try:
        _write_payload_tar(data_path, files, now, compresslevel, cancel)
        with open(output, "wb") as handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as outer:
            _add_bytes(outer, "version", version, 0)
            _add_bytes(outer, "manifest", manifest, 0)
            _add_bytes(outer, "header.tar.gz", header, now)
            info = _tar_info("data/0000.tar.gz", data_path.stat().st_size, now)
            with open(data_path, "rb") as data:
                outer.addfile(info, _CancellableReader(data, cancel))
    finally:
        data_path.unlink(missing_ok=True)


def write_single_file_artifact(
    output: Path,
    *,
    name: str,
    device_types: Sequence[str],
    file_path: Path,
    file_name: str,
    dest_dir: str,
    permissions: str = "644",
    meta_data: dict[str, object] | None = None,
    temp_dir: Path | None = None,
    compresslevel: int = 6,
    cancel: threading.Event | None = None,
) -> None:
    """A `single-file` update-module artifact (what `single-file-artifact-gen` makes): the file is installed
    as `<dest_dir>/<file_name>` with `permissions` on the device."""
    if not file_name or "/" in file_name or file_name in (".", ".."):
        raise ValueError(f"bad file name: {file_name!r}")
    if file_name in ("dest_dir", "filename", "permissions"):
        raise ValueError(f"file name {file_name!r} is reserved by the single-file module")
    files = [
        PayloadSource.of_bytes("dest_dir", f"{dest_dir}\n".encode()),
        PayloadSource.of_bytes("filename", f"{file_name}\n".encode()),
        PayloadSource.of_bytes("permissions", f"{permissions}\n".encode()),
        PayloadSource(name=file_name, path=file_path),
    ]
    write_module_artifact(
        output,
        name=name,
        device_types=device_types,
        payload_type="single-file",
        files=files,
        meta_data=meta_data,
        temp_dir=temp_dir,
        compresslevel=compresslevel,
        cancel=cancel,
    )


# --- helpers -------------------------------------------------------------------------------------------


class _CancellableReader:
    def __init__(self, raw: BinaryIO, cancel: threading.Event | None) -> None:
        self.raw = raw
        self.cancel = cancel

    def read(self, size: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise OperationCancelled()
        return self.raw.read(size if 0 < size <= CHUNK else CHUNK)


def _check_unique_names(files: Sequence[PayloadSource]) -> None:
    names = [source.name for source in files]
    if len(set(names)) != len(names):
        raise ValueError("payload file names must be unique")
    for file_name in names:
        if not file_name or "/" in file_name:
            raise ValueError(f"bad payload file name: {file_name!r}")


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _tar_info(name: str, size: int, mtime: int, mode: int = 0o600) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes, mtime: int) -> None:
    archive.addfile(_tar_info(name, len(content), mtime), io.BytesIO(content))


def _gzip_tar(members: list[tuple[str, bytes]], compresslevel: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=compresslevel, mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name, content in members:
                _add_bytes(archive, name, content, 0)
    return buffer.getvalue()


def _sha256_of(source: PayloadSource, cancel: threading.Event | None) -> str:
    digest = hashlib.sha256()
    with source.open() as handle:
        reader = _CancellableReader(handle, cancel)
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_payload_tar(
    path: Path, files: Sequence[PayloadSource], mtime: int, compresslevel: int, cancel: threading.Event | None
) -> None:
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0) as compressed:
            with tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
                archive.copybufsize = CHUNK
                for source in files:
                    info = _tar_info(source.name, source.size, mtime, mode=0o644)
                    with source.open() as handle:
                        archive.addfile(info, _CancellableReader(handle, cancel))
        raw.flush()
        os.fsync(raw.fileno())


