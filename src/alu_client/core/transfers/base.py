"""What every transfer job shares: its errors, its control (pause/cancel), its checkpoint and
the context the queue hands it.

A job (``download.run`` or ``upload.run``) is a plain blocking function on a worker thread. It
reports bytes through ``ctx.meter`` (which also throttles and may raise ``Stopped``), saves
where it stands through ``ctx.checkpoint`` so a restart after a crash resumes there, and ends by
returning a result or raising one of the errors below.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import requests

from .. import http

# --- a hub replaced at its address ------------------------------------------------------------

#: why a download not done yet ended when its hub was replaced by another one at the same
#: address (``profiles.forget_replaced_hub``): the item was the old hub's, the new one never
#: had it (an item id of the old hub is nothing, or another item, on the new one)
HUB_REPLACED_DOWNLOAD = (
    "This item was on the agency's previous hub at this address; the new hub there does not "
    "have it. Nothing was deleted here: download the item again from the feed if the new hub "
    "has it."
)
#: said in an upload's log when its hub was replaced: the upload the old hub had is no more
HUB_REPLACED_UPLOAD = (
    "The agency's hub at this address was replaced by a new one; the upload starts again "
    "from the beginning on the new hub."
)

# --- errors ---------------------------------------------------------------------------------


class Stopped(Exception):
    """The job stopped because its control asked it to (``reason`` is "pause" or "cancel")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransferError(Exception):
    """A failed attempt, with a message written for newsroom staff (no URLs, no secrets)."""

    retryable: bool = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, wasted: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        #: the attempt threw away all it moved (a download that kept starting over): however
        #: many bytes went through the meter it is no progress, and the queue's back-off goes
        #: on growing instead of starting over at its shortest
        self.wasted = wasted


class RetryableError(TransferError):
    """Will likely heal: network down, timeouts, stalls, 5xx, 429, 423, a bad hash (re-fetch)."""


class PermanentError(TransferError):
    """Will not heal by retrying: 401/403, the item is gone, the source file was deleted."""

    retryable = False


#: what a download of an item the agency withdrew says, ``reason`` the agency's words: the hub
#: no longer serves its files (HTTP 410 ``item_withdrawn``), and it is not tried again
MSG_WITHDRAWN: Final = "The agency withdrew this item: {reason}"
#: what such a message begins with (the hub's words of its 410 too: the reason follows)
WITHDRAWN_PREFIX: Final = MSG_WITHDRAWN.partition("{")[0]


class ItemWithdrawn(PermanentError):
    """The hub refused a file because the agency withdrew its item: the download ends,
    canceled with the agency's reason, and is never tried again."""


def withdrawn_message(reason: str) -> str:
    """``MSG_WITHDRAWN`` with the agency's reason (one line)."""
    return MSG_WITHDRAWN.format(reason=" ".join(reason.split()) or "-")


class SignInRefused(PermanentError):
    """The server refused the sign-in this request carried (HTTP 401 to a request sent with
    one): the session ended (it expired, was signed out, the password changed). A running
    engine holds the transfers that need the hub's sign-in until there is a new one
    (``TransferQueue.needs_sign_in``) instead of failing each; a one-shot run fails with it."""


#: what a transfer that failed on its sign-in says (``last_error`` begins with one of these):
#: stored as the error's words, they are what tells such a transfer after a restart, so a new
#: sign-in can try it again (``Services``); the raising code uses these same strings
MSG_SIGN_IN_REFUSED: Final = "The hub did not accept this sign-in; sign in again, then retry."
MSG_NO_SIGN_IN_SENT: Final = (
    "The server asks for a sign-in, and none was sent to the address it gave for the upload; "
    "check the address and the credentials given."
)
#: a download's 401 or 403 (``code``) without a sign-in sent (a 401 with one is the sign-in's:
#: ``MSG_SIGN_IN_REFUSED``, ``SignInRefused``)
MSG_ACCESS_REFUSED: Final = (
    "The server refused access (HTTP {code}). Sign in again, or ask the agency whether your "
    "newsroom may download this item."
)
REFUSED_SIGN_IN: Final = (
    MSG_SIGN_IN_REFUSED,
    MSG_NO_SIGN_IN_SENT,
    MSG_ACCESS_REFUSED.format(code=401),
)


