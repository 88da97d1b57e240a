"""`alu` verbs on this workstation's data: queue, library, rules, watch. They work offline
and beside a running app (commands to running transfers go through the shared store)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.engine_settings import SAVED, Limit
from ..core.library import Library, MissingFile, Query
from ..core.library.files import DAMAGED_RECORD, FOLDER_GONE, REWRITTEN
from ..core.lockfile import EngineBusy, EngineLock, Holder, holder
from ..core.plain_text import one_line
from ..core.rules import CONDITION_FIELDS, Conditions, Rule, RuleError, RuleStore, split_values
from ..core.rules.downloads import rule_downloads
from ..core.services import Services
from ..core.store.transfers import PRIORITIES, Transfer, TransferStore, profile_of
from ..core.transfers.download import discard_part
from ..core.transfers.queue import TransferQueue
from ..core.transfers.throttle import format_rate, parse_rate
from ..core.watch import HotFolders, WatchError
from .common import (
    CliError,
    Interrupted,
    fmt_bytes,
    headers_given,
    open_services,
    parse_size,
    print_json,
)
from .hub_verbs import print_items
from .options import DEFAULT_LIMIT, LIMIT_HELP, list_limit, positive_number, say_cut
from .times import UTC_HELP

# --- queue -------------------------------------------------------------------------------------


def _transfer_json(t: Transfer, interrupted: bool = False) -> dict[str, Any]:
    return {
        "id": t.id,
        "direction": t.direction,
        "state": "queued" if interrupted else t.state,
        "interrupted": interrupted,
        "label": t.label,
        "priority": ("flash", "urgent", "routine")[t.priority],
        "bytes_done": t.bytes_done,
        "size": t.size,
        "item_id": t.item_id,
        "rendition": t.rendition,
        "destination": t.destination if t.direction == "download" else "",
        "attempts": t.attempts,
        "limit_bps": t.limit_bps,
        "damaged": t.damaged,
        "last_error": t.last_error,
        "profile": profile_of(t) or None,
    }


#: said of a transfer left 'active' by an engine that died (kill -9, a crash, a power cut)
INTERRUPTED = "interrupted: no engine is running it; it resumes at the next run"
#: what a canceled download's line says of its part file (``discard_part``'s outcome)
_PART_SAID = {
    "removed": "; its partial file was removed",
    "none": "",
    "left": "; the partial file at its name is not this download's and was left there",
}


def _idle_engine_lock(services: Services) -> EngineLock | None:
    """The data folder's engine lock when no engine holds it (held by this command while it
    works, so none starts meanwhile), or None when one runs (the app, `alu watch run`, a
    `fetch`…). With none running, a transfer the store says is 'active' is a dead engine's."""
    try:
        return EngineLock(services.paths.engine_lock).acquire(say=False)
    except EngineBusy:
        return None
    except OSError:  # the lock cannot be taken here (a read-only folder): assume one runs
        return None


