"""Rendition files on this workstation: recorded when a download ends, checked against the disk,
freed by retention.

A record is never deleted: a file that vanished or changed outside the app becomes
``missing`` (with the reason), one the app deleted becomes ``removed``; both keep their item's
history, probe data and thumbnail, and a re-download (``record_file`` again) makes the record
``present`` once more. The disk is touched outside the store's lock (a network share may take
seconds to answer) and rows are then updated only if nobody re-recorded them meanwhile.

Deleting is careful: only the exact path a record holds, only a regular file, and only when it
is still the file ALU Desk verified: its size, and its modification time as the file system gave
it once the download had put it in place (``mtime_ns``). A download folder may be shared by
several workstations (an SMB or NFS share): another one may download the same item to the same
name since, same size and all, or a program may write over the file; such a file has another
time, and is left alone (the record says why). The time is compared with the one the same file
system gave before, never with a clock, so its grain (2 s on FAT, 100 ns on NTFS and SMB) does
not matter while the file stays there; but FAT keeps local time, and Windows (or Linux's vfat
without ``tz=UTC``) shows every file an hour off after a daylight-saving change: a time off by
exactly an hour, on whole seconds, is the same file (``same_time``). A copy that keeps times
(``cp -p``, ``rsync -a``, robocopy, Explorer, Finder) to a disk of the same or a finer grain
keeps it too: a library folder moved that way stays deletable (copied to a coarser one, FAT,
its files are left in place: the safe side). Records made before the time was kept (NULL) are
checked by their size alone, as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import Store
from ..store.rows import RowReader, warn_damaged
from .refind import found_again

PRESENT, MISSING, REMOVED = "present", "missing", "removed"


class LibraryError(Exception):
    """A library action could not be done; ``str()`` is the user's sentence."""


@dataclass(frozen=True)
class LibraryFile:
    id: int
    profile: str
    item_id: str
    rendition: str
    path: Path
    size: int
    sha256: str
    verified_at: float
    state: str
    reason: str
    checked_at: float | None
    transfer_id: int | None
    probe: dict[str, Any] | None
    probe_error: str
    thumbnail: str
    #: the file's modification time as verified (ns, its file system's); None: not known
    mtime_ns: int | None = None

    @property
    def present(self) -> bool:
        return self.state == PRESENT

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LibraryFile:
        """The row as a file record; a value edited or damaged in the file is replaced by a
        stand-in (a size of 0) and logged: ``check_files`` then says what to do."""
        r = RowReader(row)
        probe = r.json_object("probe") if row["probe"] else None
        if "probe" in r.bad:  # (never worth a word: the media worker makes it again)
            r.bad.remove("probe")
            probe = None
        record = cls(
            id=r.integer("id", 0),
            profile=r.text("profile"),
            item_id=r.text("item_id"),
            rendition=r.text("rendition"),
            path=Path(r.text("path")),
            size=r.integer("size", 0),
            sha256=r.text("sha256"),
            verified_at=r.real("verified_at", 0.0),
            state=r.choice("state", (PRESENT, MISSING, REMOVED), MISSING),
            reason=r.text("reason"),
            checked_at=r.real_or_none("checked_at"),
            transfer_id=r.integer_or_none("transfer_id"),
            probe=probe,
            probe_error=r.text("probe_error"),
            thumbnail=r.text("thumbnail"),
            mtime_ns=r.integer_or_none("mtime_ns"),
        )
        _warn(record.item_id, record.rendition, r.damaged)
        return record


#: why a file whose record cannot be read is missing (``check_files``)
DAMAGED_RECORD = "its record in the library is damaged; download it again"


def _warn(item_id: str, rendition: str, damaged: str) -> None:
    warn_damaged("library file", f"{item_id}/{rendition}", damaged, "download it again.")


def _recorded(row: sqlite3.Row) -> tuple[int, float, int | None] | None:
    """The size, verified time and file modification time (None: not known) a record holds;
    None when one is no number (edited or damaged in the file): such a file is never deleted,
    since it cannot be checked."""
    r = RowReader(row)
    size, verified = r.integer("size", 0), r.real("verified_at", 0.0)
    mtime_ns = r.integer_or_none("mtime_ns")
    if r.damaged:
        _warn(str(row["item_id"]), str(row["rendition"]), r.damaged)
        return None
    return size, verified, mtime_ns


