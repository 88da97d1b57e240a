"""`alu-hub` as a new operator meets it: a wrong data folder, commands run without the
variables the hub is served with, and the mistakes of a first set-up (database URL, store,
folder), each refused in one line, with nothing made."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import requests
from sqlalchemy import text

from alu_hub.db import Database
from alu_hub.server import free_port
from tests.support import postgres
from tests.support.livehub import hub_env
from tests.support.s3 import S3Server, aws_env, unique_bucket
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

SECRET = "s3cret-Pa55"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``alu-hub ARGS`` with the hub variables of ``env`` only (on top of the test's own)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALU_HUB_")}
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
    )


def said(r: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command said as itself on stderr (library logs aside), with no traceback."""
    assert "Traceback" not in r.stderr, r.stderr
    return [line for line in r.stderr.splitlines() if line.startswith("alu-hub:")]


def no_hub(data: Path) -> str:
    return (
        f"alu-hub: No hub in {data} (no hub.sqlite3 there): is --data right? "
        "`alu-hub serve --data DIR` or `alu-hub member add --data DIR …` creates one."
    )


def add_member(data: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(
        "member", "add", "ktn", "--country", "KE", "--password-stdin", "--data", str(data),
        env=env, stdin="pa55word\n",
    )  # fmt: skip


@contextlib.contextmanager
def serving(data: Path, env: dict[str, str]) -> Iterator[None]:
    """``alu-hub serve`` on ``data`` until the block ends (it records its set-up at start)."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALU_HUB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alu_hub.cli", "serve", "--data", str(data), "--port", str(port)],
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def up() -> bool:
        assert proc.poll() is None, proc.communicate()[1]
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).ok
        return False

    try:
        wait_until(up, timeout=90)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def s3_env(s3: S3Server, bucket: str) -> dict[str, str]:
    return {
        **aws_env(),
        "ALU_HUB_STORAGE": f"s3://{bucket}/hub",
        "ALU_HUB_S3_ENDPOINT": s3.endpoint,
    }


def _no_postgres(e: Exception) -> NoReturn:
    """Without PostgreSQL its cases are skipped, except on CI (CI=true), where it is there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{e} (PostgreSQL is required with CI=true)")
    pytest.skip(str(e))


def empty_postgres_database() -> str:
    """The URL of a new database with no tables at all (not a copy of the hub's template)."""
    try:
        cluster = postgres.shared_cluster()
    except postgres.PostgresUnavailable as e:
        _no_postgres(e)
    name = f"empty_{secrets.token_hex(4)}"
    with postgres.psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return cluster.url(name)


def postgres_url(key: Path) -> str:
    try:
        return postgres.shared_cluster().database_for(key)
    except postgres.PostgresUnavailable as e:
        _no_postgres(e)


# --- 1. a folder that holds no hub ---------------------------------------------------------------


def test_a_chore_on_a_folder_without_a_hub_is_refused_and_makes_nothing(
    tmp_path: Path, clip: Path
) -> None:
    typo = tmp_path / "typo"
    for command in (
        ["stats"],
        ["stats", "--json"],
        ["member", "list"],
        ["publish", str(clip), "--title", "X"],
    ):
        r = run(*command, "--data", str(typo))
        assert r.returncode == 2, (command, r.stderr)
        assert said(r) == [no_hub(typo)], command
        assert not typo.exists(), command
    # a folder that exists but holds something else: refused too, and left as it was
    other = tmp_path / "other"
    other.mkdir()
    r = run("member", "list", "--data", str(other))
    assert r.returncode == 2 and said(r) == [no_hub(other)]
    assert list(other.iterdir()) == []


def test_member_add_makes_a_new_hub_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    r = add_member(data, hub_env(data))
    assert r.returncode == 0, r.stderr
    assert f"Created a new hub in {data}." in r.stderr.splitlines()
    assert r.stdout.strip() == "Added member ktn."
    listed = run("member", "list", "--data", str(data), env=hub_env(data))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:3] == ["ktn", "member", "KE"]
    again = run(
        "member", "add", "nbs", "--password-stdin", "--country", "UG", "--data", str(data),
        env=hub_env(data), stdin="pa55word\n",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "Created" not in again.stderr


def test_a_chore_on_a_database_without_a_hub_is_refused_and_makes_no_tables(
    tmp_path: Path,
) -> None:
    url = empty_postgres_database()
    data = tmp_path / "hub"
    data.mkdir()
    env = {"ALU_HUB_DATABASE_URL": url}
    shown = url.replace(f":{url.split(':')[2].split('@')[0]}@", "@")  # without the password
    for command in (["stats"], ["member", "list"]):
        r = run(*command, "--data", str(data), env=env)
        assert r.returncode == 2, r.stderr
        assert said(r) == [
            f"alu-hub: No hub in the database {shown} (no hub tables there): is "
            "ALU_HUB_DATABASE_URL right? `alu-hub serve` or `alu-hub member add` with it "
            "creates one."
        ]
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'")
            ).scalar_one()
    finally:
        db.dispose()
    assert tables == 0
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_chore_on_an_empty_folder_beside_the_hubs_database_is_refused(
    tmp_path: Path, clip: Path, database: str
) -> None:
    """The database elsewhere (ALU_HUB_DATABASE_URL), the files in the data folder: an
    existing empty folder (a mistyped --data, a volume not mounted) was taken, and an item
    published there had its files where no serve looks (every member: file_missing)."""
    data = tmp_path / "hub"
    if database == "postgresql":
        url = empty_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    env = {"ALU_HUB_DATABASE_URL": url}
    assert add_member(data, env).returncode == 0  # records the set-up in data
    unmounted = tmp_path / "mnt"
    unmounted.mkdir()
    shown = url.replace(f":{url.split(':')[2].split('@')[0]}@", "@") if "@" in url else url
    line = (
        f"alu-hub: {unmounted} holds no hub's files (no hub-setup.json, no storage/), though the "
        f"database {shown} holds a hub: is --data the folder `alu-hub serve` uses, and its "
        "volume mounted?"
    )
    for command in (
        ["publish", str(clip), "--title", "X"],
        ["member", "list"],
        ["stats"],
        ["member", "add", "nbs", "--country", "UG", "--password-stdin"],
    ):
        r = run(*command, "--data", str(unmounted), env=env, stdin="pa55word\n")
        assert r.returncode == 2, (command, r.stderr)
        assert said(r) == [line], command
    assert list(unmounted.iterdir()) == []
    listed = run("member", "list", "--data", str(data), env=env)
    assert listed.returncode == 0 and listed.stdout.split()[0] == "ktn", listed.stderr
    # a folder served before the record existed (it has storage/): taken as before
    (data / "hub-setup.json").unlink()
    r = run("publish", str(clip), "--title", "X", "--data", str(data), env=env)
    assert r.returncode == 0, r.stderr
    assert len(list((data / "storage" / "items").iterdir())) == 1


