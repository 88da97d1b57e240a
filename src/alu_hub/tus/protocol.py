"""The tus protocol's wire format: constants, header parsing and encoding, ``Upload-Metadata``,
``Upload-Checksum``, ``Upload-Concat`` and the API errors the endpoint answers."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from fastapi import Request

from ..errors import ApiError
from ..settings import GIB, KIB, MIB

try:
    # ISA-L's CRC-32: the same function as zlib's, 3-5x faster on CPUs with a carry-less
    # multiply (x86-64's PCLMULQDQ); it releases the GIL on large buffers as zlib does
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is a dependency; zlib's does the same, slower
    from zlib import crc32 as _crc32

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = (
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,"
    "concatenation,concatenation-unfinished"
)
#: sha1 is the one tus requires; crc32 is the cheapest (see ``Crc32``)
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5", "crc32")
OFFSET_STREAM = "application/offset+octet-stream"
PREFIX = "/api/v1/uploads"
#: Upload-Metadata larger than this (as sent, base64) is refused with 413; the hub's own limit
#: is ``Settings.max_metadata_bytes``.
MAX_METADATA_BYTES = 192 * 1024

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_INT_RE = re.compile(r"[0-9]+")
#: a number of more digits than any size or offset here can have: read as this, it is refused
#: for what it is (413 for a length, 409 for an offset), not as a malformed header
_HUGE = 1 << 63
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")


# --- errors and headers -----------------------------------------------------------------------


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _locked() -> ApiError:
    return ApiError(
        423,
        "upload_locked",
        "Another request is writing to this upload; try again in a moment.",
        {"Retry-After": "1"},
    )


def http_date(when: dt.datetime) -> str:
    """RFC 9110 HTTP-date, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _ascii_header(text: str, limit: int = 1000) -> str:
    """Text made safe for a header value: printable ASCII stays, the rest (and ``%``) is
    percent-encoded UTF-8, so ``urllib.parse.unquote`` gives the exact text back."""
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
    return quote(text[:limit], safe=safe)


def _effective_method(request: Request) -> str:
    """The method a request stands for: a POST's ``X-HTTP-Method-Override`` (for networks
    that pass only GET and POST), never a GET's or a HEAD's: those are safe methods (RFC 9110
    §9.2.1), and a link followed or prefetched must not delete an upload."""
    if request.method.upper() != "POST":
        return request.method.upper()
    override = request.headers.get("x-http-method-override", "").strip()
    return (override or request.method).upper()