def cmd_queue(args: argparse.Namespace) -> int:
    services = open_services()
    lock: EngineLock | None = None
    cleaner: TransferQueue | None = None
    try:
        transfers = services.transfer_store()
        lock = _idle_engine_lock(services)
        idle = lock is not None
        action = args.action
        if action == "list" and lock is not None:
            lock.release()  # held only to look: an engine starting now must not find it held
            lock = None
        if action == "list":
            states = None if args.all else ("queued", "active", "paused", "failed")
            rows = transfers.all(states)
            active = services.profile.name if services.profile else ""
            if args.json:
                print_json([_transfer_json(t, idle and t.state == "active") for t in rows])
            elif not rows:
                print("The queue is empty." if not args.all else "No transfers yet.")
            for t in [] if args.json else rows:
                size = fmt_bytes(t.size) if t.size else "?"
                error = f"  ({one_line(t.last_error)})" if t.last_error else ""
                state = t.state
                if idle and t.state == "active":
                    state, error = "queued", f"  ({INTERRUPTED}){error}"
                if t.damaged:
                    error += f"  (damaged record: {t.damaged})"
                if t.limit_bps and t.state in ("queued", "active", "paused", "failed"):
                    error += f"  (limited to {format_rate(t.limit_bps)})"
                other = profile_of(t)
                if other and other != active and t.state in ("queued", "active", "paused"):
                    # run by an engine with that profile signed in (its sign-in, not this one)
                    error += f"  (profile {other}: waits until it is the one signed in here)"
                print(f"{t.id:>5}  {t.direction:8} {state:8} {fmt_bytes(t.bytes_done):>9}/"
                      f"{size:<9} {one_line(t.label)}{error}")  # fmt: skip
            return 0
        if args.value is not None and action not in ("first", "last", "priority", "limit"):
            raise CliError(f"queue {action} takes a transfer id only.", 2)
        if action in ("first", "last", "priority"):
            print(_reorder(transfers, action, args.id, args.value))
            return 0
        if action == "limit":
            print(_limit(transfers, args.id, args.value))
            return 0
        if action in ("pause-all", "resume-all"):
            # resume-all: "active" too, one whose pause the running engine has not taken yet
            # (pause-all then resume-all left them all paused)
            wanted = ("queued", "active") if action == "pause-all" else ("paused", "active")
            ids = [t.id for t in transfers.all(wanted)]
        else:
            if args.id is None:
                raise CliError(f"queue {action} needs a transfer id (see alu queue list).", 2)
            if transfers.get(args.id) is None:
                raise CliError(f"There is no transfer {args.id}.")
            ids = [args.id]

        given = headers_given(args.header)
        if given and action != "cancel":
            raise CliError("--header goes with cancel only (the credentials of an upload).", 2)
        if given and not idle:
            print(
                "alu: note: an engine runs on this data folder: it tells the server itself, "
                "with the credentials it was given; --header is not used.",
                file=sys.stderr,
            )

        def clean_up(t: Transfer) -> bool:
            nonlocal cleaner
            try:
                if cleaner is None:  # not started: its connections and credentials only
                    cleaner = services.make_queue()
                    if given:  # what `alu tus-put --header` sent, for its DELETE
                        own = cleaner.headers_for
                        cleaner.headers_for = lambda t: {**own(t), **given}
                return cleaner.clean_up_now(t, CLEAN_UP_WAIT)
            except Exception as e:  # best effort (a keyring that cannot be opened, say)
                logging.getLogger(__name__).info("clean-up of %d not done: %s", t.id, e)
                return False

        who = None if idle else holder(services.paths.engine_lock)
        done = []
        for tid in ids:
            said = _command(
                transfers,
                tid,
                action,
                engine_running=not idle,
                # what the engine that holds the data folder runs (unreadable: as an engine
                # started now would, the active profile's and those of none)
                engine_runs=_runs_there(who, services, transfers, tid),
                clean_up=clean_up if idle else None,
            )
            if said:
                print(said)
                done.append(tid)
        if args.id is not None and not done:
            now = transfers.get(args.id)
            state = now.state if now is not None else "gone"
            raise CliError(f"Transfer {args.id} is {state}: there is nothing to {action}.")
        if args.id is None and not done:
            print(f"alu: no transfer to {action.removesuffix('-all')}.")
    finally:
        if cleaner is not None:
            cleaner.sessions.close()
        if lock is not None:
            lock.release()
        services.stop()
    return 0


def _runs_there(who: Holder | None, services: Services, transfers: TransferStore, tid: int) -> bool:
    """The engine holding the data folder (``who``) runs transfer ``tid``: of the transfers it
    runs, and of its profile or of none (its file unreadable: the active profile's)."""
    t = transfers.get(tid)
    mine = profile_of(t) if t is not None else None
    if who is not None:
        return who.runs(tid, mine)
    active = services.profile.name if services.profile else ""
    return mine is None or mine in ("", active)


def _reorder(transfers: TransferStore, action: str, tid: int | None, value: str | None) -> str:
    """Where a transfer not finished stands in the queue: first or last of its priority, or
    another priority. The store is the queue's order: a running engine starts the next
    transfers in the new order (one running already goes on)."""
    if tid is None:
        raise CliError(f"queue {action} needs a transfer id (see alu queue list).", 2)
    t = transfers.get(tid)
    if t is None:
        raise CliError(f"There is no transfer {tid}.")
    if t.state not in ("queued", "active", "paused", "failed"):
        raise CliError(f"Transfer {tid} is {t.state}: it has no place in the queue.")
    if action == "priority":
        if value not in PRIORITIES:
            raise CliError(
                f"queue priority needs a level: {', '.join(PRIORITIES)} "
                f"(e.g. alu queue priority {tid} flash).",
                2,
            )
        transfers.set_priority(tid, PRIORITIES[value])
        return f"{tid} is {value} now"
    if value is not None:
        raise CliError(f"queue {action} takes a transfer id only.", 2)
    if action == "first":
        ahead = min(transfers.all(), key=lambda o: o.position)  # tid's own row at least
        if ahead.id != tid:
            transfers.move(tid, ahead.id)
        return f"{tid} is first of its priority now"
    transfers.move(tid, None)
    return f"{tid} is last of its priority now"


