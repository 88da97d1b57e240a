"""The application shell: the main window with the real panels over real Services signed in to
a real hub on loopback, its status bar, tray behaviour, drops, menu commands, language, the
single-instance guard, and ``python -m alu_client.app --demo`` in a subprocess."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QSystemTrayIcon, QWidget

from alu_client import __version__
from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.sync import SyncStatus
from alu_client.core.transfers.queue import Progress
from alu_client.ui import main_window as main_window_module
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.composition import RealPanels, Unavailable
from alu_client.ui.main_window import TAB_FEED, TAB_LIBRARY, MainWindow
from alu_client.ui.single_instance import SingleInstance, instance_key
from alu_client.ui.statusbar import Activity, StatusBar, TransferActivity, newer_version
from alu_client.ui.tasks import TaskRunner
from tests.support.livehub import LiveHub

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


class SimpleLibrary(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("library", parent)
        self.shown: list[str] = []

    def show_item(self, item_id: str) -> None:
        self.shown.append(item_id)


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
    assert shell.window.status.currentMessage() == (
        f"ALU Desk 99.0 is available (this workstation has {__version__}). Ask your "
        "administrator or the agency for the installer."
    )
    assert shown == []  # no dialog in the user's way


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
    bar.set_limits(None, None)
    assert bar.limit.text() == "No limit"


# --- one app per data folder ------------------------------------------------------------------


def test_a_second_instance_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    folder = f"data-{uuid.uuid4().hex}"
    key = instance_key(tmp_path / folder)
    assert key == instance_key(tmp_path / "elsewhere" / ".." / folder)  # the same folder
    first = SingleInstance(key)
    assert first.claim()
    try:
        second = SingleInstance(key)
        with qtbot.waitSignal(first.message_received, timeout=5_000) as heard:
            assert not second.claim()
        assert heard.args == ["raise"]
        other = SingleInstance(instance_key(tmp_path / "another-folder"))
        assert other.claim()
        other.release()
    finally:
        first.release()


# --- the app itself ---------------------------------------------------------------------------


def test_the_demo_app_starts_shows_its_feed_and_quits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_DEMO_CLIP_SECONDS": "0.3",
        "ALU_DEMO_CLIP_SIZE": "160x96",
        "ALU_CLIENT_EXIT_AFTER": "6",
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
