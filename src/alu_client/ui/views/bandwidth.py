"""The quick bandwidth limit: a combo of usual link speeds, and "Custom…" for any other.

It only chooses; whoever owns it applies the limit (``limit_chosen``) off the GUI thread.
Rates are read with the core's ``parse_rate`` (``3M`` is 3 megabits/s, ``400 KB/s`` bytes).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Signal, Slot
from PySide6.QtWidgets import QComboBox, QInputDialog, QLineEdit, QWidget

from alu_client.core.transfers.rates import RateTooSlow
from alu_client.core.transfers.throttle import parse_rate

from .. import formats
from ..widgets.combo import ElidingComboBox
from .settings_fields import byte_rate_text, rate_text, read_rate, too_slow

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
MIXED = "mixed"  # the item that shows two limits of their own, one per direction


class BandwidthLimitBox(ElidingComboBox):
    """``BandwidthLimitBox(limit=None, parent=None)``: the user's choice of a limit in bytes per
    second (None: unlimited).

    Signals: ``limit_chosen(object)`` (float or None) when the user picks or types a limit;
    ``invalid_rate(str)`` with a message for people when a typed rate cannot be read."""

    limit_chosen = Signal(object)
    invalid_rate = Signal(str)

    def __init__(self, limit: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bandwidth-limit")
        # items come and go (a custom rate, one per direction, another language): the box
        # kept its first width and showed "↓ 1 Mbit/s" of "↓ 1 Mbit/s  ↑ 512 kbit/s"
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._limit = limit
        self._custom: float | None = None
        # (down, up) when the two directions have limits of their own (set in the settings)
        self._mixed: tuple[float | None, float | None] | None = None
        self._scheduled = False
        self.dialog: QInputDialog | None = None
        self.activated.connect(self._activated)
        self._retranslate()

    @property
    def limit(self) -> float | None:
        return self._limit

    @property
    def busy(self) -> bool:
        """The user is choosing (the list or the custom rate's dialog is open)."""
        return self.dialog is not None or self.view().isVisible()

    def show_limits(self, down: float | None, up: float | None, scheduled: bool = False) -> None:
        """Show the limits in force (without ``limit_chosen``): one rate when both directions
        have it, both otherwise; ``scheduled`` when the weekly schedule sets them at this hour,
        which the user changes in the settings, not here (the box is then disabled)."""
        if scheduled != self._scheduled:
            self._scheduled = scheduled
            self.setEnabled(not scheduled)
            self._show_tip()
        if down == up:
            if self._mixed is not None:
                self._mixed = None
                self._limit = down
                self._fill()
            elif down != self._limit:
                self.set_limit(down)
        elif self._mixed != (down, up):
            self._mixed = (down, up)
            self._limit = down
            self._fill()

    def set_limit(self, bps: float | None) -> None:
        """Show ``bps`` as the current limit (without ``limit_chosen``)."""
        self._limit = bps
        if self._mixed is not None:
            self.setCurrentIndex(self.findData(MIXED))
            return
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
        self._show_tip()
        self._fill()

    def _show_tip(self) -> None:
        self.setToolTip(
            self.tr("The weekly schedule sets the limit at this hour; change it in Settings.")
            if self._scheduled
            else self.tr("Highest speed for downloads and for uploads, each")
        )

    def _fill(self) -> None:
        self.blockSignals(True)
        self.clear()
        for bps in LIMIT_PRESETS:
            self.addItem(self._text(bps), bps)
        if self._custom is not None:
            self.addItem(self._text(self._custom), self._custom)
        if self._mixed is not None:
            down, up = self._mixed
            text = self.tr("↓ %1  ↑ %2")
            self.addItem(text.replace("%1", self._text(down)).replace("%2", self._text(up)), MIXED)
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
        elif data != MIXED:
            self._choose(data)

    def _choose(self, bps: float | None) -> None:
        if self._mixed is not None:  # one limit for both directions from now on
            self._mixed = None
            self._limit = bps
            self._fill()
        self.set_limit(bps)
        self.limit_chosen.emit(bps)

    def _ask(self) -> None:
        """A window-modal question that does not block the event loop."""
        dialog = rate_dialog(
            self,
            self.tr("Bandwidth limit"),
            self.tr("Highest speed, e.g. 3M (megabits per second) or 400 KB/s:"),
            self._limit,
        )
        dialog.setObjectName("custom-limit")
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
            bps = read_rate(text)
        except ValueError as e:
            self.set_limit(self._limit)
            self.invalid_rate.emit(not_a_rate(text, e))
            return
        self._choose(bps)


def rate_dialog(parent: QWidget, title: str, label: str, current: float | None) -> QInputDialog:
    """The question for a speed (not opened: the caller connects ``finished`` and opens it)."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
    # as the app writes speeds in the user's language (read back by read_rate)
    dialog.setTextValue(rate_text(current))
    return dialog


def not_a_rate(text: str, error: ValueError | None = None) -> str:
    if isinstance(error, RateTooSlow):
        return too_slow(text)
    # the examples as the app writes rates in the language: "3 Mbit/s", "400 ko/s" in French
    return QCoreApplication.translate(
        "BandwidthLimitBox", "“{text}” is not a speed; write e.g. {megabits} or {kilobytes}."
    ).format(
        text=text,
        megabits=formats.isolated(rate_text(375_000)),
        kilobytes=formats.isolated(byte_rate_text(400_000)),
    )
