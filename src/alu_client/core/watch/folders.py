"""Hot folders as stored: ``WatchFolder`` (a watched folder and its settings), ``WatchFile``
(a file taken from one), and ``FolderRegistry``, the folder half of ``HotFolders`` (add,
change, remove, list). Also which names a hot folder never takes (``is_ignored``)."""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

from ..store import Store
from ..store.rows import RowReader, warn_damaged
from ..uploads import FieldError, UploadFields

#: the item fields a sidecar or a folder's defaults may give
METADATA_FIELDS = tuple(f.name for f in fields(UploadFields))
_TEMP_SUFFIXES = (
    ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".!ut", "~",
)  # fmt: skip
_JUNK = {"thumbs.db", "desktop.ini", "icon\r"}
#: seconds a file must stay still before it is taken, unless the folder says otherwise
DEFAULT_SETTLE = 10.0


class WatchError(ValueError):
    """A hot folder cannot be set up as asked; ``str()`` says why."""


def is_ignored(name: str) -> bool:
    """Names a hot folder never takes: hidden, temporary, sidecars, system junk."""
    low = name.lower()
    return (
        name.startswith((".", "~$", "~"))
        or low.endswith(_TEMP_SUFFIXES)
        or low.endswith(".json")
        or low in _JUNK
    )


