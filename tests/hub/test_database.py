"""The hub's schema and SQL on each database it runs on (SQLite, PostgreSQL): the migrations
build what the models describe, go down and up again with data in place, and input that one
engine stores and the other refuses is answered alike."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from alu_hub import api
from alu_hub.db import Database
from alu_hub.hub import Hub
from alu_hub.models import (
    Base,
    Counter,
    HistoryEvent,
    Item,
    KeyValue,
    Member,
    SignInAttempt,
    Upload,
    utcnow,
)
from alu_hub.stats import compute_stats
from tests.support.livehub import LiveHub, hub_database_url
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def test_the_migrations_build_what_the_models_describe(tmp_path: Path) -> None:
    db = Database(hub_database_url(tmp_path))
    try:
        db.migrate()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


def test_the_migrations_go_down_and_up_again_keeping_the_rows(tmp_path: Path, hub_db: str) -> None:
    db = Database(hub_database_url(tmp_path))
    cfg = db.alembic_config()
    try:
        command.downgrade(cfg, "base")  # a database copied from a migrated template, or new
        command.upgrade(cfg, "0002")
        with db.session() as s:
            # (the columns of revision 0002: the model has more)
            ktn_id = _old_member(s, "ktn", active=True)
            at = _stored(s, utcnow())
            s.execute(  # (the columns of 0001: the model has more, 0010's workstation)
                text(
                    "INSERT INTO history (event_id, member_id, type, rendition, bytes,"
                    " occurred_at, received_at, device, detail)"
                    " VALUES (:e, :m, 'download_completed', '', 0, :at, :at, '', '{}')"
                ),
                {"e": "e" * 16, "m": ktn_id, "at": at},
            )
            s.add(SignInAttempt(key="k" * 64, at=utcnow()))
        db.migrate()
        with db.session() as s:
            assert s.scalar(select(HistoryEvent.event_id)) == "e" * 16
            assert s.scalar(select(func.count()).select_from(SignInAttempt)) == 1
            if hub_db == "postgresql":  # the keys and their sequences are 64-bit now
                for table, column in (("history", "seq"), ("signin_attempts", "id")):
                    s.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, :c), 3000000000)"),
                        {"t": table, "c": column},
                    )
            member_id = s.scalar(select(Member.id))
            assert member_id is not None
            event = HistoryEvent(
                event_id="f" * 16,
                member_id=member_id,
                type="upload_completed",
                occurred_at=utcnow(),
            )
            attempt = SignInAttempt(key="k" * 64, at=utcnow())
            s.add_all([event, attempt])
            s.flush()
            if hub_db == "postgresql":
                assert event.seq > 2**31 and attempt.id > 2**31
            s.delete(event)  # 0003's downgrade cannot keep such keys in 32 bits
            s.delete(attempt)
            if hub_db == "postgresql":
                for table, column in (("history", "seq"), ("signin_attempts", "id")):
                    s.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, :c), 100)"),
                        {"t": table, "c": column},
                    )
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


def _old_member(s: Session, username: str, *, active: bool) -> int:
    """A member row as a revision before 0005 wrote it (no ``disabled_at``); its id."""
    s.execute(
        text(
            "INSERT INTO members (username, display_name, country, role, password_hash, active,"
            " created_at) VALUES (:u, '', 'KE', 'member', 'x', :a, :c)"
        ),
        {"u": username, "a": active, "c": _stored(s, dt.datetime(2026, 1, 2, tzinfo=dt.UTC))},
    )
    member_id = s.scalar(select(Member.id).where(Member.username == username))
    assert member_id is not None
    return member_id


def _stored(s: Session, when: dt.datetime) -> dt.datetime:
    """A time as the hub stores it on this engine (SQLite: UTC without a zone)."""
    return when.replace(tzinfo=None) if s.get_bind().dialect.name == "sqlite" else when


def test_migration_0005_keeps_the_rows_and_dates_the_members_disabled_before_it(
    tmp_path: Path, hub_db: str
) -> None:
    """The times the statistics count by (``items``/``uploads.received_at``, ``members.
    disabled_at``) on a database with rows: the items keep none (they count by
    ``published_at``, as before), a member disabled before the revision is taken as disabled
    at the upgrade (no longer judged after it), an enabled one is not; down and up again keeps
    the rows."""
    db = Database(hub_database_url(tmp_path))
    cfg = db.alembic_config()
    try:
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "0004")
        published = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)
        with db.session() as s:
            ktn = _old_member(s, "ktn", active=True)
            _old_member(s, "gone", active=False)
            s.execute(
                text(
                    "INSERT INTO items (id, seq, kind, title, slug, dateline, published_at,"
                    " category, region, country, language, priority, restrictions, script,"
                    " shotlist, duration, source_member_id, thumbnail_key) VALUES ('i1', 1,"
                    " 'member_upload', 'Floods', '', '', :p, '', '', 'KE', 'en', 'routine', '',"
                    " '', '', 1.0, :m, '')"
                ),
                {"p": _stored(s, published), "m": ktn},
            )
            s.execute(
                text(
                    'INSERT INTO uploads (id, member_id, length, "offset", meta, concat, parts,'
                    " state, error, created_at, updated_at, expires_at, lock_owner) VALUES"
                    " ('u1', :m, 10, 10, '{}', '', '{}', 'processing', '', :t, :t, :t, '')"
                ),
                {"m": ktn, "t": _stored(s, published)},
            )
        before = utcnow()
        command.upgrade(cfg, "head")
        with db.session() as s:
            item = s.get(Item, "i1")
            upload = s.get(Upload, "u1")
            assert item is not None and upload is not None
            assert (item.published_at, item.received_at, upload.received_at) == (
                published,
                None,
                None,
            )
            listed = s.execute(select(Member.username, Member.disabled_at))
            disabled = {r.username: r.disabled_at for r in listed}
            assert disabled["ktn"] is None
            assert disabled["gone"] is not None and before <= disabled["gone"] <= utcnow()
            # the statistics read it: the item on the day it was published, "gone" not after
            # the upgrade
            day = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
            out = compute_stats(s, day, day + dt.timedelta(days=1), day + dt.timedelta(days=2))
            assert [(r.username, r.uploads) for r in out.members] == [("gone", 0), ("ktn", 1)]
            later = utcnow() + dt.timedelta(days=1)
            out = compute_stats(s, later, later + dt.timedelta(days=1), later)
            assert [r.username for r in out.members] == ["ktn"]
        command.downgrade(cfg, "0004")
        command.upgrade(cfg, "head")
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Item)) == 1
            assert s.scalar(select(func.count()).select_from(Member)) == 2
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


KILLED_MIGRATING = """
import os
import signal
import sys
from alembic.operations import Operations
from alu_hub.db import Database

