"""The transfer engine's messages in French and Arabic: every message the engine's sources can
make has a template in alu_client/ui/engine_text.py, every template is translated with its
details kept, and the transfer list shows them in the user's language. So do the hub client's
errors, the reasons the status bar gives for being offline or signed out, and what the hot
folders say of a file (Settings → Hot folders, "Problem")."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import os
import re
import string
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtWidgets import QApplication

from alu_client.core import http
from alu_client.core.transfers.base import RetryableError, Stopped
from alu_client.core.transfers.download.protocol import unexpected_answer
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.retry import user_message
from alu_client.ui import engine_text
from alu_client.ui.i18n import install_translators, translations_dir
from alu_client.ui.models.transfers import COL_ERROR
from alu_client.ui.views.transfers import TransfersPanel
from tests.gui.conftest import add

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "src" / "alu_client" / "core" / "transfers"
HTTP = ROOT / "src" / "alu_client" / "core" / "http.py"  # what every transfer connection says
#: what carries a message to the user: the engine's exceptions
CARRIERS = {"RetryableError", "PermanentError", "DiskFullError", "_Resume", "TransferError"}


def _sample(node: ast.expr) -> str | None:
    """A message ``node`` can make: a string, or an f-string with "7" for each detail."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "7" for v in node.values)
    return None


def engine_messages() -> list[tuple[str, str]]:
    """(where, message) for every message the engine's sources raise or keep as a constant."""
    found = []
    for path in [*sorted(ENGINE.rglob("*.py")), HTTP]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            sample = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in CARRIERS:
                    sample = _sample(node.args[0])
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                value = _sample(node.value)
                # module constants that are sentences: MSG_*, FILE_CHANGED, LOST_NOTE, … (a
                # *_HINT is part of messages, checked through them: see the proxy test)
                if (
                    names
                    and names[0].isupper()
                    and not names[0].endswith("_HINT")
                    and value
                    and " " in value
                    and value[0].isupper()
                ):
                    sample = value
            if sample is not None:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", sample))
    return found


def test_every_message_of_the_engine_has_a_template() -> None:
    messages = engine_messages()
    assert len(messages) > 60  # the scan finds them (a broken scan would find none)
    missing = [(where, m) for where, m in messages if engine_text.template_of(m) is None]
    assert missing == [], "add these to alu_client/ui/engine_text.py:\n" + "\n".join(
        f"{where}: {m}" for where, m in missing
    )


class _Answer(requests.Response):
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__()
        self.status_code = status
        self.headers.update(headers)
        self.url = "https://hub.example.org/api/v1/items"


@pytest.mark.parametrize("proxy", ["http://proxy.station:3128", ""])
@pytest.mark.parametrize(
    ("status", "headers"), [(407, {}), (502, {"X-Squid-Error": "E"}), (403, {"X-Squid-Error": "E"})]
)
def test_every_proxy_message_has_a_template(
    proxy: str, status: int, headers: dict[str, str]
) -> None:
    said = http.proxy_answer(_Answer(status, headers), proxy=proxy)
    assert said is not None and engine_text.template_of(said) is not None, said


@pytest.mark.parametrize("will_retry", [True, False])
@pytest.mark.parametrize(
    "error",
    [
        Stopped("cancel"),
        Stopped("pause"),
        OSError(28, "No space left on device"),
        requests.exceptions.SSLError("certificate verify failed"),
        requests.Timeout("read timed out"),
        requests.ConnectionError("connection refused"),
        requests.HTTPError(response=_Answer(500, {})),
        KeyError("surprise"),
    ],
)
def test_every_queue_message_has_a_template(error: BaseException, will_retry: bool) -> None:
    said = user_message(error, will_retry=will_retry)
    assert engine_text.template_of(said) is not None, said


def _translations(lang: str) -> dict[str, str]:
    tree = ET.parse(translations_dir() / f"alu_{lang}.ts")
    for context in tree.getroot().iter("context"):
        if context.findtext("name") == engine_text.CONTEXT:
            return {
                m.findtext("source", ""): m.findtext("translation", "")
                for m in context.iter("message")
            }
    return {}


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_every_template_is_translated_with_its_details(lang: str) -> None:
    done = _translations(lang)
    for template in (
        engine_text.TEMPLATES
        + engine_text.HUB_TEMPLATES
        + engine_text.LIBRARY_TEMPLATES
        + engine_text.WATCH_TEMPLATES
    ):
        translated = done.get(template, "")
        assert translated and translated != template, (lang, template)
        marks = sorted(re.findall(r"%\d", template))
        assert sorted(re.findall(r"%\d", translated)) == marks, (lang, template, translated)


