"""How items look: the thumbnail cell of the Feed and Library tables, the cards of the Library
grid (thumbnail, length, title, priority mark), and what painting them needs — thumbnails read
off the GUI thread (``ThumbnailCache``), the priority colours, lengths, languages and times as
people read them. Painted, never a widget per item.

The delegates read what ``ItemsModel`` gives: ``DecorationRole`` (a scaled ``QPixmap``, or None
while it loads or when there is none: a quiet placeholder keeps the layout still),
``OBJECT_ROLE`` (the ``LibraryItem``) and the font and colour roles that make flash items
stand out.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QDateTime,
    QEvent,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QImageReader,
    QPainter,
    QPalette,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from alu_client.core.hub import Item
from alu_client.core.library import LibraryItem

from . import colors, formats
from .layout_memory import ColumnMemory, remember_columns
from .models import BADGES_ROLE, OBJECT_ROLE
from .tasks import TaskRunner
from .views import copies_without_marks, new_table

THUMB_SIZE = QSize(160, 90)
_Index = QModelIndex | QPersistentModelIndex
# ``ItemsModel``'s Sent by, Priority and State columns (their translated words; models.items
# imports this module)
_SENDER_COLUMN = 4
_PRIORITY_COLUMN = 7
_STATE_COLUMN = 9
_TITLE_COLUMN = 1
# the title column keeps this many average characters while other columns can give way: slug
# and dateline first (free text, cut anyway) down to 9, then Sent by and Language (read when
# cut, whole in the tooltip) down to 6. Length, priority, time and state stay whole (Arabic's
# "عاجل جدًا", Flash, cut read "عاجل …", Urgent): past that, the title has less.
_TITLE_MIN_EM = 28
_GIVING_WAY = (((2, 3), 9), ((_SENDER_COLUMN, 5), 6))


def language_name(code: str) -> str:
    names = {
        "en": QCoreApplication.translate("Languages", "English"),
        "fr": QCoreApplication.translate("Languages", "French"),
        "ar": QCoreApplication.translate("Languages", "Arabic"),
        "pt": QCoreApplication.translate("Languages", "Portuguese"),
        "sw": QCoreApplication.translate("Languages", "Swahili"),
    }
    return names.get(code, code.upper())


def priority_name(code: str) -> str:
    """A priority ("flash", "urgent", "routine") by the Feed's word for it: one vocabulary for
    every list that names one (the auto-download rules showed the stored codes)."""
    names = {
        "flash": QCoreApplication.translate("ItemsModel", "Flash"),
        "urgent": QCoreApplication.translate("ItemsModel", "Urgent"),
        "routine": QCoreApplication.translate("ItemsModel", "Routine"),
    }
    return names.get(code, code)


def _member_name(it: Item) -> str:
    """The uploading member's name as people know it ("Kenya TV"), else its user name (items
    stored before the name was kept), on one line."""
    return " ".join((it.source_name or it.source_member).split())


def sender_name(it: Item, member: str) -> str:
    """Who sent an item in a word, as the Feed's "Sent by" column says it: "Agency" for the
    agency's pushes (and what its staff upload), "You" for the uploads of ``member`` (the
    profile's user name), the member's name for another member's footage."""
    if not it.from_member:
        #: the Sent by column of an item the agency pushed
        return QCoreApplication.translate("ItemsModel", "Agency")
    if it.sent_by(member):
        #: the Sent by column of an item this member uploaded itself
        return QCoreApplication.translate("ItemsModel", "You")
    #: the Sent by column of a member's upload whose member the hub did not name
    return _member_name(it) or QCoreApplication.translate("ItemsModel", "Member")


def sent_by(it: Item, member: str) -> str:
    """Who sent an item, as the detail pane says it after "Sent by:": "The agency", "You
    (Kenya TV)" for the uploads of ``member`` (the profile's user name), or the member's name.
    Names are the members' own words, isolated (an Arabic name in an English line)."""
    name = _member_name(it)
    if not it.from_member:
        #: after "Sent by:", an item the agency pushed
        return QCoreApplication.translate("ItemDetail", "The agency")
    if it.sent_by(member):
        #: after "Sent by:", an item this member uploaded itself: "You (Kenya TV)"
        text = QCoreApplication.translate("ItemDetail", "You ({member})")
        return text.format(member=formats.isolated(name))
    if name:
        return formats.isolated(name)
    #: after "Sent by:", a member's upload whose member the hub did not name
    return QCoreApplication.translate("ItemDetail", "A member")


