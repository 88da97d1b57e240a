"""The History tab: what this member downloaded and uploaded, on this workstation and others.

The list comes from the local history (``services.history().list``), read off the GUI thread a
page at a time (more as the view scrolls to the end); sorted by a column other than When,
newest first, the rest is read at once, so that a click on "Size" sorts the whole history. It
follows by itself as the history changes (``CoreBridge.history_changed``: a download or an
upload ending, events sent to the hub or pulled by the sync), after Sync now, and every minute
(events another process wrote in the same data folder, `alu queue cancel`): it reads only what
was stored since its last read and the outbox events sent since (``HistorySync.since``,
``sent_among``), each new event put in its place, so a busy workstation's list keeps its
selection, sort and scroll position. The whole list is read again (``refresh``) at the start,
when the outbox grew by more than the new events (a hub restored from a backup takes sent
events back), when too many events came at once, and on Refresh, which in the app is F5 while
this tab is shown: the main window owns F5 (its Sync now, which then refreshes this tab too),
so Refresh carries no shortcut of its own (two owners of one key and Qt runs neither). "Sync
now" sends the outbox to the hub and pulls the member's other workstations' events, on a thread
of its own so a slow link never holds up the app's other commands; being offline is normal (the
events wait), only other failures are told as problems.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core import hub
from ...core.rules import RuleStore
from ...core.services import Services
from ...core.sync import HistoryEvent
from ..a11y import say
from ..bridge import CoreBridge
from ..layout_memory import remember_columns
from ..models.history import (
    COL_DEVICE,
    COL_ITEM,
    COL_SENT,
    COL_WHAT,
    COL_WHEN,
    PAGE_SIZE,
    HistoryModel,
)
from ..models.key_sort import KeySortProxy
from ..tasks import TaskRunner
from ..widgets.toolbar import Toolbar
from . import new_table

# refresh by itself this often (ms): what this app's core does is told at once
# (``history_changed``); this finds what another process wrote in the data folder
REFRESH_INTERVAL_MS = 60_000
# a refresh re-reads at most this many of the newest events (rows past them are dropped and
# read again as the view scrolls to them)
_MAX_REFRESH = 5_000
# more new events than this at once (a first sync): the newest are read again instead
_MAX_NEW = 1_000
# sorted otherwise than newest first, the rest of the history is read at once (up to this many)
_REST = 1_000_000
_AT_TOP = QAbstractItemView.ScrollHint.PositionAtTop


class HistoryPanel(QWidget):
    """``HistoryPanel(services, bridge, tasks)``: the table, Refresh and Sync now.

    Signals: ``refreshed()`` after each refresh is shown; ``synced(str)`` with the sentence
    shown after "Sync now" (done, offline or failed)."""

    refreshed = Signal()
    synced = Signal(str)

    def __init__(
        self,
        services: Services,
        bridge: CoreBridge,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.bridge = bridge
        self.tasks = tasks
        # network calls: their own thread, never queued in front of the app's commands
        self.sync_tasks = TaskRunner(self)
        self._refreshing = False
        # what to read once the read under way is done: "", "new" or "all"
        self._again = ""
        self._pending = 0
        # where the last read left the history (``HistorySync.mark``) and whose it was
        self._mark = 0
        self._profile = ""

        self.model = HistoryModel(self)
        # (a QSortFilterProxyModel called data() a million times to sort a year's history)
        self.proxy = KeySortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = new_table(self)
        self.view.setObjectName("history-table")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_WHEN, Qt.SortOrder.DescendingOrder)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(COL_ITEM, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_DEVICE, QHeaderView.ResizeMode.ResizeToContents)
        # the widths the user gives the other columns, and the sort, outlast a restart
        self.columns = remember_columns(self.view, flexible=(COL_ITEM,))
        header.sortIndicatorChanged.connect(self._load_rest)

        icon = self.style().standardIcon
        self.refresh_action = QAction(icon(QStyle.StandardPixmap.SP_BrowserReload), "", self)
        self.refresh_action.setObjectName("history-refresh")
        self.refresh_action.triggered.connect(self.refresh)
        self.sync_action = QAction(icon(QStyle.StandardPixmap.SP_ArrowUp), "", self)
        self.sync_action.setObjectName("history-sync")
        self.sync_action.triggered.connect(self.sync_now)
        self.addActions([self.refresh_action, self.sync_action])
        self.toolbar = Toolbar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addAction(self.refresh_action)
        self.toolbar.addAction(self.sync_action)
        self.status = QLabel(self)
        self.status.setObjectName("history-status")
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.status)
        self.message = QLabel(self)
        self.message.setObjectName("history-message")
        self.message.setWordWrap(True)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_INTERVAL_MS)
        self.timer.timeout.connect(self.read_new)
        self.timer.start()
        bridge.history_changed.connect(self.read_new)
        self.model.more_wanted.connect(self._load_more)
        self._retranslate()
        self.refresh()

    # --- texts ------------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.refresh_action.setText(self.tr("&Refresh"))
        # F5 is the main window's (Sync now, which refreshes this tab while it is shown)
        self.refresh_action.setToolTip(self.tr("Read the history again (F5)"))
        self.sync_action.setText(self.tr("&Sync now"))
        self.sync_action.setToolTip(
            self.tr("Send this workstation's history to the hub and fetch the others'")
        )
        self.toolbar.setAccessibleName(self.tr("History commands"))
        self.toolbar.setWindowTitle(self.tr("History commands"))
        self.view.setAccessibleName(self.tr("History"))
        self.view.setAccessibleDescription(
            self.tr("Downloads and uploads that ended, the newest first")
        )
        self.model.retranslate()
        self._show_pending()
        fm = self.view.fontMetrics()
        header = self.view.horizontalHeader()
        with self.columns.fitting():  # but for those the user sized
            for col in (COL_WHEN, COL_WHAT, COL_SENT):
                if self.columns.is_user_sized(col):
                    continue
                words = [
                    *self.model.vocabulary(col),
                    self.model.headerData(col, Qt.Orientation.Horizontal),
                ]
                header.resizeSection(col, max(fm.horizontalAdvance(w) for w in words) + 32)

    def layout_parts(self) -> dict[str, QTableView]:
        """The table whose column widths and sort the window keeps for the next start
        (``layout_memory``)."""
        return {"columns": self.view}

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _show_pending(self) -> None:
        if self._pending:
            self.status.setText(
                self.tr("%Ln events waiting to be sent to the hub", "", self._pending)
            )
        else:
            self.status.setText(self.tr("Everything has been sent to the hub"))

    def _say(self, text: str) -> None:
        say(self.message, text)

    # --- reading ----------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Read the newest events again, the whole list (off the GUI thread); coalesced.
        What is new is inserted and what changed updated: the selection stays."""
        self._read(full=True)

    @Slot()
    def read_new(self) -> None:
        """Read the events stored since the last read and the outbox events sent since (off
        the GUI thread); coalesced."""
        self._read(full=False)

    def _read(self, full: bool) -> None:
        if self._refreshing:
            self._again = "all" if full or self._again == "all" else "new"
            return
        self._refreshing = True
        services = self.services

        def read_rules() -> frozenset[str] | None:
            profile = services.profile
            if profile is None:
                return None
            return frozenset(r.name for r in RuleStore(services.store, profile.name).all())

        # the rules now: one removed is said so in the Rule column
        self.tasks.run(read_rules, self.model.set_rules)
        if full or not self._profile:
            limit = min(_MAX_REFRESH, max(PAGE_SIZE, self.model.rowCount()))

            def read_all() -> tuple[str, int, int, list[HistoryEvent], int]:
                history = services.history()
                # the mark first: an event stored meanwhile is read again next time, not lost
                mark = history.mark()
                return history.profile, mark, history.pending(), history.list(limit=limit), limit

            self.tasks.run(read_all, self._refreshed, self._refresh_failed)
            return
        mark, profile, outbox = self._mark, self._profile, self.model.pending_ids()

        def read_new() -> tuple[int, list[HistoryEvent], int, list[HistoryEvent]] | None:
            history = services.history()
            if history.profile != profile:
                return None
            pending = history.pending()
            new, last = history.since(mark, limit=_MAX_NEW + 1)
            if len(new) > _MAX_NEW:
                return None
            return pending, new, last, history.sent_among(outbox)

        self.tasks.run(read_new, self._got_new, self._refresh_failed)

    def _refreshed(self, result: tuple[str, int, int, list[HistoryEvent], int]) -> None:
        self._profile, self._mark, self._pending, events, limit = result
        self._show_pending()
        self._keep_place(lambda: self.model.set_events(events, has_more=len(events) >= limit))
        self._done()

    def _got_new(
        self, result: tuple[int, list[HistoryEvent], int, list[HistoryEvent]] | None
    ) -> None:
        if result is None:  # another profile, or too many at once: read the newest again
            self._again = "all"
            self._done()
            return
        pending, new, self._mark, sent = result
        # The outbox grew by more than the new events: sent ones went back to it.
        if pending > self._pending + sum(1 for e in new if e.pending):
            self._again = "all"
        self._pending = pending
        self._show_pending()

        def apply() -> None:
            self.model.update_events(sent)
            self.model.add_events(new)

        self._keep_place(apply)
        self._done()

    def _done(self) -> None:
        self._refreshing = False
        self.refreshed.emit()
        again, self._again = self._again, ""
        if again:
            self._read(full=again == "all")
        else:
            self._load_rest()

    def _whole(self) -> bool:
        """Sorted otherwise than the list (newest first): the sort is of the whole history."""
        header = self.view.horizontalHeader()
        return (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (
            COL_WHEN,
            Qt.SortOrder.DescendingOrder,
        )

    @Slot()
    def _load_rest(self) -> None:
        """Sorted by another column (or the oldest first), read the events not loaded yet, all
        at once (off the GUI thread): "Size" sorts the whole history, not its newest pages."""
        if self._whole() and self.model.has_more:
            self.model.fetchMore(QModelIndex())

    def _keep_place(self, change: Callable[[], None]) -> None:
        """Make ``change`` to the model, the rows in sight staying in sight: events inserted
        above them do not push them down (at the top of the list, new events show)."""
        if self.view.verticalScrollBar().value() == 0:
            change()
            return
        top = QPersistentModelIndex(self.view.indexAt(QPoint(0, 0)))
        change()
        if top.isValid():
            self.view.scrollTo(self.proxy.index(top.row(), top.column()), _AT_TOP)

    def _refresh_failed(self, error: BaseException) -> None:
        self._refreshing = False
        self._again = ""
        self._say(self.tr("Could not read the history: {error}").format(error=error))

    @Slot(str)
    def _load_more(self, last_id: str) -> None:
        services = self.services
        limit = _REST if self._whole() else PAGE_SIZE

        def read() -> list[HistoryEvent]:
            return services.history().list(limit=limit, before=last_id)

        def failed(error: BaseException) -> None:
            self.model.more_failed()
            self._say(self.tr("Could not read the history: {error}").format(error=error))

        def got(events: list[HistoryEvent]) -> None:
            self.model.append_events(events, len(events) >= limit, after=last_id)
            self._load_rest()  # (sorted by another column while a page was read)

        self.tasks.run(read, got, failed)

    # --- sync -------------------------------------------------------------------------------

    @Slot()
    def sync_now(self) -> None:
        """Send the outbox and pull the member's other events (off the GUI thread)."""
        if not self.sync_action.isEnabled():
            return
        self.sync_action.setEnabled(False)
        self._say(self.tr("Syncing the history with the hub…"))
        services = self.services

        def sync() -> tuple[int, int]:
            history = services.history()
            return history.push(), history.pull()

        self.sync_tasks.run(sync, self._synced, self._sync_failed)

    def _synced(self, counts: tuple[int, int]) -> None:
        sent, received = counts
        self.sync_action.setEnabled(True)
        text = self.tr(
            "History synced: {sent} sent, {received} new from other workstations."
        ).format(sent=QLocale().toString(sent), received=QLocale().toString(received))
        self._say(text)
        self.synced.emit(text)
        self.read_new()

    def _sync_failed(self, error: BaseException) -> None:
        self.sync_action.setEnabled(True)
        if isinstance(error, hub.HubError) and error.transient:
            text = self.tr(
                "The hub cannot be reached just now; the history will be sent when it can."
            )
        elif isinstance(error, hub.AuthError):
            text = self.tr("Sign in to the hub again to sync the history.")
        else:
            text = self.tr("Could not sync the history: {error}").format(error=error)
        self._say(text)
        self.synced.emit(text)
        self.read_new()
