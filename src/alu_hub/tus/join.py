"""Joining a final upload's parts (tus concatenation, also ``concatenation-unfinished``): the
join thread, which waits for each part in order and appends it, and taking up again joins and
publishing that a crash stopped. See the package doc (Completion)."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import DBAPIError

from ..hub import Hub
from ..models import Upload, utcnow
from .state import (
    PUBLISH_STALE_S,
    WRITE_BUFFER,
    _heartbeat,
    _mark_failed,
    _release_parts,
    _rowcount,
    _run_complete,
    _start_complete,
    _upload_path,
)

log = logging.getLogger(__name__)


def republish_uploads(hub: Hub, *, alone: bool) -> list[str]:
    """Publish again the uploads that have all their bytes but nobody publishing them (a crash
    between the last byte and the commit), and join again the final uploads whose join
    stopped (a crash while the parts were being copied), each on its own thread; returns
    their ids.

    With ``alone`` (no other process uses this data folder: ``hub.DataFolderLock``) that is
    every plain or final upload in ``processing`` and every final upload in ``receiving``.
    Otherwise another process may be at work on one right now, so only those whose heartbeat
    stopped (``updated_at`` older than ``PUBLISH_STALE_S``) are taken, each with a conditional
    UPDATE that one process wins. Partial uploads in ``processing`` belong to a final upload
    and are never published."""
    now = utcnow()
    stale = now - dt.timedelta(seconds=PUBLISH_STALE_S)
    publish = and_(Upload.state == "processing", Upload.concat != "partial")
    join = and_(Upload.state == "receiving", Upload.concat == "final")
    if not alone:
        publish = and_(publish, Upload.updated_at < stale)
        join = and_(join, Upload.updated_at < stale)
    taken: list[str] = []
    for pending, again in ((publish, _start_complete), (join, _start_assemble)):
        with hub.db.engine.connect() as conn:
            candidates = list(conn.execute(select(Upload.id).where(pending)).scalars())
        for upload_id in candidates:
            with hub.db.engine.begin() as conn:
                claimed = conn.execute(
                    update(Upload).where(Upload.id == upload_id, pending).values(updated_at=now)
                )
            if claimed.rowcount == 1:
                log.info(
                    "%s upload %s again (nobody was at work on it)",
                    "publishing" if again is _start_complete else "joining",
                    upload_id[:8],
                )
                again(hub, upload_id)
                taken.append(upload_id)
    return taken


def _start_assemble(hub: Hub, final_id: str, part_ids: list[str] | None = None) -> None:
    """Join the parts of final upload ``final_id`` on a daemon thread (``_assemble_final``);
    the parts are read from its row when not given."""
    if part_ids is None:
        with hub.db.session() as s:
            parts = s.execute(select(Upload.parts).where(Upload.id == final_id)).scalar()
        ids = parts.get("ids") if isinstance(parts, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            _mark_failed(hub, final_id, "receiving", "The hub lost the list of parts to join.")
            return
        part_ids = list(ids)
    threading.Thread(
        target=_assemble_final,
        args=(hub, final_id, part_ids),
        name=f"upload-concat:{final_id}",
        daemon=True,
    ).start()


def _copy_part(src: BinaryIO, out: BinaryIO, length: int) -> int:
    """Append the first ``length`` bytes of ``src`` to ``out``; the bytes copied (fewer: the
    part's file is short).

    ``os.copy_file_range`` first: the kernel copies without the bytes passing through the hub
    (XFS and btrfs share the blocks instead, so a join costs no copy at all; NFS 4.2 copies on
    the server). Where the call is missing or refused (another OS, across file systems), a
    loop of reads and writes."""
    done = 0
    copy_range: Callable[[int, int, int], int] | None = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        out.flush()
        try:
            while done < length:
                n = copy_range(src.fileno(), out.fileno(), length - done)
                if n == 0:
                    return done
                done += n
            return done
        except OSError as e:
            if e.errno not in (errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP):
                raise
        # the files' positions moved with what was copied: the loop goes on from there
    while done < length:
        block = src.read(min(WRITE_BUFFER, length - done))
        if not block:
            break
        out.write(block)
        done += len(block)
    return done


def _assemble_final(hub: Hub, final_id: str, part_ids: list[str]) -> None:
    """Concatenate the parts into the final upload's file (streamed), then hand it over.

    The file is written from its start every time, so a join a crash stopped (taken up again
    by ``republish_uploads``) never keeps a half-written one; a heartbeat meanwhile tells other
    processes it is under way."""
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(hub, final_id, stop, "receiving", part_ids),
        name=f"upload-concat-beat:{final_id}",
        daemon=True,
    )
    beat.start()
    try:
        _join_parts(hub, final_id, part_ids)
    finally:
        stop.set()
        beat.join()


class _PartGone(Exception):
    """A part of a final upload went away before it was complete (cancelled, expired)."""


class _FinalGone(Exception):
    """The final upload is no longer waiting for its join (cancelled, expired)."""


#: notified when a partial upload has all its bytes (``receive``), so that a join waiting for
#: it in this process goes on at once; joins also look every ``JOIN_POLL_S`` (other processes)
PART_COMPLETE = threading.Condition()
JOIN_POLL_S = 1.0


def _take_part(hub: Hub, final_id: str, part_id: str) -> int:
    """Wait until ``part_id`` is complete, freeze it (state ``processing``: no more PATCH or
    DELETE) and return its length. A database that is away for a while (a restart) is waited
    for: a join may wait for its parts for hours."""
    ours = Upload.parts["final"].as_string() == final_id
    pause = JOIN_POLL_S
    while True:
        try:
            length = _try_take_part(hub, final_id, part_id, ours)
            pause = JOIN_POLL_S
        except DBAPIError:
            log.warning("upload %s: the database is away; the join waits", final_id[:8])
            pause = min(30.0, pause * 2)
            length = None
        if length is not None:
            return length
        with PART_COMPLETE:
            PART_COMPLETE.wait(pause)


def _try_take_part(hub: Hub, final_id: str, part_id: str, ours: ColumnElement[bool]) -> int | None:
    with hub.db.engine.begin() as conn:
        final_state = conn.execute(
            select(Upload.state).where(Upload.id == final_id)
        ).scalar_one_or_none()
        if final_state != "receiving":
            raise _FinalGone
        row = conn.execute(
            select(Upload.state, Upload.offset, Upload.length, Upload.parts).where(
                Upload.id == part_id
            )
        ).one_or_none()
        if row is None or row.state not in ("receiving", "processing") or row.length is None:
            raise _PartGone(row.state if row is not None else "gone")
        if (row.parts or {}).get("final") != final_id:
            raise _PartGone("given to another upload")
        if row.state == "processing":
            return int(row.length)  # taken by an earlier run of this join
        if row.offset != row.length:
            return None
        took = conn.execute(
            update(Upload)
            .where(
                Upload.id == part_id,
                Upload.state == "receiving",
                Upload.offset == Upload.length,
                ours,
            )
            .values(state="processing", updated_at=utcnow())
        )
        return int(row.length) if took.rowcount == 1 else None


def _give_back(hub: Hub, final_id: str, part_ids: list[str]) -> None:
    """The join into ``final_id`` will not happen: free its parts."""
    with hub.db.session() as s:
        _release_parts(s, final_id, part_ids)


def _fail_join(hub: Hub, final_id: str, part_ids: list[str], error: str, dest: Path) -> None:
    """The final upload fails and gives its parts back, in one transaction; its bytes go."""
    with contextlib.suppress(Exception), hub.db.session() as s:
        failed = s.execute(
            update(Upload)
            .where(Upload.id == final_id, Upload.state == "receiving")
            .values(state="failed", error=error, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if _rowcount(failed) == 1:
            _release_parts(s, final_id, part_ids)
    with contextlib.suppress(OSError):
        dest.unlink(missing_ok=True)


def _join_parts(hub: Hub, final_id: str, part_ids: list[str]) -> None:
    dest = _upload_path(hub, final_id)
    try:
        total = 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            for pid in part_ids:
                length = _take_part(hub, final_id, pid)
                with open(_upload_path(hub, pid), "rb") as src:
                    if _copy_part(src, out, length) != length:
                        raise OSError(f"the bytes of part {pid} are missing")
                total += length
            out.flush()
            os.fsync(out.fileno())
        now = utcnow()
        with hub.db.session() as s:
            done = s.execute(
                update(Upload)
                .where(Upload.id == final_id, Upload.state == "receiving")
                .values(offset=total, state="processing", updated_at=now, received_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(done) != 1:
                raise _FinalGone
            s.execute(
                update(Upload)
                .where(Upload.id.in_(part_ids), Upload.state == "processing")
                .values(state="terminated", updated_at=now)
                .execution_options(synchronize_session=False)
            )
    except _FinalGone:  # cancelled or expired meanwhile: give the parts back
        with contextlib.suppress(Exception):
            _give_back(hub, final_id, part_ids)
            with hub.db.engine.connect() as conn:
                state = conn.execute(
                    select(Upload.state).where(Upload.id == final_id)
                ).scalar_one_or_none()
            # another process may have joined it (this one's heartbeat stalled): its file stays
            if state not in ("processing", "published"):
                dest.unlink(missing_ok=True)
        return
    except _PartGone as e:
        log.info("upload %s: a part went away before the join (%s)", final_id[:8], e)
        _fail_join(
            hub,
            final_id,
            part_ids,
            "A part of the file was cancelled or expired before it was complete; send the "
            "file again.",
            dest,
        )
        return
    except Exception as e:
        log.exception("assembling upload %s failed", final_id[:8])
        _fail_join(
            hub, final_id, part_ids, f"Could not assemble the upload from its parts: {e}", dest
        )
        return
    for pid in part_ids:
        with contextlib.suppress(OSError):
            _upload_path(hub, pid).unlink()
    _run_complete(hub, final_id)
