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
