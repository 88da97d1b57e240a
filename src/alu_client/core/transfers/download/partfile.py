"""The part file: its segments, how a file is cut into them, and positional reads and writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Iterable
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
    could point at anything) that the checkpoint names by device and inode, or that holds the
    bytes its probe names (see ``probe_spans``); or an empty one (nothing to lose: e.g. the run
    that made it died before its first checkpoint). A part file another download or program
    left there is never written into, nor deleted.

    The device and inode alone are too strict: a USB disk plugged in again, a reboot or a
    share mounted again gives the same file another device number (CIFS and NFS take a new
    one at every mount, a USB disk whichever is free; FAT has no stable inode numbers), and
    the download's own bytes were refused for good as "not made by this download". The probe
    holds the first and the last bytes the checkpoint counts as written: a file put at the
    name by anything else holds other bytes there (and a copy of the same bytes is verified
    against the item's sha256 as any part file is)."""
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode):
        return False
    named = checkpoint.get("part")
    if isinstance(named, list) and len(named) == 2 and all(isinstance(v, int) for v in named):
        if named[1] != 0 and [st.st_dev, st.st_ino] == named:
            return True
        if _probe_matches(part, checkpoint.get("probe")):
            return True  # this download's bytes, under another device or inode number
        if named[1] != 0:
            return False
        named = None  # a file system without inode numbers gives 0: then as below
    if named is None and checkpoint.get("v") == _CHECKPOINT_VERSION and checkpoint.get("segments"):
        return True  # a checkpoint from before parts were named (an engine update mid-download)
    return st.st_size == 0


#: the bytes a probe reads at each end of what the checkpoint counts as written: enough to be
#: this file's own (a clip's first bytes alone may be a header every clip of a camera shares)
_PROBE_SPAN: Final = 16 * 1024


def probe_spans(segments: Iterable[_Segment]) -> list[list[int]]:
    """Where a checkpoint's probe reads: the first bytes written and the last of the run
    written furthest, at most ``_PROBE_SPAN`` each ([start, end) pairs); none when nothing is
    written yet. Written bytes are never written again within a run (see fronthash.py), so
    what the probe read stays true until the checkpoint is replaced."""
    runs = [(s.start, s.pos) for s in segments if s.done > 0]
    if not runs:
        return []
    first = min(runs)
    last = max(runs, key=lambda run: run[1])
    head = [first[0], min(first[1], first[0] + _PROBE_SPAN)]
    tail = [max(last[0], last[1] - _PROBE_SPAN), last[1]]
    return [head] if tail == head else [head, tail]


def probe_digest(fd: int, spans: list[list[int]], io_lock: threading.Lock) -> str | None:
    """The sha256 of the part file's bytes at ``spans``; None when the file is shorter."""
    digest = hashlib.sha256()
    for start, end in spans:
        data = _read_at(fd, end - start, start, io_lock)
        if len(data) != end - start:
            return None
        digest.update(data)
    return digest.hexdigest()


def _probe_matches(part: Path, probe: object) -> bool:
    """Whether the file at ``part`` holds the bytes ``probe`` (a checkpoint's) names."""
    if not isinstance(probe, dict):
        return False
    spans, expected = probe.get("spans"), probe.get("sha256")
    if not isinstance(expected, str) or not isinstance(spans, list) or not 1 <= len(spans) <= 2:
        return False
    for span in spans:
        if not (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in span)
            and 0 <= span[0] < span[1] <= span[0] + _PROBE_SPAN
        ):
            return False
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(part, flags)
    except OSError:
        return False
    try:
        return probe_digest(fd, spans, threading.Lock()) == expected
    except OSError:
        return False
    finally:
        os.close(fd)


def discard_part(dest: Path, checkpoint: dict[str, Any]) -> str:
    """A canceled download's part file goes, when it is this download's (``part_is_ours``),
    and so does a decoded copy the checkpoint names (a run stopped while decoding). Says what
    became of the part file: ``"removed"``, ``"none"`` (there was none) or ``"left"`` (another
    download's or program's, never this one's to delete)."""
    part = dest.with_name(dest.name + ".part")
    outcome = "none"
    if os.path.lexists(part):
        if part_is_ours(part, checkpoint):
            part.unlink(missing_ok=True)
            outcome = "removed"
        else:
            outcome = "left"
    drop_decoded(dest, checkpoint)
    return outcome


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
