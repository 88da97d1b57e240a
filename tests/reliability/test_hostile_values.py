"""Valid JSON no workstation can use: numbers past what SQLite or a float holds (``1e999`` reads
as infinity), times past the calendar's end once put in UTC, text that is no Unicode (a lone
``\\ud800``). Each is a malformed answer (``BadResponse``, said as such), never a crash of the
feed, ``alu feed``, ``alu get`` or ``alu history`` with Python's own words."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from alu_client.core.hub import BadResponse, parse_item, parse_remote_event
from alu_client.core.hub_types import MAX_DURATION_S, MAX_INTEGER
from alu_client.core.library import Query
from alu_client.core.services import Services
from alu_client.core.transfers.retry import Backoff
from tests.reliability.test_hostile_servers import signed_in
from tests.support.hostile import FakeHub, item_json
from tests.support.waiting import wait_until

PAYLOAD = b"hello world payload"
#: JSON texts as a hub could send them (json.loads reads 1e999 as infinity)
HUGE = 10**20
PAST_THE_END = "9999-12-31T23:59:59-14:00"  # 10000-01-01T13:59:59 in UTC
BEFORE_THE_START = "0001-01-01T00:00:00+14:00"  # year 0 in UTC


def good_item(item_id: str = "it1", seq: int = 1) -> dict[str, Any]:
    return item_json(item_id, seq, PAYLOAD, f"https://hub.example.org/files/{item_id}")


def good_event(**changes: Any) -> dict[str, Any]:
    event = {
        "seq": 1,
        "id": "ev-1",
        "type": "download_completed",
        "item_id": "it1",
        "rendition": "broadcast",
        "bytes": 1000,
        "started_at": "2026-10-05T12:00:00Z",
        "ended_at": "2026-10-05T12:01:00Z",
        "occurred_at": "2026-10-05T12:01:00Z",
        "device": "desk-2",
        "detail": {"label": "Floods", "seconds": 60, "avg_bps": 1.5e6},
    }
    event.update(changes)
    return event


def from_the_wire(data: Any, *replaced: tuple[str, str]) -> Any:
    """``data`` as a hub's JSON text, with ``replaced`` (old, new) in that text, read back."""
    text = json.dumps(data)
    for old, new in replaced:
        assert old in text, old
        text = text.replace(old, new, 1)
    return json.loads(text)


# --- items ---------------------------------------------------------------------------------------

ITEM_CASES = {
    "width 1e999": (('"width": 320', '"width": 1e999'), "width"),
    "width 1e400 digits": (('"width": 320', '"width": 1' + "0" * 400), "width"),
    "height -inf": (('"height": 240', '"height": -1e999'), "height"),
    "width 10**6": (('"width": 320', '"width": 1000000'), "width"),
    "size 10**20": (('"size": 19', f'"size": {HUGE}'), "size"),
    "seq 2**70": (('"seq": 1', f'"seq": {2**70}'), "seq"),
    "seq 2**63": (('"seq": 1', f'"seq": {2**63}'), "seq"),
    "duration 1e999": (('"duration": 1.0', '"duration": 1e999'), "duration"),
    "duration 1e300": (('"duration": 1.0', '"duration": 1e300'), "duration"),
    "duration NaN": (('"duration": 1.0', '"duration": NaN'), "duration"),
    "duration 11 days": (('"duration": 1.0', f'"duration": {11 * 24 * 3600}'), "duration"),
    "published after the end": (
        ('"published_at": "2026-10-05T12:00:00Z"', f'"published_at": "{PAST_THE_END}"'),
        "published_at",
    ),
    "published before the start": (
        ('"published_at": "2026-10-05T12:00:00Z"', f'"published_at": "{BEFORE_THE_START}"'),
        "published_at",
    ),
    "published on the last day": (
        ('"published_at": "2026-10-05T12:00:00Z"', '"published_at": "9999-12-31T12:00:00Z"'),
        "published_at",
    ),
    "recorded after the end": (
        ('"recorded_at": null', f'"recorded_at": "{PAST_THE_END}"'),
        "recorded_at",
    ),
    "lone surrogate in the title": (('"title": "T"', '"title": "\\ud800T"'), "title"),
    "lone surrogate in the filename": (('"filename": ""', '"filename": "\\udfff.mp4"'), "filename"),
}


