"""The queue with stand-in jobs: order, caps, pause/resume/cancel, retries, crash recovery,
batched progress. (The real jobs are tested in test_download/test_upload and end to end.)"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.cli.queue_verbs import transfer_command
from alu_client.core.lockfile import EngineBusy, EngineLock, holder
from alu_client.core.store import SchemaTooNew, Store
from alu_client.core.store.transfers import (
    LOG_KEEP_FIRST,
    LOG_KEPT_FOR,
    LOG_MAX_ROWS,
    PRIORITIES,
    Transfer,
    TransferStore,
)
from alu_client.core.transfers import download as dl
from alu_client.core.transfers.base import (
    MSG_ACCESS_REFUSED,
    PHASE_LIBRARY,
    PHASE_VERIFYING,
    PermanentError,
    RetryableError,
    Stopped,
    TransferContext,
)
from alu_client.core.transfers.queue import (
    MSG_DAMAGED_ROW,
    MSG_LIBRARY_FULL,
    Progress,
    TransferQueue,
)
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from tests.support.waiting import wait_until


class FakeJobs:
    """Jobs that move ``blocks`` blocks of 1 KiB through the meter, honouring the control."""

    def __init__(self, blocks: int = 50, block_time: float = 0.005) -> None:
        self.blocks = blocks
        self.block_time = block_time
        self.started: list[int] = []
        self.running = 0
        self.max_running = 0
        self.fail_plan: dict[int, list[Exception]] = {}
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None

    def __call__(self, t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        with self.lock:
            self.started.append(t.id)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if self.gate is not None:
                while not self.gate.wait(0.05):
                    ctx.control.check()
            plan = self.fail_plan.get(t.id)
            if plan:
                raise plan.pop(0)
            start = int(ctx.checkpoint.load().get("done", 0))
            ctx.progress(start * 1024, self.blocks * 1024)
            for n in range(start, self.blocks):
                ctx.meter(1024)
                ctx.control.check()
                ctx.checkpoint.save({"done": n + 1})
                ctx.control.wait(self.block_time)
            return {"size": self.blocks * 1024}
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def make_queue(store: Store, jobs: FakeJobs, **kw: Any) -> TransferQueue:
    policy = RetryPolicy(Backoff(base=0.05, cap=0.1))
    return TransferQueue(
        store, jobs={"download": jobs, "upload": jobs}, policy=policy, progress_interval=0.05, **kw
    )


def add(q: TransferQueue, name: str, priority: str = "routine") -> int:
    return q.add_download(
        f"http://127.0.0.1:9/{name}", Path(f"/nonexistent/{name}"), label=name, priority=priority
    )


def test_runs_by_priority_then_order_within_the_cap(store: Store) -> None:
    jobs = FakeJobs(blocks=5)
    q = make_queue(store, jobs, max_downloads=1)
    ids = [add(q, "a"), add(q, "b"), add(q, "c")]
    flash = add(q, "flash", priority="flash")
    q.start()
    try:
        for tid in [*ids, flash]:
            assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
    assert jobs.started == [flash, *ids]
    assert jobs.max_running == 1


def test_separate_caps_for_downloads_and_uploads(store: Store, tmp_path: Path) -> None:
    jobs = FakeJobs(blocks=20)
    q = make_queue(store, jobs, max_downloads=2, max_uploads=1)
    src = tmp_path / "f.mp4"
    src.write_bytes(b"x")
    ids = [add(q, f"d{n}") for n in range(4)] + [
        q.add_upload(src, "http://127.0.0.1:9/up/", {"filename": "f.mp4"}) for _ in range(2)
    ]
    q.start()
    try:
        for tid in ids:
            assert q.wait_for(tid, timeout=20).state == "done"
    finally:
        q.stop()
    assert jobs.max_running <= 3


def test_queued_names_that_differ_only_by_case_or_form_get_two_destinations(
    store: Store, tmp_path: Path
) -> None:
    # "Nairobi.mp4" and "NAIROBI.mp4" downloaded together to a disk that ignores case (the
    # app cannot know the folder's): one part file for both, checksum mismatches, then one
    # failed for good; a name kept decomposed (macOS) is the composed one too
    from alu_client.core.safe_names import unique_path

    transfers = TransferStore(store)
    transfers.add("download", "http://hub/old", "C:\\ALU\\Kigali.MP4")  # (another system's)
    transfers.add("upload", "/clips/NAIROBI.mp4", "http://hub/files/nairobi.mp4")
    names = ["Nairobi.mp4", "NAIROBI.mp4", "nairobi.MP4", "kigali.mp4", "Café.mp4"]
    names.append(unicodedata.normalize("NFD", "CAFÉ.mp4"))
    chosen = []
    for n, name in enumerate(names):
        taken = transfers.names_taken(("queued", "active", "paused"))
        dest = unique_path(tmp_path, name, taken)
        transfers.add("download", f"http://hub/{n}", str(dest))
        chosen.append(dest.name)
    assert chosen == [
        "Nairobi.mp4",  # (an upload's tus URL is no file name taken)
        "NAIROBI (2).mp4",
        "nairobi (3).MP4",
        "kigali (2).mp4",
        "Café.mp4",
        "CAFÉ (2).mp4",
    ]
    assert len({c.casefold() for c in chosen}) == len(chosen)


def test_reorder(store: Store) -> None:
    jobs = FakeJobs(blocks=2)
    q = make_queue(store, jobs, max_downloads=1)
    a, b, c = add(q, "a"), add(q, "b"), add(q, "c")
    q.move(c, before=a)
    q.start()
    try:
        q.wait_for(b, timeout=10)
    finally:
        q.stop()
    assert jobs.started == [c, a, b]


def test_pause_takes_effect_at_once_and_resume_continues(store: Store) -> None:
    jobs = FakeJobs(blocks=400, block_time=0.01)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    q.start()
    try:
        wait_until(
            lambda: (
                (t := q.transfers.get(tid)) is not None
                and t.state == "active"
                and len(jobs.started) == 1
            )
        )
        wait_until(lambda: q.transfers.load_checkpoint(tid).get("done", 0) > 10)
        asked = time.monotonic()
        q.pause(tid)
        assert q.wait_for(tid, timeout=5, states=("paused",)).state == "paused"
        assert time.monotonic() - asked < 1.0
        at_pause = q.transfers.load_checkpoint(tid)["done"]
        assert 0 < at_pause < 400
        q.resume(tid)
        assert q.wait_for(tid, timeout=20).state == "done"
    finally:
        q.stop()
    assert q.transfers.get(tid).bytes_done == 400 * 1024  # type: ignore[union-attr]
    kinds = [k for _, k, _ in q.transfers.log(tid)]
    assert kinds[:2] == ["added", "started"] and "paused" in kinds and kinds[-1] == "done"


def test_cancel_active_and_queued(store: Store) -> None:
    jobs = FakeJobs(blocks=1000, block_time=0.01)
    q = make_queue(store, jobs, max_downloads=1)
    a, b = add(q, "a"), add(q, "b")
    q.start()
    try:
        wait_until(lambda: q.transfers.get(a).state == "active")  # type: ignore[union-attr]
        q.cancel(b)
        q.cancel(a)
        assert q.wait_for(a, timeout=5).state == "canceled"
        assert q.transfers.get(b).state == "canceled"  # type: ignore[union-attr]
    finally:
        q.stop()
    assert jobs.started == [a]


class SlowToStop(FakeJobs):
    """A job that takes a while to wind down once stopped (a socket closing, a last write)."""

    def __call__(self, t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        try:
            return super().__call__(t, ctx)
        except Stopped:
            time.sleep(0.3)
            raise


@pytest.mark.parametrize("second", ["cancel", "resume"])
def test_what_is_asked_last_while_a_pause_winds_down_wins(store: Store, second: str) -> None:
    # pause() then at once cancel() ended paused (the cancel lost: the part file and the server
    # upload kept); pause() then resume() (or pause_all/resume_all) ended paused too
    # ~2.5 s of blocks: the pauses and resumes below come within the first half second
    jobs = SlowToStop(blocks=400, block_time=0.005)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: q.transfers.load_checkpoint(tid).get("done", 0) > 5)
        if second == "cancel":
            q.pause(tid)
            q.cancel(tid)
            assert q.wait_for(tid, timeout=5).state == "canceled"
        else:
            q.pause_all()
            q.resume_all()
            wait_until(lambda: len(jobs.started) == 2, what="started again")
            q.pause(tid)
            q.resume(tid)
            assert q.wait_for(tid, timeout=30).state == "done"
            assert len(jobs.started) == 3
    finally:
        q.stop()


def test_pause_all_while_the_queue_starts_transfers_pauses_every_one(store: Store) -> None:
    # pause-all lands at random moments of the scheduler starting the next transfer (claimed in
    # the store, not yet running): none of them may slip through and run on
    rng = random.Random(7)
    jobs = FakeJobs(blocks=3, block_time=0.002)
    q = make_queue(store, jobs, max_downloads=1)
    states = ("paused", "done")
    q.start()
    try:
        for round_ in range(25):
            ids = [add(q, f"r{round_}-{n}") for n in range(4)]
            time.sleep(rng.uniform(0, 0.03))  # a random moment of the scheduler is the point
            q.pause_all()
            wait_until(
                lambda ids=ids: all(q.transfers.get(i).state in states for i in ids),  # type: ignore[union-attr]
                timeout=5,
            )
            time.sleep(0.05)  # nothing starts again behind the pause
            assert all(q.transfers.get(i).state in states for i in ids)  # type: ignore[union-attr]
            for tid in ids:
                q.cancel(tid)
    finally:
        q.stop()


def test_pause_all_and_resume_all(store: Store) -> None:
    jobs = FakeJobs(blocks=100, block_time=0.01)  # ~1 s each, one at a time
    q = make_queue(store, jobs, max_downloads=1)
    ids = [add(q, n) for n in "abc"]
    q.start()
    try:
        wait_until(lambda: q.transfers.get(ids[0]).state == "active")  # type: ignore[union-attr]
        q.pause_all()
        wait_until(lambda: all(q.transfers.get(i).state == "paused" for i in ids))  # type: ignore[union-attr]
        q.resume_all()
        for tid in ids:
            assert q.wait_for(tid, timeout=30).state == "done"
    finally:
        q.stop()


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"profile": "agency"}, "The hub is busy."),
        # `alu fetch` / `alu tus-put` to any server: no hub to speak of
        (None, "The server is busy."),
    ],
)
def test_retryable_errors_back_off_then_succeed(
    store: Store, extra: dict[str, Any] | None, said: str
) -> None:
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = q.add_download("http://127.0.0.1:9/a", Path("/nonexistent/a"), label="a", extra=extra)
    jobs.fail_plan[tid] = [
        RetryableError("The connection was lost."),
        RetryableError("The hub is busy.", retry_after=0.2),
    ]
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
    t = q.transfers.get(tid)
    assert t is not None and t.attempts == 3
    errors = [m for _, k, m in q.transfers.log(tid) if k == "queued"]
    assert errors == ["The connection was lost.", said]


@pytest.mark.parametrize(
    ("message", "agency", "any_server"),
    [
        (
            dl.MSG_NOT_THE_FILE,
            "Nothing was kept; tell the agency.",
            # `alu fetch --sha256` of any URL: the checksum given may be the wrong one, and
            # the agency has nothing to do with that server
            "Nothing was kept; check the checksum you gave, or tell whoever runs the server.",
        ),
        (dl.MSG_COMPRESSED_AGAIN, "Tell the agency.", "Tell whoever runs the server."),
        (
            MSG_ACCESS_REFUSED.format(code=403),
            "Sign in again, or ask the agency whether your newsroom may download this item.",
            "Check the credentials given, or ask whoever runs the server.",
        ),
    ],
)
def test_a_failure_says_whom_to_tell_the_hubs_or_the_servers(
    store: Store, message: str, agency: str, any_server: str
) -> None:
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    item = q.add_download("http://127.0.0.1:9/a", Path("/nonexistent/a"), extra={"profile": "p"})
    fetch = q.add_download("http://127.0.0.1:9/b", Path("/nonexistent/b"))  # (no profile)
    for tid in (item, fetch):
        jobs.fail_plan[tid] = [PermanentError(message)]
    q.start()
    try:
        said = {tid: q.wait_for(tid, timeout=10) for tid in (item, fetch)}
    finally:
        q.stop()
    assert said[item].state == said[fetch].state == "failed"
    assert said[item].last_error == message and message.endswith(agency)  # a hub item's
    assert said[fetch].last_error == message.removesuffix(agency) + any_server
    assert "agency" not in said[fetch].last_error


@pytest.mark.parametrize(
    ("direction", "how"),
    [
        ("download", "bytes"),
        ("download", "bytes thrown away"),
        ("upload", "confirmed"),
        ("upload", "bytes sent, none confirmed"),
    ],
)
def test_the_back_off_grows_with_failures_in_a_row_without_progress(
    store: Store, tmp_path: Path, direction: str, how: str
) -> None:
    # attempts 1-3 move the transfer on, then fail; 4-5 fail with nothing moved; 6 succeeds.
    # The back-off grew with all the attempts: after hours of a lossy link the next outage
    # waited minutes. A download's bytes are progress; an upload's only once the server has
    # them (a server can take none of what it is sent).
    seen: list[int] = []

    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        seen.append(t.failures)
        if len(seen) <= 3:
            ctx.meter(1000)
            if how == "confirmed":
                ctx.advanced()
            # a download that kept starting over threw its bytes away: no progress either
            raise RetryableError("The connection was lost.", wasted=how == "bytes thrown away")
        if len(seen) <= 5:
            raise RetryableError("The hub could not be reached.")
        return {"size": 3000}

    q = TransferQueue(
        store,
        jobs={"download": job, "upload": job},
        policy=RetryPolicy(Backoff(base=0.01, cap=0.02)),
    )
    if direction == "download":
        tid = add(q, "a")
    else:
        src = tmp_path / "clip.mp4"
        src.write_bytes(b"x" * 3000)
        tid = q.add_upload(src, "http://127.0.0.1:9/files/", {})
    q.start()
    try:
        assert q.wait_for(tid, timeout=20).state == "done"
    finally:
        q.stop()
    # the count each attempt started with: the failures in a row before it
    if how in ("bytes sent, none confirmed", "bytes thrown away"):
        assert seen == [0, 1, 2, 3, 4, 5]
    else:
        assert seen == [0, 1, 1, 1, 2, 3]


def test_an_upload_lost_and_made_again_is_progress_only_beyond_where_it_stood(
    store: Store, tmp_path: Path
) -> None:
    # the server lost the upload (404, expired): the job makes it again from byte 0. Its
    # first confirmed chunks are no progress (they were held before); getting beyond is
    seen: list[int] = []

    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        seen.append(t.failures)
        ctx.progress(2000, 3000)  # the server's offset before the loss was found
        ctx.lost()
        ctx.progress(0, 3000)
        ctx.meter(1000 if len(seen) <= 2 else 2500)
        ctx.advanced()
        if len(seen) <= 3:
            raise RetryableError("The hub lost the upload again; it will try later.")
        return {"size": 3000}

    q = TransferQueue(store, jobs={"upload": job}, policy=RetryPolicy(Backoff(base=0.01, cap=0.02)))
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x" * 3000)
    tid = q.add_upload(src, "http://127.0.0.1:9/files/", {})
    q.start()
    try:
        assert q.wait_for(tid, timeout=20).state == "done"
    finally:
        q.stop()
    assert seen == [0, 1, 2, 1]


def test_a_rate_that_is_not_one_is_refused_and_changes_nothing(store: Store) -> None:
    # kept, a negative limit killed the transfer's worker (the row stayed "active" for ever)
    # or, as a global limit, the scheduler 30 s later: no transfer ever started again
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    with pytest.raises(ValueError, match="-5"):
        q.set_transfer_limit(tid, -5)
    with pytest.raises(ValueError, match="-5"):
        q.set_limits(-5, None)
    t = q.transfers.get(tid)
    assert t is not None and t.limit_bps is None
    assert q._manual_limits == (None, None)
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()


def test_a_damaged_row_fails_alone_and_the_others_run(store: Store) -> None:
    jobs = FakeJobs(blocks=2)
    q = make_queue(store, jobs)
    bad, good = add(q, "bad"), add(q, "good")
    with store.write() as c:  # edited or damaged in the file: SQLite keeps any type anywhere
        c.execute(
            "UPDATE transfers SET options = '{oops', priority = 7, size = 'big', limit_bps = -5"
            " WHERE id = ?",
            (bad,),
        )
    t = q.transfers.get(bad)
    assert t is not None and t.damaged == "options, size, priority"
    assert (t.options, t.size, t.priority) == ({}, None, PRIORITIES["routine"])
    q.start()
    try:
        assert q.wait_for(good, timeout=10).state == "done"
        failed = q.wait_for(bad, timeout=10)
    finally:
        q.stop()
    assert failed.state == "failed" and failed.last_error == MSG_DAMAGED_ROW
    assert jobs.started == [good]  # the damaged one never ran


def test_a_damaged_checkpoint_is_lost_not_the_transfer(store: Store) -> None:
    transfers = TransferStore(store)
    q = make_queue(store, FakeJobs(blocks=1))
    tid = add(q, "a")
    for garbage in ("{not json", "null", "[1, 2]", '"x"'):
        with store.write() as c:
            c.execute(
                "INSERT OR REPLACE INTO transfer_checkpoints (transfer_id, data, updated_at)"
                " VALUES (?, ?, 0)",
                (tid, garbage),
            )
        assert transfers.load_checkpoint(tid) == {}


def test_a_resume_withdraws_a_pause_asked_of_an_engine_that_died(store: Store) -> None:
    # alu queue pause, while the row still said "active" after a kill -9: stored as a request
    # for the engine; then alu queue resume did nothing, and the next engine paused it
    transfers = TransferStore(store)
    q = make_queue(store, FakeJobs(blocks=2))
    tid = add(q, "a")
    transfers.claim(tid)  # active, and no engine: it was killed
    assert transfer_command(transfers, tid, "pause")  # a request, as the row says active
    assert transfer_command(transfers, tid, "resume")
    assert transfers.take_requests() == []
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()


def test_the_result_is_handed_over_before_the_transfer_is_done(store: Store) -> None:
    # alu tus-put prints the upload's URL there: a kill -9 after the commit and before the
    # print lost it, and the rerun (nothing unfinished any more) sent the whole file again
    states: list[str] = []
    q = make_queue(store, FakeJobs(blocks=1))
    q.on_result = lambda tid, _result: states.append(q.transfers.get(tid).state)  # type: ignore[union-attr]
    tid = add(q, "a")
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
    assert states == ["active"]


def test_permanent_error_fails_with_plain_words_and_retry_now_runs_again(store: Store) -> None:
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    jobs.fail_plan[tid] = [PermanentError("The server refused access; sign in again.")]
    q.start()
    try:
        t = q.wait_for(tid, timeout=10)
        assert t.state == "failed" and t.last_error == "The server refused access; sign in again."
        q.retry_now(tid)
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()


def test_an_unexpected_exception_does_not_kill_the_engine(store: Store) -> None:
    jobs = FakeJobs(blocks=2)
    q = make_queue(store, jobs)
    bad, good = add(q, "bad"), add(q, "good")
    jobs.fail_plan[bad] = [ZeroDivisionError("bug")] * 10
    q.start()
    try:
        assert q.wait_for(good, timeout=10).state == "done"
        t = q.wait_for(bad, timeout=20)
        assert t.state == "failed" and "ZeroDivisionError" in t.last_error
    finally:
        q.stop()


def test_progress_comes_in_batches_not_per_block(store: Store) -> None:
    jobs = FakeJobs(blocks=2000, block_time=0.001)  # over a second: a speed is measured
    q = make_queue(store, jobs)
    batches: list[list[Progress]] = []
    q.add_listener(batches.append)
    tid = add(q, "a")
    q.start()
    started = time.monotonic()
    try:
        q.wait_for(tid, timeout=30)
    finally:
        q.stop()
    elapsed = time.monotonic() - started
    assert len(batches) <= elapsed / 0.05 + 5  # a batch per tick at most, not 2000
    seen = [p for batch in batches for p in batch if p.id == tid]
    assert any(p.state == "active" and 0 < p.bytes_done < 2000 * 1024 for p in seen)
    assert any(p.speed > 0 for p in seen)
    assert seen[-1].state == "done" and seen[-1].fraction == 1.0


def test_a_job_checking_its_bytes_is_reported_as_such_without_speed_or_time_left(
    store: Store,
) -> None:
    checking = threading.Event()
    release = threading.Event()

    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        ctx.progress(0, 64 * 1024)
        for _ in range(64):  # bytes move for over a second: a speed is measured
            ctx.meter(1024)
            time.sleep(0.025)
        ctx.phase(PHASE_VERIFYING)
        checking.set()
        release.wait(10)
        return {"size": 64 * 1024}

    q = TransferQueue(store, jobs={"download": job, "upload": job}, progress_interval=0.05)
    batches: list[list[Progress]] = []
    q.add_listener(batches.append)
    tid = add(q, "a")
    q.start()
    try:
        assert checking.wait(10)
        wait_until(lambda: any(p.phase for b in batches for p in b), timeout=5)
        now = next(p for p in q.snapshot() if p.id == tid)
        assert (now.state, now.phase, now.speed, now.eta) == ("active", PHASE_VERIFYING, 0.0, None)
        assert now.fraction == 1.0
        release.set()
        q.wait_for(tid, timeout=10)
    finally:
        release.set()
        q.stop()
    seen = [p for batch in batches for p in batch if p.id == tid]
    assert any(p.state == "active" and not p.phase and p.speed > 0 for p in seen)
    assert seen[-1].state == "done" and seen[-1].phase == ""


def test_transfers_left_active_by_a_crash_resume(store: Store, tmp_path: Path) -> None:
    jobs = FakeJobs(blocks=10)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    assert q.transfers.claim(tid)  # as if an engine had started it and died
    q.transfers.save_checkpoint(tid, {"done": 7})
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
    assert jobs.started == [tid]


def test_a_transfer_left_active_by_a_crash_resumes_at_once_after_a_clock_set_back(
    store: Store,
) -> None:
    # it kept the retry time of the failure before the attempt the crash cut: past then, but
    # the clock set back an hour since, an hour ahead: the next engine waited for it
    jobs = FakeJobs(blocks=3)
    q = TransferQueue(store, jobs={"download": jobs, "upload": jobs})  # waits of up to 1 h
    tid = add(q, "a")
    assert q.transfers.claim(tid)  # as if an engine had started it and died
    with store.write() as c:  # its time, as the clock now reads it
        c.execute(
            "UPDATE transfers SET next_attempt_at = ? WHERE id = ?", (time.time() + 3600, tid)
        )
    q.start()
    try:
        assert q.wait_for(tid, timeout=5).state == "done"
    finally:
        q.stop()


def test_stop_leaves_running_transfers_queued(store: Store) -> None:
    jobs = FakeJobs(blocks=1000, block_time=0.01)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    q.start()
    wait_until(lambda: q.transfers.get(tid).state == "active")  # type: ignore[union-attr]
    q.stop()
    assert q.transfers.get(tid).state == "queued"  # type: ignore[union-attr]


def test_an_engine_starting_waits_out_a_look_at_its_lock(tmp_path: Path) -> None:
    """`alu queue` takes the lock for a moment to see whether an engine runs; an app or
    `alu watch run` starting in that moment said another engine worked on the folder."""
    lock_path = tmp_path / "engine.lock"
    look = EngineLock(lock_path).acquire(say=False)
    threading.Timer(0.4, look.release).start()
    EngineLock(lock_path).acquire(wait=3.0).release()  # taken once the look is over
    held = EngineLock(lock_path).acquire()
    try:
        started = time.monotonic()
        with pytest.raises(EngineBusy):  # an engine that stays: still refused, after the wait
            EngineLock(lock_path).acquire(wait=0.3)
        assert time.monotonic() - started >= 0.3
    finally:
        held.release()


def test_one_engine_per_data_folder(tmp_path: Path) -> None:
    lock_path = tmp_path / "engine.lock"
    with (
        EngineLock(lock_path),
        pytest.raises(EngineBusy, match="already working on this data folder"),
    ):
        EngineLock(lock_path).acquire()
    EngineLock(lock_path).acquire().release()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from alu_client.core.lockfile import EngineLock; import time; lock = EngineLock(__import__('pathlib').Path({str(lock_path)!r})).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(EngineBusy, match=str(holder.pid)):
            EngineLock(lock_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    EngineLock(lock_path).acquire().release()  # SIGKILL left no stale lock


def test_engine_lock_says_which_transfers_its_engine_runs(tmp_path: Path) -> None:
    """A follower (`alu get`/`put` finding the folder held) reads whether the engine there runs
    its transfer: all of them (the app, `alu watch run`) or its own only (the one-shot verbs)."""
    lock_path = tmp_path / "engine.lock"
    with EngineLock(lock_path):
        who = holder(lock_path)
        assert who is not None and who.only is None and who.runs(7)
        assert who.pid == str(os.getpid())
    lock = EngineLock(lock_path).acquire(only=frozenset())
    try:
        who = holder(lock_path)
        assert who is not None and who.only == frozenset() and not who.runs(7)
        lock.set_only(frozenset({3, 7}))
        who = holder(lock_path)
        assert who is not None and who.runs(7) and not who.runs(4)
        with pytest.raises(EngineBusy, match=f"process {os.getpid()}\\)"):
            EngineLock(lock_path).acquire()
    finally:
        lock.release()


def test_store_refuses_a_newer_library(tmp_path: Path) -> None:
    s = Store(tmp_path / "lib.sqlite3")
    assert s.integrity_check() == "ok" and s.version >= 1
    with s.write() as c:
        c.execute("PRAGMA user_version = 999")
    s.close()
    with pytest.raises(SchemaTooNew, match="newer ALU Desk"):
        Store(tmp_path / "lib.sqlite3")


def test_a_newer_library_refused_is_left_exactly_as_it_was(tmp_path: Path) -> None:
    # "refused rather than risked": the refusal came after the switch to WAL, which rewrote
    # the file's header and left -wal and -shm files beside it
    path = tmp_path / "lib.sqlite3"
    with sqlite3.connect(path) as c:  # a rollback-journal file, as another version may write
        c.execute("CREATE TABLE later (x)")
        c.execute("PRAGMA user_version = 99")
    c.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="newer ALU Desk"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.sqlite3"]


def test_weekly_schedule_sets_the_limits_and_manual_limits_return_without_it(store: Store) -> None:
    import datetime as dt

    from alu_client.core.transfers.throttle import Schedule, ScheduleRule

    q = make_queue(store, FakeJobs())
    q.set_limits(5_000_000, None)
    assert q.limits["download"].rate_bps == 5_000_000
    always = ScheduleRule(
        days=frozenset(range(7)),
        start=dt.time(0, 0),
        end=dt.time(0, 0),
        down_bps=250_000,
        up_bps=125_000,
    )
    q.set_schedule(Schedule([always]))
    assert (q.limits["download"].rate_bps, q.limits["upload"].rate_bps) == (250_000, 125_000)
    q.set_limits(1, 1)  # a manual change while a schedule rules does not override it
    assert q.limits["download"].rate_bps == 250_000
    q.set_schedule(None)
    assert (q.limits["download"].rate_bps, q.limits["upload"].rate_bps) == (1, 1)


def test_a_schedule_period_starts_within_a_second_of_its_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scheduler looked at the schedule every 30 s: a period began up to 30 s late, and
    # one shorter than that could pass without being applied
    import datetime as dt
    import types

    from alu_client.core.transfers import queue as queue_module
    from alu_client.core.transfers.throttle import Schedule, ScheduleRule

    clock = {"now": dt.datetime(2026, 12, 7, 9, 59, 59)}  # a Monday

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:  # type: ignore[override]
            return clock["now"]  # type: ignore[return-value]

    monkeypatch.setattr(queue_module, "datetime", types.SimpleNamespace(datetime=Clock))
    ten_past = ScheduleRule(
        days=frozenset({0}), start=dt.time(10, 0), end=dt.time(10, 1), down_bps=250_000,
        up_bps=None,
    )  # fmt: skip
    q = make_queue(store, FakeJobs())
    q.set_schedule(Schedule([ten_past]))
    q.start()
    try:
        assert q.limits["download"].rate_bps is None
        time.sleep(1.5)  # the scheduler's passes before the period: nothing changes
        assert q.limits["download"].rate_bps is None
        clock["now"] = dt.datetime(2026, 12, 7, 10, 0, 0)
        wait_until(lambda: q.limits["download"].rate_bps == 250_000, 3, what="the period")
        clock["now"] = dt.datetime(2026, 12, 7, 10, 1, 0)
        wait_until(lambda: q.limits["download"].rate_bps is None, 3, what="its end")
    finally:
        q.stop()


def test_a_time_zone_changed_while_running_moves_the_schedule_with_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a laptop that travelled, IT fixing a wrong zone: the engine kept the zone it started
    # with, and the schedule's periods came at the old zone's hours until a restart
    import datetime as dt

    from alu_client.core.transfers.throttle import Schedule, ScheduleRule

    monkeypatch.setenv("TZ", "UTC0")
    time.tzset()
    try:
        nairobi = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        around = ScheduleRule(
            days=frozenset(range(7)),
            start=(nairobi - dt.timedelta(minutes=10)).time().replace(second=0, microsecond=0),
            end=(nairobi + dt.timedelta(minutes=10)).time().replace(second=0, microsecond=0),
            down_bps=250_000,
            up_bps=None,
        )  # this hour in Nairobi, three hours from now in UTC
        q = make_queue(store, FakeJobs())
        q.set_schedule(Schedule([around]))
        assert q.limits["download"].rate_bps is None
        monkeypatch.setenv("TZ", "EAT-3")  # the zone changes; nobody calls tzset
        q._apply_schedule(force=True)
        assert q.limits["download"].rate_bps == 250_000
        assert q.limits_now().download == 250_000
    finally:
        monkeypatch.undo()
        time.tzset()


def test_many_moves_into_one_gap_keep_the_order(store: Store) -> None:
    # each move took the middle of two positions: after ~50 moves into the same gap the
    # middle was a neighbour's own position and the manual order broke (a drag of 60 rows)
    q = make_queue(store, FakeJobs())
    first, last = add(q, "first"), add(q, "last")
    moved = [add(q, f"m{n}") for n in range(100)]
    for tid in moved:  # as the Transfers view drops a selection before "last"
        q.move(tid, last)
    assert [t.id for t in q.transfers.all(("queued",))] == [first, *moved, last]
    for tid in reversed(moved[1:]):  # and each one just before the first of them
        q.move(tid, moved[0])
    want = [first, *reversed(moved[1:]), moved[0], last]
    assert [t.id for t in q.transfers.all(("queued",))] == want


def test_batches_keep_their_pace_while_transfers_come_and_go(store: Store) -> None:
    # every add, move or end woke the progress thread, which sent a batch each time (~70 a
    # second with many short transfers) and measured speeds over a few milliseconds
    jobs = FakeJobs(blocks=400, block_time=0.01)
    q = make_queue(store, jobs, max_downloads=4)
    times: list[float] = []
    q.add_listener(lambda _batch: times.append(time.monotonic()))
    q.start()
    try:
        steady = add(q, "steady")
        wait_until(lambda: q.transfers.get(steady).state == "active")  # type: ignore[union-attr]
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            q.move(add(q, "short"), steady)
            time.sleep(0.002)
        t1 = time.monotonic()
    finally:
        q.stop()
    during = [t for t in times if t0 <= t <= t1]
    # progress_interval is 0.05 s here: ~20 batches in a second, not one per command
    assert len(during) <= 1.0 / 0.05 + 3, len(during)


def test_the_first_speed_is_not_the_first_bursts(store: Store) -> None:
    # a start or resume brings a limiter's allowance or what socket buffers held at once: the
    # first speed, measured over the first progress tick, read 2.6-2.9x the real rate
    def bursty(_t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        ctx.meter(512 * 1024)  # at once
        for _ in range(150):  # then ~1 MB/s
            ctx.meter(10_000)
            ctx.control.check()
            time.sleep(0.01)
        return {"size": 512 * 1024 + 1_500_000}

    q = TransferQueue(store, jobs={"download": bursty}, progress_interval=0.05)
    speeds: list[float] = []
    q.add_listener(lambda batch: speeds.extend(p.speed for p in batch if p.state == "active"))
    tid = add(q, "a")
    q.start()
    try:
        assert q.wait_for(tid, timeout=20).state == "done"
    finally:
        q.stop()
    shown = [v for v in speeds if v > 0]
    assert shown, speeds
    # the first one is over the first second: the burst and ~1 MB/s, not 10 MB/s
    assert shown[0] < 2_500_000, shown[:5]


def test_processes_opening_a_new_library_at_once_agree(tmp_path: Path) -> None:
    # The app and `alu` may open (and so create and migrate) the same file at the same moment.
    path = tmp_path / "lib.sqlite3"
    code = f"from alu_client.core.store import Store; s = Store({str(path)!r}); print(s.version)"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    assert {out.strip() for out, _ in results} == {str(Store(path).version)}


def test_commands_from_another_process_reach_the_running_engine(
    store: Store, tmp_path: Path
) -> None:
    """`alu queue pause 7` beside the running app: the request goes through the shared store."""
    jobs = FakeJobs(blocks=2000, block_time=0.01)
    q = make_queue(store, jobs, max_downloads=1)
    a, b = add(q, "a"), add(q, "b")
    q.start()
    other = Store(tmp_path / "library.sqlite3")  # the CLI's own connection to the same file
    try:
        cli = TransferStore(other)
        wait_until(lambda: q.transfers.get(a).state == "active")  # type: ignore[union-attr]
        assert cli.request(a, "pause")
        assert q.wait_for(a, timeout=5, states=("paused",)).state == "paused"
        wait_until(lambda: q.transfers.get(b).state == "active")  # type: ignore[union-attr]
        assert cli.request(b, "cancel")
        assert q.wait_for(b, timeout=5).state == "canceled"
        assert not cli.request(b, "pause")  # nothing to ask of a finished transfer
        # Added by the other process: the running engine picks it up by itself.
        c = TransferQueue(other, jobs={"download": jobs, "upload": jobs}).add_download(
            "http://127.0.0.1:9/c", Path("/nonexistent/c"), label="c"
        )
        assert q.wait_for(c, timeout=10, states=("active", "done")).state in ("active", "done")
        assert cli.take_requests() == []
    finally:
        q.stop()
        other.close()


def _state(q: TransferQueue, tid: int) -> str:
    t = q.transfers.get(tid)
    return t.state if t is not None else "gone"


class _FullStore:
    """``TransferStore.finish`` failing as SQLite does on a full disk, ``times`` times."""

    def __init__(self, transfers: TransferStore, times: int) -> None:
        self.real, self.left, self.calls = transfers.finish, times, 0
        transfers.finish = self  # type: ignore[method-assign]

    def __call__(self, tid: int, state: str, **fields: Any) -> None:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise sqlite3.OperationalError("database or disk is full")
        self.real(tid, state, **fields)


@pytest.mark.parametrize("how", ["done", "retry", "pause while it cannot be written"])
def test_an_end_the_store_could_not_write_is_written_once_it_can(store: Store, how: str) -> None:
    # the worker died on the error ("Exception in thread download-1"), the transfer stayed
    # "active" for good with no worker, and pause and cancel were accepted and never done
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    if how != "done":
        jobs.fail_plan[tid] = [RetryableError("The server could not be reached; trying again.")]
    full = _FullStore(q.transfers, times=2)
    q.start()
    try:
        if how.startswith("pause"):
            wait_until(lambda: full.calls >= 1, timeout=10)
            q.pause(tid)
            wait_until(lambda: _state(q, tid) == "paused", timeout=15)
            assert full.calls == 3 and tid not in q._live
            return
        assert q.wait_for(tid, timeout=30).state == "done"
        assert full.calls >= 3
    finally:
        q.stop()


def test_progress_and_requests_from_other_processes_go_on_after_the_store_failed(
    store: Store,
) -> None:
    # the progress thread died with the first failed write: no more progress, and a pause
    # asked by `alu queue pause` in another process was acknowledged and never done
    jobs = FakeJobs(blocks=400, block_time=0.02)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    real, failed = q.transfers.set_progress, []

    def full(updates: dict[int, tuple[int, int | None]]) -> None:
        if len(failed) < 2:
            failed.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        real(updates)

    q.transfers.set_progress = full  # type: ignore[method-assign]
    q.start()
    try:
        wait_until(lambda: len(failed) == 2, timeout=10)
        assert q.transfers.request(tid, "pause")  # as `alu queue pause` does
        wait_until(lambda: _state(q, tid) == "paused", timeout=10)
    finally:
        q.stop()


def test_requests_from_other_processes_are_taken_at_each_progress_tick(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `alu queue pause` beside a running app: taken once a second with the progress, the
    # pause came 1.0-1.2 s after the command, not within the second promised
    looked: list[float] = []
    take = TransferStore.take_requests

    def counted(self: TransferStore) -> list[tuple[int, str]]:
        looked.append(time.monotonic())
        return take(self)

    monkeypatch.setattr(TransferStore, "take_requests", counted)
    q = make_queue(store, FakeJobs())  # a tick every 0.05 s
    q.start()
    try:
        wait_until(lambda: len(looked) >= 8, 4, what="eight looks at the requests")
    finally:
        q.stop()


def test_a_transfer_limit_set_by_another_process_applies_while_it_runs(
    store: Store, tmp_path: Path
) -> None:
    # `alu queue limit` writes the store; the engine running the transfer kept its old limit
    from alu_client.core.transfers.throttle import Meter

    def job(_t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        meter = ctx.meter
        assert isinstance(meter, Meter)
        while not any(limiter.rate_bps == 125_000 for limiter in meter.limiters):
            ctx.control.wait(0.02)
            ctx.control.check()
        return {"size": 0}

    q = TransferQueue(store, jobs={"download": job}, progress_interval=0.05)
    tid = add(q, "a")
    q.start()
    other = Store(tmp_path / "library.sqlite3")  # the CLI's own connection
    try:
        wait_until(lambda: q.transfers.get(tid).state == "active", 5, what="the start")  # type: ignore[union-attr]
        TransferStore(other).set_limit(tid, 125_000)
        assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
        other.close()


def test_a_download_that_only_gets_back_to_where_it_stood_is_no_progress(store: Store) -> None:
    # each run started over once (its part thrown away: ctx.lost) and was cut where the last
    # one had been: its bytes counted as progress, the failures started over at 1, and it was
    # tried again about once a second for ever (a CDN's nodes, a multipart server)
    runs: list[int] = []

    def job(_t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        runs.append(1)
        ctx.progress(1_000_000, 2_000_000)  # where the last run stood
        ctx.lost()
        ctx.progress(0, 2_000_000)
        for _ in range(100):  # back to the same place, then cut
            ctx.meter(10_000)
        raise RetryableError("The connection was cut; trying again.")

    policy = RetryPolicy(Backoff(base=0.01, cap=0.02))
    q = TransferQueue(store, jobs={"download": job}, policy=policy, progress_interval=0.05)
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: len(runs) >= 4, 10, what="four runs")
    finally:
        q.stop()
    t = q.transfers.get(tid)
    assert t is not None and t.failures >= 3, t


def test_a_limit_set_here_is_not_undone_by_the_progress_thread(store: Store) -> None:
    # the progress thread read the transfer's row, the Transfers tab set a new limit, and the
    # thread then put back the limit it had read (for a second: a lowered limit not applied)
    q = make_queue(store, FakeJobs(blocks=100_000, block_time=0.001))
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: tid in q._per_transfer, 5, what="the transfer running")
        limiter = q._per_transfer[tid]
        read, go = threading.Event(), threading.Event()
        real_get = q.transfers.get

        def get(i: int) -> Transfer | None:
            t = real_get(i)
            if threading.current_thread().name == "alu-progress" and not go.is_set():
                read.set()
                go.wait(5)  # the progress thread has read the row: the user acts now
            return t

        q.transfers.get = get  # type: ignore[method-assign]
        assert read.wait(5)
        setter = threading.Thread(target=q.set_transfer_limit, args=(tid, 50_000))
        setter.start()
        setter.join(0.3)  # (done at once, or waiting for the progress thread's turn)
        go.set()
        setter.join(5)
        assert not setter.is_alive()
        held = threading.Event()
        until = time.monotonic() + 0.5
        while time.monotonic() < until:  # the flush that read the row has ended meanwhile
            assert limiter.rate_bps == 50_000
            held.wait(0.01)
    finally:
        q.stop()


def test_what_a_link_to_a_server_carried_is_kept_for_the_next_uploads(
    store: Store, tmp_path: Path
) -> None:
    # the measure a new upload's first chunk is sized to: kept in the library, by server
    seen: list[float | None] = []

    def job(_t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        seen.append(ctx.link_rate("https://hub.example:443"))
        ctx.remember_link_rate("https://hub.example:443", 123_456.7)
        return {"size": 0}

    for _ in range(2):  # the second run is a new engine (the app started again)
        q = TransferQueue(store, jobs={"upload": job}, progress_interval=0.05)
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"x")
        tid = q.add_upload(clip, "https://hub.example/files/", {})
        q.start()
        try:
            assert q.wait_for(tid, timeout=10).state == "done"
        finally:
            q.stop()
    assert seen == [None, 123_457.0]
    with store.write() as c:  # an edited value: as if never measured, no failure
        c.execute("UPDATE settings SET value = 'fast' WHERE key LIKE 'link.%'")
    q = TransferQueue(store, jobs={"upload": job})
    assert q._link_rate("https://hub.example:443") is None


def test_the_speed_shown_follows_a_new_limit_at_once(store: Store) -> None:
    # the 2 s average of the old rate took ~10 s to follow a lowered limit: 5 Mbit/s shown
    # under a 400 kbit/s limit, and a time left of hours that was days
    def job(_t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        while True:
            ctx.meter(5_000)  # as fast as the limits let it

    q = TransferQueue(store, jobs={"download": job}, progress_interval=0.05)
    q.set_limits(1_000_000, None)
    speeds: list[tuple[float, float]] = []
    q.add_listener(
        lambda batch: speeds.extend((time.monotonic(), p.speed) for p in batch if p.speed)
    )
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: any(s > 700_000 for _t, s in speeds), 10, what="about 1 MB/s")
        lowered = time.monotonic()
        q.set_transfer_limit(tid, 100_000)
        wait_until(
            lambda: any(t > lowered and s < 300_000 for t, s in speeds),
            1.8,
            what="the new speed shown",
        )
    finally:
        q.stop()


def _started_twice(jobs: FakeJobs, tid: int) -> bool:
    with jobs.lock:
        return jobs.started.count(tid) == 2


def test_a_flash_transfer_takes_the_slot_of_the_last_routine_one_which_resumes_after(
    store: Store,
) -> None:
    # breaking news waited behind the day's routine downloads for a free slot (hours, on a
    # 2 Mbit/s link with two 1 GB files ahead of it)
    jobs = FakeJobs(blocks=300, block_time=0.01)
    q = make_queue(store, jobs, max_downloads=2)
    a, b = add(q, "a"), add(q, "b")
    q.start()
    try:
        for tid in (a, b):
            wait_until(lambda tid=tid: q.transfers.load_checkpoint(tid).get("done", 0) > 10)
        flash = add(q, "flash", priority="flash")
        asked = time.monotonic()
        wait_until(lambda: flash in jobs.started, 5, what="the flash transfer started")
        assert time.monotonic() - asked < 2.0
        back = q.transfers.get(b)
        assert back is not None and back.state in ("queued", "active")
        assert _state(q, a) == "active"  # one slot taken, not both
        at_stop = q.transfers.load_checkpoint(b)["done"]
        assert q.wait_for(flash, timeout=20).state == "done"
        for tid in (a, b):
            assert q.wait_for(tid, timeout=30).state == "done"
    finally:
        q.stop()
    assert jobs.max_running == 2
    assert jobs.started.count(a) == 1 and jobs.started.count(b) == 2
    done_b = q.transfers.get(b)
    assert done_b is not None and done_b.failures == 0 and done_b.bytes_done == 300 * 1024
    assert 10 < at_stop < 300  # it went on from there: the job resumes from its checkpoint
    assert ("queued", "preempt") in [(k, m) for _, k, m in q.transfers.log(b)]


@pytest.mark.parametrize(("running", "waiting"), [("routine", "urgent"), ("flash", "flash")])
def test_only_a_flash_transfer_takes_the_slot_of_a_lower_one(
    store: Store, running: str, waiting: str
) -> None:
    jobs = FakeJobs(blocks=300, block_time=0.01)
    q = make_queue(store, jobs, max_downloads=1)
    a = add(q, "a", priority=running)
    q.start()
    try:
        wait_until(lambda: q.transfers.load_checkpoint(a).get("done", 0) > 5)
        later = add(q, "later", priority=waiting)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert later not in jobs.started and _state(q, a) == "active"
            time.sleep(0.05)
        assert q.wait_for(later, timeout=30).state == "done"
    finally:
        q.stop()
    assert jobs.started == [a, later]


def test_a_pause_asked_while_a_transfer_makes_way_for_a_flash_one_holds() -> None:
    from alu_client.core.transfers.base import Control

    control = Control()
    control.stop("preempt")
    control.stop("pause")
    assert control.reason == "pause"  # it went back to the queue and ran again, unpaused
    control.stop("shutdown")
    assert control.reason == "pause"


def test_a_job_is_told_the_lowest_limit_on_its_transfer(store: Store, tmp_path: Path) -> None:
    # (an upload sizes its first chunk to it: see test_upload)
    seen: dict[str, float | None] = {}

    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        seen[t.label] = ctx.limit()
        return {"size": 1}

    q = TransferQueue(store, jobs={"download": job, "upload": job}, progress_interval=0.05)
    q.set_limits(400_000, None)
    a, c = add(q, "a"), add(q, "c")
    q.set_transfer_limit(c, 100_000)
    src = tmp_path / "f.mp4"
    src.write_bytes(b"x")
    u = q.add_upload(src, "http://127.0.0.1:9/up/", {"filename": "f.mp4"}, label="u")
    q.start()
    try:
        for tid in (a, c, u):
            assert q.wait_for(tid, timeout=10).state == "done"
    finally:
        q.stop()
    assert seen == {"a": 400_000, "c": 100_000, "u": None}


def test_a_flash_transfer_that_keeps_failing_does_not_keep_stopping_the_others(
    store: Store,
) -> None:
    # a flash download on a flaky link (a few KB, then a reset) took the routine one's slot
    # at each of its retries, every second or two, for ever: 16 restarts in 15 s
    jobs = FakeJobs(blocks=600, block_time=0.01)
    flaky: list[float] = []

    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        if t.label != "flash":
            return jobs(t, ctx)
        flaky.append(time.monotonic())
        ctx.meter(1024)
        raise RetryableError("The connection was reset.")

    q = TransferQueue(
        store,
        jobs={"download": job, "upload": job},
        policy=RetryPolicy(Backoff(base=0.1, cap=0.2)),
        progress_interval=0.05,
        max_downloads=1,
    )
    routine = add(q, "routine")
    q.start()
    try:
        wait_until(lambda: q.transfers.load_checkpoint(routine).get("done", 0) > 5)
        add(q, "flash", priority="flash")
        wait_until(lambda: len(flaky) >= 1, 5, what="the flash transfer's first try")
        # (its retries come every 0.1-0.2 s; the routine one needs ~6 s more)
        assert q.wait_for(routine, timeout=30).state == "done"
        wait_until(lambda: len(flaky) >= 3, 10, what="its retries in the slot come free")
    finally:
        q.stop()
    starts = [k for _, k, _ in q.transfers.log(routine)].count("started")
    assert starts == 2, starts  # stopped once for it, not at each of its retries


def test_transfers_waiting_to_retry_go_at_once_when_their_server_is_back(store: Store) -> None:
    # after a long outage the back-off has grown to minutes: the hub answering again (the
    # feed sync says so) sends the transfers that wait for it now, not minutes later
    jobs = FakeJobs(blocks=3)
    policy = RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0))
    q = TransferQueue(
        store, jobs={"download": jobs, "upload": jobs}, policy=policy, progress_interval=0.05
    )
    hub = q.add_download(
        "http://127.0.0.1:9/a", Path("/nonexistent/a"), label="a", extra={"profile": "ktn"}
    )
    other = q.add_download("http://127.0.0.1:9/b", Path("/nonexistent/b"), label="b")
    held = q.add_download(
        "http://127.0.0.1:9/c", Path("/nonexistent/c"), label="c", extra={"profile": "ktn"}
    )
    for tid in (hub, other, held):
        jobs.fail_plan[tid] = [RetryableError("The hub could not be reached.")]
    q.start()
    try:
        for tid in (hub, other, held):
            wait_until(lambda tid=tid: tid in jobs.started, what=f"{tid} tried")
            wait_until(
                lambda tid=tid: (
                    (t := q.transfers.get(tid)) is not None
                    and t.state == "queued"
                    and (t.next_attempt_at or 0) > time.time() + 500
                ),
                what=f"{tid} waiting ten minutes",
            )
        q.pause(held)  # paused by the user meanwhile: stays paused
        hurried = q.retry_waiting(lambda t: t.options.get("profile") == "ktn")
        assert hurried == 1
        assert q.wait_for(hub, timeout=10).state == "done"
        t_other = q.transfers.get(other)
        assert t_other is not None and t_other.state == "queued"  # another server's: waits
        assert (t_other.next_attempt_at or 0) > time.time() + 500
        assert _state(q, held) == "paused"
        t_hub = q.transfers.get(hub)
        assert t_hub is not None and t_hub.attempts == 2
        assert q.retry_waiting(lambda t: True) == 1  # only `other` still waits
        assert q.wait_for(other, timeout=10).state == "done"
    finally:
        q.stop()


class _WallClock:
    """``time.time`` as the system's clock, which can be set back or forward meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = time.time
        self.shift = 0.0
        monkeypatch.setattr(time, "time", lambda: self.real() + self.shift)


