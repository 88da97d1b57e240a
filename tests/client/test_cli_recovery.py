"""`alu` after a crash: a fetch killed just after its rename, `alu queue` with no engine left
running, and the workstation's saved settings (limits, schedule, caps) in a CLI run."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.transfers.rates import MIN_RATE_BPS
from alu_client.core.transfers.schedule import Schedule, ScheduleRule
from alu_hub.server import RunningHub
from tests.client.test_cli import _interrupted_put, run_alu
from tests.client.test_crash import alu, kill_when
from tests.support.tinytus import TinyTus
from tests.support.waiting import wait_until

#: `alu` killed (as by kill -9) just when the queue is about to record a transfer's end: the
#: download's file has been renamed into place, the row is still 'active'
_KILLED_BEFORE_DONE = """
import os, sys
from alu_client.core.store.transfers import TransferStore
real = TransferStore.finish
def finish(self, tid, state, **kw):
    if state == "done":
        os._exit(137)
    return real(self, tid, state, **kw)
TransferStore.finish = finish
from alu_client.cli import main
sys.argv = ["alu", *sys.argv[1:]]
sys.exit(main())
"""


def _killed_before_done(home: Path, *args: str) -> None:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home)}
    r = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_DONE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 137, r.stderr


def test_fetch_killed_after_its_rename_without_sha256_resumes(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    _killed_before_done(home, "fetch", url, str(dest))
    assert dest.read_bytes() == payload.read_bytes()  # renamed into place, not recorded done
    again = run_alu(home, "fetch", url, str(dest))
    assert again.returncode == 0, again.stderr
    assert "already there" not in again.stderr
    assert dest.read_bytes() == payload.read_bytes()
    listed = run_alu(home, "queue", "list", "--all")
    assert " done " in listed.stdout, listed.stdout


def test_fetch_killed_after_its_rename_still_refuses_a_strangers_file(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    _killed_before_done(home, "fetch", url, str(dest))
    # someone replaces it with another file of the same size (another inode)
    stranger = os.urandom(payload.stat().st_size)
    dest.unlink()
    other = tmp_path / "other.mxf"
    other.write_bytes(stranger)
    other.rename(dest)
    again = run_alu(home, "fetch", url, str(dest))
    assert again.returncode == 1
    assert "already there" in again.stderr
    assert dest.read_bytes() == stranger  # never overwritten


@pytest.mark.parametrize("sha", [True, False])
def test_fetch_killed_after_its_rename_is_recognised(
    tmp_path: Path, payload: Path, file_server: RunningHub, sha: bool
) -> None:
    import hashlib

    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    extra = ["--sha256", hashlib.sha256(payload.read_bytes()).hexdigest()] if sha else []
    _killed_before_done(home, "fetch", url, str(dest), *extra)
    again = run_alu(home, "fetch", url, str(dest), *extra)
    assert again.returncode == 0, again.stderr
    assert ("sha256 verified" if sha else "size checked") in again.stdout


# --- `alu queue` when the engine that ran a transfer died --------------------------------------


def _killed_mid_fetch(home: Path, url: str, dest: Path) -> Path:
    """`alu fetch` killed with SIGKILL mid-way: its row stays 'active', no engine runs."""
    part = dest.with_name(dest.name + ".part")
    first = alu(home, "fetch", url, str(dest), "--limit", "2M", "--segments", "1")
    kill_when(first, lambda: part.exists() and part.stat().st_size > 300_000)
    return part


def _row(home: Path) -> dict[str, object]:
    listed = run_alu(home, "queue", "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1
    return dict(rows[0])


def _stored(home: Path) -> tuple[str, str]:
    from alu_client.core.store import Store

    s = Store(home / "data" / "library.sqlite3")
    try:
        row = s.query_one("SELECT state, request FROM transfers WHERE id = 1")
        return str(row[0]), str(row[1])
    finally:
        s.close()


def test_queue_after_a_kill_says_the_transfer_was_interrupted(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    _killed_mid_fetch(home, f"{file_server.url}/files/source.mxf", dest)
    listed = run_alu(home, "queue")
    assert listed.returncode == 0, listed.stderr
    assert " queued " in listed.stdout and "interrupted" in listed.stdout, listed.stdout
    assert " active " not in listed.stdout
    row = _row(home)
    assert row["state"] == "queued" and row["interrupted"] is True


def test_queue_pause_after_a_kill_pauses_and_the_rerun_resumes(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    _killed_mid_fetch(home, url, dest)
    paused = run_alu(home, "queue", "pause", "1")
    assert paused.returncode == 0, paused.stderr
    assert "paused 1" in paused.stdout
    assert _stored(home) == ("paused", "")  # done here, not asked of an engine that is gone
    again = run_alu(home, "fetch", url, str(dest))
    assert again.returncode == 0, again.stderr
    assert dest.read_bytes() == payload.read_bytes()


def test_queue_cancel_after_a_kill_cancels_and_removes_the_part_file(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    part = _killed_mid_fetch(home, f"{file_server.url}/files/source.mxf", dest)
    assert part.exists()
    canceled = run_alu(home, "queue", "cancel", "1")
    assert canceled.returncode == 0, canceled.stderr
    assert "canceled 1" in canceled.stdout and "partial file was removed" in canceled.stdout
    assert _stored(home) == ("canceled", "")
    assert not part.exists() and not dest.exists()


def test_queue_cancel_says_a_part_file_not_its_own_was_left(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    """Another data folder's download wrote the part file at this one's name: it is left (as
    it was), and the line no longer says it was removed."""
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    part = _killed_mid_fetch(tmp_path / "other-home", url, dest)
    theirs = part.read_bytes()
    refused = run_alu(home, "fetch", url, str(dest))
    assert refused.returncode == 1 and "did not make it" in refused.stderr, refused.stderr
    canceled = run_alu(home, "queue", "cancel", "1")
    assert canceled.returncode == 0, canceled.stderr
    assert "canceled 1" in canceled.stdout and "removed" not in canceled.stdout
    assert "is not this download's and was left there" in canceled.stdout, canceled.stdout
    assert part.read_bytes() == theirs


def test_a_stale_request_does_not_stop_the_users_rerun(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    # a pause asked of an engine that died before it took it (what `alu queue pause` used to
    # leave after a kill): the user's own rerun resumes the transfer and ends it
    from alu_client.core.store import Store

    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    url = f"{file_server.url}/files/source.mxf"
    _killed_mid_fetch(home, url, dest)
    s = Store(home / "data" / "library.sqlite3")
    with s.write() as c:
        c.execute("UPDATE transfers SET request = 'pause' WHERE id = 1")
    s.close()
    # (slowed down: the engine takes requests once a second, the file must not be in first)
    again = run_alu(home, "fetch", url, str(dest), "--limit", "40M")
    assert again.returncode == 0, again.stderr
    assert dest.read_bytes() == payload.read_bytes()


def test_queue_pause_with_an_engine_running_asks_it(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    part = dest.with_name(dest.name + ".part")
    url = f"{file_server.url}/files/source.mxf"
    first = alu(home, "fetch", url, str(dest), "--limit", "2M", "--segments", "1")
    try:
        wait_until(lambda: part.exists() and part.stat().st_size > 100_000, 60, what="bytes")
        paused = run_alu(home, "queue", "pause", "1")
        assert paused.returncode == 0, paused.stderr
        assert "asked the running engine to pause 1" in paused.stdout
        _out, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 1 and "paused" in err
    assert _stored(home) == ("paused", "")


def _checkpoint(home: Path, tid: int) -> bool:
    from alu_client.core.store import Store

    s = Store(home / "data" / "library.sqlite3")
    try:
        row = s.query_one("SELECT data FROM transfer_checkpoints WHERE transfer_id = ?", (tid,))
        return row is not None and json.loads(row[0]) != {}
    finally:
        s.close()


def test_queue_cancel_of_an_interrupted_upload_tells_the_server_at_once(tmp_path: Path) -> None:
    # it said "the server is told … when the app or alu watch run next runs here": for a
    # plain tus server neither ever does (tus-put runs its own transfer, watch run needs a
    # hub); with no engine running, the cancel holds the data folder and tells the server
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        put = alu(home, "tus-put", server.endpoint, str(path), "--limit", "200KB",
                  "--chunk-size", "256K")  # fmt: skip
        kill_when(put, lambda: _row(home)["bytes_done"] != 0 if _has_row(home) else False)
        assert len(server.uploads) == 1
        canceled = run_alu(home, "queue", "cancel", "1")
        assert canceled.returncode == 0, canceled.stderr
        assert canceled.stdout == (
            "canceled 1 (it had been interrupted); the server dropped what it had received\n"
        )
        assert _stored(home) == ("canceled", "")
        assert server.methods().count("DELETE") == 1 and server.uploads == {}
        assert not _checkpoint(home, 1)  # the upload's URL is gone with it


def test_queue_cancel_that_cannot_reach_the_server_says_so_and_can_be_tried_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        _interrupted_put(home, server.endpoint, path)
        server.bends.auth = "Bearer only-the-command-had-it"  # not kept: refused (401)
        canceled = run_alu(home, "queue", "cancel", "1")
        assert canceled.returncode == 0, canceled.stderr
        assert canceled.stdout == (
            "canceled 1; the server could not be told to drop what it received; run "
            "alu queue cancel 1 again to try again (with the --header options the upload was "
            "sent with, when the server wants credentials)\n"
        )
        assert len(server.uploads) == 1 and _checkpoint(home, 1)
        wrong = run_alu(home, "queue", "pause", "1", "--header", "Authorization: Bearer x")
        assert wrong.returncode == 2 and "--header goes with cancel only" in wrong.stderr
        # the credentials the upload was sent with (`alu tus-put --header`), given again
        again = run_alu(home, "queue", "cancel", "1", "--header",
                        "Authorization: Bearer only-the-command-had-it")  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stdout == "1 was canceled already; the server dropped what it had received\n"
        assert server.uploads == {} and not _checkpoint(home, 1)
        nothing = run_alu(home, "queue", "cancel", "1")
        assert nothing.returncode == 1
        assert "Transfer 1 is canceled: there is nothing to cancel." in nothing.stderr


def test_queue_cancel_beside_another_commands_engine_says_who_tells_the_server(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    # an `alu fetch` runs (its engine runs its own transfer only): the canceled upload's
    # server side is nobody's now, and the line says so
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    part = dest.with_name(dest.name + ".part")
    with TinyTus() as server:
        _interrupted_put(home, server.endpoint, path)
        fetch = alu(home, "fetch", f"{file_server.url}/files/source.mxf", str(dest),
                    "--limit", "2M", "--segments", "1")  # fmt: skip
        try:
            wait_until(lambda: part.exists(), 60, what="the fetch under way")
            canceled = run_alu(home, "queue", "cancel", "1", "--header", "Authorization: B x")
        finally:
            fetch.kill()
            fetch.communicate()
        assert canceled.returncode == 0, canceled.stderr
        assert canceled.stdout == (
            "canceled 1; the server keeps what it received until alu queue cancel 1 is run "
            "again while no other alu runs here\n"
        )
        assert len(server.uploads) == 1 and _checkpoint(home, 1)
        # (credentials given here would go nowhere: said, not silently dropped)
        assert "--header is not used" in canceled.stderr


def _has_row(home: Path) -> bool:
    listed = run_alu(home, "queue", "list", "--json")
    return '"id"' in listed.stdout


# --- the workstation's saved settings in a CLI run ----------------------------------------------


def _saved_settings(home: Path, **values: object) -> None:
    from alu_client.core.paths import Paths
    from alu_client.core.settings import AppSettings
    from alu_client.core.store import Store

    paths = Paths(home / "data", home / "cache", home / "logs", home / "downloads").ensure()
    store = Store(paths.db_path)
    try:
        settings = AppSettings(store, paths.downloads_dir)
        for key, value in values.items():
            setattr(settings, key, value)
    finally:
        store.close()


def _services(home: Path) -> Services:
    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.paths import Paths

    paths = Paths(home / "data", home / "cache", home / "logs", home / "downloads").ensure()
    return Services(paths, MemorySecrets())


def test_the_engine_applies_the_saved_caps_limits_and_schedule(tmp_path: Path) -> None:
    # what `alu get`, `alu put` and `alu watch run` start (and the app): the saved settings
    night = ScheduleRule(frozenset(range(7)), datetime.time(0), datetime.time(0), 1000.0, 2000.0)
    _saved_settings(tmp_path, limit_down=100_000.0, limit_up=50_000.0, max_downloads=3,
                    max_uploads=2)  # fmt: skip
    services = _services(tmp_path)
    try:
        queue = services.start_engine(sync=False, rules=False, hot_folders=False, media=False)
        assert queue.caps == {"download": 3, "upload": 2}
        assert queue.limits["download"].rate_bps == 100_000.0
        assert queue.limits["upload"].rate_bps == 50_000.0
    finally:
        services.stop()
    _saved_settings(tmp_path, schedule=Schedule([night]))
    services = _services(tmp_path)
    try:  # a schedule decides when there is one (this rule covers the whole week)
        queue = services.start_engine(sync=False, rules=False, hot_folders=False, media=False)
        assert queue.limits["download"].rate_bps == 1000.0
        assert queue.limits["upload"].rate_bps == 2000.0
    finally:
        services.stop()
    services = _services(tmp_path)
    try:  # a flag (--limit-down 0: unlimited) replaces its direction's, schedule included
        queue = services.start_engine(
            sync=False, rules=False, hot_folders=False, media=False, limit_down=None
        )
        assert queue.limits["download"].rate_bps is None
        assert queue.limits["upload"].rate_bps == 2000.0
        assert queue.caps == {"download": 3, "upload": 2}
    finally:
        services.stop()


@pytest.mark.parametrize("stored", ["1e-300", "999.0", "-5", "NaN"])
def test_a_saved_limit_under_the_floor_is_unreadable_and_unlimited(
    tmp_path: Path, stored: str
) -> None:
    # a hand edit or a damaged value: 1e-300 was applied as is, and `alu get` moved 98 kB,
    # then nothing for ever, with no reason given; the CLI and Settings refuse under 1 KB/s
    _saved_settings(tmp_path, limit_down=100_000.0, limit_up=50_000.0)
    store = Store(tmp_path / "data" / "library.sqlite3")
    try:
        with store.write() as c:
            c.execute("UPDATE settings SET value = ? WHERE key = 'app.limit_down'", (stored,))
            c.execute("UPDATE settings SET value = ? WHERE key = 'app.limit_up'", (stored,))
        settings = AppSettings(store, tmp_path)
        assert (settings.limit_down, settings.limit_up) == (None, None)
    finally:
        store.close()
    services = _services(tmp_path)
    try:
        queue = services.start_engine(sync=False, rules=False, hot_folders=False, media=False)
        assert queue.limits["download"].rate_bps is None
        assert queue.limits["upload"].rate_bps is None
    finally:
        services.stop()
    _saved_settings(tmp_path, limit_down=MIN_RATE_BPS)  # the floor itself is a limit
    store = Store(tmp_path / "data" / "library.sqlite3")
    try:
        assert AppSettings(store, tmp_path).limit_down == MIN_RATE_BPS
    finally:
        store.close()


def test_fetch_keeps_the_saved_limit_unless_told_otherwise(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home, dest = tmp_path / "home", tmp_path / "s.mxf"
    part = dest.with_name(dest.name + ".part")
    url = f"{file_server.url}/files/source.mxf"
    _saved_settings(home, limit_down=500_000.0)  # Settings > Bandwidth: 500 KB/s
    first = alu(home, "fetch", url, str(dest), "--segments", "1")
    try:
        wait_until(lambda: part.exists() and part.stat().st_size > 0, 30, what="bytes")
        time.sleep(2)
        got = part.stat().st_size
    finally:
        first.terminate()
        first.communicate(timeout=30)
    assert got < 2_500_000, f"{got} bytes in about 2 s: not limited to 500 KB/s"
    t0 = time.monotonic()
    again = run_alu(home, "fetch", url, str(dest), "--limit", "0")  # unlimited for this run
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - t0 < 20  # 24 MiB left at 500 KB/s would be ~48 s
    assert dest.read_bytes() == payload.read_bytes()


def _bytes_done(home: Path, tid: int) -> int:
    from alu_client.core.store import Store

    db = home / "data" / "library.sqlite3"
    if not db.exists():
        return 0
    s = Store(db)
    try:
        row = s.query_one("SELECT bytes_done FROM transfers WHERE id = ?", (tid,))
        return int(row[0]) if row else 0
    finally:
        s.close()


def _states(home: Path) -> dict[int, str]:
    listed = run_alu(home, "queue", "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    return {int(r["id"]): str(r["state"]) for r in json.loads(listed.stdout)}


def test_tus_put_killed_twice_around_a_change_of_the_file_resumes_the_newest_upload(
    tmp_path: Path,
) -> None:
    # killed, the file grew (an export still being written), run again: a new upload, and the
    # old one canceled. That one was left 'active' by the kill, and the cancel did nothing:
    # it ran again and failed ("the file changed"), and the next rerun took it for the one to
    # replace: a third upload from byte 0, the second queued for ever, its server upload kept
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    slow = ("--limit", "200KB", "--chunk-size", "256K")
    with TinyTus() as server:
        first = alu(home, "tus-put", server.endpoint, str(path), *slow)
        kill_when(first, lambda: _bytes_done(home, 1) > 0)
        with open(path, "ab") as f:
            f.write(os.urandom(100_000))
        second = alu(home, "tus-put", server.endpoint, str(path), *slow)
        kill_when(second, lambda: _bytes_done(home, 2) > 0)
        assert _states(home) == {1: "canceled", 2: "queued"}
        posts = server.methods().count("POST")
        third = run_alu(home, "tus-put", server.endpoint, str(path))
        assert third.returncode == 0, third.stderr
        assert server.methods().count("POST") == posts  # transfer 2's upload went on
        assert _states(home) == {1: "canceled", 2: "done"}
        assert server.only_upload() == path.read_bytes()  # the first one was DELETEd


def test_tus_put_resumes_the_newest_of_two_transfers_of_the_file(tmp_path: Path) -> None:
    # what an earlier version left after the run above: the replaced transfer failed, the one
    # that replaced it queued. The rerun is for the newest; the failed one was taken, replaced
    # by a third, and the second stayed queued for ever
    from alu_client.core.store import Store
    from alu_client.core.store.transfers import TransferStore

    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(300_000))
    home = tmp_path / "home"
    assert run_alu(home, "queue").returncode == 0  # the data folder and its library
    with TinyTus() as server:
        store = Store(home / "data" / "library.sqlite3")
        try:
            transfers = TransferStore(store)
            for _ in range(2):
                transfers.add("upload", str(path), server.endpoint, size=300_000,
                              options={"metadata": {"filename": path.name}})  # fmt: skip
            transfers.finish(1, "failed", error="The file changed since the upload started.")
        finally:
            store.close()
        r = run_alu(home, "tus-put", server.endpoint, str(path))
        assert r.returncode == 0, r.stderr
        assert _states(home) == {1: "failed", 2: "done"}
        assert server.methods().count("POST") == 1
