"""Sizes, speeds, durations and percentages as newsroom staff read them, in their language.

Numbers follow the default QLocale (set with the language by ``i18n.install_translators``);
units are translatable. Speeds are in bits per second, as links and the bandwidth limits are.

File names, paths, URLs and frame sizes dropped into a translated sentence go in Unicode
isolates (``isolated``, ``frame_size``): without them the Arabic sentence's direction reorders
their pieces ("024 (2).mp4" read as "mp4.(2) 024", "640×360" as "360×640").
"""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QLocale

NO_VALUE = "—"
# first-strong isolate, left-to-right isolate, pop directional isolate, left-to-right mark
FSI, LRI, PDI, LRM = "\u2068", "\u2066", "\u2069", "\u200e"


def isolated(text: object) -> str:
    """``text`` (a file name, path, URL, title) as a first-strong isolate: inside a sentence
    of the other direction it keeps its own order, and its neighbours keep theirs."""
    s = str(text)
    return f"{FSI}{s}{PDI}" if s else s


def frame_size(width: int, height: int) -> str:
    """``640×360``: width first, in the language's digits, left to right in every language.

    The isolate alone is not enough: Arabic-Indic digits are "Arabic numbers" to the Unicode
    bidi algorithm, and the neutral ``×`` between two of them resolves right to left, so
    ``٣٢٠×١٨٠`` drew as ``١٨٠×٣٢٠`` (height first). A left-to-right mark on each side of the
    ``×`` makes it left to right."""
    loc = QLocale()
    loc.setNumberOptions(loc.numberOptions() | QLocale.NumberOption.OmitGroupSeparator)
    return f"{LRI}{loc.toString(int(width))}{LRM}×{LRM}{loc.toString(int(height))}{PDI}"


def count_text(n: int) -> str:
    """A count of things in the language's digits: ``29``, ``٢٩`` (never ``str(n)``)."""
    return QLocale().toString(int(n))


def _number(value: float) -> str:
    """Three significant digits at most: 734, 12.3, 1.5, 2 (not 2.0); never ``1e+03`` (but
    ``8e+291`` for a value past 64 bits, which QLocale cannot write whole: a hub's history
    event may say one)."""
    if 999.5 <= abs(value) < 2**63:  # "g" would write 1e+03: whole numbers from there
        return QLocale().toString(round(value))
    return QLocale().toString(float(value), "g", 3)


def size_text(nbytes: int | None) -> str:
    """``734 kB``, ``12.3 MB``, ``1.5 GB`` (powers of 1000, as disk makers count)."""
    if nbytes is None or nbytes < 0:
        return NO_VALUE
    if nbytes < 1000:
        return QCoreApplication.translate("Formats", "{value} B").format(
            value=QLocale().toString(nbytes)
        )
    units = (
        QCoreApplication.translate("Formats", "{value} kB"),
        QCoreApplication.translate("Formats", "{value} MB"),
        QCoreApplication.translate("Formats", "{value} GB"),
        QCoreApplication.translate("Formats", "{value} TB"),
    )
    value = float(nbytes)
    for unit in units:
        value /= 1000
        # 999.6 shows as 1000 at three significant digits: the next unit's "1" then
        if value < 999.5 or unit is units[-1]:
            return unit.format(value=_number(value))
    raise AssertionError("unreachable")


def speed_text(bytes_per_second: float | None) -> str:
    """``2.4 Mbit/s``; empty when nothing moves (an idle row stays quiet), and for a speed no
    link has (a petabyte a second and more: a hub's history event may say one)."""
    if not bytes_per_second or not 1 <= bytes_per_second < 1e15:
        return ""
    bits = bytes_per_second * 8
    units = (
        (1e9, QCoreApplication.translate("Formats", "{value} Gbit/s")),
        (1e6, QCoreApplication.translate("Formats", "{value} Mbit/s")),
        (1e3, QCoreApplication.translate("Formats", "{value} kbit/s")),
    )
    for scale, unit in units:
        if bits >= scale * 0.95:
            value = bits / scale
            return unit.format(value=_number(value))
    return QCoreApplication.translate("Formats", "{value} bit/s").format(value=_number(round(bits)))


def duration_text(seconds: float | None) -> str:
    """Time left: ``45 s``, ``7 min 20 s``, ``25 min``, ``2 h 05 min``, ``3 d 4 h``."""
    # (from 1e18 s, the days no longer fit the 64 bits QLocale writes: a value no transfer
    # takes, which a history event's detail may still say)
    if seconds is None or not 0 <= seconds < 1e18:
        return ""
    loc = QLocale()

    def n(value: int, width: int = 1) -> str:
        text = loc.toString(value)
        return loc.zeroDigit() * (width - len(text)) + text

    s = round(seconds)
    if s < 60:
        return QCoreApplication.translate("Formats", "{s} s").format(s=n(max(s, 1)))
    m, sec = divmod(s, 60)
    if m < 10:
        return QCoreApplication.translate("Formats", "{m} min {s} s").format(m=n(m), s=n(sec))
    if m < 60:
        return QCoreApplication.translate("Formats", "{m} min").format(m=n(m))
    h, m = divmod(m, 60)
    if h < 24:
        return QCoreApplication.translate("Formats", "{h} h {m} min").format(h=n(h), m=n(m, 2))
    d, h = divmod(h, 24)
    return QCoreApplication.translate("Formats", "{d} d {h} h").format(d=n(d), h=n(h))


def percent_text(fraction: float | None) -> str:
    """``42%`` (``42 %`` in French); whole percents, and 100 only when complete."""
    if fraction is None or math.isnan(fraction):
        return NO_VALUE
    value = math.floor(max(0.0, min(1.0, fraction)) * 100)
    return QCoreApplication.translate("Formats", "{percent}%").format(
        percent=QLocale().toString(value)
    )


__all__ = [
    "FSI",
    "LRI",
    "LRM",
    "NO_VALUE",
    "PDI",
    "count_text",
    "duration_text",
    "frame_size",
    "isolated",
    "percent_text",
    "size_text",
    "speed_text",
]
