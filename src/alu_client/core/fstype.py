"""Whether a folder is on a network file system, and the data folder's refusals.

The library is SQLite in WAL mode, which SQLite documents as not working over a network file
system (its ``-shm`` index is shared memory: processes on two hosts do not see one another's
reads and writes), and the engine lock is an OS file lock, which some shares do not keep
(``flock`` fails with ENOLCK on NFSv3 mounted ``nolock``). ALU Desk therefore refuses a data
folder on either, saying so (``UnsuitableDataFolder``), rather than risk the library. Download
folders on shares are fine and are not checked here.

Linux reads the folder's mount in ``/proc/self/mountinfo`` (``os.statvfs`` does not give the
type); macOS asks ``statfs`` for ``f_fstypename``; Windows asks ``GetDriveTypeW`` (a UNC path is
a share). Whatever cannot be told is taken as local: the refusal is for what is known.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Linux ``fstype`` values of network (or cluster) file systems. Not ``9p``: it is a share
#: between one host and its own virtual machine or sandbox (WSL2's Windows drives, QEMU, the
#: root file system under gVisor), where one machine's processes use the library and its locks
NETWORK_FSTYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "smb2",
        "ncpfs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "orangefs",
        "coda",
        "davfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.ceph",
        "fuse.cephfs",
        "fuse.ceph-fuse",
        "fuse.juicefs",
        "fuse.davfs2",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.smbnetfs",
        "fuse.gvfsd-fuse",
    }
)
#: macOS ``f_fstypename`` values of network file systems
MAC_NETWORK_FSTYPES = frozenset({"nfs", "smbfs", "afpfs", "webdav", "cifs", "ftp"})


class UnsuitableDataFolder(RuntimeError):
    """The data folder cannot hold the library: on a network file system (``why`` "network",
    ``fstype`` its type), on one that cannot lock files (``why`` "no-locks"), or it is an ALU
    hub's data folder (``why`` "hub": ALU_CLIENT_HOME set to the hub's --data by mistake)."""

    def __init__(self, folder: Path, why: str, fstype: str = "") -> None:
        if why == "hub":
            message = (
                f"The data folder {folder} is an ALU hub's data folder (it holds its "
                "hub.sqlite3 or hub-setup.json): a workstation's library, downloads and logs "
                "do not go there. Nothing was written in it. Choose a folder of the "
                "workstation's own (ALU_CLIENT_HOME=DIR) and start again."
            )
        elif why == "network":
            message = (
                f"The data folder {folder} is on a network share ({fstype}). ALU Desk keeps its "
                "library only on a local disk: on a share it can be damaged (and two "
                "workstations using it damage it). Choose a local data folder "
                "(ALU_CLIENT_HOME=DIR, DIR on this computer's disk) and start again."
            )
        else:
            message = (
                f"The data folder {folder} is on a file system that cannot lock files (a "
                "network share?). ALU Desk keeps its library there only on a local disk: "
                "choose a local data folder (ALU_CLIENT_HOME=DIR, DIR on this computer's "
                "disk) and start again."
            )
        super().__init__(message)
        self.folder, self.why, self.fstype = folder, why, fstype


def _unescape(field: str) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes are written as octal escapes."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_fstype(path: Path, mountinfo: str) -> str | None:
    """The ``fstype`` of the mount that holds ``path`` (absolute, links resolved) in the text
    of a Linux ``/proc/self/mountinfo``: the last-mounted of the longest mount points above it
    (None when none is)."""
    best: tuple[int, str] | None = None
    target = str(path)
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 2:
            continue
        point = _unescape(fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fields[sep + 1])
    return best[1] if best is not None else None


def _existing(path: Path) -> Path:
    """``path`` absolute with its links resolved, as far as it exists (a data folder not made
    yet is where its parent is)."""
    return Path(os.path.realpath(path))


def _linux_fstype(path: Path) -> str | None:
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return mount_fstype(_existing(path), text)


def _mac_fstype(path: Path) -> str | None:  # pragma: no cover - exercised on macOS
    import ctypes
    import ctypes.util

    class StatFs(ctypes.Structure):  # struct statfs (64-bit inodes)
        _fields_ = [
            ("f_bsize", ctypes.c_uint32),
            ("f_iosize", ctypes.c_int32),
            ("f_blocks", ctypes.c_uint64),
            ("f_bfree", ctypes.c_uint64),
            ("f_bavail", ctypes.c_uint64),
            ("f_files", ctypes.c_uint64),
            ("f_ffree", ctypes.c_uint64),
            ("f_fsid", ctypes.c_int32 * 2),
            ("f_owner", ctypes.c_uint32),
            ("f_type", ctypes.c_uint32),
            ("f_flags", ctypes.c_uint32),
            ("f_fssubtype", ctypes.c_uint32),
            ("f_fstypename", ctypes.c_char * 16),
            ("f_mntonname", ctypes.c_char * 1024),
            ("f_mntfromname", ctypes.c_char * 1024),
            ("f_flags_ext", ctypes.c_uint32),
            ("f_reserved", ctypes.c_uint32 * 7),
        ]

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    try:  # x86_64 keeps the 32-bit-inode struct under the plain name
        statfs = getattr(libc, "statfs$INODE64")
    except AttributeError:
        statfs = libc.statfs  # arm64: 64-bit inodes only
    statfs.argtypes = [ctypes.c_char_p, ctypes.POINTER(StatFs)]
    buf = StatFs()
    target = _existing(path)
    while not target.exists() and target != target.parent:
        target = target.parent
    if statfs(os.fsencode(target), ctypes.byref(buf)) != 0:
        return None
    return str(buf.f_fstypename.decode("utf-8", "replace"))


def _windows_remote(path: Path) -> bool:  # pragma: no cover - exercised on Windows
    import ctypes

    full = os.path.abspath(path)
    drive, _ = os.path.splitdrive(full)
    if drive.startswith(("\\\\", "//")):
        return True  # \\server\share
    if not drive:
        return False
    drive_remote = 4
    return bool(ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == drive_remote)  # type: ignore[attr-defined]


def network_fstype(path: Path) -> str | None:
    """The type of the network file system that holds ``path`` ("nfs4", "cifs", "smbfs",
    "remote" on Windows), None when it is local or cannot be told."""
    try:
        if sys.platform == "win32":
            return "remote" if _windows_remote(path) else None
        if sys.platform == "darwin":
            fstype = _mac_fstype(path)
            return fstype if fstype in MAC_NETWORK_FSTYPES else None
        fstype = _linux_fstype(path)
        return fstype if fstype in NETWORK_FSTYPES else None
    except Exception:  # (ctypes on an unexpected system): taken as local
        return None


def refuse_network_folder(folder: Path) -> None:
    """UnsuitableDataFolder when the data ``folder`` is on a network file system."""
    fstype = network_fstype(folder)
    if fstype is not None:
        raise UnsuitableDataFolder(folder, "network", fstype)
