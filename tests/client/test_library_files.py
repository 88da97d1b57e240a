"""Files in the library: recorded with the download's end, found missing when moved or deleted
outside the app (never an error), restored by a new download, freed by retention with the
records kept and exactly the recorded files deleted."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.library import (
    Library,
    LibraryError,
    RetentionReport,
    record_file,
    upsert_items,
)
from alu_client.core.library.files import REWRITTEN
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
    own_time: bool = True,
) -> Path:
    """Write a file of ``size`` bytes for item ``n`` and record it, as a download's end does:
    with its modification time as placed (``own_time``; False: as recorded before it was
    kept, the time unknown)."""
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
            mtime_ns=path.stat().st_mtime_ns if own_time else None,
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
    # a drive unplugged: its folder is said gone, not the file "moved or deleted" by the user
    assert got["it000005/broadcast"] == ("missing", "its folder is not there any more")
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


# --- a file written again at its place (a download folder several workstations share) ----------


def put_there_later(path: Path, data: bytes, *, in_place: bool = False) -> None:
    """``data`` put at ``path`` by someone else, after the file there was recorded: as another
    workstation's download of the same item (its part file renamed into place), or written
    over in place (a copy of another file of the same size, ``in_place``). Its modification
    time is set 2 s after the recorded file's, as the file system would make it later: two
    writes within one tick of a coarse clock would otherwise share a time."""
    recorded = path.stat().st_mtime_ns
    if in_place:
        with open(path, "r+b") as f:
            f.write(data)
    else:
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        path.unlink()  # (the first file went: deleted, or taken by retention's size check)
        os.replace(part, path)
    later = recorded + 2_000_000_000
    os.utime(path, ns=(later, later))


def test_a_file_written_again_at_its_place_is_not_deleted_by_retention(
    store: Store, library: Library, tmp_path: Path
) -> None:
    """Two workstations on one shared download folder: A recorded the item's file, the file
    went, B downloaded the same item to the same name (same size, same bytes), and A's
    retention deleted B's fresh file, a clip B's editor was cutting. So too a file of the same
    size copied over it."""
    share = tmp_path / "share"
    theirs = put(store, share, 1, 1000, verified_at=NOW - 40 * DAY)
    copied_over = put(store, share, 2, 1000, verified_at=NOW - 40 * DAY)
    mine = put(store, share, 3, 1000, verified_at=NOW - 40 * DAY)
    same_bytes, other_bytes = theirs.read_bytes(), b"another clip" * 50 + b"!" * 400
    put_there_later(theirs, same_bytes)
    put_there_later(copied_over, other_bytes, in_place=True)

    report = library.apply_retention(30, None, now=NOW)

    assert (report.removed, report.freed_bytes, report.already_gone) == (1, 1000, 0)
    assert sorted((k.item_id, k.path, k.reason) for k in report.kept) == [
        ("it000001", theirs, REWRITTEN),
        ("it000002", copied_over, REWRITTEN),
    ]
    assert theirs.read_bytes() == same_bytes and copied_over.read_bytes() == other_bytes
    assert not mine.exists()
    assert states(library) == {
        "it000001/broadcast": ("missing", REWRITTEN),
        "it000002/broadcast": ("missing", REWRITTEN),
        "it000003/broadcast": ("removed", ""),
    }
    # the check does not find them again (their time is another): they stay missing, and
    # retention, which deletes present files only, has nothing more to say of them
    check = library.check_files()
    assert (check.checked, check.restored, check.missing) == (2, 0, [])
    assert library.apply_retention(0, 0, now=NOW) == RetentionReport()
    assert theirs.read_bytes() == same_bytes and copied_over.read_bytes() == other_bytes


def test_remove_file_leaves_a_file_written_again_in_place_and_says_why(
    store: Store, library: Library, tmp_path: Path
) -> None:
    path = put(store, tmp_path / "share", 1, 500)
    theirs = bytes(range(250)) * 2
    put_there_later(path, theirs)
    with pytest.raises(LibraryError) as refused:
        library.remove_file("it000001", "broadcast")
    assert str(refused.value) == (
        f"item1-broadcast.mp4 was left in place: {REWRITTEN}, so it is not the file ALU Desk "
        "verified."
    )
    assert path.read_bytes() == theirs
    assert states(library) == {"it000001/broadcast": ("missing", REWRITTEN)}


def test_the_check_finds_a_file_written_again_missing(
    store: Store, library: Library, tmp_path: Path
) -> None:
    """The rolling check, before any delete: the file at the name is not the one verified
    (another time), so the record is missing with the reason; a file back with its own time
    (a share mounted again) is found again."""
    rewritten = put(store, tmp_path, 1, 100)
    away = put(store, tmp_path, 2, 100)
    hidden = away.rename(tmp_path / "elsewhere.mp4")  # (a rename keeps the file's time)
    put_there_later(rewritten, b"z" * 100, in_place=True)
    report = library.check_files()
    assert sorted((m.item_id, m.reason) for m in report.missing) == [
        ("it000001", REWRITTEN),
        ("it000002", "the file is not there any more (moved or deleted outside ALU Desk)"),
    ]
    hidden.rename(away)
    report = library.check_files()
    assert (report.restored, report.missing) == (1, [])
    assert states(library) == {
        "it000001/broadcast": ("missing", REWRITTEN),
        "it000002/broadcast": ("present", ""),
    }
    assert rewritten.read_bytes() == b"z" * 100


def test_an_untouched_file_or_one_copied_back_with_its_times_is_still_deleted(
    store: Store, library: Library, tmp_path: Path
) -> None:
    """The time recorded is the file's own: a copy that keeps times (cp -p, rsync -a,
    robocopy, Explorer; ``shutil.copy2``) to another disk and back keeps the file deletable."""
    videos = tmp_path / "videos"
    untouched = put(store, videos, 1, 700, verified_at=NOW - 40 * DAY)
    copied_back = put(store, videos, 2, 300, verified_at=NOW - 40 * DAY)
    by_hand = put(store, videos, 3, 200)
    for n, path in ((1, untouched), (2, copied_back), (3, by_hand)):
        (f,) = library.files(f"it{n:06d}")
        assert f.mtime_ns == path.stat().st_mtime_ns
    for path in (copied_back, by_hand):
        away = tmp_path / "other-disk" / path.name
        away.parent.mkdir(exist_ok=True)
        shutil.copy2(path, away)
        path.unlink()
        shutil.copy2(away, path)

    report = library.apply_retention(30, None, now=NOW)

    assert (report.removed, report.freed_bytes, report.kept) == (2, 1000, [])
    assert not untouched.exists() and not copied_back.exists()
    assert library.check_files().missing == []  # the copy of #3 is its file still
    assert library.remove_file("it000003", "broadcast") == 200
    assert not by_hand.exists()


def test_a_fat_drives_daylight_saving_hour_is_the_same_file(
    store: Store, library: Library, tmp_path: Path
) -> None:
    """FAT keeps local time: after a daylight-saving change Windows shows every file on such a
    drive an hour off (Linux's vfat without tz=UTC too). Those files are still ours: the
    check keeps them present and retention deletes them. A time off by another amount, or an
    hour on a finer grain than FAT's whole seconds, is a file written again."""
    videos = tmp_path / "videos"
    paths = [put(store, videos, n, 100, verified_at=NOW - 40 * DAY) for n in (1, 2, 3)]
    fat = 1_700_000_000 * 1_000_000_000  # whole seconds, as FAT gives them
    for n, path in enumerate(paths, start=1):
        os.utime(path, ns=(fat, fat))
        with store.write() as conn:  # (as the download recorded it: the drive's time then)
            conn.execute(
                "UPDATE library_files SET mtime_ns = ? WHERE item_id = ?", (fat, f"it{n:06d}")
            )
    hour = 3600 * 1_000_000_000
    os.utime(paths[0], ns=(fat + hour, fat + hour))  # the clocks went forward
    os.utime(paths[1], ns=(fat - hour + 2_000_000_000, fat - hour + 2_000_000_000))
    os.utime(paths[2], ns=(fat + hour + 1, fat + hour + 1))  # a finer grain: not FAT's hour
    missing = library.check_files().missing
    assert [m.item_id for m in missing] == ["it000002", "it000003"]
    assert {m.reason for m in missing} == {REWRITTEN}
    report = library.apply_retention(30, None, now=NOW)
    assert report.removed == 1 and not paths[0].exists()
    assert paths[1].exists() and paths[2].exists()


def test_a_file_recorded_before_its_time_was_kept_is_checked_by_its_size_alone(
    store: Store, library: Library, tmp_path: Path
) -> None:
    old = put(store, tmp_path, 1, 400, verified_at=NOW - 40 * DAY, own_time=False)
    by_hand = put(store, tmp_path, 2, 400, own_time=False)
    assert [library.files(f"it{n:06d}")[0].mtime_ns for n in (1, 2)] == [None, None]
    for path in (old, by_hand):
        put_there_later(path, b"w" * 400, in_place=True)
    assert library.check_files().missing == []  # its size is the recorded one: present
    report = library.apply_retention(30, None, now=NOW)
    assert (report.removed, report.freed_bytes, report.kept) == (1, 400, [])
    assert not old.exists()
    assert library.remove_file("it000002", "broadcast") == 400
    assert not by_hand.exists()


def test_a_library_from_before_the_time_was_kept_is_updated_with_its_files(
    tmp_path: Path,
) -> None:
    """Migration 11 on a library at schema 10 holding files: the records stay, their time is
    unknown (NULL, checked by their size as before), and a new download keeps its time."""
    from alu_client.core.library.text import normalize
    from alu_client.core.store.schema import MIGRATIONS

    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir()
    videos = tmp_path / "videos"
    videos.mkdir()
    conn = sqlite3.connect(db)
    conn.create_function("alu_search_text", 1, lambda value: normalize(str(value)))
    for script in MIGRATIONS[:10]:
        conn.executescript(script)
    files = {n: videos / f"item{n}.mp4" for n in (1, 2)}
    for n, path in files.items():
        path.write_bytes(bytes([n]) * 100)
        conn.execute(
            "INSERT INTO library_files (profile, item_id, rendition, path, size, sha256,"
            " verified_at, state, reason, checked_at, transfer_id)"
            " VALUES (?, ?, 'broadcast', ?, 100, ?, ?, 'present', '', ?, ?)",
            (PROFILE, f"it{n:06d}", str(path), "ab" * 32, NOW - 40 * DAY, NOW - 40 * DAY, n),
        )
    conn.execute("PRAGMA user_version = 10")
    conn.commit()
    conn.close()

    s = Store(db)
    try:
        assert s.version == len(MIGRATIONS) >= 13
        library = Library(s, PROFILE)
        got = s.query("SELECT item_id, size, state, mtime_ns FROM library_files ORDER BY id")
        assert [tuple(r) for r in got] == [
            ("it000001", 100, "present", None),
            ("it000002", 100, "present", None),
        ]
        put_there_later(files[1], b"x" * 100, in_place=True)  # size alone says: still present
        assert library.check_files().missing == []
        report = library.apply_retention(30, None, now=NOW)
        assert (report.removed, report.kept) == (2, [])
        assert not files[1].exists() and not files[2].exists()
        again = put(s, videos, 1, 100)  # downloaded again since: its time is kept
        (f,) = library.files("it000001")
        assert f.mtime_ns == again.stat().st_mtime_ns and f.present
    finally:
        s.close()


def test_a_downloads_end_records_its_files_time(tmp_path: Path) -> None:
    """The transfer's end (the queue's, or `alu queue` without an engine) writes the library
    with the time the download job read once the file was in place."""
    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.paths import Paths
    from alu_client.core.services import Services

    paths = Paths(tmp_path / "data", tmp_path / "cache", tmp_path / "logs", tmp_path / "dl")
    services = Services(paths.ensure(), MemorySecrets())
    try:
        transfers = services.transfer_store()
        dest = paths.downloads_dir / "floods.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"f" * 64)
        st = dest.stat()
        for n, result_time in ((1, st.st_mtime_ns), (2, None)):
            tid = transfers.add(
                "download",
                "http://127.0.0.1:9/floods.mp4",
                str(dest),
                size=64,
                item_id=f"it{n:06d}",
                rendition="broadcast",
                options={"profile": PROFILE},
            )
            result = {"path": str(dest), "size": 64, "sha256": "cd" * 32}
            if result_time is not None:
                result["mtime_ns"] = result_time
            transfers.finish(tid, "done", bytes_done=64, size=64, result=result)
        got = services.store.query(
            "SELECT item_id, state, mtime_ns FROM library_files ORDER BY item_id"
        )
        assert [tuple(r) for r in got] == [
            ("it000001", "present", st.st_mtime_ns),
            ("it000002", "present", None),  # (a job's result from before: its size alone)
        ]
    finally:
        services.stop()


def test_the_cli_says_a_file_written_again_is_left_alone(
    store: Store, library: Library, tmp_path: Path
) -> None:
    from alu_client.cli.library_verbs import _missing_line
    from alu_client.core.library import MissingFile

    line = _missing_line(library, MissingFile("it000001", "proxy", tmp_path / "a.mp4", REWRITTEN))
    assert line == (
        f'missing: "Item number 1" (proxy, item it000001): {tmp_path / "a.mp4"}: {REWRITTEN}. ALU Desk '
        "leaves that file alone; to have the file it verified, download it again: "
        "alu get it000001 --proxy"
    )