class DiskFullError(TransferError):
    """No space left where the file is written; the queue pauses the transfer until there is."""


# --- control ----------------------------------------------------------------------------------


class Control:
    """Pause/cancel for one transfer, safe from any thread; jobs poll it between reads and
    the meter checks it on every block, so a stop takes effect within one read (< 1 s)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        #: callbacks run when a stop is requested (e.g. close a socket blocked in a read)
        self._on_stop: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        """Ask for a stop (``reason``: pause, cancel, shutdown, preempt). A cancel asked after
        a pause or a shutdown, while the job winds down, is what the stop is from then on (it
        was lost: the transfer ended paused, its part file and server upload kept); so is a
        pause asked after a preempt (the queue's, which only puts the transfer back in line)."""
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()
            elif reason == "cancel" or (reason == "pause" and self.reason == "preempt"):
                self.reason = reason
            callbacks = list(self._on_stop)
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a closing socket may complain; the stop itself stands
                logging.getLogger(__name__).debug("stop callback failed", exc_info=True)

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Stopped(self.reason)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (and no exception) if a stop was requested."""
        return self._event.wait(seconds)

    def on_stop(self, cb: Callable[[], None]) -> Callable[[], None]:
        """Register ``cb`` for the next stop; returns a function that unregisters it."""
        with self._lock:
            self._on_stop.append(cb)
            fire = self._event.is_set()
        if fire:
            cb()

        def remove() -> None:
            with self._lock:
                if cb in self._on_stop:
                    self._on_stop.remove(cb)

        return remove


# --- checkpoint -------------------------------------------------------------------------------


class Checkpoint(Protocol):
    """Where a job records how far it got; persisted by the queue in the store (JSON).

    ``save`` must be cheap enough to call every few MB or seconds; it is durable when it
    returns. Data saved here may include upload URLs, which are secrets: never log it."""

    def load(self) -> dict[str, Any]: ...

    def save(self, data: dict[str, Any]) -> None: ...


class MemoryCheckpoint:
    """A checkpoint kept in memory (tests, one-shot runs)."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = json.loads(json.dumps(data or {}))
        self.saves = 0

    def load(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self.data))  # as a store would give
        return copy

    def save(self, data: dict[str, Any]) -> None:
        self.data = json.loads(json.dumps(data))
        self.saves += 1


# --- sessions ---------------------------------------------------------------------------------


class SessionPool:
    """One kept-alive ``requests.Session`` per destination (scheme, host, port) and stream.

    Segmented downloads and parallel uploads ask for several ``stream`` numbers so that each
    stream has its own connection. Sessions never carry auth themselves: headers are passed per
    request, so a redirect to another host cannot take a token with it by accident."""

    def __init__(
        self,
        *,
        pool_size: int = 8,
        verify: bool | str = True,
        proxies: dict[str, str] | None = None,
    ) -> None:
        self._sessions: dict[tuple[str, int], requests.Session] = {}
        self._lock = threading.Lock()
        self.verify = verify
        self.proxies = proxies or {}
        self.pool_size = pool_size

    def get(self, url: str, stream: int = 0) -> requests.Session:
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}".lower(), stream)
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = http.Session()  # the profile's CA bundle wins over the environment's
                adapter = http.TransferAdapter(pool_connections=1, pool_maxsize=self.pool_size)
                s.mount("http://", adapter)
                s.mount("https://", adapter)
                s.verify = self.verify
                if self.proxies:
                    s.proxies.update(self.proxies)
                self._sessions[key] = s
            return s

    def renew(self, url: str, stream: int = 0) -> None:
        """Drop ``stream``'s connections to ``url``'s origin: its next request opens a new one.
        (A request in flight on the old session finishes; its connection then closes.)"""
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}".lower(), stream)
        with self._lock:
            old = self._sessions.pop(key, None)
        if old is not None:
            old.close()

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()


