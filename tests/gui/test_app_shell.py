"""The application shell: the main window with the real panels over real Services signed in to
a real hub on loopback, its status bar, tray behaviour, drops, menu commands, language, the
single-instance guard, and ``python -m alu_client.app --demo`` in a subprocess."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QShowEvent, QStatusTipEvent
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QSystemTrayIcon,
    QWidget,
)

from alu_client import __version__
from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.sync import SyncStatus
from alu_client.core.transfers.queue import Progress
from alu_client.core.transfers.schedule import Schedule, ScheduleRule
from alu_client.ui import main_window as main_window_module
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.composition import RealPanels, Unavailable
from alu_client.ui.formats import isolated
from alu_client.ui.i18n import install_translators
from alu_client.ui.main_window import TAB_FEED, TAB_LIBRARY, MainWindow
from alu_client.ui.models.items import COL_TITLE
from alu_client.ui.screen_fit import FRAME_ALLOWANCE, fit_to_screen, room_on_screen
from alu_client.ui.single_instance import NotAnswering, SingleInstance, instance_key
from alu_client.ui.statusbar import Activity, StatusBar, TransferActivity, newer_version
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.feed import FeedPanel, preview_file_ready
from alu_client.ui.views.history import HistoryPanel
from alu_client.ui.views.library import LibraryPanel
from alu_client.ui.views.settings import SettingsDialog
from alu_client.ui.views.upload import UploadDialog
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-shell-1234"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Shell:
    window: MainWindow
    services: Services
    hub: LiveHub
    panels: Any


def make_paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


def signed_in_services(live_hub: LiveHub, root: Path) -> Services:
    live_hub.member("ktn", PASSWORD)
    paths = make_paths(root)
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    sign_in(Profiles(store), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    store.close()
    return Services(paths, secrets)


class SimpleFeed(QLabel):
    unread_changed = Signal(int)
    preview_requested = Signal(str)


class FocusOnShow(QWidget):
    """Takes the focus as it is shown, as the player's picture does (its window is activated
    when the Library tab shows it)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.setFocus()


class SimpleLibrary(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("library", parent)
        self.shown: list[str] = []
        self.picture = FocusOnShow(self)
        self.grid = QListWidget(self)

    def show_item(self, item_id: str) -> None:
        self.shown.append(item_id)
        self.grid.setFocus()  # as the real Library focuses the item shown


class SimplePanels:
    """Plain widgets standing in for the panels; records what the window asks for."""

    def __init__(self) -> None:
        self.uploads: list[list[QUrl]] = []

    def feed(self, parent: QWidget) -> QWidget:
        return SimpleFeed("feed", parent)

    def transfers(self, parent: QWidget) -> QWidget:
        return QLabel("transfers", parent)

    def library(self, parent: QWidget) -> QWidget:
        return SimpleLibrary(parent)

    def history(self, parent: QWidget) -> QWidget:
        return QLabel("history", parent)

    def open_upload(self, parent: QWidget, urls: list[QUrl]) -> None:
        self.uploads.append(list(urls))

    def open_settings(self, parent: QWidget) -> None:
        return None


def build_window(qtbot: Any, services: Services, panels: Any) -> MainWindow:
    settings = AppSettings(services.store, services.paths.downloads_dir)
    bridge = CoreBridge(services)
    tasks = TaskRunner()
    if panels is None:
        panels = RealPanels(services, settings, bridge, tasks)
    window = MainWindow(services, settings, bridge, tasks, panels)
    bridge.setParent(window)
    tasks.setParent(window)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def shell(qtbot: Any, live_hub: LiveHub, tmp_path: Path) -> Iterator[Shell]:
    """The window with the real panels (composition.RealPanels) and a started engine."""
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, None)
    yield Shell(window, services, live_hub, window.panels)
    window.shutdown()


@pytest.fixture
def plain(qtbot: Any, live_hub: LiveHub, tmp_path: Path) -> Iterator[Shell]:
    """The window with plain widgets for panels, over the same real core."""
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    panels = SimplePanels()
    window = build_window(qtbot, services, panels)
    yield Shell(window, services, live_hub, panels)
    window.shutdown()


