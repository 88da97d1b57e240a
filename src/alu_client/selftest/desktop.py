"""The self-test's desktop check: can Qt's platform plugins for a real session load here?

The rest of the self-test runs offscreen, so it passed on a workstation whose window could not
open at all (Qt then aborts with "Reinstalling the application may fix this problem", which is
false). The xcb plugin (X11, and XWayland) and the wayland one, when the build has it, are asked
with ``ldd`` which of their libraries this system lacks; those are named with their Debian
package (the .deb's Depends and the archive's README.txt list them all).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .basics import CheckFailed, Outcome

#: the platform plugins of a desktop session, by file name (the first one is required)
PLUGINS = {"libqxcb.so": "xcb", "libqwayland.so": "wayland"}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)


def platforms_dir() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"


def debian_package(soname: str) -> str:
    """Debian's library package name: libfoo.so.4 -> libfoo4, libfoo2.so.1 -> libfoo2-1."""
    m = re.match(r"^(lib[^.]+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    base, major = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{base}-{major}" if base[-1].isdigit() else f"{base}{major}"


def missing_libraries(plugin: Path, ldd: str) -> list[str]:
    """The libraries ``plugin`` needs that the loader does not find (a frozen build's own
    folder searched first, as its bootloader does)."""
    env = dict(os.environ)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(bundle), env.get("LD_LIBRARY_PATH", "")) if p
        )
    done = subprocess.run(  # noqa: S603 - our own plugin, asked by the system's ldd
        [ldd, str(plugin)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    return sorted(set(_NOT_FOUND.findall(done.stdout)))


def check_desktop(folder: Path | None = None, ldd: str | None = None) -> Outcome:
    if not sys.platform.startswith("linux"):
        return "not checked (Linux only)"
    folder = folder or platforms_dir()
    if not (folder / "libqxcb.so").is_file():
        return f"not checked: no xcb platform plugin in {folder}"
    ldd = ldd or shutil.which("ldd")
    if not ldd:
        return "not checked: ldd is missing"
    found = [name for name in PLUGINS if (folder / name).is_file()]
    missing: dict[str, list[str]] = {}
    for name in found:
        for lib in missing_libraries(folder / name, ldd):
            missing.setdefault(lib, []).append(PLUGINS[name])
    if missing:
        libs = ", ".join(f"{lib} ({' and '.join(who)})" for lib, who in sorted(missing.items()))
        packages = " ".join(sorted({debian_package(lib) for lib in missing}))
        raise CheckFailed(
            f"the window cannot open on this desktop: not found {libs}; "
            f"install them (Debian, Ubuntu): sudo apt install {packages}"
        )
    return f"{' '.join(PLUGINS[n] for n in found)} platform plugins: all their libraries found"
