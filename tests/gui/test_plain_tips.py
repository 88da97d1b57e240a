"""Text from the hub or from files is shown exactly as typed in tooltips, message boxes and
labels (security review finding 7): Qt reads a tooltip as HTML whenever
``Qt.mightBeRichText`` says so, and a member's title such as ``<b style="color:green">CLEARED
FOR BROADCAST</b><img src="file:///…"><!--`` showed bold green words, loaded a local file and
hid the "Withdrawn by the agency — do not use" line after it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument

from alu_client.core.library import Library, Query, upsert_items
from alu_client.core.rules import Conditions, Rule
from alu_client.core.store import Store
from alu_client.core.sync import HistoryEvent
from alu_client.ui import plain_text
from alu_client.ui.models.history import COL_ITEM, HistoryModel
from alu_client.ui.models.items import COL_STATE, COL_TITLE, ItemsModel
from alu_client.ui.models.rules import COL_DESTINATION, COL_NAME, RulesModel
from alu_client.ui.models.transfers import COL_NAME as TRANSFER_NAME
from alu_client.ui.models.transfers import TransfersModel
from alu_client.ui.views.settings_apply import FolderRow
from alu_client.ui.views.settings_models import COL_FOLDER, HotFoldersModel
from alu_client.ui.views.upload_form import UploadEntry, UploadFilesModel
from tests.client.test_withdrawn import make_item, withdrawn
from tests.gui.test_transfers_model import transfer

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
    assert plain_text.notification_body(body, "linux") == (
        '&lt;b style="color:green"&gt;CLEARED FOR BROADCAST&lt;/b&gt;&lt;img src="file:///usr/'
        'share/icons/hicolor/48x48/apps/x.png"&gt;&lt;!--\nTom &amp; Jerry'
    )
    assert plain_text.notification_body(body, "win32") == body
    assert plain_text.notification_body(body, "darwin") == body


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
    path = tmp_path / "<b>clip</b>.mp4"
    model = UploadFilesModel([UploadEntry(path, {})])
    assert rendered(model.data(model.index(0), TIP)) == str(path)