def drop_files(window: QWidget, paths: list[Path]) -> None:
    """A real drag enter then drop with file URLs, as the window system delivers them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.rect().center())
    enter = QDragEnterEvent(
        pos.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def menu_action(window: MainWindow, menu: str, name: str) -> Any:
    m = window.actions_.menus[menu]
    found = [a for a in m.actions() if a.objectName() == f"action-{name}"]
    assert found, f"{name} is not in the {menu} menu"
    return found[0]


# --- the window with the real panels ----------------------------------------------------------


def test_tabs_status_and_feed_with_the_real_panels(qtbot: Any, shell: Shell, clip: Path) -> None:
    window = shell.window
    assert not [w for w in (window.feed, window.transfers) if isinstance(w, Unavailable)]
    texts = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert texts[0].startswith("Feed")
    assert texts[1:] == ["Transfers", "Library", "History"]
    host = QUrl(shell.hub.url).host()
    assert host in window.status.hub.text()
    assert host in window.windowTitle()
    # The sync reaches the hub: the status bar says online.
    qtbot.waitUntil(lambda: window.status.state == "online", timeout=20_000)
    assert window.status.connection.toolTip()
    # A new push reaches the feed: the tab title counts it as unread.
    shell.hub.publish(clip, title="Floods in the north", priority="flash")
    qtbot.waitUntil(lambda: window.tabs.tabText(TAB_FEED) == "Feed (1)", timeout=20_000)


def test_a_file_dropped_on_the_window_opens_the_upload_form(
    qtbot: Any, shell: Shell, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alu_client.ui.views import upload

    opened: list[list[Path]] = []

    def record(
        cls: Any, services: Any, tasks: Any, files: Any, parent: Any = None, **kw: Any
    ) -> None:
        opened.append([Path(f) for f in files])

    monkeypatch.setattr(upload.UploadDialog, "open_for", classmethod(record))
    drop_files(shell.window, [clip])
    qtbot.waitUntil(lambda: opened == [[clip]])


def test_pause_all_and_resume_all_from_the_menu(qtbot: Any, shell: Shell, clip: Path) -> None:
    services = shell.services
    queue = services.queue
    assert queue is not None
    queue.caps["download"] = 0  # nothing runs: the transfer stays queued until paused
    item_id = shell.hub.publish(clip, title="Market day in Dakar")
    tid = services.download(item_id)

    def state() -> str:
        t = queue.transfers.get(tid)
        return t.state if t else ""

    assert state() == "queued"
    menu_action(shell.window, "transfers", "pause-all").trigger()
    qtbot.waitUntil(lambda: state() == "paused")
    menu_action(shell.window, "transfers", "resume-all").trigger()
    qtbot.waitUntil(lambda: state() == "queued")


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def ambiguous(qtlog: Any) -> list[str]:
    """What Qt says when two shortcuts own one key (and it then runs neither)."""
    return [r.message for r in qtlog.records if "Ambiguous shortcut" in r.message]


def focus_in(qtbot: Any, window: MainWindow, widget: QWidget) -> None:
    window.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: window.isActiveWindow() and widget.hasFocus())


def test_f5_syncs_on_every_tab_and_on_history_reads_it_again(
    qtbot: Any,
    shell: Shell,
    qtlog: Any,
    monkeypatch: pytest.MonkeyPatch,
    announced: list[tuple[str, str]],
) -> None:
    window = shell.window
    history = window.history
    assert isinstance(history, HistoryPanel)
    sync = shell.services.sync
    assert sync is not None
    woken: list[bool] = []
    monkeypatch.setattr(sync, "sync_now", lambda: woken.append(True))
    qtbot.waitUntil(lambda: not history._refreshing)  # the first reading is done
    refreshed: list[bool] = []
    history.refreshed.connect(lambda: refreshed.append(True))
    window.tabs.setCurrentWidget(history)
    focus_in(qtbot, window, history.view)
    qtbot.keyClick(history.view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: refreshed == [True])
    assert woken == [True]  # one owner of F5: Sync now, which re-reads the tab shown
    # elsewhere F5 is Sync now
    window.tabs.setCurrentWidget(window.feed)
    feed_view = window.feed.view
    focus_in(qtbot, window, feed_view)
    qtbot.keyClick(feed_view, Qt.Key.Key_F5)
    assert woken == [True, True]
    assert window.status.currentMessage() == "Checking the hub for new items…"
    assert ("Checking the hub for new items…", "Polite") in announced  # the status bar's too
    assert ambiguous(qtlog) == []
    assert menu_action(window, "transfers", "sync-now").toolTip().endswith("(\u2066F5\u2069)")


def test_status_tips_are_not_announced_the_apps_messages_are(
    qtbot: Any,
    shell: Shell,
    monkeypatch: pytest.MonkeyPatch,
    announced: list[tuple[str, str]],
) -> None:
    """Every status-bar change was announced, status tips too: a screen reader repeated the
    tip of each toolbar button hovered and each context-menu item it had just read."""
    window = shell.window
    tipped = [a for a in window.transfers.findChildren(QAction) if a.statusTip()]
    assert tipped
    for action in tipped:  # what a menu does as its keyboard cursor moves over an item
        assert action.showStatusText(window.transfers)
        assert window.status.currentMessage() == action.statusTip()
    QApplication.sendEvent(window.transfers, QStatusTipEvent("Pause every transfer"))  # hover
    assert window.status.currentMessage() == "Pause every transfer"
    assert announced == []
    # the app's own messages are said: a command's failure interrupts
    queue = shell.services.queue
    assert queue is not None

    def refused() -> None:
        raise RuntimeError("The queue is closed.")

    monkeypatch.setattr(queue, "pause_all", refused)
    window.pause_all()
    qtbot.waitUntil(lambda: window.status.currentMessage() == "The queue is closed.")
    assert announced == [("The queue is closed.", "Assertive")]


def test_pause_all_and_resume_all_keys_work_on_every_tab(
    qtbot: Any, shell: Shell, clip: Path, qtlog: Any
) -> None:
    window = shell.window
    queue = shell.services.queue
    assert queue is not None
    queue.caps["download"] = 0  # nothing runs: the transfer stays queued until paused
    tid = shell.services.download(shell.hub.publish(clip, title="Market day in Dakar"))

    def state() -> str:
        t = queue.transfers.get(tid)
        return t.state if t else ""

    assert state() == "queued"
    window.tabs.setCurrentWidget(window.feed)  # the Transfers tab is hidden
    focus_in(qtbot, window, window.feed.view)
    qtbot.keyClick(window.feed.view, Qt.Key.Key_P, CTRL_SHIFT)
    qtbot.waitUntil(lambda: state() == "paused")
    window.tabs.setCurrentWidget(window.library)
    focus_in(qtbot, window, window.library.current_view)
    qtbot.keyClick(window.library.current_view, Qt.Key.Key_R, CTRL_SHIFT)
    qtbot.waitUntil(lambda: state() == "queued")
    # on the Transfers tab too: one owner of the keys, no ambiguity with its own buttons
    window.tabs.setCurrentWidget(window.transfers)
    focus_in(qtbot, window, window.transfers.view)
    qtbot.keyClick(window.transfers.view, Qt.Key.Key_P, CTRL_SHIFT)
    qtbot.waitUntil(lambda: state() == "paused")
    qtbot.keyClick(window.transfers.view, Qt.Key.Key_R, CTRL_SHIFT)
    qtbot.waitUntil(lambda: state() == "queued")
    assert ambiguous(qtlog) == []
    assert menu_action(window, "transfers", "pause-all").toolTip() == (
        "Pause every transfer (\u2066Ctrl+Shift+P\u2069)"  # the keys left to right
    )


def test_the_library_view_outlasts_a_restart(qtbot: Any, shell: Shell) -> None:
    window = shell.window
    library = window.library
    assert isinstance(library, LibraryPanel)
    assert library.views.currentWidget() is library.grid  # thumbnails the first time
    library.list_action.trigger()
    with qtbot.waitSignal(window.quit_requested, timeout=15_000):
        window.quit()
    services = Services(shell.services.paths, shell.services.secrets)
    again = build_window(qtbot, services, None)
    try:
        assert isinstance(again.library, LibraryPanel)
        assert again.library.views.currentWidget() is again.library.table
        assert again.library.list_action.isChecked()
    finally:
        again.shutdown()


def test_space_pauses_what_the_feed_previews(qtbot: Any, shell: Shell, clip: Path) -> None:
    window = shell.window
    library, feed = window.library, window.feed
    assert isinstance(library, LibraryPanel) and isinstance(feed, FeedPanel)
    item_id = shell.hub.publish(clip, title="Harbour fire")
    queue = shell.services.queue
    assert queue is not None
    done = queue.wait_for(shell.services.download(item_id, "broadcast"), timeout=60)
    assert done.state == "done", done.last_error
    window.tabs.setCurrentWidget(feed)

    def downloaded() -> bool:  # the feed's row knows its file is here
        row = feed.model.row_of(item_id)
        return row is not None and preview_file_ready(feed.model.item_at(row))

    qtbot.waitUntil(downloaded, timeout=20_000)
    # the user had searched the Library before: its search box had the focus there
    window.tabs.setCurrentWidget(library)
    focus_in(qtbot, window, library.filters.search)
    window.tabs.setCurrentWidget(feed)
    focus_in(qtbot, window, feed.view)
    index = feed.model.index(feed.model.row_of(item_id) or 0, COL_TITLE)
    feed.view.scrollTo(index)
    rect = feed.view.visualRect(index)
    qtbot.mouseClick(feed.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: [li.id for li in feed.selected_items()] == [item_id])
    qtbot.waitUntil(feed.preview_action.isEnabled, timeout=20_000)
    player = library.player
    assert player is not None
    with qtbot.waitSignal(
        player.playback_state_changed,
        check_params_cb=lambda s: s == QMediaPlayer.PlaybackState.PlayingState,
        timeout=10_000,
    ):
        qtbot.keyClick(feed.view, Qt.Key.Key_Space)  # the Feed's Space: Preview
    assert window.tabs.currentWidget() is library
    # the focus is on the item previewed (not the search box); the picture's own window may
    # take it as it starts (offscreen does): the player's keys work there too
    focused = QApplication.focusWidget()
    assert focused is library.current_view or player.stage.isAncestorOf(focused)
    with qtbot.waitSignal(
        player.playback_state_changed,
        check_params_cb=lambda s: s == QMediaPlayer.PlaybackState.PausedState,
        timeout=10_000,
    ):
        qtbot.keyClick(focused, Qt.Key.Key_Space)  # the Library's Space: pause
    assert library.filters.search.text() == ""


def test_the_first_window_and_its_dialogs_fit_the_screen(
    qtbot: Any, shell: Shell, clip: Path
) -> None:
    """The first window (1280x820), Settings (760x560) and Upload (860x640) had fixed sizes,
    larger than a 1366x768 laptop at 150 % (911x512 logical pixels): the status bar and the
    dialogs' buttons were below the screen's edge. They take what the screen has (offscreen:
    800x800); Settings' pages scroll, so that it fits even a laptop at 200 % (683x384)."""
    window = shell.window  # a first start: no size saved

    def fits(widget: QWidget) -> bool:
        room = widget.screen().availableGeometry().size()
        return widget.frameGeometry().size().boundedTo(room) == widget.frameGeometry().size()

    assert fits(window)
    window.open_settings()
    settings = window.findChild(SettingsDialog)
    assert settings is not None
    qtbot.waitUntil(settings.isVisible)
    assert fits(settings)
    laptop_at_200 = QSize(683, 384).shrunkBy(FRAME_ALLOWANCE)
    assert settings.minimumSizeHint().boundedTo(laptop_at_200) == settings.minimumSizeHint()
    settings.reject()
    window.panels.open_upload(window, [QUrl.fromLocalFile(str(clip))])
    qtbot.waitUntil(lambda: window.findChild(UploadDialog) is not None, timeout=10_000)
    upload = window.findChild(UploadDialog)
    assert upload is not None
    qtbot.waitUntil(upload.isVisible)
    assert fits(upload)
    assert upload.minimumSizeHint().boundedTo(laptop_at_200) == upload.minimumSizeHint()
    upload.reject()


