"""`alu` verbs that talk to the hub: login, logout, whoami, doctor, feed, get, put, sync,
history. Each works offline where it can (feed, history show what the library has)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core import hub, proxy_login
from ..core.credentials import PlainTextNotAccepted, SecretsError
from ..core.doctor import Check, run_checks
from ..core.fstype import UnsuitableDataFolder
from ..core.library import LibraryItem, Query
from ..core.lockfile import EngineBusy, EngineLock
from ..core.paths import default_paths
from ..core.plain_text import one_line
from ..core.profiles import (
    Profile,
    ProfileNotFound,
    ProfileOfAnotherAccount,
    ReplacedHub,
    sign_in,
    sign_out,
)
from ..core.rules import RuleStore
from ..core.services import AlreadyDownloaded, NoProfile, Services
from ..core.settings import AppSettings
from ..core.sync import ChangesRead, HistoryEvent
from ..core.uploads import (
    FieldError,
    UploadFields,
    file_sha256,
    title_from_filename,
    video_problem,
)
from ..core.withdrawn import WithdrawnItem
from .common import (
    CliError,
    fmt_bytes,
    not_done,
    open_services,
    print_json,
    secrets_problem,
    wait_for_transfer,
)
from .dest_copy import copy_into
from .options import (
    DEFAULT_LIMIT,
    LIMIT_HELP,
    MAX_TIMEOUT,
    list_limit,
    positive_number,
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

PRIORITY_MARK = {"flash": "FLASH ", "urgent": "URGENT", "routine": "      "}


def cmd_login(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
    else:
        raise CliError("No password: pass --password-stdin and write it to standard input.", 2)
    if not password:
        raise CliError("The password is empty.", 2)
    # a login in the proxy's address is kept apart, in the keyring (the profile keeps the rest);
    # without one, a login kept for the profile goes on being used
    proxy, login = proxy_login.split(args.proxy or "")
    services = open_services(allow_plain=args.accept_plain_secrets)
    held: EngineLock | None = None
    try:
        problem = secrets_problem(services.secrets)
        if problem:  # said before the hub is asked: no session opened that cannot be kept
            raise CliError(problem)
        before = services.profiles.list()
        moving = services.profiles.get(args.name) if args.name else None
        if moving is not None and moving.url != hub.normalize_url(args.hub_url):
            # the move rewrites the queue's addresses: an engine at work on them would write
            # its own back (an upload's URLs), and publish the clip twice after all
            try:
                held = EngineLock(services.paths.engine_lock).acquire(say=False)
            except EngineBusy:
                raise CliError(
                    f"Profile {moving.name} moves to a new address with its queue: close the app "
                    "(or stop alu watch run) on this workstation first, then sign in again."
                ) from None
        new_url = hub.normalize_url(args.hub_url)

        @contextlib.contextmanager
        def guard() -> Iterator[None]:
            # another hub at the profile's address (its state is made the new hub's): an
            # engine at work on the queue would write back what changes under it
            if held is not None:
                yield
                return
            try:
                lock = EngineLock(services.paths.engine_lock).acquire(say=False)
            except EngineBusy:
                raise CliError(
                    f"The hub at {new_url} is another hub than the one this workstation knew "
                    "there (its identity differs), and this workstation's queue must be made "
                    "its own: close the app (or stop alu watch run) on this workstation "
                    "first, then sign in again."
                ) from None
            try:
                yield
            finally:
                lock.release()

        profile = sign_in(
            services.profiles,
            services.secrets,
            args.hub_url,
            args.user,
            password,
            name=args.name,
            ca_bundle=args.ca_bundle or "",
            proxy=proxy,
            allow_http=args.allow_http,
            allow_plain_secrets=args.accept_plain_secrets,
            proxy_login=login or "keep",
            moving=guard,
            on_replaced_hub=lambda kept, done: print(
                replaced_hub_note(kept, done), file=sys.stderr
            ),
            on_other_hub=lambda left: print(
                f"alu: this is another hub (its identity differs): {new_url} is not the hub "
                f"of profile {left.name} at {left.url}; signed in to it as another hub, and "
                f"profile {left.name} keeps its queue and history for its own hub.",
                file=sys.stderr,
            ),
            on_retry=lambda _try: print(
                f"alu: the hub at {hub.normalize_url(args.hub_url)} has not answered yet; "
                "trying again…",
                file=sys.stderr,
            ),
        )
    except PlainTextNotAccepted as e:
        raise CliError(f"{e} To accept it, sign in again with --accept-plain-secrets.") from None
    except ProfileOfAnotherAccount as e:
        raise CliError(str(e), 2) from None
    except hub.PlainHttpRefused as e:  # its text speaks of the profile (the app's words)
        raise CliError(f"{e} Here: sign in again with --allow-http.", 2) from None
    except hub.TlsError as e:
        raise CliError(f"{e} Here: sign in again with --ca-bundle FILE.") from None
    except (hub.HubError, SecretsError) as e:
        raise CliError(str(e)) from None
    finally:
        if held is not None:
            held.release()
        services.stop()
    who = one_line(profile.member.get("display_name") or "") or profile.username
    print(f"Signed in to {profile.url} as {who} (profile {profile.name}).")
    _moved_hub_note(profile, before)
    return 0


def replaced_hub_note(profile: Profile, done: ReplacedHub) -> str:
    """Said by `alu login` when the hub at the profile's address is another one now."""
    return (
        f"alu: the hub at {profile.url} is not the hub this workstation knew there (its "
        "identity differs: rebuilt with a new database, or another hub). Its feed is read from "
        f"the start; {done.downloads} download(s) not done yet ended (their items were on the "
        f"hub before; download them again from the feed if the new hub has them); "
        f"{done.uploads} upload(s) not done yet start again from the beginning on the new hub; "
        f"{done.events} history event(s) not sent yet stay here and are not sent to it. The "
        "files in the library stay."
    )


