"""Room on the download folder's disk, and a part file another download is writing.

A file larger than the whole disk fails at once, for good (a 50 MB file to a 20 MB tmpfs
waited "for space" for ever, its part file filling the disk); a disk merely full waits, and
says how much more room the file needs. A second download to a name another download (from
another data folder) is writing waits for it, and ends with "already there" once it is done."""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from alu_client.core.transfers import download as dl
from alu_client.core.transfers.base import DiskFullError, PermanentError, RetryableError
from alu_client.core.transfers.download import DownloadSpec, run
from alu_client.core.transfers.download.room import size_words
from tests.client.test_download import Job, assert_done, part_of
from tests.client.test_download_odd_servers import Answer, Server, job, ranged, served
from tests.support.waiting import wait_until

__all__ = ["job", "served"]  # (fixtures)

pytestmark = pytest.mark.timeout(60)

MB = 1024 * 1024
LARGER = "is larger than the whole disk that holds its folder"


class FakeDisk:
    """``os.statvfs`` of the folders under ``root`` as a disk of ``total`` bytes with ``free``
    of them free (any other path: the real one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, total: int, free: int) -> None:
        self.root, self.total, self.free = root, total, free
        self.real = os.statvfs
        monkeypatch.setattr(os, "statvfs", self.statvfs)

    def statvfs(self, path: os.PathLike[str] | str | int) -> os.statvfs_result:
        if isinstance(path, int) or not Path(path).is_relative_to(self.root):
            return self.real(path)
        block = 4096
        blocks, free = self.total // block, self.free // block
        return os.statvfs_result((block, block, blocks, free, free, 1000, 1000, 1000, 0, 255))


def file_server(served: Callable[..., Server], data: bytes) -> Server:
    return served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))


def test_a_file_larger_than_the_whole_disk_fails_at_the_first_answer(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(1).randbytes(3 * MB)
    server = file_server(served, data)
    FakeDisk(monkeypatch, job.tmp, total=2_048_000, free=1_500_000)
    dest = job.tmp / "f.bin"
    with pytest.raises(PermanentError) as e:  # the size known from the answer alone
        run(DownloadSpec(f"{server.url}/f.bin", dest, segments=1), job.context())
    assert e.value.message == (
        "“f.bin” (4 MB) is larger than the whole disk that holds its folder (2 MB in all): no "
        "freeing of space can make room for it; choose a folder on another disk."
    )
    assert len(server.seen) == 1  # one answer, nothing asked again
    assert not part_of(dest).exists() and not dest.exists()  # nothing left filling the disk


def test_a_file_larger_than_the_whole_disk_by_its_items_size_is_not_asked_for(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(2).randbytes(3 * MB)
    server = file_server(served, data)
    FakeDisk(monkeypatch, job.tmp, total=2_000_000, free=2_000_000)
    dest = job.tmp / "f.bin"
    with pytest.raises(PermanentError, match=LARGER):
        run(DownloadSpec(f"{server.url}/f.bin", dest, size=len(data)), job.context())
    assert server.seen == []
    assert not part_of(dest).exists()


def _full_after(monkeypatch: pytest.MonkeyPatch, writes: int, then: Callable[[], None]) -> None:
    """The part file's writes find the disk full after ``writes`` of them (``then`` first)."""
    calls = 0
    real = dl._write_at

    def write(fd: int, data: bytes, pos: int, lock: threading.Lock) -> None:
        nonlocal calls
        calls += 1
        if calls > writes:
            then()
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data, pos, lock)

    monkeypatch.setattr(dl, "_write_at", write)