def test_the_main_window_fits_a_laptop_at_200_percent(qtbot: Any, shell: Shell) -> None:
    """A 1366x768 laptop at 200 % has 683x384 logical pixels. The main window could not be
    made that small: the Library (its player's picture at least 160x90 over the detail) made
    it 30 px taller than the screen (its status bar out of reach). Logical pixels: sizes laid
    out under QT_SCALE_FACTOR=2 are those at 1x (the screen is what shrinks), so the window's
    minimum is compared with the laptop's screen less the frame, in every language."""
    window = shell.window
    laptop_at_200 = QSize(683, 384).shrunkBy(FRAME_ALLOWANCE)
    for language in ("en", "fr", "ar"):
        assert window.apply_language(language) == language
        QApplication.processEvents()
        minimum = window.minimumSizeHint()
        assert minimum.boundedTo(laptop_at_200) == minimum, (language, minimum)
    window.apply_language("en")


def test_a_size_that_fits_the_screen_is_kept(qtbot: Any) -> None:
    dialog = QWidget()
    qtbot.addWidget(dialog)
    fit_to_screen(dialog, 300, 200)
    assert dialog.size() == QSize(300, 200)
    fit_to_screen(dialog, 100_000, 200)
    assert dialog.size() == QSize(room_on_screen(dialog).width(), 200)


def test_arabic_turns_the_window_right_to_left_live(qtbot: Any, shell: Shell) -> None:
    window = shell.window
    assert window.layoutDirection() == Qt.LayoutDirection.LeftToRight
    assert window.apply_language("ar") == "ar"
    qtbot.waitUntil(lambda: window.layoutDirection() == Qt.LayoutDirection.RightToLeft)
    # The LanguageChange event reached the window: its own texts are Arabic now.
    qtbot.waitUntil(lambda: window.tabs.tabText(1) == "عمليات النقل")
    assert window.actions_.menus["help"].title() != "&Help"
    window.apply_language("en")
    qtbot.waitUntil(lambda: window.layoutDirection() == Qt.LayoutDirection.LeftToRight)
    qtbot.waitUntil(lambda: window.tabs.tabText(1) == "Transfers")


def test_check_for_updates_asks_the_hub_off_the_gui_thread(
    qtbot: Any, shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: shown.append(text))
    menu_action(shell.window, "help", "check-updates").trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert shown == [f"ALU Desk {__version__} is the current version."]


def test_a_newer_version_on_the_hub_is_told_quietly_at_start(
    qtbot: Any, shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: shown.append(text))
    hub = shell.hub.hub
    # the window's quiet check is armed at start; the agency now distributes a newer version
    assert shell.window._update_timer.isActive()
    monkeypatch.setattr(hub, "settings", dataclasses.replace(hub.settings, client_version="99.0"))
    shell.window._update_timer.stop()
    shell.window.check_for_updates(quiet=True)
    qtbot.waitUntil(lambda: "99.0" in shell.window.status.currentMessage(), timeout=10_000)
    whole = (
        f"ALU Desk 99.0 is available (this workstation has {__version__}). Ask your "
        "administrator or the agency for the installer."
    )
    assert shell.window.status.said == whole
    _shown_whole_or_cut(shell.window.status, whole)
    assert shown == []  # no dialog in the user's way


def _shown_whole_or_cut(status: Any, whole: str) -> None:
    """The status bar shows ``whole``, or its beginning and "…" with ``whole`` in its tooltip
    when the bar has not the room (it ran into the speed counters, cut mid-word)."""
    shown = status.currentMessage()
    if shown != whole:
        assert shown.endswith("…") and whole.startswith(shown[:-1]), shown
        assert status.toolTip() == whole


def test_versions_compare_as_numbers() -> None:
    assert newer_version("0.10.0", "0.9.3")
    assert newer_version("1.0", "0.9")
    assert not newer_version("0.1.0", "0.1.0")
    assert not newer_version("", "0.1.0")
    assert not newer_version("0.0.9", "0.1")


# --- the window with plain panels -------------------------------------------------------------


def test_unread_count_and_preview_requests_are_wired(qtbot: Any, plain: Shell) -> None:
    window = plain.window
    feed = window.feed
    assert isinstance(feed, SimpleFeed)
    feed.unread_changed.emit(12)
    assert window.tabs.tabText(TAB_FEED) == "Feed (12)"
    feed.unread_changed.emit(0)
    assert window.tabs.tabText(TAB_FEED) == "Feed"
    feed.preview_requested.emit("item-42")
    library = window.library
    assert isinstance(library, SimpleLibrary)
    assert library.shown == ["item-42"]
    assert window.tabs.currentIndex() == TAB_LIBRARY


def test_a_preview_leaves_the_focus_where_the_library_puts_it(qtbot: Any, plain: Shell) -> None:
    """The Library was asked to show the item (and focus it) before its tab was shown: the
    tab, as it showed, gave the focus to a part of it (the picture, unnamed for a screen
    reader) instead of the item."""
    window = plain.window
    feed, library = window.feed, window.library
    assert isinstance(feed, SimpleFeed) and isinstance(library, SimpleLibrary)
    window.tabs.setCurrentIndex(TAB_FEED)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    feed.preview_requested.emit("item-7")
    assert window.tabs.currentWidget() is library
    assert QApplication.focusWidget() is library.grid


