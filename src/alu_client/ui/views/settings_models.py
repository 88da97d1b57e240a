"""The Settings dialog's smaller tables: the weekly bandwidth schedule, the hot folders, the
files a hot folder could not send and those another workstation is sending. Plain lists the
dialog edits and writes back on OK."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTime,
)
from PySide6.QtWidgets import QApplication, QStyle

from alu_client.core.transfers.schedule import ScheduleRule
from alu_client.core.watch import SentElsewhere, WatchFile

from .. import engine_text, formats, plain_text
from ..delegates_items import language_name, priority_name
from ..models import OBJECT_ROLE, SORT_ROLE
from .settings_apply import FolderRow

_Index = QModelIndex | QPersistentModelIndex
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
T = TypeVar("T")


def week_days(locale: QLocale | None = None) -> list[int]:
    """The days of the week (0 = Monday) in the order the user's locale counts them, from its
    first day: Monday in France, Saturday in Egypt, Sunday in the United States."""
    first = (locale or QLocale()).firstDayOfWeek().value - 1
    return [(first + i) % 7 for i in range(7)]


def day_names(days: frozenset[int]) -> str:
    """``Mon–Fri``, ``Sat and Sun`` in the user's language (0 = Monday), in the order of the
    locale's week (an Egyptian Sunday to Thursday is one range, "الأحد–الخميس", not
    "Monday–Thursday, Sunday") and joined as the locale joins a list (the Arabic list had a
    Latin comma)."""
    locale = QLocale()

    def name(d: int) -> str:
        return locale.dayName(d + 1, QLocale.FormatType.ShortFormat)

    ordered = [d for d in week_days(locale) if d in days]
    position = {d: i for i, d in enumerate(week_days(locale))}
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and position[ordered[j + 1]] == position[ordered[j]] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{name(ordered[i])}–{name(ordered[j])}")
        else:
            parts.extend(name(d) for d in ordered[i : j + 1])
        i = j + 1
    return locale.createSeparatedList(parts)


def time_text(t: datetime.time, *, end: bool = False) -> str:
    """``07:00`` as the period dialog writes it, in the language's digits (the Arabic row said
    "07:00" beside "١٠٠ كيلوبت/ث"); an ``end`` at midnight is ``24:00``."""
    locale = QLocale()
    if end and t == datetime.time(0):
        zero = locale.zeroDigit()
        return f"{locale.toString(24)}:{zero}{zero}"
    return locale.toString(QTime(t.hour, t.minute), "HH:mm")


class _ListModel(QAbstractTableModel, Generic[T]):
    """A table over a Python list; subclasses say what each column shows."""

    columns = 0

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[T] = []

    def set_items(self, items: Sequence[T]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def items(self) -> list[T]:
        return list(self._items)

    def item_at(self, row: int) -> T | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def append(self, item: T) -> int:
        row = len(self._items)
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.append(item)
        self.endInsertRows()
        return row

    def replace(self, row: int, item: T) -> None:
        if 0 <= row < len(self._items):
            self._items[row] = item
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columns - 1))

    def remove(self, row: int) -> None:
        if 0 <= row < len(self._items):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._items[row]
            self.endRemoveRows()

    def move(self, row: int, delta: int) -> int:
        """Move an item ``delta`` places (negative: up); returns its new row."""
        target = max(0, min(len(self._items) - 1, row + delta))
        if not 0 <= row < len(self._items) or target == row:
            return row
        # beginMoveRows counts the destination before the move: one more when moving down
        dest = target + 1 if target > row else target
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self._items.insert(target, self._items.pop(row))
        self.endMoveRows()
        return target

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.columns

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        names = self.headers()
        return names[section] if 0 <= section < len(names) else None

    def headers(self) -> list[str]:
        raise NotImplementedError

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item_at(index.row()) if index.isValid() else None
        if item is None:
            return None
        if role == OBJECT_ROLE:
            return item
        if role == SORT_ROLE:
            return index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(item, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:  # folders, names: shown as typed
            return plain_text.tip(self.text(item, index.column()))
        return self.other(item, index.column(), role)

    def text(self, item: T, column: int) -> str | None:
        raise NotImplementedError

    def other(self, item: T, column: int, role: int) -> Any:
        return None


# --- the weekly schedule ----------------------------------------------------------------------

COL_DAYS, COL_FROM, COL_TO, COL_DOWN, COL_UP = range(5)


class ScheduleModel(_ListModel[ScheduleRule]):
    """Periods of the weekly bandwidth schedule (the first that covers a moment applies)."""

    columns = 5

    def headers(self) -> list[str]:
        return [self.tr("Days"), self.tr("From"), self.tr("To"), self.tr("Down"), self.tr("Up")]

    def text(self, item: ScheduleRule, column: int) -> str | None:
        if column == COL_DAYS:
            return day_names(item.days)
        if column == COL_FROM:
            return time_text(item.start)
        if column == COL_TO:
            if item.start == item.end and item.end != datetime.time(0):
                # a whole day from its start (00:00 to 00:00 reads "24:00": the day itself)
                return self.tr("{time} next day").format(time=time_text(item.end))
            return time_text(item.end, end=True)
        if column in (COL_DOWN, COL_UP):
            bps = item.down_bps if column == COL_DOWN else item.up_bps
            return formats.speed_text(bps) if bps else self.tr("Unlimited")
        return None


# --- hot folders ------------------------------------------------------------------------------

COL_FOLDER, COL_FOLDER_ON, COL_SENT, COL_ERRORS, COL_DEFAULTS = range(5)


def folder_problem_text(problem: str) -> str:
    """A hot folder's problem (the core's sentences, one a line) in the user's language."""
    return "\n".join(engine_text.shown(line) for line in problem.splitlines())


