"""Hot folders: a file dropped in a watched folder is uploaded once it is complete, once.

How a file is taken (one scan thread does all of it; a scan also runs on ``scan_now()``):

- **The scan is the truth.** Every enabled folder is listed every ``scan_interval`` seconds;
  watchdog only wakes the scan early (its events can be missed, on network shares especially).
- **Complete** means: size and modification time unchanged (and the sidecar's too) for the
  folder's ``settle_seconds``, and the file opens for reading (on Windows a file another program
  still has open for writing does not). An empty file is waited for. A file that stays
  unreadable although it no longer changes is reported after a grace period (a minute).
- **Ignored**: hidden files and dotfiles, temporary files (``.part``, ``.tmp``, ``~$…``,
  ``….crdownload``, …), every ``.json`` file (the sidecars), sub-folders (``sent`` among them).
- **Metadata**: the sidecar ``<stem>.json`` (an object with title, slug, dateline, language,
  category, region, country, priority, script, shotlist, restrictions, recorded_at) over the
  folder's defaults over the file name (the title made from the stem). Write the sidecar before
  or with the file: a sidecar that arrives after the file was taken is not used. The sha256 of
  the file is computed here (on the scan thread) and sent with the metadata.
- **Once**: every file taken is a row of ``watch_files`` keyed by (folder, path, size, mtime);
  the same key is never taken twice, and the same content (sha256) already uploaded from any
  hot folder of the profile is recorded as sent with a note, not uploaded (content being
  uploaded is waited for: its upload decides).
- **Errors are reported, not looped**: an invalid sidecar, bad field values or an unreadable
  file give an ``error`` row with a sentence saying what to fix; the file is looked at again
  only when it changes (new size or time: a new row) or its sidecar changes (in this run: any
  change; after a restart: a sidecar modified after the error was recorded), or on ``retry()``.
  A fault that may pass (the store locked by another process, an I/O error on a share) is
  listed too, and the file is tried again after ``RETRY_FIRST`` seconds, twice as long after
  each failure in a row (up to ``RETRY_MAX``); its row says so (``retry``), so that a restart
  tries it again too.
- **A folder's problems** (not there, unreadable, its sent folder not writable, a name that is
  no text, a folder downloads are saved in — not scanned at all) are its ``problem`` in the
  store, one sentence a line, written when they change and cleared when they go: the app's
  Settings and ``alu watch list`` show them.
- **Afterwards**: the queue's outcome hook (``outcome_hook``, registered in
  ``TransferStore.outcome_hooks``) marks the row sent or error in the transaction that ends the
  upload; the next scan moves a sent file and its sidecar to the folder's sent folder (a name
  relative to the hot folder, or an absolute path), under a new name if the name is taken there:
  a file is never overwritten. Before the move the file must still be the one sent (size,
  time, sha256); the row then follows it (its path in the sent folder), watched there for a
  while (``SENT_WATCH``). A file changed after its upload started — a copy that stalled for
  longer than the settle time — makes that row an error that stays (the item on the hub may
  be cut), and is taken again as a new version. In the sent folder only a file that grew and
  still begins with the bytes sent (the transfer's size, hashed alone) is such a copy: it is
  put back in the hot folder (its sidecar with it; a file whose sidecar cannot follow yet
  waits for it — a row of ``watch_sidecar_waits``, for a restart, which Retry on the report
  leaves alone — until it follows or the file is gone); any other change there (an edit, new
  metadata, bytes appended to an MP4/MOV whose boxes ended where the upload did) is left
  alone, said once.

- **Shared folders**: several workstations (each its own data folder) may watch one folder on
  a NAS: a file is taken by one only, which holds its claim in the hidden ``.alu-claims``
  (made just before it is queued, refreshed while it has a row for the file, taken over by
  another when it stayed unchanged for ``claim_stale`` seconds on that one's own clock,
  released when the file goes to the sent folder or is gone); the others leave it alone
  (``HotFolders.elsewhere``), even for a while after its claim went while the file stays
  (deleted by hand: its holder makes it again); the store keeps them as the last scan found
  them (``watch_elsewhere``), for Settings and ``alu watch list`` (``sent_elsewhere``). A
  holder that finds its claim taken over cancels its upload (``cancel_upload``), does not move
  the file, and its row is ``taken_over``: no error, not retried (the file is taken again only
  should the new holder's claim go stale in turn). Claims are refreshed from the hash loop too
  (a long file hashed would hold the scan past the stale time). A file gone while it was
  looked at (another workstation moved it) is no error. See ``claims``.
- **A new version during an upload**: a file written again (other bytes) while its upload
  runs is taken as a new upload once it settles; the first upload then stops ("the file
  changed"), and that report goes, since a newer version of the file was taken.

The package: ``folders`` (``WatchFolder``, ``WatchFile``, the folders of a profile in the
store), ``records`` (the ``watch_files`` rows and what a run remembers), ``scan`` (the scan:
settling, hashing, sidecars and metadata, queueing), ``move`` (sent files to the sent folder,
never over another file), ``claims`` (which workstation takes a file of a shared folder),
``hotfolders`` (``HotFolders``: the scan thread, watchdog, the outcome hook), ``messages``
(every sentence recorded of a file, which the app translates).
``HotFolders`` is one object made of the mixins of these modules.
"""

from __future__ import annotations

import logging

from .claims import SentElsewhere
from .folders import METADATA_FIELDS, TAKEN_OVER, WatchError, WatchFile, WatchFolder, is_ignored
from .hotfolders import HotFolders
from .scan import UNREADABLE_GRACE, EnqueueUpload

log = logging.getLogger(__name__)

__all__ = [
    "METADATA_FIELDS",
    "TAKEN_OVER",
    "UNREADABLE_GRACE",
    "EnqueueUpload",
    "HotFolders",
    "SentElsewhere",
    "WatchError",
    "WatchFile",
    "WatchFolder",
    "is_ignored",
]
