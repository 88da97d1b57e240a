"""TaskRunner: the call runs off the GUI thread; its outcome comes back on it, in order."""

from __future__ import annotations

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
