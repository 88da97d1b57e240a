"""The sign-in dialog against a real hub on loopback, typed into as a user does."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLineEdit,
    QMessageBox,
    QStyle,
    QStyleOptionFrame,
)

from alu_client.core import hub as hub_module
from alu_client.core.credentials import MemorySecrets
from alu_client.core.profiles import Profiles
from alu_client.core.proxy_login import ProxyLogin
from alu_client.core.proxy_login import load as load_proxy_login
from alu_client.core.store import Store
from alu_client.ui import formats
from alu_client.ui.formats import WJ
from alu_client.ui.i18n import install_translators
from alu_client.ui.signin import SignInDialog, moved_question
from tests.gui.conftest import DARK, contrast
from tests.support.faultproxy import FaultProxy
from tests.support.hostile import Authority, serve_tls
from tests.support.livehub import LiveHub
from tests.support.squid import DESK_LOGIN, start_squid
from tests.support.tlsproxy import TlsTunnelProxy

PASSWORD = "pw-signin-1234"


@pytest.fixture
def profiles(tmp_path: Path) -> Iterator[Profiles]:
    store = Store(tmp_path / "library.sqlite3")
    yield Profiles(store)
    store.close()


@pytest.fixture
def secrets() -> MemorySecrets:
    return MemorySecrets()


@pytest.fixture
def dialog(qtbot: Any, profiles: Profiles, secrets: MemorySecrets) -> Iterator[SignInDialog]:
    d = SignInDialog(profiles, secrets)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    yield d
    d.tasks.wait_for_done()


def fill(qtbot: Any, d: SignInDialog, url: str, user: str, password: str) -> None:
    for field, text in ((d.url, url), (d.user, user), (d.password, password)):
        field.clear()
        qtbot.keyClicks(field, text)


def allow_http(qtbot: Any, d: SignInDialog) -> None:
    d.advanced.setChecked(True)
    assert d.allow_http.isVisible()
    qtbot.mouseClick(d.allow_http, Qt.MouseButton.LeftButton)
    assert d.allow_http.isChecked()


def click_sign_in(qtbot: Any, d: SignInDialog) -> None:
    assert d.sign_in_button.isEnabled()
    qtbot.mouseClick(d.sign_in_button, Qt.MouseButton.LeftButton)


def shows_whole(edit: QLineEdit) -> bool:
    """Whether ``edit`` draws its placeholder whole: Qt elides it to the room of the text's
    line, the contents rectangle less the text margins and 2 px each side."""
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    rect = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, edit)
    margins = edit.textMargins()
    room = rect.width() - margins.left() - margins.right() - 2 * 2
    return edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= room


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_advanced_fields_hints_are_read_whole(
    qtbot: Any, qapp: QApplication, dialog: SignInDialog, lang: str
) -> None:
    """In French the dialog kept its 460 px and cut the hints: "Fichier de certificats d'…",
    "http://proxy.example.org:3128 (vide : c…" — what an empty proxy field means was the part
    not shown. The fields are as wide as their hints (and the hint is their tooltip)."""
    install_translators(qapp, lang)
    qtbot.waitUntil(lambda: dialog.windowTitle() not in ("", "Sign in to the hub"))
    dialog.advanced.setChecked(True)
    fields = (dialog.url, dialog.ca_bundle, dialog.proxy, dialog.proxy_user)
    qtbot.waitUntil(lambda: all(shows_whole(edit) for edit in fields))
    if lang == "fr":
        assert dialog.proxy.placeholderText().endswith("(vide : celui du système)")
    assert dialog.proxy.toolTip() == dialog.proxy.placeholderText()
    screen = dialog.screen().availableGeometry()
    assert dialog.frameGeometry().width() <= screen.width()


def line_spans(text: str, width: int) -> list[range]:
    """Where Qt breaks ``text`` into lines ``width`` px wide (right to left, words wrapped):
    the characters of each line."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    layout = QTextLayout(text, app.font())
    option = QTextOption()
    option.setTextDirection(Qt.LayoutDirection.RightToLeft)
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
    layout.endLayout()
    lines = (layout.lineAt(i) for i in range(layout.lineCount()))
    return [range(line.textStart(), line.textStart() + line.textLength()) for line in lines]


