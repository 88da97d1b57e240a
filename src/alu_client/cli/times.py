"""The times `alu feed`, `alu history` and `alu library search` print: to the minute, with
their UTC offset ("2026-12-07 14:07 +03:00"), or in UTC with ``--utc`` ("2026-12-07 11:07
UTC"). A local time with no zone could not be matched with the agency's report, which counts
whole UTC days: a download at 01:30 in Nairobi is the day before's there."""

from __future__ import annotations

import datetime as dt

UTC_HELP = "print times in UTC (the days the agency's figures count), not this computer's zone"

#: a time no date can say (a hub's year 10000, kept by an older version)
UNKNOWN = "????-??-?? ??:??"


def minute(when: dt.datetime | float, utc: bool) -> str:
    """``when`` (an aware datetime, or seconds since the epoch) to the minute, with its UTC
    offset in this computer's zone, or in UTC (``utc``)."""
    try:
        at = when if isinstance(when, dt.datetime) else dt.datetime.fromtimestamp(when, dt.UTC)
        if utc:
            return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        local = at.astimezone()
    except (OverflowError, OSError, ValueError):
        return UNKNOWN
    return f"{local.strftime('%Y-%m-%d %H:%M')} {_offset(local.utcoffset())}"


def _offset(delta: dt.timedelta | None) -> str:
    """``+03:00``, ``-11:00``, ``+05:45`` (``%z`` has no colon before Python 3.12)."""
    minutes = round((delta or dt.timedelta()).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
