"""The panels of the main window; each shows a model from ``ui.models`` through a proxy."""

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from ..delegates import TextDelegate


def tip_with_keys(action: QAction) -> None:
    """Add the action's keys to its tooltip ("Download … (Ctrl+D)"), as the keyboard's only
    hint: a toolbar button shows no mnemonic. Call after ``setToolTip``."""
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    if keys:
        action.setToolTip(f"{action.toolTip()} ({keys})")


def new_table(parent: QWidget) -> QTableView:
    """A table whose Tab goes on to the next control, as in any other widget (a QTableView's
    Tab moves from cell to cell and wraps to the next row: keyboard users could not leave the
    Feed, and each Tab changed the item selected). The arrows move within it. Its cells elide
    text at the end of the text's own direction (``TextDelegate``)."""
    view = QTableView(parent)
    view.setTabKeyNavigation(False)
    view.setItemDelegate(TextDelegate(view))
    return view


def select_row(view: QAbstractItemView, row: int) -> None:
    """Make ``row`` the current and only selected row. ``QTableView.selectRow`` under a
    right-to-left layout (Arabic) finds its column one pixel past the last one, selects
    nothing and clears the selection: a rule moved up lost it, and the next move moved
    another one."""
    model = view.model()
    if model is None or not 0 <= row < model.rowCount():
        view.clearSelection()
        return
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    view.selectionModel().setCurrentIndex(model.index(row, 0), flags)
