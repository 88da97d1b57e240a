"""The history as a table: what was downloaded and uploaded, when, how big, how fast, from
which workstation, and whether the hub has it yet.

Rows are ``HistoryEvent``s from ``HistorySync.list`` (newest first), loaded a page at a time:
the model says it can fetch more while the last page was full, and ``fetchMore`` asks its
owner (``more_wanted(last_event_id)``) to read the next page off the GUI thread and hand it to
``append_events``. New events come one by one as they are stored (``add_events``: each is
put in its place, wherever its time puts it — an event pulled from the hub is often older than
the newest), and rows that changed are replaced (``update_events``: an event sent to the hub).
A full refresh (``set_events`` with the newest events) leaves exactly those rows, by
comparing: rows past the end of the read are removed (more to load), new events inserted,
changed rows updated. None of them resets the model, so the selection, the sort and the
scroll position stay; only a refresh whose known rows changed order, or one changing too many
places at once (a first sync), does.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTime,
    Signal,
)

from alu_client.core.sync import HistoryEvent
from alu_client.core.transfers.base import WITHDRAWN_PREFIX

from .. import engine_text, formats, plain_text
from . import OBJECT_ROLE, SORT_ROLE, STATE_ROLE
from .key_sort import spans

COL_WHEN = 0
COL_WHAT = 1
COL_ITEM = 2
COL_SIZE = 3
COL_SPEED = 4
COL_DURATION = 5
COL_DEVICE = 6
COL_RULE = 7
COL_SENT = 8
COLUMN_COUNT = 9
# events read per page
PAGE_SIZE = 200
_RIGHT = Qt.AlignmentFlag.AlignTrailing | Qt.AlignmentFlag.AlignVCenter
_NUMBERS = (COL_SIZE, COL_SPEED, COL_DURATION)
_Index = QModelIndex | QPersistentModelIndex
# a full refresh that would insert or remove more runs of rows than this resets the model
# (each run is a signal the view and its sorting proxy handle in turn)
_MAX_RUNS = 50


def _order(e: HistoryEvent) -> tuple[int, float]:
    """The list's order, ascending: newest end time first, events without one last (as
    ``HistorySync.list``; among equal times the one stored last comes first)."""
    return (1, 0.0) if e.ended_at is None else (0, -e.ended_at)


def _runs(kept: list[bool]) -> int:
    """How many runs of rows ``kept`` marks False (to remove, or to insert)."""
    return sum(1 for n, k in enumerate(kept) if not k and (n == 0 or kept[n - 1]))


def _state(e: HistoryEvent) -> str:
    """'here-pending', 'here-sent', 'here-refused', 'here-old-hub' (never sent, recorded for
    the hub replaced since by another at its address) or 'hub': where the event stands."""
    if e.origin != "here":
        return "hub"
    if e.refused:
        return "here-refused"
    if e.kept_from_new_hub:
        return "here-old-hub"
    return "here-pending" if e.pending else "here-sent"


class HistoryModel(QAbstractTableModel):
    """History events (``COL_*`` columns); ``OBJECT_ROLE`` gives the ``HistoryEvent``,
    ``STATE_ROLE`` its type (``download_completed``, …).

    Signal ``more_wanted(str)``: the view reached the end; load the page after this event id.
    """

    more_wanted = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[HistoryEvent] = []
        self._ids: set[str] = set()
        # ids of the rows still in the outbox
        self._pending: set[str] = set()
        self._has_more = False
        self._loading_more = False
        self._texts: dict[str, str] = {}
        self._headers: list[str] = []
        # the names of the profile's rules now (None: not known): a rule named by this
        # workstation's events and no longer there is said to be removed
        self._rules: frozenset[str] | None = None
        self.retranslate()

    # --- texts ------------------------------------------------------------------------------

    def retranslate(self) -> None:
        self._headers = [
            self.tr("When"),
            self.tr("What"),
            self.tr("Item"),
            self.tr("Size"),
            self.tr("Speed"),
            self.tr("Time taken"),
            self.tr("Workstation"),
            self.tr("Rule"),
            self.tr("Sent to hub"),
        ]
        self._texts = {
            "download_completed": self.tr("Download completed"),
            "download_failed": self.tr("Download failed"),
            "download_canceled": self.tr("Download canceled"),
            # a download canceled because the agency withdrew its item (the reason: tooltip)
            "download_withdrawn": self.tr("Download canceled: withdrawn by the agency"),
            "upload_completed": self.tr("Upload completed"),
            "upload_failed": self.tr("Upload failed"),
            "upload_canceled": self.tr("Upload canceled"),
            "here": self.tr("This workstation"),
            "here-pending": self.tr("Waiting to be sent"),
            "here-sent": self.tr("Sent"),
            "here-refused": self.tr("Refused by the hub"),
            "here-old-hub": self.tr("Not sent: another hub now"),
            "hub": self.tr("From the hub"),
        }
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, COL_SENT))
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, COLUMN_COUNT - 1)

    # --- feeding ----------------------------------------------------------------------------

    def set_rules(self, names: frozenset[str] | None) -> None:
        """The names of the profile's rules as they are now (None: not known)."""
        if names == self._rules:
            return
        self._rules = names
        if self._rows:
            self.dataChanged.emit(
                self.index(0, COL_RULE), self.index(len(self._rows) - 1, COL_RULE)
            )

    @property
    def has_more(self) -> bool:
        return self._has_more

    def events(self) -> list[HistoryEvent]:
        return list(self._rows)

    def pending_ids(self) -> list[str]:
        """The rows still in the outbox (the ones whose "Sent to hub" may change)."""
        return list(self._pending)

    def set_events(self, events: Sequence[HistoryEvent], has_more: bool) -> None:
        """The newest events (a full refresh): afterwards the rows are exactly ``events``.
        Rows not among them (past the end of the read: events stored meanwhile pushed them
        out) are removed, new events inserted where they stand and changed rows updated, so
        the selection and the scroll position stay; the model is reset only when the rows
        kept changed order or the change is large (a first sync of thousands of events)."""
        events = list(events)
        where = {e.id: n for n, e in enumerate(events)}
        kept = [where[e.id] for e in self._rows if e.id in where]
        if (
            not kept
            or any(a >= b for a, b in itertools.pairwise(kept))
            or _runs([e.id in where for e in self._rows])
            + _runs([e.id in self._ids for e in events])
            > _MAX_RUNS
        ):
            self.beginResetModel()
            self._rows = events
            self._has_more = has_more
            self._reindex()
            self.endResetModel()
            return
        self._has_more = has_more
        # the rows no longer among the newest: from the last up, so the positions stay right
        drop = [n for n, e in enumerate(self._rows) if e.id not in where]
        for first, last in reversed(spans(drop)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for e in self._rows[first : last + 1]:
                self._ids.discard(e.id)
                self._pending.discard(e.id)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        # each new event goes before the known event that follows it in the list
        runs: list[tuple[int, list[HistoryEvent]]] = []
        seen = 0
        for e in events:
            if e.id in self._ids:
                seen += 1
            elif runs and runs[-1][0] == seen:
                runs[-1][1].append(e)
            else:
                runs.append((seen, [e]))
        self._insert(runs)
        self._replace([(n, e) for n, e in enumerate(events) if e != self._rows[n]])

    def add_events(self, events: Iterable[HistoryEvent]) -> int:
        """Events stored since the last read (``HistorySync.since``, in the order they were
        stored), each put in its place among the rows; returns how many were added. One older
        than the last row while more rows are still to load is left to that page."""
        new = [e for e in events if e.id not in self._ids]
        # newest stored first among equal times: reversed, then a stable sort by time
        new.reverse()
        new.sort(key=_order)
        runs: list[tuple[int, list[HistoryEvent]]] = []
        for e in new:
            at = bisect.bisect_left(self._rows, _order(e), key=_order)
            if at == len(self._rows) and self._has_more:
                continue
            if runs and runs[-1][0] == at:
                runs[-1][1].append(e)
            else:
                runs.append((at, [e]))
        self._insert(runs)
        return sum(len(run) for _, run in runs)

    def update_events(self, events: Iterable[HistoryEvent]) -> None:
        """Rows that changed (an event sent to the hub); events not shown are ignored."""
        where = {e.id: e for e in events}
        if not where:
            return
        self._replace(
            [
                (n, where[e.id])
                for n, e in enumerate(self._rows)
                if e.id in where and where[e.id] != e
            ]
        )

    def _insert(self, runs: list[tuple[int, list[HistoryEvent]]]) -> None:
        """Insert each run of events before row ``at`` (positions of the rows as they are
        now, ascending): from the last up, so the positions before stay right."""
        for at, run in reversed(runs):
            self.beginInsertRows(QModelIndex(), at, at + len(run) - 1)
            self._rows[at:at] = run
            for e in run:
                self._ids.add(e.id)
                if e.pending:
                    self._pending.add(e.id)
            self.endInsertRows()

    def _replace(self, changes: list[tuple[int, HistoryEvent]]) -> None:
        """Replace rows (``(row, event)``, ascending), one ``dataChanged`` per run of rows."""
        start = prev = -2
        for n, e in changes:
            self._rows[n] = e
            if e.pending:
                self._pending.add(e.id)
            else:
                self._pending.discard(e.id)
            if n != prev + 1:
                if start >= 0:
                    self._changed(start, prev)
                start = n
            prev = n
        if start >= 0:
            self._changed(start, prev)

    def _changed(self, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(first, 0), self.index(last, COLUMN_COUNT - 1))

    def _reindex(self) -> None:
        self._ids = {e.id for e in self._rows}
        self._pending = {e.id for e in self._rows if e.pending}

    def append_events(
        self, events: Sequence[HistoryEvent], has_more: bool, after: str | None = None
    ) -> None:
        """The page after the last row (what ``more_wanted`` asked for). ``after``: the row
        the page was read after; a page read after a row that is no longer the last (a full
        refresh came in between) is left out, the view asks again."""
        self._loading_more = False
        if after is not None and (not self._rows or self._rows[-1].id != after):
            return
        new = [e for e in events if e.id not in self._ids]
        self._has_more = has_more
        if new:
            self._insert([(len(self._rows), new)])

    def more_failed(self) -> None:
        """The page could not be read: let the view ask again later."""
        self._loading_more = False

    def canFetchMore(self, parent: _Index) -> bool:
        return not parent.isValid() and self._has_more and not self._loading_more

    def fetchMore(self, parent: _Index) -> None:
        if self.canFetchMore(parent) and self._rows:
            self._loading_more = True
            self.more_wanted.emit(self._rows[-1].id)

    # --- reading ----------------------------------------------------------------------------

    def event_at(self, row: int) -> HistoryEvent | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < COLUMN_COUNT:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._headers[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section in _NUMBERS:
            return _RIGHT
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        e = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(e, col)
        if role == OBJECT_ROLE:
            return e
        if role == SORT_ROLE:
            return self._sort_key(e, col)
        if role == STATE_ROLE:
            return e.type
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_text.tip(self._tooltip(e, col))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _NUMBERS:
            return _RIGHT
        return None

    def what(self, e: HistoryEvent) -> str:
        """``Download completed``, ``Upload failed``, … (an unknown type as it is named); a
        download canceled because the agency withdrew its item says so (the reason, recorded
        with it, in the tooltip)."""
        error = e.detail.get("error")
        if (
            e.type == "download_canceled"
            and isinstance(error, str)
            and error.startswith(WITHDRAWN_PREFIX)
        ):
            return self._texts["download_withdrawn"]
        return self._texts.get(e.type) or e.type.replace("_", " ").capitalize()

    @staticmethod
    def label(e: HistoryEvent) -> str:
        detail = e.detail
        for key in ("label", "file"):
            value = detail.get(key)
            if isinstance(value, str) and value:
                return value
        return e.item_id or ""

    @staticmethod
    def _number(e: HistoryEvent, key: str) -> float | None:
        value = e.detail.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return None
        try:
            number = float(value)  # (an integer of 400 digits kept by an older version: no float)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None

    def _display(self, e: HistoryEvent, col: int) -> str:
        if col == COL_WHEN:
            if e.ended_at is None:
                return formats.NO_VALUE
            when = QDateTime.fromMSecsSinceEpoch(round(e.ended_at * 1000)).toLocalTime()
            return QLocale().toString(when, QLocale.FormatType.ShortFormat)
        if col == COL_WHAT:
            return self.what(e)
        if col == COL_ITEM:
            # an item's proxy and broadcast file were two identical rows
            return formats.with_rendition(self.label(e), e.rendition)
        if col == COL_SIZE:
            return formats.size_text(e.bytes) if e.bytes else ""
        if col == COL_SPEED:
            return formats.speed_text(self._number(e, "avg_bps"))
        if col == COL_DURATION:
            return formats.duration_text(self._number(e, "seconds"))
        if col == COL_DEVICE:
            return self._texts["here"] if e.origin == "here" else e.device
        if col == COL_RULE:
            rule = e.detail.get("rule")
            if not isinstance(rule, str):
                return ""
            if e.origin == "here" and self._rules is not None and rule and rule not in self._rules:
                # (another workstation's rules are not known here: its events say the name)
                return self.tr("{rule} (rule removed)").format(rule=rule)
            return rule
        return self._texts[_state(e)]

    def sort_keys(self, column: int, first: int, last: int) -> list[Any]:
        """The sort keys of rows ``first``–``last`` for ``column``, in one pass (what
        ``KeySortProxy`` sorts by; the same as ``SORT_ROLE``): dates and numbers as numbers,
        texts as shown, case folded."""
        return [self._sort_key(e, column) for e in self._rows[first : last + 1]]

    def _sort_key(self, e: HistoryEvent, col: int) -> Any:
        if col == COL_WHEN:
            return e.ended_at if e.ended_at is not None else -1.0
        if col == COL_SIZE:
            return e.bytes
        if col == COL_SPEED:
            return self._number(e, "avg_bps") or 0.0
        if col == COL_DURATION:
            return self._number(e, "seconds") or 0.0
        return self._display(e, col).casefold()

    def _tooltip(self, e: HistoryEvent, col: int) -> str | None:
        error = e.detail.get("error")
        if col in (COL_WHAT, COL_ITEM) and isinstance(error, str) and error:
            return engine_text.shown(error)
        if col == COL_SENT and e.refused:
            return e.refused
        if col == COL_SENT and e.kept_from_new_hub:
            return self.tr(
                "Recorded for the hub that was at this address before. The hub there now is "
                "another one, which never had the item: this event stays on this workstation."
            )
        if col == COL_DEVICE and e.origin == "here" and e.device:
            return e.device
        if col == COL_ITEM:
            return self.label(e) or None
        return None

    def vocabulary(self, col: int) -> list[str]:
        """Every text a column with a fixed vocabulary can show (to size it); for When, the
        widest dates and times."""
        if col == COL_WHAT:
            return [v for k, v in self._texts.items() if "_" in k]
        if col == COL_SENT:
            states = ("here-pending", "here-sent", "here-refused", "here-old-hub", "hub")
            return [self._texts[k] for k in states]
        if col == COL_WHEN:  # wide digits, two-digit months and hours, morning and evening
            return [
                QLocale().toString(
                    QDateTime(QDate(2026, month, 28), QTime(hour, 58)),
                    QLocale.FormatType.ShortFormat,
                )
                for month in (10, 12)
                for hour in (10, 22)
            ]
        return []
