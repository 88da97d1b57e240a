"""The end of a download: size and sha256 checked, then the part file renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Final, NoReturn

from ... import durable
from ...durable import fsync_dir
from ...oserrors import WIN_ACCESS_DENIED, is_in_use, winerror
from ..base import (
    PHASE_VERIFYING,
    DiskFullError,
    PermanentError,
    RetryableError,
    Stopped,
    redact_url,
)
from .checkpoint import _CheckpointJob
from .decode import BadCoding, TooLong, decode_into
from .partfile import _read_at, decoded_name, drop_decoded
from .protocol import (
    _HASH_BLOCK,
    MSG_DAMAGED,
    MSG_DISK_FULL,
    MSG_NOT_THE_FILE,
    MSG_PLACE_BUSY,
    MSG_TOO_LONG,
    _disk_error,
)
from .spec import DownloadResult

#: the checkpoint's record of the verified file renamed into place (see ``_finish``)
PLACED: Final = "placed"
#: seconds waited before each new try of a final rename that another program refused
_RENAME_WAITS: Final = (0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.5)

_DECODED_FLAGS: Final = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
)


class _VerifyJob(_CheckpointJob):
    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> DownloadResult:
        self.ctx.phase(PHASE_VERIFYING)
        spec = self.spec
        actual = os.fstat(self.fd).st_size
        expected = self.size if self.coding is not None or spec.size is None else spec.size
        if expected is not None and actual != expected:
            self.restarted = True
            self._discard()
            raise RetryableError(MSG_DAMAGED)
        digest = self._hash_rest(actual)  # of the bytes as the server sent them
        final, size, sha256 = self.part, actual, digest
        if self.coding is not None:
            decoded = self._decode(actual)
            if decoded is None:
                self._mismatch(digest)
            final, size, sha256 = decoded
        wanted = spec.sha256.strip().lower() if spec.sha256 is not None else None
        if (wanted is not None and sha256 != wanted) or (
            spec.size is not None and size != spec.size
        ):
            if final != self.part:
                final.unlink(missing_ok=True)
            self._mismatch(sha256)  # the file's: compressed afresh, its coded bytes vary
        try:
            durable.fsync(self.fd)
            self._close_fd()
            if spec.dest.exists():  # the caller picks a free name; never overwrite
                raise PermanentError(
                    f"A file named “{spec.dest.name}” appeared there meanwhile; "
                    "choose another name."
                )
            # What identifies the file about to be renamed (its inode survives the rename):
            # a run killed after the rename, before the queue records the end, finds its own
            # file in place by this, with or without an expected sha256 (jobs._renamed_before)
            st = os.stat(final)
            placed = {
                "dev": st.st_dev,
                "ino": st.st_ino,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": sha256,
                "size_checked": spec.size is not None or not self.size_from_body,
            }
            self.ctx.checkpoint.save({**self.ctx.checkpoint.load(), PLACED: placed})
            self._place(final, spec.dest)
            if final != self.part:
                self.part.unlink(missing_ok=True)
            fsync_dir(spec.dest.parent)
        except OSError as e:
            raise _disk_error(e) from e
        finally:
            if final != self.part and final.exists():  # not renamed: the decoded copy goes
                final.unlink(missing_ok=True)
        mtime_ns = placed_mtime_ns(spec.dest)
        # nothing left to resume; what identifies the file in place stays until the queue
        # records the end (which drops the checkpoint in the same transaction)
        self.ctx.checkpoint.save({PLACED: placed})
        self.ctx.log.info(
            "download %s: done, %d bytes (%d fetched in this run)",
            redact_url(spec.url),
            size,
            self.fetched,
        )
        return DownloadResult(
            path=spec.dest,
            size=size,
            sha256=sha256,
            bytes_fetched=self.fetched,
            restarted=self.restarted,
            size_checked=spec.size is not None or not self.size_from_body,
            mtime_ns=mtime_ns,
        )

    def _place(self, final: Path, dest: Path) -> None:
        """Rename the verified file into place. On Windows an antivirus, OneDrive, Dropbox or
        the search indexer opens a file the moment it is closed, and while one holds it the
        rename is refused (sharing violation, or access denied): tried again for a few seconds,
        then, held open (a sharing or lock violation), the transfer waits for its next try
        (the part file stays, checked again then). Access denied that lasts is the folder's
        own (a drop share that lets a file be written, not renamed; a read-only file of that
        name put there meanwhile): no wait mends it, and the transfer fails as it did before
        (its part file kept: Retry puts it in place without fetching it again)."""
        waits = iter(_RENAME_WAITS)
        while True:
            try:
                os.replace(final, dest)
                return
            except OSError as e:
                if not (is_in_use(e) or winerror(e) == WIN_ACCESS_DENIED):
                    raise
                wait = next(waits, None)
                if wait is None and not is_in_use(e):
                    raise  # (``_disk_error``: "The download folder cannot be written to")
                if wait is None:
                    self.ctx.log.info(
                        "download %s: the file is held by another program (%s); put in place "
                        "at the next try",
                        redact_url(self.spec.url),
                        e.strerror or e,
                    )
                    raise RetryableError(MSG_PLACE_BUSY) from e
                if self.ctx.control.wait(wait):
                    raise Stopped(self.ctx.control.reason) from e

    def _mismatch(self, digest: str) -> NoReturn:
        """The file is not the one expected: nothing is kept. ``digest`` is of the bytes as
        sent (for coded bytes too: they are what the server holds)."""
        self.ctx.log.warning(
            "download %s: checksum mismatch, part discarded", redact_url(self.spec.url)
        )
        # Damage on the way gives a different digest each time; the same wrong digest
        # twice means the server holds other bytes, and fetching them again cannot heal
        # that (on a member's link it would cost the whole file every few minutes).
        again = digest == self.wrong_sha256
        self.wrong_sha256 = digest
        self.restarted = True  # the next run says so in its result
        self._discard()  # the checkpoint keeps wrong_sha256 (see _carry)
        if again:
            raise PermanentError(MSG_NOT_THE_FILE)
        raise RetryableError(MSG_DAMAGED)

    def _decode(self, size: int) -> tuple[Path, int, str] | None:
        """Decode the part file's coded bytes into a file of our own beside it (see
        decode.py): its path, size and sha256, or None when the bytes do not decode."""
        dest = self.spec.dest
        self._drop_decoded()  # a decoding that a crash cut short
        self._room_to_decode()
        try:
            while True:
                path = decoded_name(dest)
                try:
                    fd = os.open(path, _DECODED_FLAGS, 0o644)
                    break
                except FileExistsError:
                    continue
        except OSError as e:
            raise _disk_error(e) from e
        kept = False
        out = 0

        def write(chunk: bytes) -> None:
            nonlocal out
            _write_all(fd, chunk)
            out += len(chunk)

        try:
            # named in the checkpoint, so the next run removes it after a crash
            self.ctx.checkpoint.save({**self.ctx.checkpoint.load(), "decoding": path.name})
            try:
                total, sha256 = decode_into(
                    lambda pos, n: _read_at(self.fd, n, pos, self.io_lock),
                    size,
                    self.coding or "",
                    write,
                    check=self.ctx.control.check,
                    limit=self.spec.size,
                )
                durable.fsync(fd)
            except TooLong:
                self.discard_part = True
                raise PermanentError(MSG_TOO_LONG) from None
            except BadCoding as e:
                self.ctx.log.warning(
                    "download %s: the %s-coded bytes do not decode: %s",
                    redact_url(self.spec.url),
                    self.coding,
                    e,
                )
                return None
            except OSError as e:
                error = _disk_error(e)
                if isinstance(error, DiskFullError):  # not again until there is more room
                    self.decode_needs = max(self.decode_needs, out)
                    self.ctx.checkpoint.save(
                        {**self.ctx.checkpoint.load(), "decode_needs": self.decode_needs}
                    )
                raise error from e
            kept = True
            return path, total, sha256
        finally:
            os.close(fd)
            if not kept:
                path.unlink(missing_ok=True)

    def _room_to_decode(self) -> None:
        """A decoding that filled the disk is not tried again (it would fill it again, and
        every other program's writes would fail with it) until the disk has more room than it
        had written then, or than the file's size when that is known."""
        needs = self.decode_needs
        if self.spec.size is not None:
            needs = max(needs, self.spec.size)
        if not needs:
            return
        try:
            free = shutil.disk_usage(self.spec.dest.parent).free
        except OSError:
            return  # cannot tell: try
        if free <= needs:
            raise DiskFullError(MSG_DISK_FULL)

    def _drop_decoded(self) -> None:
        """Remove the decoded copy the checkpoint names (a run that stopped while decoding)."""
        drop_decoded(self.spec.dest, self.ctx.checkpoint.load())

    def _hash_rest(self, size: int) -> str:
        """The part file's sha256: the running hash (single stream, or the front hasher) goes
        on from where it stands; without one, the whole file is read."""
        h, pos = self.hasher, self.hashed_to
        if h is None or pos > size:
            h, pos = hashlib.sha256(), 0
        self.ctx.log.debug(
            "download %s: %d of %d bytes hashed while downloading",
            redact_url(self.spec.url),
            pos,
            size,
        )
        while pos < size:
            self.ctx.control.check()
            data = _read_at(self.fd, min(_HASH_BLOCK, size - pos), pos, self.io_lock)
            if not data:
                break
            h.update(data)
            pos += len(data)
        self.hasher, self.hashed_to = None, 0
        digest: str = h.hexdigest()
        return digest

    def _discard(self) -> None:
        """Throw the part file and its progress away (bad data is never kept)."""
        self._drop_decoded()
        self.part_id = None  # the file goes; the next run names the one it makes
        with contextlib.suppress(Exception):
            self._reset_checkpoint()
        self._close_fd()
        with contextlib.suppress(FileNotFoundError):
            self.part.unlink()

    def _close_fd(self) -> None:
        with self.lock:
            fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def placed_mtime_ns(path: Path) -> int | None:
    """The modification time of the file just put at ``path``, as its file system gives it
    now that it is written, closed and renamed (a share's server sets it, not this machine's
    clock): what the library keeps to tell this file from one written at its name later (by
    another workstation sharing the folder). None when it cannot be read: the size alone will
    tell, and the download is not failed for it."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
