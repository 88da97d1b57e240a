"""alu_hub.media against real files made on the spot: probe, proxy, thumbnail, demo clips."""

from __future__ import annotations

import array
import itertools
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from alu_hub import media
from alu_hub.media import MediaError, MediaInfo, generate_clip, make_proxy, make_thumbnail, probe


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo clip: 4 s of 1280x720 25 fps with sound, made once."""
    path = tmp_path_factory.mktemp("hd") / "clip.mp4"
    generate_clip(path, seconds=4.0, width=1280, height=720, fps=25, seed=1)
    return path


@pytest.fixture(scope="module")
def hd_proxy(hd_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MediaInfo]:
    dest = tmp_path_factory.mktemp("hd-proxy") / "proxy.mp4"
    return dest, make_proxy(hd_clip, dest)


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short low-resolution clip with sound, cheap enough for every other test."""
    path = tmp_path_factory.mktemp("small") / "small.mp4"
    generate_clip(path, seconds=1.0, width=320, height=180, fps=25, seed=2)
    return path


def remux(
    src: Path,
    dest: Path,
    *,
    video: bool = True,
    audio: bool = True,
    rotation: float | None = None,
    fmt: str | None = None,
    shift: float = 0.0,
) -> Path:
    """Copy some of src's streams into another container without re-encoding.

    ``shift`` moves every timestamp later by that many seconds, as in a recording of a
    broadcast feed whose clock was already running.
    """
    with av.open(str(src)) as source, av.open(str(dest), "w", format=fmt) as out:
        mapping: dict[int, av.stream.Stream] = {}
        if video:
            v = source.streams.video[0]
            out_v = out.add_stream_from_template(v)
            if rotation is not None:
                out_v.set_display_rotation(rotation)
            mapping[v.index] = out_v
        if audio:
            a = source.streams.audio[0]
            mapping[a.index] = out.add_stream_from_template(a)
        for packet in source.demux([source.streams[i] for i in mapping]):
            if packet.dts is None:
                continue
            if shift and packet.time_base is not None:
                offset = round(shift / packet.time_base)
                packet.dts += offset
                if packet.pts is not None:
                    packet.pts += offset
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    return dest


def first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame
    raise AssertionError(f"no frame in {path}")


def column_mean(frame: av.VideoFrame, x: int) -> float:
    """Average brightness of one pixel column of the luma plane."""
    plane = frame.planes[0]
    data = bytes(plane)
    return sum(data[y * plane.line_size + x] for y in range(frame.height)) / frame.height


