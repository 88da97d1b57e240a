"""The Library's layout at the newsroom's screen sizes: the picture's share of the side pane,
the list's Title column, both kept across starts (window.ini), and a long restriction laid out
in its own writing direction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from alu_client.core.library import LibraryItem
from alu_client.core.services import Services
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.i18n import install_translators
from alu_client.ui.models.items import COL_PRIORITY, COL_STATE, COL_TITLE
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.item_detail import ItemDetail
from alu_client.ui.views.library import LibraryPanel
from tests.client.test_library import make_item
from tests.gui import test_app_shell as shell_tests
from tests.gui import test_feed_panel as feed_tests

# the Feed tests' fixtures (a signed-in core, the bridge, the runner), the shell's (the window)
desk, bridge, tasks, shell = feed_tests.desk, feed_tests.bridge, feed_tests.tasks, shell_tests.shell

# the Library tab's size in a maximised window at 1366×768 and at 1920×1080 (menu, toolbar,
# tabs and status bar take the rest)
TAB_1366, TAB_1920 = (1366, 660), (1920, 970)


@pytest.fixture
def library(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> Iterator[LibraryPanel]:
    panel = LibraryPanel(desk, bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(*TAB_1366)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    panel.model.tasks.wait_for_done()
    panel.model.thumbnails.wait_for_done()


def column_widths(panel: LibraryPanel) -> list[int]:
    header = panel.table.horizontalHeader()
    return [header.sectionSize(c) for c in range(header.count())]


def em(panel: LibraryPanel) -> int:
    return panel.table.fontMetrics().averageCharWidth()


@pytest.mark.parametrize("size", [TAB_1366, TAB_1920])
def test_the_picture_gets_half_of_the_side_pane(
    qtbot: Any, library: LibraryPanel, size: tuple[int, int]
) -> None:
    """The detail took nearly all of the side pane: a 567×92 picture area at 1366×768, 798×155
    at 1920×1080."""
    library.resize(*size)
    player = library.player
    assert player is not None
    side = library.side
    qtbot.waitUntil(lambda: side.height() > size[1] // 2)
    top, bottom = side.sizes()
    assert abs(top - bottom) <= side.height() // 10, side.sizes()
    picture = player.video_widget.size()
    assert picture.height() >= 0.4 * side.height(), (picture, side.height())
    assert picture.width() >= 0.9 * side.width()


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_the_title_column_keeps_room_in_a_narrow_list(
    qtbot: Any, qapp: QApplication, library: LibraryPanel, language: str
) -> None:
    """At 1366×768 the Title column was 43 px wide ("Tee…"), 95 px in Arabic: the other
    columns kept their full widths. Now slug and dateline give way, then Sent by and Language,
    and the title keeps 28 average characters; priority and state stay whole and in sight.
    With room (1920×1080) nothing is cut."""
    install_translators(qapp, language)
    library.list_action.trigger()
    table = library.table
    qtbot.waitUntil(lambda: table.viewport().width() > 600)
    widths = column_widths(library)
    assert widths[COL_TITLE] >= 28 * em(library) - 2, widths
    assert sum(widths) <= table.viewport().width() + 1, (widths, table.viewport().width())
    assert min(w for c, w in enumerate(widths) if c != COL_TITLE) >= 6 * em(library) - 1
    # a header narrower than its word then ends with "…" (Qt cut it at both ends: "ent b")
    assert table.horizontalHeader().textElideMode() == Qt.TextElideMode.ElideRight
    # priority and state stay whole (a Flash cut in Arabic reads Urgent)
    bold = QFont(table.font())
    bold.setBold(True)
    for column, words in (
        (COL_PRIORITY, ("Flash", "Urgent", "Routine")),
        (COL_STATE, ("New", "Queued", "Downloaded", "Missing")),
    ):
        texts = [QCoreApplication.translate("ItemsModel", w) for w in words]
        widest = max(QFontMetrics(bold).horizontalAdvance(t) for t in texts)
        assert widths[column] > widest, (column, widths, widest)

    # with room (1920×1080): every column at its full width, the State words whole in bold
    library.resize(*TAB_1920)
    qtbot.waitUntil(lambda: table.viewport().width() > 1000)
    wide = column_widths(library)
    assert wide[COL_TITLE] > 2 * widths[COL_TITLE]
    assert all(w >= n for w, n in zip(wide, widths, strict=True)), (wide, widths)
    assert wide[2:4] == [14 * em(library), 16 * em(library)]  # slug, dateline as before


def test_a_column_the_user_sized_keeps_its_width_and_the_others_give_way(
    qtbot: Any, library: LibraryPanel
) -> None:
    library.list_action.trigger()
    table = library.table
    header = table.horizontalHeader()
    qtbot.waitUntil(lambda: table.viewport().width() > 600)
    before = column_widths(library)
    header.resizeSection(2, before[2] + 20)  # as a drag of the Slug column's edge does
    after = column_widths(library)
    assert after[2] == before[2] + 20
    # the others made room for it: the title kept its 28 characters, nothing off to the side
    assert after[COL_TITLE] >= 28 * em(library) - 2, after
    assert sum(after) <= table.viewport().width() + 1
    assert sum(after[3:6]) < sum(before[3:6])  # dateline, sent by, language
    library.resize(TAB_1366[0] - 100, TAB_1366[1])
    qtbot.waitUntil(lambda: column_widths(library) != after)
    assert column_widths(library)[2] == before[2] + 20


def test_splitters_and_column_widths_outlast_a_restart(
    qtbot: Any, shell: shell_tests.Shell
) -> None:
    """The picture's and the list's sizes the user set were back to the defaults at each
    start: only the window's geometry, its tab and the Library's mode were kept."""
    window = shell.window  # as large as the screen has room for (the test's is small)
    library = window.library
    assert isinstance(library, LibraryPanel)
    window.tabs.setCurrentWidget(library)
    library.list_action.trigger()
    qtbot.waitUntil(lambda: library.side.height() > 200)
    # the picture larger than by default, the list narrower
    library.side.setSizes([library.side.height() - 100, 100])
    library.splitter.setSizes([library.splitter.width() // 3, library.splitter.width() // 3 * 2])
    library.table.horizontalHeader().resizeSection(2, 150)  # Slug, as the user dragged it
    side, main = library.side.sizes(), library.splitter.sizes()
    with qtbot.waitSignal(window.quit_requested, timeout=15_000):
        window.quit()
    services = Services(shell.services.paths, shell.services.secrets)
    again = shell_tests.build_window(qtbot, services, None)
    try:
        restored = again.library
        assert isinstance(restored, LibraryPanel)
        assert again.tabs.currentWidget() is restored and restored.mode == "list"
        qtbot.waitUntil(lambda: restored.side.sizes() == side)
        assert restored.splitter.sizes() == main
        assert restored.table.horizontalHeader().sectionSize(2) == 150
    finally:
        again.shutdown()


def line_edges(detail: ItemDetail) -> list[tuple[float, float]]:
    """Where each line of the restrictions sits: (left, right) in its label's text width."""
    doc = detail.restrictions.document()
    assert doc is not None
    edges = []
    block = doc.begin()
    while block.isValid():
        layout = block.layout()
        for n in range(layout.lineCount()):
            r = layout.lineAt(n).naturalTextRect()
            edges.append((r.left(), doc.textWidth() - r.right()))
        block = block.next()
    return edges


