"""The upload job: one local file to the hub (or any tus 1.0 server) over a slow, lossy link,
resumed at the server's offset, never corrupted, in bounded memory.

``run(spec, ctx)`` is the job the queue calls on a worker thread; ``poll_outcome`` asks the hub
later what became of a finished upload (it publishes asynchronously).

How it stands on tuspy 1.1.0
    ``_TusUpload`` *is* tuspy's ``Uploader`` (``tusclient.uploader.uploader.Uploader``) with its
    transport replaced: tuspy's state (``url``, ``offset``, ``chunk_size``, ``stop_at``,
    ``metadata``), its flow (``create_url`` → ``set_url``, which stores the URL in the
    ``url_storage`` under the fingerprint key; ``get_offset`` on resume; ``upload`` driving
    ``upload_chunk``) and its URL storage and fingerprint interfaces are kept, and every method
    that touches the network is ours. ``StoreUrlStorage`` is a tuspy ``Storage`` backed by
    ``ctx.checkpoint``; ``Fingerprinter`` is a tuspy ``Fingerprint`` answering ``fingerprint()``.
    The gaps, and how each is closed:

    * A new connection per PATCH (module-level ``requests.patch``): every request goes through
      ``ctx.sessions.get(url, stream)``, one kept-alive connection per destination and stream,
      so a 300 ms link pays TCP (and TLS) set-up once, not per chunk.
    * No timeouts: every request has ``(connect_timeout, stall_timeout)``; and because a socket
      send timeout would only fire after ``connect_timeout`` (urllib3 keeps it while sending a
      body), a watchdog thread cuts a PATCH whose body has not moved for ``stall_timeout``.
    * The whole chunk read into memory (and the default chunk is the whole file): the PATCH
      body is ``_Body``, an iterable with a length that reads the file region in blocks of at
      most 256 KiB and passes each through ``metered(ctx)`` before it goes out, so memory stays
      flat whatever the chunk or file size and progress moves inside a chunk. Having a length,
      it makes requests send ``Content-Length`` (a bare generator would be sent chunked, which
      tus servers refuse). With the checksum extension the chunk's digest is computed in a first
      read pass (the header must precede the body), then the chunk is streamed.
    * A fixed 30 s retry, for PATCH only: ``upload`` classifies every answer (see Errors) and
      resumes with a HEAD; when its small in-run budget is spent it raises ``RetryableError``
      (with ``retry_after`` from the server) and the queue backs off between runs; the next run
      resumes from the checkpoint.
    * A colliding fingerprint (size + md5 of the first 64 KiB: two camera files of one size with
      the same container header share it, and one's upload URL would be used for the other):
      ``fingerprint()`` is the absolute path + size + mtime_ns + sha256 of the whole file.
    * Also: creation errors, 404/410 and ``Upload-Expires`` are handled (a new upload from 0),
      a relative ``Location`` is resolved against the endpoint, nothing follows redirects (a
      redirect must not carry the token elsewhere), and URLs never reach logs or messages.

Checkpoint (through ``StoreUrlStorage``; upload URLs are secrets: never logged)
    ``{"fingerprint", "size", "mtime_ns", "url"}`` as soon as the upload exists; with parallel
    parts, ``"parts": {"<start>-<end>": url}`` (the plan is saved before any part is created)
    and, once the final upload exists, ``"url"`` is the final one; ``"complete"`` once the
    server has every byte. A run that finds a checkpoint HEADs for the server's offset.

Errors (in one run)
    A network error, a stall, a 5xx, 429 or 409: HEAD and go on, at most ``QUICK_RESUMES`` times
    in a row without progress (short backoff, or ``Retry-After`` up to ``MAX_WAIT_IN_RUN``; a
    longer one goes to the queue at once), then ``RetryableError`` (``retry_after`` from the
    server). 423: wait ``Retry-After`` (or
    1 s) and retry, ``LOCKED_TRIES`` times. 460: send the chunk again, ``CHECKSUM_TRIES`` times.
    413 on PATCH: halve the chunk (not below ``tuning.min_upload_chunk``). 404/410 on HEAD or
    PATCH, or a passed ``Upload-Expires``: a new upload from offset 0 (once per run), noted.
    401/403, a file larger than ``Tus-Max-Size``, a deleted or changed source file:
    ``PermanentError`` in plain words (a changed file's upload is DELETEd).

Chunk size
    ``spec.chunk_size`` if given (fixed, but halved on 413), else adaptive from
    ``tuning.upload_chunk_size``: after each full chunk the size moves towards what the link
    carries in ``TARGET_CHUNK_S`` seconds, at most doubling or halving per chunk, within
    ``[min_upload_chunk, MAX_CHUNK]``; a chunk cut short halves it. Chunks of several seconds
    keep the per-request round trip (300 ms) a small share; not much longer, so that a cut
    re-sends little (with checksums the hub drops a cut chunk whole) and chunks fit between a
    flaky link's drops.

Parallel parts
    When the server lists ``concatenation`` and ``spec.parallel`` (default: the tuning's
    ``max_parallel_uploads`` for files of 64 MiB or more) asks for more than one stream, the
    file is cut into contiguous ranges, each a partial upload (``Upload-Concat: partial``) sent
    on its own thread and session stream; then a final upload is POSTed with
    ``Upload-Concat: final;<urls>`` and the metadata. If one part fails the others stop.

Stop
    ``ctx.control.on_stop`` cuts the in-flight connections (socket shutdown; a PATCH's
    connection is learnt when urllib3 asks for the body's iterator, see ``_sending_connection``),
    so a pause takes effect mid-chunk at once; a cancel also DELETEs the upload (and its parts)
    and clears the checkpoint. Short requests (OPTIONS, POST, HEAD) are bounded by timeouts.

Completion
    After the last byte (or the final POST) one HEAD fills ``state``/``item_id``/``error`` from
    ``Alu-Upload-State``/``Alu-Item-Id``/``Alu-Error`` (a final upload says ``receiving`` until
    the hub has joined its parts); ``poll_outcome`` waits for ``published`` or ``failed``. A run
    on a checkpoint marked complete sends nothing and only asks that HEAD.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import io
import itertools
import json
import math
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import unquote, urljoin

import requests
import urllib3.connection
from tusclient.client import TusClient
from tusclient.fingerprint.interface import Fingerprint
from tusclient.storage.interface import Storage
from tusclient.uploader.uploader import Uploader

from .base import (
    Checkpoint,
    PermanentError,
    RetryableError,
    Stopped,
    TransferContext,
    metered,
    redact_url,
)

__all__ = [
    "Fingerprinter",
    "StoreUrlStorage",
    "UploadResult",
    "UploadSpec",
    "fingerprint",
    "poll_outcome",
    "run",
]

KIB = 1024
MIB = 1024 * KIB
TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"

#: largest block read from the file and handed to the socket at once
MAX_BLOCK = 256 * KIB
#: smallest block, when the link is so slow that a 256 KiB send would look like a stall
MIN_BLOCK = 16 * KIB
#: the adaptive chunk size aims at chunks of about this many seconds...
TARGET_CHUNK_S = 8.0
#: ...and never grows beyond this
MAX_CHUNK = 64 * MIB
#: files at least this large use the tuning's parallel parts when ``spec.parallel`` is None
PARALLEL_THRESHOLD = 64 * MIB
#: a part is never smaller than this
MIN_PART = 1 * MIB
#: HEAD-resumes in a row without progress before the run gives up (RetryableError)
QUICK_RESUMES = 3
#: a Retry-After longer than this is left to the queue (RetryableError at once)
MAX_WAIT_IN_RUN = 10.0
#: 423 answers in a row before RetryableError
LOCKED_TRIES = 5
#: 460 answers for one chunk before RetryableError
CHECKSUM_TRIES = 3
#: checksum algorithms we can compute, best first
CHECKSUM_PREFERENCE = ("sha1", "sha256", "md5")

FILE_CHANGED = "The file changed since the upload started; add it again."
LOST_NOTE = "The hub had lost the partial upload; it started again from the beginning."
LOST_TRACK = (
    "The connection dropped just as the hub was joining the parts of the file, and this computer "
    "could not learn what became of it; check the feed before adding the file again."
)


# --- the job's API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadSpec:
    path: Path
    #: the tus collection URL (``…/api/v1/uploads/`` on the hub)
    endpoint: str
    #: Upload-Metadata; the caller includes filename, sha256, title, …
    metadata: dict[str, str]
    #: None = adaptive, starting at ``tuning.upload_chunk_size``
    chunk_size: int | None = None
    #: parts when the server offers concatenation; None = ``tuning.max_parallel_uploads`` for
    #: files of 64 MiB or more, else 1
    parallel: int | None = None


@dataclass(frozen=True)
class UploadResult:
    #: the upload (or, with parts, the final upload); a secret, like every upload URL
    url: str
    size: int
    #: body bytes handed to the network in this run (a cut chunk's bytes count once more)
    bytes_sent: int
    #: the server had lost the upload (404/410/expired) and a new one was created
    restarted: bool
    #: from the hub's ``Alu-Upload-State``, ``Alu-Item-Id``, ``Alu-Error`` when present
    state: str
    item_id: str | None
    error: str


# --- fingerprint --------------------------------------------------------------------------------


def fingerprint(path: Path) -> str:
    """The key under which the upload URL of this file is stored; it cannot collide.

    tuspy's key (size + md5 of the first 64 KiB) is the same for every pair of files that share
    a size and a header (clips from one camera, re-exports of one edit), so the second file
    would resume the first one's upload and the hub would receive a mix of both. Here two keys
    are equal only if the files have the same absolute path, size and mtime_ns *and* the same
    sha256 over every byte: different content cannot share a key (that would be a sha256
    collision), and even identical content at another path or in another version (a new mtime)
    gets its own upload. The sha256 also catches a file rewritten with the same size whose mtime
    was put back (copy tools that preserve times), which path + size + mtime alone would miss.
    Hashing reads the file once per run: cheap next to sending it over the member's link."""
    return _fingerprint(path, lambda: None)


