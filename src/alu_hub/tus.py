"""tus 1.0.0 resumable uploads at ``/api/v1/uploads`` (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, creation-defer-length, termination, expiration,
checksum (sha1, sha256, md5) and concatenation (final uploads of complete partials only; no
concatenation-unfinished). Every request, OPTIONS included, needs the member's bearer token; a
member sees only its own uploads (403 ``not_your_upload`` otherwise). Besides the tus headers,
HEAD answers ``Alu-Upload-State``, ``Alu-Item-Id`` and ``Alu-Error``, and ``GET`` on an upload
answers its status as JSON, which is how a client learns the item its upload became (GET is no
tus request: it does not need ``Tus-Resumable``, every other method but OPTIONS gets 412
without it).

Bytes and durability
    The bytes of upload ``<id>`` go to ``settings.uploads_dir / <id>``; the client's ``filename``
    is metadata only and never part of a path. A PATCH streams its body into that file from the
    stored offset in ~1 MiB writes done on a thread (one write in flight while the next buffer
    fills), so memory stays bounded whatever the chunk size. The file is fsynced before the new
    offset is stored, so the stored offset never exceeds durable bytes; when a PATCH or HEAD
    finds the file shorter than the stored offset (a crash), the file wins. Bytes beyond the
    stored offset (an unrecorded tail) are cut off before the next PATCH writes. A body cut
    short (the client went away) keeps what arrived, and the client resumes from there; with
    ``Upload-Checksum`` the partial chunk cannot be verified and is discarded instead, as is a
    chunk whose digest does not match (460). Each PATCH that adds bytes pushes the expiry
    (``Upload-Expires``) forward: only abandoned uploads expire.

Locking (two writers must never interleave)
    In this process: one ``_UploadLock`` per upload id (per event loop), taken by PATCH, HEAD,
    DELETE and a creation-with-upload body. On links with outages the usual holder of a lock is
    a PATCH whose client has already gone away while the socket still looks open, so a
    newcomer does not just queue: it sets the lock's ``release_requested`` flag and cancels the
    holder's pending body read (the flag is also checked between reads). The holder then stops
    reading, fsyncs what it wrote, stores that offset and answers 423 ``upload_locked`` (with
    ``Upload-Offset`` and ``Retry-After: 1``) to whoever is still listening. The newcomer
    waits up to ``LOCK_WAIT_S`` (3 s) for the lock, else it answers 423 itself. So of two
    PATCHes racing on one upload, one ends early with 423 (or, if it had finished, the other
    gets 409) and the bytes never interleave; tus clients retry 423 and resume from HEAD.
    Between processes: the writer also holds a lease in the upload's row (``lock_owner`` =
    a random id per request, ``lock_expires_at`` = now + 30 s), taken with one conditional
    UPDATE (free, or expired) and renewed, again conditionally, every 10 s while bytes arrive
    and before any write that follows a stall; the new offset is stored only while the lease
    is still ours, and a writer that lost it stops without writing. A lease past its expiry is
    free, so a writer that died (or stalls) in another process blocks its upload for at most
    30 s. HEAD never waits for a lease: the stored offset only moves after an fsync.

Completion
    When a plain or final upload has all its bytes its state becomes ``processing`` (committed)
    and ``hub.on_upload_complete(id)`` runs on a daemon thread, never on the event loop nor
    before the response. A final upload is assembled from its parts on a daemon thread after
    the 201 (streamed, constant memory); its parts are then terminated and their files deleted.

``expire_uploads(hub)`` expires unfinished uploads past ``expires_at`` (deleting their bytes)
and deletes any bytes left behind by terminated ones; the app calls it at start-up and
periodically.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import email.utils
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import Connection, CursorResult, and_, or_, select, update
from sqlalchemy.engine import Result
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from .errors import ApiError
from .hub import Hub, HubDep, MemberDep
from .models import Member, Upload, utcnow
from .settings import GIB

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = (
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,"
    "concatenation"
)
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
OFFSET_STREAM = "application/offset+octet-stream"
PREFIX = "/api/v1/uploads"
#: Size of each write to the upload file (and of the buffer filled meanwhile).
WRITE_BUFFER = 1024 * 1024
#: Writes in flight per request while the next buffer fills (smooths out a slow disk).
WRITE_DEPTH = 3
#: How long a newcomer waits for an upload's lock before 423.
LOCK_WAIT_S = 3.0
#: The lease in the database: its length, and how often a writer renews it.
LEASE_S = 30.0
LEASE_RENEW_S = 10.0
#: Upload-Metadata larger than this (decoded) is refused.
MAX_METADATA_BYTES = 64 * 1024

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_INT_RE = re.compile(r"[0-9]{1,19}")
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_O_BINARY: int = getattr(os, "O_BINARY", 0)
_fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
# Writes to upload files; a plain executor so that a write can also be awaited synchronously.
_IO = ThreadPoolExecutor(max_workers=32, thread_name_prefix="tus-io")


# --- errors and headers -------------------------------------------------------------------


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _locked() -> ApiError:
    return ApiError(
        423,
        "upload_locked",
        "Another request is writing to this upload; try again in a moment.",
        {"Retry-After": "1"},
    )


def http_date(when: dt.datetime) -> str:
    """RFC 9110 HTTP-date, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _ascii_header(text: str, limit: int = 1000) -> str:
    """Text made safe for a header value: printable ASCII stays, the rest (and ``%``) is
    percent-encoded UTF-8, so ``urllib.parse.unquote`` gives the exact text back."""
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
    return quote(text[:limit], safe=safe)


