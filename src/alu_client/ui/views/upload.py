"""Uploading from the desktop: files or folders dropped on the window, a metadata form, the queue.

- ``collect_files(urls)``: the video files among dropped URLs (folders searched through);
  what is left out is said in plain words.
- ``DropTarget(widget)``: lets a widget take file drops (``dropped(list[QUrl])``);
  ``DropTarget.accepts(event)`` is the test for a window's own dragEnter/dragMove handlers.
- ``open_upload_for_urls(...)`` (after a drop: folders are searched off the GUI thread) and
  ``UploadDialog.open_for(services, tasks, files, parent)`` (files already known) open the form.
- ``UploadDialog``: a form per file (a list on the left when there are several; "Apply to all"
  copies the story's shared fields), prefilled from the file name, the member's country and
  the probe, with a thumbnail (probe and thumbnail on worker threads). Upload checks every
  file's fields first (the message goes under the field), hashes the files off the GUI thread
  ("Preparing…", cancelable), asks once about footage this workstation sent already (or is
  sending) and about the same bytes twice in the batch, and only then queues them all; the
  dialog then closes and the uploads show in Transfers (and, once the hub publishes them, in
  the Feed).
- What was typed is guarded: closing the form (Escape, Cancel, its close button, the app's
  Quit through ``close_for_quit``) asks before it goes, and a draft per file (core
  ``UploadDrafts``) brings it back after a crash. Enter in a one-line field moves to the
  next field; Ctrl+Enter sends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QDateTime,
    QEvent,
    QItemSelection,
    QLocale,
    QSignalBlocker,
    Qt,
    QTemporaryDir,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core.services import Services
from ...core.settings import AppSettings
from ...core.store.transfers import Transfer
from ...core.upload_drafts import UploadDrafts
from ...core.uploads import LANGUAGES as ITEM_LANGUAGES
from ...core.uploads import FieldError, UploadFields, title_from_filename
from .. import formats, plain_text
from ..a11y import say
from ..delegates_items import local_time
from ..os_text import os_error_text
from ..screen_fit import fit_to_screen
from ..tasks import TaskRunner
from . import copies_without_marks
from .upload_files import (
    VIDEO_EXTENSIONS,
    Canceled,
    DropTarget,
    Hashed,
    Inspection,
    StillCopying,
    Unreadable,
    collect_files,
    file_stamp,
    hash_all,
    inspect_file,
)
from .upload_form import FIELDS, SHARED_FIELDS, UploadEntry, UploadFilesModel, UploadForm

log = logging.getLogger(__name__)


def open_upload_for_urls(
    services: Services,
    tasks: TaskRunner,
    urls: Sequence[QUrl],
    parent: QWidget | None = None,
) -> None:
    """After a drop: search the folders off the GUI thread, then open the form for the video
    files found (or say that there were none)."""
    urls = list(urls)

    def found(result: tuple[list[Path], list[str]]) -> None:
        files, skipped = result
        if files:
            UploadDialog.open_for(services, tasks, files, parent, skipped=skipped)
            return
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(QCoreApplication.translate("Upload", "Upload"))
        box.setText(
            QCoreApplication.translate(
                "Upload", "There is no video file to upload in what was dropped."
            )
        )
        if skipped:
            # what was left out and why (a file that cannot be read is not "no video")
            shown = " ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
            box.setInformativeText(plain_text.shown_as_typed(shown))  # (file names)
        box.setDetailedText("\n".join(skipped))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def failed(error: BaseException) -> None:
        # never a drop that does nothing: whatever went wrong is said
        log.warning("searching what was dropped failed", exc_info=error)
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(QCoreApplication.translate("Upload", "Upload"))
        text = QCoreApplication.translate(
            "Upload", "What was dropped could not be read ({reason})."
        ).format(reason=os_error_text(error))
        box.setText(plain_text.shown_as_typed(text))  # (a path in the reason)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    tasks.run(lambda: collect_files(urls), found, failed)


# --- the dialog ------------------------------------------------------------------------------

# ``UploadEntry.error_field`` for a problem with the file itself (said under the form)
FILE_FIELD = "file"
# what was typed is kept as a draft this long after the last key (off the GUI thread)
DRAFT_DELAY_MS = 1000

# (entry, the cleaned fields, the file's sha256 and stamp) of a file about to be queued
_Job = tuple[UploadEntry, UploadFields, Hashed]


def _ignore(_error: BaseException) -> None:
    """A probe's outcome after the dialog closed: nobody to tell."""


def _logged(error: BaseException) -> None:
    """A draft that could not be written or read: the form goes on without it."""
    log.warning("upload draft: %s", error)


