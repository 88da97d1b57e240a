"""``Library``: one profile's library as the UI and the CLI use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..store import Store
from . import files as _files
from . import search as _search
from .files import CheckReport, LibraryFile, RetentionReport
from .items import LibraryItem, item_from_row
from .search import COUNT_CAP, MatchCount, Page, Query


class Library:
    """The items of one hub profile and the files downloaded from them, on this workstation.

    ``member`` is the profile's user name: the items it uploaded are its own (``Item.sent_by``;
    the Feed says "Sent by you")."""

    def __init__(
        self,
        store: Store,
        profile: str,
        member: str = "",
        *,
        download_folder: Callable[[], Path] | None = None,
    ) -> None:
        self.store = store
        self.profile = profile
        self.member = member
        #: the download folder now set (where a file recorded under another one is looked for)
        self.download_folder = download_folder

    # --- items -----------------------------------------------------------------------------

    def get(self, item_id: str) -> LibraryItem | None:
        row = self.store.query_one(
            "SELECT * FROM items WHERE profile = ? AND id = ?", (self.profile, item_id)
        )
        if row is None:
            return None
        return item_from_row(row, self.files(item_id))

    def ids_beginning(self, prefix: str, limit: int = 10) -> list[str]:
        """The ids of items that begin with ``prefix`` (any case), at most ``limit``: an id
        typed short, as ``alu feed`` shows it in full (32 characters)."""
        rows = self.store.query(
            "SELECT id FROM items WHERE profile = ? AND lower(substr(id, 1, ?)) = ?"
            " ORDER BY id LIMIT ?",
            (self.profile, len(prefix), prefix.lower(), limit),
        )
        return [str(r[0]) for r in rows]

    def search(self, q: Query) -> Page:
        return _search.search(self.store, self.profile, q)

    def among(self, q: Query, item_ids: Sequence[str]) -> list[LibraryItem]:
        """Those of ``item_ids`` that match ``q``, newest first (``search.among``)."""
        return _search.among(self.store, self.profile, q, item_ids)

    def count(self, q: Query, cap: int = COUNT_CAP) -> MatchCount:
        return _search.count(self.store, self.profile, q, cap)

    def unread_count(self) -> int:
        row = self.store.query_one(
            f"SELECT count(*) FROM items WHERE profile = ? AND {_search.UNREAD_SQL.format(t='')}",  # noqa: S608
            (self.profile,),
        )
        return int(row[0]) if row is not None else 0

    def mark_read(self, item_ids: Iterable[str], *, read: bool = True) -> int:
        """Mark items read (or unread again); returns how many changed."""
        ids = list(dict.fromkeys(item_ids))
        changed = 0
        now = time.time()
        with self.store.write() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                if read:
                    sql = "UPDATE items SET read_at = ? WHERE read_at IS NULL"
                    params: tuple[object, ...] = (now, self.profile, *chunk)
                else:
                    sql = "UPDATE items SET read_at = NULL WHERE read_at IS NOT NULL"
                    params = (self.profile, *chunk)
                cur = conn.execute(f"{sql} AND profile = ? AND id IN ({marks})", params)
                changed += cur.rowcount
        return changed

    def mark_all_read(self, q: Query | None = None) -> int:
        """Mark read every unread item, or every one matching ``q`` (its filters and words;
        cursors and limit ignored), in one statement; returns how many changed."""
        if q is not None:
            return _search.mark_read(self.store, self.profile, q, time.time())
        with self.store.write() as conn:
            cur = conn.execute(
                "UPDATE items SET read_at = ? WHERE profile = ?"  # noqa: S608
                f" AND {_search.UNREAD_SQL.format(t='')}",
                (time.time(), self.profile),
            )
            return cur.rowcount

    # --- files -----------------------------------------------------------------------------

    def files(self, item_id: str) -> list[LibraryFile]:
        return _search.files_of(self.store, self.profile, [item_id]).get(item_id, [])

    def check_files(
        self, limit: int | None = None, *, item_ids: Sequence[str] | None = None
    ) -> CheckReport:
        """Stat the files (all, ``limit`` of them, or those of ``item_ids``, at most 500
        items) and record which are missing or back: see ``files.check_files``."""
        folder = self.download_folder() if self.download_folder is not None else None
        return _files.check_files(
            self.store, self.profile, limit, item_ids=item_ids, download_dir=folder
        )

    def apply_retention(
        self, max_age_days: float | None, max_total_bytes: int | None, *, now: float
    ) -> RetentionReport:
        return _files.apply_retention(
            self.store, self.profile, max_age_days, max_total_bytes, now=now
        )

    def verify_file(
        self, item_id: str, rendition: str, *, stop: threading.Event | None = None
    ) -> str:
        """Compare a file's bytes with the ones verified: see ``files.verify_file``."""
        return _files.verify_file(self.store, self.profile, item_id, rendition, stop=stop)

    def set_aside_damaged(self, item_id: str, rendition: str) -> tuple[Path, Path] | None:
        """See ``files.set_aside_damaged``."""
        return _files.set_aside_damaged(self.store, self.profile, item_id, rendition)

    def put_back(self, item_id: str, rendition: str, place: Path, aside: Path) -> bool:
        """See ``files.put_back``."""
        return _files.put_back(self.store, self.profile, item_id, rendition, place, aside)

    @staticmethod
    def drop_aside(aside: Path) -> None:
        _files.drop_aside(aside)

    def remove_file(self, item_id: str, rendition: str) -> int:
        return _files.remove_file(self.store, self.profile, item_id, rendition)
