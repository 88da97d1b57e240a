"""The client's media: probe and thumbnail of real clips, a plain error for anything else, and
the worker that does both for library files on its own thread and keeps going past bad ones."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from alu_client.core import media
from alu_client.core.library import Library, record_file
from alu_client.core.media import MediaError, MediaWorker, make_thumbnail, probe
from alu_client.core.paths import Paths
from alu_client.core.store import Store
from alu_hub.media import generate_clip
from tests.support.waiting import wait_until

PROFILE = "alu"


def jpeg_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def bad_files(folder: Path, clip: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data = clip.read_bytes()
    files = {
        "random": bytes(range(256)) * 64,
        "text": b"Not a video, a script:\nFloods in Kisumu.\n" * 20,
        "headless": data[4096:],
        "cut short": data[: len(data) // 2],
        "empty": b"",
    }
    out = {}
    for name, content in files.items():
        path = folder / f"{name.replace(' ', '-')}.mp4"
        path.write_bytes(content)
        out[name] = path
    out["missing"] = folder / "missing.mp4"
    out["folder"] = folder / "a-folder.mp4"
    out["folder"].mkdir()
    return out


def test_probe_describes_a_clip(clip: Path) -> None:
    info = probe(clip)
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.container.startswith("mov,mp4")
    assert (info.video_codec, info.width, info.height, info.fps) == ("h264", 320, 240, 25.0)
    assert (info.audio_codec, info.channels, info.sample_rate) == ("aac", 2, 48000)
    assert json.loads(json.dumps(info.to_json()))["video_codec"] == "h264"


def test_thumbnail_is_a_jpeg_of_the_asked_width(clip: Path, tmp_path: Path) -> None:
    dest = make_thumbnail(clip, tmp_path / "thumbs" / "a.jpg")
    assert dest == tmp_path / "thumbs" / "a.jpg"
    assert jpeg_size(dest) == (320, 240)
    assert jpeg_size(make_thumbnail(clip, tmp_path / "b.jpg", width=160)) == (160, 120)
    assert sorted(p.name for p in (tmp_path / "thumbs").iterdir()) == ["a.jpg"]  # no leftovers


def test_a_portrait_clip_keeps_its_proportions(tmp_path: Path) -> None:
    tall = tmp_path / "tall.mp4"
    generate_clip(tall, seconds=0.5, width=180, height=320, seed=3)
    assert jpeg_size(make_thumbnail(tall, tmp_path / "t.jpg", width=90)) == (90, 160)


def test_anything_but_a_clip_is_a_plain_media_error(clip: Path, tmp_path: Path) -> None:
    for what, path in bad_files(tmp_path / "bad", clip).items():
        for action in (probe, lambda p: make_thumbnail(p, tmp_path / "t.jpg")):
            with pytest.raises(MediaError) as caught:
                action(path)
            message = str(caught.value)
            assert message.startswith(path.name), (what, message)
            assert message.endswith("."), (what, message)
            assert "\n" not in message
    assert not (tmp_path / "t.jpg").exists()


def test_sound_without_picture_is_described_but_not_sent(clip: Path, tmp_path: Path) -> None:
    # the hub publishes videos only and said so once it had every byte: an hour of a
    # reporter's voice-over dragged onto the upload form went whole over a slow link first
    from alu_client.core.uploads import video_problem
    from tests.support.media_files import sound_only

    sound = sound_only(clip, tmp_path / "voice-over.m4a")
    info = probe(sound)  # the library describes what it holds, as it is
    assert (info.video_codec, info.audio_codec) == (None, "aac")
    with pytest.raises(MediaError) as refused:
        media.probe_video(sound)
    said = "voice-over.m4a has sound but no picture: it is not a video file."
    assert str(refused.value) == said
    assert video_problem(sound) == said
    assert media.probe_video(clip).video_codec == "h264"


# --- the worker ----------------------------------------------------------------------------------


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    root = tmp_path / "home"
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


@pytest.fixture
def store(paths: Paths) -> Iterator[Store]:
    s = Store(paths.db_path)
    yield s
    s.close()


@pytest.fixture
def worker(store: Store, paths: Paths) -> Iterator[MediaWorker]:
    w = MediaWorker(store, paths)
    yield w
    w.stop()


def record(store: Store, item_id: str, path: Path) -> str:
    data = path.read_bytes() if path.is_file() else b""
    sha = hashlib.sha256(data + item_id.encode()).hexdigest()
    with store.write() as conn:
        record_file(conn, PROFILE, item_id, "broadcast", path, len(data), sha)
    return sha


def file_row(store: Store, item_id: str) -> dict[str, object]:
    row = store.query_one("SELECT * FROM library_files WHERE item_id = ?", (item_id,))
    assert row is not None
    return dict(row)


def test_the_worker_probes_and_thumbnails_on_its_own_thread(
    store: Store,
    paths: Paths,
    worker: MediaWorker,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[threading.Thread] = []
    real_probe = media.probe

    def watched_probe(path: Path) -> media.Probe:
        threads.append(threading.current_thread())
        return real_probe(path)

    monkeypatch.setattr(media, "probe", watched_probe)
    sha = record(store, "it1", clip)
    worker.wake()
    row = wait_until(lambda: (r := file_row(store, "it1"))["probe"] and r, what="probe stored")
    probe_data = json.loads(str(row["probe"]))
    assert (probe_data["video_codec"], probe_data["width"], probe_data["height"]) == (
        "h264",
        320,
        240,
    )
    assert probe_data["duration"] == pytest.approx(1.0, abs=0.05)
    assert row["probe_error"] == ""
    thumb = paths.thumbnails_dir / f"{sha}.jpg"
    assert row["thumbnail"] == str(thumb)
    assert jpeg_size(thumb) == (320, 240)
    assert threads and all(t is not threading.current_thread() for t in threads)
    assert {t.name for t in threads} == {"alu-media"}
    item_files = Library(store, PROFILE).files("it1")
    assert item_files[0].probe == probe_data
    assert item_files[0].thumbnail == str(thumb)


def test_the_worker_reads_each_file_s_headers_once(
    store: Store, worker: MediaWorker, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thumbnail is made from the probe just made: each file was opened and its headers
    read twice (a library of thousands probed at the app's start after `alu get`)."""
    probed: list[Path] = []
    real_probe = media.probe

    def counted_probe(path: Path) -> media.Probe:
        probed.append(Path(path))
        return real_probe(path)

    monkeypatch.setattr(media, "probe", counted_probe)
    sha = record(store, "it1", clip)
    assert worker.wait_idle(60)
    assert file_row(store, "it1")["thumbnail"] == str(worker.thumbnails / f"{sha}.jpg")
    assert probed == [clip]