# --- 2. commands set up otherwise than the hub is served ------------------------------------------


def test_commands_refuse_a_database_other_than_the_served_one(tmp_path: Path, clip: Path) -> None:
    on_pg = tmp_path / "pg"
    url = postgres_url(on_pg)
    shown = url.replace(f":{url.split(':')[2].split('@')[0]}@", "@")
    with serving(on_pg, {"ALU_HUB_DATABASE_URL": url}):
        pass
    recorded = json.loads((on_pg / "hub-setup.json").read_text())
    assert recorded == {"database": shown, "storage": ""}
    assert url.split(":")[2].split("@")[0] not in (on_pg / "hub-setup.json").read_text()
    for command in (["publish", str(clip), "--title", "X"], ["stats"], ["member", "list"]):
        r = run(*command, "--data", str(on_pg))
        assert r.returncode == 2, r.stderr
        assert said(r) == [
            f"alu-hub: The hub in {on_pg} uses the database {shown}, but this command would use "
            "SQLite (hub.sqlite3 in the data folder): set ALU_HUB_DATABASE_URL as for "
            "`alu-hub serve`."
        ]
    assert not (on_pg / "hub.sqlite3").exists()
    # and the other way round: served on SQLite, a command given a PostgreSQL URL
    on_sqlite = tmp_path / "sqlite"
    with serving(on_sqlite, {}):
        pass
    r = run("member", "list", "--data", str(on_sqlite), env={"ALU_HUB_DATABASE_URL": url})
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: The hub in {on_sqlite} uses the database SQLite (hub.sqlite3 in the data "
        f"folder), but this command would use {shown}: unset ALU_HUB_DATABASE_URL (and "
        "--database-url), as for `alu-hub serve`."
    ]
    # with the same set-up, the commands work
    r = run(
        "publish",
        str(clip),
        "--title",
        "X",
        "--data",
        str(on_pg),
        env={"ALU_HUB_DATABASE_URL": url},
    )
    assert r.returncode == 0, r.stderr


