"""Bytes moving while the feed says "offline" wake the feed: the status bar said "○ Offline"
for ~25 s while a download from the hub that had come back already ran (the feed's back-off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alu_client.core.services import Services
from alu_client.core.sync import OFFLINE, ONLINE, SIGNED_OUT, SyncStatus
from alu_client.core.sync.nudge import NUDGE_EVERY_S, feed_nudger
from alu_client.core.transfers.queue import Progress
from tests.support.livehub import LiveHub


class Feed:
    def __init__(self, state: str) -> None:
        self.status = SyncStatus(state, "down" if state != ONLINE else "")
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def moving(tid: int, done: int, state: str = "active") -> Progress:
    return Progress(tid, "download", state, "clip.mp4", done, 10_000_000, 1e5, 10.0, "")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_transfer_moving_bytes_while_offline_wakes_the_feed_at_most_every_few_seconds() -> None:
    feed, clock = Feed(OFFLINE), Clock()
    listener = feed_nudger(feed, clock)  # type: ignore[arg-type]
    listener([moving(1, 0)])
    assert feed.woken == 0  # (a first sight: nothing known to have moved yet)
    listener([moving(1, 65536)])
    assert feed.woken == 1
    clock.now += NUDGE_EVERY_S / 2
    listener([moving(1, 131072)])
    assert feed.woken == 1  # (not at every batch)
    clock.now += NUDGE_EVERY_S
    listener([moving(1, 196608)])
    assert feed.woken == 2


@pytest.mark.parametrize("state", [ONLINE, SIGNED_OUT])
def test_the_feed_is_left_alone_unless_it_says_offline(state: str) -> None:
    feed = Feed(state)
    listener = feed_nudger(feed, Clock())  # type: ignore[arg-type]
    listener([moving(1, 0)])
    listener([moving(1, 65536)])
    assert feed.woken == 0


def test_transfers_moving_no_bytes_do_not_wake_it() -> None:
    feed = Feed(OFFLINE)
    listener = feed_nudger(feed, Clock())  # type: ignore[arg-type]
    listener([moving(1, 500)])
    listener([moving(1, 500)])  # (active, stalled: the link may still be down)
    listener([moving(1, 900, state="queued")])  # (waiting for its retry)
    listener([moving(1, 900, state="active")])  # (started again: from where it stood)
    listener([moving(2, 0, state="done")])
    assert feed.woken == 0
    listener([moving(1, 1000)])
    assert feed.woken == 1


def test_an_engine_with_a_profile_wakes_its_feed_when_its_transfers_move(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    live_hub.member("ktn", "pw-nudge")
    desk: Services = live_hub.workstation(tmp_path / "desk", "ktn", "pw-nudge")
    try:
        queue = desk.start_engine(rules=False, hot_folders=False, media=False)
        assert desk.sync is not None
        desk.sync.stop()  # (its thread would say "online" meanwhile: the hub answers)
        feed = desk.sync.feed
        woken: list[bool] = []
        feed.wake = lambda: woken.append(True)  # type: ignore[method-assign]
        feed.status = SyncStatus(OFFLINE, "The hub cannot be reached.")
        for batch in ([moving(99, 0)], [moving(99, 4096)]):
            for listener in list(queue._listeners):
                listener(batch)
        assert woken == [True]
    finally:
        desk.stop()
