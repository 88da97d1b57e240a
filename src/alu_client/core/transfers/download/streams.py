"""The streams: workers that fetch the segments (one for a single stream, several for a large
file), steal work from each other, and write and hash what arrives."""

from __future__ import annotations

import threading
import time

import requests

from ..base import PermanentError, RetryableError, Stopped, redact_url
from .fronthash import _FrontHashJob
from .partfile import _read_at, _Segment
from .protocol import (
    _HASH_BLOCK,
    MSG_CHANGED,
    MSG_CUT,
    MSG_DAMAGED,
    MSG_NO_RESUME,
    MSG_TOO_LONG,
    MSG_TRUNCATED,
    MSG_WRONG_PART,
    _Aborted,
    _Body,
    _body_range,
    _compressed,
    _disk_error,
    _header,
    _StartOver,
    _unsatisfied_total,
)


class _StreamJob(_FrontHashJob):
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
        hashing = None if single else self._start_front_hasher(gen)

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
        if hashing is not None:
            self._stop_front_hasher(hashing)
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
                keep = self._write(data, pos, seg, gen)
                if single and self.hasher is not None and self.hashed_to == pos:
                    self.hasher.update(data if keep == len(data) else data[:keep])
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

    def _write(self, data: bytes, pos: int, seg: _Segment, gen: int) -> int:
        """Write ``data`` at ``pos`` for ``seg``; returns how many bytes were its to write."""
        with self.lock:
            if not self.writes_open or gen != self.gen:
                raise _Aborted()
            if seg.end is not None and pos + len(data) > seg.end:
                # a steal moved the end while this block was read: the rest is another's
                data = data[: max(0, seg.end - pos)]
                if not data:
                    return 0
            seg.reserved = pos + len(data)
            self.inflight += 1
        written = False
        try:
            self.write_at(self.fd, data, pos, self.io_lock)
            written = True
        except OSError as e:
            raise _disk_error(e) from e
        finally:
            with self.cond:
                self.inflight -= 1
                if written:
                    seg.done += len(data)  # counted only once written
                self.cond.notify_all()  # wakes the front hasher too
        return len(data)

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
