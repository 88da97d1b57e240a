"""History: the outbox written with the transfer's end, sent in batches, pulled from another
data folder of the same member, and never lost or doubled by a failing hub."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.hub import (
    BadResponse,
    Connection,
    HubClient,
    HubError,
    ServerError,
    Unreachable,
)
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from alu_client.core.sync import HistorySync, SyncState, record_event, transfer_outcome_hook
from alu_client.core.transfers.base import MSG_ACCESS_REFUSED, MSG_SIGN_IN_REFUSED
from alu_hub.models import Item, Rendition
from alu_hub.stats import compute_stats
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub

PW = "pw-1234"


class RecordingClient(HubClient):
    """A real client that keeps what the hub answered to each history batch."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.answers: list[tuple[int, int]] = []
        self.batches: list[int] = []

    def post_history(self, events: list[dict[str, Any]], sent_at: dt.datetime) -> tuple[int, int]:
        self.batches.append(len(events))
        answer = super().post_history(events, sent_at)
        self.answers.append(answer)
        return answer


def client_for(url: str, user: str = "ktn", device: str = "desk-1") -> RecordingClient:
    c = RecordingClient(Connection(url, allow_http=True, device=device, read_timeout=5.0))
    c.sign_in(user, PW)
    return c


@pytest.fixture
def hub(live_hub: LiveHub) -> LiveHub:
    live_hub.member("ktn", PW)
    return live_hub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "desk-1" / "library.sqlite3")
    yield s
    s.close()


def record(store: Store, n: int, profile: str = "main", **kw: Any) -> list[str]:
    ids = []
    with store.write() as c:
        for i in range(n):
            ids.append(
                record_event(
                    c,
                    profile,
                    "download_completed",
                    item_id=f"item{i:04d}",
                    rendition="broadcast",
                    bytes=1000 + i,
                    started_at=1_700_000_000.0 + i,
                    ended_at=1_700_000_010.0 + i,
                    device="desk-1",
                    detail={"label": f"Clip {i}", "rule": None},
                    **kw,
                )
            )
    return ids


def outbox(store: Store) -> list[dict[str, Any]]:
    return [
        dict(r) for r in store.query("SELECT * FROM history WHERE origin = 'here' ORDER BY rowid")
    ]


def hub_ids(client: HubClient) -> list[str]:
    return [e.id for e in client.history(limit=1000).events]


# --- recording ---------------------------------------------------------------------------------


def test_record_event_writes_an_outbox_row(store: Store, hub: LiveHub) -> None:
    [eid] = record(store, 1)
    rows = outbox(store)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == eid and len(eid) == 36  # a UUID, made here
    assert row["sent_at"] is None and row["origin"] == "here" and row["hub_seq"] is None
    assert json.loads(row["detail"]) == {"label": "Clip 0"}  # no None values
    history = HistorySync(store, "main", client_for(hub.url))
    assert history.pending() == 1
    assert HistorySync(store, "other", client_for(hub.url)).pending() == 0

    with pytest.raises(ValueError, match="history event type"), store.write() as c:
        record_event(c, "main", "Download-Completed")
    # A detail the hub would refuse is made to fit (at most 4 KiB, 32 keys).
    with store.write() as c:
        big = record_event(
            c, "main", "upload_failed", detail={f"k{i}": "é" * 2000 for i in range(40)}
        )
    detail = json.loads(store.query_one("SELECT detail FROM history WHERE id = ?", (big,))[0])
    assert len(detail) <= 32 and len(json.dumps(detail)) <= 4096


def test_a_rolled_back_transfer_end_leaves_no_event(store: Store) -> None:
    def end_badly() -> None:
        with store.write() as c:
            record_event(c, "main", "download_completed")
            raise RuntimeError("the transaction fails")

    with pytest.raises(RuntimeError):
        end_badly()
    assert outbox(store) == []


# --- push --------------------------------------------------------------------------------------


def test_push_sends_the_outbox_in_batches_oldest_first(store: Store, hub: LiveHub) -> None:
    ids = record(store, 7)
    client = client_for(hub.url)
    history = HistorySync(store, "main", client, batch=3)

    assert history.push() == 7
    assert client.batches == [3, 3, 1]
    assert client.answers == [(3, 0), (3, 0), (1, 0)]
    assert hub_ids(client) == ids  # the hub's order is ours: oldest first
    assert history.pending() == 0
    assert all(r["sent_at"] is not None for r in outbox(store))
    assert history.push() == 0  # nothing left to send
    assert client.batches == [3, 3, 1]
    # The hub corrected the times by the clock offset; ours was right, so they stay close.
    first = client.history().events[0]
    assert first.ended_at is not None
    assert abs(first.ended_at.timestamp() - 1_700_000_010.0) < 60


