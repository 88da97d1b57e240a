"""The hub's services, built once per app, and the FastAPI dependencies that hand them out."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from alu_client.core.private import private_dir

from .accesslog import note_account
from .auth import TokenCache, TokenProblem, token_by_hash, token_hash
from .db import Database
from .download_guard import ChangeWatch
from .errors import ApiError, unauthorized
from .events import FeedBroker, feed_counter
from .feed import ItemJsonCache
from .mediapool import MediaPool
from .models import Member
from .runs import HubRun
from .settings import Settings
from .storage import Storage

log = logging.getLogger(__name__)


@dataclass
class Hub:
    settings: Settings
    db: Database
    #: LocalStorage, or S3Storage for ``ALU_HUB_STORAGE=s3://…`` (``storage.build_storage``)
    storage: Storage
    broker: FeedBroker = field(default_factory=FeedBroker)
    #: Called (on a worker thread) when a tus upload has all its bytes; set by the app factory.
    on_upload_complete: Callable[[str], None] = lambda _upload_id: None
    #: This process's hold on the data folder, taken at start-up (``DataFolderLock``).
    folder_lock: DataFolderLock = field(init=False, repr=False, compare=False)
    #: This process's run, named in the upload leases it takes (``runs``).
    run: HubRun = field(init=False, repr=False, compare=False)
    #: Where probing, proxies and thumbnails run (``mediapool``).
    media: MediaPool = field(init=False, repr=False, compare=False)
    #: The JSON of old items already served (those without ``feed_json``): ``feed``.
    feed_cache: ItemJsonCache = field(default_factory=ItemJsonCache, repr=False, compare=False)
    #: Tokens checked lately, and whom they sign in (``auth.TokenCache``).
    tokens: TokenCache = field(default_factory=TokenCache, repr=False, compare=False)
    #: The changes' counter as this process's downloads read it (``download_guard``).
    changes_watch: ChangeWatch = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.folder_lock = DataFolderLock(self.settings.data_dir)
        self.run = HubRun(self.settings.data_dir)
        self.media = MediaPool(self.settings.media_workers, nice=self.settings.media_nice)
        # Items published by other processes on the same database wake this one's streams too.
        db = self.db
        self.broker.watch(lambda: feed_counter(db))
        self.changes_watch = ChangeWatch(db)

    def link_key(self) -> bytes:
        return self.db.link_key()


class DataFolderLock:
    """Which processes use a data folder: each one that serves it (a replica) or works on it
    (``alu-hub`` chores such as ``publish``) holds a shared OS lock on ``<data>/hub.lock`` for
    as long as it runs; the OS lets go when the process ends, even by SIGKILL.

    A hub starting up asks for the lock exclusively first (``starting``): when it gets it no
    other process is at work on the folder, so whatever a crash left behind (``work/``, files
    of items never committed, uploads in ``processing``) can go or be redone at once. When it
    does not, other replicas are running and their work in progress must be left alone; the
    start-up then waits (for the shared lock) while another one is clearing up. Without
    ``fcntl`` (Windows, where the hub is only the app's embedded demo) a start-up is alone."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "hub.lock"
        self._fd: int | None = None
        self._closer: Callable[[], object] | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._fd = fd
            self._closer = weakref.finalize(self, os.close, fd)
        return self._fd

    def share(self) -> None:
        """Hold the folder's lock shared (waiting while a start-up clears the folder up)."""
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(self._open(), fcntl.LOCK_SH)

    @contextlib.contextmanager
    def starting(self) -> Iterator[bool]:
        """Start-up: yields True when no other process uses the folder (then holding it
        exclusively for the block), else False; holds it shared after the block."""
        if sys.platform == "win32":
            yield True
            return
        import fcntl

        fd, alone = self._exclusive_at_once()
        if not alone:
            fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield alone
        finally:
            fcntl.flock(fd, fcntl.LOCK_SH)

    @contextlib.contextmanager
    def alone(self) -> Iterator[bool]:
        """Yields True, holding the folder exclusively for the block, when no other process
        uses it; else False at once (no waiting). Lets go of it after the block."""
        if sys.platform == "win32":
            yield True
            return
        import fcntl

        fd, alone = self._exclusive_at_once()
        try:
            yield alone
        finally:
            if alone:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _exclusive_at_once(self) -> tuple[int, bool]:
        """The lock's file, and whether it is now held exclusively (no other process had it;
        never waits). POSIX only."""
        import fcntl

        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return fd, False
        return fd, True

    def close(self) -> None:
        """Let go of the folder (this process no longer uses it)."""
        if self._closer is not None:
            self._fd = None
            self._closer()
            self._closer = None


#: With other processes at work on the data folder, start-up removes an entry of ``work/`` only
#: when nothing in it changed for this long (a publish writes there while it runs).
WORK_STALE_S = 24 * 3600.0


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for sub in path.rglob("*"):
            with contextlib.suppress(OSError):
                newest = max(newest, sub.lstat().st_mtime)
    return newest


def work_folder(settings: Settings) -> Path:
    """``work/``, publishing's scratch space (footage before it is published: 0700, made again
    after each start-up emptied it)."""
    work = settings.data_dir / "work"
    private_dir(work)
    return work


def clear_work_folder(work: Path, *, alone: bool) -> None:
    """Start-up: empty ``work/`` (publishing's scratch space), or with other processes at work
    on the folder (not ``alone``), remove only what nothing touched for ``WORK_STALE_S``."""
    if alone:
        shutil.rmtree(work, ignore_errors=True)
        return
    if not work.is_dir():
        return
    limit = time.time() - WORK_STALE_S
    for entry in work.iterdir():
        try:
            stale = _newest_mtime(entry) < limit
        except OSError:  # gone meanwhile
            continue
        if stale:
            log.info("removing %s, left in work/ by a publish that ended", entry.name)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


async def get_hub(request: Request) -> Hub:
    """(``async``: FastAPI calls it on the event loop, not through the thread pool.)"""
    hub = request.app.state.hub
    assert isinstance(hub, Hub)
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("no_token", "Sign in first: this call needs a bearer token.")
    return value.strip()


def member_for(request: Request, hub: Hub) -> Member:
    """The signed-in member, from ``Authorization: Bearer``; 401 otherwise. Reads the token's
    row unless this process checked the token lately (``hub.tokens``). Any thread."""
    digest = token_hash(bearer(request))
    member = hub.tokens.member(digest)
    if member is not None:
        note_account(request.scope, member.username)
        return member
    epoch = hub.tokens.epoch  # before the read: a sign-out meanwhile keeps it out of the cache
    with hub.db.session() as s:
        try:
            tok = token_by_hash(s, digest)
        except TokenProblem as e:
            raise unauthorized(e.code, e.message) from None
        member = tok.member
        expires_at = tok.expires_at
        s.expunge(member)
    hub.tokens.keep(digest, member, expires_at, epoch)
    note_account(request.scope, member.username)
    return member


async def current_member(request: Request, hub: HubDep) -> Member:
    """``member_for`` as a dependency: on the event loop when the token was checked lately,
    else on a worker thread (it reads the database)."""
    member = hub.tokens.member(token_hash(bearer(request)))
    if member is not None:
        note_account(request.scope, member.username)
        return member
    return await run_in_threadpool(member_for, request, hub)


MemberDep = Annotated[Member, Depends(current_member)]


def require_agency(member: MemberDep) -> Member:
    if member.role != "agency":
        raise ApiError(403, "agency_only", "Only agency staff may do this.")
    return member


AgencyDep = Annotated[Member, Depends(require_agency)]