def _fingerprint(path: Path, check: Callable[[], None]) -> str:
    absolute = path.resolve()
    digest = hashlib.sha256()
    with open(absolute, "rb") as f:
        st = os.fstat(f.fileno())
        while block := f.read(MAX_BLOCK):
            check()
            digest.update(block)
    return (
        f"sha256:{digest.hexdigest()} size:{st.st_size} mtime_ns:{st.st_mtime_ns} path:{absolute}"
    )


class Fingerprinter(Fingerprint):
    """tuspy's fingerprint interface answering ``fingerprint()`` for a stream opened from a path
    (``fingerprinter=Fingerprinter()`` makes a plain tuspy uploader collision-free too)."""

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        name = getattr(fs, "name", None)
        if not isinstance(name, str):
            raise ValueError("a fingerprint needs a file opened from a path")
        return fingerprint(Path(name))


# --- URL storage in the checkpoint --------------------------------------------------------------

_PART_KEY = re.compile(r"(?s)(.*)#part:([0-9]+)-([0-9]+)")


def _split_key(key: str) -> tuple[str, str]:
    """(file fingerprint, "<start>-<end>" for a part key or "")."""
    m = _PART_KEY.fullmatch(key)
    return (m.group(1), f"{m.group(2)}-{m.group(3)}") if m else (key, "")


