"""Where published renditions and thumbnails live, by key (``items/<id>/broadcast.mp4``).

The local folder is the default; an S3-compatible store can take its place behind the same
interface. Keys are made by the hub, never from user-supplied names.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    def put_file(self, src: Path, key: str) -> None:
        """Store ``src`` under ``key`` (moving it when it can); visible only once complete."""

    def local_path(self, key: str) -> Path | None:
        """A file path to serve ``key`` from, or None when the store is remote."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix`` (an abandoned publish)."""


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
        root.mkdir(parents=True, exist_ok=True)

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
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)