def _limit(transfers: TransferStore, tid: int | None, value: str | None) -> str:
    """A transfer's own speed limit, under the direction's: a running engine applies it within
    a second, and it holds for the transfer's next runs."""
    if tid is None or value is None:
        raise CliError("queue limit needs a transfer id and a rate (e.g. alu queue limit 3 2M).", 2)
    bps = parse_rate(value)  # (a rate it cannot read is the command's mistake, said first)
    t = transfers.get(tid)
    if t is None:
        raise CliError(f"There is no transfer {tid}.")
    if t.state not in ("queued", "active", "paused", "failed"):
        raise CliError(f"Transfer {tid} is {t.state}: it moves no more bytes.")
    transfers.set_limit(tid, bps)
    return (
        f"{tid} is limited to {format_rate(bps)} now"
        if bps
        else f"{tid} has no limit of its own now"
    )


def _command(
    transfers: TransferStore,
    tid: int,
    action: str,
    *,
    engine_running: bool = True,
    engine_runs: bool = True,
    clean_up: Callable[[Transfer], bool] | None = None,
) -> str:
    """Change a transfer's state, or ask the running engine to (it applies it within a
    second): what was done, said in a line; "" when there was nothing to do (a finished
    transfer, say). With no engine running, a transfer left 'active' by one that died is
    changed here and now, as a queued one: a request would wait for an engine, and the next
    one would be the user's own rerun (which resumes it, and must not then stop).

    An upload canceled here leaves what the server received of it: ``clean_up`` (given when
    no engine runs, this command holding the data folder) tells the server now; else the
    engine running here does when it runs all transfers (``engine_runs``), or the next
    one that does. What the line says of it is what happens."""
    stale = () if engine_running else ("active",)
    before = transfers.get(tid)
    interrupted = (
        " (it had been interrupted)" if stale and before and before.state == "active" else ""
    )
    if action in ("pause", "pause-all"):
        if transfers.set_state(tid, "paused", only_from=("queued", *stale), reason="paused"):
            if stale:
                transfers.clear_request(tid)
            return f"paused {tid}{interrupted}"
        if engine_running and transfers.request(tid, "pause"):
            return f"asked the running engine to pause {tid}"
        return ""
    if action in ("resume", "resume-all", "retry"):
        # a pause asked of an engine that died, or not taken yet; a cancel asked stays
        withdrawn = transfers.clear_request(tid, only="pause")
        queued = transfers.set_state(
            tid, "queued", only_from=("paused", "failed", "queued", *stale)
        )
        if not (withdrawn or queued):
            return ""
        return f"{'queued' if action == 'retry' else 'resumed'} {tid}{interrupted}"
    if action == "cancel":
        if transfers.set_state(tid, "canceled", only_from=("queued", "paused", "failed", *stale)):
            transfers.clear_request(tid)
            if before is not None and before.direction == "download":
                # as the engine does for one it cancels: the part file goes (when it is this
                # download's), and the checkpoint with it
                part = discard_part(Path(before.destination), transfers.load_checkpoint(tid))
                transfers.clear_checkpoint(tid)
                return f"canceled {tid}{interrupted}{_PART_SAID[part]}"
            if before is not None and _on_the_server(transfers, tid):
                said = _server_side(before, engine_runs=engine_runs, clean_up=clean_up)
                return f"canceled {tid}{interrupted}; {said}"
            return f"canceled {tid}{interrupted}"
        if engine_running and transfers.request(tid, "cancel"):
            return f"asked the running engine to cancel {tid}"
        if (
            clean_up is not None
            and before is not None
            and before.state == "canceled"
            and _on_the_server(transfers, tid)
        ):
            # canceled earlier, when the server could not be told (or by an older version):
            # cancel again is how to try once more
            said = _server_side(before, engine_runs=engine_runs, clean_up=clean_up)
            return f"{tid} was canceled already; {said}"
        return ""
    return ""


