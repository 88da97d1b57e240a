"""The Feed tab on a real core and a real hub on loopback, driven as a user would: pushes shown
newest first, a new push arriving live at the top with the selection kept, filters and search
(French accents, Arabic), read marks, downloads and the preview request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QComboBox, QStyle, QWidget

from alu_client.core.services import Services
from alu_client.ui import formats
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.delegates_items import relative_time
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_PRIORITY, COL_PUBLISHED, COL_STATE, COL_TITLE
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.filters import FilterBar
from tests.gui.conftest import DARK, contrast, press_shortcut
from tests.gui.test_combo import fits, painted_label
from tests.gui.test_upload_form_fields import laid_out
from tests.support.livehub import LiveHub

PASSWORD = "pw-feed-panel"
ARABIC_SHOTLIST = "١. لقطة عامة للمدينة\n٢. ناخبون أمام مركز الاقتراع"


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path) -> Iterator[Services]:
    """A signed-in core for a member of the live hub (engine not started)."""
    live_hub.member("ktn", PASSWORD)
    root = tmp_path / "desk"
    services = live_hub.workstation(root, "ktn", PASSWORD)
    yield services
    services.stop()


@pytest.fixture
def pushes(live_hub: LiveHub, clip: Path) -> dict[str, str]:
    """Three pushes in three languages, oldest first."""
    return {
        "en": live_hub.publish(
            clip, title="Floods in the north", language="en", slug="KENYA-FLOODS",
            category="environment", region="East Africa", dateline="NAIROBI, Kenya",
        ),
        "fr": live_hub.publish(
            clip, title="ÉLECTIONS au Sénégal : résultats", language="fr", priority="urgent",
            slug="SENEGAL-ELECTIONS", category="politics", region="West Africa",
            restrictions="No access Senegal",
        ),
        "ar": live_hub.publish(
            clip, title="انتخابات في مصر", language="ar", priority="flash",
            slug="EGYPT-VOTE", category="politics", region="North Africa",
            shotlist=ARABIC_SHOTLIST,
        ),
    }  # fmt: skip


@pytest.fixture
def bridge(desk: Services) -> Iterator[CoreBridge]:
    b = CoreBridge(desk)
    yield b
    b.detach()


@pytest.fixture
def tasks() -> Iterator[TaskRunner]:
    t = TaskRunner()
    yield t
    t.wait_for_done()


@pytest.fixture
def feed(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner, pushes: dict[str, str]
) -> Iterator[FeedPanel]:
    desk.start_engine(sync=True, rules=False, hot_folders=False, media=True)
    panel = FeedPanel(desk, bridge, tasks, read_delay_ms=150)
    qtbot.addWidget(panel)
    panel.resize(1200, 600)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=20_000)
    yield panel
    panel.model.tasks.wait_for_done()


def shown_ids(panel: FeedPanel) -> list[str]:
    return [panel.model.item_at(r).id for r in range(panel.model.rowCount())]


def click_row(qtbot: Any, panel: FeedPanel, row: int) -> None:
    index = panel.model.index(row, COL_TITLE)
    rect = panel.view.visualRect(index)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: [li.id for li in panel.selected_items()] == [shown_ids(panel)[row]])


def type_text(widget: QWidget, text: str) -> None:
    """Type as a keyboard of that script does (QTest's keyClicks only types Latin-1)."""
    for ch in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(
                widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, ch)
            )


def pick(qtbot: Any, box: QComboBox, value: str | None) -> None:
    index = box.findData(value)
    assert index >= 0, f"{value!r} not offered"
    box.setCurrentIndex(index)


