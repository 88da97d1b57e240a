"""`alu rules`: the download rules (which feed items are fetched by themselves)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.rules import CONDITION_FIELDS, Conditions, Rule, RuleError, RuleStore, split_values
from ..core.rules.downloads import rule_downloads
from ..core.services import Services
from .common import (
    CliError,
    absolute_folder,
    open_services,
    print_json,
)
from .queue_verbs import idle_engine_lock, transfer_command

#: the condition options of `alu rules add/edit`: option -> Conditions field
_CONDITION_OPTIONS = {
    "category": "categories",
    "region": "regions",
    "country": "countries",
    "language": "languages",
    "priority": "priorities",
    "words": "words",
}


def _given_conditions(args: argparse.Namespace) -> dict[str, list[str]]:
    """The conditions given on the command line, each with its values; a condition given
    empty (`--words ""` from a script whose variable is empty, `--words " , "`) is refused:
    it became "every new item" without a word."""
    given: dict[str, list[str]] = {}
    for option, field in _CONDITION_OPTIONS.items():
        texts = getattr(args, option)
        if texts is None:
            continue
        if not split_values(texts):
            raise CliError(
                f"--{option} is empty: give at least one value, or leave it out "
                "(--all for a rule that takes every new item).",
                2,
            )
        given[field] = list(texts)
    return given


def _find_rule(rules: RuleStore, name: str) -> Rule:
    """A rule by its name, or by ``#ID`` (the id `alu rules list --json` gives)."""
    try:
        return rules.by_name(name)
    except RuleError:
        digits = name.strip().removeprefix("#")
        if digits.isdigit():
            return rules.get(int(digits))
        raise


def _describe(rule: Rule, listed: list[Rule]) -> str:
    """A rule in one line, as `rules list` shows it and `add`/`edit`/`move` confirm it:
    ``#2 on  kenya: countries KE; words "élection" → broadcast → /srv/news``."""
    c = rule.conditions
    if c.empty:
        conds = "every new item"
    else:
        parts = []
        for field in CONDITION_FIELDS:
            values = getattr(c, field)
            if values:
                shown = (
                    ", ".join(f'"{v}"' for v in values) if field == "words" else ", ".join(values)
                )
                parts.append(f"{field} {shown}")
        conds = "; ".join(parts)
    place = next((n for n, r in enumerate(listed, 1) if r.id == rule.id), 0)
    state = "on " if rule.enabled else "off"
    line = (
        f"{place}. {state} {rule.name}: {conds} → {rule.action} → {rule.destination or 'downloads'}"
    )
    if c.unknown_languages:
        line += (
            f"  (language {', '.join(c.unknown_languages)} is not en, fr or ar: "
            "this rule takes no item; fix it with rules edit --language)"
        )
    return line


def _rule_json(rule: Rule, place: int) -> dict[str, Any]:
    return {"id": rule.id, "position": place, "name": rule.name, "enabled": rule.enabled,
            "action": rule.action, "destination": rule.destination,
            "conditions": rule.conditions.to_json()}  # fmt: skip


