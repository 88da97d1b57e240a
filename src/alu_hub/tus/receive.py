"""Receiving a PATCH (or creation-with-upload) body: streamed into the upload's file in
bounded writes on worker threads, fsynced, checked against ``Upload-Checksum``, and the new
offset stored under the lease. See the package doc."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from ..errors import ApiError, disk_full, outage_error, outages
from ..hub import Hub
from ..models import Upload, utcnow
from .join import PART_COMPLETE
from .locks import _Hold, _UploadLock
from .protocol import _Checksum, http_date, new_digest
from .state import _O_BINARY, WRITE_BUFFER, _db_store, _upload_path

log = logging.getLogger(__name__)

#: Writes in flight per request while the next buffer fills (smooths out a slow disk).
WRITE_DEPTH = 3

_fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
# Writes to upload files; a plain executor so that a write can also be awaited synchronously.
_IO = ThreadPoolExecutor(max_workers=32, thread_name_prefix="tus-io")


# --- receiving a body -------------------------------------------------------------------------

_Outcome = Literal[
    "complete",
    "disconnected",
    "released",
    "too_much",
    "lease_lost",
    "write_failed",
    "disk_full",
    "bad_checksum",
]
_writev: Callable[[int, list[bytes]], int] | None = getattr(os, "writev", None)
_fadvise: Callable[[int, int, int, int], None] | None = getattr(os, "posix_fadvise", None)
_DONTNEED: int = getattr(os, "POSIX_FADV_DONTNEED", 0)


class _FileWriter:
    """Sequential writes into an upload file from ``start``; runs on worker threads, one call
    at a time."""

    def __init__(self, path: Path, start: int, algorithm: str | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | _O_BINARY, 0o600)
        self.start = start
        self.pos = start
        self.flushed = start
        os.lseek(self.fd, start, os.SEEK_SET)
        self.hasher = new_digest(algorithm) if algorithm else None

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            self.pos += n
            view = view[n:]

    def write(self, chunks: list[bytes]) -> None:
        """Write the chunks (as received, without joining them when the OS can gather)."""
        if len(chunks) == 1:
            self._write_all(chunks[0])
        elif _writev is not None and len(chunks) <= 512:
            total = sum(len(c) for c in chunks)
            n = _writev(self.fd, chunks)
            self.pos += n
            if n < total:
                self._write_all(memoryview(b"".join(chunks))[n:])
        else:
            self._write_all(b"".join(chunks))
        if self.hasher is not None:
            for chunk in chunks:
                self.hasher.update(chunk)
        if _fadvise is not None and self.pos - self.flushed >= 4 * WRITE_BUFFER:
            # Start writing back now, so that the fsync at the end of the chunk is short.
            with contextlib.suppress(OSError):
                _fadvise(self.fd, self.flushed, self.pos - self.flushed, _DONTNEED)
            self.flushed = self.pos

    def write_after(self, before: Future[None] | None, chunks: list[bytes]) -> None:
        if before is not None:
            before.result()  # in order; and nothing more once a write failed
        self.write(chunks)

    def finish(self, chunks: list[bytes]) -> None:
        if chunks:
            self.write(chunks)
        _fdatasync(self.fd)

    def rewind(self) -> None:
        """Drop everything this writer wrote."""
        os.ftruncate(self.fd, self.start)
        _fdatasync(self.fd)
        self.pos = self.start

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class _Received:
    start: int
    end: int
    outcome: _Outcome


async def _next_message(receive: Receive, lock: _UploadLock) -> Message | None:
    """The next ASGI message, or None when a newcomer asked us to let go of the upload."""
    reader = asyncio.ensure_future(receive())
    lock.reader = reader
    try:
        message = await reader
        lock.active_at = asyncio.get_running_loop().time()
        return message
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if reader.cancelled() and lock.release_requested and not (task and task.cancelling()):
            return None
        raise
    finally:
        lock.reader = None


async def _receive_body(
    request: Request, hold: _Hold, path: Path, start: int, limit: int, checksum: _Checksum | None
) -> _Received:
    """Stream the request body into ``path`` from ``start`` (at most ``limit`` bytes) and fsync
    it. Ends early when the client goes away or a newcomer asks for the lock; what arrived is
    kept unless a checksum was given (then only a complete, matching chunk is kept)."""
    loop = asyncio.get_running_loop()
    writer = await loop.run_in_executor(
        _IO, _FileWriter, path, start, checksum.algorithm if checksum else None
    )
    # writes in flight, oldest first; each one waits for the one before (they stay in order)
    pending: list[Future[None]] = []
    buf: list[bytes] = []
    buffered = 0
    received = 0
    outcome: _Outcome = "complete"
    try:
        try:
            while True:
                if hold.lock.release_requested:
                    outcome = "released"
                    break
                try:
                    message = await _next_message(request.receive, hold.lock)
                except ClientDisconnect:  # a receive wrapper may raise it instead
                    outcome = "disconnected"
                    break
                if message is None:
                    outcome = "released"
                    break
                if message["type"] != "http.request":
                    outcome = "disconnected"
                    break
                body: bytes = message.get("body", b"")
                if body:
                    if len(body) > limit - received:
                        body = body[: limit - received]
                        outcome = "too_much"
                    buf.append(body)
                    buffered += len(body)
                    received += len(body)
                    if buffered >= WRITE_BUFFER:
                        if len(pending) >= WRITE_DEPTH:
                            await asyncio.wrap_future(pending.pop(0))
                        if not await hold.keep_lease():
                            outcome = "lease_lost"
                            break
                        after = pending[-1] if pending else None
                        pending.append(_IO.submit(writer.write_after, after, buf))
                        buf, buffered = [], 0
                    if outcome == "too_much":
                        break
                if not message.get("more_body", False):
                    break
            while pending:
                await asyncio.wrap_future(pending.pop(0))
            if outcome == "lease_lost" or (buf and not await hold.keep_lease()):
                return _Received(start, start, "lease_lost")
            await loop.run_in_executor(_IO, writer.finish, buf)
        except OSError as e:
            if disk_full(e):  # an outage, not a bug: one line now and then (errors.outages)
                outages.report("disk_full", e)
                outcome = "disk_full"
            else:
                log.exception("writing upload %s failed", hold.upload_id[:8])
                outcome = "write_failed"
            while pending:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(pending.pop(0))
            try:
                await loop.run_in_executor(_IO, _fdatasync, writer.fd)
            except OSError:
                return _Received(start, start, outcome)
        if outcome == "too_much":  # refused whole, as a body whose Content-Length is too long
            await loop.run_in_executor(_IO, writer.rewind)
        elif checksum is not None:
            assert writer.hasher is not None
            good = outcome == "complete" and hmac.compare_digest(
                writer.hasher.digest(), checksum.digest
            )
            if not good:
                await loop.run_in_executor(_IO, writer.rewind)
                if outcome == "complete":
                    outcome = "bad_checksum"
        return _Received(start, writer.pos, outcome)
    finally:
        for write in pending:  # cancelled: let the writes end before closing the file
            with contextlib.suppress(BaseException):
                write.result()
        writer.close()


def _store_headers(offset: int, expires: dt.datetime | None) -> dict[str, str]:
    headers = {"Upload-Offset": str(offset)}
    if expires is not None:
        headers["Upload-Expires"] = http_date(expires)
    return headers


async def _write_and_store(
    request: Request,
    hub: Hub,
    hold: _Hold,
    up: Upload,
    length: int | None,
    checksum: _Checksum | None,
) -> tuple[_Received, dt.datetime | None, bool]:
    """Receive a body at ``up.offset`` under ``hold`` (leased) and store the new offset.
    Returns what was received, the upload's expiry (None if the lease was lost: nothing
    stored) and whether the upload is now complete."""
    start = up.offset
    # a deferred length still has the largest upload for a bound (tus: 413 beyond Tus-Max-Size)
    bound = length if length is not None else hub.settings.max_upload_size
    limit = bound - start
    if hub.settings.max_chunk_size is not None:
        limit = min(hub.settings.max_chunk_size, limit)
    got = await _receive_body(request, hold, _upload_path(hub, up.id), start, limit, checksum)
    if got.outcome == "lease_lost":
        return got, None, False
    if got.outcome == "too_much" or (checksum is not None and got.outcome != "complete"):
        # the chunk was discarded (413, 460, or cut short): so is the Upload-Length sent with it
        # (tus checksum: "the upload and its offset MUST NOT be updated"); else a retry that
        # corrects a deferred length would be refused, and an empty chunk could complete it
        length = up.length
    complete = length is not None and got.end == length and up.concat != "partial"
    expires = up.expires_at
    if got.end > start:  # progress: the upload is not abandoned
        expires = utcnow() + dt.timedelta(seconds=hub.settings.upload_expiry_s)
    stored = await run_in_threadpool(
        _db_store, hub, up.id, hold.owner, got.end, length, complete, expires
    )
    hold.leased = False
    if not stored:
        return got, None, False
    if up.concat == "partial" and length is not None and got.end == length:
        with PART_COMPLETE:  # a join waiting for this part here goes on at once
            PART_COMPLETE.notify_all()
    return got, expires, complete


def _body_problem(got: _Received, expires: dt.datetime | None) -> ApiError | None:
    """The error for a PATCH (or creation-with-upload) body that did not go in whole."""
    headers = _store_headers(got.end, expires)
    if expires is None:
        return ApiError(
            423,
            "upload_locked",
            "Another hub process took over this upload; ask for its offset and go on.",
            {"Retry-After": "1"},
        )
    if got.outcome == "released":
        return ApiError(
            423,
            "upload_locked",
            "Another request took over this upload; what arrived was kept: ask for the offset "
            "and go on from there.",
            {**headers, "Retry-After": "1"},
        )
    if got.outcome == "bad_checksum":
        return ApiError(
            460,
            "checksum_mismatch",
            "The chunk does not match its Upload-Checksum; it was discarded, send it again.",
            headers,
        )
    if got.outcome == "too_much":
        # the rest of the body is not read: the connection closes (see _closing)
        return ApiError(
            413,
            "beyond_upload_length",
            "The chunk goes past the upload's length (or is larger than this hub accepts in one"
            f" request); none of it was kept. Send it again from offset {got.end}, ending at"
            " the upload's length.",
            {**headers, "Connection": "close"},
        )
    if got.outcome == "disk_full":
        # 507 with Retry-After: clients back off, then HEAD and go on from what was kept
        e = outage_error(
            "disk_full",
            "The hub's disk is full; what arrived was kept: ask for the offset and go on later.",
        )
        e.headers.update(headers)
        return e
    if got.outcome == "write_failed":
        return ApiError(
            500, "write_failed", "The hub could not store the chunk; try again later.", headers
        )
    return None
