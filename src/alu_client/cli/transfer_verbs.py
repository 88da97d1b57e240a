"""`alu fetch` and `alu tus-put`: transfer verbs for any server (diagnostics and scripts).

They run the same engine as the app, in the foreground, on the data folder's persistent queue,
so an interrupted run resumes when started again."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.engine_settings import ENGINE_LOCK_WAIT, SAVED, Limit, apply_settings
from ..core.http import valid_address
from ..core.lockfile import EngineBusy, EngineLock
from ..core.paths import default_paths
from ..core.relocate import follow_move
from ..core.safe_names import safe_filename, shown
from ..core.settings import AppSettings
from ..core.store import SchemaTooNew, Store
from ..core.store.transfers import Transfer
from ..core.transfers.base import Tuning
from ..core.transfers.queue import TransferQueue
from ..core.transfers.retry import in_server_words
from ..core.transfers.throttle import parse_rate
from ..core.transfers.upload.protocol import still_held
from ..core.transfers.upload.spec import (
    FILE_CHANGED,
    KIB,
    MAX_CHUNK,
    MIB,
    MIN_CHOSEN_CHUNK,
    TARGET_CHUNK_S,
)
from ..core.uploads import file_sha256
from .common import (
    MAX_STREAMS,
    CliError,
    Interrupted,
    ProgressLine,
    credentials_out_of,
    fmt_bytes,
    headers_given,
    not_done,
    say_relocated,
    stream_count,
)
from .transfer_words import credentials_words, interrupted_words
from .tus_args import check_readable, chunk_size, metadata_item

log = logging.getLogger(__name__)

HEADER_HELP = (
    "'Name: value' (repeatable), or @FILE of them, one a line (@- reads standard input): "
    "credentials on the command line are seen by every local account in ps"
)


def _check_address(url: str, verb: str, what: str) -> None:
    """A CliError (status 2) unless ``url`` is an http(s) address requests can be trusted
    with (``http.origin``: a port that is a port, no backslash in the host, …). The address
    is not repeated: it may hold a secret (a password, a signed link's signature)."""
    if valid_address(url):
        return
    if url.strip().partition(":")[0].lower() not in ("http", "https"):
        raise CliError(f"{verb} takes an http:// or https:// {what}", 2)
    raise CliError(
        f"{verb}: the {what} given is not a valid address (a port that is no port, a broken "
        "[IPv6] address, a backslash or a space in the host?)",
        2,
    )


#: the exit status of `alu fetch` and `alu tus-put` when the app or `alu watch run` holds the
#: data folder (EX_TEMPFAIL: a script may try again later); another `alu` command's transfer is
#: waited for instead, as `alu get` waits
BUSY_STATUS = 75


def _open_engine(interrupted: Interrupted) -> tuple[Store, EngineLock]:
    """The data folder's store and engine lock. While another `alu` command runs its own
    transfer there, wait for it to end (as `alu get` and `alu put` do; Ctrl-C stops the wait).
    The app or `alu watch run` runs all the transfers for as long as it runs: its engine would
    take this one without the command's --header and --limit, so it is refused then, with
    ``BUSY_STATUS``."""
    paths = default_paths().ensure()
    said = False
    lock = EngineLock(paths.engine_lock)
    while True:
        try:
            # this engine runs its own transfer only: said in the lock's file from the start,
            # so that another `alu` waiting for a transfer here waits for the lock, not for
            # this engine (polled when busy: each wait short, so Ctrl-C is heard)
            lock.acquire(only=frozenset(), wait=0.2 if said else ENGINE_LOCK_WAIT)
            break
        except EngineBusy as e:
            if not e.one_shot:
                raise CliError(str(e), BUSY_STATUS) from None
            if not said:
                said = True
                print(
                    f"alu: another alu (process {e.pid or '?'}) is working on this data folder "
                    "for its own transfer only; this one starts when it ends.",
                    file=sys.stderr,
                )
        if interrupted.wait(0.3):
            raise CliError("Interrupted; nothing was started.", interrupted.status)
    if said:
        print("alu: the data folder is free now; the transfer runs here.", file=sys.stderr)
    try:
        store = Store(paths.db_path)
    except SchemaTooNew as e:
        lock.release()
        raise CliError(str(e)) from None
    say_relocated(follow_move(store, paths))
    return store, lock


def _run_one(
    find_or_add: Callable[[TransferQueue, Interrupted], int],
    headers: dict[str, str],
    limit: Limit,
    *,
    direction: str,
    on_result: Callable[[int, dict[str, object]], None] | None = None,
    on_end: Callable[[TransferQueue, Transfer], None] | None = None,
) -> Transfer:
    """Run the transfer ``find_or_add`` finds or queues, alone, to its end; ``on_end`` is
    given it then, with the queue still open (to say it, and record that it was said)."""
    interrupted = Interrupted()
    restore_signals = interrupted.catch()
    try:
        store, lock = _open_engine(interrupted)
    except BaseException:
        restore_signals()
        raise
    # This command's headers (a token, a password) are for its own transfer alone, and it runs
    # that one only: others queued in the data folder (the app's, an earlier command's) are
    # left for the engine that has their credentials.
    queue = TransferQueue(
        store,
        max_downloads=1,
        max_uploads=1,
        headers_for=lambda t: headers if queue.only is not None and t.id in queue.only else {},
    )
    line = ProgressLine(0)  # its transfer's id once known (find_or_add)
    if on_result is not None:

        def result(tid: int, result: dict[str, object]) -> None:
            # the result (tus-put's URL) on a line of its own, not glued to the progress line
            if tid == line.tid:
                line.end()
            on_result(tid, result)

        queue.on_result = result
    # the workstation's saved limits and schedule (Settings); --limit replaces them in the
    # command's direction for this run
    apply_settings(
        queue,
        AppSettings(store, default_paths().downloads_dir),
        limit_down=limit if direction == "download" else SAVED,
        limit_up=limit if direction == "upload" else SAVED,
    )
    try:
        # This process holds the engine lock: a transfer the store says is 'active' was left
        # so by an engine that died (kill -9, a crash). Put back in the queue now, as
        # ``queue.start`` would, and before ``find_or_add`` looks: as 'active' it could not
        # be canceled there (the cancel of a superseded upload did nothing, and the old one
        # then ran beside the new one).
        recovered = queue.transfers.recover_after_crash()
        if recovered:
            log.info("%d transfers were left active by an engine that stopped", recovered)
        tid = find_or_add(queue, interrupted)
        # This process holds the engine lock: a pause or cancel still waiting in the row was
        # asked of an engine that died before it took it; the user's own rerun resumes the
        # transfer, and must not stop it again at its first second.
        queue.transfers.clear_request(tid)
        queue.only = frozenset({tid}) | (queue.only or frozenset())
        lock.set_only(queue.only)
        line.tid = tid
        queue.add_listener(line)
        queue.on_note = line.note
        queue.start()
        while not interrupted.is_set():
            t = queue.wait_for(tid, timeout=0.5)
            if t.state in ("done", "failed", "canceled", "paused"):
                break
        if not interrupted.is_set() and t.state == "canceled":
            # by `alu queue cancel`: the server is told now, with the credentials this command
            # has (``stop`` waits for it)
            queue.clean_up_canceled()
        queue.remove_listener(line)  # the stop below reports once more: not onto our last line
        line.end()
        if interrupted.is_set():
            # the transfer stays queued in the data folder: an engine that runs them all
            # (the app, `alu watch run`, where there is a hub profile) takes it, unless dropped
            raise CliError(interrupted_words(store, tid), interrupted.status)
        if on_end is not None:
            on_end(queue, t)
        return t
    finally:
        queue.stop()
        store.close()
        lock.release()
        restore_signals()


def _existing(
    queue: TransferQueue, direction: str, source: str, destination: str
) -> Transfer | None:
    """The newest unfinished transfer of the same thing: running the command again resumes
    it. The newest, because an older one is one a rerun replaced (the file changed: canceled
    then, or failed when an earlier version of this command could not cancel it); taking an
    older one first added yet another upload and left the newest queued for ever."""
    same = [
        t
        for t in queue.transfers.all(("queued", "active", "paused", "failed"), direction)
        if t.source == source and t.destination == destination
    ]
    return max(same, key=lambda t: t.id, default=None)


def _without_query(url: str) -> str:
    """``url`` but its query and fragment: a signed link's address, whatever its signature."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _same_file_signed_again(queue: TransferQueue, url: str, destination: str) -> Transfer | None:
    """An unfinished download to ``destination`` from the same address but for its query: a
    signed link (S3, a CDN) is issued again with a new signature, and the part file its first
    run made is this one's (it was refused as "not made by this download")."""
    where = _without_query(url)
    for t in queue.transfers.all(("queued", "active", "paused", "failed"), "download"):
        if t.destination == destination and _without_query(t.source) == where:
            return t
    return None


def _done_before(queue: TransferQueue, url: str, dest: Path, sha: str | None) -> Transfer | None:
    """The download of ``url`` to ``dest`` that an earlier run finished, when ``dest`` is still
    its file (the size and sha256 it recorded; ``sha``, if given, too): a run killed after the
    end was recorded, before it printed it, is not "exists already" for the rerun (a script's
    `until alu fetch …` never ended). One whose run said its end is taken again only with
    ``sha`` (the file is the one asked for): without one the server's file may have changed
    since (a daily rundown), and "exists already" says that nothing was fetched."""
    where = _without_query(url)
    newest_first = sorted(queue.transfers.all(("done",), "download"), key=lambda t: -t.id)
    for t in newest_first:
        recorded = str(t.result.get("sha256") or "")
        if t.options.get("reported") and t.destination == str(dest) and sha is None:
            return None  # (the newest one for this file was said: no older one counts)
        if (
            t.destination != str(dest)
            or _without_query(t.source) != where
            or not recorded
            or (sha is not None and sha != recorded)
        ):
            continue
        try:
            if dest.stat().st_size != t.result.get("size") or file_sha256(dest) != recorded:
                return None
        except OSError:
            return None
        return t
    return None


def _sent_before(
    queue: TransferQueue,
    path: Path,
    endpoint: str,
    metadata: dict[str, str],
    still_wanted: Callable[[int], None],
    headers: dict[str, str],
) -> tuple[Transfer, str, bool] | None:
    """The upload of ``path`` to ``endpoint`` that an earlier run finished, the URL it printed
    (kept a day: ``queue.KEEP_URL_S``) and whether the server said it still has it, when the
    file is still the one it sent (its size and sha256) and the metadata asked for are the ones
    it sent: a run killed after the end was recorded (its URL printed or not; a script seeing
    exit status 137 runs it again) is not sent twice. One the server no longer has (404/410 to
    a HEAD: wiped, expired) is sent again; when it cannot be asked, the URL is taken as is."""
    size = path.stat().st_size
    newest_first = sorted(queue.transfers.all(("done",), "upload"), key=lambda t: -t.id)
    for t in newest_first:
        if t.source != str(path) or t.destination != endpoint or t.size != size or not t.sha256:
            continue
        sent = t.options.get("metadata", {})
        if any(sent.get(k) != v for k, v in metadata.items()):
            continue
        url = queue.transfers.kept(t.id).get("url")
        if not isinstance(url, str) or not url:
            continue
        if file_sha256(path, still_wanted) != t.sha256:
            return None  # the file changed since: it is sent anew
        held = still_held(queue.sessions.get(url), url, endpoint, headers)
        if held is False:
            print(
                f"alu: {path.name}: sent by an earlier run of this command (transfer {t.id}), "
                "but the server no longer has it; it is sent again as a new upload.",
                file=sys.stderr,
            )
            return None
        return t, url, held is True
    return None


def _check_folders(dest: Path) -> None:
    """A CliError (status 2) when a folder on the way to ``dest`` is a file: the download
    failed only once queued ("The file cannot be saved there (File exists)"), naming neither
    the file nor the path, and left a failed transfer for input that never was one."""
    for folder in dest.parents:
        if folder.exists():
            if not folder.is_dir():
                raise CliError(f"{shown(folder)} is a file, not a folder; choose another DEST.", 2)
            return


def cmd_fetch(args: argparse.Namespace) -> int:
    _check_address(args.url, "fetch", "URL")
    headers = headers_given(args.header)
    url = credentials_out_of(args.url, headers)
    dest = Path(args.dest).expanduser().absolute()
    try:
        if dest.is_dir() or args.dest.endswith(("/", os.sep)):
            # the URL's last segment is the server's text: one safe name (no NUL, control or
            # direction characters, no "..", no CON), "download" when nothing of it is left
            dest = dest / safe_filename(Path(unquote(urlsplit(url).path)).name)
        dest.exists()  # a name too long, a folder that cannot be looked in: said here
        _check_folders(dest)
    except OSError as e:
        raise CliError(f"{dest}: {e.strerror or e}; choose another DEST.", 2) from None
    try:
        str(dest).encode("utf-8")
    except UnicodeEncodeError:
        # (the queue's own words, "Rename the file, then add it again", are for a file that
        # exists; this one is to be made)
        raise CliError(
            f"The name of “{shown(dest.name)}” in {shown(dest.parent)} is not valid text: it "
            "holds bytes no character set here can read; choose another name for DEST.",
            2,
        ) from None
    sha = args.sha256.lower() if args.sha256 else None
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise CliError("--sha256 takes 64 hexadecimal characters", 2)
    limit: Limit = parse_rate(args.limit) if args.limit else SAVED

    def find_or_add(queue: TransferQueue, _interrupted: Interrupted) -> int:
        t = _existing(queue, "download", url, str(dest))
        if t is None and (t := _same_file_signed_again(queue, url, str(dest))) is not None:
            queue.transfers.set_source(t.id, url)
        if t is not None:
            if sha is not None and sha != t.sha256:
                # a corrected checksum: the bytes so far stay, the new sum is what counts
                queue.transfers.set_sha256(t.id, sha)
            queue.resume(t.id)
            return t.id
        if dest.exists():
            if (done := _done_before(queue, url, dest, sha)) is not None:
                return done.id  # ended in a run killed before it could say so
            raise CliError(f"{dest} exists already; nothing was downloaded.")
        return queue.add_download(url, dest, sha256=sha, segments=args.segments, label=dest.name)

    results: dict[int, dict[str, object]] = {}

    def say(queue: TransferQueue, t: Transfer) -> None:
        if t.state != "done":
            return  # (said below)
        if t.sha256:  # this run's --sha256, or the one the interrupted run was given
            verified = "sha256 verified"
        elif results.get(t.id, {}).get("size_checked", True):
            verified = "size checked"
        else:
            verified = "not checked: the server gave no size; pass --sha256 to check it"
        print(f"{dest} ({fmt_bytes(t.size or 0)}, {verified})", flush=True)
        # said: a later run finds the file as one that exists already (a kill before this
        # line left it unsaid, and that run's rerun says it)
        queue.transfers.mark_reported(t.id)

    t = _run_one(
        find_or_add,
        headers,
        limit,
        direction="download",
        on_result=lambda tid, result: results.__setitem__(tid, dict(result)),
        on_end=say,
    )
    if t.state != "done":
        raise CliError(f"{dest.name}: {credentials_words(t.last_error, headers) or not_done(t)}")
    if _web_page(dest):
        # kept, exit 0 (as curl; a script's own check decides): but said, since a captive
        # portal's or an error's page saved as clip.mp4 was "size checked" without a word
        print(
            f"alu: {dest.name}: the server sent a web page, not a file: check the address "
            "(a sign-in page of the network?).",
            file=sys.stderr,
        )
    return 0


def _web_page(path: Path) -> bool:
    """Whether the file at ``path`` is an HTML page (its first bytes say so), where the name
    asked for is not one (.html, .htm)."""
    if path.suffix.lower() in (".html", ".htm", ".xhtml"):
        return False
    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def cmd_tus_put(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser().absolute()
    if not path.is_file():
        raise CliError(f"{args.file} is not a file", 2)
    check_readable(path, args.file)
    _check_address(args.endpoint, "tus-put", "endpoint")
    headers = headers_given(args.header)
    endpoint = credentials_out_of(args.endpoint, headers)
    metadata: dict[str, str] = dict(args.metadata)  # (each checked by tus_args.metadata_item)
    chunk: int | None = args.chunk_size
    limit: Limit = parse_rate(args.limit) if args.limit else SAVED

    def find_or_add(queue: TransferQueue, interrupted: Interrupted) -> int:
        def still_wanted(_n: int) -> None:  # Ctrl-C must not wait for a 50 GB hash
            if interrupted.is_set():
                raise CliError("Interrupted; nothing was sent.", interrupted.status)

        t = _existing(queue, "upload", str(path), endpoint)
        if t is not None and (t.state == "failed" or t.size != path.stat().st_size):
            # failed (the file changed, a refusal): running the command again is how a
            # script adds it again. The old upload is canceled; this engine, which has the
            # same endpoint's credentials, tells the server to drop what it holds of it.
            queue.cancel(t.id)
            queue.only = frozenset({t.id})
            t = None
        if t is not None:
            kept = t.options.get("metadata", {})
            if any(kept.get(k) != v for k, v in metadata.items()):
                print(
                    f"alu: {path.name}: the upload under way goes on with the metadata it was "
                    f"started with (tus cannot change it); to send the new one, "
                    f"`alu queue cancel {t.id}` and run this again.",
                    file=sys.stderr,
                )
            if chunk is not None:  # the one asked for now: the next run takes it
                queue.transfers.set_chunk_size(t.id, chunk)
            queue.resume(t.id)
            return t.id
        sent = _sent_before(queue, path, endpoint, metadata, still_wanted, headers)
        if sent is not None:
            done, url, checked = sent
            unsure = "" if checked else " (whether the server still has it could not be checked)"
            print(
                f"alu: {path.name}: sent already by an earlier run of this command (transfer "
                f"{done.id}); not sent again{unsure}. Its address:",
                file=sys.stderr,
            )
            print_url(done.id, {"url": url})
            return done.id
        meta = {"filename": path.name, **metadata}
        own = file_sha256(path, still_wanted)
        if meta.setdefault("sha256", own) != own:
            # a hub checking it refused the file only once all of it was sent
            raise CliError(
                f"{path.name}: the sha256= given is not this file's (its sha256 is {own}); "
                "nothing was sent. Check that it is the right file, or leave sha256= out.",
                2,
            )
        return queue.add_upload(
            path,
            endpoint,
            meta,
            chunk_size=chunk,
            parallel=args.parallel,
            label=path.name,
            # its URL kept a day once done: the command run again prints it, not a second upload
            extra={"keep_url": True},
        )

    printed: list[int] = []

    def print_url(tid: int, result: dict[str, object]) -> None:
        # at once, before the queue records the upload as done: a kill after that moment
        # must not leave a finished upload whose URL nobody got (a rerun would send it again)
        print(result.get("url", ""), flush=True)
        printed.append(tid)

    t = _run_one(find_or_add, headers, limit, direction="upload", on_result=print_url)
    if t.state == "failed" and t.last_error in (FILE_CHANGED, in_server_words(FILE_CHANGED)):
        # resumed, and found other bytes than it had sent (same size: nothing told before it
        # ran): the command sends the file as it is now, as a rerun would (its find_or_add
        # drops the failed upload on the server and adds the file again)
        print(
            f"alu: {path.name}: the file changed since its upload began; the old upload is "
            "dropped and the file sent as it is now.",
            file=sys.stderr,
        )
        t = _run_one(find_or_add, headers, limit, direction="upload", on_result=print_url)
    if t.state != "done":
        # (a 401: "sign in again" is the app's, "none was sent to the address it gave for the
        # upload" read as if credentials given had been withheld where none were given)
        raise CliError(f"{path.name}: {credentials_words(t.last_error, headers) or not_done(t)}")
    # The upload URL is a secret: the queue never stores it once done; it was printed as the
    # queue handed it over (print_url).
    if t.id not in printed:  # cannot happen: an upload is done only through print_url
        raise CliError(f"{path.name}: sent, but its address was not handed over; run again.")
    return 0


#: as the engine sizes chunks (``upload.services._JobServices._sizer``): the first 2 MiB while
#: nothing is known of the link, then about TARGET_CHUNK_S of it each (the help said "adaptive
#: from 16M", the first chunk before 2 MiB was chosen)
_CHUNK_HELP = (
    f"e.g. 8M, at least {MIN_CHOSEN_CHUNK // KIB}K; run again with another, an upload under "
    f"way goes on with it (default: adapted to the link, about {TARGET_CHUNK_S:g} s of it "
    f"each, up to {MAX_CHUNK // MIB}M; the first {Tuning.upload_first_chunk // MIB}M when "
    "nothing is known of the link yet)"
)


def register(sub: Any) -> None:
    f = sub.add_parser("fetch", help="download a URL, resumable and verified")
    f.add_argument("url")
    f.add_argument("dest", help="file, or folder to put it in")
    f.add_argument("--sha256", help="expected sha256; exit 0 only when it matches")
    f.add_argument(
        "--segments",
        type=stream_count,
        help=f"parallel streams for large files (default 4, at most {MAX_STREAMS})",
    )
    f.add_argument("--limit", help="bandwidth limit, e.g. 2M (Mbit/s) or 500KB (bytes/s)")
    f.add_argument(
        "--header",
        action="append",
        default=[],
        help=HEADER_HELP,
    )
    f.set_defaults(func=cmd_fetch)

    t = sub.add_parser("tus-put", help="upload a file to a tus 1.0 endpoint, resumable")
    t.add_argument("endpoint")
    t.add_argument("file")
    t.add_argument("--chunk-size", type=chunk_size, help=_CHUNK_HELP)
    t.add_argument(
        "--parallel",
        type=stream_count,
        help="parts in parallel when the server has concatenation (default: 4 for files of "
        "64 MiB or more when the round trip is 20 ms or more, else 1)",
    )
    t.add_argument(
        "--metadata",
        action="append",
        type=metadata_item,
        default=[],
        help="key=value (repeatable); the key in ASCII without spaces or commas",
    )
    t.add_argument(
        "--header",
        action="append",
        default=[],
        help=HEADER_HELP,
    )
    t.add_argument("--limit", help="bandwidth limit, e.g. 2M (Mbit/s)")
    t.set_defaults(func=cmd_tus_put)
