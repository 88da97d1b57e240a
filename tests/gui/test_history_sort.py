"""Sorting the History table by a header (``KeySortProxy`` over ``HistoryModel``): the order of
every column is the one the table had with ``QSortFilterProxyModel`` and ``SORT_ROLE`` (dates
as dates, sizes and speeds as numbers, texts case folded, ties in the order shown before), and it
stays right as events come, go and change — without asking the model a value per comparison
(a click on a year's history froze the window 2–5 s)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView

from alu_client.core.sync import HistoryEvent
from alu_client.ui.models import OBJECT_ROLE, SORT_ROLE
from alu_client.ui.models.history import (
    COL_ITEM,
    COL_SIZE,
    COL_WHEN,
    COLUMN_COUNT,
    HistoryModel,
)
from alu_client.ui.models.key_sort import KeySortProxy

T0 = 1_790_000_000.0
ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
TYPES = ("download_completed", "download_failed", "upload_completed", "upload_canceled")


def _event(n: int, rnd: random.Random) -> HistoryEvent:
    """Event ``n``: few distinct values per column, so that ties are many."""
    here = rnd.random() < 0.5
    return HistoryEvent(
        id=f"e{n}", profile="desk", type=rnd.choice(TYPES), item_id=f"item{n % 7}",
        rendition=rnd.choice(("", "proxy")), bytes=rnd.choice((0, 1_000, 5_000_000)),
        started_at=None, ended_at=None if rnd.random() < 0.1 else T0 - rnd.randrange(40) * 60.0,
        device=rnd.choice(("laptop-2", "Desk-1", "desk-1")),
        detail={
            "label": rnd.choice(("Floods", "floods", "Élections", "Zebra", "")),
            "seconds": rnd.choice((3.0, 12.5)), "avg_bps": rnd.choice((1e6, 2.5e5)),
            "rule": rnd.choice(("Sport", "news", "")),
        },
        transfer_id=None, origin="here" if here else "hub", hub_seq=None if here else n,
        sent_at=rnd.choice((None, T0)) if here else None,
    )  # fmt: skip


def _events(first: int, count: int, seed: int) -> list[HistoryEvent]:
    """Events in the list's order (newest first, none without a time before one with)."""
    rnd = random.Random(seed)
    events = [_event(n, rnd) for n in range(first, first + count)]
    return sorted(events, key=lambda e: (e.ended_at is None, -(e.ended_at or 0.0)))


@pytest.fixture
def sorted_pair(qapp: Any) -> tuple[HistoryModel, KeySortProxy, QSortFilterProxyModel]:
    """The model, the proxy the table uses, and the proxy it used before (the reference)."""
    model = HistoryModel()
    proxy = KeySortProxy()
    proxy.setSourceModel(model)
    reference = QSortFilterProxyModel()
    reference.setSourceModel(model)
    reference.setSortRole(SORT_ROLE)
    reference.setDynamicSortFilter(True)
    return model, proxy, reference


def _order(proxy: Any) -> list[str]:
    return [proxy.index(r, 0).data(OBJECT_ROLE).id for r in range(proxy.rowCount())]


