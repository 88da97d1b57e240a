"""The upload job: one local file to the hub (or any tus 1.0 server) over a slow, lossy link,
resumed at the server's offset, never corrupted, in bounded memory.

``run(spec, ctx)`` is the job the queue calls on a worker thread; ``poll_outcome`` asks the hub
later what became of a finished upload (it publishes asynchronously).

How it stands on tuspy 1.1.0
    ``_TusUpload`` *is* tuspy's ``Uploader`` (``tusclient.uploader.uploader.Uploader``) with its
    transport replaced: tuspy's state (``url``, ``offset``, ``chunk_size``, ``stop_at``,
    ``metadata``), its flow (``create_url`` → ``set_url``, which stores the URL in the
    ``url_storage`` under the fingerprint key; ``get_offset`` on resume; ``upload`` driving
    ``upload_chunk``) and its URL storage and fingerprint interfaces are kept, and every method
    that touches the network is ours. ``StoreUrlStorage`` is a tuspy ``Storage`` backed by
    ``ctx.checkpoint``; ``Fingerprinter`` is a tuspy ``Fingerprint`` answering ``fingerprint()``.
    The gaps, and how each is closed:

    * A new connection per PATCH (module-level ``requests.patch``): every request goes through
      ``ctx.sessions.get(url, stream)``, one kept-alive connection per destination and stream,
      so a 300 ms link pays TCP (and TLS) set-up once, not per chunk.
    * No timeouts: every request has ``(connect_timeout, stall_timeout)``; and because a socket
      send timeout would only fire after ``connect_timeout`` (urllib3 keeps it while sending a
      body), a watchdog thread cuts a PATCH whose body has not moved for ``stall_timeout``.
    * The whole chunk read into memory (and the default chunk is the whole file): the PATCH
      body is ``_Body``, an iterable with a length that reads the file region in blocks of at
      most 256 KiB and passes each through ``metered(ctx)`` before it goes out, so memory stays
      flat whatever the chunk or file size and progress moves inside a chunk. Having a length,
      it makes requests send ``Content-Length`` (a bare generator would be sent chunked, which
      tus servers refuse). With the checksum extension the chunk's digest needs a read pass of
      its own (the header precedes the body): the next chunk's pass runs on a thread while this
      chunk is sent (``checksums``), with the fastest algorithm on this CPU the server lists
      (crc32 when listed, as by the ALU hub: see ``checksums.fastest_checksum`` on why a CRC
      serves).
    * A fixed 30 s retry, for PATCH only: ``upload`` classifies every answer (see Errors) and
      resumes with a HEAD; when its small in-run budget is spent it raises ``RetryableError``
      (with ``retry_after`` from the server) and the queue backs off between runs; the next run
      resumes from the checkpoint.
    * A colliding fingerprint (size + md5 of the first 64 KiB: two camera files of one size with
      the same container header share it, and one's upload URL would be used for the other):
      ``fingerprint()`` is the absolute path + size + mtime_ns + the caller's sha256 (from the
      metadata, when given) + a sha256 of sampled blocks (see ``storage.fingerprint`` for why
      that is enough; it costs milliseconds, where a whole-file hash took 4.5 s per GiB).
    * Also: creation errors, 404/410 and ``Upload-Expires`` are handled (a new upload from 0),
      a relative ``Location`` is resolved against the endpoint, nothing follows redirects (a
      redirect must not carry the token elsewhere), and URLs never reach logs or messages.

Checkpoint (through ``StoreUrlStorage``; upload URLs are secrets: never logged)
    ``{"fingerprint", "size", "mtime_ns", "url"}`` as soon as the upload exists; with parallel
    parts, ``"parts": {"<start>-<end>": url}`` (the plan is saved before any part is created)
    and, once the final upload exists, ``"url"`` is the final one; ``"complete"`` once the
    server has every byte. A run that finds a checkpoint HEADs for the server's offset.

Errors (in one run)
    A network error, a stall, a 5xx, 429 or 409: HEAD and go on, at most ``QUICK_RESUMES`` times
    in a row without progress (short backoff, or ``Retry-After`` up to ``MAX_WAIT_IN_RUN``; a
    longer one goes to the queue at once), then ``RetryableError`` (``retry_after`` from the
    server). Progress is the server's offset moving on, by a PATCH or as the HEAD after a cut
    one shows (servers keep what arrived), so a link that drops every few MB never ends a run;
    a PATCH answered 204 that kept nothing is a failure without progress (``ctx.advanced`` tells
    the queue, whose back-off starts over after progress). 423: wait ``Retry-After`` (or
    1 s) and retry, ``LOCKED_TRIES`` times. 460: send the chunk again, ``CHECKSUM_TRIES`` times.
    413 on PATCH: halve the chunk (not below ``tuning.min_upload_chunk``). 404/410 on HEAD or
    PATCH, a 403 without ``Upload-Offset`` on HEAD (tus 1.0 allows it for an upload not held),
    or a passed ``Upload-Expires``: a new upload from offset 0 (once per run), noted, and no
    progress (``ctx.lost``: a server that keeps losing it backs off as for failures). An
    OPTIONS answered anything but 2xx or 401 (a gateway's 403 included): plain tus 1.0 core +
    creation. 401/403, a file larger than ``Tus-Max-Size``, a deleted or changed source file
    (checked before each chunk and after the last): ``PermanentError`` in plain words (a
    changed file's upload is DELETEd). An error a proxy
    made itself (``http.proxy_answer``) is named as the proxy's; a 405, or a proxy's 403/501,
    to a PATCH or DELETE switches the job to POST with ``X-HTTP-Method-Override`` (tus allows
    it; some proxies pass GET, HEAD and POST only). After an error answer to a PATCH its
    connection is dropped: the answer may have come before the body was read.

Chunk size
    ``spec.chunk_size`` if given (fixed, but halved on 413), else adaptive from what the link
    carried last (``_JobServices._sizer``; up to ``tuning.upload_chunk_size``) or, with nothing
    known of it, from ``tuning.upload_first_chunk`` (2 MiB): after each full chunk the size
    doubles, stays or halves, whichever is nearest to what the link carries in
    ``TARGET_CHUNK_S`` seconds, within ``[min_upload_chunk, MAX_CHUNK]`` (three steps only, so
    the next chunk's checksum can be computed ahead); a chunk cut short halves it. Chunks of
    several seconds keep the per-request round trip (300 ms) a small share; not much longer,
    so that a cut re-sends little (with checksums the hub drops a cut chunk whole) and chunks
    fit between a flaky link's drops.

Parallel parts
    When the server lists ``concatenation`` and ``spec.parallel`` (default: the tuning's
    ``max_parallel_uploads`` for files of 64 MiB or more when the OPTIONS round trip is at
    least ``tuning.parallel_upload_min_rtt``; one stream on a LAN or loopback, where parts
    gain nothing and cost the server's join; an upload under way keeps its plan) asks for
    more than one stream, the
    file is cut into contiguous ranges, large first and shrinking towards the end to parts of
    a few MiB (``protocol._plan``), each a partial upload (``Upload-Concat: partial``). That
    many streams (threads, each on its own session stream) take the parts from a queue, so
    they finish together: with one fixed part per stream, the slowest ran alone at the end
    for seconds on a lossy link. Then a final upload is POSTed with
    ``Upload-Concat: final;<urls>`` and the metadata. If one part fails the others stop.

    TCP does not share a lossy link evenly between the streams for long: on the benchmarks'
    link (300 ms, 2 % loss, bbr) one connection of four kept a third of its siblings' rate for a
    minute. A stream whose chunk went at less than half the median of its siblings' latest
    chunks is given a new connection at that chunk's end (``_JobServices.starved``; idle then,
    nothing is lost; at most once per 30 s), which starts afresh and takes its share. The link
    was busy 0.955 of the time between the first and last megabyte instead of 0.933–0.939.

    When the server also lists ``concatenation-unfinished`` and names, on a HEAD of a part, the
    final upload that took it (``Alu-Tus-Features: final-upload-of-part``: the ALU hub; without it a
    lost answer could leave two final uploads of the same parts), the connection that creates the
    parts ahead POSTs that final upload as soon as every part exists, and the server joins each part
    as it completes: its copy of the whole file no longer follows the last byte (8 s of a 1 GiB
    upload on the test machine). Its URL is kept (``storage.early_final``; ``""`` while the POST's
    answer is unknown: a part's ``Alu-Final-Upload`` then says where it went), a later run uses it,
    and a part that answers 410 naming that final upload (the join is done) counts as sent — read
    from that 410 itself, never from a second request that could fail and have the whole file sent
    again. Should a part be lost and made again, that final upload can no longer complete: it is
    DELETEd and the parts are joined at the end as without the extension; so they are if the server
    refuses the early POST or failed the join.

Stop
    ``ctx.control.on_stop`` cuts the in-flight connections (socket shutdown; a PATCH's
    connection is learnt when urllib3 asks for the body's iterator, see ``_sending_connection``),
    so a pause or a cancel takes effect mid-chunk at once. A cancel's DELETE of the upload (and
    its parts) is ``terminate``'s, which the queue calls once the transfer is recorded as
    canceled, and which clears the checkpoint. Short requests (OPTIONS, POST, HEAD) are
    bounded by timeouts.

Completion
    After the last byte (or the final POST) one HEAD fills ``state``/``item_id``/``error`` from
    ``Alu-Upload-State``/``Alu-Item-Id``/``Alu-Error`` (a final upload says ``receiving`` until
    the hub has joined its parts); ``poll_outcome`` waits for ``published`` or ``failed``. A run
    on a checkpoint marked complete sends nothing and only asks that HEAD.

Imports
    The job (``job``, and through it tuspy's ``Uploader``, which imports aiohttp) is imported
    by ``run`` and ``terminate``, not here: ``alu fetch`` and the hub verbs read this package's
    constants (``spec``) and would pay ~0.1 s at every start for an upload they never make.
"""

