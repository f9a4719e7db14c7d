"""The artifact reader against artifacts made by the real mender-artifact, hand-made variants and broken files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from menderlite.artifact import (
    ArtifactError,
    ChecksumError,
    OperationCancelled,
    SignatureError,
    load_verify_keys,
    read_artifact,
)
from menderlite.artifact.reader import MAX_HEADER_ARCHIVE_BYTES, MAX_HEADER_MEMBERS
from menderlite.artifact.writer import PayloadSource, write_module_artifact
from tests.support.artifacts import (
    ArtifactMaker,
    artifact_maker,  # noqa: F401 - session fixture
    make_v1_artifact,
    make_v3_artifact,
    make_zero_payload_artifact,
    manifest_of,
    mender_artifact_read,
    sha256,
    tar_bytes,
    with_bytes_flipped,
    with_payload_changed,
    write_members,
)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_single_file_v3_with_everything(artifact_maker: ArtifactMaker) -> None:
    path = artifact_maker.single_file(
        "full-v1",
        ("qemux86-64", "raspberrypi4"),
        size=12345,
        meta_data={"color": "blue", "list": [1, 2]},
        extra=["-g", "group-a", "-G", "group-b", "-N", "previous", "-p", "extra.key:extra-value", "-d", "dep.key:dep-value"],
    )
    artifact = read_artifact(path)
    assert artifact.format == "mender"
    assert artifact.version == 3
    assert artifact.name == "full-v1"
    assert artifact.device_types == ("qemux86-64", "raspberrypi4")
    assert artifact.signed is False and artifact.signature_verified is None
    assert artifact.payload_types == ("single-file",)
    assert artifact.provides == {
        "artifact_name": "full-v1",
        "artifact_group": "group-a",
        "extra.key": "extra-value",
        "rootfs-image.single-file.version": "full-v1",
    }
    assert artifact.depends == {
        "device_type": ["qemux86-64", "raspberrypi4"],
        "artifact_name": ["previous"],
        "artifact_group": ["group-b"],
        "dep.key": "dep-value",
    }
    assert artifact.clears_provides == ("rootfs-image.single-file.*",)
    payload = artifact.payloads[0]
    assert payload.meta_data == {"color": "blue", "list": [1, 2]}
    files = {f.name: f for f in payload.files}
    assert set(files) == {"dest_dir", "filename", "permissions", "payload.bin"}
    assert files["payload.bin"].size == 12345
    assert files["dest_dir"].size == len("/opt/menderlite-test\n")
    assert files["dest_dir"].checksum == hashlib.sha256(b"/opt/menderlite-test\n").hexdigest()
    assert files["payload.bin"].date.tzinfo is not None


def _state_script(maker: ArtifactMaker) -> Path:
    script = maker.path("ArtifactInstall_Enter_00")
    script.write_text("#!/bin/sh\ntrue\n")
    return script


# Every kind the real mender-artifact writes; each is compared field by field with `mender-artifact read`.
REAL_ARTIFACTS = {
    "single-file, everything": lambda maker: maker.single_file(
        "cross-full", ("qemux86-64", "rpi4"), size=7000, meta_data={"color": "blue", "n": [1, 2]},
        extra=["-g", "grp", "-G", "dg1", "-G", "dg2", "-N", "prev1", "-N", "prev2", "-p", "a.b:c", "-d", "x.y:z",
               "-s", str(_state_script(maker)), "--software-name", "app", "--software-version", "1.2"],
    ),
    "single-file, none": lambda maker: maker.single_file("cross-none", compression="none"),
    "single-file, lzma": lambda maker: maker.single_file("cross-lzma", compression="lzma", meta_data={"k": "v"}),
    "directory": lambda maker: maker.directory("cross-dir", ("beaglebone",), meta_data={"key": "value"}),
    "rootfs-image v3": lambda maker: maker.rootfs("cross-rootfs", ("qemux86-64", "vexpress")),
    "rootfs-image v3, lzma": lambda maker: maker.rootfs("cross-rootfs-lzma", compression="lzma"),
    "rootfs-image v3, none": lambda maker: maker.rootfs("cross-rootfs-none", compression="none"),
    "rootfs-image v2": lambda maker: maker.rootfs("cross-rootfs-v2", ("qemux86-64", "rpi3"), version=2),
    "rootfs-image v2, lzma": lambda maker: maker.rootfs("cross-rootfs-v2-lzma", version=2, compression="lzma"),
    "signed RSA": lambda maker: maker.signed(maker.single_file("cross-signed", meta_data={"s": 1}), "rsa"),
    "signed ECDSA": lambda maker: maker.signed(maker.rootfs("cross-signed-ec"), "ecdsa"),
}


@pytest.mark.parametrize("kind", list(REAL_ARTIFACTS))
def test_every_field_matches_what_mender_artifact_reads(artifact_maker: ArtifactMaker, kind: str) -> None:
    path = REAL_ARTIFACTS[kind](artifact_maker)
    expected = mender_artifact_read(path)
    artifact = read_artifact(path)

    assert (artifact.format, artifact.version, artifact.name) == (expected["format"], expected["version"], expected["name"])
    assert list(artifact.device_types) == expected["device_types"]
    assert artifact.signed is (expected["signature"] != "no signature")
    assert list(artifact.scripts) == expected["scripts"]
    assert len(artifact.payloads) == len(expected["updates"]) == 1
    payload, update = artifact.payloads[0], expected["updates"][0]
    assert payload.type == update["type"]
    assert payload.provides == update["provides"]
    assert payload.depends == update["depends"]
    assert list(payload.clears_provides) == (update["clears_provides"] or [])
    assert payload.meta_data == update["meta_data"]
    assert [(f.name, f.size, f.checksum, f.date.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")) for f in payload.files] == [
        (f["name"], f["size"], f["checksum"], f["modified"]) for f in update["files"]
    ]
    # merged: header-info's provides and depends plus the payload's
    header_provides = {"artifact_name": expected["name"]}
    header_depends: dict[str, object] = {"device_type": expected["device_types"]}
    if expected["version"] == 3:
        header_provides |= {"artifact_group": expected["provides_group"]} if expected["provides_group"] else {}
        header_depends |= {"artifact_name": expected["depends_artifacts"]} if expected["depends_artifacts"] else {}
        header_depends |= {"artifact_group": expected["depends_groups"]} if expected["depends_groups"] else {}
    assert artifact.provides == header_provides | update["provides"]
    assert artifact.depends == header_depends | update["depends"]
    assert list(artifact.clears_provides) == (update["clears_provides"] or [])


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_signature_verification_agrees_with_mender_artifact(artifact_maker: ArtifactMaker, kind: str) -> None:
    signed = artifact_maker.signed(artifact_maker.rootfs("cross-verify"), kind)
    public = artifact_maker.key_pair(kind)[1]
    assert mender_artifact_read(signed, key=public)["signature"] == "signed and verified correctly"
    assert read_artifact(signed, verify_keys=load_verify_keys([str(public)])).signature_verified is True


def test_directory_module_with_meta_data(artifact_maker: ArtifactMaker) -> None:
    artifact = read_artifact(artifact_maker.directory("dir-v1", ("beaglebone",), meta_data={"key": "value"}))
    assert artifact.name == "dir-v1"
    assert artifact.payload_types == ("directory",)
    assert artifact.payloads[0].meta_data == {"key": "value"}
    assert sorted(f.name for f in artifact.payloads[0].files) == ["dest_dir", "update.tar"]
    assert artifact.depends == {"device_type": ["beaglebone"]}


def test_rootfs_image_v3_takes_the_type_from_header_info(artifact_maker: ArtifactMaker) -> None:
    path = artifact_maker.rootfs("rootfs-v3", ("qemux86-64", "vexpress"), size=70000)
    artifact = read_artifact(path)
    assert artifact.payload_types == ("rootfs-image",)  # type-info says "" for rootfs-image in 3.9
    image = artifact.payloads[0].files[0]
    assert (image.name, image.size) == ("rootfs.ext4", 70000)
    assert artifact.provides["rootfs-image.version"] == "rootfs-v3"
    assert artifact.provides["rootfs-image.checksum"] == image.checksum
    assert artifact.clears_provides == ("artifact_group", "rootfs_image_checksum", "rootfs-image.*")
    assert artifact.payloads[0].meta_data is None


def test_rootfs_image_format_2(artifact_maker: ArtifactMaker) -> None:
    artifact = read_artifact(artifact_maker.rootfs("rootfs-v2", ("qemux86-64", "rpi3"), version=2))
    assert artifact.version == 2
    assert artifact.name == "rootfs-v2"
    assert artifact.device_types == ("qemux86-64", "rpi3")
    assert artifact.depends == {"device_type": ["qemux86-64", "rpi3"]}
    assert artifact.provides == {"artifact_name": "rootfs-v2"}
    assert artifact.payload_types == ("rootfs-image",)
    assert [f.name for f in artifact.payloads[0].files] == ["rootfs.ext4"]


@pytest.mark.parametrize("compression", ["none", "lzma"])
def test_other_compressions(artifact_maker: ArtifactMaker, compression: str) -> None:
    artifact = read_artifact(artifact_maker.single_file(f"comp-{compression}", compression=compression, size=5000))
    assert artifact.name == f"comp-{compression}"
    assert {f.name: f.size for f in artifact.payloads[0].files}["payload.bin"] == 5000


def test_zstd_payloads(artifact_maker: ArtifactMaker) -> None:
    source = artifact_maker.single_file("comp-zstd", size=7000)
    zstd = artifact_maker.zstd(source)
    artifact = read_artifact(zstd)
    original = read_artifact(source)
    assert artifact.name == "comp-zstd"
    assert artifact == original  # every field: only the compression differs (mender-artifact 3.9 cannot write zstd)


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_signed_artifacts_verify_with_the_right_key_only(artifact_maker: ArtifactMaker, kind: str) -> None:
    signed = artifact_maker.signed(artifact_maker.single_file("to-sign"), kind)
    assert read_artifact(signed).signed is True
    own_key = load_verify_keys([str(artifact_maker.key_pair(kind)[1])])
    assert read_artifact(signed, verify_keys=own_key).signature_verified is True
    other = "ecdsa" if kind == "rsa" else "rsa"
    with pytest.raises(SignatureError, match="signature verification failed"):
        read_artifact(signed, verify_keys=load_verify_keys([str(artifact_maker.key_pair(other)[1])]))
    unsigned = read_artifact(artifact_maker.single_file("to-sign"), verify_keys=own_key)
    assert unsigned.signed is False and unsigned.signature_verified is None


def test_format_1(tmp_path: Path) -> None:
    path = make_v1_artifact(tmp_path / "v1.mender", name="legacy", device_type="vexpress", files={"rootfs.img": b"r" * 3000})
    artifact = read_artifact(path)
    assert (artifact.version, artifact.name, artifact.device_types) == (1, "legacy", ("vexpress",))
    assert artifact.payloads[0].files[0].checksum == hashlib.sha256(b"r" * 3000).hexdigest()
    bad = make_v1_artifact(tmp_path / "v1-bad.mender", name="legacy", device_type="vexpress", files={"rootfs.img": b"r"}, bad_checksum=True)
    with pytest.raises(ChecksumError, match="^invalid checksum"):
        read_artifact(bad)


def test_reads_from_a_pipe_without_seeking(artifact_maker: ArtifactMaker) -> None:
    path = artifact_maker.single_file("piped", size=300000)
    process = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    try:
        assert read_artifact(process.stdout).name == "piped"
    finally:
        process.wait()


def test_payload_not_matching_the_manifest(artifact_maker: ArtifactMaker, tmp_path: Path) -> None:
    broken = with_payload_changed(artifact_maker.single_file("tamper"), tmp_path / "tampered.mender")
    with pytest.raises(ChecksumError, match="^invalid checksum for file data/0000/payload.bin"):
        read_artifact(broken)


def test_corrupt_compressed_payload(artifact_maker: ArtifactMaker, tmp_path: Path) -> None:
    broken = with_bytes_flipped(artifact_maker.single_file("corrupt", size=50000), tmp_path / "c.mender", "data/0000.tar.gz")
    with pytest.raises(ArtifactError):
        read_artifact(broken)


def test_corrupt_header(artifact_maker: ArtifactMaker, tmp_path: Path) -> None:
    broken = with_bytes_flipped(artifact_maker.rootfs("corrupt-header"), tmp_path / "h.mender", "header.tar.gz")
    with pytest.raises(ArtifactError):
        read_artifact(broken)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, None])
def test_truncated_artifacts(artifact_maker: ArtifactMaker, tmp_path: Path, fraction: float | None) -> None:
    data = artifact_maker.single_file("truncated", size=40000).read_bytes()
    # None: inside the last payload bytes (the final 1024 bytes are the tar's end-of-archive zeros)
    length = int(len(data) * fraction) if fraction is not None else len(data) - 1024 - 600
    cut = tmp_path / "cut.mender"
    cut.write_bytes(data[:length])
    with pytest.raises(ArtifactError):
        read_artifact(cut)


@pytest.mark.parametrize(
    "content",
    [b"", os.urandom(8192), b"not an artifact at all\n" * 300, gzip.compress(b"x" * 10000)],
    ids=["empty", "random", "text", "gzip"],
)
def test_files_that_are_not_artifacts(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk"
    path.write_bytes(content)
    with pytest.raises(ArtifactError):
        read_artifact(path)


def test_a_tar_that_is_not_an_artifact(tmp_path: Path) -> None:
    path = write_members(tmp_path / "plain.tar", [("readme.txt", b"hello"), ("data.bin", os.urandom(1000))])
    with pytest.raises(ArtifactError, match="does not start with its version"):
        read_artifact(path)


def test_unsupported_version(tmp_path: Path) -> None:
    version = b'{"format":"mender","version":4}'
    path = write_members(tmp_path / "v4.mender", [("version", version), ("manifest", manifest_of({"version": sha256(version)}))])
    with pytest.raises(ArtifactError, match=r"^unsupported version: 4; supported versions are: 1, 2, 3$"):
        read_artifact(path)


def test_manifest_entry_without_its_file(artifact_maker: ArtifactMaker, tmp_path: Path) -> None:
    """A payload member removed (an artifact cut at a member boundary) is noticed from the manifest."""
    from tests.support.artifacts import read_members

    members = [(m.name, c) for m, c in read_members(artifact_maker.single_file("cut-at-boundary")) if not m.name.startswith("data/")]
    path = write_members(tmp_path / "nodata.mender", members)
    with pytest.raises(ArtifactError, match="missing from the artifact"):
        read_artifact(path)


def test_conflicting_provides_are_refused(tmp_path: Path) -> None:
    payload = tmp_path / "f.bin"
    payload.write_bytes(b"abc")
    output = tmp_path / "conflict.mender"
    write_module_artifact(
        output, name="conflict", device_types=["x"], payload_type="custom",
        files=[PayloadSource(name="f.bin", path=payload)], provides={"artifact_name": "other"},
    )
    with pytest.raises(ArtifactError, match=r"^Conflicting keys not allowed in the provides parameters\. key: artifact_name$"):
        read_artifact(output)


def test_conflicting_depends_are_refused(tmp_path: Path) -> None:
    payload = tmp_path / "f.bin"
    payload.write_bytes(b"abc")
    output = tmp_path / "conflict.mender"
    write_module_artifact(
        output, name="conflict", device_types=["x"], payload_type="custom",
        files=[PayloadSource(name="f.bin", path=payload)], depends={"device_type": "y"},
    )
    with pytest.raises(ArtifactError, match=r"depends parameters\. key: device_type$"):
        read_artifact(output)


def test_cancel_stops_reading(artifact_maker: ArtifactMaker) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OperationCancelled):
        read_artifact(artifact_maker.single_file("cancelled"), cancel=cancel)


def test_unpacked_size_cap(artifact_maker: ArtifactMaker) -> None:
    with pytest.raises(ArtifactError, match="too large once unpacked"):
        read_artifact(artifact_maker.single_file("capped", size=20000), max_unpacked_bytes=10000)


def test_signature_over_a_changed_manifest_fails(artifact_maker: ArtifactMaker, tmp_path: Path) -> None:
    """Re-signing is needed after any change: editing the manifest of a signed artifact breaks verification."""
    from tests.support.artifacts import read_members

    signed = artifact_maker.signed(artifact_maker.single_file("resign"), "rsa")
    members = []
    for member, content in read_members(signed):
        if member.name == "manifest":
            content = content + b"\n"
        members.append((member.name, content))
    path = write_members(tmp_path / "edited.mender", members)
    keys = load_verify_keys([artifact_maker.key_pair("rsa")[1].read_text()])
    with pytest.raises(SignatureError):
        read_artifact(path, verify_keys=keys)



# --- hostile tar headers: refused before they can take memory ------------------------------------------


def _pax_tar(pax_headers: dict[str, str], content: bytes = b"abc") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("a.bin")
        info.size = len(content)
        info.pax_headers = pax_headers
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_a_crafted_artifact_is_read_when_it_is_fine(tmp_path: Path) -> None:
    """The control for the hostile variants below: the same construction, harmless headers."""
    path = make_v3_artifact(tmp_path / "ok.mender", payload_tar=_pax_tar({"comment": "short"}), checksums={"a.bin": sha256(b"abc")})
    artifact = read_artifact(path)
    assert [(f.name, f.size) for f in artifact.payloads[0].files] == [("a.bin", 3)]


def test_a_huge_pax_header_is_refused(tmp_path: Path) -> None:
    """300 KiB of pax header: tarfile would read any size whole (a few KiB of gzip can unpack to gigabytes)."""
    path = make_v3_artifact(tmp_path / "pax.mender", payload_tar=_pax_tar({"comment": "x" * (300 << 10)}), checksums={"a.bin": sha256(b"abc")})
    with pytest.raises(ArtifactError, match=r"^reader: corrupt payload data/0000: extended tar header of \d+ bytes"):
        read_artifact(path)


def test_a_huge_gnu_long_name_in_the_outer_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "longname.mender"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("version" + "/x" * (40 << 10))
        info.size = 0
        archive.addfile(info, io.BytesIO())
    with pytest.raises(ArtifactError, match="extended tar header"):
        read_artifact(path)


def test_many_pax_global_headers_are_refused(tmp_path: Path) -> None:
    """Keys of global headers accumulate for the rest of the archive."""
    globals_ = b"".join(
        tarfile.TarInfo._create_pax_generic_header({f"key{index}": "v"}, tarfile.XGLTYPE, "utf-8")  # type: ignore[attr-defined]
        for index in range(200)
    )
    path = make_v3_artifact(tmp_path / "globals.mender", payload_tar=globals_ + tar_bytes([("a.bin", b"abc")]), checksums={"a.bin": sha256(b"abc")})
    with pytest.raises(ArtifactError, match="too many pax global header keys"):
        read_artifact(path)


@pytest.mark.parametrize("kind", ["pax-1.0", "pax-0.1", "gnu"])
def test_sparse_members_are_refused(tmp_path: Path, kind: str) -> None:
    """A GNU sparse map is read into memory whatever its length; no artifact tool writes sparse members."""
    if kind == "gnu":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
            info = tarfile.TarInfo("a.bin")
            info.type = tarfile.GNUTYPE_SPARSE
            info.size = 3
            archive.addfile(info, io.BytesIO(b"abc"))
        payload = buffer.getvalue()
    elif kind == "pax-1.0":
        payload = _pax_tar({"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "a.bin", "GNU.sparse.realsize": "3"},
                           b"9999999999\n" + b"1\n" * 500)
    else:
        payload = _pax_tar({"GNU.sparse.map": "0,3", "GNU.sparse.name": "a.bin", "GNU.sparse.size": "3"})
    path = make_v3_artifact(tmp_path / "sparse.mender", payload_tar=payload, checksums={"a.bin": sha256(b"abc")})
    with pytest.raises(ArtifactError, match="sparse files are not supported"):
        read_artifact(path)


def test_a_payload_file_repeated_is_refused(tmp_path: Path) -> None:
    """Each repeat would pass its manifest check and grow the file list: a bomb of identical headers."""
    payload = tar_bytes([("a.bin", b"abc")] * 3)
    path = make_v3_artifact(tmp_path / "repeat.mender", payload_tar=payload, checksums={"a.bin": sha256(b"abc")})
    with pytest.raises(ArtifactError, match=r"^reader: payload data/0000 holds a.bin twice$"):
        read_artifact(path)


def test_a_header_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    header_info = {"payloads": [{"type": "custom"}], "artifact_provides": {"artifact_name": "n"}, "artifact_depends": {"device_type": ["d"]}}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        content = json.dumps(header_info).encode()
        info = tarfile.TarInfo("header-info")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
        for index in range(MAX_HEADER_MEMBERS):
            entry = tarfile.TarInfo(f"d{index}")
            entry.type = tarfile.DIRTYPE
            archive.addfile(entry)
    path = make_v3_artifact(tmp_path / "entries.mender", payload_tar=tar_bytes([("a.bin", b"abc")]), checksums={"a.bin": sha256(b"abc")},
                            header_tar=buffer.getvalue())
    with pytest.raises(ArtifactError, match="header.tar.gz has too many entries"):
        read_artifact(path)


def test_format_1_payload_file_without_a_checksum_is_refused(tmp_path: Path) -> None:
    """Version 1 has no manifest: every payload file needs its checksum file in the header."""
    from tests.support.artifacts import read_members

    source = make_v1_artifact(tmp_path / "v1.mender", name="legacy", device_type="vexpress", files={"rootfs.img": b"r" * 100})
    members = []
    for member, content in read_members(source):
        if member.name.startswith("data/"):
            content = gzip.compress(tar_bytes([("rootfs.img", b"r" * 100), ("unlisted.bin", b"u")]))
        members.append((member.name, content))
    path = write_members(tmp_path / "v1-extra.mender", members)
    with pytest.raises(ChecksumError, match=r"^invalid checksum: data/0000/unlisted.bin has no checksum in the header$"):
        read_artifact(path)


# --- memory: payloads are streamed, whatever their compression -----------------------------------------

_MEASURE_READ = """
import sys
from menderlite.artifact import read_artifact

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