def test_push_twice_is_harmless(store: Store, hub: LiveHub) -> None:
    ids = record(store, 3)
    client = client_for(hub.url)
    history = HistorySync(store, "main", client)
    assert history.push() == 3
    # The hub's 200 was lost on the way back: the rows are still in the outbox here.
    with store.write() as c:
        c.execute("UPDATE history SET sent_at = NULL")
    assert history.pending() == 3

    assert history.push() == 3
    assert client.answers == [(3, 0), (0, 3)]  # accepted once, then known
    assert hub_ids(client) == ids
    assert history.pending() == 0


@pytest.mark.parametrize("fault", ["outage", "503", "html", "reset"])
def test_failed_push_changes_nothing(store: Store, hub: LiveHub, clip: Path, fault: str) -> None:
    ids = record(store, 4)
    with FaultProxy(("127.0.0.1", hub.server.port)) as proxy:
        client = client_for(proxy.url)
        history = HistorySync(store, "main", client)
        before = outbox(store)
        is_post = lambda head: head.startswith(b"POST /api/v1/history")  # noqa: E731
        expected: type[Exception]
        if fault == "outage":
            proxy.refuse(True)
            expected = Unreachable
        elif fault == "503":
            proxy.inject_http_response(503, {"Retry-After": "30"}, match=is_post)
            expected = ServerError
        elif fault == "html":
            proxy.inject_http_response(
                200, {"Content-Type": "text/html"}, b"<html>captive portal</html>", match=is_post
            )
            expected = BadResponse
        else:
            proxy.reset_after(0, direction="down")  # the request goes out, the answer never comes
            expected = Unreachable

        with pytest.raises(expected):
            history.push()
        assert outbox(store) == before  # nothing marked sent, nothing lost
        assert history.pending() == 4

        proxy.refuse(False)
        proxy.clear_faults()
        assert history.push() == 4
    direct = client_for(hub.url)
    assert hub_ids(direct) == ids  # each once, whatever reached the hub the first time
    assert history.pending() == 0


def test_an_event_the_hub_refuses_does_not_block_the_others(store: Store, hub: LiveHub) -> None:
    ids = record(store, 4)
    # A row written by something else than record_event, with a type the hub refuses.
    with store.write() as c:
        c.execute(
            "INSERT INTO history (id, profile, type, origin, ended_at)"
            " VALUES ('bad-event-0001', 'main', 'Bad Type!', 'here', 1700000005.0)"
        )
    more = record(store, 2)
    client = client_for(hub.url)
    history = HistorySync(store, "main", client)

    assert history.push() == 6
    assert hub_ids(client) == ids + more
    assert history.pending() == 0
    [bad] = [e for e in history.list(limit=100) if e.id == "bad-event-0001"]
    assert bad.refused  # kept here, with the hub's reason
    assert not bad.pending


class ClockOffClient(RecordingClient):
    """A workstation whose clock says a century and a half ago (a dead battery, a typo)."""

    offset = dt.timedelta(days=365 * 150)

    def post_history(self, events: list[dict[str, Any]], sent_at: dt.datetime) -> tuple[int, int]:
        return super().post_history(events, sent_at - self.offset)


def test_a_clock_the_hub_refuses_keeps_the_events_for_later(store: Store, hub: LiveHub) -> None:
    """``clock_off`` is about the sender, not an event: the events wait in the outbox (none is
    marked refused) and the user is told why, until the clock is set right."""
    ids = record(store, 3)
    client = ClockOffClient(Connection(hub.url, allow_http=True, device="desk-1", read_timeout=5))
    client.sign_in("ktn", PW)
    history = HistorySync(store, "main", client)
    with pytest.raises(HubError) as refused:
        history.push()
    assert refused.value.status == 422 and refused.value.code == "clock_off"
    assert "clock" in str(refused.value)
    assert history.pending() == 3
    assert not any(e.refused for e in history.list(limit=10))
    assert client.batches == [3]  # not split event by event to find a culprit

    client.offset = dt.timedelta(0)  # the clock is set right
    assert history.push() == 3
    assert hub_ids(client_for(hub.url)) == ids
    assert history.pending() == 0


# --- pull --------------------------------------------------------------------------------------


