"""Reading and writing video files: probe, preview proxy, thumbnail and demo clips.

Everything here goes through PyAV (FFmpeg's libraries), so the hub and the client need no
``ffmpeg`` executable and no image or array library. The module imports nothing from the
rest of the project because the client uses it as well as the hub.

Two rules hold for every function that writes a file:

* the result is written under a temporary name in the destination folder and renamed
  over the destination at the very end, so a crash or a full disk never leaves half a
  file where a finished one is expected;
* sources are decoded and encoded frame by frame, so memory stays flat however long or
  large the source is.
"""

from __future__ import annotations

import array
import contextlib
import math
import operator
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import av.filter
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.error import FFmpegError
from av.stream import Disposition
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

__all__ = [
    "MediaError",
    "MediaInfo",
    "generate_clip",
    "make_proxy",
    "make_thumbnail",
    "probe",
]

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


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, as far as the hub and the client need to know.

    Video fields are zero/None for audio-only files and audio fields for silent ones.
    ``width``/``height`` are the stored picture size; a phone clip flagged to be shown
    rotated keeps its stored (landscape) size here, while proxies and thumbnails are
    made upright.
    """

    duration: float  #: seconds, 0.0 if unknown
    container: str  #: FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    mime: str  #: best guess, application/octet-stream if no better one
    video_codec: str | None  #: "h264", "hevc", "prores", ...
    width: int
    height: int
    fps: float
    audio_codec: str | None  #: "aac", "pcm_s24le", ...
    audio_channels: int
    audio_rate: int
    bitrate: int  #: bits/s, 0 if unknown


# --------------------------------------------------------------------------- probing


def probe(path: Path) -> MediaInfo:
    """Describe a media file from its headers (FFmpeg decodes at most a few packets).

    Raises MediaError when the file is missing, empty, not media at all, or an MP4/MOV
    whose data stops before the end its index promises (a cut-short copy or upload).
    """
    with _open_input(path) as container:
        return _describe(path, container)


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


def _describe(path: Path, container: InputContainer) -> MediaInfo:
    video = _video_stream(container)
    audio = _audio_stream(container)
    name = path.name
    if video is None and audio is None:
        raise MediaError(f"{name} has no video or audio in it")
    if video is not None and video.codec_context.width <= 0 and audio is None:
        raise MediaError(f"{name} is not a video file we can read (no picture size found)")
    _check_complete(path, container)

    duration = _duration(container)
    width = height = 0
    fps = 0.0
    video_codec: str | None = None
    if video is not None:
        video_codec = _codec_name(video)
        width = video.codec_context.width
        height = video.codec_context.height
        rate = video.average_rate or video.guessed_rate or video.base_rate
        fps = float(rate) if rate else 0.0

    audio_codec: str | None = None
    channels = rate_hz = 0
    if audio is not None:
        audio_codec = _codec_name(audio)
        channels = audio.codec_context.channels
        rate_hz = audio.codec_context.sample_rate

    bitrate = int(container.bit_rate or 0)
    if not bitrate and duration > 0:
        bitrate = int(path.stat().st_size * 8 / duration)

    container_name = container.format.name
    return MediaInfo(
        duration=duration,
        container=container_name,
        mime=_guess_mime(
            container_name,
            container.metadata.get("major_brand", ""),
            video_codec,
            audio_codec,
        ),
        video_codec=video_codec,
        width=width,
        height=height,
        fps=fps,
        audio_codec=audio_codec,
        audio_channels=channels,
        audio_rate=rate_hz,
        bitrate=bitrate,
    )


def _duration(container: InputContainer) -> float:
    """Seconds from the container header, else from the longest stream, else 0.0."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    longest = 0.0
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest


def _check_complete(path: Path, container: InputContainer) -> None:
    """Refuse an MP4/MOV whose sample index points past the end of the file.

    Cameras and our own proxies put the index (moov) first, so a file cut short by an
    interrupted copy or upload still opens and reports its full length; only the
    positions in the index give the truncation away. The check reads no media data.
    Other containers are left alone: without such an index the check would have to
    read the whole file.
    """
    if not container.format.name.startswith("mov,"):
        return
    size = path.stat().st_size
    for stream in container.streams:
        entries = stream.index_entries
        if len(entries) == 0:
            continue
        last = entries[len(entries) - 1]
        if last.pos + last.size > size:
            raise MediaError(
                f"{path.name} is incomplete: it stops before the end of its video"
                " (was the copy or upload cut short?)"
            )