def app_language() -> str:
    """The item language the app speaks (en, fr or ar), English otherwise."""
    code = QLocale().name().split("_")[0].lower()
    return code if code in ITEM_LANGUAGES else "en"


class UploadDialog(QDialog):
    """The metadata form for ``files``; Upload queues them with ``services.upload``.

    Signals: ``uploads_queued(list[int])`` (transfer ids) just before the dialog closes;
    ``hash_progress(int, int)`` bytes prepared of all (emitted from a worker)."""

    uploads_queued = Signal(list)
    hash_progress = Signal(object, object)

    def __init__(
        self,
        services: Services,
        tasks: TaskRunner,
        files: Sequence[Path],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("upload-dialog")
        self.services = services
        # the app's runner; the dialog's own work (probes, thumbnails, hashing, queueing)
        # runs on ``workers``, whose outcomes are dropped if the dialog is closed meanwhile
        self.tasks = tasks
        self.workers = TaskRunner(self, max_threads=2)
        # the drafts' writes, in the order they were made (a save never lands after the drop
        # that followed it); they run to their end after the dialog closed
        self.draft_writer = TaskRunner(self, max_threads=1)
        profile = services.profile
        self.drafts = UploadDrafts(services.store, profile.name) if profile is not None else None
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DELAY_MS)
        self._draft_timer.timeout.connect(self._save_drafts)
        self._tmp = QTemporaryDir()
        self._cancel = threading.Event()
        # set when the dialog closes: the probes still queued are not run
        self._closed = threading.Event()
        self._busy = False
        self._queueing = False
        # the user said to discard what they typed: closing asks no more
        self._discarded = False
        # Upload was pressed before every file was read: pressed again once they are
        self._upload_pending = False
        self._current: UploadEntry | None = None
        # the file whose refusal the message line says (None: it says something else)
        self._said_for: UploadEntry | None = None
        # the file system's time of a file without a recording date: shown in the date
        # editor, not ticked (a copy's or an export's date is not when it was shot)
        self._guessed: dict[UploadEntry, dt.datetime] = {}
        # the files whose draft came back (said once they are all in)
        self._restored: list[UploadEntry] = []
        # the questions while they are open (Discard?, Send again?)
        self.discard_box: QMessageBox | None = None
        self.send_again_box: QMessageBox | None = None
        # new forms start in the language of the last upload, else the app's (read off the
        # GUI thread: the app's until then)
        self._language = app_language()
        country = ""
        if profile is not None:
            country = str(profile.member.get("country") or "")
        self.model = UploadFilesModel([], self)
        self.model.entries.extend(self._entry(Path(p), country) for p in files)

        self.files_view = QListView(self)
        self.files_view.setObjectName("upload-files")
        self.files_view.setModel(self.model)
        self.files_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.files_view.setUniformItemSizes(True)
        copies_without_marks(self.files_view)
        self.apply_all = QPushButton(self)
        self.apply_all.setObjectName("upload-apply-all")
        self.apply_all.clicked.connect(self.apply_to_all)
        self._side = side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.files_view, 1)
        side_layout.addWidget(self.apply_all)
        self.remove_button = QPushButton(self)
        self.remove_button.setObjectName("upload-remove")
        self.remove_button.clicked.connect(self.remove_current)
        side_layout.addWidget(self.remove_button)

        self.form = UploadForm(self)
        self.form.set_clock_offset(self._clock_offset())
        self.form.edited.connect(self._edited)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no Tab stop of its own, unnamed, unseen
        splitter = QSplitter(self)
        splitter.addWidget(side)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 520])
        side.setVisible(len(self.model.entries) > 1)

        self.message = QLabel(self)
        self.message.setObjectName("upload-message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("upload-progress")
        self.progress.hide()
        self.buttons = QDialogButtonBox(self)
        # No default button (no auto-default either: a dialog makes the first one its
        # default): Enter in a one-line field goes to the next field (it sent the upload,
        # half filled, at once); Enter on a button presses that button (``keyPressEvent``);
        # Ctrl+Enter sends from anywhere in the form.
        self.upload_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        self.upload_button.setObjectName("upload-button")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("upload-cancel")
        for button in (self.upload_button, self.cancel_button, self.apply_all, self.remove_button):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.buttons.accepted.connect(self.start_upload)
        self.buttons.rejected.connect(self.reject)
        self.send_keys: list[QShortcut] = []
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(self.upload_button.click)  # (nothing while it is off)
            self.send_keys.append(shortcut)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.buttons)
        layout.addLayout(row)

        self.hash_progress.connect(self._show_hash_progress, Qt.ConnectionType.QueuedConnection)
        self.files_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.drops = DropTarget(self)
        self.drops.dropped.connect(self.add_urls)
        self.retranslate()
        fit_to_screen(self, 860, 640)  # the form scrolls: the buttons stay on the screen
        if self.model.entries:
            self.select(self.model.entries[0])
        self._load_defaults()
        for entry in self.model.entries:
            self._inspect(entry)

    @classmethod
    def open_for(
        cls,
        services: Services,
        tasks: TaskRunner,
        files: Sequence[Path],
        parent: QWidget | None = None,
        *,
        skipped: Sequence[str] = (),
    ) -> UploadDialog:
        """Open the form for ``files`` (window-modal, deleted when closed); ``skipped`` are
        the sentences of ``collect_files`` about what was left out."""
        dialog = cls(services, tasks, files, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if skipped:
            dialog.show_skipped(skipped)
        dialog.open()
        return dialog

    def _entry(self, path: Path, country: str) -> UploadEntry:
        values = dict.fromkeys(FIELDS, "")
        values.update(
            title=title_from_filename(path),
            language=self._language,
            priority="routine",
            country=country,
        )
        return UploadEntry(path, values)

    def _settings(self) -> AppSettings:
        return AppSettings(self.services.store, self.services.paths.downloads_dir)

    def _load_defaults(self) -> None:
        """The language of the last upload (the settings, read on a worker) for the files
        whose language nobody chose yet."""
        settings = self._settings()

        def loaded(language: str) -> None:
            if not language:
                return
            self._language = language
            for entry in self.model.entries:
                if "language" not in entry.touched:
                    entry.values["language"] = language
            current = self._current
            if current is not None and "language" not in current.touched:
                self.form.set_value("language", language)

        self.workers.run(lambda: settings.upload_language, loaded, _logged)

    # --- texts ------------------------------------------------------------------------------

    def retranslate(self) -> None:
        count = len(self.model.entries)
        if count == 1:
            self.setWindowTitle(
                self.tr("Upload {name}").format(
                    name=formats.isolated(self.model.entries[0].path.name)
                )
            )
        else:
            self.setWindowTitle(self.tr("Upload %Ln files", "", count))
        self.files_view.setAccessibleName(self.tr("Files to upload"))
        self.apply_all.setText(self.tr("&Apply to all files"))
        tip = self.tr(
            "Copy the dateline, language, category, region, country, priority and restrictions to "
            "all files"
        )
        self.apply_all.setToolTip(tip)
        self.upload_button.setText(self.tr("&Upload"))
        self.upload_button.setToolTip(
            formats.with_keys(self.tr("Send to the hub"), QKeySequence("Ctrl+Return"))
        )
        self.remove_button.setText(self.tr("Remo&ve from the list"))
        self.progress.setAccessibleName(self.tr("Preparing the upload"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def show_skipped(self, skipped: Sequence[str]) -> None:
        head = self.tr("Left out:")
        self._say(" ".join([head, *skipped[:5]]) + (" …" if len(skipped) > 5 else ""))

    def _say(self, text: str) -> None:
        say(self.message, text)
        self._said_for = None

    # --- keys -------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        # the button box made Upload the default as it was shown (its first accepting button)
        self.upload_button.setDefault(False)
        super().showEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter that a field left unused (a one-line field, a list, a check box) moves to
        the next field of the form and sends nothing (an upload cannot be undone); on a
        button, it presses that button (Upload too). Escape cancels, as in any dialog."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            focus = self.focusWidget()
            if mods == Qt.KeyboardModifier.NoModifier and focus is not None:
                if isinstance(focus, QPushButton):
                    focus.click()  # (nothing while it is off)
                elif self.form.isAncestorOf(focus):
                    self.focusNextChild()
            event.accept()
            return
        super().keyPressEvent(event)

    # --- files ------------------------------------------------------------------------------

    def select(self, entry: UploadEntry) -> None:
        row = self.model.entries.index(entry)
        self.files_view.setCurrentIndex(self.model.index(row))

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, *_args: object) -> None:
        indexes = self.files_view.selectionModel().selectedIndexes()
        if not indexes:
            return
        entry = self.model.entries[indexes[0].row()]
        if entry is not self._current:
            self._current = entry
            if self._said_for is not None and self._said_for is not entry:
                # another file's refusal, read as this one's: it shows with that file again
                say(self.message, "")
                self._said_for = None
            self.form.load(entry)
            self._show_guess(entry)
            if entry.error:
                self._show_entry_error(entry)

    def _show_guess(self, entry: UploadEntry) -> None:
        """A file without a recording date: the date editor shows its file time, unticked
        (ticking it is then one click); the editor says no date is sent until then."""
        guess = self._guessed.get(entry)
        if guess is None or entry.values.get("recorded_at"):
            return
        shown = QDateTime.fromSecsSinceEpoch(int(guess.timestamp()))
        hub_now = self.form.hub_now()
        if shown > hub_now:  # written by this computer's clock, ahead of the hub's: its time
            shown = min(shown.addSecs(round(self.form.clock_offset)), hub_now)
        blocker = QSignalBlocker(self.form.recorded)  # (shown, not typed: no "edited")
        self.form.recorded.setDateTime(shown)
        del blocker

    @Slot(str)
    def _edited(self, name: str) -> None:
        entry = self._current
        if entry is None:
            return
        entry.values[name] = self.form.value(name)
        entry.touched.add(name)
        self._draft_timer.start()
        if entry.error and name == entry.error_field:
            entry.error = entry.error_field = ""
            self.model.entry_changed(entry)
        elif name == "title":
            self.model.entry_changed(entry)

    @Slot(list)
    def add_urls(self, urls: list[QUrl]) -> None:
        """More files dropped on the open dialog."""
        if self._busy:
            return

        def found(result: tuple[list[Path], list[str]]) -> None:
            files, skipped = result
            self.add_files(files)
            if skipped:
                self.show_skipped(skipped)

        def failed(error: BaseException) -> None:
            self._say(
                self.tr("What was dropped could not be read ({reason}).").format(
                    reason=os_error_text(error)
                )
            )

        self.workers.run(lambda: collect_files(urls), found, failed)

    def add_files(self, files: Sequence[Path]) -> None:
        known = {e.path for e in self.model.entries}
        for entry in self.model.entries:
            if entry.path in set(map(Path, files)) and entry.inspected and entry.probe is None:
                entry.inspected = False  # dropped again (fixed, or the copy finished)
                self._inspect(entry)
        country = self._current.values.get("country", "") if self._current else ""
        new = [self._entry(Path(p), country) for p in files if Path(p) not in known]
        if not new:
            return
        self.model.append(new)
        self._side.setVisible(len(self.model.entries) > 1)
        self.retranslate()
        if self._current is None:
            self.select(new[0])
        for entry in new:
            self._inspect(entry)

    def _inspect(self, entry: UploadEntry) -> None:
        dest = Path(self._tmp.path()) / f"{id(entry)}.jpg"
        closed = self._closed
        drafts = self.drafts
        path = entry.path

        def inspect() -> tuple[Inspection, dict[str, str] | None]:
            # the workers finish what is queued: once the dialog is closed, the files not
            # started yet are not read (at most the one at hand finishes)
            if closed.is_set():
                raise Canceled()
            found = inspect_file(path, dest)
            draft = None
            if drafts is not None and found.stamp is not None:
                try:
                    draft = drafts.load(path, found.stamp)
                except Exception as e:  # (the store busy or damaged: no draft, not no file)
                    _logged(e)
            return found, draft

        self.workers.run(inspect, lambda out: self._inspected(entry, *out), _ignore)

    def _inspected(
        self, entry: UploadEntry, found: Inspection, draft: dict[str, str] | None = None
    ) -> None:
        entry.inspected = True
        entry.stamp = found.stamp
        entry.probe, entry.probe_error, entry.thumbnail = found.probe, found.error, found.thumbnail
        if found.recorded is not None and "recorded_at" not in entry.touched:
            entry.values["recorded_at"] = found.recorded.astimezone().isoformat()
        elif found.file_time is not None:
            self._guessed[entry] = found.file_time
        if found.probe is None:
            # the hub would refuse it: marked in the list now (icon, tooltip), not at Upload
            entry.error, entry.error_field = self._refused_text(entry), FILE_FIELD
        elif entry.error_field == FILE_FIELD:
            entry.error = entry.error_field = ""
        restored = self._restore(entry, draft) if draft else []
        self.model.entry_changed(entry)
        if entry is self._current:
            # only what the file told: reloading every field would move the caret under
            # someone typing
            self.form.show_media(entry)
            for name in restored:
                self.form.set_value(name, entry.values[name])
            if "recorded_at" not in entry.touched:
                self.form.set_value("recorded_at", entry.values["recorded_at"])
            self._show_guess(entry)
        if restored:
            self._say_restored()
        if self._upload_pending and all(e.inspected for e in self.model.entries):
            self._upload_pending = False
            self.start_upload()

    def _refused_text(self, entry: UploadEntry) -> str:
        problem = self.form.problem_text(entry)  # names the file
        if len(self.model.entries) > 1:
            return self.tr("{problem} The hub would refuse it: remove it from the list.").format(
                problem=problem
            )
        return self.tr("{problem} The hub would refuse it.").format(problem=problem)

    # --- drafts -----------------------------------------------------------------------------

    def _restore(self, entry: UploadEntry, draft: dict[str, str]) -> list[str]:
        """The details typed for this very file before the app stopped without asking (a
        crash, a kill): back in the fields nobody has typed in since. Their names."""
        names = [n for n in FIELDS if n in draft and n not in entry.touched]
        for name in names:
            entry.values[name] = draft[name]
            entry.touched.add(name)
        if names and entry not in self._restored:
            self._restored.append(entry)
        return names

    def _say_restored(self) -> None:
        if len(self._restored) == 1:
            self._say(
                self.tr("The details you typed for {name} before ALU Desk closed are back.").format(
                    name=formats.isolated(self._restored[0].path.name)
                )
            )
        else:
            self._say(
                self.tr(
                    "The details you typed before ALU Desk closed are back for %Ln files.",
                    "",
                    len(self._restored),
                )
            )

    @Slot()
    def _save_drafts(self) -> None:
        """Keep what was typed (a crash or a kill loses at most the last second of it)."""
        drafts = self.drafts
        if drafts is None or self._discarded:
            return
        kept = [
            (e.path, e.stamp, {n: e.values.get(n, "") for n in e.touched})
            for e in self.model.entries
            if e.touched
        ]

        def save() -> None:
            stamped = [(path, stamp or file_stamp(path), values) for path, stamp, values in kept]
            drafts.save_all((p, st, v) for p, st, v in stamped if st is not None)

        self.draft_writer.run(save, None, _logged)

    def _drop_drafts(self, entries: Sequence[UploadEntry]) -> None:
        drafts = self.drafts
        paths = [e.path for e in entries]
        if drafts is not None and paths:
            self.draft_writer.run(lambda: drafts.drop(paths), None, _logged)

    @Slot()
    def remove_current(self) -> None:
        """Take the selected file off the list (one the hub would refuse, or sent by
        mistake); the next one is shown."""
        entry = self._current
        if entry is None or self._busy or len(self.model.entries) < 2:
            return
        row = self.model.entries.index(entry)
        self._current = None
        self.model.remove([entry])
        self._guessed.pop(entry, None)
        self._drop_drafts([entry])
        self._side.setVisible(len(self.model.entries) > 1)
        self.retranslate()
        self._say("")
        self.select(self.model.entries[min(row, len(self.model.entries) - 1)])

    @Slot()
    def apply_to_all(self) -> None:
        """Copy the current file's shared fields (the story's context) to every file."""
        source = self._current
        if source is None:
            return
        for entry in self.model.entries:
            if entry is not source:
                for name in SHARED_FIELDS:
                    entry.values[name] = source.values.get(name, "")
                    entry.touched.add(name)
        self._draft_timer.start()
        self._say(
            self.tr(
                "The shared fields now read the same for all %Ln files.",
                "",
                len(self.model.entries),
            )
        )

    # --- checking and sending ---------------------------------------------------------------

    def _clock_offset(self) -> float:
        """The hub's clock minus this computer's: dates are checked on the hub's."""
        return self.services.clock_offset() if self.services.profile is not None else 0.0

    def fields_for(self, entry: UploadEntry) -> UploadFields:
        return UploadFields.from_mapping({k: entry.values.get(k, "") for k in FIELDS})

    def _show_entry_error(self, entry: UploadEntry) -> None:
        self.form.clear_errors()
        if entry.error_field == FILE_FIELD:
            self._say(entry.error)
            self._said_for = entry
        else:
            self.form.show_error(entry.error_field, entry.error)

    def file_problem(self, entry: UploadEntry) -> str:
        """Why the hub would refuse the file itself ('' when the probe found a video): checked
        before anything is hashed or sent, so a 100 GB file that is no video is not read."""
        name = formats.isolated(entry.path.name)
        if not entry.inspected:
            return self.tr("{name} is still being read; try again in a moment.").format(name=name)
        if entry.probe is None:
            if file_stamp(entry.path) != entry.stamp:
                # a copy that was still being written when it was probed: read it again
                entry.inspected = False
                self._inspect(entry)
                return self.tr(
                    "{name} changed since it was read (is it still being copied?); it is "
                    "being read again."
                ).format(name=name)
            return self._refused_text(entry)
        return ""

    def _file_problems(self) -> bool:
        """Flag every file that cannot go as it is; False when there is none. Several the
        hub would refuse are named together (they were said one Upload at a time)."""
        problems = [(e, p) for e in self.model.entries if (p := self.file_problem(e))]
        if not problems:
            return False
        for entry, problem in problems:
            entry.error, entry.error_field = problem, FILE_FIELD
            self.model.entry_changed(entry)
        refused = [e for e, _p in problems if e.inspected and e.probe is None]
        waiting = [e for e, _p in problems if e not in refused]
        first = (waiting or refused)[0]
        self.select(first)
        self._show_entry_error(first)
        if not waiting and len(refused) > 1:
            names = QLocale().createSeparatedList([formats.isolated(e.path.name) for e in refused])
            self._say(
                self.tr(
                    "The hub would refuse %Ln files: {names}. Remove them from the list.",
                    "",
                    len(refused),
                ).format(names=names)
            )
        return True

    def check(self) -> list[tuple[UploadEntry, UploadFields]]:
        """Every file's fields, cleaned; on the first problem, that file is shown with the
        message under the field (or, for the file itself, under the form), and the list is
        empty."""
        if self._file_problems():
            return []
        out = []
        for entry in self.model.entries:
            try:
                out.append((entry, self.fields_for(entry).validated(self._clock_offset())))
            except FieldError as e:
                entry.error = self.form.message_for(e)
                entry.error_field = e.field
                self.model.entry_changed(entry)
                self.select(entry)
                self._show_entry_error(entry)
                if len(self.model.entries) > 1:
                    self._say(
                        self.tr("Check {name}: {problem}").format(
                            name=formats.isolated(entry.path.name), problem=entry.error
                        )
                    )
                return []
            entry.error = entry.error_field = ""
        return out

    @Slot()
    def start_upload(self) -> None:
        if self._busy or not self.model.entries:
            return
        if any(not e.inspected for e in self.model.entries):
            # Upload pressed while a file is still being read: it goes on by itself once the
            # probes are in (a file the probe refuses is then said)
            self._upload_pending = True
            self._say(self.tr("Reading the files first…"))
            return
        checked = self.check()
        if not checked:
            return
        self._set_busy(True)
        self._say(self.tr("Preparing…"))
        # each preparation its own: one stopped (Escape, then Keep editing) and a new one
        # started at once never both queue the files
        cancel = self._cancel = threading.Event()
        paths = [entry.path for entry, _ in checked]
        services = self.services

        def report(done: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the dialog is gone: nobody to tell
                self.hash_progress.emit(done, total)

        def prepare() -> tuple[list[Hashed], dict[str, list[Transfer]]]:
            hashed = hash_all(paths, cancel, report)
            # what this workstation sent already, or is sending, of the same bytes
            return hashed, services.uploads_of_content({h.sha256 for h in hashed})

        def prepared(out: tuple[list[Hashed], dict[str, list[Transfer]]]) -> None:
            if cancel is self._cancel and not cancel.is_set():
                self._prepared(checked, *out)

        def failed(error: BaseException) -> None:
            if cancel is self._cancel:
                self._failed(error)

        self.workers.run(prepare, prepared, failed)

    def _prepared(
        self,
        checked: list[tuple[UploadEntry, UploadFields]],
        hashed: list[Hashed],
        earlier: dict[str, list[Transfer]] | None = None,
    ) -> None:
        jobs = [
            (entry, fields, sums) for (entry, fields), sums in zip(checked, hashed, strict=True)
        ]
        repeated = self._repeated(jobs, earlier or {})
        if repeated:
            answer = self._ask_send_again(repeated)
            if self._closed.is_set() or self._cancel.is_set():
                return  # closed meanwhile (the tray's Quit): nothing goes
            if answer == "cancel":
                self._set_busy(False)
                self._say("")
                return
            if answer == "leave":
                left_out = {entry for entry, _line in repeated}
                jobs = [job for job in jobs if job[0] not in left_out]
                if not jobs:
                    self._set_busy(False)
                    if len(left_out) > 1:
                        self._say(self.tr("Nothing was sent: these files were sent already."))
                    else:
                        self._say(self.tr("Nothing was sent: this file was sent already."))
                    return
        self._queue(jobs)

    def _repeated(
        self, jobs: list[_Job], earlier: dict[str, list[Transfer]]
    ) -> list[tuple[UploadEntry, str]]:
        """The files whose bytes this workstation sent already (or is sending), and those
        with the same bytes as a file above them in the list; a sentence for each."""
        out: list[tuple[UploadEntry, str]] = []
        first_of: dict[str, UploadEntry] = {}
        for entry, _fields, sums in jobs:
            digest = sums.sha256.lower()
            name = formats.isolated(entry.path.name)
            sent = earlier.get(digest)
            if sent:
                t = sent[0]
                title = formats.isolated(t.label or Path(t.source).name)
                if t.state == "done":
                    when = dt.datetime.fromtimestamp(t.finished_at or t.created_at, dt.UTC)
                    line = self.tr(
                        "{name} was already sent from this workstation on {when} as “{title}”."
                    ).format(name=name, when=local_time(when), title=title)
                else:
                    line = self.tr(
                        "{name} is already being sent from this workstation as “{title}” "
                        "(see Transfers)."
                    ).format(name=name, title=title)
                out.append((entry, line))
            elif digest in first_of:
                line = self.tr("{name} holds the same footage as {other}, above it.").format(
                    name=name, other=formats.isolated(first_of[digest].path.name)
                )
                out.append((entry, line))
            first_of.setdefault(digest, entry)
        return out

    def _ask_send_again(self, repeated: list[tuple[UploadEntry, str]]) -> str:
        """'again', 'leave' or 'cancel' (back to the form, nothing lost)."""
        box = QMessageBox(self)
        box.setObjectName("upload-send-again")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Upload"))
        many = len(repeated) > 1
        if many:
            box.setText(
                self.tr(
                    "Send %Ln files again? Each would make another item in every feed.",
                    "",
                    len(repeated),
                )
            )
        else:
            box.setText(self.tr("Send this file again? It would make another item in every feed."))
        box.setInformativeText(
            plain_text.shown_as_typed("\n".join(line for _entry, line in repeated))
        )
        again = box.addButton(self.tr("&Send again"), QMessageBox.ButtonRole.AcceptRole)
        leave = box.addButton(
            self.tr("&Leave them out") if many else self.tr("&Leave it out"),
            QMessageBox.ButtonRole.DestructiveRole,
        )
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(leave)
        self.send_again_box = box
        box.exec()
        clicked = box.clickedButton()
        self.send_again_box = None
        box.deleteLater()
        if clicked is again:
            return "again"
        if clicked is leave:
            return "leave"
        return "cancel"

    def _queue(self, jobs: list[_Job]) -> None:
        self._say(self.tr("Adding to the queue…"))
        services = self.services

        def queue_all() -> tuple[
            list[tuple[UploadEntry, int]], list[tuple[UploadEntry, BaseException]]
        ]:
            done: list[tuple[UploadEntry, int]] = []
            failed: list[tuple[UploadEntry, BaseException]] = []
            for entry, fields, sums in jobs:
                try:
                    # the queue records the size it finds now: it must be the one hashed
                    if not sums.matches(entry.path):
                        raise StillCopying(entry.path)
                    tid = services.upload(entry.path, fields, sha256=sums.sha256)
                    done.append((entry, tid))
                except OSError as e:
                    failed.append((entry, Unreadable(entry.path, e)))
                except Exception as e:  # said to the user with the file's name
                    failed.append((entry, e))
            return done, failed

        self._queueing = True
        language = jobs[-1][1].language
        self.workers.run(queue_all, lambda out: self._queued(out, language), self._failed)

    def _queued(
        self,
        outcome: tuple[list[tuple[UploadEntry, int]], list[tuple[UploadEntry, BaseException]]],
        language: str = "",
    ) -> None:
        self._queueing = False
        done, failed = outcome
        ids = [tid for _entry, tid in done]
        if ids:
            self.uploads_queued.emit(ids)
            self._remember_language(language)
        if not failed:
            self._drop_drafts(self.model.entries)  # (the files left out too: their form goes)
            self._set_busy(False)
            self.accept()
            return
        self._drop_drafts([entry for entry, _tid in done])
        self.model.remove([entry for entry, _tid in done])
        self._set_busy(False)
        problems = "; ".join(self.problem_text(e, p) for e, p in failed)
        self._say(self.tr("Could not queue the upload — {problems}").format(problems=problems))

    def _remember_language(self, language: str) -> None:
        """The next form starts in the language of this upload."""
        if language in ITEM_LANGUAGES:
            settings = self._settings()

            def save() -> None:
                settings.upload_language = language

            self.draft_writer.run(save, None, _logged)

    def problem_text(self, entry: UploadEntry | None, error: BaseException) -> str:
        """A sentence for what went wrong with a file while preparing or queueing it: its name
        isolated, the system's reason in the user's language (not Python's text)."""
        if isinstance(error, Unreadable | StillCopying):
            name = formats.isolated(error.path.name)
            if isinstance(error, StillCopying):
                return self.tr(
                    "{name} changed while it was read: it is still being copied. Wait until "
                    "the copy has finished, then press Upload again."
                ).format(name=name)
            return self.tr("{name} can no longer be read ({reason}).").format(
                name=name, reason=os_error_text(error.error)
            )
        if isinstance(error, OSError):
            reason = os_error_text(error)
            if entry is not None:
                return self.tr("{name} can no longer be read ({reason}).").format(
                    name=formats.isolated(entry.path.name), reason=reason
                )
            return reason
        if entry is not None:
            return self.tr("{name}: {problem}").format(
                name=formats.isolated(entry.path.name), problem=error
            )
        return str(error)

    def _failed(self, error: BaseException) -> None:
        self._queueing = False
        self._set_busy(False)
        if isinstance(error, Canceled):
            return
        if isinstance(error, Unreadable | StillCopying):
            entry = next((e for e in self.model.entries if e.path == error.path), None)
            if entry is not None:
                entry.error, entry.error_field = self.problem_text(entry, error), FILE_FIELD
                self.model.entry_changed(entry)
                self.select(entry)
        self._say(
            self.tr("Could not prepare the upload: {error}").format(
                error=self.problem_text(None, error)
            )
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.upload_button.setEnabled(not busy)
        self.apply_all.setEnabled(not busy)
        self.remove_button.setEnabled(not busy)
        self.form.setEnabled(not busy)
        self.files_view.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat(self.tr("Preparing… %p%"))

    @Slot(object, object)
    def _show_hash_progress(self, done: int, total: int) -> None:
        if not self._busy or total <= 0:
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * done / total))

    @property
    def busy(self) -> bool:
        """Preparing or queueing (the form is locked)."""
        return self._busy

    # --- closing ----------------------------------------------------------------------------

    def typed(self) -> list[UploadEntry]:
        """The files whose details the user typed or changed (or got back from a draft)."""
        return [e for e in self.model.entries if e.touched]

    def may_discard(self) -> bool:
        """Whether what was typed may go: nothing was, or the user says to discard it
        ("Keep editing" is the default, and Escape's answer)."""
        typed = self.typed()
        if not typed or self._discarded:
            return True
        box = QMessageBox(self)
        box.setObjectName("upload-discard")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.windowTitle())
        if len(typed) == 1:
            text = self.tr("Discard the details you typed for {name}?").format(
                name=formats.isolated(typed[0].path.name)
            )
            box.setText(plain_text.shown_as_typed(text))
        else:
            box.setText(self.tr("Discard the details you typed for %Ln files?", "", len(typed)))
        discard = box.addButton(self.tr("&Discard"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("&Keep editing"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        self.discard_box = box
        box.exec()
        clicked = box.clickedButton()
        self.discard_box = None
        box.deleteLater()
        if clicked is not discard:
            return False
        self._discarded = True
        self._drop_drafts(self.model.entries)
        return True

    def reject(self) -> None:
        """Cancel, Escape, the window's close: asks first when details were typed. Stops the
        preparing; nothing is queued. Once the files are being added to the queue (a moment),
        they are on their way: the dialog waits for that."""
        if self._queueing:
            return
        if self._upload_pending:  # (Upload pressed while the files were read: not now)
            self._upload_pending = False
            self._say("")
        if self.typed() and not self._discarded:
            if self._busy:  # the form back first: "Keep editing" finds it as it was
                self._cancel.set()
                self._set_busy(False)
                self._say("")
            if not self.may_discard():
                return
        self._cancel.set()
        self._busy = False
        super().reject()

    def close_for_quit(self) -> bool:
        """The app is quitting (its Quit, the tray's): asks as Cancel does when details were
        typed. True when the form may go (it is closed then, its draft dropped), False to
        keep editing (the app stays)."""
        if self._queueing or self._closed.is_set():
            return True
        if self.typed() and not self._discarded:
            self.raise_()
            self.activateWindow()
        self.reject()
        if self.isVisible():
            return False
        self.draft_writer.wait_for_done(5_000)  # (the engine and the store stop next)
        return True

    def done(self, result: int) -> None:
        self._draft_timer.stop()
        self._cancel.set()
        self._closed.set()
        super().done(result)


__all__ = [
    "VIDEO_EXTENSIONS",
    "DropTarget",
    "UploadDialog",
    "collect_files",
    "open_upload_for_urls",
]
