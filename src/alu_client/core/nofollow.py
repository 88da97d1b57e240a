"""Files of a hot folder (a drop folder others may write: a camera team's share, a NAS) are read
without following links: a symbolic link, a Windows junction or other name-surrogate reparse
point dropped there would publish the file it points to — anywhere the user can read — to every
member. ``is_plain`` tells such an entry by ``lstat``; ``open_plain`` opens a file so that a
link put in its place after it was looked at is not followed either (``O_NOFOLLOW`` where the
system has it, and the opened file checked to be a regular file)."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import Final

#: IsReparseTagNameSurrogate (winnt.h): a reparse point that names another file or folder (a
#: symbolic link, a junction); cloud placeholders (OneDrive) and deduplicated files are not
_NAME_SURROGATE: Final = 0x20000000
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    # a FIFO dropped in place of the file would block the open until a writer came
    | getattr(os, "O_NONBLOCK", 0)
)
#: the system's words when a link or a special file is refused (shown as the reason)
NOT_PLAIN_REASON: Final = "it is a link or a special file, which is not followed"


class NotPlainFile(OSError):
    """The path is a link (symbolic link, junction) or not a regular file: it is not read."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.ELOOP, NOT_PLAIN_REASON, str(path))


def is_link(st: os.stat_result) -> bool:
    """Whether ``st`` (from ``lstat``) is a link: a symbolic link, or on Windows a junction or
    another reparse point that names another file."""
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_reparse_tag", 0) & _NAME_SURROGATE)


def is_plain(st: os.stat_result) -> bool:
    """Whether ``st`` (from ``lstat``) is a regular file that is no link."""
    return stat.S_ISREG(st.st_mode) and not is_link(st)


def open_plain(path: Path | str) -> io.BufferedReader:
    """``open(path, "rb")`` without following a link at ``path`` itself; raises
    ``NotPlainFile`` for a link or anything not a regular file (a FIFO, a device)."""
    if not hasattr(os, "O_NOFOLLOW") and not is_plain(os.lstat(path)):  # (Windows)
        raise NotPlainFile(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        if e.errno == errno.ELOOP:  # (O_NOFOLLOW on a link)
            raise NotPlainFile(path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotPlainFile(path)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
