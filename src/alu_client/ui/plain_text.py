"""Text from the hub or from files, shown exactly as typed where Qt would read it as markup.

Tooltips (``setToolTip``, a model's ``ToolTipRole``), status tips, ``QMessageBox`` texts and
``QLabel``s left in ``Qt::AutoText`` are shown as rich text whenever ``Qt::mightBeRichText``
says the text looks like HTML. An item's title is any member's upload: a title such as
``<b style="color:green">CLEARED FOR BROADCAST</b><img src="file:///…"><!--`` showed bold green
words, loaded a local file as a picture and hid the "Withdrawn by the agency — do not use" line
that followed it. ``shown_as_typed`` is what every such place is given instead:

- a text Qt would show as plain (no tag on its first line) is returned unchanged, so an
  ordinary tooltip looks as before (its line breaks, no wrapping short of the screen's width);
- any other is escaped into a ``<qt>`` document whose paragraph keeps its spaces and line
  breaks (``white-space: pre-wrap``); a long line wraps at the width Qt gives rich tooltips
  (about 80 characters), never inside a word.

A desktop notification's body (the tray's balloons) is read as markup by most freedesktop
notification servers on Linux: ``notify_markup`` finds out how this desktop reads it.
"""

from __future__ import annotations

import html

from PySide6.QtGui import Qt as _GuiQt

_OPEN = '<qt><p style="white-space:pre-wrap">'
_CLOSE = "</p></qt>"


def shown_as_typed(text: str) -> str:
    """``text`` for a tooltip, status tip, message box or AutoText label: shown exactly as
    typed (see the module); "" stays "" (no tooltip)."""
    if not _GuiQt.mightBeRichText(text):
        return text
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return f"{_OPEN}{html.escape(lines, quote=False)}{_CLOSE}"


def tip(text: str | None) -> str | None:
    """A model's ``ToolTipRole`` answer: None (no tooltip) stays None."""
    return None if text is None else shown_as_typed(text)


__all__ = ["shown_as_typed", "tip"]
