"""What a screen reader is told beyond what it reads off the focused widget.

A message that appears in a label or the status bar ("Already downloaded: …", "Copied 3 files
to …", an error under a field) is only read if the user goes looking for it: a screen-reader
user who pressed Ctrl+D, or OK in Settings, heard nothing. ``announce`` hands such a message to
the screen reader (Qt 6.8's ``QAccessibleAnnouncementEvent``, a live region on the platforms'
side); ``say`` shows it in a panel's message line and announces it, in one call.

Announcements are polite (said after what is being read) unless ``assertive``: errors that
stopped what the user asked for interrupt.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QLabel

_Politeness = QAccessible.AnnouncementPoliteness


def announce(source: QObject, text: str, *, assertive: bool = False) -> None:
    """Have screen readers say ``text`` (nothing when it is empty); ``source`` is the widget
    the message belongs to (the platform takes the window and language from it). Costs
    nothing while no assistive technology is listening (Qt drops the event)."""
    if not text:
        return
    event = QAccessibleAnnouncementEvent(source, text)
    event.setPoliteness(_Politeness.Assertive if assertive else _Politeness.Polite)
    QAccessible.updateAccessibility(event)


def say(label: QLabel, text: str, *, assertive: bool = False) -> None:
    """Show ``text`` in a panel's message line (hidden when empty) and announce it. Shown as
    written: messages carry names and the hub's words, never markup."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setVisible(bool(text))
    announce(label, text, assertive=assertive)


__all__ = ["announce", "say"]
