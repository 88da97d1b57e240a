"""``alu-hub audit``: the audit trail (``audit``), newest first: who published, withdrew or
corrected an item, who changed a member, and when."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil

from .audit import ACTIONS, records
from .cli import _hub, add_period_options, asked_period
from .models import utcnow
from .stats import describe_period

#: ``audit`` without ``--from``: the 30 days up to today.
AUDIT_PERIOD = dt.timedelta(days=30)


def add_audit_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """``audit`` in the top-level sub-commands."""
    p = sub.add_parser(
        "audit",
        parents=[common],
        help="who changed the hub (published, withdrew, changed a member), newest first",
    )
    add_period_options(p, AUDIT_PERIOD.days)
    p.add_argument("--action", choices=ACTIONS, help="only this action")
    p.add_argument(
        "--target",
        metavar="T",
        help="only the records of this item (its id or seq) or member (its user name)",
    )
    p.add_argument("--json", action="store_true", help="the records as JSON")
    p.set_defaults(func=cmd_audit)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def cmd_audit(args: argparse.Namespace) -> int:
    from .changes import find_item

    now = utcnow()
    start, end = asked_period(args, now, AUDIT_PERIOD)
    hub = _hub(args)
    with hub.db.session() as s:
        targets: tuple[str, ...] = ()
        if args.target:
            # an item's seq names its id; a member's name, or an item removed, stands as given
            item = find_item(s, args.target)
            targets = (args.target,) if item is None else (args.target, item)
        found = records(s, start, end, action=args.action, targets=targets)
    if args.json:
        out = [
            {
                "at": r.at.isoformat(),
                "via": r.via,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "detail": json.loads(r.detail or "{}"),
            }
            for r in found
        ]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    when = describe_period(start, end)
    what = f" {args.action}" if args.action else ""
    of = f" of {args.target}" if args.target else ""
    if not found:
        print(f"No{what} audit records{of} from {when}.")
        return 0
    wide_actor = max(8, *(len(r.actor) + 2 for r in found))
    wide_action = max(8, *(len(r.action) + 2 for r in found))
    wide_target = max(8, *(len(r.target) + 2 for r in found))
    head = (
        f"{'time (UTC)':<21}{'via':<5}{'actor':<{wide_actor}}{'action':<{wide_action}}"
        f"{'target':<{wide_target}}"
    )
    room = max(24, shutil.get_terminal_size((120, 24)).columns - len(head))
    print(f"Audit records{of}{what and ' (' + args.action + ')'} from {when}, newest first:")
    print(head + "detail")
    for r in found:
        print(
            f"{r.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}  {r.via:<5}{r.actor:<{wide_actor}}"
            f"{r.action:<{wide_action}}{r.target:<{wide_target}}{_cut(r.detail, room)}"
        )
    return 0
