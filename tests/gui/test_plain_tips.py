"""Text from the hub or from files is shown exactly as typed in tooltips, message boxes and
labels (security review finding 7): Qt reads a tooltip as HTML whenever
``Qt.mightBeRichText`` says so, and a member's title such as ``<b style="color:green">CLEARED
FOR BROADCAST</b><img src="file:///…"><!--`` showed bold green words, loaded a local file and
hid the "Withdrawn by the agency — do not use" line after it."""

from __future__ import annotations

import dataclasses
import html
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QPushButton

from alu_client.core.credentials import MemorySecrets
from alu_client.core.item_notices import WITHDRAWN, ItemNotice
from alu_client.core.library import Library, Query, upsert_items
from alu_client.core.profiles import Profiles
from alu_client.core.rules import Conditions, Rule, RuleProblem
from alu_client.core.store import Store
from alu_client.core.sync import HistoryEvent
from alu_client.core.transfers.queue import TransferQueue
from alu_client.ui import plain_text
from alu_client.ui.formats import isolated
from alu_client.ui.item_notices import ItemNoticeBoard
from alu_client.ui.models.history import COL_ITEM, HistoryModel
from alu_client.ui.models.items import COL_STATE, COL_TITLE, ItemsModel
from alu_client.ui.models.rules import COL_DESTINATION, COL_NAME, RulesModel
from alu_client.ui.models.transfers import COL_NAME as TRANSFER_NAME
from alu_client.ui.models.transfers import TransfersModel
from alu_client.ui.notify_markup import BodyFormat, NotificationFormat, body_for
from alu_client.ui.signin import SignInDialog
from alu_client.ui.statusbar import StatusBar
from alu_client.ui.tray import Tray
from alu_client.ui.views.settings_apply import FolderRow
from alu_client.ui.views.settings_general import NetworkPage
from alu_client.ui.views.settings_models import COL_FOLDER, HotFoldersModel
from alu_client.ui.views.transfers import TransfersPanel
from alu_client.ui.views.upload_form import UploadEntry, UploadFilesModel, UploadForm
from alu_client.ui.widgets.player import PlayerWidget
from tests.client.test_withdrawn import make_item, withdrawn
from tests.gui.test_transfers_model import transfer
from tests.gui.test_transfers_panel import click, confirm_box, select

TITLE = (
    '<b style="color:green">CLEARED FOR BROADCAST</b>'
    '<img src="file:///usr/share/icons/hicolor/48x48/apps/x.png"><!--'
)
TIP = Qt.ItemDataRole.ToolTipRole


def rendered(text: str) -> str:
    """What a tooltip (a ``QLabel`` in ``Qt::AutoText``) shows for ``text``: its plain text, or
    the text of the HTML document Qt makes of it when it looks like markup."""
    if not GuiQt.mightBeRichText(text):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def loads_images(text: str) -> bool:
    """Whether Qt would show a picture in a tooltip of ``text``."""
    if not GuiQt.mightBeRichText(text):
        return False
    doc = QTextDocument()
    doc.setHtml(text)
    return "<img" in doc.toHtml()


@pytest.mark.parametrize(
    "text",
    [
        TITLE + "\nWithdrawn by the agency — do not use",
        "&lt;b&gt; is how HTML writes <b>",
        "<p>two  spaces,\ta tab\n\nand an empty line</p>",
        "\u2068<i>Floods</i>.mp4\u2069",
        "<!-- hidden -->",
        "a < b and c > d",  # (Qt reads "< b and c >" as a <b> tag)
    ],
)
def test_markup_is_shown_as_typed(text: str) -> None:
    shown = plain_text.shown_as_typed(text)
    assert rendered(shown) == text
    assert not loads_images(shown)


def test_an_ordinary_tooltip_is_left_as_it_was() -> None:
    for text in ("Floods in Nairobi\nRule: desk", "3 < 4 > 2", "", "Tom & Jerry"):
        assert plain_text.shown_as_typed(text) == text
    assert plain_text.tip(None) is None


