"""Why the library records a file missing (``core.library.files``: the disk check's reasons,
``verify_file``'s, and those of a delete that left a file in place), in the user's language.

The core words them in English, as sentence parts ("its size changed from 147653 to 73826
bytes since it was verified"); each is a template here, its details (sizes, the system's
reason) put back in the user's digits and words. A reason no template matches is shown as it
is. ``gone(reason)``: the reason says the file is not there (as opposed to there but changed or
damaged), which the Library words as "file missing" rather than "file changed".
"""

from __future__ import annotations

import re
from functools import cache

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from .formats import count_text
from .os_text import os_text

CONTEXT = "LibraryFileReason"

_GONE = (
    QT_TRANSLATE_NOOP(
        "LibraryFileReason", "the file is not there any more (moved or deleted outside ALU Desk)"
    ),
    QT_TRANSLATE_NOOP("LibraryFileReason", "its folder is not there any more"),
    QT_TRANSLATE_NOOP("LibraryFileReason", "its folder cannot be read (permission denied)"),
    QT_TRANSLATE_NOOP("LibraryFileReason", "it cannot be reached (%1)"),
)
_CHANGED = (
    QT_TRANSLATE_NOOP("LibraryFileReason", "something else than a file is at its place"),
    QT_TRANSLATE_NOOP(
        "LibraryFileReason", "its size changed from %1 to %2 bytes since it was verified"
    ),
    QT_TRANSLATE_NOOP(
        "LibraryFileReason",
        "it was replaced or modified since it was downloaded (by another workstation sharing the "
        "folder, or by another program)",
    ),
    QT_TRANSLATE_NOOP(
        "LibraryFileReason",
        "its content is not the one verified (its checksum differs): the file is damaged",
    ),
    QT_TRANSLATE_NOOP(
        "LibraryFileReason", "its record in the library is damaged; download it again"
    ),
    # (Delete local file's and retention's words for a file left in place: ``delete_recorded``)
    QT_TRANSLATE_NOOP(
        "LibraryFileReason", "something else than the downloaded file is at its place"
    ),
    QT_TRANSLATE_NOOP(
        "LibraryFileReason", "its size changed from %1 to %2 bytes since it was downloaded"
    ),
)
_COUNTS = {
    "its size changed from %1 to %2 bytes since it was verified",
    "its size changed from %1 to %2 bytes since it was downloaded",
}
_PLACEHOLDER = re.compile(r"%(\d)")


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    out = []
    for template in (*_GONE, *_CHANGED):
        parts = _PLACEHOLDER.split(str(template))
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<p{part}>.+?)" for i, part in enumerate(parts)
        )
        out.append((re.compile(f"^{regex}$", re.DOTALL), str(template)))
    return tuple(out)


def _template(reason: str) -> tuple[str, dict[str, str]] | None:
    for pattern, template in _patterns():
        found = pattern.match(reason)
        if found is not None:
            return template, {k[1:]: v for k, v in found.groupdict().items()}
    return None


def gone(reason: str) -> bool:
    """Whether ``reason`` says the file is not there (or cannot be reached), not changed."""
    known = _template(reason)
    return known is None or known[0] in {str(t) for t in _GONE}


def reason_text(reason: str) -> str:
    """``reason`` in the user's language (as it is when no template matches it)."""
    known = _template(reason)
    if known is None:
        return reason
    template, details = known
    translated = QCoreApplication.translate(CONTEXT, template)

    def detail(found: re.Match[str]) -> str:
        value = details.get(found.group(1))
        if value is None:
            return found.group(0)
        if template in _COUNTS and value.isascii() and value.isdigit():
            return count_text(int(value))
        return os_text(value)

    return _PLACEHOLDER.sub(detail, translated)


__all__ = ["gone", "reason_text"]
