"""The hub's data folder is 0700 and its SQLite database (its -wal and -shm) 0600 when the hub
makes them, whatever the umask: the database holds the key that signs download links and the
password hashes, storage/ the footage, uploads/ and work/ footage not yet published. With the
umask's 0755/0644 any account on the hub's machine could mint download links. A folder the
operator made is left as it is; what is the hub's own in it (the database, storage/, uploads/,
work/) is made private, those of an earlier version too."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from alu_hub.app import build_hub
from alu_hub.models import KeyValue
from alu_hub.publish import ItemFields, publish_file
from alu_hub.settings import Settings

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: ACLs)")


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # a default Linux account's
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _database_files(data: Path) -> list[Path]:
    return [data / "hub.sqlite3", data / "hub.sqlite3-wal", data / "hub.sqlite3-shm"]


def test_a_new_hubs_folder_and_database_are_private(tmp_path: Path, clip: Path) -> None:
    data = tmp_path / "hub"
    hub = build_hub(Settings(data_dir=data))  # (SQLite: the files are what is checked)
    try:
        with hub.db.session() as s:  # the database works: its key is there
            assert s.scalar(select(KeyValue).where(KeyValue.key == "link_key")) is not None
        publish_file(hub, clip, ItemFields(title="Floods"))
        for folder in (data, data / "storage", data / "uploads", data / "work"):
            assert mode(folder) == 0o700, folder
        for f in _database_files(data):
            assert f.is_file() and mode(f) == 0o600, f
    finally:
        hub.db.dispose()


def test_an_earlier_hubs_files_are_made_private_the_operators_folder_is_not(
    tmp_path: Path,
) -> None:
    data = tmp_path / "srv-alu-hub"
    build_hub(Settings(data_dir=data)).db.dispose()
    data.chmod(0o755)  # as an earlier version made it, or the operator (mkdir /srv/alu-hub)
    for sub in ("storage", "uploads"):
        (data / sub).chmod(0o755)
    for f in _database_files(data):
        f.touch()
        f.chmod(0o644)

    build_hub(Settings(data_dir=data)).db.dispose()

    assert mode(data) == 0o755
    for folder in (data / "storage", data / "uploads"):
        assert mode(folder) == 0o700, folder
    assert mode(data / "hub.sqlite3") == 0o600


def test_alu_hub_member_add_makes_a_private_hub(tmp_path: Path) -> None:
    data = tmp_path / "new-hub"
    add = ["member", "add", "ktn", "--country", "KE", "--password-stdin", "--data", str(data)]
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *add],
        input="pa55word1\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "ALU_HUB_DATABASE_URL"},
    )
    assert r.returncode == 0, r.stderr
    assert mode(data) == 0o700
    assert mode(data / "hub.sqlite3") == 0o600