_MIME_BY_FORMAT = {
    "mxf": "video/mxf",
    "mpegts": "video/mp2t",
    "avi": "video/x-msvideo",
    "mpeg": "video/mpeg",
    "asf": "video/x-ms-asf",
    "flv": "video/x-flv",
    "dv": "video/dv",
    "gxf": "application/gxf",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "w64": "audio/wav",
    "aiff": "audio/aiff",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "image2": "image/jpeg",
    "jpeg_pipe": "image/jpeg",
    "png_pipe": "image/png",
    "gif": "image/gif",
}
_WEB_CODECS = {None, "vp8", "vp9", "av1", "opus", "vorbis"}


def _guess_mime(
    container: str, brand: str, video_codec: str | None, audio_codec: str | None
) -> str:
    """Best MIME type for a file, from the demuxer name, the MP4 brand and the codecs."""
    if container.startswith("mov,"):
        brand = brand.strip().lower()
        if brand == "qt":
            return "video/quicktime"
        if brand.startswith("3g2"):
            return "video/3gpp2"
        if brand.startswith("3g"):
            return "video/3gpp"
        return "video/mp4" if video_codec else "audio/mp4"
    if container.startswith("matroska"):
        webm = video_codec in _WEB_CODECS and audio_codec in _WEB_CODECS
        if video_codec is None:
            return "audio/webm" if webm else "audio/x-matroska"
        return "video/webm" if webm else "video/x-matroska"
    if container == "ogg":
        return "video/ogg" if video_codec else "audio/ogg"
    return _MIME_BY_FORMAT.get(container, "application/octet-stream")


# ---------------------------------------------------------------------- writing safely


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


def make_proxy(
    src: Path,
    dest: Path,
    *,
    height: int = 360,
    video_bitrate: int = 800_000,
    audio_bitrate: int = 64_000,
) -> MediaInfo:
    """Write a small H.264/AAC MP4 preview of ``src`` to ``dest`` and describe it.

    The preview is for slow links: ``height`` lines (never more than the source),
    capped at ``video_bitrate``, stereo AAC when the source has sound, and the index at
    the front of the file (faststart) so playback starts before the download ends.
    Interlaced sources are deinterlaced and rotated phone clips turned upright.
    Raises MediaError if ``src`` has no picture or cannot be decoded.
    """
    info = probe(src)
    if info.video_codec is None:
        raise MediaError(f"{src.name} has no picture to make a preview from")
    with _atomic_destination(dest, ".mp4") as tmp:
        _transcode_proxy(src, tmp, height, video_bitrate, audio_bitrate)
    return probe(dest)


def _transcode_proxy(
    src: Path, dest: Path, height: int, video_bitrate: int, audio_bitrate: int
) -> None:
    name = src.name
    with _open_input(src) as source:
        video = _video_stream(source)
        assert video is not None  # probe() checked
        audio = _audio_stream(source)
        first = _first_frame(src, source.streams.video.index(video))
        upright = _Upright(first, video.time_base, deinterlace=True)

        shown_w, shown_h = _display_size(video.codec_context.sample_aspect_ratio, first)
        out_h = _even(min(height, shown_h))
        out_w = _even(shown_w * out_h / shown_h)

        rate = video.average_rate or video.guessed_rate
        if rate is None or not 1 <= rate <= 240:
            rate = Fraction(25)
        # Timestamps start from the earliest stream so that sound and picture stay in
        # step even when one of them starts late (common in broadcast transport streams).
        origin = Fraction(source.start_time or 0, av.time_base)

        video.thread_type = "AUTO"
        with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            out_video = out.add_stream(
                "libx264",
                rate=rate,
                options={
                    "preset": "veryfast",
                    # Quality-targeted, with a ceiling so detailed footage stays affordable.
                    "crf": "26",
                    "maxrate": str(video_bitrate),
                    "bufsize": str(2 * video_bitrate),
                },
                time_base=_VIDEO_TIME_BASE,
            )
            out_video.width = out_w
            out_video.height = out_h
            out_video.pix_fmt = "yuv420p"
            out_video.codec_context.gop_size = max(1, round(float(rate) * _PROXY_KEYFRAME_S))
            out_video.codec_context.thread_type = "FRAME"
            out_audio: AudioStream | None = None
            if audio is not None:
                out_audio = out.add_stream("aac", rate=_AUDIO_RATE, bit_rate=audio_bitrate)
                out_audio.codec_context.layout = _AUDIO_LAYOUT
                out_audio.codec_context.format = _AUDIO_FORMAT

            writer = _ProxyWriter(out, out_video, out_audio, origin, rate, out_w, out_h)
            streams = (video, audio) if audio is not None else (video,)
            for packet in _demux(source, streams, name):
                if packet.stream is video:
                    for frame in _decode_tolerant(video.decode, packet, writer):
                        for ready in upright.push(frame):
                            writer.video(ready)
                elif audio is not None:
                    for sound in _decode_tolerant(audio.decode, packet, writer):
                        writer.audio(sound)
            for ready in upright.push(None):
                writer.video(ready)
            if writer.video_frames == 0:
                detail = writer.last_error or "no picture could be decoded"
                raise MediaError(f"{name} could not be decoded ({detail})")
            writer.finish()


