"""The end of a download: size and sha256 checked, then the part file renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import os

from ..base import PermanentError, RetryableError, redact_url
from .checkpoint import _CheckpointJob
from .partfile import _fsync_dir, _read_at
from .protocol import _HASH_BLOCK, MSG_DAMAGED, MSG_NOT_THE_FILE, _disk_error
from .spec import DownloadResult


class _VerifyJob(_CheckpointJob):
    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> DownloadResult:
        spec = self.spec
        actual = os.fstat(self.fd).st_size
        expected = spec.size if spec.size is not None else self.size
        if expected is not None and actual != expected:
            self.restarted = True
            self._discard()
            raise RetryableError(MSG_DAMAGED)
        digest = self._hash_rest(actual)
        if spec.sha256 is not None and digest != spec.sha256.strip().lower():
            self.ctx.log.warning(
                "download %s: checksum mismatch, part discarded", redact_url(spec.url)
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
        try:
            os.fsync(self.fd)
            self._close_fd()
            if spec.dest.exists():  # the caller picks a free name; never overwrite
                raise PermanentError(
                    f"A file named “{spec.dest.name}” appeared there meanwhile; "
                    "choose another name."
                )
            os.replace(self.part, spec.dest)
            _fsync_dir(spec.dest.parent)
        except OSError as e:
            raise _disk_error(e) from e
        self.ctx.checkpoint.save({})
        self.ctx.log.info(
            "download %s: done, %d bytes (%d fetched in this run)",
            redact_url(spec.url),
            actual,
            self.fetched,
        )
        return DownloadResult(
            path=spec.dest,
            size=actual,
            sha256=digest,
            bytes_fetched=self.fetched,
            restarted=self.restarted,
            size_checked=spec.size is not None or not self.size_from_body,
        )

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
