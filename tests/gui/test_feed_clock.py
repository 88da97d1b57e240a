"""The Feed's "5 min ago" is measured on the hub's clock (the offset the feed sync keeps), as
the auto-download rules' "older than a day": a workstation clock 2 h fast read a fresh flash
"2 h ago", one two days slow read every item "just now"."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.library import Library, Query, upsert_items
from alu_client.core.store import Store
from alu_client.core.sync import SyncState
from alu_client.ui.models.items import COL_PUBLISHED, ItemsModel
from tests.gui.test_feed_model import PROFILE, make_item


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("offset", "shown"),
    [(-2 * 3600.0, ["9 min ago", "35 min ago"]), (2 * 86400.0, ["9 min ago", "35 min ago"])],
)
def test_the_feeds_ages_are_the_hubs(
    qtbot: Any, store: Store, offset: float, shown: list[str]
) -> None:
    # (the hub's clock minus this workstation's: -2 h for a clock 2 h fast)
    SyncState(store, PROFILE).set_clock_offset(offset)
    hub_now = dt.datetime.fromtimestamp(time.time() + offset, dt.UTC)
    upsert_items(store, PROFILE, [
        make_item(1, published_at=hub_now - dt.timedelta(minutes=35, seconds=10)),
        make_item(2, priority="flash", published_at=hub_now - dt.timedelta(minutes=9, seconds=10)),
    ])  # fmt: skip
    model = ItemsModel(Library(store, PROFILE))
    try:
        model.set_query(Query())
        qtbot.waitUntil(lambda: model.rowCount() == 2)
        assert [model.index(r, COL_PUBLISHED).data() for r in range(2)] == shown
    finally:
        model.tasks.wait_for_done()
        model.thumbnails.wait_for_done()


def test_an_offset_measured_later_is_taken_at_the_next_minute(qtbot: Any, store: Store) -> None:
    hub_now = dt.datetime.fromtimestamp(time.time() - 2 * 3600.0, dt.UTC)
    upsert_items(store, PROFILE, [make_item(1, published_at=hub_now - dt.timedelta(minutes=9))])
    model = ItemsModel(Library(store, PROFILE))
    try:
        model.set_query(Query())
        qtbot.waitUntil(lambda: model.rowCount() == 1)
        SyncState(store, PROFILE).set_clock_offset(-2 * 3600.0)  # the first sync heard the hub
        model._clock.timeout.emit()
        assert model.index(0, COL_PUBLISHED).data() == "9 min ago"
    finally:
        model.tasks.wait_for_done()
        model.thumbnails.wait_for_done()


def test_the_last_24_hours_are_the_hubs(qtbot: Any) -> None:
    # a clock two days slow: "Last 24 h" listed three days of items
    from alu_client.ui.views.filters import FilterBar

    bar = FilterBar()
    qtbot.addWidget(bar)
    bar.dates.setCurrentIndex(bar.dates.findData("24h"))
    since = bar.query(hub_offset=2 * 86400.0).published_from
    assert since is not None
    assert since.timestamp() == pytest.approx(time.time() + 86400.0, abs=60)


# "Today" begins at the real local midnight, on daylight-saving change days too: the hub's
# "now" comes with today's offset, and the night before had the other one. (UTC "now", the
# day's real beginning in UTC.)
DST_DAYS = [
    ("Africa/Casablanca", "2025-02-23T12:00", "2025-02-22T23:00"),  # 03:00 → 02:00 (Ramadan)
    ("Africa/Casablanca", "2025-04-06T12:00", "2025-04-06T00:00"),  # 02:00 → 03:00
    ("Africa/Cairo", "2025-04-25T12:00", "2025-04-24T22:00"),  # 00:00 → 01:00: begins at 01:00
    ("Africa/Cairo", "2025-10-30T22:30", "2025-10-30T22:00"),  # the first day after 24:00 → 23:00
    ("Europe/London", "2025-03-30T12:00", "2025-03-30T00:00"),  # 01:00 → 02:00
    ("Europe/London", "2025-10-26T12:00", "2025-10-25T23:00"),  # 02:00 → 01:00
]


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(("zone", "now", "begins"), DST_DAYS)
def test_today_begins_at_the_real_local_midnight(zone: str, now: str, begins: str) -> None:
    from zoneinfo import ZoneInfo

    from alu_client.ui.views.filters import date_from

    tz = ZoneInfo(zone)
    # as the bar takes the hub's now: an aware time with the offset of that moment
    hub_now = _utc(now).astimezone(tz)
    hub_now = hub_now.replace(tzinfo=dt.timezone(hub_now.utcoffset() or dt.timedelta()))
    start = date_from("today", hub_now, tz)
    assert start is not None
    assert start.astimezone(dt.UTC) == _utc(begins)
    assert start.astimezone(tz).date() == hub_now.date()


@pytest.mark.skipif(sys.platform == "win32", reason="TZ names a zone on Unix only")
def test_today_is_the_workstations_day_in_its_time_zone(tmp_path: Path) -> None:
    # the bar's own path: no zone given, the workstation's (TZ, as the system sets it)
    script = (
        "import datetime as dt, sys\n"
        "from alu_client.ui.views.filters import date_from\n"
        "now = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.UTC).astimezone()\n"
        "print(date_from('today', now).astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M'))\n"
    )
    for zone, now, begins in DST_DAYS:
        env = {**os.environ, "TZ": zone, "PYTHONPATH": os.pathsep.join(sys.path)}
        out = subprocess.run(
            [sys.executable, "-c", script, now],
            env=env, capture_output=True, text=True, check=True, cwd=tmp_path,
        )  # fmt: skip
        assert out.stdout.strip() == begins, zone
