"""The uploads' state: operations on the Upload table (run on worker threads), the database
lease (and release requests between processes), completion (and assembly of final uploads),
the publishing heartbeat, and expiry. See the package doc."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, and_, or_, select, update
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from ..errors import ApiError
from ..hub import Hub
from ..mediapool import MediaPoolClosed
from ..models import Upload, utcnow
from ..runs import run_of
from .protocol import _ID_RE, _bad, _too_large, http_date

log = logging.getLogger(__name__)

#: Size of each write to the upload file (and of the buffer filled meanwhile).
WRITE_BUFFER = 1024 * 1024
#: The lease in the database: its length, and how often a writer renews it.
LEASE_S = 30.0
LEASE_RENEW_S = 10.0
#: A request in another process that wants the upload appends this to ``lock_owner`` (the
#: lease stays the holder's); the holder, which looks every ``RELEASE_POLL_S``, then stops
#: reading, stores what it wrote and drops the lease (see ``locks._Hold``).
RELEASE_MARK = "!"
RELEASE_POLL_S = 0.5
#: A process publishing a complete upload moves its ``updated_at`` on every this often; an
#: upload in ``processing`` whose ``updated_at`` is older than ``PUBLISH_STALE_S`` has nobody
#: publishing it (the process died) and is published again (``republish_uploads``).
PUBLISH_HEARTBEAT_S = 15.0
PUBLISH_STALE_S = 90.0

_O_BINARY: int = getattr(os, "O_BINARY", 0)


# --- database (run on worker threads) ---------------------------------------------------------


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _upload_path(hub: Hub, upload_id: str) -> Path:
    return hub.settings.uploads_dir / upload_id


def _lease_free(now: dt.datetime) -> Any:
    return or_(
        Upload.lock_owner == "", Upload.lock_expires_at.is_(None), Upload.lock_expires_at < now
    )


def _leased_by(owner: str) -> Any:
    """The lease is ``owner``'s (whether or not another process asked it to let go)."""
    return Upload.lock_owner.in_((owner, owner + RELEASE_MARK))


def _held_elsewhere(up: Upload, now: dt.datetime) -> bool:
    """Another request (here or in another process) holds a live lease on ``up``."""
    return bool(
        up.state == "receiving"
        and up.lock_owner
        and up.lock_expires_at is not None
        and up.lock_expires_at >= now
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
        # the passed Upload-Expires tells a client so also on a HEAD, whose answer has no words
        raise ApiError(
            410,
            "upload_expired",
            "This upload expired unfinished; start a new one.",
            {"Upload-Expires": http_date(up.expires_at)},
        )
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
    (False: another process's writer holds it, or the upload no longer receives bytes). When
    another process's writer holds a live lease, it is asked to let go (``RELEASE_MARK``):
    the caller looks again until the lease is free (see ``locks._Hold.begin``)."""
    now = utcnow()
    with hub.db.engine.begin() as conn:
        leased = lease and _take_lease(conn, upload_id, owner, now)
        up = _check_owned(_db_get(conn, upload_id), member_id)
        if not leased and _held_elsewhere(up, now) and _drop_if_ended(conn, hub, up):
            leased = lease and _take_lease(conn, upload_id, owner, now)
        if not leased and _held_elsewhere(up, now) and not up.lock_owner.endswith(RELEASE_MARK):
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.lock_owner == up.lock_owner)
                .values(lock_owner=up.lock_owner + RELEASE_MARK)
            )
        if up.state == "receiving" and up.concat != "final":
            up.offset = _reconcile(conn, hub, up, cut_tail=leased)
    return up, leased


def _take_lease(conn: Connection, upload_id: str, owner: str, now: dt.datetime) -> bool:
    """Take the upload's lease for ``owner`` if it is free (one conditional UPDATE)."""
    taken = conn.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.state == "receiving", _lease_free(now))
        .values(lock_owner=owner, lock_expires_at=now + dt.timedelta(seconds=LEASE_S))
    )
    return taken.rowcount == 1


def _drop_if_ended(conn: Connection, hub: Hub, up: Upload) -> bool:
    """Drop ``up``'s lease (in the database and on ``up``) if the hub process that took it
    has ended (``runs``: a replica killed mid-PATCH); True when it went."""
    run = run_of(up.lock_owner)
    if run is None or not hub.run.ended(run):
        return False
    dropped = conn.execute(
        update(Upload)
        .where(Upload.id == up.id, Upload.lock_owner == up.lock_owner)
        .values(lock_owner="", lock_expires_at=None)
    )
    if dropped.rowcount != 1:  # changed meanwhile: look again
        return False
    log.info("upload %s: the hub process writing it ended; its lease is let go", up.id[:8])
    up.lock_owner, up.lock_expires_at = "", None
    return True


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
            .where(Upload.id == upload_id, _leased_by(owner), Upload.state == "receiving")
            .values(lock_expires_at=now + dt.timedelta(seconds=LEASE_S))
        )
        return renewed.rowcount == 1


