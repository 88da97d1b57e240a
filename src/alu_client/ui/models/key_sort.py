"""A sorting proxy for a long flat table whose sort keys come from the model in one pass.

``QSortFilterProxyModel`` compares two rows by calling the model's ``data()`` twice, and a
Python model pays a call into Python each time: ~1 million of them to sort 37,000 history
rows (2–5 s of a frozen window for a header click). ``KeySortProxy`` asks the model once for
the keys of every row (``sort_keys(column, first, last)``, plain Python values), sorts the row
numbers by them (one ``list.sort``) and keeps them sorted as the model changes: rows inserted
find their place by bisection (a large insert, a page, is placed by one sort again), rows
removed leave (many rows at once: moved together first, then one removal), and a changed key
moves its row. As with ``QSortFilterProxyModel``, the sort
is stable: rows of equal keys keep the order they had (a click on Item after one on Size: the
items of one name by size), ascending or descending; a row inserted or changed goes after the
rows of its key; column -1: the model's order.

The selection, the current row and every persistent index follow their rows; the model is
never reset by the proxy (only when the source is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

_Index = QModelIndex | QPersistentModelIndex
# inserts of at most this many rows are placed one by one; more: one sort of every row
_FEW = 32


class KeyedModel(Protocol):
    def sort_keys(self, column: int, first: int, last: int) -> list[Any]:
        """The sort keys of rows ``first``–``last`` (comparable with ``<``) for ``column``."""
        ...


def spans(rows: Sequence[int]) -> list[tuple[int, int]]:
    """``(first, last)`` of each run of consecutive numbers in ``rows`` (ascending)."""
    runs: list[tuple[int, int]] = []
    for n in rows:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


class KeySortProxy(QAbstractProxyModel):
    """Sorts a flat table model having ``sort_keys`` (``KeyedModel``); set it with
    ``setSourceModel`` once."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._column = -1
        self._descending = False
        # proxy row -> source row; source row -> its key (sorted); source row -> proxy row
        self._perm: list[int] = []
        self._keys: list[Any] = []
        self._inv: list[int] | None = []
        self._saved: list[tuple[QPersistentModelIndex, QPersistentModelIndex]] = []

    # --- the source ---------------------------------------------------------------------------

    def setSourceModel(self, source: QAbstractItemModel) -> None:
        self.beginResetModel()
        super().setSourceModel(source)
        source.rowsInserted.connect(self._inserted)
        source.rowsAboutToBeRemoved.connect(self._removing)
        source.rowsRemoved.connect(self._removed)
        source.dataChanged.connect(self._data_changed)
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._reset)
        source.layoutAboutToBeChanged.connect(self._layout_changing)
        source.layoutChanged.connect(self._layout_changed)
        source.headerDataChanged.connect(self.headerDataChanged)
        self._rebuild()
        self.endResetModel()

    def _source_keys(self, first: int, last: int) -> list[Any]:
        source: Any = self.sourceModel()
        return list(source.sort_keys(self._column, first, last))

    def _source_rows(self) -> int:
        source = self.sourceModel()
        return source.rowCount() if source is not None else 0

    def _rebuild(self) -> None:
        n = self._source_rows()
        self._keys = self._source_keys(0, n - 1) if self._column >= 0 and n else []
        self._perm = self._ordered(range(n))
        self._inv = None

    def _ordered(self, rows: Sequence[int]) -> list[int]:
        """Every source row in the sort's order; ties in their order in ``rows``."""
        if self._column < 0:
            return list(range(self._source_rows()))
        return sorted(rows, key=self._keys.__getitem__, reverse=self._descending)

    def _inverse(self) -> list[int]:
        if self._inv is None:
            inv = [-1] * max(len(self._perm), self._source_rows())
            for p, s in enumerate(self._perm):
                inv[s] = p
            self._inv = inv
        return self._inv

    def _relayout(self, change: Callable[[], None]) -> None:
        """Reorder the rows (``change``), persistent indexes following their rows."""
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        rows = [(self._perm[i.row()], i.column()) for i in before]
        change()
        self._inv = None
        inv = self._inverse()
        self.changePersistentIndexList(before, [self.index(inv[s], c) for s, c in rows])
        self.layoutChanged.emit()

    def _resort(self) -> None:
        perm = self._ordered(self._perm)
        if perm != self._perm:
            self._relayout(lambda: setattr(self, "_perm", perm))

    # --- sorting ------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (-1: the source's order), and keep the rows sorted."""
        source_columns = self.sourceModel().columnCount() if self.sourceModel() else 0
        column = column if 0 <= column < source_columns else -1
        descending = order == Qt.SortOrder.DescendingOrder
        if (column, descending) == (self._column, self._descending):
            return

        def change() -> None:
            rows = self._perm  # (ties keep the order shown)
            self._column, self._descending = column, descending
            n = self._source_rows()
            self._keys = self._source_keys(0, n - 1) if column >= 0 and n else []
            self._perm = self._ordered(rows)

        self._relayout(change)

    def sort_column(self) -> int:
        return self._column

    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    def _before(self, a: int, b: int) -> bool:
        """Whether source row ``a``'s key goes before source row ``b``'s."""
        ka, kb = self._keys[a], self._keys[b]
        return bool(ka > kb) if self._descending else bool(ka < kb)

    def _place(self, row: int) -> int:
        """Where source row ``row`` goes among the proxy's rows: after those of its key."""
        lo, hi = 0, len(self._perm)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._before(row, self._perm[mid]):
                hi = mid
            else:
                lo = mid + 1
        return lo

    # --- following the source -----------------------------------------------------------------

    def _inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        k = last - first + 1
        self._inv = None
        if self._column < 0:
            self.beginInsertRows(QModelIndex(), first, last)
            self._perm = list(range(self._source_rows()))
            self.endInsertRows()
            return
        self._perm = [s + k if s >= first else s for s in self._perm]
        self._keys[first:first] = self._source_keys(first, last)
        if k <= _FEW:
            for row in range(first, last + 1):
                at = self._place(row)
                self.beginInsertRows(QModelIndex(), at, at)
                self._perm.insert(at, row)
                self._inv = None
                self.endInsertRows()
            return
        end = len(self._perm)
        self.beginInsertRows(QModelIndex(), end, end + k - 1)
        self._perm.extend(range(first, last + 1))
        self.endInsertRows()
        self._resort()

    def _removing(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        inv = self._inverse()
        rows = sorted(inv[s] for s in range(first, last + 1))
        runs = spans(rows)
        if len(runs) > _FEW:  # (a refresh leaving the newest: rows all over) one removal
            gone = set(rows)
            kept = [s for p, s in enumerate(self._perm) if p not in gone]
            moved = kept + [self._perm[p] for p in rows]
            self._relayout(lambda: setattr(self, "_perm", moved))
            runs = [(len(kept), len(moved) - 1)]
        for a, b in reversed(runs):
            self.beginRemoveRows(QModelIndex(), a, b)
            del self._perm[a : b + 1]
            self._inv = None
            self.endRemoveRows()

    def _removed(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        k = last - first + 1
        self._perm = [s - k if s > last else s for s in self._perm]
        del self._keys[first : last + 1]
        self._inv = None

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int]) -> None:
        first, last = top.row(), bottom.row()
        if first < 0:
            return
        if self._column >= 0 and top.column() <= self._column <= bottom.column():
            keys = self._source_keys(first, last)
            if keys != self._keys[first : last + 1]:
                self._keys[first : last + 1] = keys
                self._resort()
        inv = self._inverse()
        rows = [inv[s] for s in range(first, last + 1)]
        self.dataChanged.emit(
            self.index(min(rows), top.column()), self.index(max(rows), bottom.column()), roles
        )

    def _reset(self) -> None:
        self._rebuild()
        self.endResetModel()

    def _layout_changing(self, *_: Any) -> None:
        self.layoutAboutToBeChanged.emit()
        self._saved = [
            (QPersistentModelIndex(i), QPersistentModelIndex(self.mapToSource(i)))
            for i in self.persistentIndexList()
        ]

    def _layout_changed(self, *_: Any) -> None:
        self._rebuild()
        saved, self._saved = self._saved, []
        self.changePersistentIndexList(
            [self.index(p.row(), p.column()) for p, _ in saved],
            [self.mapFromSource(s) for _, s in saved],
        )
        self.layoutChanged.emit()

    # --- the model ----------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008 - Qt's own default
        if parent.isValid() or not 0 <= row < len(self._perm):
            return QModelIndex()
        if not 0 <= column < self.columnCount():
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: _Index | None = None) -> Any:
        if child is None:  # (QObject's parent())
            return super().parent()
        return QModelIndex()

    def sibling(self, row: int, column: int, idx: _Index) -> QModelIndex:
        return self.index(row, column)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._perm)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        source = self.sourceModel()
        return 0 if parent.isValid() or source is None else source.columnCount()

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and bool(self._perm)

    def mapToSource(self, proxy: _Index) -> QModelIndex:
        source = self.sourceModel()
        if source is None or not proxy.isValid() or not 0 <= proxy.row() < len(self._perm):
            return QModelIndex()
        return source.index(self._perm[proxy.row()], proxy.column())

    def mapFromSource(self, source: _Index) -> QModelIndex:
        if not source.isValid():
            return QModelIndex()
        inv = self._inverse()
        row = inv[source.row()] if source.row() < len(inv) else -1
        return self.index(row, source.column()) if row >= 0 else QModelIndex()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        source: QAbstractItemModel | None = self.sourceModel()
        if source is None:
            return None
        if orientation == Qt.Orientation.Vertical:
            return section + 1 if role == Qt.ItemDataRole.DisplayRole else None
        return source.headerData(section, orientation, role)
