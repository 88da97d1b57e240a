"""What an upload job works with: its limits and messages, what it is given (``UploadSpec``)
and what it returns (``UploadResult``)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"

#: largest block read from the file and handed to the socket at once
MAX_BLOCK = 256 * KIB
#: smallest block, when the link is so slow that a 256 KiB send would look like a stall
MIN_BLOCK = 16 * KIB
#: the smallest chunk size a user may choose (``alu tus-put --chunk-size``): each chunk is a
#: request and a round trip, so 1 byte a chunk crawled at ~4 KB/s on loopback; one stored
#: smaller (queued before there was a floor) is not used: the engine adapts instead
MIN_CHOSEN_CHUNK = 64 * KIB
#: a parallel upload's connection whose chunks go at less than this fraction of its siblings'
#: is renewed at a chunk's end (see ``_JobServices.starved``); chunks shorter than
#: ``JUDGE_MIN_S`` are not judged, siblings' figures older than ``SIBLINGS_RECENT_S`` not
#: counted, and a stream is renewed at most once per ``RENEW_EVERY_S``
STARVED_RATIO = 0.5
JUDGE_MIN_S = 4.0
SIBLINGS_RECENT_S = 30.0
RENEW_EVERY_S = 30.0
#: the adaptive chunk size aims at chunks of about this many seconds...
TARGET_CHUNK_S = 8.0
#: ...and never grows beyond this. Each chunk's end waits for the server to store it (the hub
#: fsyncs the file and its database) and answer, so on a LAN or loopback fewer, larger chunks
#: gain: a 1 GiB loopback upload with chunks of up to 256 MiB took ~14 % less time than with
#: up to 64 MiB (8 chunks against 18, from a 16 MiB first one). Only links faster than 32 MB/s
#: reach it (a chunk is ~8 s of the link), a cut re-sends at most that, and memory does not
#: grow with it (bodies are streamed).
MAX_CHUNK = 256 * MIB
#: files at least this large use the tuning's parallel parts when ``spec.parallel`` is None
PARALLEL_THRESHOLD = 64 * MIB
#: a part is never smaller than this
MIN_PART = 1 * MIB
#: the last parts of a parallel upload are at most about this large (see ``protocol._plan``)
PART_FLOOR_MAX = 4 * MIB
#: HEAD-resumes in a row without progress before the run gives up (RetryableError)
QUICK_RESUMES = 3
#: a Retry-After longer than this is left to the queue (RetryableError at once)
MAX_WAIT_IN_RUN = 10.0
#: 423 answers in a row before RetryableError
LOCKED_TRIES = 5
#: 460 answers for one chunk before RetryableError
CHECKSUM_TRIES = 3
#: checksum algorithms we may use; of those the server lists, the fastest on this CPU is taken
#: (crc32 only from a server that says its byte order: ``Alu-Tus-Features: crc32-big-endian``)
CHECKSUM_PREFERENCE = ("crc32", "sha1", "sha256", "md5")

FILE_CHANGED = "The file changed since the upload started; add it again."
#: a file's modification time changed during its upload, its content did not (checked whole)
MSG_TOUCHED = (
    "The file changed during the upload; its content is checked before the upload goes on."
)
#: the file or its folder cannot be reached now (a network share reconnecting): it waits
MSG_FOLDER_AWAY = (
    "The file {name} cannot be reached now (its folder or drive is away: a network share?);"
    " the upload goes on when it is back."
)
#: another program has the file open and lets no one read it (Windows: a sharing violation)
MSG_SOURCE_IN_USE = (
    "The file {name} is in use by another program (still being exported or copied?); the "
    "upload goes on when it is free."
)
#: a hot folder's file replaced by a link (or a special file) after it was taken
MSG_SOURCE_LINK = (
    "The file {name} was replaced by a link (a shortcut to a file elsewhere) after it was"
    " taken from the hot folder: links are not followed, so it was not uploaded. Put the file"
    " itself in the folder."
)
LOST_NOTE = "The hub had lost the partial upload; it started again from the beginning."
EXPIRED_NOTE = "The partial upload had expired at the hub; it started again from the beginning."
LOST_TRACK = (
    "The connection dropped just as the hub was joining the parts of the file, and this computer "
    "could not learn what became of it; check the feed before adding the file again."
)


# --- the job's API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadSpec:
    path: Path
    #: the tus collection URL (``…/api/v1/uploads/`` on the hub)
    endpoint: str
    #: Upload-Metadata; the caller includes sha256, title, …; "filename" and "filetype" are
    #: added when missing (see ``described``)
    metadata: dict[str, str]
    #: None = adaptive, starting at what the link carries (``tuning.upload_first_chunk`` when
    #: nothing is known of it)
    chunk_size: int | None = None
    #: parts when the server offers concatenation; None = ``tuning.max_parallel_uploads`` for
    #: files of 64 MiB or more on a path whose round trip is at least
    #: ``tuning.parallel_upload_min_rtt``, else 1 (a resumed upload keeps its parts)
    parallel: int | None = None
    #: a hot folder's file (a drop folder others may write): a link at ``path``, or a special
    #: file, is not followed, also when put there after the file was taken (see ``nofollow``)
    no_follow: bool = False


@dataclass(frozen=True)
class UploadResult:
    #: the upload (or, with parts, the final upload); a secret, like every upload URL
    url: str
    size: int
    #: body bytes handed to the network in this run (a cut chunk's bytes count once more)
    bytes_sent: int
    #: the server had lost the upload (404/410/expired) and a new one was created
    restarted: bool
    #: from the hub's ``Alu-Upload-State``, ``Alu-Item-Id``, ``Alu-Error`` when present
    state: str
    item_id: str | None
    error: str


def metadata_name_ok(key: str) -> bool:
    """Whether ``key`` can name a tus Upload-Metadata pair: not empty, no space or comma
    (tus 1.0: "The key MUST NOT contain spaces and commas and MUST NOT be empty", "SHOULD be
    ASCII encoded"), and printable ASCII (a control character cannot go in a header)."""
    return bool(key) and all(" " < c < "\x7f" and c != "," for c in key)


def described(spec: UploadSpec) -> dict[str, str]:
    """``spec.metadata`` with the file's name and media type where the caller gave none, as
    tus-js-client (Uppy) sends them and servers built for it expect them: tuspyserver answers
    HEAD with 400 on a whole upload without "filetype", so the upload could not resume after a
    network error. The hub ignores "filetype"."""
    guessed, _ = mimetypes.guess_type(spec.path.name, strict=False)
    return {
        "filename": spec.path.name,
        "filetype": guessed or "application/octet-stream",
        **spec.metadata,
    }