def test_newest_first_and_a_new_push_arrives_on_top(
    qtbot: Any, feed: FeedPanel, desk: Services, live_hub: LiveHub, clip: Path,
    pushes: dict[str, str],
) -> None:  # fmt: skip
    assert shown_ids(feed) == [pushes["ar"], pushes["fr"], pushes["en"]]
    qtbot.waitUntil(lambda: feed.unread == 3)
    click_row(qtbot, feed, 1)
    assert feed.detail.title.text() == "ÉLECTIONS au Sénégal : résultats"
    assert feed.detail.restrictions.text() == formats.isolated("No access Senegal")
    assert feed.detail.restrictions.property("restricted") is True
    assert "Broadcast:" in feed.detail.values["renditions"].text()
    # selected for a moment: read, and the unread count follows
    with qtbot.waitSignal(feed.unread_changed, check_params_cb=lambda n: n == 2, timeout=5000):
        pass
    assert desk.library.get(pushes["fr"]).read  # type: ignore[union-attr]
    feed.view.scrollToBottom()
    scroll = feed.view.verticalScrollBar().value()

    new = live_hub.publish(clip, title="Breaking: port reopens", language="en", priority="flash")
    qtbot.waitUntil(lambda: feed.model.rowCount() == 4, timeout=20_000)
    assert shown_ids(feed)[0] == new
    assert [li.id for li in feed.selected_items()] == [pushes["fr"]]
    assert feed.detail.item is not None and feed.detail.item.id == pushes["fr"]
    assert feed.view.verticalScrollBar().value() >= scroll
    qtbot.waitUntil(lambda: feed.unread == 3)


def test_filters_and_search_narrow_the_rows(
    qtbot: Any, feed: FeedPanel, pushes: dict[str, str]
) -> None:
    bar = feed.filters
    # the choices follow the library: wait until they hold all three pushes
    qtbot.waitUntil(
        lambda: (
            all(bar.region.findData(r) >= 0 for r in ("West Africa", "East Africa"))
            and bar.category.findData("politics") >= 0
        ),
        timeout=10_000,
    )
    pick(qtbot, bar.language, "fr")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["fr"]])
    pick(qtbot, bar.language, None)
    pick(qtbot, bar.priority, "flash")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["ar"]])
    pick(qtbot, bar.priority, None)
    pick(qtbot, bar.category, "politics")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["ar"], pushes["fr"]])
    pick(qtbot, bar.region, "East Africa")
    qtbot.waitUntil(lambda: shown_ids(feed) == [])
    pick(qtbot, bar.category, None)
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["en"]])
    pick(qtbot, bar.region, None)
    pick(qtbot, bar.dates, "today")
    qtbot.waitUntil(lambda: len(shown_ids(feed)) == 3)

    # Ctrl+F goes to the search box; words without accents find the French title
    feed.view.setFocus()
    qtbot.keyClick(feed.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is bar.search)
    qtbot.keyClicks(bar.search, "senegal elections")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["fr"]])
    bar.search.clear()
    type_text(bar.search, "انتخابات")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["ar"]])
    bar.search.clear()
    type_text(bar.search, "résultats")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["fr"]])
    bar.clear()
    qtbot.waitUntil(lambda: len(shown_ids(feed)) == 3)


def test_arabic_shotlist_reads_right_to_left(
    qtbot: Any, feed: FeedPanel, pushes: dict[str, str]
) -> None:
    click_row(qtbot, feed, 0)
    shotlist = feed.detail.shotlist
    assert shotlist.toPlainText() == ARABIC_SHOTLIST
    assert laid_out(shotlist.document()) == ["rtl", "rtl"]
    click_row(qtbot, feed, 1)
    assert set(laid_out(feed.detail.script.document())) == {"ltr"}