def test_commands_on_an_s3_hub_say_nothing_but_their_own_lines(
    tmp_path: Path, clip: Path, s3: S3Server
) -> None:
    """botocore's "INFO botocore.credentials: Found credentials in environment variables." was
    on stderr at every command on an S3 hub."""
    bucket = unique_bucket()
    s3.client().create_bucket(Bucket=bucket)
    data = tmp_path / "hub"
    env = s3_env(s3, bucket)
    added = add_member(data, env)
    assert added.returncode == 0 and added.stderr == f"Created a new hub in {data}.\n"
    for command in (["member", "list"], ["stats"], ["publish", str(clip), "--title", "X"]):
        r = run(*command, "--data", str(data), env=env)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", command


def test_commands_refuse_a_store_other_than_the_served_one(
    tmp_path: Path, clip: Path, s3: S3Server
) -> None:
    bucket = unique_bucket()
    s3.client().create_bucket(Bucket=bucket)
    on_s3 = tmp_path / "s3"
    with serving(on_s3, s3_env(s3, bucket)):
        pass
    r = run("publish", str(clip), "--title", "X", "--data", str(on_s3), env=aws_env())
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: The hub in {on_s3} keeps its files in s3://{bucket}/hub, but this command "
        f"would use the data folder's storage/: set ALU_HUB_STORAGE=s3://{bucket}/hub (and the "
        "ALU_HUB_S3_* variables) as for `alu-hub serve`."
    ]
    assert not (on_s3 / "storage" / "items").exists()
    r = run("publish", str(clip), "--title", "X", "--data", str(on_s3), env=s3_env(s3, bucket))
    assert r.returncode == 0, r.stderr

    local = tmp_path / "local"
    with serving(local, {}):
        pass
    r = run("publish", str(clip), "--title", "X", "--data", str(local), env=s3_env(s3, bucket))
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: The hub in {local} keeps its files in the data folder's storage/, but this "
        f"command would use s3://{bucket}/hub: unset ALU_HUB_STORAGE, as for `alu-hub serve`."
    ]


# --- 3. start-up mistakes: one line, exit 2 or 1, no password ------------------------------------


