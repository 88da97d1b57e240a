"""The auto-download rules of a profile as a table, in the order they are tried.

The model holds ``Rule`` values (``core.rules``): those read from the ``RuleStore`` and the
ones the user adds or changes in the Settings dialog, which writes them back when the user
presses OK. A rule not saved yet has a negative id. Order matters (the first enabled rule that
matches fires), so there is no sorting: rows move up and down.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from alu_client.core.rules import Rule, RuleProblem

from .. import engine_text, formats, plain_text
from ..delegates_items import language_name, priority_name
from . import OBJECT_ROLE, SORT_ROLE

COL_NAME = 0
COL_ENABLED = 1
COL_CONDITIONS = 2
COL_ACTION = 3
COL_DESTINATION = 4
COLUMN_COUNT = 5

_Index = QModelIndex | QPersistentModelIndex
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class RulesModel(QAbstractTableModel):
    """``RulesModel(parent=None)``: ``set_rules(rules)`` to fill; ``rules()`` gives them back in
    the order shown, with the user's changes. The Enabled column is a check box."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rules: list[Rule] = []
        self._next_new = -1
        # rule id → its items waiting for its folder (a share away), as last evaluated
        self.problems: dict[int, RuleProblem] = {}

    # --- content ------------------------------------------------------------------------------

    def set_rules(self, rules: Sequence[Rule], problems: Sequence[RuleProblem] = ()) -> None:
        self.beginResetModel()
        self.problems = {p.rule_id: p for p in problems}
        self._rules = list(rules)
        self.endResetModel()

    def rules(self) -> list[Rule]:
        return list(self._rules)

    def rule_at(self, row: int) -> Rule | None:
        return self._rules[row] if 0 <= row < len(self._rules) else None

    def row_of(self, rule_id: int) -> int:
        return next((i for i, r in enumerate(self._rules) if r.id == rule_id), -1)

    def new_id(self) -> int:
        """An id for a rule not saved yet (negative: the store gives the real one)."""
        value = self._next_new
        self._next_new -= 1
        return value

    def append(self, rule: Rule) -> int:
        row = len(self._rules)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rules.append(rule)
        self.endInsertRows()
        return row

    def replace(self, row: int, rule: Rule) -> None:
        if not 0 <= row < len(self._rules):
            return
        self._rules[row] = rule
        self.dataChanged.emit(self.index(row, 0), self.index(row, COLUMN_COUNT - 1))

    def remove(self, row: int) -> Rule | None:
        if not 0 <= row < len(self._rules):
            return None
        self.beginRemoveRows(QModelIndex(), row, row)
        rule = self._rules.pop(row)
        self.endRemoveRows()
        return rule

    def move(self, row: int, delta: int) -> int:
        """Move a rule ``delta`` places (negative: up, tried sooner); returns its new row."""
        target = max(0, min(len(self._rules) - 1, row + delta))
        if not 0 <= row < len(self._rules) or target == row:
            return row
        # beginMoveRows counts the destination before the move: one more when moving down.
        dest = target + 1 if target > row else target
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self._rules.insert(target, self._rules.pop(row))
        self.endMoveRows()
        return target

    def set_enabled(self, row: int, enabled: bool) -> None:
        rule = self.rule_at(row)
        if rule is None or rule.enabled == enabled:
            return
        self._rules[row] = dataclasses.replace(rule, enabled=enabled)
        self.dataChanged.emit(self.index(row, 0), self.index(row, COLUMN_COUNT - 1))

    # --- Qt ---------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rules)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else COLUMN_COUNT

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == COL_ENABLED:
            return _FLAGS | Qt.ItemFlag.ItemIsUserCheckable
        return _FLAGS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        names = (
            self.tr("Name"),
            self.tr("On"),
            self.tr("Conditions"),
            self.tr("Action"),
            self.tr("Destination"),
        )
        return names[section] if 0 <= section < COLUMN_COUNT else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        rule = self.rule_at(index.row()) if index.isValid() else None
        if rule is None:
            return None
        col = index.column()
        if role == OBJECT_ROLE:
            return rule
        if role == Qt.ItemDataRole.CheckStateRole:
            if col != COL_ENABLED:
                return None
            return Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked
        if role == SORT_ROLE:
            return index.row() if col != COL_ENABLED else int(rule.enabled)
        if role == Qt.ItemDataRole.ToolTipRole:  # names and paths, shown as typed
            return plain_text.tip(self._text(rule, col, role))
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(rule, col, role)
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_ENABLED:
            return self._enabled_tip(rule)
        return None

    def _text(self, rule: Rule, col: int, role: int) -> str | None:
        """The cell's text (``DisplayRole``) or its tooltip's (``ToolTipRole``)."""
        if col == COL_NAME:
            return rule.name
        if col == COL_ENABLED:
            return None if role == Qt.ItemDataRole.DisplayRole else self._enabled_tip(rule)
        if col == COL_CONDITIONS:
            return self.conditions_text(rule)
        if col == COL_ACTION:
            return self.action_text(rule.action)
        if col == COL_DESTINATION:
            problem = self.problems.get(rule.id)
            if problem is not None:  # a share away: said on the rule, not only in a log
                text = self.tr("⚠ %1 — cannot be written; %Ln items waiting", "",
                               problem.waiting)  # fmt: skip
                where = formats.isolated(rule.destination) or self.tr("Download folder")
                if role == Qt.ItemDataRole.ToolTipRole:
                    return engine_text.shown(problem.error)
                return text.replace("%1", where)
            if rule.destination:  # a path keeps its order in Arabic
                return formats.isolated(rule.destination)
            return self.tr("Download folder")
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or index.column() != COL_ENABLED
            or role != Qt.ItemDataRole.CheckStateRole
        ):
            return False
        checked = value in (Qt.CheckState.Checked, int(Qt.CheckState.Checked.value))
        self.set_enabled(index.row(), checked)
        return True

    # --- words ------------------------------------------------------------------------------

    def _enabled_tip(self, rule: Rule) -> str:
        return self.tr("Rule on") if rule.enabled else self.tr("Rule off")

    def action_text(self, action: str) -> str:
        texts = {
            "broadcast": self.tr("Broadcast file"),
            "proxy": self.tr("Proxy (preview) file"),
            "proxy_then_broadcast": self.tr("Proxy first, then broadcast"),
        }
        return texts.get(action, action)

    def conditions_text(self, rule: Rule) -> str:
        """``Priority: Flash; Language: French; Words: “élection”`` — or “Every new item”.

        Languages, priorities and countries by the names the Feed gives them (the list showed
        the stored codes, ``flash, urgent`` and ``fr, ar``, in every language); categories
        and regions as the hub writes them, as the Feed's filters show them."""
        c = rule.conditions
        if c.empty:
            return self.tr("Every new item")
        parts: list[str] = []
        labelled = (
            (self.tr("Category: {values}"), list(c.categories)),
            (self.tr("Region: {values}"), list(c.regions)),
            (self.tr("Country: {values}"), [formats.country_name(v) for v in c.countries]),
            (self.tr("Language: {values}"), [language_name(v) for v in c.languages]),
            (self.tr("Priority: {values}"), [priority_name(v) for v in c.priorities]),
        )
        #: between the values of one condition, any of which matches: "French, Arabic"
        comma = self.tr(", ")
        for label, values in labelled:
            if values:
                parts.append(label.format(values=comma.join(values)))
        if c.words:
            quoted = comma.join(self.tr("“{word}”").format(word=w) for w in c.words)
            parts.append(self.tr("Words: {values}").format(values=quoted))
        return self.tr("; ").join(parts)
