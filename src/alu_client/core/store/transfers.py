"""The transfer queue's rows: what to move, in which order, how far it got, what happened."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Container
from dataclasses import dataclass
from typing import Any

from ..http import redact_query
from ..safe_names import FoldedNames
from .db import Store
from .rows import RowReader

log = logging.getLogger(__name__)

PRIORITIES = {"flash": 0, "urgent": 1, "routine": 2}
STATES = ("queued", "active", "paused", "done", "failed", "canceled")
#: states a transfer can still leave by itself or by a user's resume
OPEN_STATES = ("queued", "active", "paused")
#: the key of a done transfer's kept checkpoint (``TransferStore.finish(keep=…)``): the time
#: (``time.time()``) after which it is forgotten
KEPT_UNTIL = "kept_until"
#: a transfer's hub profile in SQL: its options' ``profile`` when that is text, else '' (no
#: profile: ``alu fetch``, ``alu tus-put``; options that cannot be read count as none, so the
#: row runs and fails as damaged). ``profile_of`` says the same of a ``Transfer``.
PROFILE_SQL = (
    "COALESCE(CASE WHEN json_valid(options) THEN CASE WHEN json_type(options, '$.profile')"
    " = 'text' THEN json_extract(options, '$.profile') END END, '')"
)
#: positions closer than this are numbered again before a move between them (a double has
#: ~16 digits: the middle of two positions 1e-9 apart is still a third one)
_MIN_GAP = 1e-9


@dataclass(frozen=True)
class Transfer:
    id: int
    direction: str
    state: str
    priority: int
    position: float
    label: str
    source: str
    destination: str
    size: int | None
    bytes_done: int
    sha256: str | None
    item_id: str | None
    rendition: str | None
    options: dict[str, Any]
    result: dict[str, Any]
    attempts: int
    last_error: str
    next_attempt_at: float | None
    pause_reason: str
    limit_bps: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    request: str = ""
    #: failed attempts in a row without progress (the back-off's count)
    failures: int = 0
    #: how long it ran, its runs summed, on the monotonic clock (not the wall clock's
    #: ``finished_at - started_at``: a clock set meanwhile made a day of 19 s)
    run_seconds: float = 0.0
    #: what of the row could not be read (a file edited or damaged on the disk): the fields
    #: named here hold stand-ins, and the queue fails the transfer instead of running it
    damaged: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Transfer:
        """The row as a Transfer; a value that cannot be what its column holds (SQLite keeps
        any type in any column) is replaced by a stand-in and named in ``damaged``, so one bad
        row never stops a list, the CLI or the scheduler."""
        reader = RowReader(row)
        d = reader.values
        for name in ("options", "result"):
            d[name] = reader.json_object(name)
        for name, default in _NUMBERS.items():
            d[name] = reader.number(name, default, integer=name in _INTEGERS)
        d["priority"] = reader.choice("priority", PRIORITIES.values(), PRIORITIES["routine"])
        d["state"] = reader.choice("state", STATES, "failed")
        d["direction"] = reader.choice("direction", ("download", "upload"), "download")
        d["damaged"] = reader.damaged
        return cls(**d)


def profile_of(t: Transfer) -> str:
    """The hub profile ``t`` was queued for, '' for none (as ``PROFILE_SQL`` reads it)."""
    value = t.options.get("profile")
    return value if isinstance(value, str) else ""


def _among(only: frozenset[int] | None, profile: str | None) -> tuple[str, list[Any]]:
    """SQL (and its parameters) keeping the transfers of ``only`` (None: any) and of hub
    profile ``profile`` or of none (None: of any profile)."""
    sql, params = "", []
    if only is not None:
        sql += f" AND id IN ({','.join(str(int(i)) for i in only) or 'NULL'})"
    if profile is not None:
        sql += f" AND {PROFILE_SQL} IN ('', ?)"
        params.append(profile)
    return sql, params


#: numeric columns and the stand-in for a value that is not a number (None: may be NULL)
_NUMBERS: dict[str, int | float | None] = {
    "size": None,
    "bytes_done": 0,
    "attempts": 0,
    "failures": 0,
    "next_attempt_at": None,
    "limit_bps": None,
    "created_at": 0.0,
    "started_at": None,
    "finished_at": None,
    "run_seconds": 0.0,
}
_INTEGERS = frozenset({"size", "bytes_done", "attempts", "failures"})


#: called inside the transaction that ends a transfer (done, failed, canceled), with the row as
#: it now stands: the library and the history outbox are written together with the transfer's end
OutcomeHook = Callable[[sqlite3.Connection, "Transfer"], None]
ENDED = ("done", "failed", "canceled")

#: rows a transfer's log keeps at most: its first ones (how it began) and its latest ones. A
#: transfer paused and resumed all day, or failing by turns in two ways, stays this size.
LOG_MAX_ROWS = 200
LOG_KEEP_FIRST = 20
#: the log of a transfer that ended this long ago is deleted (``prune_log``); the transfer's
#: row, and the history of what it did, stay
LOG_KEPT_FOR = 30 * 24 * 3600.0
#: ``prune_log`` works through this many transfers per transaction, and deletes at most about
#: this many rows in one: the write lock is held a moment at a time
PRUNE_TRANSFERS = 500
PRUNE_ROWS = 20_000
#: set once ``prune_log`` has gone through every transfer's log: those grown before they were
#: bounded (schema step 9) are cut down, and ``_log`` keeps every log bounded since
_LOG_TRIMMED = "transfer_log.trimmed"


class TransferStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.outcome_hooks: list[OutcomeHook] = []
        #: the transfers this store claimed and that run: when each run began, on the
        #: monotonic clock (``claim`` → ``finish``, which adds the run to ``run_seconds``)
        self._runs: dict[int, float] = {}

    def _ended(self, c: sqlite3.Connection, tid: int) -> None:
        """Forget a download's signed query; run the outcome hooks. Each hook runs in a
        savepoint: its bug is logged and undone, it never keeps a transfer from ending (which
        would retry it forever)."""
        row = c.execute("SELECT * FROM transfers WHERE id = ?", (tid,)).fetchone()
        if row is None:
            return
        t = Transfer.from_row(row)
        if t.direction == "download" and t.state in ("done", "canceled"):
            # a signed link's signature (or a token in the query) is kept while the download
            # may still run, and not a moment after: it would stay in the library for good
            source = redact_query(t.source)
            if source != t.source:
                c.execute("UPDATE transfers SET source = ? WHERE id = ?", (source, tid))
                t = dataclasses.replace(t, source=source)
        for hook in self.outcome_hooks:
            c.execute("SAVEPOINT outcome_hook")
            try:
                hook(c, t)
            except Exception:
                log.exception("recording the outcome of transfer %d failed", tid)
                c.execute("ROLLBACK TO outcome_hook")
            c.execute("RELEASE outcome_hook")

    def add(
        self,
        direction: str,
        source: str,
        destination: str,
        *,
        label: str = "",
        priority: int = 2,
        size: int | None = None,
        sha256: str | None = None,
        item_id: str | None = None,
        rendition: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> int:
        now = time.time()
        with self.store.write() as c:
            pos = c.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM transfers").fetchone()[0]
            cur = c.execute(
                "INSERT INTO transfers (direction, source, destination, label, priority, position,"
                " size, sha256, item_id, rendition, options, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    direction,
                    source,
                    destination,
                    label,
                    priority,
                    pos,
                    size,
                    sha256,
                    item_id,
                    rendition,
                    json.dumps(options or {}),
                    now,
                ),
            )
            tid = int(cur.lastrowid or 0)
            c.execute(
                "INSERT INTO transfer_log (transfer_id, at, kind, message)"
                " VALUES (?, ?, 'added', '')",
                (tid, now),
            )
            return tid

    def get(self, tid: int) -> Transfer | None:
        row = self.store.query_one("SELECT * FROM transfers WHERE id = ?", (tid,))
        return Transfer.from_row(row) if row else None

    def all(
        self, states: tuple[str, ...] | None = None, direction: str | None = None
    ) -> list[Transfer]:
        sql = "SELECT * FROM transfers WHERE 1=1"
        params: list[Any] = []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params += list(states)
        if direction:
            sql += " AND direction = ?"
            params.append(direction)
        sql += " ORDER BY priority, position"
        return [Transfer.from_row(r) for r in self.store.query(sql, params)]

    def of_item(
        self, item_id: str, rendition: str, states: tuple[str, ...], direction: str = "download"
    ) -> list[Transfer]:
        """The transfers of one item's rendition in these states, in queue order (what
        ``all`` gives filtered, without reading the whole table: queueing 2,000 items read it
        twice per item, 95 s in all)."""
        rows = self.store.query(
            "SELECT * FROM transfers WHERE direction = ? AND item_id = ? AND rendition = ?"  # noqa: S608 - only "?" placeholders
            f" AND state IN ({','.join('?' * len(states))}) ORDER BY priority, position",
            (direction, item_id, rendition, *states),
        )
        return [Transfer.from_row(r) for r in rows]

    def names_taken(self, states: tuple[str, ...], but: int | None = None) -> Container[str]:
        """The file names the transfers in these states write to (their destinations'), as a
        container asked one name at a time (a query each, not the table read and decoded for
        every download queued); ``but``: a transfer whose name does not count (one that is
        to take another)."""
        return _NamesTaken(self.store, states, but)

    def runnable(
        self,
        direction: str,
        now: float | None,
        limit: int,
        only: frozenset[int] | None = None,
        profile: str | None = None,
        held: Collection[int] = (),
    ) -> list[Transfer]:
        """Queued transfers whose retry time has come by the wall clock ``now``, in the order
        they should start (of ``only``'s, when given; of hub profile ``profile`` or of none,
        when given), not those of ``held``. ``now`` None: the stored retry times are not
        compared (a running engine holds back the transfers whose back-off it measures
        itself, ``TransferQueue``, which is not fooled by a clock set back or forward)."""
        among, params = _among(only, profile)
        if held:
            among += f" AND id NOT IN ({','.join(str(int(i)) for i in held)})"
        due = "" if now is None else " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        rows = self.store.query(
            "SELECT * FROM transfers WHERE direction = ? AND state = 'queued'"  # noqa: S608 - only integers and constants are joined in
            f"{due}{among} ORDER BY priority, position LIMIT ?",
            (direction, *([] if now is None else [now]), *params, limit),
        )
        return [Transfer.from_row(r) for r in rows]

    def retry_times(self) -> dict[int, float]:
        """The queued transfers that wait for a retry time (after a failure, or a full disk):
        when, by the wall clock (``time.time()``) as it was when it was set. A time that is
        not a number (a damaged row) is none: the transfer is taken, and fails as damaged."""
        rows = self.store.query(
            "SELECT id, next_attempt_at FROM transfers WHERE state = 'queued'"
            " AND typeof(next_attempt_at) IN ('real', 'integer')"
        )
        return {int(r[0]): float(r[1]) for r in rows}

    def move_retries(self, moves: dict[int, tuple[float, float]]) -> list[int]:
        """Write each transfer's retry time ``was`` → ``at`` (``moves``: id → (was, at)) where
        it is still ``was`` (a retry, a pause or a new failure written meanwhile is left as it
        is), in one transaction; the ids moved."""
        moved = []
        with self.store.write() as c:
            for tid, (was, at) in moves.items():
                cur = c.execute(
                    "UPDATE transfers SET next_attempt_at = ?"
                    " WHERE id = ? AND state = 'queued' AND next_attempt_at = ?",
                    (at, tid, was),
                )
                if cur.rowcount > 0:
                    moved.append(tid)
        return moved

    def waiting(self, among: Collection[int]) -> list[Transfer]:
        """The transfers of ``among`` (those a running engine holds back) that are queued and
        wait for a retry time (a back-off after a failure; not those waiting for disk space,
        which say so in ``pause_reason``)."""
        ids = sorted(among)
        rows = self.store.query(
            "SELECT * FROM transfers WHERE state = 'queued' AND pause_reason = ''"  # noqa: S608 - only integers are joined in
            f" AND id IN ({','.join(str(int(i)) for i in ids) or 'NULL'})"
            " AND next_attempt_at IS NOT NULL ORDER BY priority, position"
        )
        return [Transfer.from_row(r) for r in rows]

    def queued_addresses(
        self, only: frozenset[int] | None = None, profile: str | None = None
    ) -> list[tuple[int, str, bool]]:
        """The queued transfers (of ``only``'s and ``profile``'s as ``runnable`` takes them):
        id, the address of their server (a download's source, an upload's endpoint), and
        whether they wait for that server when it does not answer (``TransferQueue``): those
        that wait for a retry after a failure, and those never tried; not one sent back to
        the queue by the user's retry or resume (it tries at once), nor one waiting for disk
        space. Only these columns: the scheduler reads them at each pass while a server is
        out of reach, with thousands queued."""
        among, params = _among(only, profile)
        rows = self.store.query(
            "SELECT id, CASE direction WHEN 'upload' THEN destination ELSE source END,"  # noqa: S608 - only integers and constants are joined in
            " (next_attempt_at IS NOT NULL AND pause_reason = '') OR attempts = 0"
            f" FROM transfers WHERE state = 'queued'{among}",
            params,
        )
        return [(int(r[0]), r[1], bool(r[2])) for r in rows if isinstance(r[1], str)]

    def hurry(self, ids: list[int], at: float) -> int:
        """Set the retry time of these waiting transfers to ``at`` (now: they go at once); a
        transfer that started, was paused or ended meanwhile is left as it is."""
        hurried = 0
        with self.store.write() as c:
            for start in range(0, len(ids), 500):  # (SQLite before 3.32: 999 variables at most)
                batch = ids[start : start + 500]
                cur = c.execute(
                    "UPDATE transfers SET next_attempt_at = ?"  # noqa: S608 - only "?" placeholders
                    f" WHERE id IN ({','.join('?' * len(batch))}) AND state = 'queued'"
                    " AND pause_reason = '' AND next_attempt_at IS NOT NULL",
                    (at, *batch),
                )
                hurried += cur.rowcount
        return hurried

    def clear_errors(self, ids: Collection[int]) -> int:
        """The last error of these transfers (queued, active or failed) is gone, and with it
        a queued one's retry time: what it said holds no longer (a new sign-in after the hub
        refused the old one). How many."""
        cleared = 0
        ids = sorted(ids)
        with self.store.write() as c:
            for start in range(0, len(ids), 500):  # (SQLite before 3.32: 999 variables at most)
                batch = ids[start : start + 500]
                cur = c.execute(
                    "UPDATE transfers SET last_error = '', next_attempt_at = NULL"  # noqa: S608 - only "?" placeholders
                    f" WHERE id IN ({','.join('?' * len(batch))})"
                    " AND state IN ('queued', 'active', 'failed')",
                    batch,
                )
                cleared += cur.rowcount
        return cleared

    def claim(self, tid: int) -> bool:
        """queued → active, only if it is still queued (a pause may have come first)."""
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET state = 'active', started_at = COALESCE(started_at, ?),"
                " attempts = attempts + 1, pause_reason = '' WHERE id = ? AND state = 'queued'",
                (time.time(), tid),
            )
            if cur.rowcount:
                self._log(c, tid, "started", "")
        if cur.rowcount:
            self._runs[tid] = time.monotonic()
        return cur.rowcount == 1

    def _ran(self, tid: int) -> float:
        """Seconds ``tid`` has run since this store claimed it, on the monotonic clock (0: it
        is not running here)."""
        began = self._runs.get(tid)
        return 0.0 if began is None else max(0.0, time.monotonic() - began)

    def finish(
        self,
        tid: int,
        state: str,
        *,
        error: str = "",
        next_attempt_at: float | None = None,
        pause_reason: str = "",
        bytes_done: int | None = None,
        size: int | None = None,
        result: dict[str, Any] | None = None,
        failures: int | None = None,
        keep: dict[str, Any] | None = None,
        keep_checkpoint: bool = False,
    ) -> None:
        """The end of an attempt: done, failed, canceled, paused or queued again (a retry).
        ``keep``: what a done transfer's checkpoint holds from now on instead of nothing
        (``KEPT_UNTIL`` says until when: ``forget_kept``). ``keep_checkpoint``: a canceled
        transfer keeps it (an upload's URLs, for the DELETE its engine sends next)."""
        assert state in STATES
        now = time.time()
        ran = self._ran(tid)
        with self.store.write() as c:
            c.execute(
                "UPDATE transfers SET state = ?, last_error = ?, next_attempt_at = ?,"
                " pause_reason = ?, bytes_done = COALESCE(?, bytes_done), size = COALESCE(?, size),"
                " result = COALESCE(?, result), finished_at = ?,"
                " failures = COALESCE(?, failures), run_seconds = run_seconds + ? WHERE id = ?",
                (
                    state,
                    error,
                    next_attempt_at,
                    pause_reason,
                    bytes_done,
                    size,
                    json.dumps(result) if result is not None else None,
                    now if state in ("done", "failed", "canceled") else None,
                    failures,
                    ran,
                    tid,
                ),
            )
            found = result.get("path") if result and result.get("found_in_folder") else None
            if state == "done" and isinstance(found, str) and found:
                # a download that found its item already in the folder (``jobs``): it ends
                # with that file, not the free name it was queued to write
                c.execute(
                    "UPDATE transfers SET destination = ? WHERE id = ? AND direction = 'download'",
                    (found, tid),
                )
            if state == "queued" and error:
                self._log_retry(c, tid, error)
            else:
                self._log(c, tid, state, error or pause_reason)
            if state == "done" and keep is not None:
                # what a rerun of the command needs (``alu tus-put``: the URL it printed), in
                # place of the parts' URLs, in the same transaction; gone at ``forget_kept``
                c.execute(
                    "INSERT INTO transfer_checkpoints (transfer_id, data, updated_at)"
                    " VALUES (?, ?, ?) ON CONFLICT (transfer_id)"
                    " DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                    (tid, json.dumps(keep), now),
                )
                self.store.after_commit(self.store.forget_deleted)
            elif state == "done" or (state == "canceled" and not keep_checkpoint):
                # Nothing is left to resume, and an upload's checkpoint holds its URLs (secrets):
                # dropped in the transaction that ends the transfer, so a crash just after the
                # commit cannot leave them behind; and out of the write-ahead log after it.
                # (A failed transfer keeps its checkpoint: "Retry" resumes where it stopped.)
                self._drop_checkpoint(c, tid)
            if state in ENDED:
                self._ended(c, tid)
        self._runs.pop(tid, None)  # (the run written: a write that failed is tried again)

    def set_restrictions(self, item_id: str, profile: str, restrictions: str) -> list[int]:
        """``profile``'s downloads of an item (any state) take its usage restrictions as the
        agency corrected them (``""``: none now): what the Transfers tab and the download's
        notice say of it. Returns the ids of those that changed."""
        with self.store.write() as c:
            rows = c.execute(
                "SELECT id FROM transfers WHERE direction = 'download' AND item_id = ?"  # noqa: S608 - a constant
                f" AND {PROFILE_SQL} = ? AND json_valid(options)"
                " AND COALESCE(json_extract(options, '$.restrictions'), '') IS NOT ?",
                (item_id, profile, restrictions),
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            for tid in ids:
                c.execute(
                    "UPDATE transfers SET options = CASE WHEN ? = '' THEN"
                    " json_remove(options, '$.restrictions')"
                    " ELSE json_set(options, '$.restrictions', ?) END WHERE id = ?",
                    (restrictions, restrictions, tid),
                )
            return ids

    def move_download(self, tid: int, destination: str, same_as: str | None) -> bool:
        """A running download writes another file from now on (``jobs``: another
        workstation's download stopped at its name, or left the item's own name free): its
        destination, and ``same_as`` (the item's own name, looked at for its file; None:
        none), in one transaction, durable when this returns. Only while it runs (its job
        moves it); False when it is not (nothing written)."""
        with self.store.write() as c:
            row = c.execute(
                "SELECT options FROM transfers WHERE id = ? AND state = 'active'"
                " AND direction = 'download'",
                (tid,),
            ).fetchone()
            options = None if row is None else _with_same_as(row[0], same_as)
            if options is None:
                return False  # (a row damaged in the file never runs: not moved either)
            c.execute(
                "UPDATE transfers SET destination = ?, options = ? WHERE id = ?",
                (destination, options, tid),
            )
            return True

    def retarget_download(self, tid: int, destination: str, same_as: str | None) -> bool:
        """A download not running (queued, paused or failed) asked for again into another
        folder: it goes there, from its first byte (its checkpoint dropped, ``same_as`` the
        new folder's), in one transaction; False when it runs or ended meanwhile."""
        with self.store.write() as c:
            row = c.execute(
                "SELECT options FROM transfers WHERE id = ? AND direction = 'download'"
                " AND state IN ('queued', 'paused', 'failed')",
                (tid,),
            ).fetchone()
            options = None if row is None else _with_same_as(row[0], same_as)
            if options is None:
                return False  # (its options damaged in the file: whose it is unknown)
            c.execute(
                "UPDATE transfers SET destination = ?, options = ?, bytes_done = 0 WHERE id = ?",
                (destination, options, tid),
            )
            self._drop_checkpoint(c, tid)
            return True

    def set_state(
        self,
        tid: int,
        state: str,
        *,
        only_from: tuple[str, ...],
        reason: str = "",
        error: str | None = None,
    ) -> bool:
        """A user's command (pause, resume, cancel, retry): applies only from the given states.
        ``error``: what the transfer says from now on (why it was canceled: the agency withdrew
        its item)."""
        ran = self._ran(tid)
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET state = ?, pause_reason = ?, next_attempt_at = NULL,"  # noqa: S608 - only "?" placeholders are joined in
                " run_seconds = run_seconds + CASE state WHEN 'active' THEN ? ELSE 0 END"
                f" WHERE id = ? AND state IN ({','.join('?' * len(only_from))})",
                (state, reason, ran, tid, *only_from),
            )
            if cur.rowcount:
                if error is not None:
                    c.execute("UPDATE transfers SET last_error = ? WHERE id = ?", (error, tid))
                self._log(c, tid, state, error or reason)
                if state in ENDED:
                    self._ended(c, tid)
        if cur.rowcount and state != "active":
            self._runs.pop(tid, None)
        return cur.rowcount == 1

    def request(self, tid: int, what: str, error: str | None = None) -> bool:
        """Ask the engine that runs ``tid`` (maybe in another process) to pause or cancel it;
        ``withdrawn``: to cancel it saying ``error`` (the agency withdrew its item)."""
        assert what in ("pause", "cancel", "withdrawn")
        with self.store.write() as c:
            if error is not None:
                cur = c.execute(
                    "UPDATE transfers SET request = ?, last_error = ? WHERE id = ?"
                    " AND state IN ('queued', 'active')",
                    (what, error, tid),
                )
            else:
                cur = c.execute(
                    "UPDATE transfers SET request = ? WHERE id = ?"
                    " AND state IN ('queued', 'active')",
                    (what, tid),
                )
            return cur.rowcount == 1

    def clear_request(self, tid: int, only: str | None = None) -> bool:
        """Withdraw a pause or cancel asked of an engine that has not taken it (it died, say):
        a resume after it must win, not the older request at the next engine's start.
        ``only``: that request alone (a resume withdraws a pause, never a cancel)."""
        with self.store.write() as c:
            if only is None:
                cur = c.execute(
                    "UPDATE transfers SET request = '' WHERE id = ? AND request != ''", (tid,)
                )
            else:
                cur = c.execute(
                    "UPDATE transfers SET request = '' WHERE id = ? AND request = ?", (tid, only)
                )
            return cur.rowcount == 1

    def take_requests(self) -> list[tuple[int, str]]:
        """The pending requests, cleared in the same transaction."""
        if self.store.query_one("SELECT 1 FROM transfers WHERE request != '' LIMIT 1") is None:
            return []
        with self.store.write() as c:
            rows = c.execute("SELECT id, request FROM transfers WHERE request != ''").fetchall()
            c.execute("UPDATE transfers SET request = '' WHERE request != ''")
        return [(int(r[0]), str(r[1])) for r in rows]

    def set_progress(self, updates: dict[int, tuple[int, int | None]]) -> None:
        """Bytes done (and the size once known) of several transfers, in one transaction."""
        if not updates:
            return
        with self.store.write() as c:
            c.executemany(
                "UPDATE transfers SET bytes_done = ?, size = COALESCE(?, size) WHERE id = ?",
                [(done, size, tid) for tid, (done, size) in updates.items()],
            )

    def note(self, tid: int, kind: str, message: str) -> None:
        with self.store.write() as c:
            self._log(c, tid, kind, message)

    def log(self, tid: int) -> list[tuple[float, str, str]]:
        """What happened to ``tid``, in order; attempts in a row that failed alike are one
        entry (at the last of them: ``log_repeats`` says how many)."""
        return [(at, kind, message) for at, kind, message, _n in self.log_repeats(tid)]

    def log_repeats(self, tid: int) -> list[tuple[float, str, str, int]]:
        """``log`` with each entry's count of attempts (1 but for failures that repeated)."""
        rows = self.store.query(
            "SELECT at, kind, message, repeats FROM transfer_log WHERE transfer_id = ? ORDER BY id",
            (tid,),
        )
        return [(r["at"], r["kind"], r["message"], int(r["repeats"])) for r in rows]

    def prune_log(
        self, older_than: float = LOG_KEPT_FOR, *, stopping: Callable[[], bool] = lambda: False
    ) -> int:
        """The logs of transfers that ended over ``older_than`` seconds ago (by their last
        entry), deleted; the number of rows deleted. Until it has once gone through every
        transfer, a log grown past ``LOG_MAX_ROWS`` before they were bounded (schema step 9;
        ``_log`` drops one row per entry added) is also cut down to its first and latest
        entries. A few hundred transfers per transaction, until ``stopping()``: after an
        upgrade there may be millions of rows, and the write lock (which the CLI waits for)
        and the write-ahead log stay small. Each ended transfer costs a look-up in the log's
        index: cheap enough at every engine start, off its path (``TransferQueue.start``)."""
        cutoff = time.time() - older_than
        trim = self.store.query_one("SELECT 1 FROM settings WHERE key = ?", (_LOG_TRIMMED,)) is None
        after: int | None = 0
        deleted = 0
        while after is not None and not stopping():
            with self.store.write() as c:
                after, n = self._prune_batch(c, after, cutoff, trim)
                if after is None and trim:
                    c.execute(
                        "INSERT INTO settings (key, value) VALUES (?, '1')"
                        " ON CONFLICT (key) DO NOTHING",
                        (_LOG_TRIMMED,),
                    )
            deleted += n
        return deleted

    def _prune_batch(
        self, c: sqlite3.Connection, after: int, cutoff: float, trim: bool
    ) -> tuple[int | None, int]:
        """``prune_log`` for the next ``PRUNE_TRANSFERS`` transfers past ``after`` (ended ones
        alone unless ``trim``), at most about ``PRUNE_ROWS`` rows deleted; the id to go on
        after (None: all done) and the rows deleted."""
        rows = c.execute(
            "SELECT id, state FROM transfers WHERE id > ?"
            " AND (? OR state IN ('done', 'failed', 'canceled'))"  # ENDED
            " ORDER BY id LIMIT ?",
            (after, trim, PRUNE_TRANSFERS),
        ).fetchall()
        deleted = 0
        for tid, state in rows:
            last = c.execute(
                "SELECT at FROM transfer_log WHERE transfer_id = ? ORDER BY id DESC LIMIT 1",
                (tid,),
            ).fetchone()
            budget = PRUNE_ROWS - deleted
            if state in ENDED and last is not None and last[0] < cutoff:
                n = c.execute(
                    "DELETE FROM transfer_log WHERE id IN (SELECT id FROM transfer_log"
                    " WHERE transfer_id = ? ORDER BY id LIMIT ?)",
                    (tid, budget),
                ).rowcount
            elif trim:
                n = self._trim_log(c, tid, budget)
            else:
                n = 0
            deleted += n
            if deleted >= PRUNE_ROWS:  # this one may have more: it is taken again
                return tid - 1, deleted
        return (rows[-1][0] if len(rows) == PRUNE_TRANSFERS else None), deleted

    @staticmethod
    def _trim_log(c: sqlite3.Connection, tid: int, budget: int) -> int:
        """Up to ``budget`` rows of ``tid``'s log deleted between its first ``LOG_KEEP_FIRST``
        and its latest ones, towards ``LOG_MAX_ROWS`` in all, as ``_log`` keeps it."""
        first = c.execute(
            "SELECT id FROM transfer_log WHERE transfer_id = ? ORDER BY id LIMIT 1 OFFSET ?",
            (tid, LOG_KEEP_FIRST - 1),
        ).fetchone()
        latest = c.execute(
            "SELECT id FROM transfer_log WHERE transfer_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (tid, LOG_MAX_ROWS - LOG_KEEP_FIRST - 1),
        ).fetchone()
        if first is None or latest is None:
            return 0
        return int(
            c.execute(
                "DELETE FROM transfer_log WHERE id IN (SELECT id FROM transfer_log"
                " WHERE transfer_id = ? AND id > ? AND id < ? ORDER BY id LIMIT ?)",
                (tid, first[0], latest[0], budget),
            ).rowcount
        )

    def move(self, tid: int, before: int | None) -> None:
        """Put ``tid`` just before ``before`` (or last when None), keeping the others' order.
        Between two neighbours it takes the middle of their positions; once they are too
        close for that (after ~50 moves into the same gap, the middle was a neighbour's own
        position and the order broke), every position is numbered 1, 2, 3 … again first."""
        with self.store.write() as c:
            if before is None:
                pos = c.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM transfers").fetchone()[
                    0
                ]
                c.execute("UPDATE transfers SET position = ? WHERE id = ?", (pos, tid))
                return
            for _ in range(2):
                target = c.execute(
                    "SELECT position FROM transfers WHERE id = ?", (before,)
                ).fetchone()
                if target is None:
                    return
                prev = c.execute(
                    "SELECT MAX(position) FROM transfers WHERE position < ? AND id != ?",
                    (target[0], tid),
                ).fetchone()[0]
                low = prev if prev is not None else target[0] - 1
                taken = c.execute(
                    "SELECT COUNT(*) FROM transfers WHERE position = ? AND id != ?",
                    (target[0], before),
                ).fetchone()[0]
                if target[0] - low > _MIN_GAP and not taken:
                    break
                self._renumber(c)
            middle = (low + target[0]) / 2
            c.execute("UPDATE transfers SET position = ? WHERE id = ?", (middle, tid))

    @staticmethod
    def _renumber(c: sqlite3.Connection) -> None:
        """Positions 1, 2, 3 … in the order they stand (ties by id): room between any two."""
        ids = [r[0] for r in c.execute("SELECT id FROM transfers ORDER BY position, id")]
        c.executemany(
            "UPDATE transfers SET position = ? WHERE id = ?",
            [(n, tid) for n, tid in enumerate(ids, start=1)],
        )

    def set_priority(self, tid: int, priority: int) -> None:
        """The user's priority: shown as it is from now on (a rule's proxy, queued a step
        ahead of its item's priority, showed the item's until then: ``item_priority``)."""
        with self.store.write() as c:
            c.execute(
                "UPDATE transfers SET priority = ?, options = CASE WHEN json_valid(options)"
                " THEN json_remove(options, '$.item_priority') ELSE options END WHERE id = ?",
                (priority, tid),
            )

    def set_limit(self, tid: int, limit_bps: float | None) -> None:
        with self.store.write() as c:
            c.execute("UPDATE transfers SET limit_bps = ? WHERE id = ?", (limit_bps, tid))

    def set_source(self, tid: int, source: str) -> None:
        """Another address of the same file for a transfer not running (a signed link issued
        again: its query changed). The bytes it holds stay: the download resumes with the
        validator it saved (If-Range), so a different file there is fetched whole."""
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET source = ? WHERE id = ? AND source IS NOT ?",
                (source, tid, source),
            )
            if cur.rowcount:
                self._log(c, tid, "note", "resumed from a new address of the same file")

    def set_sha256(self, tid: int, sha256: str | None) -> None:
        """Another expected checksum for a transfer not running (the user corrected it). The
        bytes it holds stay: a checksum is only compared at the end. (A download's checkpoint
        keeps the digest of the server's bytes an earlier run found wrong: the same bytes
        again, not matching the new sum either, then fail at once, which is right.)"""
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET sha256 = ? WHERE id = ? AND sha256 IS NOT ?",
                (sha256, tid, sha256),
            )
            if cur.rowcount:
                self._log(c, tid, "note", "expected sha256 changed by the user")

    def set_chunk_size(self, tid: int, chunk_size: int) -> None:
        """Another fixed chunk size for an upload not running (``alu tus-put --chunk-size``
        given again): each run sizes its chunks from this, so the next one takes it; what the
        server holds stays (tus chunks may be of any size)."""
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET options = json_set(options, '$.chunk_size', ?)"
                " WHERE id = ? AND json_valid(options)"
                " AND json_extract(options, '$.chunk_size') IS NOT ?",
                (chunk_size, tid, chunk_size),
            )
            if cur.rowcount:
                self._log(c, tid, "note", "chunk size changed by the user")

    def mark_reported(self, tid: int) -> None:
        """The command that ran transfer ``tid`` said its end (``alu fetch`` printed the file):
        a later run finds the file as one that exists already, not as this run's, which a
        kill before the print would have left unsaid."""
        with self.store.write() as c:
            c.execute(
                "UPDATE transfers SET options = json_set(options, '$.reported', json('true'))"
                " WHERE id = ? AND json_valid(options)",
                (tid,),
            )

    def canceled_with_checkpoint(self, direction: str) -> list[Transfer]:
        """Canceled transfers whose checkpoint is still here: canceled while not running (by
        the app, or by ``alu queue cancel`` in another process), what they left is not yet
        cleaned up (an upload's URLs: the server still holds its bytes)."""
        rows = self.store.query(
            "SELECT t.* FROM transfer_checkpoints c JOIN transfers t ON t.id = c.transfer_id"
            " WHERE t.state = 'canceled' AND t.direction = ? ORDER BY t.id",
            (direction,),
        )
        return [Transfer.from_row(r) for r in rows]

    def kept(self, tid: int) -> dict[str, Any]:
        """What a done transfer's checkpoint still keeps (``finish(keep=…)``), until its
        ``KEPT_UNTIL``; else {}."""
        data = self.load_checkpoint(tid)
        until = data.get(KEPT_UNTIL)
        return data if isinstance(until, int | float) and until > time.time() else {}

    def forget_kept(self) -> int:
        """What done transfers kept (``finish(keep=…)``) and whose time is over, deleted (and
        out of the write-ahead log); the number forgotten."""
        now = time.time()
        with self.store.write() as c:
            rows = c.execute(
                "SELECT k.transfer_id, k.data FROM transfer_checkpoints k"
                " JOIN transfers t ON t.id = k.transfer_id WHERE t.state = 'done'"
            ).fetchall()
            gone = 0
            for tid, raw in rows:
                try:
                    until = json.loads(raw).get(KEPT_UNTIL)
                except (TypeError, ValueError, AttributeError):
                    until = None
                if not isinstance(until, int | float) or until <= now:
                    self._drop_checkpoint(c, tid)
                    gone += 1
            return gone

    def recover_after_crash(self) -> int:
        """Transfers left 'active' by an engine that died go back to the queue, to run at once:
        the retry time they still hold is that of the attempt they were in, past when it was
        set (and ahead, to a clock set back since: an hour's wait)."""
        with self.store.write() as c:
            cur = c.execute(
                "UPDATE transfers SET state = 'queued', next_attempt_at = NULL"
                " WHERE state = 'active'"
            )
            return cur.rowcount

    # --- checkpoints ----------------------------------------------------------------------------

    def load_checkpoint(self, tid: int) -> dict[str, Any]:
        row = self.store.query_one(
            "SELECT data FROM transfer_checkpoints WHERE transfer_id = ?", (tid,)
        )
        if not row:
            return {}
        try:
            data = json.loads(row[0])
        except (TypeError, ValueError):
            data = None
        if not isinstance(data, dict):
            # damaged in the file: where the transfer stood is lost, not the transfer (a
            # download starts over, keeping no byte it cannot vouch for; an upload asks anew)
            log.warning("transfer %d: its checkpoint could not be read; it starts over", tid)
            return {}
        return data

    def save_checkpoint(self, tid: int, data: dict[str, Any]) -> None:
        with self.store.write() as c:
            c.execute(
                "INSERT INTO transfer_checkpoints (transfer_id, data, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (transfer_id)"
                " DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (tid, json.dumps(data), time.time()),
            )

    def clear_checkpoint(self, tid: int) -> None:
        with self.store.write() as c:
            self._drop_checkpoint(c, tid)

    def _drop_checkpoint(self, c: sqlite3.Connection, tid: int) -> None:
        if c.execute("DELETE FROM transfer_checkpoints WHERE transfer_id = ?", (tid,)).rowcount:
            self.store.after_commit(self.store.forget_deleted)

    @staticmethod
    def _log(c: sqlite3.Connection, tid: int, kind: str, message: str) -> None:
        """A log entry; past ``LOG_MAX_ROWS``, the oldest but the first ``LOG_KEEP_FIRST``
        goes (one look along the log's index, at most ``LOG_MAX_ROWS`` entries)."""
        c.execute(
            "INSERT INTO transfer_log (transfer_id, at, kind, message) VALUES (?, ?, ?, ?)",
            (tid, time.time(), kind, message),
        )
        if c.execute(
            "SELECT 1 FROM transfer_log WHERE transfer_id = ? ORDER BY id LIMIT 1 OFFSET ?",
            (tid, LOG_MAX_ROWS),
        ).fetchone():
            c.execute(
                "DELETE FROM transfer_log WHERE id = (SELECT id FROM transfer_log"
                " WHERE transfer_id = ? ORDER BY id LIMIT 1 OFFSET ?)",
                (tid, LOG_KEEP_FIRST),
            )

    @classmethod
    def _log_retry(cls, c: sqlite3.Connection, tid: int, error: str) -> None:
        """An attempt that failed and will be tried again. If the attempt before it failed
        the same way (the log ends "queued: <error>", "started"), both are folded into that
        entry, counted, at this time: a hub down for days, tried every few minutes, leaves
        one entry per transfer, not two per try."""
        last = c.execute(
            "SELECT id, kind, message FROM transfer_log WHERE transfer_id = ?"
            " ORDER BY id DESC LIMIT 2",
            (tid,),
        ).fetchall()
        if (
            len(last) == 2
            and (last[0]["kind"], last[0]["message"]) == ("started", "")
            and (last[1]["kind"], last[1]["message"]) == ("queued", error)
        ):
            c.execute("DELETE FROM transfer_log WHERE id = ?", (last[0]["id"],))
            c.execute(
                "UPDATE transfer_log SET repeats = repeats + 1, at = ? WHERE id = ?",
                (time.time(), last[1]["id"]),
            )
        else:
            cls._log(c, tid, "queued", error)


