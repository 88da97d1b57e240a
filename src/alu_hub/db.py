"""Engine, sessions and schema migrations.

The schema is owned by Alembic migrations in ``alu_hub/migrations`` (numbered, one per
change); ``Database.migrate()`` brings any database up to the newest at start-up and refuses one
newer than this code knows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from .models import Counter, KeyValue

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaTooNew(RuntimeError):
    """The database was written by a newer hub; running would risk it."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; busy_timeout: writers queue instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def migrate(self) -> None:
        cfg = self.alembic_config()
        script = ScriptDirectory.from_config(cfg)
        known = {rev.revision for rev in script.walk_revisions()}
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in known:
            raise SchemaTooNew(
                f"The hub database is at schema {current}, newer than this hub knows; "
                "upgrade alu-hub before running it on this database."
            )
        command.upgrade(cfg, "head")
        self._ensure_rows()

    def _ensure_rows(self) -> None:
        with self.session() as s:
            if s.get(Counter, "item_seq") is None:
                s.add(Counter(name="item_seq", value=0))
            if s.get(KeyValue, "link_key") is None:
                s.add(KeyValue(key="link_key", value=secrets.token_hex(32)))

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

    def link_key(self) -> bytes:
        with self.session() as s:
            return bytes.fromhex(
                s.execute(select(KeyValue.value).where(KeyValue.key == "link_key")).scalar_one()
            )

    def dispose(self) -> None:
        self.engine.dispose()
