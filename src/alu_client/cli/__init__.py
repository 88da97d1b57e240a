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
from pathlib import Path
from typing import Final, NoReturn, TextIO

from ..core.fstype import UnsuitableDataFolder
from ..core.lockfile import EngineBusy, FolderInUse
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
    path_too_long,
    path_too_long_words,
    read_only_folder,
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
        raise _BadUsage(self, message)


class _BadUsage(Exception):
    """What a parser (``alu``'s or a verb's) found wrong: said by ``main`` in one line, which
    may name an unknown option first (argparse said only "the following arguments are
    required" for `alu fetch --bogus`)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message

    def say(self) -> int:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"alu: {one_line(self.message)}; see {self.parser.prog} --help\n")
        return 2


def build_parser(*, transfers_only: bool = False) -> argparse.ArgumentParser:
    """``alu``'s parser; with ``transfers_only``, of the transfer verbs alone (for a command
    line that names one of them)."""
    p = _Parser(prog="alu", description="ALU Desk on the command line.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (no secrets)")
    # as alu-client's: README's "--data DIR / ALU_CLIENT_HOME=DIR" ("invalid choice: '/tmp/x'")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="data folder (the same as ALU_CLIENT_HOME=DIR; before the verb)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    transfer_verbs.register(sub)
    if not transfers_only:
        from . import (
            account_verbs,
            item_verbs,
            library_verbs,
            queue_verbs,
            rules_verbs,
            watch_verbs,
        )

        for verbs in (
            account_verbs,  # login, logout, whoami, doctor
            item_verbs,  # feed, get, put, sync, history
            queue_verbs,
            library_verbs,
            rules_verbs,
            watch_verbs,
        ):
            verbs.register(sub)
    for verb in sub.choices.values():  # `alu fetch -v …` as well as `alu -v fetch …`
        verb.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as alu -v"
        )
        verb.set_defaults(verb_parser=verb)  # an option no verb knows is said by its verb
    return p


#: options whose value is a number, a size or a rate, which may look like an option to
#: argparse ("-2M", "-5G", "-inf"): read glued to them
_NUMBER_OPTIONS = frozenset(
    {
        "--limit",
        "--limit-down",
        "--limit-up",
        "--max-total",
        "--max-age-days",
        "--chunk-size",
        "--segments",
        "--parallel",
        "--timeout",
        "--seconds",
        "--settle",
        "--to",
    }
)


def _negative(arg: str) -> bool:
    """``arg`` reads as a negative number, size or rate ("-2M", "-5G", "-.5", "-inf")."""
    rest = arg[1:2]
    return arg[:1] == "-" and (rest.isdigit() or rest == "." or arg[1:4].lower() in ("inf", "nan"))


def _glued(argv: list[str]) -> list[str]:
    """``--limit -2M`` as ``--limit=-2M``: argparse took the value for an option and said
    "expected one argument" (``--max-total -5G``); glued, the value says what is wrong with
    it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _NUMBER_OPTIONS and _negative(arg):
            out[-1] = f"{out[-1]}={arg}"
        elif out[-3:-1] == ["queue", "limit"] and _negative(arg) and "--" not in out:
            out += ["--", arg]  # `alu queue limit 3 -2M`: the rate, not an option
        else:
            out.append(arg)
    return out


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The options on the command line that neither ``alu`` nor its verb knows (``--bogus``),
    as argparse reads them: an option's unique start stands for it (``--sha``)."""
    known = set(parser._option_string_actions)
    verb = _verb(argv)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and verb in action.choices:
            known |= set(action.choices[verb]._option_string_actions)
    unknown = []
    for arg in argv:
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or _negative(arg):
            continue
        name = arg.partition("=")[0]
        if name.startswith("--"):
            if not any(option.startswith(name) for option in known):
                unknown.append(name)
        elif name[:2] not in known:
            unknown.append(name)
    return unknown


