"""The HTTP side of a download: messages, limits, internal signals, and what an answer says
(status, headers, ``Content-Range``), plus how an OS error reads to newsroom staff."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from typing import Final

import requests

from ...http import is_number, origin, proxy_answer
from ...oserrors import is_disk_full, is_passing, is_too_large
from ...plain_text import one_line
from ..base import (
    MSG_ACCESS_REFUSED,
    WITHDRAWN_PREFIX,
    DiskFullError,
    ItemWithdrawn,
    PermanentError,
    RetryableError,
    withdrawn_message,
)
from ..retry import retry_after_of

# --- messages (plain words for newsroom staff; never a URL) ------------------------------------

MSG_STALLED: Final = "The connection stalled; resuming."
MSG_CUT: Final = "The connection to the server was cut; resuming."
MSG_TRUNCATED: Final = "The server closed the connection before the end of the file; resuming."
MSG_UNREACHABLE: Final = "The server could not be reached; trying again."
MSG_CONNECT_TIMEOUT: Final = "The server did not answer in time; trying again."
MSG_DAMAGED: Final = "The downloaded file was damaged (checksum mismatch); downloading it again."
MSG_NOT_THE_FILE: Final = (
    "The server's file is not the one expected: it arrived twice with the same different "
    "checksum, so it is not damage on the way. Nothing was kept; tell the agency."
)
MSG_LINK_EXPIRED: Final = (
    "The link stopped working part-way through the file (it expired?); get a new link and "
    "download it again with that one: it goes on from where it stopped."
)
MSG_CHANGED: Final = "The file changed on the server; downloading it again from the start."
MSG_NO_RESUME: Final = (
    "The server cannot resume downloads; downloading the file again from the start."
)
MSG_COMPRESSED: Final = "The server compressed the file; asking again."
MSG_COMPRESSED_AGAIN: Final = (
    "The server keeps sending the file compressed, so it cannot be checked or resumed. "
    "Tell the agency."
)
MSG_TOO_LONG: Final = "The server sent more data than the file's size."
MSG_GONE: Final = (
    "The server has no file at this address (HTTP {code}): it was removed, or the address is wrong."
)
MSG_BAD_ADDRESS: Final = "The download address is not valid."
MSG_BAD_REDIRECT: Final = "The server sent the download to an address that is not valid."
MSG_WRONG_PART: Final = "The server sent the wrong part of the file; asking again."
MSG_DISK_FULL: Final = "The disk is full; the download will continue when space is freed."
MSG_PLACE_BUSY: Final = (
    "The file is downloaded and checked, but another program (an antivirus, OneDrive, the "
    "search indexer?) keeps it open; it is put in place at the next try."
)
MSG_FOLDER_TOO_LONG: Final = (
    "The download folder's path is too long for Windows: choose a shorter folder."
)
MSG_PATH_TOO_LONG: Final = (
    "The file's path is too long for Windows (more than 259 characters with its folder): "
    "choose a shorter folder or name."
)
MSG_PART_BUSY: Final = (
    "Another download is writing “{name}” right now (from another ALU Desk or data folder); "
    "this one waits and tries again."
)
MSG_PART_NOT_OURS: Final = (
    "A file named “{name}” is already there and this download did not make it (another "
    "download to the same name, or another program); move it away or choose another name."
)

_MAX_REDIRECTS: Final = 10
_MAX_TAGS: Final = 8  # ETags of one file remembered (a CDN's nodes)
_MAX_START_OVERS: Final = 3  # per run; more means the file keeps changing under us
_STOP_GRACE_S: Final = 0.5  # how long the caller waits for workers after a stop
_HASH_BLOCK: Final = 1 << 20
_MIN_READ: Final = 64 * 1024
_MAX_READ: Final = 1 << 20
#: under a bandwidth limit a read takes at most what the limit lets through in this many
#: seconds (but ``_MIN_LIMITED_READ``): a 512 KiB read at 100 kB/s took five seconds of the
#: limit at once, and the link carried it as a burst at its full rate, every five seconds
_LIMITED_READ_S: Final = 0.1
_MIN_LIMITED_READ: Final = 16 * 1024
_MIN_SEGMENT: Final = 1 << 20  # smaller segments cost more round trips than they save
_DRAIN_LIMIT: Final = 64 * 1024  # small error/redirect bodies are read so the connection stays
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
#: "not now" answers: to a stream while others are served, a server refusing extra connections
_BUSY: Final = frozenset({429, 503})
_CHECKPOINT_VERSION: Final = 1

# --- internal signals -------------------------------------------------------------------------


class _StartOver(Exception):  # a signal, not an error
    """Partial data is useless (file changed, Range ignored, compressed): start from byte 0.

    ``resp``, when given, is a full-body answer to reuse as the new start (saves a round trip).
    ``one_stream``: no segments for this file from now on (a server whose ranges cannot be
    used: each segmented resume would start over again).
    """

    def __init__(
        self,
        note: str | None,
        *,
        resp: requests.Response | None = None,
        no_range: bool = False,
        one_stream: bool = False,
    ) -> None:
        super().__init__(note or "start over")
        self.note = note
        self.resp = resp
        self.no_range = no_range
        self.one_stream = one_stream


class _Aborted(Exception):  # a signal, not an error
    """A worker stopped because another one failed for good; not an error of its own."""


@dataclass(frozen=True)
class _Body:
    """What a 200/206 answer carries: file bytes [start, end) of a file of ``total`` bytes."""

    start: int
    end: int | None
    total: int | None


# --- helpers ----------------------------------------------------------------------------------


def _is_strong(etag: str) -> bool:
    return etag.startswith('"') and etag.endswith('"') and len(etag) >= 2


def _header(resp: requests.Response, name: str) -> str | None:
    value = resp.headers.get(name)
    return value.strip() if value else None


def _coding(resp: requests.Response) -> str | None:
    """The answer's content coding, in lower case; None for the bytes as they are."""
    coding = (resp.headers.get("Content-Encoding") or "").strip().lower()
    return None if coding in ("", "identity", "none") else coding  # "none": often sent


