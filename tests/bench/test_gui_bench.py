"""Benchmark of the Transfers tab with 1,000 transfers (issue 5: "with 1,000 transfers queued
the window stays responsive; progress updates at most ~10 times a second").

Run on demand: ``./run bench -k gui``. Figures (median of ``ALU_BENCH_REPEAT`` runs, 20):

- loading 1,000 transfers into the model (``set_transfers``);
- applying a batch of 1,000 progress updates to the model alone;
- the same batch with the proxy and the table shown, then the repaint it causes: the worst
  refresh tick (every row changed). At ten ticks a second, 50 ms would be half the GUI thread.
- a usual tick: 5 transfers moving among 1,000 (the engine only reports what changed).

And how they grow (baseline: the same with few rows, in the same run):

- a tick in which one transfer ends and the next starts, 2,000 transfers in queue order (each
  one re-sorted every row: ~100 ms);
- a thumbnail arriving in the Feed with 21,000 items loaded (each scanned every row: up to
  150 ms, the window froze 38 s after a year's catch-up).

A missed target is printed, not failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QApplication

from alu_client.core.library import Library, Query, upsert_items
from alu_client.core.library.search import MAX_LIMIT
from alu_client.core.store import Store
from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers.queue import Progress, TransferQueue
from alu_client.ui.models.items import ItemsModel
from alu_client.ui.models.transfers import TransfersModel
from alu_client.ui.views.transfers import TransfersPanel
from tests.bench.helpers import (
    Figure,
    check_measured,
    env_int,
    load_average,
    median,
    note,
    report,
)

pytestmark = pytest.mark.bench
N = 1000
MB = 1_000_000


def transfers(n: int) -> list[Transfer]:
    now = time.time()
    return [
        Transfer(
            id=i,
            direction="download" if i % 3 else "upload",
            state="active" if i < 10 else "queued",
            priority=i % 3,
            position=float(i),
            label=f"ITEM-{i:04d} floods in the north",
            source="http://127.0.0.1:9/x",
            destination="/nonexistent/x",
            size=500 * MB,
            bytes_done=0,
            sha256=None,
            item_id=None,
            rendition=None,
            options={},
            result={},
            attempts=0,
            last_error="",
            next_attempt_at=None,
            pause_reason="",
            limit_bps=None,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
        for i in range(1, n + 1)
    ]


def batch(n: int, tick: int) -> list[Progress]:
    return [
        Progress(
            i,
            "download",
            "active",
            f"ITEM-{i:04d} floods in the north",
            tick * 100_000 + i,
            500 * MB,
            250_000.0 + tick,
            60.0 + i,
            "",
        )
        for i in range(1, n + 1)
    ]


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def test_gui_transfers_1000_rows(qapp: QApplication, qtbot: Any, tmp_path: Any) -> None:
    repeat = env_int("ALU_BENCH_REPEAT", 20)
    rows = transfers(N)
    figures = []

    loads = []
    for _ in range(repeat):
        m = TransfersModel()
        loads.append(timed(lambda m=m: m.set_transfers(rows)))
    figures.append(
        report(
            Figure(
                "gui",
                f"load {N} transfers into the model",
                median(loads),
                "ms",
                better="lower",
                target=100,
                target_on="value",
            )
        )
    )

    model = TransfersModel()
    model.set_transfers(rows)
    ticks = [timed(lambda t=t: model.apply_progress(batch(N, t))) for t in range(1, repeat + 1)]
    figures.append(
        report(
            Figure(
                "gui",
                f"apply {N} updates, model only",
                median(ticks),
                "ms",
                better="lower",
                target=25,
                target_on="value",
            )
        )
    )

    store = Store(tmp_path / "library.sqlite3")
    queue = TransferQueue(store)
    panel = TransfersPanel(queue)
    qtbot.addWidget(panel)
    panel.resize(1400, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.model.set_transfers(rows)
    qapp.processEvents()

    def tick(t: int, n: int = N) -> tuple[float, float]:
        start = time.perf_counter()
        panel.model.apply_progress(batch(n, t))
        applied = time.perf_counter()
        qapp.processEvents()  # the view repaints the visible rows (delegate included)
        return (applied - start) * 1000, (time.perf_counter() - applied) * 1000

    all_rows = [tick(t) for t in range(1, repeat + 1)]
    apply_ms = median([a for a, _ in all_rows])
    paint_ms = median([p for _, p in all_rows])
    figures.append(
        report(
            Figure(
                "gui",
                f"apply {N} updates through the proxy",
                apply_ms,
                "ms",
                better="lower",
                target=25,
                target_on="value",
            )
        )
    )
    figures.append(
        report(
            Figure(
                "gui",
                f"repaint after {N} updates",
                paint_ms,
                "ms",
                better="lower",
                target=50,
                target_on="value",
                note=f"{panel.proxy.rowCount()} rows, a 1400x900 window",
            )
        )
    )
    typical = [sum(tick(t, 5)) for t in range(repeat + 1, 2 * repeat + 1)]
    figures.append(
        report(
            Figure(
                "gui",
                f"a usual tick: 5 active of {N}, apply + repaint",
                median(typical),
                "ms",
                better="lower",
                target=10,
                target_on="value",
            )
        )
    )
    note(f"load average {load_average()} (figures are wall-clock on the GUI thread)")
    panel.tasks.wait_for_done()
    store.close()
    check_measured(figures)


def test_gui_a_state_change_among_2000_transfers(
    qapp: QApplication, qtbot: Any, tmp_path: Path
) -> None:
    repeat = env_int("ALU_BENCH_REPEAT", 20)
    medians: dict[int, float] = {}
    for n in (20, 2000):
        store = Store(tmp_path / f"transfers-{n}.sqlite3")
        panel = TransfersPanel(TransferQueue(store))
        qtbot.addWidget(panel)
        panel.resize(1400, 900)
        panel.show()
        qtbot.waitExposed(panel)
        rows = transfers(n)
        panel.model.set_transfers(rows)
        qtbot.wait(20)
        ticks = []
        for k in range(1, min(repeat, 10) + 1):
            # one active transfer ends, the next queued one starts (every finished download)
            ended = Progress(
                k, "download", "done", rows[k - 1].label, 500 * MB, 500 * MB, 0.0, None, ""
            )
            began = Progress(
                k + 10, "download", "active", rows[k + 9].label, 1, 500 * MB, 1.0, 60.0, ""
            )
            start = time.perf_counter()
            panel.model.apply_progress([ended, began])
            qapp.processEvents()  # the proxy's deferred work, then the repaint
            qapp.processEvents()
            ticks.append((time.perf_counter() - start) * 1000)
        medians[n] = median(ticks)
        panel.tasks.wait_for_done()
        panel.close()
        store.close()
    figure = report(
        Figure(
            "gui",
            "a transfer ends and the next starts, 2000 rows, apply + repaint",
            medians[2000],
            "ms",
            baseline="20 rows",
            baseline_value=medians[20],
            better="lower",
            target=10,
            target_on="value",
        )
    )
    note(f"load average {load_average()}")
    check_measured([figure])


def test_gui_a_thumbnail_arrives_among_21000_items(
    qapp: QApplication, qtbot: Any, tmp_path: Path
) -> None:
    from tests.gui.test_feed_model import make_item

    arrivals = 200
    per_arrival: dict[int, float] = {}
    for n in (100, 21_000):
        store = Store(tmp_path / f"items-{n}.sqlite3")
        items = [make_item(s, thumbnail_url=f"http://hub/{s}.jpg") for s in range(1, n + 1)]
        upsert_items(store, "desk", items)
        model = ItemsModel(Library(store, "desk"), page_size=MAX_LIMIT)
        model.set_query(Query())
        qtbot.waitUntil(lambda m=model: not m._busy and not m._wanted, timeout=120_000)
        while model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
            qtbot.waitUntil(lambda m=model: not m._busy and not m._wanted, timeout=120_000)
        assert model.rowCount() == n
        paths = [f"hub:{items[(k * 7919) % n].id}" for k in range(arrivals)]
        start = time.perf_counter()
        for path in paths:
            model.thumbnails.loaded.emit(path)
        per_arrival[n] = (time.perf_counter() - start) * 1000 / arrivals
        model.tasks.wait_for_done()
        store.close()
    figure = report(
        Figure(
            "gui",
            "a thumbnail arrives, 21000 items loaded in the Feed",
            per_arrival[21_000],
            "ms",
            baseline="100 items",
            baseline_value=per_arrival[100],
            better="lower",
            target=1,
            target_on="value",
            note=f"mean of {arrivals}",
        )
    )
    note(f"load average {load_average()}")
    check_measured([figure])
