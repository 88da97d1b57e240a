"""What a member's upload carries: the item fields, checked here before any byte is sent, so
the user hears "a title is needed" at once rather than from the hub after a 1 GB upload.

The same rules as the hub's (``alu_hub.publish.ItemFields``), written out here because the
client talks to a hub over HTTP and must not depend on the hub's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .durations import duration_words

log = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "ar")
PRIORITIES = ("flash", "urgent", "routine")
_LIMITS = {"title": 500, "slug": 200, "dateline": 200, "category": 64, "region": 64}
_LONG = ("restrictions", "script", "shotlist")
#: the most characters a script, shot list or restrictions may have (``long_text``'s length)
LONG_LIMIT = 20_000
#: the hub's default limit on the Upload-Metadata header (``Settings.max_metadata_bytes``):
#: the fields go in it as base64 of UTF-8, so 20,000 emoji (4 bytes each) in each of two
#: fields pass the character limit and not this one
MAX_METADATA_BYTES = 192 * 1024
#: kept free in it for the file name (at most 255 bytes) and the sha256, added at upload
_METADATA_RESERVE = 512
MSG_TEXTS_TOO_LARGE = (
    "The script, shot list and restrictions are too long together for the hub "
    "({size} KiB once encoded; at most {limit} KiB): shorten this text."
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


#: the recording dates the hub takes are 1900 to two days after its today; a day here, so that a
#: workstation's clock a little ahead of the hub's is not refused after the form closed
EARLIEST_RECORDING = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
RECORDED_AHEAD = dt.timedelta(days=1)
MSG_RECORDED_AHEAD = "The recording date is in the future; check it (and the camera's clock)."
#: ... with this computer's clock off from the hub's by more than this (seconds, as the app's
#: status bar says it): the date is measured on the hub's clock, and the clock is what to fix
CLOCK_OFF_S = 5 * 60.0
MSG_RECORDED_AHEAD_FAST_CLOCK = (
    "The recording date is in the future (hub time {hub_now} UTC); this computer's clock is "
    "{how_long} ahead of the hub's: check the date, and set the clock right in the system's "
    "date and time settings."
)
MSG_RECORDED_AHEAD_SLOW_CLOCK = (
    "The recording date is in the future (hub time {hub_now} UTC); this computer's clock is "
    "{how_long} behind the hub's: check the date, and set the clock right in the system's "
    "date and time settings."
)
MSG_RECORDED_TOO_EARLY = "The recording date is before 1900."


class FieldError(ValueError):
    """A field the user must fix; ``field`` names it for the form. A text too long also gives
    its ``length`` and the ``limit`` (characters), for the form to say them in the user's
    digits."""

    def __init__(
        self,
        field: str,
        message: str,
        *,
        length: int | None = None,
        limit: int | None = None,
        clock_offset: float | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.length = length
        self.limit = limit
        #: a recording date in the future on the hub's clock, this computer's being off from it
        #: (the hub's minus this one's, seconds): for the form to say so
        self.clock_offset = clock_offset


def long_text(value: str) -> str:
    """A script, shot list or restrictions as it is checked (``LONG_LIMIT``) and sent: without
    control characters and direction overrides, Windows line ends made ``\\n``, stripped."""
    return _CONTROL.sub("", value).replace("\r\n", "\n").strip()


@dataclass
class UploadFields:
    title: str
    slug: str = ""
    dateline: str = ""
    recorded_at: str = ""  # ISO 8601 date or date-time; '' = unknown
    language: str = "en"
    category: str = ""
    region: str = ""
    country: str = ""
    priority: str = "routine"
    restrictions: str = ""
    script: str = ""
    shotlist: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> UploadFields:
        """From a sidecar, a form or CLI options; unknown keys are ignored, values made text."""
        known = {f.name for f in fields(cls)}
        kw = {k: "" if v is None else str(v) for k, v in values.items() if k in known}
        kw.setdefault("title", "")
        return cls(**kw)

    def validated(self, clock_offset: float = 0.0) -> UploadFields:
        """A cleaned copy, or FieldError saying what to fix. ``clock_offset``: the hub's clock
        minus this workstation's (seconds, ``hub_clock_offset``), the recording date being
        checked on the hub's clock as the hub checks it."""
        out = UploadFields(**asdict(self))
        for name, limit in _LIMITS.items():
            value = " ".join(_CONTROL.sub("", getattr(out, name)).split())
            if len(value) > limit:
                raise FieldError(
                    name,
                    f"The {name} is too long ({len(value)} characters; at most {limit}).",
                    length=len(value),
                    limit=limit,
                )
            setattr(out, name, value)
        for name in _LONG:
            value = long_text(getattr(out, name))
            if len(value) > LONG_LIMIT:
                # its length said as the hub and the other fields say it (how much to cut)
                raise FieldError(
                    name,
                    f"The {name} is too long ({len(value)} characters; at most {LONG_LIMIT}).",
                    length=len(value),
                    limit=LONG_LIMIT,
                )
            setattr(out, name, value)
        if not out.title:
            raise FieldError("title", "A title is needed.")
        self._check_encoded_size(out)
        out.language = out.language.strip().lower() or "en"
        if out.language not in LANGUAGES:
            raise FieldError("language", "The language must be English, French or Arabic.")
        out.priority = out.priority.strip().lower() or "routine"
        if out.priority not in PRIORITIES:
            raise FieldError("priority", "The priority must be flash, urgent or routine.")
        out.country = out.country.strip().upper()
        if out.country and not re.fullmatch(r"[A-Z]{2}", out.country):
            raise FieldError("country", "The country is a two-letter code, like KE or SN.")
        out.recorded_at = out.recorded_at.strip()
        if out.recorded_at:
            try:
                when = dt.datetime.fromisoformat(out.recorded_at.replace("Z", "+00:00"))
            except ValueError:
                raise FieldError(
                    "recorded_at",
                    "The recording date is not a date (use 2026-11-22 or 2026-11-22T14:30).",
                ) from None
            if when.tzinfo is None:
                # this workstation's local time, as the app's Upload form sends it (the same
                # 20:30 typed in the form and given to `alu put` was 3 h apart in Nairobi)
                when = when.astimezone()
            # the hub takes 1900 to two days after its today: refused here, the form keeps
            # what was typed (refused by the hub, the upload failed after the form closed)
            if when < EARLIEST_RECORDING:
                raise FieldError("recorded_at", MSG_RECORDED_TOO_EARLY)
            _check_not_ahead(when, clock_offset)
            out.recorded_at = when.isoformat()
        return out

    @staticmethod
    def _check_encoded_size(out: UploadFields) -> None:
        """FieldError (at the longest text) when the fields would make an Upload-Metadata the
        hub refuses: it counts bytes of base64, the form counts characters."""
        size = _METADATA_RESERVE + sum(
            len(k) + 2 + 4 * ((len(v.encode("utf-8")) + 2) // 3) for k, v in asdict(out).items()
        )
        if size <= MAX_METADATA_BYTES:
            return
        longest = max(_LONG, key=lambda name: len(getattr(out, name).encode("utf-8")))
        raise FieldError(
            longest,
            MSG_TEXTS_TOO_LARGE.format(size=-(-size // 1024), limit=MAX_METADATA_BYTES // 1024),
        )

    def metadata(self, path: Path, sha256: str, clock_offset: float = 0.0) -> dict[str, str]:
        """tus Upload-Metadata for the hub: the fields, the file name and its sha256."""
        clean = self.validated(clock_offset)
        meta = {k: v for k, v in asdict(clean).items() if v}
        meta["filename"] = path.name
        meta["sha256"] = sha256
        return meta


def _check_not_ahead(when: dt.datetime, clock_offset: float) -> None:
    """FieldError when ``when`` is after the hub's today (this clock corrected by
    ``clock_offset``) and a day: saying how far this clock is off when it is."""
    hub_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=clock_offset)
    if when <= hub_now + RECORDED_AHEAD:
        return
    if abs(clock_offset) <= CLOCK_OFF_S:
        raise FieldError("recorded_at", MSG_RECORDED_AHEAD)
    text = MSG_RECORDED_AHEAD_SLOW_CLOCK if clock_offset > 0 else MSG_RECORDED_AHEAD_FAST_CLOCK
    message = text.format(
        hub_now=hub_now.strftime("%Y-%m-%d %H:%M"), how_long=duration_words(abs(clock_offset))
    )
    raise FieldError("recorded_at", message, clock_offset=clock_offset)


def title_from_filename(path: Path) -> str:
    """``2026-11-22_nairobi-floods_v2.mp4`` → ``2026 11 22 nairobi floods v2`` (a starting point
    for the form; the user edits it)."""
    return " ".join(re.sub(r"[_\-.]+", " ", path.stem).split())


def file_sha256(
    path: Path, progress: Callable[[int], None] | None = None, block: int = 1 << 20
) -> str:
    """The sha256 the hub checks the upload against (a worker's job: 1 GB takes seconds)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()


_no_probe_said = threading.Event()


def video_problem(path: Path) -> str:
    """Why the hub would refuse ``path`` as not a video it can read, in a sentence that names
    the file ('' when it is one): the upload form's probe (``core.media``), for ``alu put`` and
    the hot folders too — a 5 GB file that is no video was sent whole before the hub said so.
    Reads the headers only. Without FFmpeg (PyAV) nothing can be looked at: that is said once,
    and the file goes as before (the hub decides)."""
    try:
        from . import media  # (PyAV: FFmpeg's libraries)
    except ImportError as e:
        if not _no_probe_said.is_set():
            _no_probe_said.set()
            log.warning(
                "FFmpeg (PyAV) is not available (%s): files are uploaded without being checked"
                " to be videos first; the hub checks them.",
                e,
            )
        return ""
    try:
        media.probe_video(path)
    except media.MediaError as e:
        return str(e)
    return ""
