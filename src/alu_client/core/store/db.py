"""One SQLite file per data folder, in WAL mode, with numbered migrations.

Writes are serialised through one lock and run in ``BEGIN IMMEDIATE`` transactions; reads
share the same connection under the lock (they are short; WAL keeps them cheap). Migrations are
numbered steps, all applied in one transaction after a backup copy of the file; a file written by
a newer ALU Desk is refused rather than risked (as TagStudio and Vorta do).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from ..durable import fsync_dir
from ..fstype import refuse_network_folder
from ..lockfile import refuse_if_in_use
from ..private import new_private_file, private_dir, private_files
from .problems import refuse_too_deep
from .schema import MIGRATIONS

log = logging.getLogger(__name__)


class SchemaTooNew(RuntimeError):
    """The library was written by a newer ALU Desk: its format ``current``, this one's
    ``newest``."""

    def __init__(self, message: str, current: int = 0, newest: int = 0) -> None:
        super().__init__(message)
        self.current, self.newest = current, newest


def peek(path: Path, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of ``sql`` on the library at ``path``, read only
    (None when there is no such file, row, or readable library). Nothing in the library is
    changed; a library in WAL mode closed cleanly gets its empty ``-wal`` and ``-shm`` files
    again (a read-only reader cannot remove them), as any reader's open does."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(sql, params).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row is not None else None


def steps_pending(path: Path) -> int:
    """How many migration steps opening the existing library at ``path`` will apply (0 for
    none, a new library, or one that cannot be read: opening it says why)."""
    current = peek(path, "PRAGMA user_version")
    if not isinstance(current, int) or current <= 0:
        return 0
    return max(0, len(MIGRATIONS) - current)


class NoRoomToUpdate(RuntimeError):
    """An update's migration needs room for a copy of the library first (``needed`` bytes free
    in ``folder``; ``free`` are): nothing was changed."""

    def __init__(self, folder: Path, needed: int, free: int) -> None:
        super().__init__(
            f"ALU Desk must update its library for this version, and keeps a copy of it first: "
            f"that needs {_mb(needed)} free on the disk that holds {folder}, where "
            f"{_mb(free)} are free. Free some space there and start again; nothing was changed."
        )
        self.folder, self.needed, self.free = folder, needed, free


def _mb(n: int) -> str:
    return f"{max(1, round(n / 1e6)):,} MB"


#: room kept free beyond what a migration is reckoned to need (bytes)
MIGRATION_MARGIN = 32 * 1024 * 1024
#: How long a process opening a library that another one is updating waits for that update
#: (seconds; a large library's takes about 20 s, and the busy timeout alone is 30 s).
UPDATE_WAIT_S = 600.0


def _remove_copy(copy: Path) -> None:
    """A backup copy and the files SQLite may have left beside it."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            copy.with_name(copy.name + suffix).unlink(missing_ok=True)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _search_text(value: object) -> str:
    """``alu_search_text`` of the steps remaking the search index. Imported at the first row
    (the library is built on the store): a new data folder's steps have no row to fold, and
    `alu fetch`'s first run there loaded the library and the rules for nothing (~30 ms)."""
    from ..library.text import normalize

    return normalize(str(value))


def _rule_words(value: object) -> str:
    """``alu_rule_words``: the words of a rule saved before, as this version writes them
    (imported at the first row, as ``_search_text``)."""
    from ..rules.conditions import legacy_conditions

    return legacy_conditions(str(value))


