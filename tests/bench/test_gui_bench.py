"""Benchmark of the Transfers tab with 1,000 transfers (issue 5: "with 1,000 transfers queued
the window stays responsive; progress updates at most ~10 times a second").

Run on demand: ``./run bench -k gui``. Figures (median of ``ALU_BENCH_REPEAT`` runs, 20):

- loading 1,000 transfers into the model (``set_transfers``);
- applying a batch of 1,000 progress updates to the model alone;
- the same batch with the proxy and the table shown, then the repaint it causes: the worst
  refresh tick (every row changed). At ten ticks a second, 50 ms would be half the GUI thread.
- a usual tick: 5 transfers moving among 1,000 (the engine only reports what changed).

A missed target is printed, not failed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers.queue import Progress, TransferQueue
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

    from alu_client.core.store import Store

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