def _failing_once(attempts: list[float]) -> Any:
    def job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RetryableError("The server could not be reached.")
        ctx.meter(1000)
        return {"size": 1000}

    return job


def _waiting_to_retry(q: TransferQueue, tid: int) -> bool:
    return _retry_at(q, tid) is not None


def _retry_at(q: TransferQueue, tid: int) -> float | None:
    """When the store says a queued transfer is tried again (None: not waiting)."""
    t = q.transfers.get(tid)
    return t.next_attempt_at if t is not None and t.state == "queued" else None


def test_a_back_off_is_not_stretched_by_the_clock_set_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the back-off was a wall-clock time: the clock set back an hour after a failure (NTP
    # correcting a clock that ran fast, a VM restored) made a 1 s wait an hour's
    clock = _WallClock(monkeypatch)
    attempts: list[float] = []
    job = _failing_once(attempts)
    policy = RetryPolicy(Backoff(base=1.0, cap=1.0, jitter=0.0))
    q = TransferQueue(store, jobs={"download": job, "upload": job}, policy=policy)
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: _waiting_to_retry(q, tid), what="the retry planned")
        clock.shift = -3600.0
        wait_until(lambda: len(attempts) == 2, timeout=5, what="the retry after 1 s")
        assert attempts[1] - attempts[0] >= 0.95  # the back-off itself still holds
        assert q.wait_for(tid, timeout=5).state == "done"
    finally:
        q.stop()


