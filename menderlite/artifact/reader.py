"""Streaming reader of Mender artifacts, format versions 1, 2 and 3.

The outer file is a plain tar read strictly in order (`tarfile` stream mode), so the artifact can come from a
pipe or a file and is never held in memory: small members (version, manifest, JSON headers) are read with a
size cap, payload files are only hashed, chunk by chunk. Every file the manifest covers (`version`, the header
archive, each payload file) is checked against its SHA-256 while it streams by.

Layout (mender-artifact `Documentation/artifact-format-v{2,3}.md`):
  version, manifest, [manifest.sig], [manifest-augment], header.tar[.gz|.xz|.zst], [header-augment.tar.*],
  data/0000.tar[.*], data/0001.tar[.*], ...
Version 1 (legacy) has no manifest: `version`, `header.tar.gz`, data; its checksums live in the header under
`headers/NNNN/checksums/<file>.sha256sum`.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import tarfile
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import zstandard

from menderlite.artifact.compression import decompressing_reader, split_suffix
from menderlite.artifact.model import (
    Artifact,
    ArtifactError,
    ChecksumError,
    DependsValue,
    OperationCancelled,
    Payload,
    PayloadFile,
    SignatureError,
)
from menderlite.artifact.signature import VerifyKey, verify_manifest

SUPPORTED_VERSIONS = (1, 2, 3)
CHUNK = 1 << 20
# tarfile's stream reader copies its whole buffer on every read; decompressors read in 8 KiB steps, so a
# small buffer is much faster than a large one for the outer archive.
STREAM_BUFFER = 64 << 10
MAX_SMALL_FILE = 1 << 20  # version, manifest, signature, each JSON header file
MAX_HEADER_BYTES = 16 << 20  # the files of the header archive, together
MAX_HEADER_ARCHIVE_BYTES = 32 << 20  # the whole decompressed header archive, tar blocks included
MAX_PAYLOADS = 1024
MAX_HEADER_MEMBERS = 16384  # entries of the header archive (TarInfo objects are kept while it is read)
MAX_EXTENDED_HEADER = 64 << 10  # one pax or GNU long-name header: names and a few attributes
MAX_GLOBAL_PAX_KEYS = 64  # keys set by pax global headers, which accumulate for the rest of the tar
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+(\S.*)$")
_HEADER_FILE = re.compile(r"^headers/(\d{4})/(.+)$")
_DATA_FILE = re.compile(r"^data/(\d{4})\.tar(\.gz|\.xz|\.zst)?$")
_DECOMPRESSION_ERRORS = (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError, OSError)


def read_artifact(
    source: str | Path | BinaryIO,
    *,
    verify_keys: Sequence[VerifyKey] = (),
    max_unpacked_bytes: int | None = None,
    cancel: threading.Event | None = None,
) -> Artifact:
    """Parse and check an artifact; raises `ArtifactError` (or a subclass) with a message for the uploader.

    With `verify_keys`, a signed artifact must verify with one of them (`SignatureError` otherwise) and the
    result says `signature_verified=True`. `max_unpacked_bytes` caps the total size of the payload files.
    """
    reader = _ArtifactReader(verify_keys, max_unpacked_bytes, cancel)
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return reader.read(handle)
    return reader.read(source)


class _BoundedTarInfo(tarfile.TarInfo):
    """Tar headers read with bounded memory.

    `tarfile` reads a pax or GNU long-name header whole, keeps keys of pax global headers for the rest of the
    archive, and reads GNU sparse maps of any length: a few KiB of compressed input could make it allocate
    gigabytes. Extended headers are capped, and sparse members (which no artifact tool writes) refused.
    """

    def _proc_member(self, tarfile_: tarfile.TarFile):  # type: ignore[no-untyped-def,override]
        if self.type in _EXTENDED_HEADER_TYPES and self.size > MAX_EXTENDED_HEADER:
            raise _UnsafeTarError(f"extended tar header of {self.size} bytes (at most {MAX_EXTENDED_HEADER})")
        if self.type == tarfile.XGLTYPE and len(tarfile_.pax_headers) > MAX_GLOBAL_PAX_KEYS:
            raise _UnsafeTarError("too many pax global header keys")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _UnsafeTarError("sparse files are not supported")
        return super()._proc_member(tarfile_)  # type: ignore[misc]

    def _refuse_sparse(self, *_args: object) -> None:
        raise _UnsafeTarError("sparse files are not supported")

    # pax sparse formats 0.0, 0.1 and 1.0 (whatever their signature in this Python version)
    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


class _UnsafeTarError(tarfile.TarError):
    """A tar header this reader refuses to process (see `_BoundedTarInfo`)."""


_EXTENDED_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE
)


def _open_tar(fileobj: IO[bytes], mode: str, bufsize: int) -> tarfile.TarFile:
    return tarfile.open(fileobj=fileobj, mode=mode, bufsize=bufsize, tarinfo=_BoundedTarInfo)  # type: ignore[call-overload,no-any-return]


class _HashingReader:
    """Passes reads through while hashing and counting them."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _CappedReader:
    """Passes reads through until `limit` bytes were read (a decompression bomb stops there)."""

    def __init__(self, raw: IO[bytes], limit: int, message: str) -> None:
        self.raw = raw
        self.left = limit
        self.message = message

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.left -= len(data)
        if self.left < 0:
            raise ArtifactError(self.message)
        return data

    def readable(self) -> bool:
        return True


