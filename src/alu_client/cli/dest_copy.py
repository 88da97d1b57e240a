"""`alu get ID --dest DIR` of a file the library has already: a checked copy of it in DIR.
The library's path was printed instead, outside DIR, with exit status 0: a script doing
``f=$(alu get ID --dest /srv/playout)`` got a file elsewhere, and DIR stayed empty."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from ..core.durable import fsync, fsync_dir
from ..core.plain_text import one_line
from .common import CliError

BLOCK = 1 << 20


def copy_into(library_file: Path, folder: Path, sha256: str | None) -> tuple[Path, bool]:
    """The library's file copied into ``folder`` under its own name: written under a temporary
    name, its sha256 checked against the item's (``sha256``; None when the hub gave none), then
    given its name. Returns (the path in ``folder``, whether it was copied: False when the same
    file is there already). CliError when another file has that name there (it is left as it
    is), or when the library's file no longer is the item's."""
    dest = folder / library_file.name
    if dest.exists() and os.path.samefile(dest, library_file):
        return dest, False
    if dest.exists():
        if sha256 and _sha256(dest) == sha256:
            return dest, False
        raise CliError(
            f"{one_line(str(dest))} is already there and is another file; nothing was copied. "
            "Move it away, or choose another --dest."
        )
    fd, tmp = _new_temp(folder, library_file.name)
    try:
        with os.fdopen(fd, "wb") as out, open(library_file, "rb") as src:
            h = hashlib.sha256()
            while block := src.read(BLOCK):
                h.update(block)
                out.write(block)
            out.flush()
            fsync(out.fileno())
        if sha256 and h.hexdigest() != sha256:
            raise CliError(
                f"The library's file {one_line(str(library_file))} is no longer the item's "
                "(changed on the disk); nothing was copied. Delete it, then run alu get again "
                "to download it."
            )
        _name_without_overwriting(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(folder)
    return dest, True


def _new_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new file in ``folder`` to write the copy into, with the mode the umask gives (0644 on
    a default account), as a download's: ``tempfile.mkstemp`` made it 0600, so the copy in a
    shared playout folder could not be read by colleagues."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(4)}.part"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _name_without_overwriting(tmp: Path, dest: Path) -> None:
    """``tmp`` named ``dest``, never over a file that came there meanwhile."""
    try:
        os.link(tmp, dest)  # (fails if dest exists: no race with another writer)
    except FileExistsError:
        raise CliError(
            f"{one_line(str(dest))} appeared while the copy was made; nothing was copied."
        ) from None
    except OSError:  # a file system without hard links: checked, then renamed
        if dest.exists():
            raise CliError(
                f"{one_line(str(dest))} appeared while the copy was made; nothing was copied."
            ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()
