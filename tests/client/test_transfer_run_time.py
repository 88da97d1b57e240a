"""A transfer's duration and speed in its history event are measured on the monotonic clock,
its runs summed: a wall clock set during a 19 s download (NTP, a user, a virtual machine
restored) made History say "176 bit/s, 1 d 0 h", or no speed and an end before the start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.store import Store
from alu_client.core.store import transfers as transfers_module
from alu_client.core.store.transfers import TransferStore
from alu_client.core.sync import transfer_outcome_hook

T0 = 1_796_664_491.0
SIZE = 1_900_000


class Clocks:
    """The store's clocks: a wall clock that can be set, and a monotonic one nobody sets."""

    def __init__(self) -> None:
        self.wall = T0
        self.steady = 5_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.steady

    def run(self, seconds: float, wall_set_by: float = 0.0) -> None:
        """``seconds`` go by; the wall clock is set by ``wall_set_by`` meanwhile."""
        self.steady += seconds
        self.wall += seconds + wall_set_by


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    c = Clocks()
    monkeypatch.setattr(transfers_module, "time", c)
    return c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def engine(store: Store) -> TransferStore:
    """A TransferStore as an engine holds it (its end recorded in the history outbox)."""
    transfers = TransferStore(store)
    transfers.outcome_hooks.append(
        transfer_outcome_hook(lambda t: t.options.get("profile"), device="desk-1")
    )
    return transfers


def queued(transfers: TransferStore) -> int:
    return transfers.add(
        "download", "https://hub/api/v1/items/i1/renditions/broadcast", "/dl/coast.mp4",
        label="Liberian coast guard", item_id="i1", rendition="broadcast", size=SIZE,
        options={"profile": "main"},
    )  # fmt: skip


def the_event(store: Store) -> dict[str, Any]:
    rows = store.query("SELECT type, started_at, ended_at, detail FROM history")
    assert len(rows) == 1
    return {**dict(rows[0]), "detail": json.loads(rows[0]["detail"])}


@pytest.mark.parametrize("wall_set_by", [86_400.0, -3_600.0, 0.0])
def test_a_clock_set_during_a_download_changes_neither_its_duration_nor_its_speed(
    store: Store, clocks: Clocks, wall_set_by: float
) -> None:
    transfers = engine(store)
    tid = queued(transfers)
    assert transfers.claim(tid)
    clocks.run(19.0, wall_set_by)
    transfers.finish(tid, "done", bytes_done=SIZE, size=SIZE)
    event = the_event(store)
    assert event["type"] == "download_completed"
    assert event["detail"]["seconds"] == 19.0
    assert event["detail"]["avg_bps"] == 100_000.0
    # it ended when the clock it ended by said, and began 19 s before on that clock (not
    # after its end; not a day before, which the hub's correction of the clock kept)
    assert event["ended_at"] == T0 + 19.0 + wall_set_by
    assert event["started_at"] == event["ended_at"] - 19.0


def test_the_duration_is_its_runs_summed_across_a_pause_and_an_engine_restart(
    store: Store, clocks: Clocks
) -> None:
    first = engine(store)
    tid = queued(first)
    assert first.claim(tid)
    clocks.run(5.0)
    first.finish(tid, "paused", pause_reason="paused", bytes_done=500_000)
    clocks.run(3_600.0)  # paused an hour: not time it ran
    assert first.set_state(tid, "queued", only_from=("paused",))
    assert first.claim(tid)
    clocks.run(4.0)
    first.finish(tid, "queued", error="The hub did not answer.", bytes_done=900_000)
    clocks.run(60.0)  # the back-off
    second = engine(store)  # the engine stopped and started again
    assert second.claim(tid)
    clocks.run(10.0, wall_set_by=-7_200.0)
    second.finish(tid, "done", bytes_done=SIZE, size=SIZE)
    event = the_event(store)
    assert event["detail"]["seconds"] == 19.0
    assert event["detail"]["avg_bps"] == 100_000.0
    # its first start, before the clock was set back (two hours) past it
    assert event["ended_at"] == T0 + 3_679.0 - 7_200.0
    assert event["started_at"] == event["ended_at"] - 19.0


def test_a_transfer_canceled_while_it_runs_counts_the_time_it_ran(
    store: Store, clocks: Clocks
) -> None:
    transfers = engine(store)
    tid = queued(transfers)
    assert transfers.claim(tid)
    clocks.run(8.0, wall_set_by=86_400.0)
    assert transfers.set_state(tid, "canceled", only_from=("active",))
    event = the_event(store)
    assert event["type"] == "download_canceled" and event["detail"]["seconds"] == 8.0


def test_a_transfer_that_never_ran_took_no_time(store: Store, clocks: Clocks) -> None:
    transfers = engine(store)
    tid = queued(transfers)
    clocks.run(600.0)
    assert transfers.set_state(tid, "canceled", only_from=("queued",))
    event = the_event(store)
    assert event["detail"]["seconds"] == 0.0 and "avg_bps" not in event["detail"]
    assert event["started_at"] <= event["ended_at"]


def test_a_transfer_paused_an_hour_began_at_its_first_start(store: Store, clocks: Clocks) -> None:
    transfers = engine(store)
    tid = queued(transfers)
    assert transfers.claim(tid)
    clocks.run(9.0)
    transfers.finish(tid, "paused", pause_reason="paused", bytes_done=900_000)
    clocks.run(3_600.0)
    assert transfers.set_state(tid, "queued", only_from=("paused",))
    assert transfers.claim(tid)
    clocks.run(10.0)
    transfers.finish(tid, "done", bytes_done=SIZE, size=SIZE)
    event = the_event(store)
    assert event["detail"]["seconds"] == 19.0
    assert (event["started_at"], event["ended_at"]) == (T0, T0 + 3_619.0)
