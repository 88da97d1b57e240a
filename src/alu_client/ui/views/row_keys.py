"""The keyboard's row in a table or a grid is the row the commands act on.

The commands (Download, Delete, Pause…) act on the selection. Qt gives a view that takes the
focus a *current* row (the focus frame) but selects nothing: a user who tabbed to the newest
flash item and pressed Ctrl+D got nothing, and a screen reader read the row "not selected".
``follow_keyboard`` makes the views the commands act on (the Feed's table, the Transfers' table,
the Library's grid and list) behave as the user sees it:

- a view that takes the focus from the keyboard (Tab, a tab's keys, a window brought back)
  with nothing selected selects its current row, or its first one;
- when the selected rows are removed (a file deleted, a transfer cancelled) while the view has
  the focus, the row after them is current and selected (Qt left the one before them current,
  and nothing selected);
- Shift+F10 opens the view's context menu at its current row, as the Menu key does: Qt's
  Linux and macOS platforms send a context menu event for the Menu key only, and many laptop
  keyboards have none. Windows sends one for Shift+F10 itself, so the app leaves it there
  (two menus otherwise).

``keys_when_disabled`` lets a command's keys explain why it did nothing ("Select an item
first") while its action is disabled.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
)
from PySide6.QtGui import QAction, QContextMenuEvent, QFocusEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

_ROWS = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
# the reasons the keyboard (or the window) gave the view the focus; a click selects by itself
_KEYBOARD_REASONS = {
    Qt.FocusReason.TabFocusReason,
    Qt.FocusReason.BacktabFocusReason,
    Qt.FocusReason.ShortcutFocusReason,
    Qt.FocusReason.ActiveWindowFocusReason,
    Qt.FocusReason.OtherFocusReason,
}
CONTEXT_MENU_KEYS = QKeySequence("Shift+F10")


def _has_focus(view: QAbstractItemView) -> bool:
    """The view is where the keys go in its window (active or not: a dialog may be closing)."""
    return view.isVisible() and view.window().focusWidget() is view


def select_current_row(view: QAbstractItemView) -> None:
    """Select the view's current row (its first one when none is current), when nothing is
    selected; the current row stays where it is."""
    selection, model = view.selectionModel(), view.model()
    if selection is None or model is None or selection.hasSelection() or not model.rowCount():
        return
    current = selection.currentIndex()
    if current.isValid():
        selection.select(current, _ROWS)
        return
    column = view.modelColumn() if isinstance(view, QListView) else 0
    selection.setCurrentIndex(model.index(0, column), _ROWS)


def open_context_menu(view: QAbstractItemView) -> None:
    """Open the view's context menu as the Menu key does: a keyboard context menu event, at
    the current row (the view's middle without one). Posted: the menu runs its own loop."""
    index = view.currentIndex()
    rect = view.visualRect(index) if index.isValid() else view.viewport().rect()
    at = view.viewport().mapTo(view, rect.center()) if rect.isValid() else QPoint(0, 0)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, at, view.mapToGlobal(at))
    QCoreApplication.postEvent(view, event)


