"""What a downloaded file holds (probe) and a picture of it (thumbnail), with PyAV; and the
worker that makes both for the library, on its own thread.

No Qt and no ``alu_hub`` here. Every way a file can be wrong — missing, empty, not media,
undecodable — is a ``MediaError`` whose message is a plain sentence naming the file; FFmpeg
never takes the process down and the worker moves on to the next file.

PyAV is imported by the functions that use it, not here: loading FFmpeg takes ~50 ms, which
``alu fetch`` and the other verbs that import the services never need.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .paths import Paths
from .store import Store

log = logging.getLogger(__name__)

#: frames decoded past a seek point before settling for the last one (long-GOP sources)
_MAX_FRAMES_AFTER_SEEK = 300
#: JPEG quantiser scale (2 best … 31 worst) and FFmpeg's factor to "global_quality"
_JPEG_QSCALE = 3
_FF_QP2LAMBDA = 118


class MediaError(Exception):
    """A file is not a video or audio file we can read; ``str()`` says so in plain words."""


@dataclass(frozen=True)
class Probe:
    duration: float  #: seconds, 0.0 if unknown
    container: str  #: FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec: str | None  #: "h264", "prores", …; None for sound only
    width: int
    height: int
    fps: float
    audio_codec: str | None  #: "aac", "pcm_s24le", …; None for silent files
    channels: int
    sample_rate: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = str(text).strip().rstrip(".")
    return text[:1].lower() + text[1:]


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """The input container of ``path``; every way opening fails is a MediaError."""
    import av
    from av.error import FFmpegError

    name = path.name
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError(f"{name} was not found.") from None
    except OSError as e:
        raise MediaError(f"{name} could not be opened ({_reason(e)}).") from None
    if path.is_dir():
        raise MediaError(f"{name} is a folder, not a video file.")
    if st.st_size == 0:
        raise MediaError(f"{name} is empty (0 bytes).")
    try:
        container = av.open(str(path), "r", metadata_errors="replace")
    except PermissionError as e:  # av's is an FFmpegError too: the file is not the problem
        raise MediaError(f"{name} could not be opened ({_reason(e)}).") from None
    except FFmpegError as e:
        raise MediaError(f"{name} is not a video file we can read ({_reason(e)}).") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise MediaError(f"{name} could not be opened ({_reason(e)}).") from None
    try:
        yield container
    finally:
        container.close()


def _video_stream(container: Any) -> Any | None:
    """The main picture; cover art in a sound file (an attached picture) is not one."""
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _codec_name(stream: Any) -> str:
    from av.error import FFmpegError

    try:
        return str(stream.codec_context.codec.canonical_name)
    except (FFmpegError, ValueError, AttributeError):
        return str(stream.codec_context.name or "unknown")


def _duration(container: Any) -> float:
    import av

    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    longest = 0.0
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest


def _check_complete(path: Path, container: Any) -> None:
    """Refuse an MP4/MOV whose sample index points past the end of the file: with the index
    first (as cameras and the hub write them), a copy cut short still opens and reports its
    full length. Reads no media data; other containers are left alone."""
    if not str(container.format.name).startswith("mov,"):
        return
    size = path.stat().st_size
    for stream in container.streams:
        entries = stream.index_entries
        if len(entries) and entries[len(entries) - 1].pos + entries[len(entries) - 1].size > size:
            raise MediaError(
                f"{path.name} is incomplete: it stops before the end of its video "
                "(was the copy cut short?)."
            )


#: FFmpeg's demuxers of pictures: "image2" (files by name), "image2pipe" and the
#: "<codec>_pipe" ones (jpeg_pipe, png_pipe, webp_pipe…), and the animated formats (the hub's)
_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe", "gif", "apng", "webp"})


def _is_still(container_name: str, frames: int) -> bool:
    """A photo or a drawing rather than moving pictures, as the hub judges it
    (``alu_hub.media.probe``): an image demuxer read it, or its header counts one frame."""
    return container_name in _IMAGE_DEMUXERS or container_name.endswith("_pipe") or frames == 1


def probe(path: Path) -> Probe:
    """Describe ``path`` from its headers. Raises MediaError for a missing, empty, corrupt or
    non-media file."""
    path = Path(path)
    with _opened(path) as container:
        video = _video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise MediaError(f"{path.name} has no picture or sound in it.")
        if video is not None and video.codec_context.width <= 0 and audio is None:
            raise MediaError(f"{path.name} is not a video file we can read (no picture size).")
        if video is not None and _is_still(str(container.format.name), video.frames):
            # (the hub refuses it once it has every byte: a photo dragged in went whole)
            raise MediaError(f"{path.name} is a still picture, not a video file.")
        _check_complete(path, container)
        fps = 0.0
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            fps = float(rate) if rate else 0.0
        return Probe(
            duration=_duration(container),
            container=str(container.format.name),
            video_codec=_codec_name(video) if video is not None else None,
            width=int(video.codec_context.width) if video is not None else 0,
            height=int(video.codec_context.height) if video is not None else 0,
            fps=fps,
            audio_codec=_codec_name(audio) if audio is not None else None,
            channels=int(audio.codec_context.channels) if audio is not None else 0,
            sample_rate=int(audio.codec_context.sample_rate) if audio is not None else 0,
        )


def probe_video(path: Path) -> Probe:
    """``probe``, refusing as well what the hub will not publish as a video: a file with sound
    and no picture (the hub says so once it has every byte; over a slow link an hour of sound
    went whole first). For what is to be sent; the library's files are described as they are."""
    info = probe(path)
    if info.video_codec is None:
        raise MediaError(f"{Path(path).name} has sound but no picture: it is not a video file.")
    return info