def _effective_method(request: Request) -> str:
    override = request.headers.get("x-http-method-override", "").strip()
    return (override or request.method).upper()


def _header_int(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not _INT_RE.fullmatch(raw):
        raise _bad("bad_header", f"{name} must be a non-negative integer.")
    return int(raw)


def _is_offset_stream(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    return ctype.split(";", 1)[0].strip().lower() == OFFSET_STREAM


def _size_text(n: int) -> str:
    return f"{n / GIB:.4g} GB"


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"The upload is larger than this hub accepts: the limit is {_size_text(limit)} "
        f"({limit} bytes).",
    )


# --- metadata ------------------------------------------------------------------------------


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata`` as a dict: comma-separated ``key base64value`` pairs, the value
    optional. Keys are printable ASCII without spaces or commas; values must be UTF-8 text.
    Raises ApiError 400 on invalid base64, duplicate keys or anything malformed."""
    meta: dict[str, str] = {}
    total = 0
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        parts = pair.split()
        if len(parts) > 2:
            raise _bad("bad_metadata", "Upload-Metadata pairs are 'key base64value'.")
        key = parts[0]
        if not (key.isascii() and key.isprintable()):
            raise _bad("bad_metadata", "Upload-Metadata keys must be printable ASCII.")
        if key in meta:
            raise _bad("bad_metadata", f"Upload-Metadata has the key {key!r} twice.")
        value = ""
        if len(parts) == 2:
            raw = parts[1]
            try:
                decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
                value = decoded.decode("utf-8")
            except (binascii.Error, ValueError):
                raise _bad(
                    "bad_metadata",
                    f"The Upload-Metadata value of {key!r} is not base64-encoded UTF-8 text.",
                ) from None
        total += len(key) + len(value)
        if total > MAX_METADATA_BYTES:
            raise _bad("bad_metadata", "Upload-Metadata is too large.")
        meta[key] = value
    return meta


def encode_metadata(meta: dict[str, Any]) -> str:
    """The ``Upload-Metadata`` header for stored metadata (the inverse of parse_metadata)."""
    out = []
    for key, value in meta.items():
        text = str(value)
        out.append(f"{key} {base64.b64encode(text.encode()).decode('ascii')}" if text else key)
    return ",".join(out)


def _require_file_meta(meta: dict[str, str]) -> dict[str, str]:
    if not meta.get("filename"):
        raise _bad(
            "missing_metadata",
            "Upload-Metadata must include 'filename' (the name of the file being uploaded).",
        )
    digest = meta.get("sha256", "")
    if not _SHA256_RE.fullmatch(digest):
        raise _bad(
            "missing_metadata",
            "Upload-Metadata must include 'sha256': the SHA-256 of the whole file as 64 hex "
            "digits.",
        )
    return {**meta, "sha256": digest.lower()}


# --- checksums -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checksum:
    algorithm: str
    digest: bytes


def _parse_checksum(raw: str | None) -> _Checksum | None:
    if raw is None:
        return None
    parts = raw.split()
    if len(parts) != 2:
        raise _bad("bad_checksum", "Upload-Checksum is '<algorithm> <base64 digest>'.")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _bad(
            "checksum_unsupported",
            f"The checksum algorithm {parts[0]!r} is not supported; use "
            f"{', '.join(CHECKSUM_ALGORITHMS)}.",
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise _bad("bad_checksum", "The Upload-Checksum digest is not valid base64.") from None
    if len(digest) != hashlib.new(algorithm, usedforsecurity=False).digest_size:
        raise _bad("bad_checksum", f"The Upload-Checksum digest is not a {algorithm} digest.")
    return _Checksum(algorithm, digest)


# --- database (run on worker threads) ------------------------------------------------------


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _upload_path(hub: Hub, upload_id: str) -> Path:
    return hub.settings.uploads_dir / upload_id


def _lease_free(now: dt.datetime) -> Any:
    return or_(
        Upload.lock_owner == "", Upload.lock_expires_at.is_(None), Upload.lock_expires_at < now
    )


def _check_owned(up: Upload | None, member_id: int) -> Upload:
    """``up`` if the member may use it; else 404 / 403 / 410."""
    if up is None:
        raise ApiError(404, "not_found", "There is no such upload.")
    if up.member_id != member_id:
        raise ApiError(403, "not_your_upload", "This upload belongs to another member.")
    if up.state == "terminated":
        raise ApiError(410, "upload_terminated", "This upload was cancelled; start a new one.")
    if up.state == "expired" or (up.state == "receiving" and up.expires_at <= utcnow()):
        raise ApiError(410, "upload_expired", "This upload expired unfinished; start a new one.")
    return up


def _db_get(conn: Connection, upload_id: str) -> Upload | None:
    """A detached copy of the upload's row (Core: cheaper than the ORM on the hot path)."""
    if not _ID_RE.fullmatch(upload_id):
        return None
    row = conn.execute(select(Upload.__table__).where(Upload.id == upload_id)).one_or_none()
    return None if row is None else Upload(**row._asdict())


def _db_owned(hub: Hub, upload_id: str, member_id: int) -> Upload:
    """The upload (detached), or 404 / 403 / 410."""
    with hub.db.engine.connect() as conn:
        return _check_owned(_db_get(conn, upload_id), member_id)


def _db_begin(
    hub: Hub, upload_id: str, member_id: int, owner: str, *, lease: bool
) -> tuple[Upload, bool]:
    """Under the in-process lock: take the database lease (if asked and free), load the upload
    and reconcile its offset with the file. Returns the upload and whether we hold the lease
    (False: another process's writer holds it, or the upload no longer receives bytes)."""
    now = utcnow()
    with hub.db.engine.begin() as conn:
        leased = False
        if lease:
            taken = conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.state == "receiving", _lease_free(now))
                .values(lock_owner=owner, lock_expires_at=now + dt.timedelta(seconds=LEASE_S))
            )
            leased = taken.rowcount == 1
        up = _check_owned(_db_get(conn, upload_id), member_id)
        if up.state == "receiving" and up.concat != "final":
            up.offset = _reconcile(conn, hub, up, cut_tail=leased)
    return up, leased


