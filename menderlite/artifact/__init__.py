"""The Mender artifact format: a streaming reader (versions 1-3), a writer (version 3) and the parsed model.

Pure library code: no aiohttp, no database. The reader (tarfile, lzma, zstandard) is imported on first use
of `read_artifact`, so that a server that is not parsing an upload does not hold it in memory.
"""

from __future__ import annotations

from typing import Any

from menderlite.artifact.model import (
    Artifact,
    ArtifactError,
    ChecksumError,
    OperationCancelled,
    Payload,
    PayloadFile,
    SignatureError,
)
from menderlite.artifact.signature import load_verify_keys

__all__ = [
    "Artifact",
    "ArtifactError",
    "ChecksumError",
    "OperationCancelled",
    "Payload",
    "PayloadFile",
    "SignatureError",
    "load_verify_keys",
    "read_artifact",
]


def __getattr__(name: str) -> Any:
    if name == "read_artifact":
        from menderlite.artifact.reader import read_artifact

        return read_artifact
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
