"""Two workstations sharing one download folder take the same item (a rule on each fires for
the agency's push, or two editors click Download): the second must not fetch it over the
member's link again, nor fail on the first one's part file. It waits while the other's part
file changes, and takes the file once it is in place and checks out; a part file left
unchanged for ``OTHER_STALE_S`` (seen on this machine's clock) is a download that stopped:
this one then saves the item under a name of its own, moved on its row before a byte is written
there. A name the other left free (its download canceled) is the item's again; a download killed
and started again once the other's file is in place keeps that file, not its own copy.

At the job's level (``jobs.download_job``), with the transfer row the queue hands it; the two
workstations end to end are in test_shared_download_folder.py."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from alu_client.core.safe_names import FoldedNames
from alu_client.core.transfers import jobs
from alu_client.core.transfers.base import PermanentError, RetryableError, TransferContext
from tests.client.test_download import FileServer, Job, queued_download
from tests.client.test_download import job as job  # (the fixture)
from tests.client.test_download import server as server  # (the fixture)

if TYPE_CHECKING:
    from alu_client.core.transfers.base import ChooseDestination

BUSY = "Another download is writing"


class Clock:
    """``time.time`` as the job reads it, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(jobs.time, "time", c)
    return c


class Row:
    """The queue's side of ``TransferContext.move_download`` for one transfer: the names its
    workstation's other open downloads write to, and the transfer's row moved as the store
    moves it (what the next run is handed). Each move records whether the part file at the
    new name was there yet: the row must name it before the job writes it."""

    def __init__(self, transfer: Any, others: Iterable[str] = ()) -> None:
        self.transfer = transfer
        self.others = list(others)
        self.moves: list[tuple[str, str | None, bool]] = []

    def __call__(self, choose: ChooseDestination) -> tuple[Path, Path | None] | None:
        taken = FoldedNames([Path(self.transfer.destination).name, *self.others])
        chosen = choose(taken)
        if chosen is None:
            return None
        dest, same = chosen
        self.transfer.destination = str(dest)
        self.transfer.options = {k: v for k, v in self.transfer.options.items() if k != "same_as"}
        if same is not None:
            self.transfer.options["same_as"] = str(same)
        part = dest.with_name(dest.name + ".part")
        self.moves.append((dest.name, None if same is None else same.name, part.exists()))
        return chosen


def in_a_queue(job: Job, row: Row) -> TransferContext:
    """A context for one run of the transfer of ``row``, as the queue makes it."""
    ctx = job.context()
    ctx.move_download = row
    return ctx


def others_part(path: Path, data: bytes) -> Path:
    """Another workstation's download under way at ``path``: its part file, some bytes in."""
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    return part


def in_place(part: Path, data: bytes) -> None:
    """The other download ends: its part file, whole, renamed into place."""
    part.write_bytes(data)
    part.rename(part.with_name(part.name.removesuffix(".part")))


def at_its_own_name(server: FileServer, job: Job) -> tuple[Path, Any, Path]:
    """This download's name is the item's, and another's part file is there (both queued it
    at the same moment)."""
    dest = job.tmp / "clip.mp4"
    return dest, queued_download(server, dest), others_part(dest, server.data[:4096])


def beside(server: FileServer, job: Job) -> tuple[Path, Path, Any, Path]:
    """Another's download of the item was under way when this one was queued: this one's
    name is "NAME (2)", and ``same_as`` names the other's."""
    name, own = job.tmp / "clip.mp4", job.tmp / "clip (2).mp4"
    transfer = queued_download(server, own)
    transfer.options = {"same_as": str(name)}
    return name, own, transfer, others_part(name, server.data[:4096])


def waits(transfer: Any, job: Job, server: FileServer, row: Row | None = None) -> None:
    asked = len(server.requests)
    with pytest.raises(RetryableError, match=BUSY) as e:
        jobs.download_job(transfer, job.context() if row is None else in_a_queue(job, row))
    assert e.value.retry_after == jobs.OTHER_LOOK_S
    assert len(server.requests) == asked  # not a byte asked of the server while it waits
    transfer.attempts += 1