@pytest.mark.parametrize(("change", "field"), ITEM_CASES.values(), ids=ITEM_CASES.keys())
def test_a_value_no_workstation_can_keep_is_a_malformed_item(
    change: tuple[str, str], field: str
) -> None:
    item = good_item()
    item["title"] = "T"
    data = from_the_wire(item, change)
    with pytest.raises(BadResponse, match=f"malformed .*'{field}'"):
        parse_item(data)


def test_values_at_the_limits_are_items() -> None:
    item = good_item()
    item["seq"] = MAX_INTEGER
    item["duration"] = MAX_DURATION_S
    item["renditions"][0].update(size=MAX_INTEGER, width=100_000, height=100_000)
    item["published_at"] = "9999-12-30T00:00:00+00:00"
    item["recorded_at"] = "1895-12-28T20:00:00+01:00"  # an archive's first film
    item["title"] = "\u0627\u0644\u0627\u0646\u062a\u062e\u0627\u0628\u0627\u062a \u200fà Dakar"
    parsed = parse_item(from_the_wire(item))
    assert parsed.seq == MAX_INTEGER and parsed.duration == MAX_DURATION_S
    assert parsed.renditions[0].size == MAX_INTEGER and parsed.renditions[0].width == 100_000
    assert parsed.recorded_at is not None and parsed.recorded_at.utcoffset() is not None
    assert parsed.recorded_at.isoformat() == "1895-12-28T19:00:00+00:00"  # said in UTC
    assert parsed.title == item["title"]


# --- history events ------------------------------------------------------------------------------

EVENT_CASES = {
    "bytes 10**20": (("bytes", HUGE), "bytes"),
    "seq 2**64": (("seq", 2**64), "seq"),
    "ended after the end": (("ended_at", PAST_THE_END), "ended_at"),
    "ended before the start": (("ended_at", BEFORE_THE_START), "ended_at"),
    "started after the end": (("started_at", PAST_THE_END), "started_at"),
    "occurred after the end": (("occurred_at", PAST_THE_END), "occurred_at"),
    "lone surrogate in the device": (("device", "\ud800"), "device"),
    "lone surrogate in the item": (("item_id", "it\udc00"), "item_id"),
    "item not text": (("item_id", 7), "item_id"),
    "infinite detail": (("detail", {"seconds": float("inf")}), "detail"),
    "huge detail": (("detail", {"avg_bps": 10**400}), "detail"),
    "detail key no text": (("detail", {"\ud800": 1}), "detail"),
    "nested surrogate": (("detail", {"files": [{"name": "\ud800"}]}), "detail"),
}


@pytest.mark.parametrize(("change", "field"), EVENT_CASES.values(), ids=EVENT_CASES.keys())
def test_a_value_no_workstation_can_keep_is_a_malformed_history_event(
    change: tuple[str, Any], field: str
) -> None:
    key, value = change
    with pytest.raises(BadResponse, match=f"malformed history event .*'{field}'"):
        parse_remote_event(good_event(**{key: value}))


def test_a_history_event_within_the_limits_is_read() -> None:
    event = parse_remote_event(good_event(bytes=MAX_INTEGER, detail={"n": -MAX_INTEGER}))
    assert event.bytes == MAX_INTEGER
    assert event.ended_at is not None and event.ended_at.isoformat() == "2026-10-05T12:01:00+00:00"


# --- end to end: the feed, a download ------------------------------------------------------------


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(PAYLOAD)
    yield hub
    hub.stop()


@pytest.fixture
def desk(fake_hub: FakeHub, tmp_path: Path) -> Iterator[Services]:
    services = signed_in(tmp_path / "desk", fake_hub.url, allow_http=True)
    yield services
    services.stop()


def serve_patched(hub: FakeHub, item_id: str, old: str, new: str) -> None:
    """The fake hub's feed and ``item_id``'s own answer with ``old`` replaced by ``new`` in
    that item's JSON text only."""

    def patched(text: str) -> bytes:
        head, sep, tail = text.partition(f'"id": "{item_id}"')
        assert sep, item_id
        assert old in tail, old
        return (head + sep + tail.replace(old, new, 1)).encode()

    def feed(h: Any) -> None:
        items = sorted(hub.items.values(), key=lambda i: int(i["seq"]))
        body = {"items": items, "next": items[-1]["seq"], "more": False}
        h.send(200, patched(json.dumps(body)), {"Content-Type": "application/json"})

    hub.routes["/api/v1/items"] = feed
    hub.routes[f"/api/v1/items/{item_id}"] = lambda h: h.send(
        200, patched(json.dumps(hub.items[item_id])), {"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"width": 320', '"width": 1e999'),
        ('"size": 19', f'"size": {HUGE}'),
        ('"published_at": "2026-10-05T12:00:00Z"', f'"published_at": "{PAST_THE_END}"'),
        ('"title": "T2"', '"title": "\\ud800T2"'),
    ],
    ids=["width", "size", "published", "surrogate"],
)
def test_a_download_of_an_item_no_workstation_can_keep_is_refused_in_words(
    old: str, new: str, fake_hub: FakeHub, desk: Services
) -> None:
    fake_hub.add_item("it1", title="Fine")
    fake_hub.add_item("it2", title="T2")
    serve_patched(fake_hub, "it2", old, new)
    with pytest.raises(BadResponse, match="malformed"):
        desk.download("it2")
    assert desk.library.get("it2") is None
    assert desk.download("it1") > 0  # the next one goes on


