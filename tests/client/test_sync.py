"""Feed sync against the real hub on loopback, and through the fault proxy: catch-up by pages,
items stored once, the event stream, polling when there is none, outages, garbage, restarts."""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.hub import Connection, HubClient, Item, ItemPage, NoAnswer, NotFound
from alu_client.core.store import Store
from alu_client.core.sync import (
    OFFLINE,
    ONLINE,
    SIGNED_OUT,
    FeedSync,
    HistorySync,
    SyncService,
    SyncState,
    SyncStatus,
    record_event,
)
from alu_client.core.sync.service import MSG_HISTORY_DISK_FULL
from alu_client.core.transfers.retry import Backoff
from alu_hub.app import build_hub, create_app
from alu_hub.server import serve_in_thread
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PW = "pw-1234"
FAST = Backoff(base=0.05, cap=0.3)


class CountingClient(HubClient):
    """A real client that counts the feed pages it asked for."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.pages: list[tuple[int, int]] = []

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        self.pages.append((after, limit))
        return super().items(after, limit)


def client_for(url: str, user: str = "ktn", device: str = "desk-1") -> CountingClient:
    c = CountingClient(Connection(url, allow_http=True, device=device, read_timeout=5.0))
    c.sign_in(user, PW)
    return c


@dataclass
class Shelf:
    """What ``store_items`` is for these tests: a dict of items by id, counting every write."""

    items: dict[str, Item] = field(default_factory=dict)
    writes: Counter[str] = field(default_factory=Counter)
    new_batches: list[list[str]] = field(default_factory=list)
    fail_after_store: int = 0  # the next N calls store, then raise (a crash before the cursor)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self, items: list[Item]) -> list[Item]:
        with self.lock:
            new = [i for i in items if i.id not in self.items]
            for i in items:
                self.items[i.id] = i
                self.writes[i.id] += 1
            if self.fail_after_store:
                self.fail_after_store -= 1
                raise RuntimeError("crash between storing and moving the cursor")
            return new

    def on_new(self, items: list[Item]) -> None:
        self.new_batches.append([i.id for i in items])

    @property
    def seen_new(self) -> list[str]:
        return [i for batch in self.new_batches for i in batch]

    def titles(self) -> set[str]:
        with self.lock:
            return {i.title for i in self.items.values()}


@dataclass
class Rig:
    store: Store
    state: SyncState
    shelf: Shelf
    statuses: list[SyncStatus]
    feed: FeedSync
    stop: threading.Event
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.feed.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self) -> float:
        began = time.monotonic()
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)
            assert not self.thread.is_alive()
        return time.monotonic() - began

    def states(self) -> list[str]:
        """The states said, the progress of a catch-up of several pages left out."""
        return [s.state for s in self.statuses if s.catching_up is None]


def make_rig(
    tmp: Path, client: HubClient | None, *, page_size: int = 100, poll: float = 60.0
) -> Rig:
    store = Store(tmp / "library.sqlite3")
    state = SyncState(store, "main")
    shelf = Shelf()
    statuses: list[SyncStatus] = []
    feed = FeedSync(
        lambda: client,
        state,
        shelf.store,
        on_new=shelf.on_new,
        on_status=statuses.append,
        page_size=page_size,
        poll_interval=poll,
        backoff=FAST,
    )
    return Rig(store, state, shelf, statuses, feed, threading.Event())


@pytest.fixture
def hub(live_hub: LiveHub) -> LiveHub:
    live_hub.member("ktn", PW)
    return live_hub


@pytest.fixture
def rig(hub: LiveHub, tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path / "desk", client_for(hub.url))
    yield r
    r.halt()
    r.store.close()


@pytest.fixture
def proxy(hub: LiveHub) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", hub.server.port)) as p:
        yield p


def is_get(path: str) -> object:
    return lambda head: head.startswith(f"GET /api/v1{path}".encode())


# --- catch-up ----------------------------------------------------------------------------------


def test_catch_up_pages_in_seq_order(hub: LiveHub, clip: Path, tmp_path: Path) -> None:
    ids = [hub.publish(clip, title=f"Item {n}") for n in range(5)]
    client = client_for(hub.url)
    r = make_rig(tmp_path, client, page_size=2)

    assert r.feed.catch_up() == 5

    assert set(r.shelf.items) == set(ids)
    assert r.shelf.seen_new == ids  # the hub's order
    assert [after for after, _ in client.pages][:1] == [0]
    assert len(client.pages) >= 3  # 2 + 2 + 1
    assert r.state.feed_seq == max(i.seq for i in r.shelf.items.values())
    assert r.state.last_contact is not None
    # Nothing new: one page, nothing stored again.
    assert r.feed.catch_up() == 0
    assert set(r.shelf.writes.values()) == {1}


class PausedAfterFirstPage(CountingClient):
    """A real client whose feed pages after the first wait for the test (a year's catch-up
    of 335 pages, held in the middle)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.go_on = threading.Event()
        self.held = threading.Event()

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        if self.pages:
            self.held.set()
            self.go_on.wait(10)
        return super().items(after, limit)