def _reconcile(conn: Connection, hub: Hub, up: Upload, *, cut_tail: bool) -> int:
    """The offset to trust: the file's size when it is shorter than the stored offset (a
    crash lost bytes), stored back. With ``cut_tail`` (we hold the lease), bytes beyond the
    stored offset are cut off so that a new chunk never leaves stale bytes after it."""
    path = _upload_path(hub, up.id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    if size < up.offset:
        log.warning(
            "upload %s: %d bytes on disk, offset was %d; trusting the file", up.id, size, up.offset
        )
        conn.execute(
            update(Upload)
            .where(Upload.id == up.id, Upload.offset == up.offset, Upload.state == "receiving")
            .values(offset=size, updated_at=utcnow())
        )
        return size
    if cut_tail and size > up.offset:
        os.truncate(path, up.offset)
    return up.offset


def _db_renew_lease(hub: Hub, upload_id: str, owner: str) -> bool:
    now = utcnow()
    with hub.db.engine.begin() as conn:
        renewed = conn.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.lock_owner == owner, Upload.state == "receiving")
            .values(lock_expires_at=now + dt.timedelta(seconds=LEASE_S))
        )
        return renewed.rowcount == 1


def _db_drop_lease(hub: Hub, upload_id: str, owner: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.lock_owner == owner)
            .values(lock_owner="", lock_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def _db_store(
    hub: Hub,
    upload_id: str,
    owner: str,
    offset: int,
    length: int | None,
    complete: bool,
    expires: dt.datetime,
) -> bool:
    """Store a writer's result and drop its lease, if the lease is still ours (else store
    nothing and return False)."""
    with hub.db.engine.begin() as conn:
        stored = conn.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.lock_owner == owner, Upload.state == "receiving")
            .values(
                offset=offset,
                length=length,
                updated_at=utcnow(),
                expires_at=expires,
                lock_owner="",
                lock_expires_at=None,
                state="processing" if complete else "receiving",
            )
        )
        return stored.rowcount == 1


def _db_create(hub: Hub, up: Upload) -> None:
    with hub.db.session() as s:
        s.add(up)
    path = _upload_path(hub, up.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | _O_BINARY, 0o600)
    os.close(fd)


