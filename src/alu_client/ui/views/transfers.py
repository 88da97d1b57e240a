"""The Transfers tab: the queue as a table, its commands, a filter and the bandwidth limit.

The panel only observes and commands the ``TransferQueue``: progress arrives through the
model's listener; every command (pause, cancel, move, priority, limits) and every read of the
store runs through a ``TaskRunner``, off the GUI thread, in the order the user gave them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.schedule import Schedule

from .. import formats, plain_text
from ..a11y import say
from ..delegates import ProgressDelegate
from ..layout_memory import remember_columns
from ..models import OBJECT_ROLE, STATE_ROLE
from ..models.transfers import (
    COL_DIRECTION,
    COL_ERROR,
    COL_NAME,
    COL_PRIORITY,
    COL_PROGRESS,
    COL_STATE,
    PRIORITY_NAMES,
    TransferRow,
    TransfersModel,
)
from ..tasks import TaskRunner
from ..widgets.combo import ElidingComboBox
from ..widgets.toolbar import Toolbar
from . import new_table
from .bandwidth import BandwidthLimitBox, not_a_rate, rate_dialog
from .row_keys import follow_keyboard, keys_when_disabled
from .settings_fields import read_rate
from .transfer_actions import TransferActions

if TYPE_CHECKING:
    from alu_client.core.settings import AppSettings

# filter key → states shown (a regular expression on STATE_ROLE)
FILTERS = {
    "all": "",
    "active": "^(queued|active|paused)$",
    "finished": "^done$",
    "failed": "^failed$",
}
_PAUSABLE = ("queued", "active")
_RESUMABLE = ("paused", "failed")
_CANCELABLE = ("queued", "active", "paused", "failed")
_OPEN = ("queued", "active", "paused", "failed")
# the narrowest the name and the last error get, in average characters (_fit_reading)
NAME_MIN_CHARS = 30
ERROR_MIN_CHARS = 24


_HORIZONTAL = Qt.Orientation.Horizontal


class _FilterProxy(QSortFilterProxyModel):
    """Filters the transfers by state; a sort (the header) is the model's own: the proxy
    keeps its order."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if isinstance(source, TransfersModel):
            source.sort(column, order)


def _for_each(command: Callable[[int], None], ids: Sequence[int]) -> None:
    for tid in ids:
        command(tid)


# A reordering by keyboard: from one priority's rows as shown (queue order) and the selected
# ids, the queue's moves to make, in order: (transfer, before which one; None: last of them).
_Move = tuple[int, int | None]
_Plan = Callable[[Sequence[TransferRow], set[int]], list[_Move]]


def _runs(rows: Sequence[TransferRow], selected: set[int]) -> list[tuple[int, int]]:
    """The runs of selected rows: (first, last) indexes, in order."""
    runs: list[tuple[int, int]] = []
    for i, row in enumerate(rows):
        if row.id not in selected:
            continue
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _moves_up(rows: Sequence[TransferRow], selected: set[int]) -> list[_Move]:
    """Each run above the row before it."""
    return [
        (rows[i].id, rows[first - 1].id)
        for first, last in _runs(rows, selected)
        if first > 0
        for i in range(first, last + 1)
    ]


def _moves_down(rows: Sequence[TransferRow], selected: set[int]) -> list[_Move]:
    """The row after each run above the run (one move however long the run)."""
    return [
        (rows[last + 1].id, rows[first].id)
        for first, last in _runs(rows, selected)
        if last + 1 < len(rows)
    ]


def _moves_to_top(rows: Sequence[TransferRow], selected: set[int]) -> list[_Move]:
    """The selected rows, in their order, above the first row not selected."""
    first = next((i for i, row in enumerate(rows) if row.id not in selected), None)
    if first is None:
        return []
    return [(row.id, rows[first].id) for row in rows[first + 1 :] if row.id in selected]


def _moves_to_bottom(rows: Sequence[TransferRow], selected: set[int]) -> list[_Move]:
    """The selected rows, in their order, last of their priority (the queue's ``before=None``)."""
    last = max((i for i, row in enumerate(rows) if row.id not in selected), default=None)
    if last is None:
        return []
    return [(row.id, None) for row in rows[:last] if row.id in selected]