def defaults_text(defaults: dict[str, str]) -> str:
    """A hot folder's defaults as the item's detail names them: "Language: French · Priority:
    Urgent" (the list showed the stored keys and codes, "language: fr, priority: urgent", in
    every language). Category and region as typed, as the hub keeps them."""
    shown: dict[str, tuple[str, Callable[[str], str]]] = {
        "language": (QCoreApplication.translate("ItemDetail", "Language:"), language_name),
        "category": (QCoreApplication.translate("ItemDetail", "Category:"), str),
        "region": (QCoreApplication.translate("ItemDetail", "Region:"), str),
        "country": (QCoreApplication.translate("ItemDetail", "Country:"), formats.country_name),
        "priority": (QCoreApplication.translate("ItemDetail", "Priority:"), priority_name),
    }
    parts = []
    for key in sorted(defaults, key=lambda k: (list(shown).index(k) if k in shown else 99, k)):
        value = defaults[key]
        if key in shown:
            name, words = shown[key]
            parts.append(f"{name} {formats.isolated(words(value))}")
        else:  # a key of a later version: as stored
            parts.append(f"{key}: {value}")
    return formats.joined(parts) or formats.NO_VALUE


class HotFoldersModel(_ListModel[FolderRow]):
    """Hot folders with their counts; the On column is a check box (the user's change is kept
    until OK)."""

    columns = 5

    def headers(self) -> list[str]:
        return [
            self.tr("Folder"),
            self.tr("On"),
            self.tr("Sent"),
            self.tr("Errors"),
            self.tr("Defaults"),
        ]

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == COL_FOLDER_ON:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item_at(index.row()) if index.isValid() else None
        if item is not None and item.problem and index.column() == COL_FOLDER:
            # a folder that cannot be watched now: marked, its problem as the tooltip
            if role == Qt.ItemDataRole.ToolTipRole:
                return plain_text.shown_as_typed(folder_problem_text(item.problem))
            if role == Qt.ItemDataRole.DecorationRole:
                return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            if role == Qt.ItemDataRole.AccessibleDescriptionRole:
                return folder_problem_text(item.problem)
        return super().data(index, role)

    def text(self, item: FolderRow, column: int) -> str | None:
        if column == COL_FOLDER:
            return formats.isolated(item.path)
        if column == COL_SENT:
            return QLocale().toString(item.sent)
        if column == COL_ERRORS:
            return QLocale().toString(len(item.errors))
        if column == COL_DEFAULTS:
            return defaults_text(item.defaults)
        return None

    def other(self, item: FolderRow, column: int, role: int) -> Any:
        if column == COL_FOLDER_ON:
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if item.enabled else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return self.tr("Watched") if item.enabled else self.tr("Not watched")
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        item = self.item_at(index.row()) if index.isValid() else None
        if item is None or index.column() != COL_FOLDER_ON:
            return False
        if role != Qt.ItemDataRole.CheckStateRole:
            return False
        on = value in (Qt.CheckState.Checked, int(Qt.CheckState.Checked.value))
        self.replace(index.row(), dataclasses.replace(item, enabled=on))
        return True


COL_FILE, COL_MESSAGE, COL_WHEN = range(3)


class WatchErrorsModel(_ListModel[WatchFile]):
    """The files of one hot folder that were not sent, with what to fix."""

    columns = 3

    def headers(self) -> list[str]:
        return [self.tr("File"), self.tr("Problem"), self.tr("When")]

    def text(self, item: WatchFile, column: int) -> str | None:
        if column == COL_FILE:
            return formats.isolated(item.path.name)
        if column == COL_MESSAGE:  # the core's English sentence, in the user's language
            return engine_text.shown(item.error)
        if column == COL_WHEN:
            when = QDateTime.fromSecsSinceEpoch(int(item.at))
            return QLocale().toString(when, QLocale.FormatType.ShortFormat)
        return None


class SentElsewhereModel(_ListModel[SentElsewhere]):
    """The files of one hot folder that another workstation watching it (a shared folder) is
    sending: not sent from here, nothing to do."""

    columns = 3

    def headers(self) -> list[str]:
        return [self.tr("File"), self.tr("Status"), self.tr("Since")]

    def text(self, item: SentElsewhere, column: int) -> str | None:
        if column == COL_FILE:
            return formats.isolated(item.path.name)
        if column == COL_MESSAGE:  # the core's English sentence, in the user's language
            return engine_text.shown(item.note)
        if column == COL_WHEN:
            when = QDateTime.fromSecsSinceEpoch(int(item.since))
            return QLocale().toString(when, QLocale.FormatType.ShortFormat)
        return None
