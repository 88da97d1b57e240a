"""Items of the library as a table (the Feed and Library tabs), 100,000 items or more.

``ItemsModel`` shows one ``Query``'s items newest first, a page at a time (``fetchMore`` with
the keyset cursor ``Page.older``; never an OFFSET, never everything). Filters and search are
the query's, so nothing is sorted or filtered on top. Store reads run on the model's
``TaskRunner`` one at a time — a page, the items newer than the top row (``add_newer``: new
pushes inserted at the top, selection and scroll kept), ``refresh_items`` (a download recorded,
a file probed or deleted: only those items read again, their rows changed, inserted in their
place or removed; selection and scroll kept), or ``refresh`` (the loaded rows read again and
merged in place, for changes to many items; once every page is loaded, the whole query, so that
an older item newly matching it — a download of yesterday's story in the Library — shows too);
requests made meanwhile are merged and run next, results of an older query dropped. Thumbnails
come from ``ThumbnailCache`` (read off the GUI thread).
"""

from __future__ import annotations

import bisect
import datetime as dt
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont

from alu_client.core.library import Library, LibraryItem, Page, Query
from alu_client.core.library.search import MAX_LIMIT
from alu_client.core.rules import hub_clock_offset
from alu_client.core.store.transfers import PROFILE_SQL

from .. import colors, plain_text
from ..delegates_items import (
    THUMB_SIZE,
    ThumbnailCache,
    clip_length,
    language_name,
    local_time,
    relative_time,
    sender_name,
    sent_by,
    thumbnail_path,
)
from ..file_reasons import reason_text
from ..formats import isolated
from ..tasks import TaskRunner
from . import BADGES_ROLE, OBJECT_ROLE, SORT_ROLE, STATE_ROLE

(COL_THUMB, COL_TITLE, COL_SLUG, COL_DATELINE, COL_SENDER, COL_LANGUAGE, COL_DURATION,
 COL_PRIORITY, COL_PUBLISHED, COL_STATE) = range(10)  # fmt: skip
COLUMN_COUNT = 10

# item states as the State column and filters name them (untranslated, ``STATE_ROLE``)
# ("proxy": only the low-resolution proxy is here, the broadcast file missing or never fetched)
# ("withdrawn": the agency withdrew the item — do not use it — whatever is here of it)
STATES = (
    "withdrawn", "downloaded", "proxy", "queued", "paused", "failed", "missing", "new", "seen"
)  # fmt: skip
# beyond this many new items at once (a long offline spell), the list starts over instead
_NEWER_CAP = 5000
# beyond this many items changed at once (a check of many files, a sync of read marks), the
# loaded rows are read again all together rather than one by one: each row changed, inserted
# or removed is a signal the view handles, and 200 of them cost what a full merge of a few
# thousand rows does
_FEW_CHANGED = 200
# a row inserted or removed among the others moves the index keys of at most this many rows;
# more, and the index is built again when next asked
_SHIFT_AT_MOST = 5000
_Index = QModelIndex | QPersistentModelIndex
_ROW_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
# downloads not done nor canceled, as the Transfers tab shows them (a failed one stays there
# until it is retried or canceled): the profile's, and those of none; another member's of the
# same item is not this one's (its file goes to that member's library)
_DOWNLOADS = (
    "SELECT item_id, state FROM transfers WHERE direction = 'download'"  # noqa: S608 - a constant
    " AND state IN ('queued', 'active', 'paused', 'failed') AND item_id IS NOT NULL"
    f" AND {PROFILE_SQL} IN ('', ?)"
)
# an item with several downloads shows the most hopeful: one under way, then paused, then failed
_TRANSFER_STATES = {"active": "queued", "queued": "queued", "paused": "paused", "failed": "failed"}


def item_state(li: LibraryItem, transfer: str | None) -> str:
    """The State column's state; ``transfer`` is the item's download state as
    ``_download_states`` gives it ("queued", "paused", "failed" or None)."""
    if li.item.withdrawn:
        return "withdrawn"
    if li.downloaded:
        if _broadcast_here(li):
            return "downloaded"
        # the proxy alone: said so (it was "Downloaded", as a full download), unless the
        # broadcast file is on its way
        return transfer if transfer is not None else "proxy"
    if transfer is not None:
        return transfer
    if any(f.state == "missing" for f in li.files):
        return "missing"
    return "new" if not li.read else "seen"


