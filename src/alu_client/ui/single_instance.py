"""One app per data folder: a second launch raises the first window and leaves.

The first instance listens on a local socket (a named pipe on Windows) whose name comes from a
hash of the data folder's path, so two data folders (``--data``, the demo) may each have their
own app, and two launches on the same folder never run two engines side by side. A second
launch connects, sends ``raise`` and exits; the first one hears it and shows its window.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

RAISE = "raise"
_CONNECT_MS = 500


def instance_key(data_dir: Path) -> str:
    """A local-socket name for ``data_dir``: the same folder gives the same name (per user)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment: the path alone still separates
        user = ""
    path = os.fsencode(Path(data_dir).expanduser().resolve())  # (not UTF-8: a Latin-1 name)
    digest = hashlib.sha256(user.encode("utf-8", "surrogateescape") + b"\0" + path).hexdigest()
    digest = digest[:16]
    return f"alu-client-{digest}"


class SingleInstance(QObject):
    """``claim()`` is True for the first instance (it then listens), False when another one
    holds the key (it was told to raise itself). Signals: ``message_received(str)``."""

    message_received = Signal(str)

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.server: QLocalServer | None = None
        self._connections: set[QLocalSocket] = set()

    def claim(self, message: str = RAISE) -> bool:
        if self._tell_running(message):
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            # A socket file left by a crashed instance (nobody answered above): take it over.
            QLocalServer.removeServer(self.key)
            if not server.listen(self.key):
                log.warning("single-instance socket unavailable: %s", server.errorString())
                return True  # better a second window than no app at all
        server.newConnection.connect(self._on_connection)
        self.server = server
        return True

    def release(self) -> None:
        if self.server is not None:
            for conn in self._connections:
                conn.readyRead.disconnect(self._on_ready_read)
                conn.disconnected.disconnect(self._on_disconnected)
            self._connections.clear()
            self.server.close()
            self.server.deleteLater()
            self.server = None

    def _tell_running(self, message: str) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(_CONNECT_MS):
            return False
        socket.write((message + "\n").encode())
        socket.waitForBytesWritten(_CONNECT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(_CONNECT_MS)
        log.info("another instance holds this data folder; asked it to %s", message)
        return True

    def _on_connection(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            self._connections.add(conn)
            conn.readyRead.connect(self._on_ready_read)
            conn.disconnected.connect(self._on_disconnected)
            self._read(conn)

    def _on_ready_read(self) -> None:
        conn = self.sender()
        if isinstance(conn, QLocalSocket):
            self._read(conn)

    def _on_disconnected(self) -> None:
        conn = self.sender()
        if isinstance(conn, QLocalSocket) and conn in self._connections:
            self._read(conn)
            self._connections.discard(conn)
            conn.deleteLater()

    def _read(self, conn: QLocalSocket) -> None:
        while conn.canReadLine():
            line = bytes(conn.readLine().data()).decode("utf-8", "replace").strip()
            if line:
                self.message_received.emit(line[:64])