def _db_create_final(
    hub: Hub, member_id: int, final_id: str, part_ids: list[str], meta: dict[str, str]
) -> Upload:
    """Check the parts, claim them (state ``processing``) and add the final upload."""
    if not part_ids:
        raise _bad("bad_concat", "A final upload needs at least one partial upload.")
    if len(set(part_ids)) != len(part_ids):
        raise _bad("bad_concat", "A partial upload is listed twice in Upload-Concat.")
    now = utcnow()
    expiry = now + dt.timedelta(seconds=hub.settings.upload_expiry_s)
    with hub.db.session() as s:
        rows = s.execute(select(Upload).where(Upload.id.in_(part_ids))).scalars().all()
        found = {row.id: row for row in rows}
        total = 0
        for pid in part_ids:
            part = found.get(pid)
            if part is None or part.member_id != member_id:
                raise _bad("bad_concat", f"The partial upload {pid} is not one of your uploads.")
            if part.concat != "partial":
                raise _bad("bad_concat", f"The upload {pid} is not a partial upload.")
            if part.state != "receiving" or part.expires_at <= now:
                raise _bad(
                    "bad_concat", f"The partial upload {pid} is no longer available ({part.state})."
                )
            if part.length is None or part.offset != part.length:
                raise _bad(
                    "bad_concat",
                    f"The partial upload {pid} is not complete "
                    f"({part.offset} of {part.length if part.length is not None else '?'} bytes); "
                    "this hub concatenates complete partial uploads only.",
                )
            total += part.length
        if total > hub.settings.max_upload_size:
            raise _too_large(hub.settings.max_upload_size)
        claimed = s.execute(
            update(Upload)
            .where(
                Upload.id.in_(part_ids),
                Upload.member_id == member_id,
                Upload.concat == "partial",
                Upload.state == "receiving",
                Upload.offset == Upload.length,
            )
            .values(state="processing", updated_at=now, expires_at=expiry)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) != len(part_ids):
            raise _bad("bad_concat", "The partial uploads changed meanwhile; try again.")
        final = Upload(
            id=final_id,
            member_id=member_id,
            length=total,
            offset=0,
            meta=meta,
            concat="final",
            parts={"ids": part_ids},
            state="receiving",
            error="",
            created_at=now,
            updated_at=now,
            expires_at=expiry,
            lock_owner="",
        )
        s.add(final)
        s.flush()
        s.expunge(final)
    return final


# --- completion ----------------------------------------------------------------------------


