"""Blobs as files under one directory; temporary files live in its `.tmp/` folder."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


class StorageKeyError(ValueError):
    """A key with an empty, dot or otherwise unsafe segment."""


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp_dir = root / ".tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        segments = key.split("/")
        if not segments or any(not _SEGMENT.match(segment) for segment in segments):
            raise StorageKeyError(f"unsafe storage key: {key!r}")
        return self.root.joinpath(*segments)

    def new_temp_path(self) -> Path:
        return self.temp_dir / f"{uuid.uuid4()}.part"

    async def commit(self, temp_path: Path, key: str) -> None:
        target = self.path_for(key)
        await asyncio.to_thread(_move_into_place, temp_path, target)

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(os.unlink, self.path_for(key))
        except FileNotFoundError:
            pass

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    async def size(self, key: str) -> int:
        return (await asyncio.to_thread(os.stat, self.path_for(key))).st_size

    def local_path(self, key: str) -> Path | None:
        return self.path_for(key)

    def keys(self) -> list[str]:
        """The keys of every stored blob (temporary files excluded)."""
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and path.parent != self.temp_dir and self.temp_dir not in path.parents
        )

    def remove_orphan_temp_files(self) -> int:
        removed = 0
        for leftover in self.temp_dir.glob("*"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed


def _move_into_place(temp_path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(temp_path, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp_path, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