def _same_sort(model: HistoryModel, proxy: Any, col: int, order: Any, step: str) -> None:
    """The proxy shows every row once, in the order of their keys. (Not compared with
    ``QSortFilterProxyModel`` here: after scattered rows change, it left some out of order.)"""
    assert sorted(_order(proxy)) == sorted(e.id for e in model.events()), step
    keys = [proxy.index(r, col).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert keys == sorted(keys, reverse=order == DESC), step


def _both(
    pair: tuple[HistoryModel, KeySortProxy, QSortFilterProxyModel], col: int, order: Any
) -> None:
    _, proxy, reference = pair
    proxy.sort(col, order)
    reference.sort(col, order)


def test_each_column_sorts_as_the_table_did(sorted_pair: Any, qtmodeltester: Any) -> None:
    model, proxy, reference = sorted_pair
    model.set_events(_events(0, 300, seed=1), has_more=False)
    for col in range(COLUMN_COUNT):
        for order in (ASC, DESC):
            _both(sorted_pair, col, order)
            assert _order(proxy) == _order(reference), (col, order)
    qtmodeltester.check(proxy)


def test_the_sort_stays_right_as_events_come_go_and_change(sorted_pair: Any) -> None:
    model, proxy, _ = sorted_pair
    events = _events(0, 120, seed=2)
    model.set_events(events[:60], has_more=True)
    for col, order in ((COL_ITEM, ASC), (COL_SIZE, DESC), (COL_WHEN, DESC)):
        proxy.sort(col, order)
        model.set_events(events[:60], has_more=True)
        # a page (one sort again), then a few new events (each bisected into place)
        model.append_events(events[60:100], has_more=True, after=events[59].id)
        _same_sort(model, proxy, col, order, "page")
        model.add_events(_events(500, 5, seed=3 + col))
        _same_sort(model, proxy, col, order, "new")
        # rows changed: another label, another size
        changed = [
            dataclasses.replace(e, bytes=7, detail={**e.detail, "label": "Aardvark"})
            for e in model.events()[::9]
        ]
        model.update_events(changed)
        _same_sort(model, proxy, col, order, "changed")
        # a refresh leaves the newest 30: the others go
        model.set_events(model.events()[:30], has_more=True)
        _same_sort(model, proxy, col, order, "removed")


def test_the_selection_follows_its_rows(sorted_pair: Any, qtbot: Any) -> None:
    model, proxy, _ = sorted_pair
    model.set_events(_events(0, 80, seed=4), has_more=True)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.selectRow(5)
    chosen = proxy.index(5, 0).data(OBJECT_ROLE).id

    def selected() -> list[str]:
        return [i.data(OBJECT_ROLE).id for i in view.selectionModel().selectedRows()]

    view.sortByColumn(COL_ITEM, ASC)
    assert selected() == [chosen]
    model.add_events(_events(900, 50, seed=5))  # many at once: one sort again
    assert selected() == [chosen]
    model.add_events(_events(990, 2, seed=6))
    view.sortByColumn(COL_SIZE, DESC)
    assert selected() == [chosen]


def test_a_sort_asks_each_row_its_key_once(sorted_pair: Any, monkeypatch: Any) -> None:
    model, proxy, _ = sorted_pair
    model.set_events(_events(0, 400, seed=7), has_more=False)
    calls: list[int] = []
    key = HistoryModel._sort_key

    def counted(self: HistoryModel, e: HistoryEvent, col: int) -> Any:
        calls.append(col)
        return key(self, e, col)

    monkeypatch.setattr(HistoryModel, "_sort_key", counted)
    proxy.sort(COL_ITEM, ASC)
    assert calls == [COL_ITEM] * 400


def test_a_header_click_on_the_history_tab_reads_each_key_once(
    qtbot: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """The tab's header click (``sortByColumn``): the rows sorted by Item, each row's key read
    once (the table's proxy read two per comparison: ~1 million for a year's history)."""
    from alu_client.core.store import Store
    from alu_client.ui.tasks import TaskRunner
    from alu_client.ui.views.history import HistoryPanel
    from tests.gui.test_history_panel import _Bridge, _Desk, _here

    store = Store(tmp_path / "sort.sqlite3")
    for n in range(60):
        _here(store, (n * 37) % 60, T0 - n * 60.0)  # "Here 0" … "Here 59", not in time order
    tasks = TaskRunner()
    panel = HistoryPanel(_Desk(store), _Bridge(), tasks)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 60)
    calls: list[int] = []
    key = HistoryModel._sort_key

    def counted(self: HistoryModel, e: HistoryEvent, col: int) -> Any:
        calls.append(col)
        return key(self, e, col)

    monkeypatch.setattr(HistoryModel, "_sort_key", counted)
    panel.view.sortByColumn(COL_ITEM, ASC)
    shown = [panel.proxy.index(r, COL_ITEM).data() for r in range(60)]
    assert shown == sorted((f"Here {n}" for n in range(60)), key=str.casefold)
    assert calls == [COL_ITEM] * 60
    tasks.wait_for_done()
    panel.sync_tasks.wait_for_done()
    store.close()


def test_sorting_by_another_column_sorts_the_whole_history(qtbot: Any, tmp_path: Any) -> None:
    """The list pages in newest first; sorted by Item, the events not loaded yet are read too
    (at once): the first item by name is an old one, and a refresh keeps them all."""
    from alu_client.core.store import Store
    from alu_client.ui.models.history import PAGE_SIZE
    from alu_client.ui.tasks import TaskRunner
    from alu_client.ui.views.history import HistoryPanel
    from tests.gui.test_history_panel import _Bridge, _Desk, _here

    total = 2 * PAGE_SIZE + 50
    store = Store(tmp_path / "whole.sqlite3")
    for n in range(total):
        _here(store, n, T0 - (total - n) * 60.0)  # "Here 0" the oldest
    tasks = TaskRunner()
    panel = HistoryPanel(_Desk(store), _Bridge(), tasks)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE and not panel._refreshing)
    panel.view.sortByColumn(COL_ITEM, ASC)
    qtbot.waitUntil(lambda: panel.model.rowCount() == total)
    assert not panel.model.has_more
    assert panel.proxy.index(0, COL_ITEM).data() == "Here 0"
    panel.refresh()
    qtbot.waitUntil(lambda: not panel._refreshing)
    qtbot.waitUntil(lambda: panel.model.rowCount() == total and not panel.model.has_more)
    assert panel.proxy.index(0, COL_ITEM).data() == "Here 0"
    tasks.wait_for_done()
    panel.sync_tasks.wait_for_done()
    store.close()


def test_many_rows_leaving_at_once_go_in_one_removal(sorted_pair: Any, qtbot: Any) -> None:
    """A refresh keeps the newest events: the older ones, all over a sorted list, leave in one
    removal (not hundreds), the selected row kept."""
    model, proxy, _ = sorted_pair
    events = [  # labels all different: the older rows lie between the newer ones
        dataclasses.replace(e, detail={**e.detail, "label": f"x{n * 7919 % 400:03d}"})
        for n, e in enumerate(_events(0, 400, seed=8))
    ]
    model.set_events(events, has_more=True)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.sortByColumn(COL_ITEM, DESC)
    chosen = model.events()[3].id
    view.selectRow(_order(proxy).index(chosen))
    removals: list[int] = []
    proxy.rowsRemoved.connect(lambda _p, first, last: removals.append(last - first + 1))
    model.set_events(model.events()[:100], has_more=True)
    assert removals == [300]
    _same_sort(model, proxy, COL_ITEM, DESC, "removed")
    selected = [i.data(OBJECT_ROLE).id for i in view.selectionModel().selectedRows()]
    assert selected == [chosen]
