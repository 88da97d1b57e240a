"""`alu watch`: hot folders (list, add, remove) and the engine run that serves them."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.engine_settings import SAVED, Limit
from ..core.lockfile import EngineBusy
from ..core.logfile import enable_crash_log, file_log
from ..core.logsafe import quiet_libraries
from ..core.services import Services
from ..core.transfers.throttle import parse_rate
from ..core.watch import HotFolders, WatchError
from .common import (
    CliError,
    Interrupted,
    absolute_folder,
    open_services,
)
from .options import positive_number
from .queue_verbs import idle_engine_lock

log = logging.getLogger(__name__)


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
                match = [
                    f for f in folders.list_folders() if str(f.path) == absolute_folder(args.folder)
                ]
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
            idle = idle_engine_lock(services)
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
        if args.action == "run":  # (as the app's log: a service's restarts and stops)
            log.info("alu watch run stopped")
    return 0


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


def _log_to_file(services: Services) -> None:
    """The engine's log in the log folder, as the app writes it (``alu-client.log``, INFO and
    up): on a station without a screen it went to stderr only, where a service manager may
    keep nothing, and README sends support to that log. Stderr says what it said before."""
    log_dir = services.paths.log_dir
    handler = file_log(log_dir, "alu")
    root = logging.getLogger()
    for existing in root.handlers:  # (stderr: WARNING, or INFO with -v, as before)
        if existing.level == logging.NOTSET:
            existing.setLevel(root.level)
    root.setLevel(min(root.level, logging.INFO))
    root.addHandler(handler)
    quiet_libraries(handler)
    enable_crash_log(log_dir)


def _run_engine(services: Services, args: argparse.Namespace) -> int:
    """The whole engine in the foreground (a headless station): sync, rules, hot folders,
    transfers, until Ctrl+C, SIGTERM (a service manager's stop) or SIGHUP (the terminal
    closed), after which the engine is stopped (in cmd_watch): running transfers stop where
    they are, queued again, and resume at the next run. The exit status is a signal's usual
    one (130, 143, 129), as for the other verbs."""
    _log_to_file(services)
    log.info("ALU Desk %s: alu watch run starting (data %s)", __version__, services.paths.data_dir)
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
        log.info("%s received: stopping the engine", signal.Signals(interrupted.signum).name)
        # cmd_watch stops the engine (services.stop) on the way out; after SIGHUP the terminal
        # is gone and the write fails (EIO): the status, 129, still says what happened
        with contextlib.suppress(OSError):
            print("alu: stopping the engine; the transfers under way resume at the next run.",
                  file=sys.stderr)  # fmt: skip
        return interrupted.status
    finally:
        restore_signals()


def register(sub: Any) -> None:
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
