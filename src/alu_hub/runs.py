"""Whether the hub process that took an upload's lease is still running.

Each hub process names itself (its run: 16 random hex digits) in the leases it takes
(``lock_owner`` = ``<run>.<request>``) and, from its first lease on, holds an exclusive OS lock
on ``<data>/runs/<run>``; the OS lets go when the process ends, even by SIGKILL. A process on
the same data folder (a replica, a ``--workers`` sibling, the same hub started again) that
finds a lease in its way can so tell a dead writer's lease from a live one at once, instead of
waiting up to the lease's 30 s: it takes the lock of that run's file without waiting only when
nobody holds it. A lease of a run with no file here (another data folder, a hub version before
this one) cannot be told: it is taken for live. Without ``fcntl`` (Windows, where the hub is only
the app's embedded demo, alone on its folder) every lease is taken for live.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_OWNER_RE = re.compile(r"([0-9a-f]{16})\.[0-9a-f]{32}!?")


def run_of(owner: str) -> str | None:
    """The run named in a lease's owner (a release request's mark or not), or None."""
    m = _OWNER_RE.fullmatch(owner)
    return m[1] if m else None


class HubRun:
    """This process's run on a data folder: the owner ids of its leases, and whether another
    run has ended."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "runs"
        self.run = secrets.token_hex(8)
        self._guard = threading.Lock()
        self._fd: int | None = None
        self._closer: Callable[[], object] | None = None
        self._warned = False

    def owner(self) -> str:
        """A new lease owner id, naming this run (whose lock is held from now on)."""
        self._hold()
        return f"{self.run}.{secrets.token_hex(16)}"

    def _hold(self) -> None:
        if sys.platform == "win32":
            return
        import fcntl

        with self._guard:
            if self._fd is not None:
                return
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.dir / self.run, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:  # then its leases are taken for live, as before: 30 s at most
                if not self._warned:
                    log.warning(
                        "cannot make %s (%s): a lease left by this process, if it "
                        "is killed, holds its upload for 30 s",
                        self.dir / self.run,
                        e,
                    )
                    self._warned = True
                return
            fcntl.flock(fd, fcntl.LOCK_EX)  # a new file: nobody else has it
            self._fd = fd
            self._closer = weakref.finalize(self, os.close, fd)

    def ended(self, run: str) -> bool:
        """True when ``run`` (not this one) is known here and its process has ended."""
        if run == self.run or sys.platform == "win32":
            return False
        with _locked_at_once(self.dir / run) as free:
            return free

    def ended_runs(self) -> Iterator[str]:
        """The runs known here whose process has ended; each one's file goes after it is
        yielded (the caller has dropped its leases meanwhile)."""
        if sys.platform == "win32" or not self.dir.is_dir():
            return
        for path in sorted(self.dir.iterdir()):
            if path.name == self.run or not re.fullmatch(r"[0-9a-f]{16}", path.name):
                continue
            with _locked_at_once(path) as free:
                if free:
                    yield path.name
                    path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._closer is not None:
            self._fd = None
            self._closer()
            self._closer = None


@contextlib.contextmanager
def _locked_at_once(path: Path) -> Iterator[bool]:
    """Yields True, holding ``path`` locked for the block, when no process holds it; False
    when one does or there is no such file. Never waits. POSIX only."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