def test_the_hubs_addresses_stay_whole_in_the_moved_question(qapp: QApplication) -> None:
    """The Arabic question broke the old address after "http://" ("…على http://" then
    "127.0.0.1:8750. هل …" on the next line)."""
    install_translators(qapp, "ar")
    old, new = "http://127.0.0.1:8750", "https://hub-2.alu.example.org:8443"
    question = moved_question(old, new)
    assert question.replace(WJ, "").count(formats.isolated(old)) == 1
    assert question.replace(WJ, "").count(formats.isolated(new)) == 1
    # where each address is in the question: between its isolate's marks
    spans, at = [], 0
    while (at := question.find(formats.FSI, at) + 1) > 0:
        last = question.index(formats.PDI, at) - 1
        assert question[at : last + 1].replace(WJ, "") in (old, new)
        spans.append((at, last))
    assert len(spans) == 2
    for width in range(120, 620, 6):
        lines = line_spans(question, width)
        assert len(lines) > 1 or width > 400
        for first, last in spans:
            assert any(first in line and last in line for line in lines), (width, first, last)


def test_sign_in_waits_for_a_complete_form(qtbot: Any, dialog: SignInDialog) -> None:
    assert not dialog.sign_in_button.isEnabled()
    fill(qtbot, dialog, "hub.example.org", "ktn", "")
    assert not dialog.sign_in_button.isEnabled()
    qtbot.keyClicks(dialog.password, "x")
    assert dialog.sign_in_button.isEnabled()
    assert dialog.password.echoMode() == dialog.password.EchoMode.Password
    assert dialog.url.accessibleName() == "Hub address"


def test_a_wrong_password_is_said_plainly_and_nothing_is_kept(
    qtbot: Any,
    dialog: SignInDialog,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    announced: list[tuple[str, str]],
) -> None:
    live_hub.member("ktn", PASSWORD)
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, live_hub.url, "ktn", "not-the-password")
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
    refused = "The hub refused the user name or password."
    assert dialog.error.text() == refused
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert profiles.list() == [] and secrets.keys() == []
    assert dialog.url.isEnabled() and dialog.sign_in_button.text() == "Sign in"
    # a screen reader is told why, not only "Password, edit, protected"
    assert dialog.focusWidget() is dialog.password
    assert dialog.password.accessibleDescription() == refused
    assert (refused, "Assertive") in announced
    qtbot.keyClicks(dialog.password, "x")
    click_sign_in(qtbot, dialog)
    assert dialog.password.accessibleDescription() == ""  # until the next answer


def test_the_error_reads_on_a_dark_palette_also_after_a_switch(
    qtbot: Any, dialog: SignInDialog, qapp: QApplication
) -> None:
    # fixed #b00020 was 1.9:1 on a dark window
    dialog._show_error("The hub refused the user name or password.")
    light = dialog.error.palette().color(QPalette.ColorRole.WindowText)
    assert light == QColor("#b00020")  # the light palette's red, as it was
    kept = QPalette(qapp.palette())
    dark = QPalette(kept)
    for role, color in DARK.items():
        dark.setColor(getattr(QPalette.ColorRole, role), QColor(color))
    qapp.setPalette(dark)  # the desktop switched to its dark theme while the app runs
    try:

        def ratio() -> float:  # against the dialog's own background: what is drawn behind
            return contrast(
                dialog.error.palette().color(QPalette.ColorRole.WindowText),
                dialog.palette().color(QPalette.ColorRole.Window),
            )

        ground = QColor(DARK["Window"])
        qtbot.waitUntil(lambda: dialog.palette().color(QPalette.ColorRole.Window) == ground)
        qtbot.waitUntil(lambda: ratio() >= 4.5)
    finally:
        qapp.setPalette(kept)
    qtbot.waitUntil(lambda: dialog.error.palette().color(QPalette.ColorRole.WindowText) == light)