from __future__ import annotations

import dataclasses

from ...http import valid_address
from ..base import PermanentError, TransferContext
from .checksums import fastest_checksum as fastest_checksum
from .protocol import BAD_ENDPOINT as BAD_ENDPOINT
from .protocol import on_network as on_network
from .protocol import poll_outcome as poll_outcome
from .spec import CHECKSUM_PREFERENCE as CHECKSUM_PREFERENCE
from .spec import CHECKSUM_TRIES as CHECKSUM_TRIES
from .spec import EXPIRED_NOTE as EXPIRED_NOTE
from .spec import FILE_CHANGED as FILE_CHANGED
from .spec import KIB as KIB
from .spec import LOCKED_TRIES as LOCKED_TRIES
from .spec import LOST_NOTE as LOST_NOTE
from .spec import LOST_TRACK as LOST_TRACK
from .spec import MAX_BLOCK as MAX_BLOCK
from .spec import MAX_CHUNK as MAX_CHUNK
from .spec import MAX_WAIT_IN_RUN as MAX_WAIT_IN_RUN
from .spec import MIB as MIB
from .spec import MIN_BLOCK as MIN_BLOCK
from .spec import MIN_PART as MIN_PART
from .spec import OFFSET_STREAM as OFFSET_STREAM
from .spec import PARALLEL_THRESHOLD as PARALLEL_THRESHOLD
from .spec import QUICK_RESUMES as QUICK_RESUMES
from .spec import TARGET_CHUNK_S as TARGET_CHUNK_S
from .spec import TUS_VERSION as TUS_VERSION
from .spec import UploadResult as UploadResult
from .spec import UploadSpec as UploadSpec
from .spec import described
from .storage import Fingerprinter as Fingerprinter
from .storage import StoreUrlStorage as StoreUrlStorage
from .storage import fingerprint as fingerprint
from .storage import sample_ranges as sample_ranges

