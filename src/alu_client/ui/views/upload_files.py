"""What the upload dialog works on, without the dialog: which dropped files are videos, taking
drops on a widget, what a file holds (probe, thumbnail, recording date) and its sha256 with
progress that can be canceled. The last two are worker jobs (they read whole files).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QWidget,
)

from ...core import media
from ...core.uploads import file_sha256
from .. import formats
from ..os_text import os_error_text

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".mxf", ".mkv", ".avi", ".m4v", ".mts", ".m2ts", ".webm"}
)
# a recording date before this is a camera's unset clock, not a date
_EARLIEST_RECORDING = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


# --- what was dropped ------------------------------------------------------------------------


def _hidden(path: Path) -> bool:
    if path.name.startswith("."):
        return True
    attrs = getattr(path.lstat(), "st_file_attributes", 0)  # Windows
    return bool(attrs & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def collect_files(urls: Sequence[QUrl]) -> tuple[list[Path], list[str]]:
    """The video files among ``urls``, folders searched through (hidden files and folders in
    them left out), each once, in order; and a sentence for each thing left out. Reads the
    disk: call it off the GUI thread for folders."""
    files: list[Path] = []
    skipped: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    def not_video(path: Path) -> None:
        skipped.append(
            QCoreApplication.translate("Upload", "{name} is not a video file.").format(
                name=formats.isolated(path.name)
            )
        )

    def unreadable(path: Path, error: OSError) -> None:
        skipped.append(
            QCoreApplication.translate("Upload", "{name} could not be read ({reason}).").format(
                name=formats.isolated(path.name or str(path)), reason=os_error_text(error)
            )
        )

    def kind(path: Path) -> str:
        """'hidden', 'dir', 'file' or 'other'; raises OSError for what cannot be looked at
        (in a shared disk's folder that can be listed but not entered)."""
        if _hidden(path):
            return "hidden"
        if path.is_dir():
            return "dir"
        return "file" if path.is_file() else "other"

    def left_out(path: Path) -> None:
        """``path`` is neither a folder nor a file: say why (it was dropped from the batch
        without a word, or "was not found" for a link that loops)."""
        try:
            path.stat()
        except FileNotFoundError:  # (a link to a card no longer mounted)
            skipped.append(
                QCoreApplication.translate("Upload", "{name} was not found.").format(
                    name=formats.isolated(path.name or str(path))
                )
            )
        except OSError as e:  # a link that loops, …
            unreadable(path, e)
        else:
            skipped.append(
                QCoreApplication.translate(
                    "Upload", "{name} is not a regular file (a pipe or a device)."
                ).format(name=formats.isolated(path.name or str(path)))
            )

    def walk_error(error: OSError) -> None:
        where = Path(error.filename) if error.filename else None
        if where is not None:
            unreadable(where, error)

    for url in urls:
        if not url.isLocalFile():
            skipped.append(
                QCoreApplication.translate(
                    "Upload", "{url} is not a file on this computer."
                ).format(url=formats.isolated(url.toDisplayString()))
            )
            continue
        path = Path(url.toLocalFile())
        try:
            what = "dir" if path.is_dir() else "file" if path.is_file() else "missing"
        except OSError as e:  # in a folder that cannot be entered
            unreadable(path, e)
            continue
        if what == "dir":
            found = 0
            for root, dirs, names in os.walk(path, onerror=walk_error):
                try:
                    # what the folder holds is looked at before anything is taken: a folder
                    # that can be listed but not entered is said once (it raised, and the
                    # whole drop did nothing)
                    kept = sorted(d for d in dirs if kind(Path(root) / d) == "dir")
                    here = [(Path(root) / n, kind(Path(root) / n)) for n in sorted(names)]
                except OSError as e:
                    dirs[:] = []
                    unreadable(Path(root), e)
                    continue
                dirs[:] = kept
                for child, what_child in here:
                    if what_child == "hidden":
                        continue
                    if what_child != "file":
                        left_out(child)
                    elif _is_video(child):
                        add(child)
                        found += 1
                    else:
                        not_video(child)
            if not found:
                skipped.append(
                    QCoreApplication.translate(
                        "Upload", "The folder {name} has no video files."
                    ).format(name=formats.isolated(path.name))
                )
        elif what == "file":
            if _is_video(path):
                add(path)
            else:
                not_video(path)
        else:
            left_out(path)
    return files, skipped


_DragEvent = QDragEnterEvent | QDragMoveEvent | QDropEvent


class DropTarget(QObject):
    """Makes ``widget`` take drops of files and folders (its children too, unless they take
    drops themselves); ``dropped(list[QUrl])`` on each drop."""

    dropped = Signal(list)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    @staticmethod
    def accepts(event: _DragEvent) -> bool:
        """Whether a drag carries local files or folders (nothing else is worth taking)."""
        mime = event.mimeData()
        return mime is not None and mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    @staticmethod
    def urls(event: _DragEvent) -> list[QUrl]:
        mime = event.mimeData()
        return list(mime.urls()) if mime is not None and mime.hasUrls() else []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            assert isinstance(event, QDragEnterEvent | QDragMoveEvent | QDropEvent)
            if not self.accepts(event):
                return False  # not files: the widget does what it does with it
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            if kind == QEvent.Type.Drop:
                self.dropped.emit(self.urls(event))
            return True
        return super().eventFilter(watched, event)


# --- probing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspection:
    probe: media.Probe | None
    error: str
    thumbnail: QImage | None
    #: when the footage was shot, as the file's own tag says it (cameras write it); None when
    #: the file does not say
    recorded: dt.datetime | None
    #: the file's (size, mtime_ns) before it was probed; None if it could not be seen
    stamp: tuple[int, int] | None = None
    #: the file system's birth or modification time: a guess at ``recorded`` for a file
    #: without the tag (a copy or an export is dated when it was made), never a known date
    file_time: dt.datetime | None = None


def _tagged_time(path: Path) -> dt.datetime | None:
    """When the footage was shot, as the container's creation time tag says (cameras write
    it); None without one, or with a camera's unset clock."""
    when: dt.datetime | None = None
    with contextlib.suppress(Exception):  # a tag we cannot read is no date, not an error
        with av.open(str(path), "r", metadata_errors="replace") as container:
            tag = str(container.metadata.get("creation_time") or "")
        if tag:
            when = dt.datetime.fromisoformat(tag.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
    return when if when is not None and when >= _EARLIEST_RECORDING else None


def _file_time(path: Path) -> dt.datetime | None:
    """The file's birth time (where the system keeps one), else its modification time."""
    try:
        st = path.stat()
    except OSError:
        return None
    epoch = getattr(st, "st_birthtime", None) or st.st_mtime
    when = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return when if when >= _EARLIEST_RECORDING else None


def inspect_file(path: Path, thumbnail: Path) -> Inspection:
    """Probe ``path`` and make its thumbnail at ``thumbnail`` (a worker's job)."""
    stamp = file_stamp(path)
    recorded, file_time = _tagged_time(path), _file_time(path)
    try:
        probe = media.probe_video(path)
    except media.MediaError as e:
        return Inspection(None, str(e), None, recorded, stamp, file_time)
    image = None
    if probe.video_codec is not None:
        with contextlib.suppress(media.MediaError):
            media.make_thumbnail(path, thumbnail)
            loaded = QImage(str(thumbnail))
            image = None if loaded.isNull() else loaded
    return Inspection(probe, "", image, recorded, stamp, file_time)


def file_stamp(path: Path) -> tuple[int, int] | None:
    """``path``'s (size, mtime_ns), None if it cannot be seen: what tells a file still being
    copied (or replaced) from the one that was read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class Canceled(Exception):
    pass


class Unreadable(Exception):
    """``path`` can no longer be read (removed, card ejected, permissions changed)."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path.name} can no longer be read ({error.strerror or error}).")
        self.path = path
        self.error = error


class StillCopying(Exception):
    """``path`` changed while it was read: a copy still being written."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path.name} changed while it was read (is it still being copied?).")
        self.path = path


@dataclass(frozen=True)
class Hashed:
    """A file's sha256 and the size and modification time it had, unchanged, while read."""

    sha256: str
    size: int
    mtime_ns: int

    def matches(self, path: Path) -> bool:
        """Whether ``path`` is still the file that was hashed (raises OSError)."""
        st = path.stat()
        return (st.st_size, st.st_mtime_ns) == (self.size, self.mtime_ns)


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as e:
        raise Unreadable(path, e) from None


def hash_all(
    paths: list[Path], cancel: threading.Event, report: Callable[[int, int], None]
) -> list[Hashed]:
    """The sha256 of each file (the hub checks it), reporting at most ~10 times a second.
    Raises ``Unreadable`` for a file that cannot be read, ``StillCopying`` for one whose size
    or modification time changed while it was read (a snapshot of a growing file: its
    upload sent more than it declared and the hub refused its checksum), ``Canceled``."""
    total = sum(_stat(p).st_size for p in paths)
    done = read = 0
    last = 0.0
    out = []

    def progress(n: int) -> None:
        nonlocal done, last, read
        if cancel.is_set():
            raise Canceled()
        done += n
        read += n
        now = time.monotonic()
        if now - last >= 0.1:
            last = now
            report(done, total)

    for path in paths:
        if cancel.is_set():
            raise Canceled()
        before = _stat(path)
        read = 0
        try:
            digest = file_sha256(path, progress)
        except OSError as e:
            raise Unreadable(path, e) from None
        after = _stat(path)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or (
            read != after.st_size
        ):
            raise StillCopying(path)
        out.append(Hashed(digest, after.st_size, after.st_mtime_ns))
    report(total, total)
    return out
