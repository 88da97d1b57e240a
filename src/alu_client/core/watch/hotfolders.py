"""``HotFolders``: the object the service holds, with its scan thread, the watchdog observer
that wakes it, and the queue's outcome hook."""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from .. import uploads
from ..store import Store
from ..store.transfers import ENDED, Transfer
from .claims import CLAIM_STALE, _ClaimMemory
from .records import _forget_replaced, _Memory, _outcome
from .scan import UNREADABLE_GRACE, EnqueueUpload, Scanner

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split


class _Waker(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.wake.set()


class HotFolders(Scanner):
    """Hot folders of one hub profile: the folders (``folders``), the files taken and their
    rows (``records``), the scan (``scan``), sent files moved (``move``); here the threads."""

    def __init__(
        self,
        store: Store,
        profile: str,
        enqueue_upload: EnqueueUpload,
        *,
        scan_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        unreadable_grace: float = UNREADABLE_GRACE,
        video_problem: Callable[[Path], str] | None = uploads.video_problem,
        download_folders: Callable[[], Iterable[Path]] | None = None,
        cancel_upload: Callable[[int], None] | None = None,
        claim_stale: float = CLAIM_STALE,
    ) -> None:
        self.store = store
        self.profile = profile
        self.enqueue_upload = enqueue_upload
        self.scan_interval = scan_interval
        self.clock = clock
        self.unreadable_grace = unreadable_grace
        #: why a file is no video the hub takes ('' when it is one): checked before it is
        #: queued; None: not checked (the hub decides)
        self.video_problem = video_problem
        #: where downloads are saved (asked at every scan): a hot folder there is not scanned,
        #: said as its problem; None: not checked
        self.download_folders = download_folders
        #: cancels an upload this workstation queued and another one took over (the queue's
        #: ``cancel``); None: canceled in the store, or asked of the engine that runs it
        self.cancel_upload = cancel_upload
        #: seconds another workstation's claim on a file may stay unchanged before it is
        #: taken over (``claims``)
        self.claim_stale = claim_stale
        self._claims = _ClaimMemory()
        self._workstation: str | None = None
        #: completed scans (tests and the UI wait on it)
        self.scans = 0
        self._mem = _Memory()
        self._scan_lock = threading.Lock()
        self._wake = threading.Event()
        #: folders removed through this object since the last scan (``_forget_removed``)
        self._removed: set[int] = set()
        self._removed_lock = threading.Lock()
        #: when each folder the last scan saw was added, by id (``Scanner._forget_removed``)
        self._born: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None
        self._watches: dict[int, tuple[Path, ObservedWatch]] = {}
        self._next_due = math.inf

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> HotFolders:
        if self._thread is not None:
            return self
        self._stop.clear()
        try:
            observer = Observer()
            observer.daemon = True
            observer.start()
            self._observer = observer
        except Exception:  # no inotify left, …: the periodic scan still works
            log.exception("file system notifications unavailable; hot folders are only scanned")
            self._observer = None
        self._thread = threading.Thread(target=self._loop, name="alu-hot-folders", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop watching; a file being hashed is left for the next start (within a second)."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
        deadline = time.monotonic() + timeout
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._observer is not None:
            self._observer.join(max(0.0, deadline - time.monotonic()))
        self._thread = None
        self._observer = None
        self._watches.clear()
        if thread is None or not thread.is_alive():
            self._stop.clear()  # scan_now() works again (a thread still hashing sees the stop)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._sync_watches()
                self.scan_now()
            except Exception:
                log.exception("scanning the hot folders failed")
            # Not more often than every 0.1 s whatever the events, not less often than every
            # scan_interval, and at the moment the next file should have settled.
            delay = min(self.scan_interval, max(0.0, self._next_due - self.clock()))
            gap = min(0.1, self.scan_interval)
            if self._stop.wait(gap):
                break
            self._wake.wait(max(0.0, delay - gap))

    def _sync_watches(self) -> None:
        observer = self._observer
        if observer is None:
            return
        wanted = {f.id: f.path for f in self.list_folders() if f.enabled}
        for fid, (path, watch) in list(self._watches.items()):
            if wanted.get(fid) != path:
                with contextlib.suppress(Exception):
                    observer.unschedule(watch)
                del self._watches[fid]
        for fid, path in wanted.items():
            if fid in self._watches or not path.is_dir():
                continue
            try:
                watch = observer.schedule(_Waker(self._wake), str(path), recursive=False)
            except Exception as e:  # the scan covers it
                log.debug("no notifications for %s: %s", path, e)
                continue
            self._watches[fid] = (path, watch)

    # --- the end of an upload ----------------------------------------------------------------

    def outcome_hook(self, conn: sqlite3.Connection, transfer: Transfer) -> None:
        """For ``TransferStore.outcome_hooks``: the row of the uploaded file becomes sent or
        error in the transaction that ends the upload. (The move to the sent folder is the scan
        loop's job, outside the transaction.)"""
        if transfer.direction != "upload" or transfer.state not in ENDED:
            return
        state, note = _outcome(transfer.state, transfer.result, transfer.last_error)
        mine = "folder_id IN (SELECT id FROM watch_folders WHERE profile = ?)"
        # (in error too: its upload failed, then `alu queue retry` or the app's Retry sent it —
        # it stayed "in error" in the folder, never moved to sent/)
        cur = conn.execute(
            f"UPDATE watch_files SET state = ?, error = ?, at = ?"  # noqa: S608 - constant text
            f" WHERE transfer_id = ? AND state IN ('uploading', 'error') AND {mine}",
            (state, note, time.time(), transfer.id, self.profile),
        )
        if cur.rowcount == 0 and transfer.sha256:
            # Ended before the scan wrote the transfer id into the row (a very short upload).
            cur = conn.execute(
                "UPDATE watch_files SET state = ?, error = ?, at = ?, transfer_id = ? WHERE id = ("  # noqa: S608 - constant text
                f" SELECT id FROM watch_files WHERE path = ? AND sha256 = ? AND {mine}"
                " AND state = 'uploading' AND transfer_id IS NULL ORDER BY id DESC LIMIT 1)",
                (
                    state,
                    note,
                    time.time(),
                    transfer.id,
                    transfer.source,
                    transfer.sha256,
                    self.profile,
                ),
            )
        if cur.rowcount and state == "error":
            # a newer version of the file was taken meanwhile: this report is out of date
            _forget_replaced(conn, f"transfer_id = ? AND {mine}", (transfer.id, self.profile))
        if cur.rowcount:
            self._wake.set()
