"""Secrets never land on disk or in logs (issue 6).

A member signs in, downloads, uploads, has transfers fail (a 503, a connection reset mid-body, a
403) and retry through the fault proxy, syncs the history and signs out — with the app's own
logging set up (``alu_client.app.setup_logging``, its rotating file in the log folder) at DEBUG.
Then every log file, the SQLite database (every table, and the bytes of the file and of its
``-wal``), the settings and the whole data folder (data, cache, logs, downloads) are searched for
the token, the password and the tus upload URLs (and their ids): none may be found. The same
for what the ``alu`` command line prints and logs with ``-v``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from alu_client.core.credentials import INSECURE_FILE_NAME, MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in, sign_out
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.uploads import UploadFields
from alu_hub.media import generate_clip
from alu_hub.models import Upload
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub, sha256_of, start_hub

#: distinctive, with a character that JSON and URLs escape
PASSWORD = "pw-Zebra-Secret-4711-ñ"
#: loggers of the hub and the test tools, which run in this process but are not the client's
NOT_THE_CLIENT = ("alu_hub", "uvicorn", "sqlalchemy", "alembic", "tests.", "multipart")


def make_paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


class _ClientSide(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(NOT_THE_CLIENT)


@contextlib.contextmanager
def app_logging(log_dir: Path) -> Iterator[io.StringIO]:
    """``setup_logging(log_dir)`` as the app calls it (a rotating file in the log folder and
    the console for warnings), with every logger at DEBUG so a leak at any level would show;
    undone after. Yields what went to the console."""
    from alu_client.app import setup_logging

    root = logging.getLogger()
    before = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in ("", "urllib3", "requests",
              "uvicorn.access", "watchdog")}  # fmt: skip
    console = io.StringIO()
    setup_logging(log_dir)
    root.setLevel(logging.DEBUG)
    added = [h for h in root.handlers if h not in before]
    assert any(isinstance(h, logging.FileHandler) for h in added)
    for h in added:
        h.addFilter(_ClientSide())
        if type(h) is logging.StreamHandler:
            h.setStream(console)
    logging.getLogger("alu_client.test").debug("DEBUG logging is on")
    try:
        yield console
    finally:
        for h in added:
            root.removeHandler(h)
            h.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def forms(secret: str) -> set[bytes]:
    """The ways a secret could be written: as is, JSON-escaped, URL-quoted."""
    return {
        secret.encode(),
        json.dumps(secret)[1:-1].encode(),
        quote(secret, safe="").encode(),
        quote(secret).encode(),
    }


def leaks(data: bytes, secrets: dict[str, str]) -> list[str]:
    return [what for what, s in secrets.items() if any(f in data for f in forms(s))]


def database_dump(db: Path) -> bytes:
    """Every row of every table, read through a second connection (the WAL included)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out: list[bytes] = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "settings" in tables and "transfers" in tables, tables
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                out += [v if isinstance(v, bytes) else str(v).encode() for v in row]
        return b"\n".join(out)
    finally:
        conn.close()


def upload_urls(hub: LiveHub, base: str) -> dict[str, str]:
    with hub.hub.db.session() as s:
        ids = list(s.scalars(select(Upload.id)))
    assert ids, "the hub saw no upload"
    found: dict[str, str] = {}
    for i, upload_id in enumerate(ids):
        found[f"upload id {i}"] = upload_id
        found[f"upload URL {i}"] = f"{base}/api/v1/uploads/{upload_id}"
    return found


@dataclass
class Run:
    """What a member's session left behind, and the secrets it had."""

    secrets: dict[str, str]
    db_open: bytes  # the database file while the library is open…
    wal_open: bytes  # …and its write-ahead log
    rows: bytes  # every row of every table
    settings: bytes
    db_closed: bytes  # the database file once closed
    files: dict[str, bytes]  # every file of the data folder (data, cache, logs, downloads)
    logs: bytes
    console: str


