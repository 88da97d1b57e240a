"""The part file: its segments, how a file is cut into them, and positional reads and writes."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .protocol import _CHECKPOINT_VERSION, _MIN_SEGMENT

_MAX_PIECES = 4096  # the checkpoint lists every unfinished piece: keep it short


@dataclass
class _Segment:
    start: int
    end: int | None  # exclusive; None only for a single stream of unknown size
    done: int = 0
    owner: int | None = None  # the worker fetching it
    reserved: int = 0  # absolute offset the owner is writing up to (work stealing stays clear)
    failed: bool = False  # its worker failed: left for the next run
    dup: int | None = None  # end game: a second worker fetching the same rest (see _take)
    writing: bool = False  # a write is under way: writes of one segment go one at a time

    @property
    def pos(self) -> int:
        return self.start + self.done

    @property
    def complete(self) -> bool:
        return self.end is not None and self.pos >= self.end


def _plan(size: int, streams: int, piece: int = 0) -> list[_Segment]:
    """Cut ``size`` bytes into one segment per stream, or into pieces of at least ``piece``
    bytes when there are more of those (taken in file order: the front grows steadily)."""
    n = max(1, min(streams, size // _MIN_SEGMENT))
    if piece > 0:
        n = max(n, min(size // piece, _MAX_PIECES))
    step = size // n
    bounds = [i * step for i in range(n)] + [size]
    return [_Segment(bounds[i], bounds[i + 1]) for i in range(n)]


def part_is_ours(part: Path, checkpoint: dict[str, Any]) -> bool:
    """Whether the part file at ``part`` is this download's: a regular file (not a link, which
    could point at anything) that the checkpoint names by device and inode; or an empty one
    (nothing to lose: e.g. the run that made it died before its first checkpoint). A part file
    another download or program left there is never written into, nor deleted."""
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode):
        return False
    named = checkpoint.get("part")
    if isinstance(named, list) and len(named) == 2 and all(isinstance(v, int) for v in named):
        if named[1] != 0:  # a file system without inode numbers gives 0: then as below
            return [st.st_dev, st.st_ino] == named
        named = None
    if named is None and checkpoint.get("v") == _CHECKPOINT_VERSION and checkpoint.get("segments"):
        return True  # a checkpoint from before parts were named (an engine update mid-download)
    return st.st_size == 0


def discard_part(dest: Path, checkpoint: dict[str, Any]) -> None:
    """A canceled download's part file goes, when it is this download's (``part_is_ours``),
    and so does a decoded copy the checkpoint names (a run stopped while decoding)."""
    part = dest.with_name(dest.name + ".part")
    if os.path.lexists(part) and part_is_ours(part, checkpoint):
        part.unlink(missing_ok=True)
    drop_decoded(dest, checkpoint)


_DECODING: Final = ".decoding"


def decoded_name(dest: Path) -> Path:
    """A new name beside ``dest`` for its decoded copy (see decode.py): hidden, random, and no
    longer than the part file's name, so that any name a download can use works for it (a
    name cut to fit: the copy is found by the checkpoint, not by its name)."""
    token = secrets.token_hex(4)
    budget = len(os.fsencode(dest.name + ".part"))
    stem = dest.name
    while stem and len(os.fsencode(f".{stem}.{token}{_DECODING}")) > budget:
        stem = stem[:-1]
    return dest.with_name(f".{stem}.{token}{_DECODING}")


def drop_decoded(dest: Path, checkpoint: dict[str, Any]) -> None:
    """Remove the decoded copy ``checkpoint`` names, if any (it is ours: made with O_EXCL)."""
    name = checkpoint.get("decoding")
    if (
        isinstance(name, str)
        and name.startswith(".")
        and name.endswith(_DECODING)
        and Path(name).name == name
    ):
        with contextlib.suppress(OSError):
            (dest.parent / name).unlink()


def _write_at(fd: int, data: bytes, pos: int, io_lock: threading.Lock) -> None:
    view = memoryview(data)
    if hasattr(os, "pwrite"):
        while view:
            n = os.pwrite(fd, view, pos)
            view, pos = view[n:], pos + n
        return
    with io_lock:  # Windows: no pwrite; seek and write under one lock
        os.lseek(fd, pos, os.SEEK_SET)
        while view:
            n = os.write(fd, view)
            view = view[n:]


def _read_at(fd: int, n: int, pos: int, io_lock: threading.Lock) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, pos)
    with io_lock:
        os.lseek(fd, pos, os.SEEK_SET)
        return os.read(fd, n)


def _fsync_dir(path: Path) -> None:
    """Make the rename durable (POSIX); Windows has no directory handles to fsync."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
