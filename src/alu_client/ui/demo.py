"""``alu-client --demo``: the app on an embedded demo hub, apart from any real profile.

The hub runs in this process on 127.0.0.1 (port 8750 when free, else any free port, kept for
the next run so the library's links stay valid), with its data in ``<data>/demo-hub``; the
client's own data (library, queue, downloads) is in ``<data>/demo-client``, so the demo never
mixes with a real profile. The first run makes ~30 clips (under a minute on two cores): a
progress dialog shows it, the work runs on a worker thread. Later runs reuse what was made.
The app signs in as the demo member (``demo``/``demo``) with a memory-only token.

``ALU_DEMO_CLIP_SECONDS`` and ``ALU_DEMO_CLIP_SIZE`` (``WIDTHxHEIGHT``) make the first seed
smaller and faster (tests, screenshots, CI).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import normalize_url
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles, sign_in
from alu_client.core.store import Store

from .tasks import TaskRunner

log = logging.getLogger(__name__)
T = TypeVar("T")

DEMO_USER = ("demo", "demo")
DEFAULT_PORT = 8750
HOST = "127.0.0.1"


@dataclass(frozen=True)
class SeedSize:
    clip_seconds: float = 4.0
    clip_size: tuple[int, int] = (1280, 720)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SeedSize:
        env = dict(os.environ) if env is None else env
        size = cls()
        seconds, dims = size.clip_seconds, size.clip_size
        try:
            if env.get("ALU_DEMO_CLIP_SECONDS"):
                seconds = max(0.2, float(env["ALU_DEMO_CLIP_SECONDS"]))
            if env.get("ALU_DEMO_CLIP_SIZE"):
                w, h = env["ALU_DEMO_CLIP_SIZE"].lower().split("x")
                dims = (max(64, int(w)) // 2 * 2, max(64, int(h)) // 2 * 2)
        except ValueError:
            log.warning("ignoring a bad ALU_DEMO_CLIP_SECONDS / ALU_DEMO_CLIP_SIZE")
        return cls(seconds, dims)


def demo_client_paths(data_dir: Path) -> Paths:
    """The demo client's own folders, under the app's data folder."""
    root = data_dir / "demo-client"
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


def _port_free(port: int) -> bool:
    """Whether the demo hub can listen on ``port``. Asked as the server asks (uvicorn sets
    SO_REUSEADDR): without it, the connections of the demo that just quit, in TIME_WAIT for a
    minute, made the port look taken, and the demo moved to another port — another profile, an
    empty library. (Windows' SO_REUSEADDR would take a port in use: not set there.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if os.name != "nt":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class DemoHub:
    """The embedded hub: ``prepare()`` (seed once; slow the first time), ``serve()``,
    ``stop()``."""

    def __init__(self, data_dir: Path, size: SeedSize | None = None) -> None:
        self.data_dir = data_dir / "demo-hub"
        self.size = size or SeedSize.from_env()
        self.hub: Any = None
        self.running: Any = None

    @property
    def url(self) -> str:
        assert self.running is not None, "the demo hub is not serving"
        return str(self.running.url)

    def prepare(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Build the hub and seed it if it is empty; how many items were made (0: reused)."""
        from alu_hub.app import build_hub
        from alu_hub.demo import seed_demo
        from alu_hub.settings import Settings

        self.hub = build_hub(Settings(data_dir=self.data_dir))
        made = seed_demo(
            self.hub,
            clip_seconds=self.size.clip_seconds,
            clip_size=self.size.clip_size,
            progress=progress,
        )
        log.info("demo hub in %s (%s)", self.data_dir, f"{made} items made" if made else "reused")
        return made

    def serve(self) -> str:
        from alu_hub.app import create_app
        from alu_hub.server import free_port, serve_in_thread

        assert self.hub is not None, "prepare() first"
        port_file = self.data_dir / "port"
        try:
            port = int(port_file.read_text().strip())
        except (OSError, ValueError):
            port = DEFAULT_PORT
        if not _port_free(port):
            port = free_port(HOST)
        self.running = serve_in_thread(create_app(self.hub.settings, self.hub), HOST, port)
        port_file.write_text(str(port))
        log.info("demo hub serving on %s", self.url)
        return self.url

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None
        if self.hub is not None:
            self.hub.db.dispose()
            self.hub = None


def sign_in_demo(paths: Paths, url: str, secrets: MemorySecrets) -> Profile:
    """Sign the demo client in as the demo member (plain HTTP on loopback is expected).

    The demo's hub is on another port when its own was taken (another demo running): its
    profile moves there, as "same hub, new address" does (its library's files and links
    follow; the hub's identity is checked), instead of a new profile with an empty library."""
    store = Store(paths.db_path)
    try:
        profiles = Profiles(store)
        url = normalize_url(url)
        name = None
        if profiles.find(url, DEMO_USER[0]) is None:
            earlier = [p for p in profiles.list() if p.username == DEMO_USER[0]]
            if len(earlier) == 1:
                name = earlier[0].name
        return sign_in(profiles, secrets, url, *DEMO_USER, allow_http=True, name=name)
    finally:
        store.close()


class _Progress(QObject):
    changed = Signal(int, int)


def run_with_progress(
    fn: Callable[[Callable[[int, int], None]], T],
    title: str,
    label: str,
    parent: QWidget | None = None,
    *,
    show_after_ms: int = 700,
) -> T:
    """Run ``fn(report)`` on a worker while a progress dialog (shown only when it takes a
    while) follows ``report(done, total)``; the GUI keeps painting. Returns ``fn``'s result
    or raises its exception."""
    tasks = TaskRunner()
    progress = _Progress()
    dialog = QProgressDialog(label, "", 0, 0, parent)
    dialog.setWindowTitle(title)
    dialog.setCancelButton(None)
    dialog.setMinimumDuration(show_after_ms)
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setAccessibleName(title)

    def report(done: int, total: int) -> None:
        dialog.setMaximum(max(total, 1))
        dialog.setValue(done)

    progress.changed.connect(report, Qt.ConnectionType.QueuedConnection)
    loop = QEventLoop()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def finished(result: Any) -> None:
        outcome["result"] = result
        done.set()
        loop.quit()

    def failed(error: BaseException) -> None:
        outcome["error"] = error
        done.set()
        loop.quit()

    # Qt applies the minimum duration from the first report only, and shows the dialog at
    # its own 4 s default meanwhile: work that reports nothing (a library's migration)
    # showed nothing for 4 s. Shown after show_after_ms however it reports.
    show = QTimer(dialog)
    show.setSingleShot(True)
    show.timeout.connect(lambda: None if done.is_set() else dialog.show())
    tasks.run(lambda: fn(progress.changed.emit), finished, failed)
    if not done.is_set():
        show.start(show_after_ms)
        loop.exec()
    show.stop()
    dialog.close()
    dialog.deleteLater()
    tasks.deleteLater()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


@dataclass
class DemoSession:
    hub: DemoHub
    paths: Paths
    secrets: MemorySecrets
    profile: Profile


def start_demo(data_dir: Path, parent: QWidget | None = None) -> DemoSession:
    """Seed (first time) and serve the demo hub, sign the demo client in; GUI thread."""
    demo = DemoHub(data_dir)
    paths = demo_client_paths(data_dir)
    secrets = MemorySecrets()

    def work(report: Callable[[int, int], None]) -> Profile:
        demo.prepare(report)
        url = demo.serve()
        return sign_in_demo(paths, url, secrets)

    try:
        profile = run_with_progress(
            work,
            QCoreApplication.translate("Demo", "ALU Desk demo"),
            QCoreApplication.translate(
                "Demo", "Preparing the demo feed: making the video clips (only the first time)…"
            ),
            parent,
        )
    except BaseException:
        demo.stop()
        raise
    return DemoSession(demo, paths, secrets, profile)
