"""What is known of each file of a hot folder: its row in ``watch_files`` (written, claimed,
reconciled after a crash) and what the scan remembers in this run (``_Memory``)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.transfers import ENDED, Transfer
from .folders import FolderRegistry, WatchFile, WatchFolder
from .messages import (
    MSG_CANCELED,
    MSG_FAILED,
    MSG_HUB_REFUSED,
    MSG_HUB_REFUSED_SILENT,
    MSG_REMOVED,
)

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split

_Sig = tuple[int, int]  # size, mtime_ns


def _sig(path: Path) -> _Sig | None:
    """``path``'s size and time, None if it cannot be seen (gone, or a name too long)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


_UPSERT = (
    "INSERT INTO watch_files (folder_id, path, size, mtime_ns, sha256, state, transfer_id,"
    " error, at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)"
    " ON CONFLICT (folder_id, path, size, mtime_ns) DO UPDATE SET sha256 = excluded.sha256,"
    " state = excluded.state, transfer_id = NULL, error = excluded.error, at = excluded.at,"
    " retry = 0"
)
#: the same, but a row already there is only taken over when it is in error (or was taken over
#: by another workstation, which no longer sends it)
_CLAIM = _UPSERT + " WHERE watch_files.state IN ('error', 'taken_over')"


@dataclass
class _Candidate:
    """A file seen but not taken yet: since when it has looked the same."""

    sig: tuple[int, int, _Sig | None]
    since: float
    unreadable_since: float | None = None


@dataclass
class _Retry:
    """A file that failed for a reason that may pass (the store busy, a share's hiccup): it is
    looked at again at ``at`` (a clock time), unless it changes first."""

    sig: _Sig
    failures: int
    at: float


@dataclass
class _MoveRetry:
    """A sent file whose move to the sent folder failed ``failures`` times in a row: tried
    again at ``at`` (a clock time); ``problem``: the folder's problem it made."""

    failures: int
    at: float
    problem: str


@dataclass
class _Memory:
    candidates: dict[tuple[int, str], _Candidate] = field(default_factory=dict)
    #: error row id → the sidecar's signature when the error was recorded
    error_sidecars: dict[int, _Sig | None] = field(default_factory=dict)
    #: sent rows whose move failed, or whose file could not be handled (logged once)
    move_failed: set[int] = field(default_factory=set)
    #: sent row id → when its move, which failed, is tried again
    move_retries: dict[int, _MoveRetry] = field(default_factory=dict)
    #: files that failed for a reason that may pass → when they are tried again
    retries: dict[tuple[int, str], _Retry] = field(default_factory=dict)
    #: sent row id → its file's signature in the sent folder when it was last read there, and
    #: whether it then held the bytes sent and more (a copy that went on; else an edit)
    sent_checked: dict[int, tuple[_Sig, bool]] = field(default_factory=dict)
    #: a file put back in the hot folder (folder id, path) → its sidecar, which stayed in the
    #: sent folder: the file waits for it (kept in the store too: ``watch_sidecar_waits``)
    sidecars_behind: dict[tuple[int, str], Path] = field(default_factory=dict)
    #: folder id → its problems as the store has them (``watch_folders.problem``), one a line
    problems: dict[int, str] = field(default_factory=dict)
    #: folder id → why sent files could not be moved to its sent folder, in this scan
    sent_problems: dict[int, str] = field(default_factory=dict)
    #: what the store kept of an earlier run was read (``FileRecords._restore``)
    restored: bool = False
    #: a file whose bytes are still being uploaded (from another file, or from this path at
    #: another time; by a hot folder or by hand) → (its signature then, that upload: "watch"
    #: and its row, or "transfer" and its id): looked at again when either changes
    behind: dict[tuple[int, str], tuple[tuple[int, int, _Sig | None], tuple[str, int]]] = field(
        default_factory=dict
    )


