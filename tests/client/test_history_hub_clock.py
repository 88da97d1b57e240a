"""This workstation's own history events are listed on the hub's clock, as the agency's report
counts them: a workstation clock a year behind (or two hours ahead) lists its own download on
the day the report counts it, before it is sent and after it came back from the hub."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.hub import Connection
from alu_client.core.store import Store
from alu_client.core.sync import HistorySync, SyncState, record_event
from tests.client.test_sync_history import PW, RecordingClient, client_for
from tests.support.livehub import LiveHub

YEAR = 365 * 86400.0


class SkewedClient(RecordingClient):
    """A workstation whose clock is ``skew`` seconds off (negative: behind): its batches say
    their ``sent_at`` on that clock, as the app's would."""

    skew = -YEAR

    def post_history(self, events: list[dict[str, Any]], sent_at: dt.datetime) -> tuple[int, int]:
        return super().post_history(events, sent_at + dt.timedelta(seconds=self.skew))


@pytest.fixture
def hub(live_hub: LiveHub) -> LiveHub:
    live_hub.member("ktn", PW)
    return live_hub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "desk-1" / "library.sqlite3")
    yield s
    s.close()


def skewed_client(url: str, skew: float) -> SkewedClient:
    c = SkewedClient(Connection(url, allow_http=True, device="desk-1", read_timeout=5.0))
    c.skew = skew
    c.sign_in("ktn", PW)
    return c


def record_download(store: Store, skew: float, item: str = "item-own") -> str:
    """A download that ended now, dated by a clock ``skew`` seconds off."""
    ended = time.time() + skew
    with store.write() as c:
        return record_event(c, "main", "download_completed", item_id=item, bytes=7,
                            started_at=ended - 30, ended_at=ended, device="desk-1")  # fmt: skip


@pytest.mark.parametrize("skew", [-YEAR, 2 * 3600.0])
def test_own_events_are_listed_on_the_hubs_clock_before_and_after_sending(
    store: Store, hub: LiveHub, skew: float, tmp_path: Path
) -> None:
    state = SyncState(store, "main")
    state.set_clock_offset(-skew)  # (as the feed sync measured it from the hub's Date)
    eid = record_download(store, skew)
    history = HistorySync(store, "main", skewed_client(hub.url, skew), state=state)
    [pending] = history.list()
    assert pending.id == eid and pending.pending
    assert pending.ended_at is not None and pending.started_at is not None
    assert abs(pending.ended_at - time.time()) < 60, pending.ended_at - time.time()
    assert pending.ended_at - pending.started_at == pytest.approx(30)
    # another workstation's download, a minute before ours on the hub's clock: listed after it
    other_store = Store(tmp_path / "desk-2" / "library.sqlite3")
    try:
        with other_store.write() as c:
            record_event(c, "main", "download_completed", item_id="item-other", bytes=3,
                         ended_at=time.time() - 60, device="desk-2")  # fmt: skip
        HistorySync(other_store, "main", client_for(hub.url, device="desk-2")).push()
    finally:
        other_store.close()
    assert history.push() == 1
    history.pull()
    hub_time = {e.id: e.ended_at for e in client_for(hub.url).history(limit=10).events}[eid]
    assert hub_time is not None
    listed = history.list()
    assert [e.item_id for e in listed] == ["item-own", "item-other"]
    assert listed[0].ended_at == pytest.approx(hub_time.timestamp(), abs=0.01)
    assert listed[0].ended_at - (listed[0].started_at or 0) == pytest.approx(30)
    # the row itself keeps this clock's time: what a hub restored from a backup gets again
    raw = store.query_one("SELECT ended_at FROM history WHERE id = ?", (eid,))
    assert abs(raw[0] - (time.time() + skew)) < 60
    # a page after the first goes on by the same (hub) times
    assert [e.item_id for e in history.list(limit=1, before=eid)] == ["item-other"]


def test_a_clock_right_within_two_minutes_is_listed_as_it_said(store: Store) -> None:
    SyncState(store, "main").set_clock_offset(90.0)  # the hub leaves such times alone
    record_download(store, 0.0)
    [event] = HistorySync(store, "main", lambda: None).list()
    assert abs((event.ended_at or 0) - time.time()) < 10


def test_the_update_reads_the_history_again_for_the_hubs_times(store: Store, hub: LiveHub) -> None:
    # events sent by a version that kept only this clock's time: the update reads the
    # member's history again, and they come back with the hub's
    eid = record_download(store, -YEAR)
    history = HistorySync(store, "main", skewed_client(hub.url, -YEAR))
    assert history.push() == 1
    history.pull()
    with store.write() as c:  # as 18 left it: no shift known
        c.execute("UPDATE history SET hub_shift = 0")
        c.execute("PRAGMA user_version = 18")
    assert store.path is not None
    store.close()
    updated = Store(store.path)
    try:
        again = HistorySync(updated, "main", client_for(hub.url))
        assert again.state.history_seq == 0
        assert again.pull() == 0  # (its own: stored once)
        [event] = again.list()
        assert event.id == eid and abs((event.ended_at or 0) - time.time()) < 60
    finally:
        updated.close()
