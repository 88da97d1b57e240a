"""The transfers table: one row per transfer in the queue, live progress from the engine.

The queue hands progress to its listeners in batches a few times a second, from its own
thread. ``post_progress`` is such a listener: it only emits a signal, queued to the GUI
thread, where batches are merged and applied at most ``refresh_interval_ms`` apart (about ten
times a second). Rows are found by transfer id in a dict; each applied batch emits one
``dataChanged`` per run of changed rows, or a single one for the whole table when most rows
changed (as qBittorrent's transfer list does), so 1,000 transfers stay smooth.

What progress does not carry (priority, queue position, times) comes from the store with
``set_transfers``; a transfer first seen in a batch gets a row at once and is announced with
``transfers_unknown`` so the owner loads those details (off the GUI thread).

The model sorts itself (``sort``, which the table's proxy passes on): each row's sort value is
computed once and Python's sort orders them, ties in the queue's order. A sort proxy calls
into Python twice or more for each of its ~45,000 comparisons: 240 ms to sort 2,000 transfers
by State, and again after each batch that changed a state. Sorted, the rows stay sorted: a
batch that changes the sort column's values sorts them again (one ``layoutChanged``, none when
no row moved), and a new row goes in at its place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont

from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers.base import PHASE_LIBRARY, PHASE_SIGN_IN, PHASE_VERIFYING
from alu_client.core.transfers.queue import Progress

from .. import engine_text, formats, plain_text
from . import FRACTION_ROLE, OBJECT_ROLE, SORT_ROLE, STATE_ROLE

COL_NAME = 0
COL_DIRECTION = 1
COL_PRIORITY = 2
COL_STATE = 3
COL_PROGRESS = 4
COL_SPEED = 5
COL_ETA = 6
COL_SIZE = 7
COL_ERROR = 8
COLUMN_COUNT = 9
# the columns progress changes (the others change with the state or the store's details)
LIVE_COLUMNS = (COL_PROGRESS, COL_SPEED, COL_ETA, COL_SIZE)

# new rows put in at their place one by one (more: after the others, then one sort)
_PLACED_ONE_BY_ONE = 16
# what a drag of transfers carries: their ids, comma-separated
MIME_TYPE = "application/x-alu-transfer-ids"
PRIORITY_NAMES = ("flash", "urgent", "routine")
# sort order of states: what needs attention first
_STATE_ORDER = {"active": 0, "queued": 1, "paused": 2, "failed": 3, "done": 4, "canceled": 5}
_RIGHT = Qt.AlignmentFlag.AlignTrailing | Qt.AlignmentFlag.AlignVCenter
_Index = QModelIndex | QPersistentModelIndex
_ROW_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled
    | Qt.ItemFlag.ItemIsSelectable
    | Qt.ItemFlag.ItemIsDragEnabled
    | Qt.ItemFlag.ItemNeverHasChildren
)
# what changes when only the figures (bytes, speed, time left) move
_LIVE_ROLES = [
    int(Qt.ItemDataRole.DisplayRole),
    int(Qt.ItemDataRole.ToolTipRole),
    FRACTION_ROLE,
]


@dataclass(slots=True)
class TransferRow:
    """One transfer as the table shows it (the object role's value)."""

    id: int
    direction: str
    state: str
    label: str
    bytes_done: int
    size: int | None
    speed: float = 0.0
    eta: float | None = None
    last_error: str = ""
    priority: int = 2
    position: float = 0.0
    # place in the queue's order (priority, then position); the Priority column sorts by it
    rank: int = 0
    created_at: float | None = None
    finished_at: float | None = None
    # ``Progress.phase``: "verifying" once a download has every byte and checks them; a queued
    # transfer's "sign-in" while the hub refuses the sign-in it needs
    phase: str = ""
    # the transfer's own speed limit (bytes per second), under the direction's
    limit_bps: float | None = None
    # the rendition downloaded ("broadcast", "proxy"; "" for none): said in the name
    rendition: str = ""
    # the rule that queued it ("" when asked by hand)
    rule: str = ""
    # the item's usage restrictions ("" when it has none): flagged in the name
    restrictions: str = ""
    # the item's own priority when the queue runs it at another (a rule's proxy goes one step
    # ahead of the item's broadcast files): the one shown ("" for none; a priority the user
    # sets takes it away, ``TransferStore.set_priority``)
    item_priority: str = ""

    @property
    def moving(self) -> bool:
        """Active and moving bytes (not checking them): speed and time left mean something."""
        return self.state == "active" and not self.phase

    @property
    def fraction(self) -> float | None:
        if self.state == "done":
            return 1.0
        return min(1.0, self.bytes_done / self.size) if self.size else None

    @property
    def priority_name(self) -> str:
        """The priority shown: the item's, not the step a rule's proxy was queued ahead of it
        (an urgent item's proxy showed "Flash"); one the user set since, as it is."""
        if self.item_priority in PRIORITY_NAMES:
            return self.item_priority
        return self.queue_priority_name

    @property
    def queue_priority_name(self) -> str:
        """The priority the queue runs the transfer at (its order)."""
        return PRIORITY_NAMES[max(0, min(2, self.priority))]

    @property
    def extras(self) -> tuple[str, str, str, str]:
        """What the store tells of the transfer besides progress and its place."""
        return self.rendition, self.rule, self.restrictions, self.item_priority

    @property
    def retrying(self) -> bool:
        """Queued again after a failed attempt, waiting for its next try (not for a sign-in:
        a retry then would only be refused again)."""
        return self.state == "queued" and bool(self.last_error) and not self.waits_for_sign_in

    @property
    def waits_for_sign_in(self) -> bool:
        """Queued, and not started while the hub refuses the sign-in it needs."""
        return self.state == "queued" and self.phase == PHASE_SIGN_IN

    @classmethod
    def from_transfer(cls, t: Transfer, rank: int) -> TransferRow:
        rendition, rule, restrictions, own = _extras(t)
        return cls(
            id=t.id,
            direction=t.direction,
            state=t.state,
            label=t.label,
            bytes_done=t.bytes_done,
            size=t.size,
            last_error=t.last_error,
            priority=t.priority,
            position=t.position,
            rank=rank,
            created_at=t.created_at,
            finished_at=t.finished_at,
            limit_bps=t.limit_bps,
            rendition=rendition,
            rule=rule,
            restrictions=restrictions,
            item_priority=own,
        )

    def apply(self, p: Progress) -> tuple[int, int] | None:
        """Take a progress report; returns the first and last changed columns, or None."""
        first, last = COLUMN_COUNT, -1
        if p.label != self.label:
            self.label = p.label
            first = COL_NAME
        if (p.state, p.last_error, p.phase) != (self.state, self.last_error, self.phase):
            self.state, self.last_error, self.phase = p.state, p.last_error, p.phase
            first, last = min(first, COL_STATE), COL_ERROR
        # A size once known stays known: the engine may report None for a transfer stopped
        # before its size reached the store.
        size = p.size if p.size is not None else self.size
        live = (p.bytes_done, size, p.speed, p.eta)
        if live != (self.bytes_done, self.size, self.speed, self.eta):
            self.bytes_done, self.size, self.speed, self.eta = live
            first, last = min(first, COL_PROGRESS), max(last, COL_SIZE)
        if last < 0:
            return (first, first) if first < COLUMN_COUNT else None
        return first, last


def _extras(t: Transfer) -> tuple[str, str, str, str]:
    """``TransferRow.extras`` of ``t``."""
    rule, restrictions, own = (t.options.get(k) for k in ("rule", "restrictions", "item_priority"))
    return (
        t.rendition or "",
        rule if isinstance(rule, str) else "",
        restrictions.strip() if isinstance(restrictions, str) else "",
        own if isinstance(own, str) else "",
    )


class TransfersModel(QAbstractTableModel):
    """The transfer queue as a table (``COL_*`` columns).

    Signals:
    - ``progress_posted(list[Progress])``: emitted by ``post_progress`` from any thread;
    - ``transfers_unknown(list[int])``: ids seen in progress that have no details yet;
    - ``move_requested(list[int], object)``: rows dropped before transfer id (or None: last).
    """

    progress_posted = Signal(list)
    transfers_unknown = Signal(list)
    move_requested = Signal(list, object)

    def __init__(self, parent: QObject | None = None, *, refresh_interval_ms: int = 100) -> None:
        super().__init__(parent)
        self._rows: list[TransferRow] = []
        self._row_of: dict[int, int] = {}
        # the column the rows are sorted by (-1: in the order they came) and the order
        self._sort_column = -1
        self._descending = False
        self._pending: dict[int, Progress] = {}
        self._interval = refresh_interval_ms
        self._since_flush = QElapsedTimer()
        self._since_flush.start()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self.progress_posted.connect(self._collect, Qt.ConnectionType.QueuedConnection)
        self._bold = QFont()
        self._bold.setBold(True)
        self._texts: dict[str, str] = {}
        self._headers: list[str] = []
        self._translate()

    # --- feeding ----------------------------------------------------------------------------

    def post_progress(self, batch: list[Progress]) -> None:
        """A ``TransferQueue`` listener: safe from any thread, returns at once."""
        # The model may be gone (RuntimeError); the queue keeps its listeners for good.
        with contextlib.suppress(RuntimeError):
            self.progress_posted.emit(list(batch))

    @Slot(list)
    def _collect(self, batch: list[Progress]) -> None:
        for p in batch:
            self._pending[p.id] = p
        if not self._timer.isActive():
            self._timer.start(max(0, self._interval - self._since_flush.elapsed()))

    @Slot()
    def _flush(self) -> None:
        batch = list(self._pending.values())
        self._pending.clear()
        self._since_flush.restart()
        self.apply_progress(batch)

    def apply_progress(self, batch: Sequence[Progress]) -> None:
        """Apply a batch now (``post_progress`` coalesces; tests and benchmarks call this)."""
        spans: dict[int, tuple[int, int]] = {}
        unknown: list[Progress] = []
        for p in batch:
            r = self._row_of.get(p.id)
            if r is None:
                unknown.append(p)
            elif (span := self._rows[r].apply(p)) is not None:
                spans[r] = span
        if spans:
            self._emit_changed(spans)
            self._keep_sorted(spans)
        if unknown:
            next_rank = max((row.rank for row in self._rows), default=-1) + 1
            rows = [
                TransferRow(
                    p.id,
                    p.direction,
                    p.state,
                    p.label,
                    p.bytes_done,
                    p.size,
                    p.speed,
                    p.eta,
                    p.last_error,
                    rank=next_rank + n,
                    phase=p.phase,
                )
                for n, p in enumerate(unknown)
            ]
            self._append(rows)
            self.transfers_unknown.emit([row.id for row in rows])

    def set_transfers(self, transfers: Sequence[Transfer]) -> None:
        """Details from the store, in queue order (``TransferStore.all()``): adds the rows not
        shown yet; for known rows takes what progress does not carry (priority, order, times),
        leaving the live figures to progress, which is fresher."""
        spans: dict[int, tuple[int, int]] = {}
        new: list[TransferRow] = []
        # the queue's order breaks the ties of every sort column: a change re-sorts
        reranked = False
        for rank, t in enumerate(transfers):
            r = self._row_of.get(t.id)
            if r is None:
                new.append(TransferRow.from_transfer(t, rank))
                continue
            row = self._rows[r]
            meta = (t.label, t.priority, t.position, rank, t.created_at, t.finished_at)
            reranked = reranked or rank != row.rank
            if meta != (
                row.label,
                row.priority,
                row.position,
                row.rank,
                row.created_at,
                row.finished_at,
            ):
                (
                    row.label,
                    row.priority,
                    row.position,
                    row.rank,
                    row.created_at,
                    row.finished_at,
                ) = meta
                spans[r] = (COL_NAME, COL_PRIORITY)
            extras = _extras(t)
            if extras != row.extras:  # (a row first seen in progress: its name, its priority)
                (
                    row.rendition,
                    row.rule,
                    row.restrictions,
                    row.item_priority,
                ) = extras
                spans[r] = (COL_NAME, max(spans.get(r, (0, COL_PRIORITY))[1], COL_PRIORITY))
            if t.limit_bps != row.limit_bps:  # its tooltip
                row.limit_bps = t.limit_bps
                spans[r] = (spans.get(r, (COL_SPEED,))[0], COL_SPEED)
        if spans:
            self._emit_changed(spans)
            if reranked:
                self._resort()
            else:
                self._keep_sorted(spans)
        if new:
            self._append(new)

    def _append(self, rows: list[TransferRow]) -> None:
        if self._sort_column < 0 or len(rows) > _PLACED_ONE_BY_ONE:
            # (many at once, sorted: after the others, then one sort)
            rows = self._ordered(rows)
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            for n, row in enumerate(rows):
                self._row_of[row.id] = first + n
            self._rows.extend(rows)
            self.endInsertRows()
            self._resort()
            return
        # sorted: each at its place (the rows are in order, a binary search finds it)
        for row in rows:
            key = self._sort_value(row)
            lo, hi = 0, len(self._rows)
            while lo < hi:
                mid = (lo + hi) // 2
                if self._before(key, self._sort_value(self._rows[mid])):
                    hi = mid
                else:
                    lo = mid + 1
            self.beginInsertRows(QModelIndex(), lo, lo)
            self._rows.insert(lo, row)
            self._row_of = {r.id: n for n, r in enumerate(self._rows)}
            self.endInsertRows()

    # --- sorting ----------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (-1: leave them as they are) and keep them sorted."""
        self._sort_column = column if 0 <= column < COLUMN_COUNT else -1
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._resort()

    def sort_column(self) -> int:
        return self._sort_column

    def _sort_value(self, row: TransferRow) -> tuple[Any, int]:
        """(the sort column's value, the queue's order for ties)."""
        return self._sort_key(row, self._sort_column), row.rank

    def _before(self, a: tuple[Any, int], b: tuple[Any, int]) -> bool:
        """Whether a row of sort value ``a`` goes before one of ``b`` (ties: queue order)."""
        if a[0] != b[0]:
            return bool(a[0] > b[0]) if self._descending else bool(a[0] < b[0])
        return a[1] < b[1]

    def _ordered(self, rows: list[TransferRow]) -> list[TransferRow]:
        """``rows`` in the sort's order (as they are when not sorted)."""
        col = self._sort_column
        if col < 0:
            return rows
        ordered = sorted(rows, key=lambda r: r.rank)
        ordered.sort(key=lambda r: self._sort_key(r, col), reverse=self._descending)
        return ordered

    def _keep_sorted(self, spans: dict[int, tuple[int, int]]) -> None:
        col = self._sort_column
        if col >= 0 and any(first <= col <= last for first, last in spans.values()):
            self._resort()

    def _resort(self) -> None:
        if self._sort_column < 0 or len(self._rows) < 2:
            return
        rows = self._ordered(self._rows)
        if all(a is b for a, b in zip(rows, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        self._rows = rows
        self._row_of = {r.id: n for n, r in enumerate(rows)}
        before = self.persistentIndexList()
        after = [self.index(self._row_of[old[i.row()].id], i.column()) for i in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _emit_changed(self, spans: dict[int, tuple[int, int]]) -> None:
        first_col = min(s[0] for s in spans.values())
        last_col = max(s[1] for s in spans.values())
        if len(spans) * 2 > len(self._rows):
            self._emit_run(0, len(self._rows) - 1, (first_col, last_col))
            return
        rows = sorted(spans)
        start = prev = rows[0]
        for r in rows[1:]:
            if r == prev + 1 and spans[r] == spans[start]:
                prev = r
                continue
            self._emit_run(start, prev, spans[start])
            start = prev = r
        self._emit_run(start, prev, spans[start])

    def _emit_run(self, first_row: int, last_row: int, cols: tuple[int, int]) -> None:
        # A figures-only change names its roles: the state (filters) did not change.
        roles = [*_LIVE_ROLES, SORT_ROLE] if cols[0] > COL_STATE else []
        self.dataChanged.emit(self.index(first_row, cols[0]), self.index(last_row, cols[1]), roles)

    # --- reading ----------------------------------------------------------------------------

    def row_for(self, tid: int) -> TransferRow | None:
        r = self._row_of.get(tid)
        return self._rows[r] if r is not None else None

    def row_of(self, tid: int) -> int:
        """The model row of transfer ``tid``, or -1."""
        return self._row_of.get(tid, -1)

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
        if role == Qt.ItemDataRole.TextAlignmentRole and section in (COL_SPEED, COL_ETA, COL_SIZE):
            return _RIGHT
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_key(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_text.tip(self._tooltip(row, col))
        if role == FRACTION_ROLE:
            return row.fraction if col == COL_PROGRESS else None
        if role == STATE_ROLE:
            return row.state
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_SPEED, COL_ETA, COL_SIZE):
            return _RIGHT
        if (
            role == Qt.ItemDataRole.FontRole
            and col == COL_PRIORITY
            and row.priority_name == "flash"
        ):
            return self._bold
        return None

    def _display(self, row: TransferRow, col: int) -> str:
        if col == COL_NAME:
            name = formats.with_rendition(row.label, row.rendition)
            # restricted: flagged (a rule downloads such items too; the tooltip says what)
            return f"⚠ {name}" if row.restrictions else name
        if col == COL_DIRECTION:
            return self._texts[row.direction]
        if col == COL_PRIORITY:
            return self._texts[row.priority_name]
        if col == COL_STATE:
            if row.state == "active" and row.phase in (PHASE_VERIFYING, PHASE_LIBRARY):
                return self._texts[row.phase]
            if row.waits_for_sign_in:
                return self._texts[PHASE_SIGN_IN]
            return self._texts["retrying" if row.retrying else row.state]
        if col == COL_PROGRESS:
            return formats.percent_text(row.fraction)
        if col == COL_SPEED:
            return formats.speed_text(row.speed) if row.moving else ""
        if col == COL_ETA:
            return formats.duration_text(row.eta) if row.moving else ""
        if col == COL_SIZE:
            return formats.size_text(row.size)
        return engine_text.shown(row.last_error)

    def _sort_key(self, row: TransferRow, col: int) -> Any:
        if col == COL_NAME:
            return row.label.casefold()
        if col == COL_DIRECTION:
            return row.direction
        if col == COL_PRIORITY:
            return row.rank
        if col == COL_STATE:
            return _STATE_ORDER.get(row.state, 9)
        if col == COL_PROGRESS:
            f = row.fraction
            return -1.0 if f is None else f
        if col == COL_SPEED:
            return row.speed if row.moving else 0.0
        if col == COL_ETA:
            return row.eta if row.eta is not None and row.moving else 1e18
        if col == COL_SIZE:
            return -1 if row.size is None else row.size
        return row.last_error.casefold()

    def _tooltip(self, row: TransferRow, col: int) -> str | None:
        if col in (COL_ERROR, COL_STATE) and row.last_error:
            return engine_text.shown(row.last_error)
        if col == COL_NAME:
            lines = [formats.with_rendition(row.label, row.rendition)]
            if row.rule:
                lines.append(self.tr("Rule: %1").replace("%1", formats.isolated(row.rule)))
            if row.restrictions:
                lines.append(
                    self.tr("Usage restrictions: %1").replace(
                        "%1", formats.isolated(row.restrictions)
                    )
                )
            return "\n".join(lines)
        if col == COL_SPEED and row.limit_bps:
            return self.tr("Limited to {rate}").format(rate=formats.speed_text(row.limit_bps))
        if col in (COL_SIZE, COL_PROGRESS) and row.size:
            return self.tr("{done} of {total}").format(
                done=formats.size_text(row.bytes_done), total=formats.size_text(row.size)
            )
        return None

    # --- drag and drop (reordering) ---------------------------------------------------------

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return _ROW_FLAGS

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = {i.row(): self._rows[i.row()] for i in indexes if i.isValid()}
        ids = [row.id for row in sorted(rows.values(), key=lambda row: row.rank)]
        mime = QMimeData()
        mime.setData(MIME_TYPE, ",".join(map(str, ids)).encode())
        return mime

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: _Index
    ) -> bool:
        """Rows dropped before ``row`` (or on ``parent``'s row): ask to move them there. The
        model changes when the queue has moved them (``set_transfers`` with the new order)."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        if action != Qt.DropAction.MoveAction or not data.hasFormat(MIME_TYPE):
            return False
        raw = bytes(data.data(MIME_TYPE).data()).decode()
        ids = [int(x) for x in raw.split(",") if x.strip().isdigit()]
        if parent.isValid():
            row = parent.row()
        before = self._rows[row].id if 0 <= row < len(self._rows) else None
        if not ids or before in ids:
            return False
        self.move_requested.emit(ids, before)
        return True

    # --- language ---------------------------------------------------------------------------

    def retranslate(self) -> None:
        """After a language change: new header and cell texts."""
        self._translate()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, COLUMN_COUNT - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, COLUMN_COUNT - 1)
            )

    def vocabulary(self, col: int) -> list[str]:
        """Every text column ``col`` can show when it has a fixed set (for its width)."""
        keys = {
            COL_DIRECTION: ("download", "upload"),
            COL_PRIORITY: PRIORITY_NAMES,
            COL_STATE: (*_STATE_ORDER, "retrying", PHASE_SIGN_IN),
        }.get(col, ())
        return [self._texts[k] for k in keys]

    def _translate(self) -> None:
        self._headers = [
            self.tr("Name"),
            self.tr("Direction"),
            self.tr("Priority"),
            self.tr("State"),
            self.tr("Progress"),
            self.tr("Speed"),
            self.tr("Time left"),
            self.tr("Size"),
            self.tr("Last error"),
        ]
        self._texts = {
            "download": self.tr("Download"),
            "upload": self.tr("Upload"),
            "flash": self.tr("Flash"),
            "urgent": self.tr("Urgent"),
            "routine": self.tr("Routine"),
            "queued": self.tr("Queued"),
            "active": self.tr("Transferring"),
            "paused": self.tr("Paused"),
            "done": self.tr("Done"),
            "failed": self.tr("Failed"),
            "canceled": self.tr("Canceled"),
            "retrying": self.tr("Waiting to retry"),
            PHASE_VERIFYING: self.tr("Verifying"),
            # its end cannot be recorded: the data folder's disk is full (the Last error says)
            PHASE_LIBRARY: self.tr("Waiting for space"),
            # the hub refused the sign-in (the session ended): it starts after a new one
            PHASE_SIGN_IN: self.tr("Waiting for sign-in"),
        }