@pytest.mark.parametrize(
    ("command", "variables", "status", "line"),
    [
        (
            ["member", "list"],
            {"ALU_HUB_DATABASE_URL": f"postgresql+psycopg://alu:{SECRET}@127.0.0.1:1/alu"},
            1,
            "alu-hub: The database postgresql+psycopg://alu@127.0.0.1:1/alu cannot be used "
            '(connection failed: connection to server at "127.0.0.1", port 1 failed: '
            "Connection refused",
        ),
        # a driver that is not installed: was a traceback ending in ModuleNotFoundError
        (
            ["serve", "--port", "1"],
            {"ALU_HUB_DATABASE_URL": f"postgresql+psycopg2://alu:{SECRET}@127.0.0.1:5432/alu"},
            2,
            "alu-hub: The database URL postgresql+psycopg2://alu@127.0.0.1:5432/alu needs a "
            "driver that is not installed (psycopg2): write "
            "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE (or postgresql://…) in "
            "ALU_HUB_DATABASE_URL, or sqlite:///PATH, or nothing for SQLite in the data folder.",
        ),
        (
            ["member", "list"],
            {"ALU_HUB_DATABASE_URL": f"mysql://alu:{SECRET}@127.0.0.1/alu"},
            2,
            "alu-hub: The database URL mysql://alu@127.0.0.1/alu needs a driver that is not "
            "installed (MySQLdb): write postgresql+psycopg://",
        ),
        # the plain form: PostgreSQL with psycopg (SQLAlchemy 2.1's default), as the line says
        (
            ["member", "list"],
            {"ALU_HUB_DATABASE_URL": f"postgresql://alu:{SECRET}@127.0.0.1:1/alu"},
            1,
            "alu-hub: The database postgresql://alu@127.0.0.1:1/alu cannot be used "
            '(connection failed: connection to server at "127.0.0.1", port 1 failed: '
            "Connection refused",
        ),
        (
            ["stats"],
            {"ALU_HUB_DATABASE_URL": f"postgres://alu:{SECRET}@127.0.0.1/alu"},
            2,
            "alu-hub: ALU_HUB_DATABASE_URL starts with postgres://, which SQLAlchemy does not "
            "take: write postgresql+psycopg://USER:PASSWORD@HOST/DATABASE.",
        ),
        (
            ["serve", "--port", "1"],
            {"ALU_HUB_DATABASE_URL": f"alu:{SECRET} at the database"},
            2,
            "alu-hub: ALU_HUB_DATABASE_URL (or --database-url) is not a database URL the hub can "
            "use: give postgresql+psycopg://USER:PASSWORD@HOST/DATABASE, or nothing for SQLite in "
            "the data folder.",
        ),
        (
            ["serve", "--port", "1"],
            {"ALU_HUB_STORAGE": "/srv/alu-storage"},
            2,
            "alu-hub: ALU_HUB_STORAGE must be empty (the data folder) or s3://bucket/prefix, not "
            "'/srv/alu-storage'.",
        ),
        (
            ["serve", "--port", "1"],
            {"ALU_HUB_STORAGE": "s3://alu-media", "ALU_HUB_S3_PART_SIZE": "1000"},
            2,
            "alu-hub: ALU_HUB_S3_PART_SIZE must be at least 5242880 bytes, not 1000.",
        ),
        (
            ["serve", "--port", "1"],
            {"ALU_HUB_STORAGE": "s3://alu-media", "ALU_HUB_S3_URL_TTL": "-1"},
            2,
            "alu-hub: ALU_HUB_S3_URL_TTL must be between 1 s and 7 days, not -1.",
        ),
        (
            ["serve", "--port", "99999"],
            {},
            2,
            "alu-hub: --port 99999 is not a port: give one from 1 to 65535.",
        ),
    ],
)
def test_a_wrong_setting_is_one_line_and_makes_nothing(
    tmp_path: Path, command: list[str], variables: dict[str, str], status: int, line: str
) -> None:
    data = tmp_path / "hub"
    r = run(*command, "--data", str(data), env={**aws_env(), **variables}, timeout=30)
    assert r.returncode == status, r.stderr
    lines = said(r)
    assert len(lines) == 1 and lines[0].startswith(line), r.stderr
    assert SECRET not in r.stderr + r.stdout
    assert not data.exists()


def test_a_wrong_postgresql_password_or_database_is_one_line(tmp_path: Path) -> None:
    url = postgres_url(tmp_path / "pg")
    password = url.split(":")[2].split("@")[0]
    base = url.rsplit("/", 1)[0]
    for wrong, cause in (
        (
            url.replace(f":{password}@", f":{SECRET}@"),
            'password authentication failed for user "alu"',
        ),
        (f"{base}/no_such_db", 'database "no_such_db" does not exist'),
    ):
        r = run(
            "member", "list", "--data", str(tmp_path / "hub"), env={"ALU_HUB_DATABASE_URL": wrong}
        )
        assert r.returncode == 1, r.stderr
        (line,) = said(r)
        shown = wrong.replace(f":{SECRET}@", "@").replace(f":{password}@", "@")
        assert line.startswith(f"alu-hub: The database {shown} cannot be used ("), line
        assert cause in line and line.endswith(
            "check ALU_HUB_DATABASE_URL (user, password, database name) and that the server runs."
        )
        assert SECRET not in r.stderr and password not in r.stderr


def test_a_data_folder_that_cannot_be_one_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    r = run("serve", "--port", "1", "--data", str(a_file))
    assert r.returncode == 2, r.stderr
    assert said(r) == [f"alu-hub: {a_file} is a file, not a folder: check --data."]
    r = run(
        "member",
        "add",
        "ktn",
        "--password-stdin",
        "--country",
        "KE",
        "--data",
        str(a_file / "hub"),
        stdin="pa55word\n",
    )
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: The data folder {a_file / 'hub'} cannot be used: Not a directory "
        f"({a_file / 'hub'}): check --data, and that this user may write there."
    ]
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(
    getattr(os, "geteuid", lambda: -1)() == 0, reason="root may write in a read-only folder"
)
def test_a_read_only_data_folder_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    assert add_member(data).returncode == 0
    (data / "hub.lock").unlink()
    data.chmod(0o555)
    try:
        r = run("member", "list", "--data", str(data))
    finally:
        data.chmod(0o755)
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: The data folder {data} cannot be used: Permission denied "
        f"({data / 'hub.lock'}): check --data, and that this user may write there."
    ]


