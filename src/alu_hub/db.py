"""Engine, sessions and schema migrations.

The schema is owned by Alembic migrations in ``alu_hub/migrations`` (numbered, one per
change); ``Database.migrate()`` brings a database up to the newest when ``alu-hub serve``
starts and refuses one newer than this code knows. Only a serving hub upgrades an existing
database (``upgrade``): the operator's other commands, run by a newer version beside an older
hub still serving (a cron job after a ``git pull``), refuse one at an older schema instead of
changing it under that hub (which would then refuse to start again). On PostgreSQL, replicas
starting together take turns at it (an advisory lock).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, select, text, update
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from alu_client.core.private import new_private_file, private_files

from .models import Counter, KeyValue

log = logging.getLogger(__name__)


def as_utc(when: dt.datetime) -> dt.datetime:
    """``when`` as an aware UTC time (SQLite gives back naive ones, stored as UTC)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


MIGRATIONS = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock a process holds while it migrates ("alu-hub" in ASCII).
MIGRATION_LOCK = 0x616C752D687562


#: SQLite connections kept open (each is a file handle and a page cache of ~2 MB at most).
SQLITE_POOL_SIZE = 40
#: SQLite: pages the write-ahead log may hold before a committing request copies them into the
#: database itself (a checkpoint: random writes and an fsync, 20-50 ms on a 1 GB database,
#: paid by whichever request crossed the line). SQLite's default is 1,000; a serving hub
#: checkpoints in the background instead (``Database.start_checkpoints``), and this is the
#: backstop should that fall behind (40 MB of log).
SQLITE_AUTOCHECKPOINT = 10_000
#: How often a serving hub's background checkpoint runs (SQLite).
CHECKPOINT_S = 1.0


class SchemaTooNew(RuntimeError):
    """The database was written by a newer hub; running would risk it."""


class SchemaTooOld(RuntimeError):
    """The database is at an older schema than this code, and may not be upgraded here: by a
    command other than ``serve``, or while other processes use the hub (``app.open_database``)."""

    def __init__(self, message: str, current: str, head: str) -> None:
        super().__init__(message)
        self.current = current
        self.head = head


def too_old(current: str, head: str) -> SchemaTooOld:
    """The refusal of a command that does not upgrade (anything but ``serve``)."""
    return SchemaTooOld(
        f"The hub database is at schema {current}, older than this alu-hub ({head}): stop the "
        "running hub, back it up (docs/operations.md), then start `alu-hub serve` once to "
        "upgrade it.",
        current,
        head,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; busy_timeout: writers queue instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT}")
    cur.close()


def _postgresql_session(dbapi_conn: Any, _record: Any) -> None:
    # Days are UTC days on every engine: date_trunc and casts of timestamptz follow the
    # session's zone, which is the server's own (often local time) unless set. SET is
    # transactional: committed, or the pool's rollback would undo it.
    cur = dbapi_conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.close()
    dbapi_conn.commit()


def _without_nul(value: Any) -> Any:
    """``value`` (a statement's parameters) with NUL characters in its strings replaced."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def _postgresql_params(
    _conn: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    # PostgreSQL's text cannot hold NUL (SQLite's can): a NUL that got past the API's checks
    # (a user name, a device, an id in a URL) becomes U+FFFD instead of failing the request with
    # a 500. A lookup then finds nothing, as it does on SQLite; a stored text keeps its length.
    return statement, _without_nul(parameters)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def json_dumps(value: Any) -> str:
    """JSON columns hold standard JSON on every engine: NaN and infinities (which Python's
    json reads and writes, PostgreSQL refuses, and no client can parse back) become null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_json_value(value), allow_nan=False)