def test_a_disabled_account_is_told_so_not_that_its_password_is_wrong(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    from sqlalchemy import update

    from alu_hub.models import Member

    live_hub.member("ktn", PASSWORD)
    with live_hub.hub.db.session() as s:
        s.execute(update(Member).where(Member.username == "ktn").values(active=False))
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
    assert dialog.error.text().startswith("This account is disabled: the password is right")
    assert profiles.list() == [] and secrets.keys() == []


def test_the_right_password_keeps_the_profile_and_accepts(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    live_hub.member("ktn", PASSWORD)
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
        click_sign_in(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    profile = profiles.active()
    assert profile is not None and profile.username == "ktn" and profile.allow_http
    assert dialog.result_ is not None and dialog.result_.secrets is secrets
    assert secrets.get(profile.secret_key)
    assert dialog.password.text() == ""  # the password does not linger in the form


def test_plain_http_is_asked_then_retried_with_consent(
    qtbot: Any,
    dialog: SignInDialog,
    live_hub: LiveHub,
    profiles: Profiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live_hub.member("ktn", PASSWORD)
    asked: list[str] = []

    def answer(_parent: Any, title: str, text: str, *_a: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)  # http://, plain HTTP not allowed yet
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
        click_sign_in(qtbot, dialog)
    assert len(asked) == 1 and "unencrypted" in asked[0]
    assert dialog.allow_http.isChecked()
    profile = profiles.active()
    assert profile is not None and profile.allow_http


def test_refusing_plain_http_leaves_the_dialog_open(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.No)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
    assert "https://" in dialog.error.text()
    assert dialog.isVisible()


def test_an_unreachable_hub_is_said_plainly(qtbot: Any, dialog: SignInDialog) -> None:
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, "http://127.0.0.1:9", "ktn", PASSWORD)  # nothing listens on port 9
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=30_000)
    assert dialog.error.text().startswith("The hub could not be reached.")


def test_a_mistyped_address_is_said_to_be_none(qtbot: Any, dialog: SignInDialog) -> None:
    # "htp:/127.0.0.1 8761" was tried as the host "htp": "The hub could not be reached."
    fill(qtbot, dialog, "htp:/127.0.0.1 8761", "ktn", PASSWORD)
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=30_000)
    assert dialog.error.text() == (
        "'htp:/127.0.0.1 8761' is not a hub address; it looks like https://hub.example.org"
    )


def test_an_https_address_on_a_plain_http_port_is_said_as_such(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub
) -> None:
    # it said the certificate could not be checked and pointed to a CA bundle
    live_hub.member("ktn", PASSWORD)
    fill(qtbot, dialog, live_hub.url.replace("http://", "https://", 1), "ktn", PASSWORD)
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
    assert dialog.error.text() == (
        "The hub did not answer in TLS (https) at this address: is its port one for plain "
        "http (then the address begins with http://), or is a network login page in the way? "
        "Check the hub's address."
    )


def test_a_refused_certificate_gives_its_reason(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, tmp_path: Path
) -> None:
    live_hub.member("ktn", PASSWORD)
    ca = Authority(tmp_path / "ca")
    tls = serve_tls(live_hub.server.app, *ca.issue(["127.0.0.1"]))  # no CA bundle given
    try:
        fill(qtbot, dialog, tls.url, "ktn", PASSWORD)
        click_sign_in(qtbot, dialog)
        qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
        assert dialog.error.text() == (
            "The hub's security certificate was refused (unable to get local issuer "
            "certificate). If your organisation uses its own certificate authority, choose its "
            "CA bundle under Advanced."
        )
    finally:
        tls.stop()


RETRYING = "The hub has not answered yet; trying again…"


@pytest.fixture
def held_hub(live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The live hub behind the fault proxy, whose stalls hold its answers as a link's outage
    does; a sign-in waits 1 s for each answer and 4 s in all here (10 s and 30 s in the
    field: the hub client's own settings)."""
    monkeypatch.setattr(hub_module, "SIGN_IN_TRY_READ_S", 1.0)
    monkeypatch.setattr(hub_module, "SIGN_IN_PATIENCE_S", 4.0)
    live_hub.member("ktn", PASSWORD)
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as proxy:
        yield proxy


def test_a_hub_that_answers_after_a_moment_is_asked_again_and_said_so(
    qtbot: Any,
    dialog: SignInDialog,
    held_hub: FaultProxy,
    profiles: Profiles,
    announced: list[tuple[str, str]],
) -> None:
    held_hub.stall_after(0, "down", times=1)  # the first try's answer lost in the outage
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, held_hub.url, "ktn", PASSWORD)
    lines: list[str] = []
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
        click_sign_in(qtbot, dialog)
        qtbot.waitUntil(dialog.progress.isVisible, timeout=10_000)
        lines.append(dialog.progress.text())
    assert lines == [RETRYING]
    assert (RETRYING, "Polite") in announced
    assert not dialog.error.isVisible()
    assert dialog.result() == QDialog.DialogCode.Accepted
    active = profiles.active()
    assert active is not None and active.username == "ktn"
    assert held_hub.connections == 2


def test_a_hub_that_never_answers_is_given_up_with_advice(
    qtbot: Any, dialog: SignInDialog, held_hub: FaultProxy, profiles: Profiles
) -> None:
    held_hub.stall_after(0, "down", times=100)
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, held_hub.url, "ktn", PASSWORD)
    click_sign_in(qtbot, dialog)
    qtbot.waitUntil(dialog.progress.isVisible, timeout=10_000)
    assert dialog.progress.text() == RETRYING
    assert not dialog.error.isVisible()
    qtbot.waitUntil(dialog.error.isVisible, timeout=15_000)
    assert dialog.error.text() == (
        "The hub did not answer in time. Check the workstation's connection (or the proxy "
        "under Advanced), then try again."
    )
    assert not dialog.progress.isVisible()  # the advice, not "trying again" beside it
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert profiles.list() == []
    assert dialog.url.isEnabled() and dialog.sign_in_button.text() == "Sign in"
    assert held_hub.connections == 2  # asked twice, not more (the hub counts each try)


def test_without_remember_me_the_token_stays_in_memory_only(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    live_hub.member("ktn", PASSWORD)
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
    qtbot.mouseClick(dialog.remember, Qt.MouseButton.LeftButton)
    assert not dialog.remember.isChecked()
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
        click_sign_in(qtbot, dialog)
    profile = profiles.active()
    assert profile is not None
    assert secrets.get(profile.secret_key) is None  # nothing in the kept store
    assert dialog.result_ is not None and dialog.result_.secrets is not secrets
    assert dialog.result_.secrets.get(profile.secret_key)


def test_signing_in_again_prefills_the_profile(
    qtbot: Any, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    from alu_client.core.profiles import sign_in

    live_hub.member("ktn", PASSWORD)
    profile = sign_in(profiles, secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    d = SignInDialog(profiles, secrets, profile=profile, notice="Your sign-in has expired.")
    qtbot.addWidget(d)
    d.show()
    assert d.url.text() == live_hub.url and d.user.text() == "ktn"
    assert d.advanced.isChecked() and d.allow_http.isChecked()
    assert d.notice.isVisible() and d.notice.text() == "Your sign-in has expired."
    qtbot.keyClicks(d.password, PASSWORD)
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        qtbot.keyClick(d.password, Qt.Key.Key_Return)
    assert d.result_ is not None and d.result_.profile.name == profile.name


@pytest.mark.parametrize(
    ("policy", "said"),
    [("deny", "refused to let this computer reach the hub (HTTP 403)"), ("password", "wants a")],
)
def test_a_proxy_that_refuses_is_named_in_the_dialog(
    qtbot: Any,
    dialog: SignInDialog,
    live_hub: LiveHub,
    tmp_path: Path,
    policy: Literal["deny", "password"],
    said: str,
) -> None:
    live_hub.member("ktn", PASSWORD)
    ca = Authority(tmp_path / "ca")
    tls = serve_tls(live_hub.server.app, *ca.issue(["127.0.0.1"]))
    try:
        with start_squid(policy=policy) as squid:
            dialog.advanced.setChecked(True)
            qtbot.keyClicks(dialog.proxy, squid.url)
            qtbot.keyClicks(dialog.ca_bundle, str(ca.bundle))
            fill(qtbot, dialog, tls.url, "ktn", PASSWORD)
            click_sign_in(qtbot, dialog)
            qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
            text = dialog.error.text()
            assert text.startswith(f"The network's proxy ({squid.url}) {said}"), text
    finally:
        tls.stop()


def test_an_https_proxys_certificate_refused_is_said_of_the_proxy_in_the_dialog(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, tmp_path: Path
) -> None:
    # "The hub could not be reached": the proxy was reached, and its certificate refused
    live_hub.member("ktn", PASSWORD)
    hub_ca = Authority(tmp_path / "ca")
    tls = serve_tls(live_hub.server.app, *hub_ca.issue(["127.0.0.1"]))
    proxy_ca = Authority(tmp_path / "proxy-ca", name="Station Proxy CA")
    proxy = TlsTunnelProxy(*proxy_ca.issue(["127.0.0.1"], name="proxy"))
    try:
        dialog.advanced.setChecked(True)
        qtbot.keyClicks(dialog.proxy, proxy.url)
        qtbot.keyClicks(dialog.proxy_user, "ktn-desk")
        qtbot.keyClicks(dialog.proxy_password, "pr0xy-s3cret")
        qtbot.keyClicks(dialog.ca_bundle, str(hub_ca.bundle))
        fill(qtbot, dialog, tls.url, "ktn", PASSWORD)
        click_sign_in(qtbot, dialog)
        qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
        text = dialog.error.text()
        assert text == (
            f"The security certificate of the network's proxy ({proxy.url}) could not be "
            "checked. If your organisation uses its own certificate authority, add it to the "
            "system's certificate store, or choose a CA bundle under Advanced that holds it and "
            "the hub's authority."
        ), text
        assert "ktn-desk" not in text and "pr0xy-s3cret" not in text
        # as said: a bundle holding the proxy's authority and the hub's
        both = tmp_path / "both.pem"
        both.write_bytes(hub_ca.bundle.read_bytes() + proxy_ca.bundle.read_bytes())
        dialog.ca_bundle.clear()
        qtbot.keyClicks(dialog.ca_bundle, str(both))
        with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
            click_sign_in(qtbot, dialog)
        assert proxy.tunnels >= 1
    finally:
        proxy.close()
        tls.stop()


def test_a_proxy_login_given_under_advanced_is_used_and_kept_in_the_keyring(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    live_hub.member("ktn", PASSWORD)
    user, password = DESK_LOGIN
    with start_squid(policy="desk-password") as squid:
        allow_http(qtbot, dialog)
        qtbot.keyClicks(dialog.proxy, squid.url)
        assert dialog.proxy_user.isVisible() and dialog.proxy_password.isVisible()
        assert dialog.proxy_password.echoMode() == dialog.proxy_password.EchoMode.Password
        qtbot.keyClicks(dialog.proxy_user, user)
        qtbot.keyClicks(dialog.proxy_password, password)
        fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
        with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
            click_sign_in(qtbot, dialog)
        through = [s for m, u, s in squid.requests() if "/api/v1/" in u]
        assert 200 in through and 407 not in through  # the hub was reached through the proxy
        profile = profiles.active()
        assert profile is not None and profile.proxy == squid.url  # the address alone
        assert load_proxy_login(secrets, profile.secret_key) == ProxyLogin(user, password)

        # signing in again, not remembered this time, the fields left empty: the kept login
        again = SignInDialog(profiles, secrets, profile=profile)
        qtbot.addWidget(again)
        again.show()
        qtbot.mouseClick(again.remember, Qt.MouseButton.LeftButton)
        assert not again.remember.isChecked() and again.proxy_user.text() == ""
        qtbot.keyClicks(again.password, PASSWORD)
        with qtbot.waitSignal(again.signed_in, timeout=15_000):
            click_sign_in(qtbot, again)
        again.tasks.wait_for_done()
        assert 407 not in [s for m, u, s in squid.requests() if "/api/v1/" in u]


# --- the hub at a new address --------------------------------------------------------------------


def answer_questions_with(monkeypatch: pytest.MonkeyPatch, button: str) -> list[str]:
    """Every question box is answered by the button of that text; what they asked."""
    asked: list[str] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        [chosen] = [b for b in box.buttons() if b.text() == button]
        chosen.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def moved_hub_rig(
    qtbot: Any, tmp_path: Path, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> tuple[SignInDialog, Any, int, list[str]]:
    """A profile signed in at 127.0.0.1 with a queued download from there; the dialog filled
    from it (signing in again), its address typed as the hub's new one."""
    from alu_client.core.profiles import sign_in
    from alu_client.core.store.transfers import TransferStore

    live_hub.member("ktn", PASSWORD)
    old = sign_in(profiles, secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    transfers = TransferStore(profiles.store)
    down = transfers.add(
        "download",
        f"{old.url}/api/v1/items/i1/renditions/broadcast",
        str(tmp_path / "a.mp4"),
        options={"profile": old.name},
    )
    stopped: list[str] = []
    d = SignInDialog(
        profiles,
        secrets,
        profile=old,
        engine_lock=tmp_path / "engine.lock",
        before_move=lambda: stopped.append("engine stopped"),
    )
    qtbot.addWidget(d)
    d.show()
    d.url.clear()
    qtbot.keyClicks(d.url, live_hub.url.replace("127.0.0.1", "localhost"))
    qtbot.keyClicks(d.password, PASSWORD)
    return d, old, down, stopped


def test_the_same_account_at_a_new_address_moves_the_profile_when_the_hub_moved(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app made a new, empty profile at the hub's new address: the library, the queue
    (downloads went on to the old address) and the history not yet sent stayed with the old."""
    from alu_client.core.store.transfers import TransferStore

    d, old, down, stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    asked = answer_questions_with(monkeypatch, "Same hub, new address")
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    new = live_hub.url.replace("127.0.0.1", "localhost")
    said = asked[0].replace(WJ, "") if asked else ""  # (each address kept on one line)
    assert len(asked) == 1 and old.url in said and new in said
    assert stopped == ["engine stopped"]  # before the addresses changed
    assert [p.name for p in profiles.list()] == [old.name]  # no second profile
    moved = profiles.require(old.name)
    assert moved.url == new and profiles.active() == moved
    assert d.result_ is not None and d.result_.profile.name == old.name
    assert secrets.get(moved.secret_key)
    transfer = TransferStore(profiles.store).get(down)
    assert transfer is not None
    assert transfer.source == f"{new}/api/v1/items/i1/renditions/broadcast"


def test_another_hub_for_the_same_account_is_a_new_profile(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alu_client.core.store.transfers import TransferStore

    d, old, down, stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    answer_questions_with(monkeypatch, "Another hub")
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    assert stopped == []
    assert profiles.require(old.name).url == old.url  # left as it was
    assert len(profiles.list()) == 2
    transfer = TransferStore(profiles.store).get(down)
    assert transfer is not None and transfer.source.startswith(old.url)


def test_the_moved_question_defaults_to_the_safe_answer(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Enter on "Has the hub moved?" sent a queued upload to an unrelated hub (review): the
    default is "Another hub", which leaves the old hub's transfers waiting."""
    d, _old, _down, _stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    defaults: list[str] = []

    def exec_(box: QMessageBox) -> int:
        default = box.defaultButton()
        defaults.append(default.text() if default is not None else "")
        [cancel] = [b for b in box.buttons() if box.buttonRole(b) == box.ButtonRole.RejectRole]
        cancel.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    click_sign_in(qtbot, d)
    assert defaults == ["Another hub"]


def test_a_move_to_a_hub_of_another_identity_is_refused_and_said(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "Same hub, new address" answered for an unrelated hub: the hub's identity (kept at the
    sign-in) differs, so nothing moves — a profile of its own there, the queue left waiting
    for its hub — and the user is told why."""
    from alu_client.core.store.transfers import TransferStore

    d, old, down, stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    assert profiles.hub_id(old.name) == live_hub.hub.db.hub_id()  # kept at the sign-in
    profiles.set_hub_id(old.name, "another-hub-s-identity")  # as if it were another hub
    asked = answer_questions_with(monkeypatch, "Same hub, new address")
    told: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", lambda _parent, _title, text, *a: told.append(text)
    )
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    assert len(asked) == 1 and stopped == []  # the engine was not stopped: nothing moved
    assert profiles.require(old.name).url == old.url
    assert len(profiles.list()) == 2
    assert d.result_ is not None and d.result_.profile.name != old.name
    transfer = TransferStore(profiles.store).get(down)
    assert transfer is not None and transfer.source.startswith(old.url)
    assert len(told) == 1 and told[0].startswith("This is another hub (its identity differs):")
    assert old.url in told[0].replace(WJ, "")


def test_a_move_to_the_same_hub_keeps_its_identity(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d, old, _down, _stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    answer_questions_with(monkeypatch, "Same hub, new address")
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    assert [p.name for p in profiles.list()] == [old.name]
    assert profiles.hub_id(old.name) == live_hub.hub.db.hub_id()


def test_a_move_is_refused_while_another_engine_holds_the_queue(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alu_client.core.lockfile import EngineLock

    d, old, _down, _stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    answer_questions_with(monkeypatch, "Same hub, new address")
    held = EngineLock(tmp_path / "engine.lock").acquire(say=False)  # `alu watch run`, say
    try:
        click_sign_in(qtbot, d)
        qtbot.waitUntil(lambda: d.error.isVisible(), timeout=15_000)
    finally:
        held.release()
    assert "is at work on this workstation's transfers" in d.error.text()
    assert profiles.require(old.name).url == old.url
    assert len(profiles.list()) == 1


def test_closing_the_question_sends_nothing(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d, _old, _down, stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    answer_questions_with(monkeypatch, "Cancel")
    click_sign_in(qtbot, d)
    assert not d.busy and d.sign_in_button.isEnabled() and stopped == []
    assert d.result_ is None and len(profiles.list()) == 1


def test_a_wrong_password_at_the_new_address_stops_nothing(
    qtbot: Any,
    tmp_path: Path,
    live_hub: LiveHub,
    profiles: Profiles,
    secrets: MemorySecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app's transfers stopped for the move before the password was even tried: a wrong
    one, then Cancel, and the app had quit (review)."""
    d, old, _down, stopped = moved_hub_rig(qtbot, tmp_path, live_hub, profiles, secrets)
    answer_questions_with(monkeypatch, "Same hub, new address")
    d.password.clear()
    qtbot.keyClicks(d.password, "wrong-password")
    click_sign_in(qtbot, d)
    qtbot.waitUntil(lambda: d.error.isVisible(), timeout=15_000)
    assert "refused the user name or password" in d.error.text()
    assert stopped == []
    assert profiles.require(old.name).url == old.url


class _NotAHub(BaseHTTPRequestHandler):
    """A web server that is no ALU hub (404), or a hub failing (500): an HTML page."""

    def do_POST(self) -> None:
        body = b"<html>no</html>"
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("lang", "status", "said"),
    [
        ("fr", 404, "Le hub n’a pas ce qui est demandé."),
        ("ar", 404, "لا يملك المركز ما طُلب."),
        ("fr", 500, "Le hub à l’adresse {url} est occupé ou en panne (HTTP 500)"),
        ("ar", 500, "المركز على العنوان \u2066{url}\u2069 مشغول أو متعطّل (HTTP 500)"),
    ],
    ids=["fr-404", "ar-404", "fr-500", "ar-500"],
)
def test_the_hubs_refusals_are_said_in_the_users_language(
    qtbot: Any, qapp: QApplication, dialog: SignInDialog, lang: str, status: int, said: str
) -> None:
    # the core's sentence went to the dialog as it is: English in a French or Arabic dialog
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAHub)
    server.status = status  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        install_translators(qapp, lang)
        allow_http(qtbot, dialog)
        fill(qtbot, dialog, url, "ktn", PASSWORD)
        click_sign_in(qtbot, dialog)
        qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=15_000)
        assert dialog.error.text().startswith(said.format(url=url)), dialog.error.text()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("fr", "ne peut pas écrire dans {folder}\u202f: Erreur d’entrée/sortie."),
        ("ar", "ولا يستطيع الكتابة في {folder}: خطأ في الإدخال/الإخراج."),
    ],
)
def test_a_folder_that_cannot_be_written_is_said_in_the_users_language(
    qapp: QApplication, lang: str, said: str
) -> None:
    """The start-up message said the system's reason in English ("Input/output error"), and
    the folder was not isolated: in Arabic its leading "/" was drawn at its right end."""
    from alu_client.ui.formats import isolated
    from alu_client.ui.signin import cannot_write_text

    folder = "/home/news/.local/share/alu-client"
    install_translators(qapp, lang)
    error = OSError(errno.EIO, os.strerror(errno.EIO), folder)
    text = cannot_write_text(folder, error)
    assert said.format(folder=isolated(folder)) in text, text
    full = cannot_write_text(folder, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), folder))
    assert isolated(folder) in full


# --- the app quitting (a stop signal) while the dialog is open ---------------------------------


def test_quitting_during_a_sign_in_on_its_way_lets_it_finish_whole(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    # cut off, the profile could be kept without its token (or the token lost)
    live_hub.member("ktn", PASSWORD)
    allow_http(qtbot, dialog)
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000):
        click_sign_in(qtbot, dialog)
        assert dialog.busy
        dialog.stop()
        assert dialog.isVisible()  # not before the sign-in is done
    assert dialog.result() == QDialog.DialogCode.Accepted
    profile = profiles.active()
    assert profile is not None and secrets.get(profile.secret_key)


def test_quitting_during_a_sign_in_that_fails_asks_nothing_more(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a[1]))
    fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)  # http://: "Allow plain HTTP?" after it
    click_sign_in(qtbot, dialog)
    dialog.stop()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert asked == [] and dialog.result_ is None


