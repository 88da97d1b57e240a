"""TaskRunner: the call runs off the GUI thread; its outcome comes back on it, in order."""

from __future__ import annotations

import gc
import threading
from typing import Any

from alu_client.ui.tasks import TaskRunner


def test_result_comes_back_on_the_gui_thread(qtbot: Any) -> None:
    runner = TaskRunner()
    ran_on: list[threading.Thread] = []
    got: list[tuple[int, threading.Thread]] = []

    def work() -> int:
        ran_on.append(threading.current_thread())
        return 42

    runner.run(work, lambda r: got.append((r, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(got))
    assert ran_on[0] is not threading.main_thread()
    assert got == [(42, threading.main_thread())]
    assert runner.pending == 0


def test_error_comes_back_on_the_gui_thread(qtbot: Any) -> None:
    runner = TaskRunner()
    errors: list[BaseException] = []

    def work() -> None:
        raise ValueError("the disk is full")

    runner.run(work, lambda _r: None, errors.append)
    qtbot.waitUntil(lambda: bool(errors))
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "the disk is full"


def test_commands_run_in_the_order_given(qtbot: Any) -> None:
    runner = TaskRunner()
    order: list[int] = []
    lock = threading.Lock()

    def step(n: int) -> int:
        with lock:
            order.append(n)
        return n

    delivered: list[int] = []
    with qtbot.waitSignal(runner.busy_changed, check_params_cb=lambda busy: not busy):
        for n in range(20):
            runner.run(lambda n=n: step(n), delivered.append)
    assert order == list(range(20))
    assert delivered == list(range(20))


class _Witness:
    """Records the thread that frees it (a Python-owned QObject freed off the GUI thread
    is destroyed there, which Qt does not survive)."""

    def __init__(self, freed_on: list[threading.Thread]) -> None:
        self.freed_on = freed_on

    def __del__(self) -> None:
        self.freed_on.append(threading.current_thread())


def test_a_runner_deleted_while_its_task_runs_is_not_called_back(qtbot: Any) -> None:
    freed_on: list[threading.Thread] = []
    go, ran = threading.Event(), threading.Event()
    called: list[object] = []
    runner = TaskRunner()

    def make_call() -> tuple[Any, Any]:
        witness, other = _Witness(freed_on), _Witness(freed_on)

        def work() -> _Witness:
            go.wait(10)
            ran.set()
            return _Witness(freed_on) if witness else other

        return work, lambda result: called.append((result, other))

    work, done = make_call()
    runner.run(work, done)
    del work, done, runner
    gc.collect()  # the runner is gone; only the worker and the outbox hold the call
    go.set()
    assert ran.wait(10)
    qtbot.waitUntil(lambda: len(freed_on) == 3)
    assert called == []
    assert all(t is threading.main_thread() for t in freed_on)


def test_two_workers_run_two_calls_at_once(qtbot: Any) -> None:
    runner = TaskRunner(max_threads=2)
    both = threading.Barrier(2, timeout=10)
    got: list[int] = []
    runner.run(lambda: both.wait() + 1, got.append)
    runner.run(lambda: both.wait() + 1, got.append)
    qtbot.waitUntil(lambda: len(got) == 2)
    assert sorted(got) == [1, 2]
    assert runner.wait_for_done(1000)


def test_at_the_end_queued_calls_are_dropped_and_the_running_one_is_waited_for(
    qtbot: Any,
) -> None:
    # at the app's end, a thumbnail loader still decoding while the interpreter destroyed the
    # QApplication: a segfault (-11) once in CI. ``close_all`` waits for what runs, drops the rest
    from alu_client.ui.tasks import close_all

    thumbnails = TaskRunner(max_threads=1)
    release = threading.Event()
    running = threading.Event()
    ran: list[str] = []
    delivered: list[str] = []

    def decode() -> str:
        running.set()
        release.wait(5)
        ran.append("decode")
        return "decode"

    thumbnails.run(decode, delivered.append)
    for name in ("second", "third"):
        thumbnails.run(lambda name=name: ran.append(name) or name, delivered.append)
    assert running.wait(5)
    threading.Timer(0.3, release.set).start()  # the decode ends while close_all waits
    try:
        assert close_all(5.0)
        assert ran == ["decode"]  # waited for; the two queued ones never ran
        thumbnails.run(lambda: ran.append("late"))  # closed: not run
        assert thumbnails.wait_for_done(5000)
        assert ran == ["decode"]
        qtbot.wait(50)
        assert delivered == []  # closed: nothing wakes the GUI thread to hand outcomes back
        later = TaskRunner()  # a runner made afterwards (the next test) opens them again
        later.run(lambda: ran.append("later"))
        qtbot.waitUntil(lambda: "later" in ran)
    finally:
        release.set()


def test_at_the_end_a_call_that_does_not_finish_in_time_is_said(qtbot: Any) -> None:
    from alu_client.ui.tasks import close_all

    runner = TaskRunner()
    release = threading.Event()
    started = threading.Event()
    runner.run(lambda: started.set() or release.wait(10))
    assert started.wait(5)
    try:
        assert close_all(0.2) is False
    finally:
        release.set()
        TaskRunner()  # (opens the runners again for the next tests)
    assert runner.wait_for_done(5000)