def _leading_unknown(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The options before the verb that ``alu`` itself does not know (a verb's go after it)."""
    known = set(parser._option_string_actions)
    unknown = []
    for arg in argv:
        if not arg.startswith("-") or arg == "--":
            break
        name = arg.partition("=")[0]
        if not (
            name in known or (name.startswith("--") and any(o.startswith(name) for o in known))
        ):
            unknown.append(name)
    return unknown


def _leading_said(options: list[str]) -> str:
    return (
        f"unrecognized arguments: {' '.join(options)} (a verb's options go after it: "
        "alu VERB --option)"
    )


def _names_data(arg: str) -> bool:
    """``arg`` is alu's ``--data`` (``--data=DIR`` too), or a start of it argparse takes for it
    (``--dat``)."""
    name = arg.partition("=")[0]
    return len(name) > 2 and "--data".startswith(name)


def _verb(argv: list[str]) -> str | None:
    """The verb a command line names: its first word that is not an option or the value of
    ``alu``'s ``--data`` (its -v and -h take no value)."""
    words = iter(argv)
    for arg in words:
        if not arg.startswith("-"):
            return arg
        if _names_data(arg) and "=" not in arg:  # (its value is the next word)
            next(words, None)
    return None


def _search_words(leftovers: list[str]) -> list[str] | None:
    """The words a search was given after its options (``--downloaded avocado``), all of them
    after a ``--`` (``--downloaded -- -x``: argparse left the marker too); None when an
    option it does not know is among them."""
    before, after = leftovers, []
    if "--" in leftovers:
        at = leftovers.index("--")
        before, after = leftovers[:at], leftovers[at + 1 :]
    if any(arg.startswith("-") for arg in before):
        return None
    return before + after


def _data_problem(data: str) -> str | None:
    """What is wrong with ``--data``'s folder before anything is opened: empty (a script's
    ``--data "$DIR"`` with DIR unset went to the default data folder, and signed-in profile), or
    a file where a folder is (an OSError later advised ALU_CLIENT_HOME)."""
    if not data:
        return "--data needs a folder (it was given empty): alu --data DIR VERB"
    path = Path(data).expanduser().absolute()
    for folder in (path, *path.parents):  # the first one there: a folder, or a file
        if folder.exists() or folder.is_symlink():
            if folder.is_dir():
                return None
            return f"--data names a file, not a folder ({folder}): give a folder (made if missing)"
    return None


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
        FolderInUse,
        UnsuitableDataFolder,
        SchemaTooNew,
        NoRoomToUpdate,
        DownloadFolderGone,
    )


def main(argv: list[str] | None = None) -> int:
    argv = _glued(sys.argv[1:] if argv is None else argv)
    parser = build_parser(transfers_only=_verb(argv) in _TRANSFER_VERBS)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown and isinstance(getattr(args, "text", None), list):
            # `alu library search --downloaded avocado`: argparse gave the words after an
            # option to no one ("unrecognized arguments: avocado"); they are the search's
            words = _search_words(unknown)
            if words is not None:
                args.text += words
                unknown = []
        if unknown:  # (argparse said it as `alu`'s, and named `alu --help`, not the verb's)
            leading = _leading_unknown(parser, argv)
            if leading:  # before the verb: `alu --help`'s place, not the verb's
                parser.error(_leading_said(leading))
            if any(_names_data(arg) for arg in unknown):
                parser.error(  # (as -v, a natural mistake: but --data is alu's alone)
                    f"--data goes before the verb: alu --data DIR {_verb(argv)} …"
                )
            getattr(args, "verb_parser", parser).error(
                f"unrecognized arguments: {' '.join(unknown)}"
            )
        if args.data is not None and (problem := _data_problem(args.data)):
            parser.error(problem)
    except _BadUsage as e:
        # `alu fetch --bogus`: argparse stops at the arguments missing, before it says which
        # options it did not know; the unknown option is the likelier mistake, said first
        strangers = _unknown_options(parser, argv)
        if strangers and e.message.startswith("the following arguments are required"):
            e.message = f"unrecognized arguments: {' '.join(strangers)}"
        # `alu --bogus x whoami`, `alu --data DIR whoami`: argparse took the option's value
        # for the verb ("invalid choice: '/tmp/x'") and never named the option
        leading = _leading_unknown(parser, argv)
        if leading and e.message.startswith("argument command: invalid choice"):
            e.message = _leading_said(leading)
        return e.say()
    if args.data is not None:
        os.environ["ALU_CLIENT_HOME"] = str(Path(args.data).expanduser().resolve())
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if args.verbose
        else "alu: %(levelname)s: %(message)s",
    )
    # urllib3 names request paths and queries (upload URLs, signed links: secrets)
    quiet_libraries(*logging.getLogger().handlers)
    stdout = sys.stdout
    sys.stdout = _Output(stdout)  # (a TextIO in all the verbs ask of it)
    try:
        return _run(args)
    finally:
        sys.stdout = stdout


