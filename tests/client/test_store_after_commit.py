"""Store.after_commit: other threads hear of a row only once it is committed, never of a
rolled-back one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alu_client.core.store import Store


def test_callbacks_run_after_commit_and_not_after_rollback(tmp_path: Path) -> None:
    store = Store(tmp_path / "library.sqlite3")
    seen: list[int] = []

    def visible_elsewhere() -> None:
        other = sqlite3.connect(str(tmp_path / "library.sqlite3"))
        seen.append(other.execute("SELECT COUNT(*) FROM settings").fetchone()[0])
        other.close()

    with store.write() as c:
        c.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
        store.after_commit(visible_elsewhere)
        assert seen == []  # not while the transaction is open
    assert seen == [1]

    def failing_write() -> None:
        with store.write() as c:
            c.execute("INSERT INTO settings (key, value) VALUES ('b', '2')")
            store.after_commit(visible_elsewhere)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        failing_write()
    with store.write():
        pass  # a later transaction does not run the rolled-back one's callbacks
    assert seen == [1]
    store.close()