def test_a_notification_body_is_escaped_where_the_server_reads_markup() -> None:
    body = TITLE + "\nTom & Jerry"
    assert body_for(body, BodyFormat.MARKUP) == (
        '&lt;b style="color:green"&gt;CLEARED FOR BROADCAST&lt;/b&gt;&lt;img src="file:///usr/'
        'share/icons/hicolor/48x48/apps/x.png"&gt;&lt;!--\nTom &amp; Jerry'
    )
    assert body_for(body, BodyFormat.PLAIN) == body
    # Qt's own balloon is a label: escaped inside a document only when it looks like markup
    assert body_for("Tom & Jerry", BodyFormat.BALLOON) == "Tom & Jerry"
    assert body_for(body, BodyFormat.BALLOON) == plain_text.shown_as_typed(body) != body
    assert NotificationFormat(platform="win32").body(body) == body
    assert NotificationFormat(platform="darwin").body(body) == body


def test_an_items_title_tooltip_shows_the_title_and_the_withdrawal(
    qtbot: Any, tmp_path: Path
) -> None:
    """The tester's repro: a withdrawn item whose title hides the agency's warning."""
    store = Store(tmp_path / "library.sqlite3")
    try:
        upsert_items(store, "desk", [withdrawn(dataclasses.replace(make_item(1), title=TITLE))])
        m = ItemsModel(Library(store, "desk"))
        m.set_query(Query())
        qtbot.waitUntil(lambda: m.rowCount() == 1 and not m._busy)
        tip = m.index(0, COL_TITLE).data(TIP)
        shown = rendered(tip)
        assert shown.startswith(TITLE + "\nWithdrawn by the agency — do not use\n")
        assert shown == f"{TITLE}\n{m.change_text(m.item_at(0))}"
        assert not loads_images(tip)
        assert rendered(m.index(0, COL_STATE).data(TIP)) == m.change_text(m.item_at(0))
        m.tasks.wait_for_done()
        m.thumbnails.wait_for_done()
    finally:
        store.close()


def test_a_transfers_name_tooltip_shows_label_rule_and_restrictions_as_typed() -> None:
    m = TransfersModel()
    m.set_transfers(
        [
            transfer(
                1,
                label=TITLE,
                options={"rule": "<i>desk</i>", "restrictions": "<u>No</u> use"},
            )
        ]
    )
    tip = m.index(0, TRANSFER_NAME).data(TIP)
    shown = rendered(tip).split("\n")
    assert shown[0] == f"⚠ {TITLE}" or shown[0] == TITLE
    assert "<i>desk</i>" in shown[1] and "<u>No</u> use" in shown[2]
    assert not loads_images(tip)


def test_a_history_items_tooltip_is_shown_as_typed() -> None:
    model = HistoryModel()
    event = HistoryEvent(
        id="e1", profile="p", type="download_completed", item_id="it1", rendition="broadcast",
        bytes=7, started_at=None, ended_at=1_790_000_000.0, device="desk-2",
        detail={"label": TITLE}, transfer_id=None, origin="hub", hub_seq=1, sent_at=None,
    )  # fmt: skip
    model.set_events([event], has_more=False)
    tip = model.index(0, COL_ITEM).data(TIP)
    assert rendered(tip) == model.index(0, COL_ITEM).data()
    assert TITLE in rendered(tip) and not loads_images(tip)


def test_a_rules_name_and_folder_tooltips_are_shown_as_typed() -> None:
    model = RulesModel()
    rule = Rule(7, TITLE, True, 1.0, Conditions(), "broadcast", "/srv/<b>desk</b>")
    model.set_rules([rule], [])
    assert rendered(model.index(0, COL_NAME).data(TIP)) == TITLE
    assert model.index(0, COL_NAME).data() == TITLE  # the cell itself is plain text
    assert "/srv/<b>desk</b>" in rendered(model.index(0, COL_DESTINATION).data(TIP))


def test_a_hot_folders_tooltip_is_shown_as_typed() -> None:
    model = HotFoldersModel()
    model.set_items([FolderRow(1, Path("/srv/<b>in</b>"), True, {})])
    assert "/srv/<b>in</b>" in rendered(model.index(0, COL_FOLDER).data(TIP))


def test_an_upload_files_tooltip_is_shown_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "<b>clip.mp4"
    model = UploadFilesModel([UploadEntry(path, {})])
    assert rendered(model.data(model.index(0), TIP)) == str(path)


# --- widgets: the status bar, the withdrawals' label, the player, the tray ----------------------


