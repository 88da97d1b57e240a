"""argparse types for the numbers the hub and local verbs take: each refuses, in one line
(exit 2), what is not a number, not finite, or out of its range. A plain ``type=float`` took
``--max-age-days -1`` (which deleted every downloaded file), ``nan`` and ``inf``; a plain
``type=int`` took ``--limit 0`` and ``--limit -5`` and listed one item."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

from ..core.library.search import MAX_LIMIT
from .common import positive_int

#: how many items or events a listing shows unless ``--limit`` says otherwise
DEFAULT_LIMIT = 50
#: the most one listing shows (the library's own page size)
LIST_MAX = MAX_LIMIT
#: ``alu doctor --timeout``: seconds each check may wait, at most
MAX_TIMEOUT = 600.0
#: ``--limit`` of feed, history and library search
LIMIT_HELP = (
    f"how many to list, newest first (default {DEFAULT_LIMIT}; at most {LIST_MAX} are listed)"
)


def list_limit(text: str) -> int:
    """An argparse type: how many items a listing shows, 1 or more; above ``LIST_MAX``,
    ``LIST_MAX`` (a script asking for "all" with 1000 gets the most one listing shows, and
    ``say_cut`` says when more exist: refusing it would break the script for no gain)."""
    return min(positive_int(text), LIST_MAX)


def positive_number(unit: str, most: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (``unit`` names it in the error), at most
    ``most``. 0 and negative numbers are refused, not read as "everything": a cron line
    whose variable held -1 deleted the whole library."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number of {unit} above 0")
        if value > most:
            raise argparse.ArgumentTypeError(f"{text!r}: give {most:g} {unit} or fewer")
        return value

    parse.__name__ = f"number of {unit}"  # (argparse names the type in some errors)
    return parse


def say_cut(shown: int, limit: int, what: str) -> None:
    """On stderr, when a listing of ``shown`` (= ``limit``) left out more ``what``: a script
    reading ``--json`` (whose stdout stays the list) or a person must know the rest exists."""
    more = (
        f"--limit N shows up to {LIST_MAX}"
        if limit < LIST_MAX
        else f"{LIST_MAX} is the most one listing shows"
    )
    print(f"alu: more {what} than the {shown} listed; {more}.", file=sys.stderr)
