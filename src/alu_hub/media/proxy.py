"""The preview proxy: 360p H.264 + AAC, faststart, keyframe every 2 s, frame by frame."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.error import FFmpegError
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .common import (
    _AUDIO_FORMAT,
    _AUDIO_LAYOUT,
    _AUDIO_RATE,
    _PROXY_KEYFRAME_S,
    _VIDEO_TIME_BASE,
    MediaError,
    _atomic_destination,
    _audio_stream,
    _display_size,
    _even,
    _first_frame,
    _FrameT,
    _open_input,
    _reason,
    _Upright,
    _video_stream,
)
from .probe import MediaInfo, probe


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
