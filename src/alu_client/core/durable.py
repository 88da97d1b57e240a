"""Making a file system change last through a power cut."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename (or a new name) in the folder ``path`` durable: on POSIX a renamed file's
    new name lives in its folder, which has to reach the disk too. Windows has no directory
    handles to fsync (its renames are journaled by NTFS)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
