"""`alu` verbs on this workstation's data: queue, library, rules, watch. They work offline
and beside a running app (commands to running transfers go through the shared store)."""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from ..core.library import Query
from ..core.lockfile import EngineBusy
from ..core.rules import Conditions, RuleError, RuleStore
from ..core.services import Services
from ..core.store.transfers import Transfer, TransferStore
from ..core.transfers.download import discard_part
from ..core.transfers.throttle import parse_rate
from ..core.watch import HotFolders, WatchError
from .common import CliError, fmt_bytes, open_services, parse_size, print_json
from .hub_verbs import print_items

# --- queue -------------------------------------------------------------------------------------


def _transfer_json(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "direction": t.direction,
        "state": t.state,
        "label": t.label,
        "priority": ("flash", "urgent", "routine")[t.priority],
        "bytes_done": t.bytes_done,
        "size": t.size,
        "item_id": t.item_id,
        "rendition": t.rendition,
        "destination": t.destination if t.direction == "download" else "",
        "attempts": t.attempts,
        "damaged": t.damaged,
        "last_error": t.last_error,
    }


def cmd_queue(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        transfers = TransferStore(services.store)
        action = args.action
        if action == "list":
            states = None if args.all else ("queued", "active", "paused", "failed")
            rows = transfers.all(states)
            if args.json:
                print_json([_transfer_json(t) for t in rows])
            elif not rows:
                print("The queue is empty." if not args.all else "No transfers yet.")
            for t in [] if args.json else rows:
                size = fmt_bytes(t.size) if t.size else "?"
                error = f"  ({t.last_error})" if t.last_error else ""
                if t.damaged:
                    error += f"  (damaged record: {t.damaged})"
                print(f"{t.id:>5}  {t.direction:8} {t.state:8} {fmt_bytes(t.bytes_done):>9}/"
                      f"{size:<9} {t.label}{error}")  # fmt: skip
            return 0
        if action in ("pause-all", "resume-all"):
            wanted = ("queued", "active") if action == "pause-all" else ("paused",)
            ids = [t.id for t in transfers.all(wanted)]
        else:
            if args.id is None:
                raise CliError(f"queue {action} needs a transfer id (see alu queue list).", 2)
            if transfers.get(args.id) is None:
                raise CliError(f"There is no transfer {args.id}.")
            ids = [args.id]
        done = [tid for tid in ids if _command(transfers, tid, action)]
        if args.id is not None and not done:
            now = transfers.get(args.id)
            state = now.state if now is not None else "gone"
            raise CliError(f"Transfer {args.id} is {state}: there is nothing to {action}.")
        if args.id is None and not done:
            print(f"alu: no transfer to {action.removesuffix('-all')}.")
    finally:
        services.stop()
    return 0


def _command(transfers: TransferStore, tid: int, action: str) -> bool:
    """Change a transfer's state, or ask the running engine to (it applies it within a second).
    False when there was nothing to do (a finished transfer, say)."""
    if action in ("pause", "pause-all"):
        if transfers.set_state(tid, "paused", only_from=("queued",), reason="paused"):
            return True
        return transfers.request(tid, "pause")
    if action in ("resume", "resume-all", "retry"):
        withdrawn = transfers.clear_request(tid)  # a pause asked of an engine that died
        queued = transfers.set_state(tid, "queued", only_from=("paused", "failed", "queued"))
        return withdrawn or queued
    if action == "cancel":
        t = transfers.get(tid)
        if transfers.set_state(tid, "canceled", only_from=("queued", "paused", "failed")):
            if t is not None and t.direction == "download":
                discard_part(Path(t.destination), transfers.load_checkpoint(tid))
                transfers.clear_checkpoint(tid)
            return True
        return transfers.request(tid, "cancel")
    return False


# --- library ---------------------------------------------------------------------------------


def cmd_library(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        services.require_profile()
        lib = services.library
        if args.action == "check":
            report = lib.check_files()
            for m in report.missing:
                print(f"missing: {m}")
            print(f"{report.checked} files checked, {len(report.missing)} missing, "
                  f"{report.restored} found again.")  # fmt: skip
            return 0
        if args.action == "clean":
            if args.max_age_days is None and args.max_total is None:
                raise CliError("library clean needs --max-age-days or --max-total.", 2)
            total = parse_size(args.max_total) if args.max_total else None
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
        print_items(page.items, args.json)
    finally:
        services.stop()
    return 0


# --- rules -----------------------------------------------------------------------------------


def cmd_rules(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        rules = RuleStore(services.store, services.require_profile().name)
        try:
            if args.action == "add":
                if not args.name:
                    raise CliError("rules add needs a name.", 2)
                conditions = Conditions.of(
                    categories=args.category or (),
                    regions=args.region or (),
                    countries=args.country or (),
                    languages=args.language or (),
                    priorities=args.priority or (),
                    words=args.words or (),
                )
                rules.add(args.name, conditions, action=args.do, destination=args.dest or "")
            elif args.action in ("remove", "enable", "disable"):
                if not args.name:
                    raise CliError(f"rules {args.action} needs a rule name.", 2)
                rule = rules.by_name(args.name)
                if args.action == "remove":
                    rules.remove(rule.id)
                else:
                    rules.set_enabled(rule.id, args.action == "enable")
        except RuleError as e:
            raise CliError(str(e), 2) from None
        listed = rules.all()
        if args.json:
            print_json([{"name": r.name, "enabled": r.enabled, "action": r.action,
                         "destination": r.destination, "conditions": r.conditions.to_json()}
                        for r in listed])  # fmt: skip
        elif args.action == "list":
            for r in listed:
                state = "on " if r.enabled else "off"
                cond = json.dumps(r.conditions.to_json(), ensure_ascii=False)
                print(f"{state}  {r.name}: {r.action} → {r.destination or 'downloads'}  {cond}")
    finally:
        services.stop()
    return 0


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
        for f in folders.list_folders():
            files = folders.files(f.id)
            sent = sum(1 for x in files if x.state == "sent")
            errors = [x for x in files if x.state == "error"]
            state = "on " if f.enabled else "off"
            print(f"{state}  {f.path}  → {f.sent_path}  ({sent} sent, {len(errors)} errors)")
            for x in errors:
                print(f"       error: {Path(x.path).name}: {x.error}")
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


def _run_engine(services: Services, args: argparse.Namespace) -> int:
    """The whole engine in the foreground (a headless station): sync, rules, hot folders,
    transfers, until Ctrl+C."""
    try:
        queue = services.start_engine()
    except EngineBusy as e:
        raise CliError(str(e)) from None
    if args.limit_down or args.limit_up:
        queue.set_limits(
            parse_rate(args.limit_down) if args.limit_down else None,
            parse_rate(args.limit_up) if args.limit_up else None,
        )
    print("alu: engine running (feed sync, rules, hot folders, transfers); Ctrl+C stops it.")
    stop = threading.Event()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait(args.seconds if args.seconds else None)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("queue", help="the transfer queue: list, pause, resume, cancel, retry")
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "pause", "resume", "cancel", "retry", "pause-all", "resume-all"],
    )
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--all", action="store_true", help="list finished transfers too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("library", help="search the local library; check files; free space")
    p.add_argument("action", nargs="?", default="search", choices=["search", "check", "clean"])
    p.add_argument("text", nargs="*", help="words to search (title, slug, script, …)")
    p.add_argument("--language", action="append")
    p.add_argument("--category", action="append")
    p.add_argument("--priority", action="append")
    p.add_argument("--downloaded", action="store_true", help="only items with a file here")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--max-age-days", type=float, help="clean: delete files older than this")
    p.add_argument("--max-total", help="clean: keep the library under this size, e.g. 500G")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_library)

    p = sub.add_parser("rules", help="auto-download rules: list, add, remove, enable, disable")
    p.add_argument("action", nargs="?", default="list",
                   choices=["list", "add", "remove", "enable", "disable"])  # fmt: skip
    p.add_argument("name", nargs="?")
    for name in ("category", "region", "country", "language", "priority"):
        p.add_argument(f"--{name}", action="append", help="repeatable")
    p.add_argument("--words", action="append", help="words in title, slug or script")
    p.add_argument("--do", default="broadcast",
                   choices=["broadcast", "proxy", "proxy_then_broadcast"])  # fmt: skip
    p.add_argument("--dest", help="destination folder (default: the download folder)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("watch", help="hot folders: list, add, remove; run the engine")
    p.add_argument("action", nargs="?", default="list", choices=["list", "add", "remove", "run"])
    p.add_argument("folder", nargs="?")
    p.add_argument("--default", action="append", help="field=value for files without sidecar")
    p.add_argument("--sent-dir", default="sent", help="where sent files go (default: sent)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds a file must stay still")
    p.add_argument("--seconds", type=float, help="run: stop after this long")
    p.add_argument("--limit-down", help="run: download limit, e.g. 2M")
    p.add_argument("--limit-up", help="run: upload limit")
    p.set_defaults(func=cmd_watch)
