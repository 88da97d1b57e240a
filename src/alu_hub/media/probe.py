"""Probe: what a video file holds (duration, codecs, size) and its MIME type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.filter
from av.container import InputContainer

from .common import (
    MediaError,
    _audio_stream,
    _codec_name,
    _open_input,
    _video_stream,
)


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
    still: bool = False  #: a still picture (JPEG, PNG, a one-frame stream), not a video


# --------------------------------------------------------------------------- probing


def probe(path: Path) -> MediaInfo:
    """Describe a media file from its headers (FFmpeg decodes at most a few packets).

    Raises MediaError when the file is missing, empty, not media at all, or an MP4/MOV
    whose data stops before the end its index promises (a cut-short copy or upload).
    """
    with _open_input(path) as container:
        return _describe(path, container)


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
        still=video is not None and _is_still(container_name, video.frames),
    )


# FFmpeg's demuxers of pictures: "image2" (files by name), "image2pipe" and the
# "<codec>_pipe" ones (jpeg_pipe, png_pipe, webp_pipe…), and the animated formats.
_IMAGE_DEMUXERS = {"image2", "image2pipe", "gif", "apng", "webp"}


def _is_still(container_name: str, frames: int) -> bool:
    """Whether the picture stream is a photo or a drawing rather than moving pictures:
    an image demuxer read it, or its header counts exactly one frame."""
    image = container_name in _IMAGE_DEMUXERS or container_name.endswith("_pipe")
    return image or frames == 1


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