# a clip length beyond this is none a clip has (a damaged row, a file's broken header): not shown
_LONGEST_CLIP_S = 1e7


def clip_length(seconds: float | None) -> str:
    """A video's length as editors read it: ``0:45``, ``12:05``, ``1:02:07``; empty when
    unknown, and for a length no clip has (infinity, NaN, ``1e300``: QLocale cannot write
    those hours, and every paint of the row raised)."""
    if not seconds or not 0 < seconds <= _LONGEST_CLIP_S:
        return ""
    return formats.clock_text(round(seconds))  # the player's clock, to the nearest second


def _qt_time(when: dt.datetime) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(round(when.timestamp() * 1000))


def local_time(when: dt.datetime, form: QLocale.FormatType = QLocale.FormatType.ShortFormat) -> str:
    """A date and time in the workstation's zone and the app's language."""
    return QLocale().toString(_qt_time(when), form)


class _Ago(QObject):
    """A count of days for ``relative_time``: lupdate finds a string's plural forms (Arabic's
    يومين, أيام) only in a QObject's ``self.tr``."""

    def days(self, days: int) -> str:
        return self.tr("%Ln d ago", "", days)


def relative_time(when: dt.datetime, now: dt.datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``, then the date."""
    seconds = (now - when).total_seconds()
    loc = QLocale()
    if seconds < 60:
        return QCoreApplication.translate("ItemsModel", "just now")
    minutes = int(seconds // 60)
    if minutes < 60:
        return QCoreApplication.translate("ItemsModel", "{n} min ago").format(
            n=loc.toString(minutes)
        )
    hours = minutes // 60
    if hours < 24:
        return QCoreApplication.translate("ItemsModel", "{n} h ago").format(n=loc.toString(hours))
    days = hours // 24
    if days < 7:
        return _Ago().days(days)
    return loc.toString(_qt_time(when).date(), QLocale.FormatType.ShortFormat)


def _read_image(path: str, size: QSize) -> QImage:
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid():
        reader.setScaledSize(full.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise OSError(reader.errorString())
    return image


HUB_PREFIX = "hub:"


#: a hub thumbnail that could not be fetched is tried again after this long (or at once when
#: the hub is back: ``ThumbnailCache.retry_hub``)
HUB_RETRY_S = 300.0


#: a hub thumbnail's row stays in sight this long before it is fetched (ms)
SETTLE_MS = 300


class ThumbnailCache(QObject):
    """Scaled thumbnails, read on worker threads and kept (LRU). ``loaded(path)`` says one is
    ready; a file that cannot be read is not tried again, a hub thumbnail after a while (an
    outage made the Feed's thumbnails blank for the rest of the session).

    The latest paint is served first: the paths asked for since the event loop last ran go
    ahead of those still waiting (in the order asked), and only ``waiting_limit`` wait — the
    oldest are dropped, asked for again if their row is painted again. Loaded first come
    first, a catch-up of 21,000 items queued 2,600 thumbnails of rows that had long left the
    view, and the rows in sight at its end waited 10 s behind them.

    A hub thumbnail is fetched only for a row that stays in sight: asked for, it waits
    ``settle_ms``, then ``settled(path)`` has its rows painted again, and those still in sight
    ask for it again, which fetches it (a year's catch-up, each page inserted at the top of
    the Feed, fetched 1,752 thumbnails of rows that flashed by, 20 MB nobody saw)."""

    loaded = Signal(str)
    #: a hub thumbnail asked for ``settle_ms`` ago: paint its rows again (those in sight ask
    #: for it again, and it is fetched then)
    settled = Signal(str)
    #: reads at once (worker threads)
    loaders = 2

    def __init__(self, parent: QObject | None = None, *, size: QSize = THUMB_SIZE) -> None:
        super().__init__(parent)
        self.size = size
        self.limit = 600
        #: more than a screen of the Library's grid, twice
        self.waiting_limit = 200
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        #: asked for since the event loop last ran (then put ahead of ``_waiting``)
        self._asked: dict[str, None] = {}
        #: waiting for a loader, the next first
        self._waiting: OrderedDict[str, None] = OrderedDict()
        self._loading: set[str] = set()
        #: path → when it failed (``time.monotonic``)
        self._failed: dict[str, float] = {}
        self._tasks = TaskRunner(self, max_threads=self.loaders)
        self._queue_timer = QTimer(self)
        self._queue_timer.setSingleShot(True)
        self._queue_timer.setInterval(0)
        self._queue_timer.timeout.connect(self._queue_asked)
        #: how long a hub thumbnail's row must stay in sight before it is fetched (0: at once)
        self.settle_ms = SETTLE_MS
        #: hub thumbnails asked for, not yet ``settle_ms`` ago: when first (``time.monotonic``)
        self._unsettled: dict[str, float] = {}
        #: told ``settled`` at the last round: asked for again, they are fetched
        self._settled: set[str] = set()
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.timeout.connect(self._settle)
        self._forget_timer = QTimer(self)  # (the repaints ``settled`` asked for are done)
        self._forget_timer.setSingleShot(True)
        self._forget_timer.timeout.connect(self._settled.clear)
        #: fetches a hub thumbnail (``hub:<item id>``) to a local file, on a worker thread
        self.fetch: Callable[[str], Path] | None = None

    def _local(self, path: str) -> str:
        if not path.startswith(HUB_PREFIX):
            return path
        if self.fetch is None:
            raise OSError("no thumbnail fetcher")
        return str(self.fetch(path[len(HUB_PREFIX) :]))

    def pixmap(self, path: str) -> QPixmap | None:
        """The thumbnail if it is loaded; else None, and it starts loading."""
        if not path:
            return None
        found = self._pixmaps.get(path)
        if found is not None:
            self._pixmaps.move_to_end(path)
            return found
        failed = self._failed.get(path)
        if (
            failed is not None
            and path.startswith(HUB_PREFIX)
            and time.monotonic() - failed > HUB_RETRY_S
        ):
            del self._failed[path]
            failed = None
        if path not in self._loading and failed is None:
            if self._unsettled_now(path):
                return None
            self._asked[path] = None
            if not self._queue_timer.isActive():
                self._queue_timer.start()
        return None

    def _unsettled_now(self, path: str) -> bool:
        """``path`` is a hub thumbnail whose row has not stayed in sight ``settle_ms`` yet:
        it waits for the next ``settled``."""
        if not path.startswith(HUB_PREFIX) or self.settle_ms <= 0 or path in self._settled:
            return False
        self._unsettled.setdefault(path, time.monotonic())
        if not self._settle_timer.isActive():
            self._settle_timer.start(self.settle_ms)
        return True

    def _settle(self) -> None:
        """The rows of the thumbnails first asked for ``settle_ms`` ago painted again: those
        still in sight ask again (``pixmap``), and are fetched; the others are forgotten. (Not
        those asked for since: the rows a catch-up had just put at the top were in sight at
        each round, 924 of them in a year's.)"""
        due_at = time.monotonic() - self.settle_ms / 1000
        paths = [p for p, asked in self._unsettled.items() if asked <= due_at]
        for path in paths:
            del self._unsettled[path]
        if self._unsettled:  # (the next when the first of them is due)
            wait = min(self._unsettled.values()) - due_at
            self._settle_timer.start(max(1, math.ceil(wait * 1000)))
        self._settled.clear()
        self._settled.update(paths)
        self._forget_timer.start(self.settle_ms)
        for path in paths:
            self.settled.emit(path)

    def _queue_asked(self) -> None:
        """What was just painted goes first, in the order it was asked for."""
        asked, self._asked = self._asked, {}
        waiting = OrderedDict.fromkeys(asked)
        for path in self._waiting:
            if path not in asked and len(waiting) < self.waiting_limit:
                waiting[path] = None
        while len(waiting) > self.waiting_limit:
            waiting.popitem()
        self._waiting = waiting
        self._start_loads()

    def _start_loads(self) -> None:
        while len(self._loading) < self.loaders and self._waiting:
            self._load(self._waiting.popitem(last=False)[0])

    def _load(self, path: str) -> None:
        self._loading.add(path)
        size = QSize(self.size)
        self._tasks.run(
            lambda: _read_image(self._local(path), size),
            lambda image: self._done(path, image),
            lambda _error: self._fail(path),
        )

    def _done(self, path: str, image: QImage) -> None:
        self._loading.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.limit:
            self._pixmaps.popitem(last=False)
        self.loaded.emit(path)
        self._start_loads()

    def _fail(self, path: str) -> None:
        self._loading.discard(path)
        self._failed[path] = time.monotonic()
        self._start_loads()

    def failed(self, path: str) -> bool:
        """``path`` could not be read (and is not being tried again now)."""
        return path in self._failed

    def retry_hub(self) -> None:
        """Fetch again the hub thumbnails that failed (the hub is back): each loaded says so."""
        paths = [p for p in self._failed if p.startswith(HUB_PREFIX)]
        for path in paths:
            del self._failed[path]
            self.pixmap(path)

    def wait_for_done(self, msecs: int = 10_000) -> bool:
        return self._tasks.wait_for_done(msecs)


def thumbnail_path(li: LibraryItem) -> str:
    """The thumbnail of the item's file (the broadcast one first); else ``hub:<id>`` for the
    hub's own thumbnail (fetched by the cache's ``fetch`` when it has one), or ''."""
    for f in sorted(li.files, key=lambda f: f.rendition != "broadcast"):
        if f.thumbnail:
            return f.thumbnail
    return f"{HUB_PREFIX}{li.id}" if li.item.thumbnail_url else ""


def _draw_picture(painter: QPainter, rect: QRect, pixmap: object, palette: QPalette) -> None:
    """The pixmap centred in ``rect`` (kept in proportion), or a placeholder frame."""
    if isinstance(pixmap, QPixmap) and not pixmap.isNull():
        scaled = pixmap.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, scaled.width(), scaled.height())
        target.moveCenter(rect.center())
        painter.drawPixmap(target, pixmap)
        return
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(130))
    painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 3, 3)
    painter.restore()