def test_a_clock_set_forward_does_not_cut_the_back_off_short(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the clock set an hour forward made every transfer waiting to retry go at once
    clock = _WallClock(monkeypatch)
    attempts: list[float] = []
    job = _failing_once(attempts)
    policy = RetryPolicy(Backoff(base=2.0, cap=2.0, jitter=0.0))
    q = TransferQueue(store, jobs={"download": job, "upload": job}, policy=policy)
    passes: list[float] = []
    runnable = q.transfers.runnable

    def counted(*args: Any, **kw: Any) -> list[Transfer]:
        passes.append(time.monotonic())
        return runnable(*args, **kw)

    monkeypatch.setattr(q.transfers, "runnable", counted)
    tid = add(q, "a")
    q.start()
    try:
        wait_until(lambda: _waiting_to_retry(q, tid), what="the retry planned")
        clock.shift = 3600.0

        def first_seen() -> str:
            if len(attempts) == 2:
                return "retried"
            return "moved" if (_retry_at(q, tid) or 0) > time.time() + 0.5 else ""

        first = wait_until(first_seen, what="the retry time moved with the clock")
        wait_until(lambda: len(attempts) == 2, timeout=5, what="the retry after 2 s")
        assert attempts[1] - attempts[0] >= 1.95
        # the store follows the clock: the retry was still due in about 2 s by it (a restart
        # then would not have sent it at once either)
        assert first == "moved"
        # while it waited, the scheduler looked about once a second, not in a loop
        waited = [p for p in passes if attempts[0] < p < attempts[1]]
        assert len(waited) <= 12, len(waited)
        assert q.wait_for(tid, timeout=5).state == "done"
    finally:
        q.stop()


def test_a_retry_time_from_before_a_clock_set_back_waits_the_longest_back_off_at_most(
    store: Store,
) -> None:
    # stored by an engine that stopped, then the clock was set back 10 hours: the next
    # engine took the time as it stood and waited 10 hours, where no back-off is that long
    # (here 1.5 s at most: a Retry-After obeyed up to that)
    policy = RetryPolicy(
        Backoff(base=0.5, cap=0.5, jitter=0.0, max_retry_after=1.5), disk_recheck_s=1.0
    )
    jobs = FakeJobs(blocks=3)
    q = TransferQueue(store, jobs={"download": jobs, "upload": jobs}, policy=policy)
    tid = add(q, "a")
    q.transfers.finish(
        tid, "queued", error="The server could not be reached.", next_attempt_at=time.time() + 36000
    )
    began = time.monotonic()
    q.start()
    try:
        # the store says so too (`alu queue list`, another restart)
        wait_until(
            lambda: (_retry_at(q, tid) or math.inf) < time.time() + 2,
            what="the retry time brought back",
        )
        assert q.wait_for(tid, timeout=5).state == "done"
        assert time.monotonic() - began >= 1.4  # it waited, as long as a back-off can be
    finally:
        q.stop()


def test_transfers_waiting_to_retry_go_at_once_when_their_server_is_back_after_a_clock_change(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the clock set forward: their retry times are past by the wall clock, and the engine
    # still holds them back (ten minutes, by its steady clock); the hub back, they go now
    clock = _WallClock(monkeypatch)
    jobs = FakeJobs(blocks=3)
    policy = RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0))
    q = TransferQueue(store, jobs={"download": jobs, "upload": jobs}, policy=policy)
    tid = add(q, "a")
    jobs.fail_plan[tid] = [RetryableError("The hub could not be reached.")]
    q.start()
    try:
        wait_until(lambda: _waiting_to_retry(q, tid), what="the retry planned")
        clock.shift = 3600.0
        assert q.retry_waiting(lambda t: True) == 1
        assert q.wait_for(tid, timeout=5).state == "done"
    finally:
        q.stop()