def test_download_queues_a_transfer_and_the_state_follows(
    qtbot: Any, feed: FeedPanel, desk: Services, pushes: dict[str, str]
) -> None:
    assert not feed.download_action.isEnabled()
    click_row(qtbot, feed, 2)
    assert feed.download_action.isEnabled()
    assert not feed.preview_action.isEnabled()
    previews: list[str] = []
    feed.preview_requested.connect(previews.append)
    qtbot.mouseClick(feed.toolbar.widgetForAction(feed.download_action), Qt.MouseButton.LeftButton)
    assert desk.queue is not None
    qtbot.waitUntil(
        lambda: [t.item_id for t in desk.queue.transfers.all(None, "download")] == [pushes["en"]]
    )
    row = shown_ids(feed).index(pushes["en"])
    state = feed.model.index(row, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "downloaded", timeout=30_000)
    assert state.data() == "Downloaded"
    assert feed.message.isHidden()
    # downloaded: the preview opens it (the main window shows it in the Library's player)
    qtbot.waitUntil(feed.preview_action.isEnabled)
    feed.preview_action.trigger()
    assert previews == [pushes["en"]]
    # a double-click on the row previews it once, and so do Return and Enter (they did nothing)
    index = feed.model.index(shown_ids(feed).index(pushes["en"]), COL_TITLE)
    qtbot.mouseDClick(
        feed.view.viewport(), Qt.MouseButton.LeftButton, pos=feed.view.visualRect(index).center()
    )
    assert previews == [pushes["en"]] * 2
    feed.activateWindow()
    feed.view.setFocus()
    qtbot.waitUntil(lambda: feed.isActiveWindow() and feed.view.hasFocus())
    qtbot.keyClick(feed.view, Qt.Key.Key_Return)
    qtbot.keyClick(feed.view, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert previews == [pushes["en"]] * 4
    # several at once: the proxies of the two others
    feed.view.selectAll()
    with qtbot.waitSignal(feed.model.rows_loaded, timeout=10_000):
        feed.download_proxy_action.trigger()
    renditions = {(t.item_id, t.rendition) for t in desk.queue.transfers.all(None, "download")}
    assert {(pushes["fr"], "proxy"), (pushes["ar"], "proxy")} <= renditions


def test_arabic_translates_the_feed_and_lays_it_out_right_to_left(
    qtbot: Any, qapp: QApplication, feed: FeedPanel
) -> None:
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: feed.download_action.text() == "&تنزيل")
    assert feed.isRightToLeft()
    assert feed.model.headerData(COL_TITLE, Qt.Orientation.Horizontal) == "العنوان"
    assert feed.filters.language.itemText(0) == "كل اللغات"
    assert feed.model.index(0, COL_STATE).data() == "جديدة"


def test_mark_all_read_marks_what_the_filters_show(
    qtbot: Any, feed: FeedPanel, desk: Services, pushes: dict[str, str]
) -> None:
    qtbot.waitUntil(lambda: feed.unread == 3)
    pick(qtbot, feed.filters.priority, "flash")
    qtbot.waitUntil(lambda: shown_ids(feed) == [pushes["ar"]])
    qtbot.mouseClick(
        feed.toolbar.widgetForAction(feed.mark_all_read_action), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: feed.unread == 2)
    assert feed.model.index(0, COL_STATE).data(STATE_ROLE) == "seen"
    unread = {i for i in pushes.values() if not desk.library.get(i).read}  # type: ignore[union-attr]
    assert unread == {pushes["en"], pushes["fr"]}
    # without a filter it is everything
    pick(qtbot, feed.filters.priority, None)
    qtbot.waitUntil(lambda: len(shown_ids(feed)) == 3)
    feed.mark_all_read_action.trigger()
    qtbot.waitUntil(lambda: feed.unread == 0)


