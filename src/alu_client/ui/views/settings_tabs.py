"""Settings' tabs: each page in its own scroll area, under a tab bar that stays in view.

The pages scroll on a screen too small for them (a laptop at 200 %: 683x384 logical pixels;
the Transfers page alone needed 399), so OK and Cancel stay on the screen. One scroll area per
page, not one around the tabs: a scroll area around a QTabWidget gave word-wrapped labels less
height than their text needs (the tab widget does not pass on height-for-width), took a place
in the tab order before the tab bar, and scrolled the tab bar away with the page.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QStyle, QTabWidget, QWidget

__all__ = ["PageTabs"]


class PageTabs(QTabWidget):
    """A QTabWidget whose pages scroll. ``currentWidget``, ``setCurrentWidget`` and
    ``indexOf`` speak of the pages, not of the scroll areas around them."""

    def add_page(self, page: QWidget) -> QScrollArea:
        scroll = QScrollArea(self)
        scroll.setObjectName(f"settings-scroll-{self.count()}")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        # (the keyboard goes from the tab bar to the page's first field; the scroll area
        # follows the focus: it needs none of its own)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(page)
        self.addTab(scroll, "")
        return scroll

    def scroll_of(self, index: int) -> QScrollArea:
        scroll = super().widget(index)
        assert isinstance(scroll, QScrollArea)
        return scroll

    def page(self, index: int) -> QWidget | None:
        scroll = super().widget(index)
        return scroll.widget() if isinstance(scroll, QScrollArea) else scroll

    def currentWidget(self) -> QWidget:
        return self.page(self.currentIndex()) or super().currentWidget()

    def setCurrentWidget(self, widget: QWidget) -> None:
        self.setCurrentIndex(self.indexOf(widget))

    def indexOf(self, widget: QWidget) -> int:
        for i in range(self.count()):
            if widget is self.page(i) or widget is super().widget(i):
                return i
        return -1

    def widest_page(self) -> int:
        """The tab widget's width that shows every page whole: the widest page, its
        vertical scroll bar and the tab widget's frame."""
        style = self.style()
        frame = 2 * style.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, self)
        bar = style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        pages = [self.page(i) for i in range(self.count())]
        widest = max((p.minimumSizeHint().width() for p in pages if p is not None), default=0)
        return widest + bar + frame + 2