def test_messages_are_shown_in_the_users_language(qapp: QApplication) -> None:
    unexpected = str(unexpected_answer(418))
    refused = "The hub refused the upload: Upload-Metadata must name a project"
    assert engine_text.shown(unexpected) == unexpected  # English: as it is

    install_translators(qapp, "fr")
    assert engine_text.shown(unexpected) == (
        "Le serveur a donné une réponse inattendue (HTTP 418) ; vérifiez l’adresse, ou prévenez "
        "qui gère le serveur."
    )
    # the server's own words stay as the server wrote them
    assert (
        engine_text.shown(refused)
        == "Le hub a refusé l’envoi : Upload-Metadata must name a project"
    )
    stalled = RetryableError("The connection stalled; resuming.").message
    assert engine_text.shown(stalled) == "La connexion s’est figée ; reprise en cours."

    install_translators(qapp, "ar")
    assert engine_text.shown(unexpected) == (
        "أعطى الخادم ردًا غير متوقع (HTTP 418)؛ تحقّق من العنوان، أو أبلغ المسؤول عن الخادم."
    )
    assert engine_text.shown("Nothing the engine says.") == "Nothing the engine says."
    assert engine_text.shown("") == ""


def test_a_message_said_of_any_server_is_shown_in_the_users_language(
    qapp: QApplication,
) -> None:
    # `alu tus-put` / `alu fetch` to a server that is no ALU hub word the engine's messages
    # for "the server" (retry.in_server_words); shown in the app's list (the same data
    # folder), they stayed in English
    from alu_client.core.transfers.retry import in_server_words

    for template in engine_text.TEMPLATES:
        assert in_server_words(template) in engine_text.TEMPLATES, template
    lost = in_server_words("The hub refused the upload: Upload-Metadata must name a project")
    full = in_server_words(
        "The hub's disk is full; the upload will go on once the agency has made room."
    )
    install_translators(qapp, "fr")
    assert engine_text.shown(lost) == (
        "Le serveur a refusé l’envoi : Upload-Metadata must name a project"
    )
    assert engine_text.shown(full) == (
        "Le disque du serveur est plein ; l’envoi continuera quand le serveur aura de nouveau "
        "de la place."
    )
    install_translators(qapp, "ar")
    # the server's own words, English inside an Arabic sentence: in an isolate of their own
    assert engine_text.shown(lost) == (
        "رفض الخادم الإرسال: \u2068Upload-Metadata must name a project\u2069"
    )


def test_the_transfer_list_shows_the_error_translated(
    qtbot: Any, qapp: QApplication, queue: TransferQueue
) -> None:
    tid = add(queue, "DAKAR-FLOODS")
    # an attempt failed and the next one waits (as the queue records a retry)
    queue.transfers.finish(
        tid,
        "queued",
        error="The server could not be reached; trying again.",
        next_attempt_at=time.time() + 3600,
    )
    install_translators(qapp, "fr")
    panel = TransfersPanel(queue)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    cell = panel.current_index_for(tid).siblingAtColumn(COL_ERROR)
    assert cell.data() == "Le serveur est injoignable ; nouvel essai."
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == "Le serveur est injoignable ; nouvel essai."


# --- why the app is offline: the hub client's errors, the sync status's reasons -------------

HUB = ROOT / "src" / "alu_client" / "core" / "hub.py"
FEED_SYNC = ROOT / "src" / "alu_client" / "core" / "sync" / "feed.py"
HUB_TYPES = ROOT / "src" / "alu_client" / "core" / "hub_types.py"
#: what carries a reason to the status bar: the hub client's errors, the sync's status
HUB_CARRIERS = {
    "HubError", "Unreachable", "TlsError", "AuthError", "Forbidden", "NotFound", "ServerError",
    "BadResponse", "PlainHttpRefused", "ProxyRefused", "SyncStatus",
}  # fmt: skip
#: details the hub client puts in its sentences, as they read (the proxy named, a wait)
HUB_DETAILS = {"who": "The network's proxy (7)", "when": "in 7 minute(s)"}