def test_a_database_the_hub_cannot_read_is_one_line(tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    assert add_member(newer).returncode == 0
    db = Database(f"sqlite:///{newer / 'hub.sqlite3'}")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    r = run("stats", "--data", str(newer))
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        "alu-hub: The hub database is at schema 9999, newer than this hub knows; upgrade "
        "alu-hub before running it on this database."
    ]
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "hub.sqlite3").write_bytes(b"not SQLite at all " * 100)
    r = run("member", "list", "--data", str(damaged))
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: The hub database {damaged / 'hub.sqlite3'} cannot be used (file is not a "
        "database): is --data right? If it is damaged, restore it from a backup."
    ]
    # a SQLite URL of the operator's, in a folder that does not exist: their URL is named,
    # not --data, and no backup is to restore (exit 2: input to fix); the folder must exist
    # (serve and member add make none: "creates one" was then not true)
    missing = tmp_path / "no-such-folder" / "hub.db"
    env = {"ALU_HUB_DATABASE_URL": f"sqlite:///{missing}"}
    r = run("member", "list", "--data", str(damaged), env=env)
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: No hub database at {missing}, and its folder does not exist: is "
        "ALU_HUB_DATABASE_URL (or --database-url) right? The folder must exist (and be "
        "writable) for `alu-hub serve` or `alu-hub member add` to create the database."
    ]
    # in a folder that exists, the database is made by those
    there = tmp_path / "hub.db"
    r = run(
        "member", "list", "--data", str(damaged), env={"ALU_HUB_DATABASE_URL": f"sqlite:///{there}"}
    )
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: No hub database at {there}: is ALU_HUB_DATABASE_URL (or --database-url) "
        "right? `alu-hub serve` or `alu-hub member add` with it creates one."
    ]
    r = run("serve", "--data", str(damaged), "--port", "1", env=env)
    assert r.returncode == 2, r.stderr
    assert said(r) == [
        f"alu-hub: The hub database {missing} cannot be used (unable to open database file): "
        "check ALU_HUB_DATABASE_URL (or --database-url) — its folder must exist and be "
        "writable — or leave it unset for the database in the data folder."
    ]


@pytest.mark.parametrize("form", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "folder"])
def test_a_sqlite_url_naming_no_database_file_is_one_line_everywhere(
    tmp_path: Path, form: str
) -> None:
    """``sqlite://`` is SQLAlchemy's in-memory database: serve and member add were a traceback
    (pool arguments), member list "No hub database at None"; a URL naming a folder was exit 1
    for member add, 2 for member list. Each command: one line, exit 2, nothing made."""
    folder = tmp_path / "clips"
    folder.mkdir()
    url = f"sqlite:///{folder}" if form == "folder" else form
    data = tmp_path / "hub"
    env = {"ALU_HUB_DATABASE_URL": url, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    if form == "folder":
        expected = (
            f"alu-hub: ALU_HUB_DATABASE_URL (or --database-url) names the folder {folder}, not a "
            f"database file: give a file's path in it, e.g. sqlite:///{folder / 'hub.db'}, or "
            "leave it unset for hub.sqlite3 in the data folder."
        )
    else:
        expected = (
            f"alu-hub: ALU_HUB_DATABASE_URL (or --database-url) {url} names no database file "
            "(SQLite would keep the hub in memory and lose it at exit): give the file's path, "
            "e.g. sqlite:////srv/alu-hub/hub.db, or leave it unset for hub.sqlite3 in the data "
            "folder."
        )
    port = str(free_port())
    for args in (
        ("serve", "--port", port),
        ("member", "add", "ktn", "--country", "KE", "--password-stdin"),
        ("member", "list"),
        ("demo", "--port", port),
        ("stats",),
    ):
        r = run(*args, "--data", str(data), env=env, stdin="pa55word\n")
        assert (r.returncode, said(r)) == (2, [expected]), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]
    assert not any(folder.iterdir())


