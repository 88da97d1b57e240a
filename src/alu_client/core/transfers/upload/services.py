"""The job's state and what it offers its uploads (the whole file's, or the parts'): requests,
metering, waiting, the source file's checks and checksums, termination."""

from __future__ import annotations

import io
import math
import os
import threading
import time
from typing import NoReturn

import requests
from tusclient.client import TusClient

from ...http import (
    connection_failure,
    on_connection,
    origin,
    proxy_answer,
    same_origin,
)
from ...nofollow import NotPlainFile, is_plain, open_plain
from ...oserrors import is_in_use, is_passing
from ..base import PermanentError, RetryableError, Stopped, TransferContext, metered
from .checksums import DigestAhead, region_digests
from .protocol import _Aborted, _FileChanged, _Resume, tus_headers_for, upload_url
from .spec import (
    EXPIRED_NOTE,
    FILE_CHANGED,
    JUDGE_MIN_S,
    LOST_NOTE,
    MAX_BLOCK,
    MIN_BLOCK,
    MSG_FOLDER_AWAY,
    MSG_SOURCE_IN_USE,
    MSG_SOURCE_LINK,
    RENEW_EVERY_S,
    SIBLINGS_RECENT_S,
    STARVED_RATIO,
    TARGET_CHUNK_S,
    UploadSpec,
)
from .storage import StoreUrlStorage
from .streaming import _ChunkSize, _Flight, _Watchdog

#: of a short request's answer body (an error's text, at most), what is read
SHORT_BODY = 64 * 1024


