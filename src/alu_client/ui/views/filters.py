"""The filter bar of the Feed and Library tabs: search words and filters, as one ``Query``.

Combo boxes apply at once; typing in the search box waits 250 ms after the last key (one query
per pause, not per key). The choices of language, category and region are what the library
holds (``models.items.load_facets``, read by the owner off the GUI thread, ``set_facets``).
Ctrl+F (the platform's Find key) focuses the search box while the bar's tab is shown.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from alu_client.core.library import Library, Query

from ..delegates_items import language_name, priority_name
from ..tasks import TaskRunner
from ..widgets.combo import ElidingComboBox

DATE_RANGES = ("all", "today", "24h", "7d")
PRIORITY_KEYS = ("flash", "urgent", "routine")
SEARCH_DELAY_MS = 250
# the smallest widths of the search box and of each filter, in average characters of the font
FLOOR_SEARCH = 16
FLOOR_FILTER = 8
# at most this part of the screen's width for those floors together (a large font)
FLOORS_OF_SCREEN = 0.6
T = TypeVar("T")


def run_while_alive(
    owner: QObject,
    tasks: TaskRunner,
    fn: Callable[[], T],
    on_done: Callable[[T], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """``tasks.run`` whose callbacks are dropped once ``owner`` is deleted (the runner is the
    window's and may outlive a panel)."""

    def alive(cb: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
        if cb is None:
            return None

        def call(value: Any) -> None:
            if shiboken6.isValid(owner):
                cb(value)

        return call

    tasks.run(fn, alive(on_done), alive(on_error) or _ignore)


def _ignore(_error: BaseException) -> None:
    """A read for a widget that is gone failed: nobody to tell."""


def date_from(
    key: str, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
) -> dt.datetime | None:
    """The start of a date range: today (local midnight, see :func:`local_midnight`), the last
    24 hours, 7 days; None: all."""
    now = now or dt.datetime.now().astimezone()
    if key == "today":
        return local_midnight(now, tz)
    if key == "24h":
        return now - dt.timedelta(hours=24)
    if key == "7d":
        return now - dt.timedelta(days=7)
    return None


def local_midnight(now: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The moment the day of ``now`` began in ``tz`` (the workstation's time zone by default).

    Not ``now`` with its hours set to zero: ``now`` carries today's offset, and on a
    daylight-saving change day the night had the other one (Europe/London's 30 March 2025
    began at 00:00 GMT, not 00:00 BST). A midnight the clocks skip (Cairo went from 00:00 to
    01:00 on 25 April 2025) is the first moment of the day, 01:00."""
    day = now.astimezone(tz).date()
    midnight = dt.datetime.combine(day, dt.time(0), tz)  # fold 0: the first of two midnights
    # by the timestamp: a skipped midnight is read with the offset before the change
    return dt.datetime.fromtimestamp(midnight.timestamp(), dt.UTC).astimezone(tz)


@dataclass(frozen=True)
class Facets:
    """The values the filters offer: what the library holds."""

    languages: tuple[str, ...]
    categories: tuple[str, ...]
    regions: tuple[str, ...]


def load_facets(library: Library) -> Facets:
    """Distinct languages, categories and regions of the library (slow: off the GUI thread).

    One statement, so the three lists come from the same moment of the library even while the
    feed sync is adding items (three reads could offer a region but not its item's category).
    """
    columns = ("language", "category", "region")
    sql = " UNION ALL ".join(
        f"SELECT DISTINCT {i}, {c} FROM items WHERE profile = ? AND {c} != ''"  # noqa: S608
        for i, c in enumerate(columns)
    )
    found: list[list[str]] = [[] for _ in columns]
    for which, value in library.store.query(sql, (library.profile,) * len(columns)):
        found[int(which)].append(str(value))
    return Facets(*(tuple(sorted(values)) for values in found))


class FilterBar(QWidget):
    """Signals: ``changed()`` when the query to show changed (debounced for typed words)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facets = Facets((), (), ())
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setClearButtonEnabled(True)
        self.language = ElidingComboBox(self)
        self.language.setObjectName("filter-language")
        self.category = ElidingComboBox(self)
        self.category.setObjectName("filter-category")
        self.region = ElidingComboBox(self)
        self.region.setObjectName("filter-region")
        self.priority = ElidingComboBox(self)
        self.priority.setObjectName("filter-priority")
        self.dates = ElidingComboBox(self)
        self.dates.setObjectName("filter-dates")
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.changed)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self._search_now)
        for box in self._boxes():
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self._set_floors()
        self.find_action = QAction(self)
        self.find_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        self.find_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.find_action.triggered.connect(self.focus_search)
        self.addAction(self.find_action)
        self.search_label = QLabel(self)
        self.search_label.setBuddy(self.search)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.search_label)
        layout.addWidget(self.search, 2)
        for box in self._boxes():
            layout.addWidget(box)
        self._retranslate()

    def _set_floors(self) -> None:
        """In a narrow window the filters give way before the search box (it kept 28 px, its
        clear button only, in French at 800 px): the box keeps room for a few words (16
        characters), the filters shrink from their whole choices down to a short start of them
        (8), which ends with "…" (the whole choice in the tooltip). At a large font those floors
        (56 characters) made the window wider than a 1024 px screen (1069 px at 24 pt): there
        they shrink so that together they take at most ``FLOORS_OF_SCREEN`` of its width."""
        em = self.fontMetrics().averageCharWidth()
        screen = self.screen()
        if screen is not None:
            room = int(screen.availableGeometry().width() * FLOORS_OF_SCREEN)
            em = max(1, min(em, room // (FLOOR_SEARCH + FLOOR_FILTER * len(self._boxes()))))
        self.search.setMinimumWidth(FLOOR_SEARCH * em)
        for box in self._boxes():
            box.setMinimumWidth(FLOOR_FILTER * em)

    def showEvent(self, event: QShowEvent) -> None:
        self._set_floors()  # (the screen it shows on is known now)
        super().showEvent(event)

    def _boxes(self) -> tuple[QComboBox, ...]:
        return (self.language, self.category, self.region, self.priority, self.dates)

    # --- what the user asked ------------------------------------------------------------------

    def query(self, base: Query | None = None, *, hub_offset: float = 0.0) -> Query:
        """``base`` narrowed by the bar (dates computed now: "24 h" moves with the clock, the
        hub's: ``hub_offset`` is its clock minus this workstation's, in seconds)."""
        q = base or Query()
        now = dt.datetime.fromtimestamp(time.time() + hub_offset).astimezone()

        def one(box: QComboBox) -> tuple[str, ...]:
            value = box.currentData()
            return (str(value),) if value else ()

        return replace(
            q,
            text=self.search.text().strip(),
            languages=one(self.language),
            categories=one(self.category),
            regions=one(self.region),
            priorities=one(self.priority),
            published_from=date_from(str(self.dates.currentData() or "all"), now),
        )

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _search_now(self) -> None:
        if self._debounce.isActive():
            self._debounce.stop()
            self.changed.emit()

    def set_value(self, box: QComboBox, value: str) -> None:
        """Pick ``value`` in a filter ('' for any)."""
        box.setCurrentIndex(max(0, box.findData(value or None)))

    def clear(self) -> None:
        """Every filter back to "any" and no search words (one ``changed``)."""
        self.blockSignals(True)
        self.search.clear()
        self._debounce.stop()
        for box in self._boxes():
            box.setCurrentIndex(0)
        self.blockSignals(False)
        self.changed.emit()

    def load_choices(self, library: Library, tasks: TaskRunner) -> None:
        """Offer what ``library`` holds (read off the GUI thread)."""
        run_while_alive(self, tasks, lambda: load_facets(library), self.set_facets)

    def set_facets(self, facets: Facets) -> None:
        """The languages, categories and regions the library holds."""
        self._facets = facets
        self._fill_facets()

    # --- building -----------------------------------------------------------------------------

    def _fill(self, box: QComboBox, any_text: str, items: Sequence[tuple[str, str]]) -> None:
        keep = box.currentData()
        box.blockSignals(True)
        box.clear()
        box.addItem(any_text, None)
        for text, value in items:
            box.addItem(text, value)
        index = box.findData(keep) if keep else 0
        if index < 0:  # what was chosen is not offered any more: keep it offered
            box.addItem(str(keep), keep)
            index = box.count() - 1
        box.setCurrentIndex(index)
        box.blockSignals(False)

    def _fill_facets(self) -> None:
        languages = sorted({"en", "fr", "ar", *self._facets.languages})
        self._fill(
            self.language,
            self.tr("All languages"),
            sorted(((language_name(c), c) for c in languages), key=lambda t: t[0].casefold()),
        )
        self._fill(
            self.category, self.tr("All categories"), [(c, c) for c in self._facets.categories]
        )
        self._fill(self.region, self.tr("All regions"), [(r, r) for r in self._facets.regions])

    def _retranslate(self) -> None:
        self.search_label.setText(self.tr("&Search:"))
        self.search.setPlaceholderText(self.tr("Words in title, slug, dateline, script…"))
        self.search.setAccessibleName(self.tr("Search items"))
        self.language.setAccessibleName(self.tr("Language"))
        self.category.setAccessibleName(self.tr("Category"))
        self.region.setAccessibleName(self.tr("Region"))
        self.priority.setAccessibleName(self.tr("Priority"))
        self.dates.setAccessibleName(self.tr("Published"))
        self.find_action.setText(self.tr("Find"))
        self._fill_facets()
        self._fill(
            self.priority,
            self.tr("All priorities"),
            [(priority_name(code), code) for code in ("flash", "urgent", "routine")],
        )
        self._fill(
            self.dates,
            self.tr("Any date"),
            [
                (self.tr("Today"), "today"),
                # (counts: the number in the language's digits, as the Feed's dates)
                (self.tr("Last %Ln hours", "", 24), "24h"),
                (self.tr("Last %Ln days", "", 7), "7d"),
            ],
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        elif event.type() == QEvent.Type.FontChange:
            self._set_floors()
        super().changeEvent(event)


__all__ = ["DATE_RANGES", "FilterBar", "date_from", "local_midnight", "run_while_alive"]