baseline = status_kib("VmRSS")
artifact = read_artifact(sys.stdin.buffer if sys.argv[1] == "pipe" else sys.argv[2])
assert artifact.payloads[0].files[0].size == int(sys.argv[3])
print((status_kib("VmHWM") - baseline) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
@pytest.mark.parametrize("compression", ["none", "gzip", "xz", "zstd"])
def test_memory_stays_flat_while_a_large_payload_is_checked(tmp_path: Path, compression: str) -> None:
    """96 MiB of payload (unpacked) read from a file and from a pipe: the reader's peak memory grows by far
    less than the payload, so no decompressor or buffer holds it whole."""
    size = 96 << 20
    path = make_zero_payload_artifact(tmp_path / f"zeros-{compression}.mender", size, compression)
    for mode in ("file", "pipe"):
        with open(path, "rb") as stdin:
            result = subprocess.run(
                [sys.executable, "-c", _MEASURE_READ, mode, str(path), str(size)],
                stdin=stdin, capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
            )
        assert result.returncode == 0, result.stderr
        growth_mib = int(result.stdout.strip())
        assert growth_mib < 32, f"{compression} from a {mode}: peak memory grew by {growth_mib} MiB"


def test_a_header_that_unpacks_to_a_huge_archive_is_refused(tmp_path: Path) -> None:
    """Entries of an unknown type are skipped by tarfile whatever their size: the unpacked header is capped."""
    header_info = {"payloads": [{"type": "custom"}], "artifact_provides": {"artifact_name": "n"}, "artifact_depends": {"device_type": ["d"]}}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        content = json.dumps(header_info).encode()
        info = tarfile.TarInfo("header-info")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
        skipped = tarfile.TarInfo("vendor-extension")
        skipped.type = b"Z"  # unknown to tarfile: its data is skipped, not counted as a file
        skipped.size = MAX_HEADER_ARCHIVE_BYTES
        archive.addfile(skipped, io.BytesIO(bytes(MAX_HEADER_ARCHIVE_BYTES)))
    path = make_v3_artifact(tmp_path / "bomb.mender", payload_tar=tar_bytes([("a.bin", b"abc")]), checksums={"a.bin": sha256(b"abc")},
                            header_tar=buffer.getvalue())
    with pytest.raises(ArtifactError, match="^reader: header.tar.gz is too large$"):
        read_artifact(path)
