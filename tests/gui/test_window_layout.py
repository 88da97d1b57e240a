"""Every tab's layout outlasts a restart (window.ini): the Feed's splitter and column widths,
the Transfers' and History's column widths and sort, as the Library's were — and a window.ini
of an older version, cut short or edited by hand opens the window all the same, with what
does not fit left at the defaults and what is out of reason brought back within the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QDataStream,
    QEvent,
    QIODevice,
    QPoint,
    QPointF,
    QSettings,
    Qt,
)
from PySide6.QtGui import QMouseEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QWidget,
)

from alu_client.core.services import Services
from alu_client.ui.i18n import install_translators
from alu_client.ui.layout_memory import splitter_sizes
from alu_client.ui.main_window import MainWindow
from alu_client.ui.models.history import COL_RULE, COL_SPEED, COL_WHAT, COL_WHEN
from alu_client.ui.models.items import COL_DATELINE, COL_SLUG, COL_TITLE
from alu_client.ui.models.transfers import COL_ETA, COL_PRIORITY, COL_STATE
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.history import HistoryPanel
from alu_client.ui.views.library import LibraryPanel
from alu_client.ui.views.transfers import TransfersPanel
from tests.gui import test_app_shell as shell_tests
from tests.support.livehub import LiveHub

shell = shell_tests.shell


def press_move_release(target: QWidget, start: QPoint, end: QPoint) -> None:
    """A drag with the left button, as the window system delivers it."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    for kind, at, button, buttons in (
        (QEvent.Type.MouseButtonPress, start, left, left),
        (QEvent.Type.MouseMove, start + QPoint(1, 0), none, left),
        (QEvent.Type.MouseMove, end, none, left),
        (QEvent.Type.MouseButtonRelease, end, left, none),
    ):
        local = QPointF(at)
        event = QMouseEvent(kind, local, QPointF(target.mapToGlobal(at)), button, buttons, mods)
        QApplication.sendEvent(target, event)


def drag_column_edge(view: QTableView, column: int, by: int) -> None:
    """Drag the right edge of a column's header (left to right layout) ``by`` pixels."""
    header = view.horizontalHeader()
    edge = header.sectionViewportPosition(column) + header.sectionSize(column) - 1
    y = header.height() // 2
    press_move_release(header.viewport(), QPoint(edge, y), QPoint(edge + by, y))


def drag_splitter(splitter: QSplitter, by: int) -> None:
    """Drag the handle between a horizontal splitter's two panes ``by`` pixels."""
    handle = splitter.handle(1)
    middle = handle.rect().center()
    press_move_release(handle, middle, middle + QPoint(by, 0))