def test_pull_from_a_second_data_folder(store: Store, hub: LiveHub, tmp_path: Path) -> None:
    ids = record(store, 5)
    first = HistorySync(store, "main", client_for(hub.url, device="desk-1"))
    assert first.push() == 5

    other = Store(tmp_path / "desk-2" / "library.sqlite3")
    try:
        second = HistorySync(other, "main", client_for(hub.url, device="desk-2"), page_size=2)
        assert second.pull() == 5
        events = second.list(limit=10)
        assert [e.id for e in events] == list(reversed(ids))  # newest first
        assert all(e.origin == "hub" and e.hub_seq is not None for e in events)
        assert events[-1].type == "download_completed" and events[-1].bytes == 1000
        assert events[-1].detail == {"label": "Clip 0"} and events[-1].device == "desk-1"
        assert second.pending() == 0  # pulled events are not ours to send
        assert SyncState(other, "main").history_seq == max(e.hub_seq or 0 for e in events)

        assert second.pull() == 0  # nothing twice
        assert len(second.list(limit=100)) == 5

        # desk-2's own event goes up; desk-1 sees it, and its own come back with the hub's order.
        [mine] = record(other, 1)
        assert second.push() == 1
        assert first.pull() == 1
        listed = {e.id: e for e in first.list(limit=100)}
        assert listed[mine].origin == "hub"
        assert all(listed[i].origin == "here" and listed[i].hub_seq is not None for i in ids)
        assert len(listed) == 6
    finally:
        other.close()


def test_pull_marks_an_event_whose_answer_was_lost_as_sent(store: Store, hub: LiveHub) -> None:
    [eid] = record(store, 1)
    client = client_for(hub.url)
    history = HistorySync(store, "main", client)
    # Sent, but the answer never came back (as if the link broke after the hub stored it).
    row = outbox(store)[0]
    client.post_history(
        [{"id": eid, "type": row["type"], "bytes": row["bytes"]}], dt.datetime.now(dt.UTC)
    )
    assert history.pending() == 1
    assert history.pull() == 0
    assert history.pending() == 0
    [event] = history.list()
    assert event.origin == "here" and event.hub_seq is not None


def test_failed_pull_keeps_the_cursor(store: Store, hub: LiveHub) -> None:
    record(store, 3)
    HistorySync(store, "main", client_for(hub.url)).push()
    with FaultProxy(("127.0.0.1", hub.server.port)) as proxy:
        other_store = Store(store.path.parent.parent / "desk-3" / "library.sqlite3")  # type: ignore[union-attr]
        try:
            history = HistorySync(other_store, "main", client_for(proxy.url), page_size=1)
            # The second page is garbage: the first page stays, the cursor stands after it.
            proxy.inject_http_response(
                200,
                {"Content-Type": "application/json"},
                b'{"events": [{"seq": "x"}], "next": 9, "more": true}',
                match=lambda head: (
                    head.startswith(b"GET /api/v1/history?after=")
                    and not head.startswith(b"GET /api/v1/history?after=0")
                ),
            )
            with pytest.raises(BadResponse):
                history.pull()
            assert len(history.list()) == 1
            cursor = SyncState(other_store, "main").history_seq
            assert cursor == history.list()[0].hub_seq
            assert history.pull() == 2
            assert len(history.list()) == 3
        finally:
            other_store.close()


def test_list_pages_newest_first(store: Store, hub: LiveHub) -> None:
    ids = record(store, 5)
    with store.write() as c:  # two events ending at the same moment: the later one first
        same = [record_event(c, "main", "upload_completed", ended_at=1_800_000_000.0) for _ in "ab"]
    history = HistorySync(store, "main", client_for(hub.url))
    page1 = history.list(limit=3)
    assert [e.id for e in page1] == [same[1], same[0], ids[4]]
    page2 = history.list(limit=3, before=page1[-1].id)
    assert [e.id for e in page2] == [ids[3], ids[2], ids[1]]
    page3 = history.list(limit=3, before=page2[-1].id)
    assert [e.id for e in page3] == [ids[0]]
    assert history.list(before="no-such-event") == []


# --- the outcome hook ---------------------------------------------------------------------------


