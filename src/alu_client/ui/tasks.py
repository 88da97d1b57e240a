"""Run slow calls off the GUI thread and hand their outcome back on it.

Every command the UI sends to the core (pause, move, set a limit, load the transfers) writes or
reads SQLite, and a committed write waits for fsync: never on the GUI thread. ``TaskRunner.run``
starts the call on a worker thread and calls ``on_done(result)`` or ``on_error(exception)``
later on the GUI thread, as Picard's ``util/thread.run_task`` does.

The default runner has one worker, so commands reach the core in the order the user gave them
(a pause then a resume never arrive swapped).

Lifetimes are the hard part with Qt and threads, and this module is built around one rule: a
worker thread never drops the last reference to anything the GUI thread made. A Python-owned
QObject (a dialog, a parentless runner) whose last reference goes on a worker is destroyed
there, which Qt does not survive (a QRunnable subclass holding callbacks did exactly that, an
intermittent segfault in the GUI tests). So:

- the callbacks stay on the GUI thread, in the runner, keyed by task number; the worker gets
  only the call and a weak reference to the runner;
- the worker hands the call back with its outcome through one outbox, under a lock, and keeps
  no reference once the lock is released; the GUI thread drains the outbox (woken by a queued
  signal of a QObject that lives as long as the application) and drops everything there;
- a runner deleted while its tasks run is simply not called back: its workers finish the
  queued calls (a pause the user gave still reaches the core) and the outcomes are dropped.

The workers are plain Python threads (daemons: a stuck call cannot hold the app open at exit),
started on demand and ended after a minute idle.

At the app's end, ``close_all`` runs after the window's shutdown and before the QApplication
goes: the calls queued and not started are dropped, the ones running are waited for, and no
worker pokes the mailbox any more. Without it a thumbnail loader could still be decoding an
image (Qt's image plugins) while the interpreter's end destroyed the QApplication: the demo
app stopped by SIGTERM right after its window came up exited with a segfault (status -11)
once in a CI run.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_SECONDS = 60.0


def _log_error(error: BaseException) -> None:
    log.error("a background task failed", exc_info=error)


# --- the way back to the GUI thread -----------------------------------------------------------

_outbox_lock = threading.Lock()
_outbox: list[Callable[[], None]] = []
#: set by ``close_all``: queued calls are dropped, nothing wakes the GUI thread any more
_closed = threading.Event()


class _Mailbox(QObject):
    """Lives on the GUI thread as long as the application; ``poke`` (emitted by any thread)
    makes it run what is in the outbox there."""

    poke = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.poke.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _drain(self) -> None:
        global _outbox
        with _outbox_lock:
            calls, _outbox = _outbox, []
        for call in calls:
            try:
                call()
            except Exception:  # one broken callback must not lose the others
                log.exception("a callback on the GUI thread failed")
        calls.clear()


_mailbox: _Mailbox | None = None


def install_mailbox() -> _Mailbox:
    """The mailbox: made on the GUI thread by the first runner or bridge (idempotent)."""
    global _mailbox
    if _mailbox is None or not shiboken6.isValid(_mailbox):
        app = QCoreApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            raise RuntimeError(
                "make the first TaskRunner on the GUI thread, after the QApplication"
            )
        _mailbox = _Mailbox()
    return _mailbox


def post_to_gui(call: Callable[[], None]) -> None:
    """Run ``call()`` soon on the GUI thread; callable from any thread.

    The caller must not keep references that ``call`` is the only other holder of (hand them
    over inside ``call``): what ``call`` holds is released on the GUI thread."""
    mailbox = _mailbox
    with _outbox_lock:
        _outbox.append(call)  # (after ``close_all``: freed with the module, on the GUI thread)
        del call
    if mailbox is None or _closed.is_set():
        return
    with contextlib.suppress(RuntimeError):  # the application is gone: nobody to tell
        mailbox.poke.emit()


# --- workers ----------------------------------------------------------------------------------


class _Job:
    """One call on its way to a worker and back; only the GUI thread makes and frees it."""

    __slots__ = ("fn", "number", "outcome")

    def __init__(self, number: int, fn: Callable[[], Any]) -> None:
        self.number = number
        self.fn: Callable[[], Any] | None = fn
        self.outcome: tuple[bool, Any] | None = None


class _Workers:
    """Up to ``size`` threads serving one queue in order; no reference to the runner."""

    #: every set of workers, for ``close_all``
    everyone: ClassVar[weakref.WeakSet[_Workers]] = weakref.WeakSet()

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self.jobs: queue.SimpleQueue[tuple[_Job, Callable[[_Job], None]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._unfinished = 0
        _Workers.everyone.add(self)

    def submit(self, job: _Job, deliver: Callable[[_Job], None]) -> None:
        with self._lock:  # a worker timing out idle checks the queue under this lock too
            self._unfinished += 1
            self.jobs.put((job, deliver))
            not_taken = self._unfinished - (self._threads - self._idle)
            start = not_taken > self._idle and self._threads < self.size
            if start:
                self._threads += 1
        if start:
            threading.Thread(target=self._serve, name=self.name, daemon=True).start()

    def wait(self, seconds: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._unfinished == 0, timeout=seconds)

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                entry = self.jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                entry = None
            with self._lock:
                self._idle -= 1
                if entry is None:
                    if self.jobs.empty():
                        self._threads -= 1
                        return
                    continue
            self._run(*entry)
            del entry
            with self._lock:
                self._unfinished -= 1
                self._lock.notify_all()

    @staticmethod
    def _run(job: _Job, deliver: Callable[[_Job], None]) -> None:
        fn = job.fn
        assert fn is not None
        if _closed.is_set():  # the app is ending: not started, handed back unrun
            del fn
            post_to_gui(lambda: deliver(job))
            return
        try:
            job.outcome = (True, fn())
        except Exception as e:  # handed to the GUI thread, never lost in a worker
            job.outcome = (False, e)
        del fn
        # the job (holding the call and the outcome) goes back whole: freed on the GUI thread
        post_to_gui(lambda: deliver(job))


def close_all(seconds: float = 5.0) -> bool:
    """At the app's end, on the GUI thread, after the window's shutdown and before the
    QApplication is destroyed: every runner's queued calls are dropped (their callbacks never
    run), the calls running are waited for, up to ``seconds`` in all. False if one still runs
    (a hub request that has not timed out): it finishes or is frozen with the interpreter,
    and its outcome wakes nobody.

    A runner made afterwards opens them again (tests run the app's end more than once)."""
    _closed.set()
    deadline = time.monotonic() + seconds
    done = True
    for workers in list(_Workers.everyone):
        done = workers.wait(max(0.0, deadline - time.monotonic())) and done
    return done


def _deliver(runner_ref: weakref.ref[TaskRunner], job: _Job) -> None:
    """On the GUI thread: the runner's callbacks, if the runner is still there."""
    runner = runner_ref()
    if runner is None or not shiboken6.isValid(runner):
        log.debug("task outcome dropped: its runner is gone")
        job.fn = job.outcome = None  # freed here, whoever drops the job itself
        return
    runner._finish(job)


class TaskRunner(QObject):
    """Runs callables on its own workers (``max_threads`` at once; 1 keeps them in order).

    Signals: ``busy_changed(bool)`` when the first task starts and the last one ends."""

    busy_changed = Signal(bool)
    _numbers = itertools.count(1)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 1) -> None:
        super().__init__(parent)
        install_mailbox()
        _closed.clear()  # (a runner after ``close_all``: the app goes on, in a test)
        self._workers = _Workers(max_threads, "alu-ui-task")
        self._callbacks: dict[
            int, tuple[Callable[[Any], None], Callable[[BaseException], None]]
        ] = {}
        ref = weakref.ref(self)
        self._deliver: Callable[[_Job], None] = lambda job: _deliver(ref, job)

    @property
    def pending(self) -> int:
        """Tasks started whose outcome has not been delivered yet."""
        return len(self._callbacks)

    def run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Call ``fn()`` on a worker; then ``on_done(result)`` or ``on_error(exc)`` (default:
        logged) on the GUI thread. Call from the GUI thread."""
        job = _Job(next(self._numbers), fn)
        self._callbacks[job.number] = (on_done or (lambda _result: None), on_error or _log_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        self._workers.submit(job, self._deliver)

    def _finish(self, job: _Job) -> None:
        callbacks = self._callbacks.pop(job.number, None)
        outcome, job.outcome, job.fn = job.outcome, None, None
        if callbacks is None or outcome is None:
            return
        if not self._callbacks:
            self.busy_changed.emit(False)
        ok, value = outcome
        if ok:
            callbacks[0](value)
        else:
            callbacks[1](value)

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        """Block until the started calls have returned (their outcomes are delivered later, by
        the event loop). For shutdown and tests."""
        return self._workers.wait(msecs / 1000)
