"""How item views paint text, read back from the pixels and the painter: a title too long for
its cell ends with "…" where its own direction ends (a Latin title in the Arabic layout too),
and a card's title that does not fit its two lines says so with "…". The thumbnails they paint
load the latest paint first."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView, QWidget

from alu_client.core.library import LibraryItem
from alu_client.ui.delegates_items import (
    ItemCardDelegate,
    ThumbnailCache,
    item_grid,
    item_table,
)
from alu_client.ui.formats import FSI, PDI
from alu_client.ui.models import BADGES_ROLE, OBJECT_ROLE, STATE_ROLE
from alu_client.ui.models.items import COL_PRIORITY, COL_STATE
from alu_client.ui.views import new_table
from tests.gui.conftest import contrast
from tests.gui.test_feed_model import make_item

LTR, RTL = Qt.LayoutDirection.LeftToRight, Qt.LayoutDirection.RightToLeft
LATIN = "Liberian coast guard detains seven trawlers fishing without licences off Monrovia"
ARABIC = "الأمطار الغزيرة تغمر شوارع نيروبي وتعطل حركة المرور في وسط المدينة لساعات"


def _ink_heights(image: QImage, rect: QRect) -> tuple[int, int]:
    """How tall the ink is at the left end and at the right end of what ``rect`` shows: a
    letter is several pixels tall, an ellipsis's dots one or two."""
    inner = rect.adjusted(4, 2, -4, -2)
    ground = QColor(image.pixel(inner.left(), inner.top())).lightness()

    def inked(x: int) -> list[int]:
        return [
            y
            for y in range(inner.top(), inner.bottom() + 1)
            if abs(QColor(image.pixel(x, y)).lightness() - ground) > 90
        ]

    columns = [x for x in range(inner.left(), inner.right() + 1) if inked(x)]
    assert len(columns) > 20, "no text painted"

    def height(xs: list[int]) -> int:
        ys = [y for x in xs for y in inked(x)]
        return max(ys) - min(ys) + 1

    return height(columns[:3]), height(columns[-3:])


def _cell_ink(qtbot: Any, view: QTableView, column: int) -> tuple[int, int]:
    view.horizontalHeader().setSectionResizeMode(column, view.horizontalHeader().ResizeMode.Fixed)
    view.horizontalHeader().resizeSection(column, 240)
    view.resize(1400, 200)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()
    return _ink_heights(image, view.visualRect(view.model().index(0, column)))


@pytest.mark.parametrize("table", ["feed", "history"])
@pytest.mark.parametrize(
    ("layout", "text", "ellipsis_at"),
    [(RTL, LATIN, "right"), (LTR, ARABIC, "left"), (LTR, LATIN, "right"), (RTL, ARABIC, "left")],
    ids=["latin-in-rtl", "arabic-in-ltr", "latin-in-ltr", "arabic-in-rtl"],
)
def test_text_too_long_for_its_cell_is_cut_at_its_own_end(
    qtbot: Any, table: str, layout: Qt.LayoutDirection, text: str, ellipsis_at: str
) -> None:
    # the Feed and the Library list (item_table) and the History (new_table): an Arabic
    # layout showed "…Liberian coast guard de", as if the title's beginning were cut
    model = QStandardItemModel(1, 9)
    for column in range(9):
        model.setItem(0, column, QStandardItem(""))
    model.item(0, 1).setText(text)
    if table == "feed":
        view = item_table(model, None, "feed-table")  # type: ignore[arg-type]
    else:
        view = new_table(None)  # type: ignore[arg-type]
        view.setModel(model)
        view.setWordWrap(False)  # as the History's
    qtbot.addWidget(view)
    view.setLayoutDirection(layout)
    left, right = _cell_ink(qtbot, view, 1)
    dots, letters = (left, right) if ellipsis_at == "left" else (right, left)
    assert dots <= 3 < letters, (left, right)


class _Recorder(QPainter):
    """A painter that keeps what it was asked to write, and where."""

    def __init__(self, device: QImage) -> None:
        super().__init__(device)
        self.texts: list[tuple[QRect, str]] = []
        self.widths: list[int] = []
        self.colors: list[QColor] = []

    def drawText(self, *args: Any) -> None:  # type: ignore[override]
        if len(args) == 3 and isinstance(args[0], QRect) and isinstance(args[2], str):
            self.texts.append((QRect(args[0]), args[2]))
            self.widths.append(self.fontMetrics().horizontalAdvance(args[2]))
            self.colors.append(self.pen().color())
        super().drawText(*args)


