"""Bandwidth limits: a shared token bucket, the meter a job reports its bytes to, and (re-exported)
the weekly schedule of limits and the rate parser.

Rates are always held in **bytes per second**; ``None`` means unlimited. People (and ISPs)
speak of links in bits, so :func:`parse_rate` reads a bare ``M``/``k`` as megabits/kilobits,
and only an upper-case ``B`` (``MB``, ``KiB``) means bytes. :func:`format_rate` writes bits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

from alu_client.core.transfers.base import Control

from .rates import _normalize_rate, format_rate, parse_rate
from .schedule import Schedule, ScheduleRule

__all__ = [
    "Meter",
    "RateLimiter",
    "Schedule",
    "ScheduleRule",
    "format_rate",
    "parse_rate",
]

#: the longest a blocked caller sleeps before it looks again at its control and the clock
MAX_WAIT_SLICE = 0.2
#: under a limit, a block passes the limiters in slices of this many seconds of the slowest rate
SLICE_S = 0.05
#: ... and of at least this many bytes
MIN_SLICE = 4096


class RateLimiter:
    """A thread-safe token bucket shared by any number of transfers.

    It keeps two running totals in bytes: ``issued`` (everything callers have asked to pass)
    and ``paid`` (what the rate has earned since, at most ``burst_s`` seconds ahead of
    ``issued``). A caller reserves its bytes, which may put the bucket into debt, and goes when
    ``paid`` reaches the end of its reservation. So a block bigger than the bucket still passes
    (it just waits longer), callers go in the order they asked, and the long-run rate is exact.
    The bucket starts empty: the first bytes after a (re)start are paced, not burst.

    Because the totals are in bytes and not in deadlines, a new ``rate_bps`` applies at once to
    callers already waiting; they are woken when it changes. ``None`` (or 0) releases them.

    ``sleep`` is for tests with a fake ``clock``: when given, it is called (without the lock)
    instead of waiting on the internal condition, and it must advance the clock.
    """

    def __init__(
        self,
        rate_bps: float | None = None,
        burst_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not burst_s >= 0 or math.isinf(burst_s):
            raise ValueError(f"burst_s must be a finite number of seconds >= 0, not {burst_s!r}")
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._clock = clock
        self._sleep = sleep
        self._burst_s = float(burst_s)
        self._rate = _normalize_rate(rate_bps)
        self._issued = 0.0
        self._paid = 0.0
        self._last = clock()
        self._waiting = 0

    # -- the rate ---------------------------------------------------------------------------

    @property
    def rate_bps(self) -> float | None:
        """Bytes per second, or None when unlimited."""
        with self._lock:
            return self._rate

    @rate_bps.setter
    def rate_bps(self, value: float | None) -> None:
        rate = _normalize_rate(value)
        with self._cond:
            now = self._clock()
            self._refill(now)  # what was earned so far was earned at the old rate
            if self._rate is None and rate is not None:
                self._paid = self._issued  # coming out of "unlimited": an empty bucket
                self._last = now
            self._rate = rate
            self._cond.notify_all()

    @property
    def burst_s(self) -> float:
        return self._burst_s

    @property
    def waiting(self) -> int:
        """How many callers are held back right now."""
        with self._lock:
            return self._waiting

    # -- passing bytes ------------------------------------------------------------------------

    def acquire(self, nbytes: int, control: Control | None = None) -> None:
        """Block until ``nbytes`` may pass. Raises ``Stopped`` (within ``MAX_WAIT_SLICE``, in
        practice at once) when ``control`` asks to stop while waiting."""
        if control is not None:
            control.check()
        if nbytes <= 0:
            return
        self.wait_for(self.reserve(nbytes), control)

    def reserve(self, nbytes: int) -> float:
        """Put ``nbytes`` in the queue without waiting; returns the ticket for ``wait_for``.

        Reserving on several limiters first and then waiting on each lets their waits overlap,
        so the slowest limiter decides (the waits do not add up)."""
        with self._lock:
            self._refill(self._clock())
            if nbytes > 0:
                self._issued += nbytes
                if self._rate is None:
                    self._paid = self._issued
            return self._issued

    def wait_for(self, ticket: float, control: Control | None = None) -> None:
        """Block until the bytes reserved up to ``ticket`` may pass."""
        with self._lock:
            if self._ready(ticket):
                return
        # Wake at once on a stop (registered outside the lock: a stop that already happened
        # calls ``_wake`` right here, in this thread).
        remove = control.on_stop(self._wake) if control is not None else None
        try:
            with self._cond:
                self._waiting += 1
                try:
                    while True:
                        if control is not None:
                            control.check()
                        if self._ready(ticket):
                            return
                        assert self._rate is not None  # _ready() is True when unlimited
                        missing = ticket - self._paid
                        self._pause(min(missing / self._rate, MAX_WAIT_SLICE))
                finally:
                    self._waiting -= 1
        finally:
            if remove is not None:
                remove()

    # -- inside the lock --------------------------------------------------------------------

    def _ready(self, ticket: float) -> bool:
        if self._rate is None:
            return True
        self._refill(self._clock())
        return self._paid >= ticket

    def _refill(self, now: float) -> None:
        if self._rate is None:
            self._paid = self._issued
            self._last = now
            return
        elapsed = now - self._last
        if elapsed > 0:
            earned = self._paid + elapsed * self._rate
            self._paid = min(earned, self._issued + self._rate * self._burst_s)
            self._last = now

    def _pause(self, seconds: float) -> None:
        seconds = max(seconds, 0.001)
        if self._sleep is None:
            self._cond.wait(seconds)
            return
        self._lock.release()
        try:
            self._sleep(seconds)
        finally:
            self._lock.acquire()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __repr__(self) -> str:
        return f"RateLimiter({format_rate(self.rate_bps)}, burst_s={self._burst_s})"


# --- the meter a job reports to ---------------------------------------------------------------


class Meter:
    """``ctx.meter`` for one job: counts the bytes it moved and holds it back to the slowest of
    its limiters (typically the global one for the direction and the transfer's own).

    The bytes are counted (``on_bytes``) *before* the throttle wait: they have already moved,
    so progress is right even when a stop interrupts the wait with ``Stopped``. Safe to call
    from the several threads of a segmented download.

    Under a limit a block passes in slices of ``SLICE_S`` of the slowest rate, each counted as
    it passes: a 256 KiB read at 100 kB/s counted whole and then waited for moved the progress
    in steps of 2.6 s (speeds shown from 9 to 324 kB/s), and let every stream's first block
    through at once (1.8x the limit over the first 5 s). And one stream of a job at a time
    queues at the limiters (``_turn``): they serve their callers in turn, so a transfer with four
    streams took four shares of a global limit and a one-stream flash item one (786 against
    210 kB/s under 1 MB/s); now each transfer gets an equal share, split among its streams."""

    def __init__(
        self,
        limiters: Sequence[RateLimiter],
        control: Control,
        on_bytes: Callable[[int], None],
    ) -> None:
        unique: list[RateLimiter] = []
        for limiter in limiters:  # the same limiter twice would charge the bytes twice
            if not any(limiter is seen for seen in unique):
                unique.append(limiter)
        self._limiters = tuple(unique)
        self._control = control
        self._on_bytes = on_bytes
        self._lock = threading.Lock()
        self._turn = threading.Lock()
        self._total = 0

    @property
    def total(self) -> int:
        """Bytes counted so far."""
        with self._lock:
            return self._total

    @property
    def limiters(self) -> tuple[RateLimiter, ...]:
        return self._limiters

    def __call__(self, nbytes: int) -> None:
        self._control.check()
        if nbytes <= 0:
            return
        rates = [r for r in (limiter.rate_bps for limiter in self._limiters) if r is not None]
        if not rates:  # unlimited: no slices, no turns (a limit set meanwhile: the next block)
            self._count(nbytes)
            return
        piece = max(MIN_SLICE, int(min(rates) * SLICE_S))
        left = nbytes
        try:
            with self._turn:
                while left > 0:
                    self._control.check()  # a stop while another stream had the turn
                    n = min(piece, left)
                    tickets = [(limiter, limiter.reserve(n)) for limiter in self._limiters]
                    self._count(n)
                    left -= n
                    for limiter, ticket in tickets:
                        limiter.wait_for(ticket, self._control)
        finally:
            if left > 0:  # stopped: the rest has moved all the same
                self._count(left)

    def _count(self, n: int) -> None:
        with self._lock:
            self._total += n
        self._on_bytes(n)


# --- the weekly schedule ----------------------------------------------------------------------