# --- 5. a store that cannot be used stops serve and publish ---------------------------------------


def test_serve_refuses_a_missing_bucket_or_an_unreachable_endpoint(
    tmp_path: Path, s3: S3Server
) -> None:
    missing = unique_bucket()
    r = run(
        "serve",
        "--port",
        str(free_port()),
        "--data",
        str(tmp_path / "a"),
        env=s3_env(s3, missing),
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: S3 bucket {missing} not found at {s3.endpoint}: create it or fix "
        "ALU_HUB_STORAGE."
    ]
    away = f"http://127.0.0.1:{free_port()}"
    env = {**s3_env(s3, missing), "ALU_HUB_S3_ENDPOINT": away}
    r = run("serve", "--port", str(free_port()), "--data", str(tmp_path / "b"), env=env, timeout=60)
    assert r.returncode == 1, r.stderr
    (line,) = said(r)
    assert line.startswith(f"alu-hub: S3 endpoint {away} cannot be reached: ")
    assert line.endswith("; check ALU_HUB_S3_ENDPOINT.")


def test_publish_to_a_missing_bucket_is_one_line(tmp_path: Path, clip: Path, s3: S3Server) -> None:
    bucket = unique_bucket()
    env = s3_env(s3, bucket)
    data = tmp_path / "hub"
    assert add_member(data, env).returncode == 0  # makes the hub (its store is not used)
    r = run("publish", str(clip), "--title", "X", "--data", str(data), env=env)
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: S3 bucket {bucket} not found at {s3.endpoint}: create it or fix ALU_HUB_STORAGE."
    ]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_serve_on_a_port_in_use_is_one_line_before_anything_starts(
    tmp_path: Path, command: str
) -> None:
    """(``demo`` prepared its clips, printed its banner, then uvicorn's Errno 98, exit 3.)"""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run(command, "--data", str(tmp_path / "hub"), "--port", str(port))
    assert r.returncode == 1
    assert said(r) == [
        f"alu-hub: 127.0.0.1:{port} is in use by another program (another hub?): stop it, or "
        "serve on another --port."
    ]
    assert "hub on" not in r.stdout  # it did not say it was serving
    assert not (tmp_path / "hub").exists()  # nor seeded a demo


def test_replicas_starting_together_each_record_the_setup(tmp_path: Path) -> None:
    # replicas started at once shared one "hub-setup.json.tmp": all but the first to rename it
    # died with "No such file or directory" (five errors of tests/hub/test_replicas.py in CI)
    import threading

    from alu_hub.cli import SETUP_FILE, _record_setup
    from alu_hub.settings import Settings

    failures: list[BaseException] = []
    go = threading.Event()

    def start(i: int) -> None:
        url = f"sqlite:///{tmp_path / f'hub{i % 2}.sqlite3'}"  # two setups: the file changes
        settings = Settings(data_dir=tmp_path, database_url=url)
        go.wait(5)
        try:
            for _ in range(20):
                _record_setup(settings)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(30)
    assert failures == []
    assert json.loads((tmp_path / SETUP_FILE).read_text())["database"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    # readable by the operator's commands run as another account (a temporary file is 0600:
    # they took it for "never served", and checked nothing)
    assert (tmp_path / SETUP_FILE).stat().st_mode & 0o777 == 0o644


# --- 6. a database at an older schema: only serve upgrades it -------------------------------------


def at_schema(url: str, revision: str) -> None:
    """The hub's database taken back to ``revision``, as an older alu-hub left it."""
    from alembic import command

    db = Database(url)
    try:
        command.downgrade(db.alembic_config(), revision)
    finally:
        db.dispose()


def schema_of(url: str) -> str:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        db.dispose()


def head_schema() -> str:
    from alembic.script import ScriptDirectory

    from alu_hub.db import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_chore_refuses_a_database_at_an_older_schema_and_changes_nothing(
    tmp_path: Path, clip: Path, database: str
) -> None:
    """A newer alu-hub's chore beside an older hub still serving (the council's cron job after
    a `git pull`): the schema was upgraded silently under that hub, which then refused to start
    again ("newer than this hub knows")."""
    data = tmp_path / "hub"
    if database == "postgresql":
        url = empty_postgres_database()
        env = {"ALU_HUB_DATABASE_URL": url}
    else:
        url, env = f"sqlite:///{data / 'hub.sqlite3'}", {}
    assert add_member(data, env).returncode == 0
    at_schema(url, "0005")
    before = (data / "hub.sqlite3").read_bytes() if database == "sqlite" else b""
    line = (
        f"alu-hub: The hub database is at schema 0005, older than this alu-hub ({head_schema()}): "
        "stop the running hub, back it up (docs/operations.md), then start `alu-hub serve` once "
        "to upgrade it."
    )
    for command in (
        ["stats"],
        ["stats", "--json"],
        ["member", "list"],
        ["member", "add", "nbs", "--country", "UG", "--password-stdin"],
        ["member", "disable", "ktn"],
        ["publish", str(clip), "--title", "X"],
    ):
        r = run(*command, "--data", str(data), env=env, stdin="pa55word\n")
        assert r.returncode == 1, (command, r.stderr)
        assert said(r) == [line], command
        assert r.stdout == "", command
        assert schema_of(url) == "0005", command
    if database == "sqlite":
        assert (data / "hub.sqlite3").read_bytes() == before
    assert not (data / "storage" / "items").exists() or not any(
        (data / "storage" / "items").iterdir()
    )


def test_serve_upgrades_an_older_database_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    url = f"sqlite:///{data / 'hub.sqlite3'}"
    assert add_member(data).returncode == 0
    at_schema(url, "0005")
    port = free_port()
    log = tmp_path / "serve.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALU_HUB_")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alu_hub.cli", "serve", "--data", str(data), "--port",
             str(port)],
            env=base, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).ok
            return False

        wait_until(up, timeout=90)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert f"upgrading the hub database from 0005 to {head_schema()}" in log.read_text()
    assert schema_of(url) == head_schema()
    listed = run("member", "list", "--data", str(data))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == "ktn"


