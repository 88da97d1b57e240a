"""Only one engine works on one data folder at a time.

An OS file lock (``flock`` / ``msvcrt.locking``) on ``engine.lock``: the OS drops it when the
process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO


class EngineBusy(RuntimeError):
    """Another ALU Desk process holds this data folder."""


class EngineLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> EngineLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
        try:
            _lock(f)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise EngineBusy(
                f"Another ALU Desk (process {holder}) is already working on this data folder. "
                "Close it first, or use ALU_CLIENT_HOME to pick another folder."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

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