def test_online_with_its_progress_from_the_first_page_of_a_long_catch_up(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # A first catch-up of a year's feed said "offline — not in contact with the hub yet" for
    # its 48 s, while the hub answered every page
    for n in range(5):
        hub.publish(clip, title=f"Item {n}")
    client = PausedAfterFirstPage(Connection(hub.url, allow_http=True, device="desk-1"))
    client.sign_in("ktn", PW)
    r = make_rig(tmp_path, client, page_size=2)
    assert r.feed.status.state == OFFLINE  # (never in contact: what it says before an answer)
    r.start()
    try:
        wait_until(client.held.is_set, what="the second page asked")
        assert r.feed.status.state == ONLINE
        assert r.feed.status == SyncStatus(ONLINE, catching_up=2)
        assert r.state.online  # (kept for the next start, once: not at every page)
        client.go_on.set()
        wait_until(lambda: len(r.shelf.items) == 5, what="the whole feed")
        wait_until(lambda: r.feed.status.catching_up is None, what="the catch-up done")
        assert r.feed.status.state == ONLINE
        assert [s.catching_up for s in r.statuses] == [2, 4, None]
    finally:
        client.go_on.set()
        r.halt()
        r.store.close()


def test_crash_between_store_and_cursor_stores_the_page_once(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    ids = [hub.publish(clip, title=f"Item {n}") for n in range(3)]
    r = make_rig(tmp_path, client_for(hub.url), page_size=2)
    r.shelf.fail_after_store = 1

    with pytest.raises(RuntimeError):
        r.feed.catch_up()
    assert len(r.shelf.items) == 2  # the first page was stored …
    assert r.state.feed_seq == 0  # … but the cursor did not move

    # The page comes again; the store keeps each item once and says only the third is new.
    assert r.feed.catch_up() == 1
    assert set(r.shelf.items) == set(ids)
    assert r.shelf.seen_new == [ids[2]]
    assert r.shelf.writes == Counter({ids[0]: 2, ids[1]: 2, ids[2]: 1})
    # Items arriving again (a replayed page, an event the stream repeats) are not even offered
    # to the store: they are behind the cursor.
    again = list(r.shelf.items.values())
    assert r.feed._take(again) == 0
    assert r.feed.catch_up() == 0
    assert r.shelf.seen_new == [ids[2]]
    assert r.shelf.writes == Counter({ids[0]: 2, ids[1]: 2, ids[2]: 1})


def test_cursor_never_moves_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "library.sqlite3")
    state = SyncState(store, "main")
    assert state.advance_feed(7) == 7
    assert state.advance_feed(3) == 7
    assert state.feed_seq == 7
    assert state.advance_history(2) == 2
    assert SyncState(store, "other").feed_seq == 0  # per profile
    state.reset()
    assert (state.feed_seq, state.history_seq) == (0, 0)


# --- the loop: stream, polling, errors ----------------------------------------------------------


def test_event_stream_delivers_a_publish_within_seconds(rig: Rig, hub: LiveHub, clip: Path) -> None:
    first = hub.publish(clip, title="Before")
    rig.start()
    wait_until(lambda: rig.feed.live, what="listening on the event stream")
    assert first in rig.shelf.items
    assert rig.feed.status.state == ONLINE
    assert rig.state.online

    began = time.monotonic()
    second = hub.publish(clip, title="Live")
    wait_until(lambda: second in rig.shelf.items, timeout=5, what="the live item")
    assert time.monotonic() - began < 5
    assert rig.state.feed_seq == rig.shelf.items[second].seq
    assert rig.shelf.writes[second] == 1

    assert rig.halt() < 1.0  # the open stream is closed from stop


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (404, {"Content-Type": "application/json"}, b'{"error": {"message": "no"}}'),
        (501, {"Content-Type": "text/plain"}, b"Not Implemented"),
        (200, {"Content-Type": "text/html"}, b"<html>Welcome to the proxy</html>"),
    ],
    ids=["404", "501", "html"],
)
def test_without_event_stream_polling_gets_items(
    hub: LiveHub,
    proxy: FaultProxy,
    clip: Path,
    tmp_path: Path,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    proxy.inject_http_response(status, headers, body, times=1000, match=is_get("/events"))
    r = make_rig(tmp_path, client_for(proxy.url), poll=0.3)
    r.start()
    try:
        wait_until(lambda: r.states() == [ONLINE])
        wait_until(
            lambda: any(e.startswith(f"inject {status}") and "/events" in e for e in proxy.events),
            what="the stream refused",
        )
        item = hub.publish(clip, title="Polled")
        wait_until(lambda: item in r.shelf.items, what="the item, by polling")
        assert not r.feed.live
        assert r.shelf.writes[item] == 1
        assert r.states() == [ONLINE]
    finally:
        assert r.halt() < 1.0


@pytest.mark.parametrize(
    ("headers", "body", "words"),
    [
        (
            {"Content-Type": "text/html"},
            b"<html><h1>Login to the hotel Wi-Fi</h1></html>",
            "not ALU data",
        ),
        (
            {"Content-Type": "application/json"},
            b'{"items": [{"id": 5}], "next": 1, "more": false}',
            "malformed",
        ),
        ({"Content-Type": "application/json"}, b'{"items": [', "not ALU data"),
    ],
    ids=["html", "bad-item", "cut-json"],
)
def test_garbage_answer_is_offline_with_reason_and_nothing_stored(
    hub: LiveHub,
    proxy: FaultProxy,
    clip: Path,
    tmp_path: Path,
    headers: dict[str, str],
    body: bytes,
    words: str,
) -> None:
    item = hub.publish(clip, title="Behind the portal")
    client = client_for(proxy.url)
    proxy.inject_http_response(200, headers, body, times=1000, match=is_get("/items"))
    r = make_rig(tmp_path, client)
    r.start()
    try:
        wait_until(lambda: OFFLINE in r.states(), what="offline")
        assert words in r.feed.status.reason
        assert not r.state.online and words in r.state.reason
        assert r.shelf.items == {}
        assert r.state.feed_seq == 0

        proxy.clear_faults()
        r.feed.wake()
        wait_until(lambda: item in r.shelf.items, what="caught up after the garbage")
        wait_until(lambda: r.states() == [OFFLINE, ONLINE])
    finally:
        r.halt()


def test_garbage_on_the_event_stream_is_offline_then_live_again(
    hub: LiveHub, proxy: FaultProxy, clip: Path, tmp_path: Path
) -> None:
    good = hub.publish(clip, title="Good")
    proxy.inject_http_response(
        200,
        {"Content-Type": "text/event-stream"},
        b'retry: 5000\n\nid: 999\nevent: item\ndata: {"id": "not an item"}\n\n',
        match=is_get("/events"),
    )
    r = make_rig(tmp_path, client_for(proxy.url))
    r.start()
    try:
        wait_until(lambda: OFFLINE in r.states(), what="offline on a bad event")
        offline = next(st for st in r.statuses if st.state == OFFLINE)
        assert "malformed" in offline.reason
        wait_until(lambda: r.feed.live and r.states()[-1] == ONLINE, what="live again")
        assert set(r.shelf.items) == {good}
        assert r.state.feed_seq == r.shelf.items[good].seq  # not the garbage's 999
        later = hub.publish(clip, title="Later")
        wait_until(lambda: later in r.shelf.items)
    finally:
        r.halt()


def test_busy_hub_retry_after_is_honoured(
    hub: LiveHub, proxy: FaultProxy, clip: Path, tmp_path: Path
) -> None:
    class Recording(Backoff):
        calls: list[tuple[int, float | None]]

        def delay(self, attempt: int, retry_after: float | None = None) -> float:
            self.calls.append((attempt, retry_after))
            return super().delay(attempt, retry_after)

    backoff = Recording(base=0.05, cap=0.3)
    backoff.calls = []
    item = hub.publish(clip)
    proxy.inject_http_response(503, {"Retry-After": "120"}, match=is_get("/items"))
    r = make_rig(tmp_path, client_for(proxy.url))
    r.feed.backoff = backoff
    r.start()
    try:
        wait_until(lambda: backoff.calls, what="a backoff")
        assert backoff.calls[0] == (1, 120.0)
        assert r.feed.status.state == OFFLINE
        assert "busy" in r.feed.status.reason
        assert r.shelf.items == {}  # still waiting out the Retry-After
        r.feed.wake()  # the user pressed "sync"
        wait_until(lambda: item in r.shelf.items)
        wait_until(lambda: r.states()[-1] == ONLINE)
    finally:
        r.halt()


def test_a_maintenance_retry_after_does_not_keep_the_app_offline_past_a_minute(
    hub: LiveHub, tmp_path: Path
) -> None:
    # 503 with Retry-After: 600 during maintenance: the feed waited the ten minutes after the
    # hub was back (the app "offline", its transfers waiting), where the README promises a
    # try at least once a minute; the history waited as long
    from alu_client.core.sync.feed import FEED_RETRY_CAP_S
    from alu_client.core.sync.service import SyncService

    r = make_rig(tmp_path, client_for(hub.url))
    feed = FeedSync(lambda: None, r.state, r.shelf.store)  # the app's: default back-off
    for attempt in (1, 5, 50):
        assert feed.backoff.delay(attempt, 600.0) <= FEED_RETRY_CAP_S
    assert SyncService(feed).backoff.delay(3, 3600.0) <= 300.0
    r.store.close()


KEEPALIVE_S = 1.0  # the hub's keep-alive in the tests below (15 s in the field)


@pytest.fixture
def quiet_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A hub sending keep-alives every ``KEEPALIVE_S``, behind the fault proxy, and the client's
    stream read timeout in the same ratio to it as in the field (2.5 periods)."""
    from alu_client.core import hub as hub_module
    from tests.support.livehub import start_hub

    ratio = getattr(hub_module, "EVENTS_READ_TIMEOUT_S", 60.0) / getattr(
        hub_module, "EVENTS_KEEPALIVE_S", 15.0
    )
    monkeypatch.setattr(hub_module, "EVENTS_READ_TIMEOUT_S", ratio * KEEPALIVE_S, raising=False)
    h = start_hub(tmp_path / "quiet", sse_keepalive_s=KEEPALIVE_S)
    h.member("ktn", PW)
    try:
        with FaultProxy(("127.0.0.1", h.server.port)) as p:
            yield p
    finally:
        h.server.stop()
        h.hub.db.dispose()


def test_the_keepalive_and_the_stream_read_timeout_are_one_pair() -> None:
    # the client waited 60 s on a stream the hub keeps alive every 15 s, and the status said
    # "online, the feed is live" for 90 s while a frozen hub answered nothing
    from alu_client.core.hub import EVENTS_KEEPALIVE_S, EVENTS_READ_TIMEOUT_S
    from alu_hub.settings import Settings

    assert Settings(data_dir=Path("unused")).sse_keepalive_s == EVENTS_KEEPALIVE_S
    # one keep-alive lost or late does not end a stream; a silence of three does
    assert 2 * EVENTS_KEEPALIVE_S < EVENTS_READ_TIMEOUT_S < 3 * EVENTS_KEEPALIVE_S
    assert EVENTS_READ_TIMEOUT_S <= 45.0


def test_a_hub_gone_silent_is_said_within_the_keepalives_not_after_a_catch_up(
    quiet_hub: FaultProxy, tmp_path: Path
) -> None:
    # a frozen hub (SIGSTOP), a dead link, a hung proxy: connections are taken, nothing comes
    client = CountingClient(
        Connection(quiet_hub.url, allow_http=True, device="desk-1", read_timeout=20.0)
    )
    client.sign_in("ktn", PW)
    r = make_rig(tmp_path, client)
    r.start()
    try:
        wait_until(lambda: r.feed.live and r.states() == [ONLINE], what="live")
        time.sleep(KEEPALIVE_S / 2)  # (the stream's first keep-alive came)

        # a keep-alive late by most of a period (a lossy link's retransmissions): still live
        quiet_hub.stall_after(0, "down")
        time.sleep(1.8 * KEEPALIVE_S)
        quiet_hub.release_stalls()
        time.sleep(KEEPALIVE_S)
        assert r.states() == [ONLINE] and r.feed.live
        assert len(client.pages) == 1  # the stream was not cut and caught up again

        # then nothing at all: "offline" after ~2.5 keep-alives and one short question (a
        # keep-alive period), not after the catch-up that follows has waited its own read
        # timeout (20 s here, 30 s in the field)
        quiet_hub.stall_after(0, "down", times=100)
        frozen = time.monotonic()
        wait_until(lambda: OFFLINE in r.states(), timeout=6 * KEEPALIVE_S, what="offline")
        took = time.monotonic() - frozen
        assert took < 4.5 * KEEPALIVE_S, took
        assert "stopped answering" in r.feed.status.reason, r.feed.status
        assert quiet_hub.url.rstrip("/") in r.feed.status.reason

        # back: online again once the catch-up answers, and no flicker after it
        quiet_hub.clear_faults()
        quiet_hub.release_stalls()
        wait_until(lambda: r.states()[-1] == ONLINE and r.feed.live, what="online again")
        time.sleep(3 * KEEPALIVE_S)
        assert r.states() == [ONLINE, OFFLINE, ONLINE], r.statuses
    finally:
        r.halt()
        r.store.close()


class _HeldBack:
    """An event stream a buffering proxy holds back: nothing comes, keep-alives included."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        raise NoAnswer("The hub at http://127.0.0.1:9 stopped answering; reconnecting.")

    def close(self) -> None:
        self.closed = True


class BehindBufferingProxy(HubClient):
    """A healthy hub whose event stream a proxy buffers: every call answers, the stream never
    brings anything."""

    def __init__(self) -> None:
        super().__init__(Connection("http://127.0.0.1:9", allow_http=True), token="t")
        self.streams = 0
        self.asked = 0

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        return ItemPage(items=[], next=after, more=False)

    def answers(self) -> None:
        self.asked += 1

    def events(self, after: int | None) -> Any:
        self.streams += 1
        return _HeldBack()


def test_a_stream_held_back_by_a_proxy_is_no_hub_gone_and_polling_takes_over(
    tmp_path: Path,
) -> None:
    # behind a proxy that buffers the event stream, the status said "offline — stopped
    # answering" every 37.5 s on a hub answering every call, and never went to polling
    client = BehindBufferingProxy()
    r = make_rig(tmp_path, client)
    r.feed.sse_retry_interval = 3600.0
    r.start()
    try:
        wait_until(lambda: client.streams >= 3, timeout=30, what="three streams held back")
        wait_until(lambda: client.asked >= 3, what="the hub asked after each")
        time.sleep(0.5)
        assert client.streams == 3  # then polling, not a fourth stream
        assert r.states() == [ONLINE], r.statuses
    finally:
        r.halt()
        r.store.close()


class Blinking(HubClient):
    """A client whose next ``misses`` feed pages get no answer (a link's drop of some seconds),
    and whose hub has no event stream (the loop polls)."""

    def __init__(self) -> None:
        super().__init__(Connection("http://127.0.0.1:9", allow_http=True), token="t")
        self.misses = 0
        self.asked = 0

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        self.asked += 1
        if self.misses:
            self.misses -= 1
            raise NoAnswer("The hub at http://127.0.0.1:9 did not answer in time.")
        return ItemPage(items=[], next=after, more=False)

    def events(self, after: int | None) -> Any:
        raise NotFound("no stream here")


def test_a_sync_now_that_meets_a_short_drop_does_not_flicker_offline(tmp_path: Path) -> None:
    # "Sync now" during a 10 s outage of the link: the catch-up's connect timed out, the status
    # said "offline — did not answer in time" for a second, the next try (0.6 s later) worked
    client = Blinking()
    r = make_rig(tmp_path, client)
    r.start()
    try:
        wait_until(lambda: r.states() == [ONLINE] and client.asked == 1, what="online")
        client.misses = 1
        r.feed.wake()
        wait_until(lambda: client.asked == 3, what="asked again after the miss")
        wait_until(lambda: client.misses == 0 and not r.feed._wake.is_set())
        assert r.states() == [ONLINE]

        # no answer twice in a row: that is said
        client.misses = 2
        r.feed.wake()
        wait_until(lambda: OFFLINE in r.states(), what="offline")
        assert "did not answer" in r.feed.status.reason
        wait_until(lambda: r.states() == [ONLINE, OFFLINE, ONLINE], what="online again")
    finally:
        r.halt()
        r.store.close()


def test_outage_then_back(hub: LiveHub, proxy: FaultProxy, clip: Path, tmp_path: Path) -> None:
    r = make_rig(tmp_path, client_for(proxy.url))
    r.start()
    try:
        wait_until(lambda: r.feed.live)
        proxy.refuse(True)
        wait_until(lambda: OFFLINE in r.states(), what="offline")
        assert "cannot be reached" in r.feed.status.reason or "cut" in r.feed.status.reason
        missed = hub.publish(clip, title="During the outage")
        proxy.refuse(False)
        wait_until(lambda: missed in r.shelf.items, what="caught up after the outage")
        wait_until(lambda: r.states()[-1] == ONLINE)
        assert r.states()[-2:] == [OFFLINE, ONLINE]
        assert r.shelf.writes[missed] == 1
    finally:
        r.halt()


def test_expired_session_is_signed_out_and_waits_to_be_woken(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    client = client_for(hub.url)
    good = client.auth_headers()["Authorization"].split()[1]
    client.set_token("revoked-token-xyz")
    item = hub.publish(clip)
    r = make_rig(tmp_path, client)
    r.start()
    try:
        wait_until(lambda: r.feed.status.state == SIGNED_OUT, what="signed out")
        assert "sign in again" in r.feed.status.reason
        assert len(client.pages) == 1  # parked: no hammering
        r.feed.wake()
        wait_until(lambda: len(client.pages) == 2, what="one more try when woken")
        assert r.feed.status.state == SIGNED_OUT
        client.set_token(good)  # a new sign-in
        r.feed.wake()
        wait_until(lambda: item in r.shelf.items)
        wait_until(lambda: r.states() == [SIGNED_OUT, ONLINE])
    finally:
        r.halt()


def test_signed_out_without_a_client(tmp_path: Path) -> None:
    r = make_rig(tmp_path, None)
    r.start()
    try:
        wait_until(lambda: r.feed.status.state == SIGNED_OUT)
        assert "sign in" in r.feed.status.reason
    finally:
        assert r.halt() < 1.0


def test_hub_stopped_and_restarted_mid_sync(hub: LiveHub, clip: Path, tmp_path: Path) -> None:
    port = hub.server.port
    before = [hub.publish(clip, title=f"Before {n}") for n in range(2)]
    r = make_rig(tmp_path, client_for(hub.url), page_size=2)
    r.start()
    server2 = None
    hub2 = None
    try:
        wait_until(lambda: set(before) <= set(r.shelf.items) and r.feed.live)

        hub.server.stop()
        wait_until(lambda: OFFLINE in r.states(), what="offline once the hub is down")
        # Published while this workstation could not reach the hub.
        during = [hub.publish(clip, title=f"During {n}") for n in range(3)]

        hub2 = build_hub(hub.hub.settings)
        server2 = serve_in_thread(create_app(hub.hub.settings, hub2), port=port)
        wait_until(lambda: set(during) <= set(r.shelf.items), what="caught up after restart")
        wait_until(lambda: r.states()[-1] == ONLINE and r.feed.live)
        from alu_hub.publish import ItemFields, publish_file

        after = publish_file(hub2, clip, ItemFields(title="After"), kind="push").id
        wait_until(lambda: after in r.shelf.seen_new, what="live again after restart")

        everything = [*before, *during, after]
        assert set(r.shelf.items) == set(everything)
        assert set(r.shelf.writes.values()) == {1}  # nothing doubled
        assert r.shelf.seen_new == everything  # in the hub's order, nothing lost
        assert ONLINE in r.states() and OFFLINE in r.states()
        assert r.states()[-2:] == [OFFLINE, ONLINE]
    finally:
        r.halt()
        if server2 is not None:
            server2.stop()
        if hub2 is not None:
            hub2.db.dispose()


# --- the service: both threads --------------------------------------------------------------------


def test_service_syncs_feed_and_history_and_stops_fast(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    client = client_for(hub.url)
    r = make_rig(tmp_path, client)
    history = HistorySync(r.store, "main", lambda: client)
    with r.store.write() as c:
        eid = record_event(c, "main", "download_completed", item_id="x1", bytes=10, device="d")
    service = SyncService(r.feed, history, history_interval=60.0, backoff=FAST)
    service.start()
    try:
        item = hub.publish(clip)
        wait_until(lambda: item in r.shelf.items)
        wait_until(lambda: history.pending() == 0, what="the outbox sent")
        assert [e.id for e in client.history().events] == [eid]
        assert service.status.state == ONLINE

        with r.store.write() as c:
            eid2 = record_event(c, "main", "upload_completed", bytes=5, device="d")
        service.push_soon()
        wait_until(lambda: history.pending() == 0, what="sent soon after")
        assert [e.id for e in client.history().events] == [eid, eid2]
        service.sync_now()
        wait_until(lambda: history.list()[0].hub_seq is not None, what="hub order pulled")
    finally:
        began = time.monotonic()
        service.stop()
        assert time.monotonic() - began < 1.5
        assert not service.running


class ClockOffClient(CountingClient):
    """A workstation whose clock says a century and a half ago."""

    def post_history(self, events: list[dict[str, Any]], sent_at: dt.datetime) -> tuple[int, int]:
        return super().post_history(events, sent_at - dt.timedelta(days=365 * 150))


def test_a_clock_the_hub_refuses_is_said_and_the_other_desks_events_still_come(
    hub: LiveHub, tmp_path: Path
) -> None:
    client = ClockOffClient(Connection(hub.url, allow_http=True, device="desk-1", read_timeout=5))
    client.sign_in("ktn", PW)
    r = make_rig(tmp_path, client)
    history = HistorySync(r.store, "main", lambda: client)
    with r.store.write() as c:
        mine = record_event(c, "main", "download_completed", item_id="x1", bytes=10, device="d")
    other = client_for(hub.url, device="desk-2")  # the member's other workstation, clock right
    theirs = "0f" * 16
    other.post_history(
        [{"id": theirs, "type": "upload_completed", "bytes": 5}], dt.datetime.now(dt.UTC)
    )
    service = SyncService(r.feed, history, history_interval=60.0, backoff=FAST)
    service.start()
    try:
        wait_until(lambda: "clock" in service.history_error, what="the clock named")
        wait_until(
            lambda: theirs in {e.id for e in history.list(limit=10)}, what="the pull still ran"
        )
        assert history.pending() == 1  # ours waits for the clock
        assert mine not in {e.id for e in other.history().events}
    finally:
        service.stop()


def test_signed_out_stays_signed_out_through_a_network_blip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # signed out, the sync looks for a new sign-in now and then; a look that met a blip made
    # it "offline" and then "signed out" again, and the app asked for the password each time
    import threading

    from alu_client.core.hub import AuthError, Unreachable
    from alu_client.core.store import Store
    from alu_client.core.sync import SyncState
    from alu_client.core.sync import feed as feed_module
    from alu_client.core.sync.feed import FeedSync
    from alu_client.core.transfers.retry import Backoff

    monkeypatch.setattr(feed_module, "SIGNED_OUT_RECHECK_S", 0.2)
    answers = ["auth", "net", "auth", "net", "auth", "net"]
    asked: list[str] = []

    class Client:
        def items(self, after: int, limit: int) -> Any:
            what = answers.pop(0) if answers else "auth"
            asked.append(what)
            if what == "auth":
                raise AuthError("Your session with the hub has ended; sign in again.")
            raise Unreachable("The hub at https://hub.example cannot be reached.")

    store = Store(tmp_path / "lib.sqlite3")
    seen: list[str] = []
    sync = FeedSync(
        lambda: Client(),  # type: ignore[arg-type,return-value]
        SyncState(store, "p"),
        lambda items: [],
        on_status=lambda s: seen.append(s.state),
        backoff=Backoff(base=0.05, cap=0.1),
    )
    stop = threading.Event()
    runner = threading.Thread(target=sync.run, args=(stop,))
    runner.start()
    try:
        wait_until(lambda: len(asked) >= 6, 15, what="the looks for a new sign-in")
    finally:
        stop.set()
        runner.join(10)
        store.close()
    assert seen == [SIGNED_OUT]


class _IdleFeed:
    """A feed that stays online and does nothing: the history thread alone is looked at."""

    def __init__(self) -> None:
        self.status = SyncStatus(ONLINE)
        self.status_listeners: list[Any] = []

    def run(self, stop: threading.Event) -> None:
        stop.wait()

    def wake(self) -> None:
        pass


class _FullHistory:
    """A history whose library is on a full disk until ``writable`` is set."""

    def __init__(self, error: Exception) -> None:
        self.error, self.writable, self.pushed = error, threading.Event(), 0

    def push(self) -> None:
        if not self.writable.is_set():
            raise self.error
        self.pushed += 1

    def pull(self) -> None:
        pass


@pytest.mark.parametrize(
    "error",
    [sqlite3.OperationalError("database or disk is full"), OSError(errno.ENOSPC, "No space")],
)
def test_a_full_data_disk_is_said_in_the_history_without_a_traceback(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    history = _FullHistory(error)
    service = SyncService(_IdleFeed(), history, backoff=FAST)  # type: ignore[arg-type]
    caplog.set_level("INFO", logger="alu_client.core.sync.service")
    service.start()
    try:
        wait_until(lambda: service.history_error == MSG_HISTORY_DISK_FULL)
        assert not [r for r in caplog.records if r.exc_info]
        history.writable.set()
        service.sync_now()
        wait_until(lambda: history.pushed >= 1 and service.history_error == "")
    finally:
        service.stop()