def _hub_sample(node: ast.expr) -> str | None:
    """As ``_sample``, with the hub client's worded details, and the words of an ``x or "…"``."""
    if isinstance(node, ast.BoolOp):
        return _hub_sample(node.values[-1])
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
                continue
            value = v.value if isinstance(v, ast.FormattedValue) else v
            name = value.id if isinstance(value, ast.Name) else ""
            called = value.func if isinstance(value, ast.Call) else None
            if isinstance(called, ast.Attribute) and called.attr == "proxy_named":
                name = "who"
            parts.append(HUB_DETAILS.get(name, "7"))
        return "".join(parts)
    return _sample(node)


def hub_reasons() -> list[tuple[str, str]]:
    """(where, sentence) for every reason the hub client and the feed sync word."""
    found = []
    for path in (HUB, FEED_SYNC, HUB_TYPES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            samples: list[str | None] = []
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in HUB_CARRIERS:
                    samples = [_hub_sample(a) for a in node.args[:2]]
            elif isinstance(node, ast.IfExp):  # said = (a 407's sentence if … else another's)
                samples = [_hub_sample(node.body), _hub_sample(node.orelse)]
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.BoolOp):
                samples = [_hub_sample(node.value)]  # message = the hub's words or ours
            for sample in samples:  # a sentence: a capital, or a detail, first
                if sample and " " in sample and (sample[0].isupper() or sample[0] == "7"):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", sample))
    return found


def test_every_reason_of_the_hub_client_has_a_template() -> None:
    reasons = hub_reasons()
    assert len(reasons) > 20  # the scan finds them
    missing = [(where, r) for where, r in reasons if engine_text.template_of(r) is None]
    assert missing == [], "add these to alu_client/ui/engine_text.py:\n" + "\n".join(
        f"{where}: {r}" for where, r in missing
    )


@pytest.mark.parametrize("proxy", ["http://proxy.station:3128", ""])
@pytest.mark.parametrize(("status", "headers"), [(407, {}), (502, {}), (403, {})])
def test_a_proxy_on_the_way_to_the_hub_is_told_with_the_hubs_address_alone(
    proxy: str, status: int, headers: dict[str, str]
) -> None:
    # as the hub client asks (a proxy's answer, not the hub's JSON): the detail is the address,
    # not "the hub at" and the address, left in English in a translated sentence
    hub_url = "https://hub.example.org"
    said = http.proxy_answer(
        _Answer(status, {"X-Squid-Error": "E", **headers}),
        server=f"the hub at {hub_url}",
        proxy=proxy,
        not_the_servers=True,
    )
    assert said is not None
    found = engine_text.template_of(said)
    assert found is not None, said
    assert "the hub at" in found[0] and hub_url in found[1].values(), found


def test_why_the_app_is_offline_is_told_in_the_users_language(
    qtbot: Any, qapp: QApplication
) -> None:
    from alu_client.core.hub import Connection, HubClient, Unreachable
    from alu_client.core.sync import OFFLINE, SIGNED_OUT, SyncStatus
    from alu_client.ui.statusbar import StatusBar

    client = HubClient(Connection("http://127.0.0.1:9", allow_http=True), token="t")
    with pytest.raises(Unreachable) as out:
        client.items(after=0)
    reason = str(out.value)
    assert reason == (
        "The hub at http://127.0.0.1:9 cannot be reached; check the network and the address."
    )
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_sync_status(SyncStatus(OFFLINE, reason))
    assert bar.connection.toolTip() == reason  # English: as it is
    install_translators(qapp, "fr")  # the language changes while offline: the tip follows
    french = (
        "Le hub à l’adresse http://127.0.0.1:9 est injoignable\u202f; vérifiez le réseau et "
        "l’adresse."
    )
    qtbot.waitUntil(lambda: bar.connection.toolTip() == french)
    install_translators(qapp, "ar")
    arabic = (
        "يتعذّر الوصول إلى المركز على العنوان \u2066http://127.0.0.1:9\u2069؛ تحقّق من الشبكة "
        "ومن العنوان."
    )
    qtbot.waitUntil(lambda: bar.connection.toolTip() == arabic)
    bar.set_sync_status(
        SyncStatus(SIGNED_OUT, "Your session with the hub has ended; sign in again.")
    )
    assert bar.connection.toolTip() == (
        "انتهت جلستك مع المركز؛ سجّل الدخول من جديد.\nانقر لتسجيل الدخول (ملف › تسجيل الدخول…)."
    )
    bar.set_sync_status(SyncStatus(OFFLINE, "Not in contact with the hub yet."))
    assert bar.connection.toolTip() == "لم يتم الاتصال بالمركز بعد."


