"""Where published renditions and thumbnails live, by key (``items/<id>/broadcast.mp4``).

The local folder (``data/storage``) is the default; an S3-compatible store
(``ALU_HUB_STORAGE=s3://bucket/prefix``, see ``s3storage.py``) takes its place behind the same
interface. Keys are made by the hub, never from user-supplied names. Either way a file is
visible under its key only once it is whole (rename / S3's atomic PUT and multipart complete),
and publishing inserts the item only after every file is stored.

Serving: a local file is served by the hub itself (``local_path``, see ``files.py``); a remote
one by a redirect to a short-lived URL (``download_url``), so the bytes never pass through the
hub.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from alu_client.core.private import private_dir

from .settings import SettingsError

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

#: Where the items' files are, under the store's root: ``items/<item id>/<file>``.
ITEMS = "items"


class StorageError(OSError):
    """The store could not be reached or refused; in words for the agency's log."""


class Storage(Protocol):
    def put_file(self, src: Path, key: str) -> None:
        """Store ``src`` under ``key``, consuming ``src`` (moved when it can be, else deleted
        once stored); visible only once complete."""

    def copy_file(self, src: Path, key: str) -> None:
        """Store the bytes of ``src`` under ``key`` and leave ``src`` as it is."""

    def local_path(self, key: str) -> Path | None:
        """A file path to serve ``key`` from, or None when the store is remote."""

    def download_url(
        self, key: str, *, head: bool = False, filename: str | None = None, mime: str = ""
    ) -> str | None:
        """A short-lived URL a client may fetch ``key`` from without the hub's token (for a
        HEAD when ``head``), or None when the hub serves the file itself (``local_path``)."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix`` (an abandoned publish); never raises."""

    def remove_unreferenced(
        self, known: Collection[str], before: dt.datetime, after: dt.datetime
    ) -> list[str]:
        """Start-up: remove the files of items not in ``known`` (a publish that crashed before
        its commit) whose every file is older than ``before`` and newer than ``after``; returns
        the item ids whose files went. (Others may be another database's: see
        ``app.recover``.)"""

    def check(self) -> None:
        """Start-up (``alu-hub serve``, ``publish``): StorageError, in words for the operator,
        when the store cannot be used at all, rather than every upload failing later."""


def build_storage(settings: Settings) -> Storage:
    """The store the settings name: S3 for ``s3://…``, else the data folder's ``storage/``."""
    url = settings.storage_url.strip()
    if not url:
        return LocalStorage(settings.storage_dir)
    if url.lower().startswith("s3://"):
        from .s3storage import S3Storage  # boto3 is needed only here (the 'server' extra)

        return S3Storage.from_settings(settings)
    raise SettingsError(
        f"ALU_HUB_STORAGE must be empty (the data folder) or s3://bucket/prefix, not {url!r}."
    )


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        # the footage: only the hub's account reads it (the data folder too, when made here)
        private_dir(root.parent, tighten=False)
        private_dir(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key outside the store: {key!r}")
        return path

    def put_file(self, src: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        try:
            os.replace(src, tmp)  # same filesystem: a rename
        except OSError:
            shutil.copyfile(src, tmp)
            src.unlink()
        self._commit(tmp, dest)

    def copy_file(self, src: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(src, tmp)
        self._commit(tmp, dest)

    @staticmethod
    def _commit(tmp: Path, dest: Path) -> None:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def check(self) -> None:
        pass  # the folder was made (or refused, OSError) in __init__

    def download_url(
        self, key: str, *, head: bool = False, filename: str | None = None, mime: str = ""
    ) -> str | None:
        return None

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def remove_unreferenced(
        self, known: Collection[str], before: dt.datetime, after: dt.datetime
    ) -> list[str]:
        items = self.root / ITEMS
        if not items.is_dir():
            return []
        removed = []
        limit, floor = before.timestamp(), after.timestamp()
        for d in items.iterdir():
            if d.name in known:
                continue
            try:
                times = [f.stat().st_mtime for f in d.rglob("*") if f.is_file()]
                times = times or [d.stat().st_mtime]
            except OSError:
                continue
            if floor < min(times) and max(times) < limit:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
        return removed
