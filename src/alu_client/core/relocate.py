"""A data folder opened at another path than last time: moved (a new disk, a renamed user
folder) or copied (a second workstation set up from a copy).

The store keeps absolute paths: the downloads' destinations, the library's files and
thumbnails, the download folder, the hot folders. Each open by the CLI and the app
(``Services``, the one-transfer engine of `alu fetch`) keeps the data folder's root — the
folder all of its own folders are under, ``ALU_CLIENT_HOME`` — and, opened under another root,
rewrites every stored path under the old root to the same place under the new one, in one
transaction; a path outside the old root (a download folder elsewhere, a hot folder on a share,
an upload's source elsewhere) stays as it is. A queued download then resumes from its ``.part``
at the new place, and the library finds its files.

When the old root still holds a data folder, this one is a copy: it makes a workstation id of
its own (``workstation``), or the two would take each other's hot-folder claims as their own and
the hub would count them as one workstation. A move keeps its id.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .paths import Paths
from .store import Store
from .workstation import WORKSTATION_KEY, workstation_id

log = logging.getLogger(__name__)

#: the ``settings`` key of where the data folder was last opened: ``{"root": ..., "data": ...}``
#: (its root, and its data folder relative to the root)
ROOT_KEY = "data_folder.root"

#: (table, key column, path columns) rewritten as plain paths
_PATH_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("library_files", "id", ("path", "thumbnail")),
    ("rules", "id", ("destination",)),
    ("watch_folders", "id", ("path", "sent_dir")),
    ("watch_files", "id", ("path",)),
    ("watch_sidecar_waits", "rowid", ("path", "sidecar")),
    ("watch_elsewhere", "rowid", ("path",)),
)


@dataclass(frozen=True)
class Relocation:
    """The data folder was opened under ``new`` after ``old``; ``copied``: ``old`` still holds
    a data folder, and this one took a workstation id of its own."""

    old: Path
    new: Path
    copied: bool

    def message(self) -> str:
        """One line for the user (English: the CLI's stderr and the log)."""
        if self.copied:
            return (
                f"This data folder is a copy of {self.old}: its files and downloads now point"
                f" into {self.new}, and it is a workstation of its own (a new workstation id),"
                " so both copies can watch the same hot folders."
            )
        return (
            f"The data folder moved from {self.old} to {self.new}: its downloads, library"
            " files and hot folders there now point to the new place."
        )


def data_root(paths: Paths) -> Path | None:
    """The folder all of the data folder's own folders are under (``ALU_CLIENT_HOME``, or the
    user's home folder), or None when that is a file system's root (nothing to follow)."""
    try:
        root = Path(
            os.path.commonpath(
                [paths.data_dir, paths.cache_dir, paths.log_dir, paths.downloads_dir]
            )
        )
    except ValueError:  # (folders on two Windows drives)
        return None
    return None if root == Path(root.anchor) else root


def follow_move(store: Store, paths: Paths) -> Relocation | None:
    """Keep where the data folder is opened; opened under another root than last time, rewrite
    the stored paths under the old root and, for a copy, make a new workstation id. The
    relocation, or None when nothing changed."""
    root = data_root(paths)
    if root is None:
        return None
    data = os.path.relpath(paths.data_dir, root)
    here = json.dumps({"root": str(root), "data": data})
    kept = store.query_one("SELECT value FROM settings WHERE key = ?", (ROOT_KEY,))
    if kept is not None and kept[0] == here:
        return None  # (the usual open: nothing written)
    with store.write() as c:
        old = _last_root(c)
        if old is not None and old[0] == root:
            return None
        c.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (ROOT_KEY, here),
        )
        if old is None or old[1] != data:
            # first open, or the root changed for another reason than a move of the data
            # folder (the videos folder set elsewhere): nothing moved with it
            return None
        _rewrite(c, _under(old[0], root))
        copied = _holds_data_folder(old[0] / data, paths.db_path)
        if copied:
            c.execute("DELETE FROM settings WHERE key = ?", (WORKSTATION_KEY,))
    moved = Relocation(old[0], root, copied)
    if copied:  # (the new id made now, in the log: the agency's reports count it)
        log.info("%s (workstation id %s)", moved.message(), workstation_id(store)[:8])
    else:
        log.info("%s", moved.message())
    return moved


def _last_root(c: sqlite3.Connection) -> tuple[Path, str] | None:
    row = c.execute("SELECT value FROM settings WHERE key = ?", (ROOT_KEY,)).fetchone()
    try:
        value = json.loads(row[0])
        return Path(value["root"]), str(value["data"])
    except (TypeError, ValueError, KeyError):  # (none kept: the first open; or damaged)
        return None


def _holds_data_folder(data_dir: Path, ours: Path) -> bool:
    """A data folder's library is at ``data_dir`` and is not this one (seen at another path)."""
    there = data_dir / ours.name
    try:
        return there.is_file() and not os.path.samefile(there, ours)
    except OSError:
        return there.exists()


def _under(old: Path, new: Path) -> Callable[[str], str | None]:
    """``path`` under ``old`` made the same under ``new``; None for any other text."""
    prefix = str(old).rstrip(os.sep) + os.sep

    def moved(path: str) -> str | None:
        if path == str(old):
            return str(new)
        if path.startswith(prefix):
            return str(new / path[len(prefix) :])
        return None

    return moved


def _rewrite(c: sqlite3.Connection, moved: Callable[[str], str | None]) -> None:
    for table, key, columns in _PATH_COLUMNS:
        for column in columns:
            rows = c.execute(f"SELECT {key}, {column} FROM {table}").fetchall()  # noqa: S608
            for rid, value in rows:
                new = moved(value) if isinstance(value, str) else None
                if new is not None:
                    c.execute(
                        f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {key} = ?",  # noqa: S608
                        (new, rid),
                    )
    _rewrite_transfers(c, moved)
    _rewrite_settings(c, moved)


def _rewrite_transfers(c: sqlite3.Connection, moved: Callable[[str], str | None]) -> None:
    """A download's destination (and the item's own name, ``same_as``), an upload's source."""
    rows = c.execute("SELECT id, direction, source, destination, options FROM transfers")
    for tid, direction, source, destination, options_text in rows.fetchall():
        column, value = (
            ("destination", destination) if direction == "download" else ("source", source)
        )
        new = moved(value)
        if new is not None:
            c.execute(f"UPDATE transfers SET {column} = ? WHERE id = ?", (new, tid))  # noqa: S608
        try:
            options = json.loads(options_text) if options_text else {}
        except ValueError:
            continue
        same = options.get("same_as") if isinstance(options, dict) else None
        if isinstance(same, str) and (new_same := moved(same)) is not None:
            options["same_as"] = new_same
            c.execute("UPDATE transfers SET options = ? WHERE id = ?", (json.dumps(options), tid))


def _rewrite_settings(c: sqlite3.Connection, moved: Callable[[str], str | None]) -> None:
    """Settings whose value is a path under the old root (the download folder)."""
    for key, raw in c.execute("SELECT key, value FROM settings").fetchall():
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            continue
        new = moved(value) if isinstance(value, str) else None
        if new is not None:
            c.execute("UPDATE settings SET value = ? WHERE key = ?", (json.dumps(new), key))
