"""The self-test's run: the embedded hub and the checks through the real client (see the
package doc)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from alu_client import __version__
from alu_client.core.logsafe import quiet_libraries

from .basics import (
    DEFAULT_TIMEOUT,
    FAILED,
    HUB_ENV,
    OK,
    PLAY_MS,
    TIMEOUT_ENV,
    WARNING,
    CheckFailed,
    Outcome,
    Result,
    Warn,
    check_keyring,
    check_platform,
    check_translations,
    human_size,
    loopback_url,
    report_paths,
    seed_size,
    wait_until,
)
from .desktop import check_desktop

log = logging.getLogger(__name__)


class SelfTest:
    """The checks in order over one temporary data folder; ``run()`` returns the exit code."""

    def __init__(self, root: Path, out: TextIO | None, *, hub_url: str | None = None) -> None:
        from alu_client.core.paths import Paths

        self.root = root
        self.out = out
        self.hub_url = hub_url
        self.paths = Paths(
            root / "client" / "data",
            root / "client" / "cache",
            root / "client" / "logs",
            root / "client" / "downloads",
        ).ensure()
        self.results: list[Result] = []
        self.lines: list[str] = []
        self.current = ""
        self.demo: Any = None
        self.url = ""
        self.secrets: Any = None
        self.services: Any = None
        self.queue: Any = None
        self.downloaded: Path | None = None

    # --- reporting ----------------------------------------------------------------------------

    def say(self, line: str) -> None:
        self.lines.append(line)
        if self.out is not None:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):
                pass

    def passed(self, name: str) -> bool:
        return any(r.name == name and r.status != FAILED for r in self.results)

    def check(self, name: str, fn: Callable[[], Outcome], needs: tuple[str, ...] = ()) -> None:
        self.current = name
        missing = [n for n in needs if not self.passed(n)]
        started = time.monotonic()
        if missing:
            result = Result(name, FAILED, f"not run: {missing[0]} failed")
        else:
            log.info("self-test: %s", name)
            try:
                outcome = fn()
                if isinstance(outcome, Warn):
                    result = Result(name, WARNING, outcome.text)
                else:
                    result = Result(name, OK, outcome)
            except CheckFailed as e:
                result = Result(name, FAILED, str(e))
            except Exception as e:
                log.exception("self-test: %s failed", name)
                result = Result(name, FAILED, f"{type(e).__name__}: {e}")
        log.info("self-test: %s %s (%.1f s)", name, result.status, time.monotonic() - started)
        self.results.append(result)
        self.say(result.line())

    def run(self) -> int:
        started = time.monotonic()
        self.check("platform", check_platform)
        self.check("desktop", check_desktop)
        self.check("translations", check_translations)
        self.check("keyring", check_keyring)
        self.check("hub", self.check_hub)
        self.check("sign-in", self.check_sign_in, needs=("hub",))
        self.check("feed", self.check_feed, needs=("sign-in",))
        self.check("update check", self.check_update, needs=("sign-in",))
        self.check("download", self.check_download, needs=("feed",))
        self.check("playback", self.check_playback, needs=("download",))
        self.check("upload", self.check_upload, needs=("sign-in",))
        self.check("window", self.check_window, needs=("feed",))
        self.current = "clean-up"
        self.close()
        failed = [r for r in self.results if r.status == FAILED]
        warned = [r for r in self.results if r.status == WARNING]
        took = time.monotonic() - started
        if failed:
            self.say(
                f"self-test FAILED: {len(failed)} of {len(self.results)} checks failed "
                f"({took:.1f} s)"
            )
        else:
            extra = f", {len(warned)} with a warning" if warned else ""
            self.say(f"self-test passed: {len(self.results)} checks{extra} ({took:.1f} s)")
        return 1 if failed else 0

    def close(self) -> None:
        if self.services is not None:
            try:
                self.services.stop()
            except Exception:
                log.exception("self-test: stopping the client core")
            self.services = None
        if self.demo is not None:
            try:
                self.demo.stop()
            except Exception:
                log.exception("self-test: stopping the demo hub")
            self.demo = None

    # --- the hub ------------------------------------------------------------------------------

    def check_hub(self) -> Outcome:
        from alu_client.ui.demo import HOST, DemoHub

        if self.hub_url is not None:
            import requests

            self.url = loopback_url(self.hub_url)
            try:
                answer = requests.get(f"{self.url}/openapi.json", timeout=10)
                title = str(answer.json()["info"]["title"])
            except (requests.RequestException, ValueError, KeyError, TypeError) as e:
                raise CheckFailed(f"no hub answers at {self.url} ({type(e).__name__})") from None
            return f"{title} at {self.url} ({HUB_ENV})"
        from alu_hub.server import free_port

        size = seed_size()
        self.demo = DemoHub(self.root, size)
        self.demo.data_dir.mkdir(parents=True, exist_ok=True)
        # A port of its own: the real demo keeps 8750.
        (self.demo.data_dir / "port").write_text(str(free_port(HOST)))
        started = time.monotonic()
        made = self.demo.prepare()
        self.url = self.demo.serve()
        w, h = size.clip_size
        return (
            f"embedded demo hub on {self.url}: {made} items made "
            f"({size.clip_seconds:g} s clips at {w}x{h}) in {time.monotonic() - started:.1f} s"
        )

    def check_sign_in(self) -> Outcome:
        from alu_client.core import hub
        from alu_client.core.credentials import MemorySecrets
        from alu_client.core.services import Services
        from alu_client.ui.demo import sign_in_demo

        self.secrets = MemorySecrets()  # never the user's keyring
        started = time.monotonic()
        try:
            profile = sign_in_demo(self.paths, self.url, self.secrets)
        except hub.HubError as e:
            raise CheckFailed(f"{self.url}: {e}") from None
        self.services = Services(self.paths, self.secrets)
        return (
            f"{profile.username} ({profile.display_name}) on {profile.url} "
            f"in {time.monotonic() - started:.1f} s"
        )

    def check_feed(self) -> Outcome:
        from alu_client.core import hub
        from alu_client.core.library import Query

        started = time.monotonic()
        try:
            new = self.services.feed_sync().catch_up()
        except hub.HubError as e:
            raise CheckFailed(str(e)) from None
        count = self.services.library.count(Query()).count
        if count == 0:
            raise CheckFailed("the hub's feed is empty")
        return f"{new} items pulled in {time.monotonic() - started:.1f} s; the library has {count}"

    def check_update(self) -> Outcome:
        from alu_client.core import hub
        from alu_client.ui.statusbar import newer_version

        try:
            current = self.services.client().current_client_version()
        except hub.HubError as e:
            raise CheckFailed(f"the hub did not say which version is current: {e}") from None
        if newer_version(current, __version__):
            return f"ALU Desk {current} is available (this is {__version__})"
        return f"the hub distributes {current}; this is {__version__}: up to date"

    # --- transfers ----------------------------------------------------------------------------

    def engine(self) -> Any:
        if self.queue is None:
            self.queue = self.services.start_engine(
                sync=False, rules=False, hot_folders=False, media=False
            )
        return self.queue

    def wait_transfer(self, tid: int, timeout: float) -> Any:
        queue = self.engine()
        queue.resume(tid)
        t = queue.wait_for(tid, timeout=timeout)
        if t.state != "done":
            why = t.last_error or f"still {t.state} after {timeout:.0f} s"
            raise CheckFailed(f"{t.direction} {t.id}: {why}")
        return t

    def check_download(self) -> Outcome:
        from alu_client.core import hub
        from alu_client.core.library import Query
        from alu_client.core.uploads import file_sha256

        items = self.services.library.search(Query(limit=200)).items
        with_file = [
            (r.size, li.item, r)
            for li in items
            if (r := li.item.rendition("broadcast")) is not None
        ]
        if not with_file:
            raise CheckFailed("no item in the feed has a file to download")
        _size, item, rendition = min(with_file, key=lambda x: x[0])
        self.engine()
        started = time.monotonic()
        try:
            tid = self.services.download(item.id, "broadcast")
        except hub.HubError as e:
            raise CheckFailed(str(e)) from None
        t = self.wait_transfer(tid, 120.0)
        took = time.monotonic() - started
        path = Path(t.destination)
        if not path.is_file():
            raise CheckFailed(f"the queue said done but {path} is not there")
        size = path.stat().st_size
        digest = file_sha256(path)  # again, here: not the engine's word for it
        if size != rendition.size:
            raise CheckFailed(f"{path.name}: {size} bytes, the hub says {rendition.size}")
        if digest != rendition.sha256:
            raise CheckFailed(f"{path.name}: sha256 {digest[:16]}, the hub says {rendition.sha256}")
        self.downloaded = path
        return f"item {item.id}: {human_size(size)} in {took:.1f} s, sha256 {digest[:12]} verified"

    def check_upload(self) -> Outcome:
        from alu_client.core import hub
        from alu_client.core.uploads import FieldError, UploadFields
        from alu_hub.media import generate_clip

        clip = self.root / "self-test upload.mp4"
        generate_clip(clip, seconds=1.0, width=160, height=96, seed=7, tone_hz=660.0)
        fields = UploadFields(
            title="ALU Desk self-test",
            slug="ALU-SELF-TEST",
            dateline="SELF TEST",
            language="en",
            priority="routine",
            script="Made by alu-client --self-test on this workstation.",
        )
        self.engine()
        started = time.monotonic()
        try:
            tid = self.services.upload(clip, fields)
        except (FieldError, hub.HubError) as e:
            raise CheckFailed(str(e)) from None
        t = self.wait_transfer(tid, 180.0)
        item_id = t.result.get("item_id")
        if not item_id:
            raise CheckFailed("uploaded, but the hub did not publish it in time")
        took = time.monotonic() - started
        try:
            self.services.feed_sync().catch_up()
        except hub.HubError as e:
            raise CheckFailed(f"published as item {item_id}, then the feed failed: {e}") from None
        if self.services.library.get(item_id) is None:
            raise CheckFailed(f"published as item {item_id}, but it is not in the feed")
        return (
            f"{human_size(clip.stat().st_size)} via tus, published as item {item_id} "
            f"in {took:.1f} s and in the feed"
        )

    # --- Qt: the player and the window --------------------------------------------------------

    def check_playback(self) -> Outcome:
        from PySide6.QtCore import QUrl
        from PySide6.QtMultimedia import QMediaDevices, QMediaPlayer
        from PySide6.QtQml import QQmlComponent, QQmlEngine

        from alu_client.ui.widgets.player import PlayerWidget

        assert self.downloaded is not None
        # The player's audio output is made by QML (stopping never hangs): its types must load.
        engine = QQmlEngine()
        component = QQmlComponent(engine)
        component.setData(b"import QtMultimedia\nAudioOutput {}", QUrl())
        made = component.create()
        if made is None:
            raise CheckFailed(
                f"QtMultimedia's QML types are missing: {component.errorString().strip()}"
            )
        made.deleteLater()
        engine.deleteLater()

        w = PlayerWidget()
        frames = [0]
        errors: list[str] = []
        w.video_widget.videoSink().videoFrameChanged.connect(
            lambda _f: frames.__setitem__(0, frames[0] + 1)
        )
        w.error_occurred.connect(errors.append)
        try:
            w.resize(480, 320)
            w.show()
            w.load(self.downloaded)
            w.play()
            player = w.player
            playing = QMediaPlayer.PlaybackState.PlayingState
            if not wait_until(lambda: player.playbackState() == playing or bool(errors), 15.0):
                raise CheckFailed(f"the player did not start ({player.mediaStatus().name})")
            if errors:
                raise CheckFailed(f"the player failed: {errors[0]} ({player.errorString()})")
            start_pos, started = player.position(), time.monotonic()
            reached = wait_until(
                lambda: player.position() - start_pos >= PLAY_MS or bool(errors), 15.0
            )
            wall = time.monotonic() - started
            played = player.position() - start_pos
            if errors or not reached:
                why = errors[0] if errors else f"the position moved {played} ms in {wall:.1f} s"
                raise CheckFailed(why)
            if frames[0] == 0:
                raise CheckFailed(f"played {played} ms but no picture came")
            device = QMediaDevices.defaultAudioOutput()
            sound = "no sound device (picture only)" if device.isNull() else device.description()
            return (
                f"{played / 1000:.1f} s played in {wall:.1f} s, {frames[0]} frames; sound: {sound}"
            )
        finally:
            w.clear()
            w.close()
            w.deleteLater()

    def check_window(self) -> Outcome:
        from alu_client.core.services import Services
        from alu_client.core.settings import AppSettings
        from alu_client.ui.bridge import CoreBridge
        from alu_client.ui.composition import RealPanels
        from alu_client.ui.main_window import MainWindow
        from alu_client.ui.tasks import TaskRunner

        # The app's own way: a fresh core with the whole engine (sync, rules, hot folders,
        # media), then the window with the real panels.
        if self.services is not None:
            self.services.stop()
            self.services = self.queue = None
        services = Services(self.paths, self.secrets)
        settings = AppSettings(services.store, self.paths.downloads_dir)
        try:
            services.start_engine()  # with the saved caps, limits and schedule
        except BaseException:
            services.stop()
            raise
        started = time.monotonic()
        bridge = CoreBridge(services)
        tasks = TaskRunner()
        panels = RealPanels(services, settings, bridge, tasks)
        window = MainWindow(services, settings, bridge, tasks, panels, demo=True)
        bridge.setParent(window)
        tasks.setParent(window)
        try:
            window.show()
            if panels.failures:
                names = ", ".join(f"{k} ({type(e).__name__})" for k, e in panels.failures.items())
                raise CheckFailed(f"panels that could not be built: {names}")
            model = getattr(window.feed, "model", None)
            if model is None or not wait_until(lambda: model.rowCount() > 0, 20.0):
                raise CheckFailed("the feed panel showed no items")
            return (
                f"{window.tabs.count()} panels, the feed shows {model.rowCount()} items "
                f"({time.monotonic() - started:.1f} s)"
            )
        finally:
            window.shutdown()  # stops the engine and closes the store
            window.hide()
            window.deleteLater()
            wait_until(lambda: False, 0.1)  # let the deletions happen


# --- entry point ------------------------------------------------------------------------------


class _Chatter:
    """The process's stderr (Qt's and FFmpeg's messages, written by C code) and the log go
    to one file beside the report while the checks run, so the report stays readable; the
    file is kept, and named in the report when a check failed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler = logging.FileHandler(path, mode="w", encoding="utf-8")
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        self._saved_fd: int | None = None

    def __enter__(self) -> _Chatter:
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.handler)
        quiet_libraries(self.handler)
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            stream = self.handler.stream
            if stream is not None:
                self._saved_fd = os.dup(2)
                os.dup2(stream.fileno(), 2)
        except OSError:  # no stderr at all (a Windows app without a console): nothing to hide
            self._saved_fd = None
        return self

    def __exit__(self, *_exc: object) -> None:
        self.handler.flush()
        if self._saved_fd is not None:
            with contextlib.suppress(OSError):
                os.dup2(self._saved_fd, 2)
                os.close(self._saved_fd)
            self._saved_fd = None
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()


