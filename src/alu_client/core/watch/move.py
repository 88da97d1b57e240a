"""Moving a sent file (and its sidecar) to the folder's sent folder, never over a file; and
putting one back that changed there (a copy that was not finished)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from ..oserrors import WIN_ACCESS_DENIED, is_in_use, winerror
from ..store import Store
from .folders import WatchFile, WatchFolder, is_file, is_ignored
from .messages import (
    MSG_PUT_BACK,
    MSG_PUT_BACK_SIDECAR_LEFT,
    MSG_SENT_NOT_WRITABLE,
    MSG_SIDECAR_LATE,
)
from .records import _Memory, _MoveRetry, _Sig, _sig

#: seconds a file moved to the sent folder is still watched: a copy into the hot folder that
#: stalled for longer than the settle time (a card reader retrying, a share reconnecting) was
#: taken and sent cut, then went on writing into the file where it had been moved
SENT_WATCH = 900.0
#: the longest wait, in seconds, between two tries of moving a sent file that failed (doubled
#: from the scan interval at each failure in a row): a file held open in an editor, a sent
#: folder that cannot be written
MOVE_RETRY_MAX = 60.0
#: the longest file name every file system takes (255 bytes, or 255 UTF-16 units: never fewer
#: than the UTF-8 bytes)
_NAME_MAX = 255

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split


class SentMover:
    """Sent files out of the hot folder (a part of ``HotFolders``)."""

    _mem: _Memory
    store: Store
    _hash: Callable[[Path, int | None], str]
    clock: Callable[[], float]
    scan_interval: float
    _release_claim: Callable[[WatchFolder, str], None]

    def _move_sent(self, folder: WatchFolder, row: WatchFile) -> None:
        planned = self._mem.move_retries.get(row.id)
        if planned is not None and self.clock() < planned.at:
            # a move that failed waits (its file held open for a while, a sent folder that
            # cannot be written): still the folder's problem meanwhile
            self._mem.sent_problems[folder.id] = planned.problem
            return
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
        take_sidecar = is_file(sidecar) and not others
        late = take_sidecar and self._sidecar_came_late(row, sidecar)
        if late:
            note = MSG_SIDECAR_LATE.format(sidecar=sidecar.name, name=src.name)
            if row.error != note:  # (once: a move that fails is tried at every scan)
                log.warning("hot folder: %s", note)
                with self.store.write() as c:
                    c.execute("UPDATE watch_files SET error = ? WHERE id = ?", (note, row.id))
        dest = folder.sent_path
        try:
            dest.mkdir(parents=True, exist_ok=True)
            target = _move_unique(src, dest, src.name, companion=take_sidecar and not late)
            if late:
                # out of the hot folder all the same: left there, it was applied to the next
                # file of that name (cameras count CLIP0042 again after a card is formatted)
                _move_unique(sidecar, dest, f"{target.stem} (not used).json")
            elif take_sidecar:
                _move_unique(sidecar, dest, f"{target.stem}.json")
        except OSError as e:
            if row.id not in self._mem.move_failed:
                self._mem.move_failed.add(row.id)
                log.warning("hot folder: %s was sent but cannot be moved: %s", src, e)
            # the folder's problem for as long as a move fails (the scan shows it)
            problem = MSG_SENT_NOT_WRITABLE.format(sent=dest, reason=e.strerror or str(e))
            self._mem.sent_problems[folder.id] = problem
            # tried again later and later, not at every scan
            failures = planned.failures + 1 if planned is not None else 1
            wait = min(MOVE_RETRY_MAX, self.scan_interval * 2 ** (failures - 1))
            self._mem.move_retries[row.id] = _MoveRetry(failures, self.clock() + wait, problem)
            return
        self._mem.move_failed.discard(row.id)
        self._mem.move_retries.pop(row.id, None)
        log.info("hot folder: %s sent, moved to %s", src.name, target)
        self._archived(row, target)
        self._release_claim(folder, src.name)

    def _archived(self, row: WatchFile, target: Path) -> None:
        """The row follows its file to the sent folder (path, and size and time as they are
        there: a copy to another file system rounds times), watched there for a while."""
        try:
            st = target.stat()
        except OSError:
            return
        with self.store.write() as c:
            c.execute(
                "UPDATE OR IGNORE watch_files SET path = ?, size = ?, mtime_ns = ?, at = ?"
                " WHERE id = ?",
                (str(target), st.st_size, st.st_mtime_ns, time.time(), row.id),
            )

    def _watch_sent(self, folder: WatchFolder, written: list[int]) -> None:
        """Files moved to the sent folder lately that grew there since, the bytes sent still
        their beginning: the copy into the hot folder was not finished when the file was taken
        (it stalled for longer than the settle time), so what was published is cut. Such a
        file goes back to the hot folder, to be sent again whole once it settles, and its row
        says what happened. Any other change (an editor trimming the archived clip, a tool
        rewriting its metadata) is the archive's business: the file stays, said once."""
        rows = self.store.query(
            "SELECT * FROM watch_files WHERE folder_id = ? AND state = 'sent' AND at > ?",
            (folder.id, time.time() - SENT_WATCH),
        )
        for r in rows:
            row = WatchFile.from_row(r)
            if row.path.parent != folder.sent_path:
                continue  # not moved yet
            now = _sig(row.path)
            if now is None or now == (row.size, row.mtime_ns):
                continue  # unchanged, or taken away by someone
            checked = self._mem.sent_checked.get(row.id)
            went_on: bool | None
            if checked is not None and checked[0] == now:
                went_on = checked[1]  # read at this size and time already: not read again
            else:
                try:
                    went_on = self._check_sent(row, now)
                except OSError:
                    continue  # looked at again at the next scan
            if not went_on:
                continue  # touched, or edited: it stays
            try:
                back, sidecar_left = self._put_back(folder, row)
            except OSError as e:  # (open elsewhere on Windows): tried again at the next scan
                if row.id not in self._mem.move_failed:
                    self._mem.move_failed.add(row.id)
                    log.warning("hot folder: %s changed but cannot be put back: %s", row.path, e)
                continue
            self._mem.move_failed.discard(row.id)
            self._mem.sent_checked.pop(row.id, None)
            if sidecar_left is None:
                note = MSG_PUT_BACK.format(name=back.name)
            else:
                note = MSG_PUT_BACK_SIDECAR_LEFT.format(name=back.name, sidecar=sidecar_left.name)
            written.append(self._cut(row, note, path=back, sidecar_behind=sidecar_left))

    def _check_sent(self, row: WatchFile, now: _Sig) -> bool | None:
        """Read the file of ``row``, changed in the sent folder (now ``now``): True when it
        grew past the bytes its upload carried and they are still its beginning (a copy that
        went on); False when it was edited (said once); None when only touched (the same
        bytes under a new time: the row takes that time). Only the bytes sent are read."""
        sent = self._sent_size(row)
        if row.sha256 is None or sent is None or now[0] < sent:
            same_start = False
        else:
            same_start = self._hash(row.path, sent) == row.sha256
        # Bytes added to a clip that was whole when it went, by its container's count (an MP4
        # or MOV whose boxes end where the upload ended): a tool appending metadata, not the
        # copy going on (a stalled copy leaves its last box cut). An MPEG-TS has no such count.
        appended = (
            same_start and sent is not None and now[0] > sent and _whole_iso_media(row.path, sent)
        )
        if appended:
            same_start = False
        if same_start and now[0] == sent:  # touched (an indexer, a backup tool)
            with self.store.write() as c:
                c.execute(
                    "UPDATE OR IGNORE watch_files SET size = ?, mtime_ns = ? WHERE id = ?",
                    (*now, row.id),
                )
            return None
        before = self._mem.sent_checked.get(row.id)
        if not same_start and (before is None or before[1]):  # (once, not at each edit)
            log.info(
                "hot folder: %s was changed in the sent folder (%s, not a copy going on);"
                " it stays there, and the item published from it is as it was sent",
                row.path,
                "appended to, the clip sent was whole" if appended else "edited",
            )
        self._mem.sent_checked[row.id] = (now, same_start)
        return same_start

    def _sent_size(self, row: WatchFile) -> int | None:
        """How many bytes the upload of ``row`` carried: its transfer's size (the row's own
        size is the file's as it was moved to the sent folder), else the row's (a copy of
        content sent before: no transfer of its own)."""
        if row.transfer_id is not None:
            got = self.store.query_one(
                "SELECT size FROM transfers WHERE id = ?", (row.transfer_id,)
            )
            if got is not None and got[0] is not None:
                return int(got[0])
        return row.size if row.size >= 0 else None

    def _put_back(self, folder: WatchFolder, row: WatchFile) -> tuple[Path, Path | None]:
        """Move the sent file of ``row`` (and the sidecar that went with it) back into the hot
        folder, under the name it had there if it is free. Returns where it is now, and the
        sidecar when that could not follow (the file waits for it: ``_sidecar_back``)."""
        name = row.path.name
        if row.transfer_id is not None:
            source = self.store.query_one(
                "SELECT source FROM transfers WHERE id = ?", (row.transfer_id,)
            )
            if source is not None:
                name = Path(str(source[0])).name
        sidecar = row.path.with_suffix(".json")
        with_sidecar = is_file(sidecar)
        back = _move_unique(row.path, folder.path, name, companion=with_sidecar)
        if not with_sidecar:
            return back, None
        try:
            _move_unique(sidecar, folder.path, f"{back.stem}.json")
        except OSError as e:  # the file is back: its report must not be lost with the sidecar
            log.warning("hot folder: %s was put back, but its sidecar cannot be yet: %s", back, e)
            self._mem.sidecars_behind[(folder.id, str(back))] = sidecar
            return back, sidecar
        return back, None

    def _sidecar_back(self, key: tuple[int, str], path: Path) -> bool:
        """Whether the file ``path``, put back from the sent folder without its sidecar, may be
        taken now: its sidecar followed it (moved now), or is gone, or another one is there.
        Sent without it, the item would go out without the sidecar's fields."""
        left = self._mem.sidecars_behind[key]
        target = path.with_suffix(".json")
        try:
            if is_file(left) and not _taken(target):
                _move_unique(left, path.parent, target.name)
        except OSError:
            return False  # tried again at the next scan
        self._end_sidecar_wait(key)
        log.info("hot folder: the sidecar of %s followed it", path)
        return True

    def _end_sidecar_wait(self, key: tuple[int, str]) -> None:
        """The file at ``key`` (folder id, path) no longer waits for its sidecar."""
        self._mem.sidecars_behind.pop(key, None)
        with self.store.write() as c:
            c.execute("DELETE FROM watch_sidecar_waits WHERE folder_id = ? AND path = ?", key)
            c.execute(
                "UPDATE watch_files SET sidecar_behind = NULL WHERE folder_id = ? AND path = ?"
                " AND sidecar_behind IS NOT NULL",
                key,
            )

    def _cut(
        self,
        row: WatchFile,
        note: str,
        *,
        path: Path | None = None,
        sidecar_behind: Path | None = None,
    ) -> int:
        """``row``, sent, was of a file that changed after its upload started: an error that
        stays (the item on the hub may be cut) until the user dismisses it with Retry; the
        file, at ``path`` now, is taken again as a new version (another size or time) — once
        its sidecar left in the sent folder, ``sidecar_behind``, followed it (after a restart
        too, and after Retry dismissed this report: the wait is a row of its own)."""
        log.warning("hot folder: %s", note)
        where = path or row.path
        with self.store.write() as c:
            if sidecar_behind is not None:
                c.execute(
                    "INSERT OR REPLACE INTO watch_sidecar_waits (folder_id, path, sidecar)"
                    " VALUES (?, ?, ?)",
                    (row.folder_id, str(where), str(sidecar_behind)),
                )
            c.execute(
                "UPDATE watch_files SET state = 'error', error = ?, at = ?, path = ?,"
                " sidecar_behind = ? WHERE id = ?",
                (
                    note,
                    time.time(),
                    str(where),
                    None if sidecar_behind is None else str(sidecar_behind),
                    row.id,
                ),
            )
            if _sig(where) == (row.size, row.mtime_ns):
                # other bytes under the same size and time: the row must not stand for the
                # file as it is now, or it would never be looked at again (-1: no file has it)
                c.execute("UPDATE OR IGNORE watch_files SET mtime_ns = -1 WHERE id = ?", (row.id,))
        return row.id

    def _sidecar_came_late(self, row: WatchFile, sidecar: Path) -> bool:
        """Whether ``sidecar`` was written after its file was taken (queued), so its fields
        were not in the upload: it stays in the folder, said so, rather than go to sent/ as
        if it had been used (an editing tool writing the metadata after the media)."""
        if row.transfer_id is None:
            return False
        taken = self.store.query_one(
            "SELECT created_at FROM transfers WHERE id = ?", (row.transfer_id,)
        )
        try:
            written = sidecar.stat().st_mtime
        except OSError:
            return False
        return taken is not None and written > float(taken[0]) + 1.0