@pytest.fixture(scope="module")
def run(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One member's session, run once for the tests below."""
    tmp = tmp_path_factory.mktemp("secrets")
    hub = start_hub(tmp)
    proxy = FaultProxy(("127.0.0.1", hub.server.port)).start()
    try:
        yield session(hub, proxy, clip, tmp)
    finally:
        proxy.stop()
        hub.server.stop()
        hub.hub.db.dispose()


def session(hub: LiveHub, proxy: FaultProxy, clip: Path, tmp: Path) -> Run:
    hub.member("ktn", PASSWORD)
    item_id = hub.publish(clip, title="Nairobi floods", slug="KENYA-FLOODS")
    refused_id = hub.publish(clip, title="Refused item")
    footage = tmp / "footage.mp4"
    generate_clip(footage, seconds=1.0, width=320, height=240, seed=41)
    assert footage.stat().st_size > 60_000
    root = tmp / "desk"
    paths = make_paths(root)
    with app_logging(paths.log_dir) as console:
        secrets = MemorySecrets()
        store = Store(paths.db_path)
        profile = sign_in(Profiles(store), secrets, proxy.url, "ktn", PASSWORD, allow_http=True)
        store.close()
        token = secrets.get(profile.secret_key)
        assert token
        services = Services(paths, secrets)
        try:
            job_urls = transfers(services, proxy, item_id, refused_id, footage, clip)
            history = services.history()
            history.push()
            history.pull()
            services.feed_sync().catch_up()
            db = paths.db_path
            wal = db.with_name(db.name + "-wal")
            assert wal.exists()
            db_open, wal_open, rows = db.read_bytes(), wal.read_bytes(), database_dump(db)
            settings = repr([tuple(r) for r in services.store.query("SELECT * FROM settings")])
        finally:
            services.stop()
        store = Store(paths.db_path)
        sign_out(Profiles(store), secrets, profile.name)
        store.close()
    found = {
        "token": token,
        "password": PASSWORD,
        **upload_urls(hub, proxy.url),
        **{f"job URL {i}": url for i, url in enumerate(job_urls)},
    }
    logs = b"".join(f.read_bytes() for f in sorted(paths.log_dir.iterdir()) if f.is_file())
    return Run(
        secrets=found,
        db_open=db_open,
        wal_open=wal_open,
        rows=rows,
        settings=settings.encode(),
        db_closed=paths.db_path.read_bytes(),
        files={str(f.relative_to(root)): f.read_bytes() for f in root.rglob("*") if f.is_file()},
        logs=logs,
        console=console.getvalue(),
    )


def transfers(
    services: Services,
    proxy: FaultProxy,
    item_id: str,
    refused_id: str,
    footage: Path,
    clip: Path,
) -> list[str]:
    """A download that fails twice and resumes, one refused for good, an upload cut mid-body
    that resumes; returns the upload URLs the jobs reported (kept in memory only)."""
    queue = services.start_engine(sync=False, hot_folders=False, media=False)
    results: list[dict[str, Any]] = []
    queue.on_result = lambda _tid, result: results.append(result)

    # The feed first: the downloads below then need no API call, so the faults armed before
    # them can only hit their rendition requests.
    assert services.feed_sync().catch_up() == 2

    # 503 with Retry-After, then a reset mid-body: the download resumes and is verified.
    proxy.inject_http_response(503, {"Retry-After": "1"}, match=lambda h: b"/renditions/" in h)
    proxy.reset_after(30_000, "down")
    tid = services.download(item_id)
    t = queue.wait_for(tid, timeout=90)
    assert t.state == "done", t.last_error
    assert sha256_of(Path(t.destination)) == sha256_of(clip)
    assert t.attempts >= 2, t
    proxy.wait_for_event("reset_after 30000 down")

    # The hub refuses one (403: this newsroom may not have it): it fails for good, its message
    # kept in the queue. (A 401 is the session's end now: the queue waits for a new sign-in.)
    proxy.inject_http_response(
        403,
        {"Content-Type": "application/json"},
        b'{"error": {"code": "forbidden", "message": "Not for your newsroom."}}',
        match=lambda h: f"/items/{refused_id}/renditions/".encode() in h,
    )
    refused = queue.wait_for(services.download(refused_id), timeout=60)
    assert refused.state == "failed" and refused.last_error

    # An upload cut mid-body resumes at the hub's offset and is published.
    proxy.reset_after(40_000, "up")
    up = services.upload(footage, UploadFields(title="Footage", language="en", country="KE"))
    u = queue.wait_for(up, timeout=120)
    assert u.state == "done", u.last_error
    assert u.result.get("item_id")
    proxy.wait_for_event("reset_after 40000 up")
    urls = [str(r["url"]) for r in results if r.get("url")]
    assert urls, "the upload job reported its URL"
    return urls


def test_the_token_and_the_password_are_nowhere(run: Run) -> None:
    keys = {k: run.secrets[k] for k in ("token", "password")}
    for name, data in run.files.items():
        assert leaks(data, keys) == [], name
    for what in ("db_open", "wal_open", "rows", "settings", "db_closed", "logs"):
        assert leaks(getattr(run, what), keys) == [], what
    assert leaks(run.console.encode(), keys) == []


def test_upload_urls_reach_no_log_row_setting_or_file(run: Run) -> None:
    uploads = {k: v for k, v in run.secrets.items() if k.startswith(("upload", "job"))}
    assert leaks(run.rows, uploads) == []
    assert leaks(run.settings, uploads) == []
    assert leaks(run.logs, uploads) == []
    assert leaks(run.console.encode(), uploads) == []
    assert leaks(run.db_open, uploads) == []
    assert leaks(run.db_closed, uploads) == []
    for name, data in run.files.items():  # the database included, once closed
        assert leaks(data, uploads) == [], name


def test_the_logs_did_follow_the_session(run: Run) -> None:
    """The search above means something only if the logs saw the session, at DEBUG."""
    assert b"DEBUG logging is on" in run.logs
    assert b"signed in to" in run.logs and b"signed out of" in run.logs
    assert b"upload footage.mp4: done" in run.logs
    assert b"again in" in run.logs  # the failed attempts were logged
    names = {Path(n).parts[0] for n in run.files}
    assert {"data", "logs", "downloads"} <= names


def test_upload_urls_do_not_linger_in_the_write_ahead_log(run: Run) -> None:
    uploads = {k: v for k, v in run.secrets.items() if k.startswith(("upload", "job"))}
    assert leaks(run.wal_open, uploads) == []


# --- the command line -----------------------------------------------------------------------------


def alu(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}
    result = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", "-v", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def test_the_command_line_prints_and_logs_no_secret(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    """``alu -v`` (its logging at INFO on stderr): sign in, a download that fails once and
    retries, an upload cut mid-body, the history, sign out."""
    live_hub.member("ktn", PASSWORD)
    item_id = live_hub.publish(clip, title="Dakar elections", language="fr")
    footage = tmp_path / "footage.mp4"
    generate_clip(footage, seconds=1.0, width=320, height=240, seed=43)
    assert footage.stat().st_size > 60_000
    home = tmp_path / "cli"
    secrets_file = home / "data" / INSECURE_FILE_NAME
    outputs: list[str] = []
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as proxy:
        login = alu(home, "login", proxy.url, "--user", "ktn", "--password-stdin",
                    "--allow-http", stdin=PASSWORD + "\n")  # fmt: skip
        tokens = list(json.loads(secrets_file.read_text()).values())
        assert len(tokens) == 1
        proxy.inject_http_response(503, {"Retry-After": "1"}, match=lambda h: b"/renditions/" in h)
        get = alu(home, "get", item_id)
        assert "sha256 verified" in get.stderr and Path(get.stdout.strip()).is_file()
        proxy.wait_for_event("inject 503")
        proxy.reset_after(40_000, "up")
        put = alu(home, "put", str(footage), "--title", "Footage", "--language", "en",
                  "--country", "KE")  # fmt: skip
        assert "published as item" in put.stdout
        proxy.wait_for_event("reset_after 40000 up")
        rest = [alu(home, "history", "--json"), alu(home, "logout")]
    for r in (login, get, put, *rest):
        outputs += [r.stdout, r.stderr]
    assert " INFO " in get.stderr, "-v logs at INFO on stderr"
    found = {
        "password": PASSWORD,
        **{f"token {i}": t for i, t in enumerate(tokens)},
        **upload_urls(live_hub, proxy.url),
    }
    assert leaks("\n".join(outputs).encode(), found) == []
    files = [f for f in home.rglob("*") if f.is_file() and f != secrets_file]
    assert any(f.name == "library.sqlite3" for f in files)
    for f in files:
        assert leaks(f.read_bytes(), found) == [], f
