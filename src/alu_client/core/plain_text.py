"""Text a server wrote, made fit for one line of a terminal or of an error message.

A hub's or a tus server's words (an error's message, an item's title) are untrusted: they may
carry ESC sequences that clear a terminal, set its window's title or recolour it, CR and LF
that forge a line of their own ("alu: your files were deleted"), direction overrides that
show the words after them reversed, zero-width characters. ``one_line`` keeps the words in
every script (Arabic, French, …) and drops the rest: control characters and line or paragraph
separators become a space, format characters (bidi marks and overrides, zero-width spaces, a
byte order mark) and UTF-16 halves on their own are dropped. The joiners that shape letters
inside words (ZWNJ, ZWJ) are kept. In the app, an item's title keeps its bidi marks (Qt lays
them out); it is on a terminal line, and in an error, that they have no place.

``json_text`` writes JSON whose characters of the same kinds are escaped (``\\u001b``): the
data is the same for a script that reads it, and the terminal that shows it sees none.
"""

from __future__ import annotations

import json
import re
import unicodedata

__all__ = ["hidden", "json_text", "one_line"]

#: zero-width joiner and non-joiner: part of words in Persian, Arabic, Indic scripts, emoji
_JOINERS = frozenset("\u200c\u200d")
#: categories that break a line, or are read as commands by a terminal
_BREAKS = frozenset(("Cc", "Zl", "Zp"))
_SPACES = re.compile(" {2,}")
#: what JSON's own escaping leaves as it is (everything but ", \\ and U+0000 to U+001F) that
#: may be hidden: DEL, C1 controls, and everything outside ASCII (checked one by one)
_MAYBE_HIDDEN = re.compile("[^\x00-\x7e]")


def hidden(char: str) -> bool:
    """Whether ``char`` is one a terminal line must not show as it is: a control character, a
    line or paragraph separator, a format character (but ZWNJ and ZWJ) or a lone surrogate."""
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _JOINERS
    return category in _BREAKS or category == "Cs"


def one_line(text: str) -> str:
    """``text`` on one line, with what a terminal would obey or hide taken out (see the
    module's note); spaces where its lines and controls were, one at a time, none at the
    ends."""
    if text.isascii() and text.isprintable():
        return _SPACES.sub(" ", text).strip()
    kept = []
    for char in text:
        if not hidden(char):
            kept.append(char)
        elif unicodedata.category(char) in _BREAKS:
            kept.append(" ")
    return _SPACES.sub(" ", "".join(kept)).strip()


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if not hidden(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes the others as their UTF-16 pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(data: object, *, indent: int | None = None) -> str:
    """``json.dumps(data, ensure_ascii=False)`` with the characters ``hidden`` says a terminal
    must not see written as JSON escapes (the text reads back the same); what JSON has no
    type for is written as its ``str``."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    return _MAYBE_HIDDEN.sub(_escaped, text)
