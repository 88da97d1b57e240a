"""A toolbar's overflow button ("»", for the commands that do not fit) is named: Qt gives it
no name and no tooltip, and a screen reader read it as "button"."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication, QToolButton

from alu_client.ui.i18n import install_translators
from alu_client.ui.widgets.toolbar import EXTENSION, Toolbar


def test_the_overflow_button_is_named_in_the_users_language(qtbot: Any, qapp: QApplication) -> None:
    bar = Toolbar()
    qtbot.addWidget(bar)
    for i in range(12):
        bar.addAction(f"Command number {i}")
    bar.resize(160, 40)
    bar.show()
    qtbot.waitExposed(bar)
    button = bar.findChild(QToolButton, EXTENSION)
    assert button is not None
    qtbot.waitUntil(button.isVisible)
    assert button.accessibleName() == "More commands" == button.toolTip()
    try:
        install_translators(qapp, "fr")
        qtbot.waitUntil(lambda: button.accessibleName() == "Plus de commandes")
        assert button.toolTip() == "Plus de commandes"
    finally:
        install_translators(qapp, "en")
    qtbot.waitUntil(lambda: button.accessibleName() == "More commands")