#: the longest `alu queue cancel` waits for a server to drop a canceled upload
CLEAN_UP_WAIT = 10.0


def _on_the_server(transfers: TransferStore, tid: int) -> bool:
    """Upload ``tid``'s checkpoint names uploads made on the server (``upload.storage``)."""
    checkpoint = transfers.load_checkpoint(tid)
    return any(checkpoint.get(k) for k in ("url", "final", "parts"))


def _server_side(
    t: Transfer, *, engine_runs: bool, clean_up: Callable[[Transfer], bool] | None
) -> str:
    """What becomes of what the server received of canceled upload ``t``, truly said. The
    checkpoint (the upload's URLs) stays until the server is told; an engine's sweep
    (``TransferQueue._sweep_canceled``) tells it for those canceled while it was not running
    them: the app's and `alu watch run`'s, which run every transfer. `alu tus-put`'s engine
    runs its own only, and `alu watch run` needs a hub: for an upload of `alu tus-put`, that
    next engine may never come, so no engine running, this command tells the server now."""
    hub = bool(t.options.get("profile"))  # a hub's transfer: the app or watch run come back
    if clean_up is not None:
        if clean_up(t):
            return "the server dropped what it had received"
        if hub:
            return (
                "the server could not be told to drop what it received; the app or alu watch "
                "run tries again when it next runs here"
            )
        return (
            "the server could not be told to drop what it received; run "
            f"alu queue cancel {t.id} again to try again (with the --header options the "
            "upload was sent with, when the server wants credentials)"
        )
    if engine_runs:
        return "the engine running here tells the server to drop what it received"
    if hub:
        return (
            "the server is told to drop what it received when the app or alu watch run next "
            "runs here"
        )
    return (
        "the server keeps what it received until alu queue cancel "
        f"{t.id} is run again while no other alu runs here"
    )


# --- library ---------------------------------------------------------------------------------


def _missing_line(lib: Library, m: MissingFile) -> str:
    """One line a person reads: which item's file, where it was, why it is missing, and how
    to have it again."""
    try:
        known = lib.get(m.item_id)
    except Exception:  # (a damaged item row: its id says which all the same)
        known = None
    title = one_line(known.item.title) if known is not None and known.item.title else ""
    what = (
        f'"{title}" ({m.rendition}, item {m.item_id})'
        if title
        else f"item {m.item_id} ({m.rendition})"
    )
    again = f"alu get {m.item_id}" + (" --proxy" if m.rendition == "proxy" else "")
    if m.reason == DAMAGED_RECORD:  # (says "download it again" itself)
        return f"missing: {what}: {one_line(str(m.path))}: {m.reason}: {again}"
    if m.reason == REWRITTEN:  # a file is there, not ours to put back or to delete
        return (
            f"missing: {what}: {one_line(str(m.path))}: {m.reason}. ALU Desk leaves that "
            f"file alone; to have the file it verified, download it again: {again}"
        )
    if m.reason == FOLDER_GONE:  # a drive unplugged, a share away: it comes back with them
        return (
            f"missing: {what}: {one_line(str(m.path))}: {m.reason} (a drive unplugged, or a "
            "share away?). Plug it in or bring the share back, then run alu library check "
            f"again; or download it again: {again}"
        )
    return (
        f"missing: {what}: {one_line(str(m.path))}: {m.reason}. "
        f"Put it back there, or download it again: {again}"
    )


def _no_match(query: Query) -> str:
    filtered = query.languages or query.categories or query.priorities or query.downloaded
    what = f" “{one_line(query.text)}”" if query.text.strip() else ""
    among = " among the items so filtered" if filtered else ""
    return f"No item in the library matches{what}{among}."