def test_outcome_hook_records_real_transfer_ends(store: Store, hub: LiveHub) -> None:
    transfers = TransferStore(store)
    transfers.outcome_hooks.append(
        transfer_outcome_hook(lambda t: t.options.get("profile"), device="desk-1")
    )
    secret_dir = "/home/ama/Private Footage"
    upload_url = "https://hub.example.org/api/v1/uploads/0f3c9e1d7a2b4c5d?sig=abc123"

    def add(direction: str, **kw: Any) -> int:
        src, dst = (
            ("https://hub/api/v1/items/i1/renditions/broadcast", f"{secret_dir}/floods.mp4")
            if direction == "download"
            else (f"{secret_dir}/market fire.mov", upload_url)
        )
        tid = transfers.add(direction, src, dst, **kw)
        assert transfers.claim(tid)
        return tid

    done = add(
        "download",
        label="Floods in the north",
        item_id="i1",
        rendition="broadcast",
        size=5000,
        options={"profile": "main", "rule": "Kenya urgent"},
    )
    transfers.finish(done, "done", bytes_done=5000, size=5000, result={"restarted": True})
    failed = add("download", label="Election", item_id="i2", options={"profile": "main"})
    transfers.finish(
        failed, "failed", error=f"The hub refused it (see {upload_url})", bytes_done=100
    )
    canceled = add("download", label="Budget", item_id="i3", options={"profile": "main"})
    assert transfers.set_state(canceled, "canceled", only_from=("active",))
    up_done = add("upload", label="market fire.mov", options={"profile": "main"})
    transfers.finish(up_done, "done", bytes_done=800, size=800, result={"item_id": "new1"})
    up_failed = add("upload", label="market fire.mov", options={"profile": "main"})
    transfers.finish(up_failed, "failed", error="The file changed while it was sent.")
    up_canceled = add("upload", label="x", options={"profile": "main"})
    transfers.finish(up_canceled, "canceled")
    paused = add("download", options={"profile": "main"})
    transfers.finish(paused, "paused")  # not an end: no event
    requeued = add("download", options={"profile": "main"})
    transfers.finish(requeued, "queued", error="lost connection")  # a retry: no event
    no_profile = add("download")  # `alu fetch` of any URL: not reported
    transfers.finish(no_profile, "done", bytes_done=1)

    history = HistorySync(store, "main", client_for(hub.url))
    by_transfer = {e.transfer_id: e for e in history.list(limit=100)}
    assert {tid: e.type for tid, e in by_transfer.items()} == {
        done: "download_completed",
        failed: "download_failed",
        canceled: "download_canceled",
        up_done: "upload_completed",
        up_failed: "upload_failed",
        up_canceled: "upload_canceled",
    }
    d = by_transfer[done]
    assert (d.item_id, d.rendition, d.bytes, d.device) == ("i1", "broadcast", 5000, "desk-1")
    assert d.started_at is not None and d.ended_at is not None and d.ended_at >= d.started_at
    assert d.detail["label"] == "Floods in the north"
    assert d.detail["rule"] == "Kenya urgent"
    assert d.detail["restarted"] is True
    assert d.detail["rendition"] == "broadcast"
    assert d.detail["file"] == "floods.mp4"
    assert d.detail["seconds"] >= 0
    assert by_transfer[up_done].item_id == "new1"
    assert by_transfer[up_failed].detail["error"] == "The file changed while it was sent."
    assert "error" not in d.detail
    everything = json.dumps([e.detail for e in by_transfer.values()])
    assert secret_dir not in everything and "Private" not in everything
    assert "uploads/0f3c" not in everything and "sig=" not in everything
    assert by_transfer[up_failed].detail["file"] == "market fire.mov"

    # Sent, the hub counts the completed download in its statistics (of item i1, which the
    # hub has: it counts downloads of the items in its feed).
    assert history.push() == 6
    with hub.hub.db.session() as s:
        s.add(
            Item(
                id="i1", seq=hub.hub.db.next_seq(s), kind="push", title="Floods in the north",
                renditions=[Rendition(name="broadcast", storage_key="items/i1/broadcast.mp4",
                                      size=5000, sha256="0" * 64)],
            )
        )  # fmt: skip
    with hub.hub.db.session() as s:
        now = dt.datetime.now(dt.UTC)
        stats = compute_stats(s, now - dt.timedelta(days=1), now + dt.timedelta(days=1))
    ktn = next(m for m in stats.members if m.username == "ktn")
    assert (ktn.downloads, ktn.bytes_downloaded) == (1, 5000)


