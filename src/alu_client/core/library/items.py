"""Items in the library: stored once per profile whatever arrives twice, updated when the hub
changed them, with their search terms kept in ``items_fts`` in the same transaction.

``items_fts`` is contentless (the text lives once, in ``items``) and its rowid is ``items.pk``;
SQLite 3.40 has no ``contentless_delete``, so replacing an item's terms is FTS5's 'delete'
command with the old values, recomputed here from the old row with the same ``normalize``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..hub import PRIORITIES, Item, Rendition
from ..hub_types import MAX_DURATION_S
from ..store import Store
from ..store.rows import RowReader, warn_damaged
from .files import LibraryFile
from .text import normalize

#: the columns of ``items`` that come from the hub, in the order ``_values`` gives them
HUB_COLUMNS = (
    "seq",
    "kind",
    "title",
    "slug",
    "dateline",
    "recorded_at",
    "published_at",
    "category",
    "region",
    "country",
    "language",
    "priority",
    "restrictions",
    "script",
    "shotlist",
    "duration",
    "source_member",
    "thumbnail_url",
    "renditions",
    "source_name",
    "source_role",
    "revision",
    "corrected_at",
    "correction_note",
    "withdrawn_at",
    "withdrawn_reason",
)
#: the columns the search index holds, in ``items_fts`` order
FTS_COLUMNS = ("title", "slug", "dateline", "script", "shotlist")

_FTS_INSERT = "INSERT INTO items_fts (rowid, title, slug, dateline, script, shotlist)"
_FTS_INSERT_SQL = f"{_FTS_INSERT} VALUES (?, ?, ?, ?, ?, ?)"
_FTS_DELETE_SQL = (
    "INSERT INTO items_fts (items_fts, rowid, title, slug, dateline, script, shotlist)"
    " VALUES ('delete', ?, ?, ?, ?, ?, ?)"
)
# Built once from the column names above: only names and "?" placeholders are joined in.
_INSERT_SQL = (
    f"INSERT INTO items (profile, id, {', '.join(HUB_COLUMNS)}, first_seen_at, read_at,"  # noqa: S608
    f" rules_done) VALUES (?, ?, {', '.join('?' * len(HUB_COLUMNS))}, ?, ?, ?)"
)
_UPDATE_SQL = f"UPDATE items SET {', '.join(f'{c} = ?' for c in HUB_COLUMNS)} WHERE pk = ?"  # noqa: S608
_SELECT_OLD_SQL = f"SELECT pk, {', '.join(HUB_COLUMNS)} FROM items WHERE profile = ? AND id = ?"  # noqa: S608
_SELECT_FTS_SQL = f"SELECT pk, {', '.join(FTS_COLUMNS)} FROM items"  # noqa: S608


def timestamp(t: dt.datetime) -> str:
    """How a time is stored: UTC, fixed width (microseconds always), so that text order is
    time order and date filters compare strings."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


def priority_number(name: str) -> int:
    """0 flash, 1 urgent, 2 routine (the queue's order too)."""
    return PRIORITIES.index(name)


def _renditions_json(renditions: Sequence[Rendition]) -> str:
    return json.dumps(
        [
            {
                "name": r.name,
                "url": r.url,
                "filename": r.filename,
                "size": r.size,
                "sha256": r.sha256,
                "mime": r.mime,
                "width": r.width,
                "height": r.height,
            }
            for r in renditions
        ],
        ensure_ascii=False,
    )


def _values(item: Item) -> tuple[Any, ...]:
    """The item as ``HUB_COLUMNS`` values."""
    return (
        item.seq,
        item.kind,
        item.title,
        item.slug,
        item.dateline,
        timestamp(item.recorded_at) if item.recorded_at is not None else None,
        timestamp(item.published_at),
        item.category,
        item.region,
        item.country,
        item.language,
        priority_number(item.priority),
        item.restrictions,
        item.script,
        item.shotlist,
        item.duration,
        item.source_member,
        item.thumbnail_url,
        _renditions_json(item.renditions),
        item.source_name,
        item.source_role,
        item.revision,
        timestamp(item.corrected_at) if item.corrected_at is not None else None,
        item.correction_note,
        timestamp(item.withdrawn_at) if item.withdrawn_at is not None else None,
        item.withdrawn_reason,
    )


