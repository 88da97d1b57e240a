"""Claims between workstations that watch one shared hot folder (each with its own data folder):
one takes a file, the others leave it alone; a claim its holder stopped refreshing is taken
over, judged on the observer's own clock; claims of files gone are cleaned up; a folder where
no claim can be made works as before."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from alu_client.core.store import Store
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.watch import HotFolders, WatchFolder

PROFILE = "agency"
ENDPOINT = "https://hub.example/api/v1/uploads/"
#: the stale time the tests give (the default's order; only injected clocks move)
STALE = 600.0
REFRESH = 60.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Station:
    """A workstation: its own data folder (store, queue), its own clock, the shared folder."""

    def __init__(self, data: Path, shared: Path, **kw: object) -> None:
        data.mkdir()
        self.store = Store(data / "library.sqlite3")
        self.queue = TransferQueue(self.store)  # (not started: uploads stay queued)
        self.calls: list[Path] = []
        self.clock = _Clock()
        self.hot = HotFolders(
            self.store,
            PROFILE,
            self.enqueue,
            scan_interval=0.05,
            clock=self.clock,
            video_problem=None,
            **kw,  # type: ignore[arg-type]
        )
        self.queue.transfers.outcome_hooks.append(self.hot.outcome_hook)
        self.folder = self.hot.add_folder(shared, settle_seconds=0)

    def enqueue(self, path: Path, metadata: dict[str, str], folder: WatchFolder) -> int:
        self.calls.append(path)
        return self.queue.add_upload(
            path, ENDPOINT, metadata, extra={"profile": PROFILE, "hot_folder": folder.id}
        )

    def scan(self, times: int = 1) -> None:
        for _ in range(times):
            self.hot.scan_now()

    def rows(self) -> list[tuple[str, str, str]]:
        return [(r.path.name, r.state, r.error) for r in self.hot.files(self.folder.id)]

    def restart(self, **kw: object) -> None:
        self.hot.stop()
        self.clock = _Clock()  # a new process: another monotonic clock
        self.hot = HotFolders(
            self.store,
            PROFILE,
            self.enqueue,
            scan_interval=0.05,
            clock=self.clock,
            video_problem=None,
            **kw,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self.hot.stop()
        self.store.close()


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    d = tmp_path / "nas" / "hot"
    d.mkdir(parents=True)
    return d


@pytest.fixture
def stations(tmp_path: Path, shared: Path) -> Iterator[list[Station]]:
    made: list[Station] = []
    yield made
    for s in made:
        s.close()


def station(made: list[Station], tmp_path: Path, shared: Path, **kw: object) -> Station:
    s = Station(tmp_path / f"desk{len(made) + 1}", shared, **kw)
    made.append(s)
    return s


def a_holds_b_watches(
    stations: list[Station], tmp_path: Path, shared: Path, name: str = "clip.mp4"
) -> tuple[Station, Station, Path]:
    """Two workstations on the shared folder; a file dropped in it, queued by the first (its
    claim), left alone by the second."""
    a = station(stations, tmp_path, shared, claim_stale=STALE)
    b = station(stations, tmp_path, shared, claim_stale=STALE)
    clip = shared / name
    clip.write_bytes(os.urandom(4000))
    a.scan(2)
    b.scan(2)
    assert len(a.calls) == 1 and b.calls == []
    return a, b, clip


def claims(shared: Path) -> dict[str, dict[str, object]]:
    """The claims in the shared folder, by the name of the file claimed."""
    folder = shared / ".alu-claims"
    if not folder.is_dir():
        return {}
    found = {}
    for p in folder.iterdir():
        if p.suffix == ".claim":
            data = json.loads(p.read_text(encoding="utf-8"))
            found[data["name"]] = data
    return found


def workstation_of(s: Station) -> str:
    row = s.store.query_one("SELECT value FROM settings WHERE key = 'watch.workstation_id'")
    assert row is not None
    return str(json.loads(row[0]))


def test_a_file_in_a_shared_folder_is_sent_by_one_workstation_only(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    # both took it and sent its bytes over the member's slow link; the slower one then failed
    # with "no longer there" once the other had moved it to sent/
    a = station(stations, tmp_path, shared)
    b = station(stations, tmp_path, shared)
    clip = shared / "clip.mp4"
    clip.write_bytes(os.urandom(4000))
    a.scan()
    b.scan()
    a.scan()  # settled (0 s) on its second look: queued
    b.scan(3)
    assert a.calls == [clip.resolve()] and b.calls == []
    assert b.rows() == []
    key = (b.folder.id, str(clip.resolve()))
    host = socket.gethostname()
    assert b.hot.elsewhere == {
        key: f"clip.mp4 is being sent by {host}, another workstation watching this folder;"
        " it is not sent from here."
    }
    assert workstation_of(a) != workstation_of(b)
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(a)

    [row] = a.hot.files(a.folder.id)
    a.queue.transfers.finish(row.transfer_id or 0, "done", result={"state": "published"})
    a.scan()  # moved to sent/, its claim released
    assert (shared / "sent" / "clip.mp4").exists() and not clip.exists()
    assert claims(shared) == {}
    b.scan(3)
    assert b.calls == [] and b.rows() == [] and b.hot.elsewhere == {}


def test_the_holder_restarted_keeps_its_claim(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    a = station(stations, tmp_path, shared)
    b = station(stations, tmp_path, shared)
    clip = shared / "clip.mp4"
    clip.write_bytes(os.urandom(4000))
    a.scan(2)
    assert len(a.calls) == 1
    before = claims(shared)["clip.mp4"]
    a.restart()
    a.scan(3)  # its row is uploading: not queued again; its claim refreshed (its own)
    assert len(a.calls) == 1
    after = claims(shared)["clip.mp4"]
    assert after["workstation"] == before["workstation"] == workstation_of(a)
    assert after["seq"] != before["seq"]
    b.scan(3)
    assert b.calls == []


def test_a_claim_not_refreshed_for_the_stale_time_is_taken_over_and_the_holder_cancels(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    a, b, clip = a_holds_b_watches(stations, tmp_path, shared)
    # a is asleep (it does not scan, its claim is not refreshed); b's own clock goes on
    b.clock.now += STALE - 1
    b.scan(2)
    assert b.calls == []  # not stale yet on b's clock
    b.clock.now += 1
    b.scan()
    assert b.calls == [clip.resolve()] and b.hot.elsewhere == {}
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(b)

    # a wakes: at its next refresh it finds the claim is b's, and cancels its own upload
    [mine] = a.hot.files(a.folder.id)
    a.clock.now += REFRESH
    a.scan(3)
    assert len(a.calls) == 1  # never queued again
    t = a.queue.transfers.get(mine.transfer_id or 0)
    assert t is not None and t.state == "canceled"
    host = socket.gethostname()
    [(name, state, note)] = a.rows()
    assert (name, state) == ("clip.mp4", "taken_over")  # no error: nothing to retry
    assert note.startswith(f"clip.mp4 was taken over by {host}, another workstation")
    assert "Nothing needs to be done." in note
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(b)  # left to b

    # b sends it and moves it: a says nothing more of it
    [theirs] = b.hot.files(b.folder.id)
    b.queue.transfers.finish(theirs.transfer_id or 0, "done", result={"state": "published"})
    b.scan()
    assert not clip.exists() and claims(shared) == {}
    a.clock.now += REFRESH
    a.scan(3)
    assert len(a.calls) == 1 and [r[:2] for r in a.rows()] == [("clip.mp4", "taken_over")]


def test_a_claim_refreshed_by_its_holder_is_never_taken_over(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    a, b, _ = a_holds_b_watches(stations, tmp_path, shared)
    for _ in range(int(3 * STALE / REFRESH)):  # three stale times on b's clock
        a.clock.now += REFRESH
        a.scan()
        b.clock.now += REFRESH
        b.scan()
    assert len(a.calls) == 1 and b.calls == []
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(a)
    assert b.hot.elsewhere


def test_a_folder_where_no_claim_can_be_made_uploads_as_before(
    stations: list[Station], tmp_path: Path, shared: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # (a file where the claims' folder would be: no claim, whoever runs the test, root too)
    (shared / ".alu-claims").write_text("not a folder", encoding="utf-8")
    a = station(stations, tmp_path, shared)
    for name in ("one.mp4", "two.mp4"):
        (shared / name).write_bytes(os.urandom(4000))
    with caplog.at_level(logging.INFO, logger="alu_client.core.watch"):
        a.scan(4)
    assert sorted(p.name for p in a.calls) == ["one.mp4", "two.mp4"]
    assert {r[1] for r in a.rows()} == {"uploading"}
    said = [r for r in caplog.records if "no claim can be made" in r.getMessage()]
    assert len(said) == 1  # once for the folder, not once a file or a scan
    assert ".alu-claims" in said[0].getMessage()


def test_claims_of_files_gone_are_cleaned_up(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    a = station(stations, tmp_path, shared, claim_stale=STALE)
    b = station(stations, tmp_path, shared, claim_stale=STALE)
    for name in ("kept.mp4", "left.mp4"):
        (shared / name).write_bytes(os.urandom(4000))
    a.scan(2)
    b.scan(2)
    assert set(claims(shared)) == {"kept.mp4", "left.mp4"}

    # a deletes one while it holds it: at its next refresh its claim goes
    (shared / "kept.mp4").unlink()
    a.clock.now += REFRESH
    a.scan()
    assert set(claims(shared)) == {"left.mp4"}

    # a is switched off for good; someone deletes the other file: b removes a's claim, once
    # it has not changed for the stale time on b's clock
    (shared / "left.mp4").unlink()
    b.clock.now += REFRESH
    b.scan()
    assert set(claims(shared)) == {"left.mp4"}
    b.clock.now += STALE
    b.scan()
    assert claims(shared) == {}
    assert b.calls == [] and b.rows() == []


def test_a_file_sent_but_taken_over_meanwhile_is_not_moved_from_under_the_new_holder(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    # a's upload ended while it was asleep (no scan, no refresh); b took the file over: a
    # moving it to sent/ now would make b's upload fail with "no longer there"
    a, b, clip = a_holds_b_watches(stations, tmp_path, shared)
    [mine] = a.hot.files(a.folder.id)
    a.queue.transfers.finish(mine.transfer_id or 0, "done", result={"state": "published"})
    b.clock.now += STALE
    b.scan()
    assert b.calls == [clip.resolve()]
    a.clock.now += REFRESH
    a.scan(3)
    assert clip.exists() and not (shared / "sent").exists()
    assert a.rows() == [("clip.mp4", "sent", "")]
    [theirs] = b.hot.files(b.folder.id)
    b.queue.transfers.finish(theirs.transfer_id or 0, "done", result={"state": "published"})
    b.scan()
    assert (shared / "sent" / "clip.mp4").exists() and claims(shared) == {}
    a.scan(3)
    assert a.rows() == [("clip.mp4", "sent", "")] and len(a.calls) == 1
    # a new clip of that name later: a new file, not "the one sent changed after its upload"
    clip.write_bytes(os.urandom(5000))
    a.scan(2)
    assert len(a.calls) == 2
    assert sorted(r[1:] for r in a.rows()) == [("sent", ""), ("uploading", "")]


def test_a_claim_deleted_by_hand_does_not_free_the_file_for_another(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    """Someone tidies the share (`.alu-claims` deleted) while a clip uploads: the others had
    seen it being sent; they wait for the holder to make its claim again at its next refresh,
    instead of sending the whole clip a second time at their next scan (outside review)."""
    a, b, _ = a_holds_b_watches(stations, tmp_path, shared, "clip.mp4")
    for p in (shared / ".alu-claims").iterdir():
        p.unlink()
    (shared / ".alu-claims").rmdir()
    b.clock.now += REFRESH / 2
    b.scan(2)
    assert b.calls == [], "sent a second time"
    a.clock.now += REFRESH
    a.scan()  # the holder's refresh makes its claim again
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(a)
    for _ in range(int(2 * STALE / REFRESH)):
        a.clock.now += REFRESH
        b.clock.now += REFRESH
        a.scan()
        b.scan()
    assert b.calls == [] and [r[1] for r in a.rows()] == ["uploading"]


def test_the_holder_keeps_its_claims_while_it_hashes_a_long_file(
    stations: list[Station], tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20 GB rush hashed off a slow share takes half an hour on the scan thread: the claims
    of what this workstation uploads meanwhile are refreshed all the same. They were only
    refreshed once a scan ended; the others took the clip over and this one canceled its
    upload, "asleep or off the network" (outside review)."""
    from alu_client.core.watch import scan

    monkeypatch.setattr(scan, "_HASH_BLOCK", 1000)  # (a block per minute of the clock below)
    a, b, _ = a_holds_b_watches(stations, tmp_path, shared, "x.mp4")
    rush = shared / "rush.mp4"
    rush.write_bytes(os.urandom(40_000))  # 40 blocks: 40 minutes of the clock below
    real_sha256 = scan.hashlib.sha256

    class SlowShare:
        """sha256 whose every block takes a minute of both workstations' clocks, the other
        scanning meanwhile."""

        busy = False

        def __init__(self) -> None:
            self.h = real_sha256()

        def update(self, block: bytes) -> None:
            self.h.update(block)
            if len(block) == 1000 and not SlowShare.busy:  # (b's own hashes: plain)
                SlowShare.busy = True
                a.clock.now += REFRESH
                b.clock.now += REFRESH
                b.scan()
                SlowShare.busy = False

        def hexdigest(self) -> str:
            return self.h.hexdigest()

    monkeypatch.setattr(scan, "hashlib", SimpleNamespace(sha256=SlowShare))  # (the scan's)
    a.clock.now += REFRESH
    a.scan(2)  # settles, then hashes the rush for 40 minutes
    assert "x.mp4" not in [p.name for p in b.calls], "b took over x while a was uploading it"
    assert ("x.mp4", "uploading", "") in a.rows(), a.rows()


