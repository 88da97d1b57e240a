"""What every `alu` verb shares: one-line errors, sizes and rates, the progress line."""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import math
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from ..core.http import split_userinfo
from ..core.lockfile import EngineBusy, FolderInUse, holder, refuse_if_in_use
from ..core.paths import default_paths
from ..core.plain_text import json_text, one_line
from ..core.store import NoRoomToUpdate, SchemaTooNew, steps_pending
from ..core.store.transfers import Transfer, TransferStore, profile_of
from ..core.transfers.base import WITHDRAWN_PREFIX
from ..core.transfers.queue import Progress, TransferQueue

if TYPE_CHECKING:  # (imported where used: `alu fetch` and `alu tus-put` start without them)
    from ..core.credentials import Secrets
    from ..core.paths import Paths
    from ..core.relocate import Relocation
    from ..core.services import Services


#: `alu get`: the file was downloaded and verified, but the agency withdrew its item meanwhile
#: (the file is kept; do not use it)
WITHDRAWN_STATUS = 3


class CliError(Exception):
    """A one-line message for the user; exit status 1 (2 for usage)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


#: a header name is an HTTP token (RFC 9110 §5.1)
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_header(text: str) -> tuple[str, str]:
    """``--header 'Name: value'``, refused at once when HTTP cannot carry it (the value is
    never echoed: it is often a credential)."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _HEADER_NAME_RE.match(name):
        raise CliError("--header takes 'Name: value', the name in letters, digits and -", 2)
    if any(c in value for c in "\r\n"):
        # base64(1) wraps at 76 columns: `$(… | base64)` made such a value, which was then
        # "The server could not be reached" for ever
        raise CliError(
            f"--header {name}: the value is on more than one line; give it on one "
            "(base64 -w0 writes one).",
            2,
        )
    if any(ord(c) > 0xFF or (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        raise CliError(
            f"--header {name}: the value has characters a header cannot carry; give it in "
            "ASCII (percent- or base64-encode the rest).",
            2,
        )
    return name, value


def headers_given(given: list[str]) -> dict[str, str]:
    """The ``--header`` options: each 'Name: value', or ``@FILE`` (``@-``: standard input) for
    a file of them, one per line (blank lines and lines starting with # skipped), as curl reads
    ``-H @FILE``: a credential on the command line is in ``ps`` for every local account while
    the transfer runs, one in a file only for those who may read the file."""
    headers: dict[str, str] = {}
    for text in given:
        lines = _header_file(text[1:]) if text.startswith("@") else [text]
        headers.update(parse_header(line) for line in lines)
    return headers


def _header_file(name: str) -> list[str]:
    try:
        if name == "-":
            content = sys.stdin.read()
        else:
            with open(name, encoding="utf-8") as f:
                content = f.read()
    except OSError as e:
        raise CliError(f"--header @{name}: {e.strerror or e}", 2) from None
    except UnicodeDecodeError:
        raise CliError(f"--header @{name}: the file is not UTF-8 text", 2) from None
    lines = [line.strip() for line in content.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def credentials_out_of(url: str, headers: dict[str, str]) -> str:
    """The URL without a ``user:password@`` in it; those go into an ``Authorization: Basic``
    header (unless one was given), which lives in memory only. The URL is kept in the queue's
    store and named in logs, and neither may hold a password."""
    clean, pair = split_userinfo(url)
    if pair is None:
        return url
    if not any(name.lower() == "authorization" for name in headers):
        token = base64.b64encode(":".join(pair).encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return clean


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (0 or -3 streams meant nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


#: more streams than this only crowd a server (and a --segments 2000 opened 2000 connections)
MAX_STREAMS = 16


def stream_count(text: str) -> int:
    """An argparse type: parallel streams, 1 to ``MAX_STREAMS``."""
    value = positive_int(text)
    if value > MAX_STREAMS:
        raise argparse.ArgumentTypeError(f"{text!r}: give {MAX_STREAMS} or fewer")
    return value


def parse_size(text: str) -> int:
    units = {
        "": 1,
        "k": 1024,
        "kib": 1024,
        "m": 1024**2,
        "mib": 1024**2,
        "g": 1024**3,
        "gib": 1024**3,
    }
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("kmgib")
    try:
        value = float(num) * units[t[len(num) :]]
    except (ValueError, KeyError):
        value = math.nan
    if not math.isfinite(value):  # "inf", "nan", "1e400": no size either
        raise CliError(f"{text!r} is not a size (e.g. 8M, 512k, 1G)", 2) from None
    if value < 1:
        raise CliError(f"{text!r} is too small", 2)
    return int(value)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def not_done(t: Transfer) -> str:
    """Why a command's transfer ended without its file: a pause or cancel asked from elsewhere
    (`alu queue`, the app) said as such; a cancel said the last attempt's error before it
    ("the server is busy…; the upload will go on later"), which it will not."""
    if t.state == "canceled" and t.last_error.startswith(WITHDRAWN_PREFIX):
        return f"canceled: {one_line(t.last_error)}"  # (the agency withdrew the item)
    if t.state == "canceled":
        return "canceled (from alu queue or the app)."
    if t.state == "paused":
        return "paused (from alu queue or the app); run the same command again to go on."
    return t.last_error or t.state


def fmt_eta(seconds: float | None) -> str:
    """Time left as H:MM:SS, with days past one (27 h left read "03:00:00" with strftime)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--:--"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


class ProgressLine:
    """One self-overwriting line on a terminal (speed, ETA). Not on a terminal (a script, a
    log file) there is no progress, only a line when the reason the transfer waits changes
    ("The server could not be reached; trying again."), so that a run that cannot go on
    does not look hung. On a terminal or not, a note of the transfer (``note``: "The server
    had lost the partial upload; it started again from the beginning.") is a line of its own
    as it happens: a run that sends the whole file again must say why."""

    def __init__(self, tid: int, stream: TextIO | None = None) -> None:
        self.tid = tid
        self.stream: TextIO = stream if stream is not None else sys.stderr  # the one of now
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""
        self.last_problem = ""
        #: ``end`` was called: the command's result follows, and no progress is drawn after it
        #: (the queue's last report, as it stops, drew the line again under the result)
        self.ended = False
        # notes come from the transfer's thread, progress from the queue's
        self._lock = threading.Lock()

    def note(self, t: Transfer, message: str) -> None:
        """``TransferQueue.on_note``: said on a line of its own (this transfer's only)."""
        if t.id != self.tid:
            return
        with self._lock:
            text = f"{one_line(t.label)}: {one_line(message)}"
            if self.enabled and self.last:
                # over the progress line, which the next progress draws again below
                text = f"\r{text}".ljust(len(self.last))
                self.last = ""
            self.stream.write(text + "\n")
            self.stream.flush()

    def __call__(self, batch: list[Progress]) -> None:
        with self._lock:
            self._show(batch)

    def _show(self, batch: list[Progress]) -> None:
        if self.ended:
            return
        for p in batch:
            if p.id != self.tid:
                continue
            if not self.enabled:
                if p.state == "queued" and p.last_error and p.last_error != self.last_problem:
                    self.last_problem = p.last_error
                    self.stream.write(f"{one_line(p.label)}: {one_line(p.last_error)}\n")
                    self.stream.flush()
                continue
            pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else "     "
            eta = fmt_eta(p.eta)
            if p.state != "active":
                state = p.state
            elif p.phase:  # every byte is in: the sha256 is being checked
                state = p.phase
            else:
                state = f"{fmt_bytes(p.speed)}/s ETA {eta}"
            waiting = (
                f"  ({one_line(p.last_error)})" if p.state == "queued" and p.last_error else ""
            )
            rest = f" {pct} {fmt_bytes(p.bytes_done):>9}  {state}{waiting}"
            # within the terminal's width: a line longer wraps, and each redraw then left a
            # copy behind (82 columns with a 40-column name); the name gives way first
            width = self._columns() - 1
            label = one_line(p.label)  # (an item's title: the hub's words)
            room = max(min(8, len(label)), min(40, width - len(rest)))
            line = f"\r{label[:room]:<{room}}{rest}"[: width + 1]
            self.stream.write(line.ljust(len(self.last)))
            self.stream.flush()
            self.last = line

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # (a stream that has no terminal size)
            columns = 0
        return max(20, columns or shutil.get_terminal_size((80, 24)).columns)

    def end(self) -> None:
        """The progress line ends here (once): what the command prints next starts a line of
        its own, and nothing is drawn after it."""
        with self._lock:
            self.ended = True
            if self.enabled and self.last:
                self.last = ""
                with contextlib.suppress(OSError):  # a terminal gone (SIGHUP): nothing to end
                    self.stream.write("\n")
                    self.stream.flush()


def print_json(data: object) -> None:
    """``data`` as JSON on stdout: always JSON, a number no JSON has (an infinity an older
    version kept from a hub) written as null, not ``Infinity``; the characters a terminal
    would obey or hide in a hub's text (ESC, a direction override) as escapes."""
    print(json_text(_json_numbers(data), indent=2))


def _json_numbers(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_numbers(v) for v in value]
    return value


class _SecretsUnavailable:
    """Stands in when no keyring can be opened: verbs that need no token still work; the first
    one that does gets the keyring's own explanation."""

    name = "unavailable"
    is_system = False
    plain_text = False
    needs_consent = False

    def __init__(self, message: str) -> None:
        self.message = message

    def get(self, key: str) -> str | None:
        raise CliError(self.message)

    def set(self, key: str, token: str, *, allow_plain: bool = False) -> None:
        raise CliError(self.message)

    def delete(self, key: str) -> None:
        raise CliError(self.message)


def secrets_problem(secrets: Secrets) -> str | None:
    """Why no token can be kept (no keyring could be opened), or None: `alu login` says it
    before it asks the hub, so no session is opened that could not be kept."""
    return secrets.message if isinstance(secrets, _SecretsUnavailable) else None


def _without_keyring(paths: Paths, allow_plain: bool, message: str) -> Secrets:
    """No keyring at all (a station without a desktop session, run by `alu` alone): the
    plain-text file the app offers in its place, once the user accepted it — now (`alu login
    --accept-plain-secrets`) or before (that login, or the app's question). It was refused
    whatever the option said, and only ALU_SECRETS=insecure-file, "for tests and demos", got
    round it."""
    from ..core.credentials import accepted_plain_file

    accepted = accepted_plain_file(paths, accept=allow_plain)
    return accepted if accepted is not None else _SecretsUnavailable(message)


def open_services(*, allow_plain: bool = False) -> Services:
    from ..core.credentials import NoKeyring, SecretsError, open_secrets
    from ..core.services import Services

    paths = default_paths().ensure()
    if steps_pending(paths.db_path):
        # a large library takes a while (30 s for 100,000 items): silence read as a hang, and
        # a Ctrl-C started it over (the app says "Updating your library…" too). Not said of
        # one the update will refuse (an older engine at work there): that says it itself,
        # in its one line (``FolderInUse`` is one of the errors the CLI says as they are)
        refuse_if_in_use(paths.data_dir)
        print(
            "alu: updating the library for this version (once; a large one takes a minute; a "
            "copy of it is kept beside it)…",
            file=sys.stderr,
            flush=True,
        )
    try:
        secrets: Secrets = open_secrets(paths, allow_plain=allow_plain)
    except NoKeyring as e:
        secrets = _without_keyring(paths, allow_plain, str(e))
    except SecretsError as e:
        secrets = _SecretsUnavailable(str(e))
    try:
        services = Services(paths, secrets)
    except (SchemaTooNew, NoRoomToUpdate, FolderInUse) as e:
        raise CliError(str(e)) from None
    say_relocated(services.relocated)
    return services


def say_relocated(moved: Relocation | None) -> None:
    """The data folder opened at another path than last time: said once, on stderr."""
    if moved is not None:
        print(f"alu: {moved.message()}", file=sys.stderr)


class Interrupted(threading.Event):
    """Set by SIGINT, SIGTERM or SIGHUP (``handler``, installed by ``catch``); ``status``
    is the exit status a shell gives a command that signal ends: 128 + its number (130 for
    Ctrl-C, 143 for a kill or a service manager's stop, 129 for a closed terminal or ssh
    session), so a script can tell which it was."""

    signum: int = signal.SIGINT

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self.set()

    def catch(self) -> Callable[[], None]:
        """From now on every stop signal sets this event instead of killing the process, so
        the verb stops its engine in order; call what it returns to put the previous handlers
        back. SIGHUP (POSIX only) counts: closing the terminal or ssh session that ran `alu
        watch run` killed it on the spot, without stopping the engine. A signal ignored when
        the process started stays ignored: `nohup alu watch run &` (SIGHUP) must outlive the
        ssh session that started it."""
        names = ("SIGINT", "SIGTERM", "SIGHUP")
        signums = [getattr(signal, name) for name in names if hasattr(signal, name)]
        old = {
            signum: signal.signal(signum, self.handler)
            for signum in signums
            if signal.getsignal(signum) is not signal.SIG_IGN
        }

        def restore() -> None:
            for signum, handler in old.items():
                signal.signal(signum, handler)

        return restore

    @property
    def status(self) -> int:
        return 128 + int(self.signum)


def wait_for_transfer(services: Services, tid: int, *, quiet: bool = False) -> Transfer:
    """Run transfer ``tid`` to its end in the foreground, on an engine of this process that
    runs it alone (the others queued in the data folder are left for the app or `alu watch
    run`). While another process holds the data folder, follow it when its engine runs this
    transfer (the app, `alu watch run`, the same command run twice), else wait for it to end;
    either way, take over as soon as the folder is free (that engine stopped or ended)."""
    line = ProgressLine(tid) if not quiet else None
    interrupted = Interrupted()
    restore_signals = interrupted.catch()
    try:
        queue = _engine_for(services, tid, line, interrupted)
        if isinstance(queue, Transfer):
            return queue  # it ended on the other engine
        if line is not None:
            queue.add_listener(line)
            queue.on_note = line.note  # "The hub had lost the partial upload; …" is said
        queue.resume(tid)
        t = queue.wait_for(tid, timeout=0)
        while not interrupted.is_set():
            t = queue.wait_for(tid, timeout=0.5)
            if t.state in ("done", "failed", "canceled", "paused"):
                break
        if line is not None:
            line.end()
        if interrupted.is_set():
            raise CliError("Interrupted; run the same command again to resume.", interrupted.status)
        if t.state == "done":
            _send_history(services)
        return t
    finally:
        restore_signals()


def _start_engine(services: Services, tid: int) -> TransferQueue:
    return services.start_engine(
        sync=False,
        rules=False,
        hot_folders=False,
        media=False,
        only=frozenset({tid}),  # the saved caps, limits and schedule apply (start_engine)
        lock_wait=0.2,  # polled: each look short, so Ctrl-C is heard
    )


def _engine_for(
    services: Services, tid: int, line: ProgressLine | None, interrupted: Interrupted
) -> TransferQueue | Transfer:
    """This process's engine for ``tid`` — at once, or when the process holding the data folder
    lets it go; or ``tid`` itself when it ends on that process's engine meanwhile."""
    transfers = TransferStore(services.store)
    said = ""
    following = handed = False
    while True:
        try:
            queue = _start_engine(services, tid)
        except EngineBusy:
            pass
        else:
            if said:
                print("alu: the data folder is free now; the transfer runs here.", file=sys.stderr)
            return queue
        who = holder(services.paths.engine_lock)
        t = transfers.get(tid)
        if t is None:
            raise CliError("The transfer disappeared from the queue.")
        # unreadable (Windows locks the file's bytes): as before, an engine that runs all
        following = who is None or who.runs(tid, profile_of(t))
        pid = who.pid if who is not None else "?"
        if following:
            message = "the app (or another alu) runs the transfers here; following it."
        elif who is not None and who.runs(tid):  # all but another profile's: this one's
            message = (
                f"the app (or alu watch run, process {pid}) runs the transfers of profile "
                f"{who.profile or '(none)'} here; this one is profile {profile_of(t)}'s and "
                "runs here once that engine stops."
            )
        else:
            message = (
                f"another alu (process {pid}) is working on this data folder for its own "
                "transfer only; this one starts when it ends."
            )
        if message != said:
            said = message
            print(f"alu: {message}", file=sys.stderr)
        if following and not handed:
            # as this process's engine would (queue.resume): a paused or failed one is queued
            # again, for that engine's scheduler to take
            transfers.set_state(tid, "queued", only_from=("paused", "failed"))
            handed = True
            t = transfers.get(tid) or t
        if following:
            if line is not None:
                line([Progress(t.id, t.direction, t.state, t.label, t.bytes_done, t.size, 0.0,
                               None, t.last_error)])  # fmt: skip
            if t.state in ("done", "failed", "canceled", "paused"):
                if line is not None:
                    line.end()
                return t
        if interrupted.wait(0.5):
            break
    if line is not None:
        line.end()
    if following:
        raise CliError(
            "Stopped watching; the transfer goes on in the running app.", interrupted.status
        )
    raise CliError("Interrupted; run the same command again to resume.", interrupted.status)


def _send_history(services: Services) -> None:
    """Best effort: the outbox goes to the hub now; if it cannot, the next sync sends it."""
    try:
        services.history().push()
    except Exception as e:  # offline is normal here
        logging.getLogger(__name__).info("history not sent yet: %s", e)


def absolute_folder(folder: str | None) -> str:
    """A folder the user typed (or the current one), absolute, as stored and compared."""
    return str(Path(folder or ".").expanduser().absolute())
