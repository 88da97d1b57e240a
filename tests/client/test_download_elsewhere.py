"""A download not running, asked for again into another folder, goes there: `alu get ID --dest
B` after one to A had failed (A a disk too small for it, or a disk since unplugged) resumed it
to A, dropping --dest without a word (onto a mount point: the system disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alu_client.core.services import Services
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-elsewhere"


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path) -> Services:
    live_hub.member("ktn", PASSWORD)
    services = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    yield services  # type: ignore[misc]
    services.stop()


def _part_of_a(dest: Path) -> Path:
    """A part file as the download to A left it."""
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(b"\0" * 4096)
    return part


@pytest.mark.parametrize("state", ["paused", "failed"])
def test_a_download_asked_into_another_folder_goes_there(
    desk: Services, live_hub: LiveHub, clip: Path, tmp_path: Path, state: str
) -> None:
    item = live_hub.publish(clip, title="Floods in the north")
    a, b = tmp_path / "usb-disk", tmp_path / "other-disk"
    queue = desk.make_queue()
    tid = desk.download(item, dest_dir=a, queue=queue)
    first = queue.transfers.get(tid)
    assert first is not None and Path(first.destination).parent == a
    queue.pause(tid)
    if state == "failed":
        assert queue.transfers.set_state(
            tid, "failed", only_from=("paused",), error="The disk is too small."
        )
    part = _part_of_a(Path(first.destination))
    st = part.stat()  # (named by device and inode: the download's own, as a run saves it)
    queue.transfers.save_checkpoint(tid, {"v": 1, "part": [st.st_dev, st.st_ino]})
    other = a / "someone else's.part"  # (what is not its own stays)
    other.write_bytes(b"kept")

    again = desk.download(item, dest_dir=b, queue=queue)

    assert again == tid  # the same transfer (one row, one history event at its end)
    t = queue.transfers.get(tid)
    assert t is not None and t.state == "queued"
    assert Path(t.destination) == b / Path(first.destination).name
    assert t.bytes_done == 0 and queue.transfers.load_checkpoint(tid) == {}
    assert not part.exists()  # A's part file, the download's own, is not left behind
    assert other.read_bytes() == b"kept"
    queue.start()
    try:
        wait_until(
            lambda: (q := queue.transfers.get(tid)) is not None and q.state == "done",
            timeout=60,
            what="the download into B",
        )
    finally:
        queue.stop()
    assert (b / Path(first.destination).name).read_bytes() == clip.read_bytes()
    assert not Path(first.destination).exists()


def test_asked_again_into_its_own_folder_it_is_only_resumed(
    desk: Services, live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    item = live_hub.publish(clip, title="Floods in the south")
    a = tmp_path / "downloads-a"
    queue = desk.make_queue()
    tid = desk.download(item, dest_dir=a, queue=queue)
    queue.pause(tid)
    checkpoint = {"kept": "as it was"}
    queue.transfers.save_checkpoint(tid, checkpoint)
    assert desk.download(item, dest_dir=a, queue=queue) == tid
    t = queue.transfers.get(tid)
    assert t is not None and t.state == "queued" and Path(t.destination).parent == a
    assert queue.transfers.load_checkpoint(tid) == checkpoint  # (its bytes so far kept)
    # without a folder asked for, wherever it was going
    queue.pause(tid)
    assert desk.download(item, queue=queue) == tid
    t = queue.transfers.get(tid)
    assert t is not None and Path(t.destination).parent == a
