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

It keeps CPython's own rules, moved to the GUI thread and sized by objects: CPython collects
the youngest generation every ``threshold0`` (700) new objects, so a worker reading 21,000
items paid for it in many small pauses. Here the work comes in ticks: every ``BUSY_MS`` while
objects are being made (every ``IDLE_MS`` when the last look found nothing due) the timer looks
at ``gc.get_count()`` and collects generation 0 once more than ``threshold0`` objects are new;
generation 1 once ``threshold0 × threshold1`` objects went through generation 0 since the last
one (at most the last ticks' survivors: a pause of the same size, not ten ticks' worth); and the
whole heap, as CPython does, once the objects moved to the oldest generation since the last
full collection are a quarter of those it kept, and no sooner than ``FULL_SPACING`` times the
last one's length (a full collection walks every object: ~0.1 s with 21,000 items loaded).
Garbage in cycles lives a tick longer than it would have; memory stays bounded.

Only the GUI process installs it (``make_application``): the CLI and the hub keep Python's
collector as it is. Objects that a worker thread drops by reference count are not its concern
(``tasks.py`` keeps those on the GUI thread).
"""

from __future__ import annotations

import gc
import logging
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

log = logging.getLogger(__name__)

BUSY_MS = 50
IDLE_MS = 500
FULL_SPACING = 100  # a full collection at most every 100× its own length (1% of the time)
SLOW_MS = 100.0  # a collection longer than this is logged


class GcGuard(QObject):
    """Turns the automatic collector off and collects on this (the GUI) thread on a timer."""

    def __init__(self, parent: QObject | None = None, *, idle_ms: int = IDLE_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.idle_ms = idle_ms
        self.busy_ms = min(BUSY_MS, idle_ms)
        self._young = 0  # objects through generation 0 since the last generation-1 collection
        self._pending = 0  # ... moved on to the oldest generation since the last full one
        self._long_lived = len(gc.get_objects(2))
        self._last_full_end = time.monotonic()
        self._last_full_s = 0.0
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(idle_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect what is due (called by the timer)."""
        count0, _count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if t0 <= 0 or count0 <= t0:
            self._timer.setInterval(self.idle_ms)
            return
        self._timer.setInterval(self.busy_ms)
        self._young += count0
        if self._young <= t0 * t1:
            self.collect(0)
            return
        self._pending += self._young
        self._young = 0
        since_full = time.monotonic() - self._last_full_end
        if (
            count2 > t2
            and self._pending > self._long_lived // 4
            and since_full >= FULL_SPACING * self._last_full_s
        ):
            self.collect(2)
        else:
            self.collect(1)

    def collect(self, generation: int = 2) -> int:
        start = time.monotonic()
        found = gc.collect(generation)
        end = time.monotonic()
        ms = (end - start) * 1000
        if generation == 2:
            self._last_full_end = end
            self._last_full_s = end - start
            self._pending = self._young = 0
            self._long_lived = len(gc.get_objects(2))
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
        # (made before, and perhaps uninstalled since — a test: at work again, as asked)
        gc.disable()
        if not guard._timer.isActive():
            guard._timer.start()
        return guard
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("the GC guard belongs to the GUI thread")
    return GcGuard(app)


__all__ = ["BUSY_MS", "FULL_SPACING", "IDLE_MS", "GcGuard", "install_gc_guard"]
