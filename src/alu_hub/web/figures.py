"""The council's figures by calendar month (UTC), from ``stats.compute_stats``.

A month's period is the whole month, or for the month in progress its days so far (today
included), so "days with an upload / days in the period" means the same thing on the page, in
the CSV and in ``GET /api/v1/stats?from=…&to=…`` for the same dates. A month's members are
those that were members in it: one that joined or was disabled during it is judged on its own
days (``MemberStats.pledge_days``), one that joined later is not in it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..schemas import StatsOut
from ..stats import compute_stats, end_of_today, pledge_days

#: How many months the month-by-month charts show, ending with the chosen one.
HISTORY_MONTHS = 12
#: How many months back the month selector offers (any month can still be asked by address).
SELECTOR_MONTHS = 24

#: ASCII digits only (``\d`` would take ``٢٠٢٦-٠١`` too, and int() reads it)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
#: English month names (not strftime's: it follows the process locale).
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` → Month; ValueError for anything else."""
        m = _MONTH.fullmatch(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
            raise ValueError(f"{text!r} is not a month (YYYY-MM)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, when: dt.datetime) -> Month:
        when = when.astimezone(dt.UTC)
        return cls(when.year, when.month)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    def shifted(self, months: int) -> Month:
        n = self.year * 12 + (self.month - 1) + months
        return Month(n // 12, n % 12 + 1)

    @property
    def label(self) -> str:
        """``October 2026``"""
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def short(self) -> str:
        """``Oct 2026``"""
        return f"{MONTH_NAMES[self.month - 1][:3]} {self.year}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Period:
    month: Month
    start: dt.datetime
    end: dt.datetime
    #: days in the period: the pledge is one upload on each of them
    days: int
    #: the month is still going on: the period ends tonight
    to_date: bool

    @classmethod
    def of(cls, month: Month, now: dt.datetime) -> Period:
        """The month, or its days up to today included; ValueError if it has not begun."""
        start = month.start
        if start > now:
            raise ValueError(f"{month.label} has not begun yet")
        month_end = month.shifted(1).start
        end = min(month_end, end_of_today(now))
        # The same count as compute_stats uses for meets_pledge.
        days = pledge_days(start, end, now)
        return cls(month, start, end, days, end < month_end)

    @property
    def label(self) -> str:
        if self.to_date:
            last = (self.end - dt.timedelta(days=1)).day
            days = f"1–{last}" if last > 1 else "1"
            return f"{days} {self.month.label} (month to date)"
        return self.month.label


@dataclass(frozen=True)
class MonthFigures:
    period: Period
    stats: StatsOut

    @property
    def members(self) -> int:
        return len(self.stats.members)

    @property
    def judged(self) -> int:
        """The members whose pledge is judged: those with a day in the period as a member."""
        return sum(1 for r in self.stats.members if r.meets_pledge is not None)

    @property
    def meeting_pledge(self) -> int:
        return sum(1 for r in self.stats.members if r.meets_pledge)


@dataclass(frozen=True)
class Figures:
    """The chosen month, and the months before it (oldest first, the chosen one last)."""

    months: list[MonthFigures]

    @property
    def selected(self) -> MonthFigures:
        return self.months[-1]


def month_figures(s: Session, period: Period, now: dt.datetime | None = None) -> MonthFigures:
    """The figures of ``period``, as of ``now`` (default: the hub's clock)."""
    return MonthFigures(period, compute_stats(s, period.start, period.end, now))


def council_figures(
    s: Session, month: Month, now: dt.datetime, history: int = HISTORY_MONTHS
) -> Figures:
    """``month`` and the ``history - 1`` months before it. ValueError if it has not begun."""
    periods = [Period.of(month.shifted(-k), now) for k in range(history - 1, -1, -1)]
    return Figures([month_figures(s, p, now) for p in periods])


def selector_months(now: dt.datetime, chosen: Month, count: int = SELECTOR_MONTHS) -> list[Month]:
    """The months the selector offers, newest first: the last ``count``, and the chosen one."""
    current = Month.of(now)
    months = {current.shifted(-k) for k in range(count)} | {chosen}
    return sorted(months, reverse=True)
