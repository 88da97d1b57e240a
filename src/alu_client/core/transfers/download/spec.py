"""What a download job is given (``DownloadSpec``) and what it returns (``DownloadResult``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadSpec:
    url: str
    #: final path; bytes go to dest + ".part" beside it until verified
    dest: Path
    #: expected sha256 (hex); None = no hash check (alu fetch without --sha256)
    sha256: str | None = None
    #: expected size if known
    size: int | None = None
    #: max parallel streams; None = tuning.max_segments; 1 = single stream
    segments: int | None = None


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    #: bytes received over the network in this run
    bytes_fetched: int
    #: partial data had to be discarded (changed ETag, hash mismatch, Range ignored)
    restarted: bool
    #: the size was checked against one known beforehand (the spec's, or the server's
    #: Content-Length/Content-Range); False when the body simply ended (a server that gave no
    #: length), which a truncated body cannot be told apart from without a sha256
    size_checked: bool = True
    #: the file's ``st_mtime_ns`` as its file system gave it once in place (None: it could not
    #: be read): the library deletes the file later only while it still has this time
    mtime_ns: int | None = None