@pytest.mark.parametrize(
    "change",
    [{"bytes": HUGE}, {"ended_at": PAST_THE_END}, {"ended_at": BEFORE_THE_START}],
    ids=["bytes", "after-the-end", "before-the-start"],
)
def test_a_history_event_no_workstation_can_keep_is_not_stored(
    change: dict[str, Any], fake_hub: FakeHub, desk: Services
) -> None:
    # stored, it broke every later `alu history` (year 10000 is out of range); the bytes
    # ended the pull with SQLite's OverflowError and a traceback
    fake_hub.routes["/api/v1/history"] = lambda h: h.send_json(
        {"events": [good_event(**change)], "next": 1, "more": False}
    )
    history = desk.history()
    assert history.pull() == 0
    assert history.list() == []
    assert list(history.skipped) == ["ev-1"]  # passed (see below), not stored


# --- the feed goes on past a malformed item ------------------------------------------------------


def serve_feed(hub: FakeHub, bad: dict[str, tuple[str, str]]) -> list[str]:
    """The fake hub's feed by pages (``after``, ``limit``), the items named in ``bad`` with
    (old, new) replaced in their JSON text; returns the ``after`` of every page asked for."""
    asked: list[str] = []

    def one(item: dict[str, Any]) -> str:
        text = json.dumps(item)
        if item["id"] in bad:
            old, new = bad[item["id"]]
            assert old in text, old
            text = text.replace(old, new, 1)
        return text

    def feed(h: Any) -> None:
        query = dict(p.split("=", 1) for p in urlsplit(h.path).query.split("&") if "=" in p)
        after, limit = int(query.get("after", 0)), int(query.get("limit", 100))
        asked.append(str(after))
        every = sorted(hub.items.values(), key=lambda i: int(i["seq"]))
        page = [i for i in every if i["seq"] > after][:limit]
        more = len([i for i in every if i["seq"] > after]) > limit
        last = every[-1]["seq"] if every else 0
        body = (
            f'{{"items": [{", ".join(one(i) for i in page)}], '
            f'"next": {page[-1]["seq"] if page else after}, "more": {json.dumps(more)}, '
            f'"last": {last}}}'
        )
        h.send(200, body.encode(), {"Content-Type": "application/json"})

    hub.routes["/api/v1/items"] = feed
    return asked


def stored(desk: Services) -> list[str]:
    return sorted(li.id for li in desk.library.search(Query()).items)


def test_the_feed_goes_on_past_a_malformed_item_said_once(
    fake_hub: FakeHub, desk: Services, caplog: pytest.LogCaptureFixture
) -> None:
    # the app's feed stopped at it for ever (an OverflowError logged and retried, no status):
    # no item of its page or after it ever arrived
    for n in (1, 2, 3):
        fake_hub.add_item(f"it{n}", title=f"Item {n}")
    serve_feed(fake_hub, {"it2": ('"width": 320', '"width": 1e999')})
    statuses: list[tuple[str, str]] = []
    sync = desk.feed_sync()
    sync.status_listeners.append(lambda s: statuses.append((s.state, s.reason)))
    assert sync.catch_up() == 2
    assert stored(desk) == ["it1", "it3"]
    assert sync.state.feed_seq == 3
    assert sync.skipped == {"it2": "The hub sent a malformed rendition (field 'width')."}
    said = [r.getMessage() for r in caplog.records if "skipped item" in r.getMessage()]
    assert said == [
        "feed sync: skipped item 'it2' (seq 2): The hub sent a malformed rendition (field 'width')."
    ]
    fake_hub.add_item("it4", title="Item 4")
    assert sync.catch_up() == 1
    assert stored(desk) == ["it1", "it3", "it4"]
    assert len([r for r in caplog.records if "skipped item" in r.getMessage()]) == 1


