"""A hot folder is a drop folder others may write (a camera team's share, a NAS): a link dropped
there (or put in a file's place after it was listed) must not publish the file it points to —
a private clip anywhere the user can read — to every member. Links and special files are not
followed: reported once as the folder's problem, and never read, hashed or sent."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alu_client.core.nofollow import NotPlainFile, open_plain
from alu_client.core.store import Store
from alu_client.core.transfers.base import PermanentError
from alu_client.core.transfers.jobs import _upload_spec
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.upload import UploadSpec, run
from alu_client.core.transfers.upload.services import _JobServices
from alu_client.core.watch import HotFolders, WatchFolder
from tests.client.test_upload import Ctx
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need rights")

PROFILE = "agency"
ENDPOINT = "http://127.0.0.1:9/api/v1/uploads/"  # (never reached: refused before)


class Uploads:
    """The service's enqueue_upload: a real (not started) queue, with what it was asked."""

    def __init__(self, store: Store) -> None:
        self.queue = TransferQueue(store)
        self.names: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, path: Path, metadata: dict[str, str], folder: WatchFolder) -> int:
        with self.lock:
            self.names.append(path.name)
        return self.queue.add_upload(
            path, ENDPOINT, metadata, extra={"profile": PROFILE, "hot_folder": folder.id}
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.fixture
def uploads(store: Store) -> Uploads:
    return Uploads(store)


@pytest.fixture
def hot(store: Store, uploads: Uploads) -> Iterator[HotFolders]:
    h = HotFolders(store, PROFILE, uploads, scan_interval=0.05, video_problem=None)
    yield h
    h.stop()


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A clip of the user's own, outside the hot folder, which nobody else may read."""
    (tmp_path / "private").mkdir()
    clip = tmp_path / "private" / "family_video.mp4"
    clip.write_bytes(b"private" * 100)
    clip.chmod(0o600)
    return clip


@pytest.fixture
def hot_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hot"
    d.mkdir()
    return d


def scan_until(hot: HotFolders, cond: Callable[[], bool], what: str) -> None:
    wait_until(lambda: (hot.scan_now(), cond())[1], timeout=5, what=what)


def test_a_link_dropped_in_a_hot_folder_is_not_sent_and_is_said_once(
    hot: HotFolders,
    uploads: Uploads,
    hot_dir: Path,
    private: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = hot.add_folder(hot_dir, settle_seconds=0)
    (hot_dir / "dropped.mp4").symlink_to(private)
    (hot_dir / "elsewhere").symlink_to(private.parent, target_is_directory=True)
    os.mkfifo(hot_dir / "pipe.mp4")  # (read, it would block the scan until a writer came)
    (hot_dir / "real.mp4").write_bytes(b"r" * 100)
    with caplog.at_level(logging.WARNING, logger="alu_client"):
        scan_until(hot, lambda: uploads.names == ["real.mp4"], what="the real file taken")
        for _ in range(5):
            hot.scan_now()
    assert uploads.names == ["real.mp4"]
    assert [f.path.name for f in hot.files(folder.id)] == ["real.mp4"]
    problems = hot.problems[folder.id].splitlines()
    assert len(problems) == 2, problems  # (a link to a folder is a folder: never looked into)
    for name in ("dropped.mp4", "pipe.mp4"):
        [line] = [p for p in problems if p.startswith(name + " ")]
        assert "is a link" in line and "links are not followed" in line
        assert "Put the file itself in the folder." in line
        assert sum(line in r.getMessage() for r in caplog.records) == 1  # said once
    assert (hot_dir / "dropped.mp4").is_symlink()  # left where it is, not moved to sent/
    assert not (hot_dir / "sent" / "dropped.mp4").exists()

    (hot_dir / "dropped.mp4").unlink()  # taken away: the problem goes with it
    (hot_dir / "elsewhere").unlink()
    (hot_dir / "pipe.mp4").unlink()
    hot.scan_now()
    assert folder.id not in hot.problems


def test_a_sent_folder_that_is_a_link_is_no_problem(
    hot: HotFolders, uploads: Uploads, hot_dir: Path, tmp_path: Path
) -> None:
    # the sent folder kept on an archive disk (a link to it): "sent … is a link … not sent.
    # Put the file itself in the folder", for ever, though files went there as they should
    archive = tmp_path / "archive"
    archive.mkdir()
    (hot_dir / "sent").symlink_to(archive, target_is_directory=True)
    folder = hot.add_folder(hot_dir, settle_seconds=0)
    (hot_dir / "real.mp4").write_bytes(b"r" * 100)
    scan_until(hot, lambda: uploads.names == ["real.mp4"], what="the real file taken")
    for _ in range(3):
        hot.scan_now()
    assert folder.id not in hot.problems, hot.problems.get(folder.id)


def test_a_sidecar_that_is_a_link_is_not_read(
    hot: HotFolders, uploads: Uploads, hot_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "private.json"
    secret.write_text('{"title": "Private notes of the user"}', encoding="utf-8")
    folder = hot.add_folder(hot_dir, settle_seconds=0)
    (hot_dir / "clip.mp4").write_bytes(b"c" * 100)
    (hot_dir / "clip.json").symlink_to(secret)
    scan_until(hot, lambda: bool(hot.files(folder.id)), what="the clip's row")
    [row] = hot.files(folder.id)
    assert row.state == "error"
    assert row.error == (
        "The sidecar clip.json cannot be read: it is a link or a special file, which is not"
        " followed."
    )
    assert uploads.names == []


def test_a_file_replaced_by_a_link_is_not_opened_through_it(tmp_path: Path, private: Path) -> None:
    # the scan listed a file; by the time it is read (hashed, sent) a link is in its place
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"mine")
    with open_plain(path) as f:
        assert f.read() == b"mine"
    path.unlink()
    path.symlink_to(private)
    with pytest.raises(NotPlainFile) as refused:
        open_plain(path)
    assert refused.value.filename == str(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(NotPlainFile):
        open_plain(path)  # at once: no writer is waited for


def test_a_hot_folders_upload_replaced_by_a_link_fails_for_good_and_says_why(
    tmp_path: Path, private: Path, new_ctx: Callable[..., Ctx], store: Store
) -> None:
    link = tmp_path / "clip.mp4"
    link.symlink_to(private)
    q = TransferQueue(store)
    hot_id = q.add_upload(link, ENDPOINT, {}, extra={"hot_folder": 1})
    own_id = q.add_upload(link, ENDPOINT, {})  # `alu upload` of a link the user chose
    hot_spec = _upload_spec(q.transfers.get(hot_id))  # type: ignore[arg-type]
    assert hot_spec.no_follow
    assert not _upload_spec(q.transfers.get(own_id)).no_follow  # type: ignore[arg-type]
    said = (
        "The file clip.mp4 was replaced by a link (a shortcut to a file elsewhere) after it was"
        " taken from the hot folder: links are not followed, so it was not uploaded. Put the"
        " file itself in the folder."
    )
    with pytest.raises(PermanentError) as at_start:
        run(hot_spec, new_ctx().ctx)
    assert at_start.value.message == said
    # a link put in its place once the upload has looked at the file: not opened either
    job = _JobServices(hot_spec, new_ctx().ctx, checksum_preference=())
    try:
        with pytest.raises(PermanentError) as at_open:
            job.open_source()
        assert at_open.value.message == said
        own = _JobServices(UploadSpec(link, ENDPOINT, {}), new_ctx().ctx, checksum_preference=())
        with own.open_source() as f:  # the user's own choice still goes where it points
            assert f.read(7) == b"private"
        own.close()
    finally:
        job.close()