class FileRecords(FolderRegistry):
    """The ``watch_files`` rows of the profile's hot folders (a part of ``HotFolders``)."""

    _mem: _Memory

    def retry(self, file_id: int) -> None:
        """Forget a file in error: the next scan takes it again (a person's decision). A file
        put back from the sent folder still waits for its sidecar left there (that wait is
        not the report's: ``watch_sidecar_waits``), after a restart too."""
        with self.store.write() as c:
            row = c.execute(
                "SELECT folder_id, path FROM watch_files WHERE id = ? AND state = 'error'",
                (file_id,),
            ).fetchone()
            c.execute("DELETE FROM watch_files WHERE id = ? AND state = 'error'", (file_id,))
        self._mem.error_sidecars.pop(file_id, None)
        if row is not None:  # now, not when a retry after a momentary fault was due
            self._mem.retries.pop((int(row[0]), str(row[1])), None)
        self._wake.set()

    @property
    def problems(self) -> dict[int, str]:
        """Folders that cannot be watched now (folder id → why: sentences of ``messages``, one
        a line), as the last scan found them."""
        return {k: v for k, v in self._mem.problems.items() if v}

    def _restore(self) -> None:
        """What an earlier run left in the store and this one must know before its first scan:
        the files put back from the sent folder that wait for their sidecar, and the folders'
        problems said (written again only when they change)."""
        if self._mem.restored:
            return
        for r in self.store.query(
            "SELECT folder_id, path, sidecar FROM watch_sidecar_waits"
            " WHERE folder_id IN (SELECT id FROM watch_folders WHERE profile = ?)",
            (self.profile,),
        ):
            key = (int(r["folder_id"]), str(r["path"]))
            self._mem.sidecars_behind.setdefault(key, Path(str(r["sidecar"])))
        for f in self.list_folders():
            self._mem.problems.setdefault(f.id, f.problem)
        self._mem.restored = True

    def _set_problems(self, folder: WatchFolder, problems: list[str]) -> None:
        """The folder's problems as this scan found them (none: it works): logged when they
        change, and written to the store when they differ from its row (``folder``, as this
        scan read it), for Settings and `alu watch list` to show. Not compared with what this
        engine last wrote: a folder removed and added again has the same id and a new row."""
        text = "\n".join(dict.fromkeys(problems))
        said = self._mem.problems.get(folder.id, folder.problem)
        self._mem.problems[folder.id] = text
        if text != said:
            for p in problems:
                if p not in said.splitlines():
                    log.warning("hot folder: %s", p)
            if not text:
                log.info("hot folder %s: its problem is gone", folder.path)
        if text == folder.problem:
            return
        with self.store.write() as c:
            c.execute("UPDATE watch_folders SET problem = ? WHERE id = ?", (text, folder.id))

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
        """Insert or update the row of (folder, path, size, mtime). ``claim``: only a new row, one
        in error or one taken over may be written (None when another scanner took the file
        meanwhile)."""
        with self.store.write() as c:
            cur = c.execute(
                _CLAIM if claim else _UPSERT,
                (folder.id, str(path), size, mtime, sha, state, error, time.time()),
            )
            if cur.rowcount == 0:
                return None
            # The same file seen before with another size or time and refused: that report is
            # out of date now (what was sent or is uploading stays on record, and so does a
            # version published cut: that report is about the item on the hub, not the file).
            c.execute(
                "DELETE FROM watch_files WHERE folder_id = ? AND path = ? AND state = 'error'"
                " AND NOT (size = ? AND mtime_ns = ?) AND NOT EXISTS (SELECT 1 FROM transfers t"
                " WHERE t.id = watch_files.transfer_id AND t.state = 'done' AND COALESCE(CASE"
                " WHEN json_valid(t.result) THEN json_extract(t.result, '$.state') END, '')"
                " != 'failed')",
                (folder.id, str(path), size, mtime),
            )
            row = c.execute(
                "SELECT id FROM watch_files WHERE folder_id = ? AND path = ? AND size = ?"
                " AND mtime_ns = ?",
                (folder.id, str(path), size, mtime),
            ).fetchone()
        # the file was judged: a retry planned after a momentary fault is done with
        self._mem.retries.pop((folder.id, str(path)), None)
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
                    _set_outcome(c, r["id"], "error", MSG_REMOVED)
                else:
                    result = json.loads(r["result"] or "{}")
                    state, note = _outcome(str(r["tstate"]), result, str(r["last_error"]))
                    _set_outcome(c, r["id"], state, note)


def _outcome(state: str, result: Mapping[str, Any], last_error: str) -> tuple[str, str]:
    """A transfer's end → the watch file's state and message."""
    if state == "done":
        if result.get("state") == "failed":
            reason = result.get("error")
            said = MSG_HUB_REFUSED.format(reason=reason) if reason else MSG_HUB_REFUSED_SILENT
            return "error", said
        return "sent", ""
    if state == "canceled":
        return "error", MSG_CANCELED
    return "error", last_error or MSG_FAILED


def _set_outcome(c: sqlite3.Connection, file_id: int, state: str, note: str) -> None:
    c.execute(
        "UPDATE watch_files SET state = ?, error = ?, at = ? WHERE id = ? AND state = 'uploading'",
        (state, note, time.time(), file_id),
    )
    if state == "error":
        _forget_replaced(c, "id = ?", (file_id,))


def _forget_replaced(c: sqlite3.Connection, which: str, params: Sequence[object]) -> None:
    """The rows ``which`` selects whose upload just ended in error, of a version of a file that
    a newer one replaced since (a row of the same folder and path, taken after it): their
    report is out of date, and goes. A clip exported again over itself while its first version
    uploaded: that upload stopped ("The file changed since the upload started; add it again.")
    after the new version was taken — it was sent, and the old row still said to add it again.
    The newer row may have followed its file to the sent folder already: its upload's source
    names the path it was taken at. (``_write_row`` does the same with an error recorded
    before the new version is taken.)"""
    rows = c.execute(
        f"SELECT id, path FROM watch_files WHERE state = 'error' AND ({which}) AND EXISTS"  # noqa: S608 - the callers' constant text
        " (SELECT 1 FROM watch_files n WHERE n.folder_id = watch_files.folder_id"
        " AND n.id > watch_files.id AND (n.path = watch_files.path"
        # (sent and moved to the sent folder since: its upload's source is the path)
        "  OR EXISTS (SELECT 1 FROM transfers t WHERE t.id = n.transfer_id"
        "   AND t.source = watch_files.path)))",
        params,
    ).fetchall()
    for r in rows:
        c.execute("DELETE FROM watch_files WHERE id = ?", (r[0],))
        log.info("hot folder: the upload of an earlier version of %s ended; not reported", r[1])
