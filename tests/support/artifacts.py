"""Test artifacts made with the real `mender-artifact` (Debian package), plus hand-made variants it cannot
write (format 1, zstd) and broken ones. Build once per session through the `artifact_maker` fixture.

Tests that need the binary skip with a clear message when it is missing, unless MENDERLITE_E2E_REQUIRED=1,
in which case they fail.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import zstandard
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MENDER_ARTIFACT = "mender-artifact"


def mender_artifact_binary() -> str:
    """Path of mender-artifact, or skip (fail when MENDERLITE_E2E_REQUIRED=1)."""
    found = shutil.which(MENDER_ARTIFACT)
    if found:
        return found
    message = "mender-artifact is not installed (apt-get install mender-artifact); real-artifact tests need it"
    if os.environ.get("MENDERLITE_E2E_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run_mender_artifact(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([mender_artifact_binary(), *map(str, args)], capture_output=True, text=True, timeout=120)


def mender_artifact_read(path: Path, key: Path | None = None) -> dict[str, Any]:
    """What `mender-artifact read` prints, as a dict: the reference our reader is compared with.

    {"name", "format", "version", "signature", "device_types", "provides_group", "depends_artifacts",
     "depends_groups", "scripts", "updates": [{"type", "provides", "depends", "clears_provides",
     "meta_data", "files": [{"name", "size", "modified", "checksum"}]}]}; the v3-only keys are None for v2.
    """
    result = run_mender_artifact("read", *(["-k", key] if key else []), path)
    if result.returncode != 0:
        raise RuntimeError(f"mender-artifact read failed: {result.stderr}")
    lines = result.stdout.splitlines()
    split = lines.index("Updates:")
    header, scripts = _read_printed_header(lines[:split])
    return {
        "name": header["Name"],
        "format": header["Format"],
        "version": int(header["Version"]),
        "signature": header["Signature"],
        "device_types": _printed_list(header["Compatible devices"]),
        "provides_group": header.get("Provides group"),
        "depends_artifacts": _printed_list(header.get("Depends on one of artifact(s)")),
        "depends_groups": _printed_list(header.get("Depends on one of group(s)")),
        "scripts": scripts,
        "updates": _read_printed_updates(lines[split + 1:]),
    }


def _read_printed_header(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    header: dict[str, str] = {}
    scripts: list[str] = []
    for line in lines:
        if "State scripts" in header and line.startswith("    ") and line.strip():
            scripts.append(line.strip())
        elif ":" in line:
            name, _, value = line.strip().partition(":")
            header[name] = value.strip()
    return header, scripts


def _read_printed_updates(lines: list[str]) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = []
    block = ""
    for line in lines:
        if re.fullmatch(r"    \d+:", line):
            updates.append({"provides": {}, "depends": {}, "clears_provides": None, "meta_data": "", "files": []})
            continue
        update = updates[-1]
        if line.startswith("\t"):  # an entry of the block above (Provides, Depends) or a line of Metadata
            if block == "Metadata":
                update["meta_data"] += line[1:] + "\n"
            else:
                name, _, value = line[1:].partition(": ")
                update[block.lower()][name] = value
            continue
        name, _, value = line.strip().partition(":")
        value = value.strip()
        if name in ("Provides", "Depends", "Metadata"):
            block = name
        elif name == "Type":
            update["type"] = value
        elif name == "Clears Provides":
            update["clears_provides"] = json.loads(value)
        elif name == "name":
            update["files"].append({"name": value})
        elif name in ("size", "modified", "checksum"):
            update["files"][-1][name] = int(value) if name == "size" else value
    for update in updates:
        update["meta_data"] = json.loads(update["meta_data"]) if update["meta_data"] else None
    return updates


def _printed_list(text: str | None) -> list[str] | None:
    """Go's printing of a []string: `[a b]`, `[a, b]` or `'[a b]'`."""
    if text is None:
        return None
    inner = text.strip("'").strip("[]")
    return [item for item in re.split(r",? ", inner) if item]


