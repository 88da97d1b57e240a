"""Settings at a large desktop font: the pages scroll down, not sideways, on a screen narrower
than they want only; a word-wrapped note gets the height its text needs; the keyboard goes
from the tab bar into the page (no scroll area in between that takes the focus unnamed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QTabBar, QWidget

from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.ui.screen_fit import FRAME_ALLOWANCE
from alu_client.ui.tasks import TaskRunner
from tests.gui.test_settings import desk, open_dialog, private_config, settings, tasks

__all__ = ["desk", "private_config", "settings", "tasks"]  # (the fixtures, shared)


@pytest.fixture
def large_font(qapp: QApplication) -> Iterator[QFont]:
    """The desktop's font at 20 points (a user who needs large text)."""
    before = qapp.font()
    font = QFont(before)
    font.setPointSize(20)
    qapp.setFont(font)
    yield font
    qapp.setFont(before)


def cut_labels(page: QWidget) -> list[str]:
    """The word-wrapped labels shown with less height than their text needs."""
    return [
        f"{label.height()}<{label.heightForWidth(label.width())}: {label.text()[:50]}"
        for label in page.findChildren(QLabel)
        if label.isVisible() and label.wordWrap() and label.text()
        and label.heightForWidth(label.width()) > label.height()
    ]  # fmt: skip


def scroll_of(page: QWidget) -> QScrollArea:
    parent = page.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    assert parent is not None
    return parent


def test_at_a_large_font_the_pages_scroll_down_and_each_note_shows_whole(
    qtbot: Any, large_font: QFont, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    # at 24 points on a 1024 px screen the plain-HTTP warning lost its last line (112 px for
    # 152) and every page scrolled sideways in a 760 px dialog, its labels' first letters out
    # of view ("…oad folder:")
    dialog = open_dialog(qtbot, desk, settings, tasks)
    # (the room when the dialog opened: with the frame allowance, before the frame is known)
    room = dialog.screen().availableGeometry().width() - FRAME_ALLOWANCE.left()
    room -= FRAME_ALLOWANCE.right()
    widest = max(page.minimumSizeHint().width() for page in dialog.pages)
    assert dialog.width() >= min(max(760, widest), room)
    cut: dict[str, list[str]] = {}
    sideways: list[str] = []
    for i, page in enumerate(dialog.pages):
        dialog.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        if found := cut_labels(page):
            cut[dialog.tabs.tabText(i)] = found
        bar = scroll_of(page).horizontalScrollBar()
        if bar.maximum() > 0 and dialog.width() < room:  # (room left, yet a sideways bar)
            sideways.append(dialog.tabs.tabText(i))
    assert cut == {}
    assert sideways == []
    warning = dialog.network.http_warning
    assert warning.isVisibleTo(dialog)  # (the profile allows plain HTTP: the warning shows)


def test_the_tab_bar_comes_before_the_page_and_no_scroll_area_takes_the_focus(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    bar = dialog.tabs.findChild(QTabBar)
    assert bar is not None
    areas = dialog.findChildren(QScrollArea)
    assert areas and all(
        a.focusPolicy() == Qt.FocusPolicy.NoFocus or a.accessibleName() for a in areas
    )
    for i, page in enumerate(dialog.pages):
        dialog.tabs.setCurrentIndex(i)
        bar.setFocus()
        qtbot.keyClick(bar, Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        assert focus is not None and page.isAncestorOf(focus), (dialog.tabs.tabText(i), focus)
