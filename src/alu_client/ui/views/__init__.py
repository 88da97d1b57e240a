"""The panels of the main window; each shows a model from ``ui.models`` through a proxy."""

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QAbstractItemView


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
