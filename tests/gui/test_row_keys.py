"""The keyboard's row in the app's tables and grids (``views.row_keys``): a view the keyboard
enters selects its row, the next row is selected when the selected one goes, Shift+F10 opens
the context menu at the current row, and a disabled command's keys say why."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QListView,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from alu_client.ui.views import new_table
from alu_client.ui.views.row_keys import follow_keyboard, keys_when_disabled


def rows_model(parent: QWidget, count: int = 4) -> QStandardItemModel:
    model = QStandardItemModel(0, 2, parent)
    for n in range(count):
        model.appendRow([QStandardItem(f"item {n}"), QStandardItem(f"note {n}")])
    return model


def selected(view: QAbstractItemView) -> list[int]:
    return sorted({i.row() for i in view.selectionModel().selectedIndexes()})


class Window(QWidget):
    """A search box, then a table and a grid over one model (as the Library has them)."""

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit(self)
        self.model = rows_model(self)
        self.table = new_table(self)
        self.table.setModel(self.model)
        follow_keyboard(self.table)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid = QListView(self)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setModel(self.model)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        follow_keyboard(self.grid)
        follow_keyboard(self.grid)  # once is enough: a second call adds nothing
        layout = QVBoxLayout(self)
        for w in (self.search, self.table, self.grid):
            layout.addWidget(w)


def shown(qtbot: Any) -> Window:
    w = Window()
    qtbot.addWidget(w)
    w.resize(500, 500)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    w.search.setFocus()
    qtbot.waitUntil(w.search.hasFocus)
    return w


def test_tab_into_a_table_with_nothing_selected_selects_its_first_row(qtbot: Any) -> None:
    w = shown(qtbot)
    assert selected(w.table) == []
    qtbot.keyClick(w.search, Qt.Key.Key_Tab)
    qtbot.waitUntil(w.table.hasFocus)
    assert w.table.currentIndex().row() == 0
    assert selected(w.table) == [0]
    # what was selected stays selected when the keyboard comes back
    qtbot.keyClick(w.table, Qt.Key.Key_Down)
    assert selected(w.table) == [1]
    w.search.setFocus(Qt.FocusReason.BacktabFocusReason)
    qtbot.waitUntil(w.search.hasFocus)
    w.table.selectionModel().select(
        w.model.index(3, 0), w.table.selectionModel().SelectionFlag.Select
    )
    qtbot.keyClick(w.search, Qt.Key.Key_Tab)
    qtbot.waitUntil(w.table.hasFocus)
    assert selected(w.table) == [1, 3]


def test_a_grid_the_keyboard_enters_selects_its_current_item(qtbot: Any) -> None:
    w = shown(qtbot)
    w.grid.selectionModel().setCurrentIndex(
        w.model.index(2, 0), w.grid.selectionModel().SelectionFlag.NoUpdate
    )
    w.grid.setFocus(Qt.FocusReason.ShortcutFocusReason)  # a tab's keys (Ctrl+3)
    qtbot.waitUntil(w.grid.hasFocus)
    assert w.grid.currentIndex().row() == 2
    assert selected(w.grid) == [2]


def test_the_next_row_is_selected_when_the_selected_one_goes(qtbot: Any) -> None:
    w = shown(qtbot)
    qtbot.keyClick(w.search, Qt.Key.Key_Tab)
    qtbot.waitUntil(w.table.hasFocus)
    qtbot.keyClick(w.table, Qt.Key.Key_Down)
    assert selected(w.table) == [1]
    w.model.removeRow(1)  # deleted, cancelled: the view has the focus
    assert w.table.currentIndex().data() == "item 2"
    assert selected(w.table) == [1]
    # a row that goes while the keyboard is elsewhere selects nothing in its place
    w.search.setFocus()
    qtbot.waitUntil(w.search.hasFocus)
    w.model.removeRow(1)
    assert selected(w.table) == []


def close_next_menu() -> list[tuple[list[QAction], QRect]]:
    """The actions and place of the next context menu, which is then closed: it runs a loop of
    its own (a wait-until outside it never looks again), so it is looked for from inside."""
    seen: list[tuple[list[QAction], QRect]] = []

    def look() -> None:
        menu = QApplication.activePopupWidget()
        if isinstance(menu, QMenu):
            seen.append((menu.actions(), menu.geometry()))
            menu.close()
        else:
            QTimer.singleShot(10, look)

    QTimer.singleShot(0, look)
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="Windows opens it for Shift+F10 itself")
def test_shift_f10_opens_the_context_menu_at_the_current_row(qtbot: Any) -> None:
    w = shown(qtbot)
    pause = QAction("Pause", w.table)
    w.table.addAction(pause)
    w.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    qtbot.keyClick(w.search, Qt.Key.Key_Tab)
    qtbot.waitUntil(w.table.hasFocus)
    qtbot.keyClick(w.table, Qt.Key.Key_Down)
    seen = close_next_menu()
    qtbot.keyClick(w.table, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyRelease(w.table, Qt.Key.Key_Shift)
    qtbot.waitUntil(lambda: bool(seen))
    actions, place = seen[0]
    assert pause in actions
    # it opens where the row is (as the Menu key's), not where the mouse is
    row = w.table.visualRect(w.model.index(1, 0))
    assert place.topLeft() == w.table.viewport().mapToGlobal(row.center())
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)


def test_a_disabled_commands_keys_say_why(qtbot: Any) -> None:
    w = shown(qtbot)
    done: list[str] = []
    action = QAction("Download", w)
    action.setShortcut("Ctrl+D")
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    w.addAction(action)
    action.triggered.connect(lambda: done.append("downloaded"))
    keys_when_disabled(action, w, lambda: done.append("explained"))
    action.setEnabled(False)
    qtbot.keyClick(w.search, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert done == ["explained"]
    action.setEnabled(True)
    qtbot.keyClick(w.search, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert done == ["explained", "downloaded"]
    qtbot.keyRelease(w.search, Qt.Key.Key_Control)