def _db_lease_state(hub: Hub, upload_id: str, owner: str) -> str:
    """``held``, ``asked`` (another process asked us to let go) or ``lost`` (not ours, or the
    upload no longer receives bytes)."""
    with hub.db.engine.connect() as conn:
        row = conn.execute(
            select(Upload.lock_owner, Upload.state).where(Upload.id == upload_id)
        ).one_or_none()
    if row is None or row.state != "receiving":
        return "lost"
    if row.lock_owner == owner:
        return "held"
    return "asked" if row.lock_owner == owner + RELEASE_MARK else "lost"


def drop_leases(hub: Hub) -> int:
    """Start-up with no other process on the data folder (``hub.DataFolderLock``): every lease
    is a dead process's (a hub killed mid-PATCH, then restarted or upgraded), so all go at once;
    else its client's resumed PATCH would wait for it, then get 423, for up to ``LEASE_S``.
    Returns how many went."""
    with hub.db.engine.begin() as conn:
        dropped = conn.execute(
            update(Upload)
            .where(Upload.lock_owner != "")
            .values(lock_owner="", lock_expires_at=None)
        )
        return _rowcount(dropped)


def drop_ended_leases(hub: Hub) -> int:
    """Start-up beside other processes: drop the leases of the hub processes on this data
    folder that ended (``runs``), and forget those runs. Returns how many leases went."""
    count = 0
    for run in hub.run.ended_runs():
        with hub.db.engine.begin() as conn:
            dropped = conn.execute(
                update(Upload)
                .where(Upload.lock_owner.startswith(run + ".", autoescape=True))
                .values(lock_owner="", lock_expires_at=None)
            )
            count += _rowcount(dropped)
    return count


