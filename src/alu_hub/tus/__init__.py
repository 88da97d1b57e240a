"""tus 1.0.0 resumable uploads at ``/api/v1/uploads`` (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, creation-defer-length, termination, expiration, checksum
(sha1, sha256, md5, crc32: its 4 bytes big-endian, which tus leaves open, so OPTIONS says
``Alu-Tus-Features: crc32-big-endian``), concatenation and concatenation-unfinished (a final upload
may list parts still being uploaded, with known lengths; it joins each part, in order, once it is
complete: see Completion). Every request, OPTIONS included, needs the member's bearer token; a
member sees only its own uploads (403 ``not_your_upload`` otherwise). Besides the tus headers, HEAD
answers ``Alu-Upload-State``, ``Alu-Item-Id`` and ``Alu-Error`` (and, on a partial upload a final
upload took, ``Alu-Final-Upload``: its URL, also with the 410), and ``GET`` on an upload answers its
status as JSON, which is how a client learns the item its upload became (GET is no tus request: it
does not need ``Tus-Resumable``, every other method but OPTIONS gets 412 without it).

Bytes and durability
    The bytes of upload ``<id>`` go to ``settings.uploads_dir / <id>``; the client's ``filename``
    is metadata only and never part of a path. A PATCH streams its body into that file from the
    stored offset in ~1 MiB writes done on a thread (one write in flight while the next buffer
    fills), so memory stays bounded whatever the chunk size: a chunk has no cap but the upload's
    length (``Settings.max_chunk_size``, unset by default; tus clients other than ALU's send the
    whole file in one PATCH and give up on a 413). A body refused for its size before it is read
    (413) is answered with ``Connection: close``, not read to its end. The file is fsynced
    before the new offset is stored, so the stored offset never exceeds durable bytes; when a
    PATCH or HEAD finds the file shorter than the stored offset (a crash), the file wins. Bytes
    beyond the stored offset (an unrecorded tail) are cut off before the next PATCH writes. A
    body cut short (the client went away) keeps what arrived, and the client resumes from
    there; with ``Upload-Checksum`` the partial chunk cannot be verified and is discarded
    instead, as is a chunk whose digest does not match (460). Each PATCH that adds bytes
    pushes the expiry (``Upload-Expires``) forward: only abandoned uploads expire.

Locking (two writers must never interleave)
    In this process: one ``_UploadLock`` per upload id (per event loop), taken by PATCH, HEAD,
    DELETE and a creation-with-upload body. On links with outages the usual holder of a lock is
    a PATCH whose client has already gone away while the socket still looks open, so a
    newcomer does not just queue: once the holder has received nothing for ``IDLE_S`` (2 s;
    at once for a DELETE) it sets the lock's ``release_requested`` flag and cancels the
    holder's pending body read (the flag is also checked between reads). A holder still
    receiving bytes is left alone: a HEAD answers the stored offset at its deadline, a PATCH
    423. The holder then stops
    reading, fsyncs what it wrote, stores that offset and answers 423 ``upload_locked`` (with
    ``Upload-Offset`` and ``Retry-After: 1``) to whoever is still listening. The newcomer
    waits up to ``LOCK_WAIT_S`` (3 s) for the lock, else it answers 423 itself. So of two
    PATCHes racing on one upload, the second gets 423 (or 409, if the first had finished or
    went silent and stopped) and the bytes never interleave; tus clients retry 423 and
    resume from HEAD.
    Between processes: the writer also holds a lease in the upload's row (``lock_owner`` =
    ``<run>.<request>``: its hub process's run, see ``alu_hub.runs``, and a random id per
    request; ``lock_expires_at`` = now + 30 s), taken with one conditional
    UPDATE (free, or expired) and renewed, again conditionally, every 10 s while bytes arrive
    and before any write that follows a stall; the new offset is stored only while the lease
    is still ours, and a writer that lost it stops without writing. A request in another
    process (a replica) that finds the lease held asks its writer to let go by marking the
    lease (``lock_owner`` + ``!``); the writer looks for the mark every 0.5 s and, once idle
    for ``IDLE_S``, lets go as above, so a client whose link died mid-PATCH on one replica
    resumes through another within a few seconds. A HEAD waits for that too (up to
    ``LOCK_WAIT_S``, then answers the stored offset: it only moves after an fsync). A lease
    past its expiry is free; and a lease whose hub process died (killed mid-PATCH) is not
    waited for, else the client resuming right after would wait ``LOCK_WAIT_S``, then get 423
    while its chunk is on the way, for up to 30 s. A request that finds a lease in its way
    drops it at once when its run's lock file (``<data>/runs/<run>``) is held by no process
    (``state._drop_if_ended``), and a hub starting up drops the leases of the runs that ended
    and forgets them (``drop_ended_leases``); starting with no other process on its data folder
    (``hub.DataFolderLock``: a restart, an upgrade) it drops every lease (``drop_leases``):
    they are all a dead process's, those taken by a hub version before runs too. Only a lease
    of a run this folder does not know (another data folder, or Windows, with no OS locks)
    still holds its upload until it runs out, 30 s at most.

Completion
    When a plain or final upload has all its bytes its state becomes ``processing`` (committed)
    and ``hub.on_upload_complete(id)`` runs on a daemon thread, never on the event loop nor
    before the response; meanwhile a heartbeat moves the row's ``updated_at`` on every 15 s, so
    that a replica starting up (or the periodic housekeeping) publishes again only uploads
    nobody is publishing (``republish_uploads``; the commit marks an upload published once).
    A final upload is assembled from its parts on a daemon thread after the 201 (the kernel's
    ``copy_file_range`` where it can, under the same heartbeat, which also keeps the final upload of
    a join that waits for its parts from expiring): each part, in order, as soon as it is complete
    (it becomes ``processing``: no more PATCH or DELETE); then the parts are terminated and their
    files deleted. A part cancelled or expired first fails the final upload ("send the file again");
    a final upload cancelled first gives its parts back at once (another final upload may take
    them). Each part names the final upload that took it (``Alu-Final-Upload``) until it is given
    back; a cancelled or expired part names none. OPTIONS says so (``Alu-Tus-Features:
    final-upload-of-part``): a client whose final POST lost its answer can find the final upload
    again, which the ALU client needs before it joins parts early. A claim left by a final upload
    that ended (a crash between its end and the give-back) does not hold. A join a crash stopped is
    started again from the beginning by ``republish_uploads`` (at start-up, and by the housekeeping
    once its heartbeat is stale).

Termination
    DELETE cancels an upload that is still receiving (or failed): 204, its bytes deleted, then
    410. An upload that has all its bytes (``processing``, ``published``) answers 409
    ``upload_finished`` instead of tus termination's 204, on purpose: it is, or is becoming, a
    published item, which a member does not take back by cancelling its upload (tus-js-client's
    ``terminate()`` after the end rejects its promise; Uppy forgets the upload first).

``expire_uploads(hub)`` expires unfinished uploads past ``expires_at`` (deleting their bytes)
and deletes any bytes left behind by terminated ones; the app calls it at start-up and
periodically.

Modules
    ``protocol`` (constants, headers, metadata, checksums, errors), ``state`` (the Upload table,
    leases, completion, expiry), ``join`` (joining a final upload's parts; taking up again what
    a crash stopped), ``locks`` (in-process locks and a request's hold), ``receive`` (streaming a
    body into the file) and ``routes`` (the handlers and ``tus_router``).
"""

from __future__ import annotations

from .join import republish_uploads
from .protocol import TUS_VERSION, encode_metadata, http_date, parse_metadata
from .routes import tus_router
from .state import drop_ended_leases, drop_leases, expire_uploads

__all__ = [
    "TUS_VERSION",
    "drop_ended_leases",
    "drop_leases",
    "encode_metadata",
    "expire_uploads",
    "http_date",
    "parse_metadata",
    "republish_uploads",
    "tus_router",
]
