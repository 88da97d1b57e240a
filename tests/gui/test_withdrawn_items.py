"""An item the agency withdrew says so in words wherever it is shown — its Feed row, its
Library row and card, a banner in its detail with the date and the reason — never by colour
alone; its files can be deleted from the banner (asked first), and it cannot be downloaded. An
item the agency corrected says when and what, and its row is marked."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from alu_client.core.hub import Item
from alu_client.core.library import Library, LibraryItem, Query, upsert_items
from alu_client.core.library.files import LibraryFile
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.ui import colors, formats
from alu_client.ui.delegates_items import local_time
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_STATE, COL_THUMB, COL_TITLE, ItemsModel
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.item_detail import ItemDetail
from alu_client.ui.views.library import LibraryPanel
from tests.client.test_withdrawn import REASON, WITHDRAWN_AT, make_item, withdrawn
from tests.gui import test_feed_panel as feed_tests
from tests.gui import test_library_panel as library_tests

desk, pushes, bridge, tasks, feed, library = (
    feed_tests.desk,
    feed_tests.pushes,
    feed_tests.bridge,
    feed_tests.tasks,
    feed_tests.feed,
    library_tests.library,
)
PROFILE = "desk"
CORRECTED_AT = dt.datetime(2026, 3, 1, 8, 15, tzinfo=dt.UTC)
NOTE = "Dateline corrected: KISUMU, not Nairobi"


def corrected(item: Item) -> Item:
    return dataclasses.replace(
        item, revision=2, corrected_at=CORRECTED_AT, correction_note=NOTE, dateline="KISUMU"
    )


@pytest.fixture
def model(qtbot: Any, tmp_path: Path) -> Iterator[ItemsModel]:
    store = Store(tmp_path / "library.sqlite3")
    upsert_items(store, PROFILE, [make_item(1), withdrawn(make_item(2)), corrected(make_item(3))])
    m = ItemsModel(Library(store, PROFILE))
    m.set_query(Query())
    qtbot.waitUntil(lambda: m.rowCount() == 3 and not m._busy)
    yield m
    m.tasks.wait_for_done()
    m.thumbnails.wait_for_done()
    store.close()


def test_a_withdrawn_or_corrected_row_says_so_in_words(model: ItemsModel) -> None:
    row = {model.item_at(r).seq: r for r in range(model.rowCount())}
    gone, fixed, plain = row[2], row[3], row[1]
    state = model.index(gone, COL_STATE)
    assert state.data() == "Withdrawn — do not use"
    assert state.data(STATE_ROLE) == "withdrawn"  # (the grid's card badge, in alarm colours)
    tip = model.index(gone, COL_TITLE).data(Qt.ItemDataRole.ToolTipRole)
    assert "Withdrawn by the agency — do not use" in tip
    assert f"Withdrawn {local_time(WITHDRAWN_AT)}: {formats.isolated(REASON)}" in tip
    assert state.data(Qt.ItemDataRole.ToolTipRole) == tip.split("\n", 1)[1]
    # the colour and the struck title only repeat what the words say
    assert model.index(gone, COL_TITLE).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert model.index(gone, COL_TITLE).data(Qt.ItemDataRole.ForegroundRole) == colors.on_view(
        colors.ERROR
    )
    # corrected: marked on the row, the when and what in the tooltip (unread: "New, corrected")
    assert model.index(fixed, COL_STATE).data() == "New, corrected"
    fixed_tip = model.index(fixed, COL_STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert fixed_tip == f"Corrected {local_time(CORRECTED_AT)}: {formats.isolated(NOTE)}"
    assert model.index(plain, COL_STATE).data() == "New"
    assert model.index(plain, COL_STATE).data(Qt.ItemDataRole.ToolTipRole) is None


def _downloaded(item: Item, tmp_path: Path) -> LibraryItem:
    path = tmp_path / "floods.mp4"
    path.write_bytes(b"x" * 10)
    f = LibraryFile(
        id=1, profile=PROFILE, item_id=item.id, rendition="broadcast", path=path, size=10,
        sha256="ab" * 32, verified_at=0.0, state="present", reason="", checked_at=None,
        transfer_id=None, probe=None, probe_error="", thumbnail="",
    )  # fmt: skip
    return LibraryItem(item, 1, 0.0, None, True, files=(f,))


def test_the_detail_opens_with_a_banner_and_the_files_can_be_deleted_from_it(
    qtbot: Any, tmp_path: Path
) -> None:
    detail = ItemDetail(show_file=True)
    qtbot.addWidget(detail)
    detail.show()
    li = _downloaded(withdrawn(corrected(make_item(5))), tmp_path)
    detail.set_item(li)
    assert detail.withdrawn.isVisible()
    assert detail.withdrawn_title.text() == "Withdrawn by the agency — do not use"
    assert detail.withdrawn_reason.text() == (
        f"Withdrawn {local_time(WITHDRAWN_AT)}: {formats.isolated(REASON)}"
    )
    assert detail.withdrawn.accessibleName() == "Withdrawn by the agency — do not use"
    # what was corrected before, said too
    assert detail.corrected.isVisible()
    assert (
        detail.corrected.text() == f"Corrected {local_time(CORRECTED_AT)}: {formats.isolated(NOTE)}"
    )
    assert detail.delete_files.isVisible()
    with qtbot.waitSignal(detail.delete_files_requested) as asked:
        qtbot.mouseClick(detail.delete_files, Qt.MouseButton.LeftButton)
    assert asked.args == [li]
    # nothing here: nothing to delete; an item that stands: no banner, no note
    detail.set_item(LibraryItem(withdrawn(make_item(6)), 2, 0.0, None, True))
    assert detail.withdrawn.isVisible() and not detail.delete_files.isVisible()
    detail.set_item(LibraryItem(make_item(7), 3, 0.0, None, True))
    assert not detail.withdrawn.isVisible() and not detail.corrected.isVisible()


def test_the_banner_reads_right_to_left_in_arabic(qtbot: Any, qapp: QApplication) -> None:
    install_translators(qapp, "ar")
    try:
        detail = ItemDetail()
        qtbot.addWidget(detail)
        detail.show()
        reason = "لقطات خاطئة"  # an Arabic reason keeps its order in any sentence (isolated)
        detail.set_item(LibraryItem(withdrawn(make_item(8), reason), 1, 0.0, None, True))
        assert detail.withdrawn.isRightToLeft()
        assert formats.isolated(reason) in detail.withdrawn_reason.text()
    finally:
        install_translators(qapp, "en")


def test_a_withdrawn_download_in_the_library_and_the_feed(
    qtbot: Any,
    feed: FeedPanel,
    library: LibraryPanel,
    desk: Services,
    pushes: dict[str, str],
) -> None:
    """A downloaded item the agency withdraws: its Feed and Library rows say so, it cannot be
    downloaded again, and its file is deleted from the detail's banner (asked first)."""
    item_id = pushes["fr"]
    library_tests.download_from_feed(qtbot, feed, item_id)
    qtbot.waitUntil(lambda: library_tests.shown_ids(library) == [item_id], timeout=30_000)
    known = desk.library.get(item_id)
    assert known is not None
    f = known.file("broadcast")
    assert f is not None and f.present
    desk.store_items([withdrawn(known.item)])  # as the sync keeps the hub's change

    def state_in(panel: FeedPanel | LibraryPanel) -> str:
        model = panel.model
        row = model.row_of(item_id)
        return "" if row is None else str(model.index(row, COL_STATE).data())

    qtbot.waitUntil(lambda: state_in(feed) == "Withdrawn — do not use", timeout=10_000)
    qtbot.waitUntil(lambda: state_in(library) == "Withdrawn — do not use", timeout=10_000)
    # the Library's card: a badge in words on the picture, said to a screen reader too
    card = library.model.index(0, COL_THUMB)
    assert "Withdrawn — do not use" in card.data(Qt.ItemDataRole.AccessibleTextRole)
    library.grid.viewport().grab()
    # the Feed cannot download it again
    feed_tests.click_row(qtbot, feed, feed_tests.shown_ids(feed).index(item_id))
    assert not feed.download_action.isEnabled() and not feed.download_proxy_action.isEnabled()
    assert feed.detail.withdrawn.isVisible()
    # the Library's banner deletes its file, asked first
    library_tests.select(qtbot, library, 0)
    qtbot.waitUntil(lambda: library.detail.withdrawn.isVisible())
    assert library.detail.delete_files.isVisible()
    qtbot.mouseClick(library.detail.delete_files, Qt.MouseButton.LeftButton)
    box = library_tests.confirm_box(qtbot, library)
    assert isinstance(box, QMessageBox)
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-delete-yes"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not f.path.exists(), timeout=10_000)
    qtbot.waitUntil(lambda: library_tests.shown_ids(library) == [], timeout=10_000)


