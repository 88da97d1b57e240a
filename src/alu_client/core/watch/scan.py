"""The scan: every enabled folder listed, a file taken once it has settled and reads, hashed,
its metadata made from the sidecar, the folder's defaults and the name, then queued (or
recorded as a duplicate or an error). See the package's note for the rules."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..nofollow import is_link, is_plain, open_plain
from ..rules.engine import hub_clock_offset
from ..safe_names import NameNotText, check_text_path
from ..uploads import FieldError, UploadFields, title_from_filename
from .claims import ClaimKeeper
from .folders import METADATA_FIELDS, TAKEN_OVER, WatchFile, WatchFolder, is_file, is_ignored
from .messages import (
    MSG_CHANGED_AFTER_START,
    MSG_FIELD_FROM_DEFAULTS,
    MSG_FIELD_FROM_NAME,
    MSG_FIELD_FROM_SIDECAR,
    MSG_FOLDER_IS_DOWNLOADS,
    MSG_FOLDER_MISSING,
    MSG_FOLDER_UNREADABLE,
    MSG_NOT_A_VIDEO,
    MSG_NOT_PLAIN,
    MSG_NOT_QUEUED,
    MSG_NOT_TAKEN,
    MSG_SAME_CONTENT,
    MSG_SIDECAR_NOT_JSON,
    MSG_SIDECAR_NOT_OBJECT,
    MSG_SIDECAR_NOT_TEXT,
    MSG_SIDECAR_NOT_UTF8,
    MSG_SIDECAR_UNREADABLE,
    MSG_UNREADABLE,
)
from .move import SENT_WATCH, SentMover
from .records import FileRecords, _Candidate, _Retry, _Sig, _sig
from .same import on_its_way, same_content

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split

#: seconds a settled file may stay unreadable before it is reported
UNREADABLE_GRACE = 60.0
#: seconds before a file that failed for a reason that may pass (the store busy, a share's
#: hiccup) is tried again; doubled at each failure in a row, up to ``RETRY_MAX``
RETRY_FIRST = 10.0
RETRY_MAX = 600.0
#: what may pass: the store locked by another process, a file system's error
_MOMENTARY = (OSError, sqlite3.OperationalError)
_HASH_BLOCK = 1 << 20

#: ``enqueue_upload(path, metadata, folder) -> transfer id``
EnqueueUpload = Callable[[Path, dict[str, str], "WatchFolder"], int]


class _BadFile(Exception):
    """A file that cannot be uploaded as it is; ``str()`` is the sentence shown to the user."""


class _Stopped(Exception):
    pass


_UNKNOWN: Any = object()


class Scanner(FileRecords, SentMover, ClaimKeeper):
    """Scanning the hot folders and taking their files (a part of ``HotFolders``)."""

    enqueue_upload: EnqueueUpload
    scan_interval: float
    clock: Callable[[], float]
    unreadable_grace: float
    video_problem: Callable[[Path], str] | None
    download_folders: Callable[[], Iterable[Path]] | None
    scans: int
    _scan_lock: threading.Lock
    _removed: set[int]
    _removed_lock: threading.Lock
    _born: dict[int, float]
    _stop: threading.Event
    _next_due: float

    def _clock_offset(self) -> float:
        """The hub's clock minus this one's, as the feed sync kept it: a sidecar's recording
        date is checked on the hub's clock, as the hub checks it."""
        return hub_clock_offset(self.store, self.profile)

    # --- scanning -------------------------------------------------------------------------------

    def scan_now(self) -> list[WatchFile]:
        """One scan of every enabled folder; returns the rows it wrote (taken, duplicates,
        errors). Reads and hashes files: call it from a worker or the CLI, never a GUI thread."""
        with self._scan_lock:
            self._next_due = math.inf
            written: list[int] = []
            self._reconcile()
            self._restore()
            every = self.list_folders()
            born = {f.id: f.created_at for f in every}
            # a folder removed and added again under the same id since the last scan, by
            # another process too (`alu watch` beside the app): not the folder it was
            renewed = {fid for fid, at in born.items() if self._born.get(fid, at) != at}
            self._born = born
            self._forget_removed(set(born) - renewed)
            folders = [f for f in every if f.enabled]
            for off in (f for f in every if not f.enabled):
                self._set_problems(off, [])  # not watched: no problem of its to show
                self._forget_elsewhere(off.id)  # (nor files sent elsewhere)
            downloads = self._download_folders()
            ids = {f.id for f in folders}
            for key in [k for k in self._mem.candidates if k[0] not in ids]:
                del self._mem.candidates[key]
            for folder in folders:
                if self._stop.is_set():
                    break
                self._scan_folder(folder, written, downloads)
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

    def _forget_removed(self, known: set[int]) -> None:
        """What was kept of folders removed since (their rows went with them): a folder added
        again may get the same id, and starts afresh — also when it was added again before
        this scan (the ids ``remove_folder`` noted, and those whose folder was added at
        another time than the last scan saw: removed and added again by another process): a
        file's retry planned in the old folder held it back in the new one for up to 10
        minutes (outside review)."""
        with self._removed_lock:
            removed, self._removed = self._removed, set()
        kept = known - removed
        mem = self._mem
        for fid in [fid for fid in mem.problems if fid not in kept]:
            del mem.problems[fid]
        for by_path in (mem.candidates, mem.retries, mem.sidecars_behind, mem.behind):
            for key in [k for k in by_path if k[0] not in kept]:
                del by_path[key]
        self._forget_claims_of_removed(kept)

    def _file(self, file_id: int) -> WatchFile:
        row = self.store.query_one("SELECT * FROM watch_files WHERE id = ?", (file_id,))
        assert row is not None
        return WatchFile.from_row(row)

    def _download_folders(self) -> set[Path]:
        """Where downloads are saved (the download folder, the rules' folders), resolved: a hot
        folder there would publish every clip downloaded again."""
        if self.download_folders is None:
            return set()
        try:
            return {Path(p).expanduser().resolve() for p in self.download_folders()}
        except Exception:  # (the settings unreadable now): the folders are scanned
            log.exception("hot folders: the download folders cannot be known")
            return set()

    def _scan_folder(self, folder: WatchFolder, written: list[int], downloads: set[Path]) -> None:
        self._mem.sent_problems.pop(folder.id, None)
        if folder.path in downloads:
            self._set_problems(folder, [MSG_FOLDER_IS_DOWNLOADS.format(folder=folder.path)])
            self._forget_elsewhere(folder.id)
            return
        try:
            entries = list(os.scandir(folder.path))
        except OSError as e:
            self._set_problems(folder, [_folder_unreadable(folder, e)])
            self._forget_elsewhere(folder.id)
            return
        problems: list[str] = []
        seen: set[tuple[int, str]] = set()
        names = {e.name for e in entries}
        for entry in entries:
            if self._stop.is_set():
                return
            if is_ignored(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)  # (a link's own: never followed)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and not is_link(st):
                continue  # a folder (the sent folder): not looked into
            if is_link(st) and entry.is_dir(follow_symlinks=True):
                # a link to a folder (the sent folder kept on an archive disk): nothing in it
                # is sent, as for a folder — not a problem to put right (it was said so)
                continue
            if getattr(st, "st_file_attributes", 0) & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2):
                continue
            path = Path(entry.path)
            try:
                check_text_path(path)
            except NameNotText as e:  # no row can hold its name: the folder's problem says so
                problems.append(str(e))
                continue
            if not is_plain(st):  # a link, a FIFO, a device: what it points to is not sent
                problems.append(MSG_NOT_PLAIN.format(name=entry.name, folder=folder.path))
                continue
            seen.add((folder.id, str(path)))
            try:
                self._consider(folder, path, st, written)
            except _Stopped:
                return
            except Exception as e:
                self._failed(folder, path, st, e, written)
        for key in [k for k in self._mem.candidates if k[0] == folder.id and k not in seen]:
            del self._mem.candidates[key]
        for key in [k for k in self._mem.retries if k[0] == folder.id and k not in seen]:
            del self._mem.retries[key]
        for key in [k for k in self._claims.elsewhere if k[0] == folder.id and k not in seen]:
            del self._claims.elsewhere[key]
        self._claims_pass(folder, names)
        self._publish_elsewhere(folder.id)  # (after the claims' pass: a file taken over)
        for key in [k for k in self._mem.sidecars_behind if k[0] == folder.id and k not in seen]:
            self._waiter_gone(key)
        try:
            self._watch_sent(folder, written)
        except _Stopped:  # (Quit, sign-out) while a file in the sent folder was read
            return
        sent_problem = self._mem.sent_problems.get(folder.id)
        self._set_problems(folder, [*problems, *([sent_problem] if sent_problem else [])])

    def _waiter_gone(self, key: tuple[int, str]) -> None:
        """A file that waited for its sidecar (put back from the sent folder) and was not in
        the folder's listing: deleted or renamed, its wait ends (kept, it would have given
        that sidecar to the next file of that name: a camera counting CLIP0042 again)."""
        try:
            os.stat(key[1])
        except FileNotFoundError:
            sidecar = self._mem.sidecars_behind.get(key)
            log.info("hot folder: %s is gone; it no longer waits for %s", key[1], sidecar)
            self._end_sidecar_wait(key)
        except OSError:
            pass  # not seen for now (a share's hiccup): still waiting

    def _failed(
        self,
        folder: WatchFolder,
        path: Path,
        st: os.stat_result,
        error: Exception,
        written: list[int],
    ) -> None:
        """What went wrong with a file and was not foreseen: that file's error, said once (with
        the traceback, for a bug report), and the file left alone until it changes — not a
        traceback and the whole file read again at every scan. A fault that may pass (the
        store locked, a share's hiccup) has the file tried again after a while, longer at each
        failure in a row; so does any fault whose error could not be recorded."""
        key = (folder.id, str(path))
        self._mem.candidates.pop(key, None)
        if not os.path.lexists(path):
            # gone while it was looked at: another workstation watching the folder took it and
            # moved it to sent/ (or someone moved it away); nothing of it to report here
            log.info("hot folder: %s went while it was looked at (%s)", path, _reason(error))
            return
        before = self._mem.retries.get(key)
        recorded = True
        try:
            fid = self._report_failure(folder, path, st, error, written)
            if fid is not None and isinstance(error, _MOMENTARY):
                with self.store.write() as c:  # tried again after a restart too
                    c.execute("UPDATE watch_files SET retry = 1 WHERE id = ?", (fid,))
        except Exception as e:  # the store itself failing: said, and the scan goes on
            recorded = False
            log.warning("hot folder: the error of %s could not be recorded: %s", path, e)
        if isinstance(error, _MOMENTARY) or not recorded:
            self._retry_later(key, (st.st_size, st.st_mtime_ns), before)

    def _retry_later(self, key: tuple[int, str], sig: _Sig, before: _Retry | None) -> None:
        """Plan the next try of the file at ``key``, ``before`` being the plan that failed."""
        failures = before.failures + 1 if before is not None and before.sig == sig else 1
        at = self.clock() + min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1))
        self._mem.retries[key] = _Retry(sig, failures, at)

    def _retry_at(self, key: tuple[int, str], sig: _Sig) -> float | None:
        """When the file at ``key``, as it is (``sig``), is tried again after a fault that
        may pass; None: no try planned (none failed, or the file changed since)."""
        planned = self._mem.retries.get(key)
        if planned is None:
            return None
        if planned.sig != sig:
            del self._mem.retries[key]
            return None
        return planned.at

    def _report_failure(
        self,
        folder: WatchFolder,
        path: Path,
        st: os.stat_result,
        error: Exception,
        written: list[int],
    ) -> int | None:
        """Record what went wrong as the file's error; its row's id (None: the file has a row
        that is no error, uploading or sent, which stays)."""
        row = self._row(folder.id, path, st.st_size, st.st_mtime_ns)
        if row is not None and row.state in ("uploading", "sent"):
            # uploading or sent: its record stays (a move is tried again); said once
            if row.id not in self._mem.move_failed:
                self._mem.move_failed.add(row.id)
                log.error("hot folder: %s could not be handled", path, exc_info=error)
            return None
        why = MSG_NOT_TAKEN.format(name=path.name, reason=_reason(error))
        if row is not None and row.error == why:
            return row.id
        log.error("hot folder: %s could not be handled", path, exc_info=error)
        side_sig = _sig(path.with_suffix(".json"))
        fid = self._record_error(folder, path, st.st_size, st.st_mtime_ns, None, why, side_sig)
        written.append(fid)
        return fid

    def _consider(
        self, folder: WatchFolder, path: Path, st: os.stat_result, written: list[int]
    ) -> None:
        key = (folder.id, str(path))
        if key in self._mem.sidecars_behind and not self._sidecar_back(key, path):
            self._due(self.clock() + self.scan_interval)
            return  # put back from the sent folder: not sent without its sidecar
        size, mtime = st.st_size, st.st_mtime_ns
        sidecar = path.with_suffix(".json")
        side_sig = _sig(sidecar)
        row = self._row(folder.id, path, size, mtime)
        if row is not None and row.state == "error" and row.retry and key not in self._mem.retries:
            # in error after a fault that may pass, before a restart: tried again (the back-off
            # starts over)
            self._mem.retries[key] = _Retry((size, mtime), 0, self.clock())
        retry_at = self._retry_at(key, (size, mtime))
        retry_due = retry_at is not None and self.clock() >= retry_at
        if row is not None:
            if row.state == "sent":
                self._mem.candidates.pop(key, None)
                if _sig(path) != (size, mtime):  # changed since the listing: seen next time
                    self._due(self.clock())
                    return
                # (read once: a move that failed is tried again at every scan, not the hash)
                if row.id not in self._mem.move_failed and self._other_bytes(row):
                    written.append(self._cut(row, _changed_note(path)))
                    self._due(self.clock())
                    return
                if self._moving_ours(folder, row):
                    self._move_sent(folder, row)
                return
            # (taken over from here by another workstation: it sends it while its claim lives;
            # that claim stale or gone with the file still here, the file is taken again as any
            # other — below)
            if row.state == "uploading" or (
                row.state != TAKEN_OVER and not (retry_due or self._sidecar_changed(row, side_sig))
            ):
                self._mem.candidates.pop(key, None)
                return
        elif retry_at is not None and not retry_due:
            return  # failed, and its error could not be recorded: tried again later
        # Not taken yet (or in error with a changed sidecar): has it settled?
        now = self.clock()
        sig = (size, mtime, side_sig)
        behind = self._mem.behind.get(key)
        if behind is not None:
            if behind[0] == sig and on_its_way(self.store, *behind[1]):
                return  # its earlier version is still on its way (see below)
            del self._mem.behind[key]
        cand = self._mem.candidates.get(key)
        seen_first = False
        if cand is None or cand.sig != sig:
            cand = self._mem.candidates[key] = _Candidate(sig, now)
            seen_first = True
        if self._claim_elsewhere(folder, path) is not None:
            # another workstation sends it (looked at again at each scan: its claim): known at
            # once, settled or not (after a restart too: Settings and `alu watch list` show
            # it); it settles meanwhile, and is taken at once should that claim go stale
            return
        if seen_first:
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
            why = MSG_UNREADABLE.format(name=path.name, reason=_reason(e))
            written.append(self._record_error(folder, path, size, mtime, None, why, side_sig))
            self._mem.candidates.pop(key, None)
            return
        if _sig(path) != (size, mtime) or _sig(sidecar) != side_sig:
            self._mem.candidates.pop(key, None)  # changed while hashed: settle again
            self._due(now)
            return
        self._mem.candidates.pop(key, None)
        problem = self.video_problem(path) if self.video_problem is not None else ""
        if problem and not os.path.lexists(path):
            # gone since it was read: taken by another workstation watching the folder, or
            # moved away — not a file the hub would refuse ("… was not found")
            return
        if problem:  # said now, not by the hub once the whole file was sent
            why = MSG_NOT_A_VIDEO.format(problem=problem)
            written.append(self._record_error(folder, path, size, mtime, sha, why, side_sig))
            return
        cut = self._sent_unmoved(folder, path)
        if cut is not None and cut.sha256 != sha:  # sent, then it changed: what went was cut
            written.append(self._cut(cut, _changed_note(path)))
        try:
            metadata = _metadata(folder, path, sidecar, sha, self._clock_offset())
        except _BadFile as e:
            written.append(self._record_error(folder, path, size, mtime, sha, str(e), side_sig))
            return
        # (a hot folder's upload of the bytes, or one by hand: `alu put`, the upload form)
        dup = same_content(self.store, self.profile, sha)
        if dup is not None and dup.on_its_way:
            # The same bytes are on their way: its upload decides. Sent, this is a copy of it;
            # failed, nothing was published and this file is not "already sent". And when it is
            # the file being uploaded, touched or copied again over itself (a new time, the same
            # bytes): not a duplicate to move out of the upload's way — moved to sent/, it was
            # never published; stopped by the change, this version goes as a new upload.
            self._mem.behind[key] = (sig, (dup.kind, dup.id))
            self._due(now + self.scan_interval)
            return
        if self._take_claim(folder, path, size, mtime) is not None:
            return  # another workstation took it meanwhile: it sends it
        if dup is not None:
            note = MSG_SAME_CONTENT.format(first=dup.first)
            fid = self._write_row(folder, path, size, mtime, sha, "sent", note, claim=False)
            if fid is not None:
                written.append(fid)
                log.info("hot folder: %s has the content of %s; not uploaded", path, dup.where)
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
            why = MSG_NOT_QUEUED.format(reason=_reason(e))
            self._write_row(folder, path, size, mtime, sha, "error", why, claim=False)
            self._mem.error_sidecars[fid] = side_sig
            return
        with self.store.write() as c:
            c.execute(
                "UPDATE watch_files SET transfer_id = ? WHERE id = ? AND transfer_id IS NULL",
                (tid, fid),
            )
        self._mem.error_sidecars.pop(fid, None)
        log.info("hot folder: %s queued for upload (transfer %d)", path, tid)

    def _sent_unmoved(self, folder: WatchFolder, path: Path) -> WatchFile | None:
        """The row of a file sent lately from ``path`` and not moved to the sent folder yet (a
        moved one's row has its path there): ``path`` with another size or time, and other
        bytes, is that file changed after it was taken (the same bytes: it was touched)."""
        row = self.store.query_one(
            "SELECT * FROM watch_files WHERE folder_id = ? AND path = ? AND state = 'sent'"
            " AND at > ? ORDER BY id DESC LIMIT 1",
            (folder.id, str(path), time.time() - SENT_WATCH),
        )
        if row is None or int(row["id"]) in self._claims.not_moved:
            return None  # (left to the workstation that took it over: its move, not a change)
        return WatchFile.from_row(row)

    def _other_bytes(self, row: WatchFile) -> bool:
        """Whether the file of ``row``, with the size and time it was taken with, no longer
        holds the bytes its upload carried (a copy tool that puts the old time back, a time
        kept to 2 s on FAT): it must not go to the sent folder as sent."""
        if row.sha256 is None:
            return False
        try:
            return self._hash(row.path) != row.sha256
        except OSError:
            return False  # unreadable for now: the move says so

    def _due(self, when: float) -> None:
        self._next_due = min(self._next_due, when)

    def _hash(self, path: Path, size: int | None = None) -> str:
        """The sha256 of ``path``, or of its first ``size`` bytes (what an upload carried of a
        file that grew since)."""
        h = hashlib.sha256()
        left = math.inf if size is None else size
        with open_plain(path) as f:  # (a link put in its place since the listing: not followed)
            while left > 0 and (block := f.read(int(min(_HASH_BLOCK, left)))):
                h.update(block)
                left -= len(block)
                if self._stop.is_set():
                    raise _Stopped
                self._keep_claims_alive()  # (due once a minute: at once otherwise)
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


