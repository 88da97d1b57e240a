"""How item views paint text, read back from the pixels and the painter: a title too long for
its cell ends with "…" where its own direction ends (a Latin title in the Arabic layout too),
and a card's title that does not fit its two lines says so with "…"."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QTableView

from alu_client.ui.delegates_items import item_table
from alu_client.ui.views import new_table

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