@pytest.mark.parametrize(
    "error",
    [
        MSG_SIGN_IN_REFUSED,  # the session ended (a 401 to the sign-in sent)
        MSG_ACCESS_REFUSED.format(code=401),  # no sign-in sent (signed out)
    ],
)
def test_a_transfer_failed_only_for_its_sign_in_is_no_history_event(
    store: Store, hub: LiveHub, error: str
) -> None:
    # `alu get` after `alu logout`: a download_failed went to the hub, and the agency's
    # `items show` listed the member "Tried, never completed" for a state of the workstation
    transfers = TransferStore(store)
    transfers.outcome_hooks.append(
        transfer_outcome_hook(lambda t: t.options.get("profile"), device="desk-1")
    )
    ids = []
    for last_error in (error, MSG_ACCESS_REFUSED.format(code=403)):
        tid = transfers.add("download", "https://hub/api/v1/items/i1/renditions/broadcast",
                            "/tmp/x.mp4", item_id="i1", options={"profile": "main"})  # fmt: skip
        assert transfers.claim(tid)
        transfers.finish(tid, "failed", error=last_error)
        ids.append(tid)
    history = HistorySync(store, "main", client_for(hub.url))
    # the 403 (the agency's refusal) is the member's failed download: it stays one
    assert [(e.transfer_id, e.type) for e in history.list(limit=10)] == [
        (ids[1], "download_failed")
    ]


def test_a_broken_hook_never_keeps_a_transfer_from_ending(store: Store) -> None:
    transfers = TransferStore(store)

    def profile_of(_t: object) -> str:
        raise RuntimeError("bug")

    transfers.outcome_hooks.append(transfer_outcome_hook(profile_of, device="d"))
    tid = transfers.add("download", "https://x/y", "/tmp/y")
    transfers.finish(tid, "done", bytes_done=1)
    t = transfers.get(tid)
    assert t is not None and t.state == "done"
    assert outbox(store) == []


def test_a_second_profile_of_the_account_in_the_same_folder_pulls_every_event(
    store: Store, hub: LiveHub
) -> None:
    # the hub at another address, signed in without --name: a new profile in the same data
    # folder. Its pull skipped every event the old profile held (an event was kept once in
    # the whole library), its cursor went past them, and its history stayed empty
    ids = record(store, 3)
    old = HistorySync(store, "main", client_for(hub.url))
    assert old.push() == 3
    assert old.pull() == 0  # its own, coming back with the hub's order
    moved = hub.url.replace("127.0.0.1", "localhost")
    new = HistorySync(store, "moved", client_for(moved))
    assert new.pull() == 3
    assert sorted(e.id for e in new.list(limit=10)) == sorted(ids)
    assert all(e.origin == "hub" for e in new.list(limit=10))
    # the old profile's rows are as they were: its own, sent
    assert [(e.origin, e.pending) for e in old.list(limit=10)] == [("here", False)] * 3
    [mine] = record(store, 1, profile="moved")
    assert new.push() == 1
    assert old.pull() == 1
    assert mine in {e.id for e in old.list(limit=10)} and len(old.list(limit=10)) == 4


def test_the_update_brings_the_history_a_second_profile_skipped_before_schema_4(
    store: Store, hub: LiveHub
) -> None:
    # schema 3 kept an event once in the whole library: the second profile of an account
    # (the hub at another address) skipped the events the first one held and moved its
    # cursor past them. Migration 4 stopped the skipping but left the cursor there: those
    # events never came. The update sends such a profile back to the start of the history.
    ids = record(store, 3)
    old = HistorySync(store, "main", client_for(hub.url))
    assert old.push() == 3
    assert old.pull() == 0
    moved = hub.url.replace("127.0.0.1", "localhost")
    with store.write() as c:  # as schema 3 left it, updated to schema 6
        for name, url, user in (("main", hub.url, "ktn"), ("moved", moved, "ktn"),
                                ("elsewhere", "https://hub.example", "nbs")):  # fmt: skip
            c.execute(
                "INSERT INTO profiles (name, url, username, created_at) VALUES (?, ?, ?, 0)",
                (name, url, user),
            )
        SyncState(store, "moved").advance_history(old.state.history_seq, c)
        SyncState(store, "elsewhere").advance_history(7, c)
        c.execute("PRAGMA user_version = 6")
    assert store.path is not None
    store.close()
    updated = Store(store.path)
    try:
        new = HistorySync(updated, "moved", client_for(moved))
        assert new.pull() == 3
        assert sorted(e.id for e in new.list(limit=10)) == sorted(ids)
        again = HistorySync(updated, "main", client_for(hub.url))
        assert again.pull() == 0  # (its own, stored once)
        assert [(e.origin, e.pending) for e in again.list(limit=10)] == [("here", False)] * 3
        assert SyncState(updated, "elsewhere").history_seq == 7  # another account's: as it was
    finally:
        updated.close()