def test_the_status_bar_shows_a_rules_name_and_the_hubs_as_typed(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_rule_problems([RuleProblem(7, TITLE, "/srv/x", "<b>full</b>", 3, "Floods")])
    tip = bar.rules_label.toolTip()
    assert TITLE in rendered(tip) and "<b>full</b>" in rendered(tip)
    assert not loads_images(tip)
    bar.set_hub(TITLE)
    for label in (bar.connection, bar.hub, bar.activity_label, bar.limit, bar.rules_label):
        assert label.textFormat() == Qt.TextFormat.PlainText


def test_a_status_bar_message_cut_short_has_its_whole_text_as_typed(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.resize(300, 30)
    long = TITLE + " was downloaded to a folder with a rather long name" * 3
    bar.say(long)
    assert bar.currentMessage() != long  # (cut: the whole text in the tooltip)
    assert rendered(bar.toolTip()) == long


def test_the_withdrawals_label_shows_the_title_as_typed(qtbot: Any) -> None:
    status = StatusBar()
    qtbot.addWidget(status)
    board = ItemNoticeBoard(status, lambda: None, gather_ms=10)
    item = withdrawn(dataclasses.replace(make_item(1), title=TITLE))
    board.add([ItemNotice(item, WITHDRAWN, canceled=0)])
    qtbot.waitUntil(lambda: bool(board.unseen))
    assert board.label.textFormat() == Qt.TextFormat.PlainText
    tip = board.label.toolTip()
    assert rendered(tip).startswith("Withdrawn by the agency — do not use:\n")
    assert TITLE in rendered(tip) and not loads_images(tip)


def test_the_players_rendition_tooltip_shows_the_file_name_as_typed(
    qtbot: Any, tmp_path: Path
) -> None:
    player = PlayerWidget()
    qtbot.addWidget(player)
    try:
        player.load(tmp_path / "<b>clip.mp4", rendition="proxy")
        tip = player.rendition_label.toolTip()
        assert rendered(tip) == f"Playing the proxy file {isolated('<b>clip.mp4')}"
    finally:
        player.clear()


def test_a_tray_balloons_body_is_sent_escaped_to_a_linux_notification_server(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tray = Tray(QIcon())
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(tray.icon, "showMessage", lambda t, m, *_: sent.append((t, m)))
    try:
        tray.notify("Withdrawn by the agency: Floods", f"{TITLE}\nDo not use it.")
        assert tray.messages == [("Withdrawn by the agency: Floods", f"{TITLE}\nDo not use it.")]
        assert sent == [
            (
                "Withdrawn by the agency: Floods",
                html.escape(TITLE, quote=False) + "\nDo not use it.",
            )
        ]
    finally:
        tray.dispose()


# --- message boxes ------------------------------------------------------------------------------


def test_the_cancel_question_names_the_transfer_as_typed(
    qtbot: Any, panel: TransfersPanel, queue: TransferQueue
) -> None:
    tid = queue.add_download("http://127.0.0.1:9/x", Path("/nonexistent/x"), label=TITLE)
    panel.reload()
    qtbot.waitUntil(lambda: panel.current_index_for(tid).isValid())
    select(qtbot, panel, tid)
    click(qtbot, panel, panel.cancel_action)
    box = confirm_box(qtbot, panel)
    assert rendered(box.text()) == f"Cancel “{isolated(TITLE)}”?"
    assert not loads_images(box.text())
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-cancel-no"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())


# --- labels that Qt would read as markup (AutoText) --------------------------------------------


def test_labels_that_show_hub_or_typed_text_show_it_as_typed(qtbot: Any, tmp_path: Path) -> None:
    """The sign-in's notice (the hub's reason), Settings' hub profile, an upload field's
    error (the hub's words): plain labels, so what they show is their text."""
    reason = "<b>Signed out</b> by <i>the hub</i>"
    store = Store(tmp_path / "library.sqlite3")
    d = SignInDialog(Profiles(store), MemorySecrets(), notice=reason)
    qtbot.addWidget(d)
    network = NetworkPage()
    qtbot.addWidget(network)
    network._profile = TITLE
    network._retranslate_profile()
    form = UploadForm()
    qtbot.addWidget(form)
    name = next(iter(form.errors))
    form.show_error(name, f"{TITLE} is not allowed")
    for label, text in (
        (d.notice, reason),
        (network.profile_label, f"For the hub profile {TITLE}"),
        (form.errors[name], f"{TITLE} is not allowed"),
    ):
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert label.text() == text
    d.tasks.wait_for_done()
    store.close()
