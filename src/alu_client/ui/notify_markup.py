"""How a tray notification's body is read on this desktop, asked once of the session bus.

On Linux (and the BSDs) Qt hands a tray notification to one of two places:

- a StatusNotifier host is on the session bus (the name ``org.kde.StatusNotifierWatcher`` has
  an owner: KDE Plasma, GNOME with its AppIndicator extension, most current desktops): Qt's
  D-Bus tray icon calls ``org.freedesktop.Notifications.Notify`` with the body as given. The
  notification server reads it as markup when its capabilities list ``body-markup`` (the body
  is escaped then: a member's title ``<b>…</b><img src=file:///…>`` was drawn and loaded a
  local file), and as plain text otherwise (shown as typed then: escaped, "Floods & rain"
  showed as ``Floods &amp; rain``);
- no host (an XEmbed tray: older XFCE, MATE, LXDE panels): Qt draws a balloon of its own, a
  label that reads a text as rich text when it looks like HTML (``shown_as_typed`` then).

Both questions are asked by a dbus-send (or gdbus) process, never on the GUI thread: a session
bus that did not answer once froze the app (see ``reveal``). Until the answers are in, or when
they cannot be had, the body is escaped, as most notification servers read markup. Windows and
macOS show the body as plain text.
"""

from __future__ import annotations

import html
import logging
import re
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer

from . import reveal
from .plain_text import shown_as_typed

log = logging.getLogger(__name__)

WATCHER = "org.kde.StatusNotifierWatcher"
_NOTIFICATIONS = "org.freedesktop.Notifications"
_BUS = "org.freedesktop.DBus"
ASK_TIMEOUT_MS = 3000


class BodyFormat(Enum):
    MARKUP = "markup"  # a freedesktop server that reads markup: escaped
    PLAIN = "plain"  # Windows, macOS, a server without body-markup: as typed
    BALLOON = "balloon"  # Qt's own balloon (no StatusNotifier host): as a label shows it


def body_for(text: str, kind: BodyFormat) -> str:
    """``text`` as a notification body read the ``kind`` way, so that it shows as typed."""
    if kind is BodyFormat.PLAIN:
        return text
    if kind is BodyFormat.BALLOON:
        return shown_as_typed(text)
    return html.escape(text, quote=False)


def _call(
    dest: str, path: str, method: str, arg: str | None, timeout_ms: int
) -> tuple[str, list[str]] | None:
    """dbus-send's (or gdbus's) command line for a method call with at most one string."""
    dbus_send = reveal._which("dbus-send")
    if dbus_send:
        args = ["--session", "--print-reply", f"--reply-timeout={timeout_ms}", f"--dest={dest}"]
        return dbus_send, [*args, path, method, *([f"string:{arg}"] if arg is not None else [])]
    gdbus = reveal._which("gdbus")
    if gdbus:
        seconds = str(max(1, round(timeout_ms / 1000)))
        args = ["call", "--session", "--timeout", seconds, "--dest", dest, "--object-path", path]
        return gdbus, [*args, "--method", method, *([arg] if arg is not None else [])]
    return None


def _watcher_answer(out: str) -> bool | None:
    """NameHasOwner's answer: dbus-send prints ``boolean true``, gdbus ``(true,)``."""
    if re.search(r"\btrue\b", out):
        return True
    if re.search(r"\bfalse\b", out):
        return False
    return None


def _capabilities(out: str) -> list[str]:
    """GetCapabilities' strings: dbus-send prints ``string "body-markup"`` lines, gdbus
    ``(['actions', 'body-markup'],)``."""
    return re.findall(r"[\"']([^\"'\n]+)[\"']", out)


class NotificationFormat(QObject):
    """How this desktop reads a notification's body (``kind``), found out in the background
    from the moment it is made; ``body(text)`` is ``text`` ready for ``showMessage``."""

    def __init__(self, parent: QObject | None = None, *, platform: str | None = None) -> None:
        super().__init__(parent)
        platform = platform or sys.platform
        self.kind = BodyFormat.MARKUP
        self._host: bool | None = None
        self._markup: bool | None = None
        self._waiting = 0  # questions asked and not answered yet
        if platform.startswith(("win", "darwin")):
            self.kind = BodyFormat.PLAIN
        elif reveal.session_bus_known():
            self._ask(_BUS, "/org/freedesktop/DBus", f"{_BUS}.NameHasOwner", WATCHER, self._on_host)
            self._ask(
                _NOTIFICATIONS,
                "/org/freedesktop/Notifications",
                f"{_NOTIFICATIONS}.GetCapabilities",
                None,
                self._on_capabilities,
            )

    def body(self, text: str) -> str:
        return body_for(text, self.kind)

    @property
    def settled(self) -> bool:
        """Every question asked has its answer (or failed, or had none in time)."""
        return self._waiting == 0

    def _on_host(self, out: str | None) -> None:
        self._host = _watcher_answer(out) if out is not None else None
        self._settle()

    def _on_capabilities(self, out: str | None) -> None:
        self._markup = "body-markup" in _capabilities(out) if out is not None else None
        self._settle()

    def _settle(self) -> None:
        if self._host is False:
            self.kind = BodyFormat.BALLOON
        elif self._host is True and self._markup is False:
            self.kind = BodyFormat.PLAIN
        else:  # a server that reads markup, or one not known (yet): escaped
            self.kind = BodyFormat.MARKUP
        log.debug("notification bodies: %s", self.kind.value)

    def _ask(
        self,
        dest: str,
        path: str,
        method: str,
        arg: str | None,
        then: Callable[[str | None], None],
    ) -> None:
        """Call ``method`` in a process of its own; ``then(stdout)``, or ``then(None)`` when it
        failed or did not answer in time."""
        command = _call(dest, path, method, arg, ASK_TIMEOUT_MS)
        if command is None:
            return
        process = QProcess(self)
        process.setProgram(command[0])
        process.setArguments(command[1])
        process.setStandardInputFile(QProcess.nullDevice())
        timer = QTimer(process)
        timer.setSingleShot(True)
        answered = False

        def answer(out: str | None) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._waiting -= 1
                timer.stop()
                then(out)

        def finished(code: int, status: QProcess.ExitStatus) -> None:
            out = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
            ok = status == QProcess.ExitStatus.NormalExit and code == 0
            if not ok:
                error = bytes(process.readAllStandardError().data()).decode("utf-8", "replace")
                log.debug("%s: %s", Path(command[0]).name, error.strip() or f"ended with {code}")
            answer(out if ok else None)
            process.deleteLater()

        def failed(error: QProcess.ProcessError) -> None:
            if error == QProcess.ProcessError.FailedToStart:  # no finished() follows
                answer(None)
                process.deleteLater()

        def no_answer() -> None:
            answer(None)
            process.kill()  # finished() follows, and deletes it

        process.finished.connect(finished)
        process.errorOccurred.connect(failed)
        timer.timeout.connect(no_answer)
        self._waiting += 1
        timer.start(ASK_TIMEOUT_MS + 500)
        process.start()


__all__ = ["BodyFormat", "NotificationFormat", "body_for"]