def test_download_skips_a_file_already_here_and_takes_one_deleted_by_hand(
    qtbot: Any,
    feed: FeedPanel,
    desk: Services,
    pushes: dict[str, str],
    announced: list[tuple[str, str]],
) -> None:
    assert desk.queue is not None
    click_row(qtbot, feed, 2)
    qtbot.mouseClick(feed.toolbar.widgetForAction(feed.download_action), Qt.MouseButton.LeftButton)
    state = feed.model.index(2, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "downloaded", timeout=30_000)
    first = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert first is not None and first.path.exists()
    # downloaded: Download is off for it (the proxy is not here: that one is on)
    qtbot.waitUntil(lambda: not feed.download_action.isEnabled())
    assert feed.download_proxy_action.isEnabled()

    # with items not downloaded selected too, Download takes those and says it skipped it
    feed.view.selectAll()
    qtbot.waitUntil(feed.download_action.isEnabled)
    with qtbot.waitSignal(feed.model.rows_loaded, timeout=10_000):
        feed.download_action.trigger()
    qtbot.waitUntil(lambda: not feed.message.isHidden())
    assert feed.message.text() == "Already downloaded: “Floods in the north”"
    assert ("Already downloaded: “Floods in the north”", "Polite") in announced  # not only drawn
    text_role = QPalette.ColorRole.WindowText
    assert feed.message.palette().color(text_role) == feed.palette().color(text_role)  # no error
    downloads = desk.queue.transfers.all(None, "download")
    assert sorted(t.item_id or "" for t in downloads) == sorted(pushes.values())
    qtbot.waitUntil(
        lambda: all(t.state == "done" for t in desk.queue.transfers.all(None, "download")),  # type: ignore[union-attr]
        timeout=30_000,
    )
    kept = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert kept is not None and kept.path == first.path and kept.present
    assert len(list(first.path.parent.glob("*"))) == 3  # one file per item: no "(2)" copy

    # deleted by hand: selecting it shows it missing, and Download fetches it again
    first.path.unlink()
    click_row(qtbot, feed, 2)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "missing", timeout=10_000)
    qtbot.waitUntil(feed.download_action.isEnabled)
    feed.message.hide()
    qtbot.mouseClick(feed.toolbar.widgetForAction(feed.download_action), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "downloaded", timeout=30_000)
    again = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert again is not None and again.present and again.path.exists()
    assert feed.message.isHidden()


def test_an_error_reads_on_a_dark_palette_and_is_said(
    qtbot: Any, feed: FeedPanel, dark_palette: QPalette, announced: list[tuple[str, str]]
) -> None:
    # #b00020 was 1.9:1 on a dark window
    feed.command_failed.emit("Could not download “Floods in the north”: the hub is away")
    palette = feed.message.palette()
    text, ground = (
        palette.color(QPalette.ColorRole.WindowText),
        dark_palette.color(QPalette.ColorRole.Window),
    )
    assert contrast(text, ground) >= 4.5, text.name()
    assert announced[-1] == (feed.message.text(), "Assertive")
    feed._show_message("Already downloaded: “Floods in the north”", error=False)
    assert feed.message.palette().color(QPalette.ColorRole.WindowText) == QColor(DARK["Text"])


def test_short_columns_show_whole_values_and_the_state_stays_in_sight(
    qtbot: Any, qapp: QApplication, feed: FeedPanel
) -> None:
    # the Feed tab of the window at its default size (1280×820)
    feed.resize(1270, 700)
    view, header = feed.view, feed.view.horizontalHeader()
    bold = QFont(view.font())
    bold.setBold(True)
    fm = QFontMetrics(bold)
    margin = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
    now = dt.datetime.now(dt.UTC)

    def tr(text: str) -> str:
        return QCoreApplication.translate("ItemsModel", text)

    for lang, download in (("fr", "&Télécharger"), ("ar", "&تنزيل"), ("en", "&Download")):
        install_translators(qapp, lang)
        qtbot.waitUntil(lambda d=download: feed.download_action.text() == d)
        qtbot.wait(50)
        assert view.horizontalScrollBar().maximum() == 0, lang  # nothing off to the side
        assert header.sectionSize(COL_STATE) >= fm.horizontalAdvance(tr("Downloaded"))
        shown = {
            COL_PRIORITY: [tr("Flash"), tr("Urgent"), tr("Routine")],
            COL_STATE: [tr("New"), tr("Queued"), tr("Downloaded"), tr("Missing")],
            COL_PUBLISHED: [
                relative_time(now - dt.timedelta(minutes=m), now) for m in (13, 48, 23 * 60)
            ],
        }
        for col, texts in shown.items():
            for text in texts:
                # "عاجل جدًا" (Flash) must not read "عاجل …" (Urgent)
                assert fm.horizontalAdvance(text) + margin <= header.sectionSize(col), (lang, text)
    # Arabic counts in Arabic digits, as the times and sizes beside them
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: feed.unread_label.text() == "٣ مواد غير مقروءة")


