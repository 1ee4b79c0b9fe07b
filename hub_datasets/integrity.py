"""File digests and cache keys: the helpers every check of a source file, a download or an exported shard
uses."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20  # 1 MiB reads: large enough for hashing speed, small enough to keep memory flat
_KEY_HEX = 24  # hex digits of a cache key: 96 bits never collide in practice and keep folder names short


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks so a multi-gigabyte archive never sits in memory."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(text: str) -> str:
    """A short, stable folder or file name for ``text`` (a URL, a file's identity, a JSON list of digests)."""
    return hashlib.sha256(text.encode()).hexdigest()[:_KEY_HEX]
