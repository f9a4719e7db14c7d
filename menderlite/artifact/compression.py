"""Payload and header compression, chosen by file-name suffix as mender-artifact does."""

from __future__ import annotations

import gzip
import lzma
from typing import BinaryIO

import zstandard

# suffix -> name; "" means uncompressed
SUFFIXES = {"": "none", ".gz": "gzip", ".xz": "xz", ".zst": "zstd"}


def split_suffix(name: str, stem: str) -> str | None:
    """For `stem`="header.tar": "header.tar.gz" -> ".gz", "header.tar" -> "", anything else -> None."""
    if not name.startswith(stem):
        return None
    suffix = name[len(stem):]
    return suffix if suffix in SUFFIXES else None


def decompressing_reader(raw: BinaryIO, suffix: str) -> BinaryIO:
    """A file object yielding the decompressed bytes of `raw` (read sequentially, never all in memory)."""
    if suffix == "":
        return raw
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if suffix == ".xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    if suffix == ".zst":
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    raise ValueError(f"unknown compression suffix {suffix!r}")
