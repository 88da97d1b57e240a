"""The download job: one rendition URL becomes one verified file, whatever the link does.

``run(spec, ctx)`` streams the file into ``<dest>.part`` and only renames it to ``dest`` once its
size and sha256 are right, so a file at ``dest`` is always whole. Member newsrooms sit behind
300 ms, lossy links that drop, stall and cut connections, so everything is built around resuming:

* **Where we stand is the checkpoint**, never the part file's size:
  ``{"v", "etag", "last_modified", "size", "segments": [[start, end_exclusive, done], ...]}``.
  ``done`` bytes of a segment count only once ``os.pwrite`` returned, and the part file is
  fsynced *after* taking the snapshot and *before* saving it, so a saved checkpoint never claims
  bytes that a crash could lose. Bytes past the checkpoint (single stream) are dropped on resume:
  after a crash they may be garbage, and without a sha256 to check nothing would notice. Saves
  (every ``checkpoint_every`` bytes or ``checkpoint_every_s``) run on a thread of their own
  (``_start_saver``): the streams read on while the disk flushes.
* **Resume only what is the same file.** A resume sends ``Range`` with ``If-Range`` (the strong
  ETag, else Last-Modified). A ``200`` means the file changed or Range is not supported: that body
  is taken as a fresh start (no extra round trip on a 300 ms link) and the result says
  ``restarted``. ``Content-Range`` must start where we asked; anything else is refused before one
  byte is written. ``Accept-Encoding: identity`` is always sent. A server that compresses anyway
  (gzip or deflate) sends the file's coded bytes: those are fetched, resumed (a range of them
  only with a strong ETag, on one stream) and kept in the part file as sent, and decoded into
  the file once whole (``decode.py``): the sha256 and size checked are the file's. Another
  coding is a RetryableError the first time, a PermanentError after.
* **Several streams for large files.** When the server answers a Range probe with ``206`` and a
  strong ETag and the file is at least ``tuning.segment_threshold``, N workers (one
  ``ctx.sessions`` stream each, so one TCP connection each: a loss on one connection slows only
  that one) write their ranges with ``pwrite`` into a part file pre-sized with ``truncate`` (not on
  Windows, whose ``truncate`` writes the zeros: see ``job._set_length``). The
  probe costs no round trip: it asks for the first segment's range (for a file of unknown size,
  a bounded first piece, so a server cannot fill the link with bytes another stream will fetch)
  and worker 0 keeps its body. A large file is cut into pieces of ``tuning.segment_piece``
  (at least one per stream) that the streams take in file order. A worker with nothing left
  takes half of the largest range still being fetched ("work stealing"), down to ranges of
  ``tuning.min_split`` (1 MiB, apart from ``checkpoint_every``), so the tail of a download is
  not left to the slowest connection; a block read past a range's new end is clipped, never
  written. On resume, the missing ranges are split over all streams the same way. A failing
  worker stops alone; the job raises its error once the others are done, and the next run
  fetches only what is missing. A stream the server tells "not now" (``429``/``503``) stops
  too, but leaves the rest of its range to the streams still going: such a server limits
  connections, and the transfer asks for no more streams than it served from then on
  (``"streams"`` in the checkpoint).
* **End game.** Once nothing is left to take or split, a free stream waits for a range that
  another stream is still on, has at most ``tuning.endgame`` bytes left and would need more
  than two round trips (at least 0.25 s) at that stream's speed, and asks for the same bytes
  on its own connection. The writes of a range go one at a time and only extend its written
  front, so whichever answer brings a byte first writes it, the other skips it: a byte is
  written once, counted once (the meter gets written bytes only, ``ctx.throttle`` the others
  read, so a bandwidth limit holds for every byte received; ``bytes_fetched`` counts them
  all), and the checkpoint's ``done`` stays an unbroken prefix. When the range is
  complete the slower answer's socket is shut down; a stream that fails while the other one
  on its range goes on just stops (the other finishes), so a stalled or cut connection at the
  end no longer holds the download.
* **Connections.** Each stream keeps its kept-alive connection from piece to piece (an answer
  read to its end goes back to the pool; its TCP window stays open). While the first answer
  is on its way, the other streams' connections are opened (``_preconnect``), so their first
  requests cost one round trip, not two.
* **Hashing.** A single stream hashes bytes as they land, in order (on resume the existing prefix
  is re-read from disk first). A segmented download hashes its written front on a thread while
  the streams run (``fronthash.py``) and only the rest at the end. The running hash is never
  saved, so a resumed download hashes its part file again from byte 0 (alongside the fetch).
* **Stopping.** Network I/O runs on worker threads and the calling thread only waits. Pause and
  cancel (``ctx.control``) shut down the sockets of the open responses, so a worker blocked in a
  read wakes at once; the caller stops waiting half a second after the stop even if a worker is
  still stuck in a connect, and a generation number keeps such a straggler from ever writing.
* **What is kept.** The part file survives every error except the ones that prove its data
  wrong: a checksum or size mismatch and a server sending more than the file's size. A 401/403
  keeps it (signing in again resumes), and so does a full disk. A checksum mismatch is fetched
  again (damage on the way) until the same wrong digest comes twice: the server holds other
  bytes then, and the download fails for good (``MSG_NOT_THE_FILE``) instead of fetching the
  whole file again at every retry.
* **Secrets.** ``ctx.headers`` (auth) go only to the URL's own origin: redirects are followed by
  hand and the headers are dropped when the scheme, host or port changes. Messages are for
  newsroom staff and never contain URLs; logs use ``redact_url``.

``ctx.progress(done, size)`` gets the absolute position after a resume (the checkpoint's bytes)
and at every fresh start or restart (0); ``ctx.meter`` then gets every block received, from
several threads at once in segmented mode (the queue's meter is thread-safe).
"""

