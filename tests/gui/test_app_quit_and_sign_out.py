"""Leaving the app: Quit beside a hub that does not answer goes at once (the window first), and
Sign out stops the engine before the sign-in is revoked, so what ran goes on after the next
sign-in instead of failing for good."""

from __future__ import annotations

import argparse
import functools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from alu_client import app as app_module
from alu_client.core import services as services_module
from alu_client.core.credentials import MemorySecrets, Secrets
from alu_client.core.profiles import Profile, Profiles, client_for, sign_in
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.uploads import UploadFields
from alu_client.ui.single_instance import SingleInstance, instance_key
from tests.gui.test_app_shell import PASSWORD, SimplePanels, build_window, make_paths
from tests.support.livehub import LiveHub, start_hub
from tests.support.waiting import wait_until


@pytest.fixture
def hung_hub() -> Iterator[tuple[str, list[socket.socket]]]:
    """An address that accepts connections and never answers; the connections it took."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", held
    server.close()
    for c in held:
        c.close()


def test_quit_beside_a_hub_that_never_answers_hides_the_window_and_takes_a_second(
    qtbot: Any,
    tmp_path: Path,
    hung_hub: tuple[str, list[socket.socket]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the window stayed on screen, frozen, ~30 s after Quit: shutdown waited for the update
    # check (30 s read timeout), then 5 s for the sync threads
    url, held = hung_hub
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    profile = Profiles(store).save(Profile("ktn@hung", url, "ktn", allow_http=True))
    secrets.set(profile.secret_key, "a-token")
    store.close()
    # (the app's 30 s read timeout made shorter: a failing run ends sooner)
    monkeypatch.setattr(
        services_module, "client_for", functools.partial(client_for, read_timeout=6.0)
    )
    services = Services(paths, secrets)
    services.start_engine(rules=False, hot_folders=False, media=False)
    window = build_window(qtbot, services, SimplePanels())
    window.check_for_updates(quiet=True)  # (asked 20 s after the window opens)
    wait_until(lambda: len(held) >= 3, what="the sync and the update check waiting on the hub")
    shown_at_stop: list[bool] = []
    stop = services.stop
    monkeypatch.setattr(
        services, "stop", lambda: (shown_at_stop.append(window.isVisible()), stop())
    )
    began = time.monotonic()
    window.quit()  # File > Quit, the tray's Quit
    took = time.monotonic() - began
    assert took < 3.0, f"the GUI thread was blocked {took:.1f} s"
    assert shown_at_stop == [False]  # the window went first
    assert not window.isVisible()


class _Upload:
    """The state of an upload when something happened (``seen``)."""

    def __init__(self, paths: Any, tid: int) -> None:
        self.paths, self.tid = paths, tid
        self.seen: dict[str, str] = {}

    def note(self, when: str) -> None:
        store = Store(self.paths.db_path)
        try:
            row = store.query_one("SELECT state FROM transfers WHERE id = ?", (self.tid,))
            self.seen[when] = str(row[0]) if row is not None else "gone"
        finally:
            store.close()


def test_sign_out_stops_the_engine_before_the_sign_in_goes_and_the_upload_goes_on_after(
    qtbot: Any,
    live_hub: LiveHub,
    tmp_path: Path,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the token was revoked first and the sign-in dialog opened while the old engine ran on:
    # the upload met the revoked sign-in and failed for good ("The hub did not accept this
    # sign-in; sign in again, then retry."), and stayed failed after signing in again
    live_hub.member("ktn", PASSWORD)
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    sign_in(Profiles(store), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    services = Services(paths, secrets, store=store)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    args = argparse.Namespace(demo=False, language=None, minimized=False)
    desk = app_module.Desk(qapp, paths, args)
    desk.single = SingleInstance(instance_key(paths.data_dir), desk)
    assert desk.single.claim()
    try:
        assert desk._launch(services, AppSettings(store, paths.downloads_dir)) is None
        queue = services.queue
        assert queue is not None
        queue.set_limits(None, 20_000)  # a slow uplink: it is under way at the sign-out
        tid = services.upload(clip, UploadFields(title="Our floods", language="en", country="KE"))
        wait_until(lambda: (t := queue.transfers.get(tid)) is not None and t.bytes_done > 0)
        upload = _Upload(paths, tid)
        real_sign_out = app_module.sign_out

        def signing_out(*a: Any) -> bool:
            upload.note("revoked")
            return real_sign_out(*a)

        def dialog(_store: Store, secrets: Secrets, **_kw: Any) -> Secrets:
            upload.note("dialog")
            time.sleep(0.5)  # the member types the password (an engine still on: it goes on)
            upload.note("signed in")
            other = Store(paths.db_path)
            try:
                sign_in(Profiles(other), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
            finally:
                other.close()
            return secrets

        monkeypatch.setattr(app_module, "sign_out", signing_out)
        monkeypatch.setattr(desk, "_ensure_signed_in", dialog)
        desk.sign_out()  # File > Sign out, confirmed
        assert upload.seen == {"revoked": "queued", "dialog": "queued", "signed in": "queued"}
        new = desk.services
        assert new is not None and new is not services and new.queue is not None
        done = new.queue.wait_for(tid, timeout=60)
        assert (done.state, done.last_error) == ("done", "")
    finally:
        desk.cleanup()
        desk.deleteLater()


def test_sign_out_with_the_hub_away_says_the_sign_in_lives_on_there(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `alu logout` said so, the app nothing: a member handing the workstation over during an
    # outage believed the sign-in had ended, and any copy of its token worked for 30 days more
    hub = start_hub(tmp_path / "away")
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    try:
        hub.member("ktn", PASSWORD)
        profile = sign_in(Profiles(store), secrets, hub.url, "ktn", PASSWORD, allow_http=True)
        services = Services(paths, secrets, store=store)
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication)
        desk = app_module.Desk(
            qapp, paths, argparse.Namespace(demo=False, language=None, minimized=False)
        )
        desk.single = SingleInstance(instance_key(paths.data_dir), desk)
        assert desk.single.claim()
        try:
            assert desk._launch(services, AppSettings(store, paths.downloads_dir)) is None
            hub.server.stop()  # the hub goes away
            asked: list[str] = []

            def dialog(_store: Store, _secrets: Secrets, **kw: Any) -> None:
                asked.append(kw.get("notice", ""))
                return None  # the member closes the sign-in dialog

            monkeypatch.setattr(desk, "_ensure_signed_in", dialog)
            ended: list[int] = []  # (the app ends: not this test process's event loops)
            monkeypatch.setattr(qapp, "exit", lambda code=0: ended.append(code))
            desk.sign_out()  # File > Sign out, confirmed
            assert len(asked) == 1 and ended == [0]
            assert "the hub could not be told" in asked[0]
            assert "stays valid on the hub until it expires" in asked[0]
            assert "ask the agency to sign out ktn" in asked[0]
            assert secrets.get(profile.secret_key) is None  # forgotten here all the same
        finally:
            desk.cleanup()
            desk.deleteLater()
    finally:
        hub.server.stop()
        hub.hub.db.dispose()


def test_sign_out_the_hub_confirmed_asks_the_sign_in_with_no_notice(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_hub.member("ktn", PASSWORD)
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    sign_in(Profiles(store), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    services = Services(paths, secrets, store=store)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    desk = app_module.Desk(
        qapp, paths, argparse.Namespace(demo=False, language=None, minimized=False)
    )
    desk.single = SingleInstance(instance_key(paths.data_dir), desk)
    assert desk.single.claim()
    try:
        assert desk._launch(services, AppSettings(store, paths.downloads_dir)) is None
        asked: list[str] = []

        def dialog(_store: Store, _secrets: Secrets, **kw: Any) -> None:
            asked.append(kw.get("notice", ""))
            return None

        monkeypatch.setattr(desk, "_ensure_signed_in", dialog)
        ended: list[int] = []
        monkeypatch.setattr(qapp, "exit", lambda code=0: ended.append(code))
        desk.sign_out()
        assert asked == [""] and ended == [0]
    finally:
        desk.cleanup()
        desk.deleteLater()


@pytest.mark.parametrize(
    ("key", "signed_out"),
    [(Qt.Key.Key_Return, False), (Qt.Key.Key_Escape, False), (None, True)],
    ids=["enter", "escape", "sign-out-button"],
)
def test_the_sign_out_question_keeps_the_transfers_unless_sign_out_is_pressed(
    qtbot: Any, tmp_path: Path, key: Qt.Key | None, signed_out: bool
) -> None:
    # "Sign out?" had Yes/No, no default and the focus on Yes: Enter (to dismiss what looked
    # like a notice) signed out and stopped every transfer
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    Profiles(store).save(Profile("ktn@away", "http://127.0.0.1:9", "ktn", allow_http=True))
    store.close()
    services = Services(paths, secrets)
    window = build_window(qtbot, services, SimplePanels())
    requested: list[bool] = []
    window.sign_out_requested.connect(lambda: requested.append(True))
    seen: list[tuple[str, str, list[str]]] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        default, escape = box.defaultButton(), box.escapeButton()
        texts = [b.text() for b in box.buttons()]
        seen.append(
            (default.text() if default else "", escape.text() if escape else "", sorted(texts))
        )
        if key is not None:
            QTest.keyClick(box, key)
        elif "Sign &out" in texts:
            box.buttons()[texts.index("Sign &out")].click()
        if box.isVisible():  # (the old question: closed, the test fails below)
            box.done(0)

    QTimer.singleShot(0, answer)
    window.confirm_sign_out()  # File > Sign out…
    assert seen == [("&Stay signed in", "&Stay signed in", ["&Stay signed in", "Sign &out"])]
    assert requested == ([True] if signed_out else [])
    services.stop()
