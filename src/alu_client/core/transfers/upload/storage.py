"""Where an upload is remembered: the file's ``fingerprint()`` and ``StoreUrlStorage``, tuspy's
URL storage kept in the job's checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tusclient.fingerprint.interface import Fingerprint
from tusclient.storage.interface import Storage

from ..base import Checkpoint
from .spec import MAX_BLOCK

# --- fingerprint --------------------------------------------------------------------------------


def fingerprint(path: Path) -> str:
    """The key under which the upload URL of this file is stored; it cannot collide.

    tuspy's key (size + md5 of the first 64 KiB) is the same for every pair of files that share
    a size and a header (clips from one camera, re-exports of one edit), so the second file
    would resume the first one's upload and the hub would receive a mix of both. Here two keys
    are equal only if the files have the same absolute path, size and mtime_ns *and* the same
    sha256 over every byte: different content cannot share a key (that would be a sha256
    collision), and even identical content at another path or in another version (a new mtime)
    gets its own upload. The sha256 also catches a file rewritten with the same size whose mtime
    was put back (copy tools that preserve times), which path + size + mtime alone would miss.
    Hashing reads the file once per run: cheap next to sending it over the member's link."""
    return _fingerprint(path, lambda: None)


def _fingerprint(path: Path, check: Callable[[], None]) -> str:
    absolute = path.resolve()
    digest = hashlib.sha256()
    with open(absolute, "rb") as f:
        st = os.fstat(f.fileno())
        while block := f.read(MAX_BLOCK):
            check()
            digest.update(block)
    return (
        f"sha256:{digest.hexdigest()} size:{st.st_size} mtime_ns:{st.st_mtime_ns} path:{absolute}"
    )


class Fingerprinter(Fingerprint):
    """tuspy's fingerprint interface answering ``fingerprint()`` for a stream opened from a path
    (``fingerprinter=Fingerprinter()`` makes a plain tuspy uploader collision-free too)."""

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        name = getattr(fs, "name", None)
        if not isinstance(name, str):
            raise ValueError("a fingerprint needs a file opened from a path")
        return fingerprint(Path(name))


# --- URL storage in the checkpoint --------------------------------------------------------------

_PART_KEY = re.compile(r"(?s)(.*)#part:([0-9]+)-([0-9]+)")


def _split_key(key: str) -> tuple[str, str]:
    """(file fingerprint, "<start>-<end>" for a part key or "")."""
    m = _PART_KEY.fullmatch(key)
    return (m.group(1), f"{m.group(2)}-{m.group(3)}") if m else (key, "")


class StoreUrlStorage(Storage):
    """tuspy's URL storage (key → upload URL) kept in the job's checkpoint, which the queue
    persists: tuspy-style resumability, in our store.

    The key of the whole file's upload is its ``fingerprint()``; a parallel part's key is the
    fingerprint + ``#part:<start>-<end>`` (see ``part_key``). The checkpoint holds one file's
    record: ``fingerprint``, ``size``, ``mtime_ns`` (from ``bind``), ``url``, ``parts`` (range →
    URL), ``finalizing`` and ``complete``; storing a key of another fingerprint starts the
    record over. Thread-safe (parts store their URLs from their own threads); every change is
    saved at once. The URLs are secrets: never log what this holds."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        loaded = checkpoint.load()
        self._data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        self._record: dict[str, Any] = {}

    @staticmethod
    def part_key(file_fingerprint: str, start: int, end: int) -> str:
        return f"{file_fingerprint}#part:{start}-{end}"

    def bind(self, file_fingerprint: str, size: int, mtime_ns: int) -> None:
        """The file this run uploads: its record is saved with its first URL."""
        self._record = {"fingerprint": file_fingerprint, "size": size, "mtime_ns": mtime_ns}

    # tuspy's interface

    def get_item(self, key: str) -> str | None:
        fp, rng = _split_key(key)
        with self._lock:
            if fp != self._data.get("fingerprint"):
                return None
            value = self._parts().get(rng) if rng else self._data.get("url")
        return value if isinstance(value, str) and value else None

    def set_item(self, key: str, value: str) -> None:
        fp, rng = _split_key(key)
        with self._lock:
            self._own(fp)
            if rng:
                parts = self._parts()
                parts[rng] = value
                self._data["parts"] = parts
            else:
                self._data["url"] = value
            self._save()

    def remove_item(self, key: str) -> None:
        fp, rng = _split_key(key)
        with self._lock:
            if fp != self._data.get("fingerprint"):
                return
            if rng:
                parts = self._parts()
                if rng in parts:
                    parts[rng] = ""  # the plan stays: the range is uploaded again
                    self._data["parts"] = parts
            else:
                self._data.pop("url", None)
                self._data.pop("complete", None)
            self._save()

    # the job's bookkeeping

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._data))
        return copy

    def plan_parts(self, file_fingerprint: str, ranges: list[tuple[int, int]]) -> None:
        """Save the parts' ranges before any is created, so that a crash resumes this plan."""
        with self._lock:
            self._own(file_fingerprint)
            old = self._parts()
            self._data["parts"] = {f"{s}-{e}": old.get(f"{s}-{e}", "") for s, e in ranges}
            self._save()

    def part_ranges(self) -> list[tuple[int, int]]:
        with self._lock:
            keys = list(self._parts())
        ranges = []
        for rng in keys:
            start, _, end = rng.partition("-")
            if start.isdigit() and end.isdigit():
                ranges.append((int(start), int(end)))
        return sorted(ranges)

    def mark_finalizing(self) -> None:
        with self._lock:
            self._data["finalizing"] = True
            self._save()

    def finalizing(self) -> bool:
        with self._lock:
            return bool(self._data.get("finalizing"))

    def mark_complete(self, url: str) -> None:
        """The server has every byte of the upload at ``url`` (the parts are its business now)."""
        with self._lock:
            self._data["url"] = url
            self._data["complete"] = True
            self._data.pop("parts", None)
            self._data.pop("finalizing", None)
            self._save()

    def urls(self) -> list[str]:
        with self._lock:
            found = [self._data.get("url"), *self._parts().values()]
        return [u for u in found if isinstance(u, str) and u]

    def forget_urls(self) -> None:
        """Drop every URL but keep the file's record (so a changed file stays refused)."""
        with self._lock:
            for name in ("url", "parts", "finalizing", "complete"):
                self._data.pop(name, None)
            self._save()

    def clear(self) -> None:
        with self._lock:
            self._data = {}
            self._save()

    def _own(self, fp: str) -> None:
        if fp != self._data.get("fingerprint"):
            self._data = {"fingerprint": fp}
            if self._record.get("fingerprint") == fp:
                self._data.update(self._record)

    def _parts(self) -> dict[str, str]:
        parts = self._data.get("parts")
        return {str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {}

    def _save(self) -> None:
        self._checkpoint.save(json.loads(json.dumps(self._data)))