#: the top-level boxes an MP4 or QuickTime file may hold (others: not such a file)
_ISO_BOXES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"moof", b"mfra",
     b"sidx", b"styp", b"pdin", b"pnot", b"udta", b"prfl", b"junk"}
)  # fmt: skip


def _whole_iso_media(path: Path, size: int) -> bool:
    """Whether the first ``size`` bytes of ``path`` are a whole MP4 or MOV: top-level boxes,
    one a ``moov``, that end exactly at ``size`` (only their headers are read). False for any
    other file, or one whose last box runs past ``size`` (a copy cut short)."""
    at, moov = 0, False
    try:
        with open(path, "rb") as f:
            for _ in range(100_000):
                if at == size:
                    return moov
                f.seek(at)
                head = f.read(16)
                if len(head) < 8 or at + 8 > size:
                    return False
                length, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if kind not in _ISO_BOXES:
                    return False
                if length == 1 and len(head) == 16:  # a 64-bit size follows
                    length = int.from_bytes(head[8:16], "big")
                if length < 8:  # 0: "to the end of the file", which says nothing of the end
                    return False
                moov = moov or kind == b"moov"
                at += length
                if at > size:
                    return False
    except OSError:
        return False
    return False


def _cut_stem(stem: str, tail: str) -> str:
    """``stem``, cut at a whole character so that ``stem + tail`` fits in 255 bytes: "NAME
    (2).ts" of a name at the limit is longer than any file system takes."""
    room = max(_NAME_MAX - len(tail.encode()), 1)
    data = stem.encode()
    return stem if len(data) <= room else data[:room].decode("utf-8", "ignore")