def test_drops_of_files_go_to_the_upload_factory(qtbot: Any, plain: Shell, clip: Path) -> None:
    drop_files(plain.window, [clip])
    assert [[u.toLocalFile() for u in urls] for urls in plain.panels.uploads] == [[str(clip)]]
    # Text is not a file: the window does not take it.
    mime = QMimeData()
    mime.setText("not a file")
    enter = QDragEnterEvent(
        plain.window.rect().center(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(plain.window, enter)
    assert not enter.isAccepted()


def test_closing_quits_cleanly_without_a_tray(qtbot: Any, plain: Shell) -> None:
    window, services = plain.window, plain.services
    available = QSystemTrayIcon.isSystemTrayAvailable()
    assert (window.tray is not None) == available
    if available:
        # A desktop with a tray: closing hides the window; the engine goes on.
        window.close()
        assert not window.isVisible()
        assert services.queue is not None and not window._shut_down
        window.quit()
    with qtbot.waitSignal(window.quit_requested, timeout=15_000):
        window.quit()
    assert not window.isVisible()
    assert window._shut_down
    # The bridge no longer listens to the core; the engine's lock is free again.
    assert not services.events.sync_status
    assert services._lock is None


def test_closing_hides_to_the_tray_when_there_is_one(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    services = signed_in_services(live_hub, tmp_path / "desk")
    queue = services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    try:
        assert window.tray is not None
        qtbot.waitUntil(lambda: window.close_to_tray)  # the preference was read (default on)
        quits: list[bool] = []
        window.quit_requested.connect(lambda: quits.append(True))
        window.close()
        assert not window.isVisible()
        assert quits == []
        assert not window._shut_down
        assert window.tray.messages  # told once that the app goes on in the tray
        assert any(t.is_alive() for t in queue._threads)  # transfers keep running
        window.tray.show_requested.emit()
        qtbot.waitUntil(window.isVisible)
        window.tray.quit_requested.emit()
        assert quits == [True]
        assert window._shut_down
    finally:
        window.shutdown()


def test_on_macos_opening_the_app_again_shows_the_window_hidden_in_the_tray(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dock click (or Finder, Launchpad, Spotlight) starts no second process on macOS: Qt
    says the app became active. The window hidden in the tray comes back then — on macOS only
    (elsewhere every click into a window makes the app active), not during a sign-in, not once
    the user chose to quit."""
    import argparse

    from alu_client import app as app_module

    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    args = argparse.Namespace(demo=False, language=None, minimized=False)
    desk = app_module.Desk(qapp, services.paths, args)
    desk.window = window
    active = Qt.ApplicationState.ApplicationActive
    try:
        qtbot.waitUntil(lambda: window.close_to_tray)
        window.close()  # the red button: hidden in the menu-bar tray
        assert window.isHidden() and not window._shut_down

        # (raising=False: the code before had no such check, and failed the test below)
        monkeypatch.setattr(app_module, "reopens_on_activation", lambda: False, raising=False)
        qapp.applicationStateChanged.emit(active)
        assert window.isHidden()

        monkeypatch.setattr(app_module, "reopens_on_activation", lambda: True, raising=False)
        # (macOS from here)
        qapp.applicationStateChanged.emit(Qt.ApplicationState.ApplicationInactive)
        assert window.isHidden()
        desk._sign_in_dialog = QDialog()  # a sign-in is shown: it is the window then
        qapp.applicationStateChanged.emit(active)
        assert window.isHidden()
        desk._sign_in_dialog = None
        qapp.applicationStateChanged.emit(active)  # the Dock click
        qtbot.waitUntil(window.isVisible)

        window.close()
        window._quitting = True  # Quit chosen: the app going active on its way out shows nothing
        qapp.applicationStateChanged.emit(active)
        assert window.isHidden()
    finally:
        window.shutdown()
        desk.window = None
        desk.deleteLater()


def test_the_trays_tooltip_follows_a_language_change(
    qtbot: Any,
    qapp: QApplication,
    live_hub: LiveHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It stayed in the old language (the tray re-sent the words it had been given)."""
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    try:
        assert window.tray is not None
        tray = window.tray
        qtbot.waitUntil(lambda: "Online" in tray.icon.toolTip(), timeout=10_000)
        install_translators(qapp, "fr")
        qtbot.waitUntil(lambda: "En ligne" in tray.icon.toolTip(), timeout=5000)
    finally:
        install_translators(qapp, "en")
        window.shutdown()


def test_a_language_change_as_the_window_goes_away_touches_nothing_gone(
    qtbot: Any,
    qapp: QApplication,
    live_hub: LiveHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tray's words are read a moment after a language change: read after the window
    was shut down and deleted, its status bar was gone ("Internal C++ object already
    deleted"). English installs a catalogue of its own now, so switching back to it is a
    language change too."""
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    settings = AppSettings(services.store, services.paths.downloads_dir)
    bridge, tasks = CoreBridge(services), TaskRunner()
    window = MainWindow(services, settings, bridge, tasks, SimplePanels())
    bridge.setParent(window)
    tasks.setParent(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        window.shutdown()
        install_translators(qapp, "fr")
        window.deleteLater()
        qtbot.wait(100)  # an exception in Qt's loop fails the test
    finally:
        install_translators(qapp, "en")


# --- status bar and tray feed -----------------------------------------------------------------


def progress(tid: int, state: str, speed: float = 0.0, direction: str = "download") -> Progress:
    return Progress(tid, direction, state, f"item {tid}", 0, 1000, speed, None, "")


def test_the_status_bar_sums_speeds_and_counts_transfers(qtbot: Any) -> None:
    activity = TransferActivity()
    bar = StatusBar()
    qtbot.addWidget(bar)
    activity.changed.connect(bar.set_activity)
    activity.seed([progress(1, "done")])
    ended: list[Progress] = []
    activity.transfer_ended.connect(ended.append)
    activity.apply(
        [
            progress(2, "active", 125_000),
            progress(3, "active", 250_000),
            progress(4, "active", 12_500, "upload"),
            progress(5, "queued"),
        ]
    )
    assert activity.activity == Activity(375_000, 12_500, 3, 1)
    assert "3 Mbit/s" in bar.activity_label.text()
    assert "3 active, 1 queued" in bar.activity_label.text()
    activity.apply([progress(2, "done"), progress(4, "failed", direction="upload")])
    assert [(p.id, p.state) for p in ended] == [(2, "done"), (4, "failed")]
    assert activity.activity.active == 1
    bar.set_sync_status(SyncStatus("offline", "The hub did not answer in time."))
    assert bar.connection.toolTip() == "The hub did not answer in time."
    bar.set_limits(250_000, None)
    assert bar.limit.text() == "Limit on"
    assert (
        bar.limit.toolTip()
        == "Bandwidth limit: ↓ 2 Mbit/s  ↑ unlimited (Settings or Transfers tab)."
    )
    bar.set_limits(None, None)
    assert bar.limit.text() == "No limit"
    # a weekly schedule that limits at other hours only: nothing limits now
    bar.set_limits(None, None, True)
    assert bar.limit.text() == "No limit"
    assert "other hours" in bar.limit.toolTip()
    bar.set_limits(125_000, 125_000, True, by_rule=True)
    assert bar.limit.text() == "Limit on"
    assert bar.limit.toolTip().startswith("Limit set by the weekly schedule: ↓ 1 Mbit/s")


def test_the_status_bar_says_a_limit_only_when_one_applies_now(shell: Shell) -> None:
    """A weekly schedule whose periods are at other hours limits nothing now: the status bar
    said "Limit on" while the Transfers tab said "Unlimited"."""
    queue = shell.services.queue
    assert queue is not None
    window = shell.window
    now = datetime.datetime.now()
    later = (now + datetime.timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    elsewhere = ScheduleRule(
        frozenset({(now.weekday() + 3) % 7}), later, later.replace(minute=30), 1000.0, 1000.0
    )
    queue.set_schedule(Schedule([elsewhere]))
    window._show_limits()
    assert window.status.limit.text() == "No limit"
    everywhere = ScheduleRule(frozenset(range(7)), datetime.time(0), datetime.time(0), 1000.0, None)
    queue.set_schedule(Schedule([everywhere]))
    window._show_limits()
    assert window.status.limit.text() == "Limit on"
    queue.set_schedule(None)
    window._show_limits()
    assert window.status.limit.text() == "No limit"


# --- one app per data folder ------------------------------------------------------------------


_LAUNCH = r"""
import sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from alu_client.ui.single_instance import NotAnswering, SingleInstance, instance_key
app = QCoreApplication([])
if len(sys.argv) > 2:  # the moment to claim at, given
    start_at = float(sys.argv[2])
else:  # imported: the test then names the moment both launch at
    print("READY", flush=True)
    start_at = float(sys.stdin.readline())
while time.time() < start_at:
    pass
single = SingleInstance(instance_key(Path(sys.argv[1])))
try:
    first = single.claim()
except NotAnswering:
    print("SILENT", flush=True)
    sys.exit(1)
if not first:
    print("RAISED", flush=True)
    sys.exit(0)
raised = []
single.message_received.connect(raised.append)
print("FIRST", flush=True)
end = time.monotonic() + 30
while not raised and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
print("HEARD" if raised else "UNHEARD", flush=True)
"""


def claim_elsewhere(folder: Path) -> subprocess.Popen[str]:
    """A second launch's ``claim()`` in a process of its own (as a real launch is): it waits
    for the first instance's answer, which this process's event loop gives. It prints
    RAISED, SILENT or FIRST."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, str(folder), "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def said(qtbot: Any, launch: subprocess.Popen[str]) -> str:
    qtbot.waitUntil(lambda: launch.poll() is not None, timeout=20_000)
    return launch.communicate()[0].strip()


def test_a_second_instance_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    folder = f"data-{uuid.uuid4().hex}"
    key = instance_key(tmp_path / folder)
    assert key == instance_key(tmp_path / "elsewhere" / ".." / folder)  # the same folder
    first = SingleInstance(key)
    assert first.claim()
    try:
        with qtbot.waitSignal(first.message_received, timeout=20_000) as heard:
            second = claim_elsewhere(tmp_path / folder)
        assert said(qtbot, second) == "RAISED"  # told the first raised its window
        assert heard.args == ["raise"]
        other = SingleInstance(instance_key(tmp_path / "another-folder"))
        assert other.claim()
        other.release()
    finally:
        first.release()


def test_two_launches_at_the_same_moment_make_one_instance_the_other_raises_it(
    tmp_path: Path,
) -> None:
    # both found no one to ask and listened: the loser removed the winner's live socket (5 of
    # 20 pairs), so two apps ran and later launches found neither
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env["QT_QPA_PLATFORM"] = "offscreen"
    for run in range(12):
        folder = tmp_path / f"data-{run}"
        launches = [
            subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(folder)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        # both ready (Qt imported, ~0.1 s), then both spin until the same moment just ahead:
        # a fixed second ahead for the imports made this test 13 s of waiting
        for p in launches:
            assert p.stdout is not None and p.stdout.readline() == "READY\n", p.communicate()
        start_at = f"{time.time() + 0.1}\n"
        for p in launches:
            assert p.stdin is not None
            p.stdin.write(start_at)
            p.stdin.flush()
        outs = sorted(p.communicate(timeout=60)[0].split() for p in launches)
        assert outs == [["FIRST", "HEARD"], ["RAISED"]], (run, outs)


def test_a_first_instance_that_does_not_answer_is_not_said_to_be_raised(
    qtbot: Any, tmp_path: Path
) -> None:
    # frozen, or at its sign-in (nothing handles the message yet): the second launch said
    # "raised it" and exited 0 while nothing came forward
    folder = tmp_path / f"data-{uuid.uuid4().hex}"
    key = instance_key(folder)
    first = SingleInstance(key)
    assert first.claim()
    try:
        # no handler connected yet: no answer
        assert said(qtbot, claim_elsewhere(folder)) == "SILENT"
        heard: list[str] = []
        first.message_received.connect(heard.append)  # the window is up now
        assert said(qtbot, claim_elsewhere(folder)) == "RAISED"
        assert heard[-1] == "raise"
    finally:
        first.release()
    again = SingleInstance(key)  # released: the next launch is the instance
    assert again.claim()
    again.release()


_HOLD_LOCK = """
import sys
from PySide6.QtCore import QLockFile
lock = QLockFile(sys.argv[1])
lock.setStaleLockTime(0)
print("HELD" if lock.tryLock(0) else "NOT HELD", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/PID/cmdline")
@pytest.mark.parametrize(("program", "taken"), [("another-daemon", True), ("alu-client", False)])
def test_a_lock_held_by_a_program_that_is_not_alu_desk_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str, taken: bool
) -> None:
    # a crashed instance's PID, reused by another python process: Qt took that process for
    # the holder, and every launch said "does not answer" until it ended or a reboot
    from alu_client.ui import single_instance

    monkeypatch.setattr(single_instance, "_FIND_S", 0.5)
    folder = tmp_path / f"data-{uuid.uuid4().hex}"
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(folder / "instance.lock"), program],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
        single = SingleInstance(instance_key(folder), lock_dir=folder)
        try:
            if taken:
                assert single.claim()
                assert single.server is not None  # it listens: the next launch finds it
            else:  # an ALU Desk that does not answer is still one
                with pytest.raises(NotAnswering):
                    single.claim()
        finally:
            single.release()
    finally:
        holder.communicate(input="", timeout=30)


# --- the app itself ---------------------------------------------------------------------------


def test_the_demo_app_starts_shows_its_feed_and_quits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_DEMO_CLIP_SECONDS": "0.3",
        "ALU_DEMO_CLIP_SIZE": "160x96",
        # (the demo's items are in the library as the window shows: 2 s of it running is enough)
        "ALU_CLIENT_EXIT_AFTER": "2",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("ALU_CLIENT_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "alu_client.app", "--demo", "--data", str(tmp_path / "home")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "window shown=True feed panel=True items=30" in done.stdout
    # Its own folders: the demo never mixes with a real profile.
    data = tmp_path / "home" / "data"
    assert (data / "demo-hub" / "hub.sqlite3").exists()
    assert (data / "demo-client" / "data" / "library.sqlite3").exists()
    assert not (data / "library.sqlite3").exists()
    log = (tmp_path / "home" / "logs" / "alu-client.log").read_text(encoding="utf-8")
    assert "signed in to http://127.0.0.1:" in log
    assert "demo" in log and "Bearer" not in log


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_the_app_stopped_by_sigterm_or_sighup_quits_in_order(tmp_path: Path, signame: str) -> None:
    # a logout or shutdown under systemd, `kill` (SIGTERM), a closed terminal (SIGHUP): the
    # app died on the spot, status 143/129, its window state (tab, size, grid/list) not saved
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_DEMO_CLIP_SECONDS": "0.3",
        "ALU_DEMO_CLIP_SIZE": "160x96",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("ALU_CLIENT_HOME", None)
    env.pop("ALU_CLIENT_EXIT_AFTER", None)
    home = tmp_path / "home"
    log = home / "logs" / "alu-client.log"
    app = subprocess.Popen(
        [sys.executable, "-m", "alu_client.app", "--demo", "--data", str(home)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: (
                app.poll() is None
                and log.exists()
                and "ALU Desk running" in log.read_text(encoding="utf-8")
            ),
            timeout=180,
            interval=0.2,
            what="the demo app's window up",
        )
        window_ini = home / "data" / "demo-client" / "data" / "window.ini"
        assert not window_ini.exists()
        app.send_signal(getattr(signal, signame))
        _out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    crash = home / "logs" / "crash.log"
    assert app.returncode == 0, (err, crash.read_text(encoding="utf-8") if crash.exists() else "")
    assert "tab=" in window_ini.read_text(encoding="utf-8")
    assert f"{signame} received: quitting" in log.read_text(encoding="utf-8")
    assert crash.read_text(encoding="utf-8") == ""


def test_a_crash_in_native_code_leaves_every_threads_stack_in_crash_log(tmp_path: Path) -> None:
    # a segfault in Qt or FFmpeg left nothing: no traceback, no log line, only status -11
    script = (
        "import faulthandler, sys, threading\n"
        "from pathlib import Path\n"
        "from alu_client.app import setup_logging\n"
        "setup_logging(Path(sys.argv[1]))\n"
        "threading.Thread(target=threading.Event().wait, name='alu-ui-task', daemon=True)"
        ".start()\n"
        "faulthandler._sigsegv()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("PYTHONFAULTHANDLER", None)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "logs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    crash = (tmp_path / "logs" / "crash.log").read_text(encoding="utf-8")
    assert "Segmentation fault" in crash
    assert "Current thread 0x" in crash and "\nThread 0x" in crash  # the worker's too
    assert "<string>" in crash  # where: the script's line


def test_without_a_keyring_the_user_chooses_and_is_never_skipped(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from PySide6.QtCore import QTimer

    from alu_client import app as app_module
    from alu_client.core.credentials import FileSecrets, NoKeyring

    def no_keyring(*_a: Any, **_kw: Any) -> Any:
        raise NoKeyring("No keyring is available to keep your sign-in safe.")

    monkeypatch.setattr(app_module, "open_secrets", no_keyring)
    paths = make_paths(tmp_path / "desk")
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language=None))
    seen: list[str] = []

    def answer(button_text: str) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text() == button_text)
        button.click()

    QTimer.singleShot(0, lambda: answer("Quit"))
    assert desk._open_secrets() is None
    QTimer.singleShot(0, lambda: answer("Continue with an insecure file"))
    secrets = desk._open_secrets()
    assert isinstance(secrets, FileSecrets) and secrets.plain_text
    assert seen == ["No keyring is available to keep your sign-in safe."] * 2
    desk.deleteLater()


def test_the_no_keyring_advice_is_for_the_installed_app_and_translated(qtbot: Any) -> None:
    """It was English under French and Arabic and said `pip install keyrings.alt`, which the
    installed app cannot use (it does not see the system's Python packages)."""
    from PySide6.QtCore import QTimer

    from alu_client.ui.signin import ask_insecure_file

    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.informativeText())
        box.buttons()[-1].click()

    for language in ("en", "fr"):
        install_translators(qapp, language)
        try:
            QTimer.singleShot(0, answer)
            assert ask_insecure_file("No keyring is available (pip install keyrings.alt)") is False
        finally:
            install_translators(qapp, "en")
    english, french = seen
    assert "pip" not in english + french and "keyrings.alt" not in english + french
    if sys.platform.startswith("linux"):
        assert english.startswith(
            "Start or unlock your desktop's keyring (GNOME Keyring or KWallet"
        )
        assert french.startswith("Démarrez ou déverrouillez le trousseau de clés de votre bureau")


def test_a_library_of_a_newer_version_is_said_in_the_users_language(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "written by a newer ALU Desk" dialog was all English under a French locale."""
    import argparse
    import sqlite3

    from alu_client import app as app_module

    paths = make_paths(tmp_path / "desk")
    paths.ensure()
    with sqlite3.connect(paths.db_path) as db:
        db.execute("PRAGMA user_version=999")
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language="fr"))
    try:
        assert desk.start() == 1
    finally:
        desk.cleanup()
        desk.deleteLater()
        install_translators(qapp, "en")
    [(title, text)] = said
    assert title == "ALU Desk ne peut pas ouvrir sa médiathèque"
    assert text.startswith("Cette médiathèque a été écrite par une version plus récente d’ALU Desk")
    assert "999" in text


def test_a_home_folder_that_cannot_be_written_is_said_plainly(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only home: a dialog naming the folder and what to do, in the user's language,
    exit 1 (it was a PermissionError traceback on ~/.local and no window)."""
    import errno

    from alu_client import app as app_module

    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    home_local = tmp_path / "home" / ".local"

    def refused(_self: Paths) -> Paths:
        raise PermissionError(errno.EACCES, "Permission denied", str(home_local))

    monkeypatch.setattr(Paths, "ensure", refused)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    try:
        assert app_module.main(["--language", "fr"]) == 1
    finally:
        install_translators(qapp, "en")
    [(title, text)] = said
    assert title == "ALU Desk ne peut pas écrire dans ses dossiers"
    assert str(home_local) in text and "administrateur" in text

    said.clear()
    monkeypatch.undo()
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "a-file" / "home"))  # really fails
    assert app_module.main(["--language", "en"]) == 1
    [(title, text)] = said
    assert title == "ALU Desk cannot write its folders"
    assert str(tmp_path / "a-file" / "home") in text and "administrator" in text

    said.clear()
    full = OSError(errno.ENOSPC, "No space left on device", str(home_local))
    monkeypatch.setattr(Paths, "ensure", lambda _self: (_ for _ in ()).throw(full))
    assert app_module.main(["--language", "en"]) == 1
    assert said[0][1] == (
        f"The disk that holds {isolated(home_local)} is full. Free some space there, then start "
        "ALU Desk again."
    )


def test_an_engine_already_at_work_is_said_plainly(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from alu_client import app as app_module
    from alu_client.core.lockfile import EngineLock

    services = signed_in_services(live_hub, tmp_path / "desk")
    held = EngineLock(services.paths.engine_lock).acquire()  # as `alu watch run` would
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    args = argparse.Namespace(demo=False, language=None, minimized=False)
    desk = app_module.Desk(qapp, services.paths, args)
    try:
        settings = AppSettings(services.store, services.paths.downloads_dir)
        assert desk._launch(services, settings) == 1
    finally:
        held.release()
        desk.deleteLater()
    assert said[0][0] == "ALU Desk is already at work on this data folder"
    assert "Another ALU Desk" in said[0][1]
    assert desk.window is None


def test_a_data_folder_without_file_locks_is_not_called_busy(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock() failing with ENOLCK (NFSv3 mounted nolock) was "Another ALU Desk (process N) is
    already at work", N a process long gone."""
    import argparse
    import errno
    import fcntl

    from alu_client import app as app_module

    if not hasattr(fcntl, "flock"):
        pytest.skip("flock is POSIX")
    services = signed_in_services(live_hub, tmp_path / "desk")

    def nolock(_fd: Any, _op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", nolock)
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    args = argparse.Namespace(demo=False, language=None, minimized=False)
    desk = app_module.Desk(qapp, services.paths, args)
    try:
        settings = AppSettings(services.store, services.paths.downloads_dir)
        assert desk._launch(services, settings) == 1
    finally:
        desk.deleteLater()
    [(title, text)] = said
    assert title == "ALU Desk cannot open its library"
    assert "cannot lock files" in text and str(services.paths.data_dir) in text
    assert "Another ALU Desk" not in text
    assert desk.window is None


def test_a_window_opened_after_the_sync_went_online_says_online(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path
) -> None:
    """The sync tells its listeners only of changes: a window built after it went online (the
    engine started first, as at start-up) starts from its status, not from "connecting"."""
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    sync = services.sync
    assert sync is not None
    qtbot.waitUntil(lambda: sync.status.online, timeout=20_000)  # a new folder: a change
    window = build_window(qtbot, services, SimplePanels())
    try:
        assert window.status.state == "online"
    finally:
        window.shutdown()


@pytest.mark.skipif(sys.platform != "linux", reason="TIME_WAIT on the listening port: Linux")
def test_the_demo_keeps_its_port_when_restarted_at_once() -> None:
    """The demo that just quit leaves connections in TIME_WAIT on its port: the next start
    took the port for taken and moved the hub (a new profile, an empty library)."""
    from alu_client.ui.demo import _port_free

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn listens
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    client.close()
    server.close()
    # free once the closes have gone through (TIME_WAIT lasts a minute: the old probe never was)
    wait_until(lambda: _port_free(port), timeout=3, what="the port of a demo that just quit")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        assert not _port_free(busy.getsockname()[1])  # a port in use is still seen as taken
    finally:
        busy.close()


def test_arabic_counts_use_the_digits_of_the_rest_of_the_screen(
    qtbot: Any, qapp: QApplication, plain: Shell
) -> None:
    install_translators(qapp, "ar")
    window = plain.window
    qtbot.waitUntil(lambda: window.tabs.tabText(TAB_LIBRARY) != "Library")
    plain.window.feed.unread_changed.emit(29)
    assert window.tabs.tabText(TAB_FEED) == "الموجز (٢٩)"
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_activity(Activity(0, 0, 2, 13))
    text = bar.activity_label.text()
    assert "٢" in text and "١٣" in text
    assert not any(ch in "0123456789" for ch in text), text


def test_an_update_migrates_the_library_behind_a_progress_in_the_saved_language(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first start after an update remade a large library's search index (13 s for
    100,000 items) on the GUI thread before any window: nothing on screen meanwhile."""
    import argparse
    import sqlite3
    import threading

    from alu_client import app as app_module
    from alu_client.core.settings import AppSettings
    from alu_client.core.store import Store
    from alu_client.core.store.schema import MIGRATIONS
    from alu_client.ui import demo

    paths = make_paths(tmp_path / "desk")
    paths.ensure()
    store = Store(paths.db_path)
    AppSettings(store, paths.downloads_dir).language = "fr"
    store.close()
    seen: list[object] = []
    real = demo.run_with_progress

    def spy(fn: Any, title: str, label: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(label)

        def work(report: Any) -> Any:
            seen.append(threading.current_thread() is threading.main_thread())
            return fn(report)

        return real(work, title, label, *args, **kwargs)

    monkeypatch.setattr(demo, "run_with_progress", spy)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language=None))
    try:
        desk._open_store(paths.db_path).close()  # up to date: no progress
        assert seen == []
        with sqlite3.connect(paths.db_path) as db:
            db.execute(f"PRAGMA user_version={len(MIGRATIONS) - 1}")
        db.close()
        store = desk._open_store(paths.db_path)
        assert store.version == len(MIGRATIONS)
        store.close()
    finally:
        desk.cleanup()
        desk.deleteLater()
        install_translators(qapp, "en")
    assert seen == [
        "Mise à jour de votre médiathèque pour cette version d’ALU Desk (une seule fois ; une "
        "grande médiathèque prend une minute)…",
        False,  # on a worker: the dialog paints meanwhile
    ]


def test_the_progress_of_work_that_reports_nothing_shows_after_its_delay(
    qtbot: Any, qapp: QApplication
) -> None:
    """ "Updating your library…" came only after 4 s (Qt's own minimum duration: it applies the
    one set from the first report, and a migration reports none): a migration of 1-4 s showed
    nothing at all."""
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QProgressDialog

    from alu_client.ui.demo import run_with_progress

    def shown() -> list[str]:
        return [
            w.labelText()
            for w in qapp.topLevelWidgets()
            if isinstance(w, QProgressDialog) and w.isVisible()
        ]

    seen: dict[str, list[str]] = {}
    for at in (100, 900):
        QTimer.singleShot(at, lambda at=at: seen.setdefault(str(at), shown()))  # type: ignore[misc]
    assert run_with_progress(lambda _report: time.sleep(1.2) or 7, "ALU Desk", "Updating…") == 7
    assert seen == {"100": [], "900": ["Updating…"]}  # after 0.7 s, not 4
    assert shown() == []
    # quick work shows nothing
    assert run_with_progress(lambda _report: 8, "ALU Desk", "Quick…") == 8
    qtbot.wait(900)
    assert shown() == []


def test_a_damaged_library_is_said_in_the_users_language_with_what_to_do(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged library file showed SQLite's English words ("file is not a database") with
    no advice; the CLI and the doctor gave some."""
    import argparse

    from alu_client import app as app_module

    paths = make_paths(tmp_path / "desk")
    paths.ensure()
    paths.db_path.write_bytes(b"not a database at all" * 300)
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language="fr"))
    try:
        assert desk.start() == 1
    finally:
        desk.cleanup()
        desk.deleteLater()
        install_translators(qapp, "en")
    [(title, text)] = said
    assert title == "ALU Desk ne peut pas ouvrir sa médiathèque"
    assert text.startswith("La médiathèque ")
    assert "est endommagée (file is not a database)" in text
    assert "library.sqlite3\u2069-wal" in text  # its journal goes with it


def test_a_lock_file_that_cannot_be_made_is_a_dialog_not_a_traceback(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder named engine.lock in the data folder (or root's file left by a sudo'ed `alu
    watch run`) stopped the app with a traceback and no window."""
    import argparse

    from alu_client import app as app_module

    services = signed_in_services(live_hub, tmp_path / "desk")
    lock = services.paths.engine_lock
    if lock.exists():
        lock.unlink()
    lock.mkdir()
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    args = argparse.Namespace(demo=False, language=None, minimized=False)
    desk = app_module.Desk(qapp, services.paths, args)
    try:
        settings = AppSettings(services.store, services.paths.downloads_dir)
        assert desk._launch(services, settings) == 1
    finally:
        desk.deleteLater()
    [(title, text)] = said
    assert title == "ALU Desk cannot write its folders"
    assert "engine.lock" in text
    assert desk.window is None


def test_a_data_folder_whose_name_is_not_utf8_has_an_instance_key(tmp_path: Path) -> None:
    """A Latin-1 folder name (ALU_CLIENT_HOME=$'bad\\xffname') stopped the app with a
    UnicodeEncodeError; the key of a UTF-8 path is the one it always was."""
    import hashlib
    import os

    from alu_client.ui.single_instance import instance_key

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xffname"))
    assert instance_key(odd).startswith("alu-client-")
    assert instance_key(odd) != instance_key(tmp_path / "bad")
    import getpass

    plain = tmp_path / "desk é"
    expected = hashlib.sha256(f"{getpass.getuser()}\0{plain.resolve()}".encode()).hexdigest()
    assert instance_key(plain) == f"alu-client-{expected[:16]}"


def test_an_update_without_room_is_refused_in_the_saved_language(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Updating your library…" was said in the saved language, its refusal in the system's."""
    import argparse
    import collections
    import sqlite3

    from alu_client import app as app_module
    from alu_client.core.settings import AppSettings
    from alu_client.core.store import Store
    from alu_client.core.store import db as store_db

    paths = make_paths(tmp_path / "desk")
    paths.ensure()
    store = Store(paths.db_path)
    AppSettings(store, paths.downloads_dir).language = "fr"
    store.close()
    with sqlite3.connect(paths.db_path) as db:
        db.execute("PRAGMA user_version=5")
    db.close()
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(store_db.shutil, "disk_usage", lambda _p: usage(10**10, 10**10, 1000))
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language=None))
    try:
        assert desk.start() == 1
    finally:
        desk.cleanup()
        desk.deleteLater()
        install_translators(qapp, "en")
    [(title, text)] = said
    assert title == "ALU Desk ne peut pas ouvrir sa médiathèque"
    assert text.startswith("ALU Desk doit mettre à jour sa médiathèque")
    assert "rien n’a été modifié" in text


def test_the_log_file_on_a_full_disk_says_so_once_not_a_traceback_per_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the log is on the data folder's disk: full, every record printed "--- Logging error ---"
    # and a traceback to stderr, two a second
    from alu_client.core.logfile import QuietFileHandler

    handler = QuietFileHandler(tmp_path / "alu-client.log", encoding="utf-8")
    full = [True]
    real = handler.stream

    class FullDisk:
        def write(self, text: str) -> int:
            if full[0]:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real.write(text)

        def flush(self) -> None:
            real.flush()

    handler.stream = FullDisk()  # type: ignore[assignment]
    log = logging.getLogger("test.quiet_log")
    log.propagate, log.level = False, logging.INFO
    log.addHandler(handler)
    try:
        for n in range(5):
            log.info("line %d", n)
        err = capsys.readouterr().err
        assert "Logging error" not in err and "Traceback" not in err
        assert err.count("cannot be written") == 1
        full[0] = False  # space again: written, and a next failure is said again
        log.info("back")
        assert "back" in (tmp_path / "alu-client.log").read_text(encoding="utf-8")
        full[0] = True
        log.info("full again")
        assert capsys.readouterr().err.count("cannot be written") == 1
    finally:
        log.removeHandler(handler)
        handler.close()


def test_the_log_file_failing_without_stderr_does_not_raise_into_the_logger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the windowed installer builds have no console: sys.stderr is None, and a failed rollover
    # (the next file cannot be made on a full disk) raised AttributeError into the thread that
    # logged (a transfer's worker, the progress loop), ending it
    from alu_client.core.logfile import QuietFileHandler

    handler = QuietFileHandler(tmp_path / "alu-client.log", maxBytes=1, encoding="utf-8")

    def full_disk() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(handler, "doRollover", full_disk)
    monkeypatch.setattr(sys, "stderr", None)
    log = logging.getLogger("test.quiet_log_no_stderr")
    log.propagate, log.level = False, logging.INFO
    log.addHandler(handler)
    try:
        log.warning("one")  # (an empty file: no rollover yet)
        log.warning("the disk is full")  # must not raise
        log.warning("still full")
        assert handler.failing
    finally:
        log.removeHandler(handler)
        handler.close()
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stop_signal_ignored_at_start_stays_ignored_by_the_app() -> None:
    # `nohup alu-client &`: SIGHUP ignored from the start; the app quit with its terminal
    from alu_client.app import quit_on_stop_signals, stop_signals

    before = {signum: signal.getsignal(signum) for signum in stop_signals()}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        quit_on_stop_signals(lambda: None)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert callable(signal.getsignal(signal.SIGTERM))  # (the others are caught)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_second_launch_raises_the_current_window_or_the_sign_in_dialog(
    qtbot: Any, tmp_path: Path
) -> None:
    # one raise handler per window, never disconnected: after a re-sign-in every raise also
    # called the deleted window's (a RuntimeError), and during the re-sign-in the old window
    # was shown again over or behind the sign-in dialog
    import argparse

    from alu_client import app as app_module

    raised: list[str] = []

    class Window:
        def __init__(self, name: str) -> None:
            self.name = name

        def raise_window(self) -> None:
            raised.append(self.name)

    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, make_paths(tmp_path / "desk"), argparse.Namespace(demo=False))
    try:
        desk.window = Window("new")
        desk._raise_for_second_launch("raise")
        assert raised == ["new"]

        class SignIn(QDialog):
            def raise_(self) -> None:
                raised.append("sign-in")

        dialog = SignIn()
        qtbot.addWidget(dialog)
        desk._sign_in_dialog = dialog  # (a re-sign-in: the old window shut down behind it)
        desk._raise_for_second_launch("raise")
        assert raised == ["new", "sign-in"]
    finally:
        desk.deleteLater()


def test_a_data_folder_on_a_network_share_is_refused_at_start(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library (SQLite in WAL mode) on NFS/SMB was opened as on a local disk; SQLite says
    WAL does not work over a network file system. The start says so and stops, nothing made."""
    import argparse

    from alu_client import app as app_module
    from alu_client.core import fstype

    monkeypatch.setattr(fstype, "network_fstype", lambda _p: "nfs4")
    paths = make_paths(tmp_path / "desk")
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language="en"))
    try:
        assert desk.start() == 1
    finally:
        desk.cleanup()
        desk.deleteLater()
    [(title, text)] = said
    assert title == "ALU Desk cannot open its library"
    assert "is on a network share (nfs4)" in text and str(paths.data_dir) in text
    assert "--data DIR" in text
    assert not paths.db_path.exists()


def test_signed_out_the_file_menu_and_the_status_bar_offer_the_sign_in(
    qtbot: Any, plain: Shell
) -> None:
    """After Cancel in the "session ended" dialog, File › Sign out… (which stops the running
    downloads) was the only way back (review): Sign in… and a click on "Signed out" ask for
    the sign-in, nothing stopped."""
    from alu_client.core.sync import ONLINE, SIGNED_OUT, SyncStatus

    window = plain.window
    asked: list[str] = []
    window.sign_in_requested.connect(lambda: asked.append("sign in"))
    action = menu_action(window, "file", "sign-in")
    window._on_sync_status(SyncStatus(SIGNED_OUT, "Your session with the hub has ended."))
    assert action.isEnabled() and action.text() == "Sign &in…"
    action.trigger()
    qtbot.mouseClick(window.status.connection, Qt.MouseButton.LeftButton)
    assert asked == ["sign in", "sign in"]
    assert "Click to sign in" in window.status.connection.toolTip()
    window._on_sync_status(SyncStatus(ONLINE))
    qtbot.mouseClick(window.status.connection, Qt.MouseButton.LeftButton)
    assert not action.isEnabled() and asked == ["sign in", "sign in"]


def test_a_hub_that_went_back_is_said_once_in_the_status_bar(qtbot: Any, plain: Shell) -> None:
    """The feed or history sync read a hub again that no longer had what this workstation saw
    (a restore, or an unrelated hub at the address): only the log said so (review). The
    core's news reaches the status bar, once."""
    window = plain.window
    said: list[str] = []
    window.status.messageChanged.connect(lambda text: said.append(text) if text else None)
    for kind in ("feed", "history"):
        plain.services.events.emit(plain.services.events.hub_went_back, kind)
    qtbot.waitUntil(lambda: bool(said), timeout=5_000)
    qtbot.wait(100)  # (the second news, posted after the first, is said no more)
    whole = (
        "The hub no longer has what this workstation last saw of it (restored from a backup, "
        "or another hub at this address?): its feed and history are read again, and this "
        "workstation's recent history is sent to it again."
    )
    assert len(said) == 1 and window.status.said == whole
    _shown_whole_or_cut(window.status, whole)


def test_a_status_message_leaves_the_connection_in_sight(
    qtbot: Any, plain: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correction's notice stayed for good, the bar's left side ("● Online", the hub's
    name: Qt hides them under a message) out of sight, and ran cut mid-word into the speed
    counters."""
    from alu_client.ui import statusbar

    monkeypatch.setattr(statusbar, "MESSAGE_MS", 400)
    window = plain.window
    window.resize(798, 600)
    status = window.status
    qtbot.waitUntil(lambda: status.connection.isVisible() and status.width() < 800)
    title = "Eight African states sign a trade pact in Addis Ababa after two years of talks"
    whole = f"Corrected by the agency: usage restrictions of “{title}” changed."
    status.say(whole)
    shown = status.currentMessage()
    assert shown.endswith("…") and whole.startswith(shown[:-1]), shown
    assert status.fontMetrics().horizontalAdvance(shown) < status.width() - status.limit.width()
    assert status.toolTip() == whole and status.said == whole
    assert not status.connection.isVisible()  # (Qt's: the message is drawn over it)
    qtbot.waitUntil(lambda: status.currentMessage() == "", timeout=5_000)
    assert status.connection.isVisible() and status.toolTip() == ""
    # a short one is shown whole, with no tooltip
    status.say("Checking the hub for new items…")
    assert status.currentMessage() == "Checking the hub for new items…"
    assert status.toolTip() == ""
