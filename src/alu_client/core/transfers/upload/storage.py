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

from ...http import is_number
from ..base import Checkpoint
from .spec import MAX_BLOCK, MIB

# --- fingerprint --------------------------------------------------------------------------------


def fingerprint(path: Path, sha256: str | None = None) -> str:
    """The key under which the upload URL of this file is stored; it cannot collide.

    tuspy's key (size + md5 of the first 64 KiB) is the same for every pair of files that share
    a size and a header (clips from one camera, re-exports of one edit), so the second file
    would resume the first one's upload and the hub would receive a mix of both. Ours is the
    absolute path, size and mtime_ns, the content's sha256 when the caller knows it (``sha256``:
    the metadata's, which the ALU hub checks against the whole file at the end), and the sha256
    of a sample of the file (``sample_ranges``: all of a file up to 32 MiB; of a larger one the
    first and last MiB and 32 blocks of 64 KiB spread between).

    Why a sample is enough (a whole-file hash took 4.5 s per GiB before the first byte): the
    key has to tell apart the files one workstation uploads, not resist an attacker. Two
    different files at one moment have different paths; a file replaced at the same path (a
    new export, a re-copy) gets a new mtime_ns, or another size; and the sample catches what
    slips past those (a copy tool that puts the old mtime back on new content changes the
    container's header, tail index or most of the blocks). The same path with the same size,
    mtime_ns and sample is the same file for our purposes, and nothing is trusted blindly: the
    server's offset is re-checked with HEAD before every resume, a change during the upload is
    caught by a stat per chunk, and the hub verifies the whole file's sha256 at the end. A
    rewrite the sample misses under a restored mtime still changes the inode's ctime, which no
    tool can put back: a run that finds another ctime reads the whole file against the
    caller's sha256 before it resumes (``_Job._content_matches``), for any tus server.
    The inode and device are left out on purpose: they are not stable for the files newsrooms
    upload (FAT/exFAT camera cards number inodes afresh at each mount, and even when the
    kernel evicts an inode; a remounted drive gets another device number), and a key that
    changes makes the upload "changed" — refused, to be started over from the first byte."""
    return _fingerprint(path, lambda: None, sha256)


#: files up to this size are hashed whole for the fingerprint (a few ms)
SAMPLE_WHOLE = 32 * MIB
#: of a larger file: the first and the last MiB, and this many 64 KiB blocks spread between
SAMPLE_EDGE = 1 * MIB
SAMPLE_BLOCKS = 32
SAMPLE_BLOCK = 64 * 1024