def _private_library(path: Path) -> None:
    """The library 0600 before SQLite makes it (its -wal and -shm take its mode); one made by an
    earlier version with the umask, its journals and its copies before updates, made so too.
    Ours wherever they are, even in a folder of the user's."""
    new_private_file(path)
    journals = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))
    private_files(journals)
    private_files(path.parent.glob(f"{glob_escape(path.name)}.bak-v*"))


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            # WAL does not work over a network file system (SQLite's documentation): refused
            # before the file is made or touched (UnsuitableDataFolder)
            refuse_network_folder(self.path.parent)
            refuse_too_deep(self.path)
            private_dir(self.path.parent, tighten=False)  # (tightened by Paths.ensure if ours)
            _private_library(self.path)
        self._conn = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._after_commit: list[Callable[[], object]] = []
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout=30000")
            try:
                # before anything is changed: a newer ALU Desk's file is left exactly as it
                # is (switching it to WAL rewrote its header and made -wal/-shm files)
                self._refuse_newer()
            except BaseException:
                self._conn.close()
                raise
            self._set_wal()
            # FULL: a committed transfer end survives a power cut, not only a crash.
            self._conn.execute("PRAGMA synchronous=FULL")
            if sys.platform == "darwin":
                # and on macOS, written down by the drive (F_FULLFSYNC): its fsync only hands
                # the pages to the drive's cache, which a power cut empties
                self._conn.execute("PRAGMA fullfsync=ON")
                self._conn.execute("PRAGMA checkpoint_fullfsync=ON")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # deleted rows are overwritten, not left in free pages (upload URLs are secrets)
            self._conn.execute("PRAGMA secure_delete=ON")
        try:
            self._migrate()
        except BaseException:
            self._conn.close()  # (refused or failed: the file is not held open)
            raise

    def _set_wal(self) -> None:
        """WAL mode; switching needs the file to itself for a moment, and SQLite does not wait
        on the busy timeout for that, so another process opening the file at once is waited
        for here."""
        for attempt in range(100):
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 99:
                    raise
                time.sleep(0.05)

    # --- schema -------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_newer(self) -> None:
        current, newest = self.version, len(MIGRATIONS)
        if current > newest:
            raise SchemaTooNew(
                f"This library was written by a newer ALU Desk (schema {current}, this one knows "
                f"{newest}). Update ALU Desk to open it.",
                current,
                newest,
            )

    def _migrate(self) -> None:
        """Bring the library to this version's format: the copy and every step in one
        transaction under the write lock. The file is only ever at a version some release
        wrote, never between two steps: an update cut short (kill -9, a crash, a power cut)
        leaves it as the previous release did, and the copy kept is of that one. Another
        process opening the library meanwhile (the app and `alu`, `alu watch run`) waits for
        the update and finds it done; with a transaction per step, a second process or the
        next start after a kill found a half-updated file and replaced the copy with one of
        it, which no release opens."""
        self._refuse_newer()
        newest = len(MIGRATIONS)
        if self.version == newest:
            return
        with self._lock:
            # what a step remaking the search index needs: the library's text folding, the one
            # its own writes use; and a step rewriting the words of the rules saved before
            self._conn.create_function("alu_search_text", 1, _search_text, deterministic=True)
            self._conn.create_function("alu_rule_words", 1, _rule_words, deterministic=True)
        with self.write(wait=UPDATE_WAIT_S) as conn:
            # read again under the write lock: another process may have updated it meanwhile
            self._refuse_newer()
            current = self.version
            if current == newest:
                return
            if current > 0 and self.path is not None:
                # an older app or `alu watch run` at work there would go on writing rows of
                # the old format into the new one (a new `alu` verb updated it under them)
                refuse_if_in_use(self.path.parent)
                self._backup_before_update(self.path, current)
            for number in range(current + 1, newest + 1):
                for statement in _statements(MIGRATIONS[number - 1]):
                    _apply(conn, statement)
            conn.execute(f"PRAGMA user_version = {newest}")

    def _backup_before_update(self, path: Path, current: int) -> None:
        """Copy the library to ``NAME.bak-vCURRENT`` before the steps run, and keep that copy
        only (older ones go once it is made: each is as large as the library). Refused, with
        nothing written, when the disk lacks room for the copy and the steps' journal — the
        copy filled the disk, was left there half-made, and the app then said "the disk is
        full". The copy is made under another name and renamed once complete: a copy that
        fails is removed, and one cut short never takes the place of a good one."""
        dest = path.with_name(f"{path.name}.bak-v{current}")
        making = path.with_name(f"{dest.name}.making")
        _remove_copy(making)  # one cut short by a kill
        older = [
            p
            for p in path.parent.glob(f"{glob_escape(path.name)}.bak-v*")
            if p != dest and re.fullmatch(r"[0-9]+", p.name[len(path.name) + len(".bak-v") :])
        ]
        size = _file_size(path) + _file_size(path.with_name(f"{path.name}-wal"))
        # the copy, and the journal of the steps (remaking the search index rewrites it)
        needed = 2 * size + MIGRATION_MARGIN
        free = shutil.disk_usage(path.parent).free
        if free < needed:
            # (a copy of this version, of an update cut short, is made again from the library)
            done_with = [*older, dest]
            if free + sum(_file_size(p) for p in done_with) < needed:
                raise NoRoomToUpdate(path.parent, needed, free)
            for p in done_with:  # room only without them: the new copy takes their place
                _remove_copy(p)
            older = []
        try:
            self._backup(making)
            # (a copy left half-made by an older version kept its journal: not beside this one)
            for suffix in ("-journal", "-wal", "-shm"):
                dest.with_name(dest.name + suffix).unlink(missing_ok=True)
            os.replace(making, dest)
            fsync_dir(path.parent)
        except BaseException:
            _remove_copy(making)
            raise
        for p in older:
            _remove_copy(p)

    def _backup(self, dest: Path) -> None:
        """Copy the library as last committed into ``dest`` (synced to disk when it returns).
        Read through a connection of its own: SQLite copies nothing from a connection in a
        write transaction, and the update holds one (so nothing changes during the copy)."""
        assert self.path is not None
        new_private_file(dest)  # a copy of the library: its secrets too
        source = sqlite3.connect(str(self.path), timeout=30)
        with contextlib.closing(source), contextlib.closing(sqlite3.connect(str(dest))) as target:
            source.backup(target)

    # --- access -------------------------------------------------------------------------------

    @contextmanager
    def write(self, wait: float = 0.0) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything inside commits together or not at all. Another
        process's transaction is waited for up to the busy timeout, or ``wait`` seconds if
        longer (an update of the library)."""
        with self._lock:
            self._begin_immediate(time.monotonic() + wait)
            try:
                yield self._conn
            except BaseException:
                self._after_commit.clear()
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
                callbacks, self._after_commit = self._after_commit, []
        for fn in callbacks:
            try:
                fn()
            except Exception:
                log.exception("an after-commit callback failed")

    def _begin_immediate(self, deadline: float) -> None:
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                # (each attempt waited the busy timeout already)
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise

    def after_commit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once the write transaction in progress has committed (not if it rolls
        back): tell other threads about rows they can now read."""
        self._after_commit.append(fn)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params))

    def query_one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def forget_deleted(self) -> bool:
        """Copy the write-ahead log into the database and empty it, so that rows deleted
        (zeroed, with ``secure_delete``) do not live on in older frames of the log. Waits at
        most a second for readers of other processes; False if they kept it from happening
        (it happens at a later call, or when the last connection closes)."""
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout=1000")
            try:
                busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                busy = 1
            finally:
                self._conn.execute("PRAGMA busy_timeout=30000")
        return not busy

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _apply(conn: sqlite3.Connection, statement: str) -> None:
    """One statement of a step. A column the step adds that is there already is not an error:
    SQLite has no ``ADD COLUMN IF NOT EXISTS``, and a step run again (a library taken back to
    an older version number) must be as harmless as its ``CREATE … IF NOT EXISTS``."""
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as e:
        adds_column = re.search(r"^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\b", statement, re.I | re.M)
        if not (adds_column and str(e).startswith("duplicate column name")):
            raise


def _statements(script: str) -> list[str]:
    """Split a migration into complete SQL statements (sqlite3 decides what is complete)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out
