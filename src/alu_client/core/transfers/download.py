"""The download job: one rendition URL becomes one verified file, whatever the link does.

``run(spec, ctx)`` streams the file into ``<dest>.part`` and only renames it to ``dest`` once its
size and sha256 are right, so a file at ``dest`` is always whole. Member newsrooms sit behind
300 ms, lossy links that drop, stall and cut connections, so everything is built around resuming:

* **Where we stand is the checkpoint**, never the part file's size:
  ``{"v", "etag", "last_modified", "size", "segments": [[start, end_exclusive, done], ...]}``.
  ``done`` bytes of a segment count only once ``os.pwrite`` returned, and the part file is
  fsynced *after* taking the snapshot and *before* saving it, so a saved checkpoint never claims
  bytes that a crash could lose. Bytes past the checkpoint (single stream) are dropped on resume:
  after a crash they may be garbage, and without a sha256 to check nothing would notice.
* **Resume only what is the same file.** A resume sends ``Range`` with ``If-Range`` (the strong
  ETag, else Last-Modified). A ``200`` means the file changed or Range is not supported: that body
  is taken as a fresh start (no extra round trip on a 300 ms link) and the result says
  ``restarted``. ``Content-Range`` must start where we asked; anything else is refused before one
  byte is written. ``Accept-Encoding: identity`` is always sent and a compressed answer is never
  decoded (its byte offsets are not the file's): a compressed range makes us start over without
  Range; a compressed whole file is a RetryableError the first time, a PermanentError after.
* **Several streams for large files.** When the server answers a Range probe with ``206`` and a
  strong ETag and the file is at least ``tuning.segment_threshold``, N workers (one
  ``ctx.sessions`` stream each, so one TCP connection each: a loss on one connection slows only
  that one) write their ranges with ``pwrite`` into a part file pre-sized with ``truncate``. The
  probe costs no round trip: it asks for the first segment's range (for a file of unknown size,
  a bounded first piece, so a server cannot fill the link with bytes another stream will fetch)
  and worker 0 keeps its body. A worker with nothing left takes half of the largest range still
  being fetched ("work stealing"), so the tail of a download is not left to the slowest
  connection; on resume, the missing ranges are split over all streams the same way. A failing
  worker stops alone; the job raises its error once the others are done, and the next run
  fetches only what is missing.
* **Hashing.** A single stream hashes bytes as they land, in order (on resume the existing prefix
  is re-read from disk first). A segmented download hashes the whole part file once at the end.
* **Stopping.** Network I/O runs on worker threads and the calling thread only waits. Pause and
  cancel (``ctx.control``) shut down the sockets of the open responses, so a worker blocked in a
  read wakes at once; the caller stops waiting half a second after the stop even if a worker is
  still stuck in a connect, and a generation number keeps such a straggler from ever writing.
* **What is kept.** The part file survives every error except the ones that prove its data
  wrong: a checksum or size mismatch and a server sending more than the file's size. A 401/403
  keeps it (signing in again resumes), and so does a full disk.
* **Secrets.** ``ctx.headers`` (auth) go only to the URL's own origin: redirects are followed by
  hand and the headers are dropped when the scheme, host or port changes. Messages are for
  newsroom staff and never contain URLs; logs use ``redact_url``.

``ctx.progress(done, size)`` gets the absolute position after a resume (the checkpoint's bytes)
and at every fresh start or restart (0); ``ctx.meter`` then gets every block received, from
several threads at once in segmented mode (the queue's meter is thread-safe).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from .base import (
    DiskFullError,
    PermanentError,
    RetryableError,
    Stopped,
    TransferContext,
    metered,
    redact_url,
)

__all__ = ["DownloadResult", "DownloadSpec", "run"]

_T = TypeVar("_T")

# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadSpec:
    url: str
    #: final path; bytes go to dest + ".part" beside it until verified
    dest: Path
    #: expected sha256 (hex); None = no hash check (alu fetch without --sha256)
    sha256: str | None = None
    #: expected size if known
    size: int | None = None
    #: max parallel streams; None = tuning.max_segments; 1 = single stream
    segments: int | None = None


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    #: bytes received over the network in this run
    bytes_fetched: int
    #: partial data had to be discarded (changed ETag, hash mismatch, Range ignored)
    restarted: bool


def run(spec: DownloadSpec, ctx: TransferContext) -> DownloadResult:
    """Download ``spec.url`` to ``spec.dest``, resuming from ``ctx.checkpoint`` (see module doc).

    Raises ``Stopped`` (pause/cancel), ``RetryableError``, ``DiskFullError`` or
    ``PermanentError``; the checkpoint is saved before any of them leaves.
    """
    return _Job(spec, ctx).run()


# --- messages (plain words for newsroom staff; never a URL) ------------------------------------

MSG_STALLED: Final = "The connection stalled; resuming."
MSG_CUT: Final = "The connection to the server was cut; resuming."
MSG_TRUNCATED: Final = "The server closed the connection before the end of the file; resuming."
MSG_UNREACHABLE: Final = "The server could not be reached; trying again."
MSG_CONNECT_TIMEOUT: Final = "The server did not answer in time; trying again."
MSG_DAMAGED: Final = "The downloaded file was damaged (checksum mismatch); downloading it again."
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
MSG_GONE: Final = "The file is no longer on the server."
MSG_WRONG_PART: Final = "The server sent the wrong part of the file; asking again."
MSG_DISK_FULL: Final = "The disk is full; the download will continue when space is freed."

_MAX_REDIRECTS: Final = 10
_MAX_START_OVERS: Final = 3  # per run; more means the file keeps changing under us
_STOP_GRACE_S: Final = 0.5  # how long the caller waits for workers after a stop
_HASH_BLOCK: Final = 1 << 20
_MIN_READ: Final = 64 * 1024
_MAX_READ: Final = 1 << 20
_MIN_SEGMENT: Final = 1 << 20  # smaller segments cost more round trips than they save
_DRAIN_LIMIT: Final = 64 * 1024  # small error/redirect bodies are read so the connection stays
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_CHECKPOINT_VERSION: Final = 1

# --- internal signals -------------------------------------------------------------------------


class _StartOver(Exception):  # a signal, not an error
    """Partial data is useless (file changed, Range ignored, compressed): start from byte 0.

    ``resp``, when given, is a full-body answer to reuse as the new start (saves a round trip).
    """

    def __init__(
        self,
        note: str | None,
        *,
        resp: requests.Response | None = None,
        no_range: bool = False,
    ) -> None:
        super().__init__(note or "start over")
        self.note = note
        self.resp = resp
        self.no_range = no_range


class _Aborted(Exception):  # a signal, not an error
    """A worker stopped because another one failed for good; not an error of its own."""


@dataclass
class _Segment:
    start: int
    end: int | None  # exclusive; None only for a single stream of unknown size
    done: int = 0
    owner: int | None = None  # the worker fetching it
    reserved: int = 0  # absolute offset the owner is writing up to (work stealing stays clear)
    failed: bool = False  # its worker failed: left for the next run

    @property
    def pos(self) -> int:
        return self.start + self.done

    @property
    def complete(self) -> bool:
        return self.end is not None and self.pos >= self.end


@dataclass(frozen=True)
class _Body:
    """What a 200/206 answer carries: file bytes [start, end) of a file of ``total`` bytes."""

    start: int
    end: int | None
    total: int | None


# --- the job ----------------------------------------------------------------------------------


class _Job:
    def __init__(self, spec: DownloadSpec, ctx: TransferContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.tuning = ctx.tuning
        self.part = spec.dest.with_name(spec.dest.name + ".part")
        self.read_size = min(max(self.tuning.read_size, _MIN_READ), _MAX_READ)
        self.max_streams = max(1, spec.segments or self.tuning.max_segments)
        self.min_segmented = max(self.tuning.segment_threshold, 2 * _MIN_SEGMENT)
        self.probe_size = max(self.tuning.segment_threshold // self.max_streams, _MIN_SEGMENT)
        self.min_split = max(2 * self.tuning.checkpoint_every, 16 * self.read_size, _MIN_SEGMENT)
        self.account = metered(ctx)
        self.fd = -1
        self.part_existed = False
        # what we know of the file on the server
        self.etag: str | None = None  # strong ETags only
        self.last_modified: str | None = None
        self.size: int | None = None
        self.segments: list[_Segment] = []
        self.hasher: Any = None  # running sha256 of bytes [0, hashed_to) (single stream only)
        self.hashed_to = 0
        self.compressed = 0  # whole-file answers that came compressed (persisted)
        self.fetched = 0
        self.restarted = False
        self.discard_part = False  # set with a PermanentError that makes the part worthless
        # threads: `lock` guards everything below and the segments; `cond` is on it
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.save_lock = threading.Lock()
        self.io_lock = threading.Lock()  # only where os.pwrite/pread do not exist (Windows)
        self.gen = 0  # attempt number: a straggler from an older attempt may not write
        self.writes_open = False
        self.inflight = 0
        self.unsaved = 0
        self.live: set[requests.Response] = set()
        self.abort = threading.Event()  # this attempt is over (start over or a permanent error)
        self.deadline: float | None = None  # after a stop or abort: stop waiting for workers
        self.errors: list[BaseException] = []

    # -- top level ---------------------------------------------------------------------

    def run(self) -> DownloadResult:
        spec, ctx = self.spec, self.ctx
        if spec.dest.exists():
            raise PermanentError(
                f"A file named “{spec.dest.name}” is already there; choose another name."
            )
        ctx.control.check()
        try:
            spec.dest.parent.mkdir(parents=True, exist_ok=True)
            self.part_existed = self.part.exists()
            self.fd = os.open(self.part, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as e:
            raise _disk_error(e) from e
        remove = ctx.control.on_stop(self._on_stop)
        try:
            self._download()
            return self._finish()
        except BaseException:
            if self.discard_part:
                self._discard()
            raise
        finally:
            remove()
            with self.lock:
                self.writes_open = False
                live = list(self.live)
            for resp in live:
                self._close(resp)
            self._close_fd()

    def _download(self) -> None:
        resumable = self._load()
        first: requests.Response | None = None
        no_range = False
        for _ in range(_MAX_START_OVERS + 1):
            with self.lock:  # a new attempt: the abort of the previous one is over
                self.abort.clear()
                if not self.ctx.control.stopped:
                    self.deadline = None
            try:
                if resumable:
                    self._resume()
                else:
                    self._fresh(no_range, first)
                return
            except _StartOver as so:
                resumable = False
                first, no_range = so.resp, so.no_range
                self.restarted = True
                if so.note:
                    self.ctx.note(so.note)
                self.ctx.log.info(
                    "download %s: starting over (%s)", redact_url(self.spec.url), so.note or "-"
                )
        if first is not None:
            self._close(first)
        raise RetryableError(
            "The file kept changing on the server while it was downloading; trying again later."
        )

    # -- checkpoint --------------------------------------------------------------------

    def _load(self) -> bool:
        """Adopt the checkpoint if it describes the part file; False to start afresh."""
        data = self.ctx.checkpoint.load()
        compressed = data.get("compressed", 0)
        self.compressed = compressed if isinstance(compressed, int) else 0
        self.restarted = data.get("restarted") is True  # data was thrown away in an earlier run
        if not self.part_existed:
            return False
        etag, lm, size = data.get("etag"), data.get("last_modified"), data.get("size")
        raw = data.get("segments")
        if data.get("v") != _CHECKPOINT_VERSION or not isinstance(size, int) or size < 0:
            return False
        if not isinstance(raw, list) or not raw:
            return False
        if self.spec.size is not None and size != self.spec.size:
            return False
        etag = etag if isinstance(etag, str) and _is_strong(etag) else None
        lm = lm if isinstance(lm, str) and lm else None
        if etag is None and lm is None:
            return False
        segments: list[_Segment] = []
        expect = 0
        for item in raw:
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not all(isinstance(v, int) for v in item)
            ):
                return False
            start, end, done = item
            if start != expect or end <= start or not 0 <= done <= end - start:
                return False
            segments.append(_Segment(start, end, done))
            expect = end
        if expect != size:
            return False
        if len(segments) > 1 and etag is None:
            return False  # segments need a strong validator: each range is its own request
        on_disk = os.fstat(self.fd).st_size
        for seg in segments:  # never trust more than the file holds
            seg.done = max(0, min(seg.done, on_disk - seg.start))
        self.etag, self.last_modified, self.size, self.segments = etag, lm, size, segments
        return True

    def _snapshot(self) -> dict[str, Any]:
        """The checkpoint as it stands (call with the lock held)."""
        rows: list[list[int]] = []
        for seg in sorted(self.segments, key=lambda s: s.start):
            assert seg.end is not None
            if rows and rows[-1][2] == rows[-1][1] - rows[-1][0] and seg.complete:
                rows[-1][1] = seg.end  # merge complete neighbours: the list stays short
                rows[-1][2] = seg.end - rows[-1][0]
            else:
                rows.append([seg.start, seg.end, seg.done])
        data: dict[str, Any] = {
            "v": _CHECKPOINT_VERSION,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.size,
            "segments": rows,
        }
        data.update(self._carry())
        return data

    def _carry(self) -> dict[str, Any]:
        """What outlives a start over: compressed answers seen, data already thrown away."""
        carry: dict[str, Any] = {}
        if self.compressed:
            carry["compressed"] = self.compressed
        if self.restarted:
            carry["restarted"] = True
        return carry

    def _resumable(self) -> bool:
        return (
            self.size is not None
            and bool(self.segments)
            and all(s.end is not None for s in self.segments)
            and (self.etag is not None or self.last_modified is not None)
        )

    def _save(self, *, blocking: bool = True) -> None:
        """Fsync the part file, then save the progress counted before the fsync."""
        if not self.save_lock.acquire(blocking=blocking):
            return  # another thread is saving right now; a later block will save again
        try:
            with self.lock:
                if not self._resumable() or self.fd < 0:
                    return
                data = self._snapshot()
                self.unsaved = 0
            os.fsync(self.fd)
            self.ctx.checkpoint.save(data)
        finally:
            self.save_lock.release()

    def _reset_checkpoint(self) -> None:
        """Forget all progress; done before the part file is truncated, never after."""
        self.ctx.checkpoint.save(self._carry())

    # -- fresh start -------------------------------------------------------------------

    def _fresh(self, no_range: bool, first: requests.Response | None) -> None:
        """Start from byte 0; ``first`` is an answer already received to use as the body."""
        spec = self.spec
        self._forget()
        try:
            self._reset_checkpoint()
            os.ftruncate(self.fd, 0)
            self.ctx.progress(0, self.size)
        except BaseException:
            if first is not None:
                self._close(first)
            raise
        may_segment = (
            not no_range
            and self.max_streams > 1
            and (spec.size is None or spec.size >= self.min_segmented)
        )
        if first is None:
            rng: str | None = None
            if may_segment:
                # The probe is the first segment's own request: no round trip is spent on it.
                # Unknown size: a bounded first piece, so that a server which would stream the
                # whole file does not fill the link with bytes another stream will fetch.
                end = self.probe_size
                if spec.size is not None:
                    end = _plan(spec.size, self.max_streams)[0].end or end
                rng = f"bytes=0-{end - 1}"
            first = self._interruptible(lambda: self._request(0, rng, None))
            if first.status_code == 416:  # an empty file, for one: ask for it whole
                self._drain(first)
                first = self._interruptible(lambda: self._request(0, None, None))
        resp = first
        handed_over = False
        try:
            if _compressed(resp):
                if resp.request.headers.get("Range"):
                    raise _StartOver(None, no_range=True)
                self._compressed_full()
            if resp.status_code not in (200, 206):
                raise PermanentError(
                    f"The server gave an unexpected answer (HTTP {resp.status_code})."
                )
            body = _body_range(resp, 0)
            self._adopt_validators(resp)
            total = body.total
            self._check_total(total, resumed=False)
            if total is not None and total != self.size:
                self.size = total
                self.ctx.progress(0, total)
            if (
                resp.status_code == 206
                and self.etag is not None
                and may_segment
                and self.size is not None
                and self.size >= self.min_segmented
            ):
                self.segments = _plan(self.size, self.max_streams)
                os.ftruncate(self.fd, self.size)  # pre-size: every stream writes in place
                self.ctx.log.info(
                    "download %s: %d bytes in %d segments",
                    redact_url(spec.url),
                    self.size,
                    len(self.segments),
                )
                handed_over = True
                self._run_workers(self.max_streams, first=(resp, body), single=False)
                return
            if (
                resp.status_code == 206
                and body.end != self.size
                and (self.size is None or (self.etag is None and self.last_modified is None))
            ):
                # a part we cannot build on (no validator for the rest): ask for the whole file
                self._close(resp)
                handed_over = True
                whole = self._interruptible(lambda: self._request(0, None, None))
                self._fresh_single(whole, None)
                return
            handed_over = True
            self._fresh_single(resp, body)
        finally:
            if not handed_over:
                self._close(resp)

    def _forget(self) -> None:
        """Drop what we knew of the file: a fresh start learns it again."""
        self.etag = self.last_modified = None
        self.size = self.spec.size
        self.segments = []
        self.hasher, self.hashed_to = None, 0

    def _fresh_single(self, resp: requests.Response, body: _Body | None) -> None:
        """One stream from byte 0, hashing as it goes; ``body`` None: not checked yet."""
        handed_over = False
        try:
            if body is None:
                if _compressed(resp):
                    self._compressed_full()
                if resp.status_code != 200:
                    raise PermanentError(
                        f"The server gave an unexpected answer (HTTP {resp.status_code})."
                    )
                body = _body_range(resp, 0)
                self._adopt_validators(resp)
                self._check_total(body.total, resumed=False)
                if body.total is not None and body.total != self.size:
                    self.size = body.total
                    self.ctx.progress(0, body.total)
            self.segments = [_Segment(0, self.size)]
            self.hasher, self.hashed_to = hashlib.sha256(), 0
            handed_over = True
            self._run_workers(1, first=(resp, body), single=True)
        finally:
            if not handed_over:
                self._close(resp)

    def _adopt_validators(self, resp: requests.Response) -> None:
        etag = _header(resp, "ETag")
        # a weak tag cannot validate a byte range (RFC 9110 §13.1.5): Last-Modified then
        self.etag = etag if etag is not None and _is_strong(etag) else None
        self.last_modified = _header(resp, "Last-Modified")

    def _compressed_full(self) -> None:
        """A whole-file answer came compressed: let the queue ask once more, then give up."""
        self.compressed += 1
        self.ctx.checkpoint.save(self._carry())
        if self.compressed >= 2:
            raise PermanentError(MSG_COMPRESSED_AGAIN)
        raise RetryableError(MSG_COMPRESSED)

    def _check_total(self, total: int | None, *, resumed: bool) -> None:
        """The server's size against what we expect (the spec, else the checkpoint)."""
        if total is None:
            return
        expected = self.spec.size
        if expected is not None and total != expected:
            if total > expected:
                self.discard_part = True
                raise PermanentError(MSG_TOO_LONG)
            raise RetryableError(
                f"The server offers a shorter file than expected ({total} bytes instead of "
                f"{expected}); trying again later."
            )
        if resumed and self.size is not None and total != self.size:
            raise _StartOver(MSG_CHANGED)

    # -- resume ------------------------------------------------------------------------

    def _resume(self) -> None:
        assert self.size is not None
        can_segment = (
            self.etag is not None and self.max_streams > 1 and self.size >= self.min_segmented
        )
        single = len(self.segments) == 1 and not can_segment
        self.ctx.log.info(
            "download %s: resuming with %d of %d bytes",
            redact_url(self.spec.url),
            sum(s.done for s in self.segments),
            self.size,
        )
        self.ctx.progress(sum(s.done for s in self.segments), self.size)
        if all(s.complete for s in self.segments):
            return  # everything is there: verification decides
        if single:
            os.ftruncate(self.fd, self.segments[0].pos)  # past the checkpoint: maybe not durable
            self.hasher, self.hashed_to = hashlib.sha256(), 0
            self._run_workers(1, first=None, single=True)
        else:
            if os.fstat(self.fd).st_size != self.size:
                os.ftruncate(self.fd, self.size)
            # the missing ranges are spread over every stream by the workers' splitting
            self._run_workers(self.max_streams, first=None, single=False)

    # -- workers -----------------------------------------------------------------------

    def _run_workers(
        self,
        count: int,
        *,
        first: tuple[requests.Response, _Body] | None,
        single: bool,
    ) -> None:
        """Run ``count`` streams over ``self.segments``; raise the outcome once they are done."""
        with self.lock:
            self.gen += 1
            gen = self.gen
            self.writes_open = True
            self.errors = []
            pending = count
            if first is not None:
                self.segments[0].owner = 0  # the answer in hand is segment 0's
        threads: list[threading.Thread] = []

        def worker(index: int, given: tuple[requests.Response, _Body] | None) -> None:
            nonlocal pending
            try:
                self._work(index, gen, given, single)
            except BaseException as e:
                self._record(gen, e)
            finally:
                with self.cond:
                    pending -= 1
                    self.cond.notify_all()

        for i in range(count):
            t = threading.Thread(
                target=worker,
                args=(i, first if i == 0 else None),
                name=f"download-{i}",
                daemon=True,
            )
            threads.append(t)
            t.start()
        with self.cond:
            while pending:
                if self.deadline is None:
                    self.cond.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left <= 0:
                    break  # a stream stuck in a connect: it will find it may not write
                self.cond.wait(left)
            # no write from this attempt after this point; wait for the ones under way
            self.writes_open = False
            while self.inflight:
                self.cond.wait()
            errors = list(self.errors)
        for t in threads:
            if not t.is_alive():
                t.join()
        self._save()
        self._raise_outcome(errors)

    def _raise_outcome(self, errors: list[BaseException]) -> None:
        real = [e for e in errors if not isinstance(e, _Aborted)]
        for kind in (_StartOver, PermanentError):
            for e in real:
                if isinstance(e, kind):
                    raise e
        if self.ctx.control.stopped:
            raise Stopped(self.ctx.control.reason)
        if real:
            raise real[0]
        with self.lock:
            missing = any(s.end is not None and not s.complete for s in self.segments)
        if missing:  # a stream gave up waiting on a straggler: the next run fetches the rest
            raise RetryableError(MSG_CUT)

    def _record(self, gen: int, e: BaseException) -> None:
        with self.lock:
            if gen != self.gen:
                return  # a straggler of an attempt that is over
            self.errors.append(e)
        if isinstance(e, _StartOver):
            self._abort_all(keep=e.resp)  # the answer it carries is the new start
        elif isinstance(e, PermanentError):
            self._abort_all()
        elif not isinstance(e, (Stopped, _Aborted)):
            self.ctx.log.info("download %s: a stream failed: %s", redact_url(self.spec.url), e)

    def _work(
        self,
        index: int,
        gen: int,
        given: tuple[requests.Response, _Body] | None,
        single: bool,
    ) -> None:
        """One stream: fetch a segment, then another (or half of one), until none is left."""
        first: _Segment | None = self.segments[0] if given is not None else None
        try:
            while True:
                if first is not None:
                    seg: _Segment | None = first  # pre-claimed: the answer in hand is its
                    first = None
                else:
                    self._check_running(gen)
                    seg = self._take(index, gen)
                if seg is None:
                    return
                try:
                    while not seg.complete:  # an answer may end before the segment does
                        if given is not None:
                            resp, body = given
                            given = None
                        else:
                            opened = self._open_range(index, seg, single)
                            if opened is None:
                                break  # the part was already whole
                            resp, body = opened
                        before = seg.pos
                        try:
                            if single and self.hasher is not None and self.hashed_to < seg.pos:
                                self._rehash_prefix(seg.pos)
                            self._pump(resp, body, seg, gen, single)
                        finally:
                            self._close(resp)
                        if seg.pos == before and not seg.complete:
                            raise RetryableError(MSG_CUT)  # an empty answer: do not spin
                except BaseException:
                    with self.lock:
                        if gen == self.gen:  # left for the next run, not for this one
                            seg.failed = True
                    raise
                finally:
                    with self.lock:
                        if seg.owner == index:
                            seg.owner = None
        finally:
            if given is not None:  # an empty file: its answer had nothing to give
                self._close(given[0])

    def _take(self, index: int, gen: int) -> _Segment | None:
        """Claim a segment still to fetch, else split the largest one being fetched."""
        with self.lock:
            if gen != self.gen:
                return None  # a straggler of an attempt that is over
            for seg in self.segments:
                if seg.owner is None and not seg.failed and not seg.complete:
                    seg.owner = index
                    return seg
            victim: _Segment | None = None
            best = 0
            for seg in self.segments:
                if seg.owner is None or seg.failed or seg.end is None:
                    continue
                left = seg.end - max(seg.pos, seg.reserved)
                if left > best:
                    victim, best = seg, left
            if victim is None or victim.end is None or best < self.min_split:
                return None
            mid = max(victim.pos, victim.reserved) + best // 2
            stolen = _Segment(mid, victim.end, owner=index)
            victim.end = mid  # its stream stops there and drops the rest of its answer
            self.segments.insert(self.segments.index(victim) + 1, stolen)
            return stolen

    def _open_range(
        self, index: int, seg: _Segment, single: bool
    ) -> tuple[requests.Response, _Body] | None:
        """Ask for the rest of ``seg`` with If-Range; None when the part is already whole."""
        assert seg.end is not None
        rng = f"bytes={seg.pos}-" if single else f"bytes={seg.pos}-{seg.end - 1}"
        resp = self._request(index, rng, self.etag or self.last_modified)
        keep = False
        try:
            if resp.status_code == 416:
                self._drain(resp)
                total = _unsatisfied_total(resp)
                if single and total is not None and total == seg.pos:
                    with self.lock:  # the part holds the whole file: verification decides
                        seg.end = seg.pos
                        self.size = seg.pos
                    return None
                raise _StartOver(MSG_CHANGED)
            if _compressed(resp):
                raise _StartOver(None, no_range=True)
            if resp.status_code == 200:
                new_etag, new_lm = _header(resp, "ETag"), _header(resp, "Last-Modified")
                changed = (self.etag is not None and new_etag != self.etag) or (
                    self.etag is None and new_lm != self.last_modified
                )
                note = MSG_CHANGED if changed else MSG_NO_RESUME
                if single:  # this answer is the whole file: start over with it
                    keep = True
                    raise _StartOver(note, resp=resp)
                raise _StartOver(note)
            if resp.status_code != 206:
                raise PermanentError(
                    f"The server gave an unexpected answer (HTTP {resp.status_code})."
                )
            new_etag = _header(resp, "ETag")
            if self.etag is not None and new_etag is not None and new_etag != self.etag:
                raise _StartOver(MSG_CHANGED)
            body = _body_range(resp, seg.pos)  # nothing is written if it is the wrong part
            self._check_total(body.total, resumed=True)
            keep = True
            return resp, body
        finally:
            if not keep:
                self._close(resp)

    def _pump(
        self, resp: requests.Response, body: _Body, seg: _Segment, gen: int, single: bool
    ) -> None:
        """Copy the body into the part file from ``seg.pos`` until the segment or body ends."""
        raw = resp.raw
        pos = body.start
        if pos != seg.pos:  # cannot happen: every request starts at seg.pos
            raise RetryableError(MSG_WRONG_PART)
        every = self.tuning.checkpoint_every
        while True:
            self._check_running(gen)
            try:
                block: bytes = raw.read1(self.read_size, decode_content=False)
            except Exception as e:
                raise self._read_error(e) from e
            if not block:
                self._check_running(gen)  # a stop shuts the socket down: that is not the end
                break
            with self.lock:
                self.fetched += len(block)
                size, end = self.size, seg.end
            if size is not None and pos + len(block) > size:
                self.discard_part = True
                raise PermanentError(MSG_TOO_LONG)
            keep = len(block) if end is None else max(0, min(len(block), end - pos))
            if keep:
                data = block if keep == len(block) else block[:keep]
                self._write(data, pos, seg, gen)
                if single and self.hasher is not None and self.hashed_to == pos:
                    self.hasher.update(data)
                    self.hashed_to = pos + keep
                pos += keep
            self.account(len(block))
            with self.lock:
                self.unsaved += keep
                due = self.unsaved >= every
                end = seg.end
            if due:
                self._save(blocking=False)
            if end is not None and pos >= end:
                if body.end is None and end == size:
                    continue  # a body that ends at close must end here: read to its end
                return  # any rest belongs to another segment; closing drops it
        if body.end is not None and pos < body.end:
            raise RetryableError(MSG_TRUNCATED)
        if seg.end is None:  # a single stream of unknown size ends where its body ends
            with self.lock:
                seg.end = pos
                self.size = pos
        elif body.end is None and pos < seg.end:
            raise RetryableError(MSG_TRUNCATED)  # a body that ends at close, and ended early
        # else the answer was whole but the segment is longer: the caller asks for the rest

    def _write(self, data: bytes, pos: int, seg: _Segment, gen: int) -> None:
        with self.lock:
            if not self.writes_open or gen != self.gen:
                raise _Aborted()
            seg.reserved = pos + len(data)
            self.inflight += 1
        try:
            _write_at(self.fd, data, pos, self.io_lock)
        except OSError as e:
            raise _disk_error(e) from e
        finally:
            with self.cond:
                self.inflight -= 1
                self.cond.notify_all()
        with self.lock:
            seg.done += len(data)  # counted only once written

    def _rehash_prefix(self, upto: int) -> None:
        """Feed the part file's first ``upto`` bytes to the running hash (a resumed stream)."""
        while self.hashed_to < upto:
            self._check_running()
            n = min(_HASH_BLOCK, upto - self.hashed_to)
            data = _read_at(self.fd, n, self.hashed_to, self.io_lock)
            if len(data) != n:
                raise RetryableError(MSG_DAMAGED)
            self.hasher.update(data)
            self.hashed_to += n

    # -- requests ----------------------------------------------------------------------

    def _request(self, stream: int, rng: str | None, if_range: str | None) -> requests.Response:
        """GET with our headers, following redirects by hand; returns a 200/206/416 answer."""
        ctx = self.ctx
        own = {"Accept-Encoding": "identity"}
        if rng is not None:
            own["Range"] = rng
            if if_range is not None:
                own["If-Range"] = if_range
        headers = {**ctx.headers, **own}
        url = self.spec.url
        timeout = (self.tuning.connect_timeout, self.tuning.stall_timeout)
        for _ in range(_MAX_REDIRECTS + 1):
            self._check_running()
            session = ctx.sessions.get(url, stream)
            try:
                resp = session.get(
                    url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
                )
            except Exception as e:
                raise self._request_error(e) from e
            self._register(resp)
            if resp.status_code in _REDIRECTS:
                location = resp.headers.get("Location")
                self._drain(resp)
                if not location:
                    raise PermanentError(
                        "The server sent the download elsewhere without saying where."
                    )
                target = urljoin(url, location)
                if _origin(target) != _origin(url) and headers != own:
                    headers = dict(own)  # credentials stay with the origin they are for
                    ctx.log.info(
                        "download %s: redirected to %s; credentials not sent there",
                        redact_url(url),
                        redact_url(target),
                    )
                url = target
                continue
            try:
                _check_status(resp)
            except BaseException:
                self._drain(resp)
                raise
            return resp
        raise PermanentError("The server redirected the download too many times.")

    def _interruptible(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on a thread; a stop ends the wait even while it hangs in a connect."""
        box: list[tuple[bool, Any]] = []
        given_up = False

        def target() -> None:
            try:
                value = fn()
            except BaseException as e:
                outcome: tuple[bool, Any] = (False, e)
            else:
                outcome = (True, value)
            with self.cond:
                if given_up and outcome[0]:
                    late: requests.Response | None = outcome[1]
                else:
                    late = None
                    box.append(outcome)
                self.cond.notify_all()
            if late is not None:
                self._close(late)

        threading.Thread(target=target, name="download-open", daemon=True).start()
        with self.cond:
            while not box:
                if self.deadline is None:
                    self.cond.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left <= 0:
                    given_up = True
                    raise Stopped(self.ctx.control.reason or "cancel")
                self.cond.wait(left)
            ok, value = box[0]
        if ok:
            result: _T = value
            return result
        raise value

    def _register(self, resp: requests.Response) -> None:
        """Track ``resp`` so a stop can shut its socket; refuse it if a stop came first."""
        with self.lock:
            self.live.add(resp)
        try:
            self._check_running()
        except BaseException:
            self._close(resp)
            raise

    def _close(self, resp: requests.Response) -> None:
        """Release a fully read answer's connection to the pool; drop it otherwise."""
        with self.lock:
            self.live.discard(resp)
        with contextlib.suppress(Exception):
            resp.close()

    def _drain(self, resp: requests.Response) -> None:
        """Read a small body to its end so the connection is kept, then close."""
        length = _int_header(resp, "Content-Length")
        if length is not None and length <= _DRAIN_LIMIT:
            with contextlib.suppress(Exception):
                resp.raw.read(_DRAIN_LIMIT, decode_content=False)  # to the end: it is reused
        self._close(resp)

    def _check_running(self, gen: int | None = None) -> None:
        self.ctx.control.check()
        if self.abort.is_set() or (gen is not None and gen != self.gen):
            raise _Aborted()

    def _on_stop(self) -> None:
        with self.cond:
            self.deadline = time.monotonic() + _STOP_GRACE_S
            self.cond.notify_all()
        self._shutdown_live()

    def _abort_all(self, keep: requests.Response | None = None) -> None:
        with self.cond:
            self.abort.set()
            if self.deadline is None:
                self.deadline = time.monotonic() + _STOP_GRACE_S
            self.cond.notify_all()
        self._shutdown_live(keep)

    def _shutdown_live(self, keep: requests.Response | None = None) -> None:
        with self.lock:
            live = [r for r in self.live if r is not keep]
        for resp in live:  # wakes a thread blocked in a read on that socket
            with contextlib.suppress(Exception):
                resp.raw.shutdown()

    def _read_error(self, e: BaseException) -> BaseException:
        if self.ctx.control.stopped:
            return Stopped(self.ctx.control.reason)
        if self.abort.is_set():
            return _Aborted()
        if isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return RetryableError(MSG_STALLED)
        if isinstance(e, urllib3.exceptions.ProtocolError) and any(
            isinstance(a, http.client.IncompleteRead) for a in e.args
        ):
            return RetryableError(MSG_TRUNCATED)
        if isinstance(
            e, urllib3.exceptions.HTTPError | http.client.HTTPException | OSError | ValueError
        ):
            return RetryableError(MSG_CUT)
        return e

    def _request_error(self, e: BaseException) -> BaseException:
        if self.ctx.control.stopped:
            return Stopped(self.ctx.control.reason)
        if self.abort.is_set():
            return _Aborted()
        if isinstance(e, requests.exceptions.ConnectTimeout):
            return RetryableError(MSG_CONNECT_TIMEOUT)
        if isinstance(e, requests.exceptions.ReadTimeout):
            return RetryableError(MSG_STALLED)
        if isinstance(
            e,
            requests.exceptions.InvalidURL
            | requests.exceptions.InvalidSchema
            | requests.exceptions.MissingSchema,
        ):
            return PermanentError("The download address is not valid.")
        if isinstance(e, requests.exceptions.SSLError):
            return RetryableError("The secure connection to the server failed; trying again.")
        if isinstance(e, requests.exceptions.RequestException | OSError):
            return RetryableError(MSG_UNREACHABLE)
        return e

    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> DownloadResult:
        spec = self.spec
        actual = os.fstat(self.fd).st_size
        expected = spec.size if spec.size is not None else self.size
        if expected is not None and actual != expected:
            self.restarted = True
            self._discard()
            raise RetryableError(MSG_DAMAGED)
        if self.hasher is not None and self.hashed_to == actual:
            digest: str = self.hasher.hexdigest()
        else:
            digest = self._hash_file(actual)
        if spec.sha256 is not None and digest != spec.sha256.strip().lower():
            self.ctx.log.warning(
                "download %s: checksum mismatch, part discarded", redact_url(spec.url)
            )
            self.restarted = True  # the next run says so in its result
            self._discard()
            raise RetryableError(MSG_DAMAGED)
        try:
            os.fsync(self.fd)
            self._close_fd()
            if spec.dest.exists():  # the caller picks a free name; never overwrite
                raise PermanentError(
                    f"A file named “{spec.dest.name}” appeared there meanwhile; "
                    "choose another name."
                )
            os.replace(self.part, spec.dest)
            _fsync_dir(spec.dest.parent)
        except OSError as e:
            raise _disk_error(e) from e
        self.ctx.checkpoint.save({})
        self.ctx.log.info(
            "download %s: done, %d bytes (%d fetched in this run)",
            redact_url(spec.url),
            actual,
            self.fetched,
        )
        return DownloadResult(
            path=spec.dest,
            size=actual,
            sha256=digest,
            bytes_fetched=self.fetched,
            restarted=self.restarted,
        )

    def _hash_file(self, size: int) -> str:
        h = hashlib.sha256()
        pos = 0
        while pos < size:
            self.ctx.control.check()
            data = _read_at(self.fd, min(_HASH_BLOCK, size - pos), pos, self.io_lock)
            if not data:
                break
            h.update(data)
            pos += len(data)
        return h.hexdigest()

    def _discard(self) -> None:
        """Throw the part file and its progress away (bad data is never kept)."""
        with contextlib.suppress(Exception):
            self._reset_checkpoint()
        self._close_fd()
        with contextlib.suppress(FileNotFoundError):
            self.part.unlink()

    def _close_fd(self) -> None:
        with self.lock:
            fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


# --- helpers ----------------------------------------------------------------------------------


def _plan(size: int, streams: int) -> list[_Segment]:
    n = max(1, min(streams, size // _MIN_SEGMENT))
    step = size // n
    bounds = [i * step for i in range(n)] + [size]
    return [_Segment(bounds[i], bounds[i + 1]) for i in range(n)]


def _is_strong(etag: str) -> bool:
    return etag.startswith('"') and etag.endswith('"') and len(etag) >= 2


def _header(resp: requests.Response, name: str) -> str | None:
    value = resp.headers.get(name)
    return value.strip() if value else None


def _compressed(resp: requests.Response) -> bool:
    coding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
    return coding not in ("", "identity")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _int_header(resp: requests.Response, name: str) -> int | None:
    value = resp.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _body_range(resp: requests.Response, requested_start: int) -> _Body:
    """Which file bytes the body holds; checks Content-Range against what we asked."""
    length = _int_header(resp, "Content-Length")
    if resp.status_code == 200:
        if requested_start != 0:
            raise RetryableError(MSG_WRONG_PART)
        return _Body(0, length, length)
    value = (resp.headers.get("Content-Range") or "").strip()
    unit, _, rest = value.partition(" ")
    span, _, total_text = rest.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit() or not last.isdigit():
        raise RetryableError(MSG_WRONG_PART)
    start, end = int(first), int(last) + 1
    total = int(total_text) if total_text.isdigit() else None
    if start != requested_start or end <= start or (total is not None and end > total):
        raise RetryableError(MSG_WRONG_PART)
    if length is not None and length != end - start:
        raise RetryableError(MSG_WRONG_PART)
    return _Body(start, end, total)


def _unsatisfied_total(resp: requests.Response) -> int | None:
    value = (resp.headers.get("Content-Range") or "").strip()
    _, _, total = value.partition("/")
    return int(total) if total.isdigit() else None


def _retry_after(resp: requests.Response) -> float | None:
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _check_status(resp: requests.Response) -> None:
    code = resp.status_code
    if code in (200, 206, 416):
        return
    if code in (401, 403):
        raise PermanentError(
            f"The server refused access (HTTP {code}). Sign in again, or ask the agency "
            "whether your newsroom may download this item."
        )
    if code in (404, 410):
        raise PermanentError(MSG_GONE)
    later = _retry_after(resp)
    if code == 429:
        raise RetryableError(
            "The server is busy (HTTP 429); the download will try again shortly.",
            retry_after=later,
        )
    if code in (408, 423) or 500 <= code <= 599:
        raise RetryableError(
            f"The server could not send the file just now (HTTP {code}); trying again.",
            retry_after=later,
        )
    raise PermanentError(f"The server gave an unexpected answer (HTTP {code}).")


def _disk_error(e: OSError) -> BaseException:
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DiskFullError(MSG_DISK_FULL)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermanentError(
            f"The download folder cannot be written to ({e.strerror or 'access denied'})."
        )
    return RetryableError(
        f"The file could not be written to the disk ({e.strerror or e}); trying again."
    )


def _write_at(fd: int, data: bytes, pos: int, io_lock: threading.Lock) -> None:
    view = memoryview(data)
    if hasattr(os, "pwrite"):
        while view:
            n = os.pwrite(fd, view, pos)
            view, pos = view[n:], pos + n
        return
    with io_lock:  # Windows: no pwrite; seek and write under one lock
        os.lseek(fd, pos, os.SEEK_SET)
        while view:
            n = os.write(fd, view)
            view = view[n:]


def _read_at(fd: int, n: int, pos: int, io_lock: threading.Lock) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, pos)
    with io_lock:
        os.lseek(fd, pos, os.SEEK_SET)
        return os.read(fd, n)


def _fsync_dir(path: Path) -> None:
    """Make the rename durable (POSIX); Windows has no directory handles to fsync."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
