"""Python's cycle collector runs only on the GUI thread (``ui/gc_guard.py``): run on a worker,
it destroyed Qt objects there (a model and its timer) and the app segfaulted, no traceback."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from alu_client.ui.gc_guard import BUSY_MS, GcGuard

ROOT = Path(__file__).resolve().parents[2]

# the suite's own guard (tests/gui/conftest.py) set aside: these tests make theirs
pytestmark = pytest.mark.usefixtures("suite_gc_guard_aside")

# A model in a reference cycle with a timer of its own, garbage on the GUI thread; a worker
# then reads many rows and crosses the collector's threshold there. Without the guard the
# collector destroys the models on the worker: "Timers cannot be stopped from another
# thread", and the GUI thread's next timer event reaches a deleted object (SIGSEGV).
_MODELS_IN_CYCLES = """
import gc, sys, threading
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

app = QApplication([])
if sys.argv[1:] == ["guard"]:
    from alu_client.app import make_application
    make_application()
gui = threading.get_ident()
ends = []


class Model(QObject):
    def __init__(self):
        super().__init__()
        self.me = self
        self.timer = QTimer(self)
        self.timer.start(5)

    def __del__(self):
        ends.append(threading.get_ident() == gui)


gc.collect()
for _ in range(50):
    Model()


def read_rows():
    rows = [[n] for n in range(100_000)]
    del rows


worker = threading.Thread(target=read_rows)
worker.start()
worker.join()
QTimer.singleShot(300, app.quit)
app.exec()
gc.collect()
print(f"gc enabled {gc.isenabled()}; ended on the GUI thread {ends.count(True)}, "
      f"on a worker {ends.count(False)}", flush=True)
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "-c", _MODELS_IN_CYCLES, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_qt_objects_in_cycles_are_never_collected_on_a_worker_thread() -> None:
    bare = _run()
    # the hazard is real: without the guard the models end on the worker (and Qt crashes)
    assert "Timers cannot be stopped from another thread" in bare.stderr, bare.stderr
    guarded = _run("guard")
    assert guarded.returncode == 0, guarded.stdout + guarded.stderr
    assert "gc enabled False; ended on the GUI thread 50, on a worker 0" in guarded.stdout
    assert "another thread" not in guarded.stderr


class _Cyclic(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.me = self


def test_the_guard_collects_on_its_timer_on_the_gui_thread(qtbot: Any) -> None:
    gc.collect()
    guard = GcGuard(idle_ms=20)
    threads: set[str] = set()

    def seen(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            threads.add(threading.current_thread().name)

    gc.callbacks.append(seen)
    try:
        assert not gc.isenabled()
        made = [weakref.ref(_Cyclic()) for _ in range(20)]

        def allocate() -> None:  # past the threshold many times over: the collector stays off
            for _ in range(5):
                rows = [[n] for n in range(20_000)]
                del rows

        worker = threading.Thread(target=allocate, name="reader")
        worker.start()
        worker.join()
        assert all(ref() is not None for ref in made)  # no collection on the worker
        # garbage held by cycles, and enough of it to be due: the next tick collects it
        more = [[n] for n in range(2_000)]
        for row in more:
            row.append(row)
        del more
        qtbot.waitUntil(lambda: all(ref() is None for ref in made), timeout=5000)
        assert threads == {threading.main_thread().name}
        # by this guard (a young collection, or an older generation's when more objects than
        # threshold0 × threshold1 were new at its first tick)
        assert sum(guard.collections) >= 1
    finally:
        gc.callbacks.remove(seen)
        guard.uninstall()
    assert gc.isenabled()


def test_collections_follow_cpythons_thresholds_counted_in_objects(qapp: QApplication) -> None:
    gc.collect()
    guard = GcGuard(idle_ms=60_000)  # called by hand here
    try:
        t0, t1, _t2 = guard.thresholds
        guard.check()  # nothing new: nothing collected, the timer slows down
        assert guard.collections == [0, 0, 0] and guard._timer.interval() == 60_000
        kept: list[list[int]] = []
        while guard.collections[1] == 0:
            kept.extend([] for _ in range(t0 + 1))
            guard.check()
        # the youngest generation every threshold0 new objects, the next one every
        # threshold0 × threshold1 of them; ticks closer together while objects are made
        assert t1 - 1 <= guard.collections[0] <= t1
        assert guard._timer.interval() == BUSY_MS
        # a worker's big read between two ticks: the generation-1 collection comes at once,
        # not ten ticks later with ten times as much to walk
        kept.extend([] for _ in range(t0 * t1 * 5))
        guard.check()
        assert guard.collections[1] == 2
        del kept
    finally:
        guard.uninstall()


def test_make_application_installs_one_guard(qapp: QApplication) -> None:
    from alu_client.app import make_application

    was = gc.isenabled()
    try:
        # a guard made before and uninstalled since (by another test) is at work again: the
        # whole suite's run found it there, the collector on
        for guard in install_gc_guard_for_test(qapp):
            guard.uninstall()
        app = make_application()
        make_application()
        guards = app.findChildren(GcGuard)
        assert len(guards) == 1 and not gc.isenabled()
    finally:
        for guard in app.findChildren(GcGuard):
            guard.uninstall()
            guard.setParent(None)  # Python's again: gone with its last reference
        if was:
            gc.enable()
    assert not app.findChildren(GcGuard)


def install_gc_guard_for_test(app: QApplication) -> list[GcGuard]:
    from alu_client.ui.gc_guard import install_gc_guard

    return [install_gc_guard(app)]


# The app itself (the demo: its hub, engine, sync and the UI's workers all run): the collector
# is off while it runs and every collection is on the GUI thread.
_APP = """
import gc, sys, threading
from alu_client import app

seen = {"running": False, "enabled": None, "threads": set(), "count": 0, "workers": set()}


def record(phase, _info):
    if phase == "start" and seen["running"]:
        seen["threads"].add(threading.current_thread().name)
        seen["count"] += 1
        # the threads running beside it (read here: at the exit, they may have ended)
        seen["workers"] |= {t.name.split("-")[0] for t in threading.enumerate()} - {"MainThread"}


gc.callbacks.append(record)
real_start = app.Desk.start


def start(self):
    seen["running"] = True
    seen["enabled"] = gc.isenabled()
    return real_start(self)


app.Desk.start = start
code = app.main(sys.argv[1:])
seen["running"] = False  # (the app is over: what the interpreter collects after is not its)
workers = sorted(seen["workers"])
print(f"GC enabled={seen['enabled']} collections={seen['count']} "
      f"on={sorted(seen['threads'])} workers={workers}", flush=True)
sys.exit(code)
"""


def test_the_running_app_collects_only_on_the_gui_thread(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_DEMO_CLIP_SECONDS": "0.3",
        "ALU_DEMO_CLIP_SIZE": "160x96",
        # 3 s of the running app: ~15 collections, with every worker thread up (6 s took 12 s)
        "ALU_CLIENT_EXIT_AFTER": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    env.pop("ALU_CLIENT_HOME", None)
    done = subprocess.run(
        [sys.executable, "-c", _APP, "--demo", "--data", str(tmp_path / "home")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("GC "))
    assert "GC enabled=False " in line and " on=['MainThread'] " in line, line
    assert int(line.split("collections=")[1].split()[0]) >= 1, line
    assert "workers=[]" not in line, line  # threads did run alongside