def _fts_terms(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(normalize(str(row[c])) for c in FTS_COLUMNS)


def upsert_items(
    store: Store,
    profile: str,
    items: Iterable[Item],
    *,
    rules_done: bool = False,
    member: str = "",
    changed: list[Item] | None = None,
    before: dict[str, Before] | None = None,
) -> list[Item]:
    """Store a batch of items from ``profile``'s hub in one transaction; return the ones new
    to the library, in the order given.

    An item seen before is stored once, whatever arrives twice (in one batch or across
    batches); one the hub changed (same id, other fields) is updated and its search terms
    replaced (and put in ``changed``, when given). ``rules_done`` marks new items as already
    considered by the auto-download rules (an existing item keeps its mark: each item is
    evaluated once). ``member`` is the profile's own user name: a new item it uploaded (from
    any of its workstations) is stored read — the member's own footage is no news to it, nor
    counted unread. ``before`` gets what a changed item was (``Before``), by id."""
    new: list[Item] = []
    now = time.time()
    with store.write() as conn:
        for item in items:
            done = _upsert_one(conn, profile, item, now, rules_done, member, before=before)
            if done == _NEW:
                new.append(item)
            elif done == _CHANGED and changed is not None:
                changed.append(item)
    return new


def update_items(
    store: Store, profile: str, items: Iterable[Item], before: dict[str, Before] | None = None
) -> list[Item]:
    """The items the hub changed (corrected, withdrawn: its changes feed), updated where the
    library has them, in one transaction; those it has not are left for the feed, which
    brings them at their current state. Returns the items updated (``before`` gets what each
    was, by id)."""
    changed: list[Item] = []
    now = time.time()
    with store.write() as conn:
        for item in items:
            done = _upsert_one(conn, profile, item, now, False, "", insert=False, before=before)
            if done == _CHANGED:
                changed.append(item)
    return changed


_NEW, _CHANGED, _SAME = "new", "changed", "same"


@dataclass(frozen=True)
class Before:
    """What a changed item was: its usage restrictions, and whether it was withdrawn."""

    restrictions: str
    withdrawn: bool


def _revision(row: sqlite3.Row) -> int:
    value = row["revision"]
    return value if isinstance(value, int) else 1


def _upsert_one(
    conn: sqlite3.Connection,
    profile: str,
    item: Item,
    now: float,
    rules_done: bool,
    member: str,
    *,
    insert: bool = True,
    before: dict[str, Before] | None = None,
) -> str:
    values = _values(item)
    old = conn.execute(_SELECT_OLD_SQL, (profile, item.id)).fetchone()
    row = dict(zip(HUB_COLUMNS, values, strict=True))
    if old is None:
        if not insert:
            return _SAME
        read_at = now if item.sent_by(member) else None
        cur = conn.execute(_INSERT_SQL, (profile, item.id, *values, now, read_at, int(rules_done)))
        conn.execute(_FTS_INSERT_SQL, (cur.lastrowid, *_fts_terms(row)))
        return _NEW
    if tuple(old)[1:] == values:
        return _SAME
    if (old["withdrawn_at"] is not None and item.withdrawn_at is None) or _revision(
        old
    ) > item.revision:
        # an older copy of the item (a feed page read before a correction, a hub restored
        # from a backup) does not undo it; a withdrawn item is never usable again
        return _SAME
    pk = old["pk"]
    old_terms = _fts_terms(dict(old))
    new_terms = _fts_terms(row)
    if old_terms != new_terms:
        conn.execute(_FTS_DELETE_SQL, (pk, *old_terms))
        conn.execute(_FTS_INSERT_SQL, (pk, *new_terms))
    conn.execute(_UPDATE_SQL, (*values, pk))
    if before is not None:
        before[item.id] = Before(old["restrictions"] or "", old["withdrawn_at"] is not None)
    return _CHANGED


def rebuild_fts(store: Store) -> None:
    """Empty the search index and fill it again from ``items`` (after ``normalize`` changed:
    a contentless index cannot be rebuilt by FTS5 itself)."""
    with store.write() as conn:
        conn.execute("INSERT INTO items_fts (items_fts) VALUES ('delete-all')")
        for row in conn.execute(_SELECT_FTS_SQL):
            conn.execute(_FTS_INSERT_SQL, (row["pk"], *_fts_terms(dict(row))))


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryItem:
    """An item as the library holds it: what the hub said, plus what this workstation did
    with it (seen, read, files on disk)."""

    item: Item
    pk: int
    first_seen_at: float
    read_at: float | None
    rules_done: bool
    files: tuple[LibraryFile, ...] = field(default=())
    #: what of the row could not be read (edited or damaged in the file): the fields named
    #: here hold stand-ins
    damaged: str = ""

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def seq(self) -> int:
        return self.item.seq

    @property
    def title(self) -> str:
        return self.item.title

    @property
    def read(self) -> bool:
        return self.read_at is not None

    @property
    def downloaded(self) -> bool:
        """A file of the item is on this workstation (as last checked)."""
        return any(f.present for f in self.files)

    def file(self, rendition: str) -> LibraryFile | None:
        return next((f for f in self.files if f.rendition == rendition), None)


def _renditions(r: RowReader) -> tuple[Rendition, ...]:
    try:
        return tuple(Rendition(**x) for x in r.json_list("renditions"))
    except TypeError:
        r.replace("renditions", None)
        return ()


def item_from_row(row: sqlite3.Row, files: Sequence[LibraryFile] = ()) -> LibraryItem:
    """The row as a LibraryItem; a value edited or damaged in the file is replaced by a
    stand-in (a publication time that is no time by when the item was first seen) and named in
    ``damaged`` and the log: one bad item never stops a list, a search or the feed."""
    r = RowReader(row)
    first_seen = r.real("first_seen_at", 0.0)
    published = r.when_or_none("published_at")
    if published is None:
        published = r.replace("published_at", dt.datetime.fromtimestamp(first_seen, dt.UTC))
    number = r.integer("priority", priority_number("routine"))
    # kept by an older version, which took any duration (infinity, 1e300: every paint failed)
    duration = r.real("duration", 0.0)
    if not 0 <= duration <= MAX_DURATION_S:
        duration = r.replace("duration", 0.0)
    item = Item(
        id=r.text("id"),
        seq=r.integer("seq", 0),
        kind=r.text("kind"),
        title=r.text("title"),
        slug=r.text("slug"),
        dateline=r.text("dateline"),
        recorded_at=r.when_or_none("recorded_at"),
        published_at=published,
        category=r.text("category"),
        region=r.text("region"),
        country=r.text("country"),
        language=r.text("language"),
        priority=PRIORITIES[number]
        if 0 <= number < len(PRIORITIES)
        else r.replace("priority", "routine"),
        restrictions=r.text("restrictions"),
        script=r.text("script"),
        shotlist=r.text("shotlist"),
        duration=duration,
        source_member=r.text("source_member"),
        thumbnail_url=r.text("thumbnail_url"),
        renditions=_renditions(r),
        source_name=r.text("source_name"),
        source_role=r.text("source_role"),
        revision=max(1, r.integer("revision", 1)),
        corrected_at=r.when_or_none("corrected_at"),
        correction_note=r.text("correction_note"),
        withdrawn_at=r.when_or_none("withdrawn_at"),
        withdrawn_reason=r.text("withdrawn_reason"),
    )
    warn_damaged(
        "item",
        item.id,
        r.damaged,
        "the rest of it is shown; downloading it reads it again from the hub.",
    )
    return LibraryItem(
        item=item,
        pk=r.integer("pk", 0),
        first_seen_at=first_seen,
        read_at=r.real_or_none("read_at"),
        rules_done=r.flag("rules_done"),
        files=tuple(files),
        damaged=r.damaged,
    )