def test_a_file_another_workstation_moves_while_this_one_looks_at_it_is_no_error(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    """Both see a file settle; one takes it, sends it and moves it to sent/ while the other
    still probes it: the other has nothing to report. It recorded "could not be taken: No
    such file or directory", an error row that stayed (outside review)."""
    a = station(stations, tmp_path, shared, claim_stale=STALE)
    b = station(stations, tmp_path, shared, claim_stale=STALE)
    z = shared / "z.mp4"
    z.write_bytes(os.urandom(4000))
    a.scan()
    b.scan()

    def probe_while_a_sends(path: Path) -> str:
        a.scan()  # a takes and queues it
        [row] = a.hot.files(a.folder.id)
        assert row.transfer_id is not None
        a.queue.transfers.finish(row.transfer_id, "done", result={"state": "published"})
        a.scan()  # ... and moves it to sent/
        path.stat()  # the probe's first look (FileNotFoundError)
        return ""

    b.hot.video_problem = probe_while_a_sends
    b.scan()
    assert not z.exists() and (shared / "sent" / "z.mp4").exists()
    assert b.rows() == [] and b.calls == []


# --- a file taken over, and the files another workstation sends, as the user sees them ------------


def taken_over_from_a(
    stations: list[Station], tmp_path: Path, shared: Path
) -> tuple[Station, Station, Path]:
    """a queued the clip and slept past the stale time; b took it over; a woke and canceled."""
    a, b, clip = a_holds_b_watches(stations, tmp_path, shared)
    b.clock.now += STALE
    b.scan()
    assert b.calls == [clip.resolve()]
    a.clock.now += REFRESH
    a.scan()
    return a, b, clip


def test_a_file_taken_over_is_no_error_and_shows_as_sent_by_the_other_workstation(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    """The clip another workstation took over was stored as an error: the app listed it among
    the files "not sent" with a Retry that would have sent it a second time, though nothing
    failed (outside review). It is a state of its own now, and shown as sent from there while
    that workstation has it, by the engine and by any reader of the store (Settings with the
    engine elsewhere, `alu watch list`)."""
    a, b, clip = taken_over_from_a(stations, tmp_path, shared)
    [row] = a.hot.files(a.folder.id)
    assert row.state == "taken_over" and row.transfer_id is None
    assert [f for f in a.hot.files(a.folder.id) if f.state == "error"] == []
    host = socket.gethostname()
    said = (
        f"clip.mp4 was taken over by {host}, another workstation watching this folder, while"
        " this one was asleep or off the network: it is sent from there, and its upload here"
        " was canceled. Nothing needs to be done."
    )
    reader = HotFolders(a.store, PROFILE, lambda *_a: 0)  # (never scans: Settings, the CLI)
    for hot in (a.hot, reader):
        [shown] = hot.sent_elsewhere(a.folder.id)
        assert (shown.path, shown.host, shown.note) == (clip.resolve(), host, said)
    a.hot.retry(row.id)  # (no Retry for it: and should one be asked for, nothing happens)
    for _ in range(3):  # b keeps its claim: a leaves the clip alone
        a.clock.now += REFRESH
        b.clock.now += REFRESH
        b.scan()
        a.scan()
    assert len(a.calls) == 1 and [r[:2] for r in a.rows()] == [("clip.mp4", "taken_over")]
    assert [e.note for e in reader.sent_elsewhere(a.folder.id)] == [said]

    # b sends it and moves it to sent/: nothing more to say of it here
    [theirs] = b.hot.files(b.folder.id)
    b.queue.transfers.finish(theirs.transfer_id or 0, "done", result={"state": "published"})
    b.scan()
    a.scan()
    assert reader.sent_elsewhere(a.folder.id) == []
    assert len(a.calls) == 1 and [r[:2] for r in a.rows()] == [("clip.mp4", "taken_over")]


def test_a_file_taken_over_is_taken_again_when_its_new_holder_goes_away_in_turn(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    # not retried as an error, but not left behind for good either: the claims decide, as for
    # a file never taken here (the error row stayed and the clip was never sent)
    a, _b, clip = taken_over_from_a(stations, tmp_path, shared)
    a.scan()
    assert len(a.calls) == 1 and a.hot.sent_elsewhere(a.folder.id)
    a.clock.now += STALE  # b is switched off: its claim no longer changes
    a.scan(2)
    assert a.calls == [clip.resolve(), clip.resolve()]
    assert [r[:2] for r in a.rows()] == [("clip.mp4", "uploading")]
    assert claims(shared)["clip.mp4"]["workstation"] == workstation_of(a)
    assert a.hot.sent_elsewhere(a.folder.id) == []


def test_the_files_another_workstation_sends_are_kept_for_settings_and_the_cli(
    stations: list[Station], tmp_path: Path, shared: Path
) -> None:
    """ "clip.mp4 is being sent by HOST" was in the engine's memory and its log only: the app
    and `alu watch list` showed nothing of it (outside review)."""
    a, b, clip = a_holds_b_watches(stations, tmp_path, shared)
    host = socket.gethostname()
    said = (
        f"clip.mp4 is being sent by {host}, another workstation watching this folder; it is not"
        " sent from here."
    )
    reader = HotFolders(b.store, PROFILE, lambda *_a: 0)
    [shown] = reader.sent_elsewhere(b.folder.id)
    assert (shown.path, shown.host, shown.note) == (clip.resolve(), host, said)
    since = shown.since
    b.restart()  # kept as the last scan found it, not written again while it stays so
    b.scan(3)
    assert [(e.note, e.since) for e in reader.sent_elsewhere(b.folder.id)] == [(said, since)]
    assert a.hot.sent_elsewhere(a.folder.id) == []  # (the sender's own: not "elsewhere")
    [row] = a.hot.files(a.folder.id)
    a.queue.transfers.finish(row.transfer_id or 0, "done", result={"state": "published"})
    a.scan()
    b.scan()
    assert reader.sent_elsewhere(b.folder.id) == []


def test_alu_watch_list_prints_the_files_another_workstation_sends(
    tmp_path: Path, shared: Path
) -> None:
    from tests.client.test_damaged_rows import PROFILE as HOME_PROFILE
    from tests.client.test_damaged_rows import alu, make_home

    home = make_home(tmp_path / "home")
    other = Store(tmp_path / "other.sqlite3")
    mine = Store(home / "data" / "library.sqlite3")
    try:
        sender = HotFolders(other, HOME_PROFILE, lambda *_a: 7, video_problem=None)
        watcher = HotFolders(mine, HOME_PROFILE, lambda *_a: 0, video_problem=None)
        sender.add_folder(shared, settle_seconds=0)
        watcher.add_folder(shared, settle_seconds=0)
        (shared / "Goma floods.mp4").write_bytes(os.urandom(4000))
        sender.scan_now()
        sender.scan_now()
        watcher.scan_now()
        watcher.scan_now()
    finally:
        other.close()
        mine.close()
    r = alu(home, "watch", "list")
    assert r.returncode == 0, r.stderr
    assert "(0 sent, 0 errors)" in r.stdout
    assert (
        f"       sent elsewhere (when last watched): Goma floods.mp4 is being sent by"
        f" {socket.gethostname()}, another workstation watching this folder; it is not sent"
        " from here.\n"
    ) in r.stdout


@pytest.mark.parametrize("scan_between", [True, False], ids=["scanned-between", "in-one-go"])
def test_a_folder_removed_and_added_again_lists_the_files_another_workstation_sends(
    stations: list[Station], tmp_path: Path, shared: Path, scan_between: bool
) -> None:
    """Removing a hot folder deletes its list of files sent elsewhere (the store's cascade); the
    folder added again gets the same id (SQLite reuses the highest one). The engine kept in
    memory what it had written and, the scan finding the same files, wrote nothing: Settings
    and `alu watch list` showed none of them until the engine restarted (review of diff34).
    Removed and added in one go (Settings' OK, another process) as well as with a scan between."""
    _a, b, clip = a_holds_b_watches(stations, tmp_path, shared)
    assert [e.path for e in b.hot.sent_elsewhere(b.folder.id)] == [clip.resolve()]
    b.hot.remove_folder(b.folder.id)
    if scan_between:
        b.scan()
        assert b.hot.elsewhere == {}  # (a folder no longer watched: nothing said of its files)
    again = b.hot.add_folder(shared, settle_seconds=0)
    assert again.id == b.folder.id  # (what made it happen)
    b.scan(2)
    reader = HotFolders(b.store, PROFILE, lambda *_a: 0)  # (Settings, the CLI)
    assert [e.path for e in reader.sent_elsewhere(again.id)] == [clip.resolve()]
    assert b.calls == []