class ArtifactMaker:
    """Makes (and caches) artifacts in one directory. Every method returns the artifact's path."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, Path] = {}
        self._keys: dict[str, tuple[Path, Path]] = {}

    # --- keys ------------------------------------------------------------------------------------------

    def key_pair(self, kind: str) -> tuple[Path, Path]:
        """(private PEM, public PEM) of kind "rsa" (PKCS#1) or "ecdsa" (P-256, SEC1), as mender-artifact wants."""
        if kind not in self._keys:
            key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
            private = self.dir / f"{kind}-private.pem"
            public = self.dir / f"{kind}-public.pem"
            private.write_bytes(
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
            )
            public.write_bytes(
                key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            )
            self._keys[kind] = (private, public)
        return self._keys[kind]

    # --- real mender-artifact --------------------------------------------------------------------------

    def _made(self, key: str, build) -> Path:  # type: ignore[no-untyped-def]
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _write(self, output: Path, args: Sequence[str | Path]) -> Path:
        result = run_mender_artifact(*args, "-o", output)
        if result.returncode != 0:
            raise RuntimeError(f"mender-artifact {' '.join(map(str, args))} failed: {result.stderr}")
        return output

    def content(self, name: str, size: int) -> Path:
        path = self.dir / "content" / name
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(os.urandom(size))
        return path

    def single_file(
        self,
        name: str,
        device_types: Sequence[str] = ("qemux86-64",),
        *,
        size: int = 10000,
        compression: str = "gzip",
        meta_data: dict[str, object] | None = None,
        extra: Sequence[str] = (),
    ) -> Path:
        """A `module-image -T single-file` artifact, as in CLIENTS.md §2."""
        key = json.dumps(["single", name, list(device_types), size, compression, meta_data, list(extra)])

        def build() -> Path:
            work = self.dir / f"single-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
            work.mkdir()
            (work / "dest_dir").write_text("/opt/menderlite-test\n")
            (work / "filename").write_text("payload.bin\n")
            (work / "permissions").write_text("644\n")
            payload = work / "payload.bin"
            payload.write_bytes(os.urandom(size))
            args: list[str | Path] = ["write", "module-image", "-T", "single-file", "-n", name, "--compression", compression]
            for device_type in device_types:
                args += ["-t", device_type]
            for file in ("dest_dir", "filename", "permissions", "payload.bin"):
                args += ["-f", work / file]
            if meta_data is not None:
                meta = work / "meta.json"
                meta.write_text(json.dumps(meta_data))
                args += ["-m", meta]
            args += list(extra)
            return self._write(work / "artifact.mender", args)

        return self._made(key, build)

    def directory(self, name: str, device_types: Sequence[str] = ("qemux86-64",), *, meta_data: dict[str, object] | None = None) -> Path:
        """A `module-image -T directory` artifact (update.tar + dest_dir), with meta-data when given."""
        key = json.dumps(["directory", name, list(device_types), meta_data])

        def build() -> Path:
            work = self.dir / f"dir-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
            work.mkdir()
            with tarfile.open(work / "update.tar", "w") as archive:
                info = tarfile.TarInfo("hello.txt")
                data = b"hello from a directory update\n"
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            (work / "dest_dir").write_text("/opt/menderlite-dir\n")
            args: list[str | Path] = ["write", "module-image", "-T", "directory", "-n", name, "-f", work / "update.tar", "-f", work / "dest_dir"]
            for device_type in device_types:
                args += ["-t", device_type]
            if meta_data is not None:
                (work / "meta.json").write_text(json.dumps(meta_data))
                args += ["-m", work / "meta.json"]
            return self._write(work / "artifact.mender", args)

        return self._made(key, build)

    def rootfs(
        self, name: str, device_types: Sequence[str] = ("qemux86-64",), *, version: int = 3, compression: str = "gzip", size: int = 65536
    ) -> Path:
        """A `rootfs-image` artifact from a dummy image; `version=2` writes the older format."""
        key = json.dumps(["rootfs", name, list(device_types), version, compression, size])

        def build() -> Path:
            work = self.dir / f"rootfs-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
            work.mkdir()
            image = work / "rootfs.ext4"
            image.write_bytes(os.urandom(size))
            args: list[str | Path] = ["write", "rootfs-image", "-n", name, "-f", image, "-v", str(version), "--compression", compression]
            for device_type in device_types:
                args += ["-t", device_type]
            return self._write(work / "artifact.mender", args)

        return self._made(key, build)

    def signed(self, source: Path, kind: str) -> Path:
        """`mender-artifact sign` with an RSA or ECDSA key."""
        key = json.dumps(["signed", str(source), kind])

        def build() -> Path:
            private, _ = self.key_pair(kind)
            output = source.with_name(f"{source.stem}-signed-{kind}.mender")
            result = run_mender_artifact("sign", "-k", private, "-o", output, source)
            if result.returncode != 0:
                raise RuntimeError(f"mender-artifact sign failed: {result.stderr}")
            return output

        return self._made(key, build)

    # --- hand-made variants ----------------------------------------------------------------------------

    def zstd(self, source: Path) -> Path:
        """`source` with its header and payloads recompressed as .zst (mender-artifact 3.9 cannot write zstd)."""
        return self._made(json.dumps(["zstd", str(source)]), lambda: recompress_zstd(source, source.with_name(f"{source.stem}-zstd.mender")))

    def path(self, name: str) -> Path:
        return self.dir / name


# --- rewriting artifacts -------------------------------------------------------------------------------


def read_members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as archive:
        return [(member, archive.extractfile(member).read()) for member in archive.getmembers()]  # type: ignore[union-attr]


def write_members(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(content))
    return path


def manifest_of(checksums: dict[str, str]) -> bytes:
    return "".join(f"{checksums[name]}  {name}\n" for name in sorted(checksums)).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".xz"):
        import lzma

        return lzma.decompress(data)
    return data