def _header_int(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not _INT_RE.fullmatch(raw):
        raise _bad("bad_header", f"{name} must be a non-negative integer.")
    digits = raw.lstrip("0") or "0"
    return int(digits) if len(digits) <= 19 else _HUGE


def _is_offset_stream(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    return ctype.split(";", 1)[0].strip().lower() == OFFSET_STREAM


def _size_text(n: int) -> str:
    """``n`` bytes for people, in the binary unit the number is in: "64 GiB", "476.8 MiB",
    "48.8 KiB", "500 bytes" (never "0.4657 GB" or "9.313e-05 GB")."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            return f"{n / size:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"The upload is larger than this hub accepts: the limit is {_size_text(limit)} "
        f"({limit} bytes).",
    )


def _chunk_too_large(limit: int) -> ApiError:
    """413 for a body over ``Settings.max_chunk_size`` (only when an operator set one)."""
    return _closing(
        ApiError(
            413,
            "chunk_too_large",
            f"A chunk may be at most {limit} bytes ({_size_text(limit)}); send smaller chunks.",
        )
    )


def _closing(error: ApiError) -> ApiError:
    """``error`` answered with ``Connection: close``: for a body refused for its size before it
    is read. Kept alive, the connection would have to read (and throw away) all of it first,
    gigabytes over a slow link, before it could carry the next request; uvicorn closes the
    connection after such an answer instead."""
    error.headers["Connection"] = "close"
    return error


def _offset_mismatch(offset: int) -> ApiError:
    return ApiError(
        409,
        "offset_mismatch",
        f"Upload-Offset does not match the hub's offset ({offset}); resume from there.",
        {"Upload-Offset": str(offset)},
    )


def _not_allowed(method: str, allow: str) -> ApiError:
    """405, with the methods that are (RFC 9110 §15.5.6: a 405 MUST say them)."""
    return ApiError(405, "method_not_allowed", f"{method} is not allowed here.", {"Allow": allow})


# --- metadata ---------------------------------------------------------------------------------


def parse_metadata(header: str, limit: int = MAX_METADATA_BYTES) -> dict[str, str]:
    """``Upload-Metadata`` as a dict: comma-separated ``key base64value`` pairs, the value
    optional. Keys are printable ASCII without spaces or commas; values must be UTF-8 text.
    Raises ApiError 413 when the header is over ``limit`` bytes (before decoding anything), 400
    on invalid base64, duplicate keys or anything malformed."""
    if len(header) > limit:
        raise ApiError(
            413,
            "metadata_too_large",
            f"Upload-Metadata is {len(header)} bytes, more than the {limit} this hub accepts: "
            "shorten the script, shot list or restrictions.",
        )
    meta: dict[str, str] = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        parts = pair.split()
        if len(parts) > 2:
            raise _bad("bad_metadata", "Upload-Metadata pairs are 'key base64value'.")
        key = parts[0]
        if not (key.isascii() and key.isprintable()):
            raise _bad("bad_metadata", "Upload-Metadata keys must be printable ASCII.")
        if key in meta:
            raise _bad("bad_metadata", f"Upload-Metadata has the key {key!r} twice.")
        value = ""
        if len(parts) == 2:
            raw = parts[1]
            try:
                decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
                value = decoded.decode("utf-8")
            except (binascii.Error, ValueError):
                raise _bad(
                    "bad_metadata",
                    f"The Upload-Metadata value of {key!r} is not base64-encoded UTF-8 text.",
                ) from None
        meta[key] = value
    return meta


def encode_metadata(meta: dict[str, Any]) -> str:
    """The ``Upload-Metadata`` header for stored metadata (the inverse of parse_metadata)."""
    out = []
    for key, value in meta.items():
        text = str(value)
        out.append(f"{key} {base64.b64encode(text.encode()).decode('ascii')}" if text else key)
    return ",".join(out)


def _require_file_meta(meta: dict[str, str]) -> dict[str, str]:
    if not meta.get("filename"):
        raise _bad(
            "missing_metadata",
            "Upload-Metadata must include 'filename' (the name of the file being uploaded).",
        )
    digest = meta.get("sha256", "")
    if not _SHA256_RE.fullmatch(digest):
        raise _bad(
            "missing_metadata",
            "Upload-Metadata must include 'sha256': the SHA-256 of the whole file as 64 hex "
            "digits.",
        )
    # kept as sent, in either case: a HEAD gives the metadata back as the client specified it
    # (tus core: MUST); what checks the file (publish) compares without case
    return meta


# --- checksums --------------------------------------------------------------------------------


class _Digest(Protocol):
    @property
    def digest_size(self) -> int: ...

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


class Crc32:
    """CRC-32 (``zlib.crc32``'s function: zlib's, gzip's, PNG's; computed by ISA-L when it is
    installed) behind hashlib's interface; the Upload-Checksum value is its 4 bytes big-endian
    in base64 (as S3's x-amz-checksum-crc32). A chunk's checksum guards against damage on the
    way, not against an attacker (who could change the header with the body), and the hub
    checks the whole file's sha256 before it publishes; a CRC-32 is enough for that and, with
    ISA-L, costs the hub a tenth of a sha1 or less (both CRCs release the GIL on large
    updates, as hashlib does)."""

    digest_size = 4

    def __init__(self, value: int = 0) -> None:
        self._value = value

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._value = _crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def new_digest(algorithm: str) -> _Digest:
    """A fresh digest of one of ``CHECKSUM_ALGORITHMS``."""
    if algorithm == "crc32":
        return Crc32()
    return hashlib.new(algorithm, usedforsecurity=False)


@dataclass(frozen=True)
class _Checksum:
    algorithm: str
    digest: bytes


def _parse_checksum(raw: str | None) -> _Checksum | None:
    if raw is None:
        return None
    parts = raw.split()
    if len(parts) != 2:
        raise _bad("bad_checksum", "Upload-Checksum is '<algorithm> <base64 digest>'.")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _bad(
            "checksum_unsupported",
            f"The checksum algorithm {parts[0]!r} is not supported; use "
            f"{', '.join(CHECKSUM_ALGORITHMS)}.",
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise _bad("bad_checksum", "The Upload-Checksum digest is not valid base64.") from None
    if len(digest) != new_digest(algorithm).digest_size:
        raise _bad("bad_checksum", f"The Upload-Checksum digest is not a {algorithm} digest.")
    return _Checksum(algorithm, digest)


# --- concatenation ----------------------------------------------------------------------------


def _parse_concat(
    raw: str | None, own_url: Callable[[str], str] | None = None
) -> tuple[str, list[str]]:
    """``Upload-Concat``: "partial", or "final;" and the partial uploads' URLs, separated by
    spaces. ``own_url(id)`` is this hub's URL of upload ``id``: a reference must be that URL,
    or its path (the forms a client has from Location), never another server's or a list
    separated otherwise (its last segment alone named another upload than meant)."""
    if raw is None:
        return "", []
    raw = raw.strip()
    if raw.lower() == "partial":
        return "partial", []
    kind, sep, rest = raw.partition(";")
    if kind.strip().lower() != "final" or not sep:
        raise _bad("bad_concat", "Upload-Concat is 'partial' or 'final;<url> <url> ...'.")
    ids = []
    for ref in rest.split():
        parts = urlsplit(ref)
        segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if not _ID_RE.fullmatch(segment) or parts.query or parts.fragment:
            raise _bad("bad_concat", f"{ref!r} is not the address of an upload.")
        if own_url is not None:
            own = urlsplit(own_url(segment))
            same_server = not parts.netloc or (
                parts.scheme.lower() in ("", own.scheme.lower())
                and parts.netloc.lower() == own.netloc.lower()
            )
            if not same_server or parts.path.rstrip("/") != own.path.rstrip("/"):
                raise _bad("bad_concat", f"{ref!r} is not the address of an upload here.")
        ids.append(segment)
    if not ids:
        raise _bad("bad_concat", "Upload-Concat: final names no upload.")
    return "final", ids