def _moved_hub_note(profile: Profile, before: list[Profile]) -> None:
    """A new profile for the same account as one at another address: the hub moved, most
    likely, and the new profile began with an empty library while the old one kept the
    queue and the history not yet sent (downloads never counted, files fetched again)."""
    if any(p.name == profile.name for p in before):
        return
    same = [
        p
        for p in before
        if p.username == profile.username
        and p.url != profile.url
        and all(p.member.get(k) == profile.member.get(k) for k in ("display_name", "country"))
    ]
    for old in same:
        print(
            f"alu: note: profile {profile.name} is new; profile {old.name} ({old.url}), the "
            "same account at another address, keeps its library, queue and history not yet "
            f"sent. If the hub moved, sign in with --name {old.name} instead (then alu logout "
            f"--profile {profile.name}).",
            file=sys.stderr,
        )


def cmd_logout(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        name = args.profile or services.require_profile().name
        username = services.profiles.require(name).username
        confirmed = sign_out(services.profiles, services.secrets, name)
    except (hub.HubError, SecretsError) as e:
        raise CliError(str(e)) from None
    except ProfileNotFound as e:
        raise CliError(
            f"No hub profile is named {e.name!r} here; alu whoami names the one in use."
        ) from None
    finally:
        services.stop()
    print(_signed_out_words(confirmed, username))
    return 0


def _signed_out_words(confirmed: bool | None, username: str) -> str:
    if confirmed is None:
        return "Not signed in here; nothing was signed out."
    if confirmed:
        return "Signed out."
    # the token is forgotten here, so this workstation cannot tell the hub later
    return (
        "Signed out here, but the hub could not be told: that sign-in stays valid on the hub "
        "until it expires (30 days after it was made, unless the agency set another time). To "
        f"end it now, ask the agency to sign it out (alu-hub member signout {username})."
    )


def _whoami_profile(profile: Profile) -> dict[str, object]:
    return {"profile": profile.name, "hub": profile.url, "username": profile.username}


def _not_retried(message: str) -> str:
    """A hub error's words for a verb that asks once: "trying again later" is the engine's
    (it does), not `whoami`'s."""
    return message.replace("; trying again later.", ".")


def cmd_whoami(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        try:
            profile = services.require_profile()
        except NoProfile as e:
            if not args.json:
                raise
            # a script reads JSON whoever is signed in, or nobody (it got an empty stdout)
            print_json({"signed_in": False, "online": False, "error": str(e)})
            raise CliError(str(e)) from None
        member = services.client().me()
    except hub.AuthError as e:
        # the hub refused the sign-in kept here: as signed out (exit 1), said whose it was
        if args.json:
            print_json(
                {**_whoami_profile(profile), "signed_in": False, "online": True, "error": str(e)}
            )
        raise CliError(str(e)) from None
    except hub.HubError as e:
        # unreachable, failing (5xx, 429), answering garbage: who is signed in stands, the
        # hub is not there for now (only a dropped link was said so: a 500 printed an error
        # alone, and --json printed nothing for a script to read)
        said = _not_retried(str(e))
        if args.json:  # a script reads JSON whatever the hub does
            print_json(
                {**_whoami_profile(profile), "signed_in": True, "online": False, "error": said}
            )
        else:
            print(
                f"{profile.username} on {profile.url} (profile {profile.name}); "
                f"offline: {one_line(said)}"
            )
        return 0
    finally:
        services.stop()
    if args.json:
        print_json(
            {
                "profile": profile.name,
                "hub": profile.url,
                "signed_in": True,
                "online": True,
                **member.to_json(),
            }
        )
    else:
        name, user, role, country = map(
            one_line, (member.display_name, member.username, member.role, member.country)
        )
        print(f"{name} ({user}, {role}, {country}) on {profile.url}, profile {profile.name}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        services = open_services()
    except (sqlite3.DatabaseError, CliError, UnsuitableDataFolder) as e:
        # the library cannot be opened (damaged, from a newer version, on a network share): its
        # check (or the data folder's) says so and the others still run (without a profile:
        # none can be read from it)
        checks = run_checks(default_paths(), None, None, timeout=args.timeout)
        if isinstance(e, CliError):  # intact, but not this version's
            checks = [Check(c.name, False, str(e)) if c.name == "library" else c for c in checks]
        # (not "sign in first": the profile is there, in the library that cannot be opened)
        not_read = "Not checked: the hub's profile is kept in the library, which cannot be opened."
        checks = [Check(c.name, None, not_read) if c.name == "hub" else c for c in checks]
    else:
        try:
            profile = services.profile
            checks = run_checks(
                services.paths,
                profile,
                None,
                timeout=args.timeout,
                # the folders downloads go to, not the default one (a NAS chosen in Settings)
                download_dir=AppSettings(services.store, services.paths.downloads_dir).download_dir,
                rule_dirs=services.rule_folders(profile.name) if profile is not None else (),
            )
        finally:
            services.stop()
    failed = 0
    for c in checks:
        mark = {True: "ok  ", None: "warn", False: "FAIL"}[c.ok]
        failed += c.ok is False
        print(f"{mark}  {c.name}: {c.message}")
    return 1 if failed else 0


def _sync_feed(services: Services) -> tuple[int, str, ChangesRead]:
    """Catch up with the hub's feed; (items new to the library, '' or why it could not,
    what its changes did to the library)."""
    feed = services.feed_sync()
    try:
        # (not two library counts: those stop at 10,000, and said "0 new items" past that)
        return feed.catch_up(), "", feed.last_changes
    except hub.HubError as e:
        return 0, str(e), feed.last_changes


def _item_json(li: LibraryItem) -> dict[str, Any]:
    it = li.item
    return {
        "id": it.id,
        "seq": it.seq,
        "kind": it.kind,
        "title": it.title,
        "slug": it.slug,
        "dateline": it.dateline,
        "published_at": it.published_at.isoformat(),
        "language": it.language,
        "category": it.category,
        "region": it.region,
        "country": it.country,
        "priority": it.priority,
        "duration": it.duration,
        "restrictions": it.restrictions,
        "script": it.script,
        "shotlist": it.shotlist,
        "read": li.read,
        # what the agency did since it published it (a withdrawn item: do not use it)
        "revision": it.revision,
        "corrected_at": it.corrected_at.isoformat() if it.corrected_at else None,
        "correction_note": it.correction_note,
        "withdrawn_at": it.withdrawn_at.isoformat() if it.withdrawn_at else None,
        "withdrawn_reason": it.withdrawn_reason,
        "files": [
            {"rendition": f.rendition, "path": str(f.path), "state": f.state} for f in li.files
        ],
        "renditions": [{"name": r.name, "size": r.size, "sha256": r.sha256} for r in it.renditions],
    }


def print_items(items: list[LibraryItem], as_json: bool, *, utc: bool = False) -> None:
    if as_json:
        print_json([_item_json(li) for li in items])
        return
    for li in items:
        it = li.item
        when = minute(it.published_at, utc)
        gone = [f for f in li.files if f.state == "missing"] if not li.downloaded else []
        have = "✓" if li.downloaded else ("✗" if gone else " ")
        # the hub's words, on one line without what a terminal would obey (ESC sequences,
        # a CR and LF that forge an "alu:" line, direction overrides)
        print(
            f"{have} {PRIORITY_MARK.get(it.priority, '')} {when}  {one_line(it.language):2}  "
            f"{one_line(it.id)}  {one_line(it.title)}"
        )
        if it.withdrawn_at is not None:  # never left out either: it must not be used
            at = minute(it.withdrawn_at, utc)
            print(
                f"      WITHDRAWN by the agency {at}, do not use: {one_line(it.withdrawn_reason)}"
            )
        elif it.corrected_at is not None:
            at = minute(it.corrected_at, utc)
            print(f"      Corrected {at}: {one_line(it.correction_note)}")
        if it.restrictions:  # what may not be aired, where: never left out of a listing
            print(f"      Restrictions: {one_line(it.restrictions)}")
        for f in gone:  # it was here: a librarian looking for it is told it went, and why
            print(
                f"      Missing: {one_line(str(f.path))} ({one_line(f.reason)}); "
                f"alu get {one_line(it.id)}{' --proxy' if f.rendition == 'proxy' else ''} "
                "fetches it again"
            )


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


def _item_id(services: Services, typed: str) -> str:
    """The item ``typed`` names: its id, or (4 characters or more) the beginning of one id in
    the library, as one types a short git commit; else ``typed`` itself, for the hub to judge.
    CliError (exit status 2) when several ids begin with it."""
    typed = typed.strip()
    if len(typed) < SHORT_ID or services.library.get(typed) is not None:
        return typed
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
            clean = fields.validated()
            problem = video_problem(path)  # (before the whole file is read, let alone sent)
            if problem:
                raise CliError(f"{problem} The hub would refuse it; nothing was sent.", 2)
            digest = file_sha256(path)
            # run again after an interruption (as its message says): the upload under way
            # resumes; a second one would publish the file twice
            _cancel_superseded(services, path, digest)
            open_one = services.open_upload(path, digest)
            sent = services.sent_upload(path, digest, clean.metadata(path, digest))
            if open_one is None and sent is not None:
                print(
                    f"alu: {path.name}: sent already with these details by an earlier run "
                    f"(transfer {sent.id}); not sent again.",
                    file=sys.stderr,
                )
                tid = sent.id
            elif open_one is None:
                tid = services.upload(path, fields, sha256=digest)
            else:
                tid = open_one.id
                kept = open_one.options.get("metadata", {})
                if kept != clean.metadata(path, digest):
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
    p = sub.add_parser("login", help="sign in to a hub (the token goes to the OS keyring)")
    p.add_argument("hub_url")
    p.add_argument("--user", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--name", help="profile name (default user@host)")
    p.add_argument("--ca-bundle", help="CA certificates file for a corporate proxy or own CA")
    p.add_argument(
        "--proxy",
        help="HTTP(S) proxy URL (default: the system's); a user:password@ in it is kept in the "
        "keyring",
    )
    p.add_argument("--allow-http", action="store_true", help="allow plain http:// for this hub")
    p.add_argument(
        "--accept-plain-secrets",
        action="store_true",
        help="keep the token in a plain-text keyring if that is all there is",
    )
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="sign out (the token is revoked and forgotten)")
    p.add_argument("--profile")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser("whoami", help="who is signed in, to which hub")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_whoami)

    p = sub.add_parser("doctor", help="check hub, TLS, sign-in, keyring, clock, disk")
    p.add_argument(
        "--timeout",
        type=positive_number("seconds", MAX_TIMEOUT),
        default=10.0,
        help=f"seconds each check waits for an answer (default 10, at most {MAX_TIMEOUT:g})",
    )
    p.set_defaults(func=cmd_doctor)

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
    p.add_argument("--recorded-at", help="e.g. 2026-11-22T14:30")
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
