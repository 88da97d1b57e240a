"""Small field widgets of the Settings dialog: an error line shown under a field, a rate field
read with the core's ``parse_rate``, and a path field with a Browse button."""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, QLocale, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.transfers.rates import MIN_RATE_BPS, RateTooSlow
from alu_client.core.transfers.throttle import parse_rate

from .. import colors
from ..a11y import announce
from ..formats import isolated

# the units ``formats.speed_text`` writes, as their templates name them, largest first
_UNIT_TEMPLATES = ("{value} Gbit/s", "{value} Mbit/s", "{value} kbit/s", "{value} bit/s")
_SCALES = (1e9, 1e6, 1e3, 1.0)
# the sizes ``formats.size_text`` writes, whose units a rate in bytes takes ("Mo/s")
_SIZE_TEMPLATES = ("{value} GB", "{value} MB", "{value} kB", "{value} B")


def _number_text(value: float) -> str:
    """A rate's number as the language writes it, without group separators, to six
    significant digits (what ``read_rate`` reads back as the same value)."""
    loc = QLocale()
    loc.setNumberOptions(loc.numberOptions() | QLocale.NumberOption.OmitGroupSeparator)
    return loc.toString(float(value), "g", 6)


def _unit(template: str) -> str:
    return QCoreApplication.translate("Formats", template).replace("{value}", "").strip()


def _per_second() -> str:
    """ "/s" as the language writes it after a unit: what follows the unit's slash in its
    translated "Mbit/s" ("/ث" in Arabic)."""
    bits = _unit("{value} Mbit/s")
    return bits[bits.index("/") :] if "/" in bits else "/s"


def _byte_units() -> dict[str, str]:
    """The units of a rate in bytes as the app writes them in the user's language, to their
    English spelling: "Mo/s" → "MB/s", "ميغابايت/ث" → "MB/s". Made of the size units the app
    shows ("ميغابايت", "Mo") and the language's "per second", so that they are the app's own
    words in every language it speaks."""
    per_second = _per_second()
    return {
        _unit(template) + per_second: template.replace("{value} ", "") + "/s"
        for template in _SIZE_TEMPLATES
    }


def rate_text(bps: float | None) -> str:
    """A limit as a user would type it, in the user's language as the app writes speeds
    (``2 Mbit/s``, ``1,5 Mbit/s``, ``١٫٥ ميغابت/ث``) but to six significant digits, so that
    ``read_rate`` reads back the same limit; '' when unlimited."""
    if bps is None:
        return ""
    bits = bps * 8
    for scale, template in zip(_SCALES, _UNIT_TEMPLATES, strict=True):
        if bits >= scale or scale == 1.0:
            unit = QCoreApplication.translate("Formats", template)
            return unit.format(value=_number_text(bits / scale))
    raise AssertionError("unreachable")


def byte_rate_text(bps: float) -> str:
    """A rate in bytes per second in the user's language and units: ``1.5 MB/s``,
    ``1,5 Mo/s``, ``١٫٥ ميغابايت/ث`` (the examples of the rate hints; ``read_rate`` reads it)."""
    for scale, template in zip((1e9, 1e6, 1e3, 1.0), _SIZE_TEMPLATES, strict=True):
        if bps >= scale or scale == 1.0:
            return f"{_number_text(bps / scale)} {_unit(template)}{_per_second()}"
    raise AssertionError("unreachable")


# Arabic-Indic and Eastern Arabic-Indic digits, the Arabic decimal and thousands separators
_ARABIC_NUMBERS = str.maketrans(
    {
        **{chr(0x660 + i): str(i) for i in range(10)},
        **{chr(0x6F0 + i): str(i) for i in range(10)},
        "\u066b": ".",
        "\u066c": "",
    }
)
# a number (digits with a point, as the core reads them) and what follows it
_NUMBER_AND_UNIT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(.*?)\s*")