def cmd_library(args: argparse.Namespace) -> int:
    total: int | None = None
    if args.max_total:  # (refused before anything is opened, as the other options are)
        try:
            total = parse_size(args.max_total)
        except CliError as e:  # ("'-5G' is too small": of which option)
            raise CliError(f"--max-total {e}; give a size such as 500G.", 2) from None
    services = open_services()
    try:
        services.require_profile()
        lib = services.library
        if args.action == "check":
            report = lib.check_files()
            # every file missing after the check, those found so before too: a second check
            # with the drive still unplugged said "0 missing"
            for m in [*report.missing, *report.still_missing]:
                print(_missing_line(lib, m))
            gone = len(report.missing) + len(report.still_missing)
            before = (
                f" ({len(report.still_missing)} of them already before)"
                if report.still_missing
                else ""
            )
            print(f"{report.checked} files checked, {gone} missing{before}, "
                  f"{report.restored} found again.")  # fmt: skip
            return 0
        if args.action == "clean":
            if args.max_age_days is None and args.max_total is None:
                raise CliError("library clean needs --max-age-days or --max-total.", 2)
            r = lib.apply_retention(args.max_age_days, total, now=time.time())
            print(f"{r.removed} files deleted, {fmt_bytes(r.freed_bytes)} freed "
                  f"(records kept); {len(r.kept)} left in place.")  # fmt: skip
            return 0
        query = Query(
            text=" ".join(args.text),
            languages=tuple(args.language or ()),
            categories=tuple(args.category or ()),
            priorities=tuple(args.priority or ()),
            downloaded=True if args.downloaded else None,
            limit=args.limit,
        )
        page = lib.search(query)
        print_items(page.items, args.json, utc=args.utc)
        if not page.items and not args.json:  # (silence read as a command that did nothing)
            print(_no_match(query))
        if page.older is not None:  # (the next page's cursor: more items match)
            say_cut(len(page.items), args.limit, "items match")
    finally:
        services.stop()
    return 0


# --- rules -----------------------------------------------------------------------------------


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
    dest = _abs(args.dest) if args.dest else ""
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
        dest = _abs(args.dest) if args.dest else ""
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
    lock = _idle_engine_lock(services)
    try:
        transfers = services.transfer_store()
        for tid in ids:
            # (downloads: nothing on a server to tell; a running engine stops an active one)
            said = _command(transfers, tid, "cancel", engine_running=lock is None)
            if said:
                print(said)
    finally:
        if lock is not None:
            lock.release()


# --- hot folders -----------------------------------------------------------------------------


