"""``alu-client``: the desktop app's entry point and composition root.

Start-up, in order: the arguments (``--demo``, ``--data DIR``, ``--language``, ``--minimized``);
a rotating log in the log folder (the core never logs a token or a password); the Qt
application and its translations, before any widget; one app per data folder (a second launch
raises the first and exits 0); the token store (no keyring: the user is asked, never
silently, whether a file that is not secure will do); the sign-in dialog when there is no
profile or no token; the engine (one per data folder: ``alu watch run`` may hold it — then we
say so and exit 1); the main window with the real panels.

``--demo`` runs all of that on an embedded demo hub with its own folders (``ui/demo.py``).
``ALU_CLIENT_EXIT_AFTER=SECONDS`` quits after that long, with exit code 0 only when the
window was shown and the feed has items (smoke tests, CI).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from alu_client import __version__
from alu_client.core.credentials import (
    NoKeyring,
    Secrets,
    SecretsError,
    accepted_plain_file,
    open_secrets,
)
from alu_client.core.fstype import UnsuitableDataFolder
from alu_client.core.library import Query
from alu_client.core.lockfile import EngineBusy
from alu_client.core.logfile import enable_crash_log, file_log
from alu_client.core.logsafe import quiet_libraries
from alu_client.core.paths import Paths, default_paths
from alu_client.core.profiles import Profiles, sign_out
from alu_client.core.services import Services
from alu_client.core.settings import LANGUAGES, AppSettings, saved_language
from alu_client.core.store import (
    SchemaTooNew,
    Store,
    steps_pending,
)
from alu_client.core.store.problems import refuse_too_deep
from alu_client.core.sync import SIGNED_OUT, SyncStatus
from alu_client.ui import plain_text
from alu_client.ui.signin import (
    ask_insecure_file,
    cannot_write_text,
    engine_busy_text,
    hub_not_told_text,
    library_problem_text,
    newer_library_text,
    not_answering_text,
    startup_text,
    unsuitable_folder_text,
)

if TYPE_CHECKING:
    from alu_client.ui.signin import SignInDialog

log = logging.getLogger("alu_client.app")
EXIT_AFTER_ENV = "ALU_CLIENT_EXIT_AFTER"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="alu-client", description="ALU Desk, the member's transfer client."
    )
    p.add_argument("--demo", action="store_true", help="run on the embedded demo hub")
    p.add_argument("--data", metavar="DIR", help="data folder (the same as ALU_CLIENT_HOME=DIR)")
    p.add_argument("--language", choices=LANGUAGES, help="language for this run")
    p.add_argument("--minimized", action="store_true", help="start in the tray (or minimized)")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation offscreen on a temporary demo hub, print a report",
    )
    p.add_argument("--version", action="version", version=f"ALU Desk {__version__}")
    args = p.parse_args(argv)
    if args.data == "":  # (a launcher's --data "$DIR", DIR unset: the default folder, as alu's)
        p.error("--data needs a folder (it was given empty): alu-client --data DIR")
    return args


def setup_logging(log_dir: Path) -> None:
    handler = file_log(log_dir)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("alu-client: %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    root.addHandler(console)
    # Request lines would carry URLs; never let a chatty library log headers or bodies.
    quiet_libraries(handler, console)
    enable_crash_log(log_dir)


def make_application() -> QApplication:
    from alu_client.ui.composition import app_icon
    from alu_client.ui.gc_guard import install_gc_guard

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ALU Desk")
    app.setOrganizationName("Africa Link Union")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("alu-client")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the window may live on in the tray
    # Python's collector only on this thread: run on a worker, it destroyed Qt objects there
    # (a model's timer), and the app segfaulted with no traceback (ui/gc_guard.py).
    install_gc_guard(app)
    return app


class Desk(QObject):
    """The running app: its services, window and (for ``--demo``) the embedded hub."""

    def __init__(self, app: QApplication, paths: Paths, args: argparse.Namespace) -> None:
        super().__init__()
        self.app = app
        self.paths = paths
        self.args = args
        self.demo_session: Any = None
        self.window: Any = None
        self.services: Services | None = None
        self.exit_code = 0
        self.window_shown = False
        self._asking_sign_in = False
        self._stopped_for_move = False
        #: the sign-in dialog while it is shown (a second launch raises it, not the window)
        self._sign_in_dialog: SignInDialog | None = None
        #: a stop signal came (``request_quit``): the start goes no further than where it is
        self.stop_requested = False
        #: what must not be cut off half-way while it runs (the library update, the engine's
        #: start, the sign-out): a stop signal waits for its end
        self._finishing = ""
        app.applicationStateChanged.connect(self._on_application_state)

    # --- start ------------------------------------------------------------------------------

    def _library_refused(self, e: Exception, db_path: Path) -> int:
        """The library cannot be opened: said (in the language "Updating your library…" was
        said in), exit 1."""
        from alu_client.ui.i18n import install_translators

        install_translators(self.app, self.args.language or saved_language(db_path))
        if isinstance(e, SchemaTooNew):
            text = newer_library_text(e.current, e.newest)
        elif isinstance(e, UnsuitableDataFolder):  # a network share's
            text = unsuitable_folder_text(e)
        else:
            text = library_problem_text(e, db_path)
        self._critical(startup_text("library"), text)
        return 1

    def start(self) -> int | None:
        """Everything before the event loop; an exit code when the app must not go on."""
        from alu_client.ui.demo import demo_client_paths
        from alu_client.ui.i18n import install_translators
        from alu_client.ui.single_instance import NotAnswering, SingleInstance, instance_key

        client_paths = demo_client_paths(self.paths.data_dir) if self.args.demo else self.paths
        try:  # before the instance lock: it made the data folder behind "nothing was changed"
            refuse_too_deep(client_paths.db_path)
        except sqlite3.OperationalError as e:
            return self._library_refused(e, client_paths.db_path)
        self.single = SingleInstance(
            instance_key(client_paths.data_dir), self, lock_dir=client_paths.data_dir
        )
        try:
            if not self.single.claim():
                print("alu-client: ALU Desk is already running on this data folder; raised it.")
                return 0
        except NotAnswering:  # frozen: saying "raised it" was untrue
            language = self.args.language or saved_language(client_paths.db_path)
            install_translators(self.app, language)
            self._critical(startup_text("busy"), not_answering_text())
            return 1
        except OSError as e:  # its lock file cannot be made: a read-only or full folder
            language = self.args.language or saved_language(client_paths.db_path)
            install_translators(self.app, language)
            self._critical(startup_text("folders"), cannot_write_text(client_paths.data_dir, e))
            return 1
        # answered from now on, whatever is on screen (the library update, the sign-in, the
        # window): connected only with the window, a second launch during a sign-in longer
        # than its 5 s wait said "does not answer"
        self.single.message_received.connect(self._raise_for_second_launch)
        try:
            store = self._open_store(client_paths.db_path)
        except Exception as e:  # a newer app's database, a broken file: say it, stop
            return self._library_refused(e, client_paths.db_path)
        if self._stop_asked():  # during the library update, which finished first
            store.close()
            return 0
        settings = AppSettings(store, client_paths.downloads_dir)
        install_translators(self.app, self.args.language or settings.language)
        secrets: Secrets | None
        if self.args.demo:
            with self._not_cut_off("the demo's start"):
                secrets = self._start_demo()
        else:
            secrets = self._open_secrets()
            if secrets is not None:
                secrets = self._ensure_signed_in(store, secrets)
                if secrets is None:
                    store.close()
                    return 0  # the user closed the sign-in (or a stop signal did)
        if secrets is None:
            store.close()
            return 0 if self._stop_asked() else 1  # (no keyring: the question closed)
        if self._stop_asked():  # a sign-in on its way when it came: kept whole, then stop
            store.close()
            return 0
        return self._launch(Services(client_paths, secrets, store=store), settings)

    def _open_store(self, db_path: Path) -> Store:
        """The library. The first start after an update migrates it, on a worker behind a
        progress dialog in the saved language: remaking the search index of a large library
        takes a while (13 s for 100,000 items, docs/benchmarks.md), and the app showed nothing
        meanwhile."""
        if not steps_pending(db_path):
            return Store(db_path)
        from alu_client.ui.demo import run_with_progress
        from alu_client.ui.i18n import install_translators

        install_translators(self.app, self.args.language or saved_language(db_path))
        log.info("updating the library %s to this version", db_path)
        with self._not_cut_off("the library update"):
            return run_with_progress(
                lambda _report: Store(db_path), "ALU Desk", startup_text("updating")
            )

    def _stop_asked(self) -> bool:
        """Whether a stop signal came (asked afresh at each step: it comes at any time)."""
        return self.stop_requested

    @contextlib.contextmanager
    def _not_cut_off(self, what: str) -> Iterator[None]:
        """``what`` runs to its end even when a stop signal comes meanwhile (``request_quit``
        only notes it): the library update is one transaction, and cut off it rolled back, to
        be done again from the start at the next launch."""
        self._finishing = what
        try:
            yield
        finally:
            self._finishing = ""

    def _start_demo(self) -> Secrets | None:
        from alu_client.ui.demo import start_demo

        try:
            self.demo_session = start_demo(self.paths.data_dir)
        except Exception as e:
            log.exception("the demo could not start")
            self._critical(startup_text("demo"), str(e))
            return None
        return self.demo_session.secrets  # type: ignore[no-any-return]

    def _open_secrets(self) -> Secrets | None:
        try:
            return open_secrets(self.paths)
        except NoKeyring as e:
            earlier = accepted_plain_file(self.paths)
            if earlier is not None:  # accepted at an earlier start (or by `alu login`)
                log.warning("no keyring: using the insecure sign-in file accepted earlier")
                return earlier
            if ask_insecure_file(str(e)):
                log.warning("no keyring: the user accepted an insecure sign-in file")
                return accepted_plain_file(self.paths, accept=True)
            return None
        except SecretsError as e:
            self._critical(startup_text("secrets"), str(e))
            return None

    def _ensure_signed_in(
        self, store: Store, secrets: Secrets, *, notice: str = "", force: bool = False
    ) -> Secrets | None:
        """The store holding a token for the active profile, after the sign-in dialog if
        needed; None when the user closed it."""
        from alu_client.ui.signin import SignInDialog

        profiles = Profiles(store)
        profile = profiles.active()
        if profile is not None and not force:
            try:
                if secrets.get(profile.secret_key):
                    return secrets
            except SecretsError as e:
                notice = str(e)
        window = self.window
        self._stopped_for_move = False

        def before_move() -> None:  # the profile moves to its hub's new address: the queue's
            # addresses change under it, so this app's engine stops first (started again with
            # the new window; the sign-in refuses while another process's engine runs)
            if window is not None:
                self._stopped_for_move = True
                window.shutdown()

        dialog = SignInDialog(
            profiles,
            secrets,
            profile=profile,
            notice=notice,
            engine_lock=(self.services.paths if self.services else self.paths).engine_lock,
            before_move=before_move,
        )
        self._sign_in_dialog = dialog
        try:
            accepted = dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            self._sign_in_dialog = None
        if not accepted or dialog.result_ is None:
            return None
        return dialog.result_.secrets

    def _launch(self, services: Services, settings: AppSettings) -> int | None:
        from alu_client.ui.bridge import CoreBridge
        from alu_client.ui.composition import RealPanels
        from alu_client.ui.demo import run_with_progress
        from alu_client.ui.main_window import MainWindow
        from alu_client.ui.tasks import TaskRunner

        def start_engine(_report: Any) -> None:
            # the saved caps, limits and schedule: applied by the core, as for the CLI
            services.start_engine()

        try:
            with self._not_cut_off("the engine's start"):
                run_with_progress(
                    start_engine,
                    "ALU Desk",
                    startup_text("starting"),
                )
        except EngineBusy as e:
            services.stop()
            self._critical(startup_text("busy"), engine_busy_text(e))
            return 1
        except UnsuitableDataFolder as e:  # its file system cannot lock files
            services.stop()
            self._critical(startup_text("library"), unsuitable_folder_text(e))
            return 1
        except OSError as e:  # its lock file cannot be made (a folder in its way, root's)
            services.stop()
            folder = Path(os.fsdecode(e.filename)) if e.filename else services.paths.data_dir
            self._critical(startup_text("folders"), cannot_write_text(folder, e))
            return 1
        if self._stop_asked():  # during the engine's start: stopped again, no window
            services.stop()
            return 0
        self.services = services
        bridge = CoreBridge(services)
        tasks = TaskRunner()
        panels = RealPanels(services, settings, bridge, tasks)
        window = MainWindow(services, settings, bridge, tasks, panels, demo=self.args.demo)
        bridge.setParent(window)
        tasks.setParent(window)
        window.quit_requested.connect(self.quit)
        window.sign_out_requested.connect(self.sign_out)
        window.sign_in_requested.connect(self.sign_in_again)
        bridge.sync_status.connect(self._on_sync_status)
        self.window = window
        if self.args.minimized:
            if window.tray is None:
                window.showMinimized()
        else:
            window.show()
        self.window_shown = self.window_shown or window.isVisible()
        seconds = os.environ.get(EXIT_AFTER_ENV)
        if seconds:
            QTimer.singleShot(int(float(seconds) * 1000), self._exit_after)
        return None

    def _raise_for_second_launch(self, _message: str) -> None:
        """A second launch asked for the app: the sign-in dialog when it is shown (at the
        start, or a re-sign-in's: the old window, shut down behind it, stays where it is), else
        the window, else what is on screen at the start (the library update's progress, a
        question). One handler for the app's life, connected as soon as the app holds its
        data folder: one per window called the deleted windows' too."""
        front: QWidget | None = self._sign_in_dialog
        if front is None and self.window is not None:
            log.info("a second launch asked for the app: its window comes forward")
            self.window.raise_window()
            return
        if front is None:
            front = QApplication.activeModalWidget()
        what = type(front).__name__ if front is not None else "nothing yet"
        log.info("a second launch asked for the app: %s comes forward", what)
        if front is not None:
            front.raise_()
            front.activateWindow()

    def _on_application_state(self, state: Qt.ApplicationState) -> None:
        """macOS: a click on the Dock icon, or opening the app again from Finder, Launchpad or
        Spotlight, starts no second process (so no "raise" from a second launch): the running
        app is made active. Its window, hidden in the menu-bar tray, comes back then. Only on
        macOS: elsewhere the app is made active by every click into one of its windows (and by
        a tray menu), which must not bring the main window back. Nothing during a sign-in (its
        dialog is the window then) or once the user chose to quit."""
        if state != Qt.ApplicationState.ApplicationActive or not reopens_on_activation():
            return
        if self._sign_in_dialog is not None or self.window is None:
            return
        self.window.reopen()

    # --- signing out and in again ---------------------------------------------------------------

    def sign_out(self) -> None:
        from alu_client.ui.demo import run_with_progress

        window, services = self.window, self.services
        if window is None or services is None or services.profile is None:
            return
        name, secrets = services.profile.name, services.secrets
        username = services.profile.username
        # the engine stops first, its transfers back in the queue where they were: running on
        # while the sign-in dialog was open, they met the sign-in revoked here and failed for
        # good (an upload too); they go on after the next sign-in
        window.shutdown()
        store = Store(services.paths.db_path)  # (the window's closed with its engine)
        notice = ""
        try:  # the hub is told when it can be (a few seconds at most); the token goes anyway
            with self._not_cut_off("the sign-out"):
                confirmed = run_with_progress(
                    lambda _r: sign_out(Profiles(store), secrets, name),
                    "ALU Desk",
                    startup_text("signing-out"),
                )
            if confirmed is False:  # said above the sign-in that follows, as `alu logout` does
                notice = hub_not_told_text(username)
        except Exception as e:
            log.warning("sign-out: %s", e)
        finally:
            store.close()
        if self._stop_asked():  # during the sign-out, which finished first: no sign-in
            window.quit()
            return
        self._restart(secrets, force=True, notice=notice)

    def sign_in_again(self) -> None:
        """File › Sign in… (signed out, the "session ended" dialog closed): the dialog again,
        with nothing stopped — the downloads on their signed links go on meanwhile."""
        if self._asking_sign_in or self.services is None:
            return
        self._asking_sign_in = True
        secrets = self.services.secrets
        QTimer.singleShot(0, lambda: self._restart(secrets))

    def _on_sync_status(self, status: SyncStatus) -> None:
        if status.state != SIGNED_OUT or self._asking_sign_in or self.services is None:
            return
        self._asking_sign_in = True
        QTimer.singleShot(0, lambda: self._restart(self.services.secrets, notice=status.reason))  # type: ignore[union-attr]

    def _restart(self, secrets: Secrets, *, force: bool = False, notice: str = "") -> None:
        """Sign in again (the dialog), then a new engine and window; quit if the user gives
        up after signing out, keep the window (offline) if the hub had refused the token."""
        old = self.window
        client_paths = self.services.paths if self.services else self.paths
        store = Store(client_paths.db_path)
        fresh = self._ensure_signed_in(store, secrets, notice=notice, force=True)
        self._asking_sign_in = False
        if fresh is None or self._stop_asked():
            store.close()
            if (force or self._stopped_for_move or self._stop_asked()) and old is not None:
                old.quit()  # (its engine stopped for a move the user then gave up)
            elif self._stop_asked():
                self.quit()
            return
        settings = AppSettings(store, client_paths.downloads_dir)
        if old is not None:
            old.quit_requested.disconnect(self.quit)
            old.shutdown()
            old.hide()
            old.deleteLater()
        self.window = None
        if self._launch(Services(client_paths, fresh, store=store), settings) is not None:
            self.quit()

    # --- the end ----------------------------------------------------------------------------

    def request_quit(self) -> None:
        """Quit in order from wherever the app is (a stop signal, the smoke test's timer).
        At the start: the sign-in closes as Cancel does (a sign-in on its way finishes first)
        and the app exits 0; the library update, the engine's start and the sign-out run to
        their end, then the app stops there; a question or message at the start is closed."""
        self.stop_requested = True
        if self._finishing:
            log.info("quitting once %s is done", self._finishing)
        elif self._sign_in_dialog is not None:
            self._sign_in_dialog.stop()
        elif self.window is not None:
            self.window.quit()
        elif isinstance(modal := QApplication.activeModalWidget(), QDialog):
            modal.reject()  # (no keyring: "not now"; a message at the start: closed)
        else:
            self.quit()

    def quit(self) -> None:
        self.cleanup()
        self.app.exit(self.exit_code)

    def dispose(self) -> None:
        """The very end, after the event loop, on the GUI thread: the window's shutdown, the
        demo hub stopped, the UI's worker threads done (``tasks.close_all``), then the window
        destroyed here with the QApplication still alive, and the garbage collected. Left to
        the interpreter's end, the window's widgets (the player's FFmpeg backend, thumbnails
        being decoded) went in no set order, perhaps after the QApplication: the demo app
        stopped by SIGTERM exited once with a segfault (-11) instead of 0 in a CI run."""
        import gc

        import shiboken6

        from alu_client.ui.tasks import close_all

        self.cleanup()
        if not close_all(5.0):
            log.warning("a background task was still running at the end")
        window, self.window = self.window, None
        if window is not None and shiboken6.isValid(window):
            shiboken6.delete(window)
        del window
        gc.collect()

    def cleanup(self) -> None:
        if self.window is not None:
            self.window.shutdown()
        if self.demo_session is not None:
            self.demo_session.hub.stop()
            self.demo_session = None
        if hasattr(self, "single"):
            self.single.release()

    def _exit_after(self) -> None:
        window, services = self.window, self.services
        shown = self.window_shown
        items = 0
        feed_ok = False
        if window is not None and services is not None:
            from alu_client.ui.composition import Unavailable

            feed_ok = not isinstance(window.feed, Unavailable)
            items = services.library.count(Query()).count
        ok = shown and feed_ok and items > 0
        print(f"{EXIT_AFTER_ENV}: window shown={shown} feed panel={feed_ok} items={items}")
        self.exit_code = 0 if ok else 3
        self.request_quit()

    def _critical(self, title: str, text: str) -> None:
        print(f"alu-client: {title}: {text}", file=sys.stderr)
        QMessageBox.critical(None, title, plain_text.shown_as_typed(text))


def reopens_on_activation() -> bool:
    """Whether the app being made active means "open the app" (macOS's Dock and Finder)."""
    return sys.platform == "darwin"


def cannot_write_folders(paths: Paths, error: OSError, language: str | None) -> int:
    """The data, cache or log folder cannot be made or written at start (a home folder that
    is read-only, full or another account's): a dialog naming the folder, exit 1."""
    from alu_client.ui.i18n import install_translators

    folder = Path(os.fsdecode(error.filename)) if error.filename else paths.data_dir
    app = make_application()
    install_translators(app, language or "system")
    title, text = startup_text("folders"), cannot_write_text(folder, error)
    print(f"alu-client: {title}: {text} ({error})", file=sys.stderr)
    QMessageBox.critical(None, title, plain_text.shown_as_typed(text))
    return 1


def unsuitable_home(error: UnsuitableDataFolder, language: str | None) -> int:
    """The data folder given cannot be a workstation's (a hub's data folder): a dialog
    naming it, exit 1, nothing written there."""
    from alu_client.ui.i18n import install_translators

    app = make_application()
    install_translators(app, language or "system")
    title, text = startup_text("folders"), unsuitable_folder_text(error)
    print(f"alu-client: {title}: {text}", file=sys.stderr)
    QMessageBox.critical(None, title, plain_text.shown_as_typed(text))
    return 1


def stop_signals() -> list[signal.Signals]:
    """The signals that ask the app to quit: Ctrl-C in a terminal (SIGINT), a logout or
    shutdown under systemd, ``systemctl --user stop`` or a plain ``kill`` (SIGTERM), and the
    terminal or ssh session that started it closing (SIGHUP, POSIX only)."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def quit_on_stop_signals(request_quit: Callable[[], None]) -> None:
    """Each stop signal quits as the Quit menu does: the window state is saved, the engine
    stopped, the lock released, exit 0. Without this, SIGTERM and SIGHUP killed the app on
    the spot (status 143/129, no window state). Installed before the start: at the sign-in
    or during the library update ``request_quit`` knows what to do (``Desk.request_quit``).
    Python runs a handler only when the interpreter has control, hence the event loop's idle
    tick in ``main``; the handler then leaves the quit to the event loop (a single-shot
    timer), never mid-way through Qt code.
    A signal ignored when the app started (SIGHUP under ``nohup``) stays ignored."""

    def on_signal(signum: int, _frame: object) -> None:
        QTimer.singleShot(0, lambda: quit_for(signal.Signals(signum).name))

    def quit_for(name: str) -> None:
        log.info("%s received: quitting", name)  # (not in the handler: it may interrupt a log)
        request_quit()

    for signum in stop_signals():
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # ignored from the start: `nohup alu-client &` outlives its terminal
        signal.signal(signum, on_signal)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.self_test:  # its own temporary folders: the user's profile is never touched
        from alu_client.selftest import run_self_test

        return run_self_test()
    if args.data is not None:
        os.environ["ALU_CLIENT_HOME"] = str(Path(args.data).expanduser().resolve())
    paths = default_paths()
    try:
        paths.ensure()
        if not paths.too_deep:  # (refused with its dialog below, nothing made in the folder)
            setup_logging(paths.log_dir)
    except OSError as e:  # a read-only or full home folder: say so, no traceback
        return cannot_write_folders(paths, e, args.language)
    except UnsuitableDataFolder as e:  # an ALU hub's data folder
        return unsuitable_home(e, args.language)
    log.info("ALU Desk %s starting (data %s)", __version__, paths.data_dir)
    from alu_client.ui.i18n import build_missing_translations

    build_missing_translations()
    app = make_application()
    desk = Desk(app, paths, args)
    # from the start, not with the window: at the sign-in or during the library update a
    # logout or `kill` ended the app on the spot (status 143), the update cut off half-way
    quit_on_stop_signals(desk.request_quit)
    tick = QTimer()  # (the Python handler runs in the dialogs' event loops too)
    tick.start(500)
    tick.timeout.connect(lambda: None)
    code = desk.start()
    if code is None:
        log.info("ALU Desk running; Quit, Ctrl-C, SIGTERM or SIGHUP stop it in order")
        code = app.exec() or desk.exit_code
    tick.stop()
    desk.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())