add_column = Operations.add_column

def add_column_then_die(self, *args, **kw):
    add_column(self, *args, **kw)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 right after the first statement of 0005

Operations.add_column = add_column_then_die
Database(sys.argv[1]).migrate()
"""


def _revision_and_new_column(db: Database) -> tuple[str | None, bool]:
    """The database's revision, and whether 0005's first statement (``items.received_at``)
    is in it."""
    with db.engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        columns = {c["name"] for c in inspect(conn).get_columns("items")}
    return revision, "received_at" in columns


def test_a_migration_cut_short_is_undone_whole_and_made_at_the_next_start(
    tmp_path: Path, hub_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub stopped in the middle of a migration (kill -9, a power cut, a full disk between two
    of its statements) leaves the database as the migration found it, and the next start makes
    it. On SQLite each statement used to commit on its own: the database said 0004 with 0005's
    first column in it, and every later start failed on "duplicate column name"."""
    url = hub_database_url(tmp_path)
    db = Database(url)
    cfg = db.alembic_config()
    try:
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "0004")
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_MIGRATING, url],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert _revision_and_new_column(db) == ("0004", False)

        add_column = Operations.add_column

        def add_column_then_fail(self: Operations, *args: object, **kw: object) -> None:
            add_column(self, *args, **kw)  # type: ignore[arg-type]
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as m:
            m.setattr(Operations, "add_column", add_column_then_fail)
            with pytest.raises(OSError, match="No space left"):
                db.migrate()
        assert _revision_and_new_column(db) == ("0004", False)

        db.migrate()
        head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
        assert _revision_and_new_column(db) == (head, True)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


