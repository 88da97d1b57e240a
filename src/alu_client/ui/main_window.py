"""The main window: the four tabs, the commands around them, the status bar and the tray.

The window frames panels it does not build: a ``Panels`` factory (``composition.RealPanels``
in the app, plain widgets in tests) makes the Feed, Transfers, Library and History tabs and
opens the upload and settings dialogs. The window wires what joins them (the feed's unread
count in its tab title, a preview request opening the item in the Library), takes files
dropped anywhere on it, and owns the app-wide commands: add files, settings, pause and resume
all, sync now, sign out, quit, about and the update check.

Closing the window hides it in the tray when the settings ask for it and a tray exists, so
transfers go on; otherwise it shuts the engine down and asks the app to quit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QSettings,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from alu_client import __version__
from alu_client.core.download_notices import download_done
from alu_client.core.hub import Item
from alu_client.core.rules import RuleProblem
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.sync import SIGNED_OUT, SyncStatus
from alu_client.core.transfers.queue import Progress

from . import engine_text, plain_text
from .bridge import CoreBridge
from .clock_warning import ClockWarning
from .composition import Panels, app_icon
from .download_notices import DownloadNotices
from .formats import count_text, joined
from .i18n import install_translators
from .item_notices import ItemNoticeBoard
from .layout_memory import Part, restore_parts, save_parts
from .screen_fit import fit_to_screen
from .statusbar import Activity, ShellActions, StatusBar, TransferActivity, newer_version
from .tasks import TaskRunner
from .tray import Tray, tray_available

log = logging.getLogger(__name__)

# the quiet update check runs this long after the window opens (the sync and the engine first)
UPDATE_CHECK_DELAY_MS = 20_000

TAB_FEED, TAB_TRANSFERS, TAB_LIBRARY, TAB_HISTORY = range(4)


def about_text(right_to_left: bool) -> str:
    """The About box's heading and paragraph, both in the window's direction: in Arabic the
    heading ("ALU Desk 0.1.0", Latin letters) sat at the left above a right-aligned
    paragraph, each paragraph taking the direction of its first letter."""
    text = QCoreApplication.translate(
        "MainWindow",
        "<h3>ALU Desk %1</h3><p>News video between the Africa Link Union agency and "
        "its member broadcasters: the feed, resumable transfers, the library and the "
        "history.</p>",
    ).replace("%1", __version__)
    direction = "rtl" if right_to_left else "ltr"
    return f'<div dir="{direction}">{text}</div>'


class MainWindow(QMainWindow):
    """``MainWindow(services, settings, bridge, tasks, panels, parent=None, *, demo=False)``.

    Signals: ``quit_requested`` (the engine has stopped; the app may quit),
    ``sign_out_requested`` (the user confirmed signing out)."""

    quit_requested = Signal()
    sign_out_requested = Signal()
    # File › Sign in…, or a click on "Signed out": the sign-in dialog, nothing stopped
    sign_in_requested = Signal()

    def __init__(
        self,
        services: Services,
        settings: AppSettings,
        bridge: CoreBridge,
        tasks: TaskRunner,
        panels: Panels,
        parent: QWidget | None = None,
        *,
        demo: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.services = services
        self.settings = settings
        self.bridge = bridge
        self.tasks = tasks
        # calls that only ask the hub (the update check): on their own worker, never waited
        # for at shutdown — one waiting on a hub that does not answer (30 s) froze the Quit,
        # and held the user's commands behind it; their answer is dropped then anyway
        self.hub_tasks = TaskRunner(self)
        self.panels = panels
        self.demo = demo
        self.unread = 0
        self.close_to_tray = True
        self.notify = True
        self._quitting = False
        self._shut_down = False
        self._told_about_tray = False
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.feed = panels.feed(self.tabs)
        self.transfers = panels.transfers(self.tabs)
        self.library = panels.library(self.tabs)
        self.history = panels.history(self.tabs)
        for w in (self.feed, self.transfers, self.library, self.history):
            self.tabs.addTab(w, "")
        _connect(self.feed, "unread_changed", self.set_unread)
        _connect(self.feed, "preview_requested", self.show_item)
        _connect(self.feed, "delete_files_requested", self._delete_withdrawn)

        self.actions_ = ShellActions(self)
        a = self.actions_
        a.add_files.triggered.connect(self.add_files)
        a.settings.triggered.connect(self.open_settings)
        a.pause_all.triggered.connect(self.pause_all)
        a.resume_all.triggered.connect(self.resume_all)
        a.sync_now.triggered.connect(self.sync_now)
        a.sign_out.triggered.connect(self.confirm_sign_out)
        a.sign_in.triggered.connect(self.sign_in_requested)
        a.quit.triggered.connect(self.confirm_quit)
        a.about.triggered.connect(self.about)
        a.check_updates.triggered.connect(self.check_for_updates)
        for n, act in enumerate(a.tab_actions):
            act.triggered.connect(lambda _=False, n=n: self.tabs.setCurrentIndex(n))
        a.build_menus(self.menuBar())
        self.toolbar = a.build_toolbar(self)
        self.addToolBar(self.toolbar)

        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        profile = services.profile
        self.status.set_hub(_hub_name(services))
        self.status.set_sync_status(bridge.last_status)
        self.status.sign_in_requested.connect(self.sign_in_requested)
        # this computer's clock off from the hub's: said in the window, not only in the log
        self.clock: ClockWarning | None = None
        if profile is not None:
            self.clock = ClockWarning(services.store, profile.name, self.status)
            self.status.addPermanentWidget(self.clock)
            self.clock.first_said.connect(self.status.say)
            self.clock.check()
        a.sign_in.setEnabled(self.status.state == SIGNED_OUT)
        bridge.sync_status.connect(self._on_sync_status)
        bridge.hub_went_back.connect(self.status.hub_went_back)
        bridge.items_added.connect(self._on_items_added)
        bridge.rules_problems.connect(self._on_rules_problems)
        # (what the last evaluation found, before this window listened)
        tasks.run(services.rule_problems, self.status.set_rule_problems)

        self.activity = TransferActivity(services.queue, self)
        self.activity.changed.connect(self._on_activity)
        self.activity.transfer_ended.connect(self._on_transfer_ended)
        if services.queue is not None:
            queue = services.queue
            tasks.run(queue.snapshot, self.activity.seed)
        self._limits = QTimer(self)
        self._limits.setInterval(1000)
        self._limits.timeout.connect(self._show_limits)
        self._limits.start()
        self._show_limits()
        # a quiet update check a little after start: a word in the status bar when a newer
        # version exists, nothing otherwise (never installs anything)
        self._update_timer = QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.setInterval(UPDATE_CHECK_DELAY_MS)
        self._update_timer.timeout.connect(lambda: self.check_for_updates(quiet=True))
        if services.profile is not None:
            self._update_timer.start()

        # finished downloads: one balloon per item, items close together in one
        self.download_notices = DownloadNotices(self)
        self.download_notices.ready.connect(self._on_downloads_done)
        self.tray: Tray | None = None
        if tray_available():
            self.tray = Tray(self.windowIcon(), self)
            self.tray.show_requested.connect(self.raise_window)
            self.tray.pause_all_requested.connect(self.pause_all)
            self.tray.resume_all_requested.connect(self.resume_all)
            self.tray.quit_requested.connect(self.confirm_quit)
            self.tray.show()
        # what the agency withdrew or corrected of what this workstation has: told
        self.item_notices = ItemNoticeBoard(self.status, self._notifying_tray, parent=self)
        self.item_notices.changed.connect(self._title_tabs)
        self.item_notices.open_requested.connect(lambda: self.tabs.setCurrentIndex(TAB_LIBRARY))
        bridge.item_notices.connect(self.item_notices.add)
        # a correction of an item's restrictions: its transfers' rows say the new ones
        bridge.transfers_changed.connect(self._transfers_changed)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.member = profile.display_name if profile else ""
        self._retranslate()
        self._restore_geometry()
        self.reload_preferences()

    # --- the panels -----------------------------------------------------------------------------

    def set_unread(self, count: int) -> None:
        self.unread = int(count)
        self._title_tabs()

    def show_item(self, item_id: str) -> None:
        """Open the Library on ``item_id`` (a Feed preview). The tab first: the Library puts
        the focus on the item, which a hidden tab cannot take (the tab switch then left it
        on an unnamed part of the picture, not on the grid)."""
        show = getattr(self.library, "show_item", None)
        if callable(show):
            self.tabs.setCurrentWidget(self.library)
            show(item_id)

    def _delete_withdrawn(self, li: object) -> None:
        """A withdrawn item's files, asked from its banner in the Feed: the Library asks
        first, and deletes them."""
        ask = getattr(self.library, "ask_delete", None)
        if callable(ask):
            ask([li])

    # --- commands -------------------------------------------------------------------------------

    def add_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(
            self,
            self.tr("Add files to upload"),
            str(Path.home()),
            self.tr("Video files (*.mp4 *.mov *.mxf *.mkv *.avi *.m4v *.ts);;All files (*)"),
        )
        if names:
            self.panels.open_upload(self, [QUrl.fromLocalFile(n) for n in names])

    def open_settings(self) -> None:
        dialog = self.panels.open_settings(self)
        if dialog is None:
            return
        signal = getattr(dialog, "language_changed", None)
        if signal is not None:
            signal.connect(self.apply_language)
        dialog.finished.connect(lambda _result: self.reload_preferences())

    def pause_all(self) -> None:
        queue = self.services.queue
        if queue is not None:
            self.tasks.run(queue.pause_all, on_error=self._command_failed)

    def resume_all(self) -> None:
        queue = self.services.queue
        if queue is not None:
            self.tasks.run(queue.resume_all, on_error=self._command_failed)

    def sync_now(self) -> None:
        """Sync now (F5): wake the sync (the feed, and the history both ways); on the History
        tab, read the history again too (F5 is its Refresh there: one owner for the key)."""
        if self.services.sync is not None:
            self.services.sync.sync_now()  # wakes the sync threads; returns at once
        self.status.say(self.tr("Checking the hub for new items…"), 4000)
        if self.tabs.currentWidget() is self.history:
            refresh = getattr(self.history, "refresh", None)
            if callable(refresh):
                refresh()

    def confirm_sign_out(self) -> None:
        text = self.tr(
            "Sign out of %1? Transfers stop until you sign in again; the library and "
            "the queue stay on this workstation."
        ).replace("%1", _hub_name(self.services))
        # (the hub's name, its version, its words: as typed, here and below)
        text = plain_text.shown_as_typed(text)
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Sign out"), text, parent=self)
        box.setObjectName("sign-out-question")
        # The buttons say what they do; Enter and Escape keep the transfers going.
        sign_out = box.addButton(self.tr("Sign &out"), QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton(self.tr("&Stay signed in"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        if clicked is sign_out:
            self.sign_out_requested.emit()

    def about(self) -> None:
        QMessageBox.about(self, self.tr("About ALU Desk"), about_text(self.isRightToLeft()))

    def check_for_updates(self, quiet: bool = False) -> None:
        """Ask the hub which version is current. From the menu: a dialog either way; ``quiet``
        (at start): a status-bar message only when a newer version exists."""

        def ask() -> str:
            return self.services.client().current_client_version()

        def answered(current: str) -> None:
            self._update_answer(current, quiet)

        def failed(error: BaseException) -> None:
            self._update_failed(error, quiet)

        if not quiet:
            self.actions_.check_updates.setEnabled(False)
        self.hub_tasks.run(ask, answered, failed)

    def _update_answer(self, current: str, quiet: bool = False) -> None:
        if not quiet:
            self.actions_.check_updates.setEnabled(True)
        if newer_version(current, __version__):
            text = self.tr(
                "ALU Desk %1 is available (this workstation has %2). Ask your administrator "
                "or the agency for the installer."
            )
            text = text.replace("%1", current).replace("%2", __version__)
        elif quiet:
            return
        else:
            text = self.tr("ALU Desk %1 is the current version.").replace("%1", __version__)
        self.last_update_message = text
        if quiet:
            self.status.say(text)
        else:
            QMessageBox.information(
                self, self.tr("Check for updates"), plain_text.shown_as_typed(text)
            )

    def _update_failed(self, error: BaseException, quiet: bool = False) -> None:
        if quiet:  # offline at start is normal: the menu's check says why
            log.info("update check at start: %s", type(error).__name__)
            return
        self.actions_.check_updates.setEnabled(True)
        text = self.tr("Could not ask the hub for the current version: %1").replace(
            "%1", str(error)
        )
        self.last_update_message = text
        QMessageBox.warning(self, self.tr("Check for updates"), plain_text.shown_as_typed(text))

    def _command_failed(self, error: BaseException) -> None:
        log.warning("command failed: %s", error)
        self.status.say(str(error), 8000, assertive=True)

    # --- language -------------------------------------------------------------------------------

    def apply_language(self, language: str) -> str:
        """Switch the whole app's language now (Arabic turns the layout right to left);
        widgets retranslate on the ``LanguageChange`` event Qt sends them."""
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        return install_translators(app, language)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.actions_.retranslate()
        self._title_tabs()
        title = self.tr("ALU Desk")
        hub = _hub_name(self.services)
        if hub:
            title = self.tr("%1 — %2").replace("%1", title).replace("%2", hub)
        if self.demo:
            title = self.tr("%1 (Demo)").replace("%1", title)
        self.setWindowTitle(title)
        self.tabs.setAccessibleName(self.tr("Main sections"))
        # the tray's tooltip is made of the status bar's words: once it has them in the new
        # language (it hears of the change in its own time); not once the window is gone
        QTimer.singleShot(0, self, self._tray_state)

    def _title_tabs(self) -> None:
        feed = self.tr("Feed")
        if self.unread:
            feed = self.tr("Feed (%1)").replace("%1", count_text(self.unread))
        library = self.tr("Library")
        notices = getattr(self, "item_notices", None)  # (not yet made at the first call)
        if notices is not None and notices.unseen:
            # withdrawals not seen yet: in words, not only in the status bar
            library = self.tr("Library (⚠ %Ln withdrawn)", "", len(notices.unseen))
        for index, text in (
            (TAB_FEED, feed),
            (TAB_TRANSFERS, self.tr("Transfers")),
            (TAB_LIBRARY, library),
            (TAB_HISTORY, self.tr("History")),
        ):
            self.tabs.setTabText(index, text)

    @Slot(list)
    def _transfers_changed(self, _ids: list[int]) -> None:
        _reload(self.transfers)

    def _tab_shown(self, index: int) -> None:
        if index == TAB_LIBRARY and self.isVisible():
            self.item_notices.seen()

    def _notifying_tray(self) -> Tray | None:
        """The tray, when balloons may be shown (the settings' notifications)."""
        return self.tray if self.notify and not self._shut_down else None

    # --- what the core says ---------------------------------------------------------------------

    def _on_sync_status(self, status: SyncStatus) -> None:
        self.status.set_sync_status(status)
        if self.clock is not None and not self._shut_down:
            self.clock.check()  # (the answer that changed it told the hub's time)
        self.actions_.sign_in.setEnabled(status.state == SIGNED_OUT)
        self._tray_state()

    def _on_activity(self, activity: Activity) -> None:
        self.status.set_activity(activity)
        self._tray_state()

    def _tray_state(self) -> None:
        if self.tray is not None and not self._shut_down:
            parts = [self.status.connection.text().lstrip("●○ ")]
            a = self.status.activity
            if a.active or a.queued:
                parts.append(self.status.activity_label.text())
            self.tray.set_state(joined(parts))

    def _show_limits(self) -> None:
        queue = self.services.queue
        if queue is None:
            self.status.set_limits(None, None)
            return
        now = queue.limits_now()
        self.status.set_limits(now.download, now.upload, now.scheduled, by_rule=now.by_rule)

    def _on_items_added(self, items: list[Item]) -> None:
        if self.notify and self.tray is not None:
            # the member's own uploads are no news to it (the Feed stores them read), nor an
            # item the agency withdrew before it arrived here (its row says so)
            member = self.services.library.member
            self.tray.notify_pushes([i for i in items if not i.sent_by(member) and not i.withdrawn])

    def _on_rules_problems(self, problems: list[RuleProblem]) -> None:
        """A rule's folder cannot be written (a share away): shown in the status bar while so,
        and told once in the tray when a rule newly has items waiting."""
        told = {p.rule_id for p in self.status.rule_problems}
        self.status.set_rule_problems(problems)
        new = [p for p in problems if p.rule_id not in told]
        if new and self.tray is not None:
            p = new[0]
            self.tray.notify(
                self.tr("Rule “%1” cannot download").replace("%1", p.rule),
                self.tr("%1; its items wait and are downloaded once the folder can be written.")
                .replace("%1", engine_text.shown(p.error)),
                warning=True,
            )  # fmt: skip

    def _on_transfer_ended(self, p: Progress) -> None:
        if not self.notify or self.tray is None:
            return
        if p.direction == "download" and p.state == "done":
            # what it is of (its item, rule, restrictions, the item's other files): read off
            # the GUI thread, told once per item (``download_notices``)
            store, tid = self.services.store, p.id
            self.tasks.run(lambda: download_done(store, tid), self.download_notices.add)
            return
        self.tray.notify_transfer(p)

    def _on_downloads_done(self, done: list[Any]) -> None:
        if self.notify and self.tray is not None and not self._shut_down:
            self.tray.notify_downloads(done)

    def reload_preferences(self) -> None:
        settings = self.settings

        def read() -> tuple[bool, bool]:
            return settings.close_to_tray, settings.notify

        def apply(prefs: tuple[bool, bool]) -> None:
            self.close_to_tray, self.notify = prefs

        self.tasks.run(read, apply)

    # --- drops ----------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_urls(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if _local_urls(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = _local_urls(event)
        if not urls:
            event.ignore()
            return
        event.acceptProposedAction()
        self.panels.open_upload(self, urls)

    # --- showing, hiding, quitting --------------------------------------------------------------

    def raise_window(self) -> None:
        """Bring the window to the front (the tray, a second launch)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def reopen(self) -> None:
        """The app was opened again while its window is hidden in the tray (on macOS, a click
        on its Dock icon or a launch from Finder, which activates this process and starts no
        second one): the window comes back. Nothing once the user chose to quit."""
        if self._quitting or self._shut_down or not self.isHidden():
            return
        self.raise_window()

    def confirm_quit(self) -> None:
        """Quit from the menu or the tray: a form open on what the user typed (the upload
        form's ``close_for_quit``) asks first, and "Keep editing" quits nothing. A stop
        signal (``quit``) cannot ask."""
        for dialog in self.findChildren(QDialog):
            close_for_quit = getattr(dialog, "close_for_quit", None)
            if callable(close_for_quit) and not close_for_quit():
                self.raise_window()
                dialog.raise_()
                dialog.activateWindow()
                return
        self.quit()

    def quit(self) -> None:
        self._quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_geometry()
        if not self._quitting and self.close_to_tray and self.tray is not None:
            event.ignore()
            self.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.notify(
                    self.tr("ALU Desk is still running"),
                    self.tr("Transfers go on. Quit from the tray icon's menu."),
                )
            return
        event.accept()
        self.shutdown()
        self.quit_requested.emit()

    def shutdown(self) -> None:
        """Stop listening and stop the engine (once): transfers stop where they are and resume
        at the next start. The window goes first: what is left takes a second or so (the
        commands given reach the core, the engine stops; the hub is not waited for)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.hide()
        self._update_timer.stop()
        self._limits.stop()
        if self.clock is not None:
            self.clock.stop()
        self.bridge.detach()
        self.activity.detach()
        if self.tray is not None:
            self.tray.dispose()
        stop_background = getattr(self.library, "stop_background", None)
        if callable(stop_background):  # a file's check, a copy: not waited for
            stop_background()
        self.tasks.wait_for_done()
        self.services.stop()

    def _geometry_store(self) -> QSettings:
        path = self.services.paths.data_dir / "window.ini"
        return QSettings(str(path), QSettings.Format.IniFormat)

    def _save_geometry(self) -> None:
        s = self._geometry_store()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        s.setValue("tab", self.tabs.currentIndex())
        mode = getattr(self.library, "mode", None)
        if isinstance(mode, str):
            s.setValue("library_mode", mode)
        for prefix, parts in self._layout_parts():  # splitters, column widths, sorts
            save_parts(s, prefix, parts)
        s.sync()

    def _restore_geometry(self) -> None:
        s = self._geometry_store()
        geometry, state = s.value("geometry"), s.value("state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            fit_to_screen(self, 1280, 820)  # first start: as large, or what the screen has
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        tab = s.value("tab")
        if tab is not None and str(tab).isdigit():
            self.tabs.setCurrentIndex(int(str(tab)))
        mode = s.value("library_mode")
        set_mode = getattr(self.library, "set_mode", None)
        if mode in ("grid", "list") and callable(set_mode):
            set_mode(str(mode))
        for prefix, parts in self._layout_parts():
            restore_parts(s, prefix, parts)

    def _layout_parts(self) -> list[tuple[str, Mapping[str, Part]]]:
        """Each tab's splitters and tables the user can size (``layout_parts()`` of the
        panel; a panel without, such as one that could not be made, has none), under the
        tab's key in window.ini."""
        found = []
        for prefix, panel in (
            ("feed", self.feed),
            ("transfers", self.transfers),
            ("library", self.library),
            ("history", self.history),
        ):
            layout_parts = getattr(panel, "layout_parts", None)
            if callable(layout_parts):
                found.append((prefix, layout_parts()))
        return found


def _hub_name(services: Services) -> str:
    profile = services.profile
    if profile is None:
        return ""
    host = QUrl(profile.url).host() or profile.url
    port = QUrl(profile.url).port()
    where = f"{host}:{port}" if port > 0 else host
    return f"{profile.display_name} @ {where}"


def _local_urls(event: QDropEvent | QDragEnterEvent | Any) -> list[QUrl]:
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [u for u in mime.urls() if u.isLocalFile()]


def _reload(widget: QWidget) -> None:
    """``widget.reload()`` when the panel has one (a panel that failed to build has not)."""
    reload = getattr(widget, "reload", None)
    if callable(reload):
        reload()


def _connect(widget: QWidget, signal_name: str, slot: Any) -> None:
    signal = getattr(widget, signal_name, None)
    if signal is not None and hasattr(signal, "connect"):
        signal.connect(slot)
