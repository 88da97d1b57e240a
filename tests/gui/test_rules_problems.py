"""A rule whose folder cannot be written is said where the user sees it (rules review finding
2): the status bar while its items wait, and the rule's row in Settings › Auto-download."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from alu_client.core.rules import Conditions, Rule, RuleProblem
from alu_client.ui.models.rules import COL_DESTINATION, RulesModel
from alu_client.ui.statusbar import StatusBar

PROBLEM = RuleProblem(
    7,
    "newsshare",
    "/mnt/share/news",
    "the folder /mnt/share/news cannot be written (Read-only file system)",
    3,
    "Desk share story",
)


def test_the_status_bar_says_a_rules_items_wait_until_they_no_longer_do(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    assert bar.rules_label.isHidden()
    bar.set_rule_problems([PROBLEM])
    assert not bar.rules_label.isHidden()
    assert "newsshare" in bar.rules_label.text() and "3" in bar.rules_label.text()
    tip = bar.rules_label.toolTip()
    assert "/mnt/share/news" in tip and "Read-only file system" in tip
    bar.set_rule_problems([])
    assert bar.rules_label.isHidden()


def test_the_rules_row_in_settings_says_its_folder_cannot_be_written(qtbot: Any) -> None:
    model = RulesModel()
    rule = Rule(7, "newsshare", True, 1.0, Conditions(), "broadcast", "/mnt/share/news")
    other = Rule(8, "desk", True, 2.0, Conditions(), "broadcast", "/srv/desk")
    model.set_rules([rule, other], [PROBLEM])
    shown = model.data(model.index(0, COL_DESTINATION))
    assert "/mnt/share/news" in shown and "3" in shown and "cannot be written" in shown
    tip = model.data(model.index(0, COL_DESTINATION), Qt.ItemDataRole.ToolTipRole)
    assert "Read-only file system" in tip
    assert "cannot" not in model.data(model.index(1, COL_DESTINATION))
