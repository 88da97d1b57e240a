"""`alu library`: search the local library, check its files, free space. Offline."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..core.library import Library, MissingFile, Query
from ..core.library.files import DAMAGED_RECORD, FOLDER_GONE, REWRITTEN
from ..core.plain_text import one_line
from .common import (
    CliError,
    fmt_bytes,
    open_services,
    parse_size,
)
from .item_lines import print_items
from .options import DEFAULT_LIMIT, LIMIT_HELP, list_limit, positive_number, say_cut
from .times import UTC_HELP


def _missing_line(lib: Library, m: MissingFile) -> str:
    """One line a person reads: which item's file, where it was, why it is missing, and how
    to have it again."""
    try:
        known = lib.get(m.item_id)
    except Exception:  # (a damaged item row: its id says which all the same)
        known = None
    title = one_line(known.item.title) if known is not None and known.item.title else ""
    what = (
        f'"{title}" ({m.rendition}, item {m.item_id})'
        if title
        else f"item {m.item_id} ({m.rendition})"
    )
    again = f"alu get {m.item_id}" + (" --proxy" if m.rendition == "proxy" else "")
    if m.reason == DAMAGED_RECORD:  # (says "download it again" itself)
        return f"missing: {what}: {one_line(str(m.path))}: {m.reason}: {again}"
    if m.reason == REWRITTEN:  # a file is there, not ours to put back or to delete
        return (
            f"missing: {what}: {one_line(str(m.path))}: {m.reason}. ALU Desk leaves that "
            f"file alone; to have the file it verified, download it again: {again}"
        )
    if m.reason == FOLDER_GONE:  # a drive unplugged, a share away: it comes back with them
        return (
            f"missing: {what}: {one_line(str(m.path))}: {m.reason} (a drive unplugged, or a "
            "share away?). Plug it in or bring the share back, then run alu library check "
            f"again; or download it again: {again}"
        )
    return (
        f"missing: {what}: {one_line(str(m.path))}: {m.reason}. "
        f"Put it back there, or download it again: {again}"
    )


def _no_match(query: Query) -> str:
    filtered = query.languages or query.categories or query.priorities or query.downloaded
    what = f" “{one_line(query.text)}”" if query.text.strip() else ""
    among = " among the items so filtered" if filtered else ""
    return f"No item in the library matches{what}{among}."


def cmd_library(args: argparse.Namespace) -> int:
    total: int | None = None
    if args.max_total:  # (refused before anything is opened, as the other options are)
        try:
            total = parse_size(args.max_total)
        except CliError as e:  # ("'-5G' is too small": of which option)
            raise CliError(f"--max-total {e}; give a size such as 500G.", 2) from None
    services = open_services()
    try:
        services.require_profile()
        lib = services.library
        if args.action == "check":
            report = lib.check_files()
            # every file missing after the check, those found so before too: a second check
            # with the drive still unplugged said "0 missing"
            for m in [*report.missing, *report.still_missing]:
                print(_missing_line(lib, m))
            gone = len(report.missing) + len(report.still_missing)
            before = (
                f" ({len(report.still_missing)} of them already before)"
                if report.still_missing
                else ""
            )
            print(f"{report.checked} files checked, {gone} missing{before}, "
                  f"{report.restored} found again.")  # fmt: skip
            return 0
        if args.action == "clean":
            if args.max_age_days is None and args.max_total is None:
                raise CliError("library clean needs --max-age-days or --max-total.", 2)
            r = lib.apply_retention(args.max_age_days, total, now=time.time())
            print(f"{r.removed} files deleted, {fmt_bytes(r.freed_bytes)} freed "
                  f"(records kept); {len(r.kept)} left in place.")  # fmt: skip
            return 0
        query = Query(
            text=" ".join(args.text),
            languages=tuple(args.language or ()),
            categories=tuple(args.category or ()),
            priorities=tuple(args.priority or ()),
            downloaded=True if args.downloaded else None,
            limit=args.limit,
        )
        page = lib.search(query)
        print_items(page.items, args.json, utc=args.utc)
        if not page.items and not args.json:  # (silence read as a command that did nothing)
            print(_no_match(query))
        if page.older is not None:  # (the next page's cursor: more items match)
            say_cut(len(page.items), args.limit, "items match")
    finally:
        services.stop()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("library", help="search the local library; check files; free space")
    p.add_argument("action", nargs="?", default="search", choices=["search", "check", "clean"])
    p.add_argument("text", nargs="*", help="words to search (title, slug, script, …)")
    p.add_argument("--language", action="append")
    p.add_argument("--category", action="append")
    p.add_argument("--priority", action="append")
    p.add_argument("--downloaded", action="store_true", help="only items with a file here")
    p.add_argument("--utc", action="store_true", help=UTC_HELP)
    p.add_argument("--limit", type=list_limit, default=DEFAULT_LIMIT, help=LIMIT_HELP)
    p.add_argument(
        "--max-age-days",
        type=positive_number("days"),
        help="clean: delete files downloaded more than this many days ago (above 0)",
    )
    p.add_argument("--max-total", help="clean: keep the library under this size, e.g. 500G")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_library)
