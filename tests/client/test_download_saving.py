"""A download's checkpoint is saved (fsync, then the progress) on a thread of its own: the
stream that finds a save due goes on reading while the disk flushes. On loopback one stream
spent a third of its time in fsync, reading nothing meanwhile."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from alu_client.core.transfers import download
from alu_client.core.transfers.base import RetryableError, Tuning
from alu_client.core.transfers.download import DownloadSpec, run
from alu_client.core.transfers.download.checkpoint import _CheckpointJob
from tests.client.test_download import MB, FileServer, Job, assert_done, sha


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(
        tmp=tmp_path,
        tuning=Tuning(
            connect_timeout=5,
            stall_timeout=10,
            read_size=64 * 1024,
            checkpoint_every=256 * 1024,
        ),
    )
    yield j
    j.sessions.close()


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer(os.urandom(8 * MB))
    yield srv
    srv.stop()


def test_the_stream_reads_on_while_a_checkpoint_waits_for_the_disk(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first checkpoint's fsync is held (a slow disk) until the download has written
    another 2 MB: a stream that does the fsync itself never gets there."""
    real = os.fsync
    first = threading.Event()
    moved_on = threading.Event()
    at_first: list[int] = []
    released: list[bool] = []
    written = 0

    def slow_fsync(fd: int) -> None:
        if not first.is_set():
            at_first.append(written)
            first.set()
            # released as soon as the stream has written 2 MB more
            released.append(moved_on.wait(10))
        real(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    ctx = job.context()
    meter = ctx.meter

    def metered(n: int) -> None:  # the bytes the streams write, as they write them
        nonlocal written
        written += n
        if at_first and written >= at_first[0] + 2 * MB:
            moved_on.set()
        meter(n)

    ctx.meter = metered
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    result = run(spec, ctx)
    assert released == [True], "the stream waited for the checkpoint's fsync"
    assert_done(result, spec.dest, server.data)


def test_a_checkpoint_the_disk_refuses_ends_the_attempt_and_the_next_resumes(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error from the checkpoint's fsync (a disk going bad, a share dropped) ends the
    attempt as the disk's fault, said in words (not a bare OSError); the next one resumes.

    The order is held, not left to the machine's speed (a loaded machine once made the failing
    fsync the last one, with every byte in): the stream waits at 2 MiB for a good save, and at
    6 MiB for the failed one, which is the first save after the good one."""
    real_fsync, real_write = os.fsync, download._write_at
    size = len(server.data)
    good, failed = threading.Event(), threading.Event()

    def fsync(fd: int) -> None:
        written = os.fstat(fd).st_size
        if good.is_set() and not failed.is_set() and written < size:
            failed.set()
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)
        if 0 < written < size:
            good.set()

    def write_at(fd: int, data: bytes, pos: int, io_lock: threading.Lock) -> None:
        if pos >= 2 * MB:
            assert good.wait(10), "no checkpoint was saved at 1 MiB"
        if pos >= 6 * MB:
            assert failed.wait(10), "no checkpoint was saved after the first"
        real_write(fd, data, pos, io_lock)

    job.tuning.checkpoint_every = 1 * MB
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(download, "_write_at", write_at)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    with pytest.raises(RetryableError) as e:
        job.run(spec)
    assert failed.is_set()
    assert "could not be written to the disk" in e.value.message
    assert not spec.dest.exists()
    kept = job.done_bytes()
    assert 0 < kept < size
    monkeypatch.undo()
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched <= size - kept + 256 * 1024


class _HeldClear(threading.Event):
    """The saver's event, whose second clear() (the first is ``_start_saver``'s own) is held
    until the stop is set: the thread switch that lands a stop as the saver wakes."""

    def __init__(self) -> None:
        super().__init__()
        self.clears = 0
        self.in_clear = threading.Event()
        self.stop: threading.Event | None = None

    def clear(self) -> None:
        self.clears += 1
        if self.clears == 2 and self.stop is not None:
            self.in_clear.set()
            self.stop.wait(5)
        super().clear()


def test_a_stop_landing_as_the_saver_wakes_is_never_missed() -> None:
    saves: list[int] = []
    fake = SimpleNamespace(save_due=_HeldClear(), _save=lambda: saves.append(1))
    saving = _CheckpointJob._start_saver(fake, lambda e: None)  # type: ignore[arg-type]
    fake.save_due.stop = saving[1]
    fake.save_due.set()  # a stream finds a save due (its last block)
    assert fake.save_due.in_clear.wait(5)  # the saver woke
    stopper = threading.Thread(target=_CheckpointJob._stop_saver, args=(fake, saving), daemon=True)
    stopper.start()  # the attempt ends
    stopper.join(5)
    # (it hung: the saver looked at stop, then cleared the stop's wake-up, and waited for ever)
    assert not stopper.is_alive(), "the end of the attempt waits for the saver for ever"


def test_after_a_failed_fsync_no_save_claims_the_bytes_it_lost(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a writeback error once (errseq): the next fsync returns 0 although the
    pages never reached the disk. The final save of the attempt then claims them. Simulated
    here: the bytes past the last good checkpoint are zeroed (what the disk holds after a
    crash) when fsync fails; no sha256 (a plain link): the file was delivered corrupted."""
    real = os.fsync
    calls = 0
    good: list[int] = []

    def failing_once(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            good.append(job.done_bytes())  # what the last successful save claims
            size = os.fstat(fd).st_size
            os.pwrite(fd, b"\0" * (size - good[0]), good[0])  # never reached the disk
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", failing_once)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", segments=1)  # no sha256
    with pytest.raises(RetryableError):
        job.run(spec)
    kept = job.done_bytes()
    monkeypatch.undo()
    result = job.run(spec)
    assert kept <= good[0], "the checkpoint claims bytes whose fsync failed"
    assert_done(result, spec.dest, server.data)
