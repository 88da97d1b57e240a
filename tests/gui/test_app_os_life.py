"""The app through the operating system's life before its window is up: a stop signal at the
sign-in or during a library update, a second launch while the first is still at its sign-in,
and the single-instance socket removed under a running app (a temp cleaner). The app runs in a
subprocess (``python -m alu_client.app``, offscreen), as a real launch does."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from alu_client.core.store import Store
from alu_client.core.store.schema import MIGRATIONS
from alu_client.ui import single_instance
from alu_client.ui.single_instance import SingleInstance, instance_key
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

#: The app's own ``main``, with two marks on stdout for the test to wait on (no sleeps):
#: SIGN-IN once the sign-in dialog's event loop runs, DIALOG RAISED when a second launch
#: brought it forward; with ``--slow-update GO``, the library update waits for the file GO
#: (MIGRATING when it began, MIGRATED when it ended), so that a signal lands in its middle.
_APP = r"""
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from alu_client import app
from alu_client.ui import signin

real_exec = signin.SignInDialog.exec
real_raise = signin.SignInDialog.raise_

def exec_(self):
    QTimer.singleShot(0, lambda: print("SIGN-IN", flush=True))
    return real_exec(self)

def raise_(self):
    print("DIALOG RAISED", flush=True)
    return real_raise(self)

signin.SignInDialog.exec = exec_
signin.SignInDialog.raise_ = raise_
argv = sys.argv[1:]
if argv[:1] == ["--slow-update"]:
    go = Path(argv[1])
    argv = argv[2:]
    real_store = app.Store

    def slow_store(path, *args, **kwargs):
        print("MIGRATING", flush=True)
        while not go.exists():  # the update at work when the signal comes
            time.sleep(0.02)
        store = real_store(path, *args, **kwargs)
        print("MIGRATED", flush=True)
        return store

    app.Store = slow_store
sys.exit(app.main(argv))
"""


def app_env() -> dict[str, str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_SECRETS": "memory",  # no profile, no token: the sign-in dialog
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    for name in ("ALU_CLIENT_HOME", "ALU_CLIENT_EXIT_AFTER"):
        env.pop(name, None)
    return env


def start_app(home: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _APP, *extra, "--data", str(home)],
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(stream: IO[str] | None, mark: str) -> None:
    """Read the app's stdout up to the line ``mark`` (fails if the app ends first)."""
    assert stream is not None
    for line in stream:
        if line.strip() == mark:
            return
    raise AssertionError(f"the app ended before {mark}")


@pytest.fixture
def home() -> Iterator[Path]:
    # short: the data folder's socket path must fit the system's limit (~100 bytes)
    with tempfile.TemporaryDirectory(prefix="alu-") as folder:
        yield Path(folder) / "home"


def ended(app: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    return app.returncode, out, err


def read_log(home: Path) -> str:
    return (home / "logs" / "alu-client.log").read_text(encoding="utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_at_the_sign_in_closes_it_and_exits_0(home: Path, signame: str) -> None:
    # the handler came only with the window: at the sign-in, a logout or `kill` ended the app
    # on the spot (status 143/129)
    app = start_app(home)
    wait_for_line(app.stdout, "SIGN-IN")
    app.send_signal(getattr(signal, signame))
    code, _out, err = ended(app)
    assert code == 0, err
    assert "Traceback" not in err
    assert f"{signame} received: quitting" in read_log(home)
    assert not (home / "data" / "instance.lock").exists()  # released in order
    store = Store(home / "data" / "library.sqlite3")  # whole: it opens as it is
    store.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stop_signal_during_a_library_update_lets_it_finish_then_exits_0(home: Path) -> None:
    # the update (one transaction) died half-way with the app: it rolled back, and the next
    # start did it all again behind "Updating your library…"
    data = home / "data"
    data.mkdir(parents=True)
    Store(data / "library.sqlite3").close()
    with sqlite3.connect(data / "library.sqlite3") as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) - 1}")  # one step to go
    db.close()
    go = home / "go"
    app = start_app(home, "--slow-update", str(go))
    wait_for_line(app.stdout, "MIGRATING")
    # meanwhile a second launch is answered (it said "does not answer" after 5 s)
    assert "raised it" in launch_again(home)
    app.send_signal(signal.SIGTERM)
    wait_until(
        lambda: "SIGTERM received" in read_log(home),
        timeout=30,
        what="the signal heard during the update",
    )
    go.touch()  # the update goes on to its end
    code, out, err = ended(app)
    assert code == 0, err
    assert "Traceback" not in err
    assert "MIGRATED" in out  # it finished …
    assert "SIGN-IN" not in out  # … and the app stopped there, no sign-in after it
    log = read_log(home)
    assert "quitting once the library update is done" in log
    store = Store(data / "library.sqlite3")
    assert store.version == len(MIGRATIONS)  # up to date: the next start has nothing to do
    store.close()


