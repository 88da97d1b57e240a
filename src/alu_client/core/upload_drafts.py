"""What was typed in the app's upload form for a file not sent yet, kept in the store's
``settings`` table: the form offers it back when the same file is dropped again after the app
stopped without asking (a crash, a kill, the SIGTERM of a logout).

A draft is the details typed for one file by one hub profile, keyed by the file's path, and it
holds the file's size and modification time: the same file (path, size, mtime) dropped again
gets them back; other bytes at that path (exported again) do not. The form drops a file's draft
once the file is queued, removed from the list or its details discarded; a draft not saved
again for ``KEPT_FOR`` goes at the next save.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from .store import Store

#: the settings keys of drafts: this prefix and a digest of the profile and the path
KEY_PREFIX: Final = "upload_draft."
#: a draft not saved for this long is dropped (the footage went another way, or never)
KEPT_FOR: Final = 14 * 24 * 3600.0

Stamp = tuple[int, int]


def _key(profile: str, path: Path) -> str:
    name = profile.encode("utf-8", "surrogatepass") + b"\0" + os.fsencode(path)
    return KEY_PREFIX + hashlib.sha256(name).hexdigest()[:32]


class UploadDrafts:
    """The drafts of one hub profile (``profile``: its name) in ``store``."""

    def __init__(self, store: Store, profile: str) -> None:
        self.store = store
        self.profile = profile

    def save(
        self, path: Path, stamp: Stamp, values: Mapping[str, str], now: float | None = None
    ) -> None:
        """Keep ``values`` (field name to text) typed for the file at ``path`` as it is now
        (``stamp``: its size and mtime_ns); older drafts of any file are dropped meanwhile."""
        self.save_all([(path, stamp, values)], now)

    def save_all(
        self, drafts: Iterable[tuple[Path, Stamp, Mapping[str, str]]], now: float | None = None
    ) -> None:
        """``save`` for several files in one transaction (the form's batch, every second of
        typing), the drafts too old dropped once."""
        now = time.time() if now is None else now
        rows = [
            (
                _key(self.profile, path),
                json.dumps(
                    {
                        "path": str(path),
                        "size": stamp[0],
                        "mtime_ns": stamp[1],
                        "saved_at": now,
                        "values": {str(k): str(v) for k, v in values.items()},
                    }
                ),
            )
            for path, stamp, values in drafts
        ]
        if not rows:
            return
        with self.store.write() as c:
            c.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rows,
            )
            c.execute(
                "DELETE FROM settings WHERE substr(key, 1, ?) = ? AND (NOT json_valid(value)"
                " OR coalesce(json_extract(value, '$.saved_at'), 0) < ?)",
                (len(KEY_PREFIX), KEY_PREFIX, now - KEPT_FOR),
            )

    def load(self, path: Path, stamp: Stamp) -> dict[str, str] | None:
        """The values kept for this very file (same path, size and mtime), or None."""
        row = self.store.query_one(
            "SELECT value FROM settings WHERE key = ?", (_key(self.profile, path),)
        )
        if row is None:
            return None
        try:
            draft = json.loads(row[0])
        except ValueError:
            return None
        if not isinstance(draft, dict) or draft.get("path") != str(path):
            return None
        if (draft.get("size"), draft.get("mtime_ns")) != stamp:
            return None
        values = draft.get("values")
        if not isinstance(values, dict):
            return None
        return {str(k): v for k, v in values.items() if isinstance(v, str)}

    def drop(self, paths: Iterable[Path]) -> None:
        """Forget the drafts of these files (sent, removed, or their details discarded)."""
        keys = [(_key(self.profile, p),) for p in paths]
        if keys:
            with self.store.write() as c:
                c.executemany("DELETE FROM settings WHERE key = ?", keys)