def read_rate(text: str) -> float | None:
    """Bytes per second from what was typed ('' = unlimited); ValueError when unreadable.

    Read as the app writes speeds in the user's language too: "1,5 Mbit/s" and "2,5 Mo/s" in
    French and "١٫٥ ميغابت/ث" or "٢ ميغابايت/ث" in Arabic were refused as "not a speed" (the
    core reads ASCII digits, a point and Latin units); QLocale may also have put a narrow
    space in our own. The decimal separator is the locale's (in English "1,5" stays
    unreadable rather than fifteen)."""
    clean = text.replace("\u202f", " ").replace("\xa0", " ")
    # digits grouped as the language writes them ("1 500" in French, "1,500" in English,
    # "١٬٥٠٠" in Arabic): a separator between a digit and three more is no decimal point
    group = re.escape(QLocale().groupSeparator())
    clean = re.sub(rf"(?<=\d)(?:{group}| |\u066c)(?=\d{{3}}(?!\d))", "", clean)
    clean = clean.translate(_ARABIC_NUMBERS)
    point = QLocale().decimalPoint()
    if point not in (".", "\u066b"):
        clean = re.sub(rf"(?<=\d){re.escape(point)}(?=\d)", ".", clean)
    clean = clean.strip()
    if not clean:
        return None
    match = _NUMBER_AND_UNIT.fullmatch(clean)
    if match is not None:
        # the app's own units in the user's language, to the English ones the core reads
        units = {_unit(template): template.replace("{value} ", "") for template in _UNIT_TEMPLATES}
        units.update(_byte_units())
        typed = re.sub(r"\s*/\s*", "/", match[2])
        english = units.get(typed, typed)
        clean = f"{match[1]} {english}".strip()
    return parse_rate(clean)


def rate_error(text: str, error: ValueError | None = None) -> str:
    if isinstance(error, RateTooSlow):
        return too_slow(text)
    # the examples are written as the app writes rates in the language: "2 Mbit/s",
    # "500 kbit/s", "1,5 Mo/s" in French
    return QCoreApplication.translate(
        "SettingsFields",
        "“{text}” is not a speed; write e.g. {megabits}, {kilobits} or {megabytes}, or leave "
        "it empty for no limit.",
    ).format(
        text=text,
        megabits=isolated(rate_text(250_000)),
        kilobits=isolated(rate_text(62_500)),
        megabytes=isolated(byte_rate_text(1_500_000)),
    )


def too_slow(text: str) -> str:
    """For a rate under the core's floor (``RateTooSlow``: under ``MIN_RATE_BPS``)."""
    # {floor}: the slowest limit, written as the app writes rates: "8 kbit/s"
    return QCoreApplication.translate(
        "SettingsFields",
        "“{text}” is too slow to move a file; write at least {floor}, or leave it empty for "
        "no limit.",
    ).format(text=text, floor=isolated(rate_text(MIN_RATE_BPS)))


