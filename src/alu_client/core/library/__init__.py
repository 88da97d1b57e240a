"""The local library: every item seen in a hub's feed, every rendition file downloaded from it,
and the search over both. No Qt here: the UI, the CLI and the sync use it the same way.

- ``items``: ``upsert_items`` stores a feed batch once per (profile, id) and keeps the FTS5
  index ``items_fts`` in the same transaction; ``LibraryItem`` is what reads return.
- ``text``: ``normalize`` (casefold, Latin diacritics, Arabic harakat/tatweel/letter forms
  and article), applied alike to indexed text and to queries; ``fts_query`` turns user text
  into a safe MATCH expression.
- ``search``: ``Query`` → ``Page`` (newest first by the hub's seq, keyset cursors, never an
  OFFSET) and a bounded ``count``.
- ``files``: ``record_file`` (inside the transaction that ends a download), the disk check
  (missing/moved files), retention and removal (records kept, files deleted carefully).
- ``library``: ``Library(store, profile)``, the facade over all of it.

Probe data and thumbnails are made by ``core.media.MediaWorker`` on its own thread.
"""

from .files import (
    DAMAGED,
    INTACT,
    CheckReport,
    LibraryError,
    LibraryFile,
    MissingFile,
    RetentionReport,
    VerifyStopped,
    record_file,
)
from .items import LibraryItem, rebuild_fts, update_items, upsert_items
from .library import Library
from .search import MatchCount, Page, Query
from .text import fts_query, normalize

__all__ = [
    "DAMAGED",
    "INTACT",
    "CheckReport",
    "Library",
    "LibraryError",
    "LibraryFile",
    "LibraryItem",
    "MatchCount",
    "MissingFile",
    "Page",
    "Query",
    "RetentionReport",
    "VerifyStopped",
    "fts_query",
    "normalize",
    "rebuild_fts",
    "record_file",
    "update_items",
    "upsert_items",
]
