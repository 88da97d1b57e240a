"""Multi-line texts laid out paragraph by paragraph, each in its own writing direction.

Agency scripts and shot lists mix languages: an Arabic script quotes a minister in French, a
shot list numbers an English line among Arabic ones. Each paragraph reads in the direction of
its own first strong letter and sits flush with its own start — an Arabic one at the right
edge, a French one at the left — in the English, French and Arabic app alike, as a word
processor lays them out. When the whole text took its first letter's direction, a Latin line
in an Arabic script was drawn right to left: ".The minister spoke in French",
"Plan moyen du ministre .2".

A ``QPlainTextEdit`` cannot do it: its layout gives every paragraph the document's one text
option (its alignment, and its direction when one is set), whatever the paragraph's format.
A ``QTextEdit`` reads each paragraph's own format: with no direction set, Qt takes the
paragraph's first strong letter and aligns a right-to-left one to the right. What Qt does not
do is give a paragraph without a letter (empty, "12:30", "—") a sensible direction: it makes
it left to right, so the caret of a new line under an Arabic one jumped to the left. Such a
paragraph keeps the right-to-left direction it has (a new line takes the format of the one it
was split from), or takes the direction of the paragraph before it (the first ones: of the
first with a letter); a text with no letter at all follows the box's layout direction (the
app's: an empty box writes from the right in Arabic). Only those paragraphs get a direction
of their own format: one with a letter has none, and Qt follows what is typed in it.

- ``strong_direction`` / ``text_direction``: the direction of a text's first strong letter.
- ``own_directions``: sets the formats of a document's paragraphs so (an edit: the caller
  makes it part of the edit that called for it, so that one undo takes back both).
- ``OwnDirectionEdit``: a plain-text ``QTextEdit`` that keeps doing it as the user types,
  pastes or undoes, and when the program sets its text; read-only, it shows a script.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from PySide6.QtCore import QEvent, QMimeData, Qt
from PySide6.QtGui import (
    QInputMethodEvent,
    QKeyEvent,
    QKeySequence,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QTextEdit, QWidget

_RTL, _LTR = Qt.LayoutDirection.RightToLeft, Qt.LayoutDirection.LeftToRight
_AUTO = Qt.LayoutDirection.LayoutDirectionAuto


def strong_direction(text: str) -> Qt.LayoutDirection | None:
    """The direction of the first strong letter (Arabic, Hebrew: right to left), None when
    there is none (nothing, or only digits and punctuation)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return _RTL
        if kind == "L":
            return _LTR
    return None


def text_direction(text: str, default: Qt.LayoutDirection = _LTR) -> Qt.LayoutDirection:
    """The direction of the first strong letter; ``default`` when there is none."""
    found = strong_direction(text)
    return default if found is None else found


def _blocks(document: QTextDocument) -> list[QTextBlock]:
    out, block = [], document.firstBlock()
    while block.isValid():
        out.append(block)
        block = block.next()
    return out


def wanted_directions(document: QTextDocument) -> list[Qt.LayoutDirection]:
    """Each paragraph's direction format (see the module). A paragraph with a strong letter
    has none set (Auto: Qt takes its first strong letter, whatever is typed in it next). One
    without keeps a right to left one it has, else takes the direction of the paragraph
    before it (of the next one with a letter, for the first ones): right to left is set, left
    to right is Qt's own for such a paragraph. No letter anywhere: none set (the box's)."""
    blocks = _blocks(document)
    found = [strong_direction(b.text()) for b in blocks]
    if all(d is None for d in found):
        return [_AUTO] * len(blocks)
    wanted: list[Qt.LayoutDirection] = []
    resolved = next(d for d in found if d is not None)  # for the first paragraphs
    for block, strong in zip(blocks, found, strict=True):
        if strong is not None:
            wanted.append(_AUTO)
            resolved = strong
            continue
        if block.blockFormat().layoutDirection() == _RTL:
            resolved = _RTL
        wanted.append(_RTL if resolved == _RTL else _AUTO)
    return wanted


def has_letter(document: QTextDocument) -> bool:
    return any(strong_direction(b.text()) is not None for b in _blocks(document))


