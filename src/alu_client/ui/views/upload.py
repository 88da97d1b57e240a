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
  ("Preparing…", cancelable) and only then queues them all; the dialog then closes and the
  uploads show in Transfers (and, once the hub publishes them, in the Feed).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelection,
    Qt,
    QTemporaryDir,
    QUrl,
    Signal,
    Slot,
)
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
from ...core.uploads import FieldError, UploadFields, title_from_filename
from .. import formats
from ..a11y import say
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
            box.setInformativeText(" ".join(skipped[:5]) + (" …" if len(skipped) > 5 else ""))
        box.setDetailedText("\n".join(skipped))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def failed(error: BaseException) -> None:
        # never a drop that does nothing: whatever went wrong is said
        log.warning("searching what was dropped failed", exc_info=error)
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(QCoreApplication.translate("Upload", "Upload"))
        box.setText(
            QCoreApplication.translate(
                "Upload", "What was dropped could not be read ({reason})."
            ).format(reason=os_error_text(error))
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    tasks.run(lambda: collect_files(urls), found, failed)


# --- the dialog ------------------------------------------------------------------------------

# ``UploadEntry.error_field`` for a problem with the file itself (said under the form)
FILE_FIELD = "file"


def _ignore(_error: BaseException) -> None:
    """A probe's outcome after the dialog closed: nobody to tell."""


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
        self._tmp = QTemporaryDir()
        self._cancel = threading.Event()
        # set when the dialog closes: the probes still queued are not run
        self._closed = threading.Event()
        self._busy = False
        self._queueing = False
        # Upload was pressed before every file was read: pressed again once they are
        self._upload_pending = False
        self._current: UploadEntry | None = None
        country = ""
        if services.profile is not None:
            country = str(services.profile.member.get("country") or "")
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
        self.apply_all.setAutoDefault(False)
        self.apply_all.clicked.connect(self.apply_to_all)
        self._side = side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.files_view, 1)
        side_layout.addWidget(self.apply_all)
        self.remove_button = QPushButton(self)
        self.remove_button.setObjectName("upload-remove")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_current)
        side_layout.addWidget(self.remove_button)

        self.form = UploadForm(self)
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
        self.upload_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        self.upload_button.setObjectName("upload-button")
        self.upload_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("upload-cancel")
        self.cancel_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.start_upload)
        self.buttons.rejected.connect(self.reject)

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
            title=title_from_filename(path), language="en", priority="routine", country=country
        )
        return UploadEntry(path, values)

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
        tip = self.tr("Copy the dateline, language, place, priority and restrictions to all files")
        self.apply_all.setToolTip(tip)
        self.upload_button.setText(self.tr("&Upload"))
        self.remove_button.setText(self.tr("&Remove from the list"))
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
            self.form.load(entry)
            if entry.error:
                self._show_entry_error(entry)

    @Slot(str)
    def _edited(self, name: str) -> None:
        entry = self._current
        if entry is None:
            return
        entry.values[name] = self.form.value(name)
        entry.touched.add(name)
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

        def inspect() -> Inspection:
            # the workers finish what is queued: once the dialog is closed, the files not
            # started yet are not read (at most the one at hand finishes)
            if closed.is_set():
                raise Canceled()
            return inspect_file(entry.path, dest)

        self.workers.run(inspect, lambda found: self._inspected(entry, found), _ignore)

    def _inspected(self, entry: UploadEntry, found: Inspection) -> None:
        entry.inspected = True
        entry.stamp = found.stamp
        entry.probe, entry.probe_error, entry.thumbnail = found.probe, found.error, found.thumbnail
        if found.recorded is not None and "recorded_at" not in entry.touched:
            entry.values["recorded_at"] = found.recorded.astimezone().isoformat()
        self.model.entry_changed(entry)
        if entry is self._current:
            # only what the file told: reloading every field would move the caret under
            # someone typing
            self.form.show_media(entry)
            if "recorded_at" not in entry.touched:
                self.form.set_value("recorded_at", entry.values["recorded_at"])
        if self._upload_pending and all(e.inspected for e in self.model.entries):
            self._upload_pending = False
            self.start_upload()

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
        self._say(
            self.tr(
                "The shared fields now read the same for all %Ln files.",
                "",
                len(self.model.entries),
            )
        )

    # --- checking and sending ---------------------------------------------------------------

    def fields_for(self, entry: UploadEntry) -> UploadFields:
        return UploadFields.from_mapping({k: entry.values.get(k, "") for k in FIELDS})

    def _show_entry_error(self, entry: UploadEntry) -> None:
        self.form.clear_errors()
        if entry.error_field == FILE_FIELD:
            self._say(entry.error)
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
            problem = self.form.problem_text(entry)  # names the file
            if len(self.model.entries) > 1:
                return self.tr(
                    "{problem} The hub would refuse it: remove it from the list."
                ).format(problem=problem)
            return self.tr("{problem} The hub would refuse it.").format(problem=problem)
        return ""

    def check(self) -> list[tuple[UploadEntry, UploadFields]]:
        """Every file's fields, cleaned; on the first problem, that file is shown with the
        message under the field (or, for the file itself, under the form), and the list is
        empty."""
        out = []
        for entry in self.model.entries:
            problem = self.file_problem(entry)
            if problem:
                entry.error, entry.error_field = problem, FILE_FIELD
                self.model.entry_changed(entry)
                self.select(entry)
                self._show_entry_error(entry)
                return []
            try:
                out.append((entry, self.fields_for(entry).validated()))
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
        self._cancel.clear()
        cancel = self._cancel
        paths = [entry.path for entry, _ in checked]

        def report(done: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the dialog is gone: nobody to tell
                self.hash_progress.emit(done, total)

        self.workers.run(
            lambda: hash_all(paths, cancel, report),
            lambda digests: self._prepared(checked, digests),
            self._failed,
        )

    def _prepared(
        self, checked: list[tuple[UploadEntry, UploadFields]], hashed: list[Hashed]
    ) -> None:
        if self._cancel.is_set():
            return
        self._say(self.tr("Adding to the queue…"))
        jobs = [
            (entry, fields, sums) for (entry, fields), sums in zip(checked, hashed, strict=True)
        ]
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
        self.workers.run(queue_all, self._queued, self._failed)

    def _queued(
        self,
        outcome: tuple[list[tuple[UploadEntry, int]], list[tuple[UploadEntry, BaseException]]],
    ) -> None:
        self._queueing = False
        done, failed = outcome
        ids = [tid for _entry, tid in done]
        if ids:
            self.uploads_queued.emit(ids)
        if not failed:
            self._set_busy(False)
            self.accept()
            return
        self.model.remove([entry for entry, _tid in done])
        self._set_busy(False)
        problems = "; ".join(self.problem_text(e, p) for e, p in failed)
        self._say(self.tr("Could not queue the upload — {problems}").format(problems=problems))

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

    def reject(self) -> None:
        """Cancel (Escape): stops the preparing; nothing is queued. Once the files are being
        added to the queue (a moment), they are on their way: the dialog waits for that."""
        if self._queueing:
            return
        self._cancel.set()
        self._busy = False
        super().reject()

    def done(self, result: int) -> None:
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
