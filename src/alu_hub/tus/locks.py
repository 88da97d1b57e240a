"""Who may write to an upload: the in-process lock per upload (with release requests to a
stalled holder) and a request's hold, which adds the database lease (with release requests
between processes). See the package doc."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from ..hub import Hub
from ..models import Upload, utcnow
from .protocol import _locked
from .state import (
    LEASE_RENEW_S,
    RELEASE_POLL_S,
    _db_begin,
    _db_drop_lease,
    _db_lease_state,
    _db_renew_lease,
    _held_elsewhere,
)

log = logging.getLogger(__name__)

#: How long a newcomer waits for an upload's lock before 423.
LOCK_WAIT_S = 3.0
#: A writer that has received no byte for this long is taken for one whose client went away
#: (a link that died without a FIN): a newcomer's HEAD or PATCH asks it to let go. One still
#: receiving bytes is left alone. Under LOCK_WAIT_S, so a dead writer always lets go in time.
IDLE_S = 2.0


# --- the per-upload lock ----------------------------------------------------------------------


class _UploadLock:
    """Who writes to (or reads the offset of) one upload in this process; see the package doc."""

    def __init__(self) -> None:
        self.holder: str | None = None
        self.release_requested = False
        #: the holder's pending body read, cancelled to make a stalled holder stop
        self.reader: asyncio.Future[Message] | None = None
        self.freed = asyncio.Event()
        self.waiting = 0
        #: when the holder took the lock or last received a part of its body (loop time)
        self.active_at = 0.0

    def idle_for(self) -> float:
        return asyncio.get_running_loop().time() - self.active_at

    def ask_release(self) -> None:
        self.release_requested = True
        if self.reader is not None and not self.reader.done():
            self.reader.cancel()


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _UploadLock]] = (
    weakref.WeakKeyDictionary()
)


def _lock_table() -> dict[str, _UploadLock]:
    loop = asyncio.get_running_loop()
    table = _LOCKS.get(loop)
    if table is None:
        table = _LOCKS[loop] = {}
    return table


async def _acquire(upload_id: str, owner: str, wait: float, *, force: bool) -> _UploadLock:
    """Take the upload's lock, asking its holder to let go: at once with ``force`` (DELETE),
    else once it has received nothing for IDLE_S. 423 after ``wait`` seconds."""
    table = _lock_table()
    lock = table.get(upload_id)
    if lock is None:
        lock = table[upload_id] = _UploadLock()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    lock.waiting += 1
    try:
        while lock.holder is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _locked()
            idle = lock.idle_for()
            if force or idle >= IDLE_S:
                lock.ask_release()
            else:  # a writer still receiving bytes: look again when it would be idle enough
                remaining = min(remaining, IDLE_S - idle)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lock.freed.wait(), remaining)
        lock.holder = owner
        lock.release_requested = False
        lock.active_at = loop.time()
        return lock
    finally:
        lock.waiting -= 1
        if lock.holder is None and lock.waiting == 0 and table.get(upload_id) is lock:
            del table[upload_id]


def _release(upload_id: str, lock: _UploadLock, owner: str) -> None:
    if lock.holder != owner:
        return
    lock.holder = None
    lock.release_requested = False
    freed, lock.freed = lock.freed, asyncio.Event()
    freed.set()
    table = _lock_table()
    if lock.waiting == 0 and table.get(upload_id) is lock:
        del table[upload_id]


# --- a request's hold -------------------------------------------------------------------------


@dataclass
class _Hold:
    """This request's hold on an upload: the in-process lock, and maybe the database lease.

    A request that finds the lease held by another process's writer asks it to let go (a mark
    on the lease, ``state.RELEASE_MARK``) and looks again every 0.1 s until the deadline: a HEAD
    then answers the offset stored meanwhile (or the one stored before, at the deadline), a
    PATCH takes the lease (423 at the deadline). While it holds the lease, a writer looks for
    that mark every ``RELEASE_POLL_S`` (``_watch``) and, seeing it, lets go the way it does for
    a request of its own process (``_UploadLock.ask_release``): it stops reading, fsyncs and
    stores what it wrote and drops the lease. So a client whose link died mid-PATCH on one
    replica resumes on another within about a second, not after the lease's 30 s; only a
    writer whose process died holds its upload until the lease runs out."""

    hub: Hub
    upload_id: str
    owner: str
    lock: _UploadLock
    deadline: float
    leased: bool = False
    renew_at: float = 0.0
    #: the lease went to another writer (or the upload stopped receiving): write nothing more
    lost: bool = False
    watcher: asyncio.Task[None] | None = None

    async def begin(self, member_id: int, *, lease: bool) -> Upload:
        """Load the upload (reconciled with its file); with ``lease``, wait for the database
        lease until the deadline (423 after it) unless the upload no longer receives bytes.
        Either way, a writer in another process is asked to let go and waited for."""
        loop = asyncio.get_running_loop()
        while True:
            up, leased = await run_in_threadpool(
                _db_begin, self.hub, self.upload_id, member_id, self.owner, lease=lease
            )
            if leased:
                self.leased = True
                self.renew_at = time.monotonic() + LEASE_RENEW_S
                self.watcher = loop.create_task(self._watch())
                return up
            if up.state != "receiving" or up.concat == "final":
                return up
            if not lease and not _held_elsewhere(up, utcnow()):
                return up
            if loop.time() >= self.deadline:
                if not lease:
                    return up  # the stored offset: it only moves after an fsync
                raise _locked()
            await asyncio.sleep(0.1)

    async def _watch(self) -> None:
        """While we hold the lease: let go when another process asks (or took it)."""
        while True:
            await asyncio.sleep(RELEASE_POLL_S)
            if not self._holding():
                return
            try:
                state = await run_in_threadpool(
                    _db_lease_state, self.hub, self.upload_id, self.owner
                )
            except Exception:  # the database may be away for a moment: keep_lease will tell
                log.debug("upload %s: the lease check failed", self.upload_id[:8], exc_info=True)
                continue
            if not self._holding():  # stored meanwhile
                return
            if state == "held":
                continue
            if state == "lost":
                self.lost = True
            elif self.lock.idle_for() < IDLE_S:
                continue  # asked, but its client is still sending: ask again next time
            self.lock.ask_release()
            return

    def _holding(self) -> bool:
        return self.leased

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None

    async def keep_lease(self) -> bool:
        """Renew the lease when due; False when it was lost (stop writing)."""
        if not self.leased or self.lost:
            return False
        if time.monotonic() < self.renew_at:
            return True
        if await run_in_threadpool(_db_renew_lease, self.hub, self.upload_id, self.owner):
            self.renew_at = time.monotonic() + LEASE_RENEW_S
            return True
        self.leased = False
        return False


@asynccontextmanager
async def _hold(hub: Hub, upload_id: str, *, force: bool = False) -> AsyncIterator[_Hold]:
    """Hold the upload's in-process lock (asking a holder to let go: an idle one, or any with
    ``force``; 423 after LOCK_WAIT_S); on exit, drop the database lease if ``begin`` took it
    and it was not stored yet."""
    owner = hub.run.owner()
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_S
    lock = await _acquire(upload_id, owner, LOCK_WAIT_S, force=force)
    hold = _Hold(hub, upload_id, owner, lock, deadline)
    try:
        yield hold
    finally:
        hold.stop_watching()
        try:
            if hold.leased:
                with contextlib.suppress(Exception):
                    await run_in_threadpool(_db_drop_lease, hub, upload_id, owner)
        finally:
            _release(upload_id, lock, owner)