# --- the context a job runs in ----------------------------------------------------------------

#: what a download's new name is chosen by (``TransferContext.move_download``): given the file
#: names this workstation's open downloads write to, the new destination and the item's own
#: name for the job to go on looking at (``same_as``, None: none), or None to stay
ChooseDestination = Callable[[Container[str]], tuple[Path, Path | None] | None]

#: ``TransferContext.phase``: a download has every byte and checks its size and sha256
PHASE_VERIFYING = "verifying"
#: a queued transfer that needs the hub's sign-in, which the hub refused (the session ended):
#: it waits for a new sign-in (``TransferQueue.needs_sign_in``), and is not started meanwhile
PHASE_SIGN_IN = "sign-in"
#: the attempt has ended but the library (the data folder's store) cannot record it (the
#: disk that holds it is full): the transfer waits, as it is, until it can be written
PHASE_LIBRARY = "library"


@dataclass
class Tuning:
    """Knobs shared by the jobs (defaults chosen for 300 ms, lossy member links)."""

    connect_timeout: float = 15.0
    #: a read that returns nothing for this long is a stall: drop the connection and resume
    stall_timeout: float = 30.0
    #: the most one read of a download takes from the socket (a slow link's reads return what
    #: has arrived, less); 512 KiB: a 1 GiB loopback download with one stream 1.2x faster
    #: than with 256 KiB, with four the same; 1 MiB no faster, 10-30 MB more peak memory
    read_size: int = 512 * 1024
    #: files at least this large are fetched with several streams when the server allows Range
    segment_threshold: int = 32 * 1024 * 1024
    max_segments: int = 4
    #: a stream with nothing left takes half of the largest range still being fetched, down to
    #: ranges of this size (the tail of a download on a lossy link is short); independent of
    #: ``checkpoint_every``: a stolen range is a segment of its own in the checkpoint
    min_split: int = 1024 * 1024
    #: a segmented download is cut into pieces of at least this size (at least one per stream),
    #: fetched in file order, so the verified front of the file grows while it downloads and
    #: hashing keeps pace; a small file keeps one piece per stream
    segment_piece: int = 32 * 1024 * 1024
    #: end game: once nothing is left to take or split, a free stream fetches the rest of a
    #: range another stream is still on (at most this many bytes left) on its own connection;
    #: the first to bring a byte writes it, the other drops its answer (0: never)
    endgame: int = 2 * 1024 * 1024
    #: save download progress at least this often (bytes), so a crash re-fetches little
    checkpoint_every: int = 4 * 1024 * 1024
    #: … and at least this often (seconds) while bytes arrive: on a slow link 4 MiB is minutes,
    #: and a kill before the first save kept nothing to resume from
    checkpoint_every_s: float = 2.0
    #: the largest first chunk of an adaptive upload, when the link's rate is known (what it
    #: carries in ``upload.spec.TARGET_CHUNK_S``, up to this)
    upload_chunk_size: int = 16 * 1024 * 1024
    #: … and the first chunk when it is not (a new workstation, a new server): chunks then grow
    #: by what each carried (doubling). 2 MiB is ~4 s at 4 Mbit/s: a first chunk of 16 MiB took
    #: 35 s there, and a drop in it lost it whole (with checksums the hub drops a cut chunk)
    upload_first_chunk: int = 2 * 1024 * 1024
    min_upload_chunk: int = 256 * 1024
    max_parallel_uploads: int = 4
    #: an upload left to choose (``spec.parallel`` None) uses parallel parts only when the
    #: round trip to the server (seconds, from the OPTIONS discovery) is at least this. Parts
    #: help on a long lossy path, where one TCP stream carries a fraction of the link (its
    #: window and loss recovery against the bandwidth-delay product); on a LAN or loopback one
    #: stream fills the link and parts only add the server's join (seconds for 1 GiB: the
    #: default took 0.67x tuspy's time on loopback where one stream took 1.45x)
    parallel_upload_min_rtt: float = 0.020


