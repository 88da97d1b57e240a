"""A library update is not made under another process at work on the data folder: a new `alu`
verb updated the library while an older ALU Desk (or `alu watch run`) ran on it, and that one
went on writing rows of the old format into the new one."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from alu_client.core.lockfile import EngineLock, FolderInUse
from alu_client.core.store import Store
from alu_client.core.store.schema import MIGRATIONS

HOLD = """
import sys, time
from pathlib import Path
from alu_client.core.lockfile import EngineLock
held = EngineLock(Path(sys.argv[1])).acquire()
print("HELD", flush=True)
sys.stdin.read()
"""


def older_library(db: Path) -> None:
    """A library as the release before this one left it."""
    db.parent.mkdir(parents=True, exist_ok=True)
    from alu_client.core.store import db as store_db

    conn = sqlite3.connect(db)
    conn.create_function("alu_search_text", 1, store_db._search_text)
    conn.create_function("alu_rule_words", 1, store_db._rule_words)
    for script in MIGRATIONS[:-1]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    conn.commit()
    conn.close()


def version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_no_update_while_another_process_holds_the_engine(tmp_path: Path) -> None:
    db = tmp_path / "data" / "library.sqlite3"
    older_library(db)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db.parent / "engine.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
        with pytest.raises(FolderInUse, match=rf"process {holder.pid}\), is at work"):
            Store(db)
        assert version(db) == len(MIGRATIONS) - 1  # nothing was changed
        assert not list(db.parent.glob("*.bak-v*"))
        r = subprocess.run(
            [sys.executable, "-m", "alu_client.cli", "queue", "list"],
            env={**os.environ, "ALU_CLIENT_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 1 and "Quit it (or stop alu watch run)" in r.stderr, r.stderr
        assert "updating the library" not in r.stderr  # (then "nothing was changed")
        assert "Traceback" not in r.stderr and version(db) == len(MIGRATIONS) - 1
    finally:
        holder.communicate(input="", timeout=30)
    Store(db).close()  # it ended: the update is made
    assert version(db) == len(MIGRATIONS)


def test_an_older_app_at_its_sign_in_holds_the_folder_too(tmp_path: Path) -> None:
    # (its engine not started yet: only Qt's instance.lock, with its process id, says it runs)
    db = tmp_path / "library.sqlite3"
    older_library(db)
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lock = tmp_path / "instance.lock"
        lock.write_text(f"{other.pid}\nalu-client\n{socket.gethostname()}\n", encoding="utf-8")
        with pytest.raises(FolderInUse):
            Store(db)
    finally:
        other.communicate(input="", timeout=30)
    Store(db).close()  # a lock left by a process that is gone holds nothing
    assert version(db) == len(MIGRATIONS)


def test_this_processes_own_engine_does_not_stop_its_update(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    older_library(db)
    with EngineLock(tmp_path / "engine.lock"):
        Store(db).close()
    assert version(db) == len(MIGRATIONS)


def test_an_alu_verb_says_it_updates_the_library(tmp_path: Path) -> None:
    # silent for the 30 s a large library takes: read as a hang, and a Ctrl-C started it over
    older_library(tmp_path / "data" / "library.sqlite3")

    def queue_list() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alu_client.cli", "queue", "list"],
            env={**os.environ, "ALU_CLIENT_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = queue_list()
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("alu: updating the library for this version (once;")
    again = queue_list()
    assert again.returncode == 0 and "updating the library" not in again.stderr