def _taken(path: Path) -> bool:
    """Whether ``path`` exists; a name too long to exist is free (and never made)."""
    try:
        return path.exists()
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return False
        raise


def _move_unique(src: Path, folder: Path, name: str, *, companion: bool = False) -> Path:
    """Move ``src`` into ``folder`` as ``name``, or ``stem (2).ext``… if that is taken: never
    over an existing file (a hard link refuses to replace one, and so does a rename on Windows;
    across file systems the name is checked first). ``companion``: the name's ``.json`` must be
    free too (the sidecar follows). Names are cut to fit the file system's 255 bytes, the
    sidecar's with them.

    Never two names for one file: when ``src`` cannot be removed (on Windows, while another
    program has it open: the editor that exported it, a player, an antivirus) the link or copy
    made is taken back and the error raised. Left there, each try made one more: "clip (2)",
    "clip (3)" … every scan, full copies on a FAT card or USB disk."""
    stem, suffix = Path(name).stem, Path(name).suffix
    # with a sidecar to follow, its ".json" must fit as well as the file's extension
    tail = suffix if not companion or len(suffix.encode()) >= len(b".json") else ".json"
    for n in range(1, 10_000):
        number = "" if n == 1 else f" ({n})"
        target = folder / f"{_cut_stem(stem, number + tail)}{number}{suffix}"
        if _taken(target) or (companion and _taken(target.with_suffix(".json"))):
            continue
        if _RENAME_KEEPS_TARGET:
            try:
                _rename(src, target)
            except FileExistsError:
                continue
            return target
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or one without hard links (FAT, some shares)
            if _taken(target):
                continue
            _rename(src, target)
            return target
        try:
            os.unlink(src)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise
        return target
    raise FileExistsError(f"Too many files named like {name!r} in {folder}")


