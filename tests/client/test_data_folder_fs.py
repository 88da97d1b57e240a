"""A data folder on a network share, or on a file system that cannot lock files: refused in
plain words (findings 5 and 6 of the shared-storage review); a download folder there: fine."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from alu_client.core import fstype
from alu_client.core.fstype import UnsuitableDataFolder, mount_fstype
from alu_client.core.lockfile import EngineLock
from alu_client.core.paths import Paths
from alu_client.core.store import Store

MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
25 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
40 22 0:35 / /home rw,relatime shared:20 - nfs4 nas:/export/home rw,vers=4.2
41 40 0:36 / /home/ann/local rw,relatime shared:21 - ext4 /dev/vdb1 rw
42 22 0:37 / /mnt/team\\040share rw,relatime shared:22 - cifs //nas/team rw
43 22 0:38 / /mnt/opt rw - fuse.sshfs ann@host:/ rw
44 22 0:39 / /srv rw - nfs nas:/srv rw
45 22 0:40 / /srv rw - tmpfs tmpfs rw
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/home/ann/.local/share/alu-client", "nfs4"),  # a roaming home
        ("/home", "nfs4"),
        ("/home/ann/local/alu", "ext4"),  # a local disk mounted inside the share
        ("/home/ann/localised", "nfs4"),  # (not inside /home/ann/local)
        ("/mnt/team share/alu", "cifs"),  # a mount point with a space
        ("/mnt/opt/x", "fuse.sshfs"),
        ("/srv/alu", "tmpfs"),  # mounted over: the last mount is the one seen
        ("/var/lib/alu", "ext4"),
    ],
)
def test_the_mount_of_a_folder_is_found_in_mountinfo(path: str, expected: str) -> None:
    assert mount_fstype(Path(path), MOUNTINFO) == expected


def test_network_file_systems_are_told_from_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("Linux reads /proc/self/mountinfo")
    monkeypatch.setattr(fstype, "_linux_fstype", lambda p: mount_fstype(p, MOUNTINFO))
    assert fstype.network_fstype(Path("/home/ann/data")) == "nfs4"
    assert fstype.network_fstype(Path("/mnt/opt/data")) == "fuse.sshfs"
    assert fstype.network_fstype(Path("/home/ann/local/data")) is None
    assert fstype.network_fstype(Path("/var/data")) is None


def test_this_machines_temp_folder_is_local(tmp_path: Path) -> None:
    # the tests' own folders are local: the real mountinfo is read without error
    assert fstype.network_fstype(tmp_path) is None


def _on_a_share(monkeypatch: pytest.MonkeyPatch, kind: str = "nfs4") -> None:
    monkeypatch.setattr(fstype, "network_fstype", lambda _p: kind)


def test_a_library_on_a_network_share_is_refused_before_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_a_share(monkeypatch)
    db = tmp_path / "data" / "library.sqlite3"
    with pytest.raises(UnsuitableDataFolder, match="is on a network share \\(nfs4\\)") as e:
        Store(db)
    assert e.value.why == "network" and e.value.folder == db.parent
    assert not db.exists()  # nothing made or touched there


def test_the_cli_refuses_a_data_folder_on_a_share_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alu_client.cli import main

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    _on_a_share(monkeypatch, "cifs")
    assert main(["queue"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"alu: The data folder {tmp_path / 'home' / 'data'} is on a network")
    assert "(cifs)" in err and "ALU_CLIENT_HOME" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "home" / "data" / "library.sqlite3").exists()


def _no_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """flock() as on NFSv3 mounted nolock: "No locks available"."""
    import fcntl  # (here: POSIX only, and the module is imported on Windows too)

    def nolock(_fd: Any, _op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", nolock)


posix_only = pytest.mark.skipif(os.name == "nt", reason="flock is POSIX")


@posix_only
def test_an_engine_lock_without_file_locks_says_so_not_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it said "Another ALU Desk (process N) is already working", N the last holder, long dead
    lock_path = tmp_path / "data" / "engine.lock"
    EngineLock(lock_path).acquire().release()  # a run once: its pid stays in the file
    _no_locks(monkeypatch)
    with pytest.raises(UnsuitableDataFolder, match="cannot lock files") as e:
        EngineLock(lock_path).acquire(wait=0.2)
    assert e.value.why == "no-locks" and e.value.folder == lock_path.parent
    assert str(os.getpid()) not in str(e.value)


@posix_only
def test_a_cli_engine_without_file_locks_refuses_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alu_client.cli import main

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    assert main(["queue"]) == 0  # the folder made, locks working
    _no_locks(monkeypatch)
    assert main(["fetch", "http://127.0.0.1:9/x", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot lock files" in err and "Another ALU Desk" not in err, err
    assert len(err.splitlines()) == 1, err


@posix_only
def test_alu_get_does_not_follow_an_engine_that_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `alu get` said "the app (or another alu) runs the transfers here; following it." and
    # waited for ever: nothing ran it
    from alu_client.cli.common import Interrupted, _engine_for
    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.services import Services
    from alu_client.core.store.transfers import TransferStore

    root = tmp_path / "home"
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    services = Services(paths, MemorySecrets())
    try:
        tid = TransferStore(services.store).add("download", "http://127.0.0.1:9/x", str(root / "x"))
        _no_locks(monkeypatch)
        interrupted = Interrupted()
        interrupted.set()  # (before the fix: one look, "following it", then "stopped watching")
        with pytest.raises(UnsuitableDataFolder, match="cannot lock files"):
            _engine_for(services, tid, None, interrupted)
    finally:
        services.stop()
        services.store.close()


@posix_only
def test_a_download_folder_without_file_locks_goes_on_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from alu_client.core.transfers.download import job

    monkeypatch.setattr(job, "_NO_LOCKS_SAID", set())
    _no_locks(monkeypatch)
    caplog.set_level(logging.WARNING, logger=job.__name__)
    for name in ("a.part", "b.part"):
        fd = os.open(tmp_path / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            assert job._hold(fd, tmp_path) is True  # downloads to a share are fair
        finally:
            os.close(fd)
    [record] = [r for r in caplog.records if "cannot lock files" in r.getMessage()]
    assert str(tmp_path) in record.getMessage()