class _RowKeys(QObject):
    """The view's filter and model hooks (see the module)."""

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self.setObjectName("row-keys")
        self._view = view
        self._had_selection = False
        self._next: tuple[int, int] | None = None
        self._model: QAbstractItemModel | None = None
        self._selection: QItemSelectionModel | None = None
        self._left: tuple[int, int] | None = None  # where the current row was before its move
        self._arrived = QPersistentModelIndex()  # and where it went
        self._dropped: list[tuple[int, int]] = []  # the rows last deselected
        view.installEventFilter(self)
        if sys.platform != "win32":
            menu = QShortcut(CONTEXT_MENU_KEYS, view)
            menu.setContext(Qt.ShortcutContext.WidgetShortcut)
            menu.activated.connect(lambda: open_context_menu(view))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.FocusIn
            and isinstance(event, QFocusEvent)
            and event.reason() in _KEYBOARD_REASONS
        ):
            self._follow_model()
            select_current_row(self._view)
        return False

    def _follow_model(self) -> None:
        """Hear the view's model and selection: looked up when the view takes the focus (a
        removal matters only then; they may be set after this was made, or shared)."""
        model, selection = self._view.model(), self._view.selectionModel()
        if model is not self._model:
            if self._model is not None:
                self._model.rowsAboutToBeRemoved.disconnect(self._before_removal)
                self._model.rowsRemoved.disconnect(self._after_removal)
            self._model = model
            if model is not None:
                model.rowsAboutToBeRemoved.connect(self._before_removal)
                model.rowsRemoved.connect(self._after_removal)
        if selection is not self._selection:
            if self._selection is not None:
                self._selection.currentChanged.disconnect(self._current_moved)
                self._selection.selectionChanged.disconnect(self._selection_dropped)
            self._selection = selection
            if selection is not None:
                selection.currentChanged.connect(self._current_moved)
                selection.selectionChanged.connect(self._selection_dropped)

    # Qt's selection hears a removal before this does (it was made first): it has already
    # dropped the rows' selection and made the row *before* them current. What it changed
    # last is kept, to know what the removal took away.

    def _current_moved(self, new: QModelIndex, old: QModelIndex) -> None:
        self._left = (old.row(), old.column()) if old.isValid() else None
        self._arrived = QPersistentModelIndex(new)

    def _selection_dropped(self, _selected: QItemSelection, deselected: QItemSelection) -> None:
        ranges = deselected.toList()  # (the tables' rows have no parent)
        self._dropped = [(r.top(), r.bottom()) for r in ranges if not r.parent().isValid()]

    def _before_removal(self, parent: QModelIndex, first: int, last: int) -> None:
        selection = self._view.selectionModel()
        if parent.isValid() or selection is None:
            return
        dropped = any(top <= last and bottom >= first for top, bottom in self._dropped)
        self._had_selection = selection.hasSelection() or dropped
        left = self._left
        moved = left is not None and first <= left[0] <= last
        if moved and left is not None and self._arrived == selection.currentIndex():
            self._next = (first, left[1])  # the row after the removed ones

    def _after_removal(self) -> None:
        model, selection = self._view.model(), self._view.selectionModel()
        if self._had_selection and _has_focus(self._view) and not selection.hasSelection():
            if self._next is not None and model.rowCount():
                row, column = self._next
                index = model.index(min(row, model.rowCount() - 1), column)
                selection.setCurrentIndex(index, _ROWS)
            select_current_row(self._view)
        self._had_selection, self._next, self._dropped, self._left = False, None, [], None


def follow_keyboard(view: QAbstractItemView) -> None:
    """Make ``view``'s keyboard row the selected one, and Shift+F10 open its context menu
    (see the module); again changes nothing."""
    if view.findChild(_RowKeys, "row-keys", Qt.FindChildOption.FindDirectChildrenOnly) is None:
        _RowKeys(view)


def keys_when_disabled(action: QAction, widget: QWidget, explain: Callable[[], None]) -> None:
    """While ``action`` is disabled, its keys on ``widget`` (the widget the action was added
    to) call ``explain`` instead of doing nothing: a disabled action's keys are dead, and
    nothing said why."""
    shortcut = QShortcut(widget)
    shortcut.setKeys(action.shortcuts())
    shortcut.setContext(action.shortcutContext())
    shortcut.setAutoRepeat(False)
    shortcut.setEnabled(not action.isEnabled())
    action.enabledChanged.connect(lambda enabled: shortcut.setEnabled(not enabled))
    shortcut.activated.connect(explain)


__all__ = [
    "CONTEXT_MENU_KEYS",
    "follow_keyboard",
    "keys_when_disabled",
    "open_context_menu",
    "select_current_row",
]
