"""The v3 writer: what it writes must satisfy the real mender-artifact (validate, read, sign) and our reader."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from menderlite.artifact import OperationCancelled, load_verify_keys, read_artifact
from menderlite.artifact.writer import (
    PayloadSource,
    write_module_artifact,
    write_single_file_artifact,
)
from tests.support.artifacts import ArtifactMaker, artifact_maker, run_mender_artifact  # noqa: F401


@pytest.fixture
def single_file(tmp_path: Path) -> tuple[Path, Path]:
    payload = tmp_path / "app.conf"
    payload.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    output = tmp_path / "generated.mender"
    write_single_file_artifact(
        output, name="generated-1", device_types=["qemux86-64", "rpi4"], file_path=payload, file_name="app.conf", dest_dir="/etc/app"
    )
    return output, payload


def test_generated_single_file_artifact_passes_mender_artifact_validate(single_file: tuple[Path, Path]) -> None:
    output, _ = single_file
    result = run_mender_artifact("validate", output)
    assert result.returncode == 0, result.stderr + result.stdout


def test_mender_artifact_reads_what_we_wrote(single_file: tuple[Path, Path]) -> None:
    output, payload = single_file
    result = run_mender_artifact("read", output)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Name: generated-1" in text
    assert "Version: 3" in text
    assert "Compatible devices: '[qemux86-64 rpi4]'" in text
    assert "Type:   single-file" in text
    assert "rootfs-image.single-file.version: generated-1" in text
    assert hashlib.sha256(payload.read_bytes()).hexdigest() in text


def test_our_reader_reads_what_we_wrote(single_file: tuple[Path, Path]) -> None:
    output, payload = single_file
    artifact = read_artifact(output)
    assert artifact.name == "generated-1"
    assert artifact.device_types == ("qemux86-64", "rpi4")
    assert artifact.depends == {"device_type": ["qemux86-64", "rpi4"]}
    assert artifact.provides == {"artifact_name": "generated-1", "rootfs-image.single-file.version": "generated-1"}
    assert artifact.clears_provides == ("rootfs-image.single-file.*",)
    files = {f.name: f for f in artifact.payloads[0].files}
    assert files["app.conf"].size == payload.stat().st_size
    assert files["app.conf"].checksum == hashlib.sha256(payload.read_bytes()).hexdigest()
    assert files["dest_dir"].checksum == hashlib.sha256(b"/etc/app\n").hexdigest()
    assert files["permissions"].checksum == hashlib.sha256(b"644\n").hexdigest()


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_what_we_wrote_can_be_signed_and_verified(single_file: tuple[Path, Path], artifact_maker: ArtifactMaker, kind: str) -> None:
    output, _ = single_file
    private, public = artifact_maker.key_pair(kind)
    signed = output.with_name(f"signed-{kind}.mender")
    assert run_mender_artifact("sign", "-k", private, "-o", signed, output).returncode == 0
    assert run_mender_artifact("validate", "-k", public, signed).returncode == 0
    assert read_artifact(signed, verify_keys=load_verify_keys([str(public)])).signature_verified is True


def test_module_artifact_with_meta_data_and_depends(tmp_path: Path) -> None:
    files = [PayloadSource.of_bytes("a.txt", b"alpha"), PayloadSource.of_bytes("b.txt", b"beta")]
    output = tmp_path / "module.mender"
    write_module_artifact(
        output, name="mod-1", device_types=["x86"], payload_type="script", files=files,
        depends={"os.version": "12"}, meta_data={"retries": 3},
    )
    assert run_mender_artifact("validate", output).returncode == 0
    artifact = read_artifact(output)
    assert artifact.payloads[0].meta_data == {"retries": 3}
    assert artifact.depends == {"device_type": ["x86"], "os.version": "12"}
    assert [f.name for f in artifact.payloads[0].files] == ["a.txt", "b.txt"]


def test_writer_refuses_bad_names(tmp_path: Path) -> None:
    payload = tmp_path / "p"
    payload.write_bytes(b"x")
    with pytest.raises(ValueError):
        write_single_file_artifact(tmp_path / "o", name="n", device_types=["d"], file_path=payload, file_name="../evil", dest_dir="/x")
    with pytest.raises(ValueError):
        write_single_file_artifact(tmp_path / "o", name="", device_types=["d"], file_path=payload, file_name="ok", dest_dir="/x")
    with pytest.raises(ValueError):
        write_single_file_artifact(tmp_path / "o", name="n", device_types=[], file_path=payload, file_name="ok", dest_dir="/x")


def test_cancel_stops_writing_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    payload = tmp_path / "p"
    payload.write_bytes(os.urandom(100000))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OperationCancelled):
        write_single_file_artifact(
            tmp_path / "out.mender", name="n", device_types=["d"], file_path=payload, file_name="p", dest_dir="/x", cancel=cancel
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
