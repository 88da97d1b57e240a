"""Only one engine works on one data folder at a time.

An OS file lock (``flock`` / ``msvcrt.locking``) on ``engine.lock``: the OS drops it when the
process dies, even by SIGKILL, so a crash never leaves a stale lock behind.

The file says who holds the lock: the process id on its first line and, for an engine that runs
only some transfers (the CLI's one-shot verbs: ``get``, ``put``, ``fetch``, ``tus-put``), a
second line ``only`` followed by their ids; then ``profile`` and the hub profile whose
transfers it runs (with those of none). Another ``alu`` waiting for a transfer reads it
(``holder``) to know whether the engine there will run that transfer or whether it must wait
for the lock and run it itself.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .fstype import UnsuitableDataFolder

#: what ``flock`` says on a file system that does not keep locks (NFSv3 mounted ``nolock``,
#: some NAS shares): not "held by another process"
NO_LOCKS = frozenset(
    {errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.ENOSYS}
)


class EngineBusy(RuntimeError):
    """Another ALU Desk process holds this data folder (``pid``: which, when known;
    ``one_shot``: an `alu` command that runs its own transfer, as `alu fetch`, and ends)."""

    def __init__(self, message: str, pid: int | None = None, *, one_shot: bool = False) -> None:
        super().__init__(message)
        self.pid = pid
        self.one_shot = one_shot


@dataclass(frozen=True)
class Holder:
    """Who holds an engine lock: its process id, the transfers its engine runs (``only``;
    None: all of them, as the app and `alu watch run` do), and the hub profile whose
    transfers it runs with those of none (``profile``; '' none; None: not said, an engine of
    an older version that ran every profile's)."""

    pid: str
    only: frozenset[int] | None
    profile: str | None = None

    def runs(self, tid: int, profile: str | None = None) -> bool:
        """It runs transfer ``tid``, of hub profile ``profile`` ('' none; None: not known)."""
        if self.only is not None and tid not in self.only:
            return False
        return self.profile is None or profile is None or profile in ("", self.profile)


def _describe(pid: int, only: frozenset[int] | None, profile: str | None = None) -> str:
    text = str(pid)
    if only is not None:
        text += "\nonly" + "".join(f" {i}" for i in sorted(only))
    if profile is not None:
        text += f"\nprofile {profile}".rstrip()
    return text


def _parse(text: str) -> Holder:
    lines = text.strip().splitlines()
    pid = lines[0].strip() if lines else ""
    only: frozenset[int] | None = None
    if len(lines) > 1 and lines[1].split()[:1] == ["only"]:
        only = frozenset(int(w) for w in lines[1].split()[1:] if w.isdigit())
    profile: str | None = None
    for line in lines[1:]:
        if line.split()[:1] == ["profile"]:
            profile = line.strip()[len("profile") :].strip()
    return Holder(pid or "?", only, profile)


def holder(path: Path) -> Holder | None:
    """Who holds the lock at ``path`` as its file says (None when it cannot be read). Only
    meaningful while the lock is held: ask after a failed ``acquire``."""
    try:
        return _parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _holder_of(f: IO[str]) -> Holder:
    """The holder as the lock's file says it; pid "?" when it cannot be read: on Windows the
    held byte is locked for every other handle, and reading it is refused (PermissionError,
    ERROR_LOCK_VIOLATION): the lock is taken all the same."""
    try:
        f.seek(0)
        return _parse(f.read())
    except (OSError, ValueError):
        return Holder("?", None)


def busy(who: Holder) -> EngineBusy:
    """What a process that cannot take the lock says, by who holds it."""
    pid = int(who.pid) if who.pid.isdigit() else None
    if who.only is not None:  # an `alu` command running its own transfer: it ends by itself
        return EngineBusy(
            f"Another alu command (process {who.pid}) is running a transfer in this data "
            "folder. Wait for it to end, or use ALU_CLIENT_HOME to pick another folder.",
            pid,
            one_shot=True,
        )
    return EngineBusy(
        f"Another ALU Desk, or alu watch run (process {who.pid}), is already working on this "
        "data folder. Close it first, or use ALU_CLIENT_HOME to pick another folder.",
        pid,
    )


class FolderInUse(RuntimeError):
    """A library update refused: another process (an older ALU Desk, `alu watch run`, an `alu`
    command's transfer) works on the data folder; updated under it, that process went on
    writing rows of the old format into the new one."""

    def __init__(self, pid: str) -> None:
        super().__init__(
            f"Another ALU Desk, or alu watch run (process {pid}), is at work on this data folder: "
            "its library must be updated for this version, which is not done under a running "
            "one. Quit it (or stop alu watch run), then start this again; nothing was changed."
        )
        self.pid = pid


def refuse_if_in_use(folder: Path) -> None:
    """``FolderInUse`` when another process holds ``folder``'s engine lock or its app's
    single-instance lock (``instance.lock``: the app with no engine yet, at its sign-in)."""
    who = _engine_holder(folder / ENGINE_LOCK)
    if who is None:
        who = _instance_holder(folder / INSTANCE_LOCK)
    if who is not None:
        raise FolderInUse(who)


#: the engine's lock and the app's single-instance lock (Qt's ``QLockFile``) in a data folder
ENGINE_LOCK = "engine.lock"
INSTANCE_LOCK = "instance.lock"


def _engine_holder(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    try:
        _lock(f)  # taken: nobody holds it (closing drops it)
    except OSError as e:
        if e.errno in NO_LOCKS:
            return None
        who = _holder_of(f).pid
        return None if who == str(os.getpid()) else who
    finally:
        f.close()
    return None


def _instance_holder(path: Path) -> str | None:
    """The process id ``QLockFile`` wrote in ``path`` when that process is alive on this
    machine and is not this one (Qt's file: the pid, the program's name, the host name)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if len(lines) < 3 or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0].strip())
    if pid == os.getpid() or lines[2].strip() != socket.gethostname() or sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left by a crash
    except OSError:
        pass  # (alive, another account's)
    return str(pid)


class EngineLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._profile: str | None = None

    def acquire(
        self,
        only: frozenset[int] | None = None,
        *,
        wait: float = 0.0,
        say: bool = True,
        profile: str | None = None,
    ) -> EngineLock:
        """Take the lock (EngineBusy when another process holds it; UnsuitableDataFolder when
        the folder's file system cannot lock files). ``only``: the transfers
        this engine runs, when not all of them (see ``set_only``); ``profile``: the hub
        profile whose transfers it runs, with those of none ('' none). ``wait``: seconds to try
        again for before giving up — an engine starting waits out a process that holds the
        lock for a moment only (`alu queue` looking whether an engine runs). ``say``: write
        who holds it in the file (not for such a look, which runs no transfer)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
        deadline = time.monotonic() + wait
        while True:
            try:
                _lock(f)
                break
            except OSError as e:
                if e.errno in NO_LOCKS:  # nobody holds it: nothing can (the text is stale)
                    f.close()
                    raise UnsuitableDataFolder(self.path.parent, "no-locks") from None
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            who = _holder_of(f)
            f.close()
            raise busy(who) from None
        self._file = f
        self._profile = profile
        if say:
            self.set_only(only)
        return self

    def set_only(self, only: frozenset[int] | None) -> None:
        """Say, in the lock's file, which transfers this engine runs (None: all)."""
        f = self._file
        if f is None:
            return
        f.seek(0)
        f.truncate()
        f.write(_describe(os.getpid(), only, self._profile))
        f.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def __enter__(self) -> EngineLock:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI
    import msvcrt

    def _lock(f: IO[str]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(f: IO[str]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
