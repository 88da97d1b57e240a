"""A still picture is not a video: the hub refuses it, from a member and from the operator.

FFmpeg reads a JPEG as a one-frame "video" (its image demuxers); published, it became a
0-second item in every member's feed with the photo as its broadcast file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from alu_hub.app import build_hub
from alu_hub.media.generate import generate_clip
from alu_hub.media.thumbnail import make_thumbnail
from alu_hub.publish import ItemFields, PublishError, publish_file
from tests.support.livehub import hub_settings

from .conftest import LiveHub
from .test_cli import hub_cli
from .test_upload_publish import uploader_for, wait_for_outcome


@pytest.fixture
def photo(tmp_path: Path, clip: Path) -> Path:
    """A real JPEG: the hub's own thumbnail of a clip."""
    path = tmp_path / "photo.jpg"
    make_thumbnail(clip, path)
    return path


def test_publishing_a_jpeg_or_a_one_frame_clip_is_refused_and_a_clip_is_not(
    tmp_path: Path, clip: Path, photo: Path
) -> None:
    one_frame = tmp_path / "one-frame.mp4"
    generate_clip(one_frame, seconds=0.04, width=320, height=240, seed=5)
    hub = build_hub(hub_settings(tmp_path / "hub"))
    try:
        for still, mime in ((photo, "image/jpeg"), (one_frame, "video/mp4")):
            with pytest.raises(PublishError) as refused:
                publish_file(hub, still, ItemFields(title="A still picture"), kind="push")
            assert str(refused.value) == (
                f"The file is a still picture ({mime}), not a video; nothing was published."
                " Send a video clip."
            )
        assert not any((tmp_path / "hub" / "storage").rglob("*.*"))
        item = publish_file(hub, clip, ItemFields(title="A real clip"), kind="push")
        assert item.duration == pytest.approx(1.0, abs=0.1)
    finally:
        hub.db.dispose()


def test_alu_hub_publish_of_a_jpeg_fails_in_one_line(tmp_path: Path, photo: Path) -> None:
    data = str(tmp_path / "hub")
    build_hub(hub_settings(Path(data))).db.dispose()
    r = hub_cli("publish", str(photo), "--data", data, "--title", "A still picture")
    assert r.returncode != 0 and "Published" not in r.stdout
    assert "still picture (image/jpeg), not a video" in r.stderr and "Traceback" not in r.stderr


def test_a_members_jpeg_upload_fails_as_not_a_video(live_hub: LiveHub, photo: Path) -> None:
    ktn = live_hub.login("ktn")
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", photo, metadata={"filename": "photo.jpg", "sha256": sha})
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    assert status["state"] == "failed" and status["item_id"] is None
    assert "still picture (image/jpeg), not a video" in status["error"]
    assert ktn.get(live_hub.api("/items"), timeout=10).json()["items"] == []
