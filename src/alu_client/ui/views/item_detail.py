"""The detail pane of an item: who sent it (the agency, a member, or this member: "Sent by:
You (Kenya TV)"), what was said about it (slug, dateline, times, place, priority, restrictions,
script, shotlist, renditions and sizes) and, in the Library, what the local file holds (codec,
resolution, length, audio).

An item the agency withdrew opens with a banner that says so in words ("Withdrawn by the
agency — do not use"), when and why, and, when its files are on this workstation, a button that
deletes them (the panel asks first: ``delete_files_requested``); one it corrected says when and
what ("Corrected <date>: <note>").

Script and shotlist keep their own writing direction whatever the app's language, paragraph by
paragraph: an Arabic shotlist reads right to left in the English app, a French script left to
right in the Arabic one, and a French quote inside an Arabic script left to right, flush left
(each paragraph's first strong letter decides, as a word processor does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QEvent, QLocale, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.library import LibraryFile, LibraryItem

from .. import formats
from ..delegates_items import clip_length, language_name, local_time, priority_name, sent_by
from ..file_reasons import gone, reason_text
from ..widgets.label import SelectableLabel
from ..widgets.text_direction import OwnDirectionEdit, text_direction

_FIELDS = (
    "sender",
    "slug",
    "dateline",
    "published",
    "recorded",
    "language",
    "category",
    "region",
    "country",
    "priority",
    "restrictions",
    "renditions",
    "file",
)


def preferred_file(li: LibraryItem, first: str = "broadcast") -> LibraryFile | None:
    """The item's file on this workstation: rendition ``first`` if it is here, else another."""
    present = [f for f in li.files if f.present]
    present.sort(key=lambda f: f.rendition != first)
    return present[0] if present else None


# what the Library learnt of a present file beyond its record (``ItemDetail.notes``): the
# player could not open it; its bytes were then found to be the ones verified
UNPLAYABLE, INTACT = "unplayable", "intact"
# a file as recorded: its path and when it was verified (downloaded again: another key)
FileKey = tuple[Path, float]


def file_key(f: LibraryFile) -> FileKey:
    return f.path, f.verified_at


def _sentence(text: str) -> str:
    """``text`` ending with a full stop (a reason from elsewhere may have none)."""
    text = text.strip()
    ended = text.rstrip(")]”»\"'")[-1:] in (".", "!", "?", "؟", "。")
    return text if not text or ended else f"{text}."


def _when(value: dt.datetime | None) -> str:
    return local_time(value) if value is not None else ""


# the withdrawal banner and the correction note: their own colours, dark text on a light
# ground (7:1 and more on any palette), and words that say it (never the colour alone)
_WITHDRAWN_STYLE = (
    "QFrame#detail-withdrawn { background: #fdecea; border: 2px solid #b00020;"
    " border-radius: 4px; } QFrame#detail-withdrawn QLabel { color: #5f0010; }"
)
_CORRECTED_STYLE = (
    "QLabel#detail-corrected { background: #fff3cd; color: #5c3900; border: 1px solid #e0a800;"
    " border-radius: 3px; padding: 2px 4px; }"
)


