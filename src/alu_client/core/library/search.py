"""Searching and browsing the library: words (FTS5), filters, newest first, keyset pages.

A page is read with ``seq < before`` (or ``seq > after``) and ``LIMIT n + 1``: never an OFFSET
and never everything, so the thousandth page costs what the first does. The browse index
``ix_items_seq`` holds every filter column, so SQLite tests filters on the index and reads a
row (with its long script) only for the items of the page. Counting is bounded (``cap``): the
UI says "10,000+" instead of making the user wait for an exact figure nobody reads.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..hub import PRIORITIES
from ..store import Store
from .files import LibraryFile
from .items import LibraryItem, item_from_row, timestamp
from .text import fts_query

#: a page is at most this long whatever is asked (the UI asks for what fills a screen)
MAX_LIMIT = 500
#: counts stop here by default
COUNT_CAP = 10_000
# Not correlated: the (few) downloaded ids are listed once, then each row is looked up in them.
_HAS_FILE = "i.id IN (SELECT item_id FROM library_files WHERE profile = ? AND state = 'present')"
_HAD_FILE = (
    "i.id IN (SELECT item_id FROM library_files WHERE profile = ?"
    " AND state IN ('present', 'missing'))"
)
#: an item not read yet, in a WHERE clause (``t``: "i." or ""): one the agency withdrew is
#: never waiting to be read (nothing in it can be used), counted in neither "Feed (N)" nor the
#: unread count nor `alu feed --new`, as the member's own uploads are not
UNREAD_SQL = "{t}read_at IS NULL AND {t}withdrawn_at IS NULL"


@dataclass(frozen=True)
class Query:
    """What the user asked for. Empty tuples and None mean "any".

    ``published_from`` is inclusive and ``published_until`` exclusive; a date stands for the
    start of that day (UTC) in ``published_from`` and the end of it in ``published_until``.
    ``after``/``before`` are seq cursors from a ``Page``; without them the newest come first.
    """

    text: str = ""
    published_from: dt.datetime | dt.date | None = None
    published_until: dt.datetime | dt.date | None = None
    languages: Sequence[str] = ()
    categories: Sequence[str] = ()
    regions: Sequence[str] = ()
    countries: Sequence[str] = ()
    priorities: Sequence[str] = ()  # "flash", "urgent", "routine"
    kind: str | None = None
    downloaded: bool | None = None  # True: a file is on this workstation; False: none is
    #: with ``downloaded=True``, the items whose file is recorded missing too (deleted by hand,
    #: on a share out of reach): the Library keeps them in sight, to be downloaded again
    with_missing: bool = False
    unread: bool | None = None  # True: only unread; False: only read
    after: int | None = None
    before: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class Page:
    """Items newest first. ``older``: pass as ``before`` for the next page (None: no more);
    ``newer``: pass as ``after`` for the page before this one (None: this is the newest)."""

    items: list[LibraryItem]
    older: int | None
    newer: int | None


@dataclass(frozen=True)
class MatchCount:
    count: int
    #: False when counting stopped at the cap: "at least ``count``"
    exact: bool

    def __str__(self) -> str:
        return f"{self.count:,}" if self.exact else f"{self.count:,}+"


def _day_start(value: dt.datetime | dt.date, *, end: bool) -> str:
    if isinstance(value, dt.datetime):
        return timestamp(value)
    start = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return timestamp(start + dt.timedelta(days=1) if end else start)


def _in(column: str, values: Sequence[Any], where: list[str], params: list[Any]) -> None:
    if values:
        where.append(f"{column} IN ({', '.join('?' * len(values))})")
        params.extend(values)


def _where(profile: str, q: Query, strict: bool = False) -> tuple[str, list[Any]] | None:
    """The WHERE clause without the cursor; None when nothing can match (no words to find).
    Only fixed SQL and "?" placeholders go into it; every value is a parameter."""
    where = ["i.profile = ?"]
    params: list[Any] = [profile]
    if q.text.strip():
        match = fts_query(q.text, strict=strict)
        if match is None:
            return None  # only punctuation or symbols: no word can match
        where.append("i.pk IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        params.append(match)
    if q.published_from is not None:
        where.append("i.published_at >= ?")
        params.append(_day_start(q.published_from, end=False))
    if q.published_until is not None:
        where.append("i.published_at < ?")
        params.append(_day_start(q.published_until, end=True))
    _in("i.language", q.languages, where, params)
    _in("i.category", q.categories, where, params)
    _in("i.region", q.regions, where, params)
    _in("i.country", q.countries, where, params)
    priorities = [PRIORITIES.index(p) for p in q.priorities if p in PRIORITIES]
    if q.priorities and not priorities:
        return None
    _in("i.priority", priorities, where, params)
    if q.kind is not None:
        where.append("i.kind = ?")
        params.append(q.kind)
    if q.downloaded is not None:
        has = _HAD_FILE if q.downloaded and q.with_missing else _HAS_FILE
        if q.text.strip():
            # a test, never the items index's key beside the words' list: SQLite took both
            # as keys, every item with a file × every item with the words (a count of the
            # Library's search "floods", 15,000 items: 45 s, the store held all that time)
            has = f"+{has}"
        where.append(has if q.downloaded else f"NOT {has}")
        params.append(profile)
    if q.unread is not None:
        where.append(
            UNREAD_SQL.format(t="i.") if q.unread else f"NOT ({UNREAD_SQL.format(t='i.')})"
        )
    return " AND ".join(where), params


def files_of(store: Store, profile: str, item_ids: Sequence[str]) -> dict[str, list[LibraryFile]]:
    found: dict[str, list[LibraryFile]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        rows = store.query(
            "SELECT * FROM library_files WHERE profile = ?"  # noqa: S608 - "?" only
            f" AND item_id IN ({', '.join('?' * len(chunk))}) ORDER BY rendition",
            (profile, *chunk),
        )
        for row in rows:
            found.setdefault(row["item_id"], []).append(LibraryFile.from_row(row))
    return found


def _run(
    store: Store,
    profile: str,
    q: Query,
    sql: Callable[[str], str],
    extra: Sequence[Any],
    *,
    first: Sequence[Any] = (),
) -> list[sqlite3.Row] | None:
    """Run ``sql(where)`` with ``first``, the query's parameters, then ``extra``; None when
    nothing can match. A word SQLite's tokenizer splits where Python does not (a letter newer
    than its Unicode tables) makes FTS5 refuse the query: it is tried again with such words
    split."""
    for strict in (False, True):
        built = _where(profile, q, strict)
        if built is None:
            return None
        where, params = built
        try:
            return store.query(sql(where), (*first, *params, *extra))
        except sqlite3.OperationalError as e:
            if "fts5" not in str(e) or strict:
                raise
    return None


def search(store: Store, profile: str, q: Query) -> Page:
    limit = max(1, min(q.limit, MAX_LIMIT))
    ascending = q.after is not None and q.before is None
    cursor = ""
    extra: list[Any] = []
    if q.before is not None:
        cursor += " AND i.seq < ?"
        extra.append(q.before)
    if q.after is not None:
        cursor += " AND i.seq > ?"
        extra.append(q.after)
    order = "ASC" if ascending else "DESC"
    found = _run(
        store,
        profile,
        q,
        lambda where: (
            f"SELECT i.* FROM items i WHERE {where}{cursor}"  # noqa: S608 - "?" only
            f" ORDER BY i.seq {order} LIMIT ?"
        ),
        (*extra, limit + 1),
    )
    rows = found or []
    more = len(rows) > limit
    rows = rows[:limit]
    if ascending:
        rows.reverse()
    files = files_of(store, profile, [r["id"] for r in rows])
    items = [item_from_row(r, files.get(r["id"], ())) for r in rows]
    if not items:
        # nothing on this side of the cursor: the way back starts at the cursor itself
        older = q.after + 1 if ascending and q.after is not None else None
        newer = q.before - 1 if not ascending and q.before is not None else None
        return Page([], older, newer)
    if ascending:
        return Page(items, older=items[-1].seq, newer=items[0].seq if more else None)
    return Page(
        items,
        older=items[-1].seq if more else None,
        newer=items[0].seq if q.before is not None or q.after is not None else None,
    )


def among(store: Store, profile: str, q: Query, item_ids: Sequence[str]) -> list[LibraryItem]:
    """The items of ``item_ids`` that match ``q`` (cursors and limit ignored), newest first:
    what a view showing ``q`` needs to bring a few rows up to date (a download recorded, a
    file probed) without reading the others again."""
    ids = list(dict.fromkeys(item_ids))
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = _among_sql(len(chunk))
        rows.extend(_run(store, profile, q, sql, (), first=(profile, *chunk)) or [])
    rows.sort(key=lambda r: r["seq"], reverse=True)
    files = files_of(store, profile, [r["id"] for r in rows])
    return [item_from_row(r, files.get(r["id"], ())) for r in rows]


def _among_sql(n: int) -> Callable[[str], str]:
    """The statement of ``among`` for ``n`` ids: the asked rows, found by id, are the outer
    loop, and the query's terms are tested on each. Left to itself SQLite drove the loop with
    the query's own lists — every downloaded item × every item with the words, 12 s in a
    library of 15,000 items — and the app's whole store waited on it (search finding 5). The
    subquery's LIMIT keeps SQLite from flattening it or pushing the terms into it; CROSS JOIN
    keeps it first."""
    marks = ", ".join("?" * n)
    return lambda where: (
        "SELECT i.* FROM (SELECT pk FROM items WHERE profile = ?"  # noqa: S608 - "?" only
        f" AND id IN ({marks}) LIMIT {n}) AS asked"
        f" CROSS JOIN items i ON i.pk = asked.pk WHERE {where}"
    )


def mark_read(store: Store, profile: str, q: Query, now: float) -> int:
    """Mark every unread item matching ``q`` read (cursors and limit ignored) in one
    statement; returns how many changed."""
    for strict in (False, True):
        built = _where(profile, q, strict)
        if built is None:
            return 0
        where, params = built
        try:
            with store.write() as conn:
                cur = conn.execute(
                    f"UPDATE items SET read_at = ? WHERE {UNREAD_SQL.format(t='')} AND pk IN"  # noqa: S608
                    f" (SELECT i.pk FROM items i WHERE {where})",
                    (now, *params),
                )
                return cur.rowcount
        except sqlite3.OperationalError as e:  # as in ``_run``: words split, tried again
            if "fts5" not in str(e) or strict:
                raise
    return 0


def count(store: Store, profile: str, q: Query, cap: int = COUNT_CAP) -> MatchCount:
    """How many items match ``q`` (cursors and limit ignored), counting up to ``cap``."""
    rows = _run(
        store,
        profile,
        q,
        lambda where: f"SELECT count(*) FROM (SELECT 1 FROM items i WHERE {where} LIMIT ?)",  # noqa: S608
        (cap + 1,),
    )
    n = int(rows[0][0]) if rows else 0
    return MatchCount(min(n, cap), n <= cap)
