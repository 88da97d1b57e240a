"""Making a file system change last through a power cut."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def fsync(fd: int) -> None:
    """Make the file ``fd``'s bytes durable. On macOS, ``fsync`` only hands them to the
    drive, whose cache a power cut empties (Apple's fsync(2)): ``F_FULLFSYNC`` asks the drive
    to write them down. A file system without it (some network shares) gets ``fsync``."""
    if sys.platform == "darwin":
        import fcntl

        full = getattr(fcntl, "F_FULLFSYNC", None)
        if full is not None:
            try:
                fcntl.fcntl(fd, full)
                return
            except OSError:
                pass
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename (or a new name) in the folder ``path`` durable: on POSIX a renamed file's
    new name lives in its folder, which has to reach the disk too. Windows has no directory
    handles to fsync (its renames are journaled by NTFS)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)