class ItemDetail(QWidget):
    """``ItemDetail(parent=None, *, show_file=False, member="")``; ``set_item(LibraryItem |
    None)``. ``member`` is the profile's user name: its own uploads say "Sent by: You (…)".

    Signal: ``delete_files_requested(LibraryItem)``: the user asked to delete the files here
    of the withdrawn item shown (the panel asks first)."""

    delete_files_requested = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, *, show_file: bool = False, member: str = ""
    ) -> None:
        super().__init__(parent)
        self.show_file = show_file
        self.member = member
        self.item: LibraryItem | None = None
        # path → UNPLAYABLE or INTACT: what the Library learnt of a present file (it says so
        # instead of the probe's details, which were of the file as it was)
        self.notes: dict[FileKey, str] = {}
        self.title = QLabel(self)
        self.title.setObjectName("detail-title")
        # any member's texts reach every member: shown as typed, never read as markup (Qt takes
        # a label's text for rich text when it looks like HTML: "<b>…</b>", links)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        self.values: dict[str, SelectableLabel] = {}
        for key in _FIELDS:
            # each value laid out in the app's direction, beside its label: a selectable
            # label took the direction of its first letter, and in Arabic "027.mp4" or
            # "East Africa" sat at the far left, away from their labels (widgets/label.py)
            label, value = QLabel(self), SelectableLabel(self)
            value.setObjectName(f"detail-{key}")
            label.setBuddy(value)
            self.labels[key], self.values[key] = label, value
            self.form.addRow(label, value)
        self.restrictions = self.values["restrictions"]
        # restrictions can be a paragraph a reviewer must read right: laid out by its own
        # text's direction, every line of an Arabic one flush right in the English app too
        # (its last line sat at the left edge); the other values stay in the app's direction
        self.restrictions.own_direction = True
        self.restrictions.setStyleSheet(
            'QLabel[restricted="true"] { background: #fff3cd; color: #7a4b00;'
            " border: 1px solid #e0a800; border-radius: 3px; padding: 2px 4px; font-weight: bold; }"
        )
        self.script_label, self.script = QLabel(self), self._text_box("detail-script")
        self.shotlist_label, self.shotlist = QLabel(self), self._text_box("detail-shotlist")
        self.script_label.setBuddy(self.script)
        self.shotlist_label.setBuddy(self.shotlist)
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._build_banner()

        body = QWidget(self)
        inner = QVBoxLayout(body)
        inner.addWidget(self.placeholder)
        inner.addWidget(self.withdrawn)
        inner.addWidget(self.title)
        inner.addWidget(self.corrected)
        inner.addLayout(self.form)
        inner.addWidget(self.script_label)
        inner.addWidget(self.script, 2)
        inner.addWidget(self.shotlist_label)
        inner.addWidget(self.shotlist, 1)
        # a keyboard stop (its arrows and Page keys scroll what no key can reach: the labels),
        # so it has the pane's name for a screen reader
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setObjectName("detail-scroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        self._retranslate()
        self.set_item(None)

    def _build_banner(self) -> None:
        self.withdrawn = QFrame(self)
        self.withdrawn.setObjectName("detail-withdrawn")
        self.withdrawn.setStyleSheet(_WITHDRAWN_STYLE)
        self.withdrawn_title = QLabel(self.withdrawn)
        self.withdrawn_title.setObjectName("detail-withdrawn-title")
        font = QFont(self.withdrawn_title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.withdrawn_title.setFont(font)
        self.withdrawn_title.setWordWrap(True)
        self.withdrawn_reason = SelectableLabel(self.withdrawn)
        self.withdrawn_reason.setObjectName("detail-withdrawn-reason")
        self.delete_files = QPushButton(self.withdrawn)
        self.delete_files.setObjectName("detail-delete-withdrawn")
        self.delete_files.clicked.connect(self._delete_asked)
        box = QVBoxLayout(self.withdrawn)
        box.addWidget(self.withdrawn_title)
        box.addWidget(self.withdrawn_reason)
        box.addWidget(self.delete_files, 0, Qt.AlignmentFlag.AlignLeading)
        self.corrected = SelectableLabel(self)
        self.corrected.setObjectName("detail-corrected")
        self.corrected.setStyleSheet(_CORRECTED_STYLE)

    def _delete_asked(self) -> None:
        if self.item is not None:
            self.delete_files_requested.emit(self.item)

    def _show_changes(self, li: LibraryItem | None) -> None:
        """The withdrawal banner and the correction note of ``li`` (hidden when it has
        none)."""
        it = li.item if li is not None else None
        withdrawn = it is not None and it.withdrawn_at is not None
        self.withdrawn.setVisible(withdrawn)
        if it is not None and it.withdrawn_at is not None:
            heading = self.tr("Withdrawn by the agency — do not use")
            why = self.tr("Withdrawn {date}: {reason}").format(
                date=local_time(it.withdrawn_at), reason=formats.isolated(it.withdrawn_reason)
            )
            self.withdrawn_title.setText(heading)
            self.withdrawn_reason.setText(why)
            self.withdrawn.setAccessibleName(heading)
            self.withdrawn.setAccessibleDescription(why)
            self.delete_files.setVisible(li is not None and li.downloaded)
        corrected = it is not None and it.corrected_at is not None
        self.corrected.setVisible(corrected)
        if it is not None and it.corrected_at is not None:
            self.corrected.setText(
                self.tr("Corrected {date}: {note}").format(
                    date=local_time(it.corrected_at), note=formats.isolated(it.correction_note)
                )
            )

    def _text_box(self, name: str) -> OwnDirectionEdit:
        box = OwnDirectionEdit(self)
        box.setObjectName(name)
        box.setReadOnly(True)
        box.setMinimumHeight(80)
        return box

    def set_item(self, li: LibraryItem | None) -> None:
        self.item = li
        shown = li is not None
        self.placeholder.setVisible(not shown)
        for w in (self.title, self.script_label, self.script, self.shotlist_label, self.shotlist):
            w.setVisible(shown)
        for key in _FIELDS:
            self.labels[key].setVisible(shown)
            self.values[key].setVisible(shown)
        self._show_changes(li)
        if li is None:
            return
        it = li.item
        self.title.setText(it.title)
        v = self.values
        v["sender"].setText(sent_by(it, self.member))
        # the agency's own words in isolates: each keeps its order in the other direction's
        # paragraph ("SUDAN-AID (UPDATE)" in Arabic)
        v["slug"].setText(formats.isolated(it.slug))
        v["dateline"].setText(formats.isolated(it.dateline))
        v["published"].setText(_when(it.published_at))
        v["recorded"].setText(_when(it.recorded_at))
        v["language"].setText(language_name(it.language) if it.language else "")
        v["category"].setText(formats.isolated(it.category))
        v["region"].setText(formats.isolated(it.region))
        v["country"].setText(formats.isolated(formats.country_name(it.country)))
        v["priority"].setText(priority_name(it.priority))
        restricted = bool(it.restrictions.strip())
        self.restrictions.setText(
            formats.isolated(it.restrictions) if restricted else self.tr("None")
        )
        self.restrictions.setProperty("restricted", restricted)
        self.restrictions.style().unpolish(self.restrictions)
        self.restrictions.style().polish(self.restrictions)
        v["renditions"].setText(self._renditions(li))
        file_text = self._file(li) if self.show_file else ""
        v["file"].setText(file_text)
        self.labels["file"].setVisible(bool(file_text))
        v["file"].setVisible(bool(file_text))
        for key in ("recorded", "category", "region", "country"):
            self.labels[key].setVisible(bool(v[key].text()))
            v[key].setVisible(bool(v[key].text()))
        self._set_text(self.script, it.script)
        self._set_text(self.shotlist, it.shotlist)

    @staticmethod
    def _set_text(box: OwnDirectionEdit, text: str) -> None:
        """``text`` with each paragraph in its own direction and flush with its start: an
        Arabic one at the right edge, in the Arabic app as in the English one."""
        box.setPlainText(text)

    def _renditions(self, li: LibraryItem) -> str:
        names = {"broadcast": self.tr("Broadcast"), "proxy": self.tr("Proxy")}
        lines = []
        for r in li.item.renditions:
            parts = [formats.size_text(r.size)]
            if r.width and r.height:
                parts.append(formats.frame_size(r.width, r.height))
            f = li.file(r.name)
            if f is not None and f.present:
                parts.append(self.tr("on this workstation"))
            elif f is not None and f.state == "missing" and gone(f.reason):
                parts.append(self.tr("file missing"))
            elif f is not None and f.state == "missing":
                #: a file still on the disk, but not the one downloaded and verified
                parts.append(self.tr("file changed"))
            #: a rendition and what is known of it: "Broadcast: 160 kB, 640×360"
            line = self.tr("{rendition}: {details}")
            #: between the details of a rendition: "160 kB, 640×360, on this workstation"
            details = self.tr(", ").join(parts)
            lines.append(line.format(rendition=names.get(r.name, r.name), details=details))
        return "\n".join(lines) or self.tr("None")

    def _missing(self, li: LibraryItem) -> list[str]:
        """Why each of the item's files recorded missing is not usable, in the user's words:
        "001.mp4 — file changed: its size changed from … since it was verified"."""
        lines = []
        for f in li.files:
            if f.state != "missing":
                continue
            what = self.tr("file missing") if gone(f.reason) else self.tr("file changed")
            #: a file the library records missing, and why: "001.mp4 — file changed: its
            #: size changed from 147,653 to 73,826 bytes since it was verified"
            line = self.tr("{name} — {what}: {reason}") if f.reason else self.tr("{name} — {what}")
            lines.append(
                line.format(
                    name=formats.isolated(f.path.name), what=what, reason=reason_text(f.reason)
                )
            )
        return lines

    def _file(self, li: LibraryItem) -> str:
        """What the local file holds (the broadcast one first), from the media worker's probe;
        why the item's files recorded missing are not usable."""
        missing = self._missing(li)
        f = preferred_file(li)
        if f is None:
            return "\n".join(missing)
        text = self._present(f)
        return "\n".join([*missing, text]) if missing else text

    def _present(self, f: LibraryFile) -> str:
        name = formats.isolated(f.path.name)
        note = self.notes.get(file_key(f))
        if note == UNPLAYABLE:
            return self.tr(
                "{name} seems damaged: it could not be played. Download again (Ctrl+D) checks "
                "it and, if it is damaged, replaces it with a verified copy."
            ).format(name=name)
        if note == INTACT:
            return self.tr(
                "{name} is the file that was downloaded and verified (its checksum matches), "
                "but it cannot be played here: Open file opens it with this workstation's own "
                "player."
            ).format(name=name)
        p = f.probe
        if not p and f.probe_error:  # the media worker's reason (it is not tried again)
            return self.tr(
                "{name} could not be examined: {reason} It may be damaged: Download again "
                "(Ctrl+D) checks it and, if it is, replaces it with a verified copy."
            ).format(name=name, reason=formats.isolated(_sentence(f.probe_error)))
        if not p:
            return self.tr("{name} — not examined yet").format(name=formats.isolated(f.path.name))
        video: list[str] = []
        if p.get("video_codec"):
            video.append(str(p["video_codec"]))
        if p.get("width") and p.get("height"):
            video.append(formats.frame_size(int(p["width"]), int(p["height"])))
        if p.get("fps"):
            video.append(
                self.tr("{fps} fps").format(fps=QLocale().toString(float(p["fps"]), "g", 4))
            )
        sound: list[str] = []
        if p.get("audio_codec"):
            sound.append(str(p["audio_codec"]))
            channels = int(p.get("channels") or 0)
            if channels > 0:  # a count: Arabic says قناتان for two, French "1 canal"
                #: the audio channels of a file: "1 channel", "2 channels"
                sound.append(self.tr("%Ln channels", "", channels))
            rate = int(p.get("sample_rate") or 0)
            if rate > 0:
                #: an audio sampling rate: "48,000 Hz"
                sound.append(self.tr("{rate} Hz").format(rate=QLocale().toString(rate)))
        lines = [
            formats.isolated(f.path.name),
            self.tr("Video: {video}").format(video=self._parts(video) or self.tr("none")),
            self.tr("Audio: {audio}").format(audio=self._parts(sound) or self.tr("none")),
            self.tr("Length: {length}").format(length=clip_length(p.get("duration"))),
            self.tr("Size: {size}").format(size=formats.size_text(f.size)),
        ]
        return "\n".join(lines)

    def _parts(self, parts: list[str]) -> str:
        """A file's details ("h264", "320×180", "25 fps") joined by the language's separator,
        each in an isolate: in Arabic, "h264 320×180 25 إطار/ث" read as one left-to-right run
        "h264 320×180 25" (Latin digits after a Latin codec are left to right), the 25 beside
        "الفيديو:" and its unit at the far end beside h264. Isolated, each part keeps its
        own order and the parts follow the sentence's: "h264، 320×180، 25 إطار/ث"."""
        # the same separator as a rendition's details ("160 kB, 640×360") and lists
        between = self.tr(", ")
        return between.join(x if x.startswith(formats.LRI) else formats.isolated(x) for x in parts)

    def _retranslate(self) -> None:
        names = {
            #: who sent the item: "Sent by: The agency", "Sent by: You (Kenya TV)"
            "sender": self.tr("Sent by:"),
            "slug": self.tr("Slug:"),
            "dateline": self.tr("Dateline:"),
            "published": self.tr("Published:"),
            "recorded": self.tr("Recorded:"),
            "language": self.tr("Language:"),
            "category": self.tr("Category:"),
            "region": self.tr("Region:"),
            "country": self.tr("Country:"),
            "priority": self.tr("Priority:"),
            "restrictions": self.tr("Restrictions:"),
            "renditions": self.tr("Renditions:"),
            "file": self.tr("Local file:"),
        }
        for key, text in names.items():
            self.labels[key].setText(text)
        self.script_label.setText(self.tr("Script"))
        self.shotlist_label.setText(self.tr("Shotlist"))
        self.script.setAccessibleName(self.tr("Script"))
        self.shotlist.setAccessibleName(self.tr("Shotlist"))
        self.placeholder.setText(self.tr("Select an item to see its details."))
        self.delete_files.setText(self.tr("Delete its files on this workstation…"))
        self.delete_files.setToolTip(
            self.tr("Deletes the files of this withdrawn item from this workstation (asked first).")
        )
        self.setAccessibleName(self.tr("Item details"))
        self.scroll_area.setAccessibleName(self.accessibleName())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
            self.set_item(self.item)
        super().changeEvent(event)


__all__ = ["ItemDetail", "preferred_file", "text_direction"]
