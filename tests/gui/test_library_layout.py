"""The Library's layout at the newsroom's screen sizes: the picture's share of the side pane,
the list's Title column, both kept across starts (window.ini), and a long restriction laid out
in its own writing direction."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from alu_client.core.library import LibraryItem
from alu_client.ui.i18n import install_translators
from alu_client.ui.views.item_detail import ItemDetail
from tests.client.test_library import make_item


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
