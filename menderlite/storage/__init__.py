"""Blob storage behind a small interface: local files now, S3-compatible storage later.

Keys are `/`-separated names made by the services (e.g. `<tenant>/<artifact id>`), never request text.
Writes go to a temporary file first and are moved into place atomically by `commit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from menderlite.storage.local import LocalBlobStore, StorageKeyError

__all__ = ["BlobStore", "LocalBlobStore", "StorageKeyError"]


class BlobStore(Protocol):
    def new_temp_path(self) -> Path:
        """A fresh path for a temporary file, on the same filesystem as the blobs."""

    async def commit(self, temp_path: Path, key: str) -> None:
        """Move a finished temporary file into place under `key`, atomically."""

    async def delete(self, key: str) -> None:
        """Remove a blob; a missing blob is not an error."""

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve with sendfile, or None for remote stores."""

    def keys(self) -> list[str]:
        """The keys of every stored blob (a start-up sweep for files no row refers to)."""

    def remove_orphan_temp_files(self) -> int:
        """Delete temporary files left by an interrupted upload; returns how many."""