def test_a_long_catch_up_is_online_with_its_progress_in_the_users_language(
    qtbot: Any, qapp: QApplication
) -> None:
    # a year's first catch-up said "○ Offline" for its 48 s, then "● Online" with no word of
    # the 33,415 items coming meanwhile
    from alu_client.core.sync import ONLINE, SyncStatus
    from alu_client.ui.formats import count_text
    from alu_client.ui.statusbar import StatusBar

    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_sync_status(SyncStatus(ONLINE, catching_up=12400))
    assert bar.connection.text() == "● Online · Catching up with the feed: 12,400 items so far…"
    assert "being downloaded" in bar.connection.toolTip()
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: "Mise à jour du fil" in bar.connection.text())
    assert count_text(12400) in bar.connection.text()
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: "جارٍ تحديث الموجز" in bar.connection.text())
    assert count_text(12400) in bar.connection.text()
    install_translators(qapp, "en")
    bar.set_sync_status(SyncStatus(ONLINE))  # the catch-up done
    assert bar.connection.text() == "● Online"
    assert bar.connection.toolTip() == "Connected to the hub; the feed is live."


# --- why Library → Delete left a file in place ------------------------------------------------


def test_every_refusal_of_the_librarys_delete_is_shown_in_the_users_language(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Library → Delete local file said the core's English sentence in a French or Arabic
    app ("… was left in place: its size changed from 1,234 to 1,300 bytes …")."""
    from alu_client.core.library import Library, LibraryError, upsert_items
    from alu_client.core.store import Store
    from alu_client.ui.formats import count_text
    from tests.client.test_library import PROFILE, make_item
    from tests.client.test_library_files import put

    store = Store(tmp_path / "library.sqlite3")
    upsert_items(store, PROFILE, [make_item(n) for n in range(1, 7)])
    library = Library(store, PROFILE)
    folder = tmp_path / "videos"
    said: list[str] = []

    def refused(n: int, rendition: str = "broadcast") -> None:
        with pytest.raises(LibraryError) as out:
            library.remove_file(f"it{n:06d}", rendition)
        said.append(str(out.value))

    refused(1, "proxy")  # no such file
    put(store, folder, 2, 1234).write_bytes(b"x" * 1300)  # another size
    refused(2)
    swapped = put(store, folder, 3, 10)
    swapped.unlink()
    swapped.mkdir()  # something else than a file
    refused(3)
    put(store, folder, 4, 10)
    with store.write() as conn:  # a record edited by hand
        conn.execute("UPDATE library_files SET size = 'x' WHERE item_id = 'it000004'")
    refused(4)
    put(store, folder, 5, 10)
    put(store, folder, 6, 10)
    real_unlink, real_lstat = os.unlink, os.lstat

    def unlink(path: Any, *a: Any, **k: Any) -> None:
        if str(path).endswith("item5-broadcast.mp4"):
            raise PermissionError(13, "Permission denied")
        real_unlink(path, *a, **k)

    def lstat(path: Any, *a: Any, **k: Any) -> os.stat_result:
        if str(path).endswith("item6-broadcast.mp4"):
            raise OSError(5, "Input/output error")
        return real_lstat(path, *a, **k)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "lstat", lstat)
    refused(5)
    refused(6)
    monkeypatch.undo()
    store.close()

    missing = [m for m in said if engine_text.template_of(m) is None]
    assert missing == [], "add these to alu_client/ui/engine_text.py"
    assert len({engine_text.template_of(m)[0] for m in said}) == 6  # type: ignore[index]
    for m in said:
        assert engine_text.template_of(m)[0] in engine_text.LIBRARY_TEMPLATES  # type: ignore[index]
    install_translators(qapp, "fr")
    french = [engine_text.shown(m) for m in said]
    assert french[1] == (
        f"item2-broadcast.mp4 a été laissé en place : sa taille est passée de {count_text(1234)} "
        f"à {count_text(1300)} octets depuis son téléchargement ; ce n’est donc plus le fichier "
        "vérifié par ALU Desk."
    )
    assert count_text(1234) != "1,234" and "1234" not in french[1]
    assert french[4] == (
        "item5-broadcast.mp4 n’a pas été supprimé : la suppression a échoué (Permission refusée)."
    )
    for m, shown in zip(said, french, strict=True):
        assert shown != m and "left in place" not in shown and "not removed" not in shown
    install_translators(qapp, "ar")
    arabic = [engine_text.shown(m) for m in said]
    assert arabic[1] == (
        "تُرك \u2068item2-broadcast.mp4\u2069 في مكانه: تغيّر حجمه من ١٬٢٣٤ إلى ١٬٣٠٠ بايت منذ "
        "تنزيله، فلم يعد الملف الذي تحقّق منه ALU Desk."
    )
    for m, shown in zip(said, arabic, strict=True):
        assert shown != m and "left in place" not in shown and "not removed" not in shown


def test_the_refusal_to_delete_a_file_written_again_has_its_template(tmp_path: Path) -> None:
    """Library → Delete local file of a file written again at its name since it was downloaded
    (another workstation sharing the download folder, another program): its own sentence, with
    the file's name as its one detail, translated with the others."""
    from alu_client.core.library import Library, LibraryError, upsert_items
    from alu_client.core.store import Store
    from tests.client.test_library import PROFILE, make_item
    from tests.client.test_library_files import put, put_there_later

    store = Store(tmp_path / "library.sqlite3")
    try:
        upsert_items(store, PROFILE, [make_item(1)])
        path = put(store, tmp_path / "share", 1, 100)
        put_there_later(path, b"b" * 100)
        with pytest.raises(LibraryError) as refused:
            Library(store, PROFILE).remove_file("it000001", "broadcast")
    finally:
        store.close()
    said = str(refused.value)
    found = engine_text.template_of(said)
    assert found is not None, "add it to alu_client/ui/engine_text.py"
    template, details = found
    assert template in engine_text.LIBRARY_TEMPLATES
    assert details == {"1": "item1-broadcast.mp4"}
    assert "replaced or modified since it was downloaded" in template
    assert engine_text.shown(said) == said  # (English: as it is)


def test_counts_in_a_message_are_templates_details() -> None:
    for template, numbers in engine_text._COUNTS.items():
        assert template in (
            engine_text.TEMPLATES + engine_text.LIBRARY_TEMPLATES + engine_text.WATCH_TEMPLATES
        ), template
        assert numbers <= set(re.findall(r"%(\d)", template)), template
    for template, numbers in engine_text._NESTED.items():
        assert template in engine_text.WATCH_TEMPLATES + engine_text.WATCH_FOLDER_TEMPLATES, (
            template
        )
        assert numbers <= set(re.findall(r"%(\d)", template)), template


# --- what a hot folder says of a file (Settings → Hot folders, "Problem") ---------------------

WATCH = ROOT / "src" / "alu_client" / "core" / "watch"
UPLOADS = ROOT / "src" / "alu_client" / "core" / "uploads.py"
#: what writes a sentence into a file's row (``watch_files.error``)
WATCH_CARRIERS = {"_BadFile", "_record_error", "_write_row", "_cut", "_set_outcome"}


def _format_sample(text: str) -> str:
    """A ``str.format`` template with "7" for each field (``{{`` as the brace it stands for)."""
    return "".join(
        literal + ("7" if name is not None else "")
        for literal, name, _spec, _conv in string.Formatter().parse(text)
    )


def _is_sentence(sample: str | None) -> bool:
    return bool(sample) and " " in str(sample) and (str(sample)[0].isupper() or sample[0] == "7")


def watch_messages() -> list[tuple[str, str]]:
    """(where, message) for every sentence core/watch records of a file: written into a row
    there (``_record_error``, ``_cut``, …, an outcome returned), every ``MSG_*`` of its modules
    (as imported: one made of two is whole), and the fields' problems of core/uploads.py that
    its sentences carry."""
    found = []
    for path in sorted(WATCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            args: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in WATCH_CARRIERS:
                    args = [*node.args, *(k.value for k in node.keywords)]
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                args = node.value.elts  # (state, note)
            for arg in args:
                sample = _sample(arg)
                if _is_sentence(sample):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", str(sample)))
        module = importlib.import_module(f"alu_client.core.watch.{path.stem}")
        for name, value in vars(module).items():
            if name.startswith("MSG_") and isinstance(value, str):
                found.append((f"{path.relative_to(ROOT)}:{name}", _format_sample(value)))
    uploads = importlib.import_module("alu_client.core.uploads")
    for name, value in vars(uploads).items():
        if name.startswith("MSG_") and isinstance(value, str):
            found.append((f"{UPLOADS.relative_to(ROOT)}:{name}", _format_sample(value)))
    for node in ast.walk(ast.parse(UPLOADS.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "FieldError":
            sample = _sample(node.args[1]) if len(node.args) > 1 else None
            if _is_sentence(sample):
                found.append((f"{UPLOADS.relative_to(ROOT)}:{node.lineno}", str(sample)))
    # (a MSG_* imported by another module of core/watch is found there too: once is enough)
    first: dict[str, str] = {}
    for where, m in found:
        first.setdefault(m, where)
    return [(where, m) for m, where in first.items()]


def test_every_message_of_the_hot_folders_has_a_template_of_its_own() -> None:
    """The Problem column of Settings → Hot folders showed core/watch's English sentences in
    a French or Arabic app."""
    messages = watch_messages()
    assert len(messages) > 15  # the scan finds them (a broken scan would find none)
    missing = [(where, m) for where, m in messages if engine_text.template_of(m) is None]
    assert missing == [], "add these to _WATCH_MARKED in alu_client/ui/engine_text.py:\n" + (
        "\n".join(f"{where}: {m}" for where, m in missing)
    )
    # each its own, not one of the engine's whose detail happens to swallow its words
    for where, m in messages:
        found = engine_text.template_of(m)
        assert found is not None and found[0] in engine_text.WATCH_TEMPLATES, (where, m, found)


class _StandIn(QTranslator):
    """French for the hot folders' templates ("[fr] " and the template) whatever the ``.ts``
    files hold (their translations come later); every other text as the installed French has
    it."""

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        if context == engine_text.CONTEXT and source in engine_text.WATCH_TEMPLATES:
            return f"[fr] {source}"
        return None

    def isEmpty(self) -> bool:
        return False


def test_the_hot_folders_problems_are_shown_in_the_users_language(
    qapp: QApplication, tmp_path: Path
) -> None:
    from alu_client.core.store import Store
    from alu_client.core.watch import HotFolders
    from alu_client.ui.formats import isolated as iso
    from alu_client.ui.views.settings_models import COL_MESSAGE, WatchErrorsModel

    store = Store(tmp_path / "library.sqlite3")
    hot = tmp_path / "hot"
    hot.mkdir()

    def refused(path: Path, metadata: dict[str, str], folder: Any) -> int:
        raise PermissionError(13, "Permission denied")

    folders = HotFolders(
        store,
        "agency",
        refused,
        video_problem=lambda p: f"{p.name} is empty (0 bytes)." if p.stem == "empty" else "",
    )
    folders.add_folder(hot, settle_seconds=0)
    for stem, sidecar in (
        ("json", "{ not json"),
        ("country", json.dumps({"country": "Kenya"})),
        ("listed", json.dumps(["title"])),
        ("empty", None),
        ("queued", None),
    ):
        (hot / f"{stem}.mp4").write_bytes(stem.encode() * 100)
        if sidecar is not None:
            (hot / f"{stem}.json").write_text(sidecar, encoding="utf-8")
    for _ in range(3):  # seen, settled, taken
        folders.scan_now()
    files = sorted(
        (f for f in folders.files(folders.list_folders()[0].id) if f.state == "error"),
        key=lambda f: f.path.name,
    )
    said = {f.path.stem: f.error for f in files}
    assert said == {
        "country": "country.mp4: The country is a two-letter code, like KE or SN. (from the "
        "sidecar country.json)",
        "empty": "empty.mp4 is empty (0 bytes). The hub would refuse it; it was not sent.",
        "json": "The sidecar json.json is not valid JSON (Expecting property name enclosed in "
        "double quotes: line 1 column 3 (char 2)). Fix it and json.mp4 is taken again.",
        "listed": 'The sidecar listed.json must be a JSON object like {"title": "…"}.',
        "queued": "It could not be queued: Permission denied",
    }
    store.close()

    model = WatchErrorsModel()
    model.set_items(files)
    shown = {f.path.stem: model.index(row, COL_MESSAGE).data() for row, f in enumerate(files)}
    # English: as it is (the probe's sentence names the file isolated, as the upload form's)
    assert shown == {**said, "empty": said["empty"].replace("empty.mp4", iso("empty.mp4"), 1)}
    install_translators(qapp, "fr")
    stand_in = _StandIn()
    qapp.installTranslator(stand_in)
    try:
        shown = {f.path.stem: model.index(row, COL_MESSAGE).data() for row, f in enumerate(files)}
        tip = model.index(0, COL_MESSAGE).data(Qt.ItemDataRole.ToolTipRole)
        country_fr = QCoreApplication.translate(
            engine_text.CONTEXT, "The country is a two-letter code, like KE or SN."
        )
        denied_fr = QCoreApplication.translate("OsError", "Permission denied")
    finally:
        qapp.removeTranslator(stand_in)
    assert shown == {
        # the field's problem and the probe's in the user's language too, inside the sentence
        "country": f"[fr] country.mp4: {country_fr} (from the sidecar country.json)",
        "empty": f"[fr] {iso('empty.mp4')} est vide (0 octet). The hub would "
        "refuse it; it was not sent.",
        "json": "[fr] The sidecar json.json is not valid JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 3 (char 2)). Fix it and json.mp4 is taken "
        "again.",
        "listed": '[fr] The sidecar listed.json must be a JSON object like {"title": "…"}.',
        "queued": f"[fr] It could not be queued: {denied_fr}",
    }
    assert denied_fr == "Permission refusée"
    assert tip == shown[files[0].path.stem]
    # a failed upload's reason is the engine's: its template, translated already
    model.set_items([dataclasses.replace(files[0], error=RETRY_SAID)])
    install_translators(qapp, "fr")
    assert model.index(0, COL_MESSAGE).data() == "Le serveur est injoignable ; nouvel essai."


RETRY_SAID = "The server could not be reached; trying again."


def test_a_file_name_with_a_colon_keeps_its_sentence_translated(qapp: QApplication) -> None:
    """ "Interview: minister.mp4: A title is needed. (from the file name)" was read with
    "Interview" as the file and the rest as an unknown sentence: half English, half mangled."""
    install_translators(qapp, "fr")
    try:
        said = engine_text.shown("Interview: minister.mp4: A title is needed. (from the file name)")
        assert said == "Interview: minister.mp4 : Il faut un titre. (du nom du fichier)"
        sidecar = (
            "a: b.mp4: The country is a two-letter code, like KE or SN. (from the sidecar "
            "a: b.json)"
        )
        assert engine_text.shown(sidecar) == (
            "a: b.mp4 : Le pays est un code de deux lettres, comme KE ou SN. (du fichier annexe "
            "a: b.json)"
        )
        # a sentence no template knows stays as the first reading had it
        assert engine_text.template_of("x.mp4: Odd: words (from the file name)") == (
            "%1: %2 (from the file name)",
            {"1": "x.mp4", "2": "Odd: words"},
        )
    finally:
        install_translators(qapp, "en")


def test_a_name_of_the_other_direction_is_isolated_in_its_sentence(qapp: QApplication) -> None:
    """An Arabic file name opening an English sentence made the whole sentence right to left
    (Qt takes a paragraph's direction from its first letter): "“كليب.mp4” is being sent by
    …" read from the right, its quotes and full stop moved. A name in the other direction is
    shown in an isolate (U+2068 … U+2069); one the translation already isolates is not
    isolated twice, and a Latin name in an English sentence is left as it is."""
    from alu_client.core.transfers.download.protocol import MSG_PART_BUSY
    from alu_client.core.watch.messages import MSG_SENT_ELSEWHERE

    fsi, pdi = "\u2068", "\u2069"
    arabic = "تقرير الانتخابات.mp4"
    install_translators(qapp, "en")
    said = engine_text.shown(MSG_SENT_ELSEWHERE.format(name=arabic, host="desk-2"))
    assert f"{fsi}{arabic}{pdi}" in said
    assert f"{fsi}desk-2{pdi}" in said
    assert said.replace(fsi, "").replace(pdi, "") == MSG_SENT_ELSEWHERE.format(
        name=arabic, host="desk-2"
    )
    latin = MSG_SENT_ELSEWHERE.format(name="clip (2).mp4", host="desk-2")
    assert engine_text.shown(latin) == latin

    install_translators(qapp, "ar")
    try:
        # the Arabic catalogue writes this one «%1» without an isolate: the app adds it
        busy = engine_text.shown(MSG_PART_BUSY.format(name="clip (2).mp4.part"))
        assert f"«{fsi}clip (2).mp4.part{pdi}»" in busy, busy
        # … and this one with its own: not twice
        sent = engine_text.shown(MSG_SENT_ELSEWHERE.format(name="clip (2).mp4", host="desk-2"))
        assert f"{fsi}clip (2).mp4{pdi}" in sent, sent
        assert f"{fsi}{fsi}" not in sent and f"{pdi}{pdi}" not in sent, sent
    finally:
        install_translators(qapp, "en")


def test_ctrl_c_on_a_transfers_error_copies_it_without_the_marks(
    qtbot: Any, qapp: QApplication, queue: TransferQueue
) -> None:
    """The error cell shows an Arabic file name in an isolate; Ctrl+C copied the isolate too
    (invisible, it breaks a search for the name pasted elsewhere). The copy is the text alone."""
    from PySide6.QtGui import QGuiApplication, QKeySequence

    from alu_client.core.transfers.download.protocol import MSG_PART_BUSY

    name = "تقرير الانتخابات.mp4.part"
    tid = add(queue, "clip")
    error = MSG_PART_BUSY.format(name=name)
    queue.transfers.finish(tid, "queued", error=error, next_attempt_at=time.time() + 3600)
    install_translators(qapp, "en")
    panel = TransfersPanel(queue)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    cell = panel.current_index_for(tid).siblingAtColumn(COL_ERROR)
    assert "\u2068" in str(cell.data())  # (shown in an isolate)
    panel.view.setCurrentIndex(cell)
    panel.view.setFocus()
    QGuiApplication.clipboard().clear()
    qtbot.keySequence(panel.view, QKeySequence.StandardKey.Copy)
    assert QGuiApplication.clipboard().text() == error


def test_the_room_a_download_needs_is_said_in_the_users_language(qapp: QApplication) -> None:
    """A file larger than the whole disk, and a full disk with the room the file still needs
    (download/room.py): the first starts with its name in quotes, which the scan of the
    engine's constants passes over (it looks for sentences starting with a capital)."""
    from alu_client.core.transfers.download.room import MSG_DISK_FULL_NEEDS, MSG_LARGER_THAN_DISK

    larger = MSG_LARGER_THAN_DISK.format(name="f.bin", size="53 MB", disk="20 MB")
    needs = MSG_DISK_FULL_NEEDS.format(name="f.bin", more="30 MB")
    install_translators(qapp, "fr")
    try:
        assert engine_text.shown(larger) == (
            "«\u00a0f.bin\u00a0» (53 MB) est plus gros que tout le disque qui contient son "
            "dossier (20 MB en tout)\u00a0: libérer de la place n’y changera rien\u202f; "
            "choisissez un dossier sur un autre disque."
        )
        assert engine_text.shown(needs) == (
            "Le disque est plein\u00a0: il faut encore 30 MB pour «\u00a0f.bin\u00a0»\u202f; "
            "le téléchargement reprendra quand cette place sera libérée."
        )
    finally:
        install_translators(qapp, "en")