def sample_ranges(size: int) -> list[tuple[int, int]]:
    """The regions of a file of ``size`` bytes that its fingerprint hashes, in file order."""
    if size <= SAMPLE_WHOLE:
        return [(0, size)] if size else []
    inner = size - 2 * SAMPLE_EDGE
    step = inner // SAMPLE_BLOCKS
    spread = [
        (SAMPLE_EDGE + i * step + step // 2, SAMPLE_EDGE + i * step + step // 2 + SAMPLE_BLOCK)
        for i in range(SAMPLE_BLOCKS)
    ]
    return [(0, SAMPLE_EDGE), *spread, (size - SAMPLE_EDGE, size)]


def _fingerprint(path: Path, check: Callable[[], None], sha256: str | None = None) -> str:
    absolute = path.resolve()
    digest = hashlib.sha256()
    with open(absolute, "rb") as f:
        st = os.fstat(f.fileno())
        for start, end in sample_ranges(st.st_size):
            f.seek(start)
            left = end - start
            while left > 0:
                check()
                block = f.read(min(MAX_BLOCK, left))
                if not block:
                    break  # it shrank while we read: the size in the key is already another
                digest.update(block)
                left -= len(block)
    known = sha256.strip().lower() if sha256 else ""
    content = f"sha256:{known} " if _SHA256.fullmatch(known) else ""
    return (
        f"{content}sample:{digest.hexdigest()} size:{st.st_size} mtime_ns:{st.st_mtime_ns} "
        f"path:{absolute}"
    )


_SHA256 = re.compile(r"[0-9a-f]{64}")


class Fingerprinter(Fingerprint):
    """tuspy's fingerprint interface answering ``fingerprint()`` for a stream opened from a path
    (``fingerprinter=Fingerprinter()`` makes a plain tuspy uploader collision-free too)."""

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        name = getattr(fs, "name", None)
        if not isinstance(name, str):
            raise ValueError("a fingerprint needs a file opened from a path")
        return fingerprint(Path(name))


# --- URL storage in the checkpoint --------------------------------------------------------------

#: an upload's expiry moved by no more than this is not saved again (``set_expires``)
EXPIRES_SLACK_S = 2.0

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
    URL), ``finalizing``, ``final`` (``set_early_final``) and ``complete``; storing a key of
    another fingerprint starts the record over. Thread-safe (parts store their URLs from their
    own threads); every change is saved at once. The URLs are secrets: never log what this holds."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        loaded = checkpoint.load()
        self._data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        self._record: dict[str, Any] = {}

    @staticmethod
    def part_key(file_fingerprint: str, start: int, end: int) -> str:
        return f"{file_fingerprint}#part:{start}-{end}"

    def bind(self, file_fingerprint: str, size: int, mtime_ns: int, ctime_ns: int) -> None:
        """The file this run uploads: its record is saved with its first URL (and ``ctime_ns``
        kept up to date: a later run compares it, see ``_Job._content_matches``)."""
        self._record = {
            "fingerprint": file_fingerprint,
            "size": size,
            "mtime_ns": mtime_ns,
            "ctime_ns": ctime_ns,
        }
        with self._lock:
            held = self._data.get("fingerprint") == file_fingerprint
            if held and self._data.get("ctime_ns") != ctime_ns:
                self._data["ctime_ns"] = ctime_ns
                self._save()

    def rekey(self, file_fingerprint: str, mtime_ns: int, ctime_ns: int) -> None:
        """The same content under a new modification time (a file touched, its whole content
        checked against the caller's sha256 by ``_Job``): its uploads go on under the new key."""
        self._record = {**self._record, "fingerprint": file_fingerprint, "mtime_ns": mtime_ns}
        with self._lock:
            if "fingerprint" in self._data:
                self._data.update(
                    fingerprint=file_fingerprint, mtime_ns=mtime_ns, ctime_ns=ctime_ns
                )
                self._save()

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
                if parts.get(rng) != value:  # a new upload for the part: nothing confirmed
                    confirmed = self._data.get("done")
                    if isinstance(confirmed, dict):
                        confirmed.pop(rng, None)
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
            self._forget_expiry(self._parts().get(rng) if rng else self._data.get("url"))
            if rng:
                parts = self._parts()
                if rng in parts:
                    parts[rng] = ""  # the plan stays: the range is uploaded again
                    self._data["parts"] = parts
                    confirmed = self._data.get("done")
                    if isinstance(confirmed, dict):
                        confirmed.pop(rng, None)
            else:
                self._data.pop("url", None)
                self._data.pop("complete", None)
            self._save()

    # the job's bookkeeping

    def set_expires(self, url: str, at: float) -> None:
        """When the upload at ``url`` expires, on this computer's clock (``protocol.expiry_of``
        of an answer's Upload-Expires): a 404 or 410 after it is an expiry, not a loss, also in
        a later run (the tus Node.js server's 410 says neither that nor the time). Saved when it
        moves by more than a second or two (each answer's Date is rounded to the second)."""
        with self._lock:
            kept = self._data.get("expires")
            kept = kept if isinstance(kept, dict) else {}
            old = kept.get(url)
            if isinstance(old, int | float) and abs(old - at) <= EXPIRES_SLACK_S:
                return
            kept[url] = round(at, 1)
            self._data["expires"] = kept
            self._save()

    def expires(self, url: str | None) -> float | None:
        with self._lock:
            kept = self._data.get("expires")
            at = kept.get(url) if isinstance(kept, dict) and url else None
        return float(at) if isinstance(at, int | float) else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._data))
        return copy

    def link_rate(self) -> float | None:
        """Bytes per second a stream carried when a run last measured it (a chunk sent, or one
        cut by a stop or the link), for the next run's first chunk; None if never."""
        with self._lock:
            rate = self._data.get("rate")
        return float(rate) if isinstance(rate, int | float) and rate > 0 else None

    def set_link_rate(self, bps: float) -> None:
        with self._lock:
            self._data["rate"] = round(bps)
            self._save()

    def set_part_done(self, start: int, end: int, done: int) -> None:
        """The server confirmed ``done`` bytes of the part ``start``-``end`` (a PATCH's answer)."""
        with self._lock:
            confirmed = self._data.get("done")
            if not isinstance(confirmed, dict):
                confirmed = self._data["done"] = {}
            confirmed[f"{start}-{end}"] = done
            self._save()

    def parts_done(self) -> dict[tuple[int, int], int] | None:
        """The bytes the server confirmed of each part (by its range), as last saved: where a
        resumed parallel upload stands (the progress an engine killed mid-chunk saved counts
        bytes it never confirmed: after two kills and a rerun, 27.3 MB of a 24 MB file).
        None when nothing was saved of it (a checkpoint from before it was kept)."""
        with self._lock:
            confirmed = self._data.get("done")
            ranges = self._parts()
        if not isinstance(confirmed, dict):
            return None
        out: dict[tuple[int, int], int] = {}
        for k in ranges:
            n = confirmed.get(k)
            start, _, end = k.partition("-")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                try:
                    out[int(start), int(end)] = n
                except ValueError:  # an edited checkpoint: that part counts nothing
                    continue
        return out

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
            if is_number(start) and is_number(end):
                ranges.append((int(start), int(end)))
        return sorted(ranges)

    def mark_finalizing(self) -> None:
        with self._lock:
            self._data["finalizing"] = True
            self._save()

    def finalizing(self) -> bool:
        with self._lock:
            return bool(self._data.get("finalizing"))

    def set_early_final(self, url: str | None) -> None:
        """The final upload asked for before the parts were complete (``concatenation-
        unfinished``): ``""`` while its POST is under way (a lost answer may have made it),
        its URL once known, None to forget it."""
        with self._lock:
            if url is None:
                self._data.pop("final", None)
            else:
                self._data["final"] = url
            self._save()

    def early_final(self) -> str | None:
        """``set_early_final``'s value: None (none asked for), ``""`` (answer unknown) or a URL."""
        with self._lock:
            value = self._data.get("final")
        return value if isinstance(value, str) else None

    def mark_complete(self, url: str) -> None:
        """The server has every byte of the upload at ``url`` (the parts are its business now)."""
        with self._lock:
            self._data["url"] = url
            self._data["complete"] = True
            for name in ("parts", "finalizing", "final", "expires"):
                self._data.pop(name, None)
            self._save()

    def reopen(self, url: str) -> None:
        """``url`` is not complete after all (the server holds less): the next run resumes it."""
        with self._lock:
            self._data["url"] = url
            self._data.pop("complete", None)
            self._save()

    def urls(self) -> list[str]:
        """Every upload URL held, the final one first (a cancel deletes it before its parts)."""
        with self._lock:
            found = [self._data.get("final"), self._data.get("url"), *self._parts().values()]
        return [u for u in found if isinstance(u, str) and u]

    def forget_urls(self) -> None:
        """Drop every URL but keep the file's record (so a changed file stays refused)."""
        with self._lock:
            for name in ("url", "parts", "finalizing", "complete", "final", "expires"):
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

    def _forget_expiry(self, url: object) -> None:
        kept = self._data.get("expires")
        if isinstance(kept, dict) and isinstance(url, str):
            kept.pop(url, None)

    def _parts(self) -> dict[str, str]:
        parts = self._data.get("parts")
        return {str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {}

    def _save(self) -> None:
        self._checkpoint.save(json.loads(json.dumps(self._data)))
