"""Two workstations of one member on one shared download folder (a newsroom NAS), and a data
folder made new beside a download folder that kept its files: an item whose file is already in
the folder is checked there and kept, not fetched again over the link as "NAME (2)"."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.safe_names import safe_filename
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store.transfers import Transfer, TransferStore
from alu_client.core.transfers import jobs
from alu_client.core.transfers.queue import TransferQueue
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-shared-folder"


def workstation(live_hub: LiveHub, root: Path, shared: Path) -> Services:
    services = live_hub.workstation(root, "ktn", PASSWORD)
    AppSettings(services.store, services.paths.downloads_dir).download_dir = shared
    return services


@pytest.fixture
def two(live_hub: LiveHub, tmp_path: Path) -> Iterator[tuple[Services, Services, Path]]:
    live_hub.member("ktn", PASSWORD)
    shared = tmp_path / "NAS" / "ALU"
    shared.mkdir(parents=True)
    a = workstation(live_hub, tmp_path / "ws-a", shared)
    b = workstation(live_hub, tmp_path / "ws-b", shared)
    try:
        yield a, b, shared
    finally:
        a.stop()
        b.stop()


def item_file_name(desk: Services, item: str) -> str:
    """The name the item's broadcast file is saved under (the hub's, made safe)."""
    r = desk.client().item(item).rendition("broadcast")
    assert r is not None and r.filename
    return safe_filename(r.filename)


def fetch(desk: Services, item: str) -> dict[str, object]:
    """Download ``item`` on ``desk``'s own queue; the transfer's row once done."""
    queue = desk.queue or desk.start_engine(rules=False, hot_folders=False, media=False, sync=False)
    tid = desk.download(item, queue=queue)
    queue.wait_for(tid, timeout=30)
    t = queue.transfers.get(tid)
    assert t is not None and t.state == "done", t
    return {"destination": t.destination, **t.result}


def test_the_item_another_workstation_downloaded_is_kept_not_fetched_again(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path
) -> None:
    a, b, shared = two
    item = live_hub.publish(clip, title="Kinshasa floods")
    first = fetch(a, item)
    there = Path(str(first["destination"]))
    assert there.parent == shared and first["bytes_fetched"] == clip.stat().st_size
    before = there.stat()

    second = fetch(b, item)
    # the same file, read and checked: no byte over the link, no "Kinshasa floods (2).mp4"
    assert second["destination"] == str(there)
    assert second["bytes_fetched"] == 0 and second["found_in_folder"] is True
    assert sorted(p.name for p in shared.iterdir()) == [there.name]
    after = there.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # B's library has it, at that file
    got = b.library.get(item)
    assert got is not None
    f = got.file("broadcast")
    assert f is not None and f.present and Path(f.path) == there


def test_other_bytes_under_the_items_name_are_left_and_the_item_downloaded(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path
) -> None:
    _a, b, shared = two
    item = live_hub.publish(clip, title="Lusaka budget")
    # a file of the item's name and size with other bytes (an edit saved over it, another
    # item's file renamed): never taken for the item
    name = item_file_name(b, item)
    stranger = shared / name
    data = bytes(reversed(clip.read_bytes()))
    stranger.write_bytes(data)

    got = fetch(b, item)
    dest = Path(str(got["destination"]))
    assert dest != stranger and dest.parent == shared and dest.name.endswith(" (2).mp4")
    assert got["bytes_fetched"] == clip.stat().st_size and "found_in_folder" not in got
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(clip.read_bytes()).digest()
    assert stranger.read_bytes() == data


def test_another_workstations_download_under_way_is_waited_for_then_kept(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path
) -> None:
    """Another workstation's download of the item under way (its part file beside the name,
    a file of the item's size already there or not): not whole, so not taken, and not
    fetched over the link a second time either. This one waits, then keeps the other's file
    once it is in place and checks out. Before, it fetched its own "NAME (2)" copy."""
    _a, b, shared = two
    item = live_hub.publish(clip, title="Maputo elections")
    name = item_file_name(b, item)
    data = clip.read_bytes()
    part = shared / f"{name}.part"
    part.write_bytes(data[:1000])
    queue = b.start_engine(rules=False, hot_folders=False, media=False, sync=False)
    tid = b.download(item, queue=queue)

    def waiting() -> Transfer | None:
        t = queue.transfers.get(tid)
        return t if t is not None and t.last_error else None

    t = wait_until(waiting, timeout=30, what="the download to wait for the other")
    assert t.state == "queued" and "Another download is writing" in t.last_error, t
    assert t.bytes_done == 0 and sorted(p.name for p in shared.iterdir()) == [part.name]

    part.write_bytes(data)  # the other download ends: its file in place
    part.rename(shared / name)
    queue.retry_now(tid)
    queue.wait_for(tid, timeout=30)
    done = queue.transfers.get(tid)
    assert done is not None and done.state == "done", done
    assert done.destination == str(shared / name)
    assert done.result["bytes_fetched"] == 0 and done.result["found_in_folder"] is True
    assert sorted(p.name for p in shared.iterdir()) == [name]


def engine(desk: Services, **kw: object) -> TransferQueue:
    return desk.start_engine(rules=False, hot_folders=False, media=False, sync=False, **kw)


def waiting_for_the_other(queue: TransferQueue, tid: int) -> Transfer:
    """``tid`` once it said it waits for another download (its part file seen)."""

    def waiting() -> Transfer | None:
        t = queue.transfers.get(tid)
        return t if t is not None and "Another download is writing" in t.last_error else None

    return wait_until(waiting, timeout=30, what="the download to wait for the other")


def done(queue: TransferQueue, tid: int) -> Transfer:
    queue.wait_for(tid, timeout=30)
    t = queue.transfers.get(tid)
    assert t is not None and t.state == "done", t
    return t


def numbered(name: str, n: int) -> str:
    stem, _, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}"


def history_file(desk: Services, tid: int) -> object:
    """The file name the history event of transfer ``tid`` gives."""
    row = desk.store.query_one(
        "SELECT detail FROM history WHERE origin = 'here' AND transfer_id = ?", (tid,)
    )
    assert row is not None
    return json.loads(row[0]).get("file")


@pytest.fixture
def stopped_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another download's part file counts as stopped at the second look (after 10 minutes
    unchanged, in use)."""
    monkeypatch.setattr(jobs, "OTHER_STALE_S", 0.0)
    monkeypatch.setattr(jobs, "OTHER_LOOK_S", 0.0)


