"""What a hub operator meets: the access log (no secrets in it), and outages — a database that
cannot be reached, a full disk — answered as JSON with Retry-After and logged as one line, not a
traceback per request. Against a real uvicorn on loopback."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy.exc
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from alu_client.core.http import REDACTED, redact_query
from alu_client.core.transfers.upload.protocol import _raise_for, _Resume
from alu_hub import errors
from alu_hub.auth import token_hash
from tests.hub.test_tus import MIB, Env, encode_meta, make_env, upload_id
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


class Captured(logging.Handler):
    """The records logged to some loggers while it is attached (at any level)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, name: str = "") -> list[str]:
        return [r.getMessage() for r in self.records if r.name.startswith(name)]


@contextlib.contextmanager
def captured(*names: str, level: int = logging.DEBUG) -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(level)
    try:
        yield handler
    finally:
        for lg, old in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(old)


@pytest.fixture(autouse=True)
def fresh_outage_log() -> Iterator[None]:
    errors.outages.reset()  # its once-per-30-s memory is the process's: start each test clean
    yield
    errors.outages.reset()


# --- the access log ---------------------------------------------------------------------------


@contextlib.contextmanager
def access_lines() -> Iterator[list[str]]:
    """The access log's lines written meanwhile. Read as a filter after the hub's own (which
    it added at its first connection): a filter stays when a logging config is set again
    (uvicorn's, by a hub another test starts), where a handler added here went, and the line
    never came in the whole suite."""
    seen: list[str] = []

    def record(r: logging.LogRecord) -> bool:
        seen.append(r.getMessage())
        return True

    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)
    access.addFilter(record)
    try:
        yield seen
    finally:
        access.removeFilter(record)
        access.setLevel(level)


def wait_for_lines(seen: list[str], part: str, count: int = 1) -> list[str]:
    # (the server writes its line once the answer has gone: a moment after the client has
    # it, longer on a busy machine)
    def logged() -> list[str]:
        return [x for x in seen if part in x]

    wait_until(lambda: len(logged()) >= count, 10, what="the access log's lines")
    return logged()


def test_a_signed_download_link_is_not_in_the_access_log(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip)
    s = live_hub.login("ktn")
    link = s.post(live_hub.api(f"/items/{item_id}/renditions/broadcast/link"), timeout=10).json()
    sig = parse_qs(urlsplit(link["url"]).query)["sig"][0]
    with access_lines() as seen:
        got = requests.get(link["url"], timeout=10)
        assert got.status_code == 200
        [line] = wait_for_lines(seen, "/renditions/broadcast")
    assert sig not in line
    assert f"sig={REDACTED}" in line and " 200" in line
    assert f"/api/v1/items/{item_id}/renditions/broadcast?m=" in line  # the rest stays