def test_quitting_while_a_question_is_open_closes_it_and_the_dialog(
    qtbot: Any, dialog: SignInDialog, live_hub: LiveHub, profiles: Profiles
) -> None:
    from PySide6.QtCore import QTimer

    questions: list[str] = []

    def stop_at_the_question() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        if questions:  # left open by stop(): closed here, for the test to fail, not hang
            box.reject()
            return
        questions.append(box.text())
        dialog.stop()  # (what a stop signal does while "Allow plain HTTP?" is open)

    poll = QTimer()
    poll.timeout.connect(stop_at_the_question)
    poll.start(20)
    try:
        fill(qtbot, dialog, live_hub.url, "ktn", PASSWORD)  # http://: the question comes
        click_sign_in(qtbot, dialog)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    finally:
        poll.stop()
    assert len(questions) == 1 and "unencrypted" in questions[0]
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert QApplication.activeModalWidget() is None
    assert profiles.list() == []


def test_an_alu_command_holding_the_data_folder_is_named_as_one(qapp: QApplication) -> None:
    """`alu fetch` holding the folder for its own transfer ends by itself: the app says to
    wait for it, not to close "another ALU Desk" that is not there."""
    from alu_client.core.lockfile import EngineBusy
    from alu_client.ui.signin import engine_busy_text

    text = engine_busy_text(EngineBusy("busy", 4242, one_shot=True))
    assert "alu command (process 4242)" in text and "Wait for it to end" in text
    assert "Close it" not in text
    desk = engine_busy_text(EngineBusy("busy", 4242))
    assert "Another ALU Desk, or alu watch run (process 4242)" in desk


