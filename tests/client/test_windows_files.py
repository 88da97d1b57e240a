"""Files on Windows, on Linux: each Windows behaviour given to one call exactly as CPython
raises it there (errno from PC/errmap.h, ``winerror`` kept; ``sys.platform`` patched where the
code asks it), everything else real. Passing faults of a USB disk, a card reader, an SMB share
or another program holding a file (an antivirus, OneDrive, the indexer, the editor that
exported a clip) are waited out, never a reason to fail a transfer for good."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core import oserrors, safe_names
from alu_client.core.transfers import download as dl
from alu_client.core.transfers.base import DiskFullError, PermanentError, RetryableError
from alu_client.core.transfers.download import DownloadSpec, protocol, verify
from alu_client.core.transfers.download.protocol import _disk_error
from tests.client.test_download import (
    FileServer,
    Job,
    assert_done,
    job,
    part_of,
    server,
    sha,
)

__all__ = ["job", "server"]  # (fixtures)

MB = 1024 * 1024
IN_USE = "The process cannot access the file because it is being used by another process"


def windows_error(
    err: int, text: str, winerror: int, cls: type[OSError] = OSError, path: str = "x"
) -> OSError:
    """``cls(err, text, path)`` with ``winerror`` set, as CPython raises it on Windows (on
    Linux the constructor ignores a fourth argument for it)."""
    e = cls(err, text, path)
    e.winerror = winerror  # type: ignore[misc]
    return e


# --- 1: an OS error read by its Windows code ---------------------------------------------------

PASSING = [
    (21, "The device is not ready", errno.EACCES),
    (23, "Data error (cyclic redundancy check)", errno.EACCES),
    (31, "A device attached to the system is not functioning", errno.EACCES),
    (32, IN_USE, errno.EACCES),
    (33, "Another process has locked a portion of the file", errno.EACCES),
    (53, "The network path was not found", errno.ENOENT),
    (59, "An unexpected network error occurred", errno.EINVAL),
    (64, "The specified network name is no longer available", errno.EINVAL),
    (121, "The semaphore timeout period has expired", errno.EINVAL),
    (1117, "The request could not be performed because of an I/O device error", errno.EINVAL),
    (1231, "The network location cannot be reached", errno.EINVAL),
]


@pytest.mark.parametrize(("code", "text", "err"), PASSING)
def test_passing_windows_faults_are_retried(code: int, text: str, err: int) -> None:
    out = _disk_error(windows_error(err, text, code))
    assert type(out) is RetryableError
    assert out.message == f"The file could not be written to the disk ({text}); trying again."


@pytest.mark.parametrize("code", [39, 112])
def test_a_full_windows_disk_is_waited_for(code: int) -> None:
    # ERROR_HANDLE_DISK_FULL reads EINVAL: it failed for good, "choose another folder"
    err = errno.EINVAL if code == 39 else errno.ENOSPC
    out = _disk_error(windows_error(err, "The disk is full", code))
    assert type(out) is DiskFullError and out.message == protocol.MSG_DISK_FULL


def test_a_file_too_large_for_a_fat32_disk_on_windows_says_so() -> None:
    out = _disk_error(windows_error(errno.EINVAL, "The file size exceeds the limit", 223))
    assert type(out) is PermanentError and out.message == protocol.MSG_TOO_BIG_FOR_DISK


@pytest.mark.parametrize(
    ("e", "kind"),
    [
        (OSError(errno.EACCES, "Permission denied"), PermanentError),
        (OSError(errno.EROFS, "Read-only file system"), PermanentError),
        (OSError(errno.EINVAL, "Invalid argument"), PermanentError),
        (OSError(errno.ENOSPC, "No space left on device"), DiskFullError),
        (OSError(errno.EFBIG, "File too large"), PermanentError),
        (OSError(errno.EIO, "Input/output error"), RetryableError),
        (windows_error(errno.EACCES, "Access is denied", 5), PermanentError),
        (windows_error(errno.EACCES, "Network access is denied", 65), PermanentError),
    ],
)
def test_other_errors_read_as_before(e: OSError, kind: type[BaseException]) -> None:
    assert type(_disk_error(e)) is kind


def test_a_share_that_drops_for_a_moment_mid_download_resumes(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the SMB session to the download share dropped (WinError 64, read EINVAL): the download
    # failed for good, "The file cannot be saved there …; choose another folder or name."
    calls = 0
    real = dl._write_at

    def dropped_once(fd: int, data: bytes, pos: int, lock: threading.Lock) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise windows_error(
                errno.EINVAL, "The specified network name is no longer available", 64
            )
        real(fd, data, pos, lock)

    monkeypatch.setattr(dl, "_write_at", dropped_once)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    with pytest.raises(RetryableError, match="no longer available"):
        job.run(spec)
    kept = job.done_bytes()
    assert kept > 0
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == len(server.data) - kept


def test_the_helper_reads_posix_errors_by_errno_alone() -> None:
    assert oserrors.winerror(OSError(errno.EIO, "x")) is None
    assert not oserrors.is_passing(OSError(errno.EACCES, "x"))
    assert not oserrors.is_in_use(PermissionError(errno.EACCES, "x"))
    assert oserrors.is_disk_full(OSError(errno.ENOSPC, "x"))
    assert oserrors.is_in_use(windows_error(errno.EACCES, IN_USE, 32))


# --- 2: the final rename, refused while another program holds the new file ---------------------


def refuse_rename(
    monkeypatch: pytest.MonkeyPatch, times: int, code: int = 32
) -> list[tuple[str, str]]:
    """``os.replace`` in verify.py refused ``times`` times as Windows refuses it while an
    antivirus, OneDrive or the indexer holds the file; the calls made are returned."""
    calls: list[tuple[str, str]] = []
    real = os.replace

    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        if len(calls) <= times:
            text = "Access is denied" if code == oserrors.WIN_ACCESS_DENIED else IN_USE
            raise windows_error(errno.EACCES, text, code, PermissionError, os.fspath(src))
        real(src, dst)

    monkeypatch.setattr(verify.os, "replace", replace)
    monkeypatch.setattr(verify, "_RENAME_WAITS", (0.01, 0.01, 0.01), raising=False)
    return calls


@pytest.mark.parametrize("code", [5, 32])
def test_a_held_file_is_renamed_once_it_is_let_go(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    # (an antivirus scanning the new file gives access denied for a moment too)
    calls = refuse_rename(monkeypatch, 2, code)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert len(calls) == 3


@pytest.mark.parametrize("code", [32, 33])
def test_a_file_held_for_longer_stays_queued_and_is_not_fetched_again(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    # a verified download failed for good ("The download folder cannot be written to (The
    # process cannot access the file …)") and someone had to press Retry
    calls = refuse_rename(monkeypatch, 4, code)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    with pytest.raises(RetryableError) as e:
        job.run(spec)
    assert e.value.message == protocol.MSG_PLACE_BUSY
    assert len(calls) == 4  # tried, then waited and tried again
    assert part_of(spec.dest).exists() and not spec.dest.exists()
    fetched = len(server.requests)
    result = job.run(spec)  # the next try: the part is checked again and put in place
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == 0 and len(server.requests) == fetched


def test_access_denied_that_lasts_fails_as_before_and_retry_fetches_nothing(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ERROR_ACCESS_DENIED that does not pass (a drop share whose ACL lets a file be written
    # but not renamed, a read-only file of that name put there): it was taken for a file held
    # open, and retried for ever - each try ~5 s of a download slot and the whole file hashed
    # again - saying "another program keeps it open"
    calls = refuse_rename(monkeypatch, 4, oserrors.WIN_ACCESS_DENIED)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    with pytest.raises(PermanentError) as e:
        job.run(spec)
    assert e.value.message == "The download folder cannot be written to (Access is denied)."
    assert len(calls) == 4  # the short waits first: an antivirus's scan passes
    assert part_of(spec.dest).exists() and not spec.dest.exists()
    fetched = len(server.requests)
    result = job.run(spec)  # Retry once the folder is mended: the part, checked, put in place
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == 0 and len(server.requests) == fetched


def test_a_refused_rename_without_a_windows_code_is_as_before(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(src))

    monkeypatch.setattr(verify.os, "replace", replace)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    with pytest.raises(PermanentError, match="cannot be written to"):
        job.run(spec)


# --- 4: paths past MAX_PATH on Windows without long paths ---------------------------------------

TITLE = (
    "Sahel: regional leaders meet in Niamey to discuss security cooperation and the "
    "humanitarian situation in the tri-border area, with reactions from Bamako, Ouagadougou "
    "and Abuja (full report).mp4"
)


@pytest.fixture
def windows_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows, long paths not enabled (the default)."""
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(safe_names, "_long_paths_enabled", lambda: False, raising=False)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder of a short absolute path, for ``deep_folder``: pytest's own grow with its run
    number, and "/tmp/pytest-of-root/pytest-1041/test_a_long_name_is_cut_to_fit0" is already
    the 64 characters a test asks its folder's path to be."""
    folder = Path(tempfile.mkdtemp(prefix="alu-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def deep_folder(root: Path, length: int) -> Path:
    """A folder under ``root`` whose absolute path is ``length`` characters long."""
    assert len(str(root)) + 2 <= length, f"{root} is too long for a path of {length}"
    folder = root / ("d" * (length - len(str(root)) - 1))
    folder.mkdir(parents=True)
    return folder


def test_a_long_name_is_cut_to_fit_windows_max_path(short_tmp: Path, windows_paths: None) -> None:
    # "\\newsroom-nas\Ingest\ALU Africa Link Union\Downloads\2026-12-06" (64) and a long title:
    # the part file's path was 263 characters, and the download was retried for ever ("The
    # system cannot find the path specified")
    folder = deep_folder(short_tmp, 64)
    first = safe_names.unique_path(folder, TITLE)
    assert first.suffix == ".mp4" and first.name.startswith("Sahel_ regional leaders")
    assert safe_names.path_units(str(first) + ".part") == 259
    first.write_bytes(b"")
    second = safe_names.unique_path(folder, TITLE)
    assert second.name.endswith(" (2).mp4")
    assert safe_names.path_units(str(second) + ".part") == 259
    assert second.name[: len(second.name) - 8] == first.name[: len(second.name) - 8]


def test_names_are_not_cut_elsewhere(short_tmp: Path) -> None:
    folder = deep_folder(short_tmp, 64)
    assert safe_names.unique_path(folder, TITLE).name == safe_names.safe_filename(TITLE)


def test_an_emoji_counts_two_towards_max_path(short_tmp: Path, windows_paths: None) -> None:
    folder = deep_folder(short_tmp, 170)
    path = safe_names.unique_path(folder, "🎥" * 100 + ".mp4")
    assert path.name == "🎥" * 39 + ".mp4"
    assert safe_names.path_units(str(path) + ".part") in (258, 259)  # (an emoji is not split)


def test_a_download_to_a_folder_too_long_for_windows_fails_and_says_so(
    server: FileServer, job: Job, windows_paths: None, short_tmp: Path
) -> None:
    folder = deep_folder(short_tmp, 250)
    spec = DownloadSpec(server.url, folder / "clip.mp4")
    with pytest.raises(PermanentError) as e:
        job.run(spec)
    assert e.value.message == protocol.MSG_FOLDER_TOO_LONG
    assert server.requests == []


def test_a_download_named_too_long_for_windows_fails_and_says_so(
    server: FileServer, job: Job, windows_paths: None, short_tmp: Path
) -> None:
    folder = deep_folder(short_tmp, 64)
    spec = DownloadSpec(server.url, folder / safe_names.safe_filename(TITLE))
    with pytest.raises(PermanentError) as e:
        job.run(spec)
    assert e.value.message == protocol.MSG_PATH_TOO_LONG


# --- 5: no pre-size on Windows -----------------------------------------------------------------


def test_a_segmented_download_on_windows_writes_no_zeros_first(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' os.ftruncate is the CRT's _chsize_s: growing the part file wrote its whole size
    # as zeros, 4 KiB at a time, before the first byte was fetched
    from alu_client.core.transfers.download import job as job_module

    grown: list[int] = []
    real = os.ftruncate

    def ftruncate(fd: int, length: int) -> None:
        if length > os.fstat(fd).st_size:
            grown.append(length)
        real(fd, length)

    monkeypatch.setattr(job_module.os, "ftruncate", ftruncate)
    monkeypatch.setattr(sys, "platform", "win32")
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=4)
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert grown == []
    assert len({r.get("range") for r in server.requests}) > 2  # (segmented indeed)


# --- 6: the engine lock, held, on Windows ---------------------------------------------------------


def test_a_held_engine_lock_whose_byte_cannot_be_read_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows: msvcrt.locking locks the byte for every other handle, so reading who holds it
    # raised PermissionError (ERROR_LOCK_VIOLATION), not the EngineBusy callers catch: "the
    # folders cannot be written" instead of "Another ALU Desk is already working…"
    from alu_client.core import lockfile

    path = tmp_path / "engine.lock"
    path.write_text("4242", encoding="utf-8")

    def held(_f: object) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    real_open = open

    class Locked:
        """The lock's file as another handle sees it on Windows while the lock is held."""

        def __init__(self, *a: object, **k: object) -> None:
            self.f = real_open(*a, **k)  # type: ignore[call-overload]

        def seek(self, *a: object) -> int:
            return int(self.f.seek(*a))

        def read(self, *a: object) -> str:
            raise windows_error(errno.EACCES, "Another process has locked a portion", 33)

        def close(self) -> None:
            self.f.close()

    monkeypatch.setattr(lockfile, "_lock", held)
    monkeypatch.setattr(lockfile, "open", Locked, raising=False)
    with pytest.raises(lockfile.EngineBusy) as e:
        lockfile.EngineLock(path).acquire()
    assert e.value.pid is None
    assert str(e.value).startswith("Another ALU Desk, or alu watch run (process ?), is already")
