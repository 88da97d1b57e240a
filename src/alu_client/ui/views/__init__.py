"""The panels of the main window; each shows a model from ``ui.models`` through a proxy."""

from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from .. import formats
from ..delegates import TextDelegate


def tip_with_keys(action: QAction) -> None:
    """Add the action's keys to its tooltip ("Download … (Ctrl+D)"), as the keyboard's only
    hint: a toolbar button shows no mnemonic. Call after ``setToolTip``. The keys left to
    right in every language (``formats.keys_text``)."""
    action.setToolTip(formats.with_keys(action.toolTip(), action.shortcut()))


def on_open(view: QAbstractItemView, slot: Callable[[QModelIndex], object]) -> None:
    """Call ``slot(index)`` when the user opens an item of ``view``: a double-click, or Enter /
    Return on the current item (with ``doubleClicked`` alone the keyboard could not). Not
    ``activated``, which also covers Enter: it follows the desktop's click setting, and where
    a single click opens (KDE) a Feed row clicked to read its detail would jump to the
    Library."""
    view.doubleClicked.connect(slot)

    def current() -> None:
        index = view.currentIndex()
        if index.isValid():
            slot(index)

    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        shortcut = QShortcut(QKeySequence(key), view)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(current)


def new_table(parent: QWidget) -> QTableView:
    """A table whose Tab goes on to the next control, as in any other widget (a QTableView's
    Tab moves from cell to cell and wraps to the next row: keyboard users could not leave the
    Feed, and each Tab changed the item selected). The arrows move within it. Its cells elide
    text at the end of the text's own direction (``TextDelegate``)."""
    view = QTableView(parent)
    view.setTabKeyNavigation(False)
    view.setItemDelegate(TextDelegate(view))
    copies_without_marks(view)
    return view


class _PlainCopy(QObject):
    """Ctrl+C on an item view: the current cell's text, as Qt copies it, but without the marks
    the app put in it to show it (``formats.without_marks``): an error naming an Arabic file
    pasted into an e-mail carried invisible isolates, which break a search for the name."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.matches(QKeySequence.StandardKey.Copy)
            and isinstance(watched, QAbstractItemView)
        ):
            index = watched.currentIndex()
            text = index.data(Qt.ItemDataRole.DisplayRole) if index.isValid() else None
            if text is not None:
                QGuiApplication.clipboard().setText(formats.without_marks(str(text)))
                event.accept()
                return True
        return False


def copies_without_marks(view: QAbstractItemView) -> None:
    """Make Ctrl+C on ``view`` copy its current cell without the app's marks (``_PlainCopy``)."""
    view.installEventFilter(_PlainCopy(view))


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
