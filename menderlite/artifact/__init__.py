"""The Mender artifact format: a streaming reader (versions 1-3), a writer (version 3) and the parsed model.

Pure library code: no aiohttp, no database.
"""

from menderlite.artifact.model import (
    Artifact,
    ArtifactError,
    ChecksumError,
    OperationCancelled,
    Payload,
    PayloadFile,
    SignatureError,
)
from menderlite.artifact.reader import read_artifact
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