__all__ = [
    "Fingerprinter",
    "StoreUrlStorage",
    "UploadResult",
    "UploadSpec",
    "fastest_checksum",
    "fingerprint",
    "on_network",
    "poll_outcome",
    "run",
    "sample_ranges",
    "terminate",
]


def run(spec: UploadSpec, ctx: TransferContext) -> UploadResult:
    """Upload ``spec.path`` to ``spec.endpoint``, resuming from ``ctx.checkpoint``.

    Returns when the server has every byte (``state`` etc. from one HEAD after that; use
    ``poll_outcome`` for the hub's final word). Raises ``RetryableError`` after a few in-run
    attempts (the queue backs off; the next run resumes), ``PermanentError``, or ``Stopped``
    (the checkpoint keeps the URLs: a cancel's DELETE is ``terminate``'s, which the queue
    calls once the transfer is recorded as canceled, so that a server slow to answer does
    not hold the cancel)."""
    # ``CHECKSUM_PREFERENCE`` is read here, from the package, at every run: patching
    # ``upload.CHECKSUM_PREFERENCE`` (the throughput benchmark does) reaches the job.
    if not valid_address(spec.endpoint):  # (a port that is no port, a backslash in the host)
        raise PermanentError(BAD_ENDPOINT)
    from .job import _Job  # tuspy's uploader and aiohttp: see the note on imports above

    spec = dataclasses.replace(spec, metadata=described(spec))
    job = _Job(spec, ctx, checksum_preference=CHECKSUM_PREFERENCE)
    try:
        return job.run()
    finally:
        job.close()


def terminate(spec: UploadSpec, ctx: TransferContext) -> bool:
    """Cancel an upload (stopped as it ran, or paused, waiting, failed): DELETE every upload
    its checkpoint holds, the final one first, then forget them. Best effort: a server that
    cannot be reached keeps the upload until it expires.
    True when the server said it dropped every one; else the checkpoint keeps the URLs (for
    another try: see ``TransferQueue.clean_up_now``)."""
    from .job import _Job

    job = _Job(spec, ctx, checksum_preference=CHECKSUM_PREFERENCE)
    try:
        return job.terminate()
    finally:
        job.close()
