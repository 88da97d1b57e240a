"""The parts of the upload dialog: the files being sent (a list model) and the metadata form.

``UploadEntry`` is one file with the field values typed for it (texts keyed by the names of
``core.uploads.UploadFields``), what the probe found and its thumbnail. ``UploadFilesModel``
lists the entries (title, thumbnail, a warning when a field needs fixing). ``UploadForm`` edits
one entry at a time; each field has its message line under it, shown by ``show_error`` with the
``FieldError.field`` name the core gives.

Script and shot list are laid out paragraph by paragraph in their own writing direction as
they are typed or pasted (``widgets.text_direction``: an Arabic paragraph at the right edge in
the English app, a French quote in an Arabic script at the left, as the Feed's detail pane
shows them), and say their length once it nears the core's ``LONG_LIMIT``.
Tab leaves the recording date in one press (Qt's date-time edit took one per section: year,
month, day, hour, minute); the arrow keys still move between its sections.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QDate,
    QDateTime,
    QEvent,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ...core.media import Probe
from ...core.uploads import (
    LONG_LIMIT,
    MSG_RECORDED_AHEAD,
    MSG_RECORDED_TOO_EARLY,
    MSG_TEXTS_TOO_LARGE,
    FieldError,
    long_text,
)
from .. import colors, formats, plain_text
from ..clock_warning import ClockWords
from ..delegates_items import priority_name
from ..media_text import media_problem
from ..models import OBJECT_ROLE
from ..widgets.label import SelectableLabel
from ..widgets.text_direction import OwnDirectionEdit

# the fields of ``UploadFields`` the form edits, in the form's order
FIELDS = (
    "title",
    "slug",
    "dateline",
    "recorded_at",
    "language",
    "category",
    "region",
    "country",
    "priority",
    "restrictions",
    "script",
    "shotlist",
)
# what "Apply to all" copies: the story's context, not what names one file
SHARED_FIELDS = (
    "dateline",
    "language",
    "category",
    "region",
    "country",
    "priority",
    "restrictions",
)
# languages an item may be in, named in their own language (never translated)
LANGUAGE_NAMES = (("en", "English"), ("fr", "Français"), ("ar", "العربية"))
_Index = QModelIndex | QPersistentModelIndex
_THUMB_SIZE = (256, 144)
# the multi-line texts, whose length shows from this share of ``LONG_LIMIT``
_COUNTED = ("script", "shotlist")
_COUNT_FROM = 0.9
# the core's MSG_TEXTS_TOO_LARGE, its numbers captured
_TEXTS_TOO_LARGE = re.compile(
    re.escape(MSG_TEXTS_TOO_LARGE)
    .replace(re.escape("{size}"), r"(?P<size>\d+)")
    .replace(re.escape("{limit}"), r"(?P<limit>\d+)")
)


@dataclass(eq=False)
class UploadEntry:
    """One file to upload and what the form holds for it."""

    path: Path
    values: dict[str, str]
    probe: Probe | None = None
    probe_error: str = ""
    thumbnail: QImage | None = None
    inspected: bool = False
    # the file's (size, mtime_ns) when it was probed
    stamp: tuple[int, int] | None = None
    # fields the user changed (a late probe must not overwrite them)
    touched: set[str] = field(default_factory=set)
    # the message of the field to fix and that field's name, or ''
    error: str = ""
    error_field: str = ""

    @property
    def title(self) -> str:
        return self.values.get("title", "").strip() or self.path.name


class UploadFilesModel(QAbstractListModel):
    """The files of one upload dialog, one row each."""

    def __init__(self, entries: list[UploadEntry], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries = entries
        self._icons: dict[int, QIcon] = {}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            # a file name keeps its order in the Arabic list ("024 (2).mp4", not "mp4.(2) 024")
            return formats.isolated(entry.title)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return entry.title
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{entry.path}\n{entry.error}" if entry.error else str(entry.path)
            return plain_text.shown_as_typed(tip)  # (a file's name may look like markup)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(entry)
        if role == OBJECT_ROLE:
            return entry
        return None

    def _icon(self, entry: UploadEntry) -> QIcon | None:
        if entry.error:
            return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        if entry.thumbnail is None:
            return None
        key = id(entry)
        if key not in self._icons:
            self._icons[key] = QIcon(QPixmap.fromImage(entry.thumbnail.scaledToWidth(64)))
        return self._icons[key]

    def entry_changed(self, entry: UploadEntry) -> None:
        if entry in self.entries:
            self._icons.pop(id(entry), None)
            i = self.index(self.entries.index(entry))
            self.dataChanged.emit(i, i)

    def append(self, entries: list[UploadEntry]) -> None:
        first = len(self.entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self.entries.extend(entries)
        self.endInsertRows()

    def remove(self, entries: list[UploadEntry]) -> None:
        for entry in entries:
            if entry in self.entries:
                row = self.entries.index(entry)
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.entries[row]
                self._icons.pop(id(entry), None)
                self.endRemoveRows()


def local_datetime(value: str) -> QDateTime | None:
    """The QDateTime (local time) of an ISO 8601 text, or None."""
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.astimezone()
    return QDateTime.fromSecsSinceEpoch(int(when.timestamp()))


def iso_text(value: QDateTime) -> str:
    """ISO 8601 with this workstation's offset (the hub stores an aware time)."""
    return dt.datetime.fromtimestamp(value.toSecsSinceEpoch()).astimezone().isoformat()