def _with_same_as(options_text: str | None, same_as: str | None) -> str | None:
    """A download's options (JSON) with ``same_as`` set (None: removed), or None when they
    cannot be read (damaged in the file)."""
    try:
        options = json.loads(options_text) if options_text else {}
    except (TypeError, ValueError):
        return None
    if not isinstance(options, dict):
        return None
    if same_as is None:
        options.pop("same_as", None)
    else:
        options["same_as"] = same_as
    return json.dumps(options)


class StoreCheckpoint:
    """A job's checkpoint kept in the store (``base.Checkpoint``)."""

    def __init__(self, transfers: TransferStore, tid: int) -> None:
        self.transfers = transfers
        self.tid = tid

    def load(self) -> dict[str, Any]:
        return self.transfers.load_checkpoint(self.tid)

    def save(self, data: dict[str, Any]) -> None:
        self.transfers.save_checkpoint(self.tid, data)


class _NamesTaken(Container[str]):
    """``TransferStore.names_taken``: is a file name some transfer's destination (in any
    folder, with either separator), compared as a file system that ignores case compares it
    (``safe_names.name_key``: "NAIROBI.mp4" is taken by a download to "Nairobi.mp4")? The
    destinations are read once, at the first question (their text only: no row is decoded),
    and folded in Python: SQLite's own case folding knows ASCII only."""

    def __init__(self, store: Store, states: tuple[str, ...], but: int | None = None) -> None:
        self._store, self._states, self._but = store, states, -1 if but is None else but
        self._names: FoldedNames | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name:
            return False
        if self._names is None:
            # one string of them all (NUL is in no path): several times quicker than a row each
            row = self._store.query_one(
                "SELECT group_concat(destination, char(0)) FROM transfers"  # noqa: S608 - only "?" placeholders
                " WHERE direction = 'download'"  # (an upload's destination is a tus URL)
                f" AND state IN ({','.join('?' * len(self._states))}) AND id != ?",
                (*self._states, self._but),
            )
            joined = row[0] if row is not None and row[0] else ""
            self._names = FoldedNames(_file_name(d) for d in joined.split("\0") if d)
        return name in self._names


def _file_name(destination: str) -> str:
    """The last component of a destination written on any system (either separator)."""
    return destination.rpartition("/")[2].rpartition("\\")[2]
