"""Two hub profiles on one workstation share its queue (two members of one hub, or two hubs):
an engine runs its own profile's transfers and those of none (``alu fetch``), never another's,
which wait queued for an engine of their own; with stand-in jobs (as in test_queue)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.store import Store
from alu_client.core.transfers.base import TransferContext
from alu_client.core.transfers.queue import MSG_DAMAGED_ROW, Progress, TransferQueue
from tests.client.test_queue import FakeJobs, make_queue
from tests.support.waiting import wait_until

ANN, BEN = "ann@hub.alu.africa", "ben@hub.alu.africa"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def add(q: TransferQueue, name: str, profile: str | None, priority: str = "routine") -> int:
    return q.add_download(
        f"http://127.0.0.1:9/{name}",
        Path(f"/nonexistent/{name}"),
        label=name,
        priority=priority,
        extra={"profile": profile} if profile else None,
    )


def state(q: TransferQueue, tid: int) -> str:
    t = q.transfers.get(tid)
    assert t is not None
    return t.state


def anns_queue(store: Store, jobs: FakeJobs, **kw: Any) -> TransferQueue:
    q = make_queue(store, jobs, **kw)
    q.profile = ANN  # as ``Services.make_queue`` sets it: Ann is signed in
    return q


def test_an_engine_runs_its_profiles_transfers_and_those_of_none_never_anothers(
    store: Store,
) -> None:
    # Ben's upload, queued before Ann signed in, went with Ann's sign-in: his clip was
    # published as hers
    jobs = FakeJobs(blocks=3)
    q = anns_queue(store, jobs)
    bens = add(q, "ben", BEN, priority="flash")  # first in the order, even
    anns, none = add(q, "ann", ANN), add(q, "fetch", None)
    q.start()
    try:
        assert q.wait_for(anns, timeout=10).state == "done"
        assert q.wait_for(none, timeout=10).state == "done"
        time.sleep(0.3)  # a few passes of the scheduler
        assert state(q, bens) == "queued"
    finally:
        q.stop()
    assert jobs.started == [anns, none]
    assert [t.id for t in q.mine()] == [anns, none]
    # Ben signs in again here: an engine of his runs it (and not Ann's)
    q = make_queue(store, jobs)
    q.profile = BEN
    q.start()
    try:
        assert q.wait_for(bens, timeout=10).state == "done"
    finally:
        q.stop()


def test_another_profiles_flash_transfer_takes_no_slot(store: Store) -> None:
    jobs = FakeJobs(blocks=300, block_time=0.01)
    q = anns_queue(store, jobs, max_downloads=1)
    anns = add(q, "ann", ANN)
    q.start()
    try:
        wait_until(lambda: q.transfers.load_checkpoint(anns).get("done", 0) > 5)
        bens = add(q, "ben", BEN, priority="flash")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # a flash transfer of hers would have its slot
            assert jobs.started == [anns] and state(q, anns) == "active"
            time.sleep(0.05)
        assert q.wait_for(anns, timeout=30).state == "done"
        assert state(q, bens) == "queued"
    finally:
        q.stop()


def test_pause_all_and_resume_all_leave_another_profiles_transfers_as_they_are(
    store: Store,
) -> None:
    q = anns_queue(store, FakeJobs())  # (not started: states only)
    anns, none = add(q, "ann", ANN), add(q, "fetch", None)
    bens, bens_paused = add(q, "ben", BEN), add(q, "ben paused", BEN)
    q.pause(bens_paused)
    q.pause_all()
    assert [state(q, t) for t in (anns, none, bens, bens_paused)] == [
        "paused",
        "paused",
        "queued",  # Ben's own pause all is his to give
        "paused",
    ]
    q.resume_all()
    assert [state(q, t) for t in (anns, none, bens, bens_paused)] == [
        "queued",
        "queued",
        "queued",
        "paused",
    ]


def test_another_profiles_transfer_left_active_by_a_crash_waits_queued(store: Store) -> None:
    jobs = FakeJobs(blocks=3)
    q = anns_queue(store, jobs)
    bens, anns = add(q, "ben", BEN), add(q, "ann", ANN)
    for tid in (bens, anns):
        assert q.transfers.claim(tid)  # as if an engine had started them and died
    q.start()
    try:
        assert q.wait_for(anns, timeout=10).state == "done"
        assert state(q, bens) == "queued"
    finally:
        q.stop()
    assert jobs.started == [anns]


def test_another_profiles_retry_time_does_not_wake_the_scheduler(store: Store) -> None:
    # a retry time of a transfer it may not start, once come, woke it at once, again and
    # again (a busy loop beside the others)
    q = anns_queue(store, FakeJobs())
    bens, anns = add(q, "ben", BEN), add(q, "ann", ANN)
    now = time.time()
    q.transfers.finish(bens, "queued", next_attempt_at=now - 5)
    q.transfers.finish(anns, "queued", next_attempt_at=now + 60)
    from alu_client.core.transfers.queue import steady

    with q._cv:
        held, wake = q._waits()
    assert held == {anns}  # Ben's time has come: it is not waited for, nor woken for
    assert wake is not None and 55 < wake - steady() <= 60


def test_progress_and_the_snapshot_are_of_the_engines_own_transfers(store: Store) -> None:
    jobs = FakeJobs(blocks=3)
    q = anns_queue(store, jobs)
    seen: list[Progress] = []
    q.add_listener(seen.extend)
    bens = add(q, "ben", BEN)
    anns = add(q, "ann", ANN)
    assert [p.id for p in q.snapshot()] == [anns]
    q.start()
    try:
        assert q.wait_for(anns, timeout=10).state == "done"
        q.pause(bens)  # asked from `alu queue pause` in a terminal, say
        q.cancel(bens)
        wait_until(lambda: any(p.id == anns and p.state == "done" for p in seen))
        time.sleep(0.2)  # a batch or two more
    finally:
        q.stop()
    assert {p.id for p in seen} == {anns}


def test_another_profiles_canceled_upload_is_left_for_its_own_engine(
    store: Store, tmp_path: Path
) -> None:
    # telling the server of a cancel sends the engine's sign-in with it: Ann's, for Ben's upload
    told: list[int] = []
    q = anns_queue(store, FakeJobs())

    def cleanup(t: Any, _ctx: TransferContext) -> bool:
        told.append(t.id)
        return True

    q.cleanups = {"upload": cleanup}
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x")
    ids = {
        who: q.add_upload(src, "http://127.0.0.1:9/up/", {"filename": "clip.mp4"}, extra=extra)
        for who, extra in (("ann", {"profile": ANN}), ("ben", {"profile": BEN}))
    }
    for tid in ids.values():
        q.transfers.save_checkpoint(tid, {"url": "http://127.0.0.1:9/up/1"})
        q.cancel(tid)
    q.start()
    try:
        wait_until(lambda: told == [ids["ann"]], what="Ann's upload's server told")
        time.sleep(0.3)
    finally:
        q.stop()
    assert told == [ids["ann"]]
    assert q.transfers.load_checkpoint(ids["ben"])  # kept, for Ben's engine


def test_a_damaged_row_still_fails_as_damaged_in_an_engine_of_one_profile(store: Store) -> None:
    jobs = FakeJobs(blocks=2)
    q = anns_queue(store, jobs)
    bad = add(q, "bad", BEN)
    with store.write() as c:  # whose it was cannot be read: said, not left queued for ever
        c.execute("UPDATE transfers SET options = '{oops' WHERE id = ?", (bad,))
    q.start()
    try:
        failed = q.wait_for(bad, timeout=10)
    finally:
        q.stop()
    assert failed.state == "failed" and failed.last_error == MSG_DAMAGED_ROW
