"""A label whose text the user can select, laid out in the app's direction.

A ``QLabel`` made selectable (``TextSelectableByMouse``) lays its text out through a
``QTextDocument``, and the document gives each paragraph the direction of its first strong
letter, looking inside the isolate the app puts around a file name (Qt's
``QTextBlock::textDirection`` does not skip isolates, as the bidi algorithm says to): in Arabic
the upload form's line "⁨empty-clip.mp4⁩ فارغ (0 بايت)." was laid out left to right, the full
stop at the far right, while the same sentence in a plain label (which does skip them) read
right to left. ``SelectableLabel`` gives the document the label's own layout direction (the
app's language's), so an Arabic sentence is right to left whatever name it starts with, and an
English one left to right; the names inside keep their order in their isolates.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QTextDocument, QTextOption
from PySide6.QtWidgets import QLabel, QWidget


class SelectableLabel(QLabel):
    """``SelectableLabel(parent=None)``: plain text, wrapped, selectable with the mouse, each
    paragraph in the label's layout direction (see the module)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # any member's texts may come here: shown as typed, never read as markup
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._follow_layout_direction()

    def document(self) -> QTextDocument | None:
        """The document Qt lays the selectable text out with (None before any text)."""
        return self.findChild(QTextDocument)

    def _follow_layout_direction(self) -> None:
        doc = self.document()
        if doc is None:
            return
        option = QTextOption(doc.defaultTextOption())
        if option.textDirection() != self.layoutDirection():
            option.setTextDirection(self.layoutDirection())
            doc.setDefaultTextOption(option)
            self.updateGeometry()
            self.update()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LayoutDirectionChange:
            self._follow_layout_direction()


__all__ = ["SelectableLabel"]