def test_a_malformed_item_at_the_feeds_end_is_passed_and_not_taken_for_a_restore(
    fake_hub: FakeHub, desk: Services, caplog: pytest.LogCaptureFixture
) -> None:
    fake_hub.add_item("it1", title="Item 1")
    fake_hub.add_item("it2", title="T2")
    asked = serve_feed(fake_hub, {"it2": ('"title": "T2"', '"title": "\\ud800T2"')})
    sync = desk.feed_sync()
    assert sync.catch_up() == 1
    assert sync.state.feed_seq == 2  # the cursor stands on the malformed item …
    asked.clear()
    assert sync.catch_up() == 0
    assert asked == ["1"]  # … which is still there: no reading again from a restore
    assert "restored from a backup" not in caplog.text
    fake_hub.add_item("it3", title="Item 3")
    assert sync.catch_up() == 1
    assert stored(desk) == ["it1", "it3"]


def test_pages_of_malformed_items_do_not_stop_the_feed(fake_hub: FakeHub, desk: Services) -> None:
    for n in range(1, 6):
        fake_hub.add_item(f"it{n}", title=f"Item {n}")
    late = ('"published_at": "2026-10-05T12:00:00Z"', f'"published_at": "{PAST_THE_END}"')
    serve_feed(fake_hub, dict.fromkeys(("it1", "it2", "it3"), late))
    sync = desk.feed_sync(page_size=2)
    assert sync.catch_up() == 2
    assert stored(desk) == ["it4", "it5"]
    assert sorted(sync.skipped) == ["it1", "it2", "it3"]


def test_an_item_that_cannot_be_placed_is_a_malformed_page_said_as_the_reason(
    fake_hub: FakeHub, desk: Services
) -> None:
    # its seq past 64 bits: where the feed goes on after it would be a guess. The app said
    # nothing (an OverflowError in the log, retried for ever, the status unchanged)
    fake_hub.add_item("it1", title="Item 1")
    fake_hub.add_item("it2", title="Item 2")
    serve_feed(fake_hub, {"it2": ('"seq": 2', f'"seq": {2**70}')})
    statuses: list[tuple[str, str]] = []
    sync = desk.feed_sync(backoff=Backoff(base=0.05, cap=0.1))
    sync.status_listeners.append(lambda s: statuses.append((s.state, s.reason)))
    stop = threading.Event()
    runner = threading.Thread(target=sync.run, args=(stop,), daemon=True)
    runner.start()
    try:
        wait_until(lambda: statuses, 10, what="a status")
    finally:
        stop.set()
        runner.join(5)
    assert statuses[0] == ("offline", "The hub sent a malformed item (field 'seq').")
    assert stored(desk) == []
    assert sync.state.feed_seq == 0


def test_the_history_goes_on_past_a_malformed_event_said_once(
    fake_hub: FakeHub, desk: Services, caplog: pytest.LogCaptureFixture
) -> None:
    # every `alu history` said "offline" and every `alu sync` failed (exit 1) for ever, and no
    # later event of the member's other workstations arrived
    events = [
        good_event(seq=1, id="ev-1"),
        good_event(seq=2, id="ev-2", bytes=HUGE),
        good_event(seq=3, id="ev-3"),
    ]

    def history(h: Any) -> None:
        query = dict(p.split("=", 1) for p in urlsplit(h.path).query.split("&") if "=" in p)
        after = int(query.get("after", 0))
        page = [e for e in events if e["seq"] > after]
        h.send_json({"events": page, "next": page[-1]["seq"] if page else after, "more": False})

    fake_hub.routes["/api/v1/history"] = history
    sync = desk.history()
    assert sync.pull() == 2
    assert sorted(e.id for e in sync.list()) == ["ev-1", "ev-3"]
    assert sync.state.history_seq == 3
    assert sync.skipped == {"ev-2": "The hub sent a malformed history event (field 'bytes')."}
    events.append(good_event(seq=4, id="ev-4", ended_at=PAST_THE_END))  # the last: passed too
    assert sync.pull() == 0
    assert sync.state.history_seq == 4
    events.append(good_event(seq=5, id="ev-5"))
    assert sync.pull() == 1
    assert sorted(e.id for e in sync.list()) == ["ev-1", "ev-3", "ev-5"]
    said = [r.getMessage() for r in caplog.records if "skipped event" in r.getMessage()]
    assert len(said) == 2 and "restored from a backup" not in caplog.text