def test_two_that_chose_one_name_at_once_the_other_stopped_then_a_name_of_its_own(
    two: tuple[Services, Services, Path],
    live_hub: LiveHub,
    clip: Path,
    stopped_at_once: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workstations queued the item at the same moment, both under its own name; the
    other began, then stopped for good (its part file never changes again). This one saves the
    item as "NAME (2)": resumable, verified, and the transfer, the library and the history
    name that file. It failed for good before, asking the user to move the part file away."""
    _a, b, shared = two
    item = live_hub.publish(clip, title="Harare strike")
    name = item_file_name(b, item)
    tid = b.download(item, queue=b.make_queue())  # queued: the engine not started yet
    queued = TransferStore(b.store).get(tid)
    assert queued is not None and queued.destination == str(shared / name)
    data = clip.read_bytes()
    part = shared / f"{name}.part"
    part.write_bytes(data[:1000])  # the other's download, stopped for good
    moves: list[tuple[str, bool]] = []
    move = TransferStore.move_download

    def recorded(self: TransferStore, tid: int, destination: str, same_as: str | None) -> bool:
        moves.append((Path(destination).name, Path(destination + ".part").exists()))
        return move(self, tid, destination, same_as)

    monkeypatch.setattr(TransferStore, "move_download", recorded)
    queue = engine(b)
    waiting_for_the_other(queue, tid)
    queue.retry_now(tid)
    t = done(queue, tid)
    own = shared / numbered(name, 2)
    assert moves == [(own.name, False)]  # on its row before its part file was made
    assert t.destination == str(own) and t.options["same_as"] == str(shared / name)
    assert t.result["bytes_fetched"] == len(data) and "found_in_folder" not in t.result
    assert own.read_bytes() == data and part.read_bytes() == data[:1000]
    assert sorted(p.name for p in shared.iterdir()) == sorted([own.name, part.name])
    got = b.library.get(item)
    f = got.file("broadcast") if got is not None else None
    assert f is not None and f.present and Path(f.path) == own
    assert history_file(b, tid) == own.name
    said = [message for _at, kind, message in queue.transfers.log(tid) if kind == "note"]
    assert said == [
        f"Another download left “{name}” unfinished; this one saves the file as “{own.name}”."
    ]


def test_a_download_moved_from_the_others_name_and_canceled_leaves_the_others_part(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path, stopped_at_once: None
) -> None:
    """Canceled after it moved to a name of its own: its own part file goes, never the one
    the other download left at the name it had (the same item's bytes, further on: it was
    taken for this one's own by its bytes and deleted)."""
    _a, b, shared = two
    item = live_hub.publish(clip, title="Gaborone drought")
    name = item_file_name(b, item)
    tid = b.download(item, queue=b.make_queue())
    data = clip.read_bytes()
    part = shared / f"{name}.part"
    theirs = data[: len(data) - 1000]
    part.write_bytes(theirs)
    queue = engine(b, limit_down=16_000)  # (slow: canceled while it downloads)
    waiting_for_the_other(queue, tid)
    queue.retry_now(tid)
    own = shared / numbered(name, 2)

    def saved_with_a_probe() -> bool:
        return "probe" in queue.transfers.load_checkpoint(tid)

    wait_until(saved_with_a_probe, timeout=30, what="the download's first bytes saved")
    queue.cancel(tid)
    queue.wait_for(tid, timeout=30)
    t = queue.transfers.get(tid)
    assert t is not None and t.state == "canceled" and t.destination == str(own)
    assert part.read_bytes() == theirs
    assert sorted(p.name for p in shared.iterdir()) == [part.name]


def test_the_other_download_canceled_this_one_saves_under_the_items_name(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path
) -> None:
    """Queued while another workstation's download of the item was under way ("NAME (2)",
    waiting for it); that download is then canceled (its part file removed, no file made):
    the item is saved under its own name, free again. It was saved as "NAME (2)" before."""
    _a, b, shared = two
    item = live_hub.publish(clip, title="Windhoek fuel")
    name = item_file_name(b, item)
    part = shared / f"{name}.part"
    part.write_bytes(clip.read_bytes()[:1000])
    queue = engine(b)
    tid = b.download(item, queue=queue)
    waiting = waiting_for_the_other(queue, tid)
    assert waiting.destination == str(shared / numbered(name, 2))

    part.unlink()  # the other download canceled
    queue.retry_now(tid)
    t = done(queue, tid)
    assert t.destination == str(shared / name) and "same_as" not in t.options
    assert t.result["bytes_fetched"] == clip.stat().st_size
    assert sorted(p.name for p in shared.iterdir()) == [name]
    got = b.library.get(item)
    f = got.file("broadcast") if got is not None else None
    assert f is not None and Path(f.path) == shared / name
    assert history_file(b, tid) == name


def test_a_download_stopped_midway_keeps_the_others_file_verified_meanwhile(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path, stopped_at_once: None
) -> None:
    """This workstation's download of "NAME (2)" stopped half-way (killed, or paused: its
    part file and checkpoint stay); the other workstation, back, finished the item at its own
    name meanwhile. Started again, this one keeps that file (checked, nothing fetched) and
    removes its own part file. It finished its own copy beside it before."""
    _a, b, shared = two
    item = live_hub.publish(clip, title="Lilongwe maize")
    name = item_file_name(b, item)
    data = clip.read_bytes()
    part = shared / f"{name}.part"
    part.write_bytes(data[:1000])
    queue = engine(b, limit_down=16_000)
    tid = b.download(item, queue=queue)
    waiting_for_the_other(queue, tid)
    queue.retry_now(tid)  # (stopped: this one downloads "NAME (2)")

    def saved() -> bool:
        return "segments" in queue.transfers.load_checkpoint(tid)

    wait_until(saved, timeout=30, what="the download's first bytes saved")
    queue.pause(tid)
    mine = shared / f"{numbered(name, 2)}.part"

    def paused() -> bool:
        t = queue.transfers.get(tid)
        return t is not None and t.state == "paused"

    wait_until(paused, timeout=30, what="the download to pause")
    assert mine.exists()

    part.write_bytes(data)  # the other download, back, ends: its file in place
    part.rename(shared / name)
    queue.resume(tid)
    t = done(queue, tid)
    assert t.destination == str(shared / name) and t.result["found_in_folder"] is True
    assert t.result["bytes_fetched"] == 0
    assert sorted(p.name for p in shared.iterdir()) == [name]
    got = b.library.get(item)
    f = got.file("broadcast") if got is not None else None
    assert f is not None and Path(f.path) == shared / name


def test_another_items_file_with_the_same_bytes_here_is_not_shared(
    two: tuple[Services, Services, Path], live_hub: LiveHub, clip: Path
) -> None:
    """The agency's same video under two items (two languages' scripts): on one workstation
    each item keeps a file of its own — deleting one item's file must not take the other's."""
    a, _b, shared = two
    first = live_hub.publish(clip, title="Abuja summit", language="en")
    second = live_hub.publish(clip, title="Sommet d'Abuja", language="fr")
    one = fetch(a, first)
    other = fetch(a, second)
    assert other["destination"] != one["destination"]
    assert other["bytes_fetched"] == clip.stat().st_size and "found_in_folder" not in other
    assert len(list(shared.iterdir())) == 2
