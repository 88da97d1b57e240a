"""Bandwidth limits: a shared token bucket, the meter a job reports its bytes to, a weekly
schedule of limits, and reading/writing rates the way people type them.

Rates are always held in **bytes per second**; ``None`` means unlimited. People (and ISPs)
speak of links in bits, so :func:`parse_rate` reads a bare ``M``/``k`` as megabits/kilobits,
and only an upper-case ``B`` (``MB``, ``KiB``) means bytes. :func:`format_rate` writes bits.
"""

from __future__ import annotations

import datetime
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alu_client.core.transfers.base import Control

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


def _normalize_rate(rate_bps: float | None) -> float | None:
    if rate_bps is None:
        return None
    if isinstance(rate_bps, bool) or not isinstance(rate_bps, int | float):
        raise TypeError(f"a rate is a number of bytes per second or None, not {rate_bps!r}")
    rate = float(rate_bps)
    if math.isnan(rate) or rate < 0:
        raise ValueError(f"a rate cannot be negative or NaN: {rate_bps!r}")
    if rate == 0 or math.isinf(rate):
        return None
    return rate


# --- the token bucket -------------------------------------------------------------------------


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
    from the several threads of a segmented download."""

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
        with self._lock:
            self._total += nbytes
        self._on_bytes(nbytes)
        tickets = [(limiter, limiter.reserve(nbytes)) for limiter in self._limiters]
        for limiter, ticket in tickets:
            limiter.wait_for(ticket, self._control)


# --- the weekly schedule ----------------------------------------------------------------------

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_LOOKUP = {name.lower(): i for i, name in enumerate(DAY_NAMES)} | {
    full: i
    for i, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_MIDNIGHT = datetime.time(0, 0)


def _describe_days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(7)):
        return "every day"
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{DAY_NAMES[ordered[i]]}-{DAY_NAMES[ordered[j]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in ordered[i : j + 1])
        i = j + 1
    return ", ".join(parts)


def _hhmm(t: datetime.time, *, end: bool = False) -> str:
    if end and t == _MIDNIGHT:
        return "24:00"
    text = f"{t.hour:02d}:{t.minute:02d}"
    if t.second or t.microsecond:
        text += f":{t.second:02d}"
    return text


@dataclass(frozen=True)
class ScheduleRule:
    """Limits that apply on ``days`` (0 = Monday … 6 = Sunday) from ``start`` to ``end``.

    When ``end <= start`` the period crosses midnight: it *starts* on one of ``days`` and runs
    into the next day (Fri 22:00-06:00 covers Friday night into Saturday morning, not Friday
    early morning). ``start == end`` is a whole day from ``start``. A ``None`` rate is
    unlimited (not "use the default")."""

    days: frozenset[int]
    start: datetime.time
    end: datetime.time
    down_bps: float | None
    up_bps: float | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))  # a set or list given anyway
        if not self.days:
            raise ValueError("a schedule rule needs at least one day")
        if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in self.days):
            raise ValueError(f"days are 0 (Monday) to 6 (Sunday), not {sorted(self.days)!r}")
        for name in ("start", "end"):
            if not isinstance(getattr(self, name), datetime.time):
                raise TypeError(f"{name} must be a datetime.time")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("schedule times are local wall-clock times, without a time zone")
        object.__setattr__(self, "down_bps", _normalize_rate(self.down_bps))
        object.__setattr__(self, "up_bps", _normalize_rate(self.up_bps))

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def describe(self) -> str:
        """E.g. ``07:00-19:00 on Mon-Fri``."""
        return f"{_hhmm(self.start)}-{_hhmm(self.end, end=True)} on {_describe_days(self.days)}"

    def matches(self, when: datetime.datetime) -> bool:
        """Whether the rule covers ``when`` (a naive local wall-clock time)."""
        day, t = when.weekday(), when.time()
        if not self.crosses_midnight:
            return day in self.days and self.start <= t < self.end
        if t >= self.start:
            return day in self.days
        if t < self.end:
            return (day - 1) % 7 in self.days  # the part after midnight of yesterday's period
        return False


class Schedule:
    """A weekly schedule of limits, e.g. 2 Mbit/s 07:00-19:00 on weekdays, unlimited at night.

    The first rule that covers a moment wins; when none does, the defaults apply."""

    def __init__(
        self,
        rules: Sequence[ScheduleRule],
        default_down: float | None = None,
        default_up: float | None = None,
    ) -> None:
        self.rules: tuple[ScheduleRule, ...] = tuple(rules)
        self.default_down = _normalize_rate(default_down)
        self.default_up = _normalize_rate(default_up)

    def limits_at(self, when: datetime.datetime) -> tuple[float | None, float | None]:
        """``(down_bps, up_bps)`` at ``when``. A naive ``when`` is taken as local wall-clock
        time; an aware one is first converted to the machine's local time zone."""
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        for rule in self.rules:
            if rule.matches(when):
                return rule.down_bps, rule.up_bps
        return self.default_down, self.default_up

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.rules, self.default_down, self.default_up) == (
            other.rules,
            other.default_down,
            other.default_up,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable attributes: not hashable

    def __repr__(self) -> str:
        rules = "; ".join(
            f"{r.describe()}: down {format_rate(r.down_bps)}, up {format_rate(r.up_bps)}"
            for r in self.rules
        )
        return (
            f"Schedule([{rules}], default down {format_rate(self.default_down)}, "
            f"up {format_rate(self.default_up)})"
        )

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON-ready list: one object per rule, in order, then (only if a default is set)
        ``{"default": true, "down_bps": …, "up_bps": …}``. Rates are bytes/s or null."""
        out: list[dict[str, Any]] = [
            {
                "days": sorted(rule.days),
                "start": _hhmm(rule.start),
                "end": _hhmm(rule.end, end=True),
                "down_bps": rule.down_bps,
                "up_bps": rule.up_bps,
            }
            for rule in self.rules
        ]
        if self.default_down is not None or self.default_up is not None:
            out.append({"default": True, "down_bps": self.default_down, "up_bps": self.default_up})
        return out

    @classmethod
    def from_json(cls, data: object) -> Schedule:
        """Read what :meth:`to_json` wrote. Also accepted: days as names or a text like
        ``"Mon-Fri"`` / ``"Sat, Sun"``, rates as text like ``"2M"`` (see :func:`parse_rate`),
        and ``"24:00"`` as an end time. Raises ValueError naming the faulty rule."""
        if not isinstance(data, list):
            raise ValueError("a bandwidth schedule is a list of rules")
        rules: list[ScheduleRule] = []
        defaults: tuple[float | None, float | None] | None = None
        for index, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ValueError(f"rule {index} of the bandwidth schedule is not an object")
            if item.get("default") is True:
                if defaults is not None:
                    raise ValueError("the bandwidth schedule has more than one default entry")
                _check_keys(item, {"default", "down_bps", "up_bps"}, "the default entry")
                defaults = (
                    _json_rate(item.get("down_bps"), "the default entry", "down_bps"),
                    _json_rate(item.get("up_bps"), "the default entry", "up_bps"),
                )
                continue
            rules.append(_rule_from_json(item, index))
        down, up = defaults if defaults is not None else (None, None)
        return cls(rules, default_down=down, default_up=up)


def _rule_label(item: dict[str, Any], index: int) -> str:
    """``rule 2 (07:00-19:00 on Mon-Fri)`` as far as the raw entry allows."""
    try:
        start, end = str(item.get("start", "?")), str(item.get("end", "?"))
        try:
            days = _describe_days(_json_days(item.get("days"), ""))
        except ValueError:
            days = str(item.get("days", "?"))
        return f"rule {index} ({start}-{end} on {days})"
    except Exception:  # a label must never hide the real error
        return f"rule {index}"


def _check_keys(item: dict[str, Any], allowed: set[str], label: str) -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        raise ValueError(
            f"{label}: unknown field(s) {', '.join(unknown)} "
            f"(expected {', '.join(sorted(allowed))})"
        )


def _rule_from_json(item: dict[str, Any], index: int) -> ScheduleRule:
    label = _rule_label(item, index)
    _check_keys(item, {"days", "start", "end", "down_bps", "up_bps"}, label)
    for key in ("days", "start", "end"):
        if key not in item:
            raise ValueError(f"{label}: '{key}' is missing")
    days = _json_days(item["days"], label)
    start = _json_time(item["start"], label, "start", allow_24=False)
    end = _json_time(item["end"], label, "end", allow_24=True)
    return ScheduleRule(
        days=days,
        start=start,
        end=end,
        down_bps=_json_rate(item.get("down_bps"), label, "down_bps"),
        up_bps=_json_rate(item.get("up_bps"), label, "up_bps"),
    )


def _day_number(value: object, label: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower() in _DAY_LOOKUP:
        return _DAY_LOOKUP[value.strip().lower()]
    raise ValueError(
        f"{label}: {value!r} is not a day (use 0-6 for Monday-Sunday, or Mon…Sun)".lstrip(": ")
    )


def _json_days(value: object, label: str) -> frozenset[int]:
    days: set[int] = set()
    if isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            if "-" in part:
                first, _, last = part.partition("-")
                a, b = _day_number(first, label), _day_number(last, label)
                if b < a:
                    raise ValueError(f"{label}: the day range {part!r} runs backwards".lstrip(": "))
                days.update(range(a, b + 1))
            elif part:
                days.add(_day_number(part, label))
    elif isinstance(value, list):
        days.update(_day_number(v, label) for v in value)
    else:
        raise ValueError(f"{label}: 'days' must be a list like [0, 1, 2] or text like 'Mon-Fri'")
    if not days:
        raise ValueError(f"{label}: 'days' is empty".lstrip(": "))
    return frozenset(days)


_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _json_time(value: object, label: str, key: str, *, allow_24: bool) -> datetime.time:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is not None:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if allow_24 and (hour, minute, second) == (24, 0, 0):
            return _MIDNIGHT
        if hour <= 23 and minute <= 59 and second <= 59:
            return datetime.time(hour, minute, second)
    hint = " (or 24:00)" if allow_24 else ""
    raise ValueError(f"{label}: '{key}' must be a time like 07:00{hint}, not {value!r}")


def _json_rate(value: object, label: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_rate(value)
        except ValueError as exc:
            raise ValueError(f"{label}: '{key}': {exc}") from None
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    ):
        return _normalize_rate(value)
    raise ValueError(
        f"{label}: '{key}' must be bytes per second (a number >= 0), a rate like \"2M\", "
        f"or null for unlimited, not {value!r}"
    )


# --- rates as text ----------------------------------------------------------------------------

_UNLIMITED_WORDS = frozenset({"unlimited", "none", "off", "no limit", "∞"})
_NUMBER_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*(.*?)\s*$")
_PER_SECOND_RE = re.compile(r"(?:\s*/\s*s(?:ec(?:ond)?)?|\s+per\s+second|ps)$", re.IGNORECASE)
#: prefix, binary marker, then bits ("bit", "b", nothing) or bytes ("byte", "B", French "o")
_UNIT_RE = re.compile(r"([kKmMgGtT]?)(i?)((?i:bits?|bytes?)|b|B|o|)")
_PREFIX = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_rate(text: str) -> float | None:
    """Read a rate as people write it; returns bytes per second, or None for unlimited.

    Network convention: ``M``, ``Mb``, ``Mbit``, ``Mbps`` (and a bare number) are **bits**
    per second; only an upper-case ``B``, the word ``byte`` or the French ``o`` (octet) mean
    bytes (``MB``, ``MB/s``, ``MiB``, ``Mo/s``). ``k``/``M``/``G`` are powers of 1000,
    ``Ki``/``Mi``/``Gi`` of 1024. ``0``, ``unlimited``, ``none`` and ``off`` mean no limit.

    >>> parse_rate("2M"), parse_rate("500 KiB/s"), parse_rate("1.5MB/s")
    (250000.0, 512000.0, 1500000.0)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_rate() reads text, not {type(text).__name__}")
    if text.strip().lower() in _UNLIMITED_WORDS:
        return None
    match = _NUMBER_RE.match(text)
    if match is None:
        raise ValueError(_junk(text))
    number = float(match[1] + (f"e{match[2]}" if match[2] else ""))
    unit = _PER_SECOND_RE.sub("", match[3]).strip()
    unit_match = _UNIT_RE.fullmatch(unit)
    if unit_match is None or (unit_match[2] and not unit_match[1]):
        raise ValueError(_junk(text))
    prefix, binary, kind = unit_match[1].lower(), unit_match[2], unit_match[3]
    scale = float((1024 if binary else 1000) ** _PREFIX[prefix])
    is_bytes = kind in {"B", "o"} or kind.lower().startswith("byte")
    value = number * scale / (1 if is_bytes else 8)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is too large to be a rate")
    return value if value > 0 else None


def _junk(text: str) -> str:
    return (
        f"can't read {text!r} as a rate; write e.g. '2M' or '2 Mbit/s' (megabits per second), "
        f"'500 KB/s' (kilobytes per second) or 'unlimited'"
    )


_BIT_UNITS = (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3))


def format_rate(bps: float | None) -> str:
    """Bytes per second as bits for people: ``2.0 Mbit/s``, ``500.0 kbit/s``, ``unlimited``."""
    rate = _normalize_rate(bps)
    if rate is None:
        return "unlimited"
    bits = rate * 8
    for unit, size in _BIT_UNITS:
        if round(bits / size, 1) >= 1:
            return f"{bits / size:.1f} {unit}"
    return f"{bits:.1f} bit/s"
