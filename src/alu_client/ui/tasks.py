"""Run slow calls off the GUI thread and hand their outcome back on it.

Every command the UI sends to the core (pause, move, set a limit, load the transfers) writes or
reads SQLite, and a committed write waits for fsync: never on the GUI thread. ``TaskRunner.run``
starts the call on a QThreadPool and calls ``on_done(result)`` or ``on_error(exception)`` later
on the GUI thread, as Picard's ``util/thread.run_task`` does.

The default pool has one thread, so commands reach the core in the order the user gave them
(a pause then a resume never arrive swapped). Callbacks are delivered through a QObject owned
by the runner: when the runner (or the widget that owns it) is gone, they are dropped instead
of touching deleted widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")


def _log_error(error: BaseException) -> None:
    log.error("a background task failed", exc_info=error)


class _Delivery(QObject):
    """Lives on the GUI thread; a worker emits ``ready`` and the slot runs there."""

    ready = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ready.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _deliver(self, call: Callable[[], None]) -> None:
        call()


class _Task(QRunnable):
    def __init__(
        self,
        fn: Callable[[], Any],
        finish: Callable[[Callable[[], None]], None],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        super().__init__()
        self.fn = fn
        self.finish = finish
        self.on_done = on_done
        self.on_error = on_error

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as e:  # handed to the GUI thread, never lost in a worker
            error = e
            self.finish(lambda: self.on_error(error))
        else:
            self.finish(lambda: self.on_done(result))


class TaskRunner(QObject):
    """Runs callables on its own thread pool (``max_threads`` at once; 1 keeps them in order).

    Signals: ``busy_changed(bool)`` when the first task starts and the last one ends."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 1) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._delivery = _Delivery(self)
        self._pending = 0

    @property
    def pending(self) -> int:
        """Tasks started whose outcome has not been delivered yet."""
        return self._pending

    def run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Call ``fn()`` on a worker; then ``on_done(result)`` or ``on_error(exc)`` (default:
        logged) on the GUI thread. Call from the GUI thread."""
        done = on_done or (lambda _result: None)
        failed = on_error or _log_error

        def after(result: Any) -> None:
            self._end()
            done(result)

        def after_error(error: BaseException) -> None:
            self._end()
            failed(error)

        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self.pool.start(_Task(fn, self._post, after, after_error))

    def _post(self, call: Callable[[], None]) -> None:
        try:
            self._delivery.ready.emit(call)
        except RuntimeError:  # the runner was deleted while the task ran: nobody to tell
            log.debug("task outcome dropped: its runner is gone")

    def _end(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        """Block until the running tasks are over (their outcomes are delivered later, by the
        event loop). For shutdown and tests."""
        return self.pool.waitForDone(msecs)
