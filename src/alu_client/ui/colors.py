"""The app's signal colours — error texts, flash and urgent items — made readable on the
palette in use.

The reds and the orange are chosen for a light palette. Fixed, they were 1.9:1 on a dark
desktop theme (Qt gets a dark palette from KDE/GNOME dark or Windows' dark mode): an error
under a field could hardly be read. ``readable`` keeps the hue and moves the lightness — lighter
on a dark background, darker on a light one — until the text reaches WCAG AA's 4.5:1 against
the background it is drawn on (``on_window``: a dialog or panel; ``on_view``: the cells of a
table or list, alternate rows too). The results are cached by colour, so a paint pays a lookup.

``tint`` keeps a label's text in such a colour, again after a palette change (the desktop
switching to dark mode while the app runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

#: error messages (sign-in, Settings, the upload form, the panels' messages)
ERROR = QColor("#b00020")
#: flash items: their rows' text, the card's title and edge
FLASH = QColor("#c62828")
#: urgent items: their priority cell and the card's edge
URGENT = QColor("#b45309")

#: WCAG 2 AA for normal-size text
MIN_TEXT_CONTRAST = 4.5

_Role = QPalette.ColorRole
_WINDOW = (_Role.Window,)
_VIEW = (_Role.Base, _Role.AlternateBase)
_PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def luminance(color: QColor) -> float:
    """WCAG 2's relative luminance: 0 for black, 1 for white."""

    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.red())
        + 0.7152 * channel(color.green())
        + 0.0722 * channel(color.blue())
    )


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(
    color: QColor, backgrounds: Iterable[QColor], minimum: float = MIN_TEXT_CONTRAST
) -> QColor:
    """``color`` itself when text in it reaches ``minimum`` on every background; else the same
    hue, lighter on a dark background (darker on a light one), just as far as it takes."""
    found = _readable(color.rgb(), tuple(b.rgb() for b in backgrounds), minimum)
    return QColor.fromRgb(found)


@lru_cache(maxsize=256)
def _readable(rgb: int, backgrounds: tuple[int, ...], minimum: float) -> int:
    color = QColor.fromRgb(rgb)
    grounds = [QColor.fromRgb(b) for b in backgrounds]

    def worst(c: QColor) -> float:
        return min((contrast(c, g) for g in grounds), default=21.0)

    if worst(color) >= minimum:
        return rgb
    # which way gives room: white text reads better on this background than black text does
    dark_ground = sum(contrast(QColor("white"), g) - contrast(QColor("black"), g) for g in grounds)
    step = 0.01 if dark_ground > 0 else -0.01
    hue, saturation = color.hslHueF(), color.hslSaturationF()
    lightness = color.lightnessF()
    best, best_ratio = color, worst(color)
    while 0.0 <= lightness + step <= 1.0:
        lightness += step
        candidate = QColor.fromHslF(max(hue, 0.0), saturation, lightness)
        ratio = worst(candidate)
        if ratio > best_ratio:
            best, best_ratio = candidate, ratio
        if ratio >= minimum:
            break
    return best.rgb()


def _palette(palette: QPalette | None) -> QPalette:
    return palette if palette is not None else QGuiApplication.palette()


def on_window(color: QColor, palette: QPalette | None = None) -> QColor:
    """``color`` readable as text on a window's background (dialogs, panels, labels);
    ``palette`` defaults to the application's."""
    p = _palette(palette)
    return readable(color, (p.color(role) for role in _WINDOW))


def on_view(color: QColor, palette: QPalette | None = None) -> QColor:
    """``color`` readable as text in a table's or list's cells (plain and alternate rows)."""
    p = _palette(palette)
    return readable(color, (p.color(role) for role in _VIEW))


class _Tint(QObject):
    """Keeps its widget's text (``WindowText``) in ``color`` made readable on the widget's
    background; the palette's own text colour when ``color`` is None."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.setObjectName("colors-tint")
        self.widget = widget
        self.color: QColor | None = None
        self.tinted = False  # the widget's palette is ours (never reset one set elsewhere)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget and event.type() in _PALETTE_EVENTS:
            self.apply()
        return False

    def apply(self) -> None:
        widget, role = self.widget, _Role.WindowText
        if self.color is None:
            if self.tinted:
                self.tinted = False
                widget.setPalette(QPalette())  # back to the inherited palette
            return
        palette = widget.palette()
        wanted = on_window(self.color, palette)
        if palette.color(role) != wanted:  # our own setPalette comes back here: stops
            palette.setColor(role, wanted)
            self.tinted = True
            widget.setPalette(palette)


def tint(widget: QWidget, color: QColor | None) -> None:
    """Draw ``widget``'s text in ``color`` (e.g. ``ERROR``), readable on its background now
    and after the palette changes; None gives it back the palette's text colour."""
    keeper = widget.findChild(_Tint, "colors-tint", Qt.FindChildOption.FindDirectChildrenOnly)
    if keeper is None:
        keeper = _Tint(widget)
    keeper.color = QColor(color) if color is not None else None
    keeper.apply()


__all__ = [
    "ERROR",
    "FLASH",
    "MIN_TEXT_CONTRAST",
    "URGENT",
    "contrast",
    "luminance",
    "on_view",
    "on_window",
    "readable",
    "tint",
]
