"""The figures the agency reports to its council.

Pushes and uploads are counted from the feed (the hub's own truth): a push on the day it was
published, a member upload on the day its last byte reached the hub (``Item.received_at``; its
``published_at`` for items from before it was kept), not the day the hub finished making its
proxy. Downloads are counted from the history events the workstations send (a download served by
a CDN never reaches the hub): the items a member downloaded, each once in the period whatever its
renditions and repeats, only items that exist, and each event's bytes at most the size of the
rendition it names (of the largest, for a name the item does not have): the events are the
member's word, and a bogus one must not add to its figures. Event times are the clock-corrected
``occurred_at``.

The period's days are 24-hour steps from its start (UTC midnights for dates; an offset given
with a time moves them), and an upload's day is the step it falls in. The pledge (an upload a
day) is judged on the days up to today, and for each member only on the days it was a member:
from the day it joined (``Member.created_at``) to the day it was disabled
(``Member.disabled_at``). A member is listed for a period it was a member in (or had activity
in); a period not begun yet has no day to judge (``pledge_days`` 0, ``meets_pledge`` None).

Member figures are those of member accounts (role ``member``): agency staff's own uploads and
downloads are not member activity, and the totals are the sums of the member rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session, aliased

from .models import HistoryEvent, Item, Member, Rendition, utcnow
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


DAY = dt.timedelta(days=1)


def period_days(start: dt.datetime, end: dt.datetime) -> int:
    """The days of ``[start, end)``: 24-hour steps from ``start``, a part of one counting."""
    return math.ceil((end - start) / DAY)


def day_of(when: dt.datetime, start: dt.datetime) -> int:
    """The day of the period starting at ``start`` that ``when`` falls in (0: the first; below
    0: before the period)."""
    return (when - start) // DAY


def pledge_days(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> int:
    """The days of ``[start, end)`` the pledge (an upload a day) is counted over: up to today
    (the period's day that holds ``now``) included, as the page counts a month in progress:
    days to come cannot be met yet. 0 for a period that has not begun."""
    if now < start:
        return 0
    return min(period_days(start, end), day_of(now, start) + 1)


def asked_zone(*values: str | None) -> dt.tzinfo:
    """The zone a period was asked in: the offset of the first ISO time given with one (UTC
    for dates and times without one), for showing the period as asked."""
    for value in values:
        if value and len(value) > 10:
            with contextlib.suppress(ValueError):
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if when.tzinfo is not None:
                    return when.tzinfo
    return dt.UTC


def describe_period(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo = dt.UTC) -> str:
    """``[start, end)`` as asked: its first and last days when it runs from midnight to
    midnight in ``zone`` (``2026-12-02 to 2026-12-03``), else its two times; the zone named
    unless it is UTC."""
    first, stop = start.astimezone(zone), end.astimezone(zone)
    whole_days = first.time() == dt.time() and stop.time() == dt.time()
    if whole_days:
        last = stop - dt.timedelta(microseconds=1)
        text = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    else:
        text = f"{first:%Y-%m-%d %H:%M} to {stop:%Y-%m-%d %H:%M}"
    if first.utcoffset():
        text += f" ({first.tzname()})"  # UTC+03:00
    return text


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


#: An upload is published after it arrived (``published_at`` ≥ ``received_at``, give or take
#: the clocks of replicas: a day of slack), so a period's uploads are looked for through the
#: index on ``published_at``.
_PUBLISHED_BEFORE_RECEIVED = dt.timedelta(days=1)
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC) + _PUBLISHED_BEFORE_RECEIVED


def compute_stats(
    s: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> StatsOut:
    """The figures of ``[start, end)``; the pledge over its days up to today (``pledge_days``),
    for each member those it was a member on."""
    in_items = (Item.published_at >= start) & (Item.published_at < end)
    pushes = (
        s.scalar(select(func.count()).select_from(Item).where(in_items, Item.kind == "push")) or 0
    )

    # A member's uploads, each on the period's day its bytes arrived (computed here: a day of
    # the period is a 24-hour step from its start, not a UTC date, when it was asked with an
    # offset; a period's uploads are few)
    arrived = func.coalesce(Item.received_at, Item.published_at)
    upload_days_by: dict[int, list[int]] = {}
    for member_id, when in s.execute(
        select(Item.source_member_id, arrived).where(
            Item.published_at >= max(start, _EARLIEST) - _PUBLISHED_BEFORE_RECEIVED,
            arrived >= start,
            arrived < end,
            Item.kind == "member_upload",
            Item.source_member_id.is_not(None),
        )
    ):
        assert member_id is not None
        upload_days_by.setdefault(int(member_id), []).append(day_of(when, start))

    in_events = (HistoryEvent.occurred_at >= start) & (HistoryEvent.occurred_at < end)
    named = aliased(Rendition)
    largest = (
        select(func.max(Rendition.size))
        .where(Rendition.item_id == HistoryEvent.item_id)
        .scalar_subquery()
    )
    # bytes at most the size of the rendition the event names (the largest, for a name the
    # item does not have): a workstation's word is not taken for more than the file
    size = func.coalesce(named.size, largest, 0)
    counted_bytes = case((HistoryEvent.bytes > size, size), else_=HistoryEvent.bytes)
    downloads_by: dict[int, tuple[int, int]] = {}
    # an item counts once per member in the period, whatever its renditions and repeats (a
    # proxy previewed, the broadcast file, the same again after a deletion by hand: 3 for
    # one item); the bytes are all those moved. Only items in the feed: an event names any
    # id its workstation sends (never refused: an outbox must not stick, and an item can be
    # missing after a restore), and one for no item is no download.
    for member_id, count, nbytes in s.execute(
        select(
            HistoryEvent.member_id,
            func.count(distinct(HistoryEvent.item_id)),
            func.coalesce(func.sum(counted_bytes), 0),
        )
        .join(Item, Item.id == HistoryEvent.item_id)
        .outerjoin(
            named, (named.item_id == HistoryEvent.item_id) & (named.name == HistoryEvent.rendition)
        )
        .where(in_events, HistoryEvent.type == DOWNLOAD_EVENT)
        .group_by(HistoryEvent.member_id)
    ):
        downloads_by[int(member_id)] = (int(count), int(nbytes))

    counted = pledge_days(start, end, now or utcnow())
    rows: list[MemberStats] = []
    for m in s.scalars(select(Member).where(Member.role == "member").order_by(Member.username)):
        # the days it was a member: from the day it joined to the day it was disabled
        first = max(0, day_of(m.created_at, start))
        last = counted if m.disabled_at is None else min(counted, day_of(m.disabled_at, start) + 1)
        days_judged = max(0, last - first)
        was_member = m.created_at < end and (m.disabled_at is None or m.disabled_at > start)
        if not was_member and m.id not in upload_days_by and m.id not in downloads_by:
            # joined after the period, or left before it: not one of its members (a closed
            # month's "of N members" no longer changes when a broadcaster joins)
            continue
        up = upload_days_by.get(m.id, [])
        days = len({d for d in up if first <= d < last})
        downs, nbytes = downloads_by.get(m.id, (0, 0))
        rows.append(
            MemberStats(
                username=m.username,
                display_name=m.display_name,
                country=m.country,
                downloads=downs,
                bytes_downloaded=nbytes,
                uploads=len(up),
                upload_days=days,
                pledge_days=days_judged,
                meets_pledge=days >= days_judged if days_judged else None,
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
            "pledge_days": counted,
            "members": rows,
            "summary": summary,
        }
    )