class StoreUrlStorage(Storage):
    """tuspy's URL storage (key → upload URL) kept in the job's checkpoint, which the queue
    persists: tuspy-style resumability, in our store.

    The key of the whole file's upload is its ``fingerprint()``; a parallel part's key is the
    fingerprint + ``#part:<start>-<end>`` (see ``part_key``). The checkpoint holds one file's
    record: ``fingerprint``, ``size``, ``mtime_ns`` (from ``bind``), ``url``, ``parts`` (range →
    URL), ``finalizing`` and ``complete``; storing a key of another fingerprint starts the
    record over. Thread-safe (parts store their URLs from their own threads); every change is
    saved at once. The URLs are secrets: never log what this holds."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        loaded = checkpoint.load()
        self._data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        self._record: dict[str, Any] = {}

    @staticmethod
    def part_key(file_fingerprint: str, start: int, end: int) -> str:
        return f"{file_fingerprint}#part:{start}-{end}"

    def bind(self, file_fingerprint: str, size: int, mtime_ns: int) -> None:
        """The file this run uploads: its record is saved with its first URL."""
        self._record = {"fingerprint": file_fingerprint, "size": size, "mtime_ns": mtime_ns}

    # tuspy's interface

    def get_item(self, key: str) -> str | None:
        fp, rng = _split_key(key)
        with self._lock:
            if fp != self._data.get("fingerprint"):
                return None
            value = self._parts().get(rng) if rng else self._data.get("url")
        return value if isinstance(value, str) and value else None

    def set_item(self, key: str, value: str) -> None:
        fp, rng = _split_key(key)
        with self._lock:
            self._own(fp)
            if rng:
                parts = self._parts()
                parts[rng] = value
                self._data["parts"] = parts
            else:
                self._data["url"] = value
            self._save()

    def remove_item(self, key: str) -> None:
        fp, rng = _split_key(key)
        with self._lock:
            if fp != self._data.get("fingerprint"):
                return
            if rng:
                parts = self._parts()
                if rng in parts:
                    parts[rng] = ""  # the plan stays: the range is uploaded again
                    self._data["parts"] = parts
            else:
                self._data.pop("url", None)
                self._data.pop("complete", None)
            self._save()

    # the job's bookkeeping

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._data))
        return copy

    def plan_parts(self, file_fingerprint: str, ranges: list[tuple[int, int]]) -> None:
        """Save the parts' ranges before any is created, so that a crash resumes this plan."""
        with self._lock:
            self._own(file_fingerprint)
            old = self._parts()
            self._data["parts"] = {f"{s}-{e}": old.get(f"{s}-{e}", "") for s, e in ranges}
            self._save()

    def part_ranges(self) -> list[tuple[int, int]]:
        with self._lock:
            keys = list(self._parts())
        ranges = []
        for rng in keys:
            start, _, end = rng.partition("-")
            if start.isdigit() and end.isdigit():
                ranges.append((int(start), int(end)))
        return sorted(ranges)

    def mark_finalizing(self) -> None:
        with self._lock:
            self._data["finalizing"] = True
            self._save()

    def finalizing(self) -> bool:
        with self._lock:
            return bool(self._data.get("finalizing"))

    def mark_complete(self, url: str) -> None:
        """The server has every byte of the upload at ``url`` (the parts are its business now)."""
        with self._lock:
            self._data["url"] = url
            self._data["complete"] = True
            self._data.pop("parts", None)
            self._data.pop("finalizing", None)
            self._save()

    def urls(self) -> list[str]:
        with self._lock:
            found = [self._data.get("url"), *self._parts().values()]
        return [u for u in found if isinstance(u, str) and u]

    def forget_urls(self) -> None:
        """Drop every URL but keep the file's record (so a changed file stays refused)."""
        with self._lock:
            for name in ("url", "parts", "finalizing", "complete"):
                self._data.pop(name, None)
            self._save()

    def clear(self) -> None:
        with self._lock:
            self._data = {}
            self._save()

    def _own(self, fp: str) -> None:
        if fp != self._data.get("fingerprint"):
            self._data = {"fingerprint": fp}
            if self._record.get("fingerprint") == fp:
                self._data.update(self._record)

    def _parts(self) -> dict[str, str]:
        parts = self._data.get("parts")
        return {str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {}

    def _save(self) -> None:
        self._checkpoint.save(json.loads(json.dumps(self._data)))


# --- internal outcomes of one request ------------------------------------------------------------


class _Resume(Exception):
    """The request failed in a way a HEAD-resume may heal (network, stall, 5xx, 429, 409)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class _Lost(Exception):
    """The server no longer has the upload (404/410, expired, or not the upload we think)."""


class _Locked(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("locked")
        self.wait = wait


class _TooLarge(Exception):
    """413 on a PATCH: the chunk is larger than the server takes."""


class _BadChecksum(Exception):
    """460: the chunk arrived damaged and was discarded."""


class _Aborted(Exception):
    """Another part of this upload failed: this one stops too."""


class _FileChanged(Exception):
    """The source file changed (or shrank) while it was being uploaded."""


# --- HTTP helpers ---------------------------------------------------------------------------------

_ID_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}|https?://\S+")


def _hub_words(r: requests.Response) -> str:
    """The server's own message (the hub answers ``{"error": {"message"}}``), without anything
    that looks like an upload id or URL."""
    message = ""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", ""))
    message = _ID_LIKE.sub("…", message.strip())[:300]
    return message or f"HTTP {r.status_code} {r.reason or ''}".strip()


def _retry_after(r: requests.Response) -> float | None:
    raw = r.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _int_header(r: requests.Response, name: str) -> int | None:
    raw = r.headers.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


def _expired(r: requests.Response) -> bool:
    """A passed Upload-Expires, measured on the server's clock (its Date) when it sends one."""
    raw = r.headers.get("Upload-Expires")
    if not raw:
        return False
    try:
        expires = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return False
    now = time.time()
    if date := r.headers.get("Date"):
        with contextlib.suppress(TypeError, ValueError):
            now = email.utils.parsedate_to_datetime(date).timestamp()
    return expires <= now


def _size_text(n: int) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


def _too_large(size: int, limit: int | None) -> PermanentError:
    if limit is None:
        return PermanentError(f"The hub does not accept a file this large ({_size_text(size)}).")
    return PermanentError(
        f"The file is {_size_text(size)}, larger than the {_size_text(limit)} the hub accepts."
    )


def _raise_for(r: requests.Response, *, creating: bool = False) -> None:
    """Nothing for 2xx; else the exception that says what to do about the answer."""
    code = r.status_code
    if 200 <= code < 300:
        return
    if code == 401:
        raise PermanentError("The hub did not accept this sign-in; sign in again, then retry.")
    if code == 403:
        raise PermanentError(f"The hub refused the upload for this account: {_hub_words(r)}")
    if code in (404, 410):
        if creating:
            raise PermanentError(
                "The hub has no upload service at this address; check the hub's address."
            )
        raise _Lost()
    if code == 409:
        raise _Resume("The hub and this computer disagreed on how much had arrived.")
    if code == 423:
        raise _Locked(_retry_after(r) or 1.0)
    if code == 460:
        raise _BadChecksum()
    if code == 429 or code >= 500:
        raise _Resume(
            f"The hub is busy or had a problem (HTTP {code}); the upload will go on later.",
            _retry_after(r),
        )
    if 300 <= code < 400:
        raise PermanentError(
            "The hub answered with a redirect, which an upload does not follow; check the hub's "
            "address."
        )
    raise PermanentError(f"The hub refused the upload: {_hub_words(r)}")


def _outcome(r: requests.Response) -> tuple[str, str | None, str]:
    state = r.headers.get("Alu-Upload-State", "")
    item = r.headers.get("Alu-Item-Id")
    return state, (unquote(item) if item else None), unquote(r.headers.get("Alu-Error", ""))


def _metadata_header(meta: Mapping[str, str]) -> str:
    """Upload-Metadata per the tus spec: ``key base64(utf-8 value)`` pairs, comma-separated."""
    pairs = []
    for key, value in meta.items():
        if not key or not key.isascii() or any(c.isspace() or c == "," for c in key):
            raise PermanentError(f"The upload detail {key!r} has a name a hub cannot take.")
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        pairs.append(f"{key} {encoded}" if value else key)
    return ",".join(pairs)


def _split(size: int, n: int) -> list[tuple[int, int]]:
    base = size // n
    return [(i * base, size if i == n - 1 else (i + 1) * base) for i in range(n)]


def _backoff(attempt: int) -> float:
    return float(min(4.0, 0.5 * 2 ** (attempt - 1)))


# --- cutting a request short from another thread ------------------------------------------------


def _sending_connection() -> urllib3.connection.HTTPConnection | None:
    """The urllib3 connection that is iterating the body we are called for.

    urllib3 2.x asks for the body's iterator in ``HTTPConnection.request``, a couple of frames
    up; neither requests nor urllib3 offer another way to reach the socket of a request in
    flight, and closing the session's adapter only closes idle connections. When it is not found
    (another urllib3), stops and stalls still act at the next block and through the timeouts."""
    frame = sys._getframe(1)
    for _ in range(8):
        owner = frame.f_locals.get("self")
        if isinstance(owner, urllib3.connection.HTTPConnection):
            return owner
        if frame.f_back is None:
            break
        frame = frame.f_back
    return None


class _Flight:
    """One stream's request in flight, and how another thread cuts it short: a stop (pause or
    cancel), a stall (the watchdog) or a failed sibling part ("abort")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: urllib3.connection.HTTPConnection | None = None
        self.active = False
        #: when the body last moved (inf while the meter holds it back: throttling is no stall)
        self.idle_since = 0.0
        self.reason = ""

    def begin(self) -> None:
        with self._lock:
            self.active = True
            self.idle_since = time.monotonic()
            self.reason = ""
            self._conn = None

    def attach(self, conn: urllib3.connection.HTTPConnection | None) -> None:
        with self._lock:
            self._conn = conn
            if self.reason:
                self._shutdown()

    def holding(self) -> None:
        self.idle_since = math.inf

    def moved(self) -> None:
        self.idle_since = time.monotonic()

    def end(self) -> None:
        with self._lock:
            self.active = False
            self._conn = None

    def cut(self, reason: str) -> None:
        with self._lock:
            if not self.active or self.reason:
                return
            self.reason = reason
            self._shutdown()

    def _shutdown(self) -> None:
        sock = getattr(self._conn, "sock", None)
        if isinstance(sock, socket.socket):
            # the plain socket's shutdown (an SSLSocket's would drop its SSL object while the
            # other thread is using it); the blocked send or recv then fails at once
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Cuts a flight whose body has not moved for ``stall_s`` (one thread per run)."""

    def __init__(self, flights: list[_Flight], stall_s: float) -> None:
        self._flights = flights
        self._stall_s = stall_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="alu-upload-watchdog", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        interval = min(0.5, max(0.05, self._stall_s / 4))
        while not self._done.wait(interval):
            now = time.monotonic()
            for flight in list(self._flights):
                if flight.active and now - flight.idle_since > self._stall_s:
                    flight.cut("stall")

    def stop(self) -> None:
        self._done.set()
        self._thread.join(2.0)


# --- chunk size -----------------------------------------------------------------------------------


class _ChunkSize:
    """See the module doc: fixed (``spec.chunk_size``) or adaptive; halved on 413."""

    def __init__(self, start: int, minimum: int, adaptive: bool) -> None:
        self.minimum = max(1, min(minimum, start))
        self.size = max(start, self.minimum)
        self.adaptive = adaptive
        self.ceiling = max(MAX_CHUNK, self.size) if adaptive else self.size

    def after(self, sent: int, seconds: float) -> None:
        """A full chunk of ``sent`` bytes took ``seconds``."""
        if not self.adaptive or sent < self.size:
            return
        ideal = sent * TARGET_CHUNK_S / max(seconds, 1e-3)
        wanted = int(min(max(ideal, self.size / 2), self.size * 2))
        wanted -= wanted % (64 * KIB)
        self.size = max(self.minimum, min(self.ceiling, wanted))

    def cut(self) -> None:
        """A chunk was cut short: smaller chunks fit between a flaky link's drops (with checksums
        the server drops a cut chunk whole); fast chunks grow them back."""
        if self.adaptive:
            self.size = max(self.minimum, self.size // 2)

    def shrink(self) -> bool:
        if self.size <= self.minimum:
            return False
        self.size = max(self.minimum, self.size // 2)
        self.ceiling = self.size
        return True


# --- one tus upload (the whole file, or one part of it) ------------------------------------------


class _Body:
    """A PATCH body: the file region ``[pos, pos + length)`` in blocks of at most 256 KiB, each
    passed through the meter before it goes out. Its length makes requests send
    ``Content-Length``; iterating it tells the flight which connection carries it."""

    def __init__(self, up: _TusUpload, pos: int, length: int) -> None:
        self._up = up
        self._pos = pos
        self._length = length
        self._blocks: Generator[bytes, None, None] | None = None

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        self._up.flight.attach(_sending_connection())
        self._blocks = self._read()
        return self._blocks

    def close(self) -> None:
        if self._blocks is not None:
            self._blocks.close()

    def _read(self) -> Generator[bytes, None, None]:
        up, job, flight = self._up, self._up.job, self._up.flight
        left = self._length
        with job.open_source() as f:
            f.seek(self._pos)
            while left > 0:
                up.check_flight()
                data = f.read(min(up.block, left))
                if not data:
                    raise _FileChanged()
                flight.holding()
                job.account(len(data))
                flight.moved()
                t0 = time.monotonic()
                yield data
                took = time.monotonic() - t0
                flight.moved()
                left -= len(data)
                # a send that takes long means a slow link: smaller blocks keep progress (and
                # the stall watchdog's view of it) moving; fast sends grow them back
                if took > job.stall_s / 8:
                    up.block = max(MIN_BLOCK, up.block // 2)
                elif took < 0.02:
                    up.block = min(job.max_block, up.block * 2)


class _TusUpload(Uploader):
    """tuspy's Uploader for one upload: the whole file (``start`` 0, ``end`` size) or one part
    of it, with every network method replaced (see the module doc). ``offset`` and ``stop_at``
    count from ``start``, as the server sees them."""

    url: str | None  # type: ignore[assignment]  # tuspy declares it as None only

    def __init__(
        self,
        job: _Job,
        *,
        start: int,
        end: int,
        key: str,
        partial: bool,
        stream: int,
        sizer: _ChunkSize,
    ) -> None:
        self.job = job
        self.start = start
        self.end = end
        self.key = key
        self.partial = partial
        self.stream = stream
        self.sizer = sizer
        self.flight = job.new_flight()
        self.block = job.max_block
        self.restarted = False
        # store_url=False: tuspy would HEAD in its constructor; the URL comes from the storage
        # below instead and the HEAD happens in upload(), under its error handling
        super().__init__(
            file_path=str(job.path),
            client=job.client,
            chunk_size=sizer.size,
            metadata={} if partial else dict(job.spec.metadata),
            store_url=False,
        )
        self.store_url = True
        self.url_storage = job.storage
        self.url = job.storage.get_item(key)

    # tuspy's methods, with our transport

    def get_headers(self) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION, **self.job.ctx.headers}

    def get_file_size(self) -> int:
        return self.end - self.start

    def _get_fingerprint(self) -> str:
        # tuspy re-fingerprints on every set_url; the whole-file hash is made once per run
        return self.key

    def create_url(self) -> str:
        headers = self.get_headers()
        headers["Upload-Length"] = str(self.stop_at)
        if self.metadata:
            headers["Upload-Metadata"] = _metadata_header(self.metadata)
        if self.partial:
            headers["Upload-Concat"] = "partial"
        r = self.job.request("POST", self.job.endpoint, self.stream, headers)
        if r.status_code == 413:
            raise _too_large(self.job.size, None)
        _raise_for(r, creating=True)
        location = r.headers.get("Location")
        if not location:
            raise PermanentError("The hub did not say where to send the file; is it a tus server?")
        return urljoin(self.job.endpoint, location)

    def get_offset(self) -> int:
        assert self.url is not None
        r = self.job.request("HEAD", self.url, self.stream, self.get_headers())
        _raise_for(r)
        offset = _int_header(r, "Upload-Offset")
        if offset is None:
            raise _Resume("The hub's answer had no offset.")
        length = _int_header(r, "Upload-Length")
        if (length is not None and length != self.stop_at) or offset > self.stop_at:
            raise _Lost()  # not the upload of this file (range): never write into it
        if offset < self.stop_at and _expired(r):
            raise _Lost()
        return offset

    def upload_chunk(self) -> None:
        job, url = self.job, self.url
        assert url is not None
        job.check_source()
        start = self.offset
        length = min(self.chunk_size, self.stop_at - start)
        pos = self.start + start
        headers = self.get_headers()
        headers.update(
            {
                "Upload-Offset": str(start),
                "Content-Type": OFFSET_STREAM,
                "Content-Length": str(length),
            }
        )
        if job.checksum:
            headers["Upload-Checksum"] = f"{job.checksum} {job.digest(pos, length)}"
        body = _Body(self, pos, length)
        session = job.ctx.sessions.get(url, self.stream)
        self.flight.begin()
        began = time.monotonic()
        try:
            r = session.patch(
                url, data=body, headers=headers, timeout=job.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            job.log.debug("upload %s: PATCH failed (%s)", job.name, type(e).__name__)
            self.check_flight()
            if isinstance(e, requests.Timeout):
                raise _Resume("The link stalled.") from None
            raise _Resume("The connection to the hub dropped.") from None
        finally:
            self.flight.end()
            body.close()
        if r.status_code == 413:
            raise _TooLarge()
        _raise_for(r)
        new = _int_header(r, "Upload-Offset")
        if new is None or not start <= new <= start + length:
            raise _Resume("The hub's answer had an unexpected offset.")
        self.offset = new
        if new == start + length:
            self.sizer.after(length, time.monotonic() - began)
            self.chunk_size = self.sizer.size

    def upload(self, stop_at: int | None = None) -> None:
        """Create or resume, then send chunks until the server has every byte (see Errors in
        the module doc for what each failure does)."""
        job = self.job
        need_head = self.url is not None
        quick = locked = bad_sums = 0
        while True:
            job.check()
            sending = False
            try:
                if self.url is None:
                    self.set_url(self.create_url())  # tuspy: stores it under our key
                    self.offset = 0
                elif need_head:
                    self.offset = self.get_offset()
                need_head = False
                if self.offset >= self.stop_at:
                    return
                before = self.offset
                sending = True
                self.upload_chunk()
                sending = False
                if self.offset > before:
                    quick = locked = bad_sums = 0
            except _Lost:
                self._restart()
                need_head = False
            except _Locked as e:
                locked += 1
                if locked > LOCKED_TRIES:
                    raise RetryableError(
                        "Another connection is still writing to this upload at the hub; it will "
                        "go on later.",
                        retry_after=e.wait,
                    ) from None
                job.wait(min(e.wait, MAX_WAIT_IN_RUN))
                need_head = True
            except _TooLarge:
                if not self.sizer.shrink():
                    raise PermanentError(
                        f"The hub refuses even pieces of {_size_text(self.sizer.size)}; it cannot "
                        "take this upload."
                    ) from None
                self.chunk_size = self.sizer.size
                job.log.info(
                    "upload %s: the hub wants smaller chunks: %d", job.name, self.chunk_size
                )
                need_head = True
            except _BadChecksum:
                bad_sums += 1
                if bad_sums > CHECKSUM_TRIES:
                    raise RetryableError(
                        "Pieces of the file kept arriving damaged at the hub; it will try again."
                    ) from None
                job.log.info("upload %s: a chunk arrived damaged; sending it again", job.name)
                need_head = True
            except _Resume as e:
                if sending:
                    self.sizer.cut()
                    self.chunk_size = self.sizer.size
                quick += 1
                wait = e.retry_after if e.retry_after is not None else _backoff(quick)
                if quick > QUICK_RESUMES or wait > MAX_WAIT_IN_RUN:
                    raise RetryableError(e.message, retry_after=e.retry_after) from None
                job.log.info("upload %s: %s Resuming in %.1f s.", job.name, e.message, wait)
                job.wait(wait)
                need_head = self.url is not None

    # ours

    def check_flight(self) -> None:
        """Raise what a cut of this stream's flight means."""
        reason = self.flight.reason
        if reason == "stop":
            raise Stopped(self.job.ctx.control.reason or "pause")
        if reason == "abort":
            raise _Aborted()
        if reason == "stall":
            raise _Resume("The link stalled.")

    def _restart(self) -> None:
        job = self.job
        if self.restarted:
            raise RetryableError("The hub lost the upload again; it will try later.") from None
        if self.partial and job.storage.finalizing():
            raise PermanentError(LOST_TRACK) from None
        self.restarted = True
        job.lost()
        job.storage.remove_item(self.key)
        self.url = None
        self.offset = 0


# --- the job -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Caps:
    extensions: frozenset[str]
    max_size: int | None
    checksum: str | None


class _Job:
    def __init__(self, spec: UploadSpec, ctx: TransferContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.path = spec.path
        self.name = spec.path.name
        self.endpoint = spec.endpoint
        self.log = ctx.log
        tuning = ctx.tuning
        self.stall_s = tuning.stall_timeout
        self.timeout = (tuning.connect_timeout, tuning.stall_timeout)
        self.max_block = max(MIN_BLOCK, min(MAX_BLOCK, tuning.read_size))
        self.storage = StoreUrlStorage(ctx.checkpoint)
        self.client = TusClient(spec.endpoint, headers=dict(ctx.headers))
        self.checksum: str | None = None
        self.size = 0
        self.mtime_ns = 0
        self.fp = ""
        self.restarted = False
        self.sent = 0
        self._sent_lock = threading.Lock()
        self._metered = metered(ctx)
        self._aborted = threading.Event()
        self._flights: list[_Flight] = []
        self._watchdog = _Watchdog(self._flights, self.stall_s)
        self._forget_on_stop = ctx.control.on_stop(self._on_stop)

    def close(self) -> None:
        self._forget_on_stop()
        self._watchdog.stop()

    # the run

    def run(self) -> UploadResult:
        self.ctx.control.check()
        try:
            url = self._run()
        except _FileChanged:
            self._changed()
        state, item_id, error = self._final_head(url)
        self.log.info(
            "upload %s: done (%d bytes sent in this run%s) state %r",
            self.name,
            self.sent,
            ", restarted" if self.restarted else "",
            state,
        )
        return UploadResult(
            url=url,
            size=self.size,
            bytes_sent=self.sent,
            restarted=self.restarted,
            state=state,
            item_id=item_id,
            error=error,
        )

    def _run(self) -> str:
        st = self._stat()
        saved = self.storage.snapshot()
        if "fingerprint" in saved and (saved.get("size"), saved.get("mtime_ns")) != (
            st.st_size,
            st.st_mtime_ns,
        ):
            self._changed()
        self.size, self.mtime_ns = st.st_size, st.st_mtime_ns
        try:
            self.fp = _fingerprint(self.path, self.ctx.control.check)
        except FileNotFoundError:
            self._gone()
        if saved.get("fingerprint") not in (None, self.fp):
            self._changed()  # same size and mtime, other bytes (or another path)
        self.check_source()
        self.storage.bind(self.fp, self.size, self.mtime_ns)

        caps = self._discover()
        if caps.max_size is not None and self.size > caps.max_size:
            raise _too_large(self.size, caps.max_size)
        self.checksum = caps.checksum
        url = saved.get("url")
        if saved.get("complete") and isinstance(url, str) and url:
            return url  # every byte arrived in an earlier run
        concat = "concatenation" in caps.extensions
        ranges = self._planned_ranges()
        if ranges and not concat:
            self.log.info("upload %s: the hub no longer joins parts: one stream", self.name)
            self._terminate(self.storage.urls())
            self.storage.forget_urls()
            ranges = []
        if not ranges and not url:
            n = self._part_count(concat)
            if n > 1:
                ranges = _split(self.size, n)
        self.log.info(
            "upload %s: %d bytes to %s, %s%s",
            self.name,
            self.size,
            redact_url(self.endpoint),
            f"{len(ranges)} parts" if ranges else "one stream",
            f", checksum {self.checksum}" if self.checksum else "",
        )
        return self._upload_parts(ranges) if ranges else self._upload_single()

    def _upload_single(self) -> str:
        up = _TusUpload(
            self, start=0, end=self.size, key=self.fp, partial=False, stream=0, sizer=self._sizer()
        )
        up.upload()
        assert up.url is not None
        self.storage.mark_complete(up.url)
        return up.url

    def _upload_parts(self, ranges: list[tuple[int, int]]) -> str:
        self.storage.plan_parts(self.fp, ranges)
        parts = [
            _TusUpload(
                self,
                start=s,
                end=e,
                key=StoreUrlStorage.part_key(self.fp, s, e),
                partial=True,
                stream=i,
                sizer=self._sizer(),
            )
            for i, (s, e) in enumerate(ranges)
        ]
        failures: list[BaseException] = []
        with ThreadPoolExecutor(len(parts), thread_name_prefix="alu-upload-part") as pool:
            futures = [pool.submit(part.upload) for part in parts]
            for future in as_completed(futures):
                failure = future.exception()
                if failure is not None:
                    failures.append(failure)
                    self._abort()
        if failures:
            raise self._worst(failures)
        return self._finish_parts(parts)

    def _finish_parts(self, parts: list[_TusUpload]) -> str:
        urls = [p.url for p in parts if p.url]
        assert len(urls) == len(parts)
        if self.storage.finalizing() and not self._parts_open(parts[0]):
            raise PermanentError(LOST_TRACK)
        headers = self.tus_headers()
        headers["Upload-Concat"] = "final;" + " ".join(urls)
        if self.spec.metadata:
            headers["Upload-Metadata"] = _metadata_header(self.spec.metadata)
        self.storage.mark_finalizing()
        tries = 0
        while True:
            self.check()
            try:
                r = self.request("POST", self.endpoint, 0, headers)
                if r.status_code == 413:
                    raise _too_large(self.size, None)
                _raise_for(r, creating=True)
            except _Resume as e:
                tries += 1
                wait = e.retry_after if e.retry_after is not None else _backoff(tries)
                if tries > QUICK_RESUMES or wait > MAX_WAIT_IN_RUN:
                    raise RetryableError(e.message, retry_after=e.retry_after) from None
                if not self._parts_open(parts[0]):
                    raise PermanentError(LOST_TRACK) from None
                self.wait(wait)
                continue
            location = r.headers.get("Location")
            if not location:
                raise PermanentError("The hub did not say where the joined file is.")
            url = urljoin(self.endpoint, location)
            self.storage.mark_complete(url)
            return url

    def _parts_open(self, part: _TusUpload) -> bool:
        """Whether the hub still has the parts to join (False: it took them, or lost them)."""
        assert part.url is not None
        try:
            r = self.request("HEAD", part.url, 0, self.tus_headers())
        except _Resume:
            return True  # unknown: the next attempt will tell
        if r.status_code in (404, 410):
            return False
        return r.headers.get("Alu-Upload-State", "receiving") == "receiving"

    def _planned_ranges(self) -> list[tuple[int, int]]:
        ranges = self.storage.part_ranges()
        if not ranges:
            return []
        contiguous = ranges[0][0] == 0 and ranges[-1][1] == self.size
        contiguous = contiguous and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        if not contiguous:  # not a plan for this file: drop it
            self._terminate(self.storage.urls())
            self.storage.forget_urls()
            return []
        return ranges

    def _part_count(self, concat: bool) -> int:
        if not concat:
            return 1
        wanted = self.spec.parallel
        if wanted is None:
            big = self.size >= PARALLEL_THRESHOLD
            wanted = self.ctx.tuning.max_parallel_uploads if big else 1
        return max(1, min(wanted, self.size // MIN_PART))

    def _sizer(self) -> _ChunkSize:
        tuning = self.ctx.tuning
        start = self.spec.chunk_size or tuning.upload_chunk_size
        return _ChunkSize(start, tuning.min_upload_chunk, self.spec.chunk_size is None)

    def _discover(self) -> _Caps:
        """OPTIONS; a server that does not answer it properly is tus 1.0 core + creation."""
        plain = _Caps(frozenset({"creation"}), None, None)
        try:
            r = self.request("OPTIONS", self.endpoint, 0, self.tus_headers())
        except _Resume:
            raise RetryableError(
                "The hub could not be reached; the upload will try again."
            ) from None
        if r.status_code in (401, 403):
            _raise_for(r)
        if r.status_code in (429, 502, 503, 504):
            raise RetryableError(
                f"The hub is busy or unavailable (HTTP {r.status_code}); it will try again.",
                retry_after=_retry_after(r),
            )
        versions = {v.strip() for v in r.headers.get("Tus-Version", "").split(",") if v.strip()}
        if not r.ok or not versions:
            self.log.info("upload %s: no tus OPTIONS answer; plain tus 1.0", self.name)
            return plain
        if TUS_VERSION not in versions:
            raise PermanentError(
                "The server does not speak the upload protocol version this app uses (tus 1.0)."
            )
        extensions = frozenset(
            e.strip().lower() for e in r.headers.get("Tus-Extension", "").split(",") if e.strip()
        )
        raw_max = r.headers.get("Tus-Max-Size", "").strip()
        algorithms = {
            a.strip().lower() for a in r.headers.get("Tus-Checksum-Algorithm", "").split(",")
        }
        checksum = None
        if "checksum" in extensions:
            checksum = next((a for a in CHECKSUM_PREFERENCE if a in algorithms), None)
        return _Caps(extensions, int(raw_max) if raw_max.isdigit() else None, checksum)

    def _final_head(self, url: str) -> tuple[str, str | None, str]:
        """One HEAD after the last byte: the hub's state so far (it publishes asynchronously)."""
        try:
            r = self.request("HEAD", url, 0, self.tus_headers())
        except _Resume:
            return "", None, ""
        return _outcome(r) if r.ok else ("", None, "")

    # shared by the uploads

    def tus_headers(self) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION, **self.ctx.headers}

    def request(
        self, method: str, url: str, stream: int, headers: dict[str, str]
    ) -> requests.Response:
        """A short request (no body) on the destination's kept-alive session."""
        session = self.ctx.sessions.get(url, stream)
        try:
            return session.request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            self.log.debug("upload %s: %s failed (%s)", self.name, method, type(e).__name__)
            raise _Resume("The connection to the hub dropped.") from None

    def new_flight(self) -> _Flight:
        flight = _Flight()
        self._flights.append(flight)
        return flight

    def account(self, n: int) -> None:
        self._metered(n)
        if self._aborted.is_set():
            raise _Aborted()
        with self._sent_lock:
            self.sent += n

    def check(self) -> None:
        self.ctx.control.check()
        if self._aborted.is_set():
            raise _Aborted()

    def wait(self, seconds: float) -> None:
        """Sleep, but stop at once for a stop or a failed sibling part."""
        end = time.monotonic() + seconds
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.ctx.control.wait(min(left, 0.25)):
                raise Stopped(self.ctx.control.reason)

    def lost(self) -> None:
        with self._sent_lock:
            first = not self.restarted
            self.restarted = True
        if first:
            self.log.info("upload %s: the hub lost the upload; starting again", self.name)
            self.ctx.note(LOST_NOTE)

    def open_source(self) -> io.BufferedReader:
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            self._gone()

    def check_source(self) -> None:
        """The file is still there, unchanged (cheap: one stat per chunk)."""
        st = self._stat()
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            raise _FileChanged()

    def digest(self, pos: int, length: int) -> str:
        """Upload-Checksum's digest of a file region (a first, local read pass)."""
        assert self.checksum is not None
        h = hashlib.new(self.checksum, usedforsecurity=False)
        buf = bytearray(MAX_BLOCK)
        view = memoryview(buf)
        left = length
        with self.open_source() as f:
            f.seek(pos)
            while left > 0:
                self.check()
                n = f.readinto(view[: min(MAX_BLOCK, left)])
                if not n:
                    raise _FileChanged()
                h.update(view[:n])
                left -= n
        return base64.b64encode(h.digest()).decode("ascii")

    def terminate(self) -> None:
        """Cancel: DELETE what the server holds, and forget it."""
        self._terminate(self.storage.urls())
        self.storage.clear()

    # internals

    def _terminate(self, urls: list[str]) -> None:
        for url in urls:
            try:
                r = self.ctx.sessions.get(url, 0).delete(
                    url,
                    headers=self.tus_headers(),
                    timeout=(self.timeout[0], min(self.timeout[1], 10.0)),
                    allow_redirects=False,
                )
                self.log.info("upload %s: terminated (HTTP %d)", self.name, r.status_code)
            except requests.RequestException as e:
                self.log.info("upload %s: could not terminate (%s)", self.name, type(e).__name__)

    def _stat(self) -> os.stat_result:
        try:
            return os.stat(self.path)
        except FileNotFoundError:
            self._gone()

    def _gone(self) -> NoReturn:
        raise PermanentError(
            f"The file {self.name} is no longer there (moved or deleted); it cannot be uploaded."
        ) from None

    def _changed(self) -> NoReturn:
        self.log.info("upload %s: the file changed; dropping the upload", self.name)
        self._terminate(self.storage.urls())
        self.storage.forget_urls()
        raise PermanentError(FILE_CHANGED) from None

    def _on_stop(self) -> None:
        for flight in list(self._flights):
            flight.cut("stop")

    def _abort(self) -> None:
        self._aborted.set()
        for flight in list(self._flights):
            flight.cut("abort")

    def _worst(self, failures: list[BaseException]) -> BaseException:
        """The error a failed parallel upload reports."""
        if self.ctx.control.stopped:
            return Stopped(self.ctx.control.reason)
        for kind in (_FileChanged, PermanentError, RetryableError, Stopped):
            for failure in failures:
                if isinstance(failure, kind):
                    return failure
        real = [f for f in failures if not isinstance(f, _Aborted)]
        return real[0] if real else failures[0]


def run(spec: UploadSpec, ctx: TransferContext) -> UploadResult:
    """Upload ``spec.path`` to ``spec.endpoint``, resuming from ``ctx.checkpoint``.

    Returns when the server has every byte (``state`` etc. from one HEAD after that; use
    ``poll_outcome`` for the hub's final word). Raises ``RetryableError`` after a few in-run
    attempts (the queue backs off; the next run resumes), ``PermanentError``, or ``Stopped``
    (after a DELETE when the reason is "cancel")."""
    job = _Job(spec, ctx)
    try:
        return job.run()
    except Stopped as e:
        if e.reason == "cancel":
            job.terminate()
        raise
    finally:
        job.close()


def poll_outcome(url: str, ctx: TransferContext, timeout: float) -> tuple[str, str | None, str]:
    """HEAD ``url`` until the hub has published or failed the upload, or ``timeout`` seconds.

    Returns ``(state, item_id, error)`` from the hub's Alu-* headers (the last seen state if it
    is still processing; ``("", None, "")`` from a server that does not publish). Network errors
    are retried until the timeout; 401/403/404/410 raise ``PermanentError``."""
    deadline = time.monotonic() + timeout
    headers = {"Tus-Resumable": TUS_VERSION, **ctx.headers}
    tuning = ctx.tuning
    last: tuple[str, str | None, str] = ("", None, "")
    delay = 0.2
    while True:
        ctx.control.check()
        try:
            r = ctx.sessions.get(url, 0).head(
                url,
                headers=headers,
                timeout=(tuning.connect_timeout, min(tuning.stall_timeout, 10.0)),
                allow_redirects=False,
            )
        except requests.RequestException as e:
            ctx.log.debug("poll %s: %s", redact_url(url), type(e).__name__)
        else:
            if r.status_code in (404, 410):
                raise PermanentError("The hub no longer has this upload.")
            if r.status_code in (401, 403):
                _raise_for(r)
            if r.ok:
                if "Alu-Upload-State" not in r.headers:
                    return last
                last = _outcome(r)
                if last[0] in ("published", "failed"):
                    return last
        left = deadline - time.monotonic()
        if left <= 0:
            return last
        if ctx.control.wait(min(delay, left)):
            raise Stopped(ctx.control.reason)
        delay = min(delay * 1.5, 2.0)
