"""A hub restored from a backup (docs/operations.md) numbers its next feed items and history
events again from the backup's last: a workstation that had seen later numbers asked for items
after its cursor and passed over the new ones until the hub's numbers caught up, and the events
it had sent after the backup were gone from the agency's figures for good. The hub's empty
pages now say where its numbers end (``last``); the workstation reads from there and sends its
own lost events again. Run against the real hub (SQLite and PostgreSQL): the "restore" takes the
rows after the backup point out and puts the feed's counter back, as restoring the database does.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from alu_client.core.hub import HubClient, Item, ItemPage
from alu_client.core.store import Store
from alu_client.core.sync import HistorySync, SyncState, record_event
from alu_hub.models import Counter, HistoryEvent
from alu_hub.models import Item as HubItem
from tests.client.test_sync import PW, client_for, make_rig
from tests.support.livehub import LiveHub


@pytest.fixture
def hub(live_hub: LiveHub) -> LiveHub:
    live_hub.member("ktn", PW)
    return live_hub


def newest_item_seq(hub: LiveHub) -> int:
    with hub.hub.db.session() as s:
        return int(s.scalar(select(HubItem.seq).order_by(HubItem.seq.desc()).limit(1)) or 0)


def restore_items_to(hub: LiveHub, seq: int) -> None:
    """The database as a backup taken when ``seq`` was the newest item left it."""
    with hub.hub.db.session() as s:
        for item in s.scalars(select(HubItem).where(HubItem.seq > seq)).all():
            s.delete(item)
        s.execute(update(Counter).where(Counter.name == "item_seq").values(value=seq))


def restore_history_to(hub: LiveHub, seq: int) -> None:
    with hub.hub.db.session() as s:
        s.execute(delete(HistoryEvent).where(HistoryEvent.seq > seq))
        if s.get_bind().dialect.name == "postgresql":  # the restored sequence (SQLite: max + 1)
            s.execute(
                text("SELECT setval(pg_get_serial_sequence('history', 'seq'), :seq)"), {"seq": seq}
            )


def hub_event_ids(client: HubClient) -> set[str]:
    return {e.id for e in client.history(limit=1000).events}


def test_new_items_of_a_restored_hub_reach_a_workstation_that_saw_later_numbers(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    kept = [hub.publish(clip, title=f"Kept {n}") for n in range(2)]
    backup = newest_item_seq(hub)
    lost = [hub.publish(clip, title=f"Lost {n}") for n in range(3)]
    client = client_for(hub.url)
    r = make_rig(tmp_path, client)
    told: list[str] = []  # (the app tells the user: the log alone said nothing to them)
    r.feed.on_went_back = lambda: told.append("feed")
    assert r.feed.catch_up() == 5
    cursor = r.state.feed_seq
    assert cursor == backup + 3
    assert told == []

    restore_items_to(hub, backup)
    new = [hub.publish(clip, title=f"New {n}") for n in range(2)]
    assert newest_item_seq(hub) <= cursor  # the numbers the workstation has seen, again

    assert r.feed.catch_up() == 2  # before: 0, until the hub published past the cursor
    assert told == ["feed"]
    assert r.shelf.seen_new[-2:] == new
    assert set(r.shelf.items) == {*kept, *lost, *new}  # what the hub lost stays here
    assert r.state.feed_seq == backup + 2
    pages = len(client.pages)
    assert r.feed.catch_up() == 0  # and it stays put: one page, nothing more
    assert len(client.pages) == pages + 1
    assert r.state.feed_seq == backup + 2


def test_a_page_saying_nothing_of_its_end_leaves_the_cursor(tmp_path: Path) -> None:
    """Hubs before this change send no ``last``; an empty page is just nothing new."""
    state = SyncState(Store(tmp_path / "library.sqlite3"), "main")
    state.advance_feed(9)
    state.rewind_feed(12)  # never forward
    assert state.feed_seq == 9
    state.rewind_feed(4)
    assert state.feed_seq == 4
    state.advance_history(20)
    state.rewind_history(-3)
    assert state.history_seq == 0


def test_a_restored_hub_gets_this_workstations_lost_events_again(
    hub: LiveHub, tmp_path: Path
) -> None:
    store = Store(tmp_path / "desk" / "library.sqlite3")
    client = client_for(hub.url)
    history = HistorySync(store, "main", lambda: client)
    told: list[str] = []  # (the app tells the user: the log alone said nothing to them)
    history.on_went_back = lambda: told.append("history")
    ids = []
    for n in range(4):
        with store.write() as c:
            ids.append(record_event(c, "main", "download_completed", item_id=f"x{n}", bytes=n + 1))
        history.push()
        history.pull()  # each comes back with the hub's number
    with store.write() as c:  # one the hub refused: not sent again
        refused = record_event(c, "main", "download_completed", item_id="bad", bytes=1)
        c.execute(
            'UPDATE history SET sent_at = 1, detail = \'{"hub_refused": "no"}\' WHERE id = ?',
            (refused,),
        )
    with store.write() as c:  # sent long ago, and kept by the backup: not sent again
        c.execute("UPDATE history SET sent_at = ? WHERE id = ?", (time.time() - 40 * 86400, ids[0]))
    seqs = {e.id: e.seq for e in client.history(limit=1000).events}
    assert set(seqs) == set(ids)
    backup = seqs[ids[1]]

    restore_history_to(hub, backup)
    assert hub_event_ids(client) == set(ids[:2])
    other = client_for(hub.url, device="desk-2")  # the member's other workstation, after it
    theirs = "0e" * 16
    other.post_history(
        [{"id": theirs, "type": "upload_completed", "bytes": 5}], dt.datetime.now(dt.UTC)
    )

    assert told == []
    assert history.pull() == 1  # the other desk's event, though numbered under our cursor
    assert told == ["history"]
    # sent in the last 30 days and not read back from the hub (it still had ids[1]); not the
    # refused one, not the old one the hub kept
    assert history.pending() == 2
    assert history.push() == 2
    assert hub_event_ids(client) == {*ids, theirs}
    history.pull()
    assert history.pending() == 0
    assert history.pull() == 0
    assert history.pending() == 0  # settled: nothing more goes again
    assert theirs in {e.id for e in history.list(limit=20)}
    store.close()


class RestoredEveryTime(HubClient):
    """A hub that says its feed ends at 0 on every empty page, though it serves items."""

    def __init__(self, items: list[Item]) -> None:
        self.served = items
        self.asked: list[int] = []

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        self.asked.append(after)
        fresh = [i for i in self.served if i.seq > after][:limit]
        if fresh:
            return ItemPage(fresh, fresh[-1].seq, more=False)
        return ItemPage([], after, more=False, last=0)


def test_a_hub_saying_it_went_back_every_time_is_read_again_once(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    ids = [hub.publish(clip, title=f"Item {n}") for n in range(3)]
    items = client_for(hub.url).items().items
    assert [i.id for i in items] == ids
    odd = RestoredEveryTime(items)
    r = make_rig(tmp_path, odd)
    assert r.feed.catch_up() == 3
    odd.asked.clear()
    assert r.feed.catch_up() == 0
    assert odd.asked == [2]  # from the item the cursor stands on: still there, nothing more
    for _ in range(2):  # a cursor moved by an older version: which item it stands on is not kept
        r.state.set("feed_seq_at", "")
        odd.asked.clear()
        assert r.feed.catch_up() == 0
        assert odd.asked == [3, 0]  # went back once, read again (nothing new), and stopped


def test_a_restored_hub_whose_numbers_passed_ours_again_is_still_followed(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    """The hub's end (``last``) tells a restore only until its numbers pass the cursor again:
    for the history, as soon as any member sends events (their numbers are the hub's, for all
    members). The item and the event at the cursor are asked for by identity."""
    # the feed: more published since the restore than were lost
    hub.publish(clip, title="Kept")
    backup = newest_item_seq(hub)
    hub.publish(clip, title="Lost")
    r = make_rig(tmp_path / "feed", client_for(hub.url))
    assert r.feed.catch_up() == 2
    restore_items_to(hub, backup)
    new = [hub.publish(clip, title=f"New {n}") for n in range(3)]
    assert newest_item_seq(hub) > r.state.feed_seq  # past our cursor: `last` cannot tell
    assert r.feed.catch_up() == 3  # before: 1 (the two under the cursor passed over)
    assert r.shelf.seen_new[-3:] == new

    # the history: another member's events take the numbers after the restore
    hub.member("rts", PW)
    store = Store(tmp_path / "desk" / "library.sqlite3")
    client = client_for(hub.url)
    history = HistorySync(store, "main", lambda: client)
    ids = []
    for n in range(4):
        with store.write() as c:
            ids.append(record_event(c, "main", "download_completed", item_id=f"x{n}", bytes=1))
        history.push()
        history.pull()
    seqs = {e.id: e.seq for e in client.history(limit=1000).events}
    restore_history_to(hub, seqs[ids[1]])
    rts = client_for(hub.url, user="rts")
    rts.post_history(
        [{"id": f"{n:032x}", "type": "upload_completed", "bytes": 5} for n in range(3)],
        dt.datetime.now(dt.UTC),
    )
    history.pull()
    assert history.pending() == 2  # before: 0, the two lost events never sent again
    assert history.push() == 2
    assert hub_event_ids(client) == set(ids)
    history.pull()
    assert history.pull() == 0 and history.pending() == 0  # settled
    store.close()


def test_the_largest_pages_stay_within_the_hubs_limit(
    hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    """A catch-up asks from the item its cursor stands on, one more than a page: with pages of
    500 (the hub's largest) that asked for 501, refused (422)."""
    r = make_rig(tmp_path / "feed", client_for(hub.url), page_size=500)
    hub.publish(clip, title="First")
    assert r.feed.catch_up() == 1
    second = hub.publish(clip, title="Second")
    assert r.feed.catch_up() == 1 and r.shelf.seen_new[-1] == second
    store = Store(tmp_path / "desk" / "library.sqlite3")
    client = client_for(hub.url)
    history = HistorySync(store, "main", lambda: client, page_size=1000)
    for n in range(2):
        with store.write() as c:
            record_event(c, "main", "download_completed", item_id=f"x{n}", bytes=1)
        history.push()
        history.pull()
    assert history.pull() == 0 and history.pending() == 0
    store.close()
