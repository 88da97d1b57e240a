"""Durable through a power cut on macOS too: there ``fsync`` only hands the bytes to the
drive, whose cache a power cut empties (Apple's fsync(2)); ``fcntl(F_FULLFSYNC)`` has them
written down, and SQLite does the same with ``PRAGMA fullfsync``. Shown on Linux with
``sys.platform`` said to be "darwin" and ``F_FULLFSYNC`` (macOS's 51) stubbed: each call is
recorded with the file it was made on."""

from __future__ import annotations

import hashlib
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core import durable
from alu_client.core.store import Store
from alu_client.core.transfers.base import Tuning
from alu_client.core.transfers.download import DownloadSpec, run
from tests.client.test_download import Job

#: each call's file is named from /proc/self/fd
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="shown on Linux (/proc)")

F_FULLFSYNC = 51  # macOS's value


class Calls:
    def __init__(self) -> None:
        self.full: list[str] = []  # the files given F_FULLFSYNC
        self.plain: list[str] = []  # the files given fsync
        self.order: list[tuple[str, str]] = []  # ("full" or "plain", file), in turn
        self.refuse = False  # a file system without F_FULLFSYNC (some network shares)


def _name(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    import fcntl  # (here: the module is imported on Windows too, which has none)

    seen = Calls()
    real_fcntl, real_fsync = fcntl.fcntl, os.fsync

    def fake_fcntl(fd: int, cmd: int, *args: Any) -> Any:
        if cmd != F_FULLFSYNC:
            return real_fcntl(fd, cmd, *args)
        if seen.refuse:
            raise OSError(45, "Operation not supported")
        seen.full.append(_name(fd))
        seen.order.append(("full", _name(fd)))
        return 0

    def fake_fsync(fd: int) -> None:
        seen.plain.append(_name(fd))
        seen.order.append(("plain", _name(fd)))
        real_fsync(fd)

    monkeypatch.setattr(fcntl, "F_FULLFSYNC", F_FULLFSYNC, raising=False)
    monkeypatch.setattr(fcntl, "fcntl", fake_fcntl)
    monkeypatch.setattr(os, "fsync", fake_fsync)
    return seen


@pytest.fixture
def macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")


def test_on_macos_a_file_and_a_folder_are_written_down_by_the_drive(
    calls: Calls, macos: None, tmp_path: Path
) -> None:
    path = tmp_path / "clip.mp4"
    with path.open("wb") as f:
        f.write(b"x")
        durable.fsync(f.fileno())
    durable.fsync_dir(tmp_path)
    assert calls.full == [str(path), str(tmp_path)]
    assert calls.plain == []
    # a file system that refuses F_FULLFSYNC: fsync, as before
    calls.refuse = True
    durable.fsync_dir(tmp_path)
    assert calls.plain == [str(tmp_path)]


def test_elsewhere_fsync_is_enough(calls: Calls, tmp_path: Path) -> None:
    durable.fsync_dir(tmp_path)
    assert calls.plain == [str(tmp_path)] and calls.full == []


def test_on_macos_the_library_asks_sqlite_for_full_fsyncs(
    macos: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "library.sqlite3")
    try:
        conn = store._conn
        assert conn.execute("PRAGMA fullfsync").fetchone()[0] == 1
        assert conn.execute("PRAGMA checkpoint_fullfsync").fetchone()[0] == 1
    finally:
        store.close()
    monkeypatch.setattr(sys, "platform", "linux")
    store = Store(tmp_path / "library.sqlite3")
    try:
        assert store._conn.execute("PRAGMA fullfsync").fetchone()[0] == 0
    finally:
        store.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    data = os.urandom(300_000)
    www = tmp_path / "www"
    www.mkdir()
    (www / "clip.mp4").write_bytes(data)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *a: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/clip.mp4", data
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_on_macos_a_finished_download_and_its_new_name_are_written_down(
    calls: Calls, macos: None, served: tuple[str, bytes], tmp_path: Path
) -> None:
    url, data = served
    job = Job(tmp=tmp_path, tuning=Tuning(connect_timeout=5, stall_timeout=5))
    dest = tmp_path / "downloads" / "clip.mp4"
    dest.parent.mkdir()
    try:
        run(DownloadSpec(url, dest, sha256=hashlib.sha256(data).hexdigest()), job.context())
    finally:
        job.sessions.close()
    assert dest.read_bytes() == data
    # the part's last sync, before its rename, then the folder that holds the new name (the
    # progress checkpoints on the way keep a plain fsync: F_FULLFSYNC empties the drive's
    # whole cache, which every 4 MiB would slow a fast download down)
    synced = [(kind, name) for kind, name in calls.order if name.startswith(str(dest.parent))]
    assert synced[-2:] == [("full", str(dest) + ".part"), ("full", str(dest.parent))], synced
