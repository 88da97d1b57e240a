"""The figures the agency reports to its council.

Pushes and uploads are counted from the feed (the hub's own truth): a push on the day it was
published, a member upload on the day its last byte reached the hub (``Item.received_at``; its
``published_at`` for items from before it was kept), not the day the hub finished making its
proxy. Downloads are counted from the history events the workstations send (a download served by
a CDN never reaches the hub): the items a member downloaded, each once in the period whatever its
renditions and repeats, only items that exist, and each event's bytes at most the size of the
rendition it names (of the largest, for a name the item does not have): the events are the
member's word, and a bogus one must not add to its figures. Event times are the clock-corrected
``occurred_at``: a download counts on the day it ended, whenever it was reported.

A workstation reports its downloads when it is next online and signed in (offline, signed out,
its member disabled, the hub down: the events wait in its outbox), so a period's download
figures can still grow after it ended. The figures say so: ``as_of``, when they were computed,
and for a period that has ended ``downloads_reported_late``, how many of its downloads the hub
heard of only after its end (``HistoryEvent.received_at``, the hub's clock, at or after it for
every event of the item in the period): the figure at the period's end was that many fewer.

The period's days are 24-hour steps from its start (UTC midnights for dates; an offset given
with a time moves them), and an upload's day is the step it falls in. A period whose start and
end are in different offsets (a change of daylight saving time inside it: Cairo's 29 and 30
October 2025 are ``2025-10-29T00:00+03:00`` to ``2025-10-31T00:00+02:00``, 49 hours) counts
local days: the end's local date and time less the start's (2 days, not 3). The hub does not
know the zone's rules, only the two offsets: the days between are 24-hour steps from the start,
in its offset, and the last day runs to the end, in the end's, so the change is taken to fall
in the last day (23 or 25 hours long); the other days are 24 hours. A date, a time without an
offset and the default period are UTC. The pledge (an upload a
day) is judged on the days up to today, and for each member only on the days it was a member:
from the day it joined (``Member.created_at``) to the day it was disabled
(``Member.disabled_at``; ``disabled_since`` in its row while it is disabled). A member is
listed for a period it was a member in (or had activity in); a period not begun yet has no day
to judge (``pledge_days`` 0, ``meets_pledge`` None).

An item the agency withdrew (``Item.withdrawn_at``) is no push, nor a member's upload (it was
taken down, not shared), whenever it was withdrawn; the downloads of it that happened stay
counted.

Member figures are those of member accounts (role ``member``): agency staff's own uploads and
downloads are not member activity, and the totals are the sums of the member rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re

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
    """A date (the whole day, UTC: its end is the next midnight) or an ISO time (UTC when it
    has no zone), as an aware time in the offset it was given in (its days are counted in
    it, ``period_days``)."""
    try:
        if len(value) == 10:  # a date: the whole day counts
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.UTC)
        when.astimezone(dt.UTC)  # (in the calendar as a UTC time too: the database's)
        return when
    except OverflowError:
        raise PeriodError(
            f"'{name}' {value[:40]!r} is outside the calendar the hub can count in."
        ) from None
    except ValueError:
        if _LOST_PLUS.search(value):
            raise PeriodError(
                f"'{name}' {value[:40]!r} has a space where its offset's '+' was: in a URL a "
                "'+' reads as a space; write it as %2B (for example "
                f"{name}=2026-12-07T00:00:00%2B03:00)."
            ) from None
        raise PeriodError(
            f"'{name}' {value[:40]!r} is not a date (YYYY-MM-DD) or ISO time."
        ) from None


#: An ISO time whose offset's "+" became a space (URL decoding of a query left unencoded).
_LOST_PLUS = re.compile(r"T[0-9:.,]+ [0-9]{2}(:?[0-9]{2})?$")


def midnight(when: dt.datetime) -> dt.datetime:
    """The start of ``when``'s day (UTC: the statistics' days are UTC days, as on the page)."""
    return dt.datetime.combine(when.astimezone(dt.UTC).date(), dt.time(), dt.UTC)


def end_of_today(now: dt.datetime) -> dt.datetime:
    """The next midnight (UTC): the exclusive end of a period that includes today."""
    return midnight(now) + dt.timedelta(days=1)


DAY = dt.timedelta(days=1)


def _offset_change(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """How far the offset of ``end`` is ahead of that of ``start``: 0 for a period in one
    offset, -1 h across the end of daylight saving time, +1 h across its start."""
    return (end.utcoffset() or dt.timedelta()) - (start.utcoffset() or dt.timedelta())


def period_days(start: dt.datetime, end: dt.datetime) -> int:
    """The days of ``[start, end)``: 24-hour steps from ``start``, a part of one counting. Across
    a change of offset (``start`` and ``end`` in different ones), local days: the end's local
    date and time less the start's, a part of a day counting; at least one day, and never a
    day that would begin after the end."""
    steps = math.ceil((end - start) / DAY)
    change = _offset_change(start, end)
    if not change:
        return steps
    return max(1, min(steps, math.ceil((end - start + change) / DAY)))


def day_of(when: dt.datetime, start: dt.datetime, end: dt.datetime) -> int:
    """The day of the period ``[start, end)`` that ``when`` falls in (0: the first; below 0:
    before the period; ``period_days`` or more: after it). Across a change of offset, its last
    day runs to ``end`` (23 or 25 hours), and the days after it are 24-hour steps from ``end``."""
    if not _offset_change(start, end):
        return (when - start) // DAY
    days = period_days(start, end)
    if when >= end:
        return days + (when - end) // DAY
    return min((when - start) // DAY, days - 1)


def pledge_days(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> int:
    """The days of ``[start, end)`` the pledge (an upload a day) is counted over: up to today
    (the period's day that holds ``now``) included, as the page counts a month in progress:
    days to come cannot be met yet. 0 for a period that has not begun."""
    if now < start:
        return 0
    return min(period_days(start, end), day_of(now, start, end) + 1)


def describe_period(start: dt.datetime, end: dt.datetime) -> str:
    """``[start, end)`` as asked, each end in the offset it was given in: its first and last
    days when it runs from midnight to midnight (``2026-12-02 to 2026-12-03``), else its two
    times; the offset named unless it is UTC, both when they differ (a change of daylight
    saving time inside: ``2025-10-29 to 2025-10-30 (UTC+03:00, then UTC+02:00)``)."""
    whole_days = start.time() == dt.time() and end.time() == dt.time()
    if whole_days:
        last = end - dt.timedelta(microseconds=1)
        text = f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    else:
        text = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    if _offset_change(start, end):
        if whole_days:
            return f"{text} ({start.tzname()}, then {end.tzname()})"
        return f"{start:%Y-%m-%d %H:%M} ({start.tzname()}) to {end:%Y-%m-%d %H:%M} ({end.tzname()})"
    if start.utcoffset():
        text += f" ({start.tzname()})"  # UTC+03:00
    return text


def period(
    from_: str | None,
    to: str | None,
    now: dt.datetime,
    default: dt.timedelta = DEFAULT_PERIOD,
) -> tuple[dt.datetime, dt.datetime]:
    """The period ``[start, end)`` of ``from`` and ``to`` (each a date, taken whole, or an ISO
    time; ``to`` defaults to today, taken whole, ``from`` to the midnight ``default`` (30 days)
    before ``to``),
    each in the offset it was given in (UTC for a date and a default; see ``period_days``);
    PeriodError when it is not one the statistics can cover: a value that is not a date, or
    outside the calendar, ``from`` not before ``to``, or longer than ten years."""
    given = _when(from_, "from", end=False) if from_ else None  # the first one named wrong
    end = _when(to, "to", end=True) if to else end_of_today(now)
    if given is not None:
        start = given
    else:
        try:
            # whole days: a period starting at the current time of day cut its first day
            start = midnight(end - default)
        except OverflowError:
            raise PeriodError(
                f"'to' {to!r} is too early: the {default.days} days before it are outside the "
                "calendar the hub can count in."
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


#: Said with every report: why a past day's figures are not final.
LATE_REPORTS = (
    "Workstations report their downloads when they are next online and signed in, so the "
    "figures of past days can still grow."
)


#: Said where the figures are explained (the statistics page): what a withdrawal does to them.
WITHDRAWN_NOT_COUNTED = (
    "Items the agency withdrew are counted neither as pushes nor as uploads; downloads of them "
    "stay counted."
)


def as_of_text(when: dt.datetime) -> str:
    """When figures were computed, for people: ``2026-12-11 14:03 UTC``."""
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def late_note(downloads: int, late: int | None, period: str = "period") -> str:
    """How many of a period's ``downloads`` were reported after it ended (``late``: None while
    it goes on, and then there is nothing to say; nor without downloads): "3 of these 120
    downloads were reported after the month ended." """
    if late is None or not downloads:
        return ""
    if downloads == 1:
        return f"This download was reported {'after' if late else 'before'} the {period} ended."
    if not late:
        return f"None of these {downloads:,} downloads was reported after the {period} ended."
    return (
        f"{late:,} of these {downloads:,} downloads {'was' if late == 1 else 'were'} reported "
        f"after the {period} ended."
    )


