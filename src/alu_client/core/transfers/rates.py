"""Reading and writing rates the way people type them.

Rates are held in **bytes per second**; ``None`` means unlimited. People (and ISPs) speak of
links in bits, so :func:`parse_rate` reads a bare ``M``/``k`` as megabits/kilobits, and only an
upper-case ``B`` (``MB``, ``KiB``) means bytes. :func:`format_rate` writes bits.
"""

from __future__ import annotations

import math
import re


def _normalize_rate(rate_bps: float | None) -> float | None:
    if rate_bps is None:
        return None
    if isinstance(rate_bps, bool) or not isinstance(rate_bps, int | float):
        raise TypeError(f"a rate is a number of bytes per second or None, not {rate_bps!r}")
    rate = float(rate_bps)
    if math.isnan(rate) or rate < 0:
        raise ValueError(f"a rate cannot be negative or NaN: {rate_bps!r}")
    if rate == 0 or math.isinf(rate):
        return None
    return rate


# --- the token bucket -------------------------------------------------------------------------


_UNLIMITED_WORDS = frozenset({"unlimited", "none", "off", "no limit", "∞"})
_NUMBER_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*(.*?)\s*$")
_PER_SECOND_RE = re.compile(r"(?:\s*/\s*s(?:ec(?:ond)?)?|\s+per\s+second|ps)$", re.IGNORECASE)
#: prefix, binary marker, then bits ("bit", "b", nothing) or bytes ("byte", "B", French "o")
_UNIT_RE = re.compile(r"([kKmMgGtT]?)(i?)((?i:bits?|bytes?)|b|B|o|)")
_PREFIX = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


#: the slowest limit people may type, in bytes per second (8 kbit/s)
MIN_RATE_BPS = 1000.0


class RateTooSlow(ValueError):
    """A rate under ``MIN_RATE_BPS``: readable, but it would move nothing useful."""


def parse_rate(text: str, *, floor: bool = True) -> float | None:
    """Read a rate as people write it; returns bytes per second, or None for unlimited.

    Network convention: ``M``, ``Mb``, ``Mbit``, ``Mbps`` (and a bare number) are **bits**
    per second; only an upper-case ``B``, the word ``byte`` or the French ``o`` (octet) mean
    bytes (``MB``, ``MB/s``, ``MiB``, ``Mo/s``). ``k``/``M``/``G`` are powers of 1000,
    ``Ki``/``Mi``/``Gi`` of 1024. ``0``, ``unlimited``, ``none`` and ``off`` mean no limit.
    A rate under ``MIN_RATE_BPS`` is refused unless ``floor`` is False (a schedule file
    written before there was one: refused, the whole schedule would be dropped).

    >>> parse_rate("2M"), parse_rate("500 KiB/s"), parse_rate("1.5MB/s")
    (250000.0, 512000.0, 1500000.0)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_rate() reads text, not {type(text).__name__}")
    if text.strip().lower() in _UNLIMITED_WORDS:
        return None
    match = _NUMBER_RE.match(text)
    if match is None:
        raise ValueError(_junk(text))
    number = float(match[1] + (f"e{match[2]}" if match[2] else ""))
    unit = _PER_SECOND_RE.sub("", match[3]).strip()
    unit_match = _UNIT_RE.fullmatch(unit)
    if unit_match is None or (unit_match[2] and not unit_match[1]):
        raise ValueError(_junk(text))
    prefix, binary, kind = unit_match[1].lower(), unit_match[2], unit_match[3]
    scale = float((1024 if binary else 1000) ** _PREFIX[prefix])
    is_bytes = kind in {"B", "o"} or kind.lower().startswith("byte")
    value = number * scale / (1 if is_bytes else 8)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is too large to be a rate")
    if (
        floor and 0 < value < MIN_RATE_BPS
    ):  # '--limit 1' read as 1 bit/s: 7.9 KB in 10 s, then still
        raise RateTooSlow(
            f"{text!r} is too slow to move a file; write at least '8k' (8 kbit/s, 1 KB/s), "
            f"or 'unlimited'"
        )
    return value if value > 0 else None


def _junk(text: str) -> str:
    return (
        f"can't read {text!r} as a rate; write e.g. '2M' or '2 Mbit/s' (megabits per second), "
        f"'500 KB/s' (kilobytes per second) or 'unlimited'"
    )


_BIT_UNITS = (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3))


def format_rate(bps: float | None) -> str:
    """Bytes per second as bits for people: ``2.0 Mbit/s``, ``500.0 kbit/s``, ``unlimited``."""
    rate = _normalize_rate(bps)
    if rate is None:
        return "unlimited"
    bits = rate * 8
    for unit, size in _BIT_UNITS:
        if round(bits / size, 1) >= 1:
            return f"{bits / size:.1f} {unit}"
    return f"{bits:.1f} bit/s"