def _old_event(s: Session, member_id: int, event_id: str) -> None:
    """A history row as revisions before 0006 wrote it."""
    s.execute(
        text(
            "INSERT INTO history (event_id, member_id, type, rendition, bytes, occurred_at,"
            " received_at, device, detail) VALUES (:e, :m, 'download_completed', '', 1, :t, :t,"
            " '', '{}')"
        ),
        {"e": event_id, "m": member_id, "t": _stored(s, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))},
    )


def _history(s: Session) -> list[tuple[str, str]]:
    rows = s.execute(
        select(Member.username, HistoryEvent.event_id)
        .join(Member, Member.id == HistoryEvent.member_id)
        .order_by(HistoryEvent.seq)
    )
    return [(r.username, r.event_id) for r in rows]


def test_migration_0006_makes_history_ids_unique_per_member_keeping_the_rows(
    tmp_path: Path, hub_db: str
) -> None:
    """An event id was unique across members: one member's id made another's event of that id
    a duplicate, never stored. After 0006 each member has its own ids; the rows stay, and one
    member's id still cannot be stored twice. Down again, the events an older hub would have
    refused go, and up again ends where the models say."""
    db = Database(hub_database_url(tmp_path))
    cfg = db.alembic_config()
    try:
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "0005")
        with db.session() as s:
            ktn = _old_member(s, "ktn", active=True)
            rts = _old_member(s, "rts", active=True)
            _old_event(s, ktn, "shared-id-1")
            _old_event(s, rts, "rts-own-id")
        command.upgrade(cfg, "head")
        with db.session() as s:
            assert _history(s) == [("ktn", "shared-id-1"), ("rts", "rts-own-id")]
            row = {"member_id": rts, "type": "download_completed", "occurred_at": utcnow()}
            assert api._insert_ignore(s, [{**row, "event_id": "shared-id-1"}]) == 1
            assert api._insert_ignore(s, [{**row, "event_id": "shared-id-1"}]) == 0
            assert api._insert_ignore(s, [{**row, "event_id": "rts-own-id"}]) == 0
        with db.session() as s:
            assert _history(s) == [
                ("ktn", "shared-id-1"),
                ("rts", "rts-own-id"),
                ("rts", "shared-id-1"),
            ]
        command.downgrade(cfg, "0005")
        with db.session() as s:
            assert _history(s) == [("ktn", "shared-id-1"), ("rts", "rts-own-id")]
        command.upgrade(cfg, "head")
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


MIGRATE = """
import sys
import threading
import time
from alu_hub import api
from alu_hub.db import Database
from alu_hub.hub import Hub
db = Database(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
db.migrate()
"""


def test_replicas_starting_together_on_a_new_database_take_turns(
    tmp_path: Path, hub_db: str
) -> None:
    """Several processes migrating one new database at once: on PostgreSQL an advisory lock
    makes them take turns (without it, all but one failed creating tables that exist)."""
    if hub_db != "postgresql":
        pytest.skip(
            "PostgreSQL only: SQLite replicas starting together on a new file are not serialised"
        )
    url = hub_database_url(tmp_path)
    db = Database(url)
    command.downgrade(db.alembic_config(), "base")  # a new, empty database
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for p in procs:  # all imported and connected-ready: then all go at once
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            _, err = p.communicate(timeout=90)
            assert p.returncode == 0, err[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    with db.session() as s:
        # one of each counter: the feed's seq and the changes' (0008)
        assert sorted(s.scalars(select(Counter.name))) == ["item_change_seq", "item_seq"]
        # one of each hub-wide value: the link key, when the database was made, its identity
        assert sorted(s.scalars(select(KeyValue.key))) == ["created_at", "hub_id", "link_key"]
    db.dispose()


def test_the_sessions_count_days_in_utc(live_hub: LiveHub, hub_db: str) -> None:
    """The stats count upload days; PostgreSQL's date_trunc works in the session's zone, which
    is the server's unless the hub sets it (the test server's is UTC+14)."""
    with live_hub.hub.db.session() as s:
        late = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC)
        if hub_db == "postgresql":
            assert s.scalar(text("SELECT current_setting('TimeZone')")) == "UTC"
            day = s.scalar(select(func.date_trunc("day", late)))
        else:
            day = s.scalar(select(func.date(late.replace(tzinfo=None))))
        assert str(day).startswith("2026-11-01")


