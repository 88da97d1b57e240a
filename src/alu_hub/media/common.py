"""What the media modules share: opening inputs, errors in plain words, atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import av.filter
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.error import FFmpegError
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

_FrameT = TypeVar("_FrameT", VideoFrame, AudioFrame)

#: Every audio track we write: what every player, browser and phone plays.
_AUDIO_RATE = 48_000
_AUDIO_LAYOUT = "stereo"
_AUDIO_FORMAT = "fltp"  # the sample format FFmpeg's AAC encoder takes
#: Output video timestamps are counted in 1/90000 s (the MPEG clock): fine enough to keep
#: the timing of variable-frame-rate phone footage without rounding two frames together.
_VIDEO_TIME_BASE = Fraction(1, 90_000)
#: A proxy keyframe every two seconds: players can jump anywhere over a slow link.
_PROXY_KEYFRAME_S = 2.0
#: JPEG quantiser scale (2 = best, 31 = worst); 3 is visually clean at thumbnail size.
_JPEG_QSCALE = 3
_FF_QP2LAMBDA = 118  # FFmpeg's factor between a quantiser scale and "global_quality"
#: Frames decoded past a seek point before settling for the last one (long-GOP sources).
_MAX_FRAMES_AFTER_SEEK = 300


class MediaError(Exception):
    """A file is not a playable video/audio file.

    The message is in plain words for the people handling the file, and names it, e.g.
    ``clip.mp4 is not a video file we can read (invalid data found when processing
    input)``. Problems on the writing side (full disk, no permission) are not
    MediaErrors: they surface as the usual OSError.
    """


def _open_input(path: Path) -> InputContainer:
    """Open ``path`` for reading, turning every way that can fail into a MediaError."""
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{name} was not found") from None
    except OSError as exc:
        raise MediaError(f"{name} could not be opened ({_reason(exc)})") from None
    if path.is_dir():
        raise MediaError(f"{name} is a folder, not a video file")
    if size == 0:
        raise MediaError(f"{name} is empty (0 bytes)")
    try:
        return av.open(str(path), "r", metadata_errors="replace")
    except FFmpegError as exc:
        raise MediaError(f"{name} is not a video file we can read ({_reason(exc)})") from None
    except OSError as exc:
        raise MediaError(f"{name} could not be opened ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    """FFmpeg's or the OS's own words for an error, lower-cased to sit inside a sentence."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = str(text).strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _video_stream(container: InputContainer) -> VideoStream | None:
    """The main picture stream; cover art in audio files (attached pictures) is not one."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


def _audio_stream(container: InputContainer) -> AudioStream | None:
    """The first audio stream: on broadcast MXF files that is the programme's channel 1."""
    return container.streams.audio[0] if container.streams.audio else None


def _codec_name(stream: VideoStream | AudioStream) -> str:
    """The codec's standard name ("h264"), not the decoder's ("libdav1d")."""
    try:
        return stream.codec_context.codec.canonical_name
    except (FFmpegError, ValueError, AttributeError):
        return stream.codec_context.name or "unknown"


@contextlib.contextmanager
def _atomic_destination(dest: Path, suffix: str) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it over ``dest`` only on success.

    The temporary file lives in the same folder so the final os.replace is a rename on
    one filesystem, which is atomic: readers see the old file or the whole new one.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# -------------------------------------------------------------------- picture helpers


def _even(value: float) -> int:
    """Nearest even whole number, at least 2: 4:2:0 video needs even sizes."""
    return max(2, round(value / 2) * 2)


def _clockwise_turn(rotation: int) -> int:
    """How far a frame must turn clockwise (0/90/180/270) to be shown upright.

    PyAV reports the display matrix as a counter-clockwise angle, e.g. -90 for a phone
    held upright.
    """
    return round(-rotation / 90) % 4 * 90


class _Upright:
    """Deinterlaces and turns frames upright with an FFmpeg filter graph when needed.

    Most files need neither, and then frames pass straight through at no cost.
    Interlaced broadcast footage (1080i) would otherwise show combing on every moving
    edge, and phone footage flagged as rotated would lie on its side.
    """

    def __init__(self, first: VideoFrame, time_base: Fraction | None, deinterlace: bool):
        filters: list[tuple[str, str | None]] = []
        if deinterlace and first.interlaced_frame:
            filters.append(("bwdif", "mode=send_frame:deint=interlaced"))
        turn = _clockwise_turn(first.rotation)
        if turn == 90:
            filters.append(("transpose", "clock"))
        elif turn == 180:
            filters += [("hflip", None), ("vflip", None)]
        elif turn == 270:
            filters.append(("transpose", "cclock"))
        self._graph: av.filter.Graph | None = None
        if filters:
            graph = av.filter.Graph()
            nodes = [
                graph.add_buffer(
                    width=first.width,
                    height=first.height,
                    format=first.format,
                    time_base=time_base or Fraction(1, 90_000),
                )
            ]
            nodes += [graph.add(name, args) for name, args in filters]
            nodes.append(graph.add("buffersink"))
            graph.link_nodes(*nodes).configure()
            self._graph = graph

    def push(self, frame: VideoFrame | None) -> list[VideoFrame]:
        """Feed one frame (None at the end) and get the frames ready so far."""
        if self._graph is None:
            return [] if frame is None else [frame]
        self._graph.vpush(frame)
        ready: list[VideoFrame] = []
        while True:
            try:
                ready.append(self._graph.vpull())
            except (BlockingIOError, EOFError):
                return ready


def _display_size(sar: Fraction | None, first: VideoFrame) -> tuple[float, float]:
    """Width and height as the picture is meant to be seen.

    Accounts for non-square pixels (``sar``, as in anamorphic SD and HDV footage) and for
    a rotation flag, which swaps the sides.
    """
    width, height = float(first.width), float(first.height)
    if sar is not None and sar > 0:
        width *= float(sar)
    if _clockwise_turn(first.rotation) in (90, 270):
        width, height = height, width
    return width, height


def _first_frame(path: Path, stream_index: int) -> VideoFrame:
    """Decode the first picture, to learn its real size, rotation and interlacing."""
    with _open_input(path) as container:
        stream = container.streams.video[stream_index]
        try:
            for frame in container.decode(stream):
                return frame
        except FFmpegError as exc:
            raise MediaError(f"{path.name} could not be decoded ({_reason(exc)})") from None
    raise MediaError(f"{path.name} could not be decoded (no picture found)")


# --------------------------------------------------------------------------- proxies
