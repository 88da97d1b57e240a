"""``alu-hub items list`` / ``items show`` (what was published, and who downloaded an item)
and ``alu-hub stats --csv`` (the monthly CSV's columns for any period)."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

from .cli import Refused, _hub, add_period_options, asked_period
from .item_report import ItemReport, find_item, item_report, list_items
from .models import Member, utcnow
from .schemas import StatsOut
from .stats import describe_period, end_of_today, pledge_days

#: ``items list`` without ``--from``: the 7 days up to today.
LIST_PERIOD = dt.timedelta(days=7)
#: ``items list`` without ``--limit``.
LIST_LIMIT = 100
KINDS = ("push", "member_upload")
#: Said under every ``items show``: why the lists are not final.
ITEM_REPORTS = (
    "Workstations report their downloads when they are next online and signed in, so these "
    "lists can still change."
)


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of at least 1")
    return n


def add_item_report_commands(
    isub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """``items list`` and ``items show`` in the ``items`` group's sub-commands."""
    ls = isub.add_parser(
        "list", parents=[common], help="the items published in a period, newest first"
    )
    add_period_options(ls, LIST_PERIOD.days)
    ls.add_argument("--member", metavar="NAME", help="only the uploads of this member")
    ls.add_argument("--kind", choices=KINDS, help="only pushes, or only member uploads")
    ls.add_argument(
        "--limit",
        type=_at_least_one,
        default=LIST_LIMIT,
        metavar="N",
        help=f"the newest N items at most (default: {LIST_LIMIT})",
    )
    ls.add_argument("--json", action="store_true", help="the list as JSON")
    ls.set_defaults(func=cmd_items_list)

    show = isub.add_parser(
        "show", parents=[common], help="an item, and which members downloaded it"
    )
    show.add_argument("item", metavar="ID_OR_SEQ", help="the item's id, or its seq")
    show.add_argument("--json", action="store_true", help="as GET /api/v1/stats/items/{id}")
    show.set_defaults(func=cmd_items_show)