def _private_sqlite(url: str) -> None:
    """The SQLite file 0600 before SQLite makes it with the umask (its -wal and -shm take its
    mode), and one an earlier version made so made private: it holds the link-signing key and
    the password hashes (``alu_client.core.private``; PostgreSQL's are its server's business)."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    db = Path(path)
    new_private_file(db)
    private_files(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite(url)
        # As many pooled connections as the server has threads that may want one at once
        # (anyio's thread pool: 40): with SQLAlchemy's default of 5 (+10 overflow), requests
        # under load queued for a connection, and overflow ones were opened and closed again
        # for every request (the pragmas below on each) — measured at ×100 load.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            json_serializer=json_dumps,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            # the connection used last first: a few connections do most of the work and keep
            # their page caches warm, instead of forty taking turns with cold ones
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, json_serializer=json_dumps)
    # A connection the server closed (a restart, an idle timeout) is replaced before a request
    # gets it when it sat unused in the pool for a while (``PING_IDLE_S``); not checked on
    # every checkout (pool_pre_ping): that was a third of the statements under load. The
    # trade: a restart while requests are being served fails those in flight and about one
    # more per serving process (whose disconnect error makes the pool drop all the others).
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "checkin", _note_checkin)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_session)
        event.listen(engine, "before_cursor_execute", _postgresql_params, retval=True)
    return engine


#: Client-server engines: a pooled connection unused for longer is checked before use.
PING_IDLE_S = 10.0
_CHECKED_IN = "alu_checked_in"


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    last = record.info.get(_CHECKED_IN)
    if last is None or time.monotonic() - last < PING_IDLE_S:
        return
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1")
        finally:
            cur.close()
        dbapi_conn.rollback()
    except Exception as e:  # the DB-API's own errors: the server went away (a restart)
        # every pooled connection is as old as this one: the pool drops them all, this
        # request gets a new one
        raise InvalidatePoolError(f"a pooled connection was closed: {e}") from e


#: the ``hub_kv`` row that holds the hub's identity (``Database.hub_id``)
HUB_ID_KEY = "hub_id"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._checkpointer: threading.Thread | None = None
        self._checkpoints_stop = threading.Event()

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """On PostgreSQL, one process migrates a database at a time: replicas starting together
        on a new database would otherwise all create the tables, and all but one fail (Alembic's
        module-level context makes it unsafe between threads too). SQLite: nothing."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        conn = self.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
            yield
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
        except BaseException:
            conn.invalidate()  # the server lets go of the lock with the connection
            raise
        finally:
            conn.close()

    def _revisions(self) -> tuple[str | None, str, set[str]]:
        """The database's schema revision (None: a new, empty database), this code's newest,
        and every one this code knows."""
        script = ScriptDirectory.from_config(self.alembic_config())
        head = script.get_current_head()
        assert head is not None
        known = {rev.revision for rev in script.walk_revisions()}
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, head, known

    def pending_upgrade(self) -> tuple[str, str] | None:
        """(the database's schema, this code's) when ``migrate`` would upgrade an existing
        database; None for a new one, one already up to date, or one newer than this code."""
        current, head, known = self._revisions()
        if current is None or current == head or current not in known:
            return None
        return current, head

    def migrate(self, *, upgrade: bool = True) -> None:
        """Bring the schema to this code's: a new database is made whole; an existing one at
        an older schema is upgraded (and that logged) only with ``upgrade``, else refused
        (``SchemaTooOld``) with nothing changed. One newer than this code: ``SchemaTooNew``."""
        with self._migration_lock():
            self._migrate(upgrade)

    def _migrate(self, upgrade: bool) -> None:
        current, head, known = self._revisions()
        if current is not None and current not in known:
            raise SchemaTooNew(
                f"The hub database is at schema {current}, newer than this hub knows; "
                "upgrade alu-hub before running it on this database."
            )
        if current is not None and current != head:
            if not upgrade:
                raise too_old(current, head)
            # (a warning: the demo's log, and an embedding app's, show no INFO of the hub)
            log.warning("upgrading the hub database from %s to %s", current, head)
        if current != head:  # (up to date: nothing written, not even a lock taken)
            command.upgrade(self.alembic_config(), "head")
        self._ensure_rows()

    def _ensure_rows(self) -> None:
        with self.session() as s:
            for counter in ("item_seq", "item_change_seq"):
                if s.get(Counter, counter) is None:
                    s.add(Counter(name=counter, value=0))
            if s.get(KeyValue, "link_key") is None:
                s.add(KeyValue(key="link_key", value=secrets.token_hex(32)))
            if s.get(KeyValue, HUB_ID_KEY) is None:
                # this hub's identity, made once with its database (a backup restored keeps
                # it): a workstation told "same hub, new address" checks it before it moves
                s.add(KeyValue(key=HUB_ID_KEY, value=secrets.token_hex(16)))
            if s.get(KeyValue, "created_at") is None:
                # (a database older than this row: its first start with it)
                s.add(KeyValue(key="created_at", value=dt.datetime.now(dt.UTC).isoformat()))

    def hub_id(self) -> str | None:
        """This hub's identity: made once with its database, the same for all its replicas
        and after a restore from a backup (None before the first ``migrate``)."""
        with self.session() as s:
            row = s.get(KeyValue, HUB_ID_KEY)
            return row.value if row is not None else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def next_seq(self, s: Session, name: str = "item_seq") -> int:
        """Take the next value of a counter; the row stays locked until ``s`` commits."""
        value = s.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        ).scalar_one()
        return int(value)

    def created_at(self) -> dt.datetime:
        """When this database was made (or first started by a version that records it): files
        older than it were never its own (``app.recover``)."""
        with self.session() as s:
            value = s.execute(
                select(KeyValue.value).where(KeyValue.key == "created_at")
            ).scalar_one()
        return as_utc(dt.datetime.fromisoformat(value))

    def link_key(self) -> bytes:
        with self.session() as s:
            return bytes.fromhex(
                s.execute(select(KeyValue.value).where(KeyValue.key == "link_key")).scalar_one()
            )

    def checkpoint(self) -> None:
        """SQLite: copy what the write-ahead log holds into the database, as far as readers
        allow, without waiting for (or holding up) anyone. Other engines: nothing."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def start_checkpoints(self, interval: float = CHECKPOINT_S) -> None:
        """SQLite: checkpoint every ``interval`` on a thread of its own, so that no request
        pays for it (``SQLITE_AUTOCHECKPOINT``). Replicas each run one; SQLite lets one
        checkpoint run at a time and the others find nothing left to do."""
        if self.engine.dialect.name != "sqlite" or self._checkpointer is not None:
            return
        self._checkpoints_stop.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, args=(interval,), name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def stop_checkpoints(self) -> None:
        """(Waits for a checkpoint under way: call it off the event loop.)"""
        self._checkpoints_stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)
            self._checkpointer = None

    def _checkpoints(self, interval: float) -> None:
        failing = False
        while not self._checkpoints_stop.wait(interval):
            try:
                self.checkpoint()
            except Exception:  # busy, or the disk is full: requests checkpoint at the backstop
                if not failing:
                    log.warning("a background checkpoint of the database failed", exc_info=True)
                failing = True
            else:
                failing = False

    def dispose(self) -> None:
        self.stop_checkpoints()
        self.engine.dispose()