def cmd_watch(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        profile = services.require_profile()
        if args.action == "run":
            return _run_engine(services, args)
        folders = HotFolders(services.store, profile.name, lambda *_a: 0)
        try:
            if args.action == "add":
                if not args.folder:
                    raise CliError("watch add needs a folder.", 2)
                defaults = _defaults(args)
                folders.add_folder(
                    Path(args.folder).expanduser().absolute(),
                    defaults,
                    sent_dir=args.sent_dir,
                    settle_seconds=args.settle,
                )
            elif args.action == "remove":
                match = [f for f in folders.list_folders() if str(f.path) == _abs(args.folder)]
                if not match:
                    raise CliError(f"{args.folder} is not a hot folder here.")
                folders.remove_folder(match[0].id)
        except WatchError as e:
            raise CliError(str(e), 2) from None
        listed = folders.list_folders()
        elsewhere = {f.id: folders.sent_elsewhere(f.id) for f in listed}
        # a folder's problem, and the files another workstation sends, are what the engine's
        # last scan found: with none running now, they may be out of date (a drive plugged in
        # since), and are said to be
        idle = None
        if any(f.problem or elsewhere[f.id] for f in listed):
            idle = _idle_engine_lock(services)
            if idle is not None:
                idle.release()
        when = "" if idle is None else " (when last watched)"
        if not listed:  # (as `alu queue`: "none", not "did not run")
            print("There are no hot folders.")
        for f in listed:
            files = folders.files(f.id)
            sent = sum(1 for x in files if x.state == "sent")
            # (a file another workstation took over from this one is no error: it sends it)
            errors = [x for x in files if x.state == "error"]
            state = "on " if f.enabled else "off"
            print(f"{state}  {f.path}  → {f.sent_path}  ({sent} sent, {len(errors)} errors)")
            for line in f.problem.splitlines():
                print(f"       problem{when}: {line}")
            for x in errors:
                print(f"       error: {Path(x.path).name}: {x.error}")
            for other in elsewhere[f.id]:
                print(f"       sent elsewhere{when}: {other.note}")
    finally:
        services.stop()
    return 0


def _abs(folder: str | None) -> str:
    return str(Path(folder or ".").expanduser().absolute())


def _defaults(args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in args.default or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--default takes field=value, not {item!r}", 2)
        out[key.strip()] = value
    return out


def _rate_flag(text: str | None) -> Limit:
    """A --limit-down/--limit-up given (0 is unlimited), or the saved settings' limit."""
    return parse_rate(text) if text else SAVED


def _run_engine(services: Services, args: argparse.Namespace) -> int:
    """The whole engine in the foreground (a headless station): sync, rules, hot folders,
    transfers, until Ctrl+C, SIGTERM (a service manager's stop) or SIGHUP (the terminal
    closed), after which the engine is stopped (in cmd_watch): running transfers stop where
    they are, queued again, and resume at the next run. The exit status is a signal's usual
    one (130, 143, 129), as for the other verbs."""
    interrupted = Interrupted()
    restore_signals = interrupted.catch()
    try:
        try:
            # the saved settings' caps, limits and schedule; a flag replaces its direction's
            services.start_engine(
                limit_down=_rate_flag(args.limit_down), limit_up=_rate_flag(args.limit_up)
            )
        except EngineBusy as e:
            raise CliError(str(e)) from None
        print(
            "alu: engine running (feed sync, rules, hot folders, transfers); Ctrl+C stops it.",
            flush=True,
        )
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not interrupted.is_set():
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                return 0
            interrupted.wait(left)
        # cmd_watch stops the engine (services.stop) on the way out; after SIGHUP the terminal
        # is gone and the write fails (EIO): the status, 129, still says what happened
        with contextlib.suppress(OSError):
            print("alu: stopping the engine; the transfers under way resume at the next run.",
                  file=sys.stderr)  # fmt: skip
        return interrupted.status
    finally:
        restore_signals()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "queue",
        help="the transfer queue: list, pause, resume, cancel, retry, reorder",
        description="Without an action: the open transfers. pause/resume/cancel/retry ID act "
        "on one (done by the running engine within a second, or here when none runs); "
        "pause-all/resume-all on every one; first/last ID move one to the front or the end of "
        "its priority; priority ID LEVEL gives it another (flash, urgent, routine: flash "
        "ones start first); limit ID RATE gives it a speed limit of its own (2M, 500KB/s, "
        "unlimited), under the global one.",
    )
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "pause", "resume", "cancel", "retry", "pause-all", "resume-all",
                 "first", "last", "priority", "limit"],
    )  # fmt: skip
    p.add_argument("id", nargs="?", type=int, help="a transfer's number (alu queue list)")
    p.add_argument(
        "value", nargs="?", help="for priority: flash, urgent or routine; for limit: a rate (2M)"
    )
    p.add_argument("--all", action="store_true", help="list finished transfers too")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--header",
        action="append",
        default=[],
        help="cancel: 'Name: value' (repeatable) or @FILE, the credentials alu tus-put sent, "
        "for the server to drop the upload",
    )
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("library", help="search the local library; check files; free space")
    p.add_argument("action", nargs="?", default="search", choices=["search", "check", "clean"])
    p.add_argument("text", nargs="*", help="words to search (title, slug, script, …)")
    p.add_argument("--language", action="append")
    p.add_argument("--category", action="append")
    p.add_argument("--priority", action="append")
    p.add_argument("--downloaded", action="store_true", help="only items with a file here")
    p.add_argument("--utc", action="store_true", help=UTC_HELP)
    p.add_argument("--limit", type=list_limit, default=DEFAULT_LIMIT, help=LIMIT_HELP)
    p.add_argument(
        "--max-age-days",
        type=positive_number("days"),
        help="clean: delete files downloaded more than this many days ago (above 0)",
    )
    p.add_argument("--max-total", help="clean: keep the library under this size, e.g. 500G")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_library)

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

    p = sub.add_parser("watch", help="hot folders: list, add, remove; run the engine")
    p.add_argument("action", nargs="?", default="list", choices=["list", "add", "remove", "run"])
    p.add_argument("folder", nargs="?")
    p.add_argument("--default", action="append", help="field=value for files without sidecar")
    p.add_argument("--sent-dir", default="sent", help="where sent files go (default: sent)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds a file must stay still")
    p.add_argument(
        "--seconds", type=positive_number("seconds"), help="run: stop after this many seconds"
    )
    p.add_argument("--limit-down", help="run: download limit, e.g. 2M")
    p.add_argument("--limit-up", help="run: upload limit")
    p.set_defaults(func=cmd_watch)