class TransfersPanel(QWidget):
    """``TransfersPanel(queue, parent=None, *, tasks=None, settings=None)``.

    ``tasks`` defaults to a ``TaskRunner`` owned by the panel (one thread: commands in order).
    ``settings``: where a limit chosen here is kept (the same limits as the settings dialog's,
    so that it lasts past a restart and the dialog shows it); without, it lasts this run.
    Signals: ``command_failed(str)`` with a message for people when a command could not run.
    """

    command_failed = Signal(str)

    def __init__(
        self,
        queue: TransferQueue,
        parent: QWidget | None = None,
        *,
        tasks: TaskRunner | None = None,
        settings: AppSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.settings = settings
        self.tasks = tasks or TaskRunner(self)
        self._reloading = False
        self._reload_again = False

        self.model = TransfersModel(self)
        # The proxy filters; the model sorts itself (see models/transfers.py: a proxy's sort
        # called into Python for every comparison, 240 ms for 2,000 transfers by State).
        # Dynamic: a row whose state changes comes and goes with the filter at once.
        self.proxy = _FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterRole(STATE_ROLE)
        self.proxy.setFilterKeyColumn(COL_STATE)
        self.proxy.setDynamicSortFilter(True)

        self.view = new_table(self)
        self.view.setObjectName("transfers-table")
        self.view.setModel(self.proxy)
        self.view.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_PRIORITY, Qt.SortOrder.AscendingOrder)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        # the name and the last error share the room the other columns leave (_fit_reading)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ERROR, QHeaderView.ResizeMode.Stretch)
        # the widths the user gives the other columns, and the sort, outlast a restart
        self.columns = remember_columns(self.view, flexible=(COL_NAME, COL_ERROR))
        self.columns.restored.connect(self._fit_reading)
        self.view.viewport().installEventFilter(self)
        header.sortIndicatorChanged.connect(self._update_drag)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.view.setDragDropOverwriteMode(False)  # drop between rows, never onto one
        self.view.setDropIndicatorShown(True)
        self.view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        follow_keyboard(self.view)  # the keyboard's row is the selected one; Shift+F10

        self.commands = c = TransferActions(self)
        c.pause.triggered.connect(self.pause_selected)
        c.resume.triggered.connect(self.resume_selected)
        c.retry.triggered.connect(self.retry_selected)
        c.cancel.triggered.connect(self.cancel_selected)
        c.priority_up.triggered.connect(self.raise_priority)
        c.priority_down.triggered.connect(self.lower_priority)
        c.limit.triggered.connect(self.limit_selected)
        c.pause_all.triggered.connect(self.pause_all)
        c.resume_all.triggered.connect(self.resume_all)
        c.move_up.triggered.connect(self.move_up)
        c.move_down.triggered.connect(self.move_down)
        c.move_top.triggered.connect(self.move_to_top)
        c.move_bottom.triggered.connect(self.move_to_bottom)
        # the names tests and the main window use
        self.pause_action, self.resume_action, self.retry_action = c.pause, c.resume, c.retry
        self.cancel_action, self.pause_all_action = c.cancel, c.pause_all
        self.priority_up_action, self.priority_down_action = c.priority_up, c.priority_down
        self.resume_all_action, self.limit_action = c.resume_all, c.limit
        self.toolbar = Toolbar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for group in c.groups():
            self.toolbar.addActions(list(group))
            self.toolbar.addSeparator()
        for group in c.menu_groups():
            self.view.addActions(list(group))
        for group in c.groups():
            self.addActions(list(group))  # shortcuts anywhere in the panel (not the moves')
        # the keys of a command that is disabled because nothing is selected say so
        for a in (c.cancel, c.priority_up, c.priority_down):
            keys_when_disabled(a, self, self._explain_nothing_selected)
        for a in c.moves():
            keys_when_disabled(a, self.view, self._explain_nothing_selected)

        self.filter_label = QLabel(self)
        self.filter_box = ElidingComboBox(self)  # cut in a narrow window: ends with …
        self.filter_box.setObjectName("transfers-filter")
        self.filter_label.setBuddy(self.filter_box)
        self.filter_box.currentIndexChanged.connect(self._apply_filter)
        self.limit_label = QLabel(self)
        self.limit_box = BandwidthLimitBox(queue.limits["download"].rate_bps, self)
        self.limit_label.setBuddy(self.limit_box)
        self.limit_box.limit_chosen.connect(self.set_limit)
        self.limit_box.invalid_rate.connect(self.command_failed)
        # the box follows the limits in force, wherever they were set (the settings dialog,
        # the weekly schedule); not while a choice made here is on its way to the queue
        self._limits_pending = 0
        self._limits_timer = QTimer(self)
        self._limits_timer.setInterval(1000)
        self._limits_timer.timeout.connect(self.show_limits)
        self._limits_timer.start()
        self.message = QLabel(self)
        self.message.setObjectName("transfers-message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.command_failed.connect(self._show_failure)

        for a in (self.priority_up_action, self.priority_down_action):
            button = self.toolbar.widgetForAction(a)
            if isinstance(button, QToolButton):  # arrows say it; the tooltip names it
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 0, 6, 0)
        bar.addWidget(self.filter_label)
        bar.addWidget(self.filter_box)
        bar.addStretch(1)
        bar.addWidget(self.limit_label)
        bar.addWidget(self.limit_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)

        self._retranslate()
        self._update_drag()

        self.view.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.dataChanged.connect(self._update_actions)
        self.model.transfers_unknown.connect(self.reload)
        self.model.move_requested.connect(self.move_transfers)
        queue.add_listener(self.model.post_progress)
        self._update_actions()
        self.show_limits()
        self.reload()

    # --- building -----------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.commands.retranslate()
        self.toolbar.setAccessibleName(self.tr("Transfer commands"))
        self.toolbar.setWindowTitle(self.tr("Transfer commands"))
        self.view.setAccessibleName(self.tr("Transfers"))
        self.view.setAccessibleDescription(
            self.tr(
                "Downloads and uploads in queue order; drag rows, or press Alt+Up or Alt+Down, "
                "to reorder them"
            )
        )
        self.filter_label.setText(self.tr("&Show:"))
        self.filter_box.setAccessibleName(self.tr("Show transfers"))
        self._fill_combo(
            self.filter_box,
            [
                (self.tr("All"), "all"),
                (self.tr("Active"), "active"),
                (self.tr("Finished"), "finished"),
                (self.tr("Failed"), "failed"),
            ],
        )
        self.limit_label.setText(self.tr("&Limit:"))
        self.model.retranslate()
        self._fit_columns()

    def layout_parts(self) -> dict[str, QTableView]:
        """The table whose column widths and sort the window keeps for the next start
        (``layout_memory``)."""
        return {"columns": self.view}

    def _fit_columns(self) -> None:
        """Columns with a fixed vocabulary as wide as their longest word in this language
        (but for those the user sized)."""
        header = self.view.horizontalHeader()
        fm = self.view.fontMetrics()
        room = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 24
        with self.columns.fitting():
            for col in (COL_DIRECTION, COL_PRIORITY, COL_STATE):
                if self.columns.is_user_sized(col):
                    continue
                words = [
                    *self.model.vocabulary(col),
                    self.model.headerData(col, Qt.Orientation.Horizontal),
                ]
                header.resizeSection(col, max(fm.horizontalAdvance(w) for w in words) + room)
        self._fit_reading()

    def _reading_minimums(self) -> tuple[int, int]:
        """The narrowest the name and the last error may be: a name's first words, and the
        error column's header whole and the start of its message (the cell's tooltip says
        all of it)."""
        fm = self.view.fontMetrics()
        header = self.view.horizontalHeader()
        room = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 24
        title = str(self.model.headerData(COL_ERROR, Qt.Orientation.Horizontal) or "")
        name_min = fm.averageCharWidth() * NAME_MIN_CHARS
        error_min = max(fm.averageCharWidth() * ERROR_MIN_CHARS, fm.horizontalAdvance(title) + room)
        return max(name_min, header.minimumSectionSize()), error_min

    def _fit_reading(self) -> None:
        """The name and the last error share what the other columns leave; when that is too
        little for both (French at 1366×768 and 150 %: "Téléchargement" and "En attente de
        nouvel essai" kept their width, and names read "Eight Af…", the error "Le fichie…",
        its header "ernière erre"), each keeps its minimum and the table scrolls sideways,
        the name first to get what there is."""
        header = self.view.horizontalHeader()
        name_min, error_min = self._reading_minimums()
        others = sum(
            header.sectionSize(col)
            for col in range(header.count())
            if col not in (COL_NAME, COL_ERROR) and not header.isSectionHidden(col)
        )
        free = self.view.viewport().width() - others
        stretch = free >= 2 * max(name_min, error_min)  # an even share is enough for both
        mode = QHeaderView.ResizeMode.Stretch if stretch else QHeaderView.ResizeMode.Interactive
        changed = False
        for col in (COL_NAME, COL_ERROR):
            if header.sectionResizeMode(col) != mode:
                header.setSectionResizeMode(col, mode)
                changed = True
        if stretch:
            return
        # widths the user chose (dragging a column's edge) stay while they keep the minimums:
        # a scroll bar that comes or goes with the rows resizes the viewport too
        if changed or header.sectionSize(COL_ERROR) < error_min:
            header.resizeSection(COL_ERROR, error_min)
        if changed or header.sectionSize(COL_NAME) < name_min:
            header.resizeSection(COL_NAME, max(name_min, free - error_min))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_reading()
        return super().eventFilter(watched, event)

    def _fill_combo(self, box: QComboBox, items: Sequence[tuple[str, Any]]) -> None:
        keep = box.currentIndex()
        box.blockSignals(True)
        box.clear()
        for text, data in items:
            box.addItem(text, data)
        box.setCurrentIndex(max(0, keep))
        box.blockSignals(False)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    # --- reading the queue ----------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        """Load the transfers' details from the store (off the GUI thread); coalesced."""
        if self._reloading:
            self._reload_again = True
            return
        self._reloading = True
        # those the engine runs: the signed-in member's (another's wait for their sign-in)
        self.tasks.run(self.queue.mine, self._reloaded, self._reload_failed)

    def _reloaded(self, transfers: list[Transfer]) -> None:
        self._reloading = False
        self.model.set_transfers(transfers)
        if self._reload_again:
            self._reload_again = False
            self.reload()

    def _reload_failed(self, error: BaseException) -> None:
        self._reloading = self._reload_again = False
        self.command_failed.emit(self.tr("Could not read the queue: {error}").format(error=error))

    def selected_rows(self) -> list[TransferRow]:
        """The selected transfers, in queue order."""
        rows = [
            row
            for i in self.view.selectionModel().selectedRows()
            if isinstance(row := i.data(OBJECT_ROLE), TransferRow)
        ]
        return sorted(rows, key=lambda r: r.rank)

    @Slot()
    def _update_actions(self) -> None:
        rows = self.selected_rows()
        states = {r.state for r in rows}
        self.pause_action.setEnabled(bool(states & set(_PAUSABLE)))
        self.resume_action.setEnabled(bool(states & set(_RESUMABLE)))
        self.retry_action.setEnabled(any(r.state == "failed" or r.retrying for r in rows))
        self.cancel_action.setEnabled(bool(states & set(_CANCELABLE)))
        open_rows = [r for r in rows if r.state in _OPEN]
        self.priority_up_action.setEnabled(any(r.priority > 0 for r in open_rows))
        self.priority_down_action.setEnabled(any(r.priority < 2 for r in open_rows))
        self.limit_action.setEnabled(bool(open_rows))
        for a in self.commands.moves():
            a.setEnabled(bool(rows) and self._in_queue_order())

    def _in_queue_order(self) -> bool:
        header = self.view.horizontalHeader()
        return (
            header.sortIndicatorSection() == COL_PRIORITY
            and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
        )

    @Slot()
    def _update_drag(self) -> None:
        """Reordering by hand (a drag, the moves' keys) only makes sense while the table shows
        the queue's order."""
        in_queue_order = self._in_queue_order()
        self.view.setDragEnabled(in_queue_order)
        self.view.setAcceptDrops(in_queue_order)
        self.view.viewport().setAcceptDrops(in_queue_order)
        self._update_actions()

    @Slot(int)
    def _apply_filter(self, _index: int = 0) -> None:
        key = self.filter_box.currentData() or "all"
        self.proxy.setFilterRegularExpression(FILTERS.get(key, ""))

    def set_filter(self, key: str) -> None:
        """Show ``all``, ``active``, ``finished`` or ``failed`` transfers."""
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(key)))

    # --- commands ---------------------------------------------------------------------------------

    def _command(self, failure: str, fn: Callable[[], object], *, reload: bool = False) -> None:
        """Run ``fn`` off the GUI thread; ``failure`` (with ``{error}``) tells people if it
        fails."""

        def failed(error: BaseException) -> None:
            self.command_failed.emit(failure.format(error=error))

        def done(_result: object) -> None:
            self.message.hide()
            if reload:
                self.reload()

        self.tasks.run(fn, done, failed)

    def _each(self, failure: str, command: Callable[[int], None], states: Sequence[str]) -> None:
        ids = [r.id for r in self.selected_rows() if r.state in states]
        if ids:
            self._command(failure, lambda: _for_each(command, ids))

    @Slot()
    def pause_selected(self) -> None:
        self._each(self.tr("Could not pause: {error}"), self.queue.pause, _PAUSABLE)

    @Slot()
    def resume_selected(self) -> None:
        self._each(self.tr("Could not resume: {error}"), self.queue.resume, (*_RESUMABLE, "queued"))

    @Slot()
    def retry_selected(self) -> None:
        self._each(self.tr("Could not retry: {error}"), self.queue.retry_now, ("failed", "queued"))

    @Slot()
    def pause_all(self) -> None:
        self._command(self.tr("Could not pause all transfers: {error}"), self.queue.pause_all)

    @Slot()
    def resume_all(self) -> None:
        self._command(self.tr("Could not resume all transfers: {error}"), self.queue.resume_all)

    @Slot()
    def cancel_selected(self) -> None:
        """Ask first (a canceled download loses its partial file), without blocking."""
        rows = [r for r in self.selected_rows() if r.state in _CANCELABLE]
        if not rows:
            return
        box = QMessageBox(self)
        box.setObjectName("confirm-cancel")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Cancel transfers"))
        if len(rows) == 1:
            text = self.tr("Cancel “{name}”?").format(name=formats.isolated(rows[0].label))
            box.setText(plain_text.shown_as_typed(text))  # (a title: as typed)
        else:
            box.setText(self.tr("Cancel %Ln transfers?", "", len(rows)))
        box.setInformativeText(self.tr("A canceled download loses the part already fetched."))
        yes = box.addButton(self.tr("Cancel transfer"), QMessageBox.ButtonRole.DestructiveRole)
        yes.setObjectName("confirm-cancel-yes")
        keep = box.addButton(self.tr("Don’t cancel"), QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("confirm-cancel-no")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        ids = [r.id for r in rows]

        def answered() -> None:
            if box.clickedButton() is yes:
                self._command(
                    self.tr("Could not cancel: {error}"),
                    lambda: _for_each(self.queue.cancel, ids),
                )
            box.deleteLater()

        box.finished.connect(answered)
        box.open()

    def _shift_priority(self, step: int) -> None:
        changes = {
            r.id: PRIORITY_NAMES[r.priority + step]
            for r in self.selected_rows()
            if r.state in _OPEN and 0 <= r.priority + step <= 2
        }
        if changes:
            self._command(
                self.tr("Could not change the priority: {error}"),
                lambda: _for_each(
                    lambda tid: self.queue.set_priority(tid, changes[tid]), list(changes)
                ),
                reload=True,
            )

    @Slot()
    def raise_priority(self) -> None:
        self._shift_priority(-1)

    @Slot()
    def lower_priority(self) -> None:
        self._shift_priority(+1)

    @Slot(list, object)
    def move_transfers(self, ids: list[int], before: int | None) -> None:
        """Put transfers ``ids`` (in this order) just before ``before`` (None: last of their
        priority). Dropped among transfers of another priority, they take it: the queue runs
        by priority first, and a routine one dropped above urgent ones stayed where it was,
        the drop accepted and nothing said."""
        target = self.model.row_for(before) if before is not None else None
        priority = target.queue_priority_name if target is not None else None
        retag = {
            t for t in ids if (r := self.model.row_for(t)) and r.queue_priority_name != priority
        }
        queue = self.queue

        def move(tid: int) -> None:
            if priority is not None and tid in retag:
                queue.set_priority(tid, priority)
            queue.move(tid, before)

        self._command(
            self.tr("Could not reorder the queue: {error}"),
            lambda: _for_each(move, ids),
            reload=True,
        )

    # --- moves by keyboard: among the rows of one priority, as a drag ----------------------------

    @Slot()
    def move_up(self) -> None:
        """The selected transfers one row earlier among those of their priority shown (each
        run of selected rows goes above the row before it); the first of a priority stays
        (Raise priority is what takes it further)."""
        self._reorder(_moves_up)

    @Slot()
    def move_down(self) -> None:
        self._reorder(_moves_down)

    @Slot()
    def move_to_top(self) -> None:
        self._reorder(_moves_to_top)

    @Slot()
    def move_to_bottom(self) -> None:
        self._reorder(_moves_to_bottom)

    def _reorder(self, plan: _Plan) -> None:
        selected = {r.id for r in self.selected_rows()}
        if not selected or not self._in_queue_order():
            return
        shown = [
            row
            for r in range(self.proxy.rowCount())
            if isinstance(row := self.proxy.index(r, COL_NAME).data(OBJECT_ROLE), TransferRow)
        ]
        by_priority: dict[int, list[TransferRow]] = {}
        for row in shown:  # the table's order is the queue's: priority, then position
            by_priority.setdefault(row.priority, []).append(row)
        moves = [m for rows in by_priority.values() for m in plan(rows, selected)]
        if not moves:
            return
        queue = self.queue

        def move() -> None:
            for tid, before in moves:
                queue.move(tid, before)

        self._command(self.tr("Could not reorder the queue: {error}"), move, reload=True)

    # --- bandwidth limit ------------------------------------------------------------------------

    @Slot()
    def limit_selected(self) -> None:
        """Ask for a speed limit of the selected transfers' own (empty: none), without
        blocking; the engine applies it at once, under the direction's limit."""
        rows = [r for r in self.selected_rows() if r.state in _OPEN]
        if not rows:
            return
        limits = {r.limit_bps for r in rows}
        dialog = rate_dialog(
            self,
            self.tr("Speed limit"),
            self.tr("Highest speed for the selected transfers, e.g. 3M or 400 KB/s (empty: none):"),
            limits.pop() if len(limits) == 1 else None,
        )
        dialog.setObjectName("transfer-limit")
        ids = [r.id for r in rows]

        def answered(result: int) -> None:
            dialog.deleteLater()
            if result != QInputDialog.DialogCode.Accepted:
                return
            try:
                bps = read_rate(dialog.textValue())
            except ValueError as e:
                self.command_failed.emit(not_a_rate(dialog.textValue(), e))
                return
            self._command(
                self.tr("Could not set the speed limit: {error}"),
                lambda: _for_each(lambda tid: self.queue.set_transfer_limit(tid, bps), ids),
                reload=True,
            )

        dialog.finished.connect(answered)
        dialog.open()

    @Slot(object)
    def set_limit(self, bps: float | None) -> None:
        """The limit for downloads and for uploads (bytes per second; None: unlimited): the
        settings' limits, which apply whenever the weekly schedule sets none, kept there."""
        self.limit_box.set_limit(bps)
        queue, settings = self.queue, self.settings

        def apply() -> None:
            if settings is not None:
                settings.limit_down = bps
                settings.limit_up = bps
                kept = settings.schedule
                if kept is not None:
                    settings.schedule = Schedule(kept.rules, default_down=bps, default_up=bps)
            queue.set_limits(bps, bps)
            schedule = queue.schedule
            if schedule is not None:
                queue.set_schedule(Schedule(schedule.rules, default_down=bps, default_up=bps))

        def ended() -> None:
            self._limits_pending -= 1
            self.show_limits()

        def done(_result: object) -> None:
            self.message.hide()
            ended()

        def failed(error: BaseException) -> None:
            ended()
            self.command_failed.emit(
                self.tr("Could not set the bandwidth limit: {error}").format(error=error)
            )

        self._limits_pending += 1
        self.tasks.run(apply, done, failed)

    @Slot()
    def show_limits(self) -> None:
        """Show the limits in force now in the box (disabled while a rule of the weekly
        schedule sets them: the settings change those)."""
        box = self.limit_box
        if self._limits_pending or box.busy:
            return
        now = self.queue.limits_now()
        box.show_limits(now.download, now.upload, scheduled=now.by_rule)

    def _explain_nothing_selected(self) -> None:
        if not self.selected_rows():
            say(self.message, self.tr("Select a transfer first."))

    @Slot(str)
    def _show_failure(self, text: str) -> None:
        say(self.message, text, assertive=True)

    def current_index_for(self, tid: int) -> QModelIndex:
        """The view's index of transfer ``tid`` (invalid when filtered out)."""
        row = self.model.row_of(tid)
        if row < 0:
            return QModelIndex()
        return self.proxy.mapFromSource(self.model.index(row, COL_NAME))