# --- thumbnails ----------------------------------------------------------------------------------


def _frame_near(container: Any, video: Any, seconds: float) -> Any | None:
    """The first frame at or after ``seconds`` (None if seeking fails: the caller decodes
    from the start instead)."""
    from av.error import FFmpegError

    if seconds <= 0 or video.time_base is None:
        return None
    target = (video.start_time or 0) + int(seconds / video.time_base)
    last = None
    try:
        container.seek(target, stream=video)
        for count, frame in enumerate(container.decode(video)):
            last = frame
            if frame.pts is None or frame.pts >= target or count >= _MAX_FRAMES_AFTER_SEEK:
                break
    except FFmpegError:
        return None
    return last


def _first_frame(container: Any, video: Any, name: str) -> Any:
    container.seek(0)
    for frame in container.decode(video):
        return frame
    raise MediaError(f"{name} could not be decoded (no picture found).")


def _upright(frame: Any) -> Any:
    """The frame turned as a phone's rotation flag says it is meant to be seen."""
    import av.filter

    turn = round(-int(getattr(frame, "rotation", 0) or 0) / 90) % 4 * 90
    if turn == 0:
        return frame
    filters: dict[int, list[tuple[str, str | None]]] = {
        90: [("transpose", "clock")],
        180: [("hflip", None), ("vflip", None)],
        270: [("transpose", "cclock")],
    }
    graph = av.filter.Graph()
    nodes = [
        graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format,
            time_base=frame.time_base or Fraction(1, 90_000),
        )
    ]
    nodes += [graph.add(n, a) for n, a in filters[turn]]
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    graph.vpush(frame)
    return graph.vpull()