@dataclass
class TransferContext:
    control: Control
    checkpoint: Checkpoint
    sessions: SessionPool
    #: called with every block of bytes moved; counts progress and applies bandwidth limits.
    #: May block (throttling) and raises Stopped when the control asks to stop.
    meter: Callable[[int], None] = lambda _n: None
    #: where the job stands in absolute terms (bytes done, total size), when it knows: after
    #: resuming (the offset) and after a restart (0); the meter's counts then add to it
    progress: Callable[[int, int | None], None] = lambda _done, _total: None
    #: headers for every request of this job that are not persisted (auth)
    headers: dict[str, str] = field(default_factory=dict)
    tuning: Tuning = field(default_factory=Tuning)
    #: a line for the history / the user when something notable happens ("upload restarted")
    note: Callable[[str], None] = lambda _msg: None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("alu_client.transfers"))
    #: the server confirmed progress (an upload's offset moved on): the queue's back-off starts
    #: over after a failure in an attempt that did (a download's bytes count by themselves)
    advanced: Callable[[], None] = lambda: None
    #: what the server held of this transfer is gone (an upload it lost, or let expire, made
    #: again from byte 0; a download's part file started over): no progress, even if the
    #: attempt confirmed bytes before; it counts again only once the transfer gets beyond
    #: where it stood when the loss was found, so a server that keeps losing it backs off as
    #: any failure does (it restarted about once a second for ever, each new upload's first
    #: chunk counting as progress)
    lost: Callable[[], None] = lambda: None
    #: bytes the meter counted that the server did not keep (a cut request's tail, a part
    #: started over): progress goes back by that much; the meter's own count (bandwidth) stays.
    #: Without it an upload on a link that drops often showed 100 % long before its end.
    rewind: Callable[[int], None] = lambda _n: None
    #: bytes received and thrown away (a download's range that starts before the bytes it
    #: needs, the slower of two answers, a rest clipped off): held back by the same bandwidth
    #: limits as the meter's, so a limit holds for what the link carries, but not counted as
    #: progress. May block and raises Stopped like the meter.
    throttle: Callable[[int], None] = lambda _n: None
    #: what one stream to a server (by origin, ``scheme://host:port``) carried when last
    #: measured, in bytes per second, and the place to say it: a new upload's first chunk is
    #: sized to it (each began at 16 MiB: 134 s on a 1 Mbit/s uplink, dropped whole when cut
    #: with checksums). The queue keeps it in the library's settings.
    link_rate: Callable[[str], float | None] = lambda _origin: None
    remember_link_rate: Callable[[str, float], None] = lambda _origin, _bps: None
    #: the lowest bandwidth limit on this transfer now (bytes per second; None: none): a first
    #: chunk sized to the link alone took 25 s under a 400 kB/s limit, lost whole by a kill
    limit: Callable[[], float | None] = lambda: None
    #: what the job does when it moves no bytes: ``PHASE_VERIFYING`` (a download has every
    #: byte and checks them: seconds for a big file, when the bar is full and the speed 0)
    phase: Callable[[str], None] = lambda _phase: None
    #: a download that must write its file under another name than its row's (``jobs``:
    #: another workstation's download stopped for good at its name, or left the item's own
    #: name free): ``choose`` is called with the names this workstation's open downloads write
    #: to, and what it gives is on the transfer's row (its destination and ``same_as``) when
    #: this returns, before the job writes a byte there: a restart resumes that file, a cancel
    #: removes that part file, the library and the history name that file. One at a time per
    #: queue: two of its downloads never choose one name. None: no row to move (the job stays)
    move_download: Callable[[ChooseDestination], tuple[Path, Path | None] | None] | None = None


def metered(ctx: TransferContext) -> Callable[[int], None]:
    """The meter wrapped with the control check, for jobs to call per block."""

    def account(n: int) -> None:
        ctx.control.check()
        ctx.meter(n)

    return account


def redact_url(url: str) -> str:
    """A URL fit for logs: host and the first path segment only (upload URLs are secrets),
    never a ``user:password@``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    first = parts.path.strip("/").split("/", 1)[0]
    return f"{parts.scheme}://{host}/{first}/…" if first else f"{parts.scheme}://{host}/"
