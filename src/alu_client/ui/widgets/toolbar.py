"""A panel's toolbar whose overflow button says what it is.

A toolbar narrower than its buttons shows Qt's extension button ("»", object name
``qt_toolbar_ext_button``) for the ones that do not fit. Qt gives it no name and no tooltip: a
screen reader read it as "button", and a mouse user hovering it learnt nothing. ``Toolbar``
names it "More commands" (translated, again when the language changes).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QToolBar, QToolButton, QWidget

EXTENSION = "qt_toolbar_ext_button"


class Toolbar(QToolBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name_extension()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self._name_extension()

    def _name_extension(self) -> None:
        button = self.findChild(QToolButton, EXTENSION)
        if button is None:  # (a Qt without one: nothing to name)
            return
        text = QCoreApplication.translate("Toolbar", "More commands")
        button.setAccessibleName(text)
        button.setToolTip(text)


__all__ = ["EXTENSION", "Toolbar"]