class OutputError(OSError):
    """Standard output cannot be written (``alu feed > /dev/full``, a file on a full disk):
    the command's output, not the data folder its OSError was blamed on."""


class _Output:
    """``sys.stdout`` as the verbs write to it, its write errors made ``OutputError`` (a
    closed pipe stays BrokenPipeError: the reader's choice, said as such)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.errno, e.strerror) from e

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.errno, e.strerror) from e

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _drop_output() -> None:
    """Standard output to nowhere: what is left in its buffer cannot be written, and must not
    raise a second error (and status 120) when Python flushes it at exit."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _run(args: argparse.Namespace) -> int:
    try:
        try:
            status = int(args.func(args))
            sys.stdout.flush()  # (its errors here, not at exit, where none can be said)
            return status
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
        _drop_output()  # no second error when Python flushes at exit
        return 128 + 13  # as a shell reports SIGPIPE
    except OutputError as e:  # `alu feed > /dev/full`: not the data folder
        _drop_output()
        _say(
            f"the output cannot be written ({e.strerror or e}); check where standard output "
            "goes (a full disk, a file that cannot be written)."
        )
        return 1
    except sqlite3.DatabaseError as e:  # the library file: unreadable, not a database, locked
        paths = default_paths()
        folder, db_path = paths.data_dir, paths.db_path
        if disk_full(e, folder):
            print(f"alu: {disk_full_words(folder)}", file=sys.stderr)
            return 1
        if isinstance(e, sqlite3.OperationalError) and read_only_folder(folder):
            # (SQLite says "unable to open database file"; `alu doctor` knew the cause)
            print(
                f"alu: the data folder {folder} is read-only (a disk or share mounted "
                "read-only, or no permission to write): ALU Desk writes its library there. "
                "Make it writable, or choose another data folder with --data or ALU_CLIENT_HOME.",
                file=sys.stderr,
            )
            return 1
        if (length := path_too_long(db_path, e)) is not None:
            print(f"alu: {path_too_long_words(db_path, length)}", file=sys.stderr)
            return 1
        if isinstance(e, sqlite3.OperationalError):  # locked, I/O: the disk, not the file
            print(
                f"alu: the library in the data folder cannot be used now ({e}); check the "
                "folder (ALU_CLIENT_HOME) and its disk, and try again.",
                file=sys.stderr,
            )
            return 1
        words = damaged_words(db_path, e) if is_damage(e) else not_damage_words(db_path, e)
        print(f"alu: {words}", file=sys.stderr)
        return 1
    except OSError as e:  # the data folder: read-only, missing, full
        where = f" ({e.filename})" if e.filename else ""
        print(
            f"alu: {e.strerror or e}{where}. Where that is the data folder, check its "
            "permissions and disk, or choose another with --data or ALU_CLIENT_HOME.",
            file=sys.stderr,
        )
        return 1
    except ValueError as e:  # parse_rate and friends say what is wrong
        _say(e)
        return 2


def _say(error: BaseException | str) -> None:
    """The error's one line on stderr. It may quote a server (a hub's or a tus server's
    message, a redirect's address): what a terminal would obey in it (an ESC sequence, a CR
    and LF that forge a line of their own) is taken out here too, whatever the verb."""
    with contextlib.suppress(OSError):  # a terminal gone (SIGHUP): the status says it
        print(f"alu: {one_line(str(error))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
