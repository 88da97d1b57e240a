"""Files in the library: recorded with the download's end, found missing when moved or deleted
outside the app (never an error), restored by a new download, freed by retention with the
records kept and exactly the recorded files deleted."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.library import Library, LibraryError, record_file, upsert_items
from alu_client.core.store import Store
from tests.client.test_library import PROFILE, make_item

DAY = 86400.0
NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data" / "library.sqlite3")
    upsert_items(s, PROFILE, [make_item(n) for n in range(1, 11)])
    yield s
    s.close()


@pytest.fixture
def library(store: Store) -> Library:
    return Library(store, PROFILE)


def put(
    store: Store,
    folder: Path,
    n: int,
    size: int,
    *,
    rendition: str = "broadcast",
    verified_at: float = NOW,
    profile: str = PROFILE,
) -> Path:
    """Write a file of ``size`` bytes for item ``n`` and record it, as a download's end does."""
    path = folder / f"item{n}-{rendition}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytes([n]) * size
    path.write_bytes(data)
    with store.write() as conn:
        record_file(
            conn,
            profile,
            f"it{n:06d}",
            rendition,
            path,
            size,
            hashlib.sha256(data).hexdigest(),
            transfer_id=n,
            now=verified_at,
        )
    return path


def states(library: Library) -> dict[str, tuple[str, str]]:
    rows = library.store.query(
        "SELECT item_id, rendition, state, reason FROM library_files ORDER BY item_id, rendition"
    )
    return {f"{r['item_id']}/{r['rendition']}": (r["state"], r["reason"]) for r in rows}


def test_a_recorded_file_is_part_of_its_item(
    store: Store, library: Library, tmp_path: Path
) -> None:
    path = put(store, tmp_path / "videos", 1, 1234)
    got = library.get("it000001")
    assert got is not None and got.downloaded
    (f,) = got.files
    assert (f.rendition, f.path, f.size, f.state, f.transfer_id, f.verified_at) == (
        "broadcast",
        path,
        1234,
        "present",
        1,
        NOW,
    )
    assert library.files("it000001") == [f]
    assert library.files("it000002") == []


