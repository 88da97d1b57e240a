"""File names that come from a hub (a rendition's filename, an item's slug or title) are
untrusted: they must land inside the download folder, be valid on Windows, macOS and Linux, and
never replace a file that is already there.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from collections.abc import Container, Iterable
from pathlib import Path

#: names Windows reserves whatever the extension ("CON.mp4" opens the console)
_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
    "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
}  # fmt: skip
#: separators, what Windows refuses, and every control character (category Cc: C0, DEL and
#: C1, whose U+009B an 8-bit terminal reads as ESC [ when the name is listed)
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f-\x9f]')
#: bidirectional controls make "clip‮4pm.exe" read as "clipexe.mp4"; zero-width ones hide text
_INVISIBLE = {"Cf"}
MAX_NAME_BYTES = 200  # under every file system's 255, with room for " (12)" and ".part"
#: the longest path Windows opens without long path support (MAX_PATH, 260 with its NUL), in
#: UTF-16 units: past it CreateFileW says ERROR_PATH_NOT_FOUND, which reads as "no such file"
WINDOWS_MAX_PATH = 259
#: the fewest characters of a name's stem kept when a name is cut to fit that: a folder that
#: leaves less room is too long (the download says so)
MIN_STEM = 16
PART_SUFFIX = ".part"


def windows_path_limit() -> int | None:
    """The longest path this process can open, in UTF-16 units: ``WINDOWS_MAX_PATH`` on Windows
    unless long paths are enabled for it (the LongPathsEnabled policy and the program's
    manifest both; off by default, and a per-user install cannot turn it on); None: no limit
    that matters here (other systems: 4096 bytes, and ENAMETOOLONG says it)."""
    platform = sys.platform  # (read at each call: the tests play Windows)
    if platform != "win32" or _long_paths_enabled():
        return None
    return WINDOWS_MAX_PATH


@functools.cache
def _long_paths_enabled() -> bool:
    """Whether Windows lets this process open paths past MAX_PATH (Windows 10 1607 and later:
    ntdll's RtlAreLongPathsEnabled says it for the process, policy and manifest together)."""
    try:
        import ctypes

        ntdll = ctypes.WinDLL("ntdll")  # type: ignore[attr-defined,unused-ignore]
        check = ntdll.RtlAreLongPathsEnabled
        check.restype = ctypes.c_ubyte
        check.argtypes = []
        return bool(check())
    except Exception:  # (older Windows, or not Windows at all)
        return False


def path_units(path: str | Path) -> int:
    """The length of ``path`` as Windows counts it (UTF-16 units: an emoji is two)."""
    return len(os.fspath(path).encode("utf-16-le")) // 2


def name_room(folder: Path, limit: int) -> int:
    """How many UTF-16 units a file name has in ``folder`` (absolute) for its part file's path
    to stay within ``limit``."""
    return limit - path_units(folder) - 1 - len(PART_SUFFIX)


def _cut_units(text: str, units: int) -> str:
    """``text`` cut at a whole character to at most ``units`` UTF-16 units."""
    out = text[:units]
    while path_units(out) > units:
        out = out[:-1]
    return out.rstrip(". ")


def safe_filename(name: str, default: str = "download", *, marker: str = "") -> str:
    """One path component, safe everywhere: no separators, no control or direction characters,
    no reserved device names, no trailing dots or spaces, at most ``MAX_NAME_BYTES`` in UTF-8
    (the extension kept, and ``marker`` after the stem: " (proxy)" was cut off a long name,
    and the preview took the broadcast's name)."""
    text = unicodedata.normalize("NFC", name or "")
    # Only the last component counts: "../../etc/passwd" and "C:\\x\\clip.mp4" give their tails.
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(
        " " if unicodedata.category(c) == "Zs" else c
        for c in text
        if unicodedata.category(c) not in _INVISIBLE
    )
    text = _BAD_CHARS.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip().rstrip(". ").lstrip(". ")
    if not text:
        text = default
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem:
        stem, ext = text, ""
    if stem.split(".")[0].strip().upper() in _RESERVED:
        stem = "_" + stem
    ext = ext[:16].rstrip(". ")  # cut, it may end in a space (Windows drops it: another name)
    marker = _BAD_CHARS.sub("_", marker)
    budget = MAX_NAME_BYTES - len(ext.encode()) - (1 if ext else 0) - len(marker.encode())
    stem = (_truncate_utf8(stem, budget).rstrip(". ") or default) + marker
    return f"{stem}.{ext}" if ext else stem


def names_already(name: str, word: str) -> bool:
    """True when the stem of file name ``name`` has ``word`` as one of its words, whatever the
    case: "c27.proxy.mp4", "c27 (proxy).mp4" and "c27_PROXY.mp4" say proxy, "proxyclip.mp4"
    does not (a marker saying it again made "c27.proxy (proxy).mp4")."""
    stem = name.rpartition(".")[0] or name
    return word.casefold() in re.split(r"[\W_]+", stem.casefold())


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def name_key(name: str) -> str:
    """``name`` as a file system that ignores case compares it (NTFS, APFS and HFS+, FAT and
    exFAT): case-folded, and its composed and decomposed forms one (macOS stores "é" as "e"
    and an accent: a name typed there and the hub's are the same file). Unicode's canonical
    caseless match, which folds a little more than some file systems do (ß is ss): at worst
    a " (2)" that was not needed."""
    if name.isascii():  # (most names: the same key, several times quicker)
        return name.lower()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


class FoldedNames(Container[str]):
    """File names, asked as a file system that ignores case asks (see ``name_key``)."""

    def __init__(self, names: Iterable[str]) -> None:
        self._keys = {name_key(n) for n in names}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._keys


def _taken(candidate: str, taken: Container[str]) -> bool:
    """Whether a queued download claims ``candidate``: as its name, or as the part file one of
    them writes first — a hub's file named "clip.mp4.part" and another's "clip.mp4", queued
    together, wrote into one file, and the first whole one failed ("appeared there
    meanwhile")."""
    if candidate in taken or candidate + PART_SUFFIX in taken:
        return True
    if candidate.lower().endswith(PART_SUFFIX):
        return candidate[: -len(PART_SUFFIX)] in taken
    return False


def unique_path(folder: Path, name: str, taken: Container[str] | None = None) -> Path:
    """``folder/safe(name)``, or ``folder/stem (2).ext`` … when that exists (or is ``taken``,
    e.g. by a queued download that has not started): an existing file is never overwritten.

    ``taken`` is compared ignoring case and composed/decomposed forms (``name_key``) whatever
    this system is: the folder may be on a disk that ignores case (Windows, macOS, a FAT or
    exFAT drive anywhere), and two queued downloads named "Nairobi.mp4" and "NAIROBI.mp4" both
    wrote into one part file there, one failing for good. A collection of names is folded
    here; another container (``TransferStore.names_taken``) folds what it is asked itself.
    What is on disk is asked of the file system, which compares names its own way."""
    base = safe_filename(name)
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    if taken is None:
        taken = FoldedNames(())
    elif isinstance(taken, Iterable):
        taken = FoldedNames(taken)
    limit = windows_path_limit()
    room = name_room(Path(os.path.abspath(folder)), limit) if limit is not None else None
    for n in range(1, 10_000):
        number = "" if n == 1 else f" ({n})"
        tail = f"{number}.{ext}" if ext else number
        cut = stem
        if room is not None and path_units(stem + tail) > room:
            # Windows without long paths: the part file's whole path must fit in MAX_PATH (a
            # share, a dated folder or a OneDrive-redirected Videos folder, and a long title);
            # a folder that leaves too little room is said by the download
            cut = _cut_units(stem, room - path_units(tail))
            if path_units(cut) < MIN_STEM:
                cut = stem
        candidate = cut + tail
        path = folder / candidate
        if (
            _taken(candidate, taken)
            # (lexists: a link left dangling — its library moved, a share away — holds the
            # name as a file does; "exists" followed it and took the name for free)
            or os.path.lexists(path)
            or os.path.lexists(path.with_name(candidate + PART_SUFFIX))
        ):
            continue
        return path
    raise FileExistsError(f"Too many files named like {base!r} in {folder}")


def inside(folder: Path, path: Path) -> bool:
    """True when ``path`` resolves inside ``folder`` (symlinks followed)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class NameNotText(ValueError):
    """A path whose name is not valid text (see ``check_text_path``)."""


def shown(text: str | Path) -> str:
    """A path as it can be shown: bytes that are no text in the file system's encoding (kept by
    Python as lone surrogates) become U+FFFD."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_text_path(path: str | Path) -> str:
    """``str(path)``, or ``NameNotText`` if it cannot be stored or sent as text: on Linux a
    name may hold any bytes (a file from an old camera card or a Windows share with another
    code page), which neither the library's database nor a tus server's metadata can take."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NameNotText(
            f"The name of “{shown(Path(text).name)}” in {shown(Path(text).parent)} is not valid "
            "text: it holds bytes no character set here can read. Rename the file, then add it "
            "again."
        ) from None
    return text
