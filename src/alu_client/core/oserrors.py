"""What an OS error says about the fault behind it, on Windows as on POSIX.

On Windows CPython derives ``errno`` from the Windows error code (``winerror_to_errno``,
PC/errmap.h): a whole block of codes (19-36: device not ready, CRC error, sharing and lock
violations…) becomes ``EACCES``, and every code the table does not list becomes ``EINVAL``. A
passing fault of a USB disk, a card reader or an SMB share then reads like a folder that cannot
be written, or a bad path. ``winerror``, set only on Windows, says what happened: it is looked at
first when set. Without it (POSIX) nothing here changes how an error is read."""

from __future__ import annotations

import errno
from typing import Final

#: ERROR_ACCESS_DENIED: also what a file held with a pending delete, or being scanned, gives
WIN_ACCESS_DENIED: Final = 5
#: ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: another program has the file open (an
#: editor, an antivirus, OneDrive, the search indexer)
WIN_IN_USE: Final = frozenset({32, 33})
#: ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL
WIN_DISK_FULL: Final = frozenset({39, 112})
#: ERROR_FILE_TOO_LARGE: more than the file system holds in one file (FAT32: 4 GB)
WIN_FILE_TOO_LARGE: Final = 223
#: faults of a device or of the network that pass: retried, never a reason to give up
WIN_PASSING: Final = frozenset(
    {
        21,  # ERROR_NOT_READY: a USB disk or a card reader waking up
        23,  # ERROR_CRC
        25,  # ERROR_SEEK
        27,  # ERROR_SECTOR_NOT_FOUND
        29,  # ERROR_WRITE_FAULT
        30,  # ERROR_READ_FAULT
        31,  # ERROR_GEN_FAILURE: a device attached to the system is not functioning
        *WIN_IN_USE,
        51,  # ERROR_REM_NOT_LIST: the remote computer is not available
        53,  # ERROR_BAD_NETPATH
        54,  # ERROR_NETWORK_BUSY
        55,  # ERROR_DEV_NOT_EXIST: the network resource or device is no longer available
        57,  # ERROR_ADAP_HDW_ERR
        58,  # ERROR_BAD_NET_RESP
        59,  # ERROR_UNEXP_NET_ERR
        64,  # ERROR_NETNAME_DELETED: the SMB session dropped
        67,  # ERROR_BAD_NET_NAME
        121,  # ERROR_SEM_TIMEOUT: the classic SMB timeout
        1117,  # ERROR_IO_DEVICE
        1167,  # ERROR_DEVICE_NOT_CONNECTED
        1222,  # ERROR_NO_NETWORK
        1231,  # ERROR_NETWORK_UNREACHABLE
        1232,  # ERROR_HOST_UNREACHABLE
        1236,  # ERROR_CONNECTION_ABORTED
        1450,  # ERROR_NO_SYSTEM_RESOURCES
    }
)


def winerror(e: BaseException) -> int | None:
    """The Windows error code of ``e`` (None on POSIX, or when it has none)."""
    code = getattr(e, "winerror", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def is_disk_full(e: OSError) -> bool:
    """The disk (or the user's quota) is full: space may be freed."""
    if winerror(e) in WIN_DISK_FULL:  # (39 reads EINVAL)
        return True
    return e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def is_passing(e: OSError) -> bool:
    """A fault that may pass (a device not ready, a network share away for a moment, another
    program holding the file), said by a Windows error code; False without one."""
    return winerror(e) in WIN_PASSING


def is_in_use(e: OSError) -> bool:
    """Another program has the file open (Windows' sharing or lock violation)."""
    return winerror(e) in WIN_IN_USE


def is_too_large(e: OSError) -> bool:
    """The file is larger than its file system holds (EFBIG; ERROR_FILE_TOO_LARGE)."""
    return e.errno == errno.EFBIG or winerror(e) == WIN_FILE_TOO_LARGE
