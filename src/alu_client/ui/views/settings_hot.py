"""Settings › Hot folders: the folders watched for files to upload, what each sent and could not
send, and (a folder shared by several workstations) which of its files another workstation is
sending. Folders added, removed or switched on and off are written when the user presses OK;
Retry on a file that could not be sent acts at once (the dialog's ``retry_requested``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.uploads import FieldError, UploadFields

from ..delegates_items import priority_name
from ..models import OBJECT_ROLE
from . import new_table, select_row
from .settings_apply import FolderRow, Loaded, Values
from .settings_fields import ErrorLabel, PathField, focus_first_error
from .settings_models import (
    COL_FILE,
    COL_FOLDER,
    COL_MESSAGE,
    COL_WHEN,
    HotFoldersModel,
    SentElsewhereModel,
    WatchErrorsModel,
    folder_problem_text,
)


class HotFolderDialog(QDialog):
    """A new hot folder: where, and the defaults its files get (a sidecar may say otherwise)."""

    def __init__(self, taken: set[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hot-folder-dialog")
        self.setWindowTitle(self.tr("New hot folder"))
        self.taken = taken
        self.result_folder: FolderRow | None = None
        self.folder = PathField(self)
        self.folder.edit.setObjectName("hot-folder-path")
        self.folder.edit.setAccessibleName(self.tr("Folder to watch"))
        self.folder.browse.setAccessibleName(self.tr("Choose the folder to watch"))
        self.language = QComboBox(self)
        self.language.setObjectName("hot-folder-language")
        self.language.setAccessibleName(self.tr("Default language"))
        for code, text in (
            ("", self.tr("Not set (English)")),
            ("en", self.tr("English")),
            ("fr", self.tr("French")),
            ("ar", self.tr("Arabic")),
        ):
            self.language.addItem(text, code)
        self.category = QLineEdit(self)
        self.category.setObjectName("hot-folder-category")
        self.category.setAccessibleName(self.tr("Default category"))
        self.country = QLineEdit(self)
        self.country.setObjectName("hot-folder-country")
        self.country.setAccessibleName(self.tr("Default country (two letters)"))
        self.country.setPlaceholderText(self.tr("e.g. KE"))
        self.priority = QComboBox(self)
        self.priority.setObjectName("hot-folder-priority")
        self.priority.setAccessibleName(self.tr("Default priority"))
        for code, text in (
            ("", self.tr("Not set (routine)")),
            *((code, priority_name(code)) for code in ("routine", "urgent", "flash")),
        ):
            self.priority.addItem(text, code)
        self.error = ErrorLabel(self)
        self.error.setObjectName("hot-folder-error")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(self.tr("&Folder:"), self.folder)
        form.addRow(QLabel(self.tr("Defaults for its files (a sidecar .json may say otherwise):")))
        form.addRow(self.tr("&Language:"), self.language)
        form.addRow(self.tr("&Category:"), self.category)
        form.addRow(self.tr("C&ountry:"), self.country)
        form.addRow(self.tr("&Priority:"), self.priority)
        form.addRow(self.error)
        form.addRow(self.buttons)

    @Slot()
    def _accept(self) -> None:
        text = self.folder.text()
        if not text:
            self.folder.error.show_message(self.tr("Choose the folder to watch."))
            focus_first_error(self)
            return
        path = Path(text).expanduser()
        if path in self.taken:
            self.folder.error.show_message(self.tr("This folder is already a hot folder."))
            focus_first_error(self)
            return
        defaults = {
            "language": str(self.language.currentData()),
            "category": self.category.text().strip(),
            "country": self.country.text().strip().upper(),
            "priority": str(self.priority.currentData()),
        }
        defaults = {k: v for k, v in defaults.items() if v}
        try:
            UploadFields.from_mapping({**defaults, "title": "x"}).validated()
        except FieldError as e:
            messages = {
                "country": self.tr("The country is a two-letter code, like KE or SN."),
                "category": self.tr("The category is too long."),
            }
            fields = {"country": self.country, "category": self.category}
            self.error.set_field(fields.get(e.field))
            self.error.show_message(messages.get(e.field, str(e)))
            focus_first_error(self)
            return
        self.result_folder = FolderRow(id=0, path=path, enabled=True, defaults=defaults)
        self.accept()


class HotFoldersPage(QWidget):
    """Signals: ``retry_requested(WatchFile)``: a file to take again."""

    retry_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HotFoldersModel(self)
        self.view = new_table(self)
        self.view.setObjectName("settings-hot-folders")
        self.view.setModel(self.model)
        self.errors_model = WatchErrorsModel(self)
        self.errors_view = new_table(self)
        self.errors_view.setObjectName("settings-hot-errors")
        self.errors_view.setModel(self.errors_model)
        # the selected folder's files another workstation is sending (shown when it has any)
        self.elsewhere_model = SentElsewhereModel(self)
        self.elsewhere_view = new_table(self)
        self.elsewhere_view.setObjectName("settings-hot-elsewhere")
        self.elsewhere_view.setModel(self.elsewhere_model)
        for v, stretch in (
            (self.view, COL_FOLDER),
            (self.errors_view, COL_MESSAGE),
            (self.elsewhere_view, COL_MESSAGE),
        ):
            v.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            v.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            v.verticalHeader().hide()
            v.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        for v in (self.errors_view, self.elsewhere_view):
            # a date and time on one line (in a column of the default width, it wrapped onto
            # two lines squeezed into one row); a long sentence ends in "…" (its tooltip
            # says it all), not cut at the top and bottom of two lines in one row
            v.horizontalHeader().setSectionResizeMode(
                COL_WHEN, QHeaderView.ResizeMode.ResizeToContents
            )
            v.setWordWrap(False)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        # why the selected folder (none selected: any folder) cannot be watched now
        self.problem = ErrorLabel(self, self.view)
        self.problem.setObjectName("hot-folder-problem")
        self.errors_label = QLabel(self)
        self.errors_label.setBuddy(self.errors_view)
        self.elsewhere_label = QLabel(self)
        self.elsewhere_label.setBuddy(self.elsewhere_view)
        self.elsewhere_label.hide()  # (until a folder with such files is selected)
        self.elsewhere_view.hide()
        self.message = ErrorLabel(self)
        self.message.setObjectName("hot-folders-message")
        self.add_button = QPushButton(self)
        self.add_button.setObjectName("hot-folder-add")
        self.remove_button = QPushButton(self)
        self.remove_button.setObjectName("hot-folder-remove")
        self.retry_button = QPushButton(self)
        self.retry_button.setObjectName("hot-folder-retry")
        self.add_button.clicked.connect(self.add_folder)
        self.remove_button.clicked.connect(self.remove_folder)
        self.retry_button.clicked.connect(self.retry_file)
        self.dialog: HotFolderDialog | None = None
        self._next_new = -1
        self.has_profile = False
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        retry_row = QHBoxLayout()
        retry_row.addWidget(self.errors_label, 1)
        retry_row.addWidget(self.retry_button)
        # The folders' table takes the room the two lists of files leave: each of those is no
        # taller than its rows (an empty one, a line), and they come first. (Sharing the room
        # evenly, an empty list of files not sent took as much as the files another
        # workstation sends, which then showed three rows.)
        self.view.setMinimumHeight(_rows_height(self.view, 2))
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        layout.addLayout(retry_row)
        layout.addWidget(self.errors_view, 3)
        layout.addWidget(self.elsewhere_label)
        layout.addWidget(self.elsewhere_view, 3)
        layout.addWidget(self.message)
        self.view.selectionModel().selectionChanged.connect(self._folder_selected)
        self.errors_view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._folder_selected)
        self.retranslate()

    def retranslate(self) -> None:
        if self.has_profile:
            self.note.setText(
                self.tr(
                    "A file put in a hot folder is uploaded once it is complete, then moved "
                    "to its “sent” folder."
                )
            )
        else:
            self.note.setText(self.tr("Sign in to a hub to watch folders for uploads."))
        self.view.setAccessibleName(self.tr("Hot folders"))
        self.errors_view.setAccessibleName(self.tr("Files not sent"))
        self.errors_label.setText(self.tr("Files of this folder that were &not sent:"))
        self.elsewhere_view.setAccessibleName(self.tr("Files sent by another workstation"))
        self.elsewhere_label.setText(
            self.tr("Files of this folder another &workstation is sending (nothing to do):")
        )
        self.add_button.setText(self.tr("&Add folder…"))
        self.remove_button.setText(self.tr("&Remove"))
        self.retry_button.setText(self.tr("Re&try"))
        self.retry_button.setToolTip(self.tr("Take this file again at the next scan (at once)"))
        self._show_problem()
        self._update_buttons()

    def load(self, loaded: Loaded) -> None:
        self.has_profile = loaded.profile is not None
        self.model.set_items(loaded.values.folders)
        self.add_button.setEnabled(self.has_profile)
        self.retranslate()

    def collect(self, v: Values) -> bool:
        v.folders = self.model.items()
        return True

    def show_error(self, message: str) -> None:
        self.message.show_message(message)

    def update_folder(self, row: FolderRow) -> None:
        """New counts and errors of a folder (after a retry)."""
        for i, f in enumerate(self.model.items()):
            if f.id == row.id:
                row.enabled = f.enabled  # the user's unsaved choice stays
                self.model.replace(i, row)
        self._folder_selected()

    # --- commands ---------------------------------------------------------------------------

    def selected_folder(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _folder_selected(self) -> None:
        folder = self.model.item_at(self.selected_folder())
        self.errors_model.set_items(folder.errors if folder else [])
        elsewhere = folder.elsewhere if folder else []
        self.elsewhere_model.set_items(elsewhere)
        # (most folders are no shared folder: no empty list for them)
        self.elsewhere_label.setVisible(bool(elsewhere))
        self.elsewhere_view.setVisible(bool(elsewhere))
        for view in (self.errors_view, self.elsewhere_view):
            _fit_file_column(view)
            view.setMaximumHeight(_rows_height(view, view.model().rowCount()))
        self._show_problem()
        self._update_buttons()

    def _show_problem(self) -> None:
        folder = self.model.item_at(self.selected_folder())
        shown = [folder] if folder else self.model.items()
        self.problem.show_message(
            "\n".join(folder_problem_text(f.problem) for f in shown if f.problem)
        )

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_folder() >= 0)
        self.retry_button.setEnabled(bool(self.errors_view.selectionModel().selectedRows()))

    @Slot()
    def add_folder(self) -> None:
        dialog = HotFolderDialog({f.path for f in self.model.items()}, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)

        def done(result: int) -> None:
            self.dialog = None
            dialog.deleteLater()
            new = dialog.result_folder
            if result != QDialog.DialogCode.Accepted or new is None:
                return
            new.id = self._next_new
            self._next_new -= 1
            self.message.clear_message()
            select_row(self.view, self.model.append(new))

        dialog.finished.connect(done)
        self.dialog = dialog
        dialog.open()

    @Slot()
    def remove_folder(self) -> None:
        row = self.selected_folder()
        if row >= 0:
            self.model.remove(row)
            self._folder_selected()

    @Slot()
    def retry_file(self) -> None:
        rows = self.errors_view.selectionModel().selectedRows()
        if rows:
            file = rows[0].data(OBJECT_ROLE)
            self.retry_button.setEnabled(False)
            self.retry_requested.emit(file)

    def index_of_file(self, file_id: int) -> QModelIndex:
        for r, f in enumerate(self.errors_model.items()):
            if f.id == file_id:
                return self.errors_model.index(r, 0)
        return QModelIndex()


def _rows_height(view: QTableView, rows: int) -> int:
    """The height of ``view`` showing ``rows`` rows (at least one: an empty table shows a
    blank line) under its header: a table of a few rows no taller than them, the room left
    to the others."""
    frame = 2 * view.frameWidth()
    header = view.horizontalHeader().sizeHint().height()
    return frame + header + max(1, rows) * view.verticalHeader().defaultSectionSize()


def _fit_file_column(view: QTableView) -> None:
    """The File column as wide as its names, up to a third of the table (the sentence
    beside it names the file too; its tooltip the whole name): an Arabic clip's name was cut
    in a column of the default width."""
    if view.model().rowCount() == 0:
        return
    widest = view.sizeHintForColumn(COL_FILE)
    cap = max(view.horizontalHeader().defaultSectionSize(), view.viewport().width() // 3)
    view.setColumnWidth(COL_FILE, min(widest, cap))