def _paint_card(
    title: str,
    layout: Qt.LayoutDirection,
    state: tuple[str, str] = ("downloaded", "Downloaded"),
    priority: tuple[str, str] = ("routine", "Routine"),
    palette: QPalette | None = None,
) -> tuple[QImage, _Recorder, int]:
    """A card of the Library grid painted as the grid paints it: the image, what was
    written on it, and the width its title has. ``state``, ``priority``: the item's, and
    their words; ``palette``: the grid's (the application's by default)."""
    item = make_item(1, title=title, duration=0.0, priority=priority[0])  # no length shown
    model = QStandardItemModel(1, COL_STATE + 1)
    cell = QStandardItem()
    cell.setData(LibraryItem(item, 1, 0.0, None, True), OBJECT_ROLE)
    cell.setData(state[0], STATE_ROLE)
    # the card's badges, as ``ItemsModel._badges`` gives them: the state when the file is not
    # simply here (missing and failed in alarm colours)
    shown_state = state[0] not in ("downloaded", "seen")
    cell.setData(
        [(state[1], state[0] in ("missing", "failed"))] if shown_state else [], BADGES_ROLE
    )
    model.setItem(0, 0, cell)
    model.setItem(0, COL_PRIORITY, QStandardItem(priority[1]))
    model.setItem(0, COL_STATE, QStandardItem(state[1]))
    host = QWidget()
    host.setLayoutDirection(layout)
    if palette is not None:
        host.setPalette(palette)
    delegate = ItemCardDelegate(host)
    option = QStyleOptionViewItem()
    option.initFrom(host)
    size = delegate.sizeHint(option, model.index(0, 0))
    option.rect = QRect(0, 0, size.width(), size.height())
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = _Recorder(image)
    painter.setLayoutDirection(layout)  # as a painter on the grid's viewport starts
    delegate.paint(painter, option, model.index(0, 0))
    painter.end()
    return image, painter, size.width() - 2 * delegate.padding


def _plain(text: str) -> str:
    return text.replace(FSI, "").replace(PDI, "")


@pytest.mark.parametrize(
    "title",
    [
        "Botswana fits elephants with GPS collars to warn farmers",
        "Botswana fits elephants with GPS collars to warn farmers of crop raids at night",
    ],
)
def test_a_card_title_too_long_for_its_two_lines_ends_with_an_ellipsis(
    qtbot: Any, title: str
) -> None:
    # it was cut after two lines with nothing to say so: "… GPS collars to warn", "farmers"
    # missing, read as the whole title
    _image, painter, width = _paint_card(title, LTR)
    lines = [_plain(text) for _rect, text in painter.texts]
    assert 1 <= len(lines) <= 2
    assert max(painter.widths) <= width, lines
    assert lines[-1].endswith("…"), lines
    shown = " ".join(lines)[:-1].split()
    assert title.split()[: len(shown)][:-1] == shown[:-1], lines  # its beginning, in order
    # one that fits is shown whole, without an ellipsis
    _image, painter, _width = _paint_card("Floods in Nairobi", LTR)
    assert [_plain(text) for _rect, text in painter.texts] == ["Floods in Nairobi"]


@pytest.mark.parametrize(
    ("layout", "text", "ellipsis_at"),
    [(RTL, LATIN, "right"), (LTR, ARABIC, "left")],
    ids=["latin-in-rtl", "arabic-in-ltr"],
)
def test_a_card_title_is_cut_at_its_own_end(
    qtbot: Any, layout: Qt.LayoutDirection, text: str, ellipsis_at: str
) -> None:
    image, painter, _width = _paint_card(text, layout)
    last, _text = painter.texts[-1]
    left, right = _ink_heights(image, last)
    dots, letters = (left, right) if ellipsis_at == "left" else (right, left)
    assert dots <= 3 < letters, (left, right)


def test_a_card_whose_file_is_missing_says_so(qtbot: Any) -> None:
    _image, painter, _width = _paint_card("Floods in Nairobi", LTR, ("missing", "Missing"))
    assert [_plain(text) for _rect, text in painter.texts] == ["Missing", "Floods in Nairobi"]
    _image, painter, _width = _paint_card("Floods in Nairobi", LTR)
    assert [_plain(text) for _rect, text in painter.texts] == ["Floods in Nairobi"]


def test_an_urgent_or_flash_card_says_so_in_words_and_reads_on_a_dark_palette(
    qtbot: Any, dark_palette: QPalette
) -> None:
    # urgent was an orange edge alone; a flash title's fixed red was 3.0:1 on a dark grid
    _image, painter, _width = _paint_card("Floods in Nairobi", LTR, priority=("urgent", "Urgent"))
    assert [_plain(text) for _rect, text in painter.texts] == ["Urgent", "Floods in Nairobi"]
    _image, painter, _width = _paint_card(
        "Floods in Nairobi", LTR, priority=("flash", "Flash"), palette=dark_palette
    )
    assert [_plain(text) for _rect, text in painter.texts] == ["Flash", "Floods in Nairobi"]
    title = painter.colors[-1]
    assert contrast(title, dark_palette.color(QPalette.ColorRole.Base)) >= 4.5, title.name()
    assert title.red() > max(title.green(), title.blue())  # still red


