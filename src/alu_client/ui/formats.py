"""Sizes, speeds, durations and percentages as newsroom staff read them, in their language.

Numbers follow the default QLocale (set with the language by ``i18n.install_translators``);
units are translatable. Speeds are in bits per second, as links and the bandwidth limits are.

File names, paths, URLs and frame sizes dropped into a translated sentence go in Unicode
isolates (``isolated``, ``frame_size``): without them the Arabic sentence's direction reorders
their pieces ("024 (2).mp4" read as "mp4.(2) 024", "640×360" as "360×640"). Keys go in a
left-to-right isolate (``keys_text``): "Ctrl+," read ",+Ctrl" in an Arabic tooltip.

The parts of a one-line summary are joined by the language's separator (``joined``): the
middle dot of English and French is drawn like the Arabic-Indic zero "٠" in Arabic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QKeySequence

NO_VALUE = "—"
# first-strong isolate, left-to-right isolate, pop directional isolate, left-to-right mark
FSI, LRI, PDI, LRM = "\u2068", "\u2066", "\u2069", "\u200e"
# word joiner: no line break on either side
WJ = "\u2060"


def isolated(text: object) -> str:
    """``text`` (a file name, path, URL, title) as a first-strong isolate: inside a sentence
    of the other direction it keeps its own order, and its neighbours keep theirs."""
    s = str(text)
    if "\n" in s:  # an isolate ends with its paragraph: each line gets its own
        return "\n".join(isolated(line) for line in s.split("\n"))
    return f"{FSI}{s}{PDI}" if s else s


# the marks the app puts around and inside the texts it shows (isolates, embeddings, word
# joiners): not part of what a user copies
_MARKS = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e\u2060"))


def without_marks(text: str) -> str:
    """``text`` as it was before the app isolated or joined it for showing (see ``isolated``,
    ``unbroken``): what a copy to the clipboard carries."""
    return text.translate(_MARKS)


def unbroken(text: str) -> str:
    """``text`` (an address) kept on one line when a sentence wraps: a word joiner on each
    side of its punctuation, where lines may otherwise break. "http://127.0.0.1:8750" broke
    after "http://" in an Arabic question. A long one (past 60 characters) may still break:
    on one line it could be wider than the window."""
    if len(text) > 60:
        return text
    out = []
    for i, ch in enumerate(text):
        if i and not (ch.isalnum() and text[i - 1].isalnum()):
            out.append(WJ)
        out.append(ch)
    return "".join(out)


def joined(parts: Iterable[str]) -> str:
    """The parts of a one-line summary ("Online · 2 active", "clip.mp4 · 4 s long · h264")
    joined by the language's separator, the empty ones left out. English and French put a
    middle dot between them; in Arabic that dot is drawn like the Arabic-Indic zero "٠" (the
    status bar read as a row of zeros), so the catalogue gives Arabic a separator of its own."""
    #: between the parts of a one-line summary: "clip.mp4 · 4 s long · 640×360 · h264",
    #: "Online · 2 active". Spaces included. Arabic: not the middle dot, which looks like the
    #: zero ٠ there (e.g. "، " or " | ").
    separator = QCoreApplication.translate("Formats", " · ")
    return separator.join(part for part in parts if part)


def keys_text(keys: QKeySequence) -> str:
    """A shortcut as the keyboard names it ("Ctrl+,", "Ctrl+Shift+P"), in a left-to-right
    isolate: in an Arabic sentence "Ctrl+," was drawn ",+Ctrl" (a comma at the end is a
    neutral, and went to the sentence's other end). '' for none."""
    text = keys.toString(QKeySequence.SequenceFormat.NativeText)
    return f"{LRI}{text}{PDI}" if text else ""


def with_keys(tip: str, keys: QKeySequence) -> str:
    """A tooltip with its command's keys: "Folders, limits, rules, language (Ctrl+,)"."""
    shown = keys_text(keys)
    return f"{tip} ({shown})" if shown else tip


def clock_text(seconds: float) -> str:
    """A length or a position as a clock, whole seconds (cut, not rounded): ``0:03``,
    ``12:05``, ``1:02:07``, in the language's digits. One form for the player and the
    Library's lengths (the player said ``00:03`` beside the detail's ``0:03``)."""
    loc = QLocale()

    def two(n: int) -> str:
        text = loc.toString(n)
        return loc.zeroDigit() * (2 - len(text)) + text

    m, s = divmod(max(0, int(seconds)), 60)
    h, m = divmod(m, 60)
    if h:
        return f"{loc.toString(h)}:{two(m)}:{two(s)}"
    return f"{loc.toString(m)}:{two(s)}"


def country_name(code: str) -> str:
    """The country of an ISO 3166 code ("SD") by its name in the user's language where Qt
    has one, else the code as it came. English: every country Qt knows ("Sudan"). French and
    Arabic: where Qt has a locale of that language in the country (its own name for itself:
    "Sénégal", "السودان"); Qt has no other names in those languages, so "KE" stays "KE" in
    Arabic rather than becoming an English word in an Arabic screen."""
    text = code.strip()
    territory = QLocale.codeToTerritory(text) if len(text) == 2 and text.isalpha() else None
    if territory is None or territory == QLocale.Country.AnyTerritory:
        return code
    language = QLocale().language()
    if language == QLocale.Language.English:
        return QLocale.territoryToString(territory)
    local = QLocale(language, territory)
    if local.language() == language and local.territory() == territory:
        return local.nativeTerritoryName() or code
    return code


def frame_size(width: int, height: int) -> str:
    """``640×360``: width first, in the language's digits, left to right in every language.

    The isolate alone is not enough: Arabic-Indic digits are "Arabic numbers" to the Unicode
    bidi algorithm, and the neutral ``×`` between two of them resolves right to left, so
    ``٣٢٠×١٨٠`` drew as ``١٨٠×٣٢٠`` (height first). A left-to-right mark on each side of the
    ``×`` makes it left to right."""
    loc = QLocale()
    loc.setNumberOptions(loc.numberOptions() | QLocale.NumberOption.OmitGroupSeparator)
    return f"{LRI}{loc.toString(int(width))}{LRM}×{LRM}{loc.toString(int(height))}{PDI}"


def with_rendition(name: str, rendition: str | None) -> str:
    """A download's name with its rendition when it is not the broadcast file: an item's
    proxy and broadcast rows were two identical lines ("Floods in the north (proxy)")."""
    if not rendition or rendition == "broadcast":
        return name
    if rendition == "proxy":
        text = QCoreApplication.translate("Formats", "{name} (proxy)")
    else:
        text = QCoreApplication.translate("Formats", "{name} ({rendition})")
    return text.format(name=name, rendition=rendition)


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
    "WJ",
    "clock_text",
    "count_text",
    "country_name",
    "duration_text",
    "frame_size",
    "isolated",
    "joined",
    "keys_text",
    "percent_text",
    "size_text",
    "speed_text",
    "unbroken",
    "with_keys",
    "without_marks",
]
