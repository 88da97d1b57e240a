"""Items the agency withdrew or corrected after publishing them (the hub's ``revision``,
``corrected_at``, ``correction_note``, ``withdrawn_at``, ``withdrawn_reason``): read from the
hub, kept with the item, brought by the changes feed to the items the library has; a withdrawn
item's downloads end with the agency's reason and are never tried again, a 410 ``item_withdrawn``
ends a download so, and neither the rules nor a download asked for fetch it again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from alu_client.core.hub import ChangePage, Item, ItemPage, NotFound, parse_item
from alu_client.core.library import Library, Query, update_items, upsert_items
from alu_client.core.rules import Conditions, Rule, RuleEngine, RuleStore
from alu_client.core.store import Store
from alu_client.core.sync import FeedSync, SyncState
from alu_client.core.transfers.base import withdrawn_message
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from alu_client.core.withdrawn import WithdrawnItem
from alu_hub.server import serve_in_thread
from tests.client.test_library import make_item
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PROFILE = "desk"
BASE = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
WITHDRAWN_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
REASON = "Wrong footage: the clip shows another town"


def withdrawn(item: Item, reason: str = REASON) -> Item:
    return dataclasses.replace(
        item, revision=item.revision + 1, withdrawn_at=WITHDRAWN_AT, withdrawn_reason=reason
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


# --- reading the hub's item --------------------------------------------------------------------


def _item_json(**fields: Any) -> dict[str, Any]:
    return {
        "id": "a" * 32,
        "seq": 7,
        "kind": "push",
        "title": "Floods in Kisumu",
        "published_at": "2026-03-01T06:00:00Z",
        "renditions": [],
        **fields,
    }


def test_an_item_says_when_and_why_the_agency_withdrew_or_corrected_it() -> None:
    item = parse_item(
        _item_json(
            revision=3,
            corrected_at="2026-03-01T08:00:00Z",
            correction_note="Dateline corrected: Kisumu, not Nairobi",
            withdrawn_at="2026-03-02T09:30:00+00:00",
            withdrawn_reason=REASON,
        )
    )
    assert item.revision == 3
    assert item.corrected and item.corrected_at == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert item.correction_note == "Dateline corrected: Kisumu, not Nairobi"
    assert item.withdrawn and item.withdrawn_at == WITHDRAWN_AT
    assert item.withdrawn_reason == REASON


def test_an_older_hubs_item_stands_as_published() -> None:
    item = parse_item(_item_json())  # (no field of withdrawals: a hub older than them)
    assert (item.revision, item.corrected_at, item.correction_note) == (1, None, "")
    assert (item.withdrawn_at, item.withdrawn_reason) == (None, "")
    assert not item.withdrawn and not item.corrected
    # null from a hub that sends every field
    nulls = parse_item(_item_json(revision=1, corrected_at=None, withdrawn_at=None))
    assert not nulls.withdrawn and not nulls.corrected


# --- the library -------------------------------------------------------------------------------


def test_the_library_keeps_the_agencys_changes_and_never_undoes_a_withdrawal(
    store: Store,
) -> None:
    first, other = make_item(1), make_item(2)
    upsert_items(store, PROFILE, [first])
    corrected = dataclasses.replace(
        first,
        revision=2,
        title="Floods in Kisumu",
        corrected_at=BASE + dt.timedelta(hours=2),
        correction_note="Title corrected",
    )
    # the changes feed updates what the library has, and leaves what it has not to the feed
    assert update_items(store, PROFILE, [corrected, other]) == [corrected]
    library = Library(store, PROFILE)
    assert library.get(other.id) is None
    li = library.get(first.id)
    assert li is not None and li.item == corrected
    # the search finds it by its corrected title
    gone = withdrawn(corrected)
    assert update_items(store, PROFILE, [gone]) == [gone]
    li = library.get(first.id)
    assert li is not None and li.item.withdrawn and li.item.withdrawn_reason == REASON
    assert li.item.withdrawn_at == WITHDRAWN_AT and li.item.revision == 3
    # a copy read before the withdrawal (a feed page, a hub restored from a backup) does not
    # make it usable again
    changed: list[Item] = []
    upsert_items(store, PROFILE, [corrected], changed=changed)
    assert changed == []
    li = library.get(first.id)
    assert li is not None and li.item.withdrawn


# --- the changes feed ---------------------------------------------------------------------------


class ChangingHub:
    """A hub's feed and changes, as the client sees them (``items``, ``item_changes``)."""

    def __init__(self, items: list[Item], changes: list[tuple[int, Item]] | None) -> None:
        self.feed = items
        self.changes = changes  # None: a hub older than withdrawals (404)
        self.asked: list[int] = []
        self.clock_offset = None

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        left = [i for i in self.feed if i.seq > after]
        page = left[:limit]
        return ItemPage(page, next=page[-1].seq if page else after, more=len(left) > limit)

    def item_changes(self, after: int = 0, limit: int = 100) -> ChangePage:
        self.asked.append(after)
        if self.changes is None:
            raise NotFound("There is no item with this id.", status=404)
        page = [(n, i) for n, i in self.changes if n > after][:limit]
        more = len([n for n, _i in self.changes if n > after]) > limit
        last = None if page else max((n for n, _i in self.changes), default=0)
        return ChangePage(
            [i for _n, i in page], next=page[-1][0] if page else after, more=more, last=last
        )