def _mark_failed(hub: Hub, upload_id: str, from_state: str, error: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.state == from_state)
            .values(state="failed", error=error, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _run_complete(hub: Hub, upload_id: str) -> None:
    try:
        hub.on_upload_complete(upload_id)
    except Exception as e:
        log.exception("processing upload %s failed", upload_id)
        with contextlib.suppress(Exception):
            _mark_failed(hub, upload_id, "processing", f"Processing failed: {e}")


def _start_complete(hub: Hub, upload_id: str) -> None:
    threading.Thread(
        target=_run_complete, args=(hub, upload_id), name=f"upload-done:{upload_id}", daemon=True
    ).start()


def _assemble_final(hub: Hub, final_id: str, part_ids: list[str]) -> None:
    """Concatenate the parts into the final upload's file (streamed), then hand it over."""
    try:
        with hub.db.session() as s:
            rows = s.execute(select(Upload.id, Upload.length).where(Upload.id.in_(part_ids)))
            lengths: dict[str, int | None] = {row.id: row.length for row in rows}
        total = 0
        dest = _upload_path(hub, final_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            for pid in part_ids:
                remaining = lengths.get(pid) or 0
                with open(_upload_path(hub, pid), "rb") as src:
                    while remaining > 0:
                        block = src.read(min(WRITE_BUFFER, remaining))
                        if not block:
                            raise OSError(f"the bytes of part {pid} are missing")
                        out.write(block)
                        remaining -= len(block)
                        total += len(block)
            out.flush()
            os.fsync(out.fileno())
        now = utcnow()
        with hub.db.session() as s:
            done = s.execute(
                update(Upload)
                .where(Upload.id == final_id, Upload.state == "receiving")
                .values(offset=total, state="processing", updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(done) != 1:  # terminated meanwhile: give the parts back
                s.execute(
                    update(Upload)
                    .where(Upload.id.in_(part_ids), Upload.state == "processing")
                    .values(state="receiving", updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                with contextlib.suppress(OSError):
                    dest.unlink()
                return
            s.execute(
                update(Upload)
                .where(Upload.id.in_(part_ids), Upload.state == "processing")
                .values(state="terminated", updated_at=now)
                .execution_options(synchronize_session=False)
            )
    except Exception as e:
        log.exception("assembling upload %s failed", final_id)
        with contextlib.suppress(Exception):
            _mark_failed(
                hub, final_id, "receiving", f"Could not assemble the upload from its parts: {e}"
            )
            with hub.db.session() as s:
                s.execute(
                    update(Upload)
                    .where(Upload.id.in_(part_ids), Upload.state == "processing")
                    .values(state="receiving", updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
        return
    for pid in part_ids:
        with contextlib.suppress(OSError):
            _upload_path(hub, pid).unlink()
    _run_complete(hub, final_id)


# --- expiry --------------------------------------------------------------------------------


def expire_uploads(hub: Hub, now: dt.datetime | None = None) -> int:
    """Expire unfinished uploads past ``expires_at``: delete their bytes, set state
    ``expired``. Also deletes bytes left behind by terminated uploads. Uploads whose writer
    holds a live lease are left alone. Returns how many uploads expired."""
    now = now or utcnow()
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    unfinished = or_(
        Upload.state == "receiving",
        # parts claimed by a final upload whose assembly never finished (a crash)
        and_(Upload.state == "processing", Upload.concat == "partial"),
    )
    with hub.db.session() as s:
        due = list(
            s.execute(select(Upload.id).where(unfinished, Upload.expires_at < now)).scalars()
        )
        terminated = list(
            s.execute(select(Upload.id).where(Upload.state == "terminated")).scalars()
        )
    count = 0
    for upload_id in due:
        with hub.db.session() as s:
            expired = s.execute(
                update(Upload)
                .where(
                    Upload.id == upload_id, unfinished, Upload.expires_at < now, _lease_free(now)
                )
                .values(state="expired", lock_owner="", lock_expires_at=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(expired) != 1:
                continue
        count += 1
        with contextlib.suppress(OSError):
            _upload_path(hub, upload_id).unlink(missing_ok=True)
    for upload_id in terminated:
        with contextlib.suppress(OSError):
            _upload_path(hub, upload_id).unlink(missing_ok=True)
    if count:
        log.info("expired %d unfinished uploads", count)
    return count


# --- the per-upload lock -------------------------------------------------------------------


class _UploadLock:
    """Who writes to (or reads the offset of) one upload in this process; see the module doc."""

    def __init__(self) -> None:
        self.holder: str | None = None
        self.release_requested = False
        #: the holder's pending body read, cancelled to make a stalled holder stop
        self.reader: asyncio.Future[Message] | None = None
        self.freed = asyncio.Event()
        self.waiting = 0

    def ask_release(self) -> None:
        self.release_requested = True
        if self.reader is not None and not self.reader.done():
            self.reader.cancel()


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _UploadLock]] = (
    weakref.WeakKeyDictionary()
)


def _lock_table() -> dict[str, _UploadLock]:
    loop = asyncio.get_running_loop()
    table = _LOCKS.get(loop)
    if table is None:
        table = _LOCKS[loop] = {}
    return table


async def _acquire(upload_id: str, owner: str, wait: float) -> _UploadLock:
    table = _lock_table()
    lock = table.get(upload_id)
    if lock is None:
        lock = table[upload_id] = _UploadLock()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    lock.waiting += 1
    try:
        while lock.holder is not None:
            lock.ask_release()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _locked()
            try:
                await asyncio.wait_for(lock.freed.wait(), remaining)
            except TimeoutError:
                raise _locked() from None
        lock.holder = owner
        lock.release_requested = False
        return lock
    finally:
        lock.waiting -= 1
        if lock.holder is None and lock.waiting == 0 and table.get(upload_id) is lock:
            del table[upload_id]


def _release(upload_id: str, lock: _UploadLock, owner: str) -> None:
    if lock.holder != owner:
        return
    lock.holder = None
    lock.release_requested = False
    freed, lock.freed = lock.freed, asyncio.Event()
    freed.set()
    table = _lock_table()
    if lock.waiting == 0 and table.get(upload_id) is lock:
        del table[upload_id]


@dataclass
class _Hold:
    """This request's hold on an upload: the in-process lock, and maybe the database lease."""

    hub: Hub
    upload_id: str
    owner: str
    lock: _UploadLock
    deadline: float
    leased: bool = False
    renew_at: float = 0.0

    async def begin(self, member_id: int, *, lease: bool) -> Upload:
        """Load the upload (reconciled with its file); with ``lease``, wait for the database
        lease until the deadline (423 after it) unless the upload no longer receives bytes."""
        loop = asyncio.get_running_loop()
        while True:
            up, leased = await run_in_threadpool(
                _db_begin, self.hub, self.upload_id, member_id, self.owner, lease=lease
            )
            if leased:
                self.leased = True
                self.renew_at = time.monotonic() + LEASE_RENEW_S
            if leased or not lease or up.state != "receiving" or up.concat == "final":
                return up
            if loop.time() >= self.deadline:
                raise _locked()
            await asyncio.sleep(0.1)

    async def keep_lease(self) -> bool:
        """Renew the lease when due; False when it was lost (stop writing)."""
        if not self.leased:
            return False
        if time.monotonic() < self.renew_at:
            return True
        if await run_in_threadpool(_db_renew_lease, self.hub, self.upload_id, self.owner):
            self.renew_at = time.monotonic() + LEASE_RENEW_S
            return True
        self.leased = False
        return False


@asynccontextmanager
async def _hold(hub: Hub, upload_id: str) -> AsyncIterator[_Hold]:
    """Hold the upload's in-process lock (asking a holder to let go; 423 after LOCK_WAIT_S);
    on exit, drop the database lease if ``begin`` took it and it was not stored yet."""
    owner = secrets.token_hex(16)
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_S
    lock = await _acquire(upload_id, owner, LOCK_WAIT_S)
    hold = _Hold(hub, upload_id, owner, lock, deadline)
    try:
        yield hold
    finally:
        try:
            if hold.leased:
                with contextlib.suppress(Exception):
                    await run_in_threadpool(_db_drop_lease, hub, upload_id, owner)
        finally:
            _release(upload_id, lock, owner)


# --- receiving a body ----------------------------------------------------------------------

_Outcome = Literal[
    "complete", "disconnected", "released", "too_much", "lease_lost", "write_failed", "bad_checksum"
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
        self.hasher = hashlib.new(algorithm, usedforsecurity=False) if algorithm else None

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
        return await reader
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
        except OSError:
            log.exception("writing upload %s failed", hold.upload_id)
            while pending:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(pending.pop(0))
            outcome = "write_failed"
            try:
                await loop.run_in_executor(_IO, _fdatasync, writer.fd)
            except OSError:
                return _Received(start, start, outcome)
        if checksum is not None:
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
    limit = hub.settings.max_chunk_size
    if length is not None:
        limit = min(limit, length - start)
    got = await _receive_body(request, hold, _upload_path(hub, up.id), start, limit, checksum)
    if got.outcome == "lease_lost":
        return got, None, False
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
        return ApiError(
            413,
            "beyond_upload_length",
            "The chunk goes beyond the upload's length or the largest chunk accepted.",
            headers,
        )
    if got.outcome == "write_failed":
        return ApiError(
            500, "write_failed", "The hub could not store the chunk; try again later.", headers
        )
    return None


# --- handlers ------------------------------------------------------------------------------


def _upload_url(request: Request, upload_id: str) -> str:
    return str(request.url_for("tus_upload", upload_id=upload_id))


def _options_response(hub: Hub) -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Max-Size": str(hub.settings.max_upload_size),
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


def _parse_concat(raw: str | None) -> tuple[str, list[str]]:
    if raw is None:
        return "", []
    raw = raw.strip()
    if raw.lower() == "partial":
        return "partial", []
    kind, sep, rest = raw.partition(";")
    if kind.strip().lower() != "final" or not sep:
        raise _bad("bad_concat", "Upload-Concat is 'partial' or 'final;<url> <url> ...'.")
    ids = []
    for ref in rest.split():
        segment = urlsplit(ref).path.rstrip("/").rsplit("/", 1)[-1]
        if not _ID_RE.fullmatch(segment):
            raise _bad("bad_concat", f"{ref!r} is not the address of an upload.")
        ids.append(segment)
    return "final", ids


async def _create(request: Request, hub: Hub, member: Member) -> Response:
    settings = hub.settings
    kind, part_ids = _parse_concat(request.headers.get("upload-concat"))
    length = _header_int(request, "upload-length")
    defer = request.headers.get("upload-defer-length")
    if defer is not None and defer.strip() != "1":
        raise _bad("bad_header", "Upload-Defer-Length can only be 1.")
    if kind == "final":
        if length is not None or defer is not None:
            raise _bad(
                "bad_header",
                "A final upload's length is the sum of its parts: send no Upload-Length.",
            )
    elif length is None and defer is None:
        raise _bad("bad_header", "Send Upload-Length, or Upload-Defer-Length: 1.")
    elif length is not None and defer is not None:
        raise _bad("bad_header", "Send either Upload-Length or Upload-Defer-Length, not both.")
    if length is not None and length > settings.max_upload_size:
        raise _too_large(settings.max_upload_size)
    meta = parse_metadata(request.headers.get("upload-metadata", ""))
    if kind != "partial":
        meta = _require_file_meta(meta)
    upload_id = secrets.token_urlsafe(24)

    if kind == "final":
        final = await run_in_threadpool(_db_create_final, hub, member.id, upload_id, part_ids, meta)
        threading.Thread(
            target=_assemble_final,
            args=(hub, upload_id, part_ids),
            name=f"upload-concat:{upload_id}",
            daemon=True,
        ).start()
        return Response(
            status_code=201,
            headers={
                "Location": _upload_url(request, upload_id),
                "Upload-Expires": http_date(final.expires_at),
            },
        )

    # creation-with-upload: a body of the offset stream type holds the first bytes
    content_length = _header_int(request, "content-length")
    has_body = _is_offset_stream(request) and (
        (content_length or 0) > 0 or "chunked" in request.headers.get("transfer-encoding", "")
    )
    checksum = None
    if has_body:
        checksum = _parse_checksum(request.headers.get("upload-checksum"))
        if content_length is not None and content_length > settings.max_chunk_size:
            raise _chunk_too_large(settings.max_chunk_size)
        if length is not None and content_length is not None and content_length > length:
            raise ApiError(413, "beyond_upload_length", "The body is longer than Upload-Length.")
    now = utcnow()
    complete_now = length == 0 and kind == ""
    up = Upload(
        id=upload_id,
        member_id=member.id,
        length=length,
        offset=0,
        meta=meta,
        concat=kind,
        parts={},
        state="processing" if complete_now else "receiving",
        error="",
        created_at=now,
        updated_at=now,
        expires_at=now + dt.timedelta(seconds=settings.upload_expiry_s),
        lock_owner="",
    )
    await run_in_threadpool(_db_create, hub, up)
    headers = {"Location": _upload_url(request, upload_id)}
    if not complete_now:
        headers["Upload-Expires"] = http_date(up.expires_at)
    if complete_now:
        _start_complete(hub, upload_id)
    elif has_body:
        async with _hold(hub, upload_id) as hold:
            up = await hold.begin(member.id, lease=True)
            got, expires, complete = await _write_and_store(
                request, hub, hold, up, length, checksum
            )
        if complete:
            _start_complete(hub, upload_id)
        # The upload exists whatever happened to its first bytes: answer 201 with the offset
        # reached, and the client goes on from there with PATCH.
        headers["Upload-Offset"] = str(got.end)
        if expires is not None:
            headers["Upload-Expires"] = http_date(expires)
    return Response(status_code=201, headers=headers)


def _chunk_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "chunk_too_large",
        f"A chunk may be at most {limit} bytes ({_size_text(limit)}); send smaller chunks.",
    )


def _upload_headers(request: Request, up: Upload) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(up.offset),
        "Cache-Control": "no-store",
        "Alu-Upload-State": up.state,
    }
    if up.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(up.length)
    if up.meta:
        headers["Upload-Metadata"] = encode_metadata(up.meta)
    if up.state == "receiving":
        headers["Upload-Expires"] = http_date(up.expires_at)
    if up.concat == "partial":
        headers["Upload-Concat"] = "partial"
    elif up.concat == "final":
        ids = [str(pid) for pid in (up.parts or {}).get("ids", [])]
        paths = " ".join(request.url_for("tus_upload", upload_id=pid).path for pid in ids)
        headers["Upload-Concat"] = f"final;{paths}"
    if up.item_id:
        headers["Alu-Item-Id"] = _ascii_header(up.item_id)
    if up.error:
        headers["Alu-Error"] = _ascii_header(up.error)
    return headers


async def _head(request: Request, hub: Hub, member: Member, upload_id: str) -> Response:
    up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    if up.state == "receiving" and up.concat != "final":
        # Taking the lock makes a writer whose client went away save and let go first.
        async with _hold(hub, upload_id) as hold:
            up = await hold.begin(member.id, lease=False)
    return Response(status_code=200, headers=_upload_headers(request, up))


async def _patch(request: Request, hub: Hub, member: Member, upload_id: str) -> Response:
    settings = hub.settings
    if not _is_offset_stream(request):
        raise ApiError(
            415, "bad_content_type", f"A PATCH body must have Content-Type: {OFFSET_STREAM}."
        )
    client_offset = _header_int(request, "upload-offset")
    if client_offset is None:
        raise _bad("bad_header", "A PATCH needs Upload-Offset.")
    content_length = _header_int(request, "content-length")
    if content_length is not None and content_length > settings.max_chunk_size:
        raise _chunk_too_large(settings.max_chunk_size)
    checksum = _parse_checksum(request.headers.get("upload-checksum"))
    declared = _header_int(request, "upload-length")

    up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    if up.concat == "final":
        raise ApiError(403, "final_upload", "A final upload is made from its parts: no PATCH.")
    if up.state != "receiving":
        return _patch_finished(up, client_offset, content_length)

    async with _hold(hub, upload_id) as hold:
        up = await hold.begin(member.id, lease=True)
        if not hold.leased:  # no longer receiving bytes
            return _patch_finished(up, client_offset, content_length)
        offset = up.offset
        if client_offset != offset:
            raise _offset_mismatch(offset)
        length = up.length
        if declared is not None:
            if length is None:
                if declared < offset:
                    raise _bad("bad_length", "Upload-Length is less than the bytes already sent.")
                if declared > settings.max_upload_size:
                    raise _too_large(settings.max_upload_size)
                length = declared
            elif declared != length:
                raise _bad("bad_length", "Upload-Length cannot change once it is known.")
        if length is not None and content_length is not None and offset + content_length > length:
            raise ApiError(
                413,
                "beyond_upload_length",
                f"The chunk goes beyond the upload's length ({length} bytes).",
                {"Upload-Offset": str(offset)},
            )
        got, expires, complete = await _write_and_store(request, hub, hold, up, length, checksum)
    if complete:
        _start_complete(hub, upload_id)
    problem = _body_problem(got, expires)
    if problem is not None:
        raise problem
    return Response(status_code=204, headers=_store_headers(got.end, expires))


def _patch_finished(up: Upload, client_offset: int, content_length: int | None) -> Response:
    """PATCH on an upload that has all its bytes: nothing more can be written."""
    if client_offset != up.offset:
        raise _offset_mismatch(up.offset)
    if content_length:
        raise ApiError(413, "beyond_upload_length", "This upload already has all its bytes.")
    return Response(status_code=204, headers={"Upload-Offset": str(up.offset)})


def _offset_mismatch(offset: int) -> ApiError:
    return ApiError(
        409,
        "offset_mismatch",
        f"Upload-Offset does not match the hub's offset ({offset}); resume from there.",
        {"Upload-Offset": str(offset)},
    )


async def _delete(hub: Hub, member: Member, upload_id: str) -> Response:
    up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    if up.state not in ("receiving", "failed"):
        raise ApiError(
            409,
            "upload_finished",
            "This upload already has all its bytes and is being processed; it can no longer be "
            "cancelled.",
        )
    async with _hold(hub, upload_id):  # a writer here stops first
        done = await run_in_threadpool(_db_terminate, hub, upload_id)
    if not done:
        raise ApiError(
            409, "upload_finished", "This upload changed meanwhile; it was not cancelled."
        )
    return Response(status_code=204)


def _db_terminate(hub: Hub, upload_id: str) -> bool:
    with hub.db.session() as s:
        done = s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.state.in_(("receiving", "failed")))
            .values(state="terminated", lock_owner="", lock_expires_at=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if _rowcount(done) != 1:
            return False
    with contextlib.suppress(OSError):  # left for expire_uploads if it cannot go now
        _upload_path(hub, upload_id).unlink(missing_ok=True)
    return True


def _status(up: Upload) -> JSONResponse:
    return JSONResponse(
        {
            "id": up.id,
            "state": up.state,
            "offset": up.offset,
            "length": up.length,
            "item_id": up.item_id,
            "error": up.error,
            "expires_at": up.expires_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


def _not_allowed(method: str) -> ApiError:
    return ApiError(405, "method_not_allowed", f"{method} is not allowed here.")


async def upload_collection(request: Request, hub: HubDep, member: MemberDep) -> Response:
    """``/api/v1/uploads/``: OPTIONS (capabilities) and POST (creation)."""
    method = _effective_method(request)
    if method == "OPTIONS":
        return _options_response(hub)
    if method == "POST":
        return await _create(request, hub, member)
    raise _not_allowed(method)


async def upload_resource(
    request: Request, upload_id: str, hub: HubDep, member: MemberDep
) -> Response:
    """``/api/v1/uploads/{id}``: HEAD, PATCH, DELETE, GET (JSON status) and OPTIONS."""
    method = _effective_method(request)
    if method == "HEAD":
        return await _head(request, hub, member, upload_id)
    if method == "PATCH":
        return await _patch(request, hub, member, upload_id)
    if method == "DELETE":
        return await _delete(hub, member, upload_id)
    if method == "GET":
        return _status(await run_in_threadpool(_db_owned, hub, upload_id, member.id))
    if method == "OPTIONS":
        return _options_response(hub)
    raise _not_allowed(method)


#: OPTIONS by the tus spec; GET is no tus request but our JSON status, read by plain clients.
_NO_TUS_VERSION_NEEDED = frozenset({"OPTIONS", "GET"})


class _TusRoute(APIRoute):
    """Adds ``Tus-Resumable`` to every response (errors too) and answers 412 to a tus request
    (any but OPTIONS and the JSON status GET) without ``Tus-Resumable: 1.0.0``, before
    authentication."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                if (
                    _effective_method(request) not in _NO_TUS_VERSION_NEEDED
                    and request.headers.get("tus-resumable", "").strip() != TUS_VERSION
                ):
                    raise ApiError(
                        412,
                        "tus_version",
                        f"This hub speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.",
                        {"Tus-Version": TUS_VERSION},
                    )
                response = await handler(request)
            except ApiError as e:
                e.headers = {**e.headers, "Tus-Resumable": TUS_VERSION}
                raise
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


def tus_router() -> APIRouter:
    """The tus endpoint, to mount with ``app.include_router(tus_router())``; the collection
    answers with and without the trailing slash (no redirect: it would lose a POST body)."""
    router = APIRouter(prefix=PREFIX, route_class=_TusRoute, tags=["uploads"])
    for path, in_schema in (("/", True), ("", False)):
        for method in ("POST", "OPTIONS"):
            router.add_api_route(
                path,
                upload_collection,
                methods=[method],
                name=f"tus_collection_{method.lower()}{'' if in_schema else '_bare'}",
                include_in_schema=in_schema,
            )
    for method in ("GET", "HEAD", "PATCH", "DELETE", "OPTIONS", "POST"):
        router.add_api_route(
            "/{upload_id}",
            upload_resource,
            methods=[method],
            name="tus_upload" if method == "GET" else f"tus_upload_{method.lower()}",
            # POST here only carries X-HTTP-Method-Override
            include_in_schema=method != "POST",
        )
    return router


__all__ = [
    "TUS_VERSION",
    "encode_metadata",
    "expire_uploads",
    "http_date",
    "parse_metadata",
    "tus_router",
]