def _demux(
    source: InputContainer, streams: tuple[VideoStream | AudioStream, ...], name: str
) -> Iterator[av.Packet[Any]]:
    """The source's packets, with a read failure reported as a MediaError about it.

    Only reading is covered: an error while writing the proxy (a full disk) is not the
    source's fault and propagates unchanged.
    """
    try:
        yield from source.demux(streams)
    except FFmpegError as exc:
        raise MediaError(f"{name} could not be read to the end ({_reason(exc)})") from None


def _decode_tolerant(
    decode: Callable[[av.Packet[Any]], list[_FrameT]], packet: av.Packet[Any], writer: _ProxyWriter
) -> list[_FrameT]:
    """Decode one packet, skipping the packet if it is damaged.

    One corrupt packet in a long recording should cost a few frames of the preview, not
    the whole preview; a source where nothing decodes is still refused at the end.
    """
    try:
        return decode(packet)
    except FFmpegError as exc:
        writer.last_error = _reason(exc)
        return []


class _ProxyWriter:
    """Scales, stamps, encodes and muxes the proxy's frames as they arrive."""

    def __init__(
        self,
        out: OutputContainer,
        video: VideoStream,
        audio: AudioStream | None,
        origin: Fraction,
        rate: Fraction,
        width: int,
        height: int,
    ) -> None:
        self._out = out
        self._video = video
        self._audio = audio
        self._origin = origin
        self._frame_step = 1 / rate
        self._width = width
        self._height = height
        self._last_pts = -1
        self._next_time = Fraction(0)
        self._resampler: av.AudioResampler | None = None
        self._audio_shape: tuple[str, str, int] | None = None
        self._next_sample: int | None = None
        self.video_frames = 0
        self.last_error: str | None = None

    def video(self, frame: VideoFrame) -> None:
        when = self._frame_time(frame)
        pts = max(round(when / _VIDEO_TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        self._next_time = pts * _VIDEO_TIME_BASE + self._frame_step
        small = frame.reformat(
            width=self._width, height=self._height, format="yuv420p", interpolation="AREA"
        )
        small.pts = pts
        small.time_base = _VIDEO_TIME_BASE
        self._out.mux(self._video.encode(small))
        self.video_frames += 1

    def _frame_time(self, frame: VideoFrame) -> Fraction:
        """Seconds since the start of the source; counted on if the frame has no time."""
        if frame.pts is None or frame.time_base is None:
            return self._next_time
        return frame.pts * frame.time_base - self._origin

    def audio(self, frame: AudioFrame) -> None:
        if self._audio is None:
            return
        if self._next_sample is None:
            start = Fraction(0)
            if frame.pts is not None and frame.time_base is not None:
                start = max(Fraction(0), frame.pts * frame.time_base - self._origin)
            self._next_sample = round(start * _AUDIO_RATE)
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or shape != self._audio_shape:
            # A resampler only takes the layout it started with, and broadcast feeds
            # switch (5.1 adverts, stereo programme): start a new one at each change.
            self._drain_resampler()
            self._resampler = av.AudioResampler(
                format=_AUDIO_FORMAT, layout=_AUDIO_LAYOUT, rate=_AUDIO_RATE
            )
            self._audio_shape = shape
        frame.pts = None  # output is stamped by sample count; input jitter must not leak in
        for sound in self._resampler.resample(frame):
            self._encode_audio(sound)

    def _drain_resampler(self) -> None:
        if self._resampler is not None:
            for sound in self._resampler.resample(None):
                self._encode_audio(sound)

    def _encode_audio(self, sound: AudioFrame | None) -> None:
        assert self._audio is not None
        if sound is not None:
            assert self._next_sample is not None
            sound.pts = self._next_sample
            sound.time_base = Fraction(1, _AUDIO_RATE)
            self._next_sample += sound.samples
        self._out.mux(self._audio.encode(sound))

    def finish(self) -> None:
        """Flush resampler and encoders so the last frames reach the file."""
        if self._audio is not None and self._next_sample is not None:
            self._drain_resampler()
            self._encode_audio(None)
        self._out.mux(self._video.encode(None))


# ------------------------------------------------------------------------ thumbnails


def make_thumbnail(src: Path, dest: Path, *, width: int = 320) -> tuple[int, int]:
    """Write a JPEG of a frame about 10% into ``src`` to ``dest``; return its size.

    10% in avoids the black or slate frame many clips start with. The image is
    ``width`` pixels wide with the picture's proportions (upright, even height).
    Raises MediaError if ``src`` has no picture or none can be decoded.
    """
    info = probe(src)
    if info.video_codec is None:
        raise MediaError(f"{src.name} has no picture to make a thumbnail from")
    with _open_input(src) as container:
        video = _video_stream(container)
        assert video is not None  # probe() checked
        index = container.streams.video.index(video)
        sar = video.codec_context.sample_aspect_ratio
        frame = _frame_at(container, video, info.duration * 0.1)
    if frame is None:
        frame = _first_frame(src, index)

    shown_w, shown_h = _display_size(sar, frame)
    out_w = max(2, width)
    out_h = _even(out_w * shown_h / shown_w)
    upright = _Upright(frame, frame.time_base, deinterlace=False)
    turned = (upright.push(frame) + upright.push(None))[0]
    picture = turned.reformat(width=out_w, height=out_h, format="yuvj420p", interpolation="AREA")
    picture.pts = None
    data = _encode_jpeg(picture)
    with _atomic_destination(dest, ".jpg") as tmp:
        tmp.write_bytes(data)
    return out_w, out_h


def _frame_at(container: InputContainer, video: VideoStream, seconds: float) -> VideoFrame | None:
    """The first frame at or after ``seconds``, or None if seeking there fails.

    Seeking lands on the keyframe before the target; frames are decoded from there up
    to the target (bounded, for very long GOPs). Files that cannot seek, or decode badly
    after a seek, get None and the caller falls back to the first frame.
    """
    if seconds <= 0 or video.time_base is None:
        return None
    target = (video.start_time or 0) + int(seconds / video.time_base)
    last: VideoFrame | None = None
    try:
        container.seek(target, stream=video)
        for count, frame in enumerate(container.decode(video)):
            last = frame
            if frame.pts is None or frame.pts >= target or count >= _MAX_FRAMES_AFTER_SEEK:
                break
    except FFmpegError:
        return None
    return last


def _encode_jpeg(picture: VideoFrame) -> bytes:
    """JPEG bytes of one yuvj420p frame, with FFmpeg's own MJPEG encoder."""
    codec = av.CodecContext.create("mjpeg", "w")
    assert isinstance(codec, VideoCodecContext)
    codec.width = picture.width
    codec.height = picture.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    # Fixed quality instead of the default bit rate, which is meant for motion JPEG
    # streams and would starve a single still.
    codec.qscale = True
    codec.global_quality = _JPEG_QSCALE * _FF_QP2LAMBDA
    packets = codec.encode(picture) + codec.encode(None)
    data = b"".join(bytes(packet) for packet in packets)
    if not (data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")):
        raise RuntimeError("the MJPEG encoder did not produce a complete JPEG")
    return data


# ------------------------------------------------------------------------ demo clips

#: Pixels the background pans per frame. Even, so the half-width colour planes move by
#: whole pixels too and the encoder can predict each frame exactly from the last one.
_PAN_STEP = 4
_GRADIENT_BANDS = 12  # horizontal bands of the top-to-bottom brightness gradient
_GRAIN_VARIANTS = 8  # different grain rows per band, so the grain does not look striped


def generate_clip(
    dest: Path,
    *,
    seconds: float = 4.0,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    seed: int = 0,
    tone_hz: float = 440.0,
) -> None:
    """Write a demo clip: H.264 + stereo 48 kHz AAC in MP4, made entirely locally.

    The picture is a panning row of soft colour bars with film-like grain, a bouncing
    box and a news-style lower-third band; ``seed`` picks colours, sizes and motion, so
    different seeds give different files. The sound is a sine tone at ``tone_hz``.
    Frames are assembled from precomputed rows with bytes slicing (no per-pixel Python),
    which keeps a 4 s 720p clip around a second on a small machine.
    """
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise ValueError("width and height must be even and at least 32")
    if seconds <= 0 or fps <= 0:
        raise ValueError("seconds and fps must be positive")
    pattern = _Pattern(width, height, random.Random(seed))  # noqa: S311 (pictures, not secrets)
    tone = _Tone(tone_hz)
    frames = max(1, round(seconds * fps))
    samples = max(1, round(seconds * _AUDIO_RATE))
    audio_tb = Fraction(1, _AUDIO_RATE)

    with (
        _atomic_destination(dest, ".mp4") as tmp,
        av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "20"})
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        video.codec_context.gop_size = fps
        video.codec_context.thread_type = "FRAME"
        audio = out.add_stream("aac", rate=_AUDIO_RATE, bit_rate=128_000)
        audio.codec_context.layout = _AUDIO_LAYOUT
        audio.codec_context.format = _AUDIO_FORMAT

        written = 0
        for index in range(frames):
            frame = pattern.frame(index)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
            # Keep the sound level with the picture so the muxer interleaves as it goes.
            until = min(samples, round((index + 1) * _AUDIO_RATE / fps))
            if index == frames - 1:
                until = samples
            while written < until:
                count = min(1024, until - written)
                sound = tone.frame(written, count)
                sound.pts = written
                sound.time_base = audio_tb
                out.mux(audio.encode(sound))
                written += count
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


class _Pattern:
    """Builds the demo picture, frame after frame, from rows computed once."""

    def __init__(self, width: int, height: int, rng: random.Random) -> None:
        self.width = width
        self.height = height
        bars: list[tuple[int, int, int, int]] = []  # (width, Y, U, V)
        period = 0
        while period < width:
            bar = rng.randrange(max(48, width // 20), max(50, width // 5)) // 2 * 2
            bars.append(
                (bar, rng.randrange(60, 200), rng.randrange(72, 184), rng.randrange(72, 184))
            )
            period += bar
        self.period = period
        soft = 16  # pixels of soft edge between bars, like a defocused real scene
        luma = bytearray()
        cb = bytearray()
        cr = bytearray()
        for i, (bar, y, u, v) in enumerate(bars):
            ny, nu, nv = bars[(i + 1) % len(bars)][1:]
            luma += bytes([y]) * (bar - soft) + _ramp(y, ny, soft)
            cb += bytes([u]) * ((bar - soft) // 2) + _ramp(u, nu, soft // 2)
            cr += bytes([v]) * ((bar - soft) // 2) + _ramp(v, nv, soft // 2)
        # Two periods cover any window [offset, offset + width) with offset < period.
        luma2, self.cb, self.cr = bytes(luma * 2), bytes(cb * 2), bytes(cr * 2)

        grain_amp = 14
        grain_table = bytes(b * grain_amp // 256 for b in range(256))
        # bands[band][variant]: the luma row, brighter towards the top (sky-like), with
        # grain added. Values stay within 16..235 (video range) by construction.
        self.bands: list[list[bytes]] = []
        for band in range(_GRADIENT_BANDS):
            lift = 40 - 60 * band // _GRADIENT_BANDS
            base = bytes(min(235 - grain_amp, max(16, c + lift)) for c in luma2)
            self.bands.append(
                [
                    bytes(map(operator.add, base, rng.randbytes(len(base)).translate(grain_table)))
                    for _ in range(_GRAIN_VARIANTS)
                ]
            )
        self.row_source = [
            (y * _GRADIENT_BANDS // height, (y * 5) % _GRAIN_VARIANTS) for y in range(height)
        ]

        self.box_w = _even(width / 6)
        self.box_h = _even(height / 5)
        self.box_x0 = rng.randrange(0, width - self.box_w) // 2 * 2
        self.box_y0 = rng.randrange(0, height - self.box_h) // 2 * 2
        self.box_dx = rng.choice((-10, -8, -6, 6, 8, 10))
        self.box_dy = rng.choice((-6, -4, 4, 6))
        self.box_luma = bytes([rng.randrange(170, 230)]) * self.box_w
        self.box_cb = bytes([rng.randrange(30, 226)]) * (self.box_w // 2)
        self.box_cr = bytes([rng.randrange(30, 226)]) * (self.box_w // 2)

        # Lower third: a dark band across, with a lighter name strap on its left.
        self.third_top = _even(height * 0.78)
        self.third_h = min(_even(height / 10), height - self.third_top)
        strap_x, strap_w = _even(width * 0.05), _even(width * 0.4)
        dark = bytes([32]) * width
        self.third_rows = [
            (dark[:strap_x] + bytes([200]) * strap_w + dark[strap_x + strap_w :])
            if row < self.third_h // 2
            else dark
            for row in range(self.third_h)
        ]
        accent = rng.randrange(60, 200)
        half = width // 2
        grey = bytes([128]) * half
        self.third_chroma = grey[: strap_x // 2] + bytes([accent]) * (strap_w // 2)
        self.third_chroma += grey[len(self.third_chroma) :]
        self.grey_chroma = grey

    def frame(self, index: int) -> VideoFrame:
        width, height = self.width, self.height
        offset = index * _PAN_STEP % self.period
        bx = _bounce(self.box_x0 + self.box_dx * index, width - self.box_w)
        by = _bounce(self.box_y0 + self.box_dy * index, height - self.box_h)

        bands = self.bands
        end = offset + width
        rows = [bands[band][variant][offset:end] for band, variant in self.row_source]
        box_end = bx + self.box_w
        for y in range(by, by + self.box_h):
            row = rows[y]
            rows[y] = row[:bx] + self.box_luma + row[box_end:]
        rows[self.third_top : self.third_top + self.third_h] = self.third_rows

        frame = VideoFrame(width, height, "yuv420p")
        _fill(frame, 0, rows, width)
        half_h, half_w = height // 2, width // 2
        coffset = offset // 2
        cx, cx_end = bx // 2, box_end // 2
        third_top, third_h = self.third_top // 2, self.third_h // 2
        for plane, source, box, third in (
            (1, self.cb, self.box_cb, self.third_chroma),
            (2, self.cr, self.box_cr, self.grey_chroma),
        ):
            row = source[coffset : coffset + half_w]
            boxed = row[:cx] + box + row[cx_end:]
            crows = [row] * half_h
            crows[by // 2 : (by + self.box_h) // 2] = [boxed] * (self.box_h // 2)
            crows[third_top : third_top + third_h] = [third] * (third_h // 2) + [
                self.grey_chroma
            ] * (third_h - third_h // 2)
            _fill(frame, plane, crows, half_w)
        return frame


def _fill(frame: VideoFrame, plane: int, rows: list[bytes], width: int) -> None:
    """Copy rows into a plane, padding each to the plane's (aligned) line size."""
    target = frame.planes[plane]
    pad = bytes(target.line_size - width)
    target.update(pad.join(rows) + pad if pad else b"".join(rows))


def _ramp(start: int, stop: int, length: int) -> bytes:
    return bytes(start + (stop - start) * k // max(1, length - 1) for k in range(length))


def _bounce(position: int, limit: int) -> int:
    """Fold an unbounded position back into 0..limit, like a ball between two walls."""
    if limit <= 0:
        return 0
    folded = position % (2 * limit)
    return folded if folded <= limit else 2 * limit - folded


class _Tone:
    """A stereo sine tone, cut into encoder-sized frames.

    An integer frequency repeats exactly every 48000/gcd samples, so one period is
    computed and then sliced; other frequencies are computed sample by sample.
    """

    _AMPLITUDE = 0.25  # about -12 dBFS: clearly audible, far from clipping

    def __init__(self, hz: float) -> None:
        self.hz = hz
        self.cycle: bytes | None = None
        if hz == int(hz) and hz > 0:
            period = _AUDIO_RATE // math.gcd(_AUDIO_RATE, int(hz))
            one = self._samples(0, period)
            self.cycle = one * (1 + 2048 // period + 1)
            self.period = period

    def _samples(self, start: int, count: int) -> bytes:
        step = 2 * math.pi * self.hz / _AUDIO_RATE
        amp = self._AMPLITUDE
        return array.array(
            "f", [amp * math.sin(step * n) for n in range(start, start + count)]
        ).tobytes()

    def frame(self, start: int, count: int) -> AudioFrame:
        if self.cycle is not None:
            begin = start % self.period * 4
            data = self.cycle[begin : begin + count * 4]
        else:
            data = self._samples(start, count)
        sound = AudioFrame(format=_AUDIO_FORMAT, layout=_AUDIO_LAYOUT, samples=count)
        sound.sample_rate = _AUDIO_RATE
        for plane in sound.planes:
            plane.update(data)
        return sound
