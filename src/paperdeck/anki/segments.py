"""Compressed segments of a file, one after another: each is raw deflate ending in a sync
flush, so segments compressed apart make one valid stream (ended by :data:`END`), and the
CRC-32 of the whole is combined from theirs. A segment that did not change is written
again as the bytes it was, neither decompressed nor compressed.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

_LEVEL = 6
"""zlib's default compression level, as ``zipfile`` uses."""


END = b"\x03\x00"
"""An empty final deflate block: ends the stream of sync-flushed segments."""


@dataclass(frozen=True)
class Segment:
    """Compressed pages: their digest (the key they are stored under), CRC and size."""

    digest: bytes
    crc: int
    size: int
    """Uncompressed bytes."""


class SegmentStore:
    """Compressed segments by digest: those made in this process, and a way to fetch older
    ones (from a build cache)."""

    def __init__(
        self, fetch: Callable[[Sequence[bytes]], Mapping[bytes, bytes]] | None = None
    ) -> None:
        self.fetch = fetch
        self.made: dict[bytes, bytes] = {}
        self._fetched: dict[bytes, bytes] = {}

    def prefetch(self, segments: Iterable[Segment]) -> None:
        """Fetch the segments not made here, in one go (before :meth:`get` asks for each),
        each checked against its digest: :class:`KeyError` if one is missing or damaged,
        before anything is written with it."""
        wanted = [s.digest for s in segments if s.digest not in self.made]
        wanted = [d for d in wanted if d not in self._fetched]
        found = self.fetch(wanted) if self.fetch is not None and wanted else {}
        for digest in wanted:
            data = found.get(digest)
            if data is None or _digest(data) != digest:
                raise KeyError("segment missing from the store, or damaged")
            self._fetched[digest] = data

    def put(self, raw: bytes) -> Segment:
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
        data = packer.compress(raw) + packer.flush(zlib.Z_SYNC_FLUSH)
        digest = _digest(data)
        self.made[digest] = data
        return Segment(digest, zlib.crc32(raw), len(raw))

    def get(self, segment: Segment) -> bytes:
        found = self.made.get(segment.digest) or self._fetched.pop(segment.digest, None)
        if found is None and self.fetch is not None:
            found = self.fetch([segment.digest]).get(segment.digest)
        if found is None:
            raise KeyError("segment missing from the store")
        return found

    def raw(self, segment: Segment) -> bytes:
        """The pages themselves (:class:`KeyError` if they are not stored as they were)."""
        try:
            data = zlib.decompressobj(-15).decompress(self.get(segment))
        except zlib.error as exc:
            raise KeyError("segment damaged") from exc
        if len(data) != segment.size or zlib.crc32(data) != segment.crc:
            raise KeyError("segment damaged")
        return data


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


# -- the CRC of segments one after another -------------------------------------------------


_POLY = 0xEDB88320


def _multiply(a: int, b: int) -> int:
    """``a * b`` modulo the CRC-32 polynomial (bit-reflected, as zlib computes it)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    table = [1 << 30]  # x
    for _ in range(31):
        table.append(_multiply(table[-1], table[-1]))
    return table


_X2N = _powers()


@functools.lru_cache(maxsize=256)
def _shift(length: int) -> int:
    """x to the power of 8 * ``length``, modulo the polynomial."""
    p, k, n = 1 << 31, 3, length
    while n:
        if n & 1:
            p = _multiply(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of two byte strings one after the other, from theirs (zlib's method)."""
    return _multiply(_shift(length2), crc1) ^ crc2


def combined(segments: Sequence[Segment]) -> tuple[int, int]:
    """The CRC-32 and size of the segments' bytes one after another."""
    crc, size = 0, 0
    for segment in segments:
        crc = crc32_combine(crc, segment.crc, segment.size)
        size += segment.size
    return crc, size
