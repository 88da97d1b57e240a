"""Folders and files that only this user may read, whatever the umask.

The client's data folder keeps signed links and tus upload URLs in transfer rows (secrets:
docs/security.md), embargoed scripts and the history; the hub's keeps the link-signing key,
the password hashes and the footage. Made with the umask (0755/0644 on a default account), any
other account of a shared newsroom PC or of the hub's machine read them.

POSIX only. On Windows nothing is done: the folders are in the user's profile (or the hub's
data folder, wherever the operator put it), whose ACLs give its owner, SYSTEM and the
administrators access and nobody else; the files inherit them.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # the group's and everybody's bits


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Make the folder ``path`` (missing parents with the usual modes: they are not ours to
    decide on) and make it 0700 when it is made now; an existing one loses the group's and
    others' access only with ``tighten`` (a folder that is surely ours)."""
    made = not path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if made:
        _chmod(path, PRIVATE_DIR)
    elif tighten:
        _take_from_others(path)


def private_files(paths: Iterable[Path]) -> None:
    """Take the group's and others' access from those of ``paths`` that exist."""
    for path in paths:
        _take_from_others(path)


def new_private_file(path: Path) -> None:
    """Make ``path`` an empty 0600 file if it does not exist (before SQLite makes it with the
    umask: its -wal and -shm take the database's mode), else take others' access from it.
    A folder that cannot be written is left for whoever opens the file next to report."""
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        _take_from_others(path)
    except OSError:
        return
    else:
        try:
            os.fchmod(fd, PRIVATE_FILE)  # (the umask may have taken the owner's bits too)
        finally:
            os.close(fd)


def _take_from_others(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        log.warning("cannot look at the permissions of %s: %s", path, e.strerror or e)
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        # a link is followed by chmod: one planted at a journal's or a copy's name (or a
        # library path that is /dev/null) made that file private instead — /dev/null 0600
        # broke every other program of the machine. Only our own files and folders are tightened.
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & _OTHERS:
        _chmod(path, mode & ~_OTHERS)


def _chmod(path: Path, mode: int) -> None:
    if os.name != "posix":
        return
    try:
        os.chmod(path, mode)
    except OSError as e:  # another account's folder (EPERM): it works, but is not private
        log.warning(
            "cannot make %s private (%s): other accounts on this computer may read it",
            path,
            e.strerror or e,
        )
