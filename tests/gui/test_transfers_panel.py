"""The Transfers tab driven as a user would, on a real queue and store (stand-in jobs)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QHeaderView,
    QInputDialog,
    QMessageBox,
    QPushButton,
    QStyle,
)

from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.transfers.base import PermanentError
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.schedule import Schedule, ScheduleRule
from alu_client.core.transfers.throttle import parse_rate
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import OBJECT_ROLE, SORT_ROLE, STATE_ROLE
from alu_client.ui.models.transfers import COL_ERROR, COL_NAME, COL_PROGRESS, COL_SPEED, COL_STATE
from alu_client.ui.views.transfers import TransfersPanel
from tests.gui.conftest import FakeJobs, add
from tests.gui.test_transfers_model import MB, progress, transfer


def state_of(panel: TransfersPanel, tid: int) -> str | None:
    row = panel.model.row_for(tid)
    return row.state if row else None


def fraction_of(panel: TransfersPanel, tid: int) -> float:
    row = panel.model.row_for(tid)
    return (row.fraction or 0.0) if row else 0.0


def select(qtbot: Any, panel: TransfersPanel, tid: int) -> None:
    """Click on the transfer's row, as a user does."""
    index = panel.current_index_for(tid)
    assert index.isValid()
    panel.view.scrollTo(index)
    rect = panel.view.visualRect(index)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: [r.id for r in panel.selected_rows()] == [tid])