def own_directions(document: QTextDocument) -> bool:
    """Give each paragraph of ``document`` its direction format (``wanted_directions``), an
    edit of the ones that differ: the caller makes it part of the edit that called for it
    (or of one undo does not record). True if one changed."""
    changes = [
        (block, want)
        for block, want in zip(_blocks(document), wanted_directions(document), strict=True)
        if block.blockFormat().layoutDirection() != want
    ]
    if not changes:
        return False  # after an undo or a redo the formats are already so: the redo is kept
    cursor = QTextCursor(document)
    cursor.beginEditBlock()
    for block, want in changes:
        cursor.setPosition(block.position())
        fmt = block.blockFormat()
        fmt.setLayoutDirection(want)
        cursor.setBlockFormat(fmt)
    cursor.endEditBlock()
    return True


class OwnDirectionEdit(QTextEdit):
    """A plain-text ``QTextEdit`` (rich text pasted comes in as its text) whose paragraphs are
    each laid out in their own direction, flush with their start (see the module), through
    every change: typed, pasted, undone, set by the program, and when the app's direction
    changes.

    The formats a change calls for are set in the same undo step as the change: the key,
    paste or input method's edit is made inside an edit block that sets them too. A key that
    cannot change any paragraph's first letter (most typed letters: one after the paragraph's
    first) is left alone, so that Qt still makes one undo step of a typed word."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptRichText(False)
        self.document().contentsChange.connect(self._changed)
        self._follow_layout_direction()

    def _in_one_step(self, edit: Callable[[], None]) -> None:
        """``edit`` and the formats it calls for, as one undo step."""
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        try:
            edit()
            own_directions(self.document())
        finally:
            cursor.endEditBlock()

    def _before_cursor(self) -> str:
        cursor = self.textCursor()
        cursor.clearSelection()
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText()

    def _may_turn(self, event: QKeyEvent) -> bool:
        """Whether ``event`` may change the first strong letter of a paragraph."""
        cursor = self.textCursor()
        if cursor.hasSelection():
            return True
        key, text = event.key(), event.text()
        plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.ShiftModifier,
        )
        if key == Qt.Key.Key_Backspace and plain:
            # one character before the caret (two units at most: a pair of surrogates)
            return cursor.atBlockStart() or strong_direction(self._before_cursor()[:-2]) is None
        if key == Qt.Key.Key_Delete and plain:
            return cursor.atBlockEnd() or strong_direction(self._before_cursor()) is None
        if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return True  # a word deleted, a paragraph split
        if text and text.isprintable():  # typed (AltGr too): inserted at the caret
            before = strong_direction(self._before_cursor())
            return before is None and strong_direction(text) is not None
        # anything else (Ctrl+V, Ctrl+X…): in one step with the formats it calls for (a key
        # that edits nothing, an arrow, leaves no step)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        undoing = event.matches(QKeySequence.StandardKey.Undo) or event.matches(
            QKeySequence.StandardKey.Redo
        )
        if self.isReadOnly() or undoing or not self._may_turn(event):
            super().keyPressEvent(event)  # an undo brings back the formats with the text
            return
        self._in_one_step(lambda: super(OwnDirectionEdit, self).keyPressEvent(event))

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        if event.commitString() or event.replacementLength():
            self._in_one_step(lambda: super(OwnDirectionEdit, self).inputMethodEvent(event))
        else:
            super().inputMethodEvent(event)

    def insertFromMimeData(self, source: QMimeData) -> None:  # a paste, a drop
        self._in_one_step(lambda: super(OwnDirectionEdit, self).insertFromMimeData(source))

    def _changed(self, *_args: object) -> None:
        document = self.document()
        if not document.isUndoRedoEnabled() or self.isReadOnly():
            # set by the program (``setPlainText``: undo is off meanwhile), or only shown
            own_directions(document)
        self._follow_layout_direction()

    def _follow_layout_direction(self) -> None:
        """The document's option: no direction (each paragraph's own) once the text has a
        letter; the box's (the app's) before, so an empty box writes from the right in the
        Arabic app. Each paragraph aligned with its start (left: Qt turns it for right to
        left)."""
        document = self.document()
        direction = _AUTO if has_letter(document) else self.layoutDirection()
        option = QTextOption(document.defaultTextOption())
        alignment = Qt.AlignmentFlag.AlignLeft
        if option.textDirection() == direction and option.alignment() == alignment:
            return  # a new option lays the whole text out again
        option.setTextDirection(direction)
        option.setAlignment(alignment)
        document.setDefaultTextOption(option)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LayoutDirectionChange:
            self._follow_layout_direction()


__all__ = ["OwnDirectionEdit", "own_directions", "strong_direction", "text_direction"]
