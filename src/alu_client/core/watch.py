"""Hot folders: a file dropped in a watched folder is uploaded once it is complete, once.

How a file is taken (one scan thread does all of it; a scan also runs on ``scan_now()``):

- **The scan is the truth.** Every enabled folder is listed every ``scan_interval`` seconds;
  watchdog only wakes the scan early (its events can be missed, on network shares especially).
- **Complete** means: size and modification time unchanged (and the sidecar's too) for the
  folder's ``settle_seconds``, and the file opens for reading (on Windows a file another program
  still has open for writing does not). An empty file is waited for. A file that stays
  unreadable although it no longer changes is reported after a grace period (a minute).
- **Ignored**: hidden files and dotfiles, temporary files (``.part``, ``.tmp``, ``~$…``,
  ``….crdownload``, …), every ``.json`` file (the sidecars), sub-folders (``sent`` among them).
- **Metadata**: the sidecar ``<stem>.json`` (an object with title, slug, dateline, language,
  category, region, country, priority, script, shotlist, restrictions, recorded_at) over the
  folder's defaults over the file name (the title made from the stem). Write the sidecar before
  or with the file: a sidecar that arrives after the file was taken is not used. The sha256 of
  the file is computed here (on the scan thread) and sent with the metadata.
- **Once**: every file taken is a row of ``watch_files`` keyed by (folder, path, size, mtime);
  the same key is never taken twice, and the same content (sha256) already uploaded or being
  uploaded from any hot folder of the profile is recorded as sent with a note, not uploaded.
- **Errors are reported, not looped**: an invalid sidecar, bad field values or an unreadable
  file give an ``error`` row with a sentence saying what to fix; the file is looked at again
  only when it changes (new size or time: a new row) or its sidecar changes (in this run: any
  change; after a restart: a sidecar modified after the error was recorded), or on ``retry()``.
- **Afterwards**: the queue's outcome hook (``outcome_hook``, registered in
  ``TransferStore.outcome_hooks``) marks the row sent or error in the transaction that ends the
  upload; the next scan moves a sent file and its sidecar to the folder's sent folder (a name
  relative to the hot folder, or an absolute path), under a new name if the name is taken there:
  a file is never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from .store import Store
from .store.transfers import ENDED, Transfer
from .uploads import FieldError, UploadFields, title_from_filename

log = logging.getLogger(__name__)

#: the item fields a sidecar or a folder's defaults may give
METADATA_FIELDS = tuple(f.name for f in fields(UploadFields))
#: seconds a settled file may stay unreadable before it is reported
UNREADABLE_GRACE = 60.0
_TEMP_SUFFIXES = (
    ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".!ut", "~",
)  # fmt: skip
_JUNK = {"thumbs.db", "desktop.ini", "icon\r"}
_HASH_BLOCK = 1 << 20

#: ``enqueue_upload(path, metadata, folder) -> transfer id``
EnqueueUpload = Callable[[Path, dict[str, str], "WatchFolder"], int]


class WatchError(ValueError):
    """A hot folder cannot be set up as asked; ``str()`` says why."""


class _BadFile(Exception):
    """A file that cannot be uploaded as it is; ``str()`` is the sentence shown to the user."""


class _Stopped(Exception):
    pass


def is_ignored(name: str) -> bool:
    """Names a hot folder never takes: hidden, temporary, sidecars, system junk."""
    low = name.lower()
    return (
        name.startswith((".", "~$", "~"))
        or low.endswith(_TEMP_SUFFIXES)
        or low.endswith(".json")
        or low in _JUNK
    )


@dataclass(frozen=True)
class WatchFolder:
    id: int
    profile: str
    path: Path
    enabled: bool
    defaults: dict[str, str]
    #: relative to ``path``, or absolute
    sent_dir: str
    settle_seconds: float

    @property
    def sent_path(self) -> Path:
        sent = Path(self.sent_dir).expanduser()
        return sent if sent.is_absolute() else self.path / sent

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WatchFolder:
        try:
            data = json.loads(row["defaults"] or "{}")
        except ValueError:
            data = {}
        return cls(
            id=int(row["id"]),
            profile=str(row["profile"]),
            path=Path(row["path"]),
            enabled=bool(row["enabled"]),
            defaults={str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {},
            sent_dir=str(row["sent_dir"]),
            settle_seconds=float(row["settle_seconds"]),
        )


@dataclass(frozen=True)
class WatchFile:
    id: int
    folder_id: int
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None
    #: uploading | sent | error
    state: str
    transfer_id: int | None
    #: the error (state error), or a note (state sent: "not uploaded again: …")
    error: str
    at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WatchFile:
        return cls(
            id=int(row["id"]),
            folder_id=int(row["folder_id"]),
            path=Path(row["path"]),
            size=int(row["size"]),
            mtime_ns=int(row["mtime_ns"]),
            sha256=row["sha256"],
            state=str(row["state"]),
            transfer_id=row["transfer_id"],
            error=str(row["error"]),
            at=float(row["at"]),
        )


_Sig = tuple[int, int]  # size, mtime_ns

_UPSERT = (
    "INSERT INTO watch_files (folder_id, path, size, mtime_ns, sha256, state, transfer_id,"
    " error, at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)"
    " ON CONFLICT (folder_id, path, size, mtime_ns) DO UPDATE SET sha256 = excluded.sha256,"
    " state = excluded.state, transfer_id = NULL, error = excluded.error, at = excluded.at"
)
#: the same, but a row already there is only taken over when it is in error
_CLAIM = _UPSERT + " WHERE watch_files.state = 'error'"


@dataclass
class _Candidate:
    """A file seen but not taken yet: since when it has looked the same."""

    sig: tuple[int, int, _Sig | None]
    since: float
    unreadable_since: float | None = None


_UNKNOWN: Any = object()


class _Waker(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.wake.set()


@dataclass
class _Memory:
    candidates: dict[tuple[int, str], _Candidate] = field(default_factory=dict)
    #: error row id → the sidecar's signature when the error was recorded
    error_sidecars: dict[int, _Sig | None] = field(default_factory=dict)
    #: sent rows whose move failed (logged once)
    move_failed: set[int] = field(default_factory=set)
    #: folder id → the problem logged for it (unreachable, …)
    problems: dict[int, str] = field(default_factory=dict)


class HotFolders:
    def __init__(
        self,
        store: Store,
        profile: str,
        enqueue_upload: EnqueueUpload,
        *,
        scan_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        unreadable_grace: float = UNREADABLE_GRACE,
    ) -> None:
        self.store = store
        self.profile = profile
        self.enqueue_upload = enqueue_upload
        self.scan_interval = scan_interval
        self.clock = clock
        self.unreadable_grace = unreadable_grace
        #: completed scans (tests and the UI wait on it)
        self.scans = 0
        self._mem = _Memory()
        self._scan_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None
        self._watches: dict[int, tuple[Path, ObservedWatch]] = {}
        self._next_due = math.inf

    # --- folders ------------------------------------------------------------------------------

    def add_folder(
        self,
        path: Path | str,
        defaults: Mapping[str, object] | None = None,
        sent_dir: str | Path = "sent",
        settle_seconds: float = 10,
        *,
        enabled: bool = True,
    ) -> WatchFolder:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise WatchError(f"{folder} is not a folder, or cannot be reached.")
        folder = folder.resolve()
        clean = _clean_defaults(defaults or {})
        sent = _clean_sent_dir(folder, sent_dir)
        settle = _clean_settle(settle_seconds)
        with self.store.write() as c:
            other = c.execute(
                "SELECT profile FROM watch_folders WHERE path = ?", (str(folder),)
            ).fetchone()
            if other is not None:
                whose = "" if other[0] == self.profile else f" (for the hub profile {other[0]!r})"
                raise WatchError(f"{folder} is already a hot folder{whose}.")
            cur = c.execute(
                "INSERT INTO watch_folders (profile, path, enabled, defaults, sent_dir,"
                " settle_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.profile,
                    str(folder),
                    int(enabled),
                    json.dumps(clean, ensure_ascii=False),
                    sent,
                    settle,
                    time.time(),
                ),
            )
            fid = int(cur.lastrowid or 0)
        self._wake.set()
        return self.folder(fid)

    def update_folder(
        self,
        folder_id: int,
        *,
        defaults: Mapping[str, object] | None = None,
        sent_dir: str | Path | None = None,
        settle_seconds: float | None = None,
        enabled: bool | None = None,
    ) -> WatchFolder:
        old = self.folder(folder_id)
        with self.store.write() as c:
            c.execute(
                "UPDATE watch_folders SET defaults = ?, sent_dir = ?, settle_seconds = ?,"
                " enabled = ? WHERE id = ? AND profile = ?",
                (
                    json.dumps(
                        _clean_defaults(defaults) if defaults is not None else old.defaults,
                        ensure_ascii=False,
                    ),
                    _clean_sent_dir(old.path, sent_dir) if sent_dir is not None else old.sent_dir,
                    _clean_settle(settle_seconds)
                    if settle_seconds is not None
                    else old.settle_seconds,
                    int(enabled) if enabled is not None else int(old.enabled),
                    folder_id,
                    self.profile,
                ),
            )
        self._wake.set()
        return self.folder(folder_id)

    def set_enabled(self, folder_id: int, enabled: bool) -> WatchFolder:
        return self.update_folder(folder_id, enabled=enabled)

    def remove_folder(self, folder_id: int) -> None:
        """Stop watching (the files and the record of what was sent stay where they are)."""
        with self.store.write() as c:
            cur = c.execute(
                "DELETE FROM watch_folders WHERE id = ? AND profile = ?", (folder_id, self.profile)
            )
            if cur.rowcount == 0:
                raise WatchError(f"There is no hot folder #{folder_id}.")
        self._wake.set()

    def folder(self, folder_id: int) -> WatchFolder:
        row = self.store.query_one(
            "SELECT * FROM watch_folders WHERE id = ? AND profile = ?", (folder_id, self.profile)
        )
        if row is None:
            raise WatchError(f"There is no hot folder #{folder_id}.")
        return WatchFolder.from_row(row)

    def list_folders(self) -> list[WatchFolder]:
        rows = self.store.query(
            "SELECT * FROM watch_folders WHERE profile = ? ORDER BY id", (self.profile,)
        )
        return [WatchFolder.from_row(r) for r in rows]

    def files(self, folder_id: int) -> list[WatchFile]:
        rows = self.store.query(
            "SELECT * FROM watch_files WHERE folder_id = ? ORDER BY id", (folder_id,)
        )
        return [WatchFile.from_row(r) for r in rows]

    def retry(self, file_id: int) -> None:
        """Forget a file in error: the next scan takes it again (a person's decision)."""
        with self.store.write() as c:
            c.execute("DELETE FROM watch_files WHERE id = ? AND state = 'error'", (file_id,))
        self._mem.error_sidecars.pop(file_id, None)
        self._wake.set()

    @property
    def problems(self) -> dict[int, str]:
        """Folders that cannot be scanned now (folder id → why)."""
        return dict(self._mem.problems)

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

    # --- scanning -------------------------------------------------------------------------------

    def scan_now(self) -> list[WatchFile]:
        """One scan of every enabled folder; returns the rows it wrote (taken, duplicates,
        errors). Reads and hashes files: call it from a worker or the CLI, never a GUI thread."""
        with self._scan_lock:
            self._next_due = math.inf
            written: list[int] = []
            self._reconcile()
            folders = [f for f in self.list_folders() if f.enabled]
            ids = {f.id for f in folders}
            for key in [k for k in self._mem.candidates if k[0] not in ids]:
                del self._mem.candidates[key]
            for folder in folders:
                if self._stop.is_set():
                    break
                self._scan_folder(folder, written)
            self.scans += 1
        if not written:
            return []
        ids_ = list(dict.fromkeys(written))
        got = self.store.query(
            f"SELECT * FROM watch_files WHERE id IN ({','.join('?' * len(ids_))})",  # noqa: S608 - only "?" placeholders are joined in
            ids_,
        )
        by_id = {int(r["id"]): WatchFile.from_row(r) for r in got}
        return [by_id[i] for i in ids_ if i in by_id]

    def _file(self, file_id: int) -> WatchFile:
        row = self.store.query_one("SELECT * FROM watch_files WHERE id = ?", (file_id,))
        assert row is not None
        return WatchFile.from_row(row)

    def _scan_folder(self, folder: WatchFolder, written: list[int]) -> None:
        try:
            entries = list(os.scandir(folder.path))
        except OSError as e:
            message = f"{folder.path} cannot be read: {e.strerror or e}"
            if self._mem.problems.get(folder.id) != message:
                log.warning("hot folder %s", message)
            self._mem.problems[folder.id] = message
            return
        self._mem.problems.pop(folder.id, None)
        seen: set[tuple[int, str]] = set()
        for entry in entries:
            if self._stop.is_set():
                return
            if is_ignored(entry.name):
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue
            if getattr(st, "st_file_attributes", 0) & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2):
                continue
            path = Path(entry.path)
            seen.add((folder.id, str(path)))
            try:
                self._consider(folder, path, st, written)
            except _Stopped:
                return
            except Exception:
                log.exception("hot folder: %s could not be handled", path)
        for key in [k for k in self._mem.candidates if k[0] == folder.id and k not in seen]:
            del self._mem.candidates[key]

    def _consider(
        self, folder: WatchFolder, path: Path, st: os.stat_result, written: list[int]
    ) -> None:
        key = (folder.id, str(path))
        size, mtime = st.st_size, st.st_mtime_ns
        sidecar = path.with_suffix(".json")
        side_sig = _sig(sidecar)
        row = self._row(folder.id, path, size, mtime)
        if row is not None:
            if row.state == "sent":
                self._mem.candidates.pop(key, None)
                self._move_sent(folder, row)
                return
            if row.state == "uploading" or not self._sidecar_changed(row, side_sig):
                self._mem.candidates.pop(key, None)
                return
        # Not taken yet (or in error with a changed sidecar): has it settled?
        now = self.clock()
        sig = (size, mtime, side_sig)
        cand = self._mem.candidates.get(key)
        if cand is None or cand.sig != sig:
            self._mem.candidates[key] = _Candidate(sig, now)
            self._due(now + folder.settle_seconds)
            return
        if now - cand.since < folder.settle_seconds:
            self._due(cand.since + folder.settle_seconds)
            return
        if size == 0:
            return
        try:
            sha = self._hash(path)
        except OSError as e:
            if cand.unreadable_since is None:
                cand.unreadable_since = now
            if now - cand.unreadable_since < self.unreadable_grace:
                self._due(now + min(self.scan_interval, 1.0))
                return
            why = f"{path.name} cannot be read: {e.strerror or e}."
            written.append(self._record_error(folder, path, size, mtime, None, why, side_sig))
            self._mem.candidates.pop(key, None)
            return
        if _sig(path) != (size, mtime) or _sig(sidecar) != side_sig:
            self._mem.candidates.pop(key, None)  # changed while hashed: settle again
            self._due(now)
            return
        self._mem.candidates.pop(key, None)
        try:
            metadata = _metadata(folder, path, sidecar, sha)
        except _BadFile as e:
            written.append(self._record_error(folder, path, size, mtime, sha, str(e), side_sig))
            return
        dup = self.store.query_one(
            "SELECT wf.path FROM watch_files wf JOIN watch_folders f ON f.id = wf.folder_id"
            " WHERE f.profile = ? AND wf.sha256 = ? AND wf.state IN ('uploading', 'sent')"
            " ORDER BY wf.id LIMIT 1",
            (self.profile, sha),
        )
        if dup is not None:
            note = f"Not uploaded again: the same content was already sent as {Path(dup[0]).name}."
            fid = self._write_row(folder, path, size, mtime, sha, "sent", note, claim=False)
            if fid is not None:
                written.append(fid)
                log.info("hot folder: %s has the content of %s; not uploaded", path, dup[0])
                self._move_sent(folder, self._file(fid))
            return
        fid = self._write_row(folder, path, size, mtime, sha, "uploading", "", claim=True)
        if fid is None:
            return  # taken meanwhile (another scanner)
        written.append(fid)
        try:
            tid = self.enqueue_upload(path, metadata, folder)
        except Exception as e:
            log.exception("hot folder: queueing %s failed", path)
            self._write_row(
                folder, path, size, mtime, sha, "error", f"It could not be queued: {e}", claim=False
            )
            self._mem.error_sidecars[fid] = side_sig
            return
        with self.store.write() as c:
            c.execute(
                "UPDATE watch_files SET transfer_id = ? WHERE id = ? AND transfer_id IS NULL",
                (tid, fid),
            )
        self._mem.error_sidecars.pop(fid, None)
        log.info("hot folder: %s queued for upload (transfer %d)", path, tid)

    def _due(self, when: float) -> None:
        self._next_due = min(self._next_due, when)

    def _hash(self, path: Path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(_HASH_BLOCK):
                h.update(block)
                if self._stop.is_set():
                    raise _Stopped
        return h.hexdigest()

    def _sidecar_changed(self, row: WatchFile, side_sig: _Sig | None) -> bool:
        known = self._mem.error_sidecars.get(row.id, _UNKNOWN)
        if known is not _UNKNOWN:
            return bool(side_sig != known)
        # Not seen in this run (a restart): changed if modified after the error was recorded.
        changed = side_sig is not None and side_sig[1] > row.at * 1e9
        if not changed:
            self._mem.error_sidecars[row.id] = side_sig
        return changed

    # --- rows --------------------------------------------------------------------------------

    def _row(self, folder_id: int, path: Path, size: int, mtime: int) -> WatchFile | None:
        row = self.store.query_one(
            "SELECT * FROM watch_files WHERE folder_id = ? AND path = ? AND size = ?"
            " AND mtime_ns = ?",
            (folder_id, str(path), size, mtime),
        )
        return WatchFile.from_row(row) if row else None

    def _write_row(
        self,
        folder: WatchFolder,
        path: Path,
        size: int,
        mtime: int,
        sha: str | None,
        state: str,
        error: str,
        *,
        claim: bool,
    ) -> int | None:
        """Insert or update the row of (folder, path, size, mtime). ``claim``: only a new row or
        one in error may be written (None when another scanner took the file meanwhile)."""
        with self.store.write() as c:
            cur = c.execute(
                _CLAIM if claim else _UPSERT,
                (folder.id, str(path), size, mtime, sha, state, error, time.time()),
            )
            if cur.rowcount == 0:
                return None
            # The same file seen before with another size or time and refused: that report is
            # out of date now (what was sent or is uploading stays on record).
            c.execute(
                "DELETE FROM watch_files WHERE folder_id = ? AND path = ? AND state = 'error'"
                " AND NOT (size = ? AND mtime_ns = ?)",
                (folder.id, str(path), size, mtime),
            )
            row = c.execute(
                "SELECT id FROM watch_files WHERE folder_id = ? AND path = ? AND size = ?"
                " AND mtime_ns = ?",
                (folder.id, str(path), size, mtime),
            ).fetchone()
        return int(row[0])

    def _record_error(
        self,
        folder: WatchFolder,
        path: Path,
        size: int,
        mtime: int,
        sha: str | None,
        message: str,
        side_sig: _Sig | None,
    ) -> int:
        fid = self._write_row(folder, path, size, mtime, sha, "error", message, claim=False)
        assert fid is not None
        self._mem.error_sidecars[fid] = side_sig
        log.warning("hot folder: %s", message)
        return fid

    def _reconcile(self) -> None:
        """Rows left behind by a crash or an engine that ran without the outcome hook: an upload
        that ended without the row knowing, a row whose upload was never queued."""
        rows = self.store.query(
            "SELECT wf.id, wf.path, wf.sha256, wf.transfer_id, t.id AS tid, t.state AS tstate,"
            " t.result, t.last_error FROM watch_files wf"
            " JOIN watch_folders f ON f.id = wf.folder_id"
            " LEFT JOIN transfers t ON t.id = wf.transfer_id"
            " WHERE f.profile = ? AND wf.state = 'uploading'"
            " AND (t.id IS NULL OR t.state IN ('done', 'failed', 'canceled'))",
            (self.profile,),
        )
        for r in rows:
            if r["transfer_id"] is None:
                found = self.store.query_one(
                    "SELECT * FROM transfers WHERE direction = 'upload' AND source = ?"
                    " AND sha256 = ? ORDER BY id DESC LIMIT 1",
                    (r["path"], r["sha256"]),
                )
                with self.store.write() as c:
                    if found is None:  # never queued: take the file again
                        c.execute(
                            "DELETE FROM watch_files WHERE id = ? AND state = 'uploading'"
                            " AND transfer_id IS NULL",
                            (r["id"],),
                        )
                        continue
                    t = Transfer.from_row(found)
                    c.execute(
                        "UPDATE watch_files SET transfer_id = ? WHERE id = ?", (t.id, r["id"])
                    )
                    if t.state in ENDED:
                        state, note = _outcome(t.state, t.result, t.last_error)
                        _set_outcome(c, r["id"], state, note)
                continue
            with self.store.write() as c:
                if r["tid"] is None:
                    _set_outcome(c, r["id"], "error", "The upload was removed from the queue.")
                else:
                    result = json.loads(r["result"] or "{}")
                    state, note = _outcome(str(r["tstate"]), result, str(r["last_error"]))
                    _set_outcome(c, r["id"], state, note)

    # --- the end of an upload ----------------------------------------------------------------

    def outcome_hook(self, conn: sqlite3.Connection, transfer: Transfer) -> None:
        """For ``TransferStore.outcome_hooks``: the row of the uploaded file becomes sent or
        error in the transaction that ends the upload. (The move to the sent folder is the scan
        loop's job, outside the transaction.)"""
        if transfer.direction != "upload" or transfer.state not in ENDED:
            return
        state, note = _outcome(transfer.state, transfer.result, transfer.last_error)
        mine = "folder_id IN (SELECT id FROM watch_folders WHERE profile = ?)"
        cur = conn.execute(
            f"UPDATE watch_files SET state = ?, error = ?, at = ?"  # noqa: S608 - constant text
            f" WHERE transfer_id = ? AND state = 'uploading' AND {mine}",
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
        if cur.rowcount:
            self._wake.set()

    def _move_sent(self, folder: WatchFolder, row: WatchFile) -> None:
        src = row.path
        sidecar = src.with_suffix(".json")
        # A sidecar shared by another file still waiting there (clip.mp4 and clip.mov) stays.
        try:
            others = [
                n
                for n in os.listdir(src.parent)
                if n != src.name and Path(n).stem == src.stem and not is_ignored(n)
            ]
        except OSError:
            others = []
        take_sidecar = sidecar.is_file() and not others
        try:
            dest = folder.sent_path
            dest.mkdir(parents=True, exist_ok=True)
            target = _move_unique(src, dest, src.name, companion=take_sidecar)
            if take_sidecar:
                _move_unique(sidecar, dest, f"{target.stem}.json")
        except OSError as e:
            if row.id not in self._mem.move_failed:
                self._mem.move_failed.add(row.id)
                log.warning("hot folder: %s was sent but cannot be moved: %s", src, e)
            return
        self._mem.move_failed.discard(row.id)
        log.info("hot folder: %s sent, moved to %s", src.name, target)


# --- helpers ---------------------------------------------------------------------------------


def _sig(path: Path) -> _Sig | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _outcome(state: str, result: Mapping[str, Any], last_error: str) -> tuple[str, str]:
    """A transfer's end → the watch file's state and message."""
    if state == "done":
        if result.get("state") == "failed":
            return "error", f"The hub refused it: {result.get('error') or 'no reason given'}"
        return "sent", ""
    if state == "canceled":
        return "error", "The upload was canceled."
    return "error", last_error or "The upload failed."


def _set_outcome(c: sqlite3.Connection, file_id: int, state: str, note: str) -> None:
    c.execute(
        "UPDATE watch_files SET state = ?, error = ?, at = ? WHERE id = ? AND state = 'uploading'",
        (state, note, time.time(), file_id),
    )


def _metadata(folder: WatchFolder, path: Path, sidecar: Path, sha256: str) -> dict[str, str]:
    """Sidecar over the folder's defaults over the file name; raises _BadFile."""
    values: dict[str, object] = {"title": title_from_filename(path)}
    values.update(folder.defaults)
    from_sidecar: set[str] = set()
    if sidecar.exists():
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
        except OSError as e:
            raise _BadFile(f"The sidecar {sidecar.name} cannot be read: {e.strerror or e}.") from e
        except UnicodeDecodeError:
            raise _BadFile(f"The sidecar {sidecar.name} is not UTF-8 text.") from None
        except ValueError as e:
            raise _BadFile(
                f"The sidecar {sidecar.name} is not valid JSON ({e}). "
                f"Fix it and {path.name} is taken again."
            ) from None
        if not isinstance(data, dict):
            raise _BadFile(
                f'The sidecar {sidecar.name} must be a JSON object like {{"title": "…"}}.'
            )
        for k, v in data.items():
            if k not in METADATA_FIELDS or v is None:
                continue
            if isinstance(v, dict | list | bool):
                raise _BadFile(f"In the sidecar {sidecar.name}, {k} must be text.")
            values[k] = v
            from_sidecar.add(k)
    try:
        return UploadFields.from_mapping(values).metadata(path, sha256)
    except FieldError as e:
        where = (
            f"the sidecar {sidecar.name}"
            if e.field in from_sidecar
            else "the hot folder's defaults"
            if e.field in folder.defaults
            else path.name
        )
        raise _BadFile(f"{path.name}: {e} (from {where})") from None


def _clean_defaults(defaults: Mapping[str, object]) -> dict[str, str]:
    unknown = sorted(set(defaults) - set(METADATA_FIELDS))
    if unknown:
        raise WatchError(
            f"{unknown[0]!r} is not an item field; the fields are {', '.join(METADATA_FIELDS)}."
        )
    clean = {k: str(v) for k, v in defaults.items() if v is not None and str(v) != ""}
    try:
        UploadFields.from_mapping({**clean, "title": clean.get("title") or "x"}).validated()
    except FieldError as e:
        raise WatchError(f"In the folder's defaults: {e}") from None
    return clean


def _clean_sent_dir(folder: Path, sent_dir: str | Path) -> str:
    text = str(sent_dir).strip()
    if not text:
        raise WatchError("The sent folder needs a name (like 'sent') or a full path.")
    sent = Path(text).expanduser()
    resolved = (sent if sent.is_absolute() else folder / sent).resolve()
    if resolved == folder.resolve():
        raise WatchError("The sent folder cannot be the hot folder itself.")
    return text


def _clean_settle(settle_seconds: float) -> float:
    settle = float(settle_seconds)
    if not 0 <= settle <= 24 * 3600 or settle != settle:
        raise WatchError("The settle time is between 0 seconds and a day.")
    return settle


def _move_unique(src: Path, folder: Path, name: str, *, companion: bool = False) -> Path:
    """Move ``src`` into ``folder`` as ``name``, or ``stem (2).ext``… if that is taken: never
    over an existing file (a hard link refuses to replace one; across file systems the name is
    checked first). ``companion``: the name's ``.json`` must be free too (the sidecar follows)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 10_000):
        target = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
        if target.exists() or (companion and target.with_suffix(".json").exists()):
            continue
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or one without hard links (FAT, some shares)
            if target.exists():
                continue
            shutil.move(str(src), str(target))
            return target
        os.unlink(src)
        return target
    raise FileExistsError(f"Too many files named like {name!r} in {folder}")
