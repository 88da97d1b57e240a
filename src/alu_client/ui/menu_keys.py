"""Menus draw a command's keys left to right in a right-to-left language.

A menu item's keys are drawn by the style in the menu's direction: in Arabic the Tools menu
showed Settings' "Ctrl+," as ",+Ctrl" (a comma at the end is a neutral, and goes to the other
end of a right-to-left line). The tooltips put their keys in a left-to-right isolate
(``formats.keys_text``); Qt writes a menu's keys itself, so ``MenuKeysStyle`` isolates them
where the style draws them: a proxy of the app's style that changes nothing else. It is the
app's style while the layout is right to left (``follow_layout_direction``, from
``i18n.install_translators``); in a left-to-right layout the keys are already in order, and the
style stays Qt's own (a style written in Python is called for everything Qt draws).
"""

from __future__ import annotations

from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QStyleOptionMenuItem,
    QWidget,
)

from .formats import LRI, PDI


def isolated_keys(text: str) -> str:
    """A menu item's text with its keys (after the tab, where Qt puts them) in a left-to-right
    isolate; unchanged without keys, or when they are isolated already."""
    label, tab, keys = text.partition("\t")
    if not tab or not keys or keys.startswith(LRI):
        return text
    return f"{label}\t{LRI}{keys}{PDI}"


class MenuKeysStyle(QProxyStyle):
    """The app's style, with the keys of menu items left to right (see the module)."""

    def drawControl(
        self,
        element: QStyle.ControlElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.ControlElement.CE_MenuItem and isinstance(
            option, QStyleOptionMenuItem
        ):
            text = isolated_keys(option.text)
            if text != option.text:
                option = QStyleOptionMenuItem(option)
                option.text = text
        super().drawControl(element, option, painter, widget)


def follow_layout_direction(app: QApplication, right_to_left: bool) -> None:
    """Make ``MenuKeysStyle`` the app's style in a right-to-left layout, and the style it
    wraps again in a left-to-right one."""
    current = app.style()
    if right_to_left and not isinstance(current, MenuKeysStyle):
        app.setStyle(MenuKeysStyle(current.name()))
    elif not right_to_left and isinstance(current, MenuKeysStyle):
        base = QStyleFactory.create(current.baseStyle().name())
        if base is not None:
            app.setStyle(base)


__all__ = ["MenuKeysStyle", "follow_layout_direction", "isolated_keys"]
