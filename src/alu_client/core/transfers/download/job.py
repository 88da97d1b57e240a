"""The download job: the run and its start-overs, a fresh start (one stream or segments, from
the first answer), and a resume from the checkpoint."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
from pathlib import Path

import requests

from ...http import valid_address
from ...safe_names import MIN_STEM, name_room, path_units, windows_path_limit
from ..base import PermanentError, RetryableError, redact_url
from .decode import DECODABLE
from .partfile import _plan, _Segment, drop_decoded, part_is_ours
from .protocol import (
    _MAX_START_OVERS,
    MSG_BAD_ADDRESS,
    MSG_CHANGED,
    MSG_COMPRESSED,
    MSG_COMPRESSED_AGAIN,
    MSG_FOLDER_TOO_LONG,
    MSG_PART_BUSY,
    MSG_PART_NOT_OURS,
    MSG_PATH_TOO_LONG,
    _Body,
    _body_range,
    _coded_range_fits,
    _coding,
    _disk_error,
    _header,
    _is_strong,
    _StartOver,
    unexpected_answer,
)
from .room import larger_than_disk
from .spec import DownloadResult
from .streams import _StreamJob
from .verify import _VerifyJob

log = logging.getLogger(__name__)


#: the devices whose file systems were found unable to lock files (said once each)
_NO_LOCKS_SAID: set[int] = set()


def _hold(fd: int, folder: Path | None = None) -> bool:
    """Hold the part file for this run (an advisory lock, released when it is closed); False
    when another run holds it. Two downloads from two data folders to one name both took an
    empty part file for their own and wrote into it together: a file of both, at its name,
    said checked (without a sha256). POSIX only: on Windows a byte-range lock would also
    refuse this run's own reads by other handles.

    A download ``folder`` whose file system cannot lock files (NFSv3 ``nolock``, some NAS
    shares) is a fair place for downloads: the run goes on without the lock, and the log says
    so once per file system."""
    if sys.platform == "win32":
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:  # (ENOLCK, EOPNOTSUPP: no locks there; any other: as before)
        try:
            device = os.fstat(fd).st_dev
        except OSError:
            device = -1
        if device not in _NO_LOCKS_SAID:
            _NO_LOCKS_SAID.add(device)
            log.warning(
                "the download folder %s cannot lock files (%s): its downloads go on without "
                "the lock that keeps two workstations from writing one .part file",
                folder if folder is not None else "(unknown)",
                e.strerror or e,
            )
        return True
    return True


_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a link put where the part goes is not followed


class _Job(_StreamJob, _VerifyJob):
    # -- top level ---------------------------------------------------------------------

    def run(self) -> DownloadResult:
        spec, ctx = self.spec, self.ctx
        if not valid_address(spec.url):  # (a port that is no port, a backslash in the host)
            raise PermanentError(MSG_BAD_ADDRESS)
        self._check_path_length()
        if os.path.lexists(spec.dest):  # (False for a name too long: os.open then says so)
            raise PermanentError(
                f"A file named “{spec.dest.name}” is already there; choose another name."
            )
        ctx.control.check()
        try:
            spec.dest.parent.mkdir(parents=True, exist_ok=True)
            self.part_existed = os.path.lexists(self.part)
            if self.part_existed and self._part_busy():
                raise RetryableError(MSG_PART_BUSY.format(name=self.part.name))
            if self.part_existed and not part_is_ours(self.part, ctx.checkpoint.load()):
                raise PermanentError(MSG_PART_NOT_OURS.format(name=self.part.name))
            # a decoded copy a stopped run left (see decode.py): whatever this run does, it
            # decodes afresh if it must
            drop_decoded(spec.dest, ctx.checkpoint.load())
            flags = os.O_RDWR | os.O_CREAT | _O_BINARY | _O_NOFOLLOW
            if not self.part_existed:
                flags |= os.O_EXCL  # made now, by this download: never someone else's
            self.fd = os.open(self.part, flags, 0o644)
            if not _hold(self.fd, spec.dest.parent):
                os.close(self.fd)
                self.fd = -1
                raise RetryableError(MSG_PART_BUSY.format(name=self.part.name))
            st = os.fstat(self.fd)
            self.part_id = [st.st_dev, st.st_ino]
            checkpoint = ctx.checkpoint.load()
            if checkpoint.get("part") != self.part_id:
                # named at once: a crash now still finds it ours (made now, or known by its
                # bytes under another device or inode number: its drive came back as another)
                ctx.checkpoint.save({**checkpoint, "part": self.part_id})
        except FileExistsError as e:
            if e.filename is not None and os.fsdecode(e.filename) == os.fsdecode(self.part):
                # another download made it between our look and our O_EXCL: its, not ours
                raise RetryableError(MSG_PART_BUSY.format(name=self.part.name)) from e
            raise _disk_error(e) from e
        except OSError as e:
            raise _disk_error(e) from e
        remove = ctx.control.on_stop(self._on_stop)
        try:
            self._check_fits(spec.size)  # (the item's size: before a byte is asked for)
            self._download()
            return self._finish()
        except BaseException as e:
            if self.discard_part or (
                isinstance(e, PermanentError) and not self.part_existed and self.fetched == 0
            ):
                # (refused for good before a byte came: a 401, 403 or 404 left an empty
                # "NAME.part" in the folder, which no retry would use)
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

    def _part_busy(self) -> bool:
        """Whether another download holds the part file there now (its lock, see ``_hold``):
        asked before whose the file is, so that a download running from another data folder
        is waited for, not said to be a file to move away. False when it cannot be told (not
        a regular file, not ours to open): the checks that follow say what is wrong."""
        flags = os.O_RDWR | _O_BINARY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.part, flags)  # (O_NONBLOCK: a FIFO put there does not hang)
        except OSError:
            return False
        try:
            return stat.S_ISREG(os.fstat(fd).st_mode) and not _hold(fd, self.spec.dest.parent)
        except OSError:
            return False
        finally:
            os.close(fd)  # (and with it the lock this look took)

    def _check_fits(self, size: int | None) -> None:
        """A file of ``size`` bytes that the whole disk holding the folder could not hold
        fails at once, for good, and its part file goes (it would only fill the disk)."""
        error = larger_than_disk(self.spec.dest.name, size, self.spec.dest.parent)
        if error is not None:
            self.discard_part = True
            raise error

    def _check_path_length(self) -> None:
        """Windows without long paths opens no path past MAX_PATH, and says ERROR_PATH_NOT_FOUND
        (read as "no such file", retried for ever): said at once, for good."""
        limit = windows_path_limit()
        if limit is None:
            return
        part = Path(os.path.abspath(self.part))
        if path_units(part) <= limit:
            return
        if name_room(part.parent, limit) < MIN_STEM + len(self.spec.dest.suffix):
            raise PermanentError(MSG_FOLDER_TOO_LONG)
        raise PermanentError(MSG_PATH_TOO_LONG)

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
                with self.lock:
                    if so.one_stream:
                        self.one_stream = True
                    if so.note == MSG_CHANGED and self.etag_unreliable:
                        # a new file (another date or size): its tags are trusted again
                        self.etag_unreliable = False
                        self.tags_seen = []
                # the bytes so far are thrown away: until the transfer is past them again, its
                # attempts move nothing on and the queue's back-off grows (each run started
                # over once, then was cut: ~1 s apart for ever, the file pulled 17x in 2 min)
                self.ctx.lost()
                if so.note:
                    self.ctx.note(so.note)
                self.ctx.log.info(
                    "download %s: starting over (%s)", redact_url(self.spec.url), so.note or "-"
                )
        if first is not None:
            self._close(first)
        raise RetryableError(
            "The file kept changing on the server while it was downloading; trying again later.",
            wasted=True,  # every start over threw its bytes away: the queue's back-off grows
        )

    # -- fresh start -------------------------------------------------------------------

    def _fresh(self, no_range: bool, first: requests.Response | None) -> None:
        """Start from byte 0; ``first`` is an answer already received to use as the body."""
        spec = self.spec
        self.resuming = False
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
            and not self.one_stream
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
                    end = _plan(spec.size, self.max_streams, self.piece)[0].end or end
                rng = f"bytes=0-{end - 1}"
                self._preconnect(range(1, self.max_streams))  # meanwhile: the other streams
            first = self._interruptible(lambda: self._request(0, rng, None))
            if first.status_code == 416:  # an empty file, for one: ask for it whole
                self._drain(first)
                first = self._interruptible(lambda: self._request(0, None, None))
        resp = first
        handed_over = False
        try:
            self._adopt_coding(resp)
            if resp.status_code not in (200, 206):
                raise unexpected_answer(resp.status_code)
            body = _body_range(resp, 0)
            self._adopt_validators(resp)
            self._adopt_total(body.total)
            if (
                resp.status_code == 206
                and self.etag is not None
                and may_segment
                and self.coding is None  # coded bytes: one stream (see decode.py)
                and self.size is not None
                and self.size >= self.min_segmented
            ):
                self.segments = _plan(self.size, self.max_streams, self.piece)
                _set_length(self.fd, self.size)  # pre-size: every stream writes in place
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
        self.coding = None
        self.segments = []
        self.hasher, self.hashed_to = None, 0

    def _fresh_single(self, resp: requests.Response, body: _Body | None) -> None:
        """One stream from byte 0, hashing as it goes; ``body`` None: not checked yet."""
        handed_over = False
        try:
            if body is None:
                self._adopt_coding(resp)
                if resp.status_code != 200:
                    raise unexpected_answer(resp.status_code)
                body = _body_range(resp, 0)
                self._adopt_validators(resp)
                self._adopt_total(body.total)
            self.segments = [_Segment(0, self.size)]
            self.hasher, self.hashed_to = hashlib.sha256(), 0
            handed_over = True
            self._run_workers(1, first=(resp, body), single=True)
        finally:
            if not handed_over:
                self._close(resp)

    def _adopt_validators(self, resp: requests.Response) -> None:
        etag = _header(resp, "ETag")
        # a weak tag cannot validate a byte range (RFC 9110 §13.1.5): Last-Modified then; nor
        # can tags that differ from one node of the server to the next
        strong = etag is not None and _is_strong(etag) and not self.etag_unreliable
        self.etag = etag if strong else None
        self.last_modified = _header(resp, "Last-Modified")

    def _adopt_total(self, total: int | None) -> None:
        """The size a first answer gives: checked against the item's, and adopted (coded bytes
        have a size of their own, unknown when the answer does not say it)."""
        self._check_total(total, resumed=False)
        if total != self.size and (total is not None or self.coding is not None):
            self.size = total
            self.ctx.progress(0, self._file_size())
        self._check_fits(self.size)  # (the server's size: before a byte is written)

    def _file_size(self) -> int | None:
        """The size progress reports: the file's (the queue keeps it as the transfer's size
        and expects it of the next run). Coded bytes have their own, and the file's is known
        only once they are decoded: then none."""
        return self.size if self.coding is None else None

    def _adopt_coding(self, resp: requests.Response) -> None:
        """A first answer's content coding, despite ``Accept-Encoding: identity``: gzip or
        deflate bytes are fetched as they are and decoded at the end (see decode.py); a range of
        them only with a strong ETag and a Content-Range that fits (else the bytes may be
        compressed afresh for each answer: the whole file is asked for); another coding cannot
        be read: asked once more, then given up."""
        coding = _coding(resp)
        self.coding = None
        if coding is None:
            return
        ranged = bool(resp.request.headers.get("Range"))
        if coding not in DECODABLE:
            if ranged:
                raise _StartOver(None, no_range=True)
            self._compressed_full()
        if resp.status_code == 206 and not _coded_range_fits(resp):
            raise _StartOver(None, no_range=True)
        self.coding = DECODABLE[coding]
        self.ctx.log.info(
            "download %s: the server sends it %s-coded; decoded once whole",
            redact_url(self.spec.url),
            self.coding,
        )

    def _compressed_full(self) -> None:
        """A whole-file answer came compressed: let the queue ask once more, then give up."""
        self.compressed += 1
        self.ctx.checkpoint.save(self._carry())
        if self.compressed >= 2:
            raise PermanentError(MSG_COMPRESSED_AGAIN)
        raise RetryableError(MSG_COMPRESSED)

    # -- resume ------------------------------------------------------------------------

    def _resume(self) -> None:
        assert self.size is not None
        can_segment = (
            self.etag is not None
            and self.coding is None
            and not self.one_stream
            and self.max_streams > 1
            and self.size >= self.min_segmented
        )
        single = len(self.segments) == 1 and not can_segment
        self._check_fits(self.size)
        self.resuming = True
        self.ctx.log.info(
            "download %s: resuming with %d of %d bytes",
            redact_url(self.spec.url),
            sum(s.done for s in self.segments),
            self.size,
        )
        self.ctx.progress(sum(s.done for s in self.segments), self._file_size())
        if all(s.complete for s in self.segments):
            return  # everything is there: verification decides
        if single:
            os.ftruncate(self.fd, self.segments[0].pos)  # past the checkpoint: maybe not durable
            self.hasher, self.hashed_to = hashlib.sha256(), 0
            self._run_workers(1, first=None, single=True)
        else:
            if os.fstat(self.fd).st_size != self.size:
                _set_length(self.fd, self.size)
            # the missing ranges are spread over every stream by the workers' splitting
            self._run_workers(self.max_streams, first=None, single=False)


def _set_length(fd: int, size: int) -> None:
    """The part file made ``size`` bytes long; a size its file system cannot hold (EFBIG: a
    FAT32 disk and a 5 GB file, or a server naming a petabyte) said as such.

    Not grown on Windows: there ``os.ftruncate`` is the CRT's ``_chsize_s``, which grows a file
    by writing zeros, 4 KiB at a time (the whole file written twice, minutes on a USB disk or a
    share, a pause not heard meanwhile). Nothing needs the length ahead: each stream writes at
    its own offset (a write past the end extends the file, NTFS fills the gap lazily), the
    last segment ends the file at its size, and what a resume trusts is bounded by what the
    file holds. A file too large for its disk is said when a write reaches the limit
    (ERROR_FILE_TOO_LARGE)."""
    try:
        if sys.platform == "win32" and os.fstat(fd).st_size < size:
            return
        os.ftruncate(fd, size)
    except OSError as e:
        raise _disk_error(e) from e