# --- readable at a glance, in each language ------------------------------------------------------

SHORT_WITHDRAWN = {"fr": "Retiré", "ar": "مسحوبة"}  # (until the lead translates the badge)


def _stand_in(qapp: QApplication, language: str) -> Any:
    from tests.gui.test_i18n_layout import with_stand_in

    return with_stand_in(qapp, {("ItemsModel", "Withdrawn"): SHORT_WITHDRAWN.get(language)})


def _state_texts(m: ItemsModel) -> list[str]:
    """Every text the State column can show (the agency's warning; each state, alone and
    marked corrected)."""
    states = ["new", "queued", "paused", "failed", "downloaded", "proxy", "missing"]
    texts = [m._texts[s] for s in states] + [m._texts["withdrawn"], m._texts["corrected"]]
    return texts + [m._texts["corrected_state"].format(state=m._texts[s]) for s in states]


def _wrapped(font: Any, text: str, width: int) -> list[float]:
    """The widths of the lines ``text`` takes in ``width`` px when wrapped at words, as an item
    view draws a cell that wraps."""
    from PySide6.QtGui import QTextLayout, QTextOption

    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    lines = []
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        lines.append(line.naturalTextWidth())
    layout.endLayout()
    return lines


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_the_state_is_whole_at_the_columns_default_width(
    qtbot: Any, qapp: QApplication, model: ItemsModel, language: str
) -> None:
    """ "Downloaded, corrected" and the agency's warning were cut ("Downloaded…", "Withdrawn
    …") at the State column's default width: each is whole, on two lines at most."""
    from PySide6.QtGui import QFont, QFontMetrics
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QWidget

    from alu_client.ui.delegates_items import item_table

    install_translators(qapp, language)
    model.retranslate()
    try:
        parent = QWidget()
        qtbot.addWidget(parent)
        parent.resize(1400, 600)
        view = item_table(model, parent, "items")
        view.resize(1400, 600)
        parent.show()
        qtbot.waitExposed(parent)
        width = view.horizontalHeader().sectionSize(COL_STATE)
        bold = QFont(view.font())
        bold.setBold(True)  # (as flash rows are drawn)
        fm = QFontMetrics(bold)
        margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
        room = width - 2 * (margin + 1)
        texts = _state_texts(model)
        assert ("Downloaded" in texts[-3]) == (language == "en")  # (the catalogue's words)
        # whole, on one line or two of the row (the cell wraps: a column as wide as the
        # longest text took the title's room at 1366 px, "Eight Africa…")
        rows = view.verticalHeader().defaultSectionSize()
        for text in texts:
            lines = _wrapped(bold, text, room)
            assert len(lines) <= 2 and max(lines) <= room, (text, lines, room)
            assert len(lines) * fm.lineSpacing() <= rows, (text, rows)
        option = QStyleOptionViewItem()
        view.itemDelegateForColumn(COL_STATE).initStyleOption(option, model.index(0, COL_STATE))
        assert option.features & QStyleOptionViewItem.ViewItemFeature.WrapText
        parent.deleteLater()  # (before the model, which outlives it here)
        qtbot.waitUntil(lambda: not shiboken6.isValid(view))
    finally:
        install_translators(qapp, "en")
        model.retranslate()


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_the_cards_badges_fit_beside_the_length_and_never_over_it(
    qtbot: Any, qapp: QApplication, model: ItemsModel, language: str
) -> None:
    """The withdrawn badge was cut ("Withdrawn — do not u…") and drawn over the clip's length
    (under it in French and Arabic); a corrected item had no mark on its card."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QApplication as App

    from alu_client.ui.delegates_items import THUMB_SIZE, badge_places, clip_length, length_corner
    from alu_client.ui.models import BADGES_ROLE

    stand_in = _stand_in(qapp, language)
    install_translators(qapp, language)
    try:
        model.retranslate()
        fm = QFontMetrics(App.font())
        direction = App.layoutDirection()
        picture = QRect(6, 6, THUMB_SIZE.width(), THUMB_SIZE.height())
        row = {model.item_at(r).seq: r for r in range(model.rowCount())}
        gone = model.index(row[2], COL_THUMB).data(BADGES_ROLE)
        fixed = model.index(row[3], COL_THUMB).data(BADGES_ROLE)
        assert gone == [(SHORT_WITHDRAWN.get(language, "Withdrawn"), True)]
        assert (model._texts["corrected"], False) in fixed  # the correction marked too
        for length_s in (65.0, 2 * 3600 - 2):
            length = clip_length(length_s)
            avoid = length_corner(picture, fm, length, direction)
            assert avoid is not None
            for badges in (gone, fixed):
                places = badge_places(picture, fm, [t for t, _ in badges], avoid, direction)
                for (text, _), (rect, shown) in zip(badges, places, strict=True):
                    assert shown == text  # whole
                    assert not rect.intersects(avoid), (text, length)
                    assert picture.contains(rect)
                    assert rect.width() >= fm.horizontalAdvance(text) + 8
                rects = [r for r, _ in places]
                assert not any(a.intersects(b) for a in rects for b in rects if a is not b)
        # the card's tooltip keeps the whole warning
        tip = model.index(row[2], COL_THUMB).data(Qt.ItemDataRole.ToolTipRole)
        assert model._texts["withdrawn_long"] in tip
    finally:
        qapp.removeTranslator(stand_in)
        install_translators(qapp, "en")
        model.retranslate()