def _coded_range_fits(resp: requests.Response) -> bool:
    """Whether a compressed 206 is a range of stored coded bytes (an S3 object, a static
    .gz): a strong ETag, a Content-Length, and a Content-Range that says as much. A server
    compressing each answer afresh sends other bytes each time, or counts the range in the
    file's bytes (RFC 9110 §14.4 says the coded ones): no range of it can be built on."""
    if not _is_strong(_header(resp, "ETag") or "") or _int_header(resp, "Content-Length") is None:
        return False
    value = (resp.headers.get("Content-Range") or "").strip()
    unit, _, rest = value.partition(" ")
    span, _, _total = rest.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not is_number(first) or not is_number(last):
        return False
    return _int_header(resp, "Content-Length") == int(last) + 1 - int(first)


def _keeps_credentials(source: str, target: str) -> bool:
    """Whether a redirect from ``source`` to ``target`` may carry the credentials: the same
    origin, or the same host moved from http to https on the standard ports (a safer channel
    to the same server, as requests itself allows). Origins as requests connects to them
    (``http.origin``: raises ``BadAddress`` for an address that is not a valid one)."""
    a, b = origin(source), origin(target)
    return a == b or (a == ("http", b[1], 80) and b == ("https", a[1], 443))


def _int_header(resp: requests.Response, name: str) -> int | None:
    value = resp.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return int(value) if is_number(value) else None


def _body_range(resp: requests.Response, requested_start: int) -> _Body:
    """Which file bytes the body holds; checks Content-Range against what we asked."""
    length = _int_header(resp, "Content-Length")
    if resp.status_code == 200:
        if requested_start != 0:
            raise RetryableError(MSG_WRONG_PART)
        return _Body(0, length, length)
    if (resp.headers.get("Content-Type") or "").lower().startswith("multipart/byteranges"):
        # several parts for one range asked (RFC 9110 says a server must not): the file
        # whole instead, on one stream, and on one stream from now on (each segmented resume
        # started over again: 9x the file over a link that cuts)
        raise _StartOver(MSG_NO_RESUME, no_range=True, one_stream=True)
    value = (resp.headers.get("Content-Range") or "").strip()
    unit, _, rest = value.partition(" ")
    span, _, total_text = rest.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not is_number(first) or not is_number(last):
        raise RetryableError(MSG_WRONG_PART)
    start, end = int(first), int(last) + 1
    total = int(total_text) if is_number(total_text) else None
    # Content-Range says what the body holds (RFC 9110 §14.4): a range from earlier than
    # asked (a store that aligns ranges to its blocks) is fine, its first bytes are skipped
    if start > requested_start or end <= requested_start or (total is not None and end > total):
        raise RetryableError(MSG_WRONG_PART)
    if length is not None and length != end - start:
        raise RetryableError(MSG_WRONG_PART)
    return _Body(start, end, total)