def recompress_zstd(source: Path, output: Path) -> Path:
    members = read_members(source)
    manifest = {}
    for line in dict((m.name, c) for m, c in members)["manifest"].decode().splitlines():
        digest, _, name = line.partition("  ")
        manifest[name] = digest
    rewritten = []
    for member, content in members:
        name = member.name
        if name.startswith("header.tar") or name.startswith("data/"):
            stem = name.split(".tar")[0] + ".tar"
            content = zstandard.ZstdCompressor().compress(_decompress(name, content))
            name = stem + ".zst"
            if stem == "header.tar":
                manifest.pop(member.name)
                manifest[name] = sha256(content)
        rewritten.append((name, content))
    rewritten = [(name, manifest_of(manifest) if name == "manifest" else content) for name, content in rewritten]
    return write_members(output, rewritten)


def tar_bytes(files: Iterable[tuple[str, bytes]], mtime: int = 1700000000) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = mtime
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def make_v1_artifact(output: Path, *, name: str, device_type: str, files: dict[str, bytes], bad_checksum: bool = False) -> Path:
    """A legacy format-1 artifact (no manifest; per-file checksums in the header), which no current tool writes."""
    header_files = [
        ("header-info", json.dumps({"updates": [{"type": "rootfs-image"}], "artifact_name": name, "device_types_compatible": [device_type]}).encode()),
        ("headers/0000/files", json.dumps({"files": [{"name": file} for file in files]}).encode()),
        ("headers/0000/type-info", b'{"type":"rootfs-image"}'),
        ("headers/0000/meta-data", json.dumps({"DeviceType": device_type, "ImageID": name}).encode()),
    ]
    for file, content in files.items():
        digest = sha256(content + (b"x" if bad_checksum else b""))
        header_files.append((f"headers/0000/checksums/{file}.sha256sum", f"{digest}  {file}\n".encode()))
    return write_members(
        output,
        [
            ("version", b'{"format":"mender","version":1}'),
            ("header.tar.gz", gzip.compress(tar_bytes(header_files))),
            ("data/0000.tar.gz", gzip.compress(tar_bytes(files.items()))),
        ],
    )


def with_payload_changed(source: Path, output: Path) -> Path:
    """A well-formed artifact whose payload file no longer matches the manifest checksum."""
    members = read_members(source)
    rewritten = []
    for member, content in members:
        if member.name.startswith("data/0000.tar"):
            inner = tarfile.open(fileobj=io.BytesIO(_decompress(member.name, content)))
            files = [(m.name, inner.extractfile(m).read()) for m in inner.getmembers()]  # type: ignore[union-attr]
            name, data = files[-1]
            files[-1] = (name, bytes([data[0] ^ 0xFF]) + data[1:])
            content = gzip.compress(tar_bytes(files)) if member.name.endswith(".gz") else tar_bytes(files)
        rewritten.append((member.name, content))
    return write_members(output, rewritten)


