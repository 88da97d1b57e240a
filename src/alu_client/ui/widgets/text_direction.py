"""Multi-line texts laid out in their own writing direction, flush with their start.

An Arabic script or shot list reads right to left in the English or French app, a French one
left to right in the Arabic app: the text's first strong letter decides, as a word processor
does. A ``QPlainTextEdit`` left to itself did lay an Arabic paragraph out right to left, but
flush left, ragged at the right, in either app: its layout aligns every paragraph with the
document's one text option, whatever the paragraph's direction (a paragraph's own alignment
is not read either). So the whole text takes its first letter's direction, and every
paragraph of an Arabic script — one that starts with a Latin name or a number too — sits at
the right edge, as in the Feed's detail pane.

- ``text_direction``: the direction of a text's first strong letter.
- ``align_to_text``: lays a ``QPlainTextEdit``'s text out so, now.
- ``OwnDirectionEdit``: an editable ``QPlainTextEdit`` that keeps doing it as the user types,
  pastes or undoes (an option of the layout, not an edit: the undo history and the cursor
  are left as they are).
"""

from __future__ import annotations

import unicodedata

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QPlainTextEdit, QWidget

_RTL, _LTR = Qt.LayoutDirection.RightToLeft, Qt.LayoutDirection.LeftToRight


def text_direction(text: str, default: Qt.LayoutDirection = _LTR) -> Qt.LayoutDirection:
    """The direction of the first strong letter (Arabic, Hebrew: right to left); ``default``
    when there is none (nothing yet, or only digits and punctuation)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return _RTL
        if kind == "L":
            return _LTR
    return default


def align_to_text(box: QPlainTextEdit) -> None:
    """``box``'s text laid out in its own direction and flush with its start: an Arabic script
    at the right edge (the direction alone left it flush left, ragged at the right), in the
    Arabic app as in the English one. A text without a letter follows the box's layout
    direction (the app's): the cursor of an empty box is at the start of the app's lines."""
    direction = text_direction(box.toPlainText(), box.layoutDirection())
    side = Qt.AlignmentFlag.AlignRight if direction == _RTL else Qt.AlignmentFlag.AlignLeft
    alignment = side | Qt.AlignmentFlag.AlignAbsolute
    document = box.document()
    option = QTextOption(document.defaultTextOption())
    if option.textDirection() == direction and option.alignment() == alignment:
        return  # a new option lays the whole text out again: not at every key
    option.setTextDirection(direction)
    option.setAlignment(alignment)
    document.setDefaultTextOption(option)


class OwnDirectionEdit(QPlainTextEdit):
    """A ``QPlainTextEdit`` whose text is laid out by ``align_to_text`` whenever it changes
    (typed, pasted, undone, set by the program) and when the app's direction changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.textChanged.connect(self._align)
        self._align()

    def _align(self) -> None:
        align_to_text(self)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LayoutDirectionChange:
            self._align()


__all__ = ["OwnDirectionEdit", "align_to_text", "text_direction"]
