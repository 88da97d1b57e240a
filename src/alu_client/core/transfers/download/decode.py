"""Undoing a content coding: a part file of gzip or deflate bytes becomes the file itself.

Some servers send a file compressed whatever ``Accept-Encoding: identity`` asks: an S3 object
stored gzip with ``Content-Encoding: gzip`` in its metadata, nginx with ``gzip_static always``,
a proxy that compresses. Their bytes are the file as that server holds it (RFC 9110 §8.4: a
range, a size and an ETag are of the coded bytes), so the download fetches and resumes those
bytes like any others, and only at the end decodes the part file into the file, hashing what
comes out: the sha256 and size checked are the file's, never the coded bytes'. gzip's own
trailer (CRC-32 and length of every member) is checked by zlib on the way; data that does not
decode, ends early or has anything but zero padding after its end is damage, like a checksum
mismatch. Memory stays bounded: a block in, at most a block out per call.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Final

#: the content codings a download can undo, by their names and aliases (RFC 9110 §8.4.1)
DECODABLE: Final = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}

_BLOCK: Final = 1 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"


class BadCoding(Exception):
    """The coded bytes do not decode into a whole file."""


class TooLong(BadCoding):
    """The coded bytes decode to more than the file's size."""


def _wbits(coding: str, head: bytes) -> int:
    if coding == "gzip":
        return 16 + zlib.MAX_WBITS  # the gzip wrapper only, its trailer checked
    # "deflate" is the zlib format (RFC 9110 §8.4.1.2); some servers send raw deflate
    zlib_header = (
        len(head) >= 2
        and head[0] & 0x0F == 8
        and head[0] >> 4 <= 7
        and ((head[0] << 8) | head[1]) % 31 == 0
    )
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS


def decode_into(
    read: Callable[[int, int], bytes],
    size: int,
    coding: str,
    write: Callable[[bytes], None],
    *,
    check: Callable[[], None],
    limit: int | None = None,
) -> tuple[int, str]:
    """Decode the ``size`` coded bytes that ``read(pos, n)`` gives, handing them to ``write``.

    Returns the decoded size and its sha256; raises ``BadCoding`` for data that is not a whole
    stream of ``coding``, ``TooLong`` once it decodes to more than ``limit`` bytes; what
    ``read`` and ``write`` raise goes through.
    ``check`` is called between blocks (a pause or cancel raises there)."""
    digest = hashlib.sha256()
    out = 0
    pos = 0
    pending = b""
    d: zlib._Decompress | None = None
    members = 0
    while True:
        if not pending:
            if pos >= size:
                break
            check()
            pending = read(pos, min(_BLOCK, size - pos))
            if not pending:
                raise BadCoding("the part file is shorter than its size")
            pos += len(pending)
        if d is None:  # the start of a member (gzip files may hold several, one after another)
            while len(pending) < 2 and pos < size:  # a member's magic, a zlib header: 2 bytes
                more = read(pos, min(_BLOCK, size - pos))
                if not more:
                    raise BadCoding("the part file is shorter than its size")
                pending += more
                pos += len(more)
            if members and coding == "gzip" and not pending.startswith(_GZIP_MAGIC):
                if pending.strip(b"\0"):
                    raise BadCoding("data after the end of the compressed file")
                pending = b""  # zero padding after the last member, as gzip itself allows
                continue
            if members and coding != "gzip":
                raise BadCoding("data after the end of the compressed file")
            d = zlib.decompressobj(_wbits(coding, pending))
            members += 1
        while True:
            try:
                chunk = d.decompress(pending, _BLOCK)
            except zlib.error as e:
                raise BadCoding(str(e)) from e
            pending = d.unconsumed_tail
            if chunk:
                out += len(chunk)
                if limit is not None and out > limit:
                    raise TooLong("it decodes to more than the file's size")
                digest.update(chunk)
                write(chunk)
            if d.eof:
                pending = d.unused_data + pending
                d = None
                break
            if not pending and len(chunk) < _BLOCK:
                break  # all of this block is in; a full block out may leave more to come
    if d is not None:
        raise BadCoding("the compressed data ends before the end of the file")
    if size and not members:
        raise BadCoding("no compressed data")
    return out, digest.hexdigest()