def test_what_an_update_will_do_to_a_library_is_read_without_touching_it(tmp_path: Path) -> None:
    """The app says "Updating your library…" (in the saved language) before a migration."""
    from alu_client.core.settings import AppSettings, saved_language
    from alu_client.core.store import steps_pending
    from alu_client.core.store.schema import MIGRATIONS

    db = tmp_path / "library.sqlite3"
    assert steps_pending(db) == 0 and saved_language(db) == "system"  # no library yet
    assert not db.exists()
    store = Store(db)
    AppSettings(store, tmp_path).language = "ar"
    store.close()
    assert steps_pending(db) == 0 and saved_language(db) == "ar"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    before = db.read_bytes()
    assert steps_pending(db) == len(MIGRATIONS) - 4
    assert db.read_bytes() == before  # read only
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    assert steps_pending(garbage) == 0 and saved_language(garbage) == "system"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE settings SET value = '\"klingon\"' WHERE key = 'app.language'")
    conn.close()
    assert saved_language(db) == "system"


def _at_version(db: Path, version: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_an_update_without_room_for_its_copy_changes_nothing_and_says_how_much(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy kept before an update's migration filled the disk to 100 %, was left there
    half-made, and the app then said the disk was full (it was not, before the update)."""
    import collections

    from alu_client.core.store import NoRoomToUpdate
    from alu_client.core.store import db as store_db
    from alu_client.core.store.schema import MIGRATIONS

    db = tmp_path / "library.sqlite3"
    Store(db).close()
    _at_version(db, 5)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(store_db.shutil, "disk_usage", lambda _p: usage(10**10, 10**10, 5_000_000))
    with pytest.raises(NoRoomToUpdate) as refused:
        Store(db)
    said = str(refused.value)
    assert "needs 34 MB free" in said and "where 5 MB are free" in said
    assert "nothing was changed" in said
    assert not list(tmp_path.glob("*.bak-v*"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    conn.close()

    # room once the copy of an earlier update goes: it does, and this one takes its place
    old_copy = db.with_name("library.sqlite3.bak-v2")
    old_copy.write_bytes(b"\0" * 40_000_000)
    Store(db).close()
    assert not old_copy.exists()
    assert db.with_name("library.sqlite3.bak-v5").is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_copy_that_fails_half_way_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    _at_version(db, 5)
    earlier = db.with_name("library.sqlite3.bak-v3")
    earlier.write_bytes(b"an earlier update's copy")

    def full(self: Store, dest: Path) -> None:
        dest.write_bytes(b"\0" * 4096)  # half of it written, then the disk is full
        dest.with_name(dest.name + "-journal").write_bytes(b"\0" * 512)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_backup", full)
    with pytest.raises(sqlite3.OperationalError):
        Store(db)
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak-v" in p.name) == [earlier.name]
    monkeypatch.undo()
    Store(db).close()  # room again: the update goes, and its copy is the one kept
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak-v" in p.name) == [
        "library.sqlite3.bak-v5"
    ]


def test_a_half_made_copy_from_before_is_replaced_not_taken_for_damage(tmp_path: Path) -> None:
    """A copy left half-made by an older version (not a database) made the next update fail
    with "file is not a database", said as the library's damage: "move it aside"."""
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    _at_version(db, 5)
    for name in ("library.sqlite3.bak-v5", "library.sqlite3.bak-v5-journal"):
        (tmp_path / name).write_bytes(b"\0" * 2048)
    Store(db).close()
    with sqlite3.connect(tmp_path / "library.sqlite3.bak-v5") as copy:
        assert copy.execute("PRAGMA user_version").fetchone()[0] == 5
    copy.close()
    assert not (tmp_path / "library.sqlite3.bak-v5-journal").exists()


def test_only_the_updates_own_copies_are_removed(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    _at_version(db, 5)
    kept = ["library.sqlite3.bak-v-mine", "library.sqlite3.bak-v²", "library.sqlite3.bak-v٣"]
    for name in [*kept, "library.sqlite3.bak-v3", "library.sqlite3.bak-v3-wal"]:
        (tmp_path / name).write_bytes(b"x")
    Store(db).close()
    left = sorted(p.name for p in tmp_path.iterdir() if ".bak-v" in p.name)
    assert left == sorted([*kept, "library.sqlite3.bak-v5"])


def _library_of_schema_3(db: Path) -> None:
    """A library as the releases of schema 3 left it, with an item."""
    from alu_client.core.store.schema import MIGRATIONS

    conn = sqlite3.connect(db)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO items (profile, id, seq, kind, title, published_at, first_seen_at)"
        " VALUES ('p', 'item-1', 1, 'agency', 'Floods', '2026-11-20T10:00:00Z', 0)"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()


#: Opens the library at argv[1], stopped once its update has made step 4 (argv[2]: "kill" -9
#: there, or "wait" there for a line on stdin).
UPDATE_STOPPED_AT_STEP_5 = """
import os
import signal
import sys
from alu_client.core.store import db

steps = []
statements = db._statements

def stopping_at_step_5(script):
    steps.append(script)
    if len(steps) == 2:  # from schema 3: step 4 is made, step 5 begins
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        print("at step 5", flush=True)
        sys.stdin.readline()
    return statements(script)

db._statements = stopping_at_step_5
db.Store(sys.argv[1]).close()
"""


def _copies_kept(db: Path) -> dict[str, int]:
    """The update copies beside ``db``, each with the format (schema version) it holds."""
    kept = {}
    for copy in sorted(db.parent.glob(f"{db.name}.bak-v*")):
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            kept[copy.name] = conn.execute("PRAGMA user_version").fetchone()[0]
    return kept


def test_an_update_cut_short_keeps_the_copy_of_the_library_as_the_older_version_left_it(
    tmp_path: Path,
) -> None:
    """The README's way back to the previous version is the copy kept before the update. A
    first start killed in the middle of the update (kill -9, a crash, a power cut) left a
    half-updated library (schema 4 of 3 -> 6), and the next start replaced the copy with one
    of that: the previous release refused it ("written by a newer ALU Desk")."""
    from alu_client.core.store.schema import MIGRATIONS

    db = tmp_path / "library.sqlite3"
    _library_of_schema_3(db)
    killed = subprocess.run(
        [sys.executable, "-c", UPDATE_STOPPED_AT_STEP_5, str(db), "kill"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert _copies_kept(db) == {"library.sqlite3.bak-v3": 3}
    with contextlib.closing(Store(db)) as store:  # the next start
        assert store.version == len(MIGRATIONS)
        assert store.query_one("SELECT title FROM items")["title"] == "Floods"  # type: ignore[index]
    assert _copies_kept(db) == {"library.sqlite3.bak-v3": 3}
    assert not list(tmp_path.glob("*.making*"))


def test_a_library_opened_while_another_process_updates_it_waits_and_keeps_the_first_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app and `alu watch run` started together after an update, or an `alu` command
    while the app updates: the second process found the library half-updated, made its copy
    of that, and removed the copy of the library as the previous release left it."""
    from alu_client.core.store.schema import MIGRATIONS

    db = tmp_path / "library.sqlite3"
    _library_of_schema_3(db)
    first = subprocess.Popen(
        [sys.executable, "-c", UPDATE_STOPPED_AT_STEP_5, str(db), "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "at step 5"
        writing = threading.Event()
        write = Store.write

        def noting_write(self: Store, *args: Any, **kw: Any) -> Any:
            writing.set()
            return write(self, *args, **kw)

        monkeypatch.setattr(Store, "write", noting_write)
        opened: list[Store] = []
        second = threading.Thread(target=lambda: opened.append(Store(db)), daemon=True)
        second.start()
        assert writing.wait(30)  # the second one at its update: the first one goes on
        assert first.stdin is not None
        first.stdin.write("go\n")
        first.stdin.flush()
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err[-2000:]
        second.join(60)
        assert opened and opened[0].version == len(MIGRATIONS)
        opened[0].close()
    finally:
        if first.poll() is None:
            first.kill()
    assert _copies_kept(db) == {"library.sqlite3.bak-v3": 3}


def test_an_error_that_is_not_damage_is_not_called_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every DatabaseError was "the library is damaged: move it aside" — a constraint or a
    closed connection too, where moving it would lose the queue and the history for nothing."""
    from alu_client import cli
    from alu_client.core.store import is_damage

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path))
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE t (a UNIQUE)")
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError) as integrity:
            conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    assert not is_damage(integrity.value)
    monkeypatch.setattr(
        "alu_client.cli.queue_verbs.open_services",
        lambda **_k: (_ for _ in ()).throw(integrity.value),
    )
    assert cli.main(["queue", "list"]) == 1
    said = capsys.readouterr().err
    assert "Nothing says the file is damaged: do not move it" in said and "aside" not in said
    garbage = tmp_path / "g.sqlite3"
    garbage.write_bytes(b"not a database" * 400)
    with pytest.raises(sqlite3.DatabaseError) as notadb:
        Store(garbage)
    assert is_damage(notadb.value)


def test_a_failure_written_during_a_scheduler_pass_is_not_started_again_at_once(
    store: Store,
) -> None:
    # the worker wrote "queued, retry in 60 s" after the scheduler read the retry times and
    # before it asked which transfers may start: the store gave it back, it ran again at once
    # (no back-off), and the first worker's clean-up took the second's bookkeeping with it
    # (pause and the caps no longer reached it)
    calls: list[float] = []
    failing, in_window, release = threading.Event(), threading.Event(), threading.Event()

    def job(t: Transfer, ctx: Any) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) == 1:
            failing.set()
            in_window.wait(5)
            raise RetryableError("The connection was lost.", retry_after=60)
        while not release.wait(0.05):
            ctx.control.check()
        return {"size": 1}

    q = TransferQueue(
        store,
        jobs={"download": job, "upload": job},
        policy=RetryPolicy(Backoff(base=60, cap=120)),
        progress_interval=0.05,
    )
    read_times = q.transfers.retry_times

    def retry_times() -> dict[int, float]:
        times = read_times()
        if failing.is_set() and not in_window.is_set():
            in_window.set()  # the worker fails now, inside this scheduler pass
            wait_until(lambda: q.transfers.get(tid).state == "queued", 2, what="the failure")  # type: ignore[union-attr]
        return times

    q.transfers.retry_times = retry_times  # type: ignore[method-assign]
    tid = q.add_download("http://127.0.0.1:9/a", Path("/nonexistent/a"), label="a")
    q.start()
    try:
        wait_until(in_window.is_set, 5, what="the failure inside a pass")
        time.sleep(1.5)  # a few passes of the scheduler: nothing may start it before 60 s
        assert len(calls) == 1
        q.pause(tid)
        assert q.transfers.get(tid).state == "paused"  # type: ignore[union-attr]
    finally:
        release.set()
        q.stop(2)


def test_a_transfer_whose_end_the_full_library_cannot_record_says_so_while_it_waits(
    store: Store,
) -> None:
    # the row said "Transferring 7%" with no reason for as long as the data folder's disk was
    # full: the message went to the store only, which could not be written
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    full = _FullStore(q.transfers, times=10_000)
    heard: list[Progress] = []
    q.add_listener(lambda batch: heard.extend(p for p in batch if p.id == tid))
    q.start()
    try:
        wait_until(lambda: any(p.phase == PHASE_LIBRARY for p in heard), timeout=10)
        said = [p for p in heard if p.phase == PHASE_LIBRARY][-1]
        assert said.state == "active" and said.last_error == MSG_LIBRARY_FULL
        assert said.speed == 0.0 and said.eta is None
        full.left = 0  # space again: the end is written, the reason goes
        assert q.wait_for(tid, timeout=30).state == "done"
        wait_until(lambda: heard[-1].state == "done", timeout=10)
        assert heard[-1].phase == "" and heard[-1].last_error == ""
    finally:
        q.stop()


def test_a_transfer_whose_end_is_written_says_no_more_that_the_library_is_full(
    store: Store,
) -> None:
    # between the end written at last and the worker letting go of the transfer, a progress
    # tick read "done" from the store and the full library's reason from the worker: a row
    # "Done — the library cannot be saved" (and the test above failed about 1 run in 10)
    from alu_client.core.transfers import queue as queue_module

    q = make_queue(store, FakeJobs(blocks=1))
    tid = add(q, "a")
    q.transfers.finish(tid, "done", bytes_done=3, size=3)
    t = q.transfers.get(tid)
    assert t is not None
    live = queue_module._Live(0, 3)
    live.problem, live.phase = MSG_LIBRARY_FULL, PHASE_LIBRARY
    q._live[tid] = live
    said = q._progress_of(t)
    assert said.state == "done" and said.last_error == "" and said.phase == ""


def test_the_library_is_said_writable_again_only_after_a_write_went_through(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # the 0.25 s ticks that do not write counted as a recovery: "the library can be written
    # again" and "progress cannot be saved" in turn every second of a full disk
    jobs = FakeJobs(blocks=400, block_time=0.02)
    q = make_queue(store, jobs)
    add(q, "a")
    real, failed = q.transfers.set_progress, []
    writable = threading.Event()

    def full(updates: dict[int, tuple[int, int | None]]) -> None:
        if not writable.is_set():
            failed.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        real(updates)

    q.transfers.set_progress = full  # type: ignore[method-assign]
    caplog.set_level("INFO", logger="alu_client.core.transfers.queue")
    q.start()
    try:
        wait_until(lambda: len(failed) >= 2, timeout=10)  # ticks passed in between
        again = [r for r in caplog.records if "can be written again" in r.getMessage()]
        assert again == []
        writable.set()
        wait_until(
            lambda: any("can be written again" in r.getMessage() for r in caplog.records),
            timeout=10,
        )
        saying = [r for r in caplog.records if "cannot be saved" in r.getMessage()]
        assert len(saying) == 1
    finally:
        q.stop()


def test_repeated_identical_failures_are_one_log_entry_and_debug_lines(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A hub down for long: each try failing alike was two log rows and an INFO line each,
    for ever. Now one counted entry and one INFO line; a new error and the success still show."""
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")
    down = "The server could not be reached."  # (no hub profile: said of "the server")
    busy = "The server is busy."
    jobs.fail_plan[tid] = [RetryableError(down) for _ in range(30)] + [RetryableError(busy)]
    caplog.set_level(logging.INFO, logger="alu_client.core.transfers.queue")
    q.start()
    try:
        assert q.wait_for(tid, timeout=30).state == "done"
    finally:
        q.stop()
    entries = [(k, m, n) for _, k, m, n in q.transfers.log_repeats(tid)]
    assert entries == [
        ("added", "", 1),
        ("started", "", 1),
        ("queued", down, 30),
        ("started", "", 1),
        ("queued", busy, 1),
        ("started", "", 1),
        ("done", "", 1),
    ]
    said = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and r.getMessage().startswith(f"transfer {tid}:")
    ]
    assert len(said) == 2 and down in said[0] and busy in said[1], said


def test_a_transfer_log_is_capped_and_old_ones_pruned(store: Store) -> None:
    """Pauses and resumes all day (or two errors by turns) keep the first entries and the
    latest ones; the log of a transfer that ended long ago goes, that of a recent one stays."""
    ts = TransferStore(store)
    old, recent = ts.add("download", "http://h/a", "/x/a"), ts.add("download", "http://h/b", "/x/b")
    for n in range(LOG_MAX_ROWS * 2):
        ts.note(old, "note", f"n{n}")
    entries = ts.log(old)
    assert len(entries) == LOG_MAX_ROWS
    assert [m for _, _, m in entries[1:LOG_KEEP_FIRST]] == [f"n{n}" for n in range(19)]
    assert entries[-1][2] == f"n{LOG_MAX_ROWS * 2 - 1}"
    for tid in (old, recent):
        assert ts.set_state(tid, "canceled", only_from=("queued",))
    with store.write() as c:
        c.execute(
            "UPDATE transfer_log SET at = at - ? WHERE transfer_id = ?", (LOG_KEPT_FOR + 60, old)
        )
    assert ts.prune_log() == LOG_MAX_ROWS
    assert ts.log(old) == [] and [k for _, k, _ in ts.log(recent)] == ["added", "canceled"]


def test_a_log_prune_the_full_disk_refuses_does_not_fail_the_engine_start(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # the prune ran in start(): "database or disk is full" went out of the app's launch (a
    # traceback, no dialog, the engine lock held; at a re-sign-in, a process with no window)
    jobs = FakeJobs(blocks=3)
    q = make_queue(store, jobs)
    tid = add(q, "a")

    def full(**_kw: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    q.transfers.prune_log = full  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="alu_client.core.transfers.queue")
    q.start()
    try:
        assert q.wait_for(tid, timeout=10).state == "done"
        wait_until(
            lambda: any("could not be deleted" in r.getMessage() for r in caplog.records),
            timeout=10,
        )
    finally:
        q.stop()
    said = [r for r in caplog.records if "could not be deleted" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "database or disk is full" in said[0].getMessage()


def test_a_progress_flush_that_fails_still_hands_its_batch_to_the_listeners(
    store: Store,
) -> None:
    # the flush and the batch were in one try: a transfer paused in the second the store
    # could not be written was in that batch alone, and its row kept saying "active"
    jobs = FakeJobs(blocks=400, block_time=0.02)
    # ticks over a second apart: each one flushes (the one that sends the pause fails)
    q = TransferQueue(store, jobs={"download": jobs}, progress_interval=1.5)
    tid = add(q, "a")
    real, failing = q.transfers.set_progress, threading.Event()

    def full(updates: dict[int, tuple[int, int | None]]) -> None:
        if failing.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        real(updates)

    q.transfers.set_progress = full  # type: ignore[method-assign]
    heard: list[Progress] = []
    q.add_listener(lambda batch: heard.extend(p for p in batch if p.id == tid))
    q.start()
    try:
        wait_until(lambda: any(p.state == "active" for p in heard), timeout=10)
        failing.set()  # every flush fails from now on: the pause is heard all the same
        q.pause(tid)
        wait_until(lambda: bool(heard) and heard[-1].state == "paused", timeout=10)
    finally:
        failing.clear()  # (the stop's own flush)
        q.stop()


def test_a_log_grown_before_logs_were_bounded_is_cut_down_once(store: Store) -> None:
    # `_log` drops one row per entry added: a log of thousands from before schema step 9
    # stayed that size, and one of a transfer that never ends was never pruned either
    ts = TransferStore(store)
    tid, small = ts.add("download", "http://h/a", "/x/a"), ts.add("download", "http://h/b", "/x/b")
    with store.write() as c:
        c.executemany(
            "INSERT INTO transfer_log (transfer_id, at, kind, message) VALUES (?, ?, 'note', ?)",
            [(tid, time.time(), f"n{n}") for n in range(999)],
        )
    assert len(ts.log(tid)) == 1000
    assert ts.prune_log() == 1000 - LOG_MAX_ROWS
    entries = ts.log(tid)
    assert len(entries) == LOG_MAX_ROWS
    assert entries[0][1] == "added"
    assert [m for _, _, m in entries[1:LOG_KEEP_FIRST]] == [f"n{n}" for n in range(19)]
    latest = LOG_MAX_ROWS - LOG_KEEP_FIRST
    assert [m for _, _, m in entries[LOG_KEEP_FIRST:]] == [
        f"n{n}" for n in range(999 - latest, 999)
    ]
    assert [k for _, k, _ in ts.log(small)] == ["added"]
    # once only: a log bounded since is not looked through at every start
    assert store.query_one("SELECT 1 FROM settings WHERE key = 'transfer_log.trimmed'")


def test_a_log_prune_goes_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # after an upgrade, millions of rows went in one transaction on the engine's start
    from alu_client.core.store import transfers as transfers_module

    monkeypatch.setattr(transfers_module, "PRUNE_TRANSFERS", 2)
    monkeypatch.setattr(transfers_module, "PRUNE_ROWS", 50)
    ts = TransferStore(store)
    ids = [ts.add("download", f"http://h/{n}", f"/x/{n}") for n in range(5)]
    with store.write() as c:
        c.executemany(
            "INSERT INTO transfer_log (transfer_id, at, kind, message) VALUES (?, ?, 'note', '')",
            [
                (
                    tid,
                    time.time(),
                )
                for tid in ids
                for _ in range(299)
            ],
        )
        c.execute("UPDATE transfers SET state = 'canceled' WHERE id = ?", (ids[0],))
        c.execute("UPDATE transfer_log SET at = 0 WHERE transfer_id = ?", (ids[0],))
    writes = []
    real = store.write

    @contextlib.contextmanager
    def counted(wait: float = 0.0) -> Iterator[sqlite3.Connection]:
        with real(wait) as c:
            before = c.total_changes
            yield c
            writes.append(c.total_changes - before)

    monkeypatch.setattr(store, "write", counted)
    assert ts.prune_log() == 300 + 4 * (300 - LOG_MAX_ROWS)
    assert ts.log(ids[0]) == [] and all(len(ts.log(t)) == LOG_MAX_ROWS for t in ids[1:])
    assert len(writes) > 5 and max(writes) <= 50 + 1, writes
    stopped = ts.prune_log(stopping=lambda: True)
    assert stopped == 0