def leftovers(folder: Path) -> list[str]:
    """Temporary files the atomic writes might have left behind."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------- demo clips


def test_generated_clip_is_what_was_asked_for(hd_clip: Path) -> None:
    info = probe(hd_clip)
    assert info.duration == pytest.approx(4.0, abs=0.2)
    assert (info.width, info.height) == (1280, 720)
    assert info.fps == pytest.approx(25.0)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert info.audio_channels == 2
    assert info.audio_rate == 48_000
    assert info.mime == "video/mp4"
    assert info.container.startswith("mov,mp4")
    assert info.bitrate > 100_000
    assert leftovers(hd_clip.parent) == []


def test_generated_clip_has_moving_picture_and_a_tone(tmp_path: Path) -> None:
    path = tmp_path / "tone.mp4"
    generate_clip(path, seconds=1.0, width=160, height=96, seed=4, tone_hz=1000.0)
    with av.open(str(path)) as container:
        pictures = [bytes(f.planes[0]) for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        left = array.array("f")
        for sound in container.decode(audio=0):
            left.extend(array.array("f", bytes(sound.planes[0]))[: sound.samples])
    assert len(pictures) == 25
    assert pictures[0] != pictures[12] != pictures[24]
    assert 0.2 < max(left) < 0.3
    # A 1 kHz sine crosses zero 2000 times a second.
    crossings = sum(1 for a, b in itertools.pairwise(left) if (a < 0) != (b < 0))
    assert crossings / (len(left) / 48_000) == pytest.approx(2000, rel=0.05)


def test_seeds_give_different_clips_and_the_same_seed_the_same_clip(tmp_path: Path) -> None:
    paths = {}
    for name, seed in (("a", 1), ("b", 2), ("c", 1)):
        paths[name] = tmp_path / f"{name}.mp4"
        generate_clip(paths[name], seconds=0.5, width=160, height=96, seed=seed)
    assert paths["a"].read_bytes() != paths["b"].read_bytes()
    assert first_frame(paths["a"]).planes[0] != first_frame(paths["b"]).planes[0]
    assert paths["a"].read_bytes() == paths["c"].read_bytes()


@pytest.mark.parametrize("kwargs", [{"width": 321}, {"height": 16}, {"seconds": 0}])
def test_generate_clip_refuses_impossible_sizes(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_clip(tmp_path / "x.mp4", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "x.mp4").exists()


# -------------------------------------------------------------------------- proxies


def test_proxy_is_a_small_360p_h264_aac_mp4_with_index_first(
    hd_clip: Path, hd_proxy: tuple[Path, MediaInfo]
) -> None:
    path, info = hd_proxy
    assert info == probe(path)
    assert (info.width, info.height) == (640, 360)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert (info.audio_channels, info.audio_rate) == (2, 48_000)
    assert info.duration == pytest.approx(4.0, abs=0.2)
    assert path.stat().st_size < hd_clip.stat().st_size / 3
    assert info.bitrate < 1_000_000
    head = path.read_bytes()
    assert 0 <= head.find(b"moov") < head.find(b"mdat"), "faststart: index before media data"
    assert leftovers(path.parent) == []


def test_a_failed_proxy_leaves_the_old_file_and_no_debris(
    small_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "proxy.mp4"
    dest.write_bytes(b"previous proxy")

    def crash(self: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(media.proxy._ProxyWriter, "finish", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        make_proxy(small_clip, dest)
    assert dest.read_bytes() == b"previous proxy"
    assert leftovers(tmp_path) == []


def test_proxy_of_a_silent_clip_is_silent(small_clip: Path, tmp_path: Path) -> None:
    silent = remux(small_clip, tmp_path / "silent.mp4", audio=False)
    assert probe(silent).audio_codec is None
    info = make_proxy(silent, tmp_path / "proxy.mp4")
    assert info.audio_codec is None
    assert info.audio_channels == 0
    assert info.video_codec == "h264"
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_portrait_proxy_keeps_its_shape(tmp_path: Path) -> None:
    src = tmp_path / "portrait.mp4"
    generate_clip(src, seconds=0.5, width=360, height=640, seed=3)
    info = make_proxy(src, tmp_path / "proxy.mp4")
    assert info.height == 360
    assert info.width % 2 == 0
    assert info.width / info.height == pytest.approx(360 / 640, abs=0.01)


def test_proxy_never_upscales(small_clip: Path, tmp_path: Path) -> None:
    info = make_proxy(small_clip, tmp_path / "proxy.mp4", height=720)
    assert (info.width, info.height) == (320, 180)


def test_rotated_phone_clip_is_turned_upright(small_clip: Path, tmp_path: Path) -> None:
    # A phone held upright stores landscape pixels and a -90 degree display rotation.
    phone = remux(small_clip, tmp_path / "phone.mp4", rotation=-90)
    assert first_frame(phone).rotation == -90
    info = make_proxy(phone, tmp_path / "proxy.mp4")
    assert (info.width, info.height) == (180, 320)
    frame = first_frame(tmp_path / "proxy.mp4")
    assert frame.rotation == 0
    # The dark lower-third band at the bottom of the source ends up on the left when
    # turned clockwise (and would be on the right if turned the wrong way).
    assert column_mean(frame, 28) < 60 < column_mean(frame, 180 - 28)

    assert make_thumbnail(phone, tmp_path / "thumb.jpg", width=90) == (90, 160)


def test_interlaced_source_is_deinterlaced(tmp_path: Path) -> None:
    src = tmp_path / "interlaced.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"x264-params": "interlaced=1"})
        stream.width, stream.height = 320, 180
        for i in range(10):
            frame = av.VideoFrame(320, 180, "yuv420p")
            for p, plane in enumerate(frame.planes):
                plane.update(bytes([(i * 20 + p * 60) % 256]) * plane.buffer_size)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert first_frame(src).interlaced_frame

    info = make_proxy(src, tmp_path / "proxy.mp4")
    assert (info.width, info.height) == (320, 180)
    with av.open(str(tmp_path / "proxy.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 10
    assert not any(f.interlaced_frame for f in frames)


def test_proxy_of_a_transport_stream_starts_at_zero(small_clip: Path, tmp_path: Path) -> None:
    ts = remux(small_clip, tmp_path / "feed.ts", fmt="mpegts", shift=10.0)
    with av.open(str(ts)) as container:
        assert container.start_time > 9 * av.time_base
    info = make_proxy(ts, tmp_path / "proxy.mp4")
    assert info.duration == pytest.approx(1.0, abs=0.15)
    assert info.audio_codec == "aac"


# ----------------------------------------------------------------------- thumbnails


def test_thumbnail_is_a_jpeg_of_the_asked_width(hd_clip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "thumb.jpg"
    assert make_thumbnail(hd_clip, dest) == (320, 180)
    data = dest.read_bytes()
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    info = probe(dest)
    assert (info.width, info.height) == (320, 180)
    assert info.video_codec == "mjpeg"
    assert info.mime == "image/jpeg"
    assert leftovers(tmp_path) == []


def test_thumbnail_is_taken_a_little_way_in(small_clip: Path, tmp_path: Path) -> None:
    # The demo picture pans, so a frame from 10% in differs from the very first one.
    make_thumbnail(small_clip, tmp_path / "thumb.jpg", width=320)
    thumb = first_frame(tmp_path / "thumb.jpg").reformat(format="gray")
    start = first_frame(small_clip).reformat(format="gray")
    tenth = None
    with av.open(str(small_clip)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == 3:
                tenth = frame.reformat(format="gray")
                break
    assert tenth is not None

    def distance(a: av.VideoFrame, b: av.VideoFrame) -> int:
        pa, pb = bytes(a.planes[0]), bytes(b.planes[0])
        return sum(abs(x - y) for x, y in zip(pa, pb, strict=True))

    assert distance(thumb, tenth) < distance(thumb, start)


# ------------------------------------------------------------------- probing, errors


def test_audio_only_file_is_fine_to_probe_but_has_no_picture(
    small_clip: Path, tmp_path: Path
) -> None:
    sound = remux(small_clip, tmp_path / "sound.m4a", video=False)
    info = probe(sound)
    assert (info.width, info.height, info.video_codec) == (0, 0, None)
    assert info.audio_codec == "aac"
    assert info.mime == "audio/mp4"
    assert info.duration == pytest.approx(1.0, abs=0.1)
    with pytest.raises(MediaError, match=r"sound\.m4a has no picture"):
        make_proxy(sound, tmp_path / "proxy.mp4")
    with pytest.raises(MediaError, match=r"sound\.m4a has no picture"):
        make_thumbnail(sound, tmp_path / "thumb.jpg")


@pytest.mark.parametrize(
    ("fmt", "name", "container", "mime"),
    [
        ("mov", "clip.mov", "mov,mp4,m4a,3gp,3g2,mj2", "video/quicktime"),
        ("matroska", "clip.mkv", "matroska,webm", "video/x-matroska"),
        ("mpegts", "clip.ts", "mpegts", "video/mp2t"),
    ],
)
def test_probe_names_other_containers(
    small_clip: Path, tmp_path: Path, fmt: str, name: str, container: str, mime: str
) -> None:
    info = probe(remux(small_clip, tmp_path / name, fmt=fmt))
    assert (info.container, info.mime) == (container, mime)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (320, 180)
    assert info.duration == pytest.approx(1.0, abs=0.15)


def make_bad(kind: str, folder: Path, good: Path) -> Path:
    """A file that is not playable media, of the given kind."""
    if kind == "text":
        path = folder / "notes.mp4"
        path.write_text("Shot list: 1. mayor at the market 2. crowd\n" * 20)
    elif kind == "empty":
        path = folder / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "missing":
        path = folder / "missing.mp4"
    elif kind == "truncated":  # index first (faststart), data cut in half
        path = folder / "half.mp4"
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "truncated-plain":  # index last, so the index is what went missing
        plain = remux(good, folder / "plain.mp4")
        path = folder / "half-plain.mp4"
        data = plain.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        plain.unlink()
    else:
        raise AssertionError(kind)
    return path


BAD_KINDS = ["text", "empty", "missing", "truncated", "truncated-plain"]
READERS: dict[str, Callable[[Path, Path], object]] = {
    "probe": lambda src, dest: probe(src),
    "make_proxy": lambda src, dest: make_proxy(src, dest),
    "make_thumbnail": lambda src, dest: make_thumbnail(src, dest),
}


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_unplayable_files_raise_media_error_naming_the_file(
    small_clip: Path, tmp_path: Path, kind: str, reader: str
) -> None:
    src_dir = tmp_path / "in"
    out_dir = tmp_path / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    bad = make_bad(kind, src_dir, small_clip)
    dest = out_dir / "result.bin"
    with pytest.raises(MediaError) as caught:
        READERS[reader](bad, dest)
    assert bad.name in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_error_messages_say_what_is_wrong(small_clip: Path, tmp_path: Path) -> None:
    def message(kind: str) -> str:
        with pytest.raises(MediaError) as caught:
            probe(make_bad(kind, tmp_path, small_clip))
        return str(caught.value)

    assert message("text") == (
        "notes.mp4 is not a video file we can read (invalid data found when processing input)"
    )
    assert message("empty") == "empty.mp4 is empty (0 bytes)"
    assert message("missing") == "missing.mp4 was not found"
    assert "half.mp4 is incomplete" in message("truncated")