def test_moved_deleted_resized_or_unreachable_files_become_missing(
    store: Store, library: Library, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    kept = put(store, videos, 1, 100)
    deleted = put(store, videos, 2, 100)
    moved = put(store, videos, 3, 100)
    resized = put(store, videos, 4, 100)
    gone_folder = put(store, tmp_path / "usb-drive", 5, 100)
    blocked = put(store, tmp_path / "blocked", 6, 100)
    replaced = put(store, videos, 7, 100)
    deleted.unlink()
    moved.rename(tmp_path / "elsewhere.mp4")
    resized.write_bytes(b"x" * 150)
    shutil.rmtree(gone_folder.parent)
    shutil.rmtree(blocked.parent)
    blocked.parent.write_bytes(b"a file where the folder was")  # NotADirectoryError
    replaced.unlink()
    replaced.mkdir()  # a folder at the file's place

    report = library.check_files()

    assert report.checked == 7
    assert report.restored == 0
    assert sorted(m.item_id for m in report.missing) == [
        "it000002",
        "it000003",
        "it000004",
        "it000005",
        "it000006",
        "it000007",
    ]
    got = states(library)
    assert got["it000001/broadcast"] == ("present", "")
    assert got["it000002/broadcast"][0] == "missing"
    assert "not there any more" in got["it000002/broadcast"][1]
    assert "not there any more" in got["it000003/broadcast"][1]
    assert got["it000004/broadcast"] == (
        "missing",
        "its size changed from 100 to 150 bytes since it was verified",
    )
    assert got["it000005/broadcast"][0] == "missing"
    assert got["it000006/broadcast"] == ("missing", "its folder is not there any more")
    assert got["it000007/broadcast"] == ("missing", "something else than a file is at its place")
    item = library.get("it000002")
    assert item is not None and not item.downloaded
    assert kept.exists()
    # a second check finds nothing new
    again = library.check_files()
    assert (again.checked, again.missing, again.restored) == (7, [], 0)


def test_a_new_download_or_the_file_coming_back_restores_it(
    store: Store, library: Library, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    a = put(store, videos, 1, 100)
    b = put(store, videos, 2, 100)
    with store.write() as conn:
        conn.execute("UPDATE library_files SET probe = '{\"duration\": 1.0}', thumbnail = 't.jpg'")
    a.unlink()
    hidden = b.rename(tmp_path / "hidden.mp4")
    assert len(library.check_files().missing) == 2

    # the same item downloaded again, to another place: present again, same record
    again = put(store, tmp_path / "new-place", 1, 100, verified_at=NOW + 10)
    (f,) = library.files("it000001")
    assert (f.state, f.reason, f.path, f.verified_at) == ("present", "", again, NOW + 10)
    assert f.probe == {"duration": 1.0}  # same bytes: the probe and thumbnail still hold
    assert f.thumbnail == "t.jpg"
    # the file put back where it was
    hidden.rename(b)
    report = library.check_files()
    assert (report.restored, report.missing) == (1, [])
    assert states(library) == {
        "it000001/broadcast": ("present", ""),
        "it000002/broadcast": ("present", ""),
    }
    assert store.query_one("SELECT count(*) FROM library_files")[0] == 2


def test_other_bytes_under_the_same_record_are_probed_again(
    store: Store, library: Library, tmp_path: Path
) -> None:
    put(store, tmp_path, 1, 100)
    with store.write() as conn:
        conn.execute("UPDATE library_files SET probe = '{}', thumbnail = 't.jpg'")
    put(store, tmp_path, 1, 200)  # another size: other bytes
    (f,) = library.files("it000001")
    assert (f.size, f.probe, f.thumbnail, f.probe_error) == (200, None, "", "")


def test_the_check_can_be_done_a_slice_at_a_time(
    store: Store, library: Library, tmp_path: Path
) -> None:
    for n in range(1, 7):
        put(store, tmp_path, n, 10, verified_at=NOW - 3650 * DAY)  # checked before "now"
    for n in (2, 5):
        (tmp_path / f"item{n}-broadcast.mp4").unlink()
    seen: list[str] = []
    for _ in range(3):
        report = library.check_files(limit=2)
        assert report.checked == 2
        seen += [m.item_id for m in report.missing]
    assert sorted(seen) == ["it000002", "it000005"]


def test_retention_by_age_deletes_old_files_and_keeps_their_records(
    store: Store, library: Library, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    old1 = put(store, videos, 1, 1000, verified_at=NOW - 40 * DAY)
    old2 = put(store, videos, 2, 2500, verified_at=NOW - 31 * DAY, rendition="proxy")
    young = put(store, videos, 3, 4000, verified_at=NOW - 29 * DAY)
    other_profile = put(store, videos, 4, 800, verified_at=NOW - 90 * DAY, profile="other")
    stranger = videos / "not-ours.mp4"
    stranger.write_bytes(b"s" * 10)

    report = library.apply_retention(30, None, now=NOW)

    assert (report.removed, report.freed_bytes, report.already_gone, report.kept) == (
        2,
        3500,
        0,
        [],
    )
    assert not old1.exists() and not old2.exists()
    assert young.exists() and other_profile.exists() and stranger.exists()
    got = states(library)
    assert got["it000001/broadcast"] == ("removed", "")
    assert got["it000002/proxy"] == ("removed", "")
    assert got["it000003/broadcast"] == ("present", "")
    assert got["it000004/broadcast"] == ("present", "")
    item = library.get("it000001")
    assert item is not None and item.files[0].state == "removed" and not item.downloaded
    assert library.apply_retention(30, None, now=NOW).freed_bytes == 0


def test_retention_by_size_frees_the_oldest_verified_first(
    store: Store, library: Library, tmp_path: Path
) -> None:
    sizes = {1: 3000, 2: 1000, 3: 2000, 4: 500, 5: 1500}  # verified in this order
    paths = {
        n: put(store, tmp_path, n, size, verified_at=NOW - (10 - n) * DAY)
        for n, size in sizes.items()
    }
    paths[2].unlink()  # already gone: counts nothing freed, its record is 'removed' too

    report = library.apply_retention(None, 3500, now=NOW)

    # 8000 recorded: drop #1 (3000 freed), #2 (gone), #3 (2000 freed) -> 2000 left
    assert (report.removed, report.freed_bytes, report.already_gone) == (2, 5000, 1)
    assert [n for n, p in paths.items() if p.exists()] == [4, 5]
    assert {k: v[0] for k, v in states(library).items()} == {
        "it000001/broadcast": "removed",
        "it000002/broadcast": "removed",
        "it000003/broadcast": "removed",
        "it000004/broadcast": "present",
        "it000005/broadcast": "present",
    }
    assert library.apply_retention(None, 2000, now=NOW).freed_bytes == 0
    assert library.apply_retention(None, 0, now=NOW).freed_bytes == 2000


def test_retention_never_deletes_what_it_did_not_record(
    store: Store, library: Library, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    swapped = put(store, videos, 1, 100, verified_at=NOW - 50 * DAY)
    linked = put(store, videos, 2, 100, verified_at=NOW - 50 * DAY)
    precious = tmp_path / "precious.mov"
    precious.write_bytes(b"p" * 100)
    swapped.write_bytes(b"someone else's file, another size")
    linked.unlink()
    os.symlink(precious, linked)  # a link to a file of the very size recorded

    report = library.apply_retention(1, None, now=NOW)

    assert (report.removed, report.freed_bytes) == (0, 0)
    assert sorted(k.item_id for k in report.kept) == ["it000001", "it000002"]
    assert swapped.read_bytes() == b"someone else's file, another size"
    assert precious.read_bytes() == b"p" * 100
    assert linked.is_symlink()
    assert {k: v[0] for k, v in states(library).items()} == {
        "it000001/broadcast": "missing",
        "it000002/broadcast": "missing",
    }


def test_remove_one_file(store: Store, library: Library, tmp_path: Path) -> None:
    path = put(store, tmp_path, 1, 321)
    assert library.remove_file("it000001", "broadcast") == 321
    assert not path.exists()
    assert states(library) == {"it000001/broadcast": ("removed", "")}
    assert library.remove_file("it000001", "broadcast") == 0
    with pytest.raises(LibraryError, match="no proxy file of item it000001"):
        library.remove_file("it000001", "proxy")
    changed = put(store, tmp_path, 2, 10)
    changed.write_bytes(b"0123456789abc")
    with pytest.raises(LibraryError, match="left in place"):
        library.remove_file("it000002", "broadcast")
    assert changed.exists()
    assert states(library)["it000002/broadcast"][0] == "missing"