def with_bytes_flipped(source: Path, output: Path, member_name: str) -> Path:
    """The compressed stream of `member_name` damaged in its middle (a corrupt download, say)."""
    rewritten = []
    for member, content in read_members(source):
        if member.name == member_name:
            middle = len(content) // 2
            content = content[:middle] + bytes(b ^ 0x55 for b in content[middle:middle + 64]) + content[middle + 64:]
        rewritten.append((member.name, content))
    return write_members(output, rewritten)


@pytest.fixture(scope="session")
def artifact_maker(tmp_path_factory: pytest.TempPathFactory) -> ArtifactMaker:
    return ArtifactMaker(tmp_path_factory.mktemp("artifacts"))


# --- crafted version-3 artifacts (hostile or huge payloads) --------------------------------------------


def make_v3_artifact(output: Path, *, payload_tar: bytes, checksums: dict[str, str], name: str = "crafted",
                     header_tar: bytes | None = None) -> Path:
    """A v3 artifact around a raw (uncompressed) payload tar; `checksums` are the manifest's data entries by
    file name. `header_tar` replaces the usual one-payload header."""
    version = b'{"format":"mender","version":3}'
    if header_tar is None:
        header_info = {"payloads": [{"type": "custom"}], "artifact_provides": {"artifact_name": name},
                       "artifact_depends": {"device_type": ["qemux86-64"]}}
        header_tar = tar_bytes([("header-info", json.dumps(header_info).encode()), ("headers/0000/type-info", b'{"type":"custom"}')])
    header = gzip.compress(header_tar)
    manifest = {"version": sha256(version), "header.tar.gz": sha256(header)}
    manifest.update({f"data/0000/{file}": digest for file, digest in checksums.items()})
    return write_members(
        output,
        [("version", version), ("manifest", manifest_of(manifest)), ("header.tar.gz", header), ("data/0000.tar.gz", gzip.compress(payload_tar))],
    )


ZERO_CHUNK = bytes(1 << 20)
COMPRESSION_SUFFIXES = {"none": "", "gzip": ".gz", "xz": ".xz", "zstd": ".zst"}


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def _compressor(raw: io.BufferedWriter, compression: str):  # type: ignore[no-untyped-def]
    import lzma

    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1)
    if compression == "xz":
        return lzma.LZMAFile(raw, mode="wb", preset=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().stream_writer(raw, closefd=False)
    return None


def make_zero_payload_artifact(output: Path, size: int, compression: str) -> Path:
    """A v3 artifact whose one payload file is `size` zero bytes: tiny when compressed, big once unpacked.
    Written in a streaming way (the payload never exists in memory here either)."""
    digest = hashlib.sha256()
    remaining = size
    while remaining:
        digest.update(ZERO_CHUNK[: min(remaining, len(ZERO_CHUNK))])
        remaining -= min(remaining, len(ZERO_CHUNK))
    data_path = output.with_name(output.name + ".data")
    with open(data_path, "wb") as raw:
        compressor = _compressor(raw, compression)
        target = compressor or raw
        with tarfile.open(fileobj=target, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            info = tarfile.TarInfo("zeros.img")
            info.size = size
            archive.addfile(info, io.BufferedReader(_Zeros(size)))
        if compressor is not None:
            compressor.close()
    version = b'{"format":"mender","version":3}'
    header_info = {"payloads": [{"type": "rootfs-image"}], "artifact_provides": {"artifact_name": f"zeros-{compression}"},
                   "artifact_depends": {"device_type": ["qemux86-64"]}}
    header = gzip.compress(tar_bytes([("header-info", json.dumps(header_info).encode()), ("headers/0000/type-info", b'{"type":"rootfs-image"}')]))
    manifest = manifest_of({"version": sha256(version), "header.tar.gz": sha256(header), "data/0000/zeros.img": digest.hexdigest()})
    with tarfile.open(output, "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in (("version", version), ("manifest", manifest), ("header.tar.gz", header)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        info = tarfile.TarInfo(f"data/0000.tar{COMPRESSION_SUFFIXES[compression]}")
        info.size = data_path.stat().st_size
        with open(data_path, "rb") as data:
            archive.addfile(info, data)
    data_path.unlink()
    return output