def cmd_rules(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        rules = RuleStore(services.store, services.require_profile().name)
        # removing a rule or turning it off (edit --disable too) asks what becomes of the
        # downloads it queued that have not finished
        stops = args.action in ("remove", "disable") or (args.action == "edit" and args.disable)
        if args.cancel_downloads and not stops:
            raise CliError(
                "--cancel-downloads goes with rules remove, rules disable and rules edit "
                "--disable only.",
                2,
            )
        done: Rule | None = None
        what = ""
        try:
            if args.action != "list" and not args.name:
                raise CliError(f"rules {args.action} needs a rule name.", 2)
            if args.action == "add":
                done = _rules_add(rules, args)
                what = "Added"
            elif args.action == "edit":
                done = _rules_edit(rules, args)
                what = "Changed"
            elif args.action == "move":
                done = _rules_move(rules, args)
                what = "Moved"
            elif args.action in ("remove", "enable", "disable"):
                rule = _find_rule(rules, args.name)
                if args.action == "remove":
                    rules.remove(rule.id)
                    what = "Removed"
                    done = rule
                else:
                    done = rules.set_enabled(rule.id, args.action == "enable")
                    what = "Turned on" if done.enabled else "Turned off"
            if stops and done is not None:
                _rule_stopped(services, done, args.action, cancel=args.cancel_downloads)
        except RuleError as e:
            raise CliError(str(e), 2) from None
        listed = rules.all()
        # the rules whose items wait for their folder (a share away), as last evaluated
        problems = {p.rule_id: p for p in services.rule_problems()}
        if args.json:
            print_json([
                {**_rule_json(r, n),
                 "problem": problems[r.id].to_json() if r.id in problems else None}
                for n, r in enumerate(listed, 1)
            ])  # fmt: skip
        elif args.action == "list":
            if not listed:  # (as `alu queue`: "none", not "did not run")
                print("There are no auto-download rules.")
            for r in listed:
                print(_describe(r, listed))
                if r.id in problems:
                    p = problems[r.id]
                    print(f"     ! {p.error}; {p.waiting} item(s) wait for it, queued once "
                          "it can be written")  # fmt: skip
        elif args.action == "remove" and done is not None:
            print(f"Removed rule {done.name!r}.")
        elif done is not None:
            # what was saved, as `rules list` shows it: a rule that takes every new item says so
            print(f"{what} rule {_describe(done, listed)}")
    finally:
        services.stop()
    return 0


def _rules_add(rules: RuleStore, args: argparse.Namespace) -> Rule:
    given = _given_conditions(args)
    if args.any:
        raise CliError("--any is for rules edit; rules add leaves out what it does not ask.", 2)
    if given and args.all:
        raise CliError("--all is a rule without conditions; leave it out or the conditions.", 2)
    if not given and not args.all:
        raise CliError(
            "rules add: no condition given, the rule would download every new item; give "
            "--words, --category, --region, --country, --language or --priority, or --all "
            "to mean every new item.",
            2,
        )
    conditions = Conditions.of(**given)
    # absolute, as `watch add` makes its folder: the engine may run elsewhere
    dest = absolute_folder(args.dest) if args.dest else ""
    return rules.add(
        args.name,
        conditions,
        action=args.do or "broadcast",
        destination=dest,
        enabled=not args.disable,
    )


def _rules_edit(rules: RuleStore, args: argparse.Namespace) -> Rule:
    """Change what is given, keep the rest, and the rule's place in the order."""
    rule = _find_rule(rules, args.name)
    given = _given_conditions(args)
    dropped = {_CONDITION_OPTIONS[o] for o in args.any or ()}
    both = dropped & set(given)
    if both:
        raise CliError(f"--any {sorted(both)[0]} and a value for it: give one of them.", 2)
    if args.all and (given or dropped):
        raise CliError("--all drops every condition; give it alone, without conditions.", 2)
    conditions = None
    if given or dropped or args.all:
        values: dict[str, Any] = {} if args.all else rule.conditions.to_json()
        for field in dropped:
            values.pop(field, None)
        values.update(given)
        if not values and not args.all and not rule.conditions.empty:
            raise CliError(
                f"rules edit: without conditions rule {rule.name!r} would download every new "
                "item; add --all to mean it.",
                2,
            )
        conditions = Conditions.of(**values)
    if args.enable and args.disable:
        raise CliError("--enable or --disable, not both.", 2)
    changes = (conditions, args.rename, args.do, args.enable, args.disable)
    if all(not v for v in changes) and args.dest is None:  # (--dest '': the download folder)
        raise CliError(
            "rules edit: nothing to change; give conditions (--words …, --any FIELD, --all), "
            "--rename, --do, --dest, --enable or --disable.",
            2,
        )
    dest: str | None = None
    if args.dest is not None:
        dest = absolute_folder(args.dest) if args.dest else ""
    return rules.update(
        rule.id,
        name=args.rename,
        conditions=conditions,
        action=args.do,
        destination=dest,
        enabled=True if args.enable else False if args.disable else None,
    )


def _rules_move(rules: RuleStore, args: argparse.Namespace) -> Rule:
    rule = _find_rule(rules, args.name)
    ids = [r.id for r in rules.all()]
    here = ids.index(rule.id)
    chosen = [args.to is not None, args.up, args.down]
    if sum(chosen) != 1:
        raise CliError("rules move: give one of --to N (1 is tried first), --up or --down.", 2)
    if args.to is not None:
        if args.to < 1:
            raise CliError("--to is a place from 1 (tried first).", 2)
        index = args.to - 1
    else:
        index = max(0, here - 1) if args.up else here + 1
    rules.move(rule.id, index)
    return rules.get(rule.id)


def _rule_stopped(services: Services, rule: Rule, action: str, *, cancel: bool) -> None:
    """What becomes of the downloads a rule removed or turned off (``action``: remove, disable,
    edit) queued that have not finished: canceled (``--cancel-downloads``, as `alu queue
    cancel` does each), or said to go on, with their ids. They ran on unsaid, and a rule
    removed or turned off because it took too much left its downloads to cancel one by one,
    found by nothing. (Turning a rule on again changes nothing of them.)"""
    ids = rule_downloads(services.store, services.require_profile().name, rule)
    if not ids:
        return
    if not cancel:
        listed = ", ".join(map(str, ids))
        if action == "remove":
            done, again = "removed", "`rules remove NAME --cancel-downloads` removes a rule"
        else:
            done, again = "off", "`rules disable NAME --cancel-downloads` turns a rule off"
        print(
            f"alu: rule {rule.name!r} is {done}; {len(ids)} download(s) it queued are not "
            f"finished and go on: {listed} (`alu queue cancel ID` cancels one; {again} with "
            "its downloads).",
            file=sys.stderr,
        )
        return
    lock = idle_engine_lock(services)
    try:
        transfers = services.transfer_store()
        for tid in ids:
            # (downloads: nothing on a server to tell; a running engine stops an active one)
            said = transfer_command(transfers, tid, "cancel", engine_running=lock is None)
            if said:
                print(said)
    finally:
        if lock is not None:
            lock.release()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rules",
        help="auto-download rules: list, add, edit, move, remove, enable, disable",
        description="The rules are tried from the top; the first enabled one that matches a "
        "new item downloads it. add NAME with at least one condition (or --all for every new "
        "item); edit NAME changes what is given and keeps the rule's place; move NAME --to N "
        "(1 = tried first), --up or --down. A rule is named by its name or #ID (list --json).",
    )
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "add", "edit", "move", "remove", "enable", "disable"],
    )
    p.add_argument("name", nargs="?")
    for name in ("category", "region", "country", "priority"):
        p.add_argument(f"--{name}", action="append", help="repeatable; or several, a, b")
    p.add_argument(
        "--language",
        action="append",
        help="en, fr or ar (or English, French, Arabic, français, العربية…); repeatable",
    )
    p.add_argument(
        "--words",
        action="append",
        help="words or phrases in title, slug or script, separated by commas (any one of "
        "them); whole words, a trailing * for a prefix (vote* finds voters)",
    )
    p.add_argument("--all", action="store_true",
                   help="add: a rule without conditions, for every new item; edit: drop every "
                   "condition")  # fmt: skip
    p.add_argument(
        "--any",
        action="append",
        choices=list(_CONDITION_OPTIONS),
        help="edit: drop this condition (any category, any language…); repeatable",
    )
    p.add_argument("--do", choices=["broadcast", "proxy", "proxy_then_broadcast"],
                   help="what to download (add: broadcast by default)")  # fmt: skip
    p.add_argument(
        "--dest",
        help="destination folder (default: the download folder; edit: '' for it); kept absolute",
    )
    p.add_argument("--rename", metavar="NEW_NAME", help="edit: a new name")
    p.add_argument("--enable", action="store_true", help="edit: turn the rule on")
    p.add_argument(
        "--disable", action="store_true", help="edit: turn the rule off; add: add it off"
    )
    p.add_argument("--to", type=int, metavar="N", help="move: to place N (1 = tried first)")
    p.add_argument("--up", action="store_true", help="move: one place up (tried sooner)")
    p.add_argument("--down", action="store_true", help="move: one place down")
    p.add_argument(
        "--cancel-downloads",
        action="store_true",
        help="remove, disable (edit --disable): also cancel the rule's downloads not "
        "finished (else they go on)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rules)