def _background(painter: QPainter, option: QStyleOptionViewItem) -> None:
    widget = option.widget
    style = widget.style() if widget is not None else QApplication.style()
    style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)


class ThumbnailDelegate(QStyledItemDelegate):
    """The picture column of the tables."""

    margin = 2

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        self.initStyleOption(option, index)
        _background(painter, option)
        rect = option.rect.adjusted(self.margin, self.margin, -self.margin, -self.margin)
        _draw_picture(painter, rect, index.data(Qt.ItemDataRole.DecorationRole), option.palette)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(THUMB_SIZE.width() // 2 + 8, THUMB_SIZE.height() // 2 + 4)


def title_lines(text: str, font: QFont, width: int, most: int) -> list[str]:
    """``text`` broken into lines of ``width`` pixels as word wrap breaks it, ``most`` of them
    at most: when it needs more, the last one ends with "…" (a title cut after two lines with
    nothing to say so read as whole: "… GPS collars to warn", "farmers" missing)."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    units = text.encode("utf-16-le")  # Qt counts UTF-16 code units

    def part(start: int, end: int | None = None) -> str:
        stop = None if end is None else 2 * end
        return units[2 * start : stop].decode("utf-16-le").strip()

    lines: list[str] = []
    layout.beginLayout()
    try:
        while len(lines) < most:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            start = line.textStart()
            if len(lines) == most - 1:  # the last one takes the rest, elided if it is longer
                elide = Qt.TextElideMode.ElideRight
                lines.append(QFontMetrics(font).elidedText(part(start), elide, width))
            else:
                lines.append(part(start, start + line.textLength()))
    finally:
        layout.endLayout()
    return [line for line in lines if line]


class ItemCardDelegate(QStyledItemDelegate):
    """A card of the Library grid: the picture with its length, then the title (two lines)."""

    padding = 6
    #: lines of the title under the picture
    title_rows = 2

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        line = option.fontMetrics.lineSpacing()
        return QSize(
            THUMB_SIZE.width() + 2 * self.padding,
            THUMB_SIZE.height() + self.title_rows * line + 3 * self.padding,
        )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        self.initStyleOption(option, index)
        li = index.data(OBJECT_ROLE)
        if not isinstance(li, LibraryItem):
            super().paint(painter, option, index)
            return
        painter.save()
        option.text = ""
        option.icon = QIcon()
        _background(painter, option)
        pad = self.padding
        box = option.rect.adjusted(pad, pad, -pad, -pad)
        picture = QRect(box.topLeft(), THUMB_SIZE.boundedTo(box.size()))
        picture.moveLeft(box.left() + (box.width() - picture.width()) // 2)
        _draw_picture(painter, picture, index.data(Qt.ItemDataRole.DecorationRole), option.palette)
        self._badges(painter, picture, li, option)
        self._priority_badge(painter, picture, index, option)
        self._state_badge(painter, picture, index, option)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        color = option.palette.color(role)
        font = QFont(option.font)
        if li.item.priority == "flash":
            font.setBold(True)
            if not selected:
                color = colors.on_view(colors.FLASH, option.palette)
        painter.setFont(font)
        painter.setPen(color)
        fm = painter.fontMetrics()
        top = picture.bottom() + pad
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        for n, line in enumerate(title_lines(li.title, font, box.width(), self.title_rows)):
            # each line in the title's own direction: a cut one ends with "…" where it ends
            rect = QRect(box.left(), top + n * fm.lineSpacing(), box.width(), fm.height())
            painter.drawText(rect, flags, formats.isolated(line))
        painter.restore()

    def _badges(
        self, painter: QPainter, picture: QRect, li: LibraryItem, option: QStyleOptionViewItem
    ) -> None:
        """The clip's length in a corner of the picture; a coloured edge for flash/urgent."""
        length = clip_length(li.item.duration)
        corner = length_corner(picture, option.fontMetrics, length, option.direction)
        if corner is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(corner, 3, 3)
            painter.setPen(QColor("white"))
            painter.drawText(corner, int(Qt.AlignmentFlag.AlignCenter), length)
        edge = {"flash": colors.FLASH, "urgent": colors.URGENT}.get(li.item.priority)
        if edge is not None:
            edge = colors.on_view(edge, option.palette)
            painter.fillRect(QRect(picture.left(), picture.top(), picture.width(), 4), edge)

    def _priority_badge(
        self, painter: QPainter, picture: QRect, index: _Index, option: QStyleOptionViewItem
    ) -> None:
        """Under the coloured edge, in the top corner where a line starts, "Flash" or
        "Urgent" in words: the edge's colour alone did not tell urgent from flash to everyone
        (nor to anyone on a grey screen). White on the signal colour reads on any palette
        (5:1 and more)."""
        li = index.data(OBJECT_ROLE)
        colour = {"flash": colors.FLASH, "urgent": colors.URGENT}.get(li.item.priority)
        text = str(index.sibling(index.row(), _PRIORITY_COLUMN).data() or "")
        if colour is None or not text:
            return
        fm = option.fontMetrics
        w, h = fm.horizontalAdvance(text) + 8, fm.height() + 2
        corner = QRect(picture.left() + 3, picture.top() + 6, w, h)
        if option.direction == Qt.LayoutDirection.RightToLeft:
            corner.moveRight(picture.right() - 3)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(corner, 3, 3)
        painter.setPen(QColor("white"))
        painter.drawText(corner, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def _state_badge(
        self, painter: QPainter, picture: QRect, index: _Index, option: QStyleOptionViewItem
    ) -> None:
        """In the other bottom corner, the item's state when its file is not simply here
        (withdrawn, missing, queued, paused, failed) and whether the agency corrected it
        (``BADGES_ROLE``), clear of the clip's length (``badge_places``)."""
        badges = index.data(BADGES_ROLE)
        if not badges:
            return
        li = index.data(OBJECT_ROLE)
        length = clip_length(li.item.duration) if isinstance(li, LibraryItem) else ""
        fm = option.fontMetrics
        avoid = length_corner(picture, fm, length, option.direction)
        texts = [str(text) for text, _alarm in badges]
        places = badge_places(picture, fm, texts, avoid, option.direction)
        painter.save()
        for (_text, alarm), (corner, text) in zip(badges, places, strict=True):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(176, 0, 32, 220) if alarm else QColor(0, 0, 0, 170))
            painter.drawRoundedRect(corner, 3, 3)
            painter.setPen(QColor("white"))
            painter.drawText(corner, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()


def length_corner(
    picture: QRect, fm: QFontMetrics, length: str, direction: Qt.LayoutDirection
) -> QRect | None:
    """Where a card shows its clip's length: the bottom corner where lines end (None: no
    length)."""
    if not length:
        return None
    w, h = fm.horizontalAdvance(length) + 8, fm.height() + 2
    corner = QRect(picture.right() - w - 3, picture.bottom() - h - 3, w, h)
    if direction == Qt.LayoutDirection.RightToLeft:
        corner.moveLeft(picture.left() + 3)
    return corner


def badge_places(
    picture: QRect,
    fm: QFontMetrics,
    texts: list[str],
    avoid: QRect | None,
    direction: Qt.LayoutDirection,
) -> list[tuple[QRect, str]]:
    """Where a card's state badges go, and their texts: from the bottom corner where lines
    start, one a row upwards; the bottom row beside the clip's length (``avoid``) when the
    badge fits there, else the row above it. Never over the length; a text wider than the
    picture is cut with "…" (whole in the card's tooltip)."""
    h = fm.height() + 2
    full = max(1, picture.width() - 6)
    beside = full - (avoid.width() + 4 if avoid is not None else 0)
    places: list[tuple[QRect, str]] = []
    row = 0
    for text in texts:
        if row == 0 and fm.horizontalAdvance(text) + 8 > beside:
            row = 1
        room = beside if row == 0 else full
        shown = fm.elidedText(text, Qt.TextElideMode.ElideRight, max(1, room - 8))
        w = min(room, fm.horizontalAdvance(shown) + 8)
        corner = QRect(picture.left() + 3, picture.bottom() - 3 - h - row * (h + 2), w, h)
        if direction == Qt.LayoutDirection.RightToLeft:
            corner.moveRight(picture.right() - 3)
        places.append((corner, shown))
        row += 1
    return places


class _StateDelegate(QStyledItemDelegate):
    """The State column's cells: a long state ("Downloaded, corrected", the agency's warning
    "Withdrawn — do not use") takes two lines of its tall row, whole, rather than the room
    of the title beside it (``_two_lines``)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: _Index) -> None:
        super().initStyleOption(option, index)
        option.features |= QStyleOptionViewItem.ViewItemFeature.WrapText


def _two_lines(fm: QFontMetrics, text: str) -> int:
    """The narrowest width that shows ``text`` whole on at most two lines broken at a space
    (the State column's cells wrap: ``_StateDelegate``)."""
    words = text.split(" ")
    best = fm.horizontalAdvance(text)
    for i in range(1, len(words)):
        first, rest = " ".join(words[:i]), " ".join(words[i:])
        best = min(best, max(fm.horizontalAdvance(first), fm.horizontalAdvance(rest)))
    return best


def item_table(model: QAbstractItemModel, parent: QWidget, name: str) -> QTableView:
    """A table of items as the Feed and the Library list show them (the columns of
    ``ItemsModel``: picture, title, slug, dateline, sent by, language, length, priority,
    published, state)."""
    view = new_table(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setItemDelegateForColumn(0, ThumbnailDelegate(view))
    view.setItemDelegateForColumn(_STATE_COLUMN, _StateDelegate(view))
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(THUMB_SIZE.height() // 2 + 6)
    header = view.horizontalHeader()
    # the title takes the room the others leave (and they give way to keep it readable): the
    # State column stays in sight
    header.setStretchLastSection(False)
    header.setSectionResizeMode(_TITLE_COLUMN, QHeaderView.ResizeMode.Stretch)
    header.resizeSection(0, THUMB_SIZE.width() // 2 + 8)
    # the title's width follows the window: never the user's to keep
    _ColumnFitter(view, remember_columns(view, flexible=(_TITLE_COLUMN,))).fit()
    return view


def _column_texts(column: int) -> list[str]:
    """Every text a column of short values can show, in the current language (to size it);
    [] for the columns of free text (title, slug, dateline). The Sent by column is sized to
    its words ("Agency", "You"): a member's name longer than them is cut, whole in the
    tooltip (the title keeps the room)."""

    def model_texts(*sources: str) -> list[str]:
        """``ItemsModel``'s own translations (marked for translators there)."""
        return [QCoreApplication.translate("ItemsModel", s) for s in sources]

    if column == _SENDER_COLUMN:
        return model_texts("Agency", "You", "Member")
    if column == 5:  # language
        return [language_name(code) for code in ("en", "fr", "ar", "pt", "sw")]
    if column == 6:  # duration
        return [clip_length(s) for s in (45, 59 * 60 + 58, 2 * 3600 - 2)]
    if column == _PRIORITY_COLUMN:
        return model_texts("Flash", "Urgent", "Routine")
    if column == 8:  # published: each form, with wide numbers
        now = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)
        ago = [0, 38, 48, 58, 10 * 60, 18 * 60, 23 * 60, 2 * 1440, 6 * 1440, 8 * 1440]
        texts = [relative_time(now - dt.timedelta(minutes=m), now) for m in ago]
        days = (dt.datetime(2026, 10, 28, tzinfo=dt.UTC), dt.datetime(2026, 8, 28, tzinfo=dt.UTC))
        return texts + [relative_time(day, now) for day in days]
    if column == _STATE_COLUMN:
        # every state, the agency's warning, and each with the mark of a correction: the
        # column was as wide as "Downloaded", and cut "Downloaded, corrected" and the warning
        states = model_texts("New", "Queued", "Paused", "Failed", "Downloaded", "Proxy only")
        states += model_texts("Missing")
        (corrected,) = model_texts("{state}, corrected")
        return [
            *states,
            *model_texts("Corrected", "Withdrawn — do not use"),
            *(corrected.format(state=s) for s in states),
        ]
    return []


class _ColumnFitter(QObject):
    """Sizes an item table's columns (fixed widths, not ResizeToContents, which measures the
    rows again at every change): the short values' columns to their longest text in the
    current language and font (in bold, as flash rows are), again when the headers are
    translated; slug and dateline to a few words. The title (the stretch column) keeps at
    least ``_TITLE_MIN_EM``: in a narrow table the columns the user has not sized give way
    (``give_way``), their texts cut with "…"; the fixed widths left the title 43 px ("Tee…")
    at 1366×768. A column the user sized keeps that width (its ``ColumnMemory`` knows which,
    and keeps them for the next start)."""

    def __init__(self, view: QTableView, memory: ColumnMemory) -> None:
        super().__init__(view)
        self.view = view
        self.header = view.horizontalHeader()
        self.memory = memory
        self.preferred: dict[int, int] = {}  # column -> width wanted when there is room
        view.model().headerDataChanged.connect(self._headers_changed)
        # the others make room for a column the user sized (the title keeps its minimum),
        # and for those a restart gave back
        memory.user_resized.connect(self.give_way)
        memory.restored.connect(self.give_way)
        view.viewport().installEventFilter(self)

    @property
    def user_widths(self) -> dict[int, int]:
        return self.memory.user_widths

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.give_way()
        return False

    def _headers_changed(self, orientation: Qt.Orientation, _first: int, _last: int) -> None:
        if orientation == Qt.Orientation.Horizontal:
            self.fit()

    def _em(self) -> int:
        return max(1, self.view.fontMetrics().averageCharWidth())

    def fit(self) -> None:
        view, header = self.view, self.header
        model = view.model()
        bold = QFont(view.font())
        bold.setBold(True)
        cells = QFontMetrics(bold)
        heads = header.fontMetrics()
        style = view.style()
        cell_pad = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
        head_pad = 2 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
        em = self._em()
        self.preferred = {2: 14 * em, 3: 16 * em}  # slug, dateline: free text, cut anyway
        for column in range(_SENDER_COLUMN, model.columnCount()):
            title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
            widths = [heads.horizontalAdvance(title) + head_pad]
            # (a state may take two lines: its tall row has room for them, the title not)
            advance = (
                partial(_two_lines, cells) if column == _STATE_COLUMN else cells.horizontalAdvance
            )
            widths += [advance(t) + cell_pad for t in _column_texts(column)]
            self.preferred[column] = max(widths) + em
        self.give_way()

    def give_way(self) -> None:
        """Each column the user has not sized at its preferred width when the title keeps
        ``_TITLE_MIN_EM`` beside them; else those of ``_GIVING_WAY`` give way, a stage at a
        time, each column of a stage in proportion to what it can give above its floor."""
        header = self.header
        shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        auto = [c for c in shown if c in self.preferred and c not in self.user_widths]
        fixed = sum(header.sectionSize(c) for c in shown if c not in auto and c != _TITLE_COLUMN)
        em = self._em()
        room = self.view.viewport().width() - _TITLE_MIN_EM * em - fixed
        widths = {c: self.preferred[c] for c in auto}
        over = sum(widths.values()) - room
        for columns, floor_em in _GIVING_WAY:
            stage = [c for c in columns if c in widths]
            floors = {c: min(widths[c], floor_em * em) for c in stage}
            can_give = sum(widths[c] - floors[c] for c in stage)
            if over <= 0 or can_give <= 0:
                continue
            share = min(1.0, over / can_give)
            for c in stage:
                given = math.ceil((widths[c] - floors[c]) * share)
                widths[c] = max(floors[c], widths[c] - given)
                over -= given
        if over > 0:  # (the splitter gave what it could: ``TableFirst``)
            _title_first(widths, _TITLE_MIN_EM * em - over)
        with self.memory.fitting():
            for c, width in widths.items():
                if header.sectionSize(c) != width:
                    header.resizeSection(c, width)

    def wanted_width(self) -> int:
        """The table's width at which the title keeps ``_TITLE_MIN_EM`` with the columns of
        ``_GIVING_WAY`` at their floors (frame and scroll bar included)."""
        header, em = self.header, self._em()
        floors = {c: floor_em * em for columns, floor_em in _GIVING_WAY for c in columns}
        width = self.view.width() - self.view.viewport().width() + _TITLE_MIN_EM * em
        for c in range(header.count()):
            if header.isSectionHidden(c) or c == _TITLE_COLUMN:
                continue
            if c in self.preferred and c not in self.user_widths:
                width += min(self.preferred[c], floors.get(c, self.preferred[c]))
            else:
                width += header.sectionSize(c)
        return width


def _title_first(widths: dict[int, int], title: int) -> None:
    """With the columns of ``_GIVING_WAY`` at their floors the title would keep ``title`` px
    (3 characters at 24 pt, less than the slug): they share at most half of their room and the
    title's, so that it stays the widest of them."""
    giving = [c for columns, _floor in _GIVING_WAY for c in columns if c in widths]
    held = sum(widths[c] for c in giving)
    pool = max(0, title + held)
    if not held or title >= pool // 2:
        return
    left = pool - pool // 2
    for c in giving:
        widths[c] = widths[c] * left // held


def wanted_width(view: QTableView) -> int:
    """``_ColumnFitter.wanted_width`` of an ``item_table`` (0 for another table)."""
    fitter = view.findChild(_ColumnFitter)
    return fitter.wanted_width() if fitter is not None else 0


class _ItemGrid(QListView):
    """Qt's icon mode draws a right-to-left grid mirrored (the first card at the right) but
    moves its Left and Right keys as if it were not: here they go the way the cards are drawn."""

    def moveCursor(
        self, cursorAction: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier
    ) -> QModelIndex:
        move = QAbstractItemView.CursorAction
        if self.isRightToLeft() and cursorAction in (move.MoveLeft, move.MoveRight):
            cursorAction = move.MoveRight if cursorAction == move.MoveLeft else move.MoveLeft
        return super().moveCursor(cursorAction, modifiers)


def item_grid(model: QAbstractItemModel, parent: QWidget, name: str) -> QListView:
    """A grid of item cards (the Library's thumbnails) over column 0 of ``ItemsModel``."""
    view = _ItemGrid(parent)
    view.setObjectName(name)
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setUniformItemSizes(True)
    view.setSpacing(6)
    view.setModel(model)
    view.setModelColumn(0)
    view.setItemDelegate(ItemCardDelegate(view))
    copies_without_marks(view)
    # whole rows, as the list mode selects them: switching modes keeps the same selection
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    return view


__all__ = [
    "THUMB_SIZE",
    "ItemCardDelegate",
    "ThumbnailCache",
    "ThumbnailDelegate",
    "clip_length",
    "item_grid",
    "item_table",
    "language_name",
    "local_time",
    "priority_name",
    "relative_time",
    "sender_name",
    "sent_by",
    "thumbnail_path",
    "title_lines",
    "wanted_width",
]
