"""Room for a download on the disk that holds its folder. A file larger than the whole disk is
said at once and for good: no freeing of space can make it fit (a 50 MB file to a 20 MB disk
waited "for space" for ever, its part file filling the disk). A disk merely full says how
much more room the file needs; the download waits for it (``DiskFullError``)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Final

from ..base import DiskFullError, PermanentError
from .protocol import MSG_DISK_FULL

MSG_LARGER_THAN_DISK: Final = (
    "“{name}” ({size}) is larger than the whole disk that holds its folder ({disk} in all): "
    "no freeing of space can make room for it; choose a folder on another disk."
)
MSG_DISK_FULL_NEEDS: Final = (
    "The disk is full: “{name}” needs {more} more; the download will continue when that "
    "much space is freed."
)


def size_words(n: int, *, up: bool) -> str:
    """``n`` bytes in MB (below a gigabyte) or GB, rounded ``up`` or down: a file never reads
    as small as a disk it does not fit on."""
    if n < 1_000_000_000:
        mb = math.ceil(n / 1e6) if up else math.floor(n / 1e6)
        return f"{max(1, mb):,} MB"
    gb = math.ceil(n / 1e8) if up else math.floor(n / 1e8)
    return f"{gb / 10:,.1f} GB"


def disk_room(folder: Path) -> tuple[int, int] | None:
    """(total, free) bytes of the disk that holds ``folder`` (``statvfs``: ``f_blocks`` and
    ``f_bavail`` times ``f_frsize``); None when it cannot be told (a share that says 0)."""
    try:
        usage = shutil.disk_usage(folder)
    except (OSError, ValueError):
        return None
    if usage.total <= 0:
        return None
    return usage.total, usage.free


def larger_than_disk(name: str, size: int | None, folder: Path) -> PermanentError | None:
    """The error of a file of ``size`` bytes that the whole disk holding ``folder`` could not
    hold, empty or not; None when it fits, or when either size is unknown."""
    if size is None or size <= 0:
        return None
    room = disk_room(folder)
    if room is None or size <= room[0]:
        return None
    return PermanentError(
        MSG_LARGER_THAN_DISK.format(
            name=name, size=size_words(size, up=True), disk=size_words(room[0], up=False)
        )
    )


def disk_full(name: str, size: int | None, written: int, folder: Path) -> BaseException:
    """What a write that found the disk full says: the file is larger than the whole disk
    (``PermanentError``), or the disk is full and the rest of the file (``size`` less the
    ``written`` bytes) needs this much more room (``DiskFullError``: the download waits)."""
    too_large = larger_than_disk(name, size, folder)
    if too_large is not None:
        return too_large
    room = disk_room(folder)
    if size is None or room is None:
        return DiskFullError(MSG_DISK_FULL)
    more = size - written - room[1]
    if more <= 0:  # room was made meanwhile (or a quota, not the disk, is full)
        return DiskFullError(MSG_DISK_FULL)
    return DiskFullError(MSG_DISK_FULL_NEEDS.format(name=name, more=size_words(more, up=True)))
