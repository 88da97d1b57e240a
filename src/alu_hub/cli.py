"""``alu-hub``: run the hub and do the agency's chores from a shell."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import platformdirs
from sqlalchemy import select

from .hub import Hub
from .settings import Settings, SettingsError, env_int

DEFAULT_PORT = 8750


def default_data_dir() -> Path:
    env = os.environ.get("ALU_HUB_DATA")
    return Path(env) if env else Path(platformdirs.user_data_dir("alu-hub", appauthor=False))


def _settings(args: argparse.Namespace) -> Settings:
    data = Path(args.data).expanduser() if args.data else default_data_dir()
    base = Settings.from_env(data)
    if getattr(args, "database_url", None):
        base = replace(base, database_url=args.database_url)
    return base


def _hub(args: argparse.Namespace) -> Hub:
    """The hub of a chore (``publish``, ``member``, ``stats``): it shares the data folder with
    the replicas serving it, so that none of them takes its work in progress (say, the files of
    an item being published) for a crash's leftovers at start-up (``hub.DataFolderLock``)."""
    from .app import build_hub

    # A chore is a process of its own: its media work has no requests to keep waiting.
    hub = build_hub(replace(_settings(args), media_workers=0))
    hub.folder_lock.share()
    return hub


def _refuse(message: str) -> int:
    """A command's input it cannot take: one line on stderr, and exit status 2 (as argparse
    gives for a bad option), before anything is changed."""
    print(f"alu-hub: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .server import uvicorn_config

    settings = _settings(args)
    workers = args.workers if args.workers is not None else env_int("ALU_HUB_WORKERS", 1)
    if workers > 1:
        from .server import serve_workers

        print(
            f"ALU hub on http://{args.host}:{args.port} (data: {settings.data_dir}, "
            f"{workers} processes)",
            flush=True,
        )
        serve_workers(settings, args.host, args.port, workers)
        return 0
    app = create_app(settings)
    print(f"ALU hub on http://{args.host}:{args.port} (data: {settings.data_dir})", flush=True)
    uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level="info")).run()
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise SystemExit("alu-hub: the two passwords differ; nothing was changed.")
    if len(password) < 4:
        raise SystemExit("alu-hub: a password needs at least 4 characters.")
    return password


#: What a member's name or display name may not hold: control characters (a line break, a
#: tab, NUL, which PostgreSQL cannot store), bidi overrides (text that shows other than it
#: reads), and lone surrogates (bytes that were not UTF-8 on the command line).
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


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


def _member_problem(args: argparse.Namespace) -> str | None:
    """Why ``member add`` cannot add this member as given, checked before anything is
    changed, by the columns of models.Member, on every engine alike (SQLite would store a
    name of any length, PostgreSQL fail on it)."""
    from sqlalchemy import String

    from .models import Member

    def limit(column: str) -> int:
        kind = Member.__table__.c[column].type
        assert isinstance(kind, String)
        assert kind.length is not None
        return kind.length

    problem = _name_problem("name", args.name, limit("username")) or (
        _name_problem("display name", args.display_name, limit("display_name"))
        if args.display_name
        else None
    )
    if problem is not None:
        return problem
    if not re.fullmatch(r"[A-Za-z]{2}", args.country) and (args.country or args.role == "member"):
        return "--country takes a two-letter code, e.g. KE."
    return None


def cmd_member_add(args: argparse.Namespace) -> int:
    from .auth import hash_password
    from .models import Member

    problem = _member_problem(args)
    if problem is not None:
        return _refuse(problem)
    hub = _hub(args)
    with hub.db.session() as s:
        if s.execute(select(Member).where(Member.username == args.name)).scalar_one_or_none():
            raise SystemExit(f"alu-hub: a member named {args.name!r} exists already.")
    password = _read_password(args)
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
    print(f"Added {args.role} {args.name}.")
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    from .models import Member

    hub = _hub(args)
    with hub.db.session() as s:
        for m in s.scalars(select(Member).order_by(Member.username)):
            print(f"{m.username:<16} {m.role:<7} {m.country:<3} {m.display_name}")
    return 0


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SystemExit(
            f"alu-hub: {path} is not UTF-8 text; save it as UTF-8 and publish again."
        ) from None


