"""The Feed's "5 min ago" is measured on the hub's clock (the offset the feed sync keeps), as
the auto-download rules' "older than a day": a workstation clock 2 h fast read a fresh flash
"2 h ago", one two days slow read every item "just now"."""

from __future__ import annotations

import datetime as dt
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