def click_header(view: QTableView, column: int) -> None:
    header = view.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    at = QPoint(x, header.height() // 2)
    press_move_release(header.viewport(), at, at)


def widths(view: QTableView) -> list[int]:
    header = view.horizontalHeader()
    return [header.sectionSize(c) for c in range(header.count())]


def sort_of(view: QTableView) -> tuple[int, Qt.SortOrder]:
    header = view.horizontalHeader()
    return header.sortIndicatorSection(), header.sortIndicatorOrder()


def panels(window: MainWindow) -> tuple[FeedPanel, TransfersPanel, LibraryPanel, HistoryPanel]:
    feed, transfers, library, history = (
        window.feed,
        window.transfers,
        window.library,
        window.history,
    )
    assert isinstance(feed, FeedPanel)
    assert isinstance(transfers, TransfersPanel)
    assert isinstance(library, LibraryPanel)
    assert isinstance(history, HistoryPanel)
    return feed, transfers, library, history


def restart(qtbot: Any, window: MainWindow, services: Services) -> MainWindow:
    """Quit as File › Quit does (the window saves its layout) and open a new window on the
    same data folder."""
    with qtbot.waitSignal(window.quit_requested, timeout=15_000):
        window.quit()
    return open_window(qtbot, Services(services.paths, services.secrets))


def open_window(qtbot: Any, services: Services) -> MainWindow:
    """The window as the app opens it: the engine started first (the Transfers tab is its)."""
    services.start_engine(media=False)
    return shell_tests.build_window(qtbot, services, None)


def test_the_feed_transfers_and_history_layouts_outlast_a_restart_in_either_direction(
    qtbot: Any, qapp: QApplication, shell: shell_tests.Shell
) -> None:
    """The Feed's columns and its preview pane were back to the defaults at every start (only
    the Library's were kept), and so were the Transfers' and the History's columns and sort.
    They come back in the Arabic layout too (a column's width is its own, whichever side it
    is on)."""
    window = shell.window
    feed, transfers, _library, history = panels(window)
    window.tabs.setCurrentWidget(feed)
    qtbot.waitUntil(lambda: feed.view.viewport().width() > 300)
    slug = feed.view.horizontalHeader().sectionSize(COL_SLUG)
    drag_column_edge(feed.view, COL_SLUG, 60)
    qtbot.waitUntil(lambda: feed.view.horizontalHeader().sectionSize(COL_SLUG) == slug + 60)
    before = feed.splitter.sizes()
    drag_splitter(feed.splitter, -150)  # the preview pane wider
    qtbot.waitUntil(lambda: feed.splitter.sizes()[0] < before[0] - 100)
    feed_widths, feed_split = widths(feed.view), feed.splitter.sizes()

    window.tabs.setCurrentWidget(transfers)
    qtbot.waitUntil(lambda: transfers.view.viewport().width() > 300)
    eta = transfers.view.horizontalHeader().sectionSize(COL_ETA)
    drag_column_edge(transfers.view, COL_ETA, 40)
    state = transfers.view.horizontalHeader().sectionSize(COL_STATE)
    drag_column_edge(transfers.view, COL_STATE, 30)  # one the panel sizes to its words
    click_header(transfers.view, COL_STATE)
    qtbot.waitUntil(lambda: sort_of(transfers.view)[0] == COL_STATE)
    transfers_sort = sort_of(transfers.view)
    assert transfers.view.horizontalHeader().sectionSize(COL_ETA) == eta + 40
    assert transfers.view.horizontalHeader().sectionSize(COL_STATE) == state + 30

    window.tabs.setCurrentWidget(history)
    qtbot.waitUntil(lambda: history.view.viewport().width() > 300)
    speed = history.view.horizontalHeader().sectionSize(COL_SPEED)
    drag_column_edge(history.view, COL_SPEED, 50)
    click_header(history.view, COL_WHAT)
    qtbot.waitUntil(lambda: sort_of(history.view)[0] == COL_WHAT)
    history_sort = sort_of(history.view)
    assert history_sort != (COL_WHEN, Qt.SortOrder.DescendingOrder)  # not the default
    assert history.view.horizontalHeader().sectionSize(COL_SPEED) == speed + 50
    window.tabs.setCurrentWidget(feed)

    again = restart(qtbot, window, shell.services)
    try:
        feed2, transfers2, _library2, history2 = panels(again)
        assert again.tabs.currentWidget() is feed2
        qtbot.waitUntil(lambda: feed2.splitter.sizes() == feed_split)
        assert widths(feed2.view)[COL_SLUG] == slug + 60
        # the columns the user left alone are fitted as before
        assert widths(feed2.view)[COL_DATELINE] == feed_widths[COL_DATELINE]
        assert widths(transfers2.view)[COL_ETA] == eta + 40
        assert widths(transfers2.view)[COL_STATE] == state + 30
        assert sort_of(transfers2.view) == transfers_sort
        assert widths(history2.view)[COL_SPEED] == speed + 50
        assert sort_of(history2.view) == history_sort
        services = again.services
    finally:
        with qtbot.waitSignal(again.quit_requested, timeout=15_000):
            again.quit()

    install_translators(qapp, "ar")
    arabic = open_window(qtbot, Services(services.paths, services.secrets))
    try:
        assert arabic.layoutDirection() == Qt.LayoutDirection.RightToLeft
        feed3, transfers3, _library3, history3 = panels(arabic)
        qtbot.waitUntil(lambda: feed3.splitter.sizes() == feed_split)
        assert widths(feed3.view)[COL_SLUG] == slug + 60
        assert widths(transfers3.view)[COL_STATE] == state + 30  # not fitted to Arabic words
        assert sort_of(transfers3.view) == transfers_sort
        assert widths(history3.view)[COL_SPEED] == speed + 50
        assert sort_of(history3.view) == history_sort
    finally:
        arabic.shutdown()


def splitter_state(sizes: list[int]) -> QByteArray:
    splitter = QSplitter()
    for _ in sizes:
        splitter.addWidget(QLabel())
    splitter.setSizes(sizes)
    state = splitter.saveState()
    splitter.deleteLater()
    return state


def column_state(version: int, count: int, pairs: list[tuple[int, int]], **kw: int) -> QByteArray:
    """A table's columns as ``ColumnMemory`` keeps them (1: as the Library kept them before
    every tab did, the header's own state inside)."""
    data = QByteArray()
    out = QDataStream(data, QIODevice.OpenModeFlag.WriteOnly)
    out.writeInt32(version)
    out.writeInt32(count)
    if version == 1:
        table = QTableView()
        table.setModel(QStandardItemModel(0, count, table))
        out << table.horizontalHeader().saveState()
        table.deleteLater()
    else:
        out.writeInt32(kw.get("sort_column", -1))
        out.writeInt32(kw.get("sort_order", 0))
    out.writeInt32(len(pairs))
    for column, width in pairs:
        out.writeInt32(column)
        out.writeInt32(width)
    return data


def test_an_old_or_broken_window_ini_opens_the_window_with_what_fits(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path
) -> None:
    """A window.ini of an older version (other panes, other columns), cut short, or edited by
    hand: what fits is restored, what is out of reason is brought within the screen, the rest
    stays at the defaults (the Feed's columns fitted to the window as at a first start)."""
    services = shell_tests.signed_in_services(live_hub, tmp_path / "desk")
    ini = services.paths.data_dir / "window.ini"
    ini.write_text(
        "[General]\ntab=feed\nlibrary_mode=banana\ngeometry=not a geometry\n"
        "[feed]\nsplitter=@ByteArray(\\0\\0\\0\\xff\\0\\0\nbroken=\n",
        encoding="utf-8",
    )
    store = QSettings(str(ini), QSettings.Format.IniFormat)
    store.setValue("feed/columns", QByteArray(b"\x00\x00\x00\x02garbage"))
    store.setValue("library/splitter", splitter_state([300, 300, 300]))  # three panes then
    store.setValue("library/side", splitter_state([10**7, 200]))  # out of reason
    # as the Library kept its list before every tab did: its Slug column 200 wide
    store.setValue("library/list_columns", column_state(1, 10, [(COL_SLUG, 200)]))
    store.setValue("transfers/columns", column_state(2, 4, [(1, 100)]))  # four columns then
    store.setValue(
        "history/columns",
        column_state(
            2, 9, [(COL_SPEED, 10**6), (COL_RULE, 1), (99, 50)], sort_column=42, sort_order=7
        ),
    )
    store.sync()
    del store

    window = open_window(qtbot, services)
    try:
        feed, transfers, library, history = panels(window)
        screen = window.screen().availableVirtualGeometry().width()
        # the Feed as at a first start: its columns fitted, the title with its room
        window.tabs.setCurrentWidget(feed)
        window.resize(1600, 800)  # room for every column (the test's screen is small)
        qtbot.waitUntil(lambda: feed.view.viewport().width() > 900)
        em = feed.view.fontMetrics().averageCharWidth()
        assert widths(feed.view)[COL_TITLE] >= 28 * em - 2, widths(feed.view)
        assert widths(feed.view)[COL_SLUG] == 14 * em
        assert all(feed.splitter.sizes())
        # the Library: the old list's widths taken, the pane sizes of three panes not, the
        # side's brought within the screen (the detail keeps its room)
        assert widths(library.table)[COL_SLUG] == 200
        assert splitter_sizes(library.splitter.saveState(), 2) is not None
        window.tabs.setCurrentWidget(library)
        qtbot.waitUntil(lambda: library.side.height() > 200)
        top, bottom = library.side.sizes()
        assert top <= screen and bottom >= library.side.widget(1).minimumSizeHint().height()
        # the Transfers as by default (queue order), the History's widths within reason
        assert sort_of(transfers.view) == (COL_PRIORITY, Qt.SortOrder.AscendingOrder)
        header = history.view.horizontalHeader()
        assert header.sectionSize(COL_SPEED) <= screen, (widths(history.view), screen)
        assert header.sectionSize(COL_RULE) >= header.minimumSectionSize()
        assert sort_of(history.view) == (COL_WHEN, Qt.SortOrder.DescendingOrder)
        assert header.sectionResizeMode(2) == QHeaderView.ResizeMode.Stretch  # Item, as made
    finally:
        with qtbot.waitSignal(window.quit_requested, timeout=15_000):
            window.quit()
    # and what the window saved on the way out is whole again
    again = open_window(qtbot, Services(services.paths, services.secrets))
    try:
        feed2, _transfers2, library2, _history2 = panels(again)
        assert widths(library2.table)[COL_SLUG] == 200
        saved = QSettings(str(ini), QSettings.Format.IniFormat).value("feed/splitter")
        assert splitter_sizes(saved, feed2.splitter.count()) is not None
    finally:
        again.shutdown()