def _folder_unreadable(folder: WatchFolder, error: OSError) -> str:
    """Why ``folder`` cannot be listed, as its problem."""
    if isinstance(error, FileNotFoundError):
        return MSG_FOLDER_MISSING.format(folder=folder.path)
    return MSG_FOLDER_UNREADABLE.format(folder=folder.path, reason=_reason(error))


def _changed_note(path: Path) -> str:
    return MSG_CHANGED_AFTER_START.format(name=path.name)


def _reason(error: BaseException) -> str:
    """Why ``error`` happened, in a message: the system's words for a file error (which the app
    shows in the user's language), else the error's text, else its kind."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _metadata(
    folder: WatchFolder, path: Path, sidecar: Path, sha256: str, clock_offset: float
) -> dict[str, str]:
    """Sidecar over the folder's defaults over the file name; raises _BadFile."""
    values: dict[str, object] = {"title": title_from_filename(path)}
    values.update(folder.defaults)
    from_sidecar: set[str] = set()
    try:
        has_sidecar = is_file(sidecar)  # (a name too long to exist: none)
    except OSError as e:
        raise _BadFile(
            MSG_SIDECAR_UNREADABLE.format(sidecar=sidecar.name, reason=_reason(e))
        ) from e
    if has_sidecar:
        try:
            with open_plain(sidecar) as f:  # (a link to a file elsewhere: not read)
                data = json.loads(f.read().decode("utf-8-sig"))
        except OSError as e:
            raise _BadFile(
                MSG_SIDECAR_UNREADABLE.format(sidecar=sidecar.name, reason=_reason(e))
            ) from e
        except UnicodeDecodeError:
            raise _BadFile(MSG_SIDECAR_NOT_UTF8.format(sidecar=sidecar.name)) from None
        except ValueError as e:
            raise _BadFile(
                MSG_SIDECAR_NOT_JSON.format(sidecar=sidecar.name, error=e, name=path.name)
            ) from None
        if not isinstance(data, dict):
            raise _BadFile(MSG_SIDECAR_NOT_OBJECT.format(sidecar=sidecar.name))
        for k, v in data.items():
            if k not in METADATA_FIELDS or v is None:
                continue
            if isinstance(v, dict | list | bool):
                raise _BadFile(MSG_SIDECAR_NOT_TEXT.format(sidecar=sidecar.name, field=k))
            values[k] = v
            from_sidecar.add(k)
    try:
        return UploadFields.from_mapping(values).metadata(path, sha256, clock_offset)
    except FieldError as e:
        said = (
            MSG_FIELD_FROM_SIDECAR
            if e.field in from_sidecar
            else MSG_FIELD_FROM_DEFAULTS
            if e.field in folder.defaults
            else MSG_FIELD_FROM_NAME
        )
        raise _BadFile(said.format(name=path.name, problem=e, sidecar=sidecar.name)) from None
