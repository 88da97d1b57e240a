"""The download job's state, and its requests: redirects followed by hand, the answers still
open (so a stop can shut their sockets), waiting that a stop interrupts, and network errors
turned into plain words."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from ...http import connection_failure, origin, proxy_answer, proxy_for
from ..base import (
    MSG_SIGN_IN_REFUSED,
    PermanentError,
    RetryableError,
    SignInRefused,
    Stopped,
    TransferContext,
    metered,
    redact_url,
)
from .partfile import _Segment
from .protocol import (
    _BUSY,
    _DRAIN_LIMIT,
    _MAX_READ,
    _MAX_REDIRECTS,
    _MIN_READ,
    _MIN_SEGMENT,
    _REDIRECTS,
    _STOP_GRACE_S,
    MSG_BAD_ADDRESS,
    MSG_BAD_REDIRECT,
    MSG_CONNECT_TIMEOUT,
    MSG_CUT,
    MSG_LINK_EXPIRED,
    MSG_STALLED,
    MSG_TRUNCATED,
    MSG_UNREACHABLE,
    _Aborted,
    _check_status,
    _int_header,
    _keeps_credentials,
)
from .spec import DownloadSpec

_T = TypeVar("_T")


# --- the job ----------------------------------------------------------------------------------


def link_digest(url: str) -> str:
    """A short digest of a download's URL, kept in its checkpoint (the URL itself may be a
    secret: a signed link)."""
    return hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class _JobBase:
    def __init__(
        self,
        spec: DownloadSpec,
        ctx: TransferContext,
        *,
        write_at: Callable[[int, bytes, int, threading.Lock], None],
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.tuning = ctx.tuning
        self.part = spec.dest.with_name(spec.dest.name + ".part")
        self.read_size = min(max(self.tuning.read_size, _MIN_READ), _MAX_READ)
        self.max_streams = max(1, spec.segments or self.tuning.max_segments)
        self.min_segmented = max(self.tuning.segment_threshold, 2 * _MIN_SEGMENT)
        self.probe_size = max(self.tuning.segment_threshold // self.max_streams, _MIN_SEGMENT)
        # a steal leaves each half at least two of the smallest reads long (a read in flight on
        # the victim's stream is clipped at the new end, see _write; on a link slow enough for
        # the tail to matter a read returns what has arrived, far less than ``read_size``)
        self.min_split = max(self.tuning.min_split, 2 * _MIN_READ)
        self.piece = max(self.tuning.segment_piece, _MIN_SEGMENT)
        self.account = metered(ctx)
        self.fd = -1
        self.part_existed = False
        #: the part file's device and inode, kept in the checkpoint (see ``part_is_ours``)
        self.part_id: list[int] | None = None
        # what we know of the file on the server
        self.etag: str | None = None  # strong ETags only
        self.last_modified: str | None = None
        self.size: int | None = None
        #: the coding of the bytes the server sends ("gzip", "deflate"), despite asking for
        #: none: the part file holds them as sent and is decoded at the end (persisted)
        self.coding: str | None = None
        #: the size is where a body of unknown length ended: nothing checked it
        self.size_from_body = False
        self.segments: list[_Segment] = []
        # running sha256 of the part file's bytes [0, hashed_to): fed as bytes land (single
        # stream) or by the front hasher (segments, see fronthash.py); lost with the process
        self.hasher: Any = None
        self.hashed_to = 0
        self.compressed = 0  # whole-file answers that came compressed (persisted)
        #: a ranged request of several was answered whole, or from far before the bytes asked
        #: for: one stream only (persisted)
        self.one_stream = False
        #: the server's ETags differ for the same file (a CDN's nodes each tag it their own
        #: way, with one Last-Modified and size): resumes go on Last-Modified (persisted)
        self.etag_unreliable = False
        #: the ETags this file had before, with the Last-Modified and size it has (persisted)
        self.tags_seen: list[str] = []
        #: this attempt began from a checkpoint (its bytes are not thrown away unsaid)
        self.resuming = False
        #: the most streams the server served at once when it refused more (persisted)
        self.stream_cap: int | None = None
        #: this link (``link_digest`` of the URL) served bytes of the file in an earlier
        #: attempt, when this one began from a checkpoint (persisted as "served_by")
        self.link_served = False
        # this attempt's streams that got an answer to build on, and that were told "not now"
        self.served: set[int] = set()
        self.refused: set[int] = set()
        #: this attempt: a range came back starting well before the bytes asked for (a
        #: server answering ranges from byte 0): each new request reads that start again
        self.no_split = False
        self.wrong_sha256: str | None = None  # a whole file's digest that missed (persisted)
        #: bytes a decoding had written when the disk filled: more room first (persisted)
        self.decode_needs = 0
        self.fetched = 0
        self.restarted = False
        self.discard_part = False  # set with a PermanentError that makes the part worthless
        # threads: `lock` guards everything below and the segments; `cond` is on it
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.save_lock = threading.Lock()
        self.io_lock = threading.Lock()  # only where os.pwrite/pread do not exist (Windows)
        self.write_at = write_at  # partfile._write_at, as the package holds it (see run)
        self.gen = 0  # attempt number: a straggler from an older attempt may not write
        self.writes_open = False
        self.inflight = 0
        self.unsaved = 0
        self.saved_at = time.monotonic()  # the last checkpoint (``checkpoint_every_s``)
        self.save_due = threading.Event()  # a stream found a checkpoint due (the saver's)
        #: the disk's error when an fsync of the part file failed: raised by every later save
        self.save_failed: BaseException | None = None
        self.live: set[requests.Response] = set()
        self.answers: dict[int, requests.Response] = {}  # the answer each stream is reading
        # when each stream's answer began to land, and where (its speed, for the end game)
        self.began: dict[int, tuple[float, int]] = {}
        #: the quickest answer seen (request sent to headers in): about one round trip
        self.rtt: float | None = None
        self.abort = threading.Event()  # this attempt is over (start over or a permanent error)
        self.deadline: float | None = None  # after a stop or abort: stop waiting for workers
        self.errors: list[BaseException] = []

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
        stripped = False
        for _ in range(_MAX_REDIRECTS + 1):
            self._check_running()
            session = ctx.sessions.get(url, stream)
            sent = time.monotonic()
            try:
                resp = session.get(
                    url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
                )
            except Exception as e:
                raise self._request_error(e, session, url) from e
            took = time.monotonic() - sent
            with self.lock:
                self.rtt = took if self.rtt is None else min(self.rtt, took)
            self._register(resp)
            if resp.status_code in _REDIRECTS:
                location = resp.headers.get("Location")
                self._drain(resp)
                if not location:
                    raise PermanentError(
                        "The server sent the download elsewhere without saying where."
                    )
                try:
                    target = urljoin(url, location)
                    # (BadAddress: a port that is no port, a backslash in the host: where
                    # requests would connect is not the server the check would see)
                    keeps = _keeps_credentials(url, target)
                except ValueError:
                    raise PermanentError(MSG_BAD_REDIRECT) from None
                if not keeps and headers != own:
                    headers = dict(own)  # credentials stay with the origin they are for
                    stripped = True
                    ctx.log.info(
                        "download %s: redirected to %s; credentials not sent there",
                        redact_url(url),
                        redact_url(target),
                    )
                url = target
                continue
            if resp.status_code in _BUSY:
                with self.lock:
                    self.refused.add(stream)
            if resp.status_code == 401 and stripped:
                # it asks for a sign-in where this app does not send the one it has
                self._drain(resp)
                raise PermanentError(
                    "The server sent the download to another address, which asks for a "
                    "sign-in; the credentials given are not sent to another server. Use "
                    "that address directly, with its own credentials."
                )
            if resp.status_code in (401, 403) and origin(url) != origin(self.spec.url):
                # A signed link the server sent us to (S3, a CDN) refused: it expired (a long
                # wait, a clock far off) — every attempt starts at the server again and gets a
                # fresh one, so this is worth another try, not a "sign in again".
                self._drain(resp)
                raise RetryableError(
                    "The storage the server sent the download to refused its link (expired?); "
                    "asking the server for a new one."
                )
            if (
                resp.status_code in (401, 403)
                and (self.served or self.link_served)
                and urlsplit(url).query
                and proxy_answer(resp) is None  # (a proxy's refusal says so itself)
            ):
                # the link served this run's first ranges (or an earlier run's, before a cut
                # link), then refused the next: a signed link (S3's, a CDN's) that expired on
                # the way. "Sign in again" said nothing of it; a new link resumes the download
                self._drain(resp)
                raise PermanentError(MSG_LINK_EXPIRED)
            if (
                resp.status_code == 401
                and "Authorization" in headers
                and proxy_answer(resp) is None
            ):
                # the server refused the sign-in sent to it (the hub's session ended): not a
                # right to ask the agency about (that is its 403), a sign-in to make again
                self._drain(resp)
                raise SignInRefused(MSG_SIGN_IN_REFUSED)
            try:
                _check_status(resp)
            except BaseException:
                self._drain(resp)
                raise
            return resp
        raise PermanentError("The server redirected the download too many times.")

    def _preconnect(self, streams: range) -> None:
        """Open the connections of ``streams`` (TCP, and TLS) on threads while the first
        answer is on its way, so their first requests do not wait for a set-up round trip.
        Best effort: a connection that fails here is opened again by the request."""
        url = self.spec.url

        def connect(stream: int) -> None:
            try:
                session = self.ctx.sessions.get(url, stream)
                request = requests.Request("GET", url).prepare()
                adapter = session.get_adapter(url)
                if not isinstance(adapter, requests.adapters.HTTPAdapter):
                    return
                # the settings a request of this session gets (the pool is chosen by them)
                env = session.merge_environment_settings(url, {}, None, None, None)
                if proxy_for(session, url):
                    # through a proxy, an https:// connection is a tunnel that only a request
                    # sets up (a bare connect spoke TLS to the proxy itself: errors in its log)
                    return
                pool = adapter.get_connection_with_tls_context(
                    request, env["verify"], env["proxies"], env["cert"]
                )
                if not isinstance(pool, urllib3.HTTPConnectionPool):
                    return
                conn = pool._get_conn()  # no public way to warm a pool's connection
                try:
                    if getattr(conn, "sock", None) is None:
                        conn.timeout = self.tuning.connect_timeout
                        conn.connect()
                finally:
                    pool._put_conn(conn)
            except Exception as e:
                self.ctx.log.debug("download: stream %d not opened early: %s", stream, e)

        for stream in streams:
            threading.Thread(
                target=connect, args=(stream,), name=f"download-connect-{stream}", daemon=True
            ).start()

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

    def _request_error(
        self, e: BaseException, session: requests.Session, url: str
    ) -> BaseException:
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
            return PermanentError(MSG_BAD_ADDRESS)
        said = connection_failure(e, session, url)
        if said is not None:  # a certificate, no TLS, a proxy's refusal, …
            message, final = said
            return PermanentError(message) if final else RetryableError(message)
        if isinstance(e, requests.exceptions.SSLError):
            return RetryableError("The secure connection to the server failed; trying again.")
        if isinstance(e, requests.exceptions.RequestException | OSError):
            return RetryableError(MSG_UNREACHABLE)
        return e