def test_the_keyboard_reaches_every_command_and_tab_leaves_the_table(
    qtbot: Any, qapp: QApplication, feed: FeedPanel, desk: Services, pushes: dict[str, str]
) -> None:
    # Tab moved from cell to cell and never left the table (changing the item selected), and
    # Download proxy, Preview and Mark all read were toolbar buttons that take no focus
    click_row(qtbot, feed, 0)
    feed.view.setFocus()
    qtbot.waitUntil(feed.view.hasFocus)
    qtbot.keyClick(feed.view, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: not feed.view.hasFocus())
    assert [li.id for li in feed.selected_items()] == [shown_ids(feed)[0]]
    # each one in the table's context menu, with its keys in the tooltip
    menu = [a for a in feed.view.actions() if not a.isSeparator()]
    for action in (feed.download_action, feed.download_proxy_action, feed.preview_action,
                   feed.mark_all_read_action):  # fmt: skip
        assert action in menu
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys and action.toolTip().endswith(f"({formats.keys_text(action.shortcut())})")
        assert formats.keys_text(action.shortcut()) == f"{formats.LRI}{keys}{formats.PDI}"
    # Ctrl+Shift+D from the detail pane, not only from the table
    feed.detail.setFocus()
    qtbot.waitUntil(feed.detail.hasFocus)
    press_shortcut(qtbot, feed.detail, Qt.Key.Key_D, shift=True)
    assert desk.queue is not None
    qtbot.waitUntil(
        lambda: (
            [(t.item_id, t.rendition) for t in desk.queue.transfers.all(None, "download")]
            == [(shown_ids(feed)[0], "proxy")]
        )
    )


def test_a_narrow_window_keeps_room_to_type_a_search(
    qtbot: Any, qapp: QApplication, feed: FeedPanel
) -> None:
    # at 800 px in French the filters took it all: 28 px, the clear button only
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: feed.download_action.text() == "&Télécharger")
    feed.resize(760, 600)
    qtbot.wait(50)
    em = feed.filters.search.fontMetrics().averageCharWidth()
    assert feed.filters.search.width() >= 16 * em


def test_at_a_large_font_the_filters_fit_the_screen(qtbot: Any, qapp: QApplication) -> None:
    # a desktop font of 24 pt: the search box's and filters' floors (56 characters) made the
    # window 1069 px wide at least, more than a 1024 px screen (its right part out of sight)
    normal = qapp.font()
    big = QFont(normal)
    big.setPointSize(24)
    qapp.setFont(big)
    try:
        bar = FilterBar()
        qtbot.addWidget(bar)
        bar.show()
        screen = bar.screen().availableGeometry().width()
        em = bar.fontMetrics().averageCharWidth()
        assert 56 * em > screen  # (those floors alone would not fit)
        assert bar.minimumSizeHint().width() <= screen * 0.9
        assert bar.search.minimumWidth() >= 2 * bar.language.minimumWidth() > 4 * em
        bar.resize(bar.minimumSizeHint().width(), 60)
        qtbot.waitUntil(lambda: bar.search.width() >= bar.search.minimumWidth())
    finally:
        qapp.setFont(normal)