def _watchdog(
    test: SelfTest, seconds: float, keep: Callable[[], None], where: str
) -> threading.Timer:
    """End a run that hangs (a driver, a device): a FAILED line, the files kept (``where``
    says where), exit 1."""

    def fire() -> None:
        line = Result(test.current or "self-test", FAILED, f"stuck: no end in {seconds:g} s")
        test.say(line.line())
        test.say(f"self-test FAILED: it did not finish in {seconds:g} s")
        test.say(where)
        keep()
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_self_test(out: TextIO | None = None) -> int:
    """``alu-client --self-test``: the exit code (0 only when every check passed)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = out if out is not None else sys.stdout
    if isinstance(out, io.TextIOWrapper):  # a console that cannot show every character
        with contextlib.suppress(ValueError):
            out.reconfigure(errors="replace")
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    report, log_file = report_paths()
    build = "installed build" if getattr(sys, "frozen", False) else "from source"
    header = (
        f"ALU Desk {__version__} self-test ({build}; {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}; {dt.datetime.now().isoformat(timespec='seconds')})"
    )
    if out is not None:
        print(header, file=out, flush=True)

    with (
        tempfile.TemporaryDirectory(prefix="alu-selftest-", ignore_cleanup_errors=True) as tmp,
        _Chatter(log_file),
    ):
        test = SelfTest(Path(tmp), out, hub_url=os.environ.get(HUB_ENV) or None)
        test.lines.append(header)

        def keep_report() -> None:
            with contextlib.suppress(OSError):
                report.write_text("\n".join(test.lines) + "\n", encoding="utf-8")

        timer = _watchdog(
            test, timeout, keep_report, f"report saved to {report}; the log: {log_file}"
        )
        try:
            from alu_client.app import make_application

            make_application()
            code = test.run()
        finally:
            timer.cancel()
            test.close()
        test.say(f"report saved to {report}" + (f"; the log: {log_file}" if code else ""))
        keep_report()
    return code


__all__ = [
    "CheckFailed",
    "Result",
    "SelfTest",
    "Warn",
    "check_keyring",
    "check_platform",
    "check_translations",
    "run_self_test",
]
