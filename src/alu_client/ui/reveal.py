"""A file shown in the system's file manager (selected there), or opened with its default
application.

Where the platform allows it the file manager opens its folder with the file selected: Windows'
Explorer (``explorer /select,PATH``), macOS' Finder (``open -R PATH``), and on Linux the file
manager behind the freedesktop ``org.freedesktop.FileManager1`` D-Bus interface (Files, Dolphin,
Nemo, Caja, Thunar…; ``ShowItems``, asked without waiting for its answer). Without one (no
session bus, no such service, a file that is not there) the folder is opened as it is.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)

_FM1 = "org.freedesktop.FileManager1"


def reveal_command(path: Path, platform: str = sys.platform) -> tuple[str, list[str]] | None:
    """The program and arguments that show ``path`` selected in the platform's file manager,
    or None where that is done otherwise (D-Bus) or not at all."""
    if platform == "win32":
        # two arguments, as Explorer reads them: "/select," then the path (quoted if need be)
        return "explorer.exe", ["/select,", str(path).replace("/", "\\")]
    if platform == "darwin":
        return "open", ["-R", str(path)]
    return None


def open_folder(folder: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def open_file(path: Path) -> bool:
    """Open ``path`` with the application the system has for it (a player, an editor)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def start_detached(program: str, args: list[str]) -> bool:
    ok, _pid = QProcess.startDetached(program, args)
    return bool(ok)


def show_items_dbus(path: Path, parent: QObject) -> bool:
    """Ask the session's FileManager1 service to show ``path`` selected; the folder is opened
    instead if the call fails (answered later: never waited for). False: no session bus."""
    try:
        from PySide6.QtDBus import (
            QDBusConnection,
            QDBusMessage,
            QDBusPendingCallWatcher,
        )
    except ImportError:  # a Qt without D-Bus (Windows, macOS builds)
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    msg = QDBusMessage.createMethodCall(_FM1, "/org/freedesktop/FileManager1", _FM1, "ShowItems")
    msg.setArguments([[QUrl.fromLocalFile(str(path)).toString()], ""])
    watcher = QDBusPendingCallWatcher(bus.asyncCall(msg, 5000), parent)

    def answered(w: QDBusPendingCallWatcher) -> None:
        if w.isError():
            log.info("the file manager did not show %s: %s", path, w.error().message())
            open_folder(path.parent)
        w.deleteLater()

    watcher.finished.connect(answered)
    return True


def reveal(
    path: Path, parent: QObject, *, exists: bool = True, platform: str = sys.platform
) -> None:
    """Show ``path`` selected in the file manager; ``exists`` False (the file is not there,
    only its folder): the folder opened."""
    if exists:
        command = reveal_command(path, platform)
        if command is not None and start_detached(*command):
            return
        if command is None and platform.startswith("linux") and show_items_dbus(path, parent):
            return
    open_folder(path.parent)


__all__ = ["open_file", "open_folder", "reveal", "reveal_command"]
