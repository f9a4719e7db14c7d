"""What the server learns from a Mender artifact: plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Depends values are a string (type-info) or a list of strings (header-info); provides values are strings.
DependsValue = str | list[str]


class ArtifactError(ValueError):
    """The file is not a valid Mender artifact; the message says why (shown to the uploader)."""


class ChecksumError(ArtifactError):
    """A file's SHA-256 differs from the manifest (messages start with `invalid checksum`)."""


class SignatureError(ArtifactError):
    """The manifest signature does not verify with any configured key."""


@dataclass(frozen=True)
class PayloadFile:
    name: str
    size: int
    checksum: str  # hex SHA-256, as listed in the manifest
    date: datetime  # the file's mtime in the payload tar


@dataclass(frozen=True)
class Payload:
    index: int
    type: str
    files: tuple[PayloadFile, ...] = ()
    meta_data: dict[str, Any] | None = None
    provides: dict[str, str] = field(default_factory=dict)
    depends: dict[str, DependsValue] = field(default_factory=dict)
    clears_provides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifact:
    format: str  # always "mender"
    version: int  # 1, 2 or 3
    name: str
    device_types: tuple[str, ...]
    payloads: tuple[Payload, ...]
    provides: dict[str, str]  # merged: header-info + every type-info
    depends: dict[str, DependsValue]  # merged: header-info + every type-info; always has device_type
    clears_provides: tuple[str, ...]
    signed: bool  # manifest.sig present
    signature_verified: bool | None = None  # None: not checked (no keys configured or unsigned)
    scripts: tuple[str, ...] = ()

    @property
    def payload_types(self) -> tuple[str, ...]:
        return tuple(payload.type for payload in self.payloads)


class OperationCancelled(Exception):
    """Reading or writing stopped because the caller asked (e.g. the server is shutting down)."""