from __future__ import annotations

from ..base import TransferContext
from .job import _Job
from .partfile import _write_at as _write_at
from .partfile import discard_part as discard_part
from .partfile import part_is_ours as part_is_ours
from .protocol import MSG_CHANGED as MSG_CHANGED
from .protocol import MSG_COMPRESSED as MSG_COMPRESSED
from .protocol import MSG_COMPRESSED_AGAIN as MSG_COMPRESSED_AGAIN
from .protocol import MSG_CONNECT_TIMEOUT as MSG_CONNECT_TIMEOUT
from .protocol import MSG_CUT as MSG_CUT
from .protocol import MSG_DAMAGED as MSG_DAMAGED
from .protocol import MSG_DISK_FULL as MSG_DISK_FULL
from .protocol import MSG_GONE as MSG_GONE
from .protocol import MSG_NO_RESUME as MSG_NO_RESUME
from .protocol import MSG_NOT_THE_FILE as MSG_NOT_THE_FILE
from .protocol import MSG_STALLED as MSG_STALLED
from .protocol import MSG_TOO_LONG as MSG_TOO_LONG
from .protocol import MSG_TRUNCATED as MSG_TRUNCATED
from .protocol import MSG_UNREACHABLE as MSG_UNREACHABLE
from .protocol import MSG_WRONG_PART as MSG_WRONG_PART
from .spec import DownloadResult as DownloadResult
from .spec import DownloadSpec as DownloadSpec

__all__ = ["DownloadResult", "DownloadSpec", "discard_part", "part_is_ours", "run"]


def run(spec: DownloadSpec, ctx: TransferContext) -> DownloadResult:
    """Download ``spec.url`` to ``spec.dest``, resuming from ``ctx.checkpoint`` (see module doc).

    Raises ``Stopped`` (pause/cancel), ``RetryableError``, ``DiskFullError`` or
    ``PermanentError``; the checkpoint is saved before any of them leaves.
    """
    # ``_write_at`` is read here, from the package, at every run: patching
    # ``download._write_at`` (the disk-full test does) reaches the job's writes.
    return _Job(spec, ctx, write_at=_write_at).run()
