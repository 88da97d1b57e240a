"""What the main window is made of: the real panels and dialogs, built for it on demand.

``MainWindow`` takes a ``Panels`` factory rather than importing the panels itself, so it can be
tested with plain widgets and so that a panel that cannot be imported (a missing optional
library, a bug) costs only its own tab: ``RealPanels`` imports each panel's module inside the
method that builds it and shows a plain notice in the tab when that fails (the error goes to
the log).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QWidget

from alu_client.core.services import Services
from alu_client.core.settings import AppSettings

from . import plain_text
from .bridge import CoreBridge
from .i18n import resources_dir
from .tasks import TaskRunner

log = logging.getLogger(__name__)


class Panels(Protocol):
    """What the main window asks of the composition root."""

    def feed(self, parent: QWidget) -> QWidget: ...

    def transfers(self, parent: QWidget) -> QWidget: ...

    def library(self, parent: QWidget) -> QWidget: ...

    def history(self, parent: QWidget) -> QWidget: ...

    def open_upload(self, parent: QWidget, urls: Sequence[QUrl]) -> None:
        """Files or folders to upload (a drop, Add files…): open the upload form for them."""
        ...

    def open_settings(self, parent: QWidget) -> QDialog | None:
        """Open the settings dialog (not modal) and return it; the window listens to its
        ``language_changed(str)`` when it has one."""
        ...


def app_icon() -> QIcon:
    """ALU Desk's icon (the SVG, with the 256 px PNG for platforms without SVG icons)."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for name in ("alu-client.svg", "alu-client-256.png"):
        if (folder / name).exists():
            icon.addFile(str(folder / name))
    return icon


def unavailable_text(error: BaseException) -> str:
    return QCoreApplication.translate(
        "Unavailable",
        "This part of ALU Desk could not be opened (%1). The rest works; the log has the details.",
    ).replace("%1", type(error).__name__)


class Unavailable(QLabel):
    """Stands in for a panel that could not be built."""

    def __init__(self, what: str, error: BaseException, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error = error
        self.setObjectName(f"unavailable-{what}")
        self.setWordWrap(True)
        self.setMargin(24)
        self.setText(unavailable_text(error))


class RealPanels:
    """The panels of the app, over one ``Services`` with its engine started."""

    def __init__(
        self,
        services: Services,
        settings: AppSettings,
        bridge: CoreBridge,
        tasks: TaskRunner,
    ) -> None:
        self.services = services
        self.settings = settings
        self.bridge = bridge
        self.tasks = tasks
        self.failures: dict[str, BaseException] = {}

    def _failed(self, what: str, error: BaseException, parent: QWidget) -> QWidget:
        log.error("the %s panel could not be built", what, exc_info=error)
        self.failures[what] = error
        return Unavailable(what, error, parent)

    def feed(self, parent: QWidget) -> QWidget:
        try:
            from .views.feed import FeedPanel

            return FeedPanel(self.services, self.bridge, self.tasks, parent)
        except Exception as e:
            return self._failed("feed", e, parent)

    def transfers(self, parent: QWidget) -> QWidget:
        try:
            from .views.transfers import TransfersPanel

            queue = self.services.queue
            if queue is None:
                raise RuntimeError("the engine is not started")
            return TransfersPanel(queue, parent, tasks=self.tasks, settings=self.settings)
        except Exception as e:
            return self._failed("transfers", e, parent)

    def library(self, parent: QWidget) -> QWidget:
        try:
            from .views.library import LibraryPanel

            return LibraryPanel(self.services, self.bridge, self.tasks, parent)
        except Exception as e:
            return self._failed("library", e, parent)

    def history(self, parent: QWidget) -> QWidget:
        try:
            from .views.history import HistoryPanel

            return HistoryPanel(self.services, self.bridge, self.tasks, parent)
        except Exception as e:
            return self._failed("history", e, parent)

    def open_upload(self, parent: QWidget, urls: Sequence[QUrl]) -> None:
        try:
            from .views.upload import open_upload_for_urls
        except Exception as e:
            self._say_unavailable(parent, "upload", e)
            return
        open_upload_for_urls(self.services, self.tasks, list(urls), parent)

    def open_settings(self, parent: QWidget) -> QDialog | None:
        try:
            from .views.settings import SettingsDialog

            dialog = SettingsDialog(self.services, self.settings, self.tasks, parent)
        except Exception as e:
            self._say_unavailable(parent, "settings", e)
            return None
        dialog.open()
        return dialog

    def _say_unavailable(self, parent: QWidget, what: str, error: BaseException) -> None:
        log.error("the %s dialog could not be opened", what, exc_info=error)
        self.failures[what] = error
        QMessageBox.warning(parent, "ALU Desk", plain_text.shown_as_typed(unavailable_text(error)))