#: Windows' rename never replaces a file (MoveFileEx without MOVEFILE_REPLACE_EXISTING), and
#: is refused whole while another program holds the file: no hard link is needed there
_RENAME_KEEPS_TARGET = sys.platform == "win32"


def _rename(src: Path, target: Path) -> None:
    """Rename ``src`` to ``target`` (checked free), or copy it there and remove it when they are
    on two file systems; a copy whose source cannot be removed is removed again."""
    try:
        os.rename(src, target)
        return
    except FileNotFoundError:
        raise
    except OSError as e:
        if isinstance(e, FileExistsError) or _held(e):
            raise  # (a copy of a file that cannot be removed would be removed again)
    _removable(src)
    try:
        shutil.copy2(src, target)
        os.unlink(src)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise


#: (Windows) DELETE access, sharing everything: refused only while another program holds the
#: file without letting it be deleted (or the folder's rights do not let it be)
_DELETE_ACCESS: Final = 0x00010000
_SHARE_ALL: Final = 0x7

if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI
    import _winapi

    def _removable(src: Path) -> None:
        """Raise as removing ``src`` would when that is refused now: on Windows, while another
        program holds it (the editor that exported it). A rename to another drive is no rename
        there (ERROR_NOT_SAME_DEVICE, held or not): the whole clip was copied, then the copy
        deleted again, at every try for as long as the editor kept it. Only what says the
        file is held is raised; anything else (a path too long for this call) is for the copy
        to meet."""
        try:
            handle = _winapi.CreateFile(
                os.fspath(src), _DELETE_ACCESS, _SHARE_ALL, 0, _winapi.OPEN_EXISTING, 0, 0
            )
        except OSError as e:
            if _held(e):
                raise
            return
        _winapi.CloseHandle(handle)

else:

    def _removable(src: Path) -> None:
        """(POSIX removes a file held open: nothing to ask.)"""


def _held(e: OSError) -> bool:
    """``e`` says the file cannot be removed now: another program holds it (Windows), or the
    folder refuses it."""
    if is_in_use(e) or winerror(e) == WIN_ACCESS_DENIED:
        return True
    return e.errno in (errno.EACCES, errno.EPERM)
