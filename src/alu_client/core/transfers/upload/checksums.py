"""Upload-Checksum: which algorithm (the fastest here of those the server lists), the digests of
a file region, and the next chunk's digests computed on a thread while this chunk is sent.

Why a thread: the header must precede the body, so a chunk's digest needs a read pass of its
own before the chunk goes out. Done inline, that pass and the send take turns (on loopback a
1 GiB upload spent ~2 s sending and ~2 s hashing, one after the other). The next chunk's
region is known while this one is sent (it starts where this one ends; its size is one of the
sizer's ``candidates()``), so one pass over it records the digest at each candidate length
(``hashlib`` objects can be copied mid-stream) and the next chunk starts at once. hashlib
releases the GIL on large updates, so the pass runs beside the send on another core. It reads
the file itself in blocks of at most ``MAX_BLOCK`` (it never holds the chunk), so memory stays
bounded; a pass whose region turns out not to be the next chunk (the server kept less, the
size was halved after a 413) is dropped and the digest is computed inline as before."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, Self

from .spec import MAX_BLOCK

try:
    # ISA-L's CRC-32: the same function as zlib's, 3-5x faster on CPUs with a carry-less
    # multiply (x86-64's PCLMULQDQ); it releases the GIL on large buffers as zlib does
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is a dependency; zlib's does the same, slower
    from zlib import crc32 as _crc32

#: bytes hashed per algorithm to rank them (a few ms each, once per process)
_PROBE = 4 * MAX_BLOCK


class _Digest(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...
    def copy(self) -> Self: ...


class Crc32:
    """CRC-32 (``zlib.crc32``'s, the polynomial of zlib, gzip and PNG; computed by ISA-L when
    installed) behind hashlib's interface; its Upload-Checksum value is the 4 bytes
    big-endian, in base64 (as S3's x-amz-checksum-crc32). Both release the GIL on large
    updates, as hashlib does."""

    def __init__(self, value: int = 0) -> None:
        self._value = value

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._value = _crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")

    def copy(self) -> Crc32:
        return Crc32(self._value)


def new_digest(algorithm: str) -> _Digest:
    """A fresh digest of ``algorithm``: ``crc32`` or a hashlib name."""
    if algorithm == "crc32":
        return Crc32()
    return hashlib.new(algorithm, usedforsecurity=False)


#: the algorithms ``new_digest`` knows
AVAILABLE = frozenset(hashlib.algorithms_available) | {"crc32"}


@functools.cache
def _speed(algorithm: str) -> float:
    """Bytes per second of ``algorithm`` on this CPU (best of three short runs)."""
    data = os.urandom(_PROBE)
    best = float("inf")
    for _ in range(3):
        h = new_digest(algorithm)
        t0 = time.perf_counter()
        h.update(data)
        best = min(best, time.perf_counter() - t0)
    return _PROBE / max(best, 1e-9)


def fastest_checksum(listed: Iterable[str], usable: Iterable[str]) -> str | None:
    """Of the algorithms the server lists, the fastest on this CPU among ``usable``.

    Upload-Checksum guards a chunk against damage on the way, not against an attacker (whoever
    can change the body can change the header too; the ALU hub checks the whole file's sha256
    at the end), so crc32, md5, sha1 and sha256 serve alike and speed decides: a CRC-32 is
    what TCP's 16-bit sum is not, sure to catch any burst of up to 32 bits and random damage
    but for one chance in 4 billion (S3 and Cloud Storage check transfers with CRCs too).
    Which is fastest depends on the CPU: crc32 in general (10–19 GB/s with ISA-L on this VM,
    3–4 GB/s with zlib's, sha1 ~1.9 and sha256 ~1.8 with the CPU's SHA extensions, sha1 ~0.8
    without them, md5 ~0.75), so it is measured."""
    offered = {a.strip().lower() for a in listed}
    choices = [a for a in usable if a in offered and a in AVAILABLE]
    return max(choices, key=_speed, default=None)


def region_digests(
    path: os.PathLike[str] | str,
    algorithm: str,
    pos: int,
    lengths: Iterable[int],
    check: Callable[[], None],
) -> dict[int, str]:
    """Upload-Checksum values (base64) of ``[pos, pos + n)`` for each ``n`` in ``lengths``, in
    one read pass in blocks of at most ``MAX_BLOCK``. ``check`` runs before each block (it
    raises to stop). Raises ``EOFError`` if the file ends early (it shrank)."""
    wanted = set(lengths)
    ends = sorted(n for n in wanted if n > 0)
    found: dict[int, str] = {}
    h = new_digest(algorithm)
    if 0 in wanted:
        found[0] = base64.b64encode(h.digest()).decode("ascii")
    if not ends:
        return found
    buf = bytearray(MAX_BLOCK)
    view = memoryview(buf)
    done = 0
    with open(path, "rb") as f:
        f.seek(pos)
        for end in ends:
            while done < end:
                check()
                n = f.readinto(view[: min(MAX_BLOCK, end - done)])
                if not n:
                    raise EOFError
                h.update(view[:n])
                done += n
            found[end] = base64.b64encode(h.copy().digest()).decode("ascii")
    return found


class _Cancelled(Exception):
    pass


class DigestAhead:
    """The digests of one region (the next chunk's candidate sizes), computed on a thread.

    ``take(pos, length)`` waits for the pass and returns the digest if the region is the one
    asked for, else None (the caller computes it inline). ``cancel`` stops the pass at its next
    block; so does ``stopping()`` becoming true (a pause, a cancel, a failed sibling part)."""

    def __init__(
        self,
        path: os.PathLike[str] | str,
        algorithm: str,
        pos: int,
        lengths: Iterable[int],
        stopping: Callable[[], bool],
    ) -> None:
        self.pos = pos
        self.lengths = frozenset(lengths)
        self._stopping = stopping
        self._cancel = threading.Event()
        self._found: dict[int, str] = {}
        self._thread = threading.Thread(
            target=self._run, args=(path, algorithm), name="alu-upload-digest", daemon=True
        )
        self._thread.start()

    def _check(self) -> None:
        if self._cancel.is_set() or self._stopping():
            raise _Cancelled

    def _run(self, path: os.PathLike[str] | str, algorithm: str) -> None:
        try:
            self._found = region_digests(path, algorithm, self.pos, self.lengths, self._check)
        except (_Cancelled, EOFError, OSError):
            self._found = {}  # the caller computes inline, and meets the error there

    def take(self, pos: int, length: int) -> str | None:
        if pos != self.pos or length not in self.lengths:
            self.cancel()
            return None
        self._thread.join()
        return self._found.get(length)

    def cancel(self) -> None:
        self._cancel.set()
        self._thread.join()