def _event(**fields: object) -> dict[str, object]:
    return {"id": uuid.uuid4().hex, "type": "download_completed", **fields}


def test_text_with_nul_is_answered_alike(live_hub: LiveHub) -> None:
    """PostgreSQL's text cannot hold NUL: a NUL in a user name, a device or an id in a URL is
    no reason for a 500 (it was one on PostgreSQL)."""
    live_hub.member("ktn", "pw-1234")
    signin = live_hub.api("/session")
    nul_user = requests.post(
        signin, json={"username": "ktn\x00", "password": "pw-1234"}, timeout=10
    )
    assert nul_user.status_code == 401
    device = requests.post(
        signin, json={"username": "ktn", "password": "pw-1234", "device": "a\x00b"}, timeout=10
    )
    assert device.status_code == 200
    ktn = live_hub.login("ktn")
    for path in (
        "/items/abc%00def",
        "/items/abc%00/renditions/broadcast",
        "/items/abc%00/thumbnail",
    ):
        assert ktn.get(live_hub.api(path), timeout=10).status_code == 404, path
    events = [_event(device="desk\x00"), _event(item_id="i\x00"), _event(rendition="r\x00")]
    r = ktn.post(live_hub.api("/history"), json={"events": events}, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 3
    stored = ktn.get(live_hub.api("/history"), timeout=10).json()["events"]
    assert [e["id"] for e in stored] == [e["id"] for e in events]
    # (a device name is stored cleaned, on every engine: alu_hub.devicename)
    assert stored[0]["device"] == "desk?"


def test_json_without_nan_is_stored_on_every_engine(live_hub: LiveHub) -> None:
    """Python's json reads NaN and Infinity; PostgreSQL's json refuses them (a 500 it was) and
    no client could read them back: they are stored as null."""
    ktn = live_hub.login("ktn")
    detail = '"detail": {"nan": NaN, "inf": [Infinity, -Infinity, 1e400], "ok": 1.5}'
    body = f'{{"events": [{{"id": "{uuid.uuid4().hex}", "type": "download_completed", {detail}}}]}}'
    r = ktn.post(
        live_hub.api("/history"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    stored = ktn.get(live_hub.api("/history"), timeout=10)
    assert stored.status_code == 200
    assert stored.json()["events"][0]["detail"] == {
        "nan": None,
        "inf": [None, None, None],
        "ok": 1.5,
    }


def test_history_cursors_beyond_32_bits(live_hub: LiveHub) -> None:
    ktn = live_hub.login("ktn")
    for after in (2**31, 2**40):
        r = ktn.get(live_hub.api("/history"), params={"after": after}, timeout=10)
        assert r.status_code == 200
        assert r.json() == {"events": [], "next": after, "more": False, "last": 0}
        r = ktn.get(live_hub.api("/items"), params={"after": after}, timeout=10)
        assert r.status_code == 200 and r.json()["items"] == []


def _waiting_on_a_lock(hub: Hub) -> bool:
    """Whether a connection to the hub's PostgreSQL database is waiting for a lock."""
    with hub.db.session() as s:
        return bool(
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )


def test_a_history_pull_never_passes_an_event_still_being_stored(
    live_hub: LiveHub, hub_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workstations of a member send at once; a third pulls between their commits. On
    PostgreSQL the first batch's number was taken at insert and seen at commit: the second,
    numbered after it and committed before it, moved the puller's cursor past it for good."""
    if hub_db != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer at a time, numbers commit in order")
    first, second, other = _event(), _event(), _event()
    held, release = threading.Event(), threading.Event()
    insert = api._insert_ignore

    def insert_and_hold(s: Session, rows: list[dict[str, object]]) -> int:
        stored = insert(s, rows)
        if any(r["event_id"] == first["id"] for r in rows):
            held.set()  # inserted, not committed: as a slow batch stands between the two
            release.wait(30)
        return stored

    monkeypatch.setattr(api, "_insert_ignore", insert_and_hold)
    desks = [live_hub.login("ktn") for _ in range(3)]
    rts = live_hub.login("rts")
    answers: dict[str, int] = {}

    def send(name: str, desk: requests.Session, event: dict[str, object]) -> None:
        r = desk.post(live_hub.api("/history"), json={"events": [event]}, timeout=30)
        answers[name] = r.status_code

    senders = [
        threading.Thread(target=send, args=("first", desks[0], first)),
        threading.Thread(target=send, args=("second", desks[1], second)),
    ]
    try:
        senders[0].start()
        wait_until(held.is_set, what="the first batch inserted")
        senders[1].start()
        wait_until(
            lambda: "second" in answers or _waiting_on_a_lock(live_hub.hub),
            what="the second batch committed or waiting for the first",
        )
        send("other member", rts, other)  # another member's cursor: not held up
        assert answers["other member"] == 200
        pulled = desks[2].get(live_hub.api("/history"), params={"after": 0}, timeout=10).json()
    finally:
        release.set()
        for t in senders:
            t.join(30)
    assert answers == {"first": 200, "second": 200, "other member": 200}
    after = {"after": pulled["next"]}
    later = desks[2].get(live_hub.api("/history"), params=after, timeout=10).json()
    seen = [e["id"] for e in pulled["events"] + later["events"]]
    assert seen == [first["id"], second["id"]]


def test_a_serving_hub_checkpoints_the_sqlite_log_in_the_background(tmp_path: Path) -> None:
    """Requests never copy the write-ahead log into the database themselves (that cost a
    committing request 20-50 ms each thousand pages under load): a thread does, every second."""
    main = tmp_path / "hub.sqlite3"
    db = Database(f"sqlite:///{main}")
    try:
        db.migrate()
        with db.engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE filler (b BLOB)")
        db.checkpoint()
        before = main.stat().st_size
        with db.engine.begin() as c:  # ~400 pages of 4 KiB: in the log, far from its backstop
            for _ in range(200):
                c.exec_driver_sql("INSERT INTO filler VALUES (randomblob(8000))")
        time.sleep(0.3)  # checks that nothing happens meanwhile: no signal to wait on
        assert main.stat().st_size == before, "a commit checkpointed: the backstop is too low"
        db.start_checkpoints(0.05)
        wait_until(lambda: main.stat().st_size > before + 1_000_000, timeout=10)
    finally:
        db.dispose()
    assert db._checkpointer is None  # dispose stopped it


def test_connections_the_server_closed_are_replaced_before_a_request_gets_them(
    live_hub: LiveHub, hub_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL restart or idle timeout closes the pooled connections: one that sat in the
    pool is checked before use and replaced, and no request fails for it."""
    if hub_db != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to close connections")
    import psycopg

    from alu_hub import db as hub_db_module

    s = live_hub.login("ktn")
    for _ in range(3):
        assert s.get(live_hub.api("/history"), timeout=10).status_code == 200
    url = live_hub.hub.settings.db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        closed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert closed is not None and closed[0] >= 1
    monkeypatch.setattr(hub_db_module, "PING_IDLE_S", 0.0)  # as if they sat idle a while
    for _ in range(5):
        r = s.get(live_hub.api("/history"), timeout=10)
        assert r.status_code == 200, r.text