def test_a_full_disk_says_how_much_more_room_the_file_needs_and_waits(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(3).randbytes(3 * MB)
    server = file_server(served, data)
    disk = FakeDisk(monkeypatch, job.tmp, total=10**9, free=10**9)
    _full_after(monkeypatch, 3, then=lambda: setattr(disk, "free", 4096))
    dest = job.tmp / "f.bin"
    spec = DownloadSpec(f"{server.url}/f.bin", dest, segments=1)
    with pytest.raises(DiskFullError) as e:  # waited for (the queue pauses it), not failed
        run(spec, job.context())
    kept = job.done_bytes()
    assert 0 < kept < len(data)
    more = size_words(len(data) - kept - 4096, up=True)
    assert e.value.message == (
        f"The disk is full: “f.bin” needs {more} more; the download will continue when that "
        "much space is freed."
    )
    monkeypatch.undo()  # room was made
    assert_done(run(spec, job.context()), dest, data)


def test_a_disk_found_smaller_than_the_file_when_full_fails_for_good(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the disk said more room at the first answer than it had when it filled (a share resized,
    # another volume mounted over the folder): said when the write fails, the part file gone
    data = random.Random(4).randbytes(3 * MB)
    server = file_server(served, data)
    disk = FakeDisk(monkeypatch, job.tmp, total=10**9, free=10**9)
    _full_after(monkeypatch, 3, then=lambda: setattr(disk, "total", MB))
    dest = job.tmp / "f.bin"
    with pytest.raises(PermanentError, match=LARGER):
        run(DownloadSpec(f"{server.url}/f.bin", dest, segments=1), job.context())
    assert not part_of(dest).exists()


def test_sizes_read_in_mb_or_gb_never_smaller_than_they_are() -> None:
    assert size_words(52_428_800, up=True) == "53 MB"
    assert size_words(20_971_520, up=False) == "20 MB"
    assert size_words(1, up=True) == "1 MB"
    assert size_words(4_700_000_001, up=True) == "4.8 GB"
    assert size_words(1_000_000_000_000, up=False) == "1,000.0 GB"


# --- a real small disk (a tmpfs) -------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, as `mount -t tmpfs -o size=2m` gives one."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux; the fake statvfs tests cover the rest")
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs could be mounted here (a container?): {mounted.stderr!r}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_a_file_larger_than_a_real_small_disk_fails_at_once(
    served: Callable[..., Server], job: Job, small_disk: Path
) -> None:
    data = random.Random(5).randbytes(5 * MB)
    server = file_server(served, data)
    dest = small_disk / "f.bin"
    with pytest.raises(PermanentError, match=r"“f.bin” \(6 MB\) " + LARGER + r" \(2 MB in all\)"):
        run(DownloadSpec(f"{server.url}/f.bin", dest), job.context())
    assert os.listdir(small_disk) == []  # nothing fills it


def test_a_real_full_disk_waits_and_the_download_ends_once_room_is_made(
    served: Callable[..., Server], job: Job, small_disk: Path
) -> None:
    data = random.Random(6).randbytes(MB)
    server = file_server(served, data)
    filler = small_disk / "other.bin"
    filler.write_bytes(bytes(int(1.5 * MB)))
    dest = small_disk / "f.bin"
    spec = DownloadSpec(f"{server.url}/f.bin", dest, segments=1)
    with pytest.raises(DiskFullError, match=re.escape("The disk is full: “f.bin” needs 1 MB more")):
        run(spec, job.context())
    filler.unlink()
    assert_done(run(spec, job.context()), dest, data)
    assert shutil.disk_usage(small_disk).total < 3 * MB


# --- a part file another download is writing -------------------------------------------------


def _held_answer(
    data: bytes, release: threading.Event
) -> Callable[[BaseHTTPRequestHandler], Answer]:
    """The whole file in one answer: its first half, then the rest once ``release`` is set."""

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        h.send_response(200)
        h.send_header("ETag", '"v1"')
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        release.wait(30)
        h.wfile.write(data[len(data) // 2 :])
        h.wfile.flush()
        h.close_connection = True
        raise ConnectionAbortedError  # (all is sent: the handler ends quietly)

    return answer


@pytest.mark.skipif(sys.platform == "win32", reason="the part file's lock is POSIX's flock")
def test_a_second_download_to_a_name_another_is_writing_waits_then_finds_it_there(
    served: Callable[..., Server], job: Job
) -> None:
    # `alu fetch URL same.bin` from two data folders: the second was refused for good, told to
    # move away the part file the first was writing into at that very moment
    data = random.Random(7).randbytes(2 * MB)
    release = threading.Event()
    server = served(_held_answer(data, release))
    dest = job.tmp / "same.bin"
    spec = DownloadSpec(f"{server.url}/same.bin", dest, segments=1)
    first: list[object] = []
    second = Job(tmp=job.tmp, tuning=job.tuning)  # another data folder's transfer
    running = threading.Thread(target=lambda: first.append(run(spec, job.context())))
    running.start()
    try:
        wait_until(lambda: part_of(dest).exists() and part_of(dest).stat().st_size > 0)
        with pytest.raises(
            RetryableError, match=re.escape("Another download is writing “same.bin.part”")
        ):
            run(spec, second.context())
        assert len(server.seen) == 1  # the second asked for nothing
    finally:
        release.set()
        running.join(30)
    assert first and dest.read_bytes() == data
    with pytest.raises(PermanentError, match=re.escape("“same.bin” is already there")):
        run(spec, second.context())  # its next try ends: no loop
    assert dest.read_bytes() == data
    second.sessions.close()
