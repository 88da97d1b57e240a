"""The hub refuses the sign-in (the session ended): the queue holds the transfers that need it,
queued, "waiting for sign-in", until a new sign-in lets them go (tester "session", findings 2
and 3). Before, each running and then each queued one started, failed with a history event
and a failure notification, and after the new sign-in the rows kept the old error, "Waiting
to retry"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from alu_client.core import services as services_module
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.store.transfers import Transfer, profile_of
from alu_client.core.transfers.base import (
    MSG_SIGN_IN_REFUSED,
    PHASE_SIGN_IN,
    PermanentError,
    SignInRefused,
    TransferContext,
)
from alu_client.core.transfers.queue import Progress, TransferQueue
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from alu_client.core.uploads import UploadFields
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-sign-in-hold"
HUB = "http://hub.example:8080"
CDN = "https://cdn.example"


# --- the queue, with stand-in jobs -------------------------------------------------------------


class HubJobs:
    """Jobs whose transfers to ``HUB`` are refused their sign-in while ``refused`` is set;
    the others (a signed link to a CDN) are done at once."""

    def __init__(self) -> None:
        self.refused = threading.Event()
        self.refused.set()
        self.started: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        with self.lock:
            self.started.append(t.id)
        address = t.destination if t.direction == "upload" else t.source
        if address.startswith(HUB) and self.refused.is_set():
            raise SignInRefused(MSG_SIGN_IN_REFUSED)
        ctx.meter(1024)
        return {"size": 1024}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def hub_queue(store: Store, jobs: HubJobs) -> TransferQueue:
    q = TransferQueue(
        store,
        jobs={"download": jobs, "upload": jobs},
        policy=RetryPolicy(Backoff(base=0.05, cap=0.1)),
        progress_interval=0.05,
        max_downloads=1,
    )
    q.profile = "p"
    q.needs_sign_in = lambda t: (
        profile_of(t) == "p"
        and ((t.destination if t.direction == "upload" else t.source).startswith(HUB))
    )
    return q


def test_a_refused_sign_in_holds_the_transfers_that_need_it_until_a_new_one(
    store: Store, tmp_path: Path
) -> None:
    jobs = HubJobs()
    q = hub_queue(store, jobs)
    ended: list[tuple[int, str]] = []
    q.transfers.outcome_hooks.append(lambda _c, t: ended.append((t.id, t.state)))
    last: dict[int, Progress] = {}
    q.add_listener(lambda batch: last.update({p.id: p for p in batch}))
    mine = {"profile": "p"}
    hub = [
        q.add_download(f"{HUB}/api/v1/f/{n}", tmp_path / f"h{n}.mp4", extra=mine) for n in range(3)
    ]
    cdn = q.add_download(f"{CDN}/f?sig=1", tmp_path / "cdn.mp4", extra=mine)
    (tmp_path / "clip.mp4").write_bytes(b"x" * 1024)
    upload = q.add_upload(tmp_path / "clip.mp4", f"{HUB}/api/v1/uploads/", {}, extra=mine)
    q.start()
    try:
        assert q.wait_for(cdn, timeout=10).state == "done"  # a signed link goes on
        wait_until(lambda: q.waits_for_sign_in, what="the queue to wait for a sign-in")
        # the scheduler passes at least once a second: one more chance to start the others
        time.sleep(1.2)
        rows = {tid: q.transfers.get(tid) for tid in [*hub, upload]}
        assert {tid: t.state for tid, t in rows.items() if t} == dict.fromkeys(rows, "queued")
        # one download and the upload were tried and refused; the others never started
        assert sorted(tid for tid in jobs.started if tid != cdn) == sorted([hub[0], upload])
        for tid in (hub[0], upload):
            t = rows[tid]
            assert t is not None and t.last_error == MSG_SIGN_IN_REFUSED, t
            assert t.next_attempt_at is None and t.failures == 0
        assert ended == [(cdn, "done")]  # no "failed": no history event, no notification
        wait_until(
            lambda: all(last.get(tid) and last[tid].phase == PHASE_SIGN_IN for tid in rows),
            what="every held row told it waits for a sign-in",
        )
        # a new sign-in: they go at once, the old error gone from the rows it lets go
        jobs.refused.clear()
        let_go = q.signed_in_again(lambda t: profile_of(t) == "p")
        assert sorted(let_go) == sorted([hub[0], upload])
        assert not q.waits_for_sign_in
        for tid in rows:
            assert q.wait_for(tid, timeout=10).state == "done"
        assert sorted(ended) == sorted([(cdn, "done"), *((tid, "done") for tid in rows)])
    finally:
        q.stop()


def test_a_queue_not_told_what_needs_the_sign_in_fails_as_before(
    store: Store, tmp_path: Path
) -> None:
    # a one-shot verb (`alu get`, `alu put`) ends with the refusal and says it
    jobs = HubJobs()
    q = hub_queue(store, jobs)
    q.needs_sign_in = None
    tid = q.add_download(f"{HUB}/api/v1/f/1", tmp_path / "a.mp4", extra={"profile": "p"})
    q.start()
    try:
        t = q.wait_for(tid, timeout=10)
        assert (t.state, t.last_error) == ("failed", MSG_SIGN_IN_REFUSED)
        assert not q.waits_for_sign_in
    finally:
        q.stop()


def test_a_new_sign_in_clears_the_old_refusal_from_the_rows_it_lets_go(
    store: Store, tmp_path: Path
) -> None:
    # after signing in again, rows kept "The hub did not accept this sign-in…" and a merely
    # queued one said "Waiting to retry"
    q = hub_queue(store, HubJobs())  # (not started: the rows stay as they are let go)
    mine, theirs = {"profile": "p"}, {"profile": "other"}
    failed = q.add_download(f"{HUB}/f/1", tmp_path / "1.mp4", extra=mine)
    queued = q.add_download(f"{HUB}/f/2", tmp_path / "2.mp4", extra=mine)
    gone = q.add_download(f"{HUB}/f/3", tmp_path / "3.mp4", extra=mine)
    another = q.add_download(f"{HUB}/f/4", tmp_path / "4.mp4", extra=theirs)
    q.transfers.finish(failed, "failed", error=MSG_SIGN_IN_REFUSED)
    q.transfers.finish(queued, "queued", error=MSG_SIGN_IN_REFUSED, next_attempt_at=time.time())
    q.transfers.finish(gone, "failed", error="The file is no longer on the server.")
    q.transfers.finish(another, "failed", error=MSG_SIGN_IN_REFUSED)
    q.profile = None  # (this engine would run them all: ``which`` alone chooses)
    assert sorted(q.signed_in_again(lambda t: profile_of(t) == "p")) == sorted([failed, queued])
    for tid in (failed, queued):
        t = q.transfers.get(tid)
        assert t is not None and (t.state, t.last_error, t.next_attempt_at) == ("queued", "", None)
    left = {tid: q.transfers.get(tid) for tid in (gone, another)}
    assert {tid: (t.state, t.last_error) for tid, t in left.items() if t} == {
        gone: ("failed", "The file is no longer on the server."),
        another: ("failed", MSG_SIGN_IN_REFUSED),
    }


# --- the real engine and a live hub --------------------------------------------------------------


def test_an_ended_session_holds_the_hubs_transfers_and_a_new_sign_in_lets_them_go(
    live_hub: LiveHub, clip: Path, other_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services_module, "TOKEN_RECHECK_S", 0.3)
    live_hub.member("ktn", PASSWORD)
    items = [live_hub.publish(clip, title=f"Nairobi rain {n}") for n in range(3)]
    desk: Services = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    try:
        desk.store_items([desk.client().item(item) for item in items])  # (the feed's)
        # the session ends on the hub (expired, signed out elsewhere)
        old = desk.client().auth_headers()
        requests.delete(live_hub.api("/session"), headers=old, timeout=10).raise_for_status()
        wait_until(
            lambda: requests.get(live_hub.api("/me"), headers=old, timeout=10).status_code == 401,
            timeout=15,
            what="the hub to refuse the old sign-in",
        )
        downloads = [desk.download(item) for item in items]
        upload = desk.upload(other_clip, UploadFields(title="Our floods", language="en"))
        # queued before the engine starts: its first pass starts a download and the upload
        # together (queued while it ran, the upload was held unstarted when the download's
        # refusal came first, on a loaded machine)
        queue = desk.start_engine(
            sync=False, rules=False, hot_folders=False, media=False, max_downloads=1
        )
        wait_until(lambda: queue.waits_for_sign_in, timeout=30, what="a wait for the sign-in")
        wait_until(
            lambda: (t := queue.transfers.get(upload)) is not None and t.last_error,
            timeout=30,
            what="the upload refused",
        )
        time.sleep(1.2)  # (a scheduler pass or two: the others are not started)
        rows = [queue.transfers.get(tid) for tid in [*downloads, upload]]
        assert [t.state for t in rows if t] == ["queued"] * 4, rows
        tried = [t for t in rows if t and t.attempts]
        assert len(tried) == 2, rows  # one download, the upload; each refused once
        # the 401 of the hub's download is the sign-in's, not a right to ask the agency about
        assert {t.last_error for t in tried} == {MSG_SIGN_IN_REFUSED}
        assert desk.history().list() == []  # no "Download failed", no "Upload failed"
        assert {p.phase for p in queue.snapshot()} == {PHASE_SIGN_IN}
        # a new sign-in (`alu login` in another process, the app's dialog)
        other = Store(desk.paths.db_path)
        try:
            sign_in(Profiles(other), desk.secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
        finally:
            other.close()
        for tid in [*downloads, upload]:
            t = queue.wait_for(tid, timeout=60)
            assert (t.state, t.last_error) == ("done", ""), t
        assert sorted(e.type for e in desk.history().list()) == [
            *["download_completed"] * 3,
            "upload_completed",
        ]
    finally:
        desk.stop()


def test_only_the_hubs_own_addresses_of_the_active_profile_need_its_sign_in(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    live_hub.member("ktn", PASSWORD)
    desk = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    try:
        name = desk.require_profile().name
        queue = desk.make_queue()
        dest = tmp_path / "x.mp4"

        def row(url: str, profile: str | None) -> Transfer:
            extra = {"profile": profile} if profile is not None else {}
            t = queue.transfers.get(queue.add_download(url, dest, extra=extra))
            assert t is not None
            return t

        desk.client()
        assert desk._needs_sign_in(row(f"{live_hub.url}/api/v1/items/x/file", name))
        assert not desk._needs_sign_in(row(f"{CDN}/x.mp4?sig=1", name))  # a signed link
        assert not desk._needs_sign_in(row(f"{live_hub.url}/x", None))  # `alu fetch`
        assert not desk._needs_sign_in(row(f"{live_hub.url}/x", "another"))
    finally:
        desk.stop()


def test_a_download_refused_for_its_sign_in_says_so_not_to_ask_the_agency(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # "The server refused access (HTTP 401). Sign in again, or ask the agency whether your
    # newsroom may download this item." — it was the session
    from alu_client.core.transfers import download as dl
    from alu_client.core.transfers.base import Control, MemoryCheckpoint, SessionPool

    item = live_hub.publish(clip, title="Mombasa port")
    live_hub.member("ktn", PASSWORD)
    desk = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    try:
        known = desk.client().item(item).rendition("broadcast")
        assert known is not None
        ctx = TransferContext(
            control=Control(),
            checkpoint=MemoryCheckpoint(),
            sessions=SessionPool(),
            headers={"Authorization": "Bearer not-a-live-one"},
        )
        with pytest.raises(PermanentError) as e:
            dl.run(dl.DownloadSpec(known.url, tmp_path / "m.mp4"), ctx)
        assert isinstance(e.value, SignInRefused)
        assert e.value.message == MSG_SIGN_IN_REFUSED
        ctx.sessions.close()
    finally:
        desk.stop()


def test_a_refusal_of_the_sign_in_a_transfer_began_with_does_not_hold_after_a_new_one(
    live_hub: LiveHub, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long download began with the old sign-in; a new one was taken meanwhile, and the
    download's next request, with the old token, is refused: it goes on with the new one.
    Held, nothing let it go (the new token was taken already, the feed online): every hub
    transfer of the profile waited "for sign-in" with a valid one, until a restart (review of
    diff35)."""
    monkeypatch.setattr(services_module, "TOKEN_RECHECK_S", 0.3)
    live_hub.member("ktn", PASSWORD)
    items = [live_hub.publish(clip, title=f"Item {n}") for n in range(3)]
    desk = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    try:
        queue = desk.start_engine(
            sync=False, rules=False, hot_folders=False, media=False, max_downloads=2
        )
        desk.store_items([desk.client().item(i) for i in items])
        real = queue.jobs["download"]
        gate, started = threading.Event(), threading.Event()
        first = -1

        def slow_first(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
            if t.id == first:  # a long download under way: its sign-in taken at its start
                started.set()
                gate.wait(30)
            return real(t, ctx)

        queue.jobs["download"] = slow_first
        old = desk.client().auth_headers()
        requests.delete(live_hub.api("/session"), headers=old, timeout=10).raise_for_status()
        first = desk.download(items[0])
        assert started.wait(10)
        second = desk.download(items[1])
        wait_until(lambda: queue.waits_for_sign_in, timeout=30, what="the hold")
        other = Store(desk.paths.db_path)
        try:
            sign_in(Profiles(other), desk.secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
        finally:
            other.close()
        assert queue.wait_for(second, timeout=30).state == "done"  # let go by the new sign-in
        gate.set()  # the long download's next request carries the old token: refused
        done = queue.wait_for(first, timeout=30)
        assert done.state == "done" and done.last_error == "", done
        assert not queue.waits_for_sign_in
        third = desk.download(items[2])
        assert queue.wait_for(third, timeout=30).state == "done"
    finally:
        desk.stop()
