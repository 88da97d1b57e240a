"""A file shown in the system's file manager (selected there), or opened with its default
application.

Where the platform allows it the file manager opens its folder with the file selected: Windows'
Explorer (``explorer /select,PATH``), macOS' Finder (``open -R PATH``), and on Linux the file
manager behind the freedesktop ``org.freedesktop.FileManager1`` D-Bus interface (Files, Dolphin,
Nemo, Caja, Thunar…; ``ShowItems``, asked by a ``dbus-send`` or ``gdbus`` process, so that a
bus that does not answer never holds the GUI). Without one (no session bus, no such service, no
answer within two seconds, a file that is not there) the folder is opened as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, QUrl
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


DBUS_TIMEOUT_MS = 2000
"""How long the file manager's D-Bus service has to answer before the folder is opened instead."""

_which = shutil.which


def _item_uri(path: Path) -> str:
    """``path`` as a file URI in ASCII, a comma and a quote percent-encoded too: dbus-send cuts
    an array's items at commas, and gdbus reads the URI inside quotes."""
    uri = bytes(QUrl.fromLocalFile(str(path)).toEncoded().data()).decode("ascii")
    return uri.replace("'", "%27").replace(",", "%2C")


def session_bus_known(env: Mapping[str, str] = os.environ) -> bool:
    """A session bus to ask: its address given, or the usual one of the user's session."""
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR")
    return runtime is not None and runtime != "" and Path(runtime, "bus").exists()


def show_items_command(
    path: Path, timeout_ms: int = DBUS_TIMEOUT_MS
) -> tuple[str, list[str]] | None:
    """The program (dbus-send or gdbus) and arguments that call FileManager1's ``ShowItems``
    for ``path``; None if neither is installed."""
    uri = _item_uri(path)
    dbus_send = _which("dbus-send")
    if dbus_send:
        return dbus_send, [
            "--session",
            "--print-reply",
            f"--reply-timeout={timeout_ms}",
            f"--dest={_FM1}",
            "/org/freedesktop/FileManager1",
            f"{_FM1}.ShowItems",
            f"array:string:{uri}",
            "string:",
        ]
    gdbus = _which("gdbus")
    if gdbus:
        return gdbus, [
            "call",
            "--session",
            "--timeout",
            str(max(1, round(timeout_ms / 1000))),
            "--dest",
            _FM1,
            "--object-path",
            "/org/freedesktop/FileManager1",
            "--method",
            f"{_FM1}.ShowItems",
            f"['{uri}']",
            "''",
        ]
    return None


def show_items_dbus(path: Path, parent: QObject, timeout_ms: int = DBUS_TIMEOUT_MS) -> bool:
    """Ask the session's FileManager1 service to show ``path`` selected. The call is made by a
    process of its own (dbus-send or gdbus), never on the GUI thread: a session bus that does
    not answer (a hung daemon, a stale address) once froze the whole app while Qt connected to
    it. The folder is opened instead if the call fails or has no answer within ``timeout_ms``.
    False: no session bus or no tool to call it with (the caller opens the folder)."""
    command = show_items_command(path, timeout_ms)
    if command is None or not session_bus_known():
        return False
    process = QProcess(parent)
    process.setProgram(command[0])
    process.setArguments(command[1])
    process.setStandardInputFile(QProcess.nullDevice())
    timer = QTimer(process)
    timer.setSingleShot(True)
    settled = False

    def settle(shown: bool, why: str = "") -> None:
        nonlocal settled
        if settled:
            return
        settled = True
        timer.stop()
        if not shown:
            log.info("the file manager did not show %s: %s", path, why)
            open_folder(path.parent)

    def finished(code: int, status: QProcess.ExitStatus) -> None:
        ok = status == QProcess.ExitStatus.NormalExit and code == 0
        error = bytes(process.readAllStandardError().data()).decode("utf-8", "replace").strip()
        settle(ok, error or f"{Path(command[0]).name} ended with {code}")
        process.deleteLater()

    def failed(error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # no finished() follows
            settle(False, f"{command[0]} did not start")
            process.deleteLater()

    def no_answer() -> None:
        settle(False, f"no answer within {timeout_ms} ms")
        process.kill()  # finished() follows, and deletes it

    process.finished.connect(finished)
    process.errorOccurred.connect(failed)
    timer.timeout.connect(no_answer)
    # a little longer than the call's own reply timeout: that one says why
    timer.start(timeout_ms + 500)
    process.start()
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
