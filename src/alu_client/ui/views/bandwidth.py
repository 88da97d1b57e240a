"""The quick bandwidth limit: a combo of usual link speeds, and "Custom…" for any other.

It only chooses; whoever owns it applies the limit (``limit_chosen``) off the GUI thread.
Rates are read with the core's ``parse_rate`` (``3M`` is 3 megabits/s, ``400 KB/s`` bytes).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtWidgets import QComboBox, QInputDialog, QLineEdit, QWidget

from alu_client.core.transfers.throttle import format_rate, parse_rate

from .. import formats

# the quick limits offered, in bytes per second (None: unlimited)
LIMIT_PRESETS: tuple[float | None, ...] = (
    None,
    parse_rate("512k"),
    parse_rate("1M"),
    parse_rate("2M"),
    parse_rate("5M"),
    parse_rate("10M"),
)
CUSTOM = "custom"


class BandwidthLimitBox(QComboBox):
    """``BandwidthLimitBox(limit=None, parent=None)``: the user's choice of a limit in bytes per
    second (None: unlimited).

    Signals: ``limit_chosen(object)`` (float or None) when the user picks or types a limit;
    ``invalid_rate(str)`` with a message for people when a typed rate cannot be read."""

    limit_chosen = Signal(object)
    invalid_rate = Signal(str)

    def __init__(self, limit: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bandwidth-limit")
        self._limit = limit
        self._custom: float | None = None
        self.dialog: QInputDialog | None = None
        self.activated.connect(self._activated)
        self._retranslate()

    @property
    def limit(self) -> float | None:
        return self._limit

    def set_limit(self, bps: float | None) -> None:
        """Show ``bps`` as the current limit (without ``limit_chosen``)."""
        self._limit = bps
        for i in range(self.count()):
            if self.itemData(i) == bps:
                self.setCurrentIndex(i)
                return
        self._custom = bps  # not a preset (typed, or set in the settings): listed as it is
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setAccessibleName(self.tr("Bandwidth limit"))
        self.setToolTip(self.tr("Highest speed for downloads and for uploads, each"))
        self._fill()

    def _fill(self) -> None:
        self.blockSignals(True)
        self.clear()
        for bps in LIMIT_PRESETS:
            self.addItem(self._text(bps), bps)
        if self._custom is not None:
            self.addItem(self._text(self._custom), self._custom)
        self.addItem(self.tr("Custom…"), CUSTOM)
        self.blockSignals(False)
        self.set_limit(self._limit)

    def _text(self, bps: float | None) -> str:
        return self.tr("Unlimited") if bps is None else formats.speed_text(bps)

    @Slot(int)
    def _activated(self, index: int) -> None:
        data = self.itemData(index)
        if data == CUSTOM:
            self._ask()
        else:
            self._choose(data)

    def _choose(self, bps: float | None) -> None:
        self.set_limit(bps)
        self.limit_chosen.emit(bps)

    def _ask(self) -> None:
        """A window-modal question that does not block the event loop."""
        dialog = QInputDialog(self)
        dialog.setObjectName("custom-limit")
        dialog.setWindowTitle(self.tr("Bandwidth limit"))
        dialog.setLabelText(self.tr("Highest speed, e.g. 3M (megabits per second) or 400 KB/s:"))
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue("" if self._limit is None else format_rate(self._limit))
        dialog.finished.connect(self._answered)
        self.dialog = dialog
        dialog.open()

    @Slot(int)
    def _answered(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None:
            return
        dialog.deleteLater()
        text = dialog.textValue()
        if result != QInputDialog.DialogCode.Accepted:
            self.set_limit(self._limit)
            return
        try:
            # Units are as people type them; QLocale may have put a narrow space in our own.
            bps = parse_rate(text.replace("\u202f", " ").replace("\xa0", " "))
        except ValueError:
            self.set_limit(self._limit)
            self.invalid_rate.emit(
                self.tr("“{text}” is not a speed; write e.g. 3M or 400 KB/s.").format(text=text)
            )
            return
        self._choose(bps)