def test_serve_does_not_upgrade_while_another_process_uses_the_folder(tmp_path: Path) -> None:
    """SQLite: an older hub still serving the folder (or a chore at work) holds its hub.lock;
    a newer serve started beside it upgraded the schema under it."""
    from alu_hub.hub import DataFolderLock

    data = tmp_path / "hub"
    url = f"sqlite:///{data / 'hub.sqlite3'}"
    assert add_member(data).returncode == 0
    at_schema(url, "0005")
    older = DataFolderLock(data)
    older.share()  # as a serving hub (or a chore) holds it
    try:
        r = run("serve", "--data", str(data), "--port", str(free_port()))
    finally:
        older.close()
    assert r.returncode == 1, r.stderr
    assert said(r) == [
        f"alu-hub: The hub database is at schema 0005, older than this alu-hub "
        f"({head_schema()}), and another process is using {data} (an older hub still serving "
        "it, or an alu-hub command): stop it, back the database up (docs/operations.md), then "
        "start `alu-hub serve` again to upgrade it."
    ]
    assert schema_of(url) == "0005"
    # the same with --workers (the supervisor upgrades before its workers start)
    older = DataFolderLock(data)
    older.share()
    try:
        r = run("serve", "--data", str(data), "--port", str(free_port()), "--workers", "2")
    finally:
        older.close()
    assert r.returncode == 1, r.stderr
    assert len(said(r)) == 1 and "another process is using" in said(r)[0]
    assert schema_of(url) == "0005"


# --- 8. passwords with no terminal, member names ------------------------------------------------

NO_TERMINAL = "alu-hub: no terminal to ask the password: use --password-stdin\n"


