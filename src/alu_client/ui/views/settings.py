"""The Settings dialog: General, Transfers, Auto-download, Hot folders, Network.

Everything is read off the GUI thread when the dialog opens (``loaded`` when done) and
written off it when the user presses OK (``settings_apply.apply``): the settings, the login
entry, the rules, the hot folders and the profile; with the engine running, the queue gets the
new limits, schedule and caps at once. Cancel discards. An entry that is wrong keeps the dialog
open with the message under the field (checked as typed, or on disk by the worker: the
download folder must be writable, the CA bundle a PEM file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.rules import RuleError, RulesChanged
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.watch import HotFolders, WatchError, WatchFile

from .. import engine_text
from ..a11y import announce
from ..screen_fit import fit_to_screen
from ..tasks import TaskRunner
from . import settings_apply
from .settings_apply import FolderRow, Loaded, Problem, Values
from .settings_fields import ErrorLabel, focus_first_error
from .settings_general import GeneralPage, NetworkPage
from .settings_hot import HotFoldersPage
from .settings_rules import RulesPage
from .settings_tabs import PageTabs
from .settings_transfers import TransfersPage

__all__ = ["SettingsDialog"]


class SettingsDialog(QDialog):
    """``SettingsDialog(services, settings, tasks, parent=None, *, autostart_command=None)``.

    Signals: ``loaded()`` once the pages show the current values; ``applied()`` after OK wrote
    everything (just before the dialog closes); ``language_changed(str)`` with the new language
    setting ('system', 'en', 'fr' or 'ar') when OK changed it — the main window installs it.
    ``autostart_command``: what the login entry runs (default ``autostart.launch_command()``).
    """

    loaded = Signal()
    applied = Signal()
    language_changed = Signal(str)

    def __init__(
        self,
        services: Services,
        settings: AppSettings,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        autostart_command: Sequence[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.services = services
        self.settings = settings
        self.tasks = tasks
        self.autostart_command = autostart_command
        self.hot: HotFolders | None = services.hot_folders
        if self.hot is None and services.profile is not None:
            # Engine not running: edit the same folders through an object that never scans.
            self.hot = HotFolders(services.store, services.profile.name, settings_apply.not_running)
        self.current: Loaded | None = None
        self.busy = False

        # The tab bar first: the pages' fields come after it in the tab order (created after it)
        self.tabs = PageTabs(self)
        self.tabs.setObjectName("settings-tabs")
        self.general = GeneralPage(self)
        self.transfers = TransfersPage(self)
        self.rules = RulesPage(self)
        self.hot_page = HotFoldersPage(self)
        self.network = NetworkPage(self)
        self.pages: list[Any] = [
            self.general,
            self.transfers,
            self.rules,
            self.hot_page,
            self.network,
        ]
        for page in self.pages:
            self.tabs.add_page(page)
        self.message = ErrorLabel(self)
        self.message.setObjectName("settings-message")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.apply_and_close)
        self.buttons.rejected.connect(self.reject)
        self.hot_page.retry_requested.connect(self.retry_file)
        self.rules.words_notice_seen.connect(self._rule_words_notice_seen)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        # As wide as the widest page wants (a large font), up to the screen's width: a page
        # scrolls sideways only on a screen narrower than that.
        margins = layout.contentsMargins()
        fit_to_screen(
            self, max(760, self.tabs.widest_page() + margins.left() + margins.right()), 560
        )
        self._retranslate()
        self.reload()

    # --- words ------------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Settings"))
        titles = (
            self.tr("General"),
            self.tr("Transfers"),
            self.tr("Auto-download"),
            self.tr("Hot folders"),
            self.tr("Network"),
        )
        for i, title in enumerate(titles):
            self.tabs.setTabText(i, title)
            self.tabs.scroll_of(i).setAccessibleName(title)
        self.tabs.setAccessibleName(self.tr("Settings pages"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
            for page in self.pages:
                page.retranslate()
        super().changeEvent(event)

    # --- reading ----------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        return self.current is not None

    def reload(self) -> None:
        services, settings, hot = self.services, self.settings, self.hot
        self.tasks.run(
            lambda: settings_apply.load(services, settings, hot),
            self._guard(self._loaded),
            self._guard(self._failed),
        )

    def _loaded(self, loaded: Loaded) -> None:
        self.current = loaded
        for page in self.pages:
            page.load(loaded)
        self.ok_button.setEnabled(True)
        self.loaded.emit()

    # --- writing ----------------------------------------------------------------------------

    def values(self) -> Values | None:
        """What the pages hold, or None (with the messages shown) when an entry is wrong."""
        v = Values()
        failed = [i for i, page in enumerate(self.pages) if not page.collect(v)]
        if failed:
            self.tabs.setCurrentIndex(failed[0])
            focus_first_error(self.pages[failed[0]])
            return None
        return v

    @Slot()
    def apply_and_close(self) -> None:
        if self.busy or self.current is None:
            return
        self.message.clear_message()
        self.rules.message.clear_message()
        self.hot_page.message.clear_message()
        v = self.values()
        if v is None:
            return
        services, settings, hot, command = (
            self.services,
            self.settings,
            self.hot,
            self.autostart_command,
        )
        self._set_busy(True)
        self.tasks.run(
            lambda: settings_apply.apply(services, settings, hot, v, autostart_command=command),
            self._guard(lambda _none: self._applied(v)),
            self._guard(self._failed),
        )

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.ok_button.setEnabled(not busy and self.current is not None)

    def _applied(self, v: Values) -> None:
        self._set_busy(False)
        before = self.current.values.language if self.current else v.language
        self.applied.emit()
        if v.language != before:
            self.language_changed.emit(v.language)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        if isinstance(error, Problem):
            pages: dict[str, Any] = {
                "download_dir": self.transfers,
                "ca_bundle": self.network,
                "proxy_login": self.network,
                "start_at_login": self.general,
            }
            page = pages.get(error.field)
            if page is not None:
                page.show_problem(error.code, error.detail)
                self._show_page_error(page)
                return
        if isinstance(error, RulesChanged):
            self.rules.show_changed(error)
            self._show_page_error(self.rules)
            return
        if isinstance(error, RuleError):
            self.rules.show_error(str(error))
            self._show_page_error(self.rules)
            return
        if isinstance(error, WatchError):
            self.hot_page.show_error(engine_text.shown(str(error)))
            self._show_page_error(self.hot_page)
            return
        self.message.show_message(
            self.tr("The settings could not be read or saved: {error}").format(
                error=str(error) or type(error).__name__
            )
        )
        announce(self.message, self.message.text(), assertive=True)

    def _show_page_error(self, page: QWidget) -> None:
        """The page with the message the worker's check left, its field focused, the message
        said to a screen reader."""
        self.tabs.setCurrentWidget(page)
        focus_first_error(page)

    @Slot()
    def _rule_words_notice_seen(self) -> None:
        settings = self.settings
        # (not written, it is logged and the notice shows once more)
        self.tasks.run(lambda: settings_apply.rule_words_notice_seen(settings))

    # --- hot folder files -------------------------------------------------------------------

    @Slot(object)
    def retry_file(self, file: WatchFile) -> None:
        hot = self.hot
        if hot is None:
            return

        def retry() -> FolderRow:
            hot.retry(file.id)
            return settings_apply.folder_row(hot, file.folder_id)

        self.tasks.run(retry, self._guard(self.hot_page.update_folder), self._guard(self._failed))

    # --- plumbing ---------------------------------------------------------------------------

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """A callback that does nothing once the dialog is gone (the runner outlives it)."""

        def call(value: Any) -> None:
            if shiboken6.isValid(self):
                fn(value)

        return call
