"""What the user did to the panels' layout — a splitter dragged, a table column widened, a
table sorted — kept in window.ini for the next start. One mechanism for every panel: a panel
names its parts (``layout_parts()``: a key for each splitter and table) and the main window
saves and restores them all here.

A table remembers only what the user did (``ColumnMemory``): the widths of the columns they
dragged and, for a sortable table, the sort column and order. A column the panel sizes itself
(to its words in the current language, to the room the window leaves) is sized again at each
start, so a language chosen since is not cut to the last one's widths.

Restoring never trusts the file: it may come from an older version (other columns, other
panes), be cut short or edited by hand. What does not fit is left at the default, a width or
a pane's size out of reason is brought back within the screen's, and nothing raises."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from PySide6.QtCore import QByteArray, QDataStream, QIODevice, QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QHeaderView, QSplitter, QTableView, QWidget

# no pane or column is ever wider than this, whatever the screens' size
_MAX_EXTENT = 16_000
# QSplitter.saveState's first number
_SPLITTER_MAGIC = 0xFF


def _screen_extent(widget: QWidget, orientation: Qt.Orientation) -> int:
    room = widget.screen().availableVirtualGeometry()
    extent = room.width() if orientation == Qt.Orientation.Horizontal else room.height()
    return max(1, min(_MAX_EXTENT, extent))


class ColumnMemory(QObject):
    """``ColumnMemory(view, flexible=())``: remembers the widths the user gives ``view``'s
    columns (a drag of an edge, a double-click on it) and its sort, for ``save_state`` /
    ``restore_state``.

    A resize is the user's unless it happens inside ``fitting()`` (the panel's own sizing),
    in a column of ``flexible`` (those that take the room the others leave: their width
    follows the window) or in a column Qt sizes itself (Stretch, ResizeToContents).

    Signals: ``user_resized(int)`` after the user sized a column; ``restored()`` after
    ``restore_state`` changed widths (the panel fits the others around them)."""

    user_resized = Signal(int)
    restored = Signal()

    # 1: (an item table's, before this class) the header's own state, then the user's widths;
    # 2: the column count, the sort, the user's widths
    _VERSION = 2

    def __init__(self, view: QTableView, flexible: tuple[int, ...] = ()) -> None:
        super().__init__(view)
        self.view = view
        self.header = view.horizontalHeader()
        # a header narrower than its word ends it with "…": Qt's default cut it at both ends,
        # centred ("ent b", "nguag") once the columns gave way to the title
        self.header.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.flexible = frozenset(flexible)
        self.user_widths: dict[int, int] = {}  # column -> width the user gave it
        self._fitting = 0
        self.header.sectionResized.connect(self._section_resized)

    @contextmanager
    def fitting(self) -> Iterator[None]:
        """Resizes made inside are the panel's, not the user's."""
        self._fitting += 1
        try:
            yield
        finally:
            self._fitting -= 1

    def is_user_sized(self, column: int) -> bool:
        return column in self.user_widths

    def _users_to_size(self, column: int) -> bool:
        """Not a column whose width follows the window, nor one Qt sizes itself."""
        mode = self.header.sectionResizeMode(column)
        return column not in self.flexible and mode == QHeaderView.ResizeMode.Interactive

    def _section_resized(self, column: int, _old: int, new: int) -> None:
        if self._fitting or not self._users_to_size(column):
            return
        self.user_widths[column] = new
        self.user_resized.emit(column)

    def save_state(self) -> QByteArray:
        data = QByteArray()
        out = QDataStream(data, QIODevice.OpenModeFlag.WriteOnly)
        out.writeInt32(self._VERSION)
        out.writeInt32(self.header.count())
        sorted_ = self.view.isSortingEnabled()
        out.writeInt32(self.header.sortIndicatorSection() if sorted_ else -1)
        out.writeInt32(self.header.sortIndicatorOrder().value if sorted_ else 0)
        out.writeInt32(len(self.user_widths))
        for column, width in sorted(self.user_widths.items()):
            out.writeInt32(column)
            out.writeInt32(width)
        return data

    def restore_state(self, state: object) -> bool:
        """Puts back what ``save_state`` saved (or an older version's); False, nothing
        changed, for what is not one or is a table's with other columns."""
        if not isinstance(state, QByteArray) or state.isEmpty():
            return False
        count = self.header.count()
        inp = QDataStream(state)
        version = inp.readInt32()
        if version not in (1, self._VERSION) or inp.readInt32() != count:
            return False  # another version's, or the columns changed since: the defaults
        sort_column, sort_order = -1, 0
        if version == 1:
            old_header = QByteArray()
            inp >> old_header  # its widths are the fitter's of then, its sort none
        else:
            sort_column, sort_order = inp.readInt32(), inp.readInt32()
        n = inp.readInt32()
        if not 0 <= n <= count:
            return False
        pairs = [(inp.readInt32(), inp.readInt32()) for _ in range(n)]
        if inp.status() != QDataStream.Status.Ok:
            return False
        narrowest = max(1, self.header.minimumSectionSize())
        widest = max(narrowest, _screen_extent(self.view, Qt.Orientation.Horizontal))
        user: dict[int, int] = {}
        for column, width in pairs:
            if 0 <= column < count and width > 0 and self._users_to_size(column):
                user[column] = min(widest, max(narrowest, width))
        with self.fitting():
            for column, width in user.items():
                self.header.resizeSection(column, width)
        self.user_widths = user
        if self.view.isSortingEnabled() and 0 <= sort_column < count and sort_order in (0, 1):
            self.view.sortByColumn(sort_column, Qt.SortOrder(sort_order))
        self.restored.emit()
        return True


def remember_columns(view: QTableView, flexible: tuple[int, ...] = ()) -> ColumnMemory:
    """Give ``view`` a ``ColumnMemory`` (once; the one it has otherwise)."""
    memory = view.findChild(ColumnMemory)
    if memory is None:
        memory = ColumnMemory(view, flexible)
    return memory


def save_columns(view: QTableView) -> QByteArray:
    """What the user did to ``view``'s columns (empty for a table that remembers nothing)."""
    memory = view.findChild(ColumnMemory)
    return memory.save_state() if memory is not None else QByteArray()


def restore_columns(view: QTableView, state: object) -> bool:
    memory = view.findChild(ColumnMemory)
    return memory is not None and memory.restore_state(state)


def splitter_sizes(state: object, count: int) -> list[int] | None:
    """The panes' sizes in a ``QSplitter.saveState()``, None when it is not one or holds
    another number of panes."""
    if not isinstance(state, QByteArray) or state.isEmpty():
        return None
    inp = QDataStream(state)
    if inp.readInt32() != _SPLITTER_MAGIC:
        return None
    inp.readInt32()  # its version: the sizes come first in each
    n = inp.readUInt32()
    if n != count:
        return None
    sizes = [inp.readInt32() for _ in range(n)]
    if inp.status() != QDataStream.Status.Ok or any(s < 0 for s in sizes) or not any(sizes):
        return None
    return sizes


def restore_splitter(splitter: QSplitter, state: object) -> bool:
    """The panes' sizes ``splitter.saveState()`` kept; a pane within the screen's size (a
    collapsed one stays collapsed, one too small for its contents is grown by the splitter
    to its minimum). False, nothing changed, for what does not fit."""
    sizes = splitter_sizes(state, splitter.count())
    if sizes is None:
        return False
    widest = _screen_extent(splitter, splitter.orientation())
    splitter.setSizes([min(widest, s) for s in sizes])
    return True


Part = QSplitter | QTableView


def save_parts(store: QSettings, prefix: str, parts: Mapping[str, Part]) -> None:
    for name, part in parts.items():
        key = f"{prefix}/{name}"
        if isinstance(part, QSplitter):
            store.setValue(key, part.saveState())
        else:
            state = save_columns(part)
            if not state.isEmpty():
                store.setValue(key, state)


def restore_parts(store: QSettings, prefix: str, parts: Mapping[str, Part]) -> None:
    """What ``save_parts`` kept; each part for which nothing fitting was kept keeps its
    defaults."""
    for name, part in parts.items():
        state = store.value(f"{prefix}/{name}")
        if isinstance(part, QSplitter):
            restore_splitter(part, state)
        else:
            restore_columns(part, state)


__all__ = [
    "ColumnMemory",
    "remember_columns",
    "restore_columns",
    "restore_parts",
    "restore_splitter",
    "save_columns",
    "save_parts",
    "splitter_sizes",
]
