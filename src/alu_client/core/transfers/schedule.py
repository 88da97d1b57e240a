"""A weekly schedule of bandwidth limits (e.g. 2 Mbit/s 07:00-19:00 on weekdays)."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rates import _normalize_rate, format_rate, parse_rate

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
        rule = self.rule_at(when)
        if rule is not None:
            return rule.down_bps, rule.up_bps
        return self.default_down, self.default_up

    def rule_at(self, when: datetime.datetime) -> ScheduleRule | None:
        """The rule that sets the limits at ``when`` (the first that covers it), or None when
        the defaults apply. ``when`` is read as :meth:`limits_at` reads it."""
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        for rule in self.rules:
            if rule.matches(when):
                return rule
        return None

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
            return parse_rate(value, floor=False)
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