def test_the_sign_in_problem_is_copied_without_the_marks_it_is_shown_with(
    qtbot: Any, dialog: SignInDialog
) -> None:
    """The problem line is selectable; a copy of it kept the isolates around the hub's address
    (invisible, they follow the address into the e-mail to the hub's administrator)."""
    from PySide6.QtGui import QGuiApplication, QKeySequence

    said = "The hub at https://hub.alu.example cannot be reached."
    dialog._show_error("The hub at \u2068https://hub.alu.example\u2069 cannot be reached.")
    dialog.error.setFocus()
    dialog.error.setSelection(0, len(dialog.error.text()))
    QGuiApplication.clipboard().clear()
    qtbot.keySequence(dialog.error, QKeySequence.StandardKey.Copy)
    assert QGuiApplication.clipboard().text() == said


class _BrokenKeyring:
    """A keyring backend whose every call fails (a keyring daemon gone wrong)."""

    priority: float = 5.0

    def get_password(self, *_args: str) -> str | None:
        from keyring.errors import KeyringError

        raise KeyringError("broken")

    set_password = delete_password = get_password


def test_a_failing_keyring_at_sign_in_says_to_untick_remember_me(
    qtbot: Any, live_hub: LiveHub, profiles: Profiles
) -> None:
    """ "…unlock the keyring, or sign in again." was said to a user signing in (review): the
    way that works is to untick Remember me, and the dialog says so; it then signs in."""
    from alu_client.core.credentials import KeyringSecrets

    live_hub.member("ktn", PASSWORD)
    d = SignInDialog(profiles, KeyringSecrets(_BrokenKeyring()))
    qtbot.addWidget(d)
    d.show()
    allow_http(qtbot, d)
    fill(qtbot, d, live_hub.url, "ktn", PASSWORD)
    click_sign_in(qtbot, d)
    qtbot.waitUntil(lambda: d.error.isVisible(), timeout=15_000)
    assert "could not use the sign-in (KeyringError)" in d.error_text
    assert d.error_text.endswith(
        "; unlock the keyring, or untick “Remember me” to sign in for this session only."
    )
    d.remember.setChecked(False)
    qtbot.keyClicks(d.password, PASSWORD)
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    d.tasks.wait_for_done()


