"""One app per data folder: a second launch raises the first window and leaves.

The first instance listens on a local socket (a named pipe on Windows) whose name comes from a
hash of the data folder's path, so two data folders (``--data``, the demo) may each have their
own app, and two launches on the same folder never run two engines side by side. A second
launch connects, sends ``raise``, waits for the first to answer that it did, and exits; the
first one hears it and shows its window. A lock file decides which launch is the first.

Where the socket is (``socket_names``): on Windows a named pipe, no file. Elsewhere a socket
file, whose path may not pass about 100 bytes (``sockaddr_un``: 108 on Linux, 104 on macOS);
in the temp folder, where Qt puts a bare name, an age-based cleaner (systemd-tmpfiles,
macOS's periodic) removed a long-running app's socket and no later launch reached it. So it
is the data folder's ``instance.sock`` when that path fits (and the folder takes a socket),
else the user's runtime folder (``XDG_RUNTIME_DIR``: private, kept while the user is logged
in), else the temp folder; and the running app makes it again within ``_CHECK_MS`` when it
is removed all the same.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import socket
import sys
import time
from pathlib import Path

from PySide6.QtCore import SIGNAL, QDir, QLockFile, QMetaMethod, QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

RAISE = "raise"
_CONNECT_MS = 500
#: how long a second launch waits for the first to say it raised its window
_ANSWER_MS = 5000
#: how long it looks for the lock holder's socket (between its lock and its listen())
_FIND_S = 5.0
_RETRY_S = 0.05
_OK = b"ok"
#: how often the listening instance checks that its socket file is still there (a second
#: launch looks for ``_FIND_S``: one after a removal still finds it made again)
_CHECK_MS = 2000
#: the longest socket path used, in bytes (``sun_path``: 108 on Linux, 104 on macOS/BSD)
_SOCKET_PATH_MAX = 100
SOCKET_FILE = "instance.sock"
_ANSWERED, _SILENT, _ABSENT = "answered", "silent", "absent"


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


def socket_names(key: str, folder: Path | None = None) -> list[str]:
    """Where the instance for ``key`` listens, best first; a second launch asks at each. On
    Windows the key (a named pipe); elsewhere ``folder``'s ``instance.sock`` when its path
    fits, the runtime folder's, then the key (a file in the temp folder: Qt's own place)."""
    if sys.platform == "win32":
        return [key]
    names = []
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    for path in (
        folder / SOCKET_FILE if folder is not None else None,
        Path(runtime) / key if runtime and Path(runtime).is_dir() else None,
    ):
        if path is not None and len(os.fsencode(path)) <= _SOCKET_PATH_MAX:
            names.append(str(path))
    return [*names, key]


class NotAnswering(Exception):
    """Another instance holds the data folder but did not say it raised its window (it is
    frozen, or busy on its GUI thread for longer than a second launch waits)."""


class SingleInstance(QObject):
    """``claim()`` is True for the first instance (it then listens), False when another one
    holds the key and said it raised itself; ``NotAnswering`` when it holds the key and says
    nothing. Signals: ``message_received(str)``.

    Who is first is decided by a lock file (``QLockFile``, held for the instance's life, freed
    by the system when the process dies), not by who manages to listen: two launches at the
    same moment both found no one to ask, and the loser took the winner's live socket for one
    left by a crash, removed it and listened too (two apps, and later launches found neither).
    Only the lock's holder removes a stale socket and listens. A message is answered with
    ``ok`` once something handles it (the window is connected); the asker waits for that.

    The lock file is ``lock_dir``'s (the app gives its data folder, next to the engine lock):
    in /tmp an age-based cleaner could delete a long-running instance's lock, and the next
    launch then took over its socket. The socket file is there too when its path fits
    (``socket_names``), and made again when it is removed. A lock held by a process that is
    not an ALU Desk (the PID of a crashed instance, reused by another program) is taken over:
    Qt's own check takes any process of the same executable name (``python3``) for the
    holder."""

    message_received = Signal(str)

    def __init__(
        self, key: str, parent: QObject | None = None, *, lock_dir: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.server: QLocalServer | None = None
        self._connections: set[QLocalSocket] = set()
        if lock_dir is None:
            lock_path = Path(QDir.tempPath()) / f"{key}.lock"
        else:
            lock_dir.mkdir(parents=True, exist_ok=True)
            lock_path = lock_dir / "instance.lock"
        self._lock_path = lock_path
        self._lock = QLockFile(str(lock_path))
        self._lock.setStaleLockTime(0)  # held for the app's life: stale only if its owner died
        self.names = socket_names(key, lock_dir)
        self._watch = QTimer(self)
        self._watch.timeout.connect(self._check_socket)

    def claim(self, message: str = RAISE) -> bool:
        deadline = time.monotonic() + _FIND_S
        while not self._lock.tryLock(0):
            if (why := self._cannot_lock()) is not None:
                raise why  # nobody holds it: the folder cannot be written (read-only, full)
            # another instance holds the folder; it listens as soon as it took the lock
            answer = self._tell_running(message)
            if answer == _ANSWERED:
                return False
            if answer == _ABSENT and not self._held_by_alu_desk():
                log.warning("the single-instance lock names a process that is not ALU Desk")
                self._drop_lock_file()
                continue
            if answer == _SILENT or time.monotonic() > deadline:
                raise NotAnswering(self.key)
            time.sleep(_RETRY_S)  # between its lock and its listen(): ask again
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.newConnection.connect(self._on_connection)
        self.server = server
        if not self._listen():
            return True  # better a second window than no app at all
        if sys.platform != "win32":  # (a named pipe has no file to lose)
            self._watch.start(_CHECK_MS)
        return True

    def _listen(self) -> bool:
        """Listen at the first of ``names`` that takes it; False (said) when none does."""
        assert self.server is not None
        for name in self.names:
            if self.server.listen(name):
                return True
            # a socket file left by a crashed instance: the lock says nobody else owns it
            QLocalServer.removeServer(name)
            if self.server.listen(name):
                return True
            log.info("single-instance socket %s unavailable: %s", name, self.server.errorString())
        log.warning("single-instance socket unavailable: %s", self.server.errorString())
        return False

    def _check_socket(self) -> None:
        """The socket file removed under the running app (a temp cleaner, someone tidying
        up): later launches found nobody. It is made again; connections open go on."""
        if self.server is None:
            return
        path = self.server.fullServerName()
        if not path or os.path.lexists(path):
            return
        log.warning("the single-instance socket %s was removed: listening again", path)
        self.server.close()
        if not self._listen():
            self._watch.stop()

    def _cannot_lock(self) -> OSError | None:
        """Why the lock file cannot be made, when that is why ``tryLock`` failed (not another
        instance's lock): a read-only or full data folder was said as an app "already running
        on this data folder but does not answer", after 5 s of asking nobody. Qt keeps no
        errno: a file is made and written beside it, as the lock is, to find it."""
        if self._lock.error() == QLockFile.LockError.LockFailedError:
            return None
        probe = self._lock_path.with_name(f".{self._lock_path.name}.{os.getpid()}.try")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"%d\n" % os.getpid())
                os.fsync(fd)  # (a full disk may take the write and refuse it only here)
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError as e:
            return e
        log.warning("the instance lock failed (%s) where a file can be made", self._lock.error())
        return None

    def _held_by_alu_desk(self) -> bool:
        """Whether the lock's holder may be an ALU Desk: True unless its command line (Linux's
        /proc) says otherwise; another machine's (a shared home), one that cannot be read, or
        a system without /proc: assumed so, as before."""
        pid, hostname, _appname = self._lock.getLockInfo()
        if pid <= 0 or hostname != socket.gethostname() or not sys.platform.startswith("linux"):
            return True
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # ended meanwhile: Qt's next tryLock finds it stale
            return True
        return b"alu_client" in command or b"alu-client" in command

    def _drop_lock_file(self) -> None:
        """The lock file of a holder that is not an ALU Desk: ``removeStaleLockFile`` keeps
        it (Qt takes the holder for alive), so it goes here; the next tryLock makes it anew."""
        try:
            self._lock_path.unlink(missing_ok=True)
        except OSError as e:
            log.warning("the single-instance lock cannot be removed: %s", e)

    def release(self) -> None:
        self._watch.stop()
        if self.server is not None:
            for conn in self._connections:
                conn.readyRead.disconnect(self._on_ready_read)
                conn.disconnected.disconnect(self._on_disconnected)
            self._connections.clear()
            self.server.close()
            self.server.deleteLater()
            self.server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def connectNotify(self, signal: QMetaMethod) -> None:
        """A handler connected (the window is up): the messages kept for it go out now."""
        super().connectNotify(signal)
        QTimer.singleShot(0, self._read_all)

    def _tell_running(self, message: str) -> str:
        """Ask the running instance; ``_ANSWERED``, ``_SILENT`` (connected, no answer in
        time) or ``_ABSENT`` (nobody listens yet)."""
        for name in self.names:
            socket = QLocalSocket()
            socket.connectToServer(name)
            if socket.waitForConnected(_CONNECT_MS):
                break
        else:
            return _ABSENT
        socket.write((message + "\n").encode())
        socket.waitForBytesWritten(_CONNECT_MS)
        answered = False
        deadline = time.monotonic() + _ANSWER_MS / 1000
        while not answered and time.monotonic() < deadline:
            if not socket.canReadLine():
                left = max(1, int((deadline - time.monotonic()) * 1000))
                if not socket.waitForReadyRead(left):
                    break  # timed out, or the other side closed
                continue
            answered = bytes(socket.readLine().data()).strip() == _OK
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(_CONNECT_MS)
        if not answered:
            log.warning("another instance holds this data folder and did not answer")
            return _SILENT
        log.info("another instance holds this data folder; asked it to %s", message)
        return _ANSWERED

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

    def _read_all(self) -> None:
        for conn in list(self._connections):
            self._read(conn)

    def _read(self, conn: QLocalSocket) -> None:
        """Hand each line to the handler and answer ``ok``; with no handler yet (the sign-in,
        the library update), the lines wait for one (``connectNotify``) and the asker waits."""
        if not self.receivers(SIGNAL("message_received(QString)")):
            return
        while conn.canReadLine():
            line = bytes(conn.readLine().data()).decode("utf-8", "replace").strip()
            if line:
                self.message_received.emit(line[:64])
                if conn.state() == QLocalSocket.LocalSocketState.ConnectedState:
                    conn.write(_OK + b"\n")
                    conn.flush()
