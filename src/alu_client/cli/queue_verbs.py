"""`alu queue`: the transfers of this workstation. It works offline and beside a running app
(commands to running transfers go through the shared store)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.lockfile import EngineBusy, EngineLock, Holder, holder
from ..core.plain_text import one_line
from ..core.services import Services
from ..core.store.transfers import PRIORITIES, Transfer, TransferStore, profile_of
from ..core.transfers.download import discard_part
from ..core.transfers.queue import TransferQueue
from ..core.transfers.throttle import format_rate, parse_rate
from .common import (
    CliError,
    fmt_bytes,
    headers_given,
    open_services,
    print_json,
)


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


def idle_engine_lock(services: Services) -> EngineLock | None:
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
        lock = idle_engine_lock(services)
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
            said = transfer_command(
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


def transfer_command(
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