def _jpeg(picture: Any) -> bytes:
    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width = picture.width
    codec.height = picture.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.qscale = True  # a fixed quality: the default bit rate would starve one still
    codec.global_quality = _JPEG_QSCALE * _FF_QP2LAMBDA
    data = b"".join(bytes(p) for p in codec.encode(picture) + codec.encode(None))
    if not (data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")):
        raise MediaError("the picture could not be encoded as JPEG.")
    return data


def make_thumbnail(path: Path, dest: Path, width: int = 320, *, info: Probe | None = None) -> Path:
    """Write a JPEG of the frame about 10 % into ``path`` (past the black or slate many clips
    start with) to ``dest``, ``width`` pixels wide in the picture's proportions. The file
    appears at ``dest`` whole or not at all. Raises MediaError when there is no picture.
    ``info``: ``path``'s probe when the caller has made it (the file is not read twice)."""
    from av.error import FFmpegError

    path, dest = Path(path), Path(dest)
    if info is None:
        info = probe(path)
    if info.video_codec is None:
        raise MediaError(f"{path.name} has no picture to make a thumbnail from.")
    try:
        with _opened(path) as container:
            video = _video_stream(container)
            assert video is not None  # probe() found it
            sar = video.codec_context.sample_aspect_ratio
            frame = _frame_near(container, video, info.duration * 0.1)
            if frame is None:
                frame = _first_frame(container, video, path.name)
            frame = _upright(frame)
            shown_w = frame.width * (float(sar) if sar else 1.0)
            out_w = max(2, width - width % 2)
            out_h = max(2, round(out_w * frame.height / shown_w / 2) * 2)
            picture = frame.reformat(width=out_w, height=out_h, format="yuvj420p")
            picture.pts = None
            data = _jpeg(picture)
    except FFmpegError as e:
        raise MediaError(f"{path.name} could not be decoded ({_reason(e)}).") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".jpg", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return dest


# --- the worker ----------------------------------------------------------------------------------

_PENDING = (
    "SELECT id, item_id, path, sha256 FROM library_files"
    " WHERE probe IS NULL AND probe_error = '' AND state = 'present' ORDER BY id LIMIT 20"
)


class MediaWorker:
    """Probes and thumbnails library files on a thread of its own: the files recorded
    ``present`` and not probed yet. ``wake()`` after recording a file (it also looks every
    ``poll_s`` by itself); a file that fails gets its ``probe_error`` and is not tried again
    until it is downloaded again. Thumbnails are ``<sha256>.jpg`` under the thumbnails folder:
    the same bytes downloaded twice share one."""

    def __init__(self, store: Store, paths: Paths, *, poll_s: float = 60.0) -> None:
        self.store = store
        self.thumbnails = paths.thumbnails_dir
        self.poll_s = poll_s
        self._cond = threading.Condition()
        self._wakes = 0
        self._idle = False
        self._stopping = False
        #: called on the worker's thread with the library file id and its item's id after each
        #: file is handled (a view showing the item reads that one again, not every row)
        self.on_done: Callable[[int, str], None] | None = None
        self._thread = threading.Thread(target=self._run, name="alu-media", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._wakes += 1
            self._idle = False
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the file at hand (a probe takes a moment; a thumbnail a second)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every file recorded before this call is handled; False on timeout."""
        self.wake()
        with self._cond:
            return self._cond.wait_for(
                lambda: self._idle or self._stopping or not self._thread.is_alive(), timeout
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                seen = self._wakes
            try:
                self._drain()
            except Exception:
                # the store itself failed (disk full, locked too long): try again later
                log.exception("the media worker could not reach the library")
            with self._cond:
                if self._wakes == seen:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait_for(self._woken(seen), self.poll_s)

    def _woken(self, seen: int) -> Callable[[], bool]:
        return lambda: self._stopping or self._wakes != seen

    def _drain(self) -> None:
        while True:
            rows = self.store.query(_PENDING)
            if not rows:
                return
            for row in rows:
                with self._cond:
                    if self._stopping:
                        return
                self._handle(row["id"], str(row["item_id"]), Path(row["path"]), row["sha256"])

    def _handle(self, file_id: int, item_id: str, path: Path, sha256: str) -> None:
        probe_json: str | None = None
        error = ""
        thumbnail = ""
        try:
            info = probe(path)
            data = info.to_json()
            if info.video_codec is not None:
                dest = self.thumbnails / f"{sha256}.jpg"
                try:
                    if not dest.exists():
                        make_thumbnail(path, dest, info=info)
                    thumbnail = str(dest)
                except MediaError as e:
                    data["thumbnail_error"] = str(e)
            probe_json = json.dumps(data)
        except MediaError as e:
            error = str(e)
        except Exception as e:  # PyAV or FFmpeg surprised us: say so, keep going
            log.exception("probing %s failed", path)
            error = f"{path.name} could not be read ({_reason(e)})."
        with self.store.write() as conn:
            # only if the record still holds the same bytes (not re-recorded meanwhile)
            conn.execute(
                "UPDATE library_files SET probe = ?, probe_error = ?, thumbnail = ?"
                " WHERE id = ? AND sha256 = ? AND probe IS NULL AND probe_error = ''",
                (probe_json, error, thumbnail, file_id, sha256),
            )
        if self.on_done is not None:
            try:
                self.on_done(file_id, item_id)
            except Exception:
                log.exception("a media listener failed")