def _db_drop_lease(hub: Hub, upload_id: str, owner: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id, _leased_by(owner))
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
    now = utcnow()
    # the last byte's time: the statistics count a member upload on that day (publish.py)
    arrived = {"received_at": now} if complete else {}
    with hub.db.engine.begin() as conn:
        stored = conn.execute(
            update(Upload)
            .where(Upload.id == upload_id, _leased_by(owner), Upload.state == "receiving")
            .values(
                offset=offset,
                length=length,
                updated_at=now,
                expires_at=expires,
                lock_owner="",
                lock_expires_at=None,
                state="processing" if complete else "receiving",
                **arrived,
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
    hub: Hub,
    member_id: int,
    final_id: str,
    part_ids: list[str],
    meta: dict[str, str],
    meta_header: str = "",
) -> Upload:
    """Check the parts, claim them (each remembers the final upload in ``parts``) and add the
    final upload. Parts may still be receiving (``concatenation-unfinished``): the join
    (``_assemble_final``) takes each one when it is complete, in order."""
    if not part_ids:
        raise _bad("bad_concat", "A final upload needs at least one partial upload.")
    if len(set(part_ids)) != len(part_ids):
        raise _bad("bad_concat", "A partial upload is listed twice in Upload-Concat.")
    now = utcnow()
    expiry = now + dt.timedelta(seconds=hub.settings.upload_expiry_s)
    with hub.db.session() as s:
        query = select(Upload).where(Upload.id.in_(part_ids)).with_for_update()
        found = {row.id: row for row in s.execute(query).scalars().all()}
        # a claim holds while its final upload is joining; one left by a final that ended
        # (cancelled, failed, expired: a crash between its end and the give-back) does not
        claimers = {
            str(row.parts["final"])
            for row in found.values()
            if isinstance(row.parts, dict) and row.parts.get("final")
        }
        joining = set(
            s.execute(
                select(Upload.id).where(Upload.id.in_(claimers), Upload.state == "receiving")
            ).scalars()
        )
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
            if (part.parts or {}).get("final") in joining:
                raise _bad(
                    "bad_concat", f"The partial upload {pid} is being joined into another upload."
                )
            if part.length is None:
                raise _bad(
                    "bad_concat",
                    f"The partial upload {pid} has no length yet; declare it (Upload-Length) "
                    "before joining it.",
                )
            total += part.length
        if total > hub.settings.max_upload_size:
            raise _too_large(hub.settings.max_upload_size)
        unclaimed = Upload.parts["final"].as_string().is_(None)
        if claimers - joining:
            unclaimed = or_(unclaimed, Upload.parts["final"].as_string().in_(claimers - joining))
        # conditional on the claim read above: of two final uploads claiming a part at once
        # (SQLite does not lock rows on SELECT ... FOR UPDATE), one changes no row
        claimed = s.execute(
            update(Upload)
            .where(
                Upload.id.in_(part_ids),
                Upload.member_id == member_id,
                Upload.concat == "partial",
                Upload.state == "receiving",
                unclaimed,
            )
            # each part remembers the final upload that took it: a client that lost the
            # answer to its final POST (a crash, a cut link) finds it again by a HEAD of a part
            .values(updated_at=now, expires_at=expiry, parts={"final": final_id})
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
            meta_header=meta_header or None,
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


def _db_terminate(hub: Hub, upload_id: str) -> bool:
    """Cancel an upload (DELETE). A cancelled part goes into no final upload: it forgets the
    one that was waiting for it (which then fails), so a HEAD does not send its client there."""
    with hub.db.session() as s:
        concat = s.execute(select(Upload.concat).where(Upload.id == upload_id)).scalar()
        values: dict[str, Any] = {
            "state": "terminated",
            "lock_owner": "",
            "lock_expires_at": None,
            "updated_at": utcnow(),
        }
        if concat == "partial":
            values["parts"] = {}
        done = s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.state.in_(("receiving", "failed")))
            .values(values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(done) != 1:
            return False
        if concat == "final":  # its parts are free again at once (its join stops on its own)
            parts = s.execute(select(Upload.parts).where(Upload.id == upload_id)).scalar()
            ids = parts.get("ids") if isinstance(parts, dict) else None
            if isinstance(ids, list):
                _release_parts(s, upload_id, [str(i) for i in ids])
    with contextlib.suppress(OSError):  # left for expire_uploads if it cannot go now
        _upload_path(hub, upload_id).unlink(missing_ok=True)
    return True


# --- completion -------------------------------------------------------------------------------


def _mark_failed(hub: Hub, upload_id: str, from_state: str, error: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.state == from_state)
            .values(state="failed", error=error, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _heartbeat(
    hub: Hub,
    upload_id: str,
    stop: threading.Event,
    state: str = "processing",
    part_ids: list[str] | None = None,
) -> None:
    """While ``upload_id`` is being published (or, a final upload in ``receiving``, joined)
    here: move its ``updated_at`` on, so that no other process takes it for abandoned
    (``republish_uploads``). A join waiting for its parts does not expire meanwhile, nor do
    its parts (``part_ids``): a finished one waiting its turn while the client still sends
    another is not abandoned (it expired, and the final upload failed)."""
    while not stop.wait(PUBLISH_HEARTBEAT_S):
        try:
            now = utcnow()
            values: dict[str, Any] = {"updated_at": now}
            if state == "receiving":
                values["expires_at"] = now + dt.timedelta(seconds=hub.settings.upload_expiry_s)
            with hub.db.engine.begin() as conn:
                beat = conn.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.state == state)
                    .values(values)
                )
                if beat.rowcount == 1 and part_ids:
                    conn.execute(
                        update(Upload)
                        .where(
                            Upload.id.in_(part_ids),
                            Upload.concat == "partial",
                            Upload.state.in_(("receiving", "processing")),
                        )
                        .values(expires_at=values["expires_at"])
                    )
            if beat.rowcount != 1:
                return
        except Exception:  # the database may be away for a moment
            log.warning("upload %s: the publishing heartbeat failed", upload_id[:8], exc_info=True)


def _run_complete(hub: Hub, upload_id: str) -> None:
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(hub, upload_id, stop), name=f"upload-beat:{upload_id}", daemon=True
    )
    beat.start()
    try:
        hub.on_upload_complete(upload_id)
    except MediaPoolClosed:  # the hub is stopping: the next start publishes it
        log.info("upload %s: left for the next start (the hub is stopping)", upload_id[:8])
    except Exception as e:
        log.exception("processing upload %s failed", upload_id[:8])
        with contextlib.suppress(Exception):
            _mark_failed(hub, upload_id, "processing", f"Processing failed: {e}")
    finally:
        stop.set()
        beat.join()


def _start_complete(hub: Hub, upload_id: str) -> None:
    threading.Thread(
        target=_run_complete, args=(hub, upload_id), name=f"upload-done:{upload_id}", daemon=True
    ).start()


def _release_parts(s: Session, final_id: str, part_ids: list[str]) -> None:
    """In session ``s``: the parts ``final_id`` still holds are free for another final upload
    (a part given back once may have been claimed again since: that claim stays)."""
    s.execute(
        update(Upload)
        .where(
            Upload.id.in_(part_ids),
            Upload.state.in_(("receiving", "processing")),
            Upload.parts["final"].as_string() == final_id,
        )
        .values(state="receiving", parts={}, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- expiry -----------------------------------------------------------------------------------


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