@dataclass
class _HeaderPayload:
    type_info: dict[str, Any] | None = None
    meta_data: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)  # v1/v2 `files`
    checksums: dict[str, str] = field(default_factory=dict)  # v1 per-file checksums


@dataclass
class _Header:
    info: dict[str, Any] | None = None
    payloads: dict[int, _HeaderPayload] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)


class _ArtifactReader:
    def __init__(self, verify_keys: Sequence[VerifyKey], max_unpacked_bytes: int | None, cancel: threading.Event | None) -> None:
        self.verify_keys = tuple(verify_keys)
        self.max_unpacked_bytes = max_unpacked_bytes
        self.cancel = cancel
        self.version = 0
        self.version_checksum = ""
        self.manifest: dict[str, str] = {}
        self.manifest_raw: bytes | None = None
        self.signature: bytes | None = None
        self.augment_manifest: dict[str, str] = {}
        self.checked: set[str] = set()
        self.header: _Header | None = None
        self.augment: _Header | None = None
        self.payload_files: dict[int, list[PayloadFile]] = {}
        self.unpacked = 0

    # --- outer archive ---------------------------------------------------------------------------------

    def read(self, handle: BinaryIO) -> Artifact:
        # A file on disk is read with the random-access reader (still front to back: member data is read
        # straight from the file); a pipe with the stream reader. Both keep memory flat.
        mode = "r:" if _seekable(handle) else "r|"
        try:
            with _open_tar(handle, mode, STREAM_BUFFER) as outer:
                self._read_members(outer)
        except ArtifactError:
            raise
        except tarfile.TarError as exc:
            raise ArtifactError(f"reader: not a valid artifact archive: {_tar_message(exc)}") from None
        except _DECOMPRESSION_ERRORS as exc:
            raise ArtifactError(f"reader: corrupt or truncated artifact: {exc}") from None
        return self._result()

    def _read_members(self, outer: tarfile.TarFile) -> None:
        position = 0
        for member in outer:
            self._check_cancel()
            if not member.isreg():
                raise ArtifactError(f"reader: unexpected entry in artifact: {member.name}")
            data = outer.extractfile(member)
            assert data is not None
            self._read_member(member, data, position)
            position += 1
        if position == 0:
            raise ArtifactError("reader: not a valid artifact archive: empty file")

    def _read_member(self, member: tarfile.TarInfo, data: IO[bytes], position: int) -> None:
        name = member.name
        if position == 0:
            if name != "version":
                raise ArtifactError("reader: the artifact does not start with its version file")
            self._read_version(self._small(data, name))
            return
        if self.version >= 2 and name == "manifest":
            if position != 1:
                raise ArtifactError("reader: the manifest must follow the version file")
            self._read_manifest(self._small(data, name))
            return
        if self.version >= 2 and not self.manifest_raw:
            raise ArtifactError("reader: the artifact has no manifest")
        if self.version >= 2 and name == "manifest.sig":
            self._before_header(name)
            self.signature = self._small(data, name)
            return
        if self.version == 3 and name == "manifest-augment":
            self._before_header(name)
            self.augment_manifest = _parse_manifest(self._small(data, name), name)
            return
        suffix = split_suffix(name, "header.tar")
        if suffix is not None:
            if self.header is not None:
                raise ArtifactError("reader: the artifact has two headers")
            self.header = self._read_header(data, name, suffix, self.manifest)
            return
        suffix = split_suffix(name, "header-augment.tar")
        if suffix is not None and self.version == 3:
            if self.header is None or self.payload_files:
                raise ArtifactError("reader: header-augment must follow the header")
            self.augment = self._read_header(data, name, suffix, self.augment_manifest)
            return
        match = _DATA_FILE.match(name)
        if match:
            self._read_data(int(match.group(1)), data, match.group(2) or "")
            return
        raise ArtifactError(f"reader: unexpected file in artifact: {name}")

    def _before_header(self, name: str) -> None:
        if self.header is not None:
            raise ArtifactError(f"reader: {name} must come before the header")

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise OperationCancelled()

    def _small(self, data: IO[bytes], name: str) -> bytes:
        content = data.read(MAX_SMALL_FILE + 1)
        if len(content) > MAX_SMALL_FILE:
            raise ArtifactError(f"reader: {name} is too large")
        return content

    # --- version and manifest --------------------------------------------------------------------------

    def _read_version(self, content: bytes) -> None:
        document = _json(content, "version")
        if not isinstance(document, dict) or document.get("format") != "mender":
            raise ArtifactError("reader: unsupported artifact format; expected {\"format\":\"mender\"}")
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
            raise ArtifactError(f"unsupported version: {version}; supported versions are: 1, 2, 3")
        self.version = version
        self.version_checksum = hashlib.sha256(content).hexdigest()

    def _read_manifest(self, content: bytes) -> None:
        self.manifest_raw = content
        self.manifest = _parse_manifest(content, "manifest")
        self._verify("version", self.version_checksum, self.manifest)

    def _verify(self, path: str, actual: str, manifest: dict[str, str]) -> None:
        expected = manifest.get(path)
        if expected is None:
            raise ChecksumError(f"invalid checksum: {path} is not listed in the manifest")
        if expected != actual:
            raise ChecksumError(f"invalid checksum for file {path}: expected {expected}, got {actual}")
        self.checked.add(path)

    # --- header ----------------------------------------------------------------------------------------

    def _read_header(self, data: IO[bytes], name: str, suffix: str, manifest: dict[str, str]) -> _Header:
        if self.version == 1 and suffix != ".gz":
            raise ArtifactError("reader: version 1 artifacts have a gzip header")
        hashing = _HashingReader(data)
        header = _Header()
        try:
            unpacked = _CappedReader(decompressing_reader(hashing, suffix), MAX_HEADER_ARCHIVE_BYTES, f"reader: {name} is too large")
            with _open_tar(unpacked, "r|", 64 << 10) as inner:  # type: ignore[arg-type]
                total = 0
                for count, member in enumerate(inner, 1):
                    if count > MAX_HEADER_MEMBERS:
                        raise ArtifactError(f"reader: {name} has too many entries")
                    if not member.isreg():
                        continue
                    total += member.size
                    if total > MAX_HEADER_BYTES:
                        raise ArtifactError(f"reader: {name} is too large")
                    content = inner.extractfile(member)
                    assert content is not None
                    self._header_entry(header, member.name, content)
        except ArtifactError:
            raise
        except tarfile.TarError as exc:
            raise ArtifactError(f"reader: corrupt header {name}: {_tar_message(exc)}") from None
        except _DECOMPRESSION_ERRORS as exc:
            raise ArtifactError(f"reader: corrupt header {name}: {exc}") from None
        hashing.drain()
        if self.version >= 2:
            self._verify(name, hashing.sha256.hexdigest(), manifest)
        if header.info is None:
            raise ArtifactError(f"reader: {name} has no header-info")
        return header

    def _header_entry(self, header: _Header, name: str, content: IO[bytes]) -> None:
        if name == "header-info":
            header.info = _json_object(self._small(content, name), name)
            return
        if name.startswith("scripts/"):
            header.scripts.append(name[len("scripts/"):])
            return
        match = _HEADER_FILE.match(name)
        if not match:
            return  # unknown extras are ignored, as mender-artifact does
        index, rest = int(match.group(1)), match.group(2)
        if index >= MAX_PAYLOADS:
            raise ArtifactError("reader: too many payloads")
        payload = header.payloads.setdefault(index, _HeaderPayload())
        if rest == "type-info":
            payload.type_info = _json_object(self._small(content, name), name)
        elif rest == "meta-data":
            raw = self._small(content, name)
            payload.meta_data = _json_object(raw, name) if raw.strip() else None
        elif rest == "files":
            document = _json_object(self._small(content, name), name)
            payload.files = [_file_name(entry) for entry in document.get("files") or []]
        elif rest.startswith("checksums/") and rest.endswith(".sha256sum"):
            file_name = rest[len("checksums/"):-len(".sha256sum")]
            text = self._small(content, name).decode("ascii", "replace").split()
            if text:
                payload.checksums[file_name] = text[0].lower()
        elif rest.startswith("scripts/"):
            header.scripts.append(rest[len("scripts/"):])

    # --- payloads --------------------------------------------------------------------------------------

    def _read_data(self, index: int, data: IO[bytes], suffix: str) -> None:
        if self.header is None:
            raise ArtifactError("reader: payload data before the header")
        if index != len(self.payload_files):
            raise ArtifactError(f"reader: payload data/{index:04d} is out of order")
        if index >= len(self._payload_types()):
            raise ArtifactError(f"reader: payload data/{index:04d} has no header")
        files: list[PayloadFile] = []
        names: set[str] = set()
        self.payload_files[index] = files
        try:
            with _open_tar(decompressing_reader(data, suffix), "r|", CHUNK) as inner:
                for member in inner:
                    self._check_cancel()
                    if not member.isreg():
                        raise ArtifactError(f"reader: unexpected entry in payload data/{index:04d}: {member.name}")
                    if member.name in names:  # each is checked once: repeats could only grow the list
                        raise ArtifactError(f"reader: payload data/{index:04d} holds {member.name} twice")
                    names.add(member.name)
                    content = inner.extractfile(member)
                    assert content is not None
                    files.append(self._payload_file(index, member, content))
        except (ArtifactError, OperationCancelled):
            raise
        except tarfile.TarError as exc:
            raise ArtifactError(f"reader: corrupt payload data/{index:04d}: {_tar_message(exc)}") from None
        except _DECOMPRESSION_ERRORS as exc:
            raise ArtifactError(f"reader: corrupt payload data/{index:04d}: {exc}") from None

    def _payload_file(self, index: int, member: tarfile.TarInfo, content: IO[bytes]) -> PayloadFile:
        self.unpacked += member.size
        if self.max_unpacked_bytes is not None and self.unpacked > self.max_unpacked_bytes:
            raise ArtifactError("reader: the payload is too large once unpacked")
        digest = hashlib.sha256()
        remaining = member.size
        while remaining > 0:
            self._check_cancel()
            chunk = content.read(min(CHUNK, remaining))
            if not chunk:
                raise ArtifactError(f"reader: payload file {member.name} is truncated")
            digest.update(chunk)
            remaining -= len(chunk)
        checksum = digest.hexdigest()
        path = f"data/{index:04d}/{member.name}"
        if self.version >= 2:
            self._verify(path, checksum, self.manifest)
        else:
            self._verify_v1(index, member.name, checksum)
        date = datetime.fromtimestamp(member.mtime, UTC)
        return PayloadFile(name=member.name, size=member.size, checksum=checksum, date=date)

    def _verify_v1(self, index: int, name: str, checksum: str) -> None:
        assert self.header is not None
        expected = self.header.payloads.get(index, _HeaderPayload()).checksums.get(name)
        if expected is None:  # version 1 lists a checksum for every payload file in the header
            raise ChecksumError(f"invalid checksum: data/{index:04d}/{name} has no checksum in the header")
        if expected != checksum:
            raise ChecksumError(f"invalid checksum for file data/{index:04d}/{name}: expected {expected}, got {checksum}")

    # --- result ----------------------------------------------------------------------------------------

    def _payload_types(self) -> list[str]:
        assert self.header is not None and self.header.info is not None
        key = "payloads" if self.version == 3 else "updates"
        entries = self.header.info.get(key)
        if not isinstance(entries, list):
            raise ArtifactError(f"reader: header-info has no {key} list")
        if len(entries) > MAX_PAYLOADS:
            raise ArtifactError("reader: too many payloads")
        types = []
        for entry in entries:
            value = entry.get("type") if isinstance(entry, dict) else None
            types.append(value if isinstance(value, str) else "")
        return types

    def _result(self) -> Artifact:
        if self.version == 0:
            raise ArtifactError("reader: not a valid artifact archive: empty file")
        if self.header is None:
            raise ArtifactError("reader: the artifact has no header")
        unchecked = sorted(set(self.manifest) - self.checked)
        if unchecked:
            raise ArtifactError(f"reader: files listed in the manifest are missing from the artifact: {', '.join(unchecked)}")
        signature_verified = None
        if self.signature is not None and self.verify_keys:
            assert self.manifest_raw is not None
            if not verify_manifest(self.manifest_raw, self.signature, self.verify_keys):
                raise SignatureError("artifact signature verification failed")
            signature_verified = True
        if self.version == 3:
            return self._result_v3(signature_verified)
        return self._result_v1_v2(signature_verified)

    def _payloads(self, header_types: list[str]) -> list[Payload]:
        assert self.header is not None
        payloads = []
        for index, header_type in enumerate(header_types):
            entry = self.header.payloads.get(index, _HeaderPayload())
            augment = self.augment.payloads.get(index, _HeaderPayload()) if self.augment else _HeaderPayload()
            type_info = entry.type_info or {}
            augment_info = augment.type_info or {}
            type_name = type_info.get("type") if isinstance(type_info.get("type"), str) else ""
            provides = {**_provides(type_info, f"headers/{index:04d}/type-info"),
                        **_provides(augment_info, f"headers/{index:04d}/type-info (augment)")}
            depends = {**_depends(type_info, f"headers/{index:04d}/type-info"),
                       **_depends(augment_info, f"headers/{index:04d}/type-info (augment)")}
            clears = type_info.get("clears_artifact_provides") or []
            if not isinstance(clears, list) or not all(isinstance(item, str) for item in clears):
                raise ArtifactError(f"reader: headers/{index:04d}/type-info: clears_artifact_provides must be a list of strings")
            payloads.append(
                Payload(
                    index=index,
                    type=type_name or header_type,
                    files=tuple(self.payload_files.get(index, ())),
                    meta_data=entry.meta_data,
                    provides=provides,
                    depends=depends,
                    clears_provides=tuple(clears),
                )
            )
        return payloads

    def _result_v3(self, signature_verified: bool | None) -> Artifact:
        assert self.header is not None and self.header.info is not None
        info = self.header.info
        header_provides = _provides(info, "header-info")
        name = header_provides.get("artifact_name", "")
        if not name:
            raise ArtifactError("reader: header-info: artifact_provides.artifact_name is missing")
        header_depends: dict[str, DependsValue] = {}
        raw_depends = info.get("artifact_depends") or {}
        if not isinstance(raw_depends, dict):
            raise ArtifactError("reader: header-info: artifact_depends must be an object")
        for key, value in raw_depends.items():
            values = _string_list(value, f"header-info: artifact_depends.{key}")
            if values:
                header_depends[key] = values
        device_types = header_depends.get("device_type")
        if not device_types:
            raise ArtifactError("reader: header-info: artifact_depends.device_type is missing")
        payloads = self._payloads(self._payload_types())
        provides = _merge(header_provides, [p.provides for p in payloads], "provides")
        depends = _merge(header_depends, [p.depends for p in payloads], "depends")
        clears = tuple(item for payload in payloads for item in payload.clears_provides)
        return Artifact(
            format="mender",
            version=3,
            name=name,
            device_types=tuple(device_types),  # type: ignore[arg-type]
            payloads=tuple(payloads),
            provides=provides,  # type: ignore[arg-type]
            depends=depends,
            clears_provides=clears,
            signed=self.signature is not None,
            signature_verified=signature_verified,
            scripts=tuple(self.header.scripts),
        )

    def _result_v1_v2(self, signature_verified: bool | None) -> Artifact:
        assert self.header is not None and self.header.info is not None
        info = self.header.info
        name = info.get("artifact_name")
        device_types = info.get("device_types_compatible")
        first_meta = (self.header.payloads.get(0) or _HeaderPayload()).meta_data or {}
        if not name and self.version == 1:  # very old v1 headers kept these in the meta-data
            name = first_meta.get("ArtifactName") or first_meta.get("ImageID")
        if not device_types and self.version == 1 and isinstance(first_meta.get("DeviceType"), str):
            device_types = [first_meta["DeviceType"]]
        if not isinstance(name, str) or not name:
            raise ArtifactError("reader: header-info: artifact_name is missing")
        types = _string_list(device_types, "header-info: device_types_compatible")
        if not types:
            raise ArtifactError("reader: header-info: device_types_compatible is missing")
        payloads = self._payloads(self._payload_types())
        return Artifact(
            format="mender",
            version=self.version,
            name=name,
            device_types=tuple(types),
            payloads=tuple(payloads),
            provides={"artifact_name": name},
            depends={"device_type": list(types)},
            clears_provides=(),
            signed=self.signature is not None,
            signature_verified=signature_verified,
            scripts=tuple(self.header.scripts),
        )


