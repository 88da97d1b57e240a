"""A label whose text the user can select, laid out in the app's direction.

A ``QLabel`` made selectable (``TextSelectableByMouse``) lays its text out through a
``QTextDocument``, and the document gives each paragraph the direction of its first strong
letter, looking inside the isolate the app puts around a file name (Qt's
``QTextBlock::textDirection`` does not skip isolates, as the bidi algorithm says to): in Arabic
the upload form's line "⁨empty-clip.mp4⁩ فارغ (0 بايت)." was laid out left to right, the full
stop at the far right, while the same sentence in a plain label (which does skip them) read
right to left. ``SelectableLabel`` gives the document the label's own layout direction (the
app's language's), so an Arabic sentence is right to left whatever name it starts with, and an
English one left to right; the names inside keep their order in their isolates. What the user
copies (Ctrl+C, the context menu's Copy) is the text without those isolates: a slug pasted into
a rundown or an email carried invisible marks that broke exact matches.

``ElidingLabel`` is a one-line label that gives way: narrower than its text, it ends it with
"…" and shows it whole in its tooltip (the status bar's hub and counts: at a large font their
whole texts set the window's minimum width, wider than the screen).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt
from PySide6.QtGui import (
    QContextMenuEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QLabel, QMenu, QStyle, QWidget

from ..formats import without_marks
from ..plain_text import shown_as_typed
from .combo import elided_text
from .text_direction import strong_direction

_QT_CONTEXT = "QWidgetTextControl"  # Qt's own words for a text's context menu (qtbase)


class SelectableLabel(QLabel):
    """``SelectableLabel(parent=None, *, own_direction=False)``: plain text, wrapped, selectable
    with the mouse, each paragraph in the label's layout direction (see the module), or with
    ``own_direction`` each paragraph in the direction of its own first strong letter, flush
    with its start (a text without a letter: the label's)."""

    def __init__(self, parent: QWidget | None = None, *, own_direction: bool = False) -> None:
        super().__init__(parent)
        # free text (an item's restrictions): each paragraph laid out in its own direction and
        # flush with its start, as the script's are (an Arabic one wrapped over lines in the
        # English app ended with a line at the left edge; an English line under an Arabic one
        # read ".No use in Sudan before 18:00 GMT")
        self.own_direction = own_direction
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
        direction = self.layoutDirection()
        if self.own_direction and strong_direction(self.text()) is not None:
            # Qt gives each paragraph its first strong letter's direction (looking inside the
            # isolates the app puts around each line) and aligns it with its start
            direction = Qt.LayoutDirection.LayoutDirectionAuto
        option = QTextOption(doc.defaultTextOption())
        if option.textDirection() != direction:
            option.setTextDirection(direction)
            doc.setDefaultTextOption(option)
            self.updateGeometry()
            self.update()

    def copy_selection(self) -> None:
        """The selected text to the clipboard, without the app's isolates and joiners."""
        if self.hasSelectedText():
            QGuiApplication.clipboard().setText(without_marks(self.selectedText()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy) and self.hasSelectedText():
            self.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        # Qt's own menu copies the marks too; this one says the same, in Qt's own words (its
        # catalogue's: the context is named through a variable, so lupdate leaves it there)
        qt = _QT_CONTEXT
        menu = QMenu(self)
        copy = menu.addAction(QCoreApplication.translate(qt, "&Copy"))
        copy.setEnabled(self.hasSelectedText())
        copy.triggered.connect(self.copy_selection)
        select_all = menu.addAction(QCoreApplication.translate(qt, "Select All"))
        select_all.triggered.connect(lambda: self.setSelection(0, len(self.text())))
        menu.exec(event.globalPos())
        menu.deleteLater()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LayoutDirectionChange:
            self._follow_layout_direction()


class ElidingLabel(QLabel):
    """A one-line plain-text label that can be narrower than its text (down to ``least``
    average characters): it then ends with "…", whole in its tooltip. ``text()`` and the
    accessible name stay whole."""

    def __init__(self, parent: QWidget | None = None, *, least: int = 6) -> None:
        super().__init__(parent)
        self.least = least
        self.setTextFormat(Qt.TextFormat.PlainText)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        least = self.least * self.fontMetrics().averageCharWidth()
        return QSize(min(hint.width(), least), hint.height())

    def shown(self) -> str:
        """The text as drawn: whole, or cut with "…" to the label's width."""
        room = self.contentsRect().width() - 2 * max(0, self.indent())
        if self.fontMetrics().horizontalAdvance(self.text()) <= room:
            return self.text()
        return elided_text(self.text(), self.fontMetrics(), room)

    def is_elided(self) -> bool:
        return self.shown() != self.text()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._tell_whole()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._tell_whole()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._tell_whole()

    def _tell_whole(self) -> None:
        self.setToolTip(shown_as_typed(self.text()) if self.is_elided() else "")

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.is_elided():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        align = QStyle.visualAlignment(self.layoutDirection(), self.alignment())
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(align.value),
            self.palette(),
            self.isEnabled(),
            self.shown(),
            self.foregroundRole(),
        )
        painter.end()


__all__ = ["ElidingLabel", "SelectableLabel"]