def test_filters_cut_in_a_narrow_window_end_with_an_ellipsis(
    qtbot: Any, qapp: QApplication, feed: FeedPanel
) -> None:
    """In a narrow window, in French or Arabic, the filters read "Toutes les catég": their
    text was clipped mid-word at the box's edge. It ends with "…" now, and the tooltip tells
    it whole."""
    boxes = feed.filters.findChildren(QComboBox)
    assert len(boxes) == 5
    for language in ("fr", "ar"):
        before = feed.filters.language.currentText()  # (English, then French: wait for each)
        install_translators(qapp, language)
        qtbot.waitUntil(lambda: feed.filters.language.currentText() != before)  # noqa: B023
        feed.resize(feed.minimumSizeHint().width(), 600)
        qtbot.waitUntil(lambda: feed.width() == feed.minimumSizeHint().width())
        qtbot.wait(50)
        too_long = [
            box
            for box in boxes
            if box.fontMetrics().horizontalAdvance(box.currentText()) > painted_label(box)[1]
        ]
        assert too_long, f"every filter has room in {language}: the test shows nothing"
        for box in boxes:
            assert fits(box), (language, box.objectName(), painted_label(box))


def test_hub_thumbnails_that_failed_in_an_outage_come_back_with_the_hub(
    qtbot: Any, feed: FeedPanel, bridge: CoreBridge, tmp_path: Path
) -> None:
    # a thumbnail that failed was never tried again: after an outage the Feed stayed blank
    # (0 of 30 thumbnails) with the hub back and online
    from PySide6.QtGui import QImage

    from alu_client.core.sync import SyncStatus
    from alu_client.ui.delegates_items import HUB_PREFIX

    cache = feed.model.thumbnails
    image = tmp_path / "thumb.png"
    red = QImage(32, 18, QImage.Format.Format_RGB32)
    red.fill(Qt.GlobalColor.red)
    assert red.save(str(image))
    asked: list[str] = []
    reachable = False
    real = cache.fetch
    assert real is not None

    def fetch(item_id: str) -> Path:
        if item_id != "outage-item":  # the feed's own items
            return real(item_id)
        asked.append(item_id)
        if not reachable:
            raise OSError("The hub cannot be reached")
        return image

    cache.fetch = fetch
    path = f"{HUB_PREFIX}outage-item"
    # its row stays in sight: painted again once settled, it asks again (and is fetched)
    cache.settled.connect(lambda p: p == path and cache.pixmap(p))
    assert cache.pixmap(path) is None
    qtbot.waitUntil(lambda: cache.failed(path))
    bridge.sync_status.emit(SyncStatus("offline", "The hub cannot be reached."))
    assert cache.pixmap(path) is None and cache.wait_for_done(1000)
    assert asked == ["outage-item"]  # not asked again and again while it is down
    reachable = True
    with qtbot.waitSignal(cache.loaded, timeout=10_000, check_params_cb=lambda p: p == path):
        bridge.sync_status.emit(SyncStatus("online"))
    assert asked == ["outage-item", "outage-item"]
    shown = cache.pixmap(path)
    assert shown is not None and not shown.isNull()


def test_tab_into_the_table_selects_the_row_and_ctrl_d_without_one_says_so(
    qtbot: Any, feed: FeedPanel, desk: Services, pushes: dict[str, str]
) -> None:
    # Tab put the focus frame on the newest row but selected nothing: Ctrl+D did nothing,
    # and nothing said why
    feed.window().activateWindow()
    qtbot.waitUntil(feed.isActiveWindow)
    search = feed.filters.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    assert feed.selected_items() == []
    press_shortcut(qtbot, search, Qt.Key.Key_D)
    qtbot.waitUntil(feed.message.isVisible)
    assert feed.message.text() == "Select an item first."
    for _ in range(12):  # past the filters, as a person tabs
        focused = QApplication.focusWidget()
        if focused is feed.view or focused is None:
            break
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
    assert feed.view.hasFocus()
    assert [li.id for li in feed.selected_items()] == [pushes["ar"]]
    press_shortcut(qtbot, feed.view, Qt.Key.Key_D)
    assert desk.queue is not None
    qtbot.waitUntil(
        lambda: [t.item_id for t in desk.queue.transfers.all(None, "download")] == [pushes["ar"]]
    )