# --- small helpers -------------------------------------------------------------------------------------


def _seekable(handle: BinaryIO) -> bool:
    try:
        return handle.seekable() and handle.tell() == 0
    except (OSError, ValueError, AttributeError):
        return False


def _tar_message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _json(content: bytes, name: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError(f"reader: {name} is not valid JSON") from None


def _json_object(content: bytes, name: str) -> dict[str, Any]:
    document = _json(content, name)
    if not isinstance(document, dict):
        raise ArtifactError(f"reader: {name} must be a JSON object")
    return document


def _parse_manifest(content: bytes, name: str) -> dict[str, str]:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"reader: {name} is not text") from None
    entries: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _MANIFEST_LINE.match(line)
        if not match:
            raise ArtifactError(f"reader: malformed {name} line: {line[:100]!r}")
        entries[match.group(2).strip()] = match.group(1).lower()
    return entries


def _file_name(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return entry["name"]
    raise ArtifactError("reader: headers files list has a bad entry")


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ArtifactError(f"reader: {where} must be a list of strings")


def _provides(document: dict[str, Any], where: str) -> dict[str, str]:
    provides = document.get("artifact_provides") or {}
    if not isinstance(provides, dict) or not all(isinstance(v, str) for v in provides.values()):
        raise ArtifactError(f"reader: {where}: artifact_provides must map names to strings")
    return dict(provides)


def _depends(document: dict[str, Any], where: str) -> dict[str, DependsValue]:
    depends = document.get("artifact_depends") or {}
    if not isinstance(depends, dict):
        raise ArtifactError(f"reader: {where}: artifact_depends must be an object")
    result: dict[str, DependsValue] = {}
    for key, value in depends.items():
        if isinstance(value, str):
            result[key] = value
        else:
            result[key] = _string_list(value, f"{where}: artifact_depends.{key}")
    return result


def _merge(base: dict[str, Any], others: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    merged = dict(base)
    for other in others:
        for key, value in other.items():
            if key in merged:
                raise ArtifactError(f"Conflicting keys not allowed in the {kind} parameters. key: {key}")
            merged[key] = value
    return merged