def _sync(store: Store, hub: ChangingHub, changed: list[Item]) -> FeedSync:
    def store_items(items: list[Item]) -> list[Item]:
        return upsert_items(store, PROFILE, items)

    return FeedSync(
        lambda: hub,  # type: ignore[arg-type,return-value]
        SyncState(store, PROFILE),
        store_items,
        update_items=lambda items: update_items(store, PROFILE, items),
        on_changed=changed.extend,
        page_size=2,
    )


def test_a_withdrawn_item_is_not_waiting_to_be_read(store: Store) -> None:
    # "Feed (3)" with one of the three withdrawn sent the newsroom to an item nothing of
    # which could be used; the member's own uploads are not counted either
    lib = Library(store, PROFILE)
    items = [make_item(i, published_at=BASE + dt.timedelta(minutes=i)) for i in range(1, 4)]
    upsert_items(store, PROFILE, items)
    assert lib.unread_count() == 3
    update_items(store, PROFILE, [withdrawn(items[0])])  # withdrawn after it arrived
    upsert_items(store, PROFILE, [withdrawn(make_item(4, published_at=BASE))])  # arrived so
    assert lib.unread_count() == 2
    unread = [li.id for li in lib.search(Query(unread=True)).items]
    assert unread == [items[2].id, items[1].id]  # what `alu feed --new` and the filter list
    seen = {li.id for li in lib.search(Query(unread=False)).items}
    assert seen == {items[0].id, make_item(4).id}
    assert lib.mark_all_read() == 2  # the two waiting, not the withdrawn ones
    assert lib.unread_count() == 0
    assert lib.mark_read([items[0].id], read=False) == 0  # (never waiting: it is not unread)


def test_the_changes_feed_updates_the_library_after_the_feed(store: Store) -> None:
    one, two, three = make_item(1), make_item(2), make_item(3)
    later = make_item(4)  # not in the library yet: the feed brings it as it is now
    changes = [(1, withdrawn(one)), (2, withdrawn(later)), (5, dataclasses.replace(
        two, revision=2, corrected_at=BASE, correction_note="Slug corrected", slug="KISUMU"))]  # fmt: skip
    hub = ChangingHub([one, two, three], changes)
    changed: list[Item] = []
    sync = _sync(store, hub, changed)
    assert sync.catch_up() == 3
    state = SyncState(store, PROFILE)
    assert state.changes_seq == 5
    assert hub.asked == [0, 2]  # page by page (two a page), from the cursor
    library = Library(store, PROFILE)
    first, second = library.get(one.id), library.get(two.id)
    assert first is not None and first.item.withdrawn
    assert second is not None and second.item.slug == "KISUMU"
    assert library.get(later.id) is None
    assert [i.id for i in changed] == [one.id, two.id]
    # nothing new: asked after the cursor, nothing changed again
    assert sync.catch_up() == 0
    assert hub.asked[-1] == 5 and [i.id for i in changed] == [one.id, two.id]
    # a hub replaced behind the profile: read from the start again
    state.reset()
    assert state.changes_seq == 0


