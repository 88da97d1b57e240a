"""Which engine runs an `alu get` / `alu put` transfer, and how `alu` engines stop.

Against a real hub on loopback, behind a throttled link (tests/support/faultproxy.py):

- `alu put` interrupted and run again resumes its upload: the clip is published once; run
  again after the file was exported anew, it cancels the old upload and sends the new file;
- two `alu put` at once on one data folder both finish (the second waits for the first's
  engine, which runs its own upload only, then runs its own);
- `alu get` while `alu fetch` holds the data folder finishes after the fetch;
- `alu get` following `alu watch run` takes over when that engine stops;
- `alu watch run` stopped by SIGTERM or SIGHUP stops its engine: exit 143 or 129, the upload
  under way queued again (not left "active"), and finished by the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alu_hub.media import generate_clip
from alu_hub.server import RunningHub
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-cli-engines-1"


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(home: Path, *args: str, stdin: str = "", timeout: float = 120) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env_for(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"alu did not end in {timeout} s: {out!r} {err!r}") from None
    return proc.returncode, out, err


def queue_of(home: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run(home, "queue", "list", "--all", "--json"))
    return rows


def published(hub: LiveHub, home: Path, title: str) -> list[dict[str, Any]]:
    return [i for i in json.loads(run(home, "feed", "--json")) if i["title"] == title]


@pytest.fixture
def big_clip(tmp_path: Path) -> Path:
    """About 1 MB: several seconds through the throttled link."""
    path = tmp_path / "big" / "river_crossing.mp4"
    path.parent.mkdir()
    generate_clip(path, seconds=6.0, width=640, height=360, seed=5)
    return path


@pytest.fixture
def slow_hub(live_hub: LiveHub) -> Any:
    live_hub.member("ktn", PASSWORD)
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as proxy:
        yield live_hub, proxy


def login(home: Path, url: str) -> None:
    run(home, "login", url, "--user", "ktn", "--password-stdin", "--allow-http",
        stdin=PASSWORD + "\n")  # fmt: skip


def test_put_interrupted_and_run_again_resumes_and_publishes_once(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    size = big_clip.stat().st_size
    proxy.rate_bps = 150_000
    args = ("put", str(big_clip), "--title", "River crossing", "--language", "en")
    first = start(home, *args)
    start_up = proxy.bytes_up
    wait_until(lambda: proxy.bytes_up - start_up > size * 0.4 or first.poll() is not None, 60,
               what="the upload to be under way")  # fmt: skip
    assert first.poll() is None, first.communicate()
    first.send_signal(signal.SIGINT)
    status, _out, err = finish(first)
    assert status == 130, err
    assert "run the same command again to resume" in err

    proxy.rate_bps = None
    before = proxy.bytes_up
    status, out, err = finish(start(home, *args))
    assert status == 0, err
    assert "published as item" in out or "still preparing" in out
    sent_again = proxy.bytes_up - before
    assert sent_again < size, f"the rerun sent {sent_again} bytes of {size}: it started over"

    uploads = [t for t in queue_of(home) if t["direction"] == "upload"]
    assert [t["state"] for t in uploads] == ["done"], uploads
    wait_until(lambda: published(hub, home, "River crossing"), 30, interval=0.5,
               what="the item in the feed")  # fmt: skip
    assert len(published(hub, home, "River crossing")) == 1


def test_put_run_again_with_other_details_goes_on_with_the_first(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    _hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    proxy.rate_bps = 150_000
    first = start(home, "put", str(big_clip), "--title", "First title", "--language", "en")
    wait_until(lambda: proxy.bytes_up > 200_000 or first.poll() is not None, 60)
    first.send_signal(signal.SIGINT)
    assert finish(first)[0] == 130
    proxy.rate_bps = None
    status, _out, err = finish(
        start(home, "put", str(big_clip), "--title", "Second title", "--language", "en")
    )
    assert status == 0, err
    assert "goes on with the details it was started with" in err
    assert "alu queue cancel" in err
    assert len([t for t in queue_of(home) if t["direction"] == "upload"]) == 1


def test_put_of_a_file_exported_again_cancels_the_upload_of_the_old_one(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    proxy.rate_bps = 150_000
    args = ("put", str(big_clip), "--title", "Exported twice", "--language", "en")
    first = start(home, *args)
    wait_until(lambda: proxy.bytes_up > 200_000 or first.poll() is not None, 60)
    assert first.poll() is None, first.communicate()
    first.send_signal(signal.SIGINT)
    # what the proxy holds of the cut PATCH would still reach the hub and finish the upload
    # of the old content (socket buffers take the whole megabyte at once): drop it
    proxy.reset_all()
    assert finish(first)[0] == 130
    generate_clip(big_clip, seconds=2.0, width=320, height=240, seed=11)  # the new export
    proxy.rate_bps = None
    status, _out, err = finish(start(home, *args))
    assert status == 0, err
    assert "content that has changed since; it is canceled" in err
    states = sorted(t["state"] for t in queue_of(home) if t["direction"] == "upload")
    assert states == ["canceled", "done"], states
    wait_until(lambda: published(hub, home, "Exported twice"), 30, interval=0.5,
               what="the item in the feed")  # fmt: skip
    assert len(published(hub, home, "Exported twice")) == 1, published(hub, home, "Exported twice")


def test_a_stale_pause_request_does_not_stop_the_put_run_again(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    from alu_client.core.store import Store

    hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    proxy.rate_bps = 150_000
    args = ("put", str(big_clip), "--title", "Asked to pause", "--language", "en")
    first = start(home, *args)
    wait_until(lambda: proxy.bytes_up > 200_000 or first.poll() is not None, 60)
    assert first.poll() is None, first.communicate()
    first.send_signal(signal.SIGINT)
    proxy.reset_all()
    assert finish(first)[0] == 130
    # a pause asked of an engine that died before it took it (`alu queue pause` while the
    # first ran, then a kill): the user's own rerun must not stop at its first second
    store = Store(home / "data" / "library.sqlite3")
    with store.write() as c:
        assert c.execute("UPDATE transfers SET request = 'pause'").rowcount == 1
    store.close()
    status, _out, err = finish(start(home, *args))  # still throttled: several seconds
    assert status == 0, err
    assert [t["state"] for t in queue_of(home)] == ["done"]
    wait_until(lambda: published(hub, home, "Asked to pause"), 30, interval=0.5,
               what="the item in the feed")  # fmt: skip


def test_two_puts_at_once_both_finish(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    _hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    other = tmp_path / "other.mp4"
    generate_clip(other, seconds=1.0, width=320, height=240, seed=9)
    proxy.rate_bps = 300_000
    a = start(home, "put", str(big_clip), "--title", "Put A", "--language", "en")
    wait_until(lambda: proxy.bytes_up > 100_000 or a.poll() is not None, 60)
    assert a.poll() is None, a.communicate()
    b = start(home, "put", str(other), "--title", "Put B", "--language", "en")
    status_a, _out, err_a = finish(a)
    status_b, _out, err_b = finish(b)
    assert status_a == 0, err_a
    assert status_b == 0, err_b
    assert "for its own transfer only" in err_b
    states = {t["label"]: t["state"] for t in queue_of(home)}
    assert states == {"Put A": "done", "Put B": "done"}


def test_get_while_fetch_holds_the_folder_runs_after_it(
    slow_hub: tuple[LiveHub, FaultProxy],
    clip: Path,
    tmp_path: Path,
    file_server: RunningHub,
    payload: Path,
) -> None:
    hub, _proxy = slow_hub
    home = tmp_path / "desk"
    login(home, hub.url)
    item_id = hub.publish(clip, title="Harbour at dawn")
    url = f"{file_server.url}/files/source.mxf"
    fetch = start(home, "fetch", url, str(tmp_path / "out" / "f.mxf"), "--limit", "40M")
    wait_until(lambda: (tmp_path / "out" / "f.mxf.part").exists() or fetch.poll() is not None, 30)
    assert fetch.poll() is None, fetch.communicate()
    get = start(home, "get", item_id, "--dest", str(tmp_path / "dl"))
    status, _out, err = finish(fetch)
    assert status == 0, err
    status, out, err = finish(get, timeout=60)
    assert status == 0, err
    assert "sha256 verified" in err and Path(out.removesuffix("\n")).is_file()  # the path alone
    assert "for its own transfer only" in err


def test_get_following_watch_run_takes_over_when_it_stops(
    slow_hub: tuple[LiveHub, FaultProxy], big_clip: Path, tmp_path: Path
) -> None:
    hub, _proxy = slow_hub
    home = tmp_path / "desk"
    login(home, hub.url)
    item_id = hub.publish(big_clip, title="Market day")
    engine = start(home, "watch", "run", "--limit-down", "100KB")
    assert engine.stdout is not None
    assert "engine running" in engine.stdout.readline()
    get = start(home, "get", item_id, "--dest", str(tmp_path / "dl"))

    def under_way() -> bool:
        assert get.poll() is None, get.communicate()
        return any(t["state"] == "active" and t["bytes_done"] > 0 for t in queue_of(home))

    wait_until(under_way, 60, interval=0.3, what="the download under way in `alu watch run`")
    engine.send_signal(signal.SIGTERM)
    status, _out, err = finish(engine)
    assert status == 143, err
    status, out, err = finish(get, timeout=60)
    assert status == 0, err
    assert "following it" in err and "runs here" in err
    assert "sha256 verified" in err and Path(out.removesuffix("\n")).is_file()  # the path alone


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signum", "status"),
    # SIGHUP: the terminal or ssh session that ran it closed; it died on the spot (129, no
    # "stopping the engine", the upload left "active")
    [(signal.SIGTERM, 143), (getattr(signal, "SIGHUP", 1), 129)],
)
def test_watch_run_stopped_by_sigterm_or_sighup_stops_its_engine(
    slow_hub: tuple[LiveHub, FaultProxy],
    big_clip: Path,
    tmp_path: Path,
    signum: int,
    status: int,
) -> None:
    _hub, proxy = slow_hub
    home = tmp_path / "desk"
    login(home, proxy.url)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    run(home, "watch", "add", str(inbox), "--default", "language=en", "--settle", "0.3")
    proxy.rate_bps = 150_000
    engine = start(home, "watch", "run")
    (inbox / big_clip.name).write_bytes(big_clip.read_bytes())
    size = big_clip.stat().st_size

    def uploading() -> bool:
        assert engine.poll() is None, engine.communicate()
        return (
            any(
                t["direction"] == "upload" and t["state"] == "active" and t["bytes_done"] > 0
                for t in queue_of(home)
            )
            and proxy.bytes_up > size * 0.3
        )

    wait_until(uploading, 60, interval=0.3, what="the hot folder's upload under way")
    engine.send_signal(signum)
    stopped, _out, err = finish(engine)
    assert stopped == status, err
    assert "alu: stopping the engine" in err
    uploads = [t for t in queue_of(home) if t["direction"] == "upload"]
    assert len(uploads) == 1 and uploads[0]["state"] == "queued", uploads

    proxy.rate_bps = None
    before = proxy.bytes_up
    again = start(home, "watch", "run")
    try:
        wait_until(lambda: queue_of(home)[0]["state"] == "done", 60, interval=0.3,
                   what="the upload finished by the next run")  # fmt: skip
    finally:
        again.send_signal(signal.SIGINT)
        status, _out, err = finish(again)
    assert status == 130, err
    assert proxy.bytes_up - before < size  # resumed, not sent again from the start


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_watch_run_logs_its_start_the_signal_and_its_stop(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # its log said nothing of a run (a quiet one left no trace, a service's restarts and stops
    # none), where the app's says "starting", the signal and the quit
    from alu_client import __version__

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub.url)
    engine = start(home, "watch", "run")
    assert "engine running" in engine.stdout.readline()  # type: ignore[union-attr]
    engine.send_signal(signal.SIGTERM)
    status, _out, err = finish(engine)
    assert status == 143, err
    lines = [
        line.split(" INFO ", 1)[1]
        for line in (home / "logs" / "alu-client.log").read_text(encoding="utf-8").splitlines()
        if " INFO " in line
    ]
    said = [
        f"alu_client.cli.watch_verbs: ALU Desk {__version__}: alu watch run starting "
        f"(data {home / 'data'})",
        "alu_client.cli.watch_verbs: SIGTERM received: stopping the engine",
        "alu_client.cli.watch_verbs: alu watch run stopped",
    ]
    assert [line.split(" ", 1)[1] for line in lines if "watch_verbs" in line] == said, lines
    assert "watch_verbs" not in err  # (INFO: the log's, not stderr's)