def test_the_worker_says_which_item_each_file_handled_is_of(
    store: Store, worker: MediaWorker, clip: Path, tmp_path: Path
) -> None:
    """The Feed and the Library read again only the item a probe or thumbnail was made for:
    the worker told a file id alone, and every probe made them read all their rows."""
    done: list[tuple[int, str]] = []
    worker.on_done = lambda file_id, item_id: done.append((file_id, item_id))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    record(store, "it-good", clip)
    record(store, "it-bad", bad)  # a failed probe is news too (the detail says why)
    assert worker.wait_idle(60)
    files = {str(file_row(store, i)["id"]): i for i in ("it-good", "it-bad")}
    assert sorted(done) == sorted((int(fid), item_id) for fid, item_id in files.items())


def test_bad_files_get_their_error_and_the_worker_keeps_going(
    store: Store, worker: MediaWorker, clip: Path, tmp_path: Path
) -> None:
    bad = bad_files(tmp_path / "bad", clip)
    for n, path in enumerate(bad.values()):
        record(store, f"bad{n}", path)
    good = tmp_path / "good.mp4"
    good.write_bytes(clip.read_bytes())
    record(store, "good", good)  # recorded after every bad one

    assert worker.wait_idle(60)

    for n, path in enumerate(bad.values()):
        row = file_row(store, f"bad{n}")
        assert row["probe"] is None
        assert str(row["probe_error"]).startswith(path.name), row
        assert row["thumbnail"] == ""
    good_row = file_row(store, "good")
    assert good_row["probe"] is not None and good_row["probe_error"] == ""
    assert Path(str(good_row["thumbnail"])).is_file()
    assert worker.wait_idle(10)  # nothing left: failed files are not tried in a loop
    assert store.query_one("SELECT count(*) FROM library_files WHERE probe_error != ''")[0] == len(
        bad
    )


def test_a_new_download_of_a_failed_file_is_probed_again(
    store: Store, worker: MediaWorker, clip: Path, tmp_path: Path
) -> None:
    path = tmp_path / "later.mp4"
    path.write_bytes(b"garbage" * 100)
    record(store, "it9", path)
    assert worker.wait_idle(30)
    assert file_row(store, "it9")["probe_error"] != ""
    path.write_bytes(clip.read_bytes())
    record(store, "it9", path)  # downloaded again, whole this time
    assert worker.wait_idle(30)
    row = file_row(store, "it9")
    assert (row["probe_error"], row["probe"] is not None) == ("", True)


def test_only_present_files_are_probed_and_stop_ends_the_thread(
    store: Store, paths: Paths, clip: Path
) -> None:
    record(store, "gone", clip)
    with store.write() as conn:
        conn.execute("UPDATE library_files SET state = 'removed'")
    w = MediaWorker(store, paths)
    assert w.wait_idle(30)
    assert file_row(store, "gone")["probe"] is None
    assert file_row(store, "gone")["probe_error"] == ""
    w.stop()
    assert not w._thread.is_alive()
    assert w.wait_idle(1)  # a stopped worker does not keep anyone waiting


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo-named-like-a.mp4"])
def test_a_still_picture_is_not_a_video(clip: Path, tmp_path: Path, name: str) -> None:
    # the hub refuses a still picture once it has every byte: a photo dragged onto the upload
    # form or into a hot folder went whole, then failed
    made = make_thumbnail(clip, tmp_path / ("still.png" if name.endswith(".png") else "still.jpg"))
    photo = tmp_path / name
    made.rename(photo)
    with pytest.raises(MediaError) as refused:
        probe(photo)
    assert str(refused.value) == f"{name} is a still picture, not a video file."
    from alu_client.core.uploads import video_problem

    assert video_problem(photo) == f"{name} is a still picture, not a video file."
    assert video_problem(clip) == ""  # (a clip still goes)
