"""The frozen app's entry script (PyInstaller): ``alu-client`` as installed, and ``alu`` (the
command-line verbs: ``alu doctor``, ``alu get`` …) when started under that name — the Linux
packages add an ``alu`` link to the same program (``/usr/bin/alu``, ``~/.local/bin/alu``)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any


def pin_archive(reader: Any, platform: str = sys.platform) -> str | None:
    """Keep reading the app's Python modules from the file this process started with.

    PyInstaller's reader of the bundled modules (``pyimod02_importers.pyz_archive``, a
    ``ZlibArchiveReader``) reads its table of contents once, at start, then opens its file *by
    path* for every module imported later (``extract`` opens ``reader._filename``). When a new
    version is installed while the app runs (``apt install`` of a new .deb, ``./install.sh`` of a
    new archive), that path names the new file: a panel loaded on first use (Settings) then read
    the new file at the old offsets and failed with ``zlib.error: Error -3``.

    On POSIX, open the file once now and point the reader at ``/proc/self/fd/N`` (Linux) or
    ``/dev/fd/N`` (macOS and the BSDs): opening that name opens the same file (inode), even after
    an installer replaced or removed the path. The descriptor stays open for the life of the
    process (it is not inherited by child processes). On macOS, opening ``/dev/fd/N`` shares the
    descriptor's position, so reads go through a lock there.

    Defensive: any failure leaves the reader as PyInstaller made it. Returns the new file name,
    or None when nothing was changed.
    """
    fd = -1
    try:
        if os.name != "posix" or reader is None:
            return None
        filename = getattr(reader, "_filename", None)
        if not isinstance(filename, str) or not callable(getattr(reader, "extract", None)):
            return None
        if platform.startswith("linux"):
            folder, shares_offset = "/proc/self/fd", False
        else:
            folder, shares_offset = "/dev/fd", True
        fd = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        pinned = f"{folder}/{fd}"
        # the name must lead back to the very file opened (no /proc mounted, a sandbox, …)
        if not os.path.samestat(os.stat(pinned), os.fstat(fd)):
            raise OSError(f"{pinned} is not {filename}")
        if shares_offset:
            extract, lock = reader.extract, threading.Lock()

            def locked_extract(*args: Any, **kwargs: Any) -> Any:
                with lock:
                    return extract(*args, **kwargs)

            reader.extract = locked_extract
        reader._filename = pinned
        return pinned
    except Exception:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        return None


def restore_library_path(
    environ: Any, bundle: str | None, platform: str = sys.platform
) -> str | None:
    """Give the programs this process starts the library path the user had.

    PyInstaller's bootloader puts the bundle's folder (``_internal``) first in
    ``LD_LIBRARY_PATH`` (the original, if any, kept in ``LD_LIBRARY_PATH_ORIG``), and every
    program the app then starts inherited it: Open and Show in folder (``xdg-open``, ``gio``,
    the file manager, the video player), ``dbus-send`` — with the bundle's libraries of the build
    machine before the system's (its libglib beside a newer system's libgio, its libstdc++ for a
    newer file manager: "nothing happens" on a newer distribution). The loader read the variable
    when this process started, so its own libraries are found as before; only children change.

    Linux only (macOS: the bootloader unsets DYLD_LIBRARY_PATH; Windows: no such variable).
    Returns the value children get ("" when none), or None when nothing was changed."""
    if not platform.startswith("linux") or not bundle:
        return None
    if "LD_LIBRARY_PATH_ORIG" in environ:
        original = environ.pop("LD_LIBRARY_PATH_ORIG")
    else:  # (the user had none; or an older bootloader that kept no copy: ours taken out)
        current = environ.get("LD_LIBRARY_PATH", "")
        original = os.pathsep.join(
            p
            for p in current.split(os.pathsep)
            if p and os.path.normpath(p) != os.path.normpath(bundle)
        )
    if original:
        environ["LD_LIBRARY_PATH"] = original
    else:
        environ.pop("LD_LIBRARY_PATH", None)
    return original


def entry_point(argv0: str) -> str:
    """Which of the program's two commands was started: "cli" under the name ``alu`` (a link
    to the program), else "app" (the window)."""
    name = os.path.basename(argv0).lower()
    if name.endswith(".exe"):
        name = name[: -len(".exe")]
    return "cli" if name == "alu" else "app"


def frozen_archive_reader() -> Any:
    """PyInstaller's reader of the bundled modules, or None (not frozen, another PyInstaller)."""
    importers = sys.modules.get("pyimod02_importers")
    return getattr(importers, "pyz_archive", None)


if __name__ == "__main__":
    # first, before the app imports anything more from the archive
    pin_archive(frozen_archive_reader())
    restore_library_path(os.environ, getattr(sys, "_MEIPASS", None))

    if entry_point(sys.argv[0] if sys.argv else "") == "cli":
        from alu_client.cli import main
    else:
        from alu_client.app import main

    sys.exit(main())
