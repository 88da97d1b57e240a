"""What to tell people when the library's database cannot be used: a full disk is not damage.

SQLite says "database or disk is full" when a write finds no room, but a read-only open in WAL
mode that cannot grow its ``-shm`` file says "disk I/O error": on a full disk that read the
file as damaged, and the advice to move it aside would have thrown away the queue and the
history not yet sent."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

#: less free space than this where the library is, and an I/O error is taken for a full disk
NEARLY_FULL = 16 * 1024 * 1024


def disk_full(error: BaseException, folder: Path) -> bool:
    """``error`` (from opening or using the library in ``folder``) comes from a full disk."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error).lower()
    if "disk is full" in text:
        return True
    if isinstance(error, sqlite3.DatabaseError) and "i/o error" in text:
        try:
            return shutil.disk_usage(folder).free < NEARLY_FULL
        except OSError:
            return False
    return False


def disk_full_words(folder: Path) -> str:
    return (
        f"The disk that holds the data folder {folder} is full; free some space there and "
        "start again. The library is not damaged by it: nothing is lost."
    )