def test_a_password_with_no_terminal_to_ask_it_on_is_one_line_and_makes_no_hub(
    tmp_path: Path,
) -> None:
    """``member add`` / ``member password`` without --password-stdin in a script, a pipe or ssh
    without -t: one line, exit 2 (it was getpass's warning, the piped line read as the
    password with its echo, or a termios/EOFError traceback), and no new hub left behind."""
    data = tmp_path / "hub"
    env = hub_env(data)
    add = ["member", "add", "ktn", "--country", "KE", "--data", str(data)]
    for stdin in ("pa55word\n", ""):  # the flag forgotten in a pipe; nothing on stdin
        r = run(*add, env=env, stdin=stdin)
        assert (r.returncode, r.stderr) == (2, NO_TERMINAL)
        assert not data.exists()
    # a password refused is refused before the hub is made too; exit 2, as any input the
    # command cannot take (it was 1, as for a hub that failed)
    r = run(*add, "--password-stdin", env=env, stdin="pw\n")
    assert r.returncode == 2
    assert said(r) == ["alu-hub: a password needs at least 4 characters; nothing was changed."]
    assert not data.exists()
    assert add_member(data, env).returncode == 0
    r = run("member", "password", "ktn", "--data", str(data), env=env, stdin="new-pa55\n")
    assert (r.returncode, r.stderr) == (2, NO_TERMINAL)
    # the password is still the old one: a new one from stdin takes its place
    r = run(
        "member", "password", "ktn", "--password-stdin", "--data", str(data),
        env=env, stdin="new-pa55\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def _usernames(data: Path) -> list[str]:
    from sqlalchemy import select

    from alu_hub.models import Member
    from tests.support.livehub import hub_database_url

    db = Database(hub_database_url(data))
    try:
        with db.session() as s:
            return list(s.scalars(select(Member.username).order_by(Member.username)))
    finally:
        db.dispose()


def test_a_new_member_name_is_plain_and_not_another_by_case(tmp_path: Path) -> None:
    """``KTN`` beside ``ktn`` was a second account (sign-in takes the name as typed: ktn's
    password typed as KTN was told it was wrong), and "Kenya TV / KBC" a name: refused, in one
    line, exit 2; a member added before under such a name keeps working."""
    from alu_hub.models import Member
    from tests.support.livehub import hub_database_url

    data = tmp_path / "hub"
    env = hub_env(data)
    assert add_member(data, env).returncode == 0
    db = Database(hub_database_url(data))
    try:
        with db.session() as s:  # as an older hub let it be added
            s.add(Member(username="Old Name", display_name="Old", country="KE", role="member",
                         password_hash="x"))  # fmt: skip
    finally:
        db.dispose()
    plain = (
        "can have only the letters a-z and A-Z, digits, '-', '_' and '.', and begins with a "
        "letter or digit, e.g. ktn or kenya-tv."
    )
    for name, words in (
        ("KTN", "a member named 'ktn' exists already; a name that differs only by case would "
         "be another account: choose another name."),
        ("OLD NAME", plain),
        ("Kenya TV / KBC", plain),
        ("bad name with spaces", plain),
        ("télé-sénégal", plain),
        (".ktn", plain),
    ):  # fmt: skip
        r = run(
            "member", "add", name, "--country", "KE", "--password-stdin", "--data", str(data),
            env=env, stdin="pa55word\n",
        )  # fmt: skip
        assert r.returncode == 2, (name, r.stderr)
        assert said(r) == [
            f"alu-hub: {words}" if words != plain else f"alu-hub: the name {name!r} {plain}"
        ]
    assert _usernames(data) == ["Old Name", "ktn"]
    r = run(
        "member", "password", "Old Name", "--password-stdin", "--data", str(data),
        env=env, stdin="pa55word\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run(
        "member", "add", "Kenya-TV_2.0", "--country", "KE", "--password-stdin", "--data",
        str(data), env=env, stdin="pa55word\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_member_list_and_stats_columns_fit_the_longest_name(tmp_path: Path) -> None:
    """A name longer than the column ran into the next one (``…spacesKE`` in ``stats``, the
    role out of line in ``member list``)."""
    data = tmp_path / "hub"
    env = hub_env(data)
    assert add_member(data, env).returncode == 0
    long = "kenya-broadcasting-corporation"
    r = run(
        "member", "add", long, "--country", "KE", "--password-stdin", "--data", str(data),
        env=env, stdin="pa55word\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    listed = run("member", "list", "--data", str(data), env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [[long, "member", "KE"], ["ktn", "member", "KE"]]
    assert len({line.index("member") for line in lines}) == 1  # one column
    stats = run("stats", "--data", str(data), env=env)
    assert stats.returncode == 0, stats.stderr
    table = stats.stdout.split("\n\n")[0].splitlines()[1:]
    assert [line.split()[:2] for line in table] == [
        ["member", "country"],
        [long, "KE"],
        ["ktn", "KE"],
    ]
    assert (
        len({line.index("country") if i == 0 else line.index("KE") for i, line in enumerate(table)})
        == 1
    )
