"""Painting cells: text elided at its own end, and the progress bar of a transfer, drawn by the
style (never a widget per row).

``TextDelegate`` (every table's, see ``views.new_table``) paints a cell's text as a first-strong
isolate: elided, it ends with "…" where its own direction ends. The style elides at the logical
end and the ellipsis, a neutral character, took the layout's direction: a French title in the
Arabic layout read "…Liberian coast guard de", as if its beginning were cut (an Arabic one in
the English layout, the mirror of that).

``ProgressDelegate`` reads ``FRACTION_ROLE`` (0.0–1.0, or None when the size is unknown) and
draws the platform's progress bar with the cell's display text (the percentage) on it; with no
fraction it paints the cell as usual. It follows the row's layout direction (right to left in
Arabic) and draws the selection behind the bar.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from . import formats
from .models import FRACTION_ROLE

# steps of the painted bar (per mille: smooth on wide columns, integer for the style)
_STEPS = 1000


class TextDelegate(QStyledItemDelegate):
    """Paints a cell's text in its own direction (its first strong letter decides), whatever
    the layout's: "…" after a Latin title's last letter shown, before an Arabic one's."""

    def initStyleOption(
        self,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().initStyleOption(option, index)
        if option.text:
            option.text = formats.isolated(option.text)


class ProgressDelegate(QStyledItemDelegate):
    """Paints ``FRACTION_ROLE`` as a progress bar labelled with ``DisplayRole``."""

    margin = 2

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        fraction = index.data(FRACTION_ROLE)
        if not isinstance(fraction, float | int):
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The cell's background and selection first, as any other cell of the row.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(self.margin, self.margin, -self.margin, -self.margin)
        bar.direction = option.direction
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.minimum = 0
        bar.maximum = _STEPS
        bar.progress = round(max(0.0, min(1.0, float(fraction))) * _STEPS)
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
