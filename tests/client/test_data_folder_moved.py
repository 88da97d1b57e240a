"""A data folder (``ALU_CLIENT_HOME``) moved or copied, then opened at its new path.

Made by the CLI against a real hub behind a throttled link: a download in the library, a
download killed half way (its ``.part`` in the folder), a hot folder inside the data folder and
one outside it. Moved with ``os.rename``: the download resumes from its ``.part`` at the new
place (the old folder tree is not made again), `alu library check` finds every file, the
thumbnail is found, the hot folder inside follows, the one outside stays, and the workstation
id is kept. Copied with ``shutil.copytree``: the copy takes a workstation id of its own, the
original keeps its own.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.client.test_cli_engines import (
    big_clip,  # noqa: F401  (a fixture)
    finish,
    login,
    run,
    slow_hub,  # noqa: F401  (a fixture)
    start,
)
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "data" / "library.sqlite3")


def _setting(home: Path, key: str) -> object:
    with _db(home) as c:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _workstation(home: Path) -> object:
    return _setting(home, "watch.workstation_id")


def _watch_paths(home: Path) -> list[str]:
    with _db(home) as c:
        return sorted(r[0] for r in c.execute("SELECT path FROM watch_folders"))


def _saved(home: Path) -> int:
    """The bytes a download's saved checkpoint counts."""
    with _db(home) as c:
        rows = c.execute("SELECT data FROM transfer_checkpoints").fetchall()
    segments = [s for (data,) in rows for s in json.loads(data).get("segments", [])]
    return sum(done for _start, _end, done in segments)


def _made(hub: LiveHub, proxy: FaultProxy, clip: Path, big: Path, home: Path, outside: Path) -> str:
    """A data folder at ``home``: one file in the library (with a thumbnail), one download
    killed half way, a hot folder inside and one at ``outside``. The big item's id."""
    small_id = hub.publish(clip, "Small item")
    big_id = hub.publish(big, "Big item")
    login(home, proxy.url)
    run(home, "get", small_id)
    thumb = home / "cache" / "thumbnails" / "small.jpg"
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"jpeg")
    with _db(home) as c:  # (as the media worker records it)
        c.execute("UPDATE library_files SET thumbnail = ?", (str(thumb),))
    for hot in (home / "hot", outside):
        hot.mkdir(parents=True, exist_ok=True)
        run(home, "watch", "add", str(hot), "--default", "language=en")
    proxy.rate_bps = 150_000
    first = start(home, "get", big_id)
    wait_until(
        lambda: _saved(home) > 200_000 or first.poll() is not None,
        60,
        what="the big download's progress to be saved",
    )
    assert first.poll() is None, first.communicate()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    return big_id


@pytest.fixture
def made(
    slow_hub: tuple[LiveHub, FaultProxy],  # noqa: F811
    clip: Path,
    big_clip: Path,  # noqa: F811
    tmp_path: Path,
) -> tuple[FaultProxy, Path, Path, str]:
    hub, proxy = slow_hub
    home, outside = tmp_path / "old disk" / "desk", tmp_path / "share" / "hot"
    big_id = _made(hub, proxy, clip, big_clip, home, outside)
    return proxy, home, outside, big_id


def test_a_moved_data_folder_resumes_its_download_there_and_keeps_its_library(
    made: tuple[FaultProxy, Path, Path, str], tmp_path: Path
) -> None:
    proxy, old, outside, big_id = made
    (part,) = (old / "downloads").glob("*.part")
    kept = part.stat().st_size
    workstation = _workstation(old)
    new = tmp_path / "new disk" / "desk"
    new.parent.mkdir()
    old.rename(new)
    old.parent.rmdir()

    proxy.rate_bps = None
    before = proxy.bytes_down
    status, out, err = finish(start(new, "get", big_id))
    assert status == 0, err
    assert not old.parent.exists(), "the old folder tree was made again"
    fetched = proxy.bytes_down - before
    final = new / "downloads" / part.name.removesuffix(".part")
    assert final.is_file(), out
    assert fetched < final.stat().st_size - kept // 2, (fetched, err)
    assert not list((new / "downloads").glob("*.part"))

    checked = run(new, "library", "check")
    assert "2 files checked, 0 missing" in checked, checked
    with _db(new) as c:
        paths = [Path(p) for (p,) in c.execute("SELECT path FROM library_files")]
        thumbs = [Path(p) for (p,) in c.execute("SELECT thumbnail FROM library_files") if p]
    assert len(paths) == 2 and all(p.is_file() and new in p.parents for p in paths), paths
    assert thumbs and all(p.is_file() for p in thumbs), thumbs
    assert _watch_paths(new) == sorted([str(new / "hot"), str(outside)])
    assert _workstation(new) == workstation
    assert f"The data folder moved from {old} to {new}" in err

    status, _out, err = finish(start(new, "queue", "list"))  # said once
    assert status == 0 and "data folder" not in err, err


def test_a_copied_data_folder_is_a_workstation_of_its_own(
    made: tuple[FaultProxy, Path, Path, str], tmp_path: Path
) -> None:
    _proxy, original, outside, _big_id = made
    workstation = _workstation(original)
    copy = tmp_path / "second pc" / "desk"
    shutil.copytree(original, copy, symlinks=True)

    status, _out, err = finish(start(copy, "queue", "list"))
    assert status == 0, err
    assert _workstation(copy) not in (None, workstation)
    assert _watch_paths(copy) == sorted([str(copy / "hot"), str(outside)])
    with _db(copy) as c:
        (dest,) = [
            p for (p,) in c.execute("SELECT destination FROM transfers WHERE state <> 'done'")
        ]
    assert Path(dest).parent == copy / "downloads"
    assert f"This data folder is a copy of {original}" in err

    status, _out, err = finish(start(original, "queue", "list"))
    assert status == 0 and "data folder" not in err, err
    assert _workstation(original) == workstation
    assert _watch_paths(original) == sorted([str(original / "hot"), str(outside)])
