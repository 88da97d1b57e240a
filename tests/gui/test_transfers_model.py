"""TransfersModel without a view: rows by id, batched dataChanged, coalescing, texts, drops;
and the formats it shows."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from alu_client.core.store.transfers import Transfer
from alu_client.core.sync import ONLINE, SyncStatus
from alu_client.core.transfers.base import PHASE_LIBRARY
from alu_client.core.transfers.queue import MSG_LIBRARY_FULL, Progress
from alu_client.ui import formats
from alu_client.ui.models import FRACTION_ROLE, OBJECT_ROLE, SORT_ROLE, STATE_ROLE
from alu_client.ui.models.transfers import (
    COL_ERROR,
    COL_ETA,
    COL_NAME,
    COL_PRIORITY,
    COL_PROGRESS,
    COL_SIZE,
    COL_SPEED,
    COL_STATE,
    MIME_TYPE,
    TransferRow,
    TransfersModel,
)
from alu_client.ui.statusbar import StatusBar, TransferActivity

MB = 1_000_000


def transfer(tid: int, state: str = "queued", priority: int = 2, **kw: Any) -> Transfer:
    fields: dict[str, Any] = {
        "id": tid,
        "direction": "download",
        "state": state,
        "priority": priority,
        "position": float(tid),
        "label": f"ITEM-{tid}",
        "source": f"http://127.0.0.1:9/{tid}",
        "destination": f"/nonexistent/{tid}",
        "size": 10 * MB,
        "bytes_done": 0,
        "sha256": None,
        "item_id": None,
        "rendition": None,
        "options": {},
        "result": {},
        "attempts": 0,
        "last_error": "",
        "next_attempt_at": None,
        "pause_reason": "",
        "limit_bps": None,
        "created_at": time.time(),
        "started_at": None,
        "finished_at": None,
    }
    fields.update(kw)
    return Transfer(**fields)


def progress(tid: int, done: int, state: str = "active", error: str = "", **kw: Any) -> Progress:
    fields: dict[str, Any] = {
        "id": tid,
        "direction": "download",
        "state": state,
        "label": f"ITEM-{tid}",
        "bytes_done": done,
        "size": 10 * MB,
        "speed": 250_000.0,
        "eta": (10 * MB - done) / 250_000,
        "last_error": error,
    }
    fields.update(kw)
    return Progress(**fields)


def model_with(n: int, qtbot: Any = None) -> TransfersModel:
    m = TransfersModel()
    m.set_transfers([transfer(i) for i in range(1, n + 1)])
    return m


def changes(m: TransfersModel) -> list[tuple[int, int, int, int]]:
    seen: list[tuple[int, int, int, int]] = []
    m.dataChanged.connect(
        lambda a, b, _roles=None: seen.append((a.row(), b.row(), a.column(), b.column()))
    )
    return seen


def test_qtmodeltester_with_rows_and_updates(qtmodeltester: Any) -> None:
    m = model_with(5)
    m.apply_progress([progress(1, 3 * MB), progress(2, 0, "failed", "The item is gone.")])
    m.apply_progress([progress(9, 1 * MB, label="NEW")])  # unknown: a row appears
    qtmodeltester.check(m)
    qtmodeltester.check(m, force_py=True)


def test_rows_are_found_by_id_and_show_human_values() -> None:
    m = model_with(3)
    m.apply_progress([progress(2, 4_200_000, speed=312_500.0, eta=19.0)])
    r = m.row_of(2)
    assert m.index(r, COL_NAME).data() == "ITEM-2"
    assert m.index(r, COL_STATE).data() == "Transferring"
    assert m.index(r, COL_STATE).data(STATE_ROLE) == "active"
    assert m.index(r, COL_PROGRESS).data() == "42%"
    assert m.index(r, COL_PROGRESS).data(FRACTION_ROLE) == 0.42
    assert m.index(r, COL_SPEED).data() == "2.5 Mbit/s"
    assert m.index(r, COL_SIZE).data() == "10 MB"
    assert m.index(r, COL_SIZE).data(Qt.ItemDataRole.ToolTipRole) == "4.2 MB of 10 MB"
    row = m.index(r, COL_ERROR).data(OBJECT_ROLE)
    assert isinstance(row, TransferRow) and row.id == 2
    assert m.headerData(COL_PRIORITY, Qt.Orientation.Horizontal) == "Priority"


def test_plain_error_is_shown_and_is_the_tooltip() -> None:
    m = model_with(2)
    msg = "The hub refused the sign-in; sign in again."
    m.apply_progress([progress(1, 0, "failed", msg, speed=0.0, eta=None)])
    assert m.index(0, COL_ERROR).data() == msg
    assert m.index(0, COL_ERROR).data(Qt.ItemDataRole.ToolTipRole) == msg
    assert m.index(0, COL_STATE).data() == "Failed"
    assert m.index(0, COL_SPEED).data() == ""  # nothing moves
    m.apply_progress([progress(1, 0, "queued", "The connection was lost.", speed=0.0)])
    assert m.index(0, COL_STATE).data() == "Waiting to retry"


def test_a_download_checking_its_bytes_says_verifying_not_transferring() -> None:
    m = model_with(2)
    seen = changes(m)
    m.apply_progress([progress(1, 10 * MB, speed=0.0, eta=None, phase="verifying")])
    assert m.index(0, COL_STATE).data() == "Verifying"
    assert m.index(0, COL_STATE).data(STATE_ROLE) == "active"  # the filters see it as active
    assert m.index(0, COL_PROGRESS).data() == "100%"
    assert m.index(0, COL_SPEED).data() == "" and m.index(0, COL_ETA).data() == ""
    assert seen and seen[-1][2] <= COL_STATE  # the state cell repainted
    m.apply_progress([progress(1, 10 * MB, "done", speed=0.0, eta=None)])
    assert m.index(0, COL_STATE).data() == "Done"
    # a transfer first seen while it checks (the tab opened then) says so too
    m.apply_progress([progress(7, 10 * MB, speed=0.0, eta=None, phase="verifying")])
    assert m.index(m.row_of(7), COL_STATE).data() == "Verifying"


def test_one_data_changed_per_changed_row_or_one_for_most_rows() -> None:
    m = model_with(10)
    seen = changes(m)
    m.apply_progress([progress(3, 1 * MB), progress(4, 1 * MB), progress(8, 2 * MB)])
    # rows 3 and 4 (ids 3, 4) are one run; row 8 another
    assert [(a, b) for a, b, _, _ in seen] == [(2, 3), (7, 7)]
    seen.clear()
    m.apply_progress([progress(i, 5 * MB) for i in range(1, 9)])
    assert [(a, b) for a, b, _, _ in seen] == [(0, 9)]
    seen.clear()
    m.apply_progress([progress(1, 5 * MB)])  # nothing changed: no signal
    assert seen == []


def test_live_updates_leave_the_queue_order_column_alone() -> None:
    """The Priority column sorts by queue order; progress must not make the proxy re-sort."""
    m = model_with(4)
    seen = changes(m)
    m.apply_progress([progress(i, MB) for i in range(1, 5)])
    assert all(first > COL_PRIORITY for _, _, first, _ in seen)


def test_unknown_transfer_gets_a_row_and_is_announced(qtbot: Any) -> None:
    m = model_with(2)
    with qtbot.waitSignal(m.transfers_unknown) as blocker:
        m.apply_progress([progress(7, MB, label="NEW-UPLOAD", direction="upload")])
    assert blocker.args == [[7]]
    assert m.rowCount() == 3 and m.index(2, COL_NAME).data() == "NEW-UPLOAD"
    # later details from the store put it in queue order and give its priority
    m.set_transfers([transfer(7, priority=0, label="NEW-UPLOAD"), transfer(1), transfer(2)])
    assert m.index(2, COL_PRIORITY).data() == "Flash"
    assert m.index(2, COL_PRIORITY).data(SORT_ROLE) == 0
    assert m.index(2, COL_PROGRESS).data() == "10%"  # live figures kept


def test_batches_from_another_thread_are_coalesced(qtbot: Any) -> None:
    m = model_with(3)
    seen = changes(m)

    def engine() -> None:
        for n in range(1, 41):
            m.post_progress([progress(1, n * 100_000)])

    t = threading.Thread(target=engine)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: m.row_for(1) is not None and m.row_for(1).bytes_done == 4 * MB)  # type: ignore[union-attr]
    assert len(seen) <= 2  # 40 batches, applied once (or twice)


def test_drop_asks_to_move_before_the_target_row(qtbot: Any) -> None:
    m = model_with(4)
    mime = m.mimeData([m.index(3, 0), m.index(2, 1)])
    assert mime.hasFormat(MIME_TYPE)
    with qtbot.waitSignal(m.move_requested) as blocker:
        assert m.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert blocker.args == [[3, 4], 1]
    with qtbot.waitSignal(m.move_requested) as blocker:
        assert m.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, QModelIndex())
    assert blocker.args == [[3, 4], None]
    assert not m.dropMimeData(mime, Qt.DropAction.MoveAction, 2, 0, QModelIndex())  # onto itself


def test_formats() -> None:
    assert formats.size_text(None) == formats.NO_VALUE
    assert formats.size_text(999) == "999 B"
    assert formats.size_text(1_500_000) == "1.5 MB"
    assert formats.size_text(734_000) == "734 kB"
    assert formats.size_text(2_340_000_000) == "2.34 GB"
    assert formats.speed_text(0) == ""
    assert formats.speed_text(250_000) == "2 Mbit/s"
    assert formats.speed_text(64_000) == "512 kbit/s"
    assert formats.duration_text(None) == ""
    assert formats.duration_text(42.4) == "42 s"
    assert formats.duration_text(440) == "7 min 20 s"
    assert formats.duration_text(1500) == "25 min"
    assert formats.duration_text(3725) == "1 h 02 min"
    assert formats.duration_text(3 * 86400 + 4 * 3600) == "3 d 4 h"
    # what a hub's history event may say: nothing a transfer takes (QLocale raised on them)
    assert formats.duration_text(1e300) == formats.duration_text(float("inf")) == ""
    assert formats.speed_text(1e300) == formats.speed_text(float("nan")) == ""
    assert formats.size_text(10**40) == "1e+28 TB"
    assert formats.percent_text(0.426) == "42%"
    assert formats.percent_text(0.999) == "99%"
    assert formats.percent_text(1.0) == "100%"


def test_sizes_and_speeds_just_under_a_unit_never_show_an_exponent() -> None:
    # three significant digits round 999.6 kB up to 1000: that is "1 MB", not "1e+03 kB"
    assert formats.size_text(999_600) == "1 MB"
    assert formats.size_text(999_500) == "1 MB"
    assert formats.size_text(999_499) == "999 kB"
    assert formats.size_text(999_600_000) == "1 GB"
    assert formats.size_text(999_960_000_000) == "1 TB"
    assert formats.size_text(5_000_000_000_000_000) == "5,000 TB"  # the last unit: whole numbers
    assert formats.size_text(0) == "0 B"
    assert formats.size_text(-1) == formats.NO_VALUE
    assert formats.speed_text(124_990_000) == "1 Gbit/s"
    assert "e+" not in formats.speed_text(1e15)
    for nothing in (-5.0, 0.5, float("nan"), float("inf")):
        assert formats.speed_text(nothing) == ""
    assert formats.duration_text(59.6) == "1 min 0 s"
    assert formats.duration_text(-1) == ""
    assert formats.percent_text(float("nan")) == formats.NO_VALUE


def test_a_transfer_waiting_on_a_full_data_disk_says_so_and_so_does_the_status_bar(
    qtbot: Any,
) -> None:
    # "Transferring 7%", no reason, "● Online", for as long as the data folder's disk was full
    m = model_with(2)
    m.apply_progress(
        [progress(1, 3 * MB, speed=0.0, eta=None, phase=PHASE_LIBRARY, error=MSG_LIBRARY_FULL)]
    )
    assert m.index(0, COL_STATE).data() == "Waiting for space"
    assert m.index(0, COL_STATE).data(STATE_ROLE) == "active"
    assert "data folder is full" in m.index(0, COL_ERROR).data()
    bar = StatusBar()
    qtbot.addWidget(bar)
    activity = TransferActivity()
    activity.changed.connect(bar.set_activity)
    bar.set_sync_status(SyncStatus(ONLINE))
    waiting = Progress(1, "download", "active", "a", MB, 3 * MB, 0.0, None, MSG_LIBRARY_FULL)
    activity.apply([dataclasses.replace(waiting, phase=PHASE_LIBRARY)])
    assert bar.connection.text() != "● Online" and "⚠" in bar.connection.text()
    assert "data folder is full" in bar.connection.toolTip()
    activity.apply([dataclasses.replace(waiting, state="done", last_error="")])  # space again
    assert bar.connection.text() == "● Online"


def test_the_model_sorts_itself_and_stays_sorted(qtmodeltester: Any) -> None:
    """Sorting is the model's (each row's sort value computed once, then Python's sort): a
    sort proxy called into Python for each comparison, 240 ms for 2,000 transfers by State."""
    states = ["done", "queued", "failed", "active", "queued", "paused", "active", "canceled"]
    m = TransfersModel()
    m.set_transfers([transfer(t, state=s) for t, s in enumerate(states, start=1)])
    qtmodeltester.check(m)
    held = QPersistentModelIndex(m.index(m.row_of(5), COL_NAME))  # a selection, e.g.

    def shown() -> list[int]:
        return [m.index(r, 0).data(OBJECT_ROLE).id for r in range(m.rowCount())]

    m.sort(COL_STATE, Qt.SortOrder.AscendingOrder)
    # what needs attention first; ties in the queue's order
    assert shown() == [4, 7, 2, 5, 6, 3, 1, 8]
    assert [m.index(r, 0).data(OBJECT_ROLE).id for r in range(8)] == shown()
    assert all(m.row_of(t) == r for r, t in enumerate(shown()))
    assert held.row() == 3 and held.data(OBJECT_ROLE).id == 5
    m.sort(COL_STATE, Qt.SortOrder.DescendingOrder)
    assert shown() == [8, 1, 3, 6, 2, 5, 4, 7]
    m.sort(COL_STATE, Qt.SortOrder.AscendingOrder)
    # a state changes: the row moves (one layout change); a new row goes in at its place
    layouts: list[bool] = []
    m.layoutChanged.connect(lambda *_: layouts.append(True))
    m.apply_progress([progress(5, MB, "active")])
    assert shown() == [4, 5, 7, 2, 6, 3, 1, 8]
    assert layouts == [True] and held.data(OBJECT_ROLE).id == 5
    m.apply_progress([progress(9, 0, "failed")])  # unknown until now
    assert shown() == [4, 5, 7, 2, 6, 3, 9, 1, 8]
    m.apply_progress([progress(4, 2 * MB), progress(7, 3 * MB)])  # figures only: no sort
    assert layouts == [True]
    qtmodeltester.check(m)
    m.sort(-1)  # as they came: left where they are
    m.apply_progress([progress(1, 0, "queued")])
    assert shown() == [4, 5, 7, 2, 6, 3, 9, 1, 8]


def test_ties_follow_the_queue_order_after_it_changes() -> None:
    """Sorted by State (or Progress, Speed…), ties are in the queue's order: raising a queued
    transfer to Flash, or moving it, changes that order, but the table kept the old one (only
    the Name to Priority columns counted as changed)."""
    m = TransfersModel()
    m.sort(COL_STATE, Qt.SortOrder.AscendingOrder)
    a, b, c = transfer(1), transfer(2), transfer(3)
    m.set_transfers([a, b, c])

    def shown() -> list[int]:
        return [m.index(r, 0).data(OBJECT_ROLE).id for r in range(m.rowCount())]

    assert shown() == [1, 2, 3]
    held = QPersistentModelIndex(m.index(0, COL_NAME))
    m.set_transfers([dataclasses.replace(c, priority=0, position=0.0), a, b])  # C to Flash
    assert shown() == [3, 1, 2]
    assert held.data(OBJECT_ROLE).id == 1  # (the selection follows its transfer)
    m.sort(COL_PROGRESS, Qt.SortOrder.DescendingOrder)
    m.set_transfers([dataclasses.replace(c, priority=0, position=0.0), b, a])  # B moved up
    assert shown() == [3, 2, 1]
