"""A drop-down whose text, when the box is narrower than it, ends with "…".

A ``QComboBox`` draws its current text clipped at its edge: in a narrow window, or in French
or Arabic (longer words), the filter bars' boxes read "Toutes les catég" or "Dernières 24 h",
cut mid-word with nothing to say that more is hidden. ``ElidingComboBox`` paints the text
elided to the room of its label, "…" where the text's own direction ends (``elided_text``: a
first-strong isolate, as the tables' cells), tells the whole text in its tooltip while it is
elided (the placeholder's too, when nothing is chosen), and leaves screen readers the whole
text (the accessible value is ``currentText``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFontMetrics, QHelpEvent, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolTip,
)

from .. import formats


def elided_text(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` as it fits ``width`` pixels of ``metrics``' font: whole, or cut at its end with
    "…"; isolated, so that the "…" follows the text's own direction (after a French word in
    the Arabic layout, not before it)."""
    if not text:
        return text
    return formats.isolated(metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width)))


class ElidingComboBox(QComboBox):
    """A ``QComboBox`` that elides its current text with "…" (see the module)."""

    def label_option(self) -> QStyleOptionComboBox:
        """The option the box's label is painted with: its ``currentText`` elided to the room
        the style gives the label (the placeholder's when nothing is chosen)."""
        opt = self._whole_option()
        if self._placeholder_shown():
            opt.palette.setBrush(QPalette.ColorRole.ButtonText, opt.palette.placeholderText())
        opt.currentText = elided_text(opt.currentText, self.fontMetrics(), self._label_width(opt))
        return opt

    def is_elided(self) -> bool:
        """Whether the text shown (the choice, or the placeholder) is cut (the tooltip then
        tells it whole)."""
        opt = self._whole_option()
        shown = elided_text(opt.currentText, self.fontMetrics(), self._label_width(opt))
        return shown != formats.isolated(opt.currentText)

    def _placeholder_shown(self) -> bool:
        return self.currentIndex() < 0 and bool(self.placeholderText())

    def _whole_option(self) -> QStyleOptionComboBox:
        """The style option with the whole text the label shows: the choice, or the
        placeholder when nothing is chosen."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        if self._placeholder_shown():
            opt.currentText = self.placeholderText()
        return opt

    def _label_width(self, opt: QStyleOptionComboBox) -> int:
        # as QCommonStyle's CE_ComboBoxLabel: the edit field, less the icon and 4 px beside
        # it, less 1 px each side
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        width = field.width() - 2
        if not opt.currentIcon.isNull():
            width -= opt.iconSize.width() + 4
        return width

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.isEditable():  # the line edit shows the text
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        frame = QStyleOptionComboBox()
        self.initStyleOption(frame)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, frame)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, self.label_option())
        painter.end()

    def event(self, event: QEvent) -> bool:
        # the whole text while it is cut, above the box's own tooltip if it has one
        help_event = event if isinstance(event, QHelpEvent) else None
        tip_asked = help_event is not None and event.type() == QEvent.Type.ToolTip
        if help_event is not None and tip_asked and not self.isEditable() and self.is_elided():
            whole = self.placeholderText() if self._placeholder_shown() else self.currentText()
            tip = "\n".join(t for t in (whole, self.toolTip()) if t)
            QToolTip.showText(help_event.globalPos(), tip, self)
            return True
        return super().event(event)


__all__ = ["ElidingComboBox", "elided_text"]