def _broadcast_here(li: LibraryItem) -> bool:
    """Whether the item's broadcast file is here (or the item has no broadcast rendition: its
    one file is all there is)."""
    f = li.file("broadcast")
    if f is not None and f.present:
        return True
    return not any(r.name == "broadcast" for r in li.item.renditions)


def _download_states(library: Library) -> dict[str, str]:
    """item id → "queued" (waiting or under way), "paused" or "failed"."""
    found: dict[str, str] = {}
    for item_id, state in library.store.query(_DOWNLOADS, (library.profile,)):
        mine = _TRANSFER_STATES[state]
        had = found.get(str(item_id))
        if had is None or STATES.index(mine) < STATES.index(had):
            found[str(item_id)] = mine
    return found


@dataclass(frozen=True)
class _Read:
    """What one store read found: items (newest first), the cursor past them, the items'
    downloads not done (item id → state)."""

    items: list[LibraryItem]
    older: int | None
    transfers: dict[str, str]
    too_many: bool = False
    # ``refresh_items``: the ids read again (``items`` holds those that match the query)
    asked: tuple[str, ...] = ()


class ItemsModel(QAbstractTableModel):
    """``ItemsModel(library, parent=None, *, page_size=100, tasks=None, thumbnails=None)``.

    Signals: ``loading_changed(bool)``; ``load_failed(str)`` (a sentence for people);
    ``rows_loaded()`` after each read is applied (a page, new items, a refresh).
    """

    loading_changed = Signal(bool)
    load_failed = Signal(str)
    rows_loaded = Signal()

    def __init__(
        self,
        library: Library,
        parent: QObject | None = None,
        *,
        page_size: int = 100,
        tasks: TaskRunner | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.page_size = max(1, min(page_size, MAX_LIMIT))
        self.tasks = tasks or TaskRunner(self)
        self.thumbnails = thumbnails or ThumbnailCache(self)
        self.thumbnails.loaded.connect(self._thumbnail_loaded)
        self.thumbnails.settled.connect(self._thumbnail_loaded)  # (painted again: in sight?)
        self._query = Query()
        self._rows: list[LibraryItem] = []
        # item id → key, the row being key - _row_base: rows put on top or at the end keep the
        # others' keys (no look at every row per push); a row inserted or removed in between
        # moves the keys of the rows on its shorter side (a download in the Library), or of
        # too many drops it (None: built again when asked; a rebuild of 21,000 rows is ms)
        self._row_of: dict[str, int] | None = {}
        self._row_base = 0
        # thumbnail path → ids of the rows that show it, and item id → its row's path: a
        # thumbnail that arrives repaints its rows without a look at the others (a scan of
        # 21,000 rows per thumbnail froze the window for seconds after a long catch-up)
        self._showing: dict[str, set[str]] = {}
        self._thumb_of: dict[str, str] = {}
        self._transfers: dict[str, str] = {}
        self._older: int | None = None
        self._generation = 0
        self._wanted: set[str] = set()
        # the items ``refresh_items`` was told of and not read yet (the "items" request)
        self._changed: set[str] = set()
        self._busy = False
        self._started = False
        self._bold = QFont()
        self._bold.setBold(True)
        self._struck = QFont()
        self._struck.setStrikeOut(True)
        self._headers: list[str] = []
        self._texts: dict[str, str] = {}
        self._translate()
        self.hub_offset = self._clock_offset()
        self._clock = QTimer(self)
        self._clock.setInterval(60_000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()

    # --- what to show ---------------------------------------------------------------------------

    def query(self) -> Query:
        return self._query

    def set_query(self, q: Query) -> None:
        """Show ``q``'s items (cursors and limit are the model's): starts over."""
        self._query = replace(q, after=None, before=None, limit=self.page_size)
        self._generation += 1
        self._started = True
        self.beginResetModel()
        self._rows = []
        self._row_of = {}
        self._forget_thumbnails()
        self._older = None
        self.endResetModel()
        self._wanted = {"reset"}
        self._changed.clear()
        self._next()

    def add_newer(self) -> None:
        """New items reached the library: put those that match at the top."""
        self.hub_offset = self._clock_offset()  # (the sync that brought them heard the hub)
        self._want("newer")

    def refresh(self) -> None:
        """Read the loaded rows again (files, read marks, downloads) and merge; once every
        page is loaded, the whole query (older items that match now are added too)."""
        self._want("refresh")

    def refresh_items(self, item_ids: Iterable[str] | None) -> None:
        """These items changed (a download recorded, a file probed, checked or deleted): read
        only them again, with the downloads under way; their rows change, a row comes for one
        that matches now (in its place among the loaded rows; below them it comes with its
        page) and goes for one that no longer does. None, or more than ``_FEW_CHANGED``
        items: ``refresh``."""
        if not self._started:
            return
        if item_ids is None:
            self.refresh()
            return
        self._changed.update(item_ids)
        if len(self._changed) > _FEW_CHANGED:
            self._changed.clear()
            self.refresh()
        elif self._changed:
            self._want("items")

    def item_at(self, row: int) -> LibraryItem:
        return self._rows[row]

    def row_of(self, item_id: str) -> int | None:
        if self._row_of is None:
            self._row_of, self._row_base = {li.id: r for r, li in enumerate(self._rows)}, 0
        key = self._row_of.get(item_id)
        return None if key is None else key - self._row_base

    def state_of(self, li: LibraryItem) -> str:
        return item_state(li, self._transfers.get(li.id))

    def set_read(self, item_ids: Iterable[str]) -> None:
        """Show items as read (the store was told by the caller)."""
        for item_id in item_ids:
            r = self.row_of(item_id)
            if r is not None and not self._rows[r].read:
                self._rows[r] = replace(self._rows[r], read_at=dt.datetime.now().timestamp())
                index = self.index(r, COL_STATE)
                self.dataChanged.emit(index, index)

    # --- Qt's table ---------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else COLUMN_COUNT

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < COLUMN_COUNT:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == COL_THUMB:
            return self._texts["picture"]
        return None

    def canFetchMore(self, parent: _Index) -> bool:
        return not parent.isValid() and self._older is not None

    def fetchMore(self, parent: _Index) -> None:
        if not parent.isValid() and self._older is not None:
            self._want("more")

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        li = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(li, col)
        if role == OBJECT_ROLE:
            return li
        if role == STATE_ROLE:
            return self.state_of(li)
        if role == BADGES_ROLE:
            return self._badges(li)
        if role == SORT_ROLE:
            return self._sort_value(li, col)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            return self.thumbnails.pixmap(thumbnail_path(li))
        if role == Qt.ItemDataRole.FontRole and li.item.withdrawn and col == COL_TITLE:
            return self._struck  # (the State column says it in words)
        if role == Qt.ItemDataRole.FontRole and li.item.priority == "flash":
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole:
            # readable on the application's palette as it is now (a dark one too)
            if li.item.withdrawn:
                return colors.on_view(colors.ERROR)
            if li.item.priority == "flash":
                return colors.on_view(colors.FLASH)
            if li.item.priority == "urgent" and col == COL_PRIORITY:
                return colors.on_view(colors.URGENT)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_text.tip(self._tooltip(li, col))
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_THUMB:
            return self._card_text(li)
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_STATE:
            # the cell's words whole, the agency's warning in full
            state = self.state_of(li)
            if state == "withdrawn":
                return self._texts["withdrawn_long"]
            return self._display(li, col)
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_SENDER:
            # "You (Kenya TV)", "The agency": the cell's word said whole
            return sent_by(li.item, self.library.member)
        if role == Qt.ItemDataRole.SizeHintRole and col == COL_THUMB:
            return QSize(THUMB_SIZE.width() // 2 + 8, THUMB_SIZE.height() // 2 + 4)
        return None

    def _display(self, li: LibraryItem, col: int) -> str | None:
        it = li.item
        if col in (COL_TITLE, COL_THUMB):
            # the picture's column too (its delegates draw no text): a view's type-ahead
            # search reads the display text of its column, and the Library grid shows only
            # that one: a title typed there found nothing
            return it.title
        if col == COL_SLUG:
            return it.slug
        if col == COL_DATELINE:
            return it.dateline
        if col == COL_SENDER:
            return sender_name(it, self.library.member)
        if col == COL_LANGUAGE:
            return language_name(it.language) if it.language else ""
        if col == COL_DURATION:
            return clip_length(it.duration)
        if col == COL_PRIORITY:
            return self._texts.get(it.priority, it.priority)
        if col == COL_PUBLISHED:
            # on the hub's clock: a workstation 2 h fast read a fresh flash "2 h ago"
            now = dt.datetime.fromtimestamp(time.time() + self.hub_offset, dt.UTC)
            return relative_time(it.published_at, now)
        if col == COL_STATE:
            state = self.state_of(li)
            text = "" if state == "seen" else self._texts[state]
            if it.corrected and state != "withdrawn":
                text = (
                    self._texts["corrected_state"].format(state=text)
                    if text
                    else self._texts["corrected"]
                )
            return text
        return None

    def _card_text(self, li: LibraryItem) -> str:
        """A card of the Library grid (the picture cell) for a screen reader: the title, then
        its badges in words — the priority when not routine, the state when the card shows
        one ("…, Flash, Missing"). The title alone hid a missing file and a flash item."""
        parts = [li.title]
        if li.item.priority in ("flash", "urgent"):
            parts.append(self._texts[li.item.priority])
        state = self.state_of(li)
        if state not in ("downloaded", "seen"):
            parts.append(self._texts[state])
        if li.item.corrected and state != "withdrawn":
            parts.append(self._texts["corrected"])
        return ", ".join(parts)

    def _badges(self, li: LibraryItem) -> list[tuple[str, bool]]:
        """The badges of the item's Library card, ``(text, alarm)``: its state when its file is
        not simply here (short: the whole warning is in the card's tooltip and screen reader
        text), and "Corrected" when the agency corrected it."""
        state = self.state_of(li)
        badges: list[tuple[str, bool]] = []
        if state == "withdrawn":
            badges.append((self._texts["withdrawn_badge"], True))
        elif state not in ("downloaded", "seen"):
            badges.append((self._texts[state], state in ("missing", "failed")))
        if li.item.corrected and state != "withdrawn":
            badges.append((self._texts["corrected"], False))
        return badges

    def _sort_value(self, li: LibraryItem, col: int) -> Any:
        it = li.item
        if col in (COL_THUMB, COL_PUBLISHED):
            return it.seq
        if col == COL_DURATION:
            return it.duration
        if col == COL_PRIORITY:
            return ("flash", "urgent", "routine").index(it.priority)
        if col == COL_STATE:
            return STATES.index(self.state_of(li))
        return (self._display(li, col) or "").casefold()

    def _tooltip(self, li: LibraryItem, col: int) -> str | None:
        if col == COL_PUBLISHED:
            return local_time(li.item.published_at, QLocale.FormatType.LongFormat)
        if col in (COL_TITLE, COL_THUMB, COL_STATE):
            # why a file is not usable (the record's reason), on the card and the State cell;
            # what the agency changed (withdrawn, corrected: when and why) first
            why = "\n".join(t for t in (self.change_text(li), self._files_tip(li)) if t)
            if col == COL_STATE:
                return why or None
            return f"{li.title}\n{why}" if why else li.title
        if col == COL_SENDER:  # (a long name is cut in the cell)
            #: the tooltip of the Sent by column: "Sent by: You (Kenya TV)"
            return self.tr("Sent by: {sender}").format(sender=sent_by(li.item, self.library.member))
        return None

    def change_text(self, li: LibraryItem) -> str:
        """What the agency did to the item since it was published, in words: "Withdrawn by the
        agency — do not use" with when and why, or when it was corrected and what; ""."""
        it = li.item
        if it.withdrawn_at is not None:
            when = self._texts["withdrawn_when"].format(
                date=local_time(it.withdrawn_at), reason=isolated(it.withdrawn_reason)
            )
            return f"{self._texts['withdrawn_long']}\n{when}"
        if it.corrected_at is not None:
            return self._texts["corrected_when"].format(
                date=local_time(it.corrected_at), note=isolated(it.correction_note)
            )
        return ""

    def _files_tip(self, li: LibraryItem) -> str:
        """Why the item's files recorded missing are not usable, and whether only its proxy
        is here: "Broadcast file 001.mp4: its size changed from … since it was verified"."""
        names = {"broadcast": self._texts["broadcast"], "proxy": self._texts["proxy_file"]}
        lines = [
            #: why a file of an item is not usable: "Broadcast file 001.mp4: its size changed
            #: from 147,653 to 73,826 bytes since it was verified"
            self.tr("{rendition} file {name}: {reason}").format(
                rendition=names.get(f.rendition, f.rendition),
                name=isolated(f.path.name),
                reason=reason_text(f.reason) if f.reason else self._texts["missing"],
            )
            for f in li.files
            if f.state == "missing"
        ]
        if li.downloaded and not _broadcast_here(li):
            lines.append(self.tr("Only the low-resolution proxy is on this workstation."))
        return "\n".join(lines)

    # --- reading the store (one read at a time) ---------------------------------------------

    def _want(self, op: str) -> None:
        if not self._started:
            return
        self._wanted.add(op)
        self._next()

    def _next(self) -> None:
        if self._busy or not self._wanted:
            return
        wanted = self._wanted
        # a reset covers everything; a refresh reads from the top, so it finds new items and
        # the changed ones too
        op = next(o for o in ("reset", "refresh", "newer", "items", "more") if o in wanted)
        if op == "refresh" or (op in ("newer", "items") and not self._rows):
            op = "reset" if not self._rows else "refresh"
            wanted.discard("newer")
        if op in ("reset", "refresh"):
            wanted.discard("items")
            self._changed.clear()
        if (op == "more" and self._older is None) or (op == "items" and not self._changed):
            wanted.discard(op)
            self._next()
            return
        wanted.discard(op)
        if op == "reset":
            wanted.clear()
        read = self._reader(op)
        generation = self._generation
        self._busy = True
        self.loading_changed.emit(True)
        # A weak reference: the callbacks wait in the model's own runner, and a model dropped
        # while it reads was kept by that cycle, left to the garbage collector with its timer
        me = weakref.ref(self)

        def done(result: _Read) -> None:
            if (model := me()) is not None:
                model._read_done(generation, op, result)

        def failed(error: BaseException) -> None:
            if (model := me()) is not None:
                model._read_failed(generation, error)

        self.tasks.run(read, done, failed)

    def _reader(self, op: str) -> Callable[[], _Read]:
        library, q = self.library, self._query
        if op == "reset":
            return lambda: _page(library, q, None)
        if op == "more":
            before = self._older
            return lambda: _page(library, q, before)
        if op == "newer":
            newest = self._rows[0].seq
            return lambda: _newer_than(library, q, newest)
        if op == "items":
            asked, self._changed = tuple(sorted(self._changed)), set()
            return lambda: _these(library, q, asked)
        # Rows below the last one come with the next page — unless every page is loaded: then
        # an older item that matches now (downloaded, marked unread) has no page to come with.
        bound = self._rows[-1].seq if self._older is not None else None
        return lambda: _down_to(library, q, bound)

    def _read_done(self, generation: int, op: str, result: _Read) -> None:
        self._busy = False
        if generation == self._generation:
            if result.too_many:
                self._wanted = {"reset"}
                self._generation += 1
                self.beginResetModel()
                self._rows, self._row_of, self._older = [], {}, None
                self._forget_thumbnails()
                self.endResetModel()
            elif op == "items":
                before, self._transfers = self._transfers, result.transfers
                self._update_items(result.asked, result.items, before)
                self.rows_loaded.emit()
            else:
                changed_queue = result.transfers != self._transfers
                self._transfers = result.transfers
                self._apply(op, result)
                if changed_queue and self._rows:
                    self._emit_all(COL_STATE, COL_STATE)
                self.rows_loaded.emit()
        if not self._busy:
            self.loading_changed.emit(False)
        self._next()

    def _read_failed(self, generation: int, error: BaseException) -> None:
        self._busy = False
        self.loading_changed.emit(False)
        if generation == self._generation:
            self.load_failed.emit(
                self.tr("Could not read the library: {error}").format(error=error)
            )
        self._next()

    def _apply(self, op: str, result: _Read) -> None:
        if op in ("reset", "more"):
            self._older = result.older
            self._insert(len(self._rows), [li for li in result.items if self.row_of(li.id) is None])
        elif op == "newer":
            top = self._rows[0].seq if self._rows else -1
            self._insert(
                0, [li for li in result.items if li.seq > top and self.row_of(li.id) is None]
            )
        else:
            self._merge(result.items)

    def _insert(self, at: int, items: Sequence[LibraryItem]) -> None:
        if not items:
            return
        self.beginInsertRows(QModelIndex(), at, at + len(items) - 1)
        below = len(self._rows) - at
        self._rows[at:at] = items
        k = len(items)
        index = self._row_of
        if index is not None and min(at, below) <= _SHIFT_AT_MOST:
            if at <= below:  # the rows above move up a key, as the base does
                self._row_base -= k
                for li in self._rows[:at]:
                    index[li.id] -= k
            else:
                for li in self._rows[at + k :]:
                    index[li.id] += k
            first = self._row_base + at
            index.update((li.id, first + n) for n, li in enumerate(items))
        else:
            self._row_of = None
        self._index_thumbnails(items)
        self.endInsertRows()

    def _remove_row(self, r: int) -> None:
        """Remove row ``r``, keeping the id index (see ``_insert``)."""
        self.beginRemoveRows(QModelIndex(), r, r)
        gone = self._rows[r]
        self._unindex_thumbnails([gone])
        del self._rows[r]
        index = self._row_of
        below = len(self._rows) - r
        if index is not None and min(r, below) <= _SHIFT_AT_MOST:
            index.pop(gone.id, None)
            if r <= below:
                self._row_base += 1
                for li in self._rows[:r]:
                    index[li.id] += 1
            else:
                for li in self._rows[r:]:
                    index[li.id] -= 1
        else:
            self._row_of = None
        self.endRemoveRows()

    def _merge(self, fresh: list[LibraryItem]) -> None:
        """Make the rows equal ``fresh`` (both newest first) with removals, insertions and
        one ``dataChanged``: the view keeps its selection and scroll position."""
        keep = {li.id for li in fresh}
        r = len(self._rows) - 1
        while r >= 0:  # bottom up, in runs
            if self._rows[r].id in keep:
                r -= 1
                continue
            last = r
            while r >= 0 and self._rows[r].id not in keep:
                r -= 1
            self.beginRemoveRows(QModelIndex(), r + 1, last)
            self._unindex_thumbnails(self._rows[r + 1 : last + 1])
            del self._rows[r + 1 : last + 1]
            self._row_of = None
            self.endRemoveRows()
        changed = False
        p = 0
        run: list[LibraryItem] = []
        for li in fresh:
            if p < len(self._rows) and self._rows[p].id == li.id:
                if run:
                    self._insert(p, run)
                    p += len(run)
                    run = []
                if self._rows[p] != li:
                    self._unindex_thumbnails([self._rows[p]])  # a download brings its own
                    self._rows[p] = li
                    self._index_thumbnails([li])
                    changed = True
                p += 1
            else:
                run.append(li)
        if run:
            self._insert(p, run)
        if changed:
            self._emit_all(0, COLUMN_COUNT - 1)

    def _update_items(
        self, asked: Sequence[str], fresh: Sequence[LibraryItem], transfers_before: dict[str, str]
    ) -> None:
        """Bring the rows of ``asked`` up to date: ``fresh`` are those that match the query
        now. Rows are found through the id index and placed by seq (rows are newest first);
        no other row is looked at. The rows whose downloads changed state are repainted."""
        found = {li.id: li for li in fresh}
        transfers = self._transfers
        # downloads queued, paused, failed or ended since the last read (of any item)
        moved = [
            item_id
            for item_id in transfers_before.keys() | transfers.keys()
            if transfers_before.get(item_id) != transfers.get(item_id)
        ]
        changed: list[int] = []
        gone: list[int] = []
        new: list[LibraryItem] = []
        for item_id in asked:
            r = self.row_of(item_id)
            li = found.get(item_id)
            if r is None:
                if li is not None:
                    new.append(li)
            elif li is None or li.seq != self._rows[r].seq:  # (the hub may move an item)
                gone.append(r)
                if li is not None:
                    new.append(li)
            elif li != self._rows[r]:
                changed.append(r)
        if len(moved) > _FEW_CHANGED:
            self._emit_all(COL_STATE, COL_STATE)
        else:
            repainted = set(changed)
            for item_id in moved:
                r = self.row_of(item_id)
                if r is not None and r not in repainted:
                    index = self.index(r, COL_STATE)
                    self.dataChanged.emit(index, index)
        for r in changed:
            li = found[self._rows[r].id]
            self._unindex_thumbnails([self._rows[r]])  # a download brings its own
            self._rows[r] = li
            self._index_thumbnails([li])
            self.dataChanged.emit(self.index(r, 0), self.index(r, COLUMN_COUNT - 1))
        for r in sorted(gone, reverse=True):
            self._remove_row(r)
        top = self._rows[0].seq if self._rows else None
        # while pages are left, the rows read end at the next page's cursor (the last item
        # read, even if its row went since): an item below it comes with its page, not now
        bound = self._older
        for li in sorted(new, key=lambda x: x.seq, reverse=True):
            if top is None or li.seq > top:
                # above every row: read with whatever else is new since (never a gap)
                self._wanted.add("newer")
            elif bound is None or li.seq >= bound:
                self._insert(bisect.bisect_left(self._rows, -li.seq, key=_newest_first), [li])

    def _emit_all(self, first: int, last: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, first), self.index(len(self._rows) - 1, last))

    # --- time and thumbnails ------------------------------------------------------------------

    def _tick(self) -> None:
        """Each minute: "4 min ago" becomes "5 min ago"."""
        self.hub_offset = self._clock_offset()
        self._emit_all(COL_PUBLISHED, COL_PUBLISHED)

    def _clock_offset(self) -> float:
        """The hub's clock minus this workstation's (seconds), as the rules take it: the
        items' ages are the hub's (a clock two days slow made every item "just now"). A read
        that fails (the library closed as the app quits) keeps the one known."""
        try:
            return hub_clock_offset(self.library.store, self.library.profile)
        except sqlite3.Error:
            return getattr(self, "hub_offset", 0.0)

    def _thumbnail_loaded(self, path: str) -> None:
        """Repaint the rows that show ``path`` (usually one), a ``dataChanged`` per run."""
        ids = self._showing.get(path)
        if not ids:
            return
        rows = sorted(r for item_id in ids if (r := self.row_of(item_id)) is not None)
        roles = [int(Qt.ItemDataRole.DecorationRole)]
        start = 0
        for k in range(1, len(rows) + 1):
            if k == len(rows) or rows[k] != rows[k - 1] + 1:
                first, last = self.index(rows[start], COL_THUMB), self.index(rows[k - 1], COL_THUMB)
                self.dataChanged.emit(first, last, roles)
                start = k

    def _index_thumbnails(self, items: Iterable[LibraryItem]) -> None:
        for li in items:
            path = thumbnail_path(li)
            self._thumb_of[li.id] = path
            if path:
                self._showing.setdefault(path, set()).add(li.id)

    def _unindex_thumbnails(self, items: Iterable[LibraryItem]) -> None:
        for li in items:
            path = self._thumb_of.pop(li.id, "")
            ids = self._showing.get(path)
            if ids is not None:
                ids.discard(li.id)
                if not ids:
                    del self._showing[path]

    def _forget_thumbnails(self) -> None:
        self._showing, self._thumb_of = {}, {}

    # --- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        self._translate()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, COLUMN_COUNT - 1)
        self._emit_all(0, COLUMN_COUNT - 1)

    def _translate(self) -> None:
        self._headers = [
            "",
            self.tr("Title"),
            self.tr("Slug"),
            self.tr("Dateline"),
            #: the column saying who sent an item: the agency, a member, or you
            self.tr("Sent by"),
            self.tr("Language"),
            self.tr("Duration"),
            self.tr("Priority"),
            self.tr("Published"),
            self.tr("State"),
        ]
        self._texts = {
            "picture": self.tr("Picture"),
            "flash": self.tr("Flash"),
            "urgent": self.tr("Urgent"),
            "routine": self.tr("Routine"),
            "new": self.tr("New"),
            "queued": self.tr("Queued"),
            "paused": self.tr("Paused"),
            "failed": self.tr("Failed"),
            "downloaded": self.tr("Downloaded"),
            #: an item of which only the low-resolution proxy file is on this workstation
            "proxy": self.tr("Proxy only"),
            #: the kinds of file of an item, in "Broadcast file 001.mp4: …"
            "broadcast": self.tr("Broadcast"),
            "proxy_file": self.tr("Proxy"),
            "missing": self.tr("Missing"),
            "seen": "",
            # the State of an item the agency withdrew (whatever is here of it)
            "withdrawn": self.tr("Withdrawn — do not use"),
            "withdrawn_long": self.tr("Withdrawn by the agency — do not use"),
            # the badge of a withdrawn item on its Library card, over its picture: short (the
            # whole warning is in the card's tooltip)
            "withdrawn_badge": self.tr("Withdrawn"),
            # when and why the agency withdrew an item, in its own words
            "withdrawn_when": self.tr("Withdrawn {date}: {reason}"),
            # the State of an item the agency corrected after publishing it
            "corrected": self.tr("Corrected"),
            # a state and the mark of a correction: "Downloaded, corrected"
            "corrected_state": self.tr("{state}, corrected"),
            # when the agency corrected an item, and what, in its own words
            "corrected_when": self.tr("Corrected {date}: {note}"),
        }


# --- the reads (worker threads) -----------------------------------------------------------------


def _page(library: Library, q: Query, before: int | None) -> _Read:
    page = library.search(replace(q, before=before))
    return _Read(page.items, page.older, _download_states(library))


def _newer_than(library: Library, q: Query, newest: int) -> _Read:
    """Every matching item above ``newest`` (oldest pages first; newest first in the end)."""
    found: list[LibraryItem] = []
    cursor = newest
    while True:
        page: Page = library.search(replace(q, after=cursor, limit=MAX_LIMIT))
        found[:0] = page.items
        if page.newer is None or not page.items:
            break
        if len(found) > _NEWER_CAP:
            return _Read([], None, {}, too_many=True)
        cursor = page.newer
    return _Read(found, None, _download_states(library))


def _newest_first(li: LibraryItem) -> int:
    return -li.seq


def _these(library: Library, q: Query, asked: tuple[str, ...]) -> _Read:
    """Those of ``asked`` that match ``q`` now, and the downloads under way."""
    return _Read(library.among(q, asked), None, _download_states(library), asked=asked)


def _down_to(library: Library, q: Query, bound: int | None) -> _Read:
    """Every matching item from the newest down to seq ``bound`` (the last loaded row; None:
    to the oldest)."""
    found: list[LibraryItem] = []
    before: int | None = None
    while True:
        page = library.search(replace(q, before=before, limit=MAX_LIMIT))
        found.extend(li for li in page.items if bound is None or li.seq >= bound)
        if page.older is None or not page.items:
            break
        if bound is not None and page.items[-1].seq <= bound:
            break
        before = page.older
    return _Read(found, None, _download_states(library))
