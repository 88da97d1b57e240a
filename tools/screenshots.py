"""Render the main screens of ALU Desk offscreen, with demo data, to docs/screenshots/*.png.

    python tools/screenshots.py [--out docs/screenshots] [--data DIR]

Starts the embedded demo hub (a small, fast seed unless ``ALU_DEMO_CLIP_SECONDS`` /
``ALU_DEMO_CLIP_SIZE`` say otherwise) in ``--data`` (a temporary folder by default; pass one
to reuse its seed between runs), opens the main window at 1400×900, downloads one item, and
saves feed, transfers, library, history, settings and upload, then the feed in Arabic.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ALU_DEMO_CLIP_SECONDS", "1.0")
os.environ.setdefault("ALU_DEMO_CLIP_SIZE", "640x360")
# The screenshots should not depend on the machine's keyring or language.
os.environ["ALU_SECRETS"] = "memory"
os.environ.setdefault("LANGUAGE", "en")

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QAbstractItemView, QWidget  # noqa: E402

from alu_client.app import make_application  # noqa: E402
from alu_client.core.library import Query  # noqa: E402
from alu_client.core.services import Services  # noqa: E402
from alu_client.core.settings import AppSettings  # noqa: E402
from alu_client.ui.bridge import CoreBridge  # noqa: E402
from alu_client.ui.composition import RealPanels  # noqa: E402
from alu_client.ui.demo import start_demo  # noqa: E402
from alu_client.ui.i18n import build_missing_translations, install_translators  # noqa: E402
from alu_client.ui.main_window import (  # noqa: E402
    TAB_FEED,
    TAB_HISTORY,
    TAB_LIBRARY,
    TAB_TRANSFERS,
    MainWindow,
)
from alu_client.ui.tasks import TaskRunner  # noqa: E402


def pump(seconds: float) -> None:
    """Let the event loop run (paint, deliver worker results) for a while."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_for(cond: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: gave up waiting for {what}")
        pump(0.1)


def select_first_row(panel: QWidget) -> None:
    for view in panel.findChildren(QAbstractItemView):
        model = view.model()
        if view.isVisible() and model is not None and model.rowCount() > 0:
            view.setCurrentIndex(model.index(0, 0))
            return


def save(widget: QWidget, out: Path, name: str) -> None:
    pump(0.6)
    path = out / name
    if not widget.grab().save(str(path)):
        raise SystemExit(f"screenshots: could not write {path}")
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--data", type=Path, help="data folder (kept; reuses its demo seed)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="alu-screens-")
        data = Path(tmp.name)
    else:
        data = args.data.resolve()
    build_missing_translations()
    app = make_application()
    install_translators(app, "en")
    print("screenshots: preparing the demo hub…", flush=True)
    session = start_demo(data / "data")
    services = Services(session.paths, session.secrets)
    settings = AppSettings(services.store, session.paths.downloads_dir)
    services.start_engine(max_downloads=2)
    bridge = CoreBridge(services)
    tasks = TaskRunner()
    panels = RealPanels(services, settings, bridge, tasks)
    window = MainWindow(services, settings, bridge, tasks, panels, demo=True)
    try:
        window.resize(1400, 900)
        window.show()
        wait_for(lambda: services.library.count(Query()).count >= 20, 60, "the demo feed")
        newest = services.library.search(Query(limit=3)).items
        item = newest[1] if len(newest) > 1 else newest[0]
        services.download(item.id, "broadcast")

        def probed() -> bool:
            li = services.library.get(item.id)
            f = li.file("broadcast") if li else None
            return f is not None and f.probe is not None and bool(f.thumbnail)

        wait_for(probed, 90, "the download, its probe and thumbnail")
        pump(1.0)
        print(f"screenshots: saving to {out}", flush=True)
        window.tabs.setCurrentIndex(TAB_FEED)
        pump(0.5)
        select_first_row(window.feed)
        save(window, out, "feed.png")
        # A few downloads under a low limit, so that Transfers shows them on their way.
        queue = services.queue
        assert queue is not None
        queue.set_limits(24_000, None)
        more = services.library.search(Query(limit=8)).items[3:7]
        tids = [services.download(i.id, "broadcast") for i in more]
        queue.pause(tids[-1])

        def moving() -> bool:
            live = [p for p in queue.snapshot() if p.state == "active" and p.speed > 1000]
            return len(live) >= 2

        wait_for(moving, 30, "downloads on their way")
        window.tabs.setCurrentIndex(TAB_TRANSFERS)
        pump(1.5)
        save(window, out, "transfers.png")
        queue.set_limits(None, None)
        window.tabs.setCurrentIndex(TAB_LIBRARY)
        window.show_item(item.id)
        save(window, out, "library.png")
        window.tabs.setCurrentIndex(TAB_HISTORY)
        save(window, out, "history.png")

        dialog = panels.open_settings(window)
        if dialog is not None:
            save(dialog, out, "settings.png")
            dialog.close()
        lf = (services.library.get(item.id) or item).file("broadcast")
        if lf is not None:
            from alu_client.ui.views.upload import UploadDialog

            upload = UploadDialog.open_for(services, tasks, [Path(lf.path)], window)
            pump(2.0)  # the probe and thumbnail of the file in the form
            save(upload, out, "upload.png")
            upload.close()

        window.apply_language("ar")
        window.tabs.setCurrentIndex(TAB_FEED)
        pump(1.0)
        save(window, out, "feed-ar.png")
        window.apply_language("en")
    finally:
        window.quit()
        session.hub.stop()
        QCoreApplication.processEvents()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