class UploadForm(QWidget):
    """The fields of one file. ``edited(field)`` when the user changes one."""

    edited = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self.thumbnail = QLabel(self)
        self.thumbnail.setObjectName("upload-thumbnail")
        self.thumbnail.setFixedSize(*_THUMB_SIZE)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFrameShape(QLabel.Shape.StyledPanel)
        # selectable (the file's name can be copied), laid out in the form's direction: a
        # Latin name at its start made the Arabic sentence left to right (widgets/label.py)
        self.info = SelectableLabel(self)
        self.info.setObjectName("upload-info")

        self.title = QLineEdit(self)
        self.slug = QLineEdit(self)
        self.dateline = QLineEdit(self)
        self.recorded_known = QCheckBox(self)
        self.recorded = QDateTimeEdit(self)
        self.recorded.setCalendarPopup(True)
        # Year first and hours before minutes in every language: in the Arabic layout Qt
        # reversed the sections (٣٠:١٤ for 14:30), and in a left-to-right edit the bidi
        # algorithm still drew Arabic-Indic digits around "-" and " " right to left (the time
        # first) without a left-to-right mark after each separator. The direction before the
        # format, which Qt orders by the direction.
        self.recorded.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        lrm = formats.LRM
        self.recorded.setDisplayFormat(f"yyyy-{lrm}MM-{lrm}dd {lrm}HH:mm")
        self.recorded.setMinimumDate(QDate(1900, 1, 1))
        # the hub's clock minus this computer's (seconds): "now" in the Recorded field is the
        # hub's, as the date is checked (``set_clock_offset``)
        self.clock_offset = 0.0
        self.recorded.setDateTime(self.hub_now())
        self.recorded.setEnabled(False)
        self.recorded.installEventFilter(self)  # Tab leaves it (``eventFilter``)
        self.language = QComboBox(self)
        for code, name in LANGUAGE_NAMES:
            self.language.addItem(name, code)
        self.category = QLineEdit(self)
        self.region = QLineEdit(self)
        self.country = QLineEdit(self)
        self.priority = QComboBox(self)
        for code in ("flash", "urgent", "routine"):
            self.priority.addItem("", code)
        self.restrictions = QLineEdit(self)
        # each laid out in its own text's direction, flush with its start
        self.script = OwnDirectionEdit(self)
        self.shotlist = OwnDirectionEdit(self)
        for box in (self.script, self.shotlist):
            box.setTabChangesFocus(True)
            box.setMinimumHeight(self.fontMetrics().lineSpacing() * 5)

        self.widgets: dict[str, QWidget] = {
            "title": self.title,
            "slug": self.slug,
            "dateline": self.dateline,
            "recorded_at": self.recorded,
            "language": self.language,
            "category": self.category,
            "region": self.region,
            "country": self.country,
            "priority": self.priority,
            "restrictions": self.restrictions,
            "script": self.script,
            "shotlist": self.shotlist,
        }
        self.labels: dict[str, QLabel] = {}
        self.errors: dict[str, QLabel] = {}
        # "18,500 of 20,000 characters" under a text near its limit
        self.counts: dict[str, QLabel] = {}
        for name in _COUNTED:
            count = QLabel(self)
            count.setObjectName(f"count-{name}")
            count.setAlignment(Qt.AlignmentFlag.AlignTrailing | Qt.AlignmentFlag.AlignVCenter)
            count.hide()
            self.counts[name] = count
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, widget in self.widgets.items():
            widget.setObjectName(f"field-{name}")
            error = QLabel(self)
            error.setObjectName(f"error-{name}")
            error.setTextFormat(Qt.TextFormat.PlainText)  # (the hub's words may quote a value)
            error.setWordWrap(True)
            colors.tint(error, colors.ERROR)
            error.hide()
            self.errors[name] = error
            cell = QVBoxLayout()
            cell.setContentsMargins(0, 0, 0, 0)
            cell.setSpacing(2)
            cell.addWidget(widget)
            if name in self.counts:
                cell.addWidget(self.counts[name])
            cell.addWidget(error)
            if name == "recorded_at":
                form.addRow(self.recorded_known, cell)
            else:
                label = QLabel(self)
                label.setBuddy(widget)
                self.labels[name] = label
                form.addRow(label, cell)
        top = QVBoxLayout(self)
        top.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignHCenter)
        top.addWidget(self.info)
        top.addLayout(form)
        top.addStretch(1)

        for name in ("title", "slug", "dateline", "category", "region", "country", "restrictions"):
            line = self.widgets[name]
            assert isinstance(line, QLineEdit)
            line.textEdited.connect(lambda _t, n=name: self._changed(n))
        self.script.textChanged.connect(lambda: self._changed("script"))
        self.shotlist.textChanged.connect(lambda: self._changed("shotlist"))
        self.script.textChanged.connect(lambda: self._count("script"))
        self.shotlist.textChanged.connect(lambda: self._count("shotlist"))
        self.language.currentIndexChanged.connect(lambda _i: self._changed("language"))
        self.priority.currentIndexChanged.connect(lambda _i: self._changed("priority"))
        self.recorded.dateTimeChanged.connect(lambda _d: self._changed("recorded_at"))
        self.recorded_known.toggled.connect(self._recorded_toggled)
        self.retranslate()

    # --- texts ------------------------------------------------------------------------------

    def retranslate(self) -> None:
        texts = {
            "title": self.tr("&Title:"),
            "slug": self.tr("S&lug:"),
            "dateline": self.tr("&Dateline:"),
            "language": self.tr("Lan&guage:"),
            "category": self.tr("Cat&egory:"),
            "region": self.tr("Regi&on:"),
            "country": self.tr("Countr&y:"),
            "priority": self.tr("&Priority:"),
            "restrictions": self.tr("&Restrictions:"),
            "script": self.tr("&Script:"),
            "shotlist": self.tr("S&hotlist:"),
        }
        for name, text in texts.items():
            self.labels[name].setText(text)
            self.widgets[name].setAccessibleName(text.replace("&", "").rstrip(":"))
        self.recorded_known.setText(self.tr("Re&corded:"))
        self.recorded_known.setToolTip(self.tr("Tick when you know when the footage was shot"))
        self.recorded.setAccessibleName(self.tr("Recorded date"))
        self.thumbnail.setAccessibleName(self.tr("Thumbnail"))
        self.slug.setPlaceholderText(self.tr("e.g. KENYA-FLOODS"))
        self.dateline.setPlaceholderText(self.tr("e.g. NAIROBI, Kenya"))
        self.country.setPlaceholderText(self.tr("two letters, e.g. KE"))
        self.restrictions.setPlaceholderText(self.tr("e.g. No access Kenya"))
        for i in range(self.priority.count()):  # (the Feed's words, as every list says them)
            self.priority.setItemText(i, priority_name(str(self.priority.itemData(i))))
        for name in _COUNTED:  # the numbers in the language's digits
            self._count(name)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _count(self, name: str) -> None:
        """Show the length of a text near or over its limit (counted as the core checks it)."""
        label = self.counts[name]
        length = len(long_text(self.value(name)))
        if length <= LONG_LIMIT * _COUNT_FROM:
            label.hide()
            return
        #: under the script or shot list once it nears its limit: "18,500 of 20,000 characters"
        text = self.tr("{count} of {limit} characters")
        label.setText(
            text.format(count=formats.count_text(length), limit=formats.count_text(LONG_LIMIT))
        )
        colors.tint(label, colors.ERROR if length > LONG_LIMIT else None)
        label.show()

    # --- keyboard ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Tab and Shift+Tab leave the recording date at once: Qt's date-time edit spent one
        press on each of its five sections. The arrow keys move between them, and a section
        typed in full goes on to the next."""
        if (
            watched is self.recorded
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
            and not event.modifiers()
            & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        ):
            forward = event.key() == Qt.Key.Key_Tab and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            self.focusNextPrevChild(forward)
            return True
        return super().eventFilter(watched, event)

    # --- values -----------------------------------------------------------------------------

    def hub_now(self) -> QDateTime:
        return QDateTime.currentDateTime().addSecs(round(self.clock_offset))

    def set_clock_offset(self, offset: float) -> None:
        """The hub's clock minus this computer's: a Recorded field not ticked shows the hub's
        now (the workstation's filled it in a year ahead on a clock a year fast)."""
        self.clock_offset = offset
        if not self.recorded_known.isChecked():
            self.recorded.setDateTime(self.hub_now())

    def _recorded_toggled(self, on: bool) -> None:
        self.recorded.setEnabled(on)
        self._changed("recorded_at")

    def _changed(self, name: str) -> None:
        if not self._loading:
            self.clear_error(name)
            self.edited.emit(name)

    def value(self, name: str) -> str:
        widget = self.widgets[name]
        if name == "recorded_at":
            return iso_text(self.recorded.dateTime()) if self.recorded_known.isChecked() else ""
        if isinstance(widget, QComboBox):
            return str(widget.currentData() or "")
        if isinstance(widget, OwnDirectionEdit):
            return widget.toPlainText()
        assert isinstance(widget, QLineEdit)
        return widget.text()

    def values(self) -> dict[str, str]:
        return {name: self.value(name) for name in FIELDS}

    def load(self, entry: UploadEntry) -> None:
        """Show ``entry`` (its values, probe and thumbnail) without emitting ``edited``."""
        self._loading = True
        try:
            for name in FIELDS:
                self._set(name, entry.values.get(name, ""))
            self.show_media(entry)
            self.clear_errors()
        finally:
            self._loading = False

    def set_value(self, name: str, text: str) -> None:
        """Show ``text`` in one field (as the program, not the user: no ``edited``)."""
        self._loading = True
        try:
            self._set(name, text)
        finally:
            self._loading = False

    def _set(self, name: str, text: str) -> None:
        widget = self.widgets[name]
        if name == "recorded_at":
            when = local_datetime(text) if text else None
            self.recorded_known.setChecked(when is not None)
            self.recorded.setDateTime(when if when is not None else self.hub_now())
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(0, widget.findData(text)))
        elif isinstance(widget, OwnDirectionEdit):
            if widget.toPlainText() != text:
                widget.setPlainText(text)
        else:
            assert isinstance(widget, QLineEdit)
            widget.setText(text)

    def show_media(self, entry: UploadEntry) -> None:
        """The thumbnail and what the probe says (or that it is still looking)."""
        if entry.thumbnail is not None:
            self.thumbnail.setPixmap(
                QPixmap.fromImage(entry.thumbnail).scaled(
                    *_THUMB_SIZE,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.thumbnail.setPixmap(
                self.style()
                .standardIcon(QStyle.StandardPixmap.SP_FileIcon)
                .pixmap(QSize(48, 48), self.devicePixelRatioF())
            )
        self.info.setText(self.describe(entry))

    def describe(self, entry: UploadEntry) -> str:
        name = formats.isolated(entry.path.name)
        if not entry.inspected:
            return self.tr("{name} — reading the file…").format(name=name)
        p = entry.probe
        if p is None:
            return self.problem_text(entry)  # names the file
        parts = [name]
        if p.duration > 0:
            parts.append(
                self.tr("{duration} long").format(duration=formats.duration_text(p.duration))
            )
        if p.width and p.height:
            parts.append(formats.frame_size(p.width, p.height))
        if p.video_codec:
            parts.append(p.video_codec)
        if p.audio_codec is None:
            parts.append(self.tr("no sound"))
        return formats.joined(parts)

    def problem_text(self, entry: UploadEntry) -> str:
        """What the probe found wrong with the file, in the user's language (a sentence that
        names the file)."""
        return media_problem(entry.probe_error)

    # --- messages ---------------------------------------------------------------------------

    def message_for(self, error: FieldError) -> str:
        """The user's sentence for a field the core refused, in their language."""
        text = str(error)
        if error.length is not None and error.limit is not None:
            #: under a text over its limit; %Ln is its length: "This is too long: 20,001
            #: characters, at most 20,000."
            too_long = self.tr(
                "This is too long: %Ln characters, at most {limit}.", "", error.length
            )
            return too_long.format(limit=formats.count_text(error.limit))
        sizes = _TEXTS_TOO_LARGE.fullmatch(text)
        if sizes is not None:
            return self.tr(
                "The script, shot list and restrictions together are more than the hub takes "
                "({size} KiB of at most {limit} KiB once encoded; Arabic letters and emoji "
                "count for more than one): shorten this text."
            ).format(
                size=QLocale().toString(int(sizes["size"])),
                limit=QLocale().toString(int(sizes["limit"])),
            )
        if error.clock_offset is not None:
            return self._recorded_ahead(error.clock_offset)
        if text == MSG_RECORDED_AHEAD:
            return self.tr(
                "The recording date is in the future; check it (and the camera's clock)."
            )
        if text == MSG_RECORDED_TOO_EARLY:
            return self.tr("The recording date is before 1900.")
        known = {
            "title": self.tr("A title is needed."),
            "country": self.tr("The country is a two-letter code, like KE or SN."),
            "recorded_at": self.tr("The recording date is not a date."),
            "language": self.tr("The language must be English, French or Arabic."),
            "priority": self.tr("The priority must be flash, urgent or routine."),
        }
        return known.get(error.field, text)

    def _recorded_ahead(self, offset: float) -> str:
        """A recording date after the hub's today, this computer's clock being off from it."""
        hub_now = QDateTime.currentDateTime().addSecs(round(offset))
        if offset < 0:
            text = self.tr(
                "The recording date is in the future (the hub's clock says {hub_now}); this "
                "computer's clock is {how_long} ahead of the hub's: check the date, and set the "
                "clock right in the system's date and time settings."
            )
        else:
            text = self.tr(
                "The recording date is in the future (the hub's clock says {hub_now}); this "
                "computer's clock is {how_long} behind the hub's: check the date, and set the "
                "clock right in the system's date and time settings."
            )
        return text.format(
            hub_now=formats.isolated(QLocale().toString(hub_now, QLocale.FormatType.ShortFormat)),
            how_long=ClockWords().how_long(abs(offset)),
        )

    def show_error(self, name: str, message: str) -> None:
        label = self.errors.get(name)
        widget = self.widgets.get(name)
        if label is None or widget is None:
            return
        label.setText(message)
        label.show()
        widget.setAccessibleDescription(message)
        widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def clear_error(self, name: str) -> None:
        if name in self.errors:
            self.errors[name].hide()
            self.errors[name].clear()
            self.widgets[name].setAccessibleDescription("")

    def clear_errors(self) -> None:
        for name in self.errors:
            self.clear_error(name)

    def shown_error(self, name: str) -> str:
        """The message under a field ('' when none is shown)."""
        label = self.errors[name]
        return label.text() if not label.isHidden() else ""