def test_a_sign_in_the_workstation_cannot_keep_is_ended_on_the_hub(
    qtbot: Any,
    live_hub: LiveHub,
    profiles: Profiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Signing in again with the sign-in kept in the insecure file, on a full disk: the new
    token could not be written, nor the file rewritten to forget it, and that second failure
    left the hub's new 30-day session live (review). It is ended; the session kept before
    goes on working."""
    import requests
    from sqlalchemy import select

    from alu_client.core import durable
    from alu_client.core.credentials import FileSecrets
    from alu_client.core.profiles import sign_in
    from alu_hub.models import Token

    live_hub.member("ktn", PASSWORD)
    secrets = FileSecrets(tmp_path / "secrets-NOT-SECURE.json")
    first = sign_in(profiles, secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)
    kept = secrets.get(first.secret_key)
    assert kept is not None

    def full_disk(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(durable, "fsync", full_disk)
    d = SignInDialog(profiles, secrets)
    qtbot.addWidget(d)
    d.show()
    allow_http(qtbot, d)
    fill(qtbot, d, live_hub.url, "ktn", PASSWORD)
    click_sign_in(qtbot, d)
    qtbot.waitUntil(lambda: d.error.isVisible(), timeout=15_000)
    d.tasks.wait_for_done()
    assert d.result() != QDialog.DialogCode.Accepted
    with live_hub.hub.db.session() as s:
        tokens = list(s.scalars(select(Token)))
    assert len(tokens) == 2  # the hub opened a second session …
    assert [t.revoked_at is None for t in tokens].count(True) == 1  # … and it was ended
    assert secrets.get(first.secret_key) == kept
    r = requests.get(live_hub.api("/me"), headers={"Authorization": f"Bearer {kept}"}, timeout=10)
    assert r.status_code == 200
