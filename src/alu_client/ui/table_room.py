"""The Feed's and the Library's splitters give the item table its room before the side pane.

A splitter shares its width between its panes in proportion (3:2): in a 1024 px window at
200 % the Feed's detail pane kept 374 px to say "Select an item to see its details." while the
table's Title column had 47 px ("Eig…"), less than the slug. ``TableFirst`` moves the handle
when the splitter is resized (a window made narrower, a larger font, the first show) and when
the table is shown (the Library's list): the table gets the width at which its title keeps
about 28 characters with the other text columns at their floors (``wanted_width``), as far as
the other pane can give above its minimum. A handle the user drags stays where they put it
until the window is resized again.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QSplitter, QTableView, QWidget

from .delegates_items import wanted_width


def _least(widget: QWidget) -> int:
    """A pane's minimum width as the splitter takes it (its minimum, else its hint's)."""
    return widget.minimumWidth() or max(0, widget.minimumSizeHint().width())


class TableFirst(QObject):
    """``TableFirst(splitter, table)``: ``table`` is in one of ``splitter``'s two panes."""

    def __init__(self, splitter: QSplitter, table: QTableView) -> None:
        super().__init__(splitter)
        self.splitter, self.table = splitter, table
        self._due = False
        splitter.installEventFilter(self)
        table.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        wanted = QEvent.Type.Resize if watched is self.splitter else QEvent.Type.Show
        if kind == wanted and not self._due:
            self._due = True  # (once the splitter has laid its panes out)
            QTimer.singleShot(0, self, self.make_room)
        return False

    def make_room(self) -> None:
        self._due = False
        splitter = self.splitter
        if not self.table.isVisible() or splitter.count() != 2:
            return
        first, second = splitter.widget(0), splitter.widget(1)
        if first is None or second is None:
            return
        mine = 0 if first.isAncestorOf(self.table) else 1
        other = second if mine == 0 else first
        sizes = splitter.sizes()
        need = wanted_width(self.table) + sizes[mine] - self.table.width()
        give = min(need - sizes[mine], sizes[1 - mine] - _least(other))
        if give > 0:
            sizes[mine] += give
            sizes[1 - mine] -= give
            splitter.setSizes(sizes)


__all__ = ["TableFirst"]
