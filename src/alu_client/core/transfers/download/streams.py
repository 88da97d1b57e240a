"""The streams: workers that fetch the segments (one for a single stream, several for a large
file), steal work from each other, and write and hash what arrives."""

from __future__ import annotations

import contextlib
import threading
import time

import requests

from ..base import DiskFullError, PermanentError, RetryableError, Stopped, redact_url
from .decode import DECODABLE
from .fronthash import _FrontHashJob
from .partfile import _read_at, _Segment
from .protocol import (
    _HASH_BLOCK,
    _LIMITED_READ_S,
    _MAX_TAGS,
    _MIN_LIMITED_READ,
    _STOP_GRACE_S,
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
    _coded_range_fits,
    _coding,
    _disk_error,
    _header,
    _int_header,
    _StartOver,
    _unsatisfied_total,
    unexpected_answer,
)
from .room import disk_full

_MIN_DOUBLE_S = 0.25  # the end game doubles only ranges that need longer than this
_ENDGAME_POLL_S = 0.1  # a stream with nothing to do looks again this often (and at writes)


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
            self.served, self.refused = set(), set()
            self.no_split = False
            pending = count
            if first is not None:
                self.segments[0].owner = 0  # the answer in hand is segment 0's
                self.served.add(0)
        threads: list[threading.Thread] = []
        hashing = None if single else self._start_front_hasher(gen)

        def save_failed(e: BaseException) -> None:
            self._record(gen, e)
            with self.lock:
                current = gen == self.gen
            if current:
                self._abort_all()

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

        saving = self._start_saver(save_failed)
        try:
            for i in range(count):
                t = threading.Thread(
                    target=worker,
                    args=(i, first if i == 0 else None),
                    name=f"download-{i}",
                    daemon=True,
                )
                threads.append(t)
                t.start()
            all_in = False
            with self.cond:
                while pending:
                    if (
                        self.deadline is None
                        and not single
                        and all(s.complete for s in self.segments)
                    ):
                        # every byte is in: a stream still waiting for an answer's headers (a
                        # range the end game doubled) held the finished download for the 30 s
                        # stall timeout; it finds it may not write
                        self.deadline = time.monotonic() + _STOP_GRACE_S
                        all_in = True
                    if self.deadline is None:
                        self.cond.wait()
                        continue
                    left = self.deadline - time.monotonic()
                    if left <= 0:
                        break  # a stream stuck in a connect: it will find it may not write
                    self.cond.wait(left)
                if all_in and not self.abort.is_set() and not self.ctx.control.stopped:
                    self.deadline = None  # (that wait was this one's, not a stop's)
                # no write from this attempt after this point; wait for the ones under way
                self.writes_open = False
                while self.inflight:
                    self.cond.wait()
        finally:
            self._stop_saver(saving)  # (outside the lock: a save under way takes it)
        with self.lock:
            errors = list(self.errors)  # with the saver's, if its last save failed
        if hashing is not None:
            self._stop_front_hasher(hashing)
        for t in threads:
            if not t.is_alive():
                t.join()
        self._fewer_streams(count)
        self._save()
        self._raise_outcome(errors)

    def _fewer_streams(self, count: int) -> None:
        """A server that told some of ``count`` streams "not now" (429, 503) while it served
        others limits connections: this transfer asks for no more than it served, from the
        next attempt on (kept in the checkpoint), instead of opening ``count`` again and
        waiting out its Retry-After at every attempt."""
        with self.lock:
            working = self.served - self.refused
            if not self.refused or not working or len(working) >= count:
                return  # refused all (busy, not a limit) or none: no limit learnt
            self._cap_streams(len(working))
            cap = self.max_streams
        self.ctx.log.info(
            "download %s: the server refused %d of %d streams; at most %d from now on",
            redact_url(self.spec.url),
            len(self.refused),
            count,
            cap,
        )

    def _raise_outcome(self, errors: list[BaseException]) -> None:
        real = [e for e in errors if not isinstance(e, _Aborted)]
        for kind in (_StartOver, PermanentError):
            for e in real:
                if isinstance(e, kind):
                    raise e
        if self.ctx.control.stopped:
            raise Stopped(self.ctx.control.reason)
        with self.lock:
            missing = any(s.end is not None and not s.complete for s in self.segments)
            unfinished = any(not s.complete for s in self.segments)  # (or of unknown end)
        if real and (unfinished or not all(isinstance(e, RetryableError) for e in real)):
            raise real[0]
        # (a stream that failed left its range to the others: if they fetched it, all is well)
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
                        with self.lock:  # its speed is judged from here (end game)
                            self.began[index] = (time.monotonic(), seg.pos)
                        if given is not None:
                            resp, body = given
                            given = None
                        else:
                            opened = self._open_range(index, seg, single)
                            if opened is None:
                                break  # the part was already whole
                            resp, body = opened
                        with self.lock:
                            self.answers[index] = resp
                        before = seg.pos
                        try:
                            if single and self.hasher is not None and self.hashed_to < seg.pos:
                                self._rehash_prefix(seg.pos)
                            self._pump(resp, body, seg, gen, single, index)
                        finally:
                            with self.lock:
                                self.answers.pop(index, None)
                            self._close(resp)
                        if seg.pos == before and not seg.complete:
                            raise RetryableError(MSG_CUT)  # an empty answer: do not spin
                except BaseException as e:
                    with self.lock:
                        if gen != self.gen:
                            raise
                        if isinstance(e, RetryableError) and (
                            seg.complete or self._other(seg, index) is not None
                        ):
                            # end game: the other stream on this range finishes it (or has)
                            self.ctx.log.debug(
                                "download: stream %d left to its double: %s", index, e
                            )
                            return
                        refused = isinstance(e, RetryableError) and index in self.refused
                        if not seg.complete and not refused:
                            seg.failed = True  # left for the next run, not for this one
                        # else its rest is left to the streams still going (this one stops):
                        # a server that told it "not now" while it serves them (see _BUSY)
                    raise
                finally:
                    with self.cond:
                        if seg.owner == index:  # the double, if any, carries on alone
                            seg.owner, seg.dup = seg.dup, None
                        elif seg.dup == index:
                            seg.dup = None
                        self.cond.notify_all()  # a free stream may take what is left
        finally:
            if given is not None:  # an empty file: its answer had nothing to give
                self._close(given[0])

    def _take(self, index: int, gen: int) -> _Segment | None:
        """Claim a segment still to fetch, else split the largest one being fetched, else (end
        game) wait until one that another stream is on is worth fetching a second time."""
        with self.cond:
            while True:
                if gen != self.gen or not self.writes_open or self.abort.is_set():
                    return None  # a straggler of an attempt that is over
                if self.ctx.control.stopped:
                    return None
                seg = self._claim(index)
                if seg is not None:
                    return seg
                if self.tuning.endgame <= 0 or not any(
                    s.owner is not None and s.dup is None and not s.complete and not s.failed
                    for s in self.segments
                ):
                    return None  # nothing that a second stream could ever help with
                self.cond.wait(_ENDGAME_POLL_S)  # writes wake it too

    def _claim(self, index: int) -> _Segment | None:
        """A segment nobody fetches, else the back half of the largest range being fetched,
        else a range to double (lock held)."""
        for seg in self.segments:
            if seg.owner is None and not seg.failed and not seg.complete:
                seg.owner = index
                return seg
        if self.no_split:
            return None  # a split or a double would read the file's start once more
        victim: _Segment | None = None
        best = 0
        for seg in self.segments:
            if seg.owner is None or seg.failed or seg.end is None or seg.dup is not None:
                continue
            left = seg.end - max(seg.pos, seg.reserved)
            if left > best:
                victim, best = seg, left
        if victim is None or victim.end is None or best < self.min_split:
            return self._double(index)
        mid = max(victim.pos, victim.reserved) + best // 2
        stolen = _Segment(mid, victim.end, owner=index)
        victim.end = mid  # its stream stops there and drops the rest of its answer
        self.segments.insert(self.segments.index(victim) + 1, stolen)
        return stolen

    def _double(self, index: int) -> _Segment | None:
        """End game (lock held): fetch the rest of the range with the most bytes left that one
        other stream is still on, if that rest is small; whichever answer brings a byte first
        writes it (``_write``) and the slower one is dropped (``_pump``)."""
        best: _Segment | None = None
        most = 0
        for seg in self.segments:
            if seg.owner is None or seg.dup is not None or seg.failed or seg.end is None:
                continue
            left = seg.end - seg.pos
            if most < left <= self.tuning.endgame and self._worth_doubling(seg, left):
                best, most = seg, left
        if best is not None:
            best.dup = index
            self.ctx.log.debug(
                "download: stream %d doubles stream %d on its last %d bytes",
                index,
                best.owner,
                most,
            )
        return best

    def _worth_doubling(self, seg: _Segment, left: int) -> bool:
        """Would its stream need more than two round trips (and ``_MIN_DOUBLE_S``) for
        ``left`` bytes at the speed it has had since it asked (lock held)? Less, and a second
        answer would come too late to help."""
        began = self.began.get(seg.owner) if seg.owner is not None else None
        if began is None:
            return False
        t0, p0 = began
        elapsed, moved = time.monotonic() - t0, seg.pos - p0
        worth = max(2 * (self.rtt or 0.0), _MIN_DOUBLE_S)
        if moved <= 0:
            return elapsed > worth  # nothing landed yet: a stalled or very slow answer
        return left * elapsed / moved > worth

    def _other(self, seg: _Segment, index: int) -> int | None:
        """The other stream on ``seg`` in the end game, if any (lock held)."""
        if seg.owner == index:
            return seg.dup
        return seg.owner if seg.dup == index else None

    def _same_file_elsewhere(self, resp: requests.Response) -> bool:
        """``resp`` has another ETag than ours for the same file: a tag this file had before
        (``tags_seen``), with the same Last-Modified and size, come back. A CDN's or a
        cluster's nodes each tag the file their own way: a download cut every few MB, each
        resume reaching another node, started over for ever (17x the file in two minutes).
        Resumes go on Last-Modified from then on (``etag_unreliable``, persisted). A tag not
        seen before may be a new file of the same size and date: it starts over, as always.

        Only when the file's sha256 is known: nodes half-way through taking a new version of
        the same size and date serve two files under tags that come back too, and a resume on
        the date alone would splice them; the sha256 catches that (fetched again), where
        nothing would without it (`alu fetch` with no --sha256 starts over, backing off)."""
        if self.spec.sha256 is None:
            return False
        new_lm, new_tag = _header(resp, "Last-Modified"), _header(resp, "ETag")
        if resp.status_code == 206:
            total = _unsatisfied_total(resp)  # (the "/size" of any Content-Range)
        else:
            total = None if _coding(resp) else _int_header(resp, "Content-Length")
        with self.lock:
            if (
                new_lm is None
                or new_lm != self.last_modified
                or total is None
                or total != self.size
                or self.coding
            ):
                self.tags_seen.clear()
                return False
            if new_tag is None or new_tag not in self.tags_seen:
                if self.etag is not None and self.etag not in self.tags_seen:
                    self.tags_seen = [*self.tags_seen, self.etag][-_MAX_TAGS:]
                return False
            self.etag_unreliable = True
            self.etag = None
        return True

    def _open_range(
        self, index: int, seg: _Segment, single: bool
    ) -> tuple[requests.Response, _Body] | None:
        """Ask for the rest of ``seg`` with If-Range; None when the part is already whole."""
        assert seg.end is not None
        with self.lock:  # a double asks from the written front: it may gain on the other
            start = seg.pos
            if start >= seg.end:
                return None  # the other stream on it wrote its end meanwhile (end game)
        rng = f"bytes={start}-" if single else f"bytes={start}-{seg.end - 1}"
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
            coding = _coding(resp)
            if (DECODABLE.get(coding, coding) if coding else None) != self.coding:
                if self.coding is None:  # compressed now: ask for it whole (see _adopt_coding)
                    raise _StartOver(None, no_range=True)
                raise _StartOver(MSG_CHANGED)  # the server no longer sends the coded bytes
            if coding and resp.status_code == 206 and not _coded_range_fits(resp):
                raise _StartOver(MSG_NO_RESUME, no_range=True)
            if resp.status_code == 200:
                new_etag, new_lm = _header(resp, "ETag"), _header(resp, "Last-Modified")
                changed = (self.etag is not None and new_etag != self.etag) or (
                    self.etag is None and new_lm != self.last_modified
                )
                if changed and self.etag is not None and self._same_file_elsewhere(resp):
                    changed = False  # another node's tag: resumes go on Last-Modified now
                note = MSG_CHANGED if changed else MSG_NO_RESUME
                if single:  # this answer is the whole file: start over with it
                    keep = True
                    raise _StartOver(note, resp=resp)
                # one of several ranges answered whole: a server that honours only some ranges,
                # or replicas behind a balancer each with its own ETag (each stream is its own
                # connection): segments would start over for ever; one stream, from now on
                with self.lock:
                    self.one_stream = True
                raise _StartOver(note, no_range=True)
            if resp.status_code != 206:
                raise unexpected_answer(resp.status_code)
            new_etag = _header(resp, "ETag")
            if (
                self.etag is not None
                and new_etag is not None
                and new_etag != self.etag
                and not (single and self._same_file_elsewhere(resp))  # (if so: used as it is)
            ):
                if not single:
                    # as for a 200 above, when the server ignores If-Range (S3-compatible
                    # stores do): replicas that tag the same bytes each their own way would
                    # start the segments over for ever; one stream, from now on
                    same = self._same_file_elsewhere(resp)
                    with self.lock:
                        self.one_stream = True
                    raise _StartOver(MSG_NO_RESUME if same else MSG_CHANGED, no_range=True)
                raise _StartOver(MSG_CHANGED)
            new_lm = _header(resp, "Last-Modified")
            if self.etag is None and new_lm is not None and new_lm != self.last_modified:
                # resumed on Last-Modified alone, and a server that ignored If-Range (some
                # S3-compatible stores) sent a range of a newer file: never spliced on
                raise _StartOver(MSG_CHANGED)
            body = _body_range(resp, start)  # nothing is written if it is the wrong part
            self._check_total(body.total, resumed=True)
            if not single and start - body.start >= max(
                self.min_split, (self.size or 0) // self.max_streams
            ):
                # a range answered from (near) the file's start, a segment's length or more
                # before the bytes asked for (block-aligned stores stay well within): every
                # stream would read the file's start again, 2.5x the file for four. One
                # stream from now on, from byte 0: the file read once
                with self.lock:
                    self.one_stream = True
                raise _StartOver(MSG_NO_RESUME if self.resuming else None, no_range=True)
            keep = True
            with self.lock:
                self.served.add(index)
                if start - body.start > self.min_split:
                    self.no_split = True
            return resp, body
        finally:
            if not keep:
                self._close(resp)

    def _read_size(self) -> int:
        """``read_size``, or under a bandwidth limit (as it is now: the schedule and the user
        change it) what the limit lets through in ``_LIMITED_READ_S``: the meter paces what
        was read, but the link carries each read at its own rate, and the kernel's buffer
        takes a read's worth of it at once."""
        limit = self.ctx.limit()
        if limit is None or not limit > 0:
            return self.read_size
        return max(_MIN_LIMITED_READ, min(self.read_size, int(limit * _LIMITED_READ_S)))

    def _pump(
        self,
        resp: requests.Response,
        body: _Body,
        seg: _Segment,
        gen: int,
        single: bool,
        index: int,
    ) -> None:
        """Copy the body into the part file from ``seg.pos`` until the segment or body ends
        (or, in the end game, until the other stream on it has written its end)."""
        raw = resp.raw
        pos = body.start
        with self.lock:
            if pos > seg.pos:  # cannot happen: every request starts at or before seg.pos
                raise RetryableError(MSG_WRONG_PART)
        every, every_s = self.tuning.checkpoint_every, self.tuning.checkpoint_every_s
        while True:
            self._check_running(gen)
            try:
                block: bytes = raw.read1(self._read_size(), decode_content=False)
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
            written = 0
            if keep:
                data = block if keep == len(block) else block[:keep]
                keep, written = self._write(data, pos, seg, gen, index)
                if single and self.hasher is not None and self.hashed_to == pos:
                    self.hasher.update(data if keep == len(data) else data[:keep])
                    self.hashed_to = pos + keep
                pos += keep
            self.account(written)  # bytes of the file, once: not a double's or a clipped rest
            # the rest was read all the same: a bandwidth limit is for what the link carries
            # (a server answering every range from byte 0 would fill it), progress it is not
            self.ctx.throttle(len(block) - written)
            with self.lock:
                self.unsaved += written
                due = self.unsaved >= every or (
                    self.unsaved > 0 and time.monotonic() - self.saved_at >= every_s
                )
                end = seg.end
                doubled_done = seg.complete and pos < seg.pos
            if due:
                self.save_due.set()  # (the saver's fsync waits for the disk, not this stream)
            if doubled_done:
                return  # the other stream on this range wrote its end: drop this answer
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
                self.size_from_body = True
        elif body.end is None and pos < seg.end:
            raise RetryableError(MSG_TRUNCATED)  # a body that ends at close, and ended early
        # else the answer was whole but the segment is longer: the caller asks for the rest

    def _write(self, data: bytes, pos: int, seg: _Segment, gen: int, index: int) -> tuple[int, int]:
        """Write ``data`` at ``pos`` for ``seg``: (bytes of ``data`` used up, bytes written).

        The writes of one segment go one at a time and only ever extend its written front
        (``seg.pos``), so ``done`` stays an unbroken prefix even with two streams on it (end
        game): bytes the other stream wrote already are skipped, never written twice."""
        with self.cond:
            while seg.writing and self.writes_open and gen == self.gen:
                self.cond.wait()
            if not self.writes_open or gen != self.gen:
                raise _Aborted()
            front = seg.pos
            if pos > front:  # cannot happen: a stream never gets ahead of the written front
                raise RetryableError(MSG_WRONG_PART)
            skip = min(front - pos, len(data))
            data = data[skip:]
            if seg.end is not None and front + len(data) > seg.end:
                # a steal moved the end while this block was read: the rest is another's
                data = data[: max(0, seg.end - front)]
            if not data:
                return skip, 0
            seg.reserved = front + len(data)
            seg.writing = True
            self.inflight += 1
        written = False
        loser: requests.Response | None = None
        try:
            self.write_at(self.fd, data, front, self.io_lock)
            written = True
        except OSError as e:
            raise self._write_failed(e) from e
        finally:
            with self.cond:
                self.inflight -= 1
                seg.writing = False
                if written:
                    seg.done += len(data)  # counted only once written
                    other = self._other(seg, index)
                    if seg.complete and other is not None:
                        loser = self.answers.get(other)  # the slower of two: stop its read
                self.cond.notify_all()  # wakes the front hasher and a waiting writer
        if loser is not None:
            with contextlib.suppress(Exception):
                loser.raw.shutdown()
        return skip + len(data), len(data)

    def _write_failed(self, e: OSError) -> BaseException:
        """What a write to the part file that failed with ``e`` says: a full disk, how much
        more room the file needs, or that the whole disk is too small for it (the part file
        then goes: it only fills the disk)."""
        error = _disk_error(e)
        if not isinstance(error, DiskFullError):
            return error
        with self.cond:
            written = sum(s.done for s in self.segments)
        said = disk_full(self.spec.dest.name, self.size, written, self.spec.dest.parent)
        if isinstance(said, PermanentError):
            self.discard_part = True
        return said

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
        expected = self.spec.size if self.coding is None else None  # coded: their own size
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