class _JobServices:
    def __init__(
        self, spec: UploadSpec, ctx: TransferContext, *, checksum_preference: tuple[str, ...]
    ) -> None:
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
        #: the streams this upload's parts share the link on (1: the whole file on one)
        self.sharing = 1
        self.client = TusClient(spec.endpoint, headers=dict(ctx.headers))
        self.checksum: str | None = None
        #: the server joins parts still being uploaded (``concatenation-unfinished``): the final
        #: upload is asked for as soon as every part exists, and joined meanwhile
        self.join_early = False
        #: this run joined parts into a final upload (else the upload is one whole upload)
        self.joined = False
        #: held while the early final upload's URL is stored or dropped (``storage.early_final``)
        self.early_lock = threading.Lock()
        self.checksum_preference = checksum_preference  # as the package holds it (see run)
        self.size = 0
        self.mtime_ns = 0
        self.fp = ""
        self.restarted = False
        self.sent = 0
        #: the shortest round trip seen to the endpoint (seconds; the OPTIONS discovery)
        self.rtt: float | None = None
        #: PATCH and DELETE go as POST with X-HTTP-Method-Override (see ``refused_method``)
        self.method_override = False
        self._sent_lock = threading.Lock()
        #: per stream: its last judged chunk's rate (bytes/s) and when it ended; its last renewal
        self._rates: dict[int, tuple[float, float]] = {}
        self._renewed: dict[int, float] = {}
        self._metered = metered(ctx)
        self._aborted = threading.Event()
        self._flights: list[_Flight] = []
        self._watchdog = _Watchdog(self._flights, self.stall_s)
        self._forget_on_stop = ctx.control.on_stop(self._on_stop)

    def close(self) -> None:
        self._forget_on_stop()
        self._watchdog.stop()

    def _sizer(self) -> _ChunkSize:
        """The chunk size to start with: the spec's, else — when an earlier run measured the
        link (``storage.link_rate``, else the server's ``ctx.link_rate``) — what it carries in
        about ``TARGET_CHUNK_S``, up to ``tuning.upload_chunk_size``: a run interrupted in its
        first chunk (with checksums the hub drops a cut chunk whole) lost its 16 MiB each time
        on a slow link, and started again at 0. Under a bandwidth limit, of what the limit lets
        through (``ctx.limit``). With nothing known, ``tuning.upload_first_chunk``."""
        tuning = self.ctx.tuning
        start = self.spec.chunk_size or tuning.upload_chunk_size
        rate = None
        if self.spec.chunk_size is None:  # this upload's own measure, else the server's
            rate = self.storage.link_rate()
            if rate is None:
                try:
                    link = self.ctx.link_rate(self.server)
                except Exception as e:  # a hint: never worth an upload's failure
                    self.ctx.log.info("the link's rate could not be read: %s", e)
                    link = None
                rate = link / self.sharing if link else None
            try:
                limit = self.ctx.limit()
            except Exception as e:  # a hint, as the link's rate
                self.ctx.log.info("the limit in force could not be read: %s", e)
                limit = None
            if limit:  # under a limit, what the limit lets through (shared by the streams)
                rate = min(rate or math.inf, limit / self.sharing)
        if rate is not None:
            size = tuning.min_upload_chunk
            while size * 2 <= min(rate * TARGET_CHUNK_S, start):
                size *= 2
            start = size
        elif self.spec.chunk_size is None:
            # nothing known of the link: small, growing by what each chunk carries (a few
            # requests more on a LAN, where they take milliseconds)
            start = min(start, tuning.upload_first_chunk)
        return _ChunkSize(start, tuning.min_upload_chunk, self.spec.chunk_size is None)

    # shared by the uploads

    @property
    def server(self) -> str:
        """The endpoint's origin, ``scheme://host:port``."""
        return "{}://{}:{}".format(*origin(self.spec.endpoint))

    def link_measured(self, bps: float, flight: _Flight | None = None) -> None:
        """One stream (``flight``'s) carried ``bps``: for this upload's next run (per stream),
        and any new one to the same server (the link's, ``bps`` times the streams sharing it
        now, this one and the others sending: a new upload on four streams started each with
        what one stream had carried alone, 4x the 8 s aimed at; and the last stream of four,
        alone at the end, carried the whole link, not a quarter)."""
        self.storage.set_link_rate(bps)
        sharing = 1 + sum(1 for f in list(self._flights) if f is not flight and f.active)
        try:
            self.ctx.remember_link_rate(self.server, bps * min(self.sharing, sharing))
        except Exception as e:  # a hint: never worth an upload's failure (a full disk, say)
            self.ctx.log.info("the link's rate could not be kept: %s", e)

    def tus_headers(self, url: str | None = None) -> dict[str, str]:
        """tus headers for a request to ``url`` (default: the endpoint); the credentials only
        when ``url`` is on the endpoint's origin (a server may answer a creation with a
        Location elsewhere: the token never follows it)."""
        return tus_headers_for(url or self.spec.endpoint, self.spec.endpoint, self.ctx.headers)

    def request(
        self, method: str, url: str, stream: int, headers: dict[str, str]
    ) -> requests.Response:
        """A short request (no body) on the destination's kept-alive session (see
        ``_short``)."""
        try:
            return self._short(method, url, stream, headers, self.timeout)
        except requests.RequestException as e:
            self.log.debug("upload %s: %s failed (%s)", self.name, method, type(e).__name__)
            said = connection_failure(e, self.ctx.sessions.get(url, stream), url)
            if said is not None:  # a certificate, no TLS, a proxy's refusal, …
                if said[1]:
                    raise PermanentError(said[0]) from None
                raise _Resume(said[0]) from None
            raise _Resume("The connection to the hub dropped.") from None

    def _short(
        self,
        method: str,
        url: str,
        stream: int,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:
        """A short request, in flight like a PATCH: a stop cuts it at once (not a POST: see
        ``_Flight.stoppable``), and the watchdog once it has taken the stall time in all, so
        a server that trickles an answer's body, or never ends it, cannot hold the job (and a
        pause) for ever. Of the answer's body (the text of an error, at most) ``SHORT_BODY``
        bytes are read; a longer one's connection is closed. A cut raises Stopped or
        ``_Resume``."""
        session = self.ctx.sessions.get(url, stream)
        flight = _Flight()
        flight.stoppable = method != "POST"  # (the stall time still bounds a POST)
        self._flights.append(flight)
        flight.begin()
        try:
            with on_connection(flight.attach):
                r = session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                )
                body = bytearray()
                for piece in r.iter_content(16 * 1024):
                    body += piece
                    if len(body) >= SHORT_BODY:
                        r.close()  # the rest unread: the connection cannot carry more
                        break
            if flight.reason:
                # cut while the answer came: http.client takes the end of the connection for
                # the end of the header fields (and a HEAD's answer has no body to fail on),
                # so what came is no answer, its last field perhaps cut short
                r.close()
                raise requests.ConnectionError("cut before the answer was complete")
            r._content = bytes(body[:SHORT_BODY])
            return r
        except requests.RequestException:
            if flight.reason == "stop":
                raise Stopped(self.ctx.control.reason or "pause") from None
            if flight.reason == "stall":
                raise _Resume("The link stalled.") from None
            raise
        finally:
            flight.end()
            self._flights.remove(flight)

    def method_for(self, method: str, headers: dict[str, str]) -> str:
        """The method to send a ``method`` request with: itself, or POST carrying
        ``X-HTTP-Method-Override: <method>`` (which tus servers must honour) once the network
        has been seen refusing it (``refused_method``)."""
        if self.method_override and method in ("PATCH", "DELETE"):
            headers["X-HTTP-Method-Override"] = method
            return "POST"
        return method

    def refused_method(self, r: requests.Response, method: str) -> bool:
        """Whether ``r``, the answer to a ``method`` request sent as itself, says that something
        on the way does not pass that method: a 405, or a proxy's own 403/501 (some corporate
        proxies pass only GET, HEAD and POST). From then on the job's PATCH and DELETE requests
        go as POST with ``X-HTTP-Method-Override``; the caller sends this one again so."""
        if self.method_override or method not in ("PATCH", "DELETE"):
            return False
        if r.status_code != 405 and not (
            r.status_code in (403, 501) and proxy_answer(r) is not None
        ):
            return False
        self.method_override = True
        self.log.info(
            "upload %s: %s was refused on the way (HTTP %d); sending it as POST with "
            "X-HTTP-Method-Override",
            self.name,
            method,
            r.status_code,
        )
        return True

    def timed_request(
        self, method: str, url: str, stream: int, headers: dict[str, str]
    ) -> requests.Response:
        """``request``, keeping the shortest time it took in ``rtt``: a round trip (the
        first one on a new connection also includes its handshake, so it errs long)."""
        t0 = time.perf_counter()  # monotonic() ticks every ~16 ms on Windows before 3.13
        r = self.request(method, url, stream, headers)
        took = time.perf_counter() - t0
        self.rtt = took if self.rtt is None else min(self.rtt, took)
        return r

    def starved(self, stream: int, sent: int, seconds: float) -> bool:
        """A full chunk of ``sent`` bytes took ``seconds`` on ``stream``: whether that stream's
        connection gets so much less of the link than its siblings' that it should be renewed.

        Parallel streams' TCP connections do not share a link evenly for long: on the 300 ms,
        2 % loss link of the benchmarks one bbr connection of four kept a third of its
        siblings' rate for a minute, and its part ended the upload alone. A new connection
        starts from scratch and takes its share. Judged only at a chunk's end (the connection
        is idle then: nothing is lost), on chunks long enough to measure, against the median of
        siblings measured lately; at most once per ``RENEW_EVERY_S`` for a stream."""
        if seconds < JUDGE_MIN_S or sent <= 0:
            return False
        rate, now = sent / seconds, time.monotonic()
        with self._sent_lock:
            self._rates[stream] = (rate, now)
            others = sorted(
                r
                for k, (r, t) in self._rates.items()
                if k != stream and now - t <= SIBLINGS_RECENT_S
            )
            if not others or now - self._renewed.get(stream, -math.inf) < RENEW_EVERY_S:
                return False
            median = others[len(others) // 2]
            if rate >= STARVED_RATIO * median:
                return False
            self._renewed[stream] = now
            del self._rates[stream]  # the new connection's rate is yet to be seen
        self.log.info(
            "upload %s: stream %d carried %.0f kB/s, its siblings %.0f kB/s: new connection",
            self.name,
            stream,
            rate / 1000,
            median / 1000,
        )
        return True

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

    def lost(self, *, expired: bool = False) -> None:
        self.ctx.lost()  # every time: a later loss in the run sets the queue's mark higher
        with self._sent_lock:
            first = not self.restarted
            self.restarted = True
        if first:
            what = "let the upload expire" if expired else "lost the upload"
            self.log.info("upload %s: the hub %s; starting again", self.name, what)
            self.ctx.note(EXPIRED_NOTE if expired else LOST_NOTE)

    def open_source(self) -> io.BufferedReader:
        try:
            return open_plain(self.path) if self.spec.no_follow else open(self.path, "rb")
        except NotPlainFile:
            self._link()
        except FileNotFoundError:
            self._gone()
        except PermissionError as e:
            self._refused(e)
        except OSError as e:
            self._unreachable(e)

    def check_source(self) -> None:
        """The file is still there, unchanged (cheap: one stat per chunk)."""
        st = self._stat()
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            raise _FileChanged()

    def digest(self, pos: int, length: int) -> str:
        """Upload-Checksum's digest of a file region (a first, local read pass)."""
        assert self.checksum is not None
        try:
            return region_digests(self.path, self.checksum, pos, [length], self.check)[length]
        except FileNotFoundError:
            self._gone()
        except EOFError:
            raise _FileChanged() from None

    def digest_ahead(self, pos: int, lengths: set[int]) -> DigestAhead:
        """The digests of ``[pos, pos + n)`` for each ``n``, computed on a thread from now."""
        assert self.checksum is not None
        return DigestAhead(self.path, self.checksum, pos, lengths, self.stopping)

    def joined_into(self, part_url: str) -> str | None:
        """What the ALU hub says (``Alu-Final-Upload`` on a HEAD of a part, also with its 410)
        about the final upload that took ``part_url``; None from other servers or on error."""
        try:
            r = self.request("HEAD", part_url, 0, self.tus_headers(part_url))
        except _Resume:
            return None
        return self.final_named(r, part_url)

    def final_named(self, r: requests.Response, part_url: str) -> str | None:
        """The final upload an answer about a part names (``Alu-Final-Upload``), if any."""
        final = r.headers.get("Alu-Final-Upload")
        if not final:
            return None
        url = upload_url(part_url, final)
        return url if url is not None and same_origin(url, self.endpoint) else None

    def stopping(self) -> bool:
        return self.ctx.control.stopped or self._aborted.is_set()

    def terminate(self) -> bool:
        """Cancel: DELETE what the server holds, and forget it. True when the server dropped
        every upload (or no longer held it); else the URLs stay, for another try (the queue
        drops the checkpoint when it gives up on it)."""
        dropped = self._terminate(self.storage.urls())
        if dropped:
            self.storage.clear()
        return dropped

    # internals

    def _terminate(self, urls: list[str]) -> bool:
        """DELETE ``urls``, best effort; True when the server answered that each is gone (a
        2xx, or 404/410: it held it no longer)."""
        dropped = True
        for url in urls:
            try:
                r = self._delete(url)
                if self.refused_method(r, "DELETE"):
                    r = self._delete(url)
                self.log.info("upload %s: terminated (HTTP %d)", self.name, r.status_code)
                dropped = dropped and (r.ok or r.status_code in (404, 410))
            except (requests.RequestException, _Resume, Stopped) as e:
                self.log.info("upload %s: could not terminate (%s)", self.name, type(e).__name__)
                dropped = False
        return dropped

    def _delete(self, url: str) -> requests.Response:
        headers = self.tus_headers(url)
        method = self.method_for("DELETE", headers)
        timeout = (self.timeout[0], min(self.timeout[1], 10.0))
        return self._short(method, url, 0, headers, timeout)

    def _stat(self) -> os.stat_result:
        try:
            if not self.spec.no_follow:
                return os.stat(self.path)
            st = os.lstat(self.path)
            if not is_plain(st):
                self._link()
            return st
        except FileNotFoundError:
            self._gone()
        except PermissionError as e:
            self._refused(e)
        except OSError as e:
            self._unreachable(e)

    def _gone(self) -> NoReturn:
        """Not there: moved or deleted (for good), unless its folder is away too — a network
        share reconnecting, a drive unplugged for a moment: then it waits for the folder."""
        try:
            folder_here = self.path.parent.is_dir()
        except OSError:
            folder_here = False
        if not folder_here:
            raise RetryableError(MSG_FOLDER_AWAY.format(name=self.name)) from None
        raise PermanentError(
            f"The file {self.name} is no longer there (moved or deleted); it cannot be uploaded."
        ) from None

    def _link(self) -> NoReturn:
        raise PermanentError(MSG_SOURCE_LINK.format(name=self.name)) from None

    def _refused(self, e: OSError) -> NoReturn:
        """Refused: for good, unless Windows says why and it may pass (read as EACCES: another
        program holding the file, a device not ready)."""
        if is_in_use(e):
            self.log.info("upload %s: the file is in use (%s)", self.name, e.strerror or e)
            raise RetryableError(MSG_SOURCE_IN_USE.format(name=self.name)) from None
        if is_passing(e):
            self._unreachable(e)
        raise PermanentError(
            f"The file {self.name} cannot be read (permission denied); it cannot be uploaded."
        ) from None

    def _unreachable(self, e: OSError) -> NoReturn:
        """An error of the file system itself (a share's ESTALE, EIO, a host down): it may pass."""
        self.log.info("upload %s: the file cannot be read now (%s)", self.name, e.strerror or e)
        raise RetryableError(MSG_FOLDER_AWAY.format(name=self.name)) from None

    def _changed(self) -> NoReturn:
        self.log.info("upload %s: the file changed; dropping the upload", self.name)
        self._terminate(self.storage.urls())
        self.storage.forget_urls()
        raise PermanentError(FILE_CHANGED) from None

    def _on_stop(self) -> None:
        for flight in list(self._flights):
            if flight.stoppable:
                flight.cut("stop")

    def _abort(self) -> None:
        self._aborted.set()
        for flight in list(self._flights):
            if flight.stoppable:
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
