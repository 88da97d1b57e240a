"""A narrow window or a large font: the status bar's hub and counts give way, cut with "…"
(whole in their tooltips), and the Feed's and the Library's side panes give way to the
table's Title column before it is cut below the other text columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from alu_client.core.services import Services
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.models.items import COL_TITLE
from alu_client.ui.statusbar import Activity, StatusBar
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.library import LibraryPanel
from tests.gui import test_feed_panel as feed_tests

desk, bridge, tasks = feed_tests.desk, feed_tests.bridge, feed_tests.tasks

# the Feed tab in a 1024x600 window (a 2048x1200 screen at 200 %, or 1024x600 at 100 %)
TAB_1024 = (1020, 480)
# slug, dateline, sent by, language: the text columns that give way
TEXT_COLUMNS = (2, 3, 4, 5)
HUB = "Radiodiffusion Télévision du Sénégal, rédaction centrale @ hub.rts.example.sn:8443"


@pytest.fixture
def large_font(qapp: QApplication) -> Iterator[QFont]:
    """A 24 pt application font (a desktop's large text), for the widgets made after."""
    kept = QFont(qapp.font())
    font = QFont(kept)
    font.setPointSize(24)
    qapp.setFont(font)
    yield font
    qapp.setFont(kept)


def test_the_status_bar_gives_way_at_a_large_font(qtbot: Any, large_font: QFont) -> None:
    """At 24 pt the four labels kept their whole texts as their minimum: the window could not
    be narrower than 1355 px, its right part off a 1024 px screen."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_hub(HUB)
    bar.set_activity(Activity(2_500_000.0, 1_200_000.0, active=12, queued=140))
    bar.resize(1000, 40)
    bar.show()
    qtbot.waitExposed(bar)
    # (2523 px with this hub's name; now well within a 1024 px screen)
    assert bar.minimumSizeHint().width() <= 640, bar.minimumSizeHint()
    for label in (bar.hub, bar.activity_label):
        qtbot.waitUntil(lambda label=label: label.width() < label.sizeHint().width())
        # cut with "…" where drawn, whole in the tooltip, for screen readers and in text()
        assert label.shown().endswith("…\u2069"), label.shown()
        assert label.toolTip() == label.text()
    assert bar.hub.text() == HUB
    assert bar.hub.accessibleName().endswith(HUB)
    # with room, whole and without a tooltip
    bar.resize(bar.sizeHint().width() + 400, 40)
    qtbot.waitUntil(lambda: bar.hub.width() >= bar.hub.sizeHint().width())
    assert bar.hub.shown() == HUB
    assert bar.hub.toolTip() == ""


def title_and_text_columns(panel: FeedPanel | LibraryPanel) -> tuple[int, list[int]]:
    header = (panel.view if isinstance(panel, FeedPanel) else panel.table).horizontalHeader()
    return header.sectionSize(COL_TITLE), [header.sectionSize(c) for c in TEXT_COLUMNS]


def test_the_feeds_detail_gives_way_to_the_title_in_a_1024_window(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> None:
    """At 1024x600 (200 % on a 2048x1200 screen) the detail pane kept 374 px for "Select an
    item…" and the Title column had 47 px ("Eig…"), less than the slug."""
    panel = FeedPanel(desk, bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(*TAB_1024)
    panel.show()
    qtbot.waitExposed(panel)
    em = panel.view.fontMetrics().averageCharWidth()
    qtbot.waitUntil(lambda: title_and_text_columns(panel)[0] >= 28 * em - 2)
    title, others = title_and_text_columns(panel)
    assert title > max(others), (title, others)
    detail = panel.splitter.sizes()[1]
    assert detail >= panel.detail.minimumSizeHint().width()
    assert detail < 0.3 * panel.splitter.width(), panel.splitter.sizes()
    # a handle the user drags stays where they put it, until the window is resized again
    panel.splitter.setSizes([500, sum(panel.splitter.sizes()) - 500])
    QApplication.processEvents()  # (TableFirst acts on a 0 ms timer)
    assert panel.splitter.sizes()[0] == 500
    panel.resize(TAB_1024[0] - 10, TAB_1024[1])
    qtbot.waitUntil(lambda: title_and_text_columns(panel)[0] >= 28 * em - 2)


def test_at_a_large_font_the_title_stays_the_widest_text_column(
    qtbot: Any, large_font: QFont, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> None:
    """At 24 pt in 1024 px the Title column had 100 px beside slug and dateline at 144: "Eig…".
    Where the other text columns at their floors leave the title less than they have, they
    give way below them (down to the header's least width), the title keeping the larger
    share."""
    panel = FeedPanel(desk, bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(*TAB_1024)
    panel.show()
    qtbot.waitExposed(panel)
    em = panel.view.fontMetrics().averageCharWidth()
    # (below even Sent by's and Language's floor: the fixed columns alone fill the table)
    qtbot.waitUntil(lambda: max(title_and_text_columns(panel)[1]) < 6 * em)
    title, others = title_and_text_columns(panel)
    assert title > max(others), (title, others)


def test_the_librarys_side_gives_way_to_the_lists_title(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> None:
    """The Library's side pane kept 425 px in a 1024 px window (splitter [595, 425]) and its
    list's title was cut below the slug; it gives way down to its minimum (the player's)
    when the list is shown."""
    panel = LibraryPanel(desk, bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(*TAB_1024)
    panel.show()
    qtbot.waitExposed(panel)
    grid_sizes = panel.splitter.sizes()
    panel.list_action.trigger()
    qtbot.waitUntil(lambda: panel.splitter.sizes()[0] > grid_sizes[0])
    title, others = title_and_text_columns(panel)
    assert title > max(others), (title, others)
    panel.model.tasks.wait_for_done()
    panel.model.thumbnails.wait_for_done()
