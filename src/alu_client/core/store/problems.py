"""What to tell people when the library's database cannot be used: a full disk is not damage.

SQLite says "database or disk is full" when a write finds no room, but a read-only open in WAL
mode that cannot grow its ``-shm`` file says "disk I/O error": on a full disk that read the
file as damaged, and the advice to move it aside would have thrown away the queue and the
history not yet sent."""

from __future__ import annotations

import errno
import os
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


def read_only_folder(folder: Path) -> bool:
    """Whether ``folder`` (an existing one) cannot be written to: on a file system mounted
    read-only, or without permission. SQLite says only "unable to open database file"."""
    try:
        if not folder.is_dir():
            return False
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except (OSError, AttributeError):  # (no statvfs on Windows: access() alone)
        pass
    return not os.access(folder, os.W_OK)


#: the longest path SQLite's file names take on Unix (``SQLITE_MAX_PATHNAME``), which holds
#: for the library's side files too: ``-journal``, ``-wal`` and an update's copy
#: (``.bak-vN.making-journal``), 23 bytes longer than the library's own name
SQLITE_MAX_PATH = 512
_LONGEST_SIDE_FILE = len(".bak-v999.making-journal")
#: the longest path the library itself may have
USABLE_PATH = SQLITE_MAX_PATH - _LONGEST_SIDE_FILE


def library_too_deep(db_path: Path) -> bool:
    """Whether ``db_path`` is longer than SQLite takes for the library and its side files."""
    return len(os.fsencode(os.path.abspath(db_path))) >= USABLE_PATH


def refuse_too_deep(db_path: Path) -> None:
    """Before anything is made: SQLite made the library file, then failed on its side files,
    leaving a data folder and an empty ``library.sqlite3`` behind a refusal that said "nothing
    in it was changed". Raised as SQLite says it (``path_too_long`` then names the cause).
    A library already there is left to SQLite (one a little deeper works until an update)."""
    if library_too_deep(db_path) and not db_path.exists():
        raise sqlite3.OperationalError("unable to open database file (its path is too long)")


def path_too_long(db_path: Path, error: BaseException) -> int | None:
    """The length in bytes of ``db_path`` when that is why SQLite could not open it or a
    file beside it ("unable to open database file", as for a folder that is not there):
    ALU_CLIENT_HOME on a deep share or a long, non-Latin folder name. None otherwise."""
    if not isinstance(error, sqlite3.OperationalError) or "unable to open" not in str(error):
        return None
    length = len(os.fsencode(os.path.abspath(db_path)))
    return length if length + _LONGEST_SIDE_FILE >= SQLITE_MAX_PATH else None


def path_too_long_words(db_path: Path, length: int) -> str:
    return (
        f"the data folder's path is too long for the library's database ({length} bytes for "
        f"{db_path.name}; SQLite takes about {USABLE_PATH}, its side "
        "files included): choose a shorter data folder with --data or ALU_CLIENT_HOME, or move "
        "this one to a shorter path. Nothing in it was changed."
    )


#: SQLite's primary result codes for a file that is damaged or is not a database
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def is_damage(error: BaseException) -> bool:
    """``error`` says the library file itself is damaged (SQLITE_CORRUPT, SQLITE_NOTADB) — not
    a constraint, a closed connection or another error of the program, which moving the file
    aside would not cure (and would lose its queue and history for)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.DatabaseError)
        and isinstance(code, int)
        and (code & 0xFF) in _DAMAGE_CODES
    )


def not_damage_words(db_path: Path, error: object) -> str:
    return (
        f"ALU Desk could not use its library {db_path} ({error}). Nothing says the file is "
        "damaged: do not move it. Quit ALU Desk and start it again; if it happens again, tell "
        "the agency, with what alu doctor says."
    )


def damaged_words(db_path: Path, error: object) -> str:
    """What to do with a library file that cannot be used (``error``: SQLite's reason). The
    files beside it named ``-wal`` and ``-shm`` belong to it: a copy put back without moving
    them replays its journal onto the copy and damages it (the advice said only "move it
    aside" or "restore it from a backup", and a restored ``.bak-vN`` came back malformed)."""
    name = db_path.name
    return (
        f"The library {db_path} cannot be used ({error}). Quit ALU Desk (and alu watch run), "
        f"then move {name} aside together with {name}-wal and {name}-shm if they are there "
        "(they belong to it), and start again: a new library begins, and the hub gives back "
        "the feed and your history (the transfers in the queue and the history not yet sent "
        f"stay in the old file). The copy made before the last update ({name}.bak-vN, "
        f"if it is there) can be put back instead: rename it {name}, once those three files "
        "are moved away."
    )
