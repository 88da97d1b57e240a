"""The Library tab: the items with a file on this workstation, as a grid of thumbnails or a list.

Both views show one ``ItemsModel`` (``Query(downloaded=True, with_missing=True)`` narrowed by the
filter bar) and share one selection, so switching keeps what is selected. The detail pane shows
the item, what its file holds (the media worker's probe) and the player with the selected file
loaded.

The library learns of a file deleted (or put back) by hand only when it looks: the selected
items' files, and those of the rows shown when the tab is shown, are looked at on disk (off the
GUI thread). A file gone stays in sight, marked missing, with Download again; the commands that
need the file are off for it. The Feed follows (``CoreBridge.library_items_changed``: the
items concerned are read again, not every row).

Commands: Show in folder; Copy to… (a folder picked by the user, the copy made off the GUI
thread with its progress, never over an existing file: ``core.safe_names.unique_path`` and an
exclusive create; a file that cannot be copied does not stop the others, and the panel says
what was copied where and what was not); Delete local file (asked first; the record stays, so
the item keeps its history and can be downloaded again). ``show_item`` selects an item and
plays it (the Feed's preview). The player's keys (Space, F, M, comma, full stop) act while the
focus is in the grid, the list or the detail too, not only in the player; the search box keeps
them for typing, and the grid and the list for their type-ahead search while a title is being
typed there (and a capital M or F, which starts one).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import (
    QDir,
    QEvent,
    QItemSelection,
    QLocale,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.library import (
    INTACT,
    CheckReport,
    LibraryFile,
    LibraryItem,
    Query,
    VerifyStopped,
)
from alu_client.core.safe_names import unique_path
from alu_client.core.services import AlreadyDownloaded, Services

from .. import engine_text, formats, plain_text, reveal
from ..a11y import say
from ..bridge import CoreBridge
from ..delegates_items import item_grid, item_table
from ..models import OBJECT_ROLE
from ..models.items import COL_THUMB, COL_TITLE, ItemsModel
from ..os_text import os_error_text
from ..table_room import TableFirst
from ..tasks import TaskRunner
from ..widgets.toolbar import Toolbar
from . import item_detail, on_open, tip_with_keys
from .filters import FilterBar, run_while_alive
from .item_detail import ItemDetail, preferred_file
from .row_keys import follow_keyboard, keys_when_disabled

log = logging.getLogger(__name__)
PLAYER_MODULE = "alu_client.ui.widgets.player"
# at most this many items have their files looked at on disk at a time (selected, or shown)
_CHECK_AT_MOST = 100


def missing_renditions(li: LibraryItem) -> list[str]:
    """The renditions of ``li`` whose file is recorded missing (deleted or moved by hand)."""
    return [f.rendition for f in li.files if f.state == "missing"]


def shown_file(li: LibraryItem) -> LibraryFile | None:
    """The file Show in folder points at: the one here, else one recorded missing (a file cut
    short or written over is still in its folder; else the folder is opened)."""
    return preferred_file(li) or next((f for f in li.files if f.state == "missing"), None)


@dataclass
class Redownload:
    """What Download again did: the items queued, those whose file proved intact (the
    ones verified: nothing to fetch), and the failures (title, error)."""

    queued: list[str] = field(default_factory=list)
    intact: list[tuple[str, item_detail.FileKey]] = field(default_factory=list)
    failed: list[tuple[str, BaseException]] = field(default_factory=list)
    # (title, file name) of damaged files deleted once their new download was queued
    replaced: list[tuple[str, str]] = field(default_factory=list)


T = TypeVar("T")


class CopyCanceled(Exception):
    """The user stopped a copy; ``outcome`` holds the files copied whole before that."""

    def __init__(self, outcome: CopyOutcome) -> None:
        super().__init__("copy stopped")
        self.outcome = outcome


@dataclass
class CopyOutcome:
    """What ``copy_files`` did: the new paths, and the sources not copied with the reason."""

    made: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, OSError]] = field(default_factory=list)


def copy_files(
    sources: list[Path],
    folder: Path,
    progress: Callable[[int, int], None],
    cancel: threading.Event,
) -> CopyOutcome:
    """Copy ``sources`` into ``folder`` under names not taken (never overwriting: the target is
    created exclusively); a copy stopped half-way is removed. A file that cannot be copied (gone,
    unreadable, the folder full or read-only) is told in the outcome and the others are still
    copied; a cancel raises ``CopyCanceled``."""
    total = 0
    for src in sources:
        with contextlib.suppress(OSError):  # told when its copy fails
            total += src.stat().st_size
    done = 0
    outcome = CopyOutcome()
    last = 0.0
    for src in sources:
        dest: Path | None = None
        try:
            for _attempt in range(20):
                dest = unique_path(folder, src.name)
                try:
                    out = dest.open("xb")
                except FileExistsError:  # somebody took the name meanwhile: the next one
                    continue
                break
            else:
                raise FileExistsError(dest)
            try:
                with out, src.open("rb") as inp:
                    while chunk := inp.read(1 << 20):
                        if cancel.is_set():
                            raise CopyCanceled(outcome)
                        out.write(chunk)
                        done += len(chunk)
                        if time.monotonic() - last > 0.1:
                            last = time.monotonic()
                            progress(done, total)
                shutil.copystat(src, dest)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
        except OSError as e:  # this one is not copied; the others still are
            outcome.failed.append((src, e))
            continue
        outcome.made.append(dest)
    progress(done, total)
    return outcome


class _CopyProgress(QObject):
    """Carries progress from the copying thread to the GUI thread (a queued signal)."""

    moved = Signal(int, int)


def _load_player(parent: QWidget) -> Any | None:
    """The player widget, when the app has one (built separately; the tab works without)."""
    try:
        module = importlib.import_module(PLAYER_MODULE)
    except ImportError:
        log.info("no player widget: the Library shows files without playing them")
        return None
    return module.PlayerWidget(parent)


class LibraryPanel(QWidget):
    """``LibraryPanel(services, bridge, tasks, parent=None)``.

    Signals: ``command_failed(str)`` (also shown in the panel); ``copied(list)`` (the new
    paths, when a copy has ended; the panel says what was copied and what was not).
    """

    command_failed = Signal(str)
    copied = Signal(list)

    def __init__(
        self,
        services: Services,
        bridge: CoreBridge,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        page_size: int = 100,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.bridge = bridge
        self.tasks = tasks
        self.base_query = Query(downloaded=True, with_missing=True)
        self.model = ItemsModel(services.library, self, page_size=page_size)
        self.filters = FilterBar(self)
        self.loaded_path: Path | None = None
        self._loaded_key: item_detail.FileKey | None = None  # the file loaded, as recorded
        self._first = "broadcast"  # the rendition a selected item plays
        self._loaded_first = "broadcast"  # the one asked for the file loaded (a preview: proxy)
        self._loaded_item = ""  # the item whose file is loaded
        self._copy_cancel: threading.Event | None = None
        self._copy_tasks = TaskRunner(self)
        # Download again's checksums: long reads, on a runner of their own (the commands'
        # one keeps Pause and Cancel in order and must not wait behind them); stopped at the
        # app's end (``stop_background``)
        self._verify_tasks = TaskRunner(self)
        self._verify_stop = threading.Event()
        self._check_when_loaded = False  # shown before its rows were read: look once they are
        # files here that the player could not open: suspect (damaged?), to be checked and
        # downloaded again (Download again); those then found intact (the bytes verified)
        # (by path and verification time: a file downloaded again is another)
        self._unplayable: set[item_detail.FileKey] = set()
        self._intact: set[item_detail.FileKey] = set()

        self.grid = item_grid(self.model, self, "library-grid")
        self.table = item_table(self.model, self, "library-table")
        for view in (self.grid, self.table):
            view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
            on_open(view, lambda _index: self.play_current())  # double-click, Enter
            # the keyboard's item is the selected one (after a delete: the next one); Shift+F10
            follow_keyboard(view)
        self.selection = self.table.selectionModel()
        self.grid.setSelectionModel(self.selection)
        self.views = QStackedWidget(self)
        self.views.addWidget(self.grid)
        self.views.addWidget(self.table)

        self.detail = ItemDetail(self, show_file=True, member=services.library.member)
        self.detail.setObjectName("library-detail")
        self.detail.delete_files_requested.connect(lambda li: self.ask_delete([li]))
        self.player = _load_player(self)
        self.side = QSplitter(Qt.Orientation.Vertical, self)
        self.side.setObjectName("library-side")
        if self.player is not None:
            self.side.addWidget(self.player)
        self.side.addWidget(self.detail)
        if self.player is not None:
            # half of the side for the picture, half for the detail (it scrolls): left to the
            # size hints the detail took nearly all of it, a 164×92 picture at 1366×768
            self.side.setStretchFactor(0, 1)
            self.side.setStretchFactor(1, 1)
            self.side.setSizes([1, 1])
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("library-splitter")
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([700, 500])
        TableFirst(self.splitter, self.table)  # (the side gives way before the list's title)
        if self.player is not None:
            # the player's keys act from the grid, the list and the detail too (a clip just
            # clicked or previewed), not only from the player itself; in the grid and the list
            # not while a title is being typed there (its letters find it)
            self.player.add_key_scope(self.views)
            self.player.add_key_scope(self.detail)
            self.player.error_occurred.connect(self._player_failed)

        self.grid_action = QAction(self)
        self.list_action = QAction(self)
        modes = QActionGroup(self)
        for a in (self.grid_action, self.list_action):
            a.setCheckable(True)
            modes.addAction(a)
        self.grid_action.setChecked(True)
        self.grid_action.triggered.connect(lambda: self.set_mode("grid"))
        self.list_action.triggered.connect(lambda: self.set_mode("list"))
        self.show_folder_action = QAction(self)
        self.open_file_action = QAction(self)
        self.copy_action = QAction(self)
        self.delete_action = QAction(self)
        self.download_action = QAction(self)
        # Every command has keys and is in the views' context menu (Menu key, Shift+F10): the
        # toolbar's buttons take no focus. Delete is the views' own (the search box deletes
        # text with it); the others work anywhere in the panel.
        for a, keys in (
            (self.grid_action, QKeySequence("Ctrl+Shift+G")),
            (self.list_action, QKeySequence("Ctrl+Shift+L")),
            (self.show_folder_action, QKeySequence("Ctrl+Shift+O")),
            (self.open_file_action, QKeySequence("Ctrl+Shift+Return")),
            (self.copy_action, QKeySequence("Ctrl+Shift+C")),
            (self.delete_action, QKeySequence(QKeySequence.StandardKey.Delete)),
            (self.download_action, QKeySequence("Ctrl+D")),  # as in the Feed
        ):
            a.setShortcut(keys)
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            (self.views if a is self.delete_action else self).addAction(a)
        separator = QAction(self)
        separator.setSeparator(True)
        for view in (self.grid, self.table):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
            view.addActions(
                [self.show_folder_action, self.open_file_action, self.copy_action,
                 self.delete_action, self.download_action, separator, self.grid_action,
                 self.list_action]
            )  # fmt: skip
        self.show_folder_action.triggered.connect(self.show_in_folder)
        self.open_file_action.triggered.connect(self.open_file)
        self.copy_action.triggered.connect(self.ask_copy_to)
        self.delete_action.triggered.connect(self.delete_selected)
        self.download_action.triggered.connect(self.download_again)
        # (their keys with nothing selected say so: they did nothing, and nothing said why)
        for a in (self.show_folder_action, self.open_file_action, self.copy_action):
            keys_when_disabled(a, self, self._explain_nothing_selected)
        keys_when_disabled(self.download_action, self, self._explain_nothing_selected)
        keys_when_disabled(self.delete_action, self.views, self._explain_nothing_selected)
        self.toolbar = Toolbar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addActions([self.grid_action, self.list_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions(
            [
                self.show_folder_action,
                self.open_file_action,
                self.copy_action,
                self.delete_action,
                self.download_action,
            ]
        )

        self.copy_progress = QProgressBar(self)
        self.copy_progress.setObjectName("copy-progress")
        self.copy_cancel_button = QPushButton(self)
        self.copy_cancel_button.clicked.connect(self.cancel_copy)
        self._progress = _CopyProgress(self)
        self._progress.moved.connect(self._copy_moved, Qt.ConnectionType.QueuedConnection)
        self.message = QLabel(self)
        self.message.setObjectName("library-message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.command_failed.connect(self._show_failure)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(6, 0, 6, 0)
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.copy_progress)
        bottom.addWidget(self.copy_cancel_button)
        self._show_copying(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)

        self.filters.changed.connect(self.apply_filters)
        self.selection.selectionChanged.connect(self._selection_changed)
        self.model.rows_loaded.connect(self._rows_loaded)
        self.model.load_failed.connect(self.command_failed)
        # a download recorded, a file probed: only those items read again
        bridge.library_items_changed.connect(self.model.refresh_items)
        self._retranslate()
        self._update_actions()
        self.apply_filters()
        self.filters.load_choices(services.library, tasks)

    # --- what is shown ------------------------------------------------------------------------

    def apply_filters(self) -> None:
        self.model.set_query(self.filters.query(self.base_query, hub_offset=self.model.hub_offset))

    def set_mode(self, mode: str) -> None:
        """``grid`` (thumbnails) or ``list`` (a table); the selection stays."""
        grid = mode != "list"
        self.views.setCurrentWidget(self.grid if grid else self.table)
        (self.grid_action if grid else self.list_action).setChecked(True)

    @property
    def mode(self) -> str:
        """``grid`` or ``list``: what ``set_mode`` chose (the window keeps it for next time)."""
        return "grid" if self.views.currentWidget() is self.grid else "list"

    def layout_parts(self) -> dict[str, QSplitter | QTableView]:
        """The splitters and the list whose sizes the window keeps for the next start
        (``layout_memory``; the keys are window.ini's)."""
        return {"splitter": self.splitter, "side": self.side, "list_columns": self.table}

    @property
    def current_view(self) -> QAbstractItemView:
        return self.grid if self.views.currentWidget() is self.grid else self.table

    def _explain_nothing_selected(self) -> None:
        if not self.selected_items():
            say(self.message, self.tr("Select an item first."))

    def selected_items(self) -> list[LibraryItem]:
        rows = sorted({i.row() for i in self.selection.selectedIndexes()})
        return [self.model.item_at(r) for r in rows if r < self.model.rowCount()]

    def current_item(self) -> LibraryItem | None:
        index = self.selection.currentIndex()
        if not index.isValid() or not self.selection.isRowSelected(index.row()):
            items = self.selected_items()
            return items[0] if len(items) == 1 else None
        li = index.data(OBJECT_ROLE)
        return li if isinstance(li, LibraryItem) else None

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        li = self.current_item()
        self.detail.set_item(li)
        self._update_actions()
        f = preferred_file(li, self._first) if li is not None else None
        if f is not None:
            self._load(f, self._first)
        elif li is not None:  # its file is missing: nothing of another item stays on screen
            self._unload()
        self._check_files([item.id for item in self.selected_items()])

    def _rows_loaded(self) -> None:
        li = self.current_item()
        if li is not None and li != self.detail.item:
            self.detail.set_item(li)
        elif li is None and self.detail.item is not None and not self.detail.item.downloaded:
            self.detail.set_item(None)
        if li is not None:
            self._follow(li)
        self._update_actions()
        if self._check_when_loaded and self.model.rowCount():
            self._check_when_loaded = False
            self._check_shown()

    def _update_actions(self) -> None:
        items = self.selected_items()
        have_files = any(preferred_file(li) for li in items)
        one = items[0] if len(items) == 1 else None
        # a file recorded missing may still be in its folder (cut short, written over): shown
        self.show_folder_action.setEnabled(one is not None and shown_file(one) is not None)
        self.open_file_action.setEnabled(one is not None and preferred_file(one) is not None)
        self.copy_action.setEnabled(have_files and self._copy_cancel is None)
        self.delete_action.setEnabled(have_files)
        self.download_action.setEnabled(
            any(
                (missing_renditions(li) or self._suspect(li)) and not li.item.withdrawn
                for li in items
            )
        )

    def _suspect(self, li: LibraryItem) -> LibraryFile | None:
        """The item's file here that may be damaged: the player could not open it, or the
        media worker could not examine it (not yet found intact by Download again)."""
        f = preferred_file(li)
        if f is None or item_detail.file_key(f) in self._intact:
            return None
        unplayable = item_detail.file_key(f) in self._unplayable
        return f if unplayable or (f.probe_error and not f.probe) else None

    def _player_failed(self, _message: str) -> None:
        """The player could not open the file loaded: it is gone (the disk check records it
        missing), or it is here and may be damaged (the detail says so; Download again)."""
        key = self._loaded_key
        li = self.current_item()
        if li is not None:
            self._check_files([li.id])  # gone, cut short: recorded missing
        if key is None or key in self._intact:
            return

        def here(is_file: bool) -> None:
            if is_file and key == self._loaded_key:
                self._unplayable.add(key)
                self.detail.notes[key] = item_detail.UNPLAYABLE
                if self.detail.item is not None:
                    self.detail.set_item(self.detail.item)
                self._update_actions()

        self._run(key[0].is_file, here)  # (off the GUI thread: a share may be slow)

    # --- the files on disk --------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.focusWidget() is None:  # the tab switch gives the focus to the first stop
            QTimer.singleShot(0, self, self._focus_first_time)
        self._check_shown()

    def _focus_first_time(self) -> None:
        """The tab, shown for the first time with the focus moved into it (Ctrl+3 from a
        table): the grid or the list, where its keys act, not the first stop (or the picture)."""
        focus = QApplication.focusWidget()
        if self.isVisible() and focus is not None and self.isAncestorOf(focus):
            self.current_view.setFocus(Qt.FocusReason.TabFocusReason)

    def _check_shown(self) -> None:
        """Look at the files of the rows read so far (the first ones: what the tab shows)."""
        rows = min(self.model.rowCount(), _CHECK_AT_MOST)
        if not rows:
            self._check_when_loaded = True
            return
        self._check_files([self.model.item_at(r).id for r in range(rows)])

    def _check_files(self, ids: list[str]) -> None:
        """Look at the files of ``ids`` on disk (off the GUI thread): one deleted by hand is
        recorded missing, one put back present; the Library and the Feed then show it so."""
        ids = ids[:_CHECK_AT_MOST]
        if not ids:
            return
        library, bridge = self.services.library, self.bridge

        def done(report: CheckReport) -> None:
            if report.missing or report.restored:
                bridge.notify_library_changed(ids)

        self._run(lambda: library.check_files(item_ids=ids), done)

    # --- the player ---------------------------------------------------------------------------

    def _load(self, f: LibraryFile, first: str = "broadcast", position: int = 0) -> None:
        """Load ``f`` (asked for as rendition ``first``) paused on its frame at ``position``."""
        self._loaded_first = first
        if self.player is not None and f.path != self.loaded_path:
            self.loaded_path, self._loaded_item = f.path, f.item_id
            self._loaded_key = item_detail.file_key(f)
            fps = (f.probe or {}).get("fps") or None
            self.player.load(f.path, fps, f.rendition, position)

    def _follow(self, li: LibraryItem) -> None:
        """Keep the player on the file the selected item has now, once its files were looked
        at on disk: the proxy when the broadcast file it had is found missing, the broadcast
        file when it is back, a file put back when there was none, nothing when none is left.
        The player stayed on a file the detail no longer described (or on the error of a file
        gone, Play greyed out), or empty until the item was selected again. A clip playing
        goes on, in the other file, from where it was."""
        if self.player is None:
            return
        f = preferred_file(li, self._loaded_first)
        if f is None:
            self._unload()  # the file it played was found missing
        elif f.path != self.loaded_path:
            same = self.loaded_path is not None and self._loaded_item == li.id
            playing = same and self.player.is_playing()
            position = self.player.player.position() if same else 0
            self._load(f, self._loaded_first, position)
            if playing:
                self.player.play()

    def _unload(self) -> None:
        if self.player is not None and self.loaded_path is not None:
            self.player.clear()
            self.loaded_path = self._loaded_key = None

    def play_current(self) -> None:
        li = self.current_item()
        if li is not None:
            self._play(li, "broadcast")

    def show_item(self, item_id: str) -> None:
        """Select ``item_id`` and play it (the proxy first: it is what a preview is for)."""
        row = self.model.row_of(item_id)
        if row is None:  # not among the rows shown (filtered out, not read yet): show it anyway
            get = self.services.library.get
            self._run(lambda: get(item_id), self._show_loose, self._failure_handler())
            return
        view = self.current_view
        index = self.model.index(row, COL_THUMB if view is self.grid else COL_TITLE)
        self._first = "proxy"
        try:
            view.setCurrentIndex(index)
            view.scrollTo(index)
        finally:
            self._first = "broadcast"
        view.setFocus(Qt.FocusReason.OtherFocusReason)  # Space pauses what starts playing
        self._play(self.model.item_at(row), "proxy")

    def _show_loose(self, li: LibraryItem | None) -> None:
        if li is not None:
            self.selection.clearSelection()
            self.detail.set_item(li)
            self.current_view.setFocus(Qt.FocusReason.OtherFocusReason)
            self._play(li, "proxy")

    def _play(self, li: LibraryItem, first: str) -> None:
        f = preferred_file(li, first)
        if f is not None and self.player is not None:
            self._load(f, first)
            self.player.play()

    # --- commands -----------------------------------------------------------------------------

    def show_in_folder(self) -> None:
        """Open the file's folder with the file selected where the system allows it (a file
        recorded missing too: one cut short or written over is there); a folder gone is said."""
        li = self.current_item()
        f = shown_file(li) if li is not None else None
        if f is None:
            return
        path = f.path

        def look() -> tuple[bool, bool]:  # (off the GUI thread: a share may be slow)
            return path.is_file(), path.parent.is_dir()

        def looked(found: tuple[bool, bool]) -> None:
            is_file, has_folder = found
            if not has_folder:
                self.command_failed.emit(
                    self.tr("The folder {folder} is not there any more.").format(
                        folder=formats.isolated(QDir.toNativeSeparators(str(path.parent)))
                    )
                )
                return
            reveal.reveal(path, self, exists=is_file)

        self._run(look, looked, self._failure_handler())

    def open_file(self) -> None:
        """Open the selected item's file with the system's own application for it (its
        player, an editor)."""
        li = self.current_item()
        f = preferred_file(li) if li is not None else None
        if f is not None and not reveal.open_file(f.path):
            self.command_failed.emit(
                self.tr("No application of this workstation opened {name}.").format(
                    name=formats.isolated(f.path.name)
                )
            )

    def ask_copy_to(self) -> None:
        """Ask for a folder (without blocking), then copy the selected files there."""
        dialog = QFileDialog(self, self.tr("Copy to folder"))
        dialog.setObjectName("copy-to-dialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setLabelText(QFileDialog.DialogLabel.Accept, self.tr("Copy here"))
        dialog.fileSelected.connect(lambda folder: self.copy_selected_to(Path(folder)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def copy_selected_to(self, folder: Path) -> None:
        files = [f for li in self.selected_items() if (f := preferred_file(li))]
        sources = [f.path for f in files]
        if not sources or self._copy_cancel is not None:
            return
        # the proxy of an item whose broadcast file is not here: said so when copied
        proxies = {f.path for f in files if f.rendition == "proxy"}
        cancel = self._copy_cancel = threading.Event()
        self.message.hide()
        self._show_copying(True)
        self.copy_progress.setRange(0, 0)
        self._update_actions()
        progress = self._progress.moved.emit

        def done(outcome: CopyOutcome) -> None:
            self._copy_ended()
            self._say_copied(outcome, folder, proxies)
            self.copied.emit(outcome.made)

        def failed(error: BaseException) -> None:
            self._copy_ended()
            if isinstance(error, CopyCanceled):
                self._say_stopped(error.outcome, folder, len(sources))
                self.copied.emit(error.outcome.made)
            else:
                self.command_failed.emit(
                    self.tr("Could not copy to {folder}: {error}").format(
                        folder=formats.isolated(QDir.toNativeSeparators(str(folder))),
                        error=os_error_text(error),
                    )
                )

        self._copy_tasks.run(lambda: copy_files(sources, folder, progress, cancel), done, failed)

    def _say_copied(
        self, outcome: CopyOutcome, folder: Path, proxies: set[Path] | None = None
    ) -> None:
        where = formats.isolated(QDir.toNativeSeparators(str(folder)))
        made, failed = len(outcome.made), len(outcome.failed)
        failed_sources = {src for src, _error in outcome.failed}
        copied_proxies = sorted(p.name for p in (proxies or set()) - failed_sources)
        proxy_note = (
            " "
            + self.tr(
                "%Ln files are the low-resolution proxy, their broadcast file not being on this "
                "workstation: {names}",
                "",
                len(copied_proxies),
            ).format(names=", ".join(formats.isolated(n) for n in copied_proxies))
            if copied_proxies
            else ""
        )
        reasons = "; ".join(
            f"{formats.isolated(src.name)} ({os_error_text(error)})"
            for src, error in outcome.failed
        )
        if not failed:
            text = self.tr("Copied %Ln files to {folder}", "", made).format(folder=where)
            say(self.message, text + proxy_note)
        elif not made:
            self.command_failed.emit(
                self.tr("Could not copy to {folder}: {error}").format(folder=where, error=reasons)
            )
        else:
            self.command_failed.emit(
                self.tr(
                    "Copied %Ln of {total} files to {folder}; not copied: {failed}", "", made
                ).format(
                    total=QLocale().toString(made + failed),
                    folder=where,
                    failed=reasons,
                )
                + proxy_note
            )

    def _say_stopped(self, outcome: CopyOutcome, folder: Path, total: int) -> None:
        """A copy the user stopped: what is in the folder now (whole files only; the one being
        copied was removed)."""
        where = formats.isolated(QDir.toNativeSeparators(str(folder)))
        if outcome.made:
            text = self.tr(
                "Copy stopped: %Ln of {total} files copied to {folder}", "", len(outcome.made)
            ).format(
                total=QLocale().toString(total),
                folder=where,
            )
        else:
            text = self.tr("Copy stopped: nothing was copied to {folder}").format(folder=where)
        say(self.message, text)

    def cancel_copy(self) -> None:
        if self._copy_cancel is not None:
            self._copy_cancel.set()

    def _copy_moved(self, done: int, total: int) -> None:
        if total > 0:
            # per mille: sizes above 2 GiB do not fit the bar's int
            self.copy_progress.setRange(0, 1000)
            self.copy_progress.setValue(round(1000 * done / total))

    def _copy_ended(self) -> None:
        self._copy_cancel = None
        self._show_copying(False)
        self._update_actions()

    def _show_copying(self, on: bool) -> None:
        self.copy_progress.setVisible(on)
        self.copy_cancel_button.setVisible(on)

    def delete_selected(self) -> None:
        """Ask first, then delete the selected items' local files (records kept)."""
        self.ask_delete(self.selected_items())

    def ask_delete(self, chosen: list[LibraryItem]) -> None:
        """Ask first, then delete the local files of ``chosen`` (records kept): the selected
        items, or a withdrawn item's from its banner (here or in the Feed)."""
        items = [li for li in chosen if preferred_file(li)]
        if not items:
            return
        box = QMessageBox(self)
        box.setObjectName("confirm-delete")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Delete local files"))
        if len(items) == 1:
            text = self.tr("Delete the local file of “{title}”?").format(title=items[0].title)
            box.setText(plain_text.shown_as_typed(text))  # (any member's title: as typed)
        else:
            box.setText(self.tr("Delete the local files of %Ln items?", "", len(items)))
        # the item leaves the Library tab (it has no file here any more); the Feed keeps it
        box.setInformativeText(
            self.tr(
                "The %Ln items stay in the Feed and can be downloaded again there.", "", len(items)
            )
        )
        yes = box.addButton(self.tr("Delete file"), QMessageBox.ButtonRole.DestructiveRole)
        yes.setObjectName("confirm-delete-yes")
        keep = box.addButton(self.tr("Keep"), QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("confirm-delete-no")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        targets = [(li.id, f.rendition, f.path) for li in items for f in li.files if f.present]

        def answered() -> None:
            if box.clickedButton() is yes:
                self._delete(targets)
            box.deleteLater()

        box.finished.connect(answered)
        box.open()

    def download_again(self) -> None:
        """Queue again the missing files of the selected items, and those of their files here
        that may be damaged (the player or the media worker could not open them): such a file
        is read whole first (on a runner of its own: the commands' runner is not held up by a
        2 GB read) and its checksum compared with the one verified. Damaged, it is set aside
        under a name of its own beside it, its new download queued (verified, as every
        download) at its name, and only then deleted; a download refused puts it back.
        Intact, it stays and the panel says so. All of it off the GUI thread."""
        items = [li for li in self.selected_items() if not li.item.withdrawn]
        wanted = [(li.id, li.title, r) for li in items for r in missing_renditions(li)]
        suspects = [(li.id, li.title, f) for li in items if (f := self._suspect(li)) is not None]
        if not wanted and not suspects:
            return
        if self.loaded_path in {f.path for _i, _t, f in suspects}:
            self._unload()  # let go of the file: it may be renamed (Windows would refuse)
        library, download = self.services.library, self.services.download
        stop = self._verify_stop

        def fetch(item_id: str, title: str, rendition: str, out: Redownload) -> bool:
            try:
                download(item_id, rendition)
            except AlreadyDownloaded:  # put back meanwhile: nothing to fetch
                return True
            except Exception as e:
                out.failed.append((title, e))
                return False
            out.queued.append(item_id)
            return True

        def work() -> Redownload:
            out = Redownload()
            for item_id, title, rendition in wanted:
                fetch(item_id, title, rendition, out)
            for item_id, title, f in suspects:
                try:
                    if library.verify_file(item_id, f.rendition, stop=stop) == INTACT:
                        out.intact.append((title, item_detail.file_key(f)))
                        continue
                    aside = library.set_aside_damaged(item_id, f.rendition)
                except VerifyStopped:
                    return out  # the app is ending
                except Exception as e:  # each on its own: one failure stops no other
                    out.failed.append((title, e))
                    continue
                if not fetch(item_id, title, f.rendition, out):
                    if aside is not None:
                        library.put_back(item_id, f.rendition, *aside)
                    continue
                if aside is not None:
                    try:
                        library.drop_aside(aside[1])
                    except OSError as e:
                        log.warning("the damaged copy %s stays: %s", aside[1], e)
                    out.replaced.append((title, f.path.name))
            return out

        def done(out: Redownload) -> None:
            for _title, key in out.intact:
                self._intact.add(key)
                self._unplayable.discard(key)
                self.detail.notes[key] = item_detail.INTACT
            problems = [
                self.tr("Could not download “{title}”: {error}").format(
                    title=title, error=engine_text.error_shown(error)
                )
                for title, error in out.failed
            ]
            notes = [
                self.tr(
                    "“{title}”: {name} was damaged (its checksum differs); it was deleted and a "
                    "verified copy is being downloaded in its place."
                ).format(title=title, name=formats.isolated(name))
                for title, name in out.replaced
            ]
            notes += [
                self.tr(
                    "“{title}”: {name} is the file that was downloaded and verified (its "
                    "checksum matches); it was not downloaded again. Open file opens it with "
                    "this workstation's own player."
                ).format(title=title, name=formats.isolated(key[0].name))
                for title, key in out.intact
            ]
            if problems:
                self.command_failed.emit("\n".join(problems + notes))
            elif notes:
                say(self.message, "\n".join(notes))  # not a failure: the panel's own note
            else:
                self.message.hide()
            ids = [item_id for item_id, _t, _r in wanted] + [i for i, _t, _f in suspects]
            self.bridge.notify_library_changed(ids)
            li = self.current_item()
            if li is not None:
                self.detail.set_item(li)
            self._update_actions()

        run_while_alive(self, self._verify_tasks, work, done, self._failure_handler())

    def stop_background(self) -> None:
        """At the app's end: a file's check (Download again) and a copy stop between two
        reads, so that the app's end waits for neither."""
        self._verify_stop.set()
        self.cancel_copy()

    def _delete(self, targets: list[tuple[str, str, Path]]) -> None:
        if self.loaded_path in {p for _i, _r, p in targets}:
            # Let go of the file (stop() keeps it open: Windows would refuse the delete).
            self._unload()
        library = self.services.library

        def work() -> list[Exception]:
            problems: list[Exception] = []
            for item_id, rendition, _path in targets:
                try:
                    library.remove_file(item_id, rendition)
                except Exception as e:  # the others are still deleted
                    problems.append(e)
            return problems

        def done(problems: list[Exception]) -> None:
            if problems:
                # the core's sentences (LibraryError) in the user's language
                self.command_failed.emit(
                    self.tr("Some files were not deleted: {reasons}").format(
                        reasons=" ".join(engine_text.error_shown(e) for e in problems)
                    )
                )
            ids = [item_id for item_id, _rendition, _path in targets]
            self.bridge.notify_library_changed(ids)
            self.model.refresh_items(ids)

        self._run(work, done, self._failure_handler())

    def _run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        run_while_alive(self, self.tasks, fn, on_done, on_error)

    def _failure_handler(self) -> Callable[[BaseException], None]:
        def failed(error: BaseException) -> None:
            self.command_failed.emit(
                self.tr("Something went wrong: {error}").format(
                    error=engine_text.error_shown(error)
                )
            )

        return failed

    def _show_failure(self, text: str) -> None:
        say(self.message, text, assertive=True)

    # --- language -----------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.grid_action.setText(self.tr("&Grid"))
        self.grid_action.setToolTip(self.tr("Show thumbnails"))
        self.list_action.setText(self.tr("&List"))
        self.list_action.setToolTip(self.tr("Show a table"))
        self.show_folder_action.setText(self.tr("Show in &folder"))
        self.show_folder_action.setToolTip(
            self.tr("Open the folder that holds the file, with the file selected")
        )
        self.copy_action.setText(self.tr("&Copy to…"))
        self.copy_action.setToolTip(self.tr("Copy the selected files to another folder"))
        self.delete_action.setText(self.tr("&Delete local file"))
        self.delete_action.setToolTip(
            self.tr("Delete the file from this workstation; the item stays in the library")
        )
        self.download_action.setText(self.tr("Download &again"))
        self.download_action.setToolTip(
            self.tr(
                "Download again the files of the selected items that are missing or damaged "
                "(a file that cannot be played is checked first)"
            )
        )
        self.open_file_action.setText(self.tr("&Open file"))
        self.open_file_action.setToolTip(
            self.tr("Open the file with this workstation's own player or editor")
        )
        for a in (
            self.grid_action,
            self.list_action,
            self.show_folder_action,
            self.open_file_action,
            self.copy_action,
            self.delete_action,
            self.download_action,
        ):
            tip_with_keys(a)
        self.copy_cancel_button.setText(self.tr("Stop copying"))
        self.copy_progress.setAccessibleName(self.tr("Copy progress"))
        self.toolbar.setAccessibleName(self.tr("Library commands"))
        self.grid.setAccessibleName(self.tr("Library thumbnails"))
        self.table.setAccessibleName(self.tr("Library list"))
        self.model.retranslate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)


__all__ = ["CopyOutcome", "LibraryPanel", "copy_files", "preferred_file"]