def click(qtbot: Any, panel: TransfersPanel, action: QAction) -> None:
    qtbot.waitUntil(action.isEnabled)
    button = panel.toolbar.widgetForAction(action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def start_holding(queue: TransferQueue) -> None:
    """Start the engine with no room for downloads: transfers are reported, none runs."""
    queue.caps["download"] = 0
    queue.start()


def shown_ids(panel: TransfersPanel) -> list[int]:
    return [panel.proxy.index(r, 0).data(OBJECT_ROLE).id for r in range(panel.proxy.rowCount())]


def test_rows_appear_and_progress_advances(
    qtbot: Any, qtmodeltester: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    a, b = add(queue, "KENYA-FLOODS"), add(queue, "DAKAR-MARKET")
    queue.start()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2)
    qtbot.waitUntil(lambda: 0.05 < fraction_of(panel, a) < 0.9)
    first = fraction_of(panel, a)
    qtbot.waitUntil(lambda: fraction_of(panel, a) > first)
    assert state_of(panel, b) in ("active", "queued", "done")
    index = panel.current_index_for(a)
    assert index.siblingAtColumn(COL_NAME).data() == "KENYA-FLOODS"
    assert index.siblingAtColumn(COL_PROGRESS).data().endswith("%")
    panel.view.viewport().grab()  # the delegate paints the bars
    qtmodeltester.check(panel.model)
    qtmodeltester.check(panel.proxy)
    qtbot.waitUntil(lambda: state_of(panel, a) == state_of(panel, b) == "done", timeout=15_000)
    assert panel.current_index_for(a).siblingAtColumn(COL_PROGRESS).data() == "100%"


def test_pause_from_the_ui_then_resume_to_done(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    tid = add(queue, "ADDIS-SUMMIT")
    queue.start()
    qtbot.waitUntil(lambda: state_of(panel, tid) == "active" and fraction_of(panel, tid) > 0.02)
    select(qtbot, panel, tid)
    asked = time.monotonic()
    click(qtbot, panel, panel.pause_action)
    qtbot.waitUntil(lambda: state_of(panel, tid) == "paused", timeout=1000)
    assert time.monotonic() - asked < 1.0
    assert queue.transfers.get(tid).state == "paused"  # type: ignore[union-attr]
    assert 0 < fraction_of(panel, tid) < 1
    click(qtbot, panel, panel.resume_action)
    qtbot.waitUntil(lambda: state_of(panel, tid) == "done", timeout=15_000)


def confirm_box(qtbot: Any, panel: TransfersPanel) -> QMessageBox:
    qtbot.waitUntil(lambda: (b := panel.findChild(QMessageBox, "confirm-cancel")) and b.isVisible())
    box = panel.findChild(QMessageBox, "confirm-cancel")
    assert isinstance(box, QMessageBox)
    return box


def test_cancel_asks_first(qtbot: Any, panel: TransfersPanel, queue: TransferQueue) -> None:
    tid = add(queue, "LAGOS-PORT")
    queue.start()
    qtbot.waitUntil(lambda: state_of(panel, tid) == "active")
    select(qtbot, panel, tid)
    # "Keep" leaves it running
    click(qtbot, panel, panel.cancel_action)
    box = confirm_box(qtbot, panel)
    assert "LAGOS-PORT" in box.text()
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-cancel-no"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert state_of(panel, tid) == "active"
    # the Delete key asks too; "Cancel transfer" cancels
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    box = confirm_box(qtbot, panel)
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-cancel-yes"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(panel, tid) == "canceled", timeout=2000)
    assert queue.transfers.get(tid).state == "canceled"  # type: ignore[union-attr]


def _answer_limit(qtbot: Any, panel: TransfersPanel, text: str) -> None:
    click(qtbot, panel, panel.limit_action)
    qtbot.waitUntil(
        lambda: (d := panel.findChild(QInputDialog, "transfer-limit")) and d.isVisible()
    )
    dialog = panel.findChild(QInputDialog, "transfer-limit")
    assert isinstance(dialog, QInputDialog)
    from PySide6.QtWidgets import QLineEdit

    edit = dialog.findChild(QLineEdit)
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_a_transfer_gets_a_speed_limit_of_its_own(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # the engine had per-transfer limits, and nothing a user could reach set one
    from alu_client.ui.models.transfers import COL_SPEED

    tid = add(queue, "BAMAKO-RALLY")
    panel.reload()
    qtbot.waitUntil(lambda: state_of(panel, tid) == "queued")
    select(qtbot, panel, tid)
    _answer_limit(qtbot, panel, "1M")
    qtbot.waitUntil(lambda: queue.transfers.get(tid).limit_bps == 125_000)  # type: ignore[union-attr]
    tip = Qt.ItemDataRole.ToolTipRole
    qtbot.waitUntil(
        lambda: (
            "Limited to"
            in (panel.current_index_for(tid).siblingAtColumn(COL_SPEED).data(tip) or "")
        )
    )
    # not a speed: said, and the limit stays
    _answer_limit(qtbot, panel, "fast")
    qtbot.waitUntil(lambda: panel.message.isVisible() and "not a speed" in panel.message.text())
    assert queue.transfers.get(tid).limit_bps == 125_000  # type: ignore[union-attr]
    # empty: no limit of its own
    _answer_limit(qtbot, panel, "")
    qtbot.waitUntil(lambda: queue.transfers.get(tid).limit_bps is None)  # type: ignore[union-attr]


def test_filter_finished_and_failed(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue, jobs: FakeJobs
) -> None:
    done, failed, waiting = add(queue, "DONE-ONE"), add(queue, "FAILED-ONE"), add(queue, "LATER")
    jobs.blocks_for[done] = 3
    jobs.fail_plan[failed] = [PermanentError("The item was withdrawn by the agency.")]
    queue.pause(waiting)
    queue.start()
    qtbot.waitUntil(lambda: state_of(panel, done) == "done" and state_of(panel, failed) == "failed")
    qtbot.waitUntil(lambda: state_of(panel, waiting) == "paused")
    assert sorted(shown_ids(panel)) == [done, failed, waiting]

    panel.filter_box.setFocus()
    qtbot.keyClicks(panel.filter_box, "Fin")
    assert panel.filter_box.currentText() == "Finished"
    qtbot.waitUntil(lambda: shown_ids(panel) == [done])
    assert all(
        panel.proxy.index(r, COL_STATE).data(STATE_ROLE) == "done"
        for r in range(panel.proxy.rowCount())
    )
    panel.set_filter("failed")
    assert shown_ids(panel) == [failed]
    assert "withdrawn" in panel.current_index_for(failed).siblingAtColumn(8).data()
    panel.set_filter("active")
    assert shown_ids(panel) == [waiting]
    panel.set_filter("all")
    assert len(shown_ids(panel)) == 3


def test_drag_to_reorder_moves_in_the_queue(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    a, b, c = add(queue, "A"), add(queue, "B"), add(queue, "C")
    start_holding(queue)
    qtbot.waitUntil(lambda: shown_ids(panel) == [a, b, c])
    # what the view does on a drop: the dragged rows' data dropped before row 0
    mime = panel.proxy.mimeData([panel.proxy.index(2, COL_NAME)])
    assert panel.proxy.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    qtbot.waitUntil(lambda: shown_ids(panel) == [c, a, b])
    assert [t.id for t in queue.transfers.all()] == [c, a, b]
    # dropped below the last row: last in the queue
    mime = panel.proxy.mimeData([panel.proxy.index(0, COL_NAME)])
    assert panel.proxy.dropMimeData(mime, Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    qtbot.waitUntil(lambda: [t.id for t in queue.transfers.all()] == [a, b, c])
    qtbot.waitUntil(lambda: shown_ids(panel) == [a, b, c])


def press_alt(qtbot: Any, widget: Any, key: Qt.Key) -> None:
    """Alt+``key`` on ``widget``, Alt released after it (see conftest.press_shortcut)."""
    qtbot.keyClick(widget, key, Qt.KeyboardModifier.AltModifier)
    qtbot.keyRelease(widget, Qt.Key.Key_Alt)
    assert QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier


def test_the_keyboard_reorders_rows_among_their_priority_as_a_drag_does(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # Ctrl+Up made a routine download urgent: the only way to put it first was a drag
    urgent = add(queue, "U", "urgent")
    a, b, c = add(queue, "A"), add(queue, "B"), add(queue, "C")
    start_holding(queue)
    qtbot.waitUntil(lambda: shown_ids(panel) == [urgent, a, b, c])
    select(qtbot, panel, c)
    panel.view.setFocus()
    steps = [
        (Qt.Key.Key_Up, [urgent, a, c, b]),
        (Qt.Key.Key_Up, [urgent, c, a, b]),
        (Qt.Key.Key_Up, [urgent, c, a, b]),  # first of the routine ones: it stays routine
        (Qt.Key.Key_End, [urgent, a, b, c]),
        (Qt.Key.Key_Home, [urgent, c, a, b]),
        (Qt.Key.Key_Down, [urgent, a, c, b]),
    ]
    for key, order in steps:
        press_alt(qtbot, panel.view, key)
        qtbot.waitUntil(lambda order=order: [t.id for t in queue.transfers.all()] == order)
        qtbot.waitUntil(lambda order=order: shown_ids(panel) == order)
        assert [r.id for r in panel.selected_rows()] == [c]  # the selection moved with it
    assert queue.transfers.get(c).priority == 2  # type: ignore[union-attr]
    # two rows at once keep their order; the menu names the keys
    panel.view.selectionModel().select(
        panel.current_index_for(b),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    qtbot.waitUntil(lambda: [r.id for r in panel.selected_rows()] == [c, b])
    panel.move_to_top()
    qtbot.waitUntil(lambda: shown_ids(panel) == [urgent, c, b, a])
    assert panel.commands.move_up in panel.view.actions()
    assert panel.commands.move_up.shortcut().toString() == "Alt+Up"
    assert panel.priority_up_action.shortcut().toString() == "Ctrl+Up"
    # sorted by another column the table is not the queue's order: nothing to move by
    panel.view.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert not panel.commands.move_up.isEnabled()


def test_priority_up_and_down(qtbot: Any, panel: TransfersPanel, queue: TransferQueue) -> None:
    a, b = add(queue, "A"), add(queue, "B")
    start_holding(queue)
    qtbot.waitUntil(lambda: shown_ids(panel) == [a, b])
    select(qtbot, panel, b)
    click(qtbot, panel, panel.priority_up_action)
    qtbot.waitUntil(lambda: queue.transfers.get(b).priority == 1)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: shown_ids(panel) == [b, a])  # urgent comes first
    assert panel.current_index_for(b).siblingAtColumn(2).data() == "Urgent"
    click(qtbot, panel, panel.priority_down_action)
    qtbot.waitUntil(lambda: shown_ids(panel) == [a, b])


def test_pause_all_and_resume_all(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue, jobs: FakeJobs
) -> None:
    # Ctrl+Shift+P / R are the main window's (they work on every tab: test_app_shell); the
    # panel's buttons carry no keys, or Qt would find two owners and run neither
    jobs.blocks = 100  # ~1 s each: the pause comes as the first starts; the rest is the end
    assert panel.pause_all_action.shortcut().isEmpty()
    assert panel.resume_all_action.shortcut().isEmpty()
    ids = [add(queue, n) for n in ("A", "B", "C")]
    queue.start()
    qtbot.waitUntil(lambda: state_of(panel, ids[0]) == "active")
    click(qtbot, panel, panel.pause_all_action)
    qtbot.waitUntil(lambda: all(state_of(panel, t) == "paused" for t in ids), timeout=2000)
    click(qtbot, panel, panel.resume_all_action)
    qtbot.waitUntil(lambda: all(state_of(panel, t) == "done" for t in ids), timeout=20_000)


def test_bandwidth_combo_sets_the_limit(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    box = panel.limit_box
    assert box.currentText() == "Unlimited"
    box.setFocus()
    for _ in range(3):  # Unlimited → 512 kbit/s → 1 Mbit/s → 2 Mbit/s
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.currentText() == "2 Mbit/s"
    qtbot.waitUntil(lambda: queue.limits["download"].rate_bps == parse_rate("2M"))
    assert queue.limits["upload"].rate_bps == parse_rate("2M")

    # Custom…: type a rate in the dialog
    qtbot.keyClick(box, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: (d := box.findChild(QInputDialog, "custom-limit")) and d.isVisible())
    dialog = box.findChild(QInputDialog, "custom-limit")
    assert isinstance(dialog, QInputDialog)
    from PySide6.QtWidgets import QLineEdit

    edit = dialog.findChild(QLineEdit)
    edit.selectAll()
    qtbot.keyClicks(edit, "3M")
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.limits["download"].rate_bps == parse_rate("3M"))
    assert box.currentText() == "3 Mbit/s"

    # Back to unlimited
    qtbot.keyClick(box, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: queue.limits["download"].rate_bps is None)


ALL_DAY_EVERY_DAY = ScheduleRule(frozenset(range(7)), dt.time(0), dt.time(0), 250_000.0, 125_000.0)


def _settings_panel(
    qtbot: Any, queue: TransferQueue, store: Store, tmp_path: Path
) -> tuple[TransfersPanel, AppSettings]:
    settings = AppSettings(store, tmp_path / "downloads")
    p = TransfersPanel(queue, settings=settings)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    return p, settings


def test_a_limit_chosen_here_is_the_settings_limit_and_outlasts_a_restart(
    qtbot: Any, queue: TransferQueue, store: Store, tmp_path: Path
) -> None:
    """The Transfers tab's limit is the one the settings dialog shows and the next start
    applies: chosen here, it was lost at a restart and undone by the dialog's OK."""
    panel, settings = _settings_panel(qtbot, queue, store, tmp_path)
    # a schedule with no rule in force now: its defaults are the limits that apply
    night = ScheduleRule(frozenset({0}), dt.time(3), dt.time(3, 1), 1000.0, 1000.0)
    settings.schedule = Schedule([night])
    queue.set_schedule(settings.schedule)
    box = panel.limit_box
    box.setFocus()
    for _ in range(3):  # Unlimited → 512 kbit/s → 1 Mbit/s → 2 Mbit/s
        qtbot.keyClick(box, Qt.Key.Key_Down)
    two = parse_rate("2M")
    qtbot.waitUntil(lambda: settings.limit_down == two)
    panel.tasks.wait_for_done()
    assert settings.limit_up == two
    kept = settings.schedule
    assert kept is not None and kept.rules == (night,)
    assert (kept.default_down, kept.default_up) == (two, two)
    if not night.matches(dt.datetime.now()):
        assert queue.limits["download"].rate_bps == two
        assert queue.limits["upload"].rate_bps == two
    assert queue.schedule is not None and queue.schedule.rules == (night,)
    # what a restart reads
    again = AppSettings(store, tmp_path / "downloads")
    assert (again.limit_down, again.limit_up) == (two, two)


def test_the_box_shows_limits_set_elsewhere(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    box = panel.limit_box
    queue.set_limits(parse_rate("5M"), parse_rate("5M"))  # as the settings dialog does
    qtbot.waitUntil(lambda: box.currentText() == "5 Mbit/s", timeout=3000)
    queue.set_limits(parse_rate("1M"), parse_rate("512k"))  # one per direction
    qtbot.waitUntil(lambda: box.currentText() == "↓ 1 Mbit/s  ↑ 512 kbit/s", timeout=3000)
    # one choice here sets both again
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: queue.limits["upload"].rate_bps is None)
    assert queue.limits["download"].rate_bps is None
    assert box.currentText() == "Unlimited"
    assert "↓" not in "".join(box.itemText(i) for i in range(box.count()))


def test_while_the_schedule_sets_the_limit_the_box_says_so(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    box = panel.limit_box
    assert box.isEnabled()
    queue.set_schedule(Schedule([ALL_DAY_EVERY_DAY]))
    qtbot.waitUntil(lambda: not box.isEnabled(), timeout=3000)
    assert box.currentText() == "↓ 2 Mbit/s  ↑ 1 Mbit/s"
    assert "schedule" in box.toolTip()
    queue.set_schedule(None)
    qtbot.waitUntil(box.isEnabled, timeout=3000)
    assert box.currentText() == "Unlimited"
    assert "schedule" not in box.toolTip()


def test_custom_limit_that_is_not_a_rate_says_so(qtbot: Any, panel: TransfersPanel) -> None:
    box = panel.limit_box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: (d := box.findChild(QInputDialog, "custom-limit")) and d.isVisible())
    dialog = box.findChild(QInputDialog, "custom-limit")
    dialog.setTextValue("fast please")
    dialog.accept()
    qtbot.waitUntil(panel.message.isVisible)
    assert "fast please" in panel.message.text()
    assert box.currentText() == "Unlimited"


def test_row_click_position_is_in_the_table(panel: TransfersPanel) -> None:
    """Guard for the helpers above: the table has room for rows under the header."""
    assert panel.view.viewport().rect().contains(QPoint(10, 10))


def test_the_quick_limit_box_shows_both_limits_whole(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # the box kept the width of its first text: "↓ 1 Mbit/s ▾" of "↓ 1 Mbit/s  ↑ 512 kbit/s"
    queue.set_limits(parse_rate("1M"), parse_rate("512k"))
    panel.show_limits()
    box = panel.limit_box
    assert "512" in box.currentText()
    needed = box.fontMetrics().horizontalAdvance(box.currentText())
    qtbot.waitUntil(lambda: box.width() >= needed)


def test_a_row_dropped_among_another_prioritys_rows_takes_their_priority(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # a routine transfer dropped above urgent ones: accepted, and nothing moved
    urgent, routine = add(queue, "URGENT-ONE", "urgent"), add(queue, "ROUTINE-ONE")
    panel.reload()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2)
    panel.move_transfers([routine], urgent)
    qtbot.waitUntil(lambda: queue.transfers.get(routine).priority == 1)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: shown_ids(panel)[:2] == [routine, urgent])


def count_sort_reads(panel: TransfersPanel, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the proxy reads a sort value (``SORT_ROLE``), and re-lays its rows out:
    [reads, layouts]."""
    counts = [0, 0]
    model_data = panel.model.data

    def data(index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == SORT_ROLE:
            counts[0] += 1
        return model_data(index, role)

    monkeypatch.setattr(panel.model, "data", data)
    panel.proxy.layoutChanged.connect(lambda *_: counts.__setitem__(1, counts[1] + 1))
    return counts


def in_queue_order(panel: TransfersPanel, states: tuple[str, ...]) -> list[int]:
    rows = [row for t in range(1, 301) if (row := panel.model.row_for(t)) is not None]
    return [r.id for r in sorted(rows, key=lambda r: r.rank) if r.state in states]


@pytest.mark.parametrize(
    ("key", "states"),
    [
        ("all", ("queued", "active", "done", "failed")),
        ("active", ("queued", "active")),
        ("finished", ("done",)),
    ],
)
def test_a_transfer_that_ends_moves_no_other_row(
    qtbot: Any,
    panel: TransfersPanel,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    states: tuple[str, ...],
) -> None:
    """Each state change sorted every row again (about 10 sort values read per row, each a
    call into Python): 100 ms a change with 2,000 transfers. In the queue's order, which no
    state changes, the rows that change only come and go with the filter, at their place."""
    rows = [transfer(t) for t in range(1, 301)]
    panel.model.set_transfers(rows)
    # moved since: every seventh first (the queue's order is not the order the rows came in)
    panel.model.set_transfers(sorted(rows, key=lambda t: (t.id % 7 != 0, t.id)))
    panel.set_filter(key)
    qtbot.waitUntil(lambda: shown_ids(panel) == in_queue_order(panel, states))
    qtbot.wait(20)  # the move's own sort
    counts = count_sort_reads(panel, monkeypatch)
    for k in range(1, 6):
        # one ends, the next starts; one that failed is tried again
        panel.model.apply_progress(
            [progress(k, 10 * MB, "done"), progress(k + 10, 1), progress(k + 100, 0, "failed")]
        )
        qtbot.wait(1)
        assert shown_ids(panel) == in_queue_order(panel, states)
        panel.model.apply_progress([progress(k + 100, 0, "queued")])
        qtbot.wait(1)
        assert shown_ids(panel) == in_queue_order(panel, states)
    # no re-sort (each one read 29,000 sort values); a row that comes in reads a few, to
    # find its place (a binary search)
    assert counts[1] == 0
    assert counts[0] < 300


def test_sorted_by_what_a_state_changes_the_rows_follow_their_changes(
    qtbot: Any, panel: TransfersPanel
) -> None:
    """Sorted by state or speed, each batch is sorted again; new rows find their place in
    every sort, and in a filter."""

    def sort_values(column: int) -> list[Any]:
        return [panel.proxy.index(r, column).data(SORT_ROLE) for r in range(panel.proxy.rowCount())]

    panel.model.set_transfers([transfer(t) for t in range(1, 101)])
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 100)
    panel.view.sortByColumn(COL_STATE, Qt.SortOrder.AscendingOrder)
    panel.model.apply_progress(
        [progress(50, 1), progress(7, 10 * MB, "done"), progress(9, 0, "failed")]
    )
    qtbot.waitUntil(lambda: shown_ids(panel)[0] == 50 and shown_ids(panel)[-1] == 7)
    assert sort_values(COL_STATE) == sorted(sort_values(COL_STATE))
    panel.model.set_transfers([transfer(t, state="failed") for t in range(101, 104)])
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 103)
    qtbot.waitUntil(lambda: sort_values(COL_STATE) == sorted(sort_values(COL_STATE)))

    panel.view.sortByColumn(COL_SPEED, Qt.SortOrder.DescendingOrder)
    for tick in range(1, 4):
        panel.model.apply_progress(
            [progress(t, tick * t, speed=float((t * 37 + tick * 11) % 50)) for t in range(20, 40)]
        )
        qtbot.wait(1)
        assert sort_values(COL_SPEED) == sorted(sort_values(COL_SPEED), reverse=True)

    panel.view.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    panel.set_filter("active")
    panel.model.set_transfers([transfer(t) for t in range(104, 110)])
    panel.model.apply_progress([progress(60, 10 * MB, "done"), progress(9, 0, "queued")])
    qtbot.wait(1)
    names = sort_values(COL_NAME)
    assert names == sorted(names, reverse=True)
    active = [t for t in range(1, 110) if state_of(panel, t) in ("queued", "active", "paused")]
    assert sorted(shown_ids(panel)) == active and len(active) == 109 - 2 - 3  # 7, 60; 101-103


def test_the_table_is_the_signed_in_members_and_pause_all_is_too(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # two members of a newsroom on one workstation: Ann's Transfers tab listed Ben's uploads
    # too, and her Pause all paused them; his wait for his own sign-in (see the engine's)
    ann, ben = "ann@hub.alu.africa", "ben@hub.alu.africa"
    queue.profile = ann  # (as Services.make_queue sets it)

    def add_for(name: str, profile: str) -> int:
        return queue.add_download(
            f"http://127.0.0.1:9/{name}",
            Path(f"/nonexistent/{name}"),
            label=name,
            extra={"profile": profile},
        )

    anns, bens, fetched = add_for("ann", ann), add_for("ben", ben), add(queue, "fetch")
    bens_next = add_for("ben's next", ben)
    start_holding(queue)
    panel.reload()
    qtbot.waitUntil(lambda: sorted(shown_ids(panel)) == sorted([anns, fetched]))
    queue.pause(bens)  # asked by `alu queue pause` in a terminal: progress says it
    click(qtbot, panel, panel.pause_all_action)
    qtbot.waitUntil(lambda: state_of(panel, anns) == state_of(panel, fetched) == "paused")
    panel.reload()
    qtbot.wait(300)  # (a progress batch or two, the reload)
    assert sorted(shown_ids(panel)) == sorted([anns, fetched])
    assert queue.transfers.get(bens_next).state == "queued"  # type: ignore[union-attr]


def test_sorting_by_state_reads_no_sort_value_per_comparison(
    qtbot: Any, panel: TransfersPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy sorted by calling the model for the sort value of both rows of each of its
    comparisons (~45,000 calls into Python for 2,000 transfers, 240 ms by State): the model
    now sorts, each row's value computed once."""
    states = ("queued", "active", "paused", "failed", "done", "canceled")
    panel.model.set_transfers([transfer(t, state=states[t * 7 % 6]) for t in range(1, 301)])
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 300)
    select_id = 77
    panel.view.selectionModel().select(
        panel.current_index_for(select_id),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    counts = count_sort_reads(panel, monkeypatch)
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        counts[0] = 0
        panel.view.sortByColumn(COL_STATE, order)
        assert counts[0] == 0  # (a proxy's sort: some 5,000 reads)
        keys = [panel.proxy.index(r, COL_STATE).data(SORT_ROLE) for r in range(300)]
        assert keys == sorted(keys, reverse=order == Qt.SortOrder.DescendingOrder)
        # among equal states, the queue's order
        ids = shown_ids(panel)
        for state in states:
            same = [t for t in ids if state_of(panel, t) == state]
            assert same == sorted(same)
        assert [r.id for r in panel.selected_rows()] == [select_id]


def test_the_name_and_the_last_error_keep_room_in_french_on_a_small_screen(
    qtbot: Any, qapp: QApplication, panel: TransfersPanel, queue: TransferQueue
) -> None:
    """French at 1366×768 and 150 % (911 px): "Téléchargement" and "En attente de nouvel
    essai" kept their columns' width and the two a user reads got about 110 px: names read
    "Eight Af…", every failed upload's error "Le fichie…", and its header "ernière erre",
    cut on both sides. Each keeps a readable width now, the table scrolling sideways; with
    room, the two share the rest as before."""
    add(queue, "Eight African ministers meet in Addis Ababa")
    start_holding(queue)
    install_translators(qapp, "fr")
    header = panel.view.horizontalHeader()
    fm = panel.view.fontMetrics()
    title = "Dernière erreur"
    qtbot.waitUntil(lambda: panel.model.headerData(COL_ERROR, Qt.Orientation.Horizontal) == title)
    margins = 2 * panel.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
    panel.resize(911, 480)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    qtbot.waitUntil(lambda: header.sectionSize(COL_NAME) >= 20 * fm.averageCharWidth())
    assert header.sectionSize(COL_ERROR) >= fm.horizontalAdvance(title) + margins  # whole
    assert header.sectionSize(COL_ERROR) >= 16 * fm.averageCharWidth()
    assert header.length() > panel.view.viewport().width()  # scrolls sideways instead
    # a width the user chose stays when the viewport changes a little (a scroll bar)
    chosen = header.sectionSize(COL_NAME) + 57
    header.resizeSection(COL_NAME, chosen)
    panel.resize(905, 480)
    qtbot.waitUntil(lambda: panel.view.viewport().width() < 905)
    qapp.processEvents()
    assert header.sectionSize(COL_NAME) == chosen
    # a wide window: the two stretch over the room the others leave, nothing to scroll
    panel.resize(1900, 600)
    qtbot.waitUntil(lambda: header.length() == panel.view.viewport().width())
    assert header.sectionSize(COL_NAME) >= 20 * fm.averageCharWidth()
    assert header.sectionResizeMode(COL_NAME) == QHeaderView.ResizeMode.Stretch
    panel.tasks.wait_for_done()


def test_the_keyboard_row_is_the_one_cancelled_and_delete_without_one_says_so(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    # a tab switch put the focus frame on a row and selected nothing: Delete did nothing
    ids = [add(queue, name) for name in ("LAGOS-PORT", "DAKAR-MARKET", "ACCRA-RAIN")]
    start_holding(queue)
    qtbot.waitUntil(lambda: sorted(shown_ids(panel)) == sorted(ids))
    panel.window().activateWindow()
    qtbot.waitUntil(panel.isActiveWindow)
    panel.filter_box.setFocus()
    qtbot.waitUntil(panel.filter_box.hasFocus)
    qtbot.keyClick(panel.filter_box, Qt.Key.Key_Delete)
    qtbot.waitUntil(panel.message.isVisible)
    assert panel.message.text() == "Select a transfer first."
    panel.view.setFocus(Qt.FocusReason.ShortcutFocusReason)  # Ctrl+2
    qtbot.waitUntil(panel.view.hasFocus)
    first = shown_ids(panel)[0]
    assert [r.id for r in panel.selected_rows()] == [first]
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    box = confirm_box(qtbot, panel)
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-cancel-yes"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(panel, first) == "canceled", timeout=2000)
