"""The Feed tab: the agency's pushes and the members' shared items, newest first, each saying
who sent it (the Sent by column and the detail pane: the agency, a member, or "You" for the
member's own uploads, which the core stores read: they are no news to it).

A table over ``ItemsModel`` (pages read as the user scrolls), the filter bar, the unread count,
a detail pane, and the commands: download the broadcast or the proxy rendition of one or many
items, preview a downloaded one. New pushes arrive through ``CoreBridge.items_added`` and slide
in at the top; the selection and the scroll position stay. An item selected for a moment
(``read_delay_ms``) is marked read. Every store read and write, and every download request,
runs off the GUI thread (``TaskRunner``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alu_client.core import hub
from alu_client.core.library import CheckReport, LibraryItem
from alu_client.core.services import AlreadyDownloaded, Services
from alu_client.core.sync import SyncStatus

from .. import colors, engine_text
from ..a11y import say
from ..bridge import CoreBridge
from ..delegates_items import item_table
from ..models import OBJECT_ROLE
from ..models.items import (
    COL_TITLE,
    ItemsModel,
)
from ..table_room import TableFirst
from ..tasks import TaskRunner
from ..widgets.toolbar import Toolbar
from . import on_open, select_row, tip_with_keys
from .filters import FilterBar, run_while_alive
from .item_detail import ItemDetail
from .row_keys import follow_keyboard, keys_when_disabled


def preview_file_ready(li: LibraryItem) -> bool:
    """An item can be previewed when one of its files is here (the proxy preferably)."""
    return any(f.present for f in li.files)


def can_download(li: LibraryItem, rendition: str) -> bool:
    """The item has that rendition and its file is not here (as the library last saw it), and
    the agency has not withdrawn it."""
    f = li.file(rendition)
    if li.item.withdrawn:
        return False
    return li.item.rendition(rendition) is not None and (f is None or not f.present)


# at most this many selected items have their files looked at on disk when selected
_CHECK_AT_MOST = 100


T = TypeVar("T")


class FeedPanel(QWidget):
    """``FeedPanel(services, bridge, tasks, parent=None)``.

    Signals: ``unread_changed(int)``; ``preview_requested(str)`` (item id: the main window
    shows it in the Library tab's player); ``command_failed(str)`` (also shown in the panel).
    """

    unread_changed = Signal(int)
    preview_requested = Signal(str)
    command_failed = Signal(str)
    # the user asked to delete a withdrawn item's files from its banner (a LibraryItem: the
    # main window has the Library ask first, and delete them)
    delete_files_requested = Signal(object)

    def __init__(
        self,
        services: Services,
        bridge: CoreBridge,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        read_delay_ms: int = 1500,
        page_size: int = 100,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.bridge = bridge
        self.tasks = tasks
        self.unread = 0
        self._unread_known = False
        self.model = ItemsModel(services.library, self, page_size=page_size)
        # Items not downloaded show the hub's thumbnail (fetched off the GUI thread, cached).
        self.model.thumbnails.fetch = services.fetch_hub_thumbnail
        self.filters = FilterBar(self)
        self.unread_label = QLabel(self)
        self.unread_label.setObjectName("feed-unread")

        self.view = item_table(self.model, self, "feed-table")
        on_open(self.view, self._activated)  # double-click, Enter
        follow_keyboard(self.view)  # the row the keyboard is on is the one Ctrl+D downloads

        self.detail = ItemDetail(self, member=services.library.member)
        self.detail.setObjectName("feed-detail")
        self.detail.delete_files_requested.connect(self.delete_files_requested)
        self.download_action = QAction(self)
        self.download_proxy_action = QAction(self)
        self.preview_action = QAction(self)
        self.mark_all_read_action = QAction(self)
        # Every command has keys and is in the table's context menu (Menu key, Shift+F10): the
        # toolbar's buttons take no focus. Space is the table's own (the search box types it);
        # the others work anywhere in the panel (Ctrl+D from the detail or the search box too).
        for a, keys in (
            (self.download_action, "Ctrl+D"),
            (self.download_proxy_action, "Ctrl+Shift+D"),
            (self.preview_action, "Space"),
            (self.mark_all_read_action, "Ctrl+Shift+M"),
        ):
            a.setShortcut(QKeySequence(keys))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            (self.view if a is self.preview_action else self).addAction(a)
        separator = QAction(self)
        separator.setSeparator(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.view.addActions(
            [self.download_action, self.download_proxy_action, self.preview_action, separator,
             self.mark_all_read_action]
        )  # fmt: skip
        self.download_action.triggered.connect(lambda: self.download_selected("broadcast"))
        self.download_proxy_action.triggered.connect(self._download_proxy)
        # disabled (nothing selected, nothing to download), their keys say why
        keys_when_disabled(self.download_action, self, self.download_selected)
        keys_when_disabled(self.download_proxy_action, self, self._download_proxy)
        self.preview_action.triggered.connect(self.preview_selected)
        self.mark_all_read_action.triggered.connect(self.mark_all_read)
        self.toolbar = Toolbar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addActions([self.download_action, self.download_proxy_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.preview_action, self.mark_all_read_action])

        self.message = QLabel(self)
        self.message.setObjectName("feed-message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.command_failed.connect(self._show_failure)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("feed-splitter")
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([760, 440])
        TableFirst(self.splitter, self.view)  # (the detail gives way before the title)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 6, 0)
        top.addWidget(self.toolbar, 1)
        top.addWidget(self.unread_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.message)

        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(read_delay_ms)
        self._read_timer.timeout.connect(self._mark_current_read)
        self._facets_timer = QTimer(self)
        self._facets_timer.setSingleShot(True)
        self._facets_timer.setInterval(2000)
        self._facets_timer.timeout.connect(self.load_facets)

        self.filters.changed.connect(self.apply_filters)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.rows_loaded.connect(self._rows_loaded)
        self.model.load_failed.connect(self.command_failed)
        bridge.items_added.connect(self._items_added)
        self._online = bridge.last_status.online if bridge.last_status is not None else None
        bridge.sync_status.connect(self._sync_status)
        # a download recorded, a file probed: only those items read again
        bridge.library_items_changed.connect(self.model.refresh_items)
        self._retranslate()
        self._update_actions()
        self.apply_filters()
        self.load_facets()
        self.update_unread()

    def layout_parts(self) -> dict[str, QSplitter | QTableView]:
        """The splitter and the table whose sizes the window keeps for the next start
        (``layout_memory``)."""
        return {"splitter": self.splitter, "columns": self.view}

    # --- reading ------------------------------------------------------------------------------

    def apply_filters(self) -> None:
        self.model.set_query(self.filters.query(hub_offset=self.model.hub_offset))

    def load_facets(self) -> None:
        self.filters.load_choices(self.services.library, self.tasks)

    def update_unread(self) -> None:
        """Count the unread items (off the GUI thread); ``unread_changed`` tells the window."""
        self._run(self.services.library.unread_count, self._unread_counted)

    def _unread_counted(self, count: int) -> None:
        changed = count != self.unread or not self._unread_known
        self.unread, self._unread_known = count, True
        self.unread_label.setText(self.tr("%Ln unread", "", count))
        if changed:
            self.unread_changed.emit(count)

    def _items_added(self, _items: list[hub.Item]) -> None:
        self.model.add_newer()
        self.update_unread()
        if not self._facets_timer.isActive():
            self._facets_timer.start()

    def _sync_status(self, status: SyncStatus) -> None:
        if status.online and self._online is False:  # back: what an outage left blank
            self.model.thumbnails.retry_hub()
        self._online = status.online

    def _rows_loaded(self) -> None:
        """Rows were read again: the detail pane and the commands follow the new objects."""
        current = self.current_item()
        if current != self.detail.item:
            self.detail.set_item(current)
        self._update_actions()

    # --- selection ----------------------------------------------------------------------------

    def selected_items(self) -> list[LibraryItem]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedRows())
        return [self.model.item_at(r) for r in rows if r < self.model.rowCount()]

    def current_item(self) -> LibraryItem | None:
        index = self.view.selectionModel().currentIndex()
        if not index.isValid() or not self.view.selectionModel().isRowSelected(index.row()):
            return None
        li = index.data(OBJECT_ROLE)
        return li if isinstance(li, LibraryItem) else None

    def select_item(self, item_id: str) -> bool:
        """Make ``item_id`` the current, only selected row (False when it is not loaded)."""
        row = self.model.row_of(item_id)
        if row is None:
            return False
        select_row(self.view, row)
        self.view.scrollTo(self.model.index(row, COL_TITLE))
        return True

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        self.detail.set_item(self.current_item())
        self._update_actions()
        self._check_files()

    def _check_files(self) -> None:
        """The library learns of a file deleted (or put back) by hand only when it looks: the
        selected items' files are looked at (off the GUI thread), so that Download is offered
        again for one that is gone (and the Library shows it missing too)."""
        ids = [li.id for li in self.selected_items() if li.files][:_CHECK_AT_MOST]
        if not ids:
            return
        library, bridge = self.services.library, self.bridge

        def done(report: CheckReport) -> None:
            if report.missing or report.restored:
                bridge.notify_library_changed(ids)  # this tab's rows and the Library's

        self._run(lambda: library.check_files(item_ids=ids), done)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._read_timer.start()
        else:
            self._read_timer.stop()

    def _update_actions(self) -> None:
        items = self.selected_items()
        self.download_action.setEnabled(any(can_download(li, "broadcast") for li in items))
        self.download_proxy_action.setEnabled(any(can_download(li, "proxy") for li in items))
        self.preview_action.setEnabled(len(items) == 1 and preview_file_ready(items[0]))

    def _mark_current_read(self) -> None:
        li = self.current_item()
        if li is None or li.read:
            return
        library, item_id = self.services.library, li.id

        def done(_changed: int) -> None:
            self.model.set_read([item_id])
            self.update_unread()

        self._run(lambda: library.mark_read([item_id]), done, self._failure_handler())

    def mark_all_read(self) -> None:
        """Mark read what the filters and the search show (all of it, loaded or not)."""
        library, q = self.services.library, self.model.query()

        def done(_changed: int) -> None:
            self.model.refresh()
            self.update_unread()

        self._run(lambda: library.mark_all_read(q), done, self._failure_handler())

    # --- commands -----------------------------------------------------------------------------

    def download_selected(self, rendition: str = "broadcast") -> None:
        """Queue ``rendition`` of every selected item that has one (off the GUI thread); says
        what to do when nothing is selected."""
        items = self.selected_items()
        if not items:
            self._show_message(self.tr("Select an item first."), error=False)
            return
        withdrawn = [li for li in items if li.item.withdrawn]
        without = [
            li for li in items if li.item.rendition(rendition) is None and li not in withdrawn
        ]
        wanted = [(li.id, li.title) for li in items if li not in without and li not in withdrawn]
        problems: list[str] = [
            self.tr("“{title}” was withdrawn by the agency: it is not downloaded.").format(
                title=li.title
            )
            for li in withdrawn
        ]
        if without:
            names = {"broadcast": self.tr("broadcast"), "proxy": self.tr("proxy")}
            problems.append(
                self.tr("“{title}” has no {rendition} file.").format(
                    title=without[0].title, rendition=names.get(rendition, rendition)
                )
            )
        download = self.services.download

        def work() -> list[tuple[str, BaseException]]:
            failed: list[tuple[str, BaseException]] = []
            for item_id, title in wanted:
                try:
                    # a file here already is skipped (checked on disk, not only recorded)
                    download(item_id, rendition)
                except Exception as e:  # each item on its own: one failure stops no other
                    failed.append((title, e))
            return failed

        def done(failed: list[tuple[str, BaseException]]) -> None:
            here = [title for title, error in failed if isinstance(error, AlreadyDownloaded)]
            for title, error in failed:
                if not isinstance(error, AlreadyDownloaded):
                    problems.append(
                        self.tr("Could not download “{title}”: {error}").format(
                            title=title, error=engine_text.error_shown(error)
                        )
                    )
            if problems:
                if here:
                    problems.append(self._already_text(here))
                self.command_failed.emit("\n".join(problems))
            elif here:
                self._show_message(self._already_text(here), error=False)
            else:
                self.message.hide()
            self.model.refresh_items([item_id for item_id, _title in wanted])  # "Queued"

        if wanted:
            self._run(work, done, self._failure_handler())
        elif problems:
            self.command_failed.emit("\n".join(problems))

    def _download_proxy(self) -> None:
        self.download_selected("proxy")

    def preview_selected(self) -> None:
        items = self.selected_items()
        if len(items) == 1 and preview_file_ready(items[0]):
            self.preview_requested.emit(items[0].id)

    def _activated(self, index: QModelIndex) -> None:
        li = index.data(OBJECT_ROLE)
        if isinstance(li, LibraryItem) and preview_file_ready(li):
            self.preview_requested.emit(li.id)

    def _run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        run_while_alive(self, self.tasks, fn, on_done, on_error)

    def _failure_handler(self) -> Callable[[BaseException], None]:
        def failed(error: BaseException) -> None:
            self.command_failed.emit(self.tr("Something went wrong: {error}").format(error=error))

        return failed

    def _already_text(self, titles: list[str]) -> str:
        if len(titles) == 1:
            return self.tr("Already downloaded: “{title}”").format(title=titles[0])
        return self.tr("Already downloaded: “{title}” and %Ln more", "", len(titles) - 1).format(
            title=titles[0]
        )

    def _show_failure(self, text: str) -> None:
        self._show_message(text, error=True)

    def _show_message(self, text: str, *, error: bool) -> None:
        colors.tint(self.message, colors.ERROR if error else None)
        say(self.message, text, assertive=error)

    # --- language -----------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.download_action.setText(self.tr("&Download"))
        self.download_action.setToolTip(
            self.tr("Download the broadcast file of the selected items")
        )
        self.download_proxy_action.setText(self.tr("Download &proxy"))
        self.download_proxy_action.setToolTip(
            self.tr("Download the small preview file of the selected items")
        )
        self.preview_action.setText(self.tr("Pre&view"))
        self.preview_action.setToolTip(self.tr("Play the downloaded file in the Library"))
        self.mark_all_read_action.setText(self.tr("Mark all &read"))
        self.mark_all_read_action.setToolTip(
            self.tr("Mark as read every item the filters and the search show")
        )
        for a in (
            self.download_action,
            self.download_proxy_action,
            self.preview_action,
            self.mark_all_read_action,
        ):
            tip_with_keys(a)
        self.toolbar.setAccessibleName(self.tr("Feed commands"))
        self.view.setAccessibleName(self.tr("Feed"))
        self.view.setAccessibleDescription(self.tr("Items pushed to this newsroom, newest first"))
        self.unread_label.setText(self.tr("%Ln unread", "", self.unread))
        self.model.retranslate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)


__all__ = ["FeedPanel", "preview_file_ready"]