def test_the_history_kept_once_per_profile_keeps_every_row_and_its_order(tmp_path: Path) -> None:
    # migration 4: a library of schema 3 opened by this version keeps its events, and the
    # outbox its order (rowid), the unsent ones still unsent
    import sqlite3

    from alu_client.core.store.schema import MIGRATIONS

    path = tmp_path / "library.sqlite3"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 3")
    for n, (eid, sent) in enumerate([("e-b", None), ("e-a", 5.0), ("e-c", None)]):
        conn.execute(
            "INSERT INTO history (rowid, id, profile, type, bytes, origin, sent_at)"
            " VALUES (?, ?, 'main', 'download_completed', ?, 'here', ?)",
            (10 + n, eid, n, sent),
        )
    conn.commit()
    conn.close()
    s = Store(path)
    try:
        assert s.version == len(MIGRATIONS)
        rows = s.query("SELECT rowid, id, bytes, sent_at FROM history ORDER BY rowid")
        assert [tuple(r) for r in rows] == [(10, "e-b", 0, None), (11, "e-a", 1, 5.0),
                                            (12, "e-c", 2, None)]  # fmt: skip
        assert HistorySync(s, "main", lambda: None).pending() == 2
        with s.write() as c:  # the same event under another profile is another row now
            c.execute(
                "INSERT INTO history (id, profile, type, origin) VALUES"
                " ('e-a', 'other', 'download_completed', 'hub')"
            )
        assert len(s.query("SELECT * FROM history WHERE id = 'e-a'")) == 2
    finally:
        s.close()


@pytest.mark.skipif(
    not Path("/proc/sys/kernel/random/boot_id").exists(), reason="a boot clock: Linux only"
)
def test_an_event_recorded_before_the_clock_was_set_right_counts_when_it_happened(
    store: Store, hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the clock 40 days behind (a dead battery) when a download ended; the history could not
    # be sent; the clock set right (as `alu doctor` advises), then sent: the hub corrected
    # by the clock as it was at sending (right), and counted the download 40 days ago
    from alu_client.core.sync import history as history_module

    real = history_module.clock_now
    behind = 40 * 86400.0

    def clock_behind() -> tuple[float, str, float | None]:
        wall, boot, boot_clock = real()
        return wall - behind, boot, boot_clock

    with monkeypatch.context() as m:
        m.setattr(history_module, "clock_now", clock_behind)
        with store.write() as c:
            eid = record_event(c, "main", "download_completed", item_id="item-clock", bytes=7,
                               started_at=clock_behind()[0] - 30, device="desk-1")  # fmt: skip
    # the clock is right from here on
    mine = HistorySync(store, "main", client_for(hub.url))
    assert mine.push() == 1
    other = Store(tmp_path / "desk-2" / "library.sqlite3")
    try:
        pulled = HistorySync(other, "main", client_for(hub.url, device="desk-2"))
        assert pulled.pull() == 1
        [event] = pulled.list()
        assert event.id == eid
        assert event.ended_at is not None and event.started_at is not None
        assert abs(event.ended_at - time.time()) < 120, event.ended_at - time.time()
        assert event.ended_at - event.started_at == pytest.approx(30, abs=1)
    finally:
        other.close()


def test_a_clock_set_by_a_night_is_taken_for_a_virtual_machines_sleep() -> None:
    # a virtual machine's boot clock stops while its host sleeps and its wall clock is set
    # forward at the wake-up: an event of the evening before must stay where it was, not move
    # by the night; a clock set by weeks (a dead battery) moves it; a count started again
    # (a container's uptime) moves nothing
    from alu_client.core.sync.history import _clock_set_since

    row = {"boot": "b1", "boot_clock": 1000.0, "ended_at": 1_800_000_000.0}
    night, weeks = 8 * 3600.0, 40 * 86400.0
    assert _clock_set_since(row, (1_800_000_000.0 + 60 + night, "b1", 1060.0)) == 0.0  # type: ignore[arg-type]
    assert _clock_set_since(row, (1_800_000_000.0 + 60 + weeks, "b1", 1060.0)) == weeks  # type: ignore[arg-type]
    assert _clock_set_since(row, (1_800_000_000.0 + 60 + weeks, "b2", 1060.0)) == 0.0  # type: ignore[arg-type]
    assert _clock_set_since(row, (1_800_000_000.0 + 60 + weeks, "b1", 30.0)) == 0.0  # type: ignore[arg-type]
