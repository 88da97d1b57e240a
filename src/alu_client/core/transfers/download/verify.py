"""The end of a download: size and sha256 checked, then the part file renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Final, NoReturn

from ..base import PermanentError, RetryableError, redact_url
from .checkpoint import _CheckpointJob
from .decode import BadCoding, decode_into
from .partfile import _fsync_dir, _read_at
from .protocol import _HASH_BLOCK, MSG_DAMAGED, MSG_NOT_THE_FILE, _disk_error
from .spec import DownloadResult

_DECODING: Final = ".decoding"  # a decoded copy being written: ``.<name>.<random>.decoding``
_DECODED_FLAGS: Final = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
)


class _VerifyJob(_CheckpointJob):
    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> DownloadResult:
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
            self._mismatch(digest)
        try:
            os.fsync(self.fd)
            self._close_fd()
            if spec.dest.exists():  # the caller picks a free name; never overwrite
                raise PermanentError(
                    f"A file named “{spec.dest.name}” appeared there meanwhile; "
                    "choose another name."
                )
            os.replace(final, spec.dest)
            if final != self.part:
                self.part.unlink(missing_ok=True)
            _fsync_dir(spec.dest.parent)
        except OSError as e:
            raise _disk_error(e) from e
        finally:
            if final != self.part and final.exists():  # not renamed: the decoded copy goes
                final.unlink(missing_ok=True)
        self.ctx.checkpoint.save({})
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
        )

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
        try:
            while True:
                path = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}{_DECODING}")
                try:
                    fd = os.open(path, _DECODED_FLAGS, 0o644)
                    break
                except FileExistsError:
                    continue
        except OSError as e:
            raise _disk_error(e) from e
        kept = False
        try:
            # named in the checkpoint, so the next run removes it after a crash
            self.ctx.checkpoint.save({**self.ctx.checkpoint.load(), "decoding": path.name})
            try:
                out, sha256 = decode_into(
                    lambda pos, n: _read_at(self.fd, n, pos, self.io_lock),
                    size,
                    self.coding or "",
                    fd,
                    check=self.ctx.control.check,
                    limit=self.spec.size,
                )
                os.fsync(fd)
            except BadCoding as e:
                self.ctx.log.warning(
                    "download %s: the %s-coded bytes do not decode: %s",
                    redact_url(self.spec.url),
                    self.coding,
                    e,
                )
                return None
            except OSError as e:
                raise _disk_error(e) from e
            kept = True
            return path, out, sha256
        finally:
            os.close(fd)
            if not kept:
                path.unlink(missing_ok=True)

    def _drop_decoded(self) -> None:
        """Remove the decoded copy the checkpoint names (a run that stopped while decoding)."""
        name = self.ctx.checkpoint.load().get("decoding")
        dest = self.spec.dest
        if (
            isinstance(name, str)
            and name.startswith(f".{dest.name}.")
            and name.endswith(_DECODING)
            and Path(name).name == name
        ):
            with contextlib.suppress(OSError):
                (dest.parent / name).unlink()

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