def test_the_thumbnails_of_the_latest_paint_load_first_and_few_wait(
    qtbot: Any, tmp_path: Path
) -> None:
    """A catch-up of 21,000 items painted 2,600 rows at the top of the Feed as they passed by:
    their thumbnails loaded first come first, and the rows in sight at its end waited 10 s
    behind the others."""
    image = tmp_path / "thumb.png"
    dot = QImage(16, 9, QImage.Format.Format_RGB32)
    dot.fill(Qt.GlobalColor.blue)
    assert dot.save(str(image))
    gate = threading.Event()
    fetched: list[str] = []

    def fetch(item_id: str) -> Path:  # a worker thread's
        fetched.append(item_id)
        gate.wait(10)
        return image

    cache = ThumbnailCache()
    cache.fetch = fetch
    cache.waiting_limit = 50
    cache.settle_ms = 0  # (the order of the loads here; rows that stay in sight: below)
    loaded: list[str] = []
    cache.loaded.connect(loaded.append)
    for n in range(80):  # rows at the top while items kept coming
        cache.pixmap(f"hub:old{n}")
    qtbot.waitUntil(lambda: len(fetched) == 2)  # two loaders
    for n in range(10):  # the rows in sight now
        cache.pixmap(f"hub:new{n}")
    qtbot.wait(20)
    gate.set()
    qtbot.waitUntil(lambda: len(loaded) >= 2 + 50)
    qtbot.wait(50)
    assert fetched[:2] == ["old0", "old1"]
    assert fetched[2:12] == [f"new{n}" for n in range(10)]  # as they were asked for
    assert fetched[12:] == [f"old{n}" for n in range(2, 42)]  # the 50 that waited, no more
    cache.pixmap("hub:old79")  # painted again: asked for again
    qtbot.waitUntil(lambda: "hub:old79" in loaded)
    assert isinstance(cache.pixmap("hub:new0"), QPixmap)
    assert cache.wait_for_done()


def test_hub_thumbnails_are_fetched_only_for_rows_that_stay_in_sight(
    qtbot: Any, tmp_path: Path
) -> None:
    """A year's catch-up inserted each page at the top of the Feed: the ~5 rows in sight for a
    moment each had their thumbnail fetched, 1,752 of them (20 MB) that nobody saw."""
    image = tmp_path / "thumb.png"
    dot = QImage(16, 9, QImage.Format.Format_RGB32)
    dot.fill(Qt.GlobalColor.blue)
    assert dot.save(str(image))
    fetched: list[str] = []

    def fetch(item_id: str) -> Path:  # a worker thread's
        fetched.append(item_id)
        return image

    cache = ThumbnailCache()
    cache.fetch = fetch
    in_sight: set[str] = set()
    # the view: a row told ``settled`` is painted again if it is in sight, and asks again
    cache.settled.connect(lambda path: path in in_sight and cache.pixmap(path))
    loaded: list[str] = []
    cache.loaded.connect(loaded.append)
    for page in range(20):  # pages inserted at the top, each row in sight for a moment
        in_sight = {f"hub:p{page}-{n}" for n in range(5)}
        for path in sorted(in_sight):
            assert cache.pixmap(path) is None
        qtbot.wait(cache.settle_ms // 6)  # (the pace of a catch-up's pages: 1 s in all)
    qtbot.waitUntil(lambda: len(loaded) == 5)  # the rows in sight at the end
    assert sorted(fetched) == [f"p19-{n}" for n in range(5)]
    assert isinstance(cache.pixmap("hub:p19-0"), QPixmap)
    qtbot.waitUntil(lambda: not cache._settled)  # (the last round's repaints done)
    in_sight = {"hub:p3-0"}  # scrolled back to: fetched once it stays
    assert cache.pixmap("hub:p3-0") is None
    qtbot.waitUntil(lambda: len(loaded) == 6)
    assert fetched[-1] == "p3-0" and len(fetched) == 6
    assert cache.wait_for_done()


@pytest.mark.parametrize("layout", [LTR, RTL], ids=["ltr", "rtl"])
def test_the_grids_left_and_right_keys_go_the_way_its_cards_are_drawn(
    qtbot: Any, layout: Qt.LayoutDirection
) -> None:
    # in Arabic the first card is drawn at the right, but Right went on to the second card
    # (drawn at its left) and Left went back, stopping at the first: the reading direction
    # was the wrong key
    model = QStandardItemModel(4, 1)
    for row in range(4):
        cell = QStandardItem()
        cell.setData(LibraryItem(make_item(row + 1), 1, 0.0, None, True), OBJECT_ROLE)
        model.setItem(row, 0, cell)
    host = QWidget()
    host.setLayoutDirection(layout)
    qtbot.addWidget(host)
    grid = item_grid(model, host, "library-grid")
    host.resize(1400, 500)
    grid.resize(1400, 500)
    host.show()
    qtbot.waitExposed(host)
    xs = [grid.visualRect(model.index(row, 0)).x() for row in range(4)]
    assert xs == sorted(xs, reverse=layout == RTL) and len(set(xs)) == 4, xs  # one line
    onward, back = (
        (Qt.Key.Key_Left, Qt.Key.Key_Right)
        if layout == RTL
        else (
            Qt.Key.Key_Right,
            Qt.Key.Key_Left,
        )
    )
    grid.setCurrentIndex(model.index(0, 0))
    moves = []
    for key in (onward, onward, back, back, back):
        qtbot.keyClick(grid, key)
        moves.append(grid.currentIndex().row())
    assert moves == [1, 2, 1, 0, 0]