def test_an_uploads_address_is_not_in_the_access_log(live_hub: LiveHub) -> None:
    # with a token of the member, an upload's address appends to the upload or deletes it
    s = live_hub.login("ktn")
    meta = {"filename": "clip.mp4", "sha256": hashlib.sha256(b"abc").hexdigest()}
    tus = {"Tus-Resumable": "1.0.0"}
    with access_lines() as seen:
        made = s.post(
            live_hub.api("/uploads"),
            headers={**tus, "Upload-Length": "3", "Upload-Metadata": encode_meta(meta)},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        uid = upload_id(made.headers["Location"])
        assert s.head(made.headers["Location"], headers=tus, timeout=10).status_code == 200
        lines = wait_for_lines(seen, "/api/v1/uploads", 2)
    assert len(uid) > 8 and all(uid not in line for line in lines)
    assert any(f'"HEAD /api/v1/uploads/{uid[:8]}… HTTP/1.1" 200' in line for line in lines), lines


def test_token_like_query_values_are_redacted_and_the_rest_kept() -> None:
    target = (
        "/x?after=5&token=t0k&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12&%73ig=s1&month=2026-10"
    )
    assert redact_query(target) == (
        f"/x?after=5&token={REDACTED}&X-Amz-Credential={REDACTED}&X-Amz-Signature={REDACTED}"
        f"&%73ig={REDACTED}&month=2026-10"
    )
    assert redact_query("/api/v1/items?after=3") == "/api/v1/items?after=3"


# --- a database that cannot be reached --------------------------------------------------------


def _unreachable(tmp: Path) -> Callable[[], Any]:
    # a real driver error: SQLite cannot open a file in a folder that does not exist
    return sessionmaker(create_engine(f"sqlite:///{tmp / 'gone' / 'hub.sqlite3'}"))


def _pool_exhausted(_tmp: Path) -> Callable[[], Any]:
    def session() -> Any:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached")

    return session


@pytest.mark.parametrize("broken", [_unreachable, _pool_exhausted])
def test_a_database_that_cannot_be_reached_answers_503_as_json_and_logs_one_line(
    live_hub: LiveHub, tmp_path: Path, broken: Callable[[Path], Callable[[], Any]]
) -> None:
    s = live_hub.login("ktn")
    live_hub.hub.tokens.forget(token_hash(live_hub.tokens["ktn"]))  # the check reads it too
    live_hub.hub.db._sessions = broken(tmp_path)  # type: ignore[assignment]
    sign_in = {"username": "ktn", "password": "pw-1234", "device": "pytest"}
    with captured("uvicorn.error", "alu_hub") as log:
        answers = [requests.post(live_hub.api("/session"), json=sign_in, timeout=10)]
        answers += [s.get(live_hub.api("/items"), timeout=10) for _ in range(3)]
        answers += [s.get(live_hub.api("/history"), timeout=10)]
    for r in answers:
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.headers["Retry-After"] == str(errors.DATABASE_RETRY_S)
        assert r.headers["Content-Type"] == "application/json"
        assert r.json()["error"]["code"] == "database_unavailable"
    # one line for the outage, no traceback for any request
    assert [r.exc_info for r in log.records if r.exc_info] == []
    reports = [x for x in log.lines() if "database cannot be reached" in x]
    assert len(reports) == 1, log.lines()


def test_a_bug_still_answers_json(live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch) -> None:
    s = live_hub.login("ktn")

    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("alu_hub.api.page_json", broken)
    r = s.get(live_hub.api("/items"), timeout=10)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"


# --- a full disk ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Callable[[str], None]]:
    """A tmpfs of ``size`` at ``path`` (root only); yields a function that resizes it."""
    path.mkdir(parents=True)
    cannot = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
    if getattr(os, "geteuid", lambda: -1)() != 0:  # (Windows has no geteuid: no tmpfs either)
        cannot("a full disk is a small tmpfs, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        cannot(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")

    def resize(new: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new}", str(path)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@pytest.fixture
def full_disk_env(tmp_path: Path) -> Iterator[tuple[Env, Callable[[str], None]]]:
    # only the uploads folder is small: the database stays where there is room
    with small_tmpfs(tmp_path / "uploads", "1m") as resize:
        env, close = make_env(tmp_path, max_upload_size=64 * MIB, max_chunk_size=8 * MIB)
        try:
            yield env, resize
        finally:
            close()


def test_a_full_disk_answers_507_and_the_upload_goes_on_once_there_is_room(
    full_disk_env: tuple[Env, Callable[[str], None]],
) -> None:
    env, resize = full_disk_env
    data = os.urandom(3 * MIB)
    url = env.create(data)
    with captured("uvicorn.error", "alu_hub") as log:
        r = env.patch(url, 0, data)
        again = env.patch(url, int(r.headers.get("Upload-Offset", "0")), data[:MIB])
    for answer in (r, again):
        assert answer.status_code == 507, (answer.status_code, answer.text)
        assert answer.headers["Retry-After"] == str(errors.DISK_RETRY_S)
        assert answer.json()["error"]["code"] == "disk_full"
    # the client takes it for "back off, then resume", not for a failure for good
    with pytest.raises(_Resume) as resume:
        _raise_for(r)
    assert resume.value.retry_after == errors.DISK_RETRY_S
    assert resume.value.message == (  # said as what it is, in the member's words
        "The hub's disk is full; the upload will go on once the agency has made room."
    )
    assert [x.exc_info for x in log.records if x.exc_info] == []
    assert len([x for x in log.lines() if "disk is full" in x]) == 1, log.lines()

    kept = int(env.head(url).headers["Upload-Offset"])
    assert 0 < kept < len(data)
    assert env.path(url).read_bytes()[:kept] == data[:kept]
    resize("16m")  # the operator made room
    done = env.patch(url, kept, data[kept:])
    assert done.status_code == 204, done.text
    assert done.headers["Upload-Offset"] == str(len(data))
    env.wait_completed(upload_id(url))
    assert hashlib.sha256(env.path(url).read_bytes()).digest() == hashlib.sha256(data).digest()


def test_which_errors_are_outages() -> None:
    assert errors.outage_of(OSError(errno.ENOSPC, "No space left on device")) == "disk_full"
    assert errors.outage_of(OSError(errno.EDQUOT, "Disk quota exceeded")) == "disk_full"
    assert errors.outage_of(OSError(errno.EACCES, "Permission denied")) is None
    assert errors.outage_of(RuntimeError("a bug")) is None