def launch_again(home: Path) -> str:
    """A second ``alu-client --data home``: what it printed (it must exit 0)."""
    second = subprocess.run(
        [sys.executable, "-m", "alu_client.app", "--data", str(home)],
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=60,  # (before: "does not answer" in a message box, never closed)
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    return second.stdout


def test_a_second_launch_during_the_first_ones_sign_in_brings_the_dialog_forward(
    home: Path,
) -> None:
    # the first answered only once its window was up: a second launch after more than 5 s at
    # the sign-in said "does not answer" and exited 1
    first = start_app(home)
    try:
        wait_for_line(first.stdout, "SIGN-IN")
        assert "already running on this data folder; raised it" in launch_again(home)
        wait_for_line(first.stdout, "DIALOG RAISED")
    finally:
        first.terminate()
        code, _out, err = ended(first)
    if sys.platform != "win32":
        assert code == 0, err


# --- the socket a second launch reaches the first by -------------------------------------------

_SECOND = r"""
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from alu_client.ui.single_instance import NotAnswering, SingleInstance, instance_key
app = QCoreApplication([])
folder = Path(sys.argv[1])
single = SingleInstance(instance_key(folder), lock_dir=folder)
try:
    print("FIRST" if single.claim() else "RAISED", flush=True)
except NotAnswering:
    print("SILENT", flush=True)
"""


def second_launch(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SECOND, str(folder)],
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def said(qtbot: Any, launch: subprocess.Popen[str]) -> str:
    qtbot.waitUntil(lambda: launch.poll() is not None, timeout=30_000)
    out, err = launch.communicate()
    return out.strip() or err


@pytest.mark.skipif(sys.platform == "win32", reason="a named pipe there: no file to remove")
def test_the_socket_is_in_the_data_folder_not_the_temp_folder(home: Path) -> None:
    # in /tmp an age-based cleaner (systemd-tmpfiles) removed a long-running app's socket
    folder = home / "data"
    single = SingleInstance(instance_key(folder), lock_dir=folder)
    try:
        assert single.claim()
        assert single.server is not None
        assert Path(single.server.fullServerName()).parent == folder
        assert Path(single.server.fullServerName()).exists()
    finally:
        single.release()
    assert not list(folder.glob("*.sock"))  # gone with the app


@pytest.mark.skipif(sys.platform == "win32", reason="a named pipe there: no file to remove")
def test_a_removed_socket_is_made_again_and_a_second_launch_still_reaches_the_first(
    qtbot: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the socket file removed under a running app (a temp cleaner, a user tidying up): every
    # later launch found nobody and said "does not answer", or took the app for gone
    monkeypatch.setattr(single_instance, "_CHECK_MS", 100, raising=False)
    folder = home / "data"
    first = SingleInstance(instance_key(folder), lock_dir=folder)
    heard: list[str] = []
    try:
        assert first.claim()
        first.message_received.connect(heard.append)
        assert first.server is not None
        path = Path(first.server.fullServerName())
        path.unlink()
        qtbot.waitUntil(path.exists, timeout=5_000)  # listening again
        assert said(qtbot, second_launch(folder)) == "RAISED"
        assert heard == ["raise"]
    finally:
        first.release()


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket paths")
def test_a_data_folder_too_deep_for_a_socket_path_uses_the_runtime_or_temp_folder(
    qtbot: Any, tmp_path: Path
) -> None:
    folder = tmp_path / ("deep-" * 20) / f"data-{uuid.uuid4().hex}"
    first = SingleInstance(instance_key(folder), lock_dir=folder)
    heard: list[str] = []
    try:
        assert first.claim()
        first.message_received.connect(heard.append)
        assert first.server is not None
        assert Path(first.server.fullServerName()).parent != folder  # too long there
        assert said(qtbot, second_launch(folder)) == "RAISED"
        assert heard == ["raise"]
    finally:
        first.release()
