"""The status bar's word that this computer's clock is off from the hub's ("⚠ Clock 2 hours
ahead"), with what to do in its tooltip; hidden while the clock agrees.

The offset is the one the feed sync measures from the hub's answers and keeps
(``SyncState.clock_offset``): the Feed's ages, the History's times and the auto-download rules
already go by the hub's clock, but a clock hours off was only said in the log, and a user who
saw a flash's time on the computer's own clock (the taskbar, a file's date) had no way to know.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from alu_client.core.store import Store
from alu_client.core.sync import SyncState

# an offset at most this long is not said (seconds): the hub leaves event times alone up to
# two minutes, and a few minutes change no "min ago" a newsroom reads
CLOCK_WARN_S = 5 * 60.0
# how often the kept offset is read again (ms): the sync measures it at each hub answer
CHECK_MS = 60_000


class ClockWords(QObject):
    """How far a clock is off, in words ("2 hours"): the status bar's warning and the upload
    form's refusal of a recording date say it alike. A QObject so that ``self.tr`` keeps the
    plural forms (``pyside6-lupdate`` drops them from a module-level ``translate``)."""

    def how_long(self, seconds: float) -> str:
        minutes = round(seconds / 60)
        if minutes < 120:
            return self.tr("%Ln minutes", "", minutes)
        hours = round(seconds / 3600)
        if hours < 48:
            return self.tr("%Ln hours", "", hours)
        return self.tr("%Ln days", "", round(seconds / 86400))


class ClockWarning(QLabel):
    """``ClockWarning(store, profile)``: shown while the kept offset is over ``CLOCK_WARN_S``;
    ``check()`` reads it again (also each minute). ``first_said(text)`` is emitted the first
    time it shows, with the whole sentence (the status bar says it once)."""

    first_said = Signal(str)

    def __init__(self, store: Store, profile: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusClock")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.state = SyncState(store, profile)
        self.offset: float | None = None
        self._said = False
        self.hide()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        self.set_offset(self.state.clock_offset)

    def stop(self) -> None:
        """No more reading (the window shuts down: the library closes)."""
        self._timer.stop()

    def set_offset(self, offset: float | None) -> None:
        """The hub's clock minus this computer's (seconds; None: never measured)."""
        self.offset = offset
        self._show()
        if not self.isHidden() and not self._said:
            self._said = True
            self.first_said.emit(self.toolTip())

    def _show(self) -> None:
        offset = self.offset
        off = offset is not None and abs(offset) > CLOCK_WARN_S
        self.setVisible(off)
        if offset is None or not off:
            return
        how_long = ClockWords().how_long(abs(offset))
        if offset < 0:  # the hub's clock behind this one's: this one is ahead
            text = self.tr("⚠ Clock %1 ahead")
            sentence = self.tr(
                "This computer's clock is %1 ahead of the hub's: set it right in the system's "
                "date and time settings (turn on automatic date and time)."
            )
        else:
            text = self.tr("⚠ Clock %1 behind")
            sentence = self.tr(
                "This computer's clock is %1 behind the hub's: set it right in the system's "
                "date and time settings (turn on automatic date and time)."
            )
        meanwhile = self.tr(
            "Meanwhile the Feed's ages and the History's times go by the hub's clock."
        )
        self.setText(text.replace("%1", how_long))
        tip = f"{sentence.replace('%1', how_long)}\n{meanwhile}"
        self.setToolTip(tip)
        self.setAccessibleName(text.replace("%1", how_long))
        self.setAccessibleDescription(tip)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._show()
        super().changeEvent(event)