@pytest.mark.parametrize(
    ("language", "restrictions", "flush"),
    [
        (
            "en",
            "للاستخدام في نشرات الأخبار فقط؛ يُمنع البيع لطرف ثالث؛ مدة أقصاها دقيقتان. " * 3,
            "right",
        ),
        (
            "fr",
            "للاستخدام في نشرات الأخبار فقط؛ يُمنع البيع لطرف ثالث؛ مدة أقصاها دقيقتان. " * 3,
            "right",
        ),
        (
            "ar",
            "News use only; no resale to third parties; no archive; two minutes at most. " * 3,
            "left",
        ),
    ],
)
def test_a_long_restriction_is_flush_with_its_own_texts_start(
    qtbot: Any, qapp: QApplication, language: str, restrictions: str, flush: str
) -> None:
    """An Arabic restriction wrapped over lines in the English app had its lines flush left
    (the last one, short, at the far left): laid out in the app's direction, as the short
    values are. It is the field a reviewer must read right."""
    install_translators(qapp, language)
    detail = ItemDetail(show_file=True)
    qtbot.addWidget(detail)
    detail.resize(560, 700)
    detail.show()
    qtbot.waitExposed(detail)
    detail.set_item(
        LibraryItem(make_item(1, restrictions=restrictions.strip()), 1, 0.0, None, True)
    )
    qtbot.waitUntil(lambda: len(line_edges(detail)) >= 3)
    edges = line_edges(detail)
    gaps = [right if flush == "right" else left for left, right in edges]
    assert max(gaps) <= 2, edges
    # the last line is short: the room it leaves is on the other side
    assert (edges[-1][0] if flush == "right" else edges[-1][1]) > 50, edges
