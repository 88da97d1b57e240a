"""The operating system's words for a file error, in the user's language.

Python gives an ``OSError``'s reason (``strerror``) in English, as the C library or Windows
words it ("Permission denied", "Access is denied"); messages put it in parentheses ("ALU Desk
cannot write in this folder (Permission denied)."). ``os_text`` turns the common ones into the
user's language; any other stays as the system said it.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

CONTEXT = "OsError"

_MARKED = (
    # errno texts (glibc; macOS words a few differently)
    QT_TRANSLATE_NOOP("OsError", "Permission denied"),
    QT_TRANSLATE_NOOP("OsError", "Operation not permitted"),
    QT_TRANSLATE_NOOP("OsError", "No such file or directory"),
    QT_TRANSLATE_NOOP("OsError", "No space left on device"),
    QT_TRANSLATE_NOOP("OsError", "Read-only file system"),
    QT_TRANSLATE_NOOP("OsError", "File exists"),
    QT_TRANSLATE_NOOP("OsError", "Not a directory"),
    QT_TRANSLATE_NOOP("OsError", "Is a directory"),
    QT_TRANSLATE_NOOP("OsError", "File name too long"),
    QT_TRANSLATE_NOOP("OsError", "Input/output error"),
    QT_TRANSLATE_NOOP("OsError", "Device or resource busy"),
    QT_TRANSLATE_NOOP("OsError", "Resource busy"),
    QT_TRANSLATE_NOOP("OsError", "Disk quota exceeded"),
    QT_TRANSLATE_NOOP("OsError", "Disc quota exceeded"),
    QT_TRANSLATE_NOOP("OsError", "Too many open files"),
    QT_TRANSLATE_NOOP("OsError", "Directory not empty"),
    QT_TRANSLATE_NOOP("OsError", "Invalid argument"),
    QT_TRANSLATE_NOOP("OsError", "Stale file handle"),
    QT_TRANSLATE_NOOP("OsError", "Too many levels of symbolic links"),
    # Windows (FormatMessage; Python drops the final period)
    QT_TRANSLATE_NOOP("OsError", "Access is denied"),
    QT_TRANSLATE_NOOP("OsError", "The system cannot find the file specified"),
    QT_TRANSLATE_NOOP("OsError", "The system cannot find the path specified"),
    QT_TRANSLATE_NOOP("OsError", "There is not enough space on the disk"),
    QT_TRANSLATE_NOOP(
        "OsError",
        "The process cannot access the file because it is being used by another process",
    ),
    QT_TRANSLATE_NOOP(
        "OsError", "The filename, directory name, or volume label syntax is incorrect"
    ),
    QT_TRANSLATE_NOOP("OsError", "The media is write protected"),
    QT_TRANSLATE_NOOP("OsError", "The network path was not found"),
)

#: QT_TRANSLATE_NOOP hands its text back as it is (typed ``object`` by PySide6)
TEXTS: tuple[str, ...] = tuple(str(text) for text in _MARKED)


@cache
def _known() -> dict[str, str]:
    return {text.casefold(): text for text in TEXTS}


def os_text(reason: str) -> str:
    """``reason`` (an ``OSError``'s ``strerror``) in the user's language when it is one of the
    common ones; else as it is."""
    text = _known().get(reason.strip().rstrip(".").casefold())
    return reason if text is None else QCoreApplication.translate(CONTEXT, text)


def os_error_text(error: BaseException) -> str:
    """The reason of ``error`` for people: its ``strerror`` translated, else its text."""
    reason = getattr(error, "strerror", None)
    return os_text(reason) if reason else str(error)
