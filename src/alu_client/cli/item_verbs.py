"""`alu` verbs on the hub's items: feed, get, put, sync, history. Each works offline where it
can (feed, history show what the library has)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..core import hub
from ..core.library import Query
from ..core.lockfile import EngineBusy
from ..core.plain_text import one_line
from ..core.rules import RuleStore
from ..core.services import AlreadyDownloaded, Services
from ..core.store.transfers import Transfer
from ..core.sync import ChangesRead, HistoryEvent, SyncState
from ..core.uploads import (
    FieldError,
    UploadFields,
    file_sha256,
    title_from_filename,
    video_problem,
)
from ..core.withdrawn import WithdrawnItem
from .catch_up_line import CatchUpLine
from .common import (
    CliError,
    fmt_bytes,
    not_done,
    open_services,
    print_json,
    wait_for_transfer,
)
from .dest_copy import copy_into
from .item_lines import print_items
from .options import (
    DEFAULT_LIMIT,
    LIMIT_HELP,
    list_limit,
    say_cut,
)
from .sign_in_check import require_sign_in, sign_in_words
from .times import UTC_HELP, minute
from .withdrawn_notes import (
    changes_lines,
    read_changes,
    say_downloaded_but_withdrawn,
    withdrawn_since,
)


def _sync_feed(services: Services) -> tuple[int, str, ChangesRead]:
    """Catch up with the hub's feed; (items new to the library, '' or why it could not,
    what its changes did to the library)."""
    feed = services.feed_sync()
    line = CatchUpLine()  # (a year's first catch-up: 335 pages, a blank terminal for 15 s)
    try:
        # (not two library counts: those stop at 10,000, and said "0 new items" past that)
        return feed.catch_up(line), "", feed.last_changes
    except hub.HubError as e:
        return 0, str(e), feed.last_changes
    finally:
        line.end()  # (Ctrl-C too: "alu: interrupted" on a clean line; the next run resumes)


def cmd_feed(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        services.require_profile()
        if not args.offline:
            _, problem, _ = _sync_feed(services)
            if problem:
                print(f"alu: offline, showing the library: {one_line(problem)}", file=sys.stderr)
            else:
                _apply_rules(services, quiet=True)
        page = services.library.search(Query(unread=True if args.new else None, limit=args.limit))
        print_items(page.items, args.json, utc=args.utc)
        if not page.items and not args.json:  # (silence read as a command that did nothing)
            print("No unread item." if args.new else "The feed is empty.")
        if page.older is not None:  # (the next page's cursor: more items than these)
            say_cut(len(page.items), args.limit, "unread items" if args.new else "items")
        if args.mark_read:
            services.library.mark_read([li.id for li in page.items])
    finally:
        services.stop()
    return 0


def _download_folder(folder: Path) -> Path:
    """``--dest`` as a folder the download can go to (made if missing), or a CliError that
    names it (not the data folder's advice a failure there would otherwise get)."""
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--dest must be a folder; {folder} is a file.", 2)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"--dest {folder} cannot be made ({e.strerror or e}).", 2) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"--dest {folder} cannot be written to; choose a folder of yours.", 2)
    return folder


#: The fewest characters of an id that ``alu get`` looks up as the beginning of one.
SHORT_ID = 4
#: the length of a whole id (the hub's, hex)
WHOLE_ID = 32


def _item_id(services: Services, typed: str) -> str:
    """The item ``typed`` names: its id, or (4 characters or more) the beginning of one id in
    the library, as one types a short git commit; else ``typed`` itself, for the hub to judge.
    A beginning no item of the library has is looked for again after a feed sync (as `alu feed`
    does: right after `alu login` the library is empty). CliError (exit status 2) when several
    ids begin with it or it is shorter than 4 characters; (1) when the feed could not be synced
    to look."""
    typed = typed.strip()
    if services.library.get(typed) is not None:
        return typed
    if len(typed) < SHORT_ID:  # ("a": the hub said "There is no item with this id", exit 1)
        raise CliError(
            f"{one_line(typed)!r} is too short to name an item: type its whole id or its first "
            f"{SHORT_ID} characters or more (`alu feed` shows the ids).",
            2,
        )
    found = services.library.ids_beginning(typed, limit=3)
    if not found and len(typed) < WHOLE_ID:
        _, problem, _ = _sync_feed(services)
        if problem:
            raise CliError(
                f"No item of the library has an id beginning with {one_line(typed)!r}, and the "
                f"feed could not be synced to look for it: {one_line(problem)} Type the whole "
                "id, or try again when the hub answers."
            )
        found = services.library.ids_beginning(typed, limit=3)
    if len(found) == 1:
        return found[0]
    if found:
        more = "" if len(found) < 3 else " and more"
        raise CliError(
            f"{one_line(typed)!r} begins the ids of {found[0]}, {found[1]}{more}: type more of "
            "the id (`alu feed` shows them whole).",
            2,
        )
    return typed


def cmd_get(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        profile = require_sign_in(services, "nothing was downloaded")
        args.item_id = _item_id(services, args.item_id)
        rendition = "proxy" if args.proxy else "broadcast"
        dest_dir = _download_folder(Path(args.dest).expanduser()) if args.dest else None
        try:
            tid = services.download(args.item_id, rendition, dest_dir=dest_dir)
        except AlreadyDownloaded as e:
            _say_already_downloaded(services, args.item_id, rendition, e.path, dest_dir)
            _say_restrictions(services, args.item_id)
            return 0
        except WithdrawnItem as e:
            raise CliError(str(e)) from None
        except hub.NotFound as e:
            known = services.library.get(args.item_id) is not None
            raise CliError(str(e) if known else f"{e} `alu feed` shows the items' ids.") from None
        except hub.HubError as e:
            raise CliError(str(e)) from None
        t = wait_for_transfer(services, tid)
        # a withdrawal while it ran: the library learns of it (`alu feed` says it)
        read_changes(services)
        if t.state != "done":
            why = t.state == "failed" and sign_in_words(t.last_error, profile)
            raise CliError(f"{t.label}: {why or not_done(t)}")
        gone = withdrawn_since(services, args.item_id)
        if gone is not None:
            return say_downloaded_but_withdrawn(gone, Path(t.destination), t.size or 0)
        # a file of the item already in the folder (another workstation's on a shared folder,
        # a data folder made anew beside its downloads) is taken as it is: said so, not as a
        # download
        found = "already in the folder, nothing fetched" if t.result.get("found_in_folder") else ""
        checked = ", ".join(x for x in (fmt_bytes(t.size or 0), "sha256 verified", found) if x)
        _say_path(Path(t.destination), checked)
        _say_restrictions(services, args.item_id)
    finally:
        services.stop()
    return 0


def _say_already_downloaded(
    services: Services, item_id: str, rendition: str, path: Path, dest_dir: Path | None
) -> None:
    """The library's file, or (``--dest DIR``) a checked copy of it in DIR: a script's
    ``f=$(alu get ID --dest DIR)`` expects its file there."""
    if dest_dir is None:
        _say_path(path, "already downloaded; nothing was fetched")
        return
    li = services.library.get(item_id)
    sha = next((r.sha256 for r in li.item.renditions if r.name == rendition), None) if li else None
    copy, copied = copy_into(path, dest_dir, sha or None)
    if copied:
        _say_path(copy, f"copied from the library ({path}); nothing was downloaded")
    else:
        _say_path(copy, "already there; nothing was downloaded")


def _say_path(path: Path, how: str) -> None:
    """The file's path alone on stdout (``f=$(alu get ID)`` in a script: a path with
    "(158.0 KB, sha256 verified)" after it was no path, nor split safely at " (" with a
    "NAIROBI (2).mp4"), and how it came there on stderr, in one line."""
    print(path, flush=True)
    print(f"alu: {one_line(path.name)}: {how}", file=sys.stderr)


def _say_restrictions(services: Services, item_id: str) -> None:
    """The item's usage restrictions, on stderr (stdout stays the file's path, for scripts):
    what the app shows beside the file, a headless download must say too."""
    li = services.library.get(item_id)
    if li is not None and li.item.restrictions:
        print(f"alu: usage restrictions: {one_line(li.item.restrictions)}", file=sys.stderr)


def cmd_put(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser().absolute()
    if not path.is_file():
        raise CliError(f"{args.file} is not a file.", 2)
    values: dict[str, object] = {
        k: getattr(args, k)
        for k in ("title", "slug", "dateline", "language", "category", "region", "country",
                  "priority", "restrictions", "recorded_at")
        if getattr(args, k)
    }  # fmt: skip
    values.setdefault("title", title_from_filename(path))
    for field, name in (("script", args.script_file), ("shotlist", args.shotlist_file)):
        if name:
            try:
                values[field] = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise CliError(f"{name} could not be read as UTF-8 text ({e}).", 2) from None
    services = open_services()
    try:
        try:
            # "sign in" first, before the fields and the hash
            profile = require_sign_in(services, "nothing was sent")
            fields = UploadFields.from_mapping(values)
            clean, offset = _checked_fields(services, fields)
            problem = video_problem(path)  # (before the whole file is read, let alone sent)
            if problem:
                raise CliError(f"{problem} The hub would refuse it; nothing was sent.", 2)
            digest = file_sha256(path)
            # run again after an interruption (as its message says): the upload under way
            # resumes; a second one would publish the file twice
            _cancel_superseded(services, path, digest)
            open_one = services.open_upload(path, digest)
            sent = services.sent_upload(path, digest, clean.metadata(path, digest, offset))
            if open_one is None and sent is not None:
                print(
                    f"alu: {path.name}: sent already with these details by an earlier run "
                    f"(transfer {sent.id}); not sent again.",
                    file=sys.stderr,
                )
                tid = sent.id
            elif open_one is None:
                before = _sent_from_here(services, digest)
                tid = services.upload(path, fields, sha256=digest)
                if before is not None:
                    _say_sent_again(path, before, tid)
            else:
                tid = open_one.id
                kept = open_one.options.get("metadata", {})
                if kept != clean.metadata(path, digest, offset):
                    print(
                        f"alu: {path.name}: the upload under way goes on with the details it was "
                        f"started with (they cannot change once it has begun); to send the new "
                        f"ones, `alu queue cancel {tid}` and run this again.",
                        file=sys.stderr,
                    )
        except FieldError as e:
            raise CliError(str(e), 2) from None
        except hub.HubError as e:
            raise CliError(str(e)) from None
        t = wait_for_transfer(services, tid)
        if t.state != "done":
            why = t.state == "failed" and sign_in_words(t.last_error, profile)
            raise CliError(f"{path.name}: {why or not_done(t)}")
        item_id = t.result.get("item_id")
        if item_id:
            print(f"{path.name}: uploaded, published as item {item_id}")
        else:
            print(f"{path.name}: uploaded; the hub is still preparing it (it will be in the feed)")
    finally:
        services.stop()
    return 0


def _sent_from_here(services: Services, digest: str) -> Transfer | None:
    """This profile's upload of the same bytes from this data folder under another path (a
    hot folder's, another `put`, the upload form's), sent or on its way; not one the hub
    refused. `put` sends as asked, but says so: that is a second item of the clip."""
    for t in services.uploads_of_content([digest]).get(digest.lower(), []):
        if not (t.state == "done" and t.result.get("state") == "failed"):
            return t
    return None


def _say_sent_again(path: Path, before: Transfer, tid: int) -> None:
    title = one_line(before.label or Path(before.source).name)
    was = "was already sent" if before.state == "done" else "is already being sent"
    print(
        f"alu: {path.name}: the same content {was} from this workstation as “{title}” "
        f"(transfer {before.id}); it is sent again as another item, as asked. If one item "
        f"is enough, press Ctrl+C now and run `alu queue cancel {tid}` (once it is published, "
        "only the agency can withdraw it).",
        file=sys.stderr,
    )


def _checked_fields(services: Services, fields: UploadFields) -> tuple[UploadFields, float]:
    """The fields cleaned, the recording date on the hub's clock, and that clock's offset. A
    date refused before any feed sync kept the offset (`alu put` right after `alu login`, on a
    clock two days slow) is checked again once a sync has heard the hub's clock."""
    offset = services.clock_offset()
    try:
        return fields.validated(offset), offset
    except FieldError as e:
        state = SyncState(services.store, services.require_profile().name)
        if e.field != "recorded_at" or state.clock_offset is not None:
            raise
    _sync_feed(services)  # (the hub not answering: refused as before)
    offset = services.clock_offset()
    return fields.validated(offset), offset


def _cancel_superseded(services: Services, path: Path, digest: str) -> None:
    """An earlier `alu put` of this path, interrupted before the file was exported again,
    can never finish (its bytes are gone): cancel it now, not leave it to fail later in the
    app. One an engine is running right now is left to it: it sees the change and stops."""
    for old in services.superseded_uploads(path, digest):
        transfers = (services.queue or services.make_queue()).transfers
        if not transfers.set_state(old.id, "canceled", only_from=("queued", "paused", "failed")):
            continue
        transfers.clear_request(old.id)
        print(
            f"alu: {path.name}: the earlier upload of this file (transfer {old.id}) was of "
            "content that has changed since; it is canceled and this one sent instead.",
            file=sys.stderr,
        )


def cmd_sync(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        services.require_profile()
        new, problem, changes = _sync_feed(services)
        if problem:
            raise CliError(f"The feed could not be synced: {problem}")
        history = services.history()
        try:
            sent = history.push()
            pulled = history.pull()
        except hub.HubError as e:
            raise CliError(f"The history could not be synced: {e}") from None
        print(f"{new} new items; {sent} history events sent, {pulled} received.")
        for line in changes_lines(changes):  # (the library's items the agency changed)
            print(line)
        _apply_rules(services)
    finally:
        services.stop()
    return 0


def _apply_rules(services: Services, *, quiet: bool = False) -> None:
    """The auto-download rules over the items just brought (`alu sync`, `alu feed`): their
    downloads are queued here, fetched by the next engine (the app, `alu watch run`); an
    engine running on this data folder applies them itself."""
    try:
        matches = services.evaluate_rules_now()
    except EngineBusy as e:
        if e.one_shot:  # (`alu get`, another `alu sync`: it applies no rule to these items)
            print(
                "The auto-download rules were not applied now: another alu command is working "
                "on this data folder. The next `alu sync`, the app or `alu watch run` applies "
                "them.",
                file=sys.stderr,
            )
        elif not quiet:
            print("The auto-download rules are applied by the engine running on this data folder.")
        return
    queued = sum(1 for m in matches if m.transfer_id is not None and not m.already)
    if queued:
        print(
            f"The auto-download rules queued {queued} download(s); the app or `alu watch run` "
            "fetches them.",
            file=sys.stderr if quiet else sys.stdout,
        )
    for p in services.rule_problems():
        print(f"alu: rule {p.rule!r}: {p.error}; {p.waiting} item(s) wait for it.", file=sys.stderr)


def cmd_history(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        history = services.history()
        if not args.offline:
            try:
                history.push()
                history.pull()
            except hub.HubError as problem:
                print(
                    f"alu: offline, showing what is here: {one_line(str(problem))}", file=sys.stderr
                )
        events = history.list(limit=args.limit + 1)  # one more: to know whether more exist
        cut = len(events) > args.limit
        events = events[: args.limit]
        if args.json:
            print_json([e.__dict__ for e in events])
        elif not events:
            print("The history is empty.")  # (as `alu queue`: "none", not "did not run")
        if cut:
            say_cut(len(events), args.limit, "events")
        if args.json:
            return 0
        rules = {r.name for r in RuleStore(services.store, history.profile).all()}
        for e in events:
            when = minute(e.ended_at or 0, args.utc)
            label = one_line(str(e.detail.get("label") or e.item_id or ""))
            if e.rendition and e.rendition != "broadcast":
                label += f" ({one_line(e.rendition)})"
            pending = " (not sent yet)" if e.pending else ""
            device = one_line(e.device) or "-"  # (the hub's words for the other workstations')
            print(f"{when}  {one_line(e.type):20} {fmt_bytes(e.bytes):>9}  {device:15} "
                  f"{label}{_rule_said(e, rules)}{pending}")  # fmt: skip
    finally:
        services.stop()
    return 0


def _rule_said(e: HistoryEvent, rules: set[str]) -> str:
    """The rule that fetched what ``e`` tells of, as the history's text line says it ("" when
    none did); one of this workstation's no longer there is said to be removed (another
    workstation's rules are not known here)."""
    rule = e.detail.get("rule")
    if not isinstance(rule, str) or not rule:
        return ""
    removed = ", removed" if e.origin == "here" and rule not in rules else ""
    return f"  [rule {one_line(rule)}{removed}]"


def register(sub: Any) -> None:
    p = sub.add_parser("feed", help="the hub's feed, newest first (synced first)")
    p.add_argument("--new", action="store_true", help="only items not read yet")
    p.add_argument("--mark-read", action="store_true", help="mark the listed items read")
    p.add_argument("--limit", type=list_limit, default=DEFAULT_LIMIT, help=LIMIT_HELP)
    p.add_argument("--offline", action="store_true", help="do not contact the hub")
    p.add_argument("--utc", action="store_true", help=UTC_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("get", help="download an item's file, verified, into the library")
    p.add_argument("item_id", help="the id `alu feed` shows, or its first characters (4 or more)")
    p.add_argument("--proxy", action="store_true", help="the small preview file")
    p.add_argument("--dest", help="folder (default: the download folder)")
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("put", help="upload a file as a member item")
    p.add_argument("file")
    p.add_argument("--title")
    for name in ("slug", "dateline", "category", "region", "restrictions"):
        p.add_argument(f"--{name}")
    p.add_argument("--language", help="en, fr or ar")
    p.add_argument("--country", help="two letters, e.g. KE")
    p.add_argument("--priority", help="flash, urgent or routine")
    p.add_argument(
        "--recorded-at",
        help="when it was shot, e.g. 2026-11-22T14:30: this workstation's local time,"
        " unless an offset is given (2026-11-22T14:30+03:00, or Z for UTC)",
    )
    p.add_argument("--script-file", help="UTF-8 text file with the script")
    p.add_argument("--shotlist-file", help="UTF-8 text file with the shot list")
    p.set_defaults(func=cmd_put)

    p = sub.add_parser("sync", help="catch up with the feed and exchange the history now")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("history", help="what was downloaded and uploaded, from every workstation")
    p.add_argument("--limit", type=list_limit, default=DEFAULT_LIMIT, help=LIMIT_HELP)
    p.add_argument("--offline", action="store_true")
    p.add_argument("--utc", action="store_true", help=UTC_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)