def _unsatisfied_total(resp: requests.Response) -> int | None:
    value = (resp.headers.get("Content-Range") or "").strip()
    _, _, total = value.partition("/")
    return int(total) if is_number(total) else None


def _retry_after(resp: requests.Response) -> float | None:
    return retry_after_of(resp)


def _check_status(resp: requests.Response) -> None:
    code = resp.status_code
    if code in (200, 206, 416):
        return
    said = proxy_answer(resp)
    if said is not None:
        raise (RetryableError if code >= 500 else PermanentError)(said)
    if code in (401, 403):
        raise PermanentError(MSG_ACCESS_REFUSED.format(code=code))
    if code == 410 and (reason := _withdrawn_reason(resp)) is not None:
        raise ItemWithdrawn(withdrawn_message(reason))
    if code in (404, 410):
        raise PermanentError(MSG_GONE.format(code=code))
    later = _retry_after(resp)
    if code == 429:
        raise RetryableError(
            "The server is busy (HTTP 429); the download will try again later.",
            retry_after=later,
        )
    if code in (408, 423) or 500 <= code <= 599:
        raise RetryableError(
            f"The server could not send the file just now (HTTP {code}); trying again.",
            retry_after=later,
        )
    raise unexpected_answer(code)


def _withdrawn_reason(resp: requests.Response) -> str | None:
    """The agency's reason when ``resp`` is the hub's 410 for a withdrawn item (its JSON error
    ``item_withdrawn``), else None. The hub's message is "The agency withdrew this item:
    REASON"; one worded otherwise is taken whole as the reason."""
    if "json" not in (resp.headers.get("Content-Type") or ""):
        return None
    try:
        raw = resp.raw.read(_DRAIN_LIMIT, decode_content=True)
        error = json.loads(raw)["error"]
        code, message = error.get("code"), error.get("message")
    except (ValueError, KeyError, TypeError, AttributeError, OSError, requests.RequestException):
        return None
    if code != "item_withdrawn":
        return None
    words = one_line(message)[:500] if isinstance(message, str) else ""
    return words.removeprefix(WITHDRAWN_PREFIX).strip()


def unexpected_answer(code: int) -> PermanentError:
    """An answer a download cannot use (400, 405, 415…): what it was and what to do."""
    return PermanentError(
        f"The server gave an unexpected answer (HTTP {code}); check the address, or tell "
        "whoever runs the server."
    )


#: errors of the destination's path (a folder in it is a file, the name too long, a folder or a
#: link where the part file goes): not a passing state of the disk
_BAD_PATH: Final = frozenset(
    {errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.EISDIR, errno.ELOOP, errno.EINVAL}
)


MSG_TOO_BIG_FOR_DISK = (
    "The file is too large for the download folder's disk (FAT32 and some USB disks hold "
    "files of at most 4 GB); choose a folder on another disk."
)


def _disk_error(e: OSError) -> BaseException:
    if is_disk_full(e):
        return DiskFullError(MSG_DISK_FULL)
    if is_too_large(e):  # (or a process limit, ulimit -f): no retry makes it fit
        return PermanentError(MSG_TOO_BIG_FOR_DISK)
    if is_passing(e):  # Windows: a device, a share or another program; read as EACCES, EINVAL
        return RetryableError(
            f"The file could not be written to the disk ({e.strerror or e}); trying again."
        )
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermanentError(
            f"The download folder cannot be written to ({e.strerror or 'access denied'})."
        )
    if e.errno in _BAD_PATH:  # the path itself is wrong: trying again cannot help
        return PermanentError(
            f"The file cannot be saved there ({e.strerror or e}); choose another folder or name."
        )
    return RetryableError(
        f"The file could not be written to the disk ({e.strerror or e}); trying again."
    )