def test_the_items_file_another_writes_beside_is_waited_for_then_taken(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """The other's download had begun when this one was queued: this one's name is "NAME (2)"
    and ``same_as`` names the other's."""
    name, own = job.tmp / "clip.mp4", job.tmp / "clip (2).mp4"
    transfer = queued_download(server, own)
    transfer.options = {"same_as": str(name)}
    part = others_part(name, server.data[: len(server.data) // 3])

    waits(transfer, job, server)
    clock.now += jobs.OTHER_STALE_S - 1  # long, but it moved meanwhile
    part.write_bytes(server.data[: len(server.data) // 2])
    waits(transfer, job, server)
    assert not own.exists() and not own.with_name(own.name + ".part").exists()

    in_place(part, server.data)
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(name) and result["found_in_folder"] is True
    assert result["bytes_fetched"] == 0 and len(server.requests) == 0
    assert not own.exists() and name.read_bytes() == server.data


def test_two_that_took_the_same_name_at_once_share_one_download(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """Both workstations queued it before either's part file was there: both chose the item's
    name. The second one's own part file is the other's. It failed for good before ("this
    download did not make it; move it away"), and the download was lost to the user."""
    dest, transfer, part = at_its_own_name(server, job)

    waits(transfer, job, server)
    in_place(part, server.data)
    result = jobs.download_job(transfer, job.context())  # (attempts 2: as after a failure)
    assert result["path"] == str(dest) and result["found_in_folder"] is True
    assert result["bytes_fetched"] == 0 and len(server.requests) == 0


def test_a_part_file_left_unchanged_is_a_download_that_stopped(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """The other workstation was switched off mid-download: this one fetches the item under
    its own name after ``OTHER_STALE_S``, not for ever waiting."""
    _, own, transfer, part = beside(server, job)

    waits(transfer, job, server)
    clock.now += jobs.OTHER_STALE_S - 1
    waits(transfer, job, server)
    clock.now += 1
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(own) and own.read_bytes() == server.data
    assert result["bytes_fetched"] >= len(server.data) and "found_in_folder" not in result
    assert part.read_bytes() == server.data[:4096]  # the other's, left alone


def test_a_stopped_download_at_its_own_name_leaves_it_a_name_of_its_own(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """Both workstations chose the item's name at the same moment, and the other stopped for
    good (its part file never changes again): after ``OTHER_STALE_S`` this one saves the item
    as "NAME (2)" (the services' rule for a clash), on its row before a byte is written there,
    and goes on looking at the item's name (``same_as``). It failed for good before, asking
    the user to move the other's part file away."""
    dest, transfer, part = at_its_own_name(server, job)
    row = Row(transfer)
    waits(transfer, job, server, row)
    clock.now += jobs.OTHER_STALE_S
    result = jobs.download_job(transfer, in_a_queue(job, row))
    own = job.tmp / "clip (2).mp4"
    assert row.moves == [(own.name, dest.name, False)]  # (no part file there yet)
    assert transfer.destination == str(own) and transfer.options["same_as"] == str(dest)
    assert result["path"] == str(own) and own.read_bytes() == server.data
    assert "found_in_folder" not in result
    assert part.read_bytes() == server.data[:4096] and not dest.exists()  # the other's, left
    assert job.notes == [
        "Another download left “clip.mp4” unfinished; this one saves the file as “clip (2).mp4”."
    ]


def test_a_stopped_download_at_the_items_name_does_not_hide_a_live_one_at_its_own(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """Three workstations on one share: A's download stopped for good at the item's name;
    B and this one queued the item at the same moment, both as "NAME (2)", and B writes its
    part file there. This one waits for B's, however long A's has not changed, and keeps B's
    file once in place. It failed for good before, the stopped part file at the item's name
    hiding B's live one, and asked the user to move away the file B was writing."""
    name, own, transfer, a_part = beside(server, job)
    row = Row(transfer)
    waits(transfer, job, server, row)  # (A's part file, seen)
    b_part = others_part(own, server.data[:8192])
    clock.now += jobs.OTHER_STALE_S  # A's has not changed for 10 minutes
    b_part.write_bytes(server.data[:16384])  # B's grows
    with pytest.raises(RetryableError, match=f"{BUSY} “clip \\(2\\).mp4.part”"):
        jobs.download_job(transfer, in_a_queue(job, row))
    transfer.attempts += 1
    clock.now += jobs.OTHER_STALE_S - 1  # B's: not changed since, but not for 10 minutes
    waits(transfer, job, server, row)

    in_place(b_part, server.data)
    result = jobs.download_job(transfer, in_a_queue(job, row))
    assert result["path"] == str(own) and result["found_in_folder"] is True
    assert result["bytes_fetched"] == 0 and len(server.requests) == 0
    assert row.moves == [] and own.read_bytes() == server.data
    assert a_part.read_bytes() == server.data[:4096] and not name.exists()


def test_every_part_file_there_stopped_leaves_it_a_name_of_its_own(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """A stopped at the item's name and B, queued at the same moment as this one, at
    "NAME (2)", this one's name: once neither has changed for ``OTHER_STALE_S`` (each counted
    from its own last change), this one saves the item as "NAME (3)", the next free name, as
    the README says. It failed for good before ("move it away")."""
    name, own, transfer, a_part = beside(server, job)
    b_part = others_part(own, server.data[:8192])
    row = Row(transfer)
    waits(transfer, job, server, row)
    clock.now += jobs.OTHER_STALE_S - 1
    b_part.write_bytes(server.data[:16384])  # B's moved once more: 10 minutes from now on
    waits(transfer, job, server, row)
    clock.now += 1  # A's: 10 minutes unchanged; B's: not yet
    waits(transfer, job, server, row)
    clock.now += jobs.OTHER_STALE_S - 1
    result = jobs.download_job(transfer, in_a_queue(job, row))
    third = job.tmp / "clip (3).mp4"
    assert row.moves == [(third.name, name.name, False)]  # (no part file there yet)
    assert transfer.destination == str(third) and transfer.options["same_as"] == str(name)
    assert result["path"] == str(third) and third.read_bytes() == server.data
    assert "found_in_folder" not in result
    assert a_part.read_bytes() == server.data[:4096] and not name.exists()
    assert b_part.read_bytes() == server.data[:16384] and not own.exists()
    assert job.notes == [
        "Another download left “clip (2).mp4” unfinished; this one saves the file as “clip (3).mp4”."
    ]


def test_a_note_saved_before_of_one_part_file_is_still_counted(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """A transfer waiting when the app was updated: its checkpoint notes one part file alone
    (not a list). The time already waited counts: it does not wait 10 minutes more."""
    _, own, transfer, part = beside(server, job)
    st = part.stat()
    job.checkpoint.data = {
        "other_download": {
            "part": str(part),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "since": clock.now - jobs.OTHER_STALE_S,
        }
    }
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(own) and own.read_bytes() == server.data
    assert part.read_bytes() == server.data[:4096]


def test_the_new_name_skips_those_this_workstation_writes_and_resumes_after_a_kill(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """The name chosen is free on disk and of no other download of this workstation; a run
    cut after the move resumes the part file at the new name (its row names it), and never
    looks for a name again."""
    dest, transfer, part = at_its_own_name(server, job)
    row = Row(transfer, others=["clip (2).mp4"])  # queued here, not begun
    transfer.options["segments"] = 1  # (one stream: the cut ends the run)
    waits(transfer, job, server, row)
    clock.now += jobs.OTHER_STALE_S
    server.cut_after = len(server.data) // 2
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        jobs.download_job(transfer, in_a_queue(job, row))
    own = job.tmp / "clip (3).mp4"
    assert transfer.destination == str(own) and own.with_name(own.name + ".part").exists()
    kept = job.done_bytes()
    assert kept > 0

    server.cut_after = None
    transfer.attempts += 1
    result = jobs.download_job(transfer, in_a_queue(job, row))
    assert result["path"] == str(own) and own.read_bytes() == server.data
    assert result["bytes_fetched"] <= len(server.data) - kept  # resumed, not fetched again
    assert row.moves == [(own.name, dest.name, False)]
    assert part.read_bytes() == server.data[:4096] and not dest.exists()


def test_without_a_row_to_move_a_stopped_download_at_its_own_name_is_said(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """A job run without a queue's row (nothing to move its destination): the part file is
    said to be another's, for the user to move, as before."""
    dest, transfer, part = at_its_own_name(server, job)
    waits(transfer, job, server)
    clock.now += jobs.OTHER_STALE_S
    with pytest.raises(PermanentError, match="this download did not make it"):
        jobs.download_job(transfer, job.context())
    assert part.read_bytes() == server.data[:4096] and not dest.exists()


def test_a_clock_put_back_does_not_make_it_stale(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    dest = job.tmp / "clip.mp4"
    transfer = queued_download(server, dest)
    others_part(dest, server.data[:4096])
    waits(transfer, job, server)
    clock.now -= 3 * jobs.OTHER_STALE_S
    waits(transfer, job, server)
    clock.now += jobs.OTHER_STALE_S - 1  # from the time seen after it was put back
    waits(transfer, job, server)


def test_the_other_download_gone_without_its_file_this_one_takes_the_items_name(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """The other was canceled (its part file deleted, no file made): this one goes on at
    once, under the item's own name, now free. It saved "NAME (2)" beside nothing before."""
    name, own, transfer, part = beside(server, job)
    row = Row(transfer)
    waits(transfer, job, server, row)
    os.unlink(part)
    result = jobs.download_job(transfer, in_a_queue(job, row))
    assert row.moves == [(name.name, None, False)]
    assert transfer.destination == str(name) and "same_as" not in transfer.options
    assert result["path"] == str(name) and name.read_bytes() == server.data
    assert not own.exists() and not own.with_name(own.name + ".part").exists()
    assert "other_download" not in job.checkpoint.data


def test_the_items_name_another_download_of_this_workstation_writes_is_left_to_it(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """The item's name is free on disk but another download queued here writes to it (not
    begun yet): this one keeps its own name."""
    name, own, transfer, part = beside(server, job)
    os.unlink(part)
    row = Row(transfer, others=[name.name])
    result = jobs.download_job(transfer, in_a_queue(job, row))
    assert row.moves == [] and transfer.destination == str(own)
    assert result["path"] == str(own) and own.read_bytes() == server.data and not name.exists()


def killed_mid_download(server: FileServer, job: Job, transfer: Any) -> Path:
    """This workstation's run of ``transfer`` cut half-way (a kill: its part file and
    checkpoint stay); its part file. One stream: the cut ends the run (several would take
    the rest over)."""
    transfer.options["segments"] = 1
    server.cut_after = len(server.data) // 2
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        jobs.download_job(transfer, job.context())
    server.cut_after = None
    transfer.attempts += 1
    part = Path(transfer.destination + ".part")
    assert part.exists() and job.done_bytes() > 0
    return part


def test_a_download_resumed_after_the_others_file_is_in_place_keeps_that_one(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """Killed mid-download of "NAME (2)" (the other's part file at the item's name was left
    unchanged long enough), started again once the other had finished, verified and renamed
    its file: that file is kept, nothing fetched, and this one's own part file goes. It
    finished its own copy beside it before."""
    name, own, transfer, part = beside(server, job)
    os.utime(part, (1, 1))
    waits(transfer, job, server)
    clock.now += jobs.OTHER_STALE_S
    mine = killed_mid_download(server, job, transfer)
    assert transfer.destination == str(own)

    in_place(part, server.data)  # the other workstation, back, finishes
    asked = len(server.requests)
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(name) and result["found_in_folder"] is True
    assert result["bytes_fetched"] == 0 and len(server.requests) == asked
    assert not mine.exists() and not own.exists() and name.read_bytes() == server.data


def test_a_download_resumed_with_the_items_file_at_its_own_name_keeps_that_one(
    server: FileServer,
    job: Job,
) -> None:
    """Killed mid-download at the item's own name; a verified file of the item is at that
    name when it starts again (another's, whole): kept, its own part file removed."""
    dest = job.tmp / "clip.mp4"
    transfer = queued_download(server, dest)
    mine = killed_mid_download(server, job, transfer)
    theirs = job.tmp / "theirs.tmp"
    theirs.write_bytes(server.data)
    theirs.rename(dest)
    asked = len(server.requests)
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(dest) and result["bytes_fetched"] == 0
    assert len(server.requests) == asked and not mine.exists()
    assert dest.read_bytes() == server.data


def test_a_resumed_download_beside_other_bytes_at_the_items_name_goes_on(
    server: FileServer,
    job: Job,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file of the item's size with other bytes at the item's name: the resumed download
    goes on with its own part file, and that file is read once, not at every resume."""
    name, own = job.tmp / "clip.mp4", job.tmp / "clip (2).mp4"
    other = bytes(reversed(server.data))
    name.write_bytes(other)
    transfer = queued_download(server, own)
    transfer.options = {"same_as": str(name)}
    read: list[Path] = []
    real = jobs._sha256_of

    def counted(path: Path, ctx: Any, progress: bool = False) -> str:
        read.append(path)
        return real(path, ctx, progress)

    monkeypatch.setattr(jobs, "_sha256_of", counted)
    killed_mid_download(server, job, transfer)  # (its first run read it: other bytes)
    server.cut_after = len(server.data) // 4  # (of the rest: the run resumes)
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        jobs.download_job(transfer, job.context())
    server.cut_after = None
    result = jobs.download_job(transfer, job.context())
    assert result["path"] == str(own) and own.read_bytes() == server.data
    assert name.read_bytes() == other and read == [name]


def test_a_download_without_a_sha256_does_not_wait(
    server: FileServer,
    job: Job,
    clock: Clock,
) -> None:
    """Nothing to check the other's file by (a plain URL): the part file there is another's,
    refused as before."""
    dest = job.tmp / "clip.mp4"
    transfer = queued_download(server, dest)
    transfer.sha256 = None
    others_part(dest, server.data[:4096])
    with pytest.raises(PermanentError, match="this download did not make it"):
        jobs.download_job(transfer, job.context())
