"""GUI tests: the real transfer queue on a real store, with stand-in jobs (no network), driven
through the widgets as a user would. English unless a test switches language; the ``.qm``
catalogues are built once per session from the ``.ts`` sources."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QAccessibleEvent,
    QColor,
    QPalette,
)
from PySide6.QtWidgets import QApplication, QWidget

from alu_client.core.store import Store
from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers.base import TransferContext
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from alu_client.ui.gc_guard import GcGuard
from alu_client.ui.i18n import build_translations, install_translators
from alu_client.ui.views.transfers import TransfersPanel


class FakeJobs:
    """Jobs that move ``blocks`` blocks of 1 KiB through the meter, honouring the control
    (as in tests/client/test_queue.py); ``blocks_for`` sets the length of one transfer."""

    def __init__(self, blocks: int = 50, block_time: float = 0.005) -> None:
        self.blocks = blocks
        self.block_time = block_time
        self.blocks_for: dict[int, int] = {}
        self.fail_plan: dict[int, list[Exception]] = {}
        self.started: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, t: Transfer, ctx: TransferContext) -> dict[str, Any]:
        with self.lock:
            self.started.append(t.id)
        plan = self.fail_plan.get(t.id)
        if plan:
            raise plan.pop(0)
        blocks = self.blocks_for.get(t.id, self.blocks)
        start = int(ctx.checkpoint.load().get("done", 0))
        ctx.progress(start * 1024, blocks * 1024)
        for n in range(start, blocks):
            ctx.meter(1024)
            ctx.control.check()
            if n % 10 == 0:
                ctx.checkpoint.save({"done": n + 1})
            ctx.control.wait(self.block_time)
        return {"size": blocks * 1024}


def add(q: TransferQueue, name: str, priority: str = "routine") -> int:
    return q.add_download(
        f"http://127.0.0.1:9/{name}", Path(f"/nonexistent/{name}"), label=name, priority=priority
    )


@pytest.fixture(scope="session", autouse=True)
def _translations_built() -> None:
    build_translations()


@pytest.fixture(scope="package", autouse=True)
def _gc_on_the_gui_thread(qapp: QApplication) -> Iterator[GcGuard]:
    """The suite's QApplication collects garbage as the app's does (``ui/gc_guard.py``): only on
    the GUI thread. Without it Python's collector ran on whichever thread crossed its threshold
    (a queue's, a task's, a probe's), and a Qt object in a cycle destroyed there can crash a
    later test with no traceback. The guard's own tests set it aside (``suite_gc_guard_aside``);
    the tests after this package's have the collector as Python has it."""
    guard = GcGuard(qapp)
    yield guard
    guard.uninstall()
    guard.setParent(None)


@pytest.fixture(autouse=True)
def _no_gc_guard_left(qapp: QApplication, _gc_on_the_gui_thread: GcGuard) -> Iterator[None]:
    """A test that runs ``app.main`` here (``make_application``) keeps the suite's guard (it
    finds it); a guard a test made of its own goes with its test, and the collector is left as
    the test found it (off, the suite's guard at work)."""
    enabled = gc.isenabled()
    before = {id(guard) for guard in qapp.findChildren(GcGuard)}
    yield
    for guard in qapp.findChildren(GcGuard):
        if id(guard) not in before:
            guard.uninstall()
            guard.setParent(None)  # (Python's again: gone with its last reference)
    if enabled != gc.isenabled():
        (gc.enable if enabled else gc.disable)()


@pytest.fixture
def suite_gc_guard_aside(qapp: QApplication, _gc_on_the_gui_thread: GcGuard) -> Iterator[None]:
    """For the guard's own tests: the suite's guard off the application and the collector on,
    as a process without a guard has it; put back after."""
    suite = _gc_on_the_gui_thread
    suite.uninstall()  # (it found the collector on: it turns it back on)
    suite.setParent(None)
    try:
        yield
    finally:
        suite.setParent(qapp)
        gc.disable()
        suite._timer.start()


@pytest.fixture(autouse=True)
def english(qapp: QApplication) -> Iterator[None]:
    install_translators(qapp, "en")
    yield
    install_translators(qapp, "en")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.fixture
def jobs() -> FakeJobs:
    # 300 blocks of 10 ms: about 3 s per transfer, long enough to pause it mid-way
    return FakeJobs(blocks=300, block_time=0.01)


def make_queue(store: Store, jobs: FakeJobs, **kw: Any) -> TransferQueue:
    return TransferQueue(
        store,
        jobs={"download": jobs, "upload": jobs},
        policy=RetryPolicy(Backoff(base=0.05, cap=0.1)),
        progress_interval=0.05,
        **kw,
    )


@pytest.fixture
def queue(store: Store, jobs: FakeJobs) -> Iterator[TransferQueue]:
    """A queue that is not started: transfers stay queued (order, filters, limits)."""
    q = make_queue(store, jobs, max_downloads=2)
    yield q
    q.stop()


@pytest.fixture
def panel(qtbot: Any, queue: TransferQueue) -> Iterator[TransfersPanel]:
    p = TransfersPanel(queue)
    qtbot.addWidget(p)
    p.resize(1100, 420)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.tasks.wait_for_done()


def press_shortcut(qtbot: Any, widget: QWidget, key: Qt.Key, *, shift: bool = False) -> None:
    """Ctrl(+Shift)+``key`` on ``widget``, as a person types it. QTest leaves Shift held in
    the application's modifiers after such a click (offscreen): the next test's selectRow
    then toggled rows off, as a Shift/Ctrl-click does; so both are released here."""
    mods = Qt.KeyboardModifier.ControlModifier
    if shift:
        mods |= Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(widget, key, mods)
    qtbot.keyRelease(widget, Qt.Key.Key_Shift)
    qtbot.keyRelease(widget, Qt.Key.Key_Control)
    assert QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier


# --- a dark desktop theme, and what a screen reader is told -------------------------------------

#: a dark palette as KDE/GNOME dark or Windows' dark mode give Qt (the a11y review's)
DARK = {
    "Window": "#2b2b2b",
    "WindowText": "#e6e6e6",
    "Base": "#1e1e1e",
    "AlternateBase": "#262626",
    "Text": "#e6e6e6",
    "Button": "#353535",
    "ButtonText": "#e6e6e6",
    "Highlight": "#2a82da",
    "HighlightedText": "#ffffff",
}


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2's contrast ratio (worked out here, not with the app's own helper)."""

    def lum(c: QColor) -> float:
        def ch(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def dark_palette(qapp: QApplication) -> Iterator[QPalette]:
    """The application on a dark palette for the test (its own palette back after it)."""
    kept = QPalette(qapp.palette())
    dark = QPalette(kept)
    for role, color in DARK.items():
        dark.setColor(getattr(QPalette.ColorRole, role), QColor(color))
    qapp.setPalette(dark)
    qapp.processEvents()  # the widgets already made take it (posted)
    yield dark
    qapp.setPalette(kept)
    qapp.processEvents()


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the app announced to screen readers: (message, politeness name), in order."""
    said: list[tuple[str, str]] = []
    update = QAccessible.updateAccessibility

    def record(event: QAccessibleEvent) -> None:
        if isinstance(event, QAccessibleAnnouncementEvent):
            said.append((event.message(), event.politeness().name))
        update(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", record)
    return said
