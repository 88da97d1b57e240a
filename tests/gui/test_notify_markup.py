"""A tray notification's body on Linux is made for the desktop that shows it, as a real session
bus (a dbus-daemon of the test's own) answers: escaped for a notification server that reads
markup, as typed for one that does not (escaped, "Floods & rain" showed "Floods &amp; rain"),
as a label for Qt's own balloon when no StatusNotifier host is there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QIcon

from alu_client.ui import notify_markup, reveal
from alu_client.ui.notify_markup import BodyFormat, NotificationFormat
from alu_client.ui.plain_text import shown_as_typed
from alu_client.ui.tray import Tray

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="freedesktop notifications: Linux only"
)

TITLE = "<b>CLEARED</b> Floods & rain"


def _ends_with_this_process() -> None:
    """In the child: SIGTERM when the process that started it dies (Linux's PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The address of a session bus of the test's own, in DBUS_SESSION_BUS_ADDRESS."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None or not (shutil.which("dbus-send") or shutil.which("gdbus")):
        if os.environ.get("CI") == "true":  # (.ci/run installs dbus)
            pytest.fail("dbus-daemon and dbus-send are required with CI=true")
        pytest.skip("dbus-daemon or dbus-send not installed (with CI=true this fails)")
    address = f"unix:path={tmp_path}/bus"
    process = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", f"--address={address}", "--print-address"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=_ends_with_this_process,  # (a test process that crashes leaves no daemon)
    )
    try:
        assert process.stdout is not None
        said = process.stdout.readline().strip()  # ready once it says where it listens
        assert said.startswith(address), said
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        process.terminate()
        process.wait(10)


class Services:
    """Names owned on the bus by this test: the StatusNotifier watcher (a tray host there) and
    a notification server answering GetCapabilities with ``capabilities``."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def own(self, name: str, capabilities: list[str] | None = None) -> None:
        from jeepney import MessageType, new_method_return
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(self.address)
        reply = conn.send_and_get_reply(message_bus.RequestName(name), timeout=5)
        assert reply.body == (1,)  # the primary owner

        def serve() -> None:
            with conn:
                while not self.stop.is_set():
                    try:
                        msg = conn.receive(timeout=0.1)
                    except TimeoutError:
                        continue
                    header = msg.header
                    if header.message_type != MessageType.method_call:
                        continue
                    if header.fields.get(3) == "GetCapabilities" and capabilities is not None:
                        conn.send(new_method_return(msg, "as", (capabilities,)))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)


@pytest.fixture
def services(bus: str) -> Iterator[Services]:
    s = Services(bus)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=["dbus-send", "gdbus"])
def tool(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either tool alone asks the bus (a desktop may have only one of them)."""
    name = str(request.param)
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    monkeypatch.setattr(reveal, "_which", lambda n: path if n == name else None)
    return name


def settled(qtbot: Any) -> NotificationFormat:
    found = NotificationFormat(platform="linux")
    qtbot.waitUntil(lambda: found.settled, timeout=10_000)
    return found


def test_a_server_that_reads_markup_gets_the_body_escaped(
    qtbot: Any, services: Services, tool: str
) -> None:
    services.own(notify_markup.WATCHER)
    services.own("org.freedesktop.Notifications", ["actions", "body", "body-markup"])
    found = settled(qtbot)
    assert found.kind is BodyFormat.MARKUP
    assert found.body(TITLE) == "&lt;b&gt;CLEARED&lt;/b&gt; Floods &amp; rain"


def test_a_server_without_markup_gets_the_body_as_typed(
    qtbot: Any, services: Services, tool: str
) -> None:
    services.own(notify_markup.WATCHER)
    services.own("org.freedesktop.Notifications", ["actions", "body", "persistence"])
    found = settled(qtbot)
    assert found.kind is BodyFormat.PLAIN
    assert found.body(TITLE) == TITLE  # was "&lt;b&gt;CLEARED&lt;/b&gt; Floods &amp; rain"


def test_the_tray_sends_the_body_as_its_desktop_reads_it(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (no bus of the test's here: Qt's own tray icon met the fake tray host of the tests above
    # and corrupted its heap — a host that answers none of its calls is not a real desktop)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent")
    tray = Tray(QIcon())
    sent: list[str] = []
    monkeypatch.setattr(tray.icon, "showMessage", lambda _t, m, *_: sent.append(m))
    try:
        for kind in BodyFormat:
            tray.body_format.kind = kind
            tray.notify("Feed", TITLE)
        assert sent == [
            "&lt;b&gt;CLEARED&lt;/b&gt; Floods &amp; rain",
            TITLE,
            shown_as_typed(TITLE),
        ]
    finally:
        tray.dispose()


def test_without_a_tray_host_the_body_is_made_for_qts_own_balloon(
    qtbot: Any, services: Services, tool: str
) -> None:
    services.own("org.freedesktop.Notifications", ["body", "body-markup"])  # not Qt's way there
    found = settled(qtbot)
    assert found.kind is BodyFormat.BALLOON
    assert found.body("Floods & rain") == "Floods & rain"
    assert found.body(TITLE) == shown_as_typed(TITLE) != TITLE


def test_no_notification_server_or_no_bus_leaves_the_body_escaped(
    qtbot: Any, services: Services, tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.own(notify_markup.WATCHER)  # a tray host, no server answering yet
    found = settled(qtbot)
    assert found.kind is BodyFormat.MARKUP
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent")
    nothing = NotificationFormat(platform="linux")
    assert nothing.settled and nothing.kind is BodyFormat.MARKUP
