"""The figures the agency reports to its council.

Pushes and uploads are counted from the feed (the hub's own truth); downloads from the history
events the workstations send (a download served by a CDN never reaches the hub): the items a
member downloaded, each once in the period whatever its renditions and repeats. Event times are
the clock-corrected ``occurred_at``. Member figures are those of member accounts (role
``member``): agency staff's own uploads and downloads are not member activity, and the totals
are the sums of the member rows.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from .models import HistoryEvent, Item, Member, utcnow
from .schemas import MemberStats, StatsOut

DOWNLOAD_EVENT = "download_completed"
#: The period asked for when none is: the 30 days up to ``to`` (whole days: today included).
DEFAULT_PERIOD = dt.timedelta(days=30)
#: The longest period counted at once: ten years (a council report needs far less, and a
#: period of thousands of years is a mistake, not a question).
MAX_PERIOD_YEARS = 10
MAX_PERIOD = dt.timedelta(days=MAX_PERIOD_YEARS * 365 + 3)  # with its leap days


class PeriodError(ValueError):
    """Why ``from`` / ``to`` do not make a period the statistics can cover (plain words)."""


def _when(value: str, name: str, *, end: bool) -> dt.datetime:
    """A date (the whole day: its end is the next midnight) or an ISO time (UTC when it has no
    zone), as an aware UTC time."""
    try:
        if len(value) == 10:  # a date: the whole day counts
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    except OverflowError:
        raise PeriodError(
            f"'{name}' {value[:40]!r} is outside the calendar the hub can count in."
        ) from None
    except ValueError:
        raise PeriodError(
            f"'{name}' {value[:40]!r} is not a date (YYYY-MM-DD) or ISO time."
        ) from None


def midnight(when: dt.datetime) -> dt.datetime:
    """The start of ``when``'s day (UTC: the statistics' days are UTC days, as on the page)."""
    return dt.datetime.combine(when.astimezone(dt.UTC).date(), dt.time(), dt.UTC)


def end_of_today(now: dt.datetime) -> dt.datetime:
    """The next midnight (UTC): the exclusive end of a period that includes today."""
    return midnight(now) + dt.timedelta(days=1)


def pledge_days(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> int:
    """The days of ``[start, end)`` the pledge (an upload a day) is counted over: up to today
    included, as the page counts a month in progress: days to come cannot be met yet."""
    counted_end = min(end, end_of_today(now))
    return max(1, math.ceil((counted_end - start).total_seconds() / 86400))


def period(from_: str | None, to: str | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The period ``[start, end)`` of ``from`` and ``to`` (each a date, taken whole, or an ISO
    time; ``to`` defaults to today, taken whole, ``from`` to the midnight 30 days before ``to``);
    PeriodError when it is not one the statistics can cover: a value that is not a date, or
    outside the calendar, ``from`` not before ``to``, or longer than ten years."""
    end = _when(to, "to", end=True) if to else end_of_today(now)
    if from_:
        start = _when(from_, "from", end=False)
    else:
        try:
            # whole days: a period starting at the current time of day cut its first day
            start = midnight(end - DEFAULT_PERIOD)
        except OverflowError:
            raise PeriodError(
                f"'to' {to!r} is too early: the 30 days before it are outside the calendar the "
                "hub can count in."
            ) from None
    if start >= end:
        raise PeriodError("'from' must be before 'to'.")
    if end - start > MAX_PERIOD:
        raise PeriodError(
            f"The period is too long: the statistics cover at most {MAX_PERIOD_YEARS} years at "
            "a time; ask for shorter periods."
        )
    return start, end


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def compute_stats(
    s: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> StatsOut:
    """The figures of ``[start, end)``; the pledge over its days up to today (``pledge_days``)."""
    in_items = (Item.published_at >= start) & (Item.published_at < end)
    pushes = (
        s.scalar(select(func.count()).select_from(Item).where(in_items, Item.kind == "push")) or 0
    )

    uploads_by: dict[int, tuple[int, int]] = {}
    day = (
        func.date(Item.published_at)
        if s.get_bind().dialect.name == "sqlite"
        else func.date_trunc("day", Item.published_at)
    )
    for member_id, count, days in s.execute(
        select(Item.source_member_id, func.count(), func.count(distinct(day)))
        .where(in_items, Item.kind == "member_upload", Item.source_member_id.is_not(None))
        .group_by(Item.source_member_id)
    ):
        assert member_id is not None
        uploads_by[int(member_id)] = (int(count), int(days))

    in_events = (HistoryEvent.occurred_at >= start) & (HistoryEvent.occurred_at < end)
    downloads_by: dict[int, tuple[int, int]] = {}
    # an item counts once per member in the period, whatever its renditions and repeats (a
    # proxy previewed, the broadcast file, the same again after a deletion by hand: 3 for
    # one item); the bytes are all those moved
    for member_id, count, nbytes in s.execute(
        select(
            HistoryEvent.member_id,
            func.count(distinct(HistoryEvent.item_id)),
            func.coalesce(func.sum(HistoryEvent.bytes), 0),
        )
        .where(in_events, HistoryEvent.type == DOWNLOAD_EVENT)
        .group_by(HistoryEvent.member_id)
    ):
        downloads_by[int(member_id)] = (int(count), int(nbytes))

    period_days = pledge_days(start, end, now or utcnow())
    rows: list[MemberStats] = []
    for m in s.scalars(select(Member).where(Member.role == "member").order_by(Member.username)):
        ups, days = uploads_by.get(m.id, (0, 0))
        downs, nbytes = downloads_by.get(m.id, (0, 0))
        rows.append(
            MemberStats(
                username=m.username,
                display_name=m.display_name,
                country=m.country,
                downloads=downs,
                bytes_downloaded=nbytes,
                uploads=ups,
                upload_days=days,
                meets_pledge=days >= period_days,
            )
        )
    # from the rows, not from every account: an agency account's client uploads and downloads
    # too, and counted here it made "2 uploading members" of one
    downloads = sum(r.downloads for r in rows)
    uploads = sum(r.uploads for r in rows)
    uploaders = sum(1 for r in rows if r.uploads)
    summary = (
        f"{_count(pushes, 'push', 'pushes')}, {_count(downloads, 'download')}, "
        f"{_count(uploads, 'upload')} by {_count(uploaders, 'member')}"
    )
    return StatsOut.model_validate(
        {
            "from": start,
            "to": end,
            "pushes": int(pushes),
            "downloads": downloads,
            "uploads": uploads,
            "uploading_members": uploaders,
            "members": rows,
            "summary": summary,
        }
    )