def _minute(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def cmd_items_list(args: argparse.Namespace) -> int:
    if args.member and args.kind == "push":
        raise Refused("--member lists a member's uploads, not pushes: leave out --kind push.", 2)
    now = utcnow()
    start, end = asked_period(args, now, LIST_PERIOD)
    hub = _hub(args)
    with hub.db.session() as s:
        sender_id = None
        if args.member:
            sender_id = s.scalar(select(Member.id).where(Member.username == args.member))
            if sender_id is None:
                raise Refused(
                    f"There is no member {args.member[:64]!r}: `alu-hub member list` shows them.",
                    2,
                )
        out = list_items(
            s, start, end, sender_id=sender_id, kind=args.kind, limit=args.limit, now=now
        )
    if args.json:
        print(out.model_dump_json(by_alias=True, indent=2))
        return 0
    when = describe_period(start, end)
    # (a member's items are its uploads)
    kind = "member_upload" if args.member else args.kind
    what = {"push": "pushes", "member_upload": "member uploads"}.get(kind or "", "items")
    by = f" by {args.member}" if args.member else ""
    if not out.items:
        print(f"No {what}{by} published from {when}.")
        return 0
    print(f"{what.capitalize()}{by} published from {when}, newest first:")
    wide_sender = max(8, *(len(i.sender) + 2 for i in out.items))
    wide_seq = max(5, *(len(str(i.seq)) + 2 for i in out.items))
    head = (
        f"{'seq':<{wide_seq}}{'id':<34}{'published (UTC)':<18}{'kind':<15}{'sender':<{wide_sender}}"
        f"{'priority':<10}{'downloads':>9}  "
    )
    room = max(24, shutil.get_terminal_size((120, 24)).columns - len(head))
    print(head + "title")
    for i in out.items:
        print(
            f"{i.seq:<{wide_seq}}{i.id:<34}{_minute(i.published_at):<18}{i.kind:<15}"
            f"{i.sender:<{wide_sender}}{i.priority:<10}{i.downloaded_by:>9}  "
            f"{_cut(_state(i.withdrawn_at, i.revision) + i.title, room)}"
        )
    if out.total > len(out.items):
        rest = out.total - len(out.items)
        print(
            f"… and {rest:,} older {'item' if rest == 1 else 'items'} in the period: "
            "narrow the period or raise --limit."
        )
    return 0


def _state(withdrawn_at: dt.datetime | None, revision: int) -> str:
    """The mark before a title in the listing: withdrawn, or corrected."""
    if withdrawn_at is not None:
        return "[WITHDRAWN] "
    return "[corrected] " if revision > 1 else ""


def cmd_items_show(args: argparse.Namespace) -> int:
    hub = _hub(args)
    with hub.db.session() as s:
        item = find_item(s, args.item)
        if item is None:
            raise Refused(
                f"There is no item {args.item[:40]!r} (an id or a seq): `alu-hub items list` "
                "shows them.",
                2,
            )
        report = item_report(s, item)
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    print_report(report)
    return 0


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _who(username: str, display_name: str, disabled: dt.datetime | None) -> str:
    name = f"{display_name} ({username})" if display_name and display_name != username else username
    return f"{name}, disabled since {disabled:%Y-%m-%d}" if disabled else name


def print_report(r: ItemReport) -> None:
    sender = r.sender or "(a member no longer on the hub)"
    if r.sender_display_name and r.sender_display_name != r.sender:
        sender = f"{r.sender_display_name} ({r.sender})"
    print(f"Item {r.id} (seq {r.seq}): {r.title}")
    if r.slug:
        print(f"  slug:      {r.slug}")
    print(f"  kind:      {r.kind}, sent by {sender}, priority {r.priority}")
    if r.recorded_at is not None:
        print(f"  recorded:  {_minute(r.recorded_at)} UTC")
    print(f"  published: {_minute(r.published_at)} UTC")
    if r.corrected_at is not None:
        print(f"  corrected: {_minute(r.corrected_at)} UTC: {r.correction_note}")
    if r.withdrawn_at is not None:
        print(f"  WITHDRAWN: {_minute(r.withdrawn_at)} UTC: {r.withdrawn_reason}")
    for x in r.renditions:
        frame = f", {x.width}x{x.height}" if x.width and x.height else ""
        print(
            f"  {x.name + ':':<11}{x.size:,} bytes ({_size(x.size)}{frame}) {x.filename}".rstrip()
        )
    print()
    n = len(r.downloaded_by)
    print(f"Downloaded by {n} {'member' if n == 1 else 'members'} (as of {_minute(r.as_of)} UTC):")
    if r.downloaded_by:
        wide = max(8, *(len(d.username) + 2 for d in r.downloaded_by))
        print(
            f"  {'member':<{wide}}{'country':<9}{'first completed':<18}{'renditions':<20}"
            "workstations"
        )
        for d in r.downloaded_by:
            ws = str(d.workstations)
            if d.devices:
                ws += f" ({', '.join(d.devices)})"
            if d.unnamed_device:
                ws = (ws + " and unnamed") if d.workstations else "unnamed"
            print(
                f"  {d.username:<{wide}}{d.country:<9}{_minute(d.first_download_at):<18}"
                f"{', '.join(d.renditions) or '-':<20}{ws}"
            )
            who = _who(d.username, d.display_name, d.disabled_since)
            if who != d.username:  # its display name, or that it is disabled
                print(f"  {'':<{wide}}{who}")
    if r.not_completed:
        print()
        n = len(r.not_completed)
        print(f"Tried, never completed: {n} {'member' if n == 1 else 'members'}:")
        for a in r.not_completed:
            tries = ", ".join(
                f"{v} {k}" for k, v in (("canceled", a.canceled), ("failed", a.failed)) if v
            )
            print(
                f"  {_who(a.username, a.display_name, a.disabled_since)}: last "
                f"{a.last_outcome} {_minute(a.last_at)} UTC ({tries})"
            )
    print()
    n = len(r.not_downloaded)
    print(f"Not downloaded: {n} enabled {'member' if n == 1 else 'members'}" + (":" if n else "."))
    if r.not_downloaded:  # as wide as the longest name and a space, as member list's
        wide = max(16, *(len(m.username) + 1 for m in r.not_downloaded))
        for m in r.not_downloaded:
            print(f"  {m.username:<{wide}}{m.country:<4}{m.display_name}".rstrip())
    print()
    print(textwrap.fill(ITEM_REPORTS, width=96))


def write_stats_csv(
    out: StatsOut, start: dt.datetime, end: dt.datetime, now: dt.datetime, path: str | None
) -> None:
    """``alu-hub stats --csv``: the figures with the monthly ``/stats.csv``'s columns, BOM and
    encoding, to ``path`` or stdout. ``month`` is the month when the period is one whole UTC
    calendar month (or its days so far), else empty; ``period_start`` and ``period_end`` are its
    first and last days (in the offset asked), or for a period given with times of day its
    start and end times (ISO, the end excluded); ``days_in_period`` its days up to today."""
    from .web.figures import Month
    from .web.routes import csv_bytes, figures_csv_text

    if start.time() == dt.time() and end.time() == dt.time():
        first = start.date().isoformat()
        last = (end - dt.timedelta(days=1)).date().isoformat()
    else:
        first = start.isoformat(timespec="minutes")
        last = end.isoformat(timespec="minutes")
    # the month as /stats.csv gives it: whole, or its days so far
    month = Month.of(start)
    ends = {month.shifted(1).start}
    if month == Month.of(now):
        ends.add(end_of_today(now))
    whole_month = start == month.start and end in ends
    body = csv_bytes(
        figures_csv_text(
            out,
            month=str(month) if whole_month else "",
            first=first,
            last=last,
            days=pledge_days(start, end, now),
        )
    )
    if path is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_bytes(body)
    except OSError as e:
        raise Refused(f"The CSV cannot be written to {path}: {e.strerror or e}.") from None
