"""Demo and test clips: moving test pattern with a tone, H.264 + AAC, made with PyAV."""

from __future__ import annotations

import array
import math
import operator
import random
from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from .common import (
    _AUDIO_FORMAT,
    _AUDIO_LAYOUT,
    _AUDIO_RATE,
    _atomic_destination,
    _even,
)

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
