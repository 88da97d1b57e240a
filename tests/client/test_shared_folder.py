"""Several workstations (data folders) of one member downloading into one shared folder (a NAS):
one's retention or Delete never removes a file the other put there, the same item is taken as
done (never failed, never copied beside itself) when the other's verified file is already
there or on its way."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.library import LibraryError
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.transfers.download.protocol import MSG_PART_BUSY
from tests.support.livehub import LiveHub

PASSWORD = "pw-shared-folder"
DAY = 86400.0


@pytest.fixture
def share(tmp_path: Path) -> Path:
    folder = tmp_path / "nas" / "ALU"
    folder.mkdir(parents=True)
    return folder


def _desk(live_hub: LiveHub, root: Path, share: Path) -> Services:
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    sign_in(Profiles(store), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    AppSettings(store, paths.downloads_dir).download_dir = share
    store.close()
    return Services(paths, secrets)


@pytest.fixture
def desks(live_hub: LiveHub, tmp_path: Path, share: Path) -> Iterator[tuple[Services, Services]]:
    live_hub.member("ktn", PASSWORD)
    a = _desk(live_hub, tmp_path / "A", share)
    b = _desk(live_hub, tmp_path / "B", share)
    yield a, b
    a.stop()
    b.stop()


def _fetch(desk: Services, item: str) -> tuple[int, str, str, int]:
    """Download ``item`` on ``desk`` with a queue of its own: (id, state, destination, attempts)."""
    queue = desk.make_queue()
    tid = desk.download(item, queue=queue)
    queue.start()
    try:
        t = queue.wait_for(tid, timeout=30)
    finally:
        queue.stop()
    return tid, t.state, t.destination, t.attempts


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(share: Path) -> list[str]:
    return sorted(p.name for p in share.iterdir())


def test_retention_and_delete_leave_a_file_another_workstation_put_at_the_name(
    desks: tuple[Services, Services], live_hub: LiveHub, clip: Path, share: Path, tmp_path: Path
) -> None:
    # A's download was moved into an editor's project; B's download of the same item took the
    # name, then A's retention (its record old) deleted B's fresh file: only path and size
    # were compared
    a, b = desks
    item = live_hub.publish(clip, title="Lagos port clearing times")
    _, state, path_a, _ = _fetch(a, item)
    assert state == "done"
    project = tmp_path / "project"
    project.mkdir()
    shutil.move(path_a, project / "edit.mp4")
    _, state, path_b, _ = _fetch(b, item)
    assert state == "done" and path_b == path_a  # the name was free
    with a.store.write() as c:
        c.execute("UPDATE library_files SET verified_at = verified_at - ?", (40 * DAY,))
    report = a.library.apply_retention(30, None, now=time.time())
    assert Path(path_b).is_file(), "B's file was deleted by A's retention"
    assert (report.removed, report.freed_bytes) == (0, 0)
    assert [m.path for m in report.not_ours] == [Path(path_b)]
    (row,) = a.store.query("SELECT state, reason FROM library_files")
    assert row["state"] == "removed"  # forgotten here: no longer A's file
    assert "another workstation or program" in row["reason"]
    # B's own retention deletes it: B placed it
    assert b.library.get(item).file("broadcast").present  # type: ignore[union-attr]
    with b.store.write() as c:
        c.execute("UPDATE library_files SET verified_at = verified_at - ?", (40 * DAY,))
    assert b.library.apply_retention(30, None, now=time.time()).removed == 1
    assert not Path(path_b).exists()


def test_delete_local_file_leaves_a_file_another_workstation_put_at_the_name(
    desks: tuple[Services, Services], live_hub: LiveHub, clip: Path, share: Path, tmp_path: Path
) -> None:
    a, b = desks
    item = live_hub.publish(clip, title="Accra fuel prices")
    _, _, path_a, _ = _fetch(a, item)
    Path(path_a).rename(tmp_path / "moved.mp4")
    _, state, path_b, _ = _fetch(b, item)
    assert state == "done" and path_b == path_a
    with pytest.raises(LibraryError, match="left in place and removed from this library"):
        a.library.remove_file(item, "broadcast")
    assert Path(path_b).is_file()
    assert a.library.get(item).file("broadcast").state == "removed"  # type: ignore[union-attr]


def test_the_same_item_already_in_the_shared_folder_is_taken_not_copied(
    desks: tuple[Services, Services], live_hub: LiveHub, clip: Path, share: Path
) -> None:
    # B made "NAME (2).mp4", the same bytes beside A's file
    a, b = desks
    item = live_hub.publish(clip, title="Kigali marathon")
    _, _, path_a, _ = _fetch(a, item)
    before = os.stat(path_a)
    _, state, path_b, attempts = _fetch(b, item)
    assert (state, path_b, attempts) == ("done", path_a, 1)
    assert _files(share) == [Path(path_a).name]
    assert os.stat(path_a).st_ino == before.st_ino  # A's file, not replaced
    f = b.library.get(item).file("broadcast")  # type: ignore[union-attr]
    assert f is not None and f.present and str(f.path) == path_a
    # B took it; it is A's to free: B's retention leaves it
    with b.store.write() as c:
        c.execute("UPDATE library_files SET verified_at = verified_at - ?", (40 * DAY,))
    report = b.library.apply_retention(30, None, now=time.time())
    assert report.removed == 0 and len(report.not_ours) == 1
    assert Path(path_a).is_file()


def test_a_download_queued_before_the_other_finished_takes_its_file_at_once(
    desks: tuple[Services, Services], live_hub: LiveHub, clip: Path, share: Path
) -> None:
    # "A file named “025.mp4” is already there; choose another name.": failed for good, the
    # user cannot choose a name for a rule's download
    a, b = desks
    item = live_hub.publish(clip, title="Harare power cuts")
    queue_b = b.make_queue()  # queued, not started: A finishes first
    tid_b = b.download(item, queue=queue_b)
    _, state, path_a, _ = _fetch(a, item)
    assert state == "done"
    queue_b.start()
    try:
        t = queue_b.wait_for(tid_b, timeout=30)
    finally:
        queue_b.stop()
    assert (t.state, t.destination, t.attempts, t.last_error) == ("done", path_a, 1, "")
    assert _files(share) == [Path(path_a).name]


@pytest.mark.parametrize("queued_before", [True, False], ids=["queued-before", "queued-after"])
def test_a_download_waits_for_another_workstations_part_file_then_takes_its_file(
    desks: tuple[Services, Services],
    live_hub: LiveHub,
    clip: Path,
    share: Path,
    queued_before: bool,
) -> None:
    # "A file named “001.mp4.part” is already there and this download did not make it …":
    # failed for good while A was still downloading the same item into the same name (B
    # queued before A's part file was made); or "NAME (2).mp4" made beside it (after)
    a, b = desks
    item = live_hub.publish(clip, title="Dakar port strike")
    queue_a = a.make_queue()
    tid_a = a.download(item, queue=queue_a)
    dest = Path(queue_a.transfers.get(tid_a).destination)  # type: ignore[union-attr]
    part = dest.with_name(dest.name + ".part")
    queue_b = b.make_queue()
    if queued_before:
        tid_b = b.download(item, queue=queue_b)
    # A's download under way: its part file, written to and held (as its engine holds it)
    data = clip.read_bytes()
    fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, data[: len(data) // 2])
        if not queued_before:
            tid_b = b.download(item, queue=queue_b)
        assert queue_b.transfers.get(tid_b).destination == str(dest)  # type: ignore[union-attr]
        queue_b.start()
        try:
            t = queue_b.wait_for(tid_b, timeout=30, states=("done", "failed", "queued"))
            deadline = time.monotonic() + 30
            while t.attempts < 1 and time.monotonic() < deadline:
                time.sleep(0.05)  # (until its first attempt is recorded)
                t = queue_b.transfers.get(tid_b)  # type: ignore[assignment]
            assert t.state == "queued", (t.state, t.last_error)
            assert t.last_error == MSG_PART_BUSY.format(name=part.name)
            # A ends: its verified file in place
            os.write(fd, data[len(data) // 2 :])
            os.rename(part, dest)
        finally:
            os.close(fd)
        try:
            queue_b.retry_now(tid_b)
            t = queue_b.wait_for(tid_b, timeout=30)
        finally:
            queue_b.stop()
    finally:
        queue_a.stop()
    assert (t.state, t.destination) == ("done", str(dest)), t.last_error
    assert _files(share) == [dest.name]
    assert _sha(dest) == hashlib.sha256(data).hexdigest()


def test_another_file_at_the_name_still_gets_a_name_of_its_own(
    desks: tuple[Services, Services], live_hub: LiveHub, clip: Path, share: Path
) -> None:
    a, b = desks
    item = live_hub.publish(clip, title="Lusaka elections")
    queue = a.make_queue()
    dest = Path(queue.transfers.get(a.download(item, queue=queue)).destination)  # type: ignore[union-attr]
    queue.stop()
    dest.write_bytes(b"someone else's clip")
    _, state, path_b, _ = _fetch(b, item)
    assert state == "done" and Path(path_b).name == f"{dest.stem} (2){dest.suffix}"
    assert dest.read_bytes() == b"someone else's clip"


# --- one hot folder watched by several workstations ------------------------------------------------


def test_a_hot_folder_clip_another_workstation_took_mid_upload_is_canceled_quietly(
    desks: tuple[Services, Services], live_hub: LiveHub, tmp_path: Path
) -> None:
    # A sent the clip first and moved it to sent/ while B was still uploading it: B said
    # "The file … is no longer there …; it cannot be uploaded.", an upload_failed in the
    # member's history and an error in the hot folder no retry or cancel cleared
    from alu_hub.media import generate_clip

    _, b = desks
    hot = tmp_path / "nas" / "hot"
    hot.mkdir()
    source = tmp_path / "clip.mp4"
    generate_clip(source, seconds=3.0, width=640, height=360, seed=31)
    queue = b.start_engine(rules=False, media=False)
    queue.set_limits(None, 40_000)  # B's slow uplink: A is done first
    assert b.hot_folders is not None
    b.hot_folders.add_folder(hot, {"language": "en", "country": "GH"}, settle_seconds=0.5)
    clip = hot / "Nairobi_floods.mp4"
    shutil.copyfile(source, clip)
    deadline = time.monotonic() + 30
    urls: list[str] = []
    while not urls:
        assert time.monotonic() < deadline, "the upload did not start"
        time.sleep(0.05)
        ups = [t for t in queue.transfers.all(None, "upload") if t.bytes_done > 0]
        if ups:
            data = queue.transfers.load_checkpoint(ups[0].id)
            urls = [u for u in (data.get("url"), data.get("final")) if isinstance(u, str)]
    (tid,) = [t.id for t in queue.transfers.all(None, "upload")]
    (hot / "sent").mkdir()
    clip.rename(hot / "sent" / clip.name)  # what A's hot folder does once it sent it
    t = queue.wait_for(tid, timeout=30)
    assert (t.state, t.pause_reason) == ("canceled", "taken"), t.last_error
    # no failure anywhere: not in the history, not in the hot folder
    assert not [e.type for e in b.history().list() if e.type.startswith("upload")]
    assert b.store.query("SELECT state, error FROM watch_files") == []
    # what the hub had received is dropped
    session = live_hub.login("ktn", PASSWORD)
    deadline = time.monotonic() + 15
    while session.head(urls[0], headers={"Tus-Resumable": "1.0.0"}, timeout=5).status_code not in (
        404,
        410,
    ):
        assert time.monotonic() < deadline, "the upload was left on the hub"
        time.sleep(0.1)


def test_canceling_a_hot_folder_upload_whose_file_left_clears_its_error(
    desks: tuple[Services, Services], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an upload that failed as "no longer there" (before, or its file moved away meanwhile):
    # `alu queue cancel` left "The upload was canceled." listed for good
    from alu_client.cli import main

    _, b = desks
    hot = tmp_path / "hot"
    hot.mkdir()
    monkeypatch.setenv("ALU_CLIENT_HOME", str(b.paths.data_dir.parent))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    assert main(["watch", "add", str(hot), "--settle", "0.5"]) == 0
    (folder_id,) = [r[0] for r in b.store.query("SELECT id FROM watch_folders")]
    queue = b.make_queue()  # (not started: no engine runs, as when `alu queue cancel` is run)
    gone = hot / "Nairobi_floods.mp4"
    tid = queue.transfers.add(
        "upload",
        str(gone),
        "http://127.0.0.1:9/files/",
        sha256="0" * 64,
        options={"hot_folder": folder_id, "profile": "ktn"},
    )
    message = (
        "The file Nairobi_floods.mp4 is no longer there (moved or deleted); it cannot be uploaded."
    )
    queue.transfers.finish(tid, "failed", error=message)
    with b.store.write() as c:
        c.execute(
            "INSERT INTO watch_files (folder_id, path, size, mtime_ns, sha256, state,"
            " transfer_id, error, at) VALUES (?, ?, 1, 1, ?, 'error', ?, ?, 0)",
            (folder_id, str(gone), "0" * 64, tid, message),
        )
    assert main(["queue", "cancel", str(tid)]) == 0
    b.start_engine(rules=False, media=False)
    assert b.hot_folders is not None
    b.hot_folders.scan_now()
    assert b.store.query("SELECT state, error FROM watch_files") == []
