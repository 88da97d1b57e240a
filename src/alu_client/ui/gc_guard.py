"""Garbage collection on the GUI thread only.

Python's cycle collector runs on whichever thread happens to allocate when a generation's
threshold is crossed. In the app that is often a worker (a store read of 20,000 rows, the
engine, the bridge): a QObject wrapper that ended in a reference cycle on the GUI thread (a
model, a dialog, an object whose signal is connected to its own bound method) is then
destroyed on that worker. Qt does not survive that: a QTimer it owned is "stopped from another
thread", stays registered with the GUI thread's event dispatcher, and the process segfaults
when it next fires: a crash with no traceback (seen in the GUI benchmark with a 21,000-item
Library). PyQt and PySide apps (Anki, for one) turn the automatic collector off and collect
on the GUI thread from a timer instead; so does ``GcGuard``.

It keeps CPython's own schedule, only moved to the GUI thread: every ``INTERVAL_MS`` it looks at
``gc.get_count()`` and collects generation 0 when more than ``threshold0`` objects were
allocated, generation 1 every ``threshold1`` of those, generation 2 every ``threshold2`` of
those. A full collection walks every object of the heap (tens of milliseconds with a big
library), so it also waits at least ``FULL_SPACING`` times as long as the last one took:
never more than about 1% of the GUI thread's time. Garbage in cycles lives at most one
interval longer than it would have (generation 0), memory stays bounded.

Only the GUI process installs it (``make_application``): the CLI and the hub keep Python's
collector as it is. Objects that a worker thread drops by reference count are not its concern
(``tasks.py`` keeps those on the GUI thread).
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

log = logging.getLogger(__name__)

INTERVAL_MS = 500
FULL_SPACING = 100  # a full collection at most every 100× its own length
SLOW_MS = 100.0  # a collection longer than this is logged


class GcGuard(QObject):
    """Turns the automatic collector off and collects on this (the GUI) thread on a timer."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thread_id = threading.get_ident()
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self._last_full_end = time.monotonic()
        self._last_full_s = 0.0
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the generations due, as CPython would have (called by the timer)."""
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if t0 <= 0 or count0 <= t0:
            return
        generation = 0
        if count1 > t1:
            generation = 1
            since_full = time.monotonic() - self._last_full_end
            if count2 > t2 and since_full >= FULL_SPACING * self._last_full_s:
                generation = 2
        self.collect(generation)

    def collect(self, generation: int = 2) -> int:
        start = time.monotonic()
        found = gc.collect(generation)
        end = time.monotonic()
        ms = (end - start) * 1000
        if generation == 2:
            self._last_full_end = end
            self._last_full_s = end - start
        self.collections[generation] += 1
        self.longest_ms[generation] = max(self.longest_ms[generation], ms)
        if ms > SLOW_MS:
            log.info("garbage collection of generation %d took %.0f ms", generation, ms)
        return found

    def uninstall(self) -> None:
        """Stop the timer and give the collector back as it was (tests; an app never does:
        its workers may outlive the event loop)."""
        self._timer.stop()
        if self.was_enabled:
            gc.enable()


def install_gc_guard(app: QCoreApplication) -> GcGuard:
    """The application's guard, made once, on the GUI thread (the application's)."""
    guard = app.findChild(GcGuard)
    if isinstance(guard, GcGuard):
        return guard
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("the GC guard belongs to the GUI thread")
    return GcGuard(app)


__all__ = ["FULL_SPACING", "INTERVAL_MS", "GcGuard", "install_gc_guard"]
