"""Keeping a PATCH moving: how another thread cuts a request short (stop, stall, abort), the
stall watchdog, and the chunk size."""

from __future__ import annotations

import contextlib
import errno
import math
import socket
import sys
import threading
import time

import urllib3.connection

from .spec import MAX_CHUNK, TARGET_CHUNK_S

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
        #: whether a stop (pause, cancel) or a sibling's failure cuts it: not a POST, whose
        #: effect on the server a cut would leave unknown (a part or a final upload made, its
        #: URL lost); it is short, and the stall time still bounds it
        self.stoppable = True
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
        """``conn`` carries the request (or its body). Once the flight is cut, a connection
        goes nowhere: a HEAD or OPTIONS whose cut read as the server's reset is sent again by
        urllib3 (``_StaleRetry``) on a new connection, not yet open here, so not shut down."""
        with self._lock:
            self._conn = conn
            cut = bool(self.reason)
            if cut:
                self._shutdown()
        if cut:
            raise OSError(errno.ECANCELED, "the request was cut")

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
        """A full chunk of ``sent`` bytes took ``seconds``: double, keep or halve the size,
        whichever is nearest (in ratio) to what the link carries in ``TARGET_CHUNK_S``.

        Only these three steps (not any size in between), so that the next chunk's size is one
        of ``candidates()`` before this chunk is sent: its checksum is computed meanwhile."""
        if not self.adaptive or sent < self.size:
            return
        ideal = sent * TARGET_CHUNK_S / max(seconds, 1e-3)
        if ideal >= self.size * math.sqrt(2):
            wanted = self.size * 2
        elif ideal <= self.size / math.sqrt(2):
            wanted = self.size // 2
        else:
            return
        self.size = max(self.minimum, min(self.ceiling, wanted))

    def candidates(self) -> set[int]:
        """Every size ``after`` can leave for the next chunk."""
        if not self.adaptive:
            return {self.size}
        return {
            max(self.minimum, min(self.ceiling, s))
            for s in (self.size // 2, self.size, self.size * 2)
        }

    def cut(self, rate: float | None = None) -> None:
        """A chunk was cut short: smaller chunks fit between a flaky link's drops (with checksums
        the server drops a cut chunk whole); fast chunks grow them back. ``rate``: what the cut
        chunk carried (bytes per second), when it ran long enough to tell: the next chunk is
        what that carries in about ``TARGET_CHUNK_S`` (halving took 16, 8, then 4 MiB: 134,
        67 and 34 s at 1 Mbit/s, most of them cut whole on a link that drops every minute)."""
        if not self.adaptive:
            return
        size = max(self.minimum, self.size // 2)
        if rate is not None and rate > 0:
            fit = self.minimum
            while fit * 2 <= min(rate * TARGET_CHUNK_S, size):
                fit *= 2
            size = fit
        self.size = size

    def shrink(self) -> bool:
        if self.size <= self.minimum:
            return False
        self.size = max(self.minimum, self.size // 2)
        self.ceiling = self.size
        return True