def record_file(
    conn: sqlite3.Connection,
    profile: str,
    item_id: str,
    rendition: str,
    path: Path | str,
    size: int,
    sha256: str,
    transfer_id: int | None = None,
    *,
    now: float | None = None,
    mtime_ns: int | None = None,
) -> int:
    """Record a verified rendition file, inside the caller's open transaction (the one that
    ends the download). A record that exists (an earlier download, missing or removed since)
    becomes present again with the new path; its probe and thumbnail are kept when the bytes
    are the same (sha256), else made again by the media worker. ``mtime_ns``: the file's
    ``st_mtime_ns`` as ``os.stat`` gave it once the file was in place (the download's
    result); the file is later deleted only while it still has it. Without one (None), its
    size alone tells it from another file. Returns the record's id."""
    now = time.time() if now is None else now
    path_text = str(Path(path).absolute())
    row = conn.execute(
        "INSERT INTO library_files (profile, item_id, rendition, path, size, sha256,"
        " verified_at, state, reason, checked_at, transfer_id, mtime_ns)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'present', '', ?, ?, ?)"
        " ON CONFLICT (profile, item_id, rendition) DO UPDATE SET"
        "  path = excluded.path, size = excluded.size,"
        "  verified_at = excluded.verified_at, state = 'present', reason = '',"
        "  checked_at = excluded.checked_at, transfer_id = excluded.transfer_id,"
        "  mtime_ns = excluded.mtime_ns,"
        "  probe = CASE WHEN sha256 = excluded.sha256 THEN probe END,"
        "  thumbnail = CASE WHEN sha256 = excluded.sha256 THEN thumbnail ELSE '' END,"
        # a probe that failed is tried again on a fresh copy (the old one may have been bad)
        "  probe_error = '',"
        "  sha256 = excluded.sha256"
        " RETURNING id",
        (
            profile,
            item_id,
            rendition,
            path_text,
            size,
            sha256.lower(),
            now,
            now,
            transfer_id,
            mtime_ns,
        ),
    ).fetchone()
    return int(row[0])


# --- looking at the disk -------------------------------------------------------------------------

#: why a file of the recorded size is not the one verified: its modification time is another
#: (``check_files``, and why a delete left it in place). Shown by the app (engine_text).
REWRITTEN = (
    "it was replaced or modified since it was downloaded (by another workstation sharing the "
    "folder, or by another program)"
)


_HOUR_NS = 3600 * 1_000_000_000


def same_time(recorded: int | None, now: int) -> bool:
    """Whether a file's modification time ``now`` is still the one recorded when it was
    verified (None: not recorded, the size alone tells). An hour off on whole seconds is
    FAT's local time seen across a daylight-saving change, not a file written again (that
    would have to land on the same second an hour later)."""
    if recorded is None or now == recorded:
        return True
    whole = recorded % 1_000_000_000 == 0 and now % 1_000_000_000 == 0
    return whole and abs(now - recorded) == _HOUR_NS


#: the reason of a missing file whose folder is not there (a drive unplugged, a share away)
FOLDER_GONE = "its folder is not there any more"


