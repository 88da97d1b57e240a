"""The data, cache and log folders are 0700 and the library (its -wal, -shm and copies) 0600,
whatever the umask: the library keeps signed links and tus upload URLs (secrets), embargoed
scripts and the history, and with the umask's 0755/0644 any other account of a shared newsroom
PC read them. Folders and files made by an earlier version are tightened at start, but never a
folder of the user's (the ALU_CLIENT_HOME folder, one holding other things)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.cli import main
from alu_client.core.paths import Paths, default_paths
from alu_client.core.private import private_files
from alu_client.core.store import Store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: profile ACLs)")


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # a default Linux/macOS account's
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_a_row(db: Path) -> Store:
    store = Store(db)
    with store.write() as conn:  # (WAL: the -wal and -shm files are made)
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute("INSERT INTO t VALUES ('https://hub/files/1?X-Amz-Signature=SECRET')")
    return store


def _library_files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def test_new_folders_and_library_are_private(tmp_path: Path) -> None:
    home = tmp_path / "desk"
    paths = default_paths({"ALU_CLIENT_HOME": str(home)}).ensure()
    store = _write_a_row(paths.db_path)
    try:
        for folder in (paths.data_dir, paths.cache_dir, paths.log_dir):
            assert mode(folder) == 0o700, folder
        for f in _library_files(paths.db_path):
            assert f.is_file() and mode(f) == 0o600, f
    finally:
        store.close()
    assert mode(home) == 0o755  # the user's folder: its modes are the umask's


def test_folders_and_library_of_an_earlier_version_are_tightened(tmp_path: Path) -> None:
    home = tmp_path / "desk"
    for name in ("data", "cache", "logs", "downloads"):
        (home / name).mkdir(parents=True)
    db = home / "data" / "library.sqlite3"
    Store(db).close()
    for f in [*_library_files(db), db.with_name("library.sqlite3.bak-v3")]:
        f.touch()
        f.chmod(0o644)

    paths = default_paths({"ALU_CLIENT_HOME": str(home)}).ensure()
    Store(paths.db_path).close()

    for folder in (paths.data_dir, paths.cache_dir, paths.log_dir):
        assert mode(folder) == 0o700, folder
    for f in [db, db.with_name("library.sqlite3.bak-v3")]:
        assert mode(f) == 0o600, f
    assert mode(home / "downloads") == 0o755  # the user's footage: left as it is


def test_the_platform_folders_are_always_ours(tmp_path: Path) -> None:
    old = [tmp_path / "share" / "alu-client", tmp_path / "cache" / "alu-client"]
    for folder in old:
        folder.mkdir(parents=True, mode=0o755)
    paths = Paths(old[0], old[1], tmp_path / "state" / "alu-client" / "log", tmp_path / "Videos")
    paths.ensure()
    for folder in (*old, paths.log_dir):
        assert mode(folder) == 0o700, folder
    assert mode(tmp_path / "state") == 0o755  # (a parent made on the way: not ours to decide)


def test_a_home_folder_holding_other_things_keeps_its_folders_modes(tmp_path: Path) -> None:
    """ALU_CLIENT_HOME=~ (or a shared disk): its data and logs may be the user's own, shared on
    purpose. Left as they are; the library's files, ALU Desk's wherever they are, made private,
    and a folder made now is private."""
    home = tmp_path / "user"
    (home / "data").mkdir(parents=True)
    (home / "logs").mkdir()
    (home / "thesis.odt").write_text("mine")
    paths = default_paths({"ALU_CLIENT_HOME": str(home)}).ensure()
    _write_a_row(paths.db_path).close()

    assert mode(home / "data") == 0o755
    assert mode(home / "logs") == 0o755
    assert mode(home / "cache") == 0o700  # made now
    assert mode(paths.db_path) == 0o600


def test_the_copy_kept_before_an_update_is_private(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    Store(db).close()
    copy = db.with_name("library.sqlite3.bak-v5")
    assert copy.is_file() and mode(copy) == 0o600


def test_a_library_file_that_cannot_be_tightened_still_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another account's file (chmod refused): a warning in the log, the library opens."""
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    db.chmod(0o644)
    real = os.chmod

    def refused(path: object, *args: object, **kwargs: object) -> None:
        if Path(str(path)) == db:
            raise PermissionError(1, "Operation not permitted")
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "chmod", refused)
        Store(db).close()
    assert mode(db) == 0o644
    assert f"cannot make {db} private (Operation not permitted): other accounts" in caplog.text


def test_the_cli_makes_private_folders_and_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "desk"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    assert main(["queue", "list"]) == 0
    capsys.readouterr()
    paths = default_paths()
    assert mode(paths.data_dir) == 0o700
    assert mode(paths.db_path) == 0o600


def test_only_our_own_files_are_tightened_never_what_a_link_names(tmp_path: Path) -> None:
    # chmod follows links: a link at a journal's name made its target private instead (a
    # library path reaching /dev/null left it 0600 for every program of the machine)
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's", encoding="utf-8")
    outside.chmod(0o644)
    data = tmp_path / "home" / "data"
    data.mkdir(parents=True)
    (data / "library.sqlite3.bak-v3").symlink_to(outside)  # (a name SQLite never opens)
    Store(data / "library.sqlite3").close()
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    link = tmp_path / "link-to-outside"
    link.symlink_to(outside)
    private_files([link])
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