def test_a_hub_without_the_changes_feed_is_fine(store: Store) -> None:
    hub = ChangingHub([make_item(1)], None)
    sync = _sync(store, hub, [])
    assert sync.catch_up() == 1  # the feed went through, nothing said
    assert SyncState(store, PROFILE).changes_seq == 0
    sync.catch_up()
    assert hub.asked == [0, 0]  # asked again next time


def test_a_hub_restored_from_a_backup_has_its_changes_read_again(store: Store) -> None:
    items = [make_item(n) for n in range(1, 6)]
    hub = ChangingHub(items, [(9, withdrawn(items[0]))])
    sync = _sync(store, hub, [])
    sync.catch_up()
    assert SyncState(store, PROFILE).changes_seq == 9
    # restored: its feed ends before our cursor, its changes are numbered from 1 again
    hub.feed = [*items[:3], make_item(4, id="new4")]
    hub.changes = [(1, withdrawn(items[1]))]
    sync.catch_up()
    li = Library(store, PROFILE).get(items[1].id)
    assert li is not None and li.item.withdrawn


def test_changes_that_end_before_the_cursor_are_read_again(store: Store) -> None:
    """The hub says where its changes end (``last``, on an empty page): one that ends before
    the cursor was restored, and numbers its changes again from there."""
    items = [make_item(n) for n in range(1, 4)]
    hub = ChangingHub(items, [(9, withdrawn(items[0]))])
    sync = _sync(store, hub, [])
    sync.catch_up()
    hub.changes = [(1, withdrawn(items[2]))]  # its feed as it was; its changes from 1 again
    sync.catch_up()
    li = Library(store, PROFILE).get(items[2].id)
    assert li is not None and li.item.withdrawn
    assert SyncState(store, PROFILE).changes_seq == 1


# --- the transfer engine ------------------------------------------------------------------------


@pytest.fixture
def withdrawing_hub() -> Iterator[str]:
    """A rendition address answering as a hub does for a withdrawn item: 410, code
    ``item_withdrawn``. Yields the address; counts the requests."""
    app = FastAPI()
    app.state.asked = 0

    @app.api_route("/api/v1/items/x/renditions/broadcast", methods=["GET", "HEAD"])
    def gone() -> JSONResponse:
        app.state.asked += 1
        error = {"code": "item_withdrawn", "message": f"The agency withdrew this item: {REASON}"}
        return JSONResponse({"error": error}, status_code=410)

    server = serve_in_thread(app)
    server.app = app  # type: ignore[attr-defined]
    yield f"{server.url}/api/v1/items/x/renditions/broadcast"
    server.stop()


def test_a_410_item_withdrawn_ends_the_download_with_the_reason(
    store: Store, tmp_path: Path, withdrawing_hub: str
) -> None:
    q = TransferQueue(store, policy=RetryPolicy(Backoff(base=0.01, cap=0.02)))
    tid = q.add_download(
        withdrawing_hub,
        tmp_path / "clip.mp4",
        sha256=hashlib.sha256(b"x").hexdigest(),
        size=1000,
        label="Floods",
        item_id="x",
        rendition="broadcast",
    )
    q.start()
    try:
        wait_until(lambda: (t := q.transfers.get(tid)) is not None and t.state == "canceled")
    finally:
        q.stop()
    t = q.transfers.get(tid)
    assert t is not None and t.state == "canceled"
    assert t.last_error == withdrawn_message(REASON)
    assert t.last_error == f"The agency withdrew this item: {REASON}"
    assert t.attempts == 1  # never tried again
    assert not list(tmp_path.glob("clip.mp4*"))  # no part file left


# --- the workstation: downloads, `alu get`, the rules ---------------------------------------------


