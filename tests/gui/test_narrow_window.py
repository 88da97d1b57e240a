"""A narrow window or a large font: the status bar's hub and counts give way, cut with "…"
(whole in their tooltips), and the Feed's and the Library's side panes give way to the
table's Title column before it is cut below the other text columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from alu_client.ui.statusbar import Activity, StatusBar

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
