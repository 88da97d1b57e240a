"""``alu-hub items withdraw`` and ``alu-hub items correct``: the agency takes an item back or
mends its texts after it went out (``changes``). Every refusal is one line, and nothing is
changed then."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: as ``publish.PRIORITIES`` and ``LANGUAGES`` (not imported: the parser is built at every
#: command's start)
PRIORITIES = ("flash", "urgent", "routine")
LANGUAGES = ("en", "fr", "ar")


def _item_id(hub: Any, ref: str) -> str:
    from .changes import find_item
    from .cli import Refused

    with hub.db.session() as s:
        found = find_item(s, ref)
    if found is None:
        raise Refused(
            f"There is no item {ref!r}: give the item's id or its number in the feed (seq); "
            "nothing was changed.",
            2,
        )
    return found


def _refused(e: Exception) -> Exception:
    """A ``ChangeError`` as the command's one line: its input (2) or the item's state (1)."""
    from .changes import ChangeError
    from .cli import Refused

    assert isinstance(e, ChangeError)
    return Refused(e.message, 1 if e.status == 409 else 2)


def _read_text(path: str, option: str) -> str:
    """A text file option: UTF-8 (a BOM dropped), or one line saying why it cannot be read."""
    from .cli import Refused

    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(
            f"{option} {path} is not UTF-8 text; save it as UTF-8. Nothing was changed.", 2
        ) from None
    except OSError as e:
        why = "there is no such file" if isinstance(e, FileNotFoundError) else e.strerror or e
        raise Refused(
            f"{option} {path} cannot be read ({why}): check the path. Nothing was changed.", 2
        ) from None


def _quoted(title: str) -> str:
    return f"“{title if len(title) <= 80 else title[:80] + '…'}”"


def cmd_items_withdraw(args: argparse.Namespace) -> int:
    from .audit import cli_actor
    from .changes import ChangeError, withdraw
    from .cli import Refused, _hub

    if not args.reason.strip():
        raise Refused(
            "The reason is blank: say why the item is withdrawn (--reason TEXT; every member "
            "sees it). Nothing was changed.",
            2,
        )
    hub = _hub(args)
    try:
        done = withdraw(hub, _item_id(hub, args.item), args.reason, cli_actor())
    except ChangeError as e:
        raise _refused(e) from None
    item = done.item
    print(
        f"Withdrew item {item.seq} ({item.id}) {_quoted(item.title)}: members' workstations "
        "stop its downloads and mark their copies at their next sync; its files are no "
        f"longer served.{_upload_taken_down(item)}"
    )
    return 0


def _upload_taken_down(item: Any) -> str:
    """What the withdrawal of a member's upload does to its counts (statistics: a withdrawn
    upload is no upload), said to the operator; "" for an agency push."""
    member = item.source_member
    if item.kind != "member_upload" or member is None:
        return ""
    day = (item.received_at or item.published_at).date()  # the upload's day (``stats``)
    return (
        f" It no longer counts as {member.username}'s upload (their pledge for {day:%Y-%m-%d} "
        "may change)."
    )


def cmd_items_correct(args: argparse.Namespace) -> int:
    from .audit import cli_actor
    from .changes import ChangeError, correct
    from .cli import Refused, _hub

    if not args.note.strip():
        raise Refused(
            "The note is blank: say what was corrected (--note TEXT; every member sees it). "
            "Nothing was changed.",
            2,
        )
    given = {
        "title": args.title,
        "slug": args.slug,
        "dateline": args.dateline,
        "restrictions": (
            _read_text(args.restrictions_file, "--restrictions-file")
            if args.restrictions_file
            else args.restrictions
        ),
        "script": _read_text(args.script_file, "--script-file") if args.script_file else None,
        "shotlist": (
            _read_text(args.shotlist_file, "--shotlist-file") if args.shotlist_file else None
        ),
        "priority": args.priority,
        "language": args.language,
        "country": args.country,
        "category": args.category,
        "region": args.region,
        "recorded_at": args.recorded_at,
    }
    if all(v is None for v in given.values()):
        raise Refused(
            "Nothing to correct: give at least one of --title, --slug, --dateline, "
            "--restrictions, --restrictions-file, --script-file, --shotlist-file, --priority, "
            "--language, --country, --category, --region, --recorded-at.",
            2,
        )
    hub = _hub(args)
    try:
        done = correct(hub, _item_id(hub, args.item), given, args.note, cli_actor())
    except ChangeError as e:
        raise _refused(e) from None
    item = done.item
    print(
        f"Corrected item {item.seq} ({item.id}) {_quoted(item.title)}, revision "
        f"{item.revision}: {', '.join(done.fields)}."
    )
    return 0


def add_change_commands(
    items: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``withdraw`` and ``correct`` in the ``items`` group (``items``: its sub-commands)."""
    w = items.add_parser(
        "withdraw",
        parents=[common],
        help="withdraw an item for good (its files are no longer served; members are told)",
    )
    w.add_argument("item", metavar="ID_OR_SEQ", help="the item's id, or its number in the feed")
    w.add_argument("--reason", required=True, help="why (every member sees it)")
    w.set_defaults(func=cmd_items_withdraw)

    c = items.add_parser(
        "correct", parents=[common], help="correct an item's details (members are told)"
    )
    c.add_argument("item", metavar="ID_OR_SEQ", help="the item's id, or its number in the feed")
    c.add_argument("--title")
    c.add_argument("--slug")
    c.add_argument("--dateline")
    restrict = c.add_mutually_exclusive_group()
    restrict.add_argument("--restrictions", help="the item's restrictions of use")
    restrict.add_argument("--restrictions-file", help="the restrictions from a UTF-8 text file")
    c.add_argument("--script-file", help="the script from a UTF-8 text file")
    c.add_argument("--shotlist-file", help="the shot list from a UTF-8 text file")
    c.add_argument("--priority", choices=list(PRIORITIES))
    c.add_argument("--language", choices=list(LANGUAGES))
    c.add_argument("--country", help='ISO 3166 two-letter code, e.g. KE ("" clears it)')
    c.add_argument("--category")
    c.add_argument("--region")
    c.add_argument("--recorded-at", help='ISO date/time the footage was shot ("" clears it)')
    c.add_argument("--note", required=True, help="what was corrected (every member sees it)")
    c.set_defaults(func=cmd_items_correct)
