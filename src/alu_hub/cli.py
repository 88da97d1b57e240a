"""``alu-hub``: run the hub and do the agency's chores from a shell."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import getpass
import json
import logging
import os
import re
import sys
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

import platformdirs
from sqlalchemy import create_engine, delete, inspect, make_url, select
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from alu_client.core.private import private_dir

from . import audit, cli_items
from .countries import country_problem
from .hub import Hub
from .settings import Settings, SettingsError, env_int

DEFAULT_PORT = 8750


def default_data_dir() -> Path:
    env = os.environ.get("ALU_HUB_DATA")
    return Path(env) if env else Path(platformdirs.user_data_dir("alu-hub", appauthor=False))


def demo_data_dir() -> Path:
    """Where ``alu-hub demo`` keeps its hub without ``--data``: the user's own data folder,
    never ``ALU_HUB_DATA`` — set for a real hub's commands, it put a demo hub with public
    passwords inside the real one's folder (and its backups)."""
    return Path(platformdirs.user_data_dir("alu-hub", appauthor=False)) / "demo"


def _settings(args: argparse.Namespace) -> Settings:
    data = Path(args.data).expanduser() if args.data else default_data_dir()
    base = Settings.from_env(data)
    if getattr(args, "database_url", None):
        base = replace(base, database_url=args.database_url)
    return base


