"""Alembic environment: runs on the hub's own engine (``Database.alembic_config``).

The migrations of one start happen whole or not at all, on every engine: a hub stopped in the
middle of one (kill -9, a power cut, a full disk between two statements) leaves the database as
it found it, and the next start makes them. PostgreSQL's DDL is transactional and Alembic runs
them in one transaction there. On SQLite the DDL is transactional too, but Python's sqlite3
driver (its legacy transaction handling, Python 3.11) opens a transaction only before
INSERT/UPDATE/DELETE and runs ``ALTER TABLE`` and the like outside any, each committing on its
own: a migration killed after its first statement left the old revision stamped over a changed
schema, and every later start failed on that statement ("duplicate column name"). So on SQLite
the driver's handling is switched off for the migration's connection and the transaction is
ours (SQLAlchemy's "pysqlite serializable" recipe).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection

from alu_hub.models import Base


@contextmanager
def _sqlite_transaction(connection: Connection) -> Iterator[None]:
    """One SQLite transaction around the block, DDL included, committed when it ends and
    rolled back on any error (a killed process's is rolled back by SQLite at the next open).

    ``BEGIN IMMEDIATE`` takes the write lock before Alembic reads the revision: another
    process migrating the same file waits for it (the busy timeout) and then finds the work
    done, instead of both reading the old revision."""
    driver = connection.connection.driver_connection
    assert driver is not None
    legacy = driver.isolation_level
    driver.isolation_level = None  # the driver opens and commits nothing by itself
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        # (the pooled connection goes back as the hub's sessions expect it)
        driver.isolation_level = legacy


def _run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
        transactional_ddl=True,
    )
    # (on SQLite the transaction is already open: Alembic then leaves it to us)
    with context.begin_transaction():
        context.run_migrations()


config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand with a URL
    from alu_hub.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        with _sqlite_transaction(connection):
            _run_migrations(connection)
    else:
        _run_migrations(connection)