#: An upload is published after it arrived (``published_at`` ≥ ``received_at``, give or take
#: the clocks of replicas: a day of slack), so a period's uploads are looked for through the
#: index on ``published_at``.
_PUBLISHED_BEFORE_RECEIVED = dt.timedelta(days=1)
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC) + _PUBLISHED_BEFORE_RECEIVED


def compute_stats(
    s: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> StatsOut:
    """The figures of ``[start, end)``; the pledge over its days up to today (``pledge_days``),
    for each member those it was a member on. The days are counted in the offsets of ``start``
    and ``end`` (``period_days``); the figures give them in UTC."""
    asked = start, end
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)  # for the database: UTC
    now = now or utcnow()
    ended = end <= now

    def day(when: dt.datetime) -> int:
        return day_of(when, *asked)

    in_items = (Item.published_at >= start) & (Item.published_at < end)
    pushes = (
        s.scalar(
            select(func.count())
            .select_from(Item)
            .where(in_items, Item.kind == "push", Item.withdrawn_at.is_(None))
        )
        or 0
    )

    # A member's uploads, each on the period's day its bytes arrived (computed here: a day of
    # the period is a 24-hour step from its start, not a UTC date, when it was asked with an
    # offset, and a local day across a change of offset; a period's uploads are few)
    arrived = func.coalesce(Item.received_at, Item.published_at)
    upload_days_by: dict[int, list[int]] = {}
    for member_id, when in s.execute(
        select(Item.source_member_id, arrived).where(
            Item.published_at >= max(start, _EARLIEST) - _PUBLISHED_BEFORE_RECEIVED,
            arrived >= start,
            arrived < end,
            Item.kind == "member_upload",
            Item.source_member_id.is_not(None),
            Item.withdrawn_at.is_(None),  # taken down: not shared
        )
    ):
        assert member_id is not None
        upload_days_by.setdefault(int(member_id), []).append(day(when))

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
    # an item counts once per member in the period, whatever its renditions and repeats (a
    # proxy previewed, the broadcast file, the same again after a deletion by hand: 3 for
    # one item); the bytes are the sizes of the files of its completed downloads, each time
    # (not the bytes that crossed the link: a file fetched again after damage counts once, a
    # file found in place counts its size). Only items in the feed: an event names any
    # id its workstation sends (never refused: an outbox must not stick, and an item can be
    # missing after a restore), and one for no item is no download.
    downloads_of = (
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
    )
    downloads_by: dict[int, tuple[int, int]] = {
        int(member_id): (int(count), int(nbytes))
        for member_id, count, nbytes in s.execute(downloads_of)
    }
    # for a period that has ended: the downloads the hub knew of at its end (an event of the
    # item received before it); the others were reported late. Counted, not compared with a
    # stored figure: the same whenever it is asked.
    on_time_by: dict[int, int] = {}
    if ended:
        on_time_by = {
            int(member_id): int(count)
            for member_id, count, _bytes in s.execute(
                downloads_of.where(HistoryEvent.received_at < end)
            )
        }

    counted = pledge_days(*asked, now)
    rows: list[MemberStats] = []
    for m in s.scalars(select(Member).where(Member.role == "member").order_by(Member.username)):
        # the days it was a member: from the day it joined to the day it was disabled
        first = max(0, day(m.created_at))
        last = counted if m.disabled_at is None else min(counted, day(m.disabled_at) + 1)
        days_judged = max(0, last - first)
        was_member = m.created_at < end and (m.disabled_at is None or m.disabled_at > start)
        if not was_member and m.id not in upload_days_by and m.id not in downloads_by:
            # joined after the period, or left before it: not one of its members (a closed
            # month's "of N members" no longer changes when a broadcaster joins)
            continue
        up = upload_days_by.get(m.id, [])
        days = len({d for d in up if first <= d < last})
        downs, nbytes = downloads_by.get(m.id, (0, 0))
        late = downs - on_time_by.get(m.id, 0) if ended else None
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
                downloads_reported_late=late,
                disabled_since=None if m.active else m.disabled_at,
            )
        )
    # from the rows, not from every account: an agency account's client uploads and downloads
    # too, and counted here it made "2 uploading members" of one
    downloads = sum(r.downloads for r in rows)
    uploads = sum(r.uploads for r in rows)
    uploaders = sum(1 for r in rows if r.uploads)
    late_total = sum(r.downloads_reported_late or 0 for r in rows) if ended else None
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
            "downloads_reported_late": late_total,
            "as_of": now,
            "members": rows,
            "summary": summary,
        }
    )
