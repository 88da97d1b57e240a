"""A data folder on a path too long for SQLite (about 490 bytes with the library's side files:
a deep share, long non-Latin folder names) is said as such, not as a library that "cannot be
used now … check the folder and its disk" while `alu doctor` found it intact."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alu_client.core.store import path_too_long
from alu_client.core.store.problems import USABLE_PATH

OPEN_FAILED = sqlite3.OperationalError("unable to open database file")


def long_folder(base: Path, total: int) -> Path:
    """A folder under ``base`` whose path is ``total`` bytes long (Arabic names: 2 bytes a
    letter, as a newsroom's own folder names are)."""
    folder = base
    while len(os.fsencode(folder)) < total - 120:
        folder = folder / ("نشرة" * 12)  # 96 bytes a name
    folder = folder / ("x" * (total - len(os.fsencode(folder)) - 1))
    assert len(os.fsencode(folder)) == total
    return folder


def test_a_path_too_long_is_named_with_its_length(tmp_path: Path) -> None:
    home = long_folder(tmp_path, 500)
    home.mkdir(parents=True)
    r = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", "queue", "list"],
        env={**os.environ, "ALU_CLIENT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    length = 500 + len("/data/library.sqlite3")
    assert r.stderr.startswith(
        f"alu: the data folder's path is too long for the library's database ({length} bytes"
    ), r.stderr
    assert "ALU_CLIENT_HOME" in r.stderr and "Traceback" not in r.stderr
    # "Nothing in it was changed": data/, cache/, logs/ and an empty library.sqlite3 were
    # made there before the refusal (opened later as a new, empty library)
    assert r.stderr.rstrip().endswith("Nothing in it was changed.")
    assert list(home.iterdir()) == []


def test_only_a_long_path_is_taken_for_the_cause(tmp_path: Path) -> None:
    long_db = long_folder(tmp_path, USABLE_PATH + 1) / "library.sqlite3"
    assert path_too_long(long_db, OPEN_FAILED) == len(os.fsencode(long_db))
    short_db = tmp_path / "library.sqlite3"
    assert path_too_long(short_db, OPEN_FAILED) is None  # (a folder gone, say)
    assert path_too_long(long_db, sqlite3.OperationalError("database is locked")) is None


def test_doctor_fails_a_data_folder_too_deep_and_makes_nothing(tmp_path: Path) -> None:
    # it said "ok data folder: … is writable" (made by its check) and "ok library: There is
    # no library yet; it is created at first use", exit 0, while every verb refuses the folder
    home = long_folder(tmp_path / "deep", 480)
    r = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", "--data", str(home), "doctor", "--timeout", "1"],
        env={**os.environ, "HOME": str(tmp_path / "fakehome")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout
    length = 480 + len("/data/library.sqlite3")
    lines = r.stdout.splitlines()
    assert (
        "FAIL  data folder: the data folder's path is too long for the library's database "
        f"({length} bytes for library.sqlite3; SQLite takes about {USABLE_PATH}, its side files "
        "included): choose a shorter data folder with --data or ALU_CLIENT_HOME, or move this "
        "one to a shorter path. Nothing in it was changed."
    ) in lines
    assert "FAIL  library: Not made: the data folder's path is too long for it (above)." in lines
    assert "which cannot be opened (the checks below say why)." in r.stdout
    assert not (tmp_path / "deep").exists()
