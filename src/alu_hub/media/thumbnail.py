"""Thumbnails: one upright JPEG frame at about a tenth of the clip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.container import InputContainer
from av.error import FFmpegError
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .common import (
    _FF_QP2LAMBDA,
    _JPEG_QSCALE,
    _MAX_FRAMES_AFTER_SEEK,
    MediaError,
    _atomic_destination,
    _display_size,
    _even,
    _first_frame,
    _open_input,
    _Upright,
    _video_stream,
)
from .probe import probe


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