class ErrorLabel(QLabel):
    """What is wrong with the field above it; hidden when nothing is.

    Its ``field`` (the widget the message is about) has the message as its accessible
    description while it is shown, and ``focus_first_error`` puts the keyboard focus there: a
    red line alone left a screen-reader user on the OK button, told nothing.

    The field is not the label's buddy: a label with a buddy reads "&" as a mnemonic, so a
    message repeating what was typed ("Another rule is already named “Sports & News”") was
    drawn and read as "Sports _News" and took Alt+Space (the window menu on Windows)."""

    def __init__(self, parent: QWidget | None = None, field: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # (messages repeat what was typed)
        colors.tint(self, colors.ERROR)
        self.field: QWidget | None = None
        self._description = ""
        self.set_field(field)
        self.hide()

    def set_field(self, field: QWidget | None) -> None:
        """The widget this line speaks of (None: the dialog or page as a whole)."""
        if self.field is not None:
            self.field.setAccessibleDescription(self._description)
        self.field = field
        self._description = field.accessibleDescription() if field is not None else ""
        if field is not None and self.text():
            field.setAccessibleDescription(self.text())

    def show_message(self, message: str) -> None:
        self.setText(message)
        self.setVisible(bool(message))
        if self.field is not None:
            self.field.setAccessibleDescription(message or self._description)

    def clear_message(self) -> None:
        self.show_message("")


def focus_first_error(root: QWidget) -> bool:
    """After a check refused what ``root`` (a page or a dialog) holds: the keyboard focus on
    the field of its first error shown (in the order the form was built, top to bottom), and
    that error announced to a screen reader. False when no error is shown."""
    shown = [e for e in root.findChildren(ErrorLabel) if e.isVisibleTo(root) and e.text()]
    if not shown:
        return False
    first = shown[0]
    if first.field is not None and first.field.isEnabled():
        first.field.setFocus(Qt.FocusReason.OtherFocusReason)
    announce(first.field or first, first.text(), assertive=True)
    return True


def grow_to_show(window: QWidget) -> None:
    """Make ``window`` (a dialog) tall enough for its wrapped lines at its width, after an
    error line appeared in it. A window's minimum size leaves out the height a word-wrapped
    label needs at the width it gets: the period form's three-line French error was drawn on
    one line's height, over the next row, its end cut off."""
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    need = window.heightForWidth(window.width()) if layout.hasHeightForWidth() else -1
    need = max(need, window.minimumSizeHint().height())
    if need > window.height():
        window.resize(window.width(), need)


def focus_goes_to(field: QWidget, edit: QWidget) -> None:
    """Give a field made of several widgets the focus of its text box, so a label's mnemonic
    ("&Folder:", whose buddy is the field) reaches the box. A QLabel focuses its buddy only if
    the buddy takes focus: the bare container took none, and the path typed went into the
    field that had the focus. The tab order stays that of the box (Qt tabs to the proxy)."""
    field.setFocusPolicy(edit.focusPolicy())
    field.setFocusProxy(edit)


class RateField(QWidget):
    """A limit in bytes per second: typed as ``2M``, ``500 kbit/s``, ``1.5 MB/s`` (or in the
    language's digits and units: ``1,5 Mo/s``); empty is unlimited. ``value()`` raises
    ValueError (with the field's error shown by the caller)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setClearButtonEnabled(True)
        focus_goes_to(self, self.edit)
        self.error = ErrorLabel(self, self.edit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.error)
        self._value: float | None = None
        self._text = ""
        self.edit.textEdited.connect(self.error.clear_message)

    def set_value(self, bps: float | None) -> None:
        self._value, self._text = bps, rate_text(bps)
        self.edit.setText(self._text)
        self.error.clear_message()

    def value(self) -> float | None:
        text = self.edit.text()
        if text == self._text:
            return self._value  # untouched: exactly what was there, not a rounded copy
        return read_rate(text)


class PathField(QWidget):
    """A folder (or a file, ``pick_file=True``) typed or chosen with Browse…"""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, pick_file: bool = False) -> None:
        super().__init__(parent)
        self.pick_file = pick_file
        self.edit = QLineEdit(self)
        # a path reads left to right in every language (in Arabic too: its slashes and Latin
        # names would be reordered and the start of the path aligned to the wrong side)
        self.edit.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        focus_goes_to(self, self.edit)
        self.browse = QPushButton(self)
        self.error = ErrorLabel(self, self.edit)
        self.dialog: QFileDialog | None = None
        self.name_filter = ""
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.browse.clicked.connect(self._browse)
        self.edit.textEdited.connect(self.error.clear_message)
        self.retranslate()

    def retranslate(self) -> None:
        self.browse.setText(self.tr("Browse…"))

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self.error.clear_message()

    @Slot()
    def _browse(self) -> None:
        dialog = QFileDialog(self, self.browse.accessibleName() or self.tr("Choose"))
        if self.pick_file:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            if self.name_filter:
                dialog.setNameFilter(self.name_filter)
        else:
            dialog.setFileMode(QFileDialog.FileMode.Directory)
            dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        if self.text():
            dialog.setDirectory(self.text())
        dialog.fileSelected.connect(self._picked)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    @Slot(str)
    def _picked(self, path: str) -> None:
        self.set_text(path)
        self.chosen.emit(path)
