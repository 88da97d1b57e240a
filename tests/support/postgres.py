"""A throwaway PostgreSQL server for the test session, and one database per hub.

The cluster lives in a temp folder (``initdb``), listens on a free port on 127.0.0.1 only (its
unix socket in that folder), runs with ``fsync=off`` (nothing in it needs to survive a crash of
the machine) and a random password, and is stopped and deleted at the end of the session (a
cluster left behind by a killed session is stopped by the next one). PostgreSQL refuses to run as
root: as root, the server runs as the ``postgres`` system user (the Debian package makes it; a
system user is created when it is missing) and owns the temp folder.

A database is made for each hub (keyed by its data folder, so that two replicas, or a restart,
on one folder share one database) as a copy of a template migrated once per session: that runs
the hub's Alembic migrations on PostgreSQL every session, and makes a database in tens of
milliseconds. A keeper thread makes the next databases ahead of time and drops those of test
modules that ended (tests/conftest.py), so neither is on a test's clock.

``./run python -m tests.support.postgres`` starts one by hand, to try a hub on PostgreSQL.

The binaries are looked for in ``ALU_TEST_PG_BIN``, on the PATH, then in the usual packaged
places (Debian's ``/usr/lib/postgresql/<version>/bin``, Homebrew, ``/usr/local/pgsql/bin``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import psycopg
    from psycopg import sql
except ImportError:  # the 'server' extra is not installed: PostgreSQL is unavailable
    psycopg = None  # type: ignore[assignment]

#: Temp folders of clusters are named so; the next session stops one whose session is gone.
PREFIX = "alu-test-pg-"
#: The cluster's superuser (tests connect as it, by password over TCP).
SUPERUSER = "alu"
#: The migrated database each hub's database is copied from.
TEMPLATE = "alu_template"
#: Databases made ahead of the tests that will want them.
SPARES = 2
#: Generous: this machine has two busy cores.
START_TIMEOUT_S = 120.0
_CONF = """
# tests/support/postgres.py: a throwaway cluster for one test session
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
max_connections = 300
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 1GB
checkpoint_timeout = 30min
log_min_messages = warning
log_min_error_statement = panic
# Far from UTC on purpose: the hub must not depend on the server's zone (+14 h, and no DST).
timezone = 'Pacific/Kiritimati'
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine (or no way to run them)."""


def find_bindir() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    forced = os.environ.get("ALU_TEST_PG_BIN", "")
    if forced:
        return Path(forced) if (Path(forced) / "pg_ctl").is_file() else None
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).resolve().parent / "initdb").is_file():
        return Path(on_path).resolve().parent
    found: list[tuple[tuple[int, ...], Path]] = []
    for pattern in (
        "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
        "/usr/pgsql-*/bin",  # RPMs from postgresql.org
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
        "/usr/local/pgsql/bin",
    ):
        for d in Path("/").glob(pattern.lstrip("/")):
            if (d / "pg_ctl").is_file() and (d / "initdb").is_file():
                version = tuple(int(n) for n in re.findall(r"\d+", str(d)))
                found.append((version, d))
    return max(found)[1] if found else None


def unavailable_reason() -> str:
    return (
        "PostgreSQL is not installed (no initdb/pg_ctl on the PATH, in ALU_TEST_PG_BIN or in "
        "/usr/lib/postgresql/*/bin); install it (Debian: apt-get install postgresql)"
    )


@dataclass
class _RunAs:
    """Who runs the server: ourselves, or (when we are root) an unprivileged system user."""

    uid: int | None = None
    gid: int | None = None
    name: str = ""

    def kwargs(self, cwd: Path) -> dict[str, Any]:
        kw: dict[str, Any] = {"cwd": cwd, "env": _server_env()}
        if self.uid is not None:
            kw.update(user=self.uid, group=self.gid, extra_groups=[])
        return kw

    def own(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def _server_env() -> dict[str, str]:
    """The server's environment: no PG* variable of ours, a plain locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _run_as() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs()
    import pwd

    for name in ("postgres", "alu-postgres"):
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(name)
            return _RunAs(pw.pw_uid, pw.pw_gid, name)
    # Binaries without the Debian package's user (built or unpacked by hand): make a system user.
    useradd = shutil.which("useradd")
    if useradd is None:
        raise PostgresUnavailable(
            "running as root, with no 'postgres' user to run PostgreSQL as, and no useradd"
        )
    subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "alu-postgres",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pw = pwd.getpwnam("alu-postgres")
    return _RunAs(pw.pw_uid, pw.pw_gid, "alu-postgres")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    password: str
    run_as: _RunAs
    version: int = 0
    _admin: psycopg.Connection[Any] | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    #: data folder (or any key) -> (the order it got its database in, the database's name)
    _databases: dict[str, tuple[int, str]] = field(default_factory=dict)
    _assigned: int = 0
    _named: int = 0
    #: databases made ahead by the keeper thread (a hub's database is ready at once), and
    #: databases the keeper is to drop (their tests are over): off the tests' clock
    _spares: list[str] = field(default_factory=list)
    _doomed: list[str] = field(default_factory=list)
    _keeper: threading.Thread | None = None
    _stopping: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    # --- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path, base: Path | None = None, *, conf: str = "") -> Cluster:
        """initdb in a new temp folder and start the server; the template is migrated too.
        ``conf``: postgresql.conf lines after (so over) the test cluster's own."""
        run_as = _run_as()
        base = base or Path(tempfile.gettempdir())
        if run_as.uid is not None and not os.stat(base).st_mode & 0o001:
            base = Path("/tmp")  # the server's user must reach its folder
        reap_stale(bindir, base, run_as)
        root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
        (root / "owner").write_text(f"{os.getpid()}\n")
        run_as.own(root)
        cluster = cls(bindir, root, 0, secrets.token_urlsafe(24), run_as)
        try:
            cluster._initdb(conf)
            cluster._start_server()
            cluster._make_template()
            cluster._keeper = threading.Thread(
                target=cluster._keep, name="test-postgres-keeper", daemon=True
            )
            cluster._keeper.start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _tool(self, name: str, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        done = subprocess.run(
            [str(self.bindir / name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self.run_as.kwargs(self.root),
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{name} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"{self._log_tail()}"
            )
        return str(done.stdout)

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + "\n".join(self.log.read_text().splitlines()[-30:])
        except OSError:
            return ""

    def _initdb(self, extra: str = "") -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self.run_as.own(pwfile)
        try:
            self._tool(
                "initdb",
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(_CONF.format(sockets=self.root) + extra)

    def _start_server(self) -> None:
        """pg_ctl start on a free port (another one if it was taken meanwhile), waiting with
        ``-w`` for the server to accept connections, then a connect loop with a deadline."""
        for attempt in range(5):
            self.port = _free_port()
            try:
                self._tool(
                    "pg_ctl",
                    "start",
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.log),
                    "--wait",
                    f"--timeout={int(START_TIMEOUT_S)}",
                    "-o",
                    f"-p {self.port}",
                    timeout=START_TIMEOUT_S + 30,
                )
                break
            except RuntimeError as e:
                if attempt < 4 and "could not bind" in str(e) + self._log_tail():
                    continue
                raise
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._admin = psycopg.connect(self.dsn("postgres"), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                threading.Event().wait(0.1)
        self.version = self._admin.info.server_version

    def _make_template(self) -> None:
        from alembic import command

        from alu_hub.db import Database

        self._sql(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        # The migrations only (as a new hub runs them): the rows a hub adds at start (its own
        # link-signing key) are made by each hub in its own copy.
        db = Database(self.url(TEMPLATE))
        try:
            command.upgrade(db.alembic_config(), "head")
        finally:
            db.dispose()

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and delete its folder."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._keeper is not None:
            self._keeper.join(START_TIMEOUT_S)
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        if (self.data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                try:
                    self._tool("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", mode)
                    break
                except (RuntimeError, subprocess.TimeoutExpired):
                    continue
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases --------------------------------------------------------------------------

    def dsn(self, dbname: str) -> str:
        """A libpq connection string (psycopg, pg_dump)."""
        return (
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} password={self.password} "
            f"dbname={dbname} connect_timeout=30"
        )

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL of a database (psycopg 3)."""
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def _sql(self, statement: sql.SQL | sql.Composed, params: tuple[Any, ...] = ()) -> None:
        assert self._admin is not None, "the cluster is stopped"
        self._admin.execute(statement, params)

    def _create(self, conn: psycopg.Connection[Any], name: str) -> None:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )

    def _drop(self, conn: psycopg.Connection[Any], name: str) -> None:
        """Drop a database, closing the connections still on it (hubs a test left running)."""
        ident = sql.Identifier(name)
        if self.version >= 130000:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            return
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))

    def _new_name(self) -> str:
        self._named += 1
        return f"hub_{self._named:05d}"

    def database_for(self, key: Path | str) -> str:
        """The URL of the database of ``key`` (a hub's data folder), made on first use."""
        k = str(key)
        with self._changed:
            known = self._databases.get(k)
            if known is not None:
                return self.url(known[1])
            if self._spares:
                name = self._spares.pop(0)
                self._changed.notify_all()  # the keeper makes another
            else:
                name = self._new_name()
                assert self._admin is not None, "the cluster is stopped"
                self._create(self._admin, name)
            self._assigned += 1
            self._databases[k] = (self._assigned, name)
            return self.url(name)

    def mark(self) -> int:
        """How many databases were given out so far (for ``drop_since``)."""
        with self._changed:
            return self._assigned

    def drop_since(self, mark: int) -> None:
        """Drop (soon, on the keeper thread) the databases given out after ``mark``."""
        with self._changed:
            for key, (order, name) in list(self._databases.items()):
                if order > mark:
                    del self._databases[key]
                    self._doomed.append(name)
            self._changed.notify_all()

    def _keep(self) -> None:
        """The keeper thread: keeps SPARES databases made ahead, and drops the doomed."""
        try:
            conn = psycopg.connect(self.dsn("postgres"), autocommit=True)
        except psycopg.Error:
            return  # databases are then made when asked for
        try:
            while True:
                with self._changed:
                    while not self._stopping and not (self._doomed or len(self._spares) < SPARES):
                        self._changed.wait()
                    if self._stopping:
                        return
                    make = self._new_name() if len(self._spares) < SPARES else None
                    drop = self._doomed.pop(0) if make is None else None
                if make is not None:
                    self._create(conn, make)
                    with self._changed:
                        self._spares.append(make)
                elif drop is not None:
                    self._drop(conn, drop)
        except psycopg.Error:
            return  # the server is stopping, or gone: nothing left to keep
        finally:
            conn.close()

    def dump(self, url: str) -> bytes:
        """Every row of every table of a database, as ``pg_dump --data-only`` writes them."""
        name = url.rsplit("/", 1)[1]
        done = subprocess.run(
            [str(self.bindir / "pg_dump"), "--data-only", "--no-owner", self.dsn(name)],
            capture_output=True,
            timeout=120,
            check=True,
            env=_server_env(),
        )
        return done.stdout


def reap_stale(bindir: Path, base: Path, run_as: _RunAs) -> None:
    """Stop and delete clusters left by sessions that are gone (killed, out of power, …)."""
    for root in base.glob(PREFIX + "*"):
        try:
            owner = int((root / "owner").read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        if (root / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    str(bindir / "pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(root / "data"),
                    "--mode",
                    "immediate",
                    "--wait",
                    f"--timeout={int(START_TIMEOUT_S)}",
                ],
                capture_output=True,
                timeout=START_TIMEOUT_S + 30,
                check=False,
                **run_as.kwargs(base),
            )
        shutil.rmtree(root, ignore_errors=True)


# --- the session's one cluster, started on first use --------------------------------------------

_shared: Cluster | None = None
_failed: BaseException | None = None
_shared_lock = threading.Lock()


def shared_cluster() -> Cluster:
    """The session's cluster, started on first use (PostgresUnavailable without binaries)."""
    global _shared, _failed
    with _shared_lock:
        if _shared is not None:
            return _shared
        if _failed is not None:  # do not start it again for every test
            raise RuntimeError(f"the test PostgreSQL server did not start: {_failed}")
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(unavailable_reason())
        if psycopg is None:
            raise PostgresUnavailable("psycopg is not installed (pip install 'alu-desk[server]')")
        try:
            _shared = Cluster.start(bindir)
        except BaseException as e:
            _failed = e
            raise
        atexit.register(stop_shared)  # when the session ends some other way
        return _shared


def started() -> Cluster | None:
    return _shared


def stop_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


@contextlib.contextmanager
def databases_dropped_after() -> Iterator[None]:
    """Drop the databases made inside the block (when the cluster is running)."""
    cluster = started()
    mark = cluster.mark() if cluster is not None else 0
    yield
    cluster = started()
    if cluster is not None:
        cluster.drop_since(mark)


def main() -> None:
    """``./run python -m tests.support.postgres``: a throwaway PostgreSQL server for trying
    the hub on PostgreSQL by hand; prints the database URL, runs until Ctrl-C, then is gone.
    ``--shared-buffers`` (default 128MB, PostgreSQL's own default; the test suite's clusters
    run with 32MB) is the server's page cache: the load test (tools/loadtest.py) runs on a
    database of a gigabyte."""
    import argparse
    import signal

    p = argparse.ArgumentParser(prog="python -m tests.support.postgres")
    p.add_argument("--shared-buffers", default="128MB", help="the server's cache (128MB)")
    a = p.parse_args()
    if not re.fullmatch(r"[0-9]+(kB|MB|GB)", a.shared_buffers):
        p.error("--shared-buffers takes a size such as 128MB or 1GB")
    bindir = find_bindir()
    if bindir is None or psycopg is None:
        raise SystemExit(unavailable_reason() if bindir is None else "psycopg is not installed")
    cluster = Cluster.start(bindir, conf=f"shared_buffers = {a.shared_buffers}\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        url = cluster.database_for("alu")
        print(
            f"PostgreSQL {cluster.version // 10000} on 127.0.0.1:{cluster.port}, in {cluster.root}"
            f" (shared_buffers {a.shared_buffers})"
        )
        print("Run a hub on it (another terminal; its tables are made at start):")
        print(f"  ALU_HUB_DATABASE_URL='{url}' ./run alu-hub serve --data /tmp/alu-hub-pg")
        print("Ctrl-C stops the server and deletes its data.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(1.0):
                pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
