"""The Debian packages a one-folder build needs from the system, for the .deb's Depends.

    python installer/linux/depends.py dist/alu-client

Every ELF file of the bundle is asked (``ldd``, with the bundle's folders first, as the
PyInstaller bootloader sets them) which libraries it loads; those found outside the bundle
are mapped to their package (``dpkg -S``). Libraries the build machine lacks (say the
XCB helpers of Qt's xcb platform plugin on a machine without a desktop) are named by
Debian's rule (``libxcb-icccm.so.4`` is in ``libxcb-icccm4``) and reported on stderr. glibc
becomes ``libc6 (>= the newest GLIBC_ symbol version used)``.

Prints one line: the Depends value. Exit 1 when ``ldd`` cannot be run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Packages that are part of every system the app runs on, or found as libc6 anyway.
BASE = {"libc6", "libc-bin"}
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")
_GLIBC = re.compile(rb"GLIBC_(\d+)\.(\d+)")
DPKG = shutil.which("dpkg") or "/usr/bin/dpkg"


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with open(path, "rb") as f:
            if f.read(4) == b"\x7fELF":
                found.append(path)
    return found


def library_dirs(root: Path) -> list[str]:
    dirs = {str(p.parent) for p in root.rglob("*.so*")}
    internal = root / "_internal"
    first = [str(internal)] if internal.is_dir() else []
    return first + sorted(dirs - set(first))


def package_of(path: str) -> str | None:
    candidates = [path, os.path.realpath(path)]
    # merged /usr: dpkg may know the file under /lib or under /usr/lib
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr") :])
        elif p.startswith("/lib/"):
            candidates.append("/usr" + p)
    for p in candidates:
        done = subprocess.run(  # noqa: S603
            [DPKG, "-S", p], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and ":" in done.stdout:
            return done.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def debian_name(soname: str) -> str:
    """Debian's library package name: libfoo.so.4 -> libfoo4, libfoo2.so.1 -> libfoo2-1."""
    m = re.match(r"^(lib[^.]+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    base, major = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{base}-{major}" if base[-1].isdigit() else f"{base}{major}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0]).resolve()
    ldd = shutil.which("ldd")
    if ldd is None:
        print("depends.py: ldd is missing", file=sys.stderr)
        return 1
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(library_dirs(root)))
    system: set[str] = set()
    missing: dict[str, set[str]] = {}
    glibc = (2, 17)
    for path in elf_files(root):
        data = path.read_bytes()
        for major, minor in _GLIBC.findall(data):
            glibc = max(glibc, (int(major), int(minor)))
        done = subprocess.run(  # noqa: S603
            [ldd, str(path)], capture_output=True, text=True, env=env, check=False
        )
        for line in done.stdout.splitlines():
            m = _LDD_LINE.match(line)
            if not m:
                continue
            name, where = m.groups()
            if where == "not found":
                missing.setdefault(name, set()).add(str(path.relative_to(root)))
            elif not Path(where).resolve().is_relative_to(root):
                system.add(where)
    packages: set[str] = set()
    for lib in sorted(system):
        pkg = package_of(lib)
        if pkg is None:
            print(f"depends.py: no package owns {lib}; left out", file=sys.stderr)
            continue
        packages.add(pkg.split(":")[0])
    for name, users in sorted(missing.items()):
        pkg = debian_name(name)
        example = sorted(users)[0]
        print(
            f"depends.py: {name} is not on this machine (needed by {example}"
            f"{f' and {len(users) - 1} more' if len(users) > 1 else ''}): depending on {pkg}",
            file=sys.stderr,
        )
        packages.add(pkg)
    depends = [f"libc6 (>= {glibc[0]}.{glibc[1]})", *sorted(packages - BASE)]
    print(", ".join(depends))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