def is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name longer than the file system holds (255 bytes): the
    sidecar ``<stem>.json`` of a clip whose name is at that limit cannot exist, so there is
    none — asking raised ENAMETOOLONG at every scan. Other errors (a folder that cannot be
    entered) are raised, for the caller to report."""
    try:
        return path.is_file()
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return False
        raise


@dataclass(frozen=True)
class WatchFolder:
    id: int
    profile: str
    path: Path
    enabled: bool
    defaults: dict[str, str]
    #: relative to ``path``, or absolute
    sent_dir: str
    settle_seconds: float
    #: why the folder cannot be watched now, as the last scan found it ('' when it can): one
    #: sentence of ``messages`` a line (the scan of a running app or `alu watch run` writes it)
    problem: str = ""
    #: when the folder was added (a folder removed and added again may get the same id)
    created_at: float = 0.0

    @property
    def sent_path(self) -> Path:
        sent = Path(self.sent_dir).expanduser()
        return sent if sent.is_absolute() else self.path / sent

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WatchFolder:
        """The row as a folder; a setting edited or damaged in the file is replaced by its
        default and logged, so the other folders, and the list, still work."""
        r = RowReader(row)
        defaults = r.json_object("defaults")
        folder = cls(
            id=r.integer("id", 0),
            profile=r.text("profile"),
            path=Path(r.text("path")),
            enabled=r.flag("enabled"),  # (off: nothing is sent that the user had stopped)
            defaults={str(k): str(v) for k, v in defaults.items()},
            sent_dir=r.text("sent_dir", "sent"),
            settle_seconds=r.real("settle_seconds", DEFAULT_SETTLE),
            problem=r.text("problem"),
            created_at=r.real("created_at", 0.0),
        )
        warn_damaged(
            "hot folder",
            folder.path,
            r.damaged,
            "its default settings are used until they are saved again (in Settings, or with alu"
            " watch remove and add).",
        )
        return folder


#: the state of a file this workstation was uploading when another one watching the same folder
#: took it over (``claims``): sent from there, not an error, not retried from here
TAKEN_OVER: Final = "taken_over"


@dataclass(frozen=True)
class WatchFile:
    id: int
    folder_id: int
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None
    #: uploading | sent | error | taken_over (``TAKEN_OVER``: another workstation watching the
    #: same folder took the file over and sends it; no error, nothing to retry)
    state: str
    transfer_id: int | None
    #: the error (state error), or a note (state sent: "not uploaded again: …"; state
    #: taken_over: which workstation took it over)
    error: str
    at: float
    #: (state error) the fault may pass: the file is tried again, after a restart too
    retry: bool = False
    #: (a file put back from the sent folder) its sidecar, left there: the file waits for it
    sidecar_behind: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WatchFile:
        """The row as a file record; a size or time that is no number reads as -1 (no file
        has it: the file is taken as changed and looked at again), logged."""
        r = RowReader(row)
        record = cls(
            id=r.integer("id", 0),
            folder_id=r.integer("folder_id", 0),
            path=Path(r.text("path")),
            size=r.integer("size", -1),
            mtime_ns=r.integer("mtime_ns", -1),
            sha256=r.text_or_none("sha256"),
            state=r.text("state", "error"),
            transfer_id=r.integer_or_none("transfer_id"),
            error=r.text("error"),
            at=r.real("at", 0.0),
            retry=r.flag("retry"),
            sidecar_behind=r.text_or_none("sidecar_behind"),
        )
        warn_damaged("hot folder file", record.path, r.damaged, "it is looked at again.")
        return record


class FolderRegistry:
    """The hot folders of one hub profile (a part of ``HotFolders``)."""

    store: Store
    profile: str
    _wake: threading.Event
    _removed: set[int]
    _removed_lock: threading.Lock

    # --- folders ------------------------------------------------------------------------------

    def add_folder(
        self,
        path: Path | str,
        defaults: Mapping[str, object] | None = None,
        sent_dir: str | Path = "sent",
        settle_seconds: float = DEFAULT_SETTLE,
        *,
        enabled: bool = True,
    ) -> WatchFolder:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise WatchError(f"{folder} is not a folder, or cannot be reached.")
        folder = folder.resolve()
        clean = _clean_defaults(defaults or {})
        sent = _clean_sent_dir(folder, sent_dir)
        settle = _clean_settle(settle_seconds)
        with self.store.write() as c:
            other = c.execute(
                "SELECT profile FROM watch_folders WHERE path = ?", (str(folder),)
            ).fetchone()
            if other is not None:
                whose = "" if other[0] == self.profile else f" (for the hub profile {other[0]!r})"
                raise WatchError(f"{folder} is already a hot folder{whose}.")
            cur = c.execute(
                "INSERT INTO watch_folders (profile, path, enabled, defaults, sent_dir,"
                " settle_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.profile,
                    str(folder),
                    int(enabled),
                    json.dumps(clean, ensure_ascii=False),
                    sent,
                    settle,
                    time.time(),
                ),
            )
            fid = int(cur.lastrowid or 0)
        self._wake.set()
        return self.folder(fid)

    def update_folder(
        self,
        folder_id: int,
        *,
        defaults: Mapping[str, object] | None = None,
        sent_dir: str | Path | None = None,
        settle_seconds: float | None = None,
        enabled: bool | None = None,
    ) -> WatchFolder:
        old = self.folder(folder_id)
        with self.store.write() as c:
            c.execute(
                "UPDATE watch_folders SET defaults = ?, sent_dir = ?, settle_seconds = ?,"
                " enabled = ? WHERE id = ? AND profile = ?",
                (
                    json.dumps(
                        _clean_defaults(defaults) if defaults is not None else old.defaults,
                        ensure_ascii=False,
                    ),
                    _clean_sent_dir(old.path, sent_dir) if sent_dir is not None else old.sent_dir,
                    _clean_settle(settle_seconds)
                    if settle_seconds is not None
                    else old.settle_seconds,
                    int(enabled) if enabled is not None else int(old.enabled),
                    folder_id,
                    self.profile,
                ),
            )
        self._wake.set()
        return self.folder(folder_id)

    def set_enabled(self, folder_id: int, enabled: bool) -> WatchFolder:
        return self.update_folder(folder_id, enabled=enabled)

    def remove_folder(self, folder_id: int) -> None:
        """Stop watching (the files and the record of what was sent stay where they are)."""
        with self.store.write() as c:
            cur = c.execute(
                "DELETE FROM watch_folders WHERE id = ? AND profile = ?", (folder_id, self.profile)
            )
            if cur.rowcount == 0:
                raise WatchError(f"There is no hot folder #{folder_id}.")
        with self._removed_lock:  # (the next scan forgets what it kept of it: ``_forget_removed``)
            self._removed.add(folder_id)
        self._wake.set()

    def folder(self, folder_id: int) -> WatchFolder:
        row = self.store.query_one(
            "SELECT * FROM watch_folders WHERE id = ? AND profile = ?", (folder_id, self.profile)
        )
        if row is None:
            raise WatchError(f"There is no hot folder #{folder_id}.")
        return WatchFolder.from_row(row)

    def list_folders(self) -> list[WatchFolder]:
        rows = self.store.query(
            "SELECT * FROM watch_folders WHERE profile = ? ORDER BY id", (self.profile,)
        )
        return [WatchFolder.from_row(r) for r in rows]

    def files(self, folder_id: int) -> list[WatchFile]:
        rows = self.store.query(
            "SELECT * FROM watch_files WHERE folder_id = ? ORDER BY id", (folder_id,)
        )
        return [WatchFile.from_row(r) for r in rows]


def _clean_defaults(defaults: Mapping[str, object]) -> dict[str, str]:
    unknown = sorted(set(defaults) - set(METADATA_FIELDS))
    if unknown:
        raise WatchError(
            f"{unknown[0]!r} is not an item field; the fields are {', '.join(METADATA_FIELDS)}."
        )
    clean = {k: str(v) for k, v in defaults.items() if v is not None and str(v) != ""}
    try:
        UploadFields.from_mapping({**clean, "title": clean.get("title") or "x"}).validated()
    except FieldError as e:
        raise WatchError(f"In the folder's defaults: {e}") from None
    return clean


def _clean_sent_dir(folder: Path, sent_dir: str | Path) -> str:
    text = str(sent_dir).strip()
    if not text:
        raise WatchError("The sent folder needs a name (like 'sent') or a full path.")
    sent = Path(text).expanduser()
    resolved = (sent if sent.is_absolute() else folder / sent).resolve()
    if resolved == folder.resolve():
        raise WatchError("The sent folder cannot be the hot folder itself.")
    return text


def _clean_settle(settle_seconds: float) -> float:
    settle = float(settle_seconds)
    if not 0 <= settle <= 24 * 3600 or settle != settle:
        raise WatchError("The settle time is between 0 seconds and a day.")
    return settle
