"""A library file gone from its recorded path, found again in the current download folder.

The user renamed the download folder on disk (or moved it to another disk) and pointed
Settings to the new one: every record still names the old folder. ``check_files`` then looks
for each missing file at the same place relative to the current download folder — its name
there, then with its sub-folders (a rule's folder inside the download folder) — and takes it
back only when its size and sha256 are the ones verified at its download: a file of the same
name that is another (another workstation's download, an older export) is never taken.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

#: how many of the recorded path's last parts are tried under the download folder (the file's
#: name, and up to three folders above it)
_DEPTH = 4


def found_again(row: sqlite3.Row, download_dir: Path) -> tuple[Path, int] | None:
    """Where the file of ``row`` (not at its recorded path) is in ``download_dir``, with its
    modification time, or None."""
    recorded = Path(row["path"])
    if os.path.lexists(recorded):
        return None  # (something is at its place: that is for the check to say)
    parts = recorded.parts[1:]
    for depth in range(1, min(_DEPTH, len(parts)) + 1):
        there = download_dir.joinpath(*parts[-depth:])
        if there != recorded and (mtime := _same_bytes(there, row)) is not None:
            return there, mtime
    return None


def _same_bytes(path: Path, row: sqlite3.Row) -> int | None:
    """The file's modification time when it is a regular file of the record's size and
    sha256; None otherwise (or when it cannot be read)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # (a fifo's open would wait)
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size != row["size"]:
                return None
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return st.st_mtime_ns if h.hexdigest() == str(row["sha256"]).lower() else None