def cmd_publish(args: argparse.Namespace) -> int:
    from .publish import ItemFields, PublishError, publish_file

    src = Path(args.file)
    if not src.is_file():
        raise SystemExit(f"alu-hub: {src} is not a file.")
    try:
        fields = ItemFields.from_metadata(
            {
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
                    "restrictions": args.restrictions,
                    "recorded_at": args.recorded_at,
                    "script": _read_text(args.script_file) if args.script_file else None,
                    "shotlist": _read_text(args.shotlist_file) if args.shotlist_file else None,
                }.items()
                if v is not None
            },
            default_title=src.stem,
            country="",
        )
        hub = _hub(args)
        item = publish_file(hub, src, fields, kind="push", filename=src.name)
    except (PublishError, OSError) as e:
        raise SystemExit(f"alu-hub: {e}") from None
    print(f"Published {item.id} (seq {item.seq}): {item.title}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    import datetime as dt

    from .models import utcnow
    from .stats import PeriodError, compute_stats, end_of_today, period, pledge_days

    now = utcnow()
    try:
        start, end = period(getattr(args, "from"), args.to, now)
    except PeriodError as e:
        return _refuse(str(e))
    hub = _hub(args)
    with hub.db.session() as s:
        out = compute_stats(s, start, end, now)
    if args.json:
        print(out.model_dump_json(by_alias=True, indent=2))
        return 0
    # the last day counted, as --to gives it (``end`` is the midnight after it)
    last = end - dt.timedelta(microseconds=1)
    to_date = ""
    if end > end_of_today(now):  # a period still going on: the pledge counts the days so far
        to_date = f" (to date: the pledge counts {pledge_days(start, end, now)} days)"
    print(f"{start:%Y-%m-%d} to {last:%Y-%m-%d}{to_date}: {out.summary}")
    print(f"{'member':<16}{'country':<9}{'downloads':>10}{'uploads':>9}{'upload days':>13}  pledge")
    for r in out.members:
        pledge = "yes" if r.meets_pledge else "no"
        print(
            f"{r.username:<16}{r.country:<9}{r.downloads:>10}{r.uploads:>9}{r.upload_days:>13}"
            f"  {pledge}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import build_hub, create_app
    from .demo import AGENCY_USER, DEMO_USER, seed_demo
    from .server import uvicorn_config

    if not args.data:
        args.data = str(default_data_dir() / "demo")
    # the demo seed makes its clips two at a time on threads: in place, no worker process
    settings = replace(_settings(args), media_workers=0)
    hub = build_hub(settings)

    def progress(done: int, total: int) -> None:
        print(
            f"\rPreparing the demo feed: {done}/{total} clips",
            end="" if done < total else "\n",
            flush=True,
        )

    seed_demo(hub, progress=progress)
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
    add.add_argument("--country", default="", help="two-letter country code, e.g. KE")
    add.add_argument("--display-name", default="")
    add.add_argument("--role", choices=["member", "agency"], default="member")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_member_add)
    ls = msub.add_parser("list", parents=[common], help="list members")
    ls.set_defaults(func=cmd_member_list)

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
    pub.add_argument("--restrictions")
    pub.add_argument("--recorded-at", help="ISO date/time the footage was shot")
    pub.add_argument("--script-file")
    pub.add_argument("--shotlist-file")
    pub.set_defaults(func=cmd_publish)

    st = sub.add_parser("stats", parents=[common], help="the council's figures")
    st.add_argument("--from", help="first day, YYYY-MM-DD (default: 30 days before --to)")
    st.add_argument("--to", help="last day, YYYY-MM-DD (default: today)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)

    demo = sub.add_parser(
        "demo", parents=[common], help="seed demo content (if empty) and serve it"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alu_hub").setLevel(
        logging.WARNING if args.command != "serve" else logging.INFO
    )
    try:
        return int(args.func(args))
    except SettingsError as e:
        return _refuse(str(e))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