class Refused(Exception):
    """A command that cannot go on: one line for the operator (``main``), and the exit status:
    2 for input it cannot take, 1 for what it met (a database away, a store refusing)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


#: What ``serve`` records in the data folder of how the hub is set up: its database (the URL
#: without its password; empty for SQLite in the folder) and its store (ALU_HUB_STORAGE; empty
#: for the folder's ``storage/``). The other commands refuse to run otherwise (``_check_setup``):
#: a ``publish`` without the variables would write into a hub nobody serves.
SETUP_FILE = "hub-setup.json"

_NEW_HUB = "`alu-hub serve --data DIR` or `alu-hub member add --data DIR …` creates one."


def _safe_url(url: str) -> str:
    """A database URL as it may be shown or stored: without its password."""
    try:
        # (URL is a NamedTuple; its set(password=None) leaves the password as it was)
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except (ArgumentError, ValueError):
        return "(not a database URL)"


def _setup(settings: Settings) -> dict[str, str]:
    return {
        "database": _safe_url(settings.database_url) if settings.database_url else "",
        "storage": settings.storage_url.strip(),
    }


def _recorded_setup(data_dir: Path) -> dict[str, str] | None:
    """The set-up ``serve`` recorded, or None (never served since the record exists)."""
    try:
        raw = json.loads((data_dir / SETUP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    return {k: str(raw.get(k, "")) for k in ("database", "storage")}


def _record_setup(settings: Settings) -> None:
    recorded = _recorded_setup(settings.data_dir)
    mine = _setup(settings)
    if recorded is not None and recorded != mine:
        print(
            f"alu-hub: note: {settings.data_dir} was served with "
            f"{_database_words(recorded['database'])} and {_storage_words(recorded['storage'])}"
            f"; from now on {_database_words(mine['database'])} and "
            f"{_storage_words(mine['storage'])}.",
            file=sys.stderr,
        )
    if recorded == mine:
        return  # (replicas starting together wrote it at once)
    path = settings.data_dir / SETUP_FILE
    # a name of its own: replicas started together shared one ".tmp", and all but the first
    # to rename it died with "No such file or directory"
    fd, tmp = tempfile.mkstemp(prefix=f".{SETUP_FILE}.", suffix=".tmp", dir=settings.data_dir)
    try:
        # readable by all as written before (mkstemp makes it 0600): the operator's commands,
        # run as another account, read it to refuse a database or storage other than serve's
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(mine, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _database_words(database: str) -> str:
    return database or "SQLite (hub.sqlite3 in the data folder)"


def _storage_words(storage: str) -> str:
    return storage or "the data folder's storage/"


def _check_setup(settings: Settings) -> None:
    """Refuse to work on a hub set up otherwise than ``serve`` recorded (``SETUP_FILE``)."""
    recorded = _recorded_setup(settings.data_dir)
    if recorded is None:
        return
    mine = _setup(settings)
    here = f"The hub in {settings.data_dir}"
    if recorded["database"] != mine["database"]:
        todo = (
            "set ALU_HUB_DATABASE_URL as for `alu-hub serve`."
            if recorded["database"]
            else "unset ALU_HUB_DATABASE_URL (and --database-url), as for `alu-hub serve`."
        )
        raise Refused(
            f"{here} uses the database {_database_words(recorded['database'])}, but this "
            f"command would use {_database_words(mine['database'])}: {todo}",
            2,
        )
    if recorded["storage"] != mine["storage"]:
        todo = (
            f"set ALU_HUB_STORAGE={recorded['storage']} (and the ALU_HUB_S3_* variables) as "
            "for `alu-hub serve`."
            if recorded["storage"]
            else "unset ALU_HUB_STORAGE, as for `alu-hub serve`."
        )
        raise Refused(
            f"{here} keeps its files in {_storage_words(recorded['storage'])}, but this "
            f"command would use {_storage_words(mine['storage'])}: {todo}",
            2,
        )


def _check_database_url(settings: Settings) -> None:
    """A database URL the hub can use the driver of, or one line saying which forms work
    (connects to nothing). A driver that is not installed (``postgresql+psycopg2://``, the form
    SQLAlchemy's documents show; ``mysql://``) was a traceback ending in ModuleNotFoundError."""
    try:
        create_engine(settings.db_url, poolclass=NullPool).dispose()
    except ImportError as e:
        raise Refused(
            f"The database URL {_safe_url(settings.database_url)} needs a driver that is not "
            f"installed ({e.name or e}): write postgresql+psycopg://USER:PASSWORD@HOST/DATABASE "
            "(or postgresql://…) in ALU_HUB_DATABASE_URL, or sqlite:///PATH, or nothing for "
            "SQLite in the data folder.",
            2,
        ) from None
    problem = _sqlite_file_problem(settings.database_url)
    if problem is not None:
        raise Refused(problem, 2)


def _sqlite_file_problem(database_url: str) -> str | None:
    """Why the operator's SQLite URL names no database file, or None. ``sqlite://`` (and
    ``sqlite:///``, ``:memory:``) is SQLAlchemy's in-memory database: a traceback (pool
    arguments), or "No hub database at None"; a folder was exit 1 here, 2 there."""
    if not database_url:
        return None  # hub.sqlite3 in the data folder
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    fix = "or leave it unset for hub.sqlite3 in the data folder."
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        return (
            f"ALU_HUB_DATABASE_URL (or --database-url) {database_url} names no database file "
            "(SQLite would keep the hub in memory and lose it at exit): give the file's path, "
            f"e.g. sqlite:////srv/alu-hub/hub.db, {fix}"
        )
    if Path(url.database).is_dir():
        return (
            f"ALU_HUB_DATABASE_URL (or --database-url) names the folder {url.database}, not a "
            f"database file: give a file's path in it, e.g. "
            f"sqlite:///{Path(url.database) / 'hub.db'}, {fix}"
        )
    return None


def _no_hub(settings: Settings) -> str | None:
    """Why the settings name no hub, or None when they do; looked at without making anything
    (a chore on a mistyped ``--data`` made a new, empty hub and worked on that)."""
    data = settings.data_dir
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite":
        if url.database and Path(url.database).is_file():
            return None
        if settings.database_url and not Path(str(url.database)).parent.is_dir():
            return (  # (serve and member add refuse it too: they make no folder for it)
                f"No hub database at {url.database}, and its folder does not exist: is "
                "ALU_HUB_DATABASE_URL (or --database-url) right? The folder must exist (and be "
                "writable) for `alu-hub serve` or `alu-hub member add` to create the database."
            )
        if settings.database_url:  # the operator's SQLite URL, not --data, names it
            return (
                f"No hub database at {url.database}: is ALU_HUB_DATABASE_URL (or "
                "--database-url) right? `alu-hub serve` or `alu-hub member add` with it "
                "creates one."
            )
        return f"No hub in {data} (no hub.sqlite3 there): is --data right? {_NEW_HUB}"
    engine = create_engine(settings.db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schema = inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()
    if not schema:
        return (
            f"No hub in the database {_safe_url(settings.db_url)} (no hub tables there): is "
            "ALU_HUB_DATABASE_URL right? `alu-hub serve` or `alu-hub member add` with it "
            "creates one."
        )
    if not data.is_dir():
        return f"No hub in {data} (no such folder): is --data right? {_NEW_HUB}"
    return None


def _not_its_folder(settings: Settings) -> str | None:
    """Why the data folder is not the one of the hub the database holds, or None. With the
    database elsewhere (``ALU_HUB_DATABASE_URL``) and the files in the folder, it must hold
    the set-up record (``SETUP_FILE``) or the files (``storage/``, a folder served before the
    record existed): an existing empty folder (a mistyped ``--data``, a shared volume not
    mounted) was taken, and an item published there had its files where no ``serve`` looks
    (every member's download: file_missing)."""
    data = settings.data_dir
    if not settings.database_url or settings.storage_url.strip():
        return None  # the database in the folder (_no_hub looked), or the files in a store
    if (data / SETUP_FILE).is_file() or settings.storage_dir.is_dir():
        return None
    return (
        f"{data} holds no hub's files (no {SETUP_FILE}, no storage/), though the database "
        f"{_safe_url(settings.database_url)} holds a hub: is --data the folder `alu-hub serve` "
        "uses, and its volume mounted?"
    )


def _use_data_dir(settings: Settings) -> None:
    """Make the data folder (if need be) and check that this user may write there (its
    ``hub.lock``): a wrong folder is one line here, not a traceback from deep in start-up."""
    data = settings.data_dir
    if data.exists() and not data.is_dir():
        raise Refused(f"{data} is a file, not a folder: check --data.", 2)
    try:
        # 0700 when made here: the database's key, the footage (docs/operations.md: its own
        # account); an existing folder is the operator's, left as it is
        private_dir(data, tighten=False)
        os.close(os.open(data / "hub.lock", os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as e:
        raise Refused(
            f"The data folder {data} cannot be used: {e.strerror or e} ({e.filename or data}): "
            "check --data, and that this user may write there."
        ) from None


def _hub(args: argparse.Namespace, *, create: bool = False, check_storage: bool = False) -> Hub:
    """The hub of a chore (``publish``, ``member``, ``stats``): an existing one, set up as
    ``serve`` recorded (``create``: ``member add``, the operator's first step, may make one).
    It shares the data folder with the replicas serving it, so that none of them takes its work
    in progress (say, the files of an item being published) for a crash's leftovers at start-up
    (``hub.DataFolderLock``)."""
    from .app import build_hub

    # A chore is a process of its own: its media work has no requests to keep waiting.
    settings = replace(_settings(args), media_workers=0)
    _check_setup(settings)
    _check_database_url(settings)
    missing = _no_hub(settings)
    if missing is not None and not create:
        raise Refused(missing, 2)
    elsewhere = _not_its_folder(settings) if missing is None else None
    if elsewhere is not None:  # (member add too: it would record its set-up there)
        raise Refused(elsewhere, 2)
    _use_data_dir(settings)
    # an existing database at an older schema is refused, not upgraded: only `serve` does that
    # (a newer version's chore beside an older hub still serving changed the schema under it)
    hub = build_hub(settings, upgrade=False)
    if check_storage:
        hub.storage.check()
    if missing is not None:
        _record_setup(settings)
        print(f"Created a new hub in {settings.data_dir}.", file=sys.stderr)
    hub.folder_lock.share()
    return hub


def _refuse(message: str) -> int:
    """A command's input it cannot take: one line on stderr, and exit status 2 (as argparse
    gives for a bad option), before anything is changed."""
    print(f"alu-hub: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import build_hub, create_app
    from .server import stop_by_sigterm_as_an_exit, uvicorn_config
    from .storage import build_storage

    settings = _settings(args)
    if args.workers is not None and args.workers < 1:
        # refused as ALU_HUB_WORKERS=0 is (it served with one process without a word)
        raise Refused(f"--workers must be at least 1, not {args.workers}.", 2)
    _check_port(args.port)
    _check_free(args.host, args.port)
    workers = args.workers if args.workers is not None else env_int("ALU_HUB_WORKERS", 1, least=1)
    # refused before the data folder is made: a database URL of the wrong form, and a store
    # that cannot be used (no bucket, no endpoint), with which every upload would fail
    _check_database_url(settings)
    if settings.storage_url.strip():
        build_storage(settings).check()
    _use_data_dir(settings)
    if workers > 1:
        from .app import open_database
        from .server import serve_workers

        # what the workers would each fail on, once and in one line before they start
        open_database(settings, upgrade=True).dispose()
        _record_setup(settings)
        print(
            f"ALU hub on http://{args.host}:{args.port} (data: {settings.data_dir}, "
            f"{workers} processes)",
            flush=True,
        )
        serve_workers(settings, args.host, args.port, workers)
        return 0
    hub = build_hub(settings)
    _record_setup(settings)
    app = create_app(settings, hub)
    print(f"ALU hub on http://{args.host}:{args.port} (data: {settings.data_dir})", flush=True)
    stop_by_sigterm_as_an_exit()
    uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level="info")).run()
    return 0


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise Refused(f"--port {port} is not a port: give one from 1 to 65535.", 2)


def _check_free(host: str, port: int) -> None:
    """The address can be listened on (as uvicorn binds it: SO_REUSEADDR), said in one line
    before the hub starts; uvicorn started the app, then logged the error and exited 3."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise Refused(
            f"--host {host} is not an address of this machine ({e.strerror}).", 2
        ) from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise Refused(
                    f"{host}:{port} is in use by another program (another hub?): stop it, or "
                    "serve on another --port."
                ) from None
            raise Refused(f"the hub cannot listen on {host}:{port}: {e.strerror}.") from None


def _check_password_source(args: argparse.Namespace) -> None:
    """Refuse, before anything is made or changed, to ask for a password with no terminal to
    ask it on: getpass then warned, read a piped first line with its echo, or died in a
    termios/EOFError traceback (a script, ssh without -t, --password-stdin forgotten)."""
    if args.password_stdin:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise Refused("no terminal to ask the password: use --password-stdin", 2)


def _read_password(args: argparse.Namespace) -> str:
    _check_password_source(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Again: ")
        except EOFError:  # Ctrl-D at the prompt
            raise Refused("no password was given; nothing was changed.", 2) from None
        if password != again:
            raise Refused("the two passwords differ; nothing was changed.", 2)
    if len(password) < 4:  # (input it cannot take: exit 2, as a bad name or country; was 1)
        raise Refused("a password needs at least 4 characters; nothing was changed.", 2)
    return password


#: What a member's name or display name may not hold: control characters (a line break, a
#: tab, NUL, which PostgreSQL cannot store), bidi overrides (text that shows other than it
#: reads), and lone surrogates (bytes that were not UTF-8 on the command line).
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


#: The names a new member may be given (``member add``): ASCII letters and digits, '-', '_' and
#: '.', beginning with a letter or digit.
_NEW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _name_problem(what: str, value: str, limit: int) -> str | None:
    """Why ``value`` cannot be a member's ``what`` (its column holds ``limit`` characters)."""
    if not value.strip():
        return f"the {what} is empty."
    if value != value.strip():
        return f"the {what} {value!r} begins or ends with a space."
    if len(value) > limit:
        return f"the {what} is {len(value)} characters long; it can have at most {limit}."
    bad = _NOT_IN_NAMES.search(value)
    if bad is not None:
        if "\ud800" <= bad.group() <= "\udfff":
            return f"the {what} holds bytes that are not UTF-8; type it again in a UTF-8 terminal."
        return f"the {what} {value!r} holds a character a name cannot have ({bad.group()!r})."
    return None


def _column_length(column: str) -> int:
    """How many characters the column ``column`` of models.Member holds."""
    from sqlalchemy import String

    from .models import Member

    kind = Member.__table__.c[column].type
    assert isinstance(kind, String)
    assert kind.length is not None
    return kind.length


def _member_problem(args: argparse.Namespace) -> str | None:
    """Why ``member add`` cannot add this member as given, checked before anything is
    changed, by the columns of models.Member, on every engine alike (SQLite would store a
    name of any length, PostgreSQL fail on it)."""
    limit = _column_length
    problem = _name_problem("name", args.name, limit("username")) or (
        _name_problem("display name", args.display_name, limit("display_name"))
        if args.display_name
        else None
    )
    if problem is not None:
        return problem
    if not _NEW_NAME.fullmatch(args.name):
        # a name workstations type at sign-in, and scripts and reports show: no spaces, no
        # slashes, no letters a keyboard elsewhere cannot type (members added before keep
        # theirs)
        return (
            f"the name {args.name!r} can have only the letters a-z and A-Z, digits, '-', '_' "
            "and '.', and begins with a letter or digit, e.g. ktn or kenya-tv."
        )
    if not args.country and args.role == "member":
        # (it said "--country takes a two-letter code", as if one had been given)
        return "a member needs its country: add --country and its two-letter code, e.g. KE."
    if args.country:
        return country_problem(args.country)
    return None


def _hub_exists(args: argparse.Namespace) -> bool:
    """Whether the settings name a hub, made by nothing (the checks ``_hub`` runs first)."""
    settings = _settings(args)
    _check_setup(settings)
    _check_database_url(settings)
    return _no_hub(settings) is None


def _check_name_free(hub: Hub, name: str) -> None:
    """Refuse a new member's name that is taken, or that differs from one only by case: sign-in
    takes the name as typed, so "KTN" beside "ktn" was a second account, and ktn's password
    typed as KTN was told it was wrong."""
    from .models import Member

    with hub.db.session() as s:
        same = [n for n in s.scalars(select(Member.username)) if n.casefold() == name.casefold()]
    if name in same:
        raise SystemExit(f"alu-hub: a member named {name!r} exists already.")
    if same:
        raise Refused(
            f"a member named {same[0]!r} exists already; a name that differs only by case "
            "would be another account: choose another name.",
            2,
        )


def cmd_member_add(args: argparse.Namespace) -> int:
    from .auth import hash_password
    from .models import Member

    problem = _member_problem(args)
    if problem is not None:
        return _refuse(problem)
    _check_password_source(args)
    hub: Hub | None = None
    if _hub_exists(args):
        hub = _hub(args)
        _check_name_free(hub, args.name)  # before the password is asked for
    # a new hub is made only once the input is good: a password refused (or no terminal to
    # ask it on) left a new, empty hub behind
    password = _read_password(args)
    if hub is None:
        hub = _hub(args, create=True)
        _check_name_free(hub, args.name)  # (another `member add` may have made it meanwhile)
    with hub.db.session() as s:
        s.add(
            Member(
                username=args.name,
                display_name=args.display_name or args.name,
                country=args.country.upper(),
                role=args.role,
                password_hash=hash_password(password),
            )
        )
        audit.record(s, audit.cli_actor(), "member_add", args.name, {"role": args.role})
    print(f"Added {args.role} {args.name}.")
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    from .models import Member

    hub = _hub(args)
    with hub.db.session() as s:
        members = list(s.scalars(select(Member).order_by(Member.username)))
    # as wide as the longest name (a name over 16 characters ran into the role)
    wide = max([16, *(len(m.username) for m in members)])
    for m in members:
        off = "  (disabled)" if not m.active else ""
        print(f"{m.username:<{wide}} {m.role:<7} {m.country:<3} {m.display_name}{off}")
    return 0


def _forget_attempts(s: Session, username: str) -> None:
    """The user name's failed sign-ins no longer count (a lock-out is lifted)."""
    from .models import SignInAttempt
    from .signin import user_key

    s.execute(delete(SignInAttempt).where(SignInAttempt.key == user_key(username)))


def cmd_member_change(args: argparse.Namespace) -> int:
    """``member password|disable|enable|signout|unlock NAME``: what an operator does for a
    member who forgot a password, left, lost a workstation or locked the account by mistyping."""
    from .auth import hash_password
    from .members import Ended, Refusal, end_signins, find, no_agency_left
    from .models import utcnow

    action = args.member_command
    if action == "password":
        _check_password_source(args)  # before the hub is opened
    session = getattr(args, "session", None)
    if session is not None and not (session.isascii() and session.isdigit() and len(session) < 19):
        return _refuse(
            f"--session takes a sign-in's id (see alu-hub member sessions {args.name}), "
            f"not {session[:40]!r}."
        )
    hub = _hub(args)
    password = _read_password(args) if action == "password" else ""
    with hub.db.session() as s:
        try:
            m = find(s, args.name)
        except Refusal as e:
            return _refuse(str(e))
        ended = Ended()
        if action == "password":
            m.password_hash = hash_password(password)
            ended = end_signins(s, m.id)
            _forget_attempts(s, m.username)
            said = f"Changed the password of {m.username}"
        elif action == "disable":
            if m.active or m.disabled_at is None:  # (disabled again: it left on the first day)
                m.disabled_at = utcnow()
            m.active = False
            ended = end_signins(s, m.id)
            said = f"Disabled {m.username}: it can no longer sign in"
        elif action == "enable":
            m.active = True
            # a member again: the statistics judge it on every day since it joined (the hub
            # keeps no history of its days off)
            m.disabled_at = None
            _forget_attempts(s, m.username)
            said = f"Enabled {m.username}: it can sign in again"
        elif action == "signout" and session is not None:
            ended = end_signins(s, m.id, int(session))
            if not ended:
                return _refuse(
                    f"{m.username} has no live sign-in {session} (see alu-hub member sessions "
                    f"{m.username})."
                )
            said = f"Signed {m.username} out of sign-in {session}"
        elif action == "signout":
            ended = end_signins(s, m.id)
            said = f"Signed {m.username} out"
        else:  # unlock
            _forget_attempts(s, m.username)
            said = f"Lifted the sign-in lock-out of {m.username} (failed attempts forgotten)"
        # (how many sign-ins it ended: never the password, nor its hash)
        detail: dict[str, object] = {
            "workstation_signins_ended": ended.workstations,
            "stats_page_sessions_ended": ended.stats_pages,
        }
        if session is not None:
            detail["session"] = int(session)
        audit.record(s, audit.cli_actor(), f"member_{action}", m.username, detail)
        alone = no_agency_left(s) if action == "disable" and m.role == "agency" else ""
    if ended:
        said += f"; {ended.words()} ended"
        # (not for disable: a disabled account cannot sign in again, as it was told)
        said += "" if action == "disable" else " (they sign in again)"
    print(f"{said}.{alone}")
    return 0


def cmd_member_edit(args: argparse.Namespace) -> int:
    """``member edit NAME [--display-name …] [--country CC]``: a typo mended, a broadcaster
    that took a new name."""
    from .members import Refusal, edit

    if args.display_name is None and args.country is None:
        return _refuse("nothing to change: give --display-name and/or --country.")
    if args.display_name is not None:
        problem = _name_problem("display name", args.display_name, _column_length("display_name"))
        if problem is not None:
            return _refuse(problem)
    if args.country:
        problem = country_problem(args.country)
        if problem is not None:
            return _refuse(problem)
    hub = _hub(args)
    try:
        print(edit(hub, args.name, args.display_name, args.country, audit.cli_actor()))
    except Refusal as e:
        return _refuse(str(e))
    return 0


def cmd_member_remove(args: argparse.Namespace) -> int:
    """``member remove NAME``: an account made by mistake, that never did anything."""
    from .members import Refusal, remove

    hub = _hub(args)
    try:
        print(remove(hub, args.name, audit.cli_actor()))
    except Refusal as e:
        return _refuse(str(e))
    return 0


def cmd_member_sessions(args: argparse.Namespace) -> int:
    """``member sessions NAME [--json]``: the member's live sign-ins (``signout --session``)."""
    from .members import Refusal, sessions_text, signins

    hub = _hub(args)
    try:
        username, rows = signins(hub, args.name)
    except Refusal as e:
        return _refuse(str(e))
    print(sessions_text(username, rows, args.json))
    return 0


def _read_text(path: str, option: str) -> str:
    """The text of a ``publish`` file option: UTF-8, line ends as \\n (read in text mode), and
    without the byte order mark Windows Notepad writes ("utf-8-sig"), which went to every
    member as an invisible first character of the script."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:  # (exit 2 as the other refusals; it was 1)
        raise Refused(
            f"{option} {path} is not UTF-8 text: save it as UTF-8 and publish again. Nothing "
            "was published.",
            2,
        ) from None
    except OSError as e:  # (it was a raw "[Errno 2] No such file or directory: …")
        why = "there is no such file" if isinstance(e, FileNotFoundError) else e.strerror or e
        raise Refused(
            f"{option} {path} cannot be read ({why}): check the path. Nothing was published.", 2
        ) from None


def cmd_publish(args: argparse.Namespace) -> int:
    from .publish import (
        ItemFields,
        PublishError,
        check_metadata,
        publish_file,
        refuse_published_again,
    )

    src = Path(args.file)
    if not src.is_file():
        raise SystemExit(f"alu-hub: {src} is not a file.")
    meta = {
        k: v
        for k, v in {
            "title": args.title,
            "slug": args.slug,
            "dateline": args.dateline,
            "category": args.category,
            "region": args.region,
            "country": args.country,
            "language": args.language,
            "priority": args.priority,
            "restrictions": (
                _read_text(args.restrictions_file, "--restrictions-file")
                if args.restrictions_file
                else args.restrictions
            ),
            "recorded_at": args.recorded_at,
            "script": _read_text(args.script_file, "--script-file") if args.script_file else None,
            "shotlist": _read_text(args.shotlist_file, "--shotlist-file")
            if args.shotlist_file
            else None,
        }.items()
        if v is not None
    }
    # the option's own words first, as member add's ("country must be a two-letter code like
    # KE, not 'KENYA'" quoted what the operator had not typed)
    if args.country and (unknown := country_problem(args.country.strip())) is not None:
        return _refuse(f"{unknown} Nothing was published.")
    try:
        # strictly, as a member's upload is: a text over its limit, a country that is not a
        # two-letter code, refused (they were cut: a script of 25,000 characters stored as
        # 19,999, "--country Nigeria" as NI, Nicaragua)
        check_metadata(meta)
    except PublishError as e:
        return _refuse(f"{e} Nothing was published.")
    try:
        fields = ItemFields.from_metadata(meta, default_title=src.stem, country="")
        hub = _hub(args, check_storage=True)
        check, also = (None, None) if args.force else refuse_published_again(hub, args.file)
        item = publish_file(
            hub,
            src,
            fields,
            kind="push",
            filename=src.name,
            check=check,
            also=audit.recorded_publish(also, audit.cli_actor(), src.name, args.force),
        )
    except (PublishError, OSError) as e:
        raise SystemExit(f"alu-hub: {e}") from None
    print(f"Published {item.id} (seq {item.seq}): {item.title}")
    return 0


def asked_period(
    args: argparse.Namespace, now: dt.datetime, default: dt.timedelta | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The period of ``--from``/``--to`` or ``--month`` (``add_period_options``; a month as the
    statistics page counts it), ``default`` long when there is no ``--from`` (the statistics'
    30 days); Refused (one line, exit status 2) when it is
    not one."""
    from .stats import DEFAULT_PERIOD, PeriodError, period

    month = getattr(args, "month", None)
    if month is not None:
        if getattr(args, "from") or args.to:
            raise Refused("--month is a whole period: give it without --from and --to.", 2)
        from .web.figures import Month, Period

        try:
            p = Period.of(Month.parse(month), now)
        except ValueError as e:
            raise Refused(f"--month: {e}.", 2) from None
        return p.start, p.end
    try:
        return period(getattr(args, "from"), args.to, now, default or DEFAULT_PERIOD)
    except PeriodError as e:
        raise Refused(str(e), 2) from None


def cmd_stats(args: argparse.Namespace) -> int:
    from .models import utcnow
    from .stats import (
        LATE_REPORTS,
        as_of_text,
        compute_stats,
        describe_period,
        late_note,
        period_days,
    )

    if args.csv and args.json:
        return _refuse("--csv and --json cannot be used together: choose one.")
    if args.output and not args.csv:
        return _refuse("--output writes the CSV: give --csv with it.")
    now = utcnow()
    start, end = asked_period(args, now)
    hub = _hub(args)
    with hub.db.session() as s:
        out = compute_stats(s, start, end, now)
    if args.csv:
        from .cli_reports import write_stats_csv

        write_stats_csv(out, start, end, now, args.output)
        return 0
    if args.json:
        print(out.model_dump_json(by_alias=True, indent=2))
        return 0
    # the period as asked: its last day (``end`` is the midnight after it), each end in the
    # offset given with --from/--to
    when = describe_period(start, end)
    to_date = ""
    if out.pledge_days == 0:
        to_date = " (not begun: the pledge is not judged)"
    elif out.pledge_days < period_days(start, end):  # still going on: the days so far
        to_date = f" (to date: the pledge counts {out.pledge_days} days)"
    # when: the figures of past days can still grow (downloads reported late)
    print(f"{when}{to_date}: {out.summary} (as of {as_of_text(out.as_of)})")
    # as wide as the longest name and a space (a longer one ran into the country: "…spacesKE")
    wide = max([16, *(len(r.username) + 2 for r in out.members)])
    print(
        f"{'member':<{wide}}{'country':<9}{'downloads':>10}{'uploads':>9}{'upload days':>13}"
        "  pledge"
    )
    for r in out.members:
        # "3/4": days with an upload of the days it is judged on (those it was a member)
        days = f"{r.upload_days}/{r.pledge_days}"
        pledge = "-" if r.meets_pledge is None else "yes" if r.meets_pledge else "no"
        # why a member missed days: it cannot sign in (nor report its downloads)
        if r.disabled_since:
            pledge = f"{pledge:<8}disabled since {r.disabled_since:%Y-%m-%d}"
        print(
            f"{r.username:<{wide}}{r.country:<9}{r.downloads:>10}{r.uploads:>9}{days:>13}  {pledge}"
        )
    # after the table (a script reads it up to the blank line)
    late = late_note(out.downloads, out.downloads_reported_late)
    print("\n" + textwrap.fill(f"{late} {LATE_REPORTS}".strip(), width=96))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import build_hub, create_app
    from .demo import AGENCY_USER, DEMO_USER, NotADemoHub, seed_demo
    from .server import uvicorn_config

    if not args.data and _database_url(args):
        # its database in the URL, its files in the user's demo folder: a feed of 404s
        raise Refused(
            "ALU_HUB_DATABASE_URL is set, but the demo keeps its database in its own folder "
            f"({demo_data_dir()}): leave ALU_HUB_DATABASE_URL unset, or give --data DIR with "
            "it. Nothing was made.",
            2,
        )
    _check_port(args.port)
    _check_free(args.host, args.port)  # before seeding and the banner: one line, exit 1
    if not args.data:
        args.data = str(demo_data_dir())
    # the demo seed makes its clips two at a time on threads: in place, no worker process
    settings = replace(_settings(args), media_workers=0)
    _check_database_url(settings)
    _check_demo_hub(settings)
    hub = build_hub(settings)

    def progress(done: int, total: int) -> None:
        print(
            f"\rPreparing the demo feed: {done}/{total} clips",
            end="" if done < total else "\n",
            flush=True,
        )

    try:
        seed_demo(hub, progress=progress)
    except NotADemoHub as e:  # made meanwhile (_check_demo_hub looked a moment ago)
        raise Refused(_not_for_the_demo(settings, str(e)), 2) from None
    app = create_app(settings, hub)
    print(
        f"ALU demo hub on http://{args.host}:{args.port}  (data: {settings.data_dir})\n"
        f"  member: {DEMO_USER[0]} / {DEMO_USER[1]}"
        f"    agency: {AGENCY_USER[0]} / {AGENCY_USER[1]}\n"
        f"  API: http://{args.host}:{args.port}/docs    Ctrl-C stops it.",
        flush=True,
    )
    uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level="warning")).run()
    return 0


def _not_for_the_demo(settings: Settings, why: str) -> str:
    # the database the operator named is what holds another hub, not the demo's own folder
    # (which did not even exist)
    what = (
        f"The database {_safe_url(settings.db_url)} (ALU_HUB_DATABASE_URL or --database-url)"
        if settings.database_url
        else str(settings.data_dir)
    )
    return (
        f"{what} is not a hub `alu-hub demo` made ({why}): the demo adds accounts "
        "with public passwords (demo/demo, agency/agency), so it runs only on a hub of its own. "
        "Nothing was changed. Leave out --data (and ALU_HUB_DATABASE_URL) for the demo's own "
        "folder, or name a new one."
    )


def _check_demo_hub(settings: Settings) -> None:
    """Refuse, before anything is made or migrated, a data folder or database that holds a
    hub the demo did not make (``demo.demo_refusal``)."""
    from .demo import demo_refusal

    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        why = demo_refusal(None, settings.data_dir)  # no database yet
    else:
        engine = create_engine(settings.db_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                why = demo_refusal(conn, settings.data_dir)
        finally:
            engine.dispose()
    if why is not None:
        raise Refused(_not_for_the_demo(settings, why), 2)


def add_period_options(parser: argparse.ArgumentParser, default_days: int) -> None:
    """``--from`` and ``--to`` as ``stats`` takes them, or ``--month`` (``asked_period`` reads
    them)."""
    parser.add_argument(
        "--from",
        help="first day, YYYY-MM-DD (UTC), or an ISO time with an offset, e.g. "
        f"2026-12-02T00:00+03:00, to count that zone's days (default: the {default_days} days "
        "that end with --to, --to included)",
    )
    parser.add_argument(
        "--to",
        help="last day, YYYY-MM-DD (UTC; included), or the ISO time with an offset the period "
        "ends at, e.g. 2026-12-04T00:00+03:00 (default: today)",
    )
    parser.add_argument(
        "--month",
        metavar="YYYY-MM",
        help="a calendar month (UTC), or its days so far: the statistics page's monthly period "
        "(instead of --from and --to)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alu-hub", description="The ALU central hub.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", help="data folder (default: $ALU_HUB_DATA or the user data dir)")
    common.add_argument(
        "--database-url", help="SQLAlchemy URL (default: SQLite in the data folder)"
    )
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the hub")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="serving processes on the one port (default: ALU_HUB_WORKERS, else 1; about one "
        "per CPU core)",
    )
    serve.set_defaults(func=cmd_serve)

    member = sub.add_parser("member", help="members and agency staff")
    msub = member.add_subparsers(dest="member_command", required=True)
    add = msub.add_parser(
        "add", parents=[common], help="add a member (password from a prompt or stdin)"
    )
    add.add_argument("name")
    add.add_argument("--country", default="", help="ISO 3166 two-letter country code, e.g. KE")
    add.add_argument("--display-name", default="")
    add.add_argument("--role", choices=["member", "agency"], default="member")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_member_add)
    ls = msub.add_parser("list", parents=[common], help="list members")
    ls.set_defaults(func=cmd_member_list)
    for action, what in (
        ("password", "set a new password (prompt or stdin); ends its sign-ins, lifts a lock-out"),
        ("disable", "the account can no longer sign in; ends its sign-ins (its items stay)"),
        ("enable", "the account can sign in again"),
        ("signout", "end the account's sign-ins, or one (--session): a lost workstation"),
        ("unlock", "lift a sign-in lock-out (too many wrong passwords)"),
    ):
        change = msub.add_parser(action, parents=[common], help=what)
        change.add_argument("name")
        if action == "password":
            change.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
        if action == "signout":
            change.add_argument(
                "--session", metavar="ID", help="only this sign-in (see member sessions)"
            )
        change.set_defaults(func=cmd_member_change)
    edit = msub.add_parser(
        "edit", parents=[common], help="change a member's display name or country"
    )
    edit.add_argument("name")
    edit.add_argument("--display-name")
    edit.add_argument("--country", help="ISO 3166 two-letter country code, e.g. KE")
    edit.set_defaults(func=cmd_member_edit)
    remove = msub.add_parser(
        "remove",
        parents=[common],
        help="delete an account that did nothing (no items, uploads, history); else disable it",
    )
    remove.add_argument("name")
    remove.set_defaults(func=cmd_member_remove)
    sessions = msub.add_parser(
        "sessions", parents=[common], help="list the account's live sign-ins"
    )
    sessions.add_argument("name")
    sessions.add_argument("--json", action="store_true", help="as JSON")
    sessions.set_defaults(func=cmd_member_sessions)

    pub = sub.add_parser("publish", parents=[common], help="push a video file to the feed")
    pub.add_argument("file")
    pub.add_argument("--title", required=True)
    pub.add_argument("--slug")
    pub.add_argument("--dateline")
    pub.add_argument("--language", choices=["en", "fr", "ar"], default="en")
    pub.add_argument("--category")
    pub.add_argument("--region")
    pub.add_argument("--country")
    pub.add_argument("--priority", choices=["flash", "urgent", "routine"], default="routine")
    # restrictions are often one line ("No access Kenya"), sometimes a page of a contract's
    # terms: on the command line or from a UTF-8 file like the script, not both
    restrict = pub.add_mutually_exclusive_group()
    restrict.add_argument("--restrictions", help="the item's restrictions of use")
    restrict.add_argument("--restrictions-file", help="the restrictions from a UTF-8 text file")
    pub.add_argument("--recorded-at", help="ISO date/time the footage was shot")
    pub.add_argument("--script-file", help="the script from a UTF-8 text file")
    pub.add_argument("--shotlist-file", help="the shot list from a UTF-8 text file")
    pub.add_argument(
        "--force", action="store_true", help="publish it even if its bytes are a live item"
    )
    pub.set_defaults(func=cmd_publish)

    from .cli_reports import add_item_report_commands  # (it imports this module)

    items = sub.add_parser(
        "items", help="what was published and who downloaded it; withdraw or correct an item"
    )
    isub = items.add_subparsers(dest="items_command", required=True)
    add_item_report_commands(isub, common)
    cli_items.add_change_commands(isub, common)

    st = sub.add_parser("stats", parents=[common], help="the council's figures")
    add_period_options(st, 30)
    st.add_argument("--json", action="store_true", help="the figures as the API's JSON")
    st.add_argument(
        "--csv", action="store_true", help="the figures as the monthly /stats.csv's columns"
    )
    st.add_argument("--output", metavar="FILE", help="write the CSV to FILE (default: stdout)")
    st.set_defaults(func=cmd_stats)

    from .cli_audit import add_audit_command  # (it imports this module)

    add_audit_command(sub, common)

    demo = sub.add_parser(
        "demo", parents=[common], help="seed demo content (if empty) and serve it"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)
    demo.set_defaults(func=cmd_demo)
    return p


def _dialect_noise(record: logging.LogRecord) -> bool:
    """alembic's "Context impl SQLiteImpl." and "Will assume non-transactional DDL." lines."""
    text = str(record.msg)
    return not (text.startswith("Context impl") or text.startswith("Will assume"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alu_hub").setLevel(
        logging.WARNING if args.command != "serve" else logging.INFO
    )
    # alembic says at INFO which dialect it talks to on every start: noise an operator took
    # for a problem; an upgrade (Running upgrade …) is said by serve, once
    logging.getLogger("alembic").setLevel(
        logging.WARNING if args.command != "serve" else logging.INFO
    )
    logging.getLogger("alembic.runtime.migration").addFilter(_dialect_noise)
    # botocore says at INFO where it found the credentials ("Found credentials in environment
    # variables."), on stderr at every command on an S3 hub: noise, never a problem
    logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        status = int(args.func(args))
        # what is still buffered goes out here, where a reader gone is caught below (at exit
        # Python would print "Exception ignored … BrokenPipeError" instead)
        if sys.stdout is not None:  # (None: started with stdout closed)
            sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `alu-hub stats | head -1`: the reader has what it wanted
        with contextlib.suppress(OSError):  # no second error when Python flushes at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as a shell reports SIGPIPE, like `alu`
    except Exception as e:
        said = _one_line(e, args)
        if said is None:
            raise  # a bug: its traceback is what to report
        message, status = said
        print(f"alu-hub: {message}", file=sys.stderr)
        return status


def _database_url(args: argparse.Namespace) -> str:
    return str(getattr(args, "database_url", None) or os.environ.get("ALU_HUB_DATABASE_URL", ""))


def _one_line(e: Exception, args: argparse.Namespace) -> tuple[str, int] | None:
    """What went wrong, in one line for the operator, and the exit status; None for an error
    that is not the operator's to fix (a bug)."""
    from sqlalchemy.exc import DBAPIError

    from .db import SchemaTooNew, SchemaTooOld

    url = _database_url(args)
    if isinstance(e, Refused):
        return str(e), e.status
    if isinstance(e, SettingsError):
        return str(e), 2
    if isinstance(e, ArgumentError):  # an unparsable URL, or a dialect SQLAlchemy lacks
        if url.startswith("postgres://"):
            return (
                "ALU_HUB_DATABASE_URL starts with postgres://, which SQLAlchemy does not take: "
                "write postgresql+psycopg://USER:PASSWORD@HOST/DATABASE.",
                2,
            )
        return (
            "ALU_HUB_DATABASE_URL (or --database-url) is not a database URL the hub can use: "
            "give postgresql+psycopg://USER:PASSWORD@HOST/DATABASE, or nothing for SQLite in "
            "the data folder.",
            2,
        )
    if isinstance(e, DBAPIError):
        reason = _without_password(" ".join(str(e.orig).split())[:300], url)
        if url and not url.startswith("sqlite"):
            return (
                f"The database {_safe_url(url)} cannot be used ({reason}): check "
                "ALU_HUB_DATABASE_URL (user, password, database name) and that the server runs.",
                1,
            )
        if url:  # a SQLite file the operator named: their URL, not --data, is to check
            where = make_url(url).database
            return (
                f"The hub database {where} cannot be used ({reason}): check "
                "ALU_HUB_DATABASE_URL (or --database-url) — its folder must exist and be "
                "writable — or leave it unset for the database in the data folder.",
                2 if where and not Path(where).parent.is_dir() else 1,
            )
        in_folder = _settings(args).data_dir / "hub.sqlite3"
        return (
            f"The hub database {in_folder} cannot be used ({reason}): is --data right? If it is "
            "damaged, restore it from a backup.",
            1,
        )
    # StorageError too; OSError: one line already
    if isinstance(e, SchemaTooNew | SchemaTooOld | OSError):
        return _without_password(" ".join(str(e).split()), url), 1
    return None


def _without_password(message: str, url: str) -> str:
    """A library's ``message`` with the password of ``url`` (the database's) blanked out,
    wherever it was put."""
    try:
        password = make_url(url).password if url else None
    except (ArgumentError, ValueError):
        password = None
    if password:
        message = message.replace(str(password), "***")
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", message)


if __name__ == "__main__":
    # `python -m alu_hub.cli`: this file runs as __main__, and the command modules
    # (cli_reports) import alu_hub.cli, another copy whose Refused this copy's main would not
    # know (a traceback instead of one line): run that copy's main, as `alu-hub` does
    from alu_hub.cli import main as installed_main

    sys.exit(installed_main())