def test_the_rules_never_queue_a_withdrawn_item(store: Store) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    asked: list[str] = []

    def enqueue(item: Item, rendition: str, _dest: Path | None, _rule: Rule) -> int:
        asked.append(item.id)
        return len(asked)

    # a second workstation reads the item for the first time after its withdrawal
    upsert_items(store, PROFILE, [withdrawn(make_item(1)), make_item(2)])
    engine = RuleEngine(store, PROFILE, enqueue)
    assert [m.item.id for m in engine.evaluate_pending(max_age_hours=None)] == [make_item(2).id]
    assert asked == [make_item(2).id]


def test_a_withdrawal_ends_the_downloads_and_refuses_new_ones(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    """The hub here is one older than withdrawals (no changes feed: the sync says nothing of
    it); the withdrawn copy comes as the changes feed would bring it."""
    live_hub.member("ktn")
    item_id = live_hub.publish(clip, "Floods in Kisumu")
    services = live_hub.workstation(tmp_path / "ws", "ktn", "pw-1234")
    try:
        sync = services.feed_sync()
        assert sync.catch_up() == 1  # (the changes feed answered 404: fine, nothing said)
        queued = services.download(item_id, "broadcast")
        proxy = services.download(item_id, "proxy")
        q = services.make_queue()
        q.pause(proxy)
        known = services.library.get(item_id)
        assert known is not None
        gone = withdrawn(known.item)
        assert services.update_items([gone]) == [gone]
        services._items_changed([gone])  # (what the sync's on_changed does)
        for tid in (queued, proxy):
            t = q.transfers.get(tid)
            assert t is not None and t.state == "canceled"
            assert t.last_error == f"The agency withdrew this item: {REASON}"
        # asked again (Download, `alu get`): refused, nothing queued
        with pytest.raises(WithdrawnItem, match="withdrawn by the agency"):
            services.download(item_id, "broadcast")
        assert [t.id for t in q.transfers.all(("queued", "active", "paused", "failed"))] == []
        q.sessions.close()
    finally:
        services.stop()


def test_a_correction_of_the_restrictions_reaches_the_items_downloads(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # they were kept with each download as queued: the Transfers tab and the notice at its
    # end said the old ones ("No access Kenya") after the agency had changed them
    from alu_client.core.download_notices import download_done

    live_hub.member("ktn")
    item_id = live_hub.publish(clip, "Floods in Kisumu", restrictions="No access Kenya")
    services = live_hub.workstation(tmp_path / "ws", "ktn", "pw-1234")
    try:
        assert services.feed_sync().catch_up() == 1
        q = services.make_queue()
        waiting = services.download(item_id, "proxy")
        q.pause(waiting)
        told: list[list[int]] = []
        services.events.transfers_changed.append(told.append)

        def corrected(restrictions: str) -> Item:
            known = services.library.get(item_id)
            assert known is not None
            return dataclasses.replace(
                known.item,
                revision=known.item.revision + 1,
                corrected_at=WITHDRAWN_AT,
                restrictions=restrictions,
            )

        def kept() -> object:
            t = q.transfers.get(waiting)
            assert t is not None and t.state == "paused"
            return t.options.get("restrictions")

        assert kept() == "No access Kenya"
        fixed = corrected("No access Kenya, Uganda")
        assert services.update_items([fixed]) == [fixed]
        services._items_changed([fixed])
        assert kept() == "No access Kenya, Uganda"
        assert told == [[waiting]]
        # the same again: nothing to change, nothing said
        services._items_changed([fixed])
        assert told == [[waiting]]
        # none now: none said at its end
        free = corrected("")
        services.update_items([free])
        services._items_changed([free])
        assert kept() is None and told == [[waiting], [waiting]]
        # the download ends: its notice says the item's restrictions as they are now
        q.resume(waiting)
        q.start()
        assert q.wait_for(waiting, timeout=60).state == "done"
        done = download_done(services.store, waiting)
        assert done is not None and done.restrictions == ""
        q.stop()
        q.sessions.close()
    finally:
        services.stop()
