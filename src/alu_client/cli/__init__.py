"""``alu``: the headless command line of ALU Desk.

- transfer verbs for any server (``fetch``, ``tus-put``): diagnostics and scripts;
- hub verbs (``login``, ``logout``, ``whoami``, ``doctor``, ``feed``, ``get``, ``put``, ``sync``,
  ``history``) and local ones (``queue``, ``library``, ``rules``, ``watch``).

Every verb builds the same core as the app (``core.services.Services``); errors are one line
(exit 1, or 2 for usage), never a traceback, and nothing secret is printed or logged.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sqlite3
import sys
from typing import Final, NoReturn

from ..core.fstype import UnsuitableDataFolder
from ..core.lockfile import EngineBusy
from ..core.logsafe import quiet_libraries
from ..core.paths import default_paths
from ..core.plain_text import one_line
from ..core.store import (
    NoRoomToUpdate,
    SchemaTooNew,
    damaged_words,
    disk_full,
    disk_full_words,
    is_damage,
    not_damage_words,
)
from . import transfer_verbs as transfer_verbs
from .common import CliError

#: the verbs for any server: `alu fetch` and `alu tus-put` build their parser, and import,
#: without the hub and local verbs (the hub client, the library, the keyring, the hot
#: folders: ~60 ms of a command a script may run for every file)
_TRANSFER_VERBS: Final = frozenset({"fetch", "tus-put"})


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, as every other `alu` error: argparse wrote its
    usage (three lines for `alu fetch`) before "alu fetch: error: argument --segments: '0':
    give 1 or more". The usage is in --help, which the line names. Exit status 2, as before.
    The verbs' parsers are of this class too (``add_subparsers`` makes them of the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"alu: {one_line(message)}; see {self.prog} --help\n")


def build_parser(*, transfers_only: bool = False) -> argparse.ArgumentParser:
    """``alu``'s parser; with ``transfers_only``, of the transfer verbs alone (for a command
    line that names one of them)."""
    p = _Parser(prog="alu", description="ALU Desk on the command line.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (no secrets)")
    sub = p.add_subparsers(dest="command", required=True)
    transfer_verbs.register(sub)
    if not transfers_only:
        from . import hub_verbs, local_verbs

        hub_verbs.register(sub)
        local_verbs.register(sub)
    for verb in sub.choices.values():  # `alu fetch -v …` as well as `alu -v fetch …`
        verb.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as alu -v"
        )
        verb.set_defaults(verb_parser=verb)  # an option no verb knows is said by its verb
    return p


#: options whose value may look like an option to argparse ("-2M"): read glued to them
_RATE_OPTIONS = frozenset({"--limit", "--limit-down", "--limit-up"})


def _glued(argv: list[str]) -> list[str]:
    """``--limit -2M`` as ``--limit=-2M``: argparse took the rate for an option and said
    "expected one argument"; glued, the rate says what is wrong with it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _RATE_OPTIONS and arg[:1] == "-" and arg[1:2].isdigit():
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _verb(argv: list[str]) -> str | None:
    """The verb a command line names: its first word that is not an option (``alu``'s own
    are -v and -h, which take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _said_errors() -> tuple[type[BaseException], ...]:
    """The errors said in their own one line (exit status 1), imported when one is raised:
    a transfer verb runs without the modules that define most of them."""
    from ..core.credentials import SecretsError
    from ..core.hub import HubError
    from ..core.services import DownloadFolderGone

    return (
        HubError,
        SecretsError,
        EngineBusy,
        UnsuitableDataFolder,
        SchemaTooNew,
        NoRoomToUpdate,
        DownloadFolderGone,
    )


def main(argv: list[str] | None = None) -> int:
    argv = _glued(sys.argv[1:] if argv is None else argv)
    parser = build_parser(transfers_only=_verb(argv) in _TRANSFER_VERBS)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # (argparse said it as `alu`'s, and named `alu --help`, not the verb's)
        getattr(args, "verb_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if args.verbose
        else "alu: %(levelname)s: %(message)s",
    )
    # urllib3 names request paths and queries (upload URLs, signed links: secrets)
    quiet_libraries(*logging.getLogger().handlers)
    try:
        try:
            return int(args.func(args))
        except Exception as e:
            if isinstance(e, CliError) or not isinstance(e, _said_errors()):
                raise
            _say(e)
            return 1
    except CliError as e:
        _say(e)
        return e.status
    except KeyboardInterrupt:
        print("alu: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `alu feed --json | head`: the reader has what it wanted
        with contextlib.suppress(OSError):  # no second error when Python flushes at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as a shell reports SIGPIPE
    except sqlite3.DatabaseError as e:  # the library file: unreadable, not a database, locked
        folder = default_paths().data_dir
        if disk_full(e, folder):
            print(f"alu: {disk_full_words(folder)}", file=sys.stderr)
            return 1
        if isinstance(e, sqlite3.OperationalError):  # locked, I/O: the disk, not the file
            print(
                f"alu: the library in the data folder cannot be used now ({e}); check the "
                "folder (ALU_CLIENT_HOME) and its disk, and try again.",
                file=sys.stderr,
            )
            return 1
        db_path = default_paths().db_path
        words = damaged_words(db_path, e) if is_damage(e) else not_damage_words(db_path, e)
        print(f"alu: {words}", file=sys.stderr)
        return 1
    except OSError as e:  # the data folder: read-only, missing, full
        where = f" ({e.filename})" if e.filename else ""
        print(
            f"alu: {e.strerror or e}{where}. Where that is the data folder, check its "
            "permissions and disk, or choose another with ALU_CLIENT_HOME.",
            file=sys.stderr,
        )
        return 1
    except ValueError as e:  # parse_rate and friends say what is wrong
        _say(e)
        return 2


def _say(error: BaseException) -> None:
    """The error's one line on stderr. It may quote a server (a hub's or a tus server's
    message, a redirect's address): what a terminal would obey in it (an ESC sequence, a CR
    and LF that forge a line of their own) is taken out here too, whatever the verb."""
    with contextlib.suppress(OSError):  # a terminal gone (SIGHUP): the status says it
        print(f"alu: {one_line(str(error))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