def _look(path: Path, size: int, mtime_ns: int | None = None) -> str:
    """'' when ``path`` is a regular file of ``size`` bytes (and, when ``mtime_ns`` is known,
    of that modification time), else why not (a sentence part). Never raises: a vanished
    drive or a folder without permission is an answer too."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not os.path.isdir(path.parent):
            # its whole folder gone: a drive unplugged, a share away — not the user's doing
            # to the file ("moved or deleted outside ALU Desk", 45 times over)
            return FOLDER_GONE
        return "the file is not there any more (moved or deleted outside ALU Desk)"
    except NotADirectoryError:
        return FOLDER_GONE
    except PermissionError:
        return "its folder cannot be read (permission denied)"
    except OSError as e:
        return f"it cannot be reached ({e.strerror or type(e).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return "something else than a file is at its place"
    if st.st_size != size:
        # plain integers: the app shows them in the user's digits
        return f"its size changed from {size} to {st.st_size} bytes since it was verified"
    if not same_time(mtime_ns, st.st_mtime_ns):
        return REWRITTEN
    return ""


@dataclass(frozen=True)
class MissingFile:
    item_id: str
    rendition: str
    path: Path
    reason: str


@dataclass(frozen=True)
class CheckReport:
    #: records looked at (present ones, and missing ones that may have come back)
    checked: int = 0
    #: files that became missing in this check
    missing: list[MissingFile] = field(default_factory=list)
    #: missing files found again at their place with their size
    restored: int = 0
    #: files missing before this check and still missing after it (a drive still unplugged)
    still_missing: list[MissingFile] = field(default_factory=list)


@dataclass(frozen=True)
class RetentionReport:
    #: files deleted, and the bytes that freed (their sizes as they were on disk)
    removed: int = 0
    freed_bytes: int = 0
    #: files retention chose that were already gone (their records are 'removed' too)
    already_gone: int = 0
    #: files left in place: changed since verified (another size, or written again: another
    #: modification time), or the delete failed; with the reason
    kept: list[MissingFile] = field(default_factory=list)


#: why a file of the recorded size and time is not the one verified: its bytes are others (its
#: sha256 differs: damaged in place by a disk or a copy tool). Set by ``verify_file`` only; a
#: check of the disk (size and time) never makes such a file present again: only a new download
DAMAGED = "its content is not the one verified (its checksum differs): the file is damaged"


#: a row's state changes only if it is as it was read: not re-recorded (path, time) meanwhile
_SET_STATE = (
    "UPDATE library_files SET state = ?, reason = ?, checked_at = ?"
    " WHERE id = ? AND state = ? AND path = ? AND verified_at = ?"
)


#: a file found again at another place (``refind``): present there
_FOUND = (
    "UPDATE library_files SET path = ?, mtime_ns = ?, state = 'present', reason = '',"
    " checked_at = ? WHERE id = ? AND state = ? AND path = ? AND verified_at = ?"
)


def _guard(row: sqlite3.Row) -> tuple[Any, ...]:
    return (row["id"], row["state"], row["path"], row["verified_at"])


def check_files(
    store: Store,
    profile: str,
    limit: int | None = None,
    *,
    now: float | None = None,
    item_ids: Sequence[str] | None = None,
    download_dir: Path | None = None,
) -> CheckReport:
    """Stat the present and missing files of ``profile``, least recently checked first
    (``limit`` bounds how many: a rolling check over a large library; ``item_ids``: only the
    files of these items). A file gone, moved, unreachable, of another size or written again
    since (another modification time: ``REWRITTEN``) becomes missing with the reason: it is
    not the file verified, and retention, which deletes present files only, leaves it alone. A
    missing one found again at its place with its size (and its time) is present again; one of
    another time stays missing (a share mounted again keeps its files' times). One gone from
    its place is looked for at the same place in ``download_dir`` (the download folder renamed
    and set anew), and taken back there when its bytes are the ones verified (``refind``)."""
    now = time.time() if now is None else now
    only, ids = "", list(dict.fromkeys(item_ids or ()))[:500]
    if item_ids is not None:
        if not ids:
            return CheckReport()
        only = f" AND item_id IN ({', '.join('?' * len(ids))})"
    rows = store.query(
        "SELECT id, item_id, rendition, path, size, state, reason, verified_at,"  # noqa: S608
        " mtime_ns, sha256"
        f" FROM library_files WHERE profile = ? AND state IN ('present', 'missing'){only}"
        " ORDER BY checked_at IS NOT NULL, checked_at, id LIMIT ?",
        (profile, *ids, -1 if limit is None else limit),
    )
    looked = [
        (
            row,
            _look(Path(row["path"]), known[0], known[2])
            if (known := _recorded(row))
            else DAMAGED_RECORD,
        )
        for row in rows
    ]
    # a file found damaged stays so while its size and time are the ones verified (its bytes
    # not); one gone since, or put back (a backup, another workstation's copy: another time),
    # gets the disk's own reason, and one of the recorded size and time again is checked by
    # its bytes (``verify_file``), never made present by a look
    looked = [
        (
            row,
            DAMAGED
            if row["state"] == MISSING and row["reason"] == DAMAGED and not reason
            else reason,
        )
        for row, reason in looked
    ]
    found = {
        row["id"]: there
        for row, reason in looked
        if reason and download_dir is not None and (there := found_again(row, download_dir))
    }
    missing: list[MissingFile] = []
    still: list[MissingFile] = []
    restored = 0
    with store.write() as conn:
        for row, reason in looked:
            if row["id"] in found:
                path, mtime_ns = found[row["id"]]
                cur = conn.execute(_FOUND, (str(path), mtime_ns, now, *_guard(row)))
                restored += cur.rowcount
                continue
            cur = conn.execute(
                _SET_STATE,
                (MISSING if reason else PRESENT, reason, now, *_guard(row)),
            )
            if not cur.rowcount:
                continue  # re-recorded or removed while we looked
            if reason and row["state"] == PRESENT:
                missing.append(_missing(row, reason))
            elif reason:
                still.append(_missing(row, reason))
            elif row["state"] == MISSING:
                restored += 1
    return CheckReport(checked=len(looked), missing=missing, restored=restored, still_missing=still)


def _missing(row: sqlite3.Row, reason: str) -> MissingFile:
    return MissingFile(row["item_id"], row["rendition"], Path(row["path"]), reason)


# --- checking the bytes ---------------------------------------------------------------------------

INTACT = "intact"


class VerifyStopped(LibraryError):
    """A file's check was stopped (the app is ending): nothing was recorded."""


def _sha256_of(path: Path, stop: threading.Event | None = None) -> tuple[str, os.stat_result]:
    """The file's sha256, and what identified the file read (its ``fstat``, taken when it was
    opened). ``stop`` set: VerifyStopped, between two reads."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        st = os.fstat(f.fileno())
        while chunk := f.read(1 << 20):
            if stop is not None and stop.is_set():
                raise VerifyStopped(f"The check of {path.name} was stopped.")
            h.update(chunk)
    return h.hexdigest(), st


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
    )


def verify_file(
    store: Store,
    profile: str,
    item_id: str,
    rendition: str,
    *,
    stop: threading.Event | None = None,
    now: float | None = None,
) -> str:
    """Read a file whole and compare its sha256 with the one verified at its download (a
    file the player or the media worker could not open: damaged in place, same size and
    time, or simply of a kind this workstation cannot play). Returns ``INTACT`` (the record
    is present: a damaged one put back right is so again), or why it is not the file
    verified; then the record is missing with that reason (``DAMAGED`` for other bytes), so
    it can be downloaded again. The file is never deleted here (``set_aside_damaged``). A file
    replaced while it was read (another workstation's copy renamed into place) is not called
    damaged: it is looked at again. ``stop`` (set at the app's end): VerifyStopped between two
    reads. Raises LibraryError when there is no such file record. Slow on a large file: never
    on the GUI thread."""
    now = time.time() if now is None else now
    row = store.query_one(
        "SELECT id, item_id, rendition, path, size, state, sha256, verified_at, mtime_ns"
        " FROM library_files WHERE profile = ? AND item_id = ? AND rendition = ?",
        (profile, item_id, rendition),
    )
    if row is None or row["state"] == REMOVED:
        raise LibraryError(f"The library has no {rendition} file of item {item_id}.")
    known = _recorded(row)
    path = Path(row["path"])
    reason = _look(path, known[0], known[2]) if known is not None else DAMAGED_RECORD
    if not reason and known is not None:
        try:
            digest, read = _sha256_of(path, stop)
            now_there = os.lstat(path)
        except VerifyStopped:
            raise
        except OSError as e:
            reason = f"it cannot be reached ({e.strerror or type(e).__name__})"
        else:
            if not _same_file(read, now_there):
                reason = _look(path, known[0], known[2]) or REWRITTEN  # replaced meanwhile
            else:
                reason = "" if digest == str(row["sha256"]).lower() else DAMAGED
    with store.write() as conn:
        conn.execute(_SET_STATE, (MISSING if reason else PRESENT, reason, now, *_guard(row)))
    return reason or INTACT


#: the name a damaged file is set aside under while its new download is queued
ASIDE_SUFFIX = ".damaged"


def set_aside_damaged(
    store: Store, profile: str, item_id: str, rendition: str
) -> tuple[Path, Path] | None:
    """Rename a file ``verify_file`` found damaged to a name of its own beside it (``.NAME
    .damaged``), so that its new download takes its name, not "NAME (2)": (where it was,
    where it is now), or None when it stays where it is: its record is not DAMAGED, its
    modification time was never recorded (the size alone cannot tell it from another
    workstation's good copy on a shared folder), or the file there is not the one recorded
    (another size or time: the record then says why). The caller deletes the set-aside copy
    once the new download is queued (``drop_aside``), or puts it back (``put_back``)."""
    row = store.query_one(
        "SELECT id, item_id, rendition, path, size, state, reason, verified_at, mtime_ns"
        " FROM library_files WHERE profile = ? AND item_id = ? AND rendition = ?",
        (profile, item_id, rendition),
    )
    if row is None or row["state"] != MISSING or row["reason"] != DAMAGED:
        return None
    known = _recorded(row)
    if known is None or known[2] is None:
        return None
    path = Path(row["path"])
    reason = _look(path, known[0], known[2])
    if not reason:
        aside = _aside_name(path)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and same_time(known[2], st.st_mtime_ns):
                os.rename(path, aside)
                return path, aside
            reason = REWRITTEN
        except FileNotFoundError:
            reason = _look(path, known[0], known[2])
        except OSError:
            return None  # (held open, a read-only share: it stays, the new copy takes a name)
    if reason:
        with store.write() as conn:
            conn.execute(_SET_STATE, (MISSING, reason, time.time(), *_guard(row)))
    return None


def _aside_name(path: Path) -> Path:
    for n in range(1, 1000):
        number = "" if n == 1 else f".{n}"
        aside = path.with_name(f".{path.name}{number}{ASIDE_SUFFIX}")
        if not os.path.lexists(aside):
            return aside
    raise LibraryError(f"Too many damaged copies of {path.name} beside it.")


def drop_aside(aside: Path) -> None:
    """Delete a damaged file set aside (its new download is queued)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside)


def put_back(
    store: Store, profile: str, item_id: str, rendition: str, place: Path, aside: Path
) -> bool:
    """Put a damaged file set aside back at its place (its new download was refused), and
    its record back to DAMAGED (a look in between saw it gone). False when something took
    its place meanwhile: the set-aside copy stays, under its own name."""
    if os.path.lexists(place):
        return False
    try:
        os.rename(aside, place)
    except OSError:
        return False
    with store.write() as conn:
        conn.execute(
            "UPDATE library_files SET state = 'missing', reason = ?"
            " WHERE profile = ? AND item_id = ? AND rendition = ? AND path = ?"
            " AND state != 'removed'",
            (DAMAGED, profile, item_id, rendition, str(place)),
        )
    return True


# --- deleting ------------------------------------------------------------------------------------

DELETED, GONE, CHANGED, FAILED = "deleted", "gone", "changed", "failed"


def delete_recorded(path: Path, size: int, mtime_ns: int | None = None) -> tuple[str, int, str]:
    """Delete the file a record holds: (outcome, bytes freed, reason). Outcomes: DELETED;
    GONE (nothing there); CHANGED (something else than the recorded file is there: left
    alone); FAILED (the delete was refused: still there). Never follows a symlink, never
    deletes a folder, never a file of another size than the recorded one, nor, when the
    record knows its modification time (``mtime_ns``), one of another time: the same item
    downloaded again to that name by another workstation sharing the folder, or the file
    written over by a program (``REWRITTEN``). The times compared are both the file system's
    (as verified, and now), exactly but for FAT's daylight-saving hour (``same_time``):
    never a clock's."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return GONE, 0, ""
    except OSError as e:
        return FAILED, 0, f"it cannot be reached ({e.strerror or type(e).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return CHANGED, 0, "something else than the downloaded file is at its place"
    if st.st_size != size:
        # plain integers: the app shows them in the user's digits (engine_text)
        return (
            CHANGED,
            0,
            f"its size changed from {size} to {st.st_size} bytes since it was downloaded",
        )
    if not same_time(mtime_ns, st.st_mtime_ns):
        return CHANGED, 0, REWRITTEN
    try:
        os.unlink(path)
    except FileNotFoundError:
        return GONE, 0, ""
    except OSError as e:
        return FAILED, 0, f"it could not be deleted ({e.strerror or type(e).__name__})"
    return DELETED, st.st_size, ""


def apply_retention(
    store: Store,
    profile: str,
    max_age_days: float | None,
    max_total_bytes: int | None,
    *,
    now: float,
) -> RetentionReport:
    """Free disk space: delete the files of ``profile`` verified more than ``max_age_days``
    ago, then more, oldest verified first, until the present files total at most
    ``max_total_bytes``. Records stay (state 'removed'); None leaves that limit off."""
    rows = store.query(
        "SELECT id, item_id, rendition, path, size, state, verified_at, mtime_ns"
        " FROM library_files WHERE profile = ? AND state = 'present'"
        " ORDER BY verified_at, id",
        (profile,),
    )
    sound = [(row, known) for row in rows if (known := _recorded(row)) is not None]
    total = sum(size for _row, (size, _verified, _mtime) in sound)
    cutoff = None if max_age_days is None else now - max_age_days * 86400.0
    done: list[tuple[sqlite3.Row, str, str]] = []
    removed = freed = gone = 0
    kept: list[MissingFile] = []
    for row, (size, verified_at, mtime_ns) in sound:  # oldest first: once young and it fits, stop
        too_old = cutoff is not None and verified_at < cutoff
        too_big = max_total_bytes is not None and total > max_total_bytes
        if not (too_old or too_big):
            break
        outcome, n, reason = delete_recorded(Path(row["path"]), size, mtime_ns)
        if outcome == FAILED:
            kept.append(_missing(row, reason))
            continue  # still on disk, still counted: the next file may free the space
        total -= size
        if outcome == CHANGED:
            kept.append(_missing(row, reason))
            done.append((row, MISSING, reason))
        else:
            done.append((row, REMOVED, ""))
            removed += outcome == DELETED
            gone += outcome == GONE
            freed += n
    if done:
        with store.write() as conn:
            for row, state, reason in done:
                conn.execute(
                    _SET_STATE,
                    (state, reason, now, *_guard(row)),
                )
    return RetentionReport(removed=removed, freed_bytes=freed, already_gone=gone, kept=kept)


def remove_file(
    store: Store, profile: str, item_id: str, rendition: str, *, now: float | None = None
) -> int:
    """Delete one rendition file at the user's request; keep its record ('removed'). Returns
    the bytes freed (0 when it was already gone). Raises LibraryError when there is no such
    file, or it was left in place (changed since verified, or the delete was refused)."""
    now = time.time() if now is None else now
    row = store.query_one(
        "SELECT id, item_id, rendition, path, size, state, verified_at, mtime_ns"
        " FROM library_files WHERE profile = ? AND item_id = ? AND rendition = ?",
        (profile, item_id, rendition),
    )
    if row is None:
        raise LibraryError(f"The library has no {rendition} file of item {item_id}.")
    if row["state"] == REMOVED:
        return 0
    known = _recorded(row)
    if known is None:
        raise LibraryError(
            f"{Path(row['path']).name} was left in place: {DAMAGED_RECORD}, or delete the "
            "file yourself."
        )
    outcome, freed, reason = delete_recorded(Path(row["path"]), known[0], known[2])
    if outcome == FAILED:
        raise LibraryError(f"{Path(row['path']).name} was not removed: {reason}.")
    state = MISSING if outcome == CHANGED else REMOVED
    with store.write() as conn:
        conn.execute(
            _SET_STATE,
            (state, reason, now, *_guard(row)),
        )
    if outcome == CHANGED:
        raise LibraryError(
            f"{Path(row['path']).name} was left in place: {reason}, so it is not the file "
            "ALU Desk verified."
        )
    return freed
