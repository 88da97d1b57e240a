"""Show in folder on Linux asks the file manager over D-Bus without ever holding the GUI
thread: the call is made by a dbus-send (or gdbus) process, and the folder is opened instead
when it fails or has no answer in time. A session bus that did not answer (a hung daemon, a
stale address) once froze the app for good: Qt connected to it on the GUI thread."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject

from alu_client.ui import reveal

ROOT = Path(__file__).resolve().parents[2]


def fake_tool(tmp_path: Path, body: str) -> Path:
    tool = tmp_path / "dbus-send"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    folders: list[Path] = []
    monkeypatch.setattr(reveal, "open_folder", lambda f: folders.append(f) or True)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/bus")
    return folders


def test_the_file_manager_that_answers_shows_the_file(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, opened: list[Path]
) -> None:
    args = tmp_path / "args"
    tool = fake_tool(tmp_path, f'printf "%s\\n" "$@" > "{args}"')
    monkeypatch.setattr(reveal, "_which", lambda name: str(tool) if name == "dbus-send" else None)
    path = tmp_path / "a b,c'd" / "é.mp4"
    parent = QObject()
    reveal.reveal(path, parent, platform="linux")
    qtbot.waitUntil(lambda: not parent.findChildren(reveal.QProcess), timeout=5000)
    assert not opened  # shown selected: no folder window as well
    assert args.read_text().splitlines() == [
        "--session",
        "--print-reply",
        "--reply-timeout=2000",
        "--dest=org.freedesktop.FileManager1",
        "/org/freedesktop/FileManager1",
        "org.freedesktop.FileManager1.ShowItems",
        # one item: its comma does not cut the array in two
        "array:string:file://" + str(tmp_path).replace(" ", "%20") + "/a%20b%2Cc%27d/%C3%A9.mp4",
        "string:",
    ]


def test_the_folder_opens_when_the_call_fails_or_has_no_answer(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, opened: list[Path]
) -> None:
    path = tmp_path / "clip.mp4"
    parent = QObject()
    # no FileManager1 service on the bus: an error, at once
    tool = fake_tool(tmp_path, "echo 'Error org.freedesktop.DBus.Error.ServiceUnknown' >&2; exit 1")
    monkeypatch.setattr(reveal, "_which", lambda name: str(tool))
    reveal.reveal(path, parent, platform="linux")
    qtbot.waitUntil(lambda: opened == [tmp_path], timeout=5000)
    # a bus that never answers: reveal returns at once, the folder opens once the time is up
    tool = fake_tool(tmp_path, "exec sleep 60")
    monkeypatch.setattr(reveal, "DBUS_TIMEOUT_MS", 300)
    t0 = time.monotonic()
    reveal.reveal(path, parent, platform="linux")
    assert time.monotonic() - t0 < 0.5
    assert opened == [tmp_path]
    qtbot.waitUntil(lambda: opened == [tmp_path] * 2, timeout=5000)
    # the silent call is stopped and let go
    qtbot.waitUntil(lambda: not parent.findChildren(reveal.QProcess), timeout=5000)
    # neither dbus-send nor gdbus installed, or no session bus: the folder at once
    monkeypatch.setattr(reveal, "_which", lambda name: None)
    reveal.reveal(path, parent, platform="linux")
    assert opened == [tmp_path] * 3
    monkeypatch.setattr(reveal, "_which", lambda name: str(tool))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-such-dir"))
    reveal.reveal(path, parent, platform="linux")
    assert opened == [tmp_path] * 4


CHILD = textwrap.dedent(
    """
    import json, sys, tempfile, time
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget
    from alu_client.ui import reveal
    app = QApplication(sys.argv)
    w = QWidget()
    opened, ticks = [], []
    reveal.open_folder = lambda f: opened.append(time.monotonic()) or True
    t = QTimer(); t.timeout.connect(lambda: ticks.append(time.monotonic())); t.start(100)
    f = Path(tempfile.mkdtemp()) / "clip.mp4"; f.write_bytes(b"x")
    t0 = time.monotonic()
    reveal.reveal(f, w, platform="linux")
    returned = time.monotonic() - t0
    QTimer.singleShot(4000, app.quit); app.exec()
    print(json.dumps({"returned": returned, "opened": [o - t0 for o in opened],
                      "ticks": len(ticks)}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="D-Bus reveal: Linux only")
def test_a_session_bus_that_does_not_answer_holds_nothing(tmp_path: Path) -> None:
    """A bus that takes the connection and says nothing (a hung dbus-daemon): the app went on
    waiting for it for ever. In a process of its own, so that a hang fails instead of hanging."""
    if not (shutil.which("dbus-send") or shutil.which("gdbus")):
        if os.environ.get("CI") == "true":  # (.ci/run installs dbus-send)
            pytest.fail("neither dbus-send nor gdbus installed (required with CI=true)")
        pytest.skip("neither dbus-send nor gdbus installed (with CI=true this fails)")
    address = tmp_path / "bus"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(address))
    server.listen(5)
    try:
        env = dict(
            os.environ,
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={address}",
            QT_QPA_PLATFORM="offscreen",
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=40
            )
        except subprocess.TimeoutExpired:
            pytest.fail("Show in folder hung on a session bus that does not answer")
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["returned"] < 0.5  # the GUI thread was not held
    assert len(seen["opened"]) == 1 and 1.5 < seen["opened"][0] < 3.5  # the folder instead
    assert seen["ticks"] >= 30  # the event loop ran all along
