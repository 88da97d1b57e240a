"""One tus upload (the whole file, or one part of it): tuspy's ``Uploader`` with our transport,
and the PATCH body it streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator

import requests
from tusclient.uploader.uploader import Uploader

from ...http import connection_failure
from ..base import PermanentError, RetryableError, Stopped
from .checksums import DigestAhead
from .protocol import (
    BAD_LOCATION,
    METADATA_SUSPECT_BYTES,
    MSG_METADATA_TOO_LARGE,
    _Aborted,
    _backoff,
    _BadChecksum,
    _expired,
    _FileChanged,
    _int_header,
    _Locked,
    _Lost,
    _metadata_header,
    _raise_for,
    _Resume,
    _size_text,
    _too_large,
    _TooLarge,
    expiry_of,
    upload_url,
)
from .services import _JobServices
from .spec import (
    CHECKSUM_TRIES,
    LOCKED_TRIES,
    LOST_TRACK,
    MAX_WAIT_IN_RUN,
    MIN_BLOCK,
    OFFSET_STREAM,
    QUICK_RESUMES,
)
from .streaming import _ChunkSize, _sending_connection

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
        #: every byte was handed to the connection (an answer may come before: see upload_chunk)
        self.finished = False

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
                up.in_chunk += len(data)
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
        self.finished = True


class _TusUpload(Uploader):
    """tuspy's Uploader for one upload: the whole file (``start`` 0, ``end`` size) or one part
    of it, with every network method replaced (see the module doc). ``offset`` and ``stop_at``
    count from ``start``, as the server sees them."""

    url: str | None  # type: ignore[assignment]  # tuspy declares it as None only

    def __init__(
        self,
        job: _JobServices,
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
        #: bytes of the PATCH under way (or last cut) counted as progress; what the server did
        #: not keep of them is taken back (``_settle``) when its offset is known
        self.in_chunk = 0
        #: what a resumed run counted of this part at its start (``storage.parts_done``)
        self.counted = 0
        #: what a chunk cut in this run carried, bytes per second (``_ChunkSize.cut``)
        self.cut_rate: float | None = None
        #: the next chunk's digests, computed while this chunk is sent (see ``checksums``)
        self.ahead: DigestAhead | None = None
        #: a stream has taken this part; ``created`` the URL was made in this run (offset 0)
        self.lock = threading.Lock()
        self.taken = False
        self.created = False
        #: the final upload a 410 for this part said took it (``Alu-Final-Upload``)
        self.gone_into: str | None = None
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
        #: when the upload expires (this computer's clock), as the server's last answer said
        self.expires = job.storage.expires(self.url)

    # tuspy's methods, with our transport

    def get_headers(self, url: str | None = None) -> dict[str, str]:
        """For ``url`` (default: the endpoint): credentials only on the endpoint's origin."""
        return self.job.tus_headers(url)

    def set_url(self, url: str) -> None:
        super().set_url(url)  # (stored: the expiry its creation's answer gave goes with it)
        if self.expires is not None:
            self.job.storage.set_expires(url, self.expires)

    def _answered(self, r: requests.Response) -> None:
        """A 2xx for the upload at ``self.url``: its Upload-Expires kept (``_raise_for``)."""
        at = expiry_of(r)
        if at is not None and self.url is not None:
            self.expires = at
            self.job.storage.set_expires(self.url, at)

    def get_file_size(self) -> int:
        return self.end - self.start

    def _get_fingerprint(self) -> str:
        # tuspy re-fingerprints on every set_url; ours is made once per run (the job's key)
        return self.key

    def create_url(self, stream: int | None = None) -> str:
        headers = self.get_headers()
        headers["Upload-Length"] = str(self.stop_at)
        meta_header = _metadata_header(self.metadata) if self.metadata else ""
        if meta_header:
            headers["Upload-Metadata"] = meta_header
        if self.partial:
            headers["Upload-Concat"] = "partial"
        r = self.job.request(
            "POST", self.job.endpoint, self.stream if stream is None else stream, headers
        )
        if r.status_code == 413:
            # the hub refuses a large Upload-Metadata with 413 too: that is the item's texts
            # (script, shot list), not the file; blaming the file's size misled the user
            if len(meta_header) > METADATA_SUSPECT_BYTES or "metadata" in r.text[:500].lower():
                raise PermanentError(MSG_METADATA_TOO_LARGE)
            raise _too_large(self.job.size, None)
        _raise_for(r, creating=True)
        self.expires = expiry_of(r)
        location = r.headers.get("Location")
        if not location:
            raise PermanentError("The hub did not say where to send the file; is it a tus server?")
        url = upload_url(self.job.endpoint, location)
        if url is None:
            raise PermanentError(BAD_LOCATION)
        return url

    def get_offset(self) -> int:
        assert self.url is not None
        r = self.job.request("HEAD", self.url, self.stream, self.get_headers(self.url))
        if r.status_code == 410 and self.partial:  # a part a final upload took and finished
            self.gone_into = self.job.final_named(r, self.url)
        if r.status_code == 403 and "Upload-Offset" not in r.headers:
            # tus 1.0: a server may answer 403 (as well as 404 or 410) for an upload it does
            # not hold; made again, at most once a run (a refusal then comes from the POST)
            raise _Lost()
        _raise_for(r, expires=self.expires)
        self._answered(r)
        offset = _int_header(r, "Upload-Offset")
        if offset is None:
            raise _Resume("The hub's answer had no usable offset.")
        length = _int_header(r, "Upload-Length")
        if (length is not None and length != self.stop_at) or offset > self.stop_at:
            raise _Lost()  # not the upload of this file (range): never write into it
        if offset < self.stop_at and _expired(r):
            raise _Lost(expired=True)
        return offset

    def upload_chunk(self) -> None:
        job, url = self.job, self.url
        assert url is not None
        job.check_source()
        start = self.offset
        length = min(self.chunk_size, self.stop_at - start)
        pos = self.start + start
        headers = self.get_headers(url)
        headers.update(
            {
                "Upload-Offset": str(start),
                "Content-Type": OFFSET_STREAM,
                "Content-Length": str(length),
            }
        )
        if job.checksum:
            headers["Upload-Checksum"] = f"{job.checksum} {self._digest(pos, length)}"
        body = _Body(self, pos, length)
        self.in_chunk = 0
        session = job.ctx.sessions.get(url, self.stream)
        method = job.method_for("PATCH", headers)
        self.flight.begin()
        began = time.monotonic()
        answered = False
        try:
            r = session.request(
                method, url, data=body, headers=headers, timeout=job.timeout, allow_redirects=False
            )
            answered = True
        except requests.RequestException as e:
            job.log.debug("upload %s: PATCH failed (%s)", job.name, type(e).__name__)
            said = connection_failure(e, session, url)
            if said is not None and said[1]:  # a certificate, no TLS, a proxy's refusal, …
                raise PermanentError(said[0]) from None
            self.check_flight()
            if isinstance(e, requests.Timeout):
                raise _Resume("The link stalled.") from None
            raise _Resume("The connection to the hub dropped.") from None
        finally:
            self.flight.end()
            body.close()
            took = time.monotonic() - began
            if not answered and took >= 1.0 and self.in_chunk > 0:
                # cut (a stop, the link): what it carried sizes the next chunk, and the next
                # run's first
                self.cut_rate = self.in_chunk / took
                job.link_measured(self.cut_rate, self.flight)
        if self.flight.reason:  # cut as the answer came: its fields may be cut short (``_short``)
            job.ctx.sessions.renew(url, self.stream)
            self.check_flight()
        if r.status_code >= 400 or not body.finished:
            # a refusal may come before the body has been read (or even sent): whoever answered
            # may still have the rest of it to read, and take the next request on this
            # connection for part of it (squid does), so the connection carries nothing more
            job.ctx.sessions.renew(url, self.stream)
        if r.status_code == 413:
            raise _TooLarge()
        if method == "PATCH" and job.refused_method(r, "PATCH"):
            raise _Resume("The network does not pass PATCH; the chunk goes again as POST.")
        _raise_for(r, expires=self.expires)
        self._answered(r)
        new = _int_header(r, "Upload-Offset")
        if new is None or not start <= new <= start + length:
            raise _Resume("The hub's answer had an unexpected offset.")
        self._settle(new)
        self.offset = new
        if self.partial and new > start:  # (a part's offsets are its own upload's)
            job.storage.set_part_done(self.start, self.end, new)
        if new == start:
            # a success that kept nothing: sent again at once, this would loop at full speed
            # for ever; it counts as a failure without progress (backs off, then gives up)
            raise _Resume("The hub took none of the piece it was sent.")
        if new == start + length:
            took = time.monotonic() - began
            if took >= 1.0 and length >= self.sizer.size:  # a chunk of the sizer's: the link's
                job.link_measured(length / took, self.flight)
            self.sizer.after(length, took)
            self.chunk_size = self.sizer.size
            if job.starved(self.stream, length, took):
                job.ctx.sessions.renew(url, self.stream)

    def upload(self, stop_at: int | None = None) -> None:
        """Create or resume, then send chunks until the server has every byte (see Errors in
        the module doc for what each failure does)."""
        try:
            self._upload()
        except BaseException:
            # a run that ends mid-PATCH (a stop, a sibling's failure, an error that waits for
            # the next run) never learns what the server kept of it: counted as lost (the next
            # run's offsets bring back what was not; the end sets the whole size)
            sent, self.in_chunk = self.in_chunk, 0
            if sent:
                self.job.ctx.rewind(sent)
            raise
        finally:
            if self.ahead is not None:
                self.ahead.cancel()
                self.ahead = None

    def _upload(self) -> None:
        job = self.job
        need_head = self.url is not None and not self.created
        quick = locked = bad_sums = 0
        #: the server's offset when the failure counters were last reset: any progress since,
        #: by a PATCH or seen by the HEAD after a cut one (a server keeps what it received),
        #: resets them, so a link that drops every few MB never makes a run give up
        mark = -1
        while True:
            job.check()
            sending = False
            try:
                if self.url is None:
                    self.set_url(self.create_url())  # tuspy: stores it under our key
                    self.offset = 0
                elif need_head:
                    offset = self.get_offset()
                    self._settle(offset)
                    self.offset = offset
                    if not self.partial:
                        # the whole file on one stream: the server's offset is the progress
                        job.ctx.progress(offset, job.size)
                need_head = False
                if self.offset > mark:
                    if mark >= 0:
                        job.ctx.advanced()
                    mark = self.offset
                    quick = locked = bad_sums = 0
                if self.offset >= self.stop_at:
                    # the bytes the server holds were read from the file as it was at the
                    # start: a change during the last chunk would leave a torn upload
                    job.check_source()
                    return
                sending = True
                self.upload_chunk()
                sending = False
            except _Lost as e:
                if self._joined_early():
                    return
                self._restart(expired=e.expired)
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
                # until the lock is free, the smallest chunk asks for it: a 423 comes once the
                # body is in, and each full chunk was sent for nothing (a hub restarted while
                # a lease of its dead process ran: 44 MB sent for a 10 MB file); a chunk that
                # goes through brings the sizer's size back
                self.chunk_size = self.sizer.minimum
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
                    self.sizer.cut(self.cut_rate)
                    self.chunk_size = self.sizer.size
                self.cut_rate = None
                quick += 1
                wait = e.retry_after if e.retry_after is not None else _backoff(quick)
                if quick > QUICK_RESUMES or wait > MAX_WAIT_IN_RUN:
                    raise RetryableError(e.message, retry_after=e.retry_after) from None
                job.log.info("upload %s: %s Resuming in %.1f s.", job.name, e.message, wait)
                job.wait(wait)
                # after any failure the server's offset decides, also for a part made in this
                # run: a cut PATCH may have left bytes there (tus servers keep what arrived)
                need_head = self.url is not None

    # ours

    def create_ahead(self, stream: int) -> None:
        """Create this part's upload on ``stream`` before a stream takes it (unless one has)."""
        with self.lock:
            if self.taken or self.url is not None:
                return
            self.set_url(self.create_url(stream))
            self.offset = 0
            self.created = True

    def take(self, stream: int, sizer: _ChunkSize) -> None:
        """A stream starts on this part (after a ``create_ahead`` in progress, if any)."""
        with self.lock:
            self.taken = True
            self.stream = stream
            self.sizer = sizer
            self.chunk_size = sizer.size

    def _digest(self, pos: int, length: int) -> str:
        """This chunk's digest (from the pass made while the last chunk was sent, if it covered
        this region); then the next chunk's pass starts, to run while this chunk is sent."""
        ahead, self.ahead = self.ahead, None
        digest = ahead.take(pos, length) if ahead is not None else None
        if digest is None:
            digest = self.job.digest(pos, length)
        nxt = pos + length
        if nxt < self.end:
            lengths = {min(n, self.end - nxt) for n in self.sizer.candidates()}
            self.ahead = self.job.digest_ahead(nxt, lengths)
        return digest

    def _settle(self, offset: int) -> None:
        """The server holds ``offset`` bytes (a PATCH's answer, a HEAD after a cut one): what
        was counted of the last PATCH beyond them goes back out of the progress."""
        sent, self.in_chunk = self.in_chunk, 0
        lost = self.offset + sent - offset
        if sent and lost > 0:
            self.job.ctx.rewind(min(lost, sent))

    def check_flight(self) -> None:
        """Raise what a cut of this stream's flight means."""
        reason = self.flight.reason
        if reason == "stop":
            raise Stopped(self.job.ctx.control.reason or "pause")
        if reason == "abort":
            raise _Aborted()
        if reason == "stall":
            raise _Resume("The link stalled.")

    def _joined_early(self) -> bool:
        """A part the server no longer offers (410) because the final upload asked for early
        took it and is joined (``concatenation-unfinished``): it is complete, nothing to send
        again. Read from that 410 itself, never from another request that could fail."""
        job = self.job
        final, self.gone_into = self.gone_into, None
        with job.early_lock:
            early = job.storage.early_final()
            if not self.partial or final is None or early not in ("", final):
                return False
            job.storage.set_early_final(final)
        self.offset = self.stop_at
        return True

    def _restart(self, *, expired: bool = False) -> None:
        job = self.job
        if self.restarted:
            raise RetryableError("The hub lost the upload again; it will try later.") from None
        if self.partial and job.storage.finalizing():
            raise PermanentError(LOST_TRACK) from None
        with job.early_lock:
            early = job.storage.early_final() if self.partial else None
            if early is not None:
                job.storage.set_early_final(None)
        if early:
            # the final upload asked for early waits for this part's old upload, which is gone:
            # drop it (the hub frees the other parts); they are joined at the end instead
            job._terminate([early])
        self.restarted = True
        job.lost(expired=expired)
        if self.url is not None:
            # taken for lost (a 404/410/403, an expiry, another length), the server may still
            # hold it: told to drop it, best effort, so no orphan waits there for its expiry
            job._terminate([self.url])
        job.storage.remove_item(self.key)
        self.url = None
        self.expires = None
        # what this run counted of this upload goes back: from its offset, or what the run
        # counted at its start when no HEAD told the offset (a part lost while the engine was
        # down was counted twice: 6.55 of 6.29 MB); the whole file's is its offset, set at once
        sent, self.in_chunk = self.in_chunk, 0
        if self.partial:
            job.ctx.rewind(max(self.offset, self.counted) + sent)
            self.counted = 0
        else:
            job.ctx.progress(0, job.size)
        self.offset = 0
