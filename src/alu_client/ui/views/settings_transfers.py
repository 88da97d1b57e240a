"""Settings › Transfers: download folder, how many at once, bandwidth limits and the weekly
schedule of limits (a table of periods, each edited in a small form)."""

from __future__ import annotations

import datetime
from pathlib import Path

from PySide6.QtCore import QLocale, Qt, QTime, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.transfers.schedule import ScheduleRule

from ..formats import isolated
from ..os_text import os_text
from . import new_table, select_row
from .settings_apply import Loaded, Values
from .settings_fields import (
    ErrorLabel,
    PathField,
    RateField,
    focus_first_error,
    grow_to_show,
    rate_error,
    rate_text,
)
from .settings_models import COL_DAYS, ScheduleModel, week_days


class ScheduleRuleDialog(QDialog):
    """One period of the schedule: days, from, to, and the two limits."""

    def __init__(self, rule: ScheduleRule | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("schedule-rule-dialog")
        self.setWindowTitle(self.tr("Bandwidth period"))
        self.result_rule: ScheduleRule | None = None
        locale = QLocale()
        # a new period covers the locale's working days (Sunday to Thursday in Egypt)
        working = {day.value - 1 for day in locale.weekdays()}
        boxes: dict[int, QCheckBox] = {}
        day_row = QHBoxLayout()
        # from the locale's first day (Saturday in Egypt), made in that order for the Tab key
        for d in week_days(locale):
            box = QCheckBox(locale.dayName(d + 1, QLocale.FormatType.ShortFormat), self)
            box.setObjectName(f"schedule-day-{d}")
            box.setAccessibleName(locale.dayName(d + 1, QLocale.FormatType.LongFormat))
            box.setChecked(d in (working if rule is None else rule.days))
            day_row.addWidget(box)
            boxes[d] = box
        # self.days[d] is day d (0 = Monday), wherever the week starts
        self.days = [boxes[d] for d in range(7)]
        self.days_error = ErrorLabel(self, boxes[week_days(locale)[0]])
        self.start = QTimeEdit(self)
        self.start.setObjectName("schedule-from")
        self.start.setAccessibleName(self.tr("From"))
        self.end = QTimeEdit(self)
        self.end.setObjectName("schedule-to")
        self.end.setAccessibleName(self.tr("To (00:00 is midnight)"))
        for edit in (self.start, self.end):
            # hours first in every language: in the Arabic layout Qt put the minutes first
            # (٠٠:٠٧ for 07:00). Set before the format, which Qt orders by the direction.
            edit.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
            edit.setDisplayFormat("HH:mm")
        start = rule.start if rule else datetime.time(7, 0)
        end = rule.end if rule else datetime.time(19, 0)
        self.start.setTime(QTime(start.hour, start.minute))
        self.end.setTime(QTime(end.hour, end.minute))
        self.down = RateField(self)
        self.down.edit.setObjectName("schedule-down")
        self.down.edit.setAccessibleName(self.tr("Download limit in this period"))
        self.down.set_value(rule.down_bps if rule else None)
        self.up = RateField(self)
        self.up.edit.setObjectName("schedule-up")
        self.up.edit.setAccessibleName(self.tr("Upload limit in this period"))
        self.up.set_value(rule.up_bps if rule else None)
        for field in (self.down, self.up):
            field.edit.setPlaceholderText(self.tr("unlimited"))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        form = QFormLayout(self)
        form.addRow(self.tr("Days:"), day_row)
        form.addRow("", self.days_error)
        form.addRow(self.tr("From:"), self.start)
        form.addRow(self.tr("To:"), self.end)
        form.addRow(self.tr("Download limit:"), self.down)
        form.addRow(self.tr("Upload limit:"), self.up)
        self.span_note = QLabel(self)
        self.span_note.setObjectName("schedule-span")
        self.span_note.setWordWrap(True)
        form.addRow(self.span_note)
        form.addRow(buttons)
        for edit in (self.start, self.end):
            edit.timeChanged.connect(self._say_span)
        self._say_span()

    @Slot()
    def _say_span(self) -> None:
        """What the two times make: a whole day when they are equal (as the schedule reads
        them), else how a period that ends before it starts is read."""
        s, e = self.start.time(), self.end.time()
        if (s.hour(), s.minute()) == (e.hour(), e.minute()):
            text = self.tr("From and To are the same: this period lasts a whole day, 24 hours.")
        else:
            text = self.tr("A period that ends before it starts runs past midnight.")
        self.span_note.setText(text)

    @Slot()
    def _accept(self) -> None:
        days = frozenset(d for d, box in enumerate(self.days) if box.isChecked())
        ok = True
        if not days:
            self.days_error.show_message(self.tr("Tick at least one day."))
            ok = False
        rates: list[float | None] = []
        for field in (self.down, self.up):
            try:
                rates.append(field.value())
            except ValueError as error:
                field.error.show_message(rate_error(field.edit.text(), error))
                ok = False
        if not ok:
            grow_to_show(self)
            focus_first_error(self)
            return
        s, e = self.start.time(), self.end.time()
        self.result_rule = ScheduleRule(
            days=days,
            start=datetime.time(s.hour(), s.minute()),
            end=datetime.time(e.hour(), e.minute()),
            down_bps=rates[0],
            up_bps=rates[1],
        )
        self.accept()


class TransfersPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.download_dir = PathField(self)
        self.download_dir.edit.setObjectName("settings-download-dir")
        self.max_downloads = QSpinBox(self)
        self.max_downloads.setObjectName("settings-max-downloads")
        self.max_downloads.setRange(1, 8)
        self.max_uploads = QSpinBox(self)
        self.max_uploads.setObjectName("settings-max-uploads")
        self.max_uploads.setRange(1, 4)
        self.limit_down = RateField(self)
        self.limit_down.edit.setObjectName("settings-limit-down")
        self.limit_up = RateField(self)
        self.limit_up.edit.setObjectName("settings-limit-up")

        self.schedule_model = ScheduleModel(self)
        self.schedule_view = new_table(self)
        self.schedule_view.setObjectName("settings-schedule")
        self.schedule_view.setModel(self.schedule_model)
        self.schedule_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.schedule_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.schedule_view.verticalHeader().hide()
        self.schedule_view.horizontalHeader().setSectionResizeMode(
            COL_DAYS, QHeaderView.ResizeMode.Stretch
        )
        self.schedule_view.doubleClicked.connect(self.edit_period)
        self.add_period = QPushButton(self)
        self.add_period.setObjectName("schedule-add")
        self.edit_period_button = QPushButton(self)
        self.edit_period_button.setObjectName("schedule-edit")
        self.remove_period = QPushButton(self)
        self.remove_period.setObjectName("schedule-remove")
        # the order matters (the first period that covers a moment wins): moved by keyboard too
        self.up_period = QPushButton(self)
        self.up_period.setObjectName("schedule-up")
        self.down_period = QPushButton(self)
        self.down_period.setObjectName("schedule-down")
        self.add_period.clicked.connect(self.new_period)
        self.edit_period_button.clicked.connect(self.edit_period)
        self.remove_period.clicked.connect(self.remove_selected_period)
        self.up_period.clicked.connect(lambda: self.move_period(-1))
        self.down_period.clicked.connect(lambda: self.move_period(1))
        self.schedule_view.selectionModel().selectionChanged.connect(self._update_moves)
        for signal in (
            self.schedule_model.rowsMoved,
            self.schedule_model.rowsInserted,
            self.schedule_model.rowsRemoved,
            self.schedule_model.modelReset,
        ):
            signal.connect(self._update_moves)
        self.period_dialog: ScheduleRuleDialog | None = None

        self.labels = [QLabel(self) for _ in range(5)]
        for label, buddy in zip(
            self.labels,
            (
                self.download_dir.edit,
                self.max_downloads,
                self.max_uploads,
                self.limit_down.edit,
                self.limit_up.edit,
            ),
            strict=True,
        ):
            label.setBuddy(buddy)
        form = QFormLayout()
        form.addRow(self.labels[0], self.download_dir)
        form.addRow(self.labels[1], self.max_downloads)
        form.addRow(self.labels[2], self.max_uploads)
        form.addRow(self.labels[3], self.limit_down)
        form.addRow(self.labels[4], self.limit_up)
        self.schedule_box = QGroupBox(self)
        buttons = QHBoxLayout()
        for b in (
            self.add_period,
            self.edit_period_button,
            self.remove_period,
            self.up_period,
            self.down_period,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.schedule_note = QLabel(self)
        self.schedule_note.setWordWrap(True)
        inner = QVBoxLayout(self.schedule_box)
        inner.addWidget(self.schedule_note)
        inner.addWidget(self.schedule_view)
        inner.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.schedule_box, 1)
        self.retranslate()
        self._update_moves()

    def retranslate(self) -> None:
        texts = (
            self.tr("&Download folder:"),
            self.tr("Downloads at &once:"),
            self.tr("&Uploads at once:"),
            self.tr("Download &limit:"),
            self.tr("Upload l&imit:"),
        )
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)
        self.download_dir.edit.setAccessibleName(self.tr("Download folder"))
        self.download_dir.browse.setAccessibleName(self.tr("Choose the download folder"))
        self.download_dir.retranslate()
        self.max_downloads.setAccessibleName(self.tr("Downloads at once"))
        self.max_uploads.setAccessibleName(self.tr("Uploads at once"))
        self.limit_down.edit.setAccessibleName(self.tr("Download limit"))
        self.limit_up.edit.setAccessibleName(self.tr("Upload limit"))
        # the examples as the app writes speeds, in the language's digits and units (the
        # Arabic hint said "500 kbit/s" in Latin letters): what rate_text writes, read_rate reads
        #: the placeholder of a bandwidth limit field; {fast} and {slow} are speeds
        #: written as the app writes them: "2 Mbit/s", "500 kbit/s"
        example = self.tr("unlimited (e.g. {fast} or {slow})").format(
            fast=isolated(rate_text(250_000)), slow=isolated(rate_text(62_500))
        )
        for f in (self.limit_down, self.limit_up):
            f.edit.setPlaceholderText(example)
        self.schedule_box.setTitle(self.tr("Weekly schedule"))
        self.schedule_note.setText(
            self.tr(
                "In these periods their limits apply instead of the ones above (the first "
                "period that covers a moment wins)."
            )
        )
        self.schedule_view.setAccessibleName(self.tr("Weekly bandwidth schedule"))
        self.add_period.setText(self.tr("Add period…"))
        self.edit_period_button.setText(self.tr("Edit…"))
        self.remove_period.setText(self.tr("Remove"))
        # (U is the uploads' key on this page)
        self.up_period.setText(self.tr("Move u&p"))
        self.down_period.setText(self.tr("Move do&wn"))

    def load(self, loaded: Loaded) -> None:
        v = loaded.values
        self.download_dir.set_text(str(v.download_dir))
        self.max_downloads.setValue(v.max_downloads)
        self.max_uploads.setValue(v.max_uploads)
        self.limit_down.set_value(v.limit_down)
        self.limit_up.set_value(v.limit_up)
        self.schedule_model.set_items(v.schedule_rules)

    def collect(self, v: Values) -> bool:
        ok = True
        folder = self.download_dir.text()
        if not folder:
            self.download_dir.error.show_message(self.tr("Choose a folder for the downloads."))
            ok = False
        v.download_dir = Path(folder).expanduser()
        v.max_downloads = self.max_downloads.value()
        v.max_uploads = self.max_uploads.value()
        for field, name in ((self.limit_down, "limit_down"), (self.limit_up, "limit_up")):
            try:
                setattr(v, name, field.value())
            except ValueError as e:
                field.error.show_message(rate_error(field.edit.text(), e))
                ok = False
        v.schedule_rules = self.schedule_model.items()
        return ok

    def show_problem(self, code: str, detail: str) -> None:
        texts = {
            "relative": self.tr("Give the full path of the folder."),
            "missing": self.tr("This folder does not exist, or cannot be reached."),
            "not_writable": self.tr("ALU Desk cannot write in this folder ({why}).").format(
                why=os_text(detail)
            ),
        }
        self.download_dir.error.show_message(texts.get(code, detail))

    # --- the schedule ---------------------------------------------------------------------

    def _selected_period(self) -> int:
        rows = self.schedule_view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    @Slot()
    def new_period(self) -> None:
        self._open_period(None, -1)

    @Slot()
    def edit_period(self) -> None:
        row = self._selected_period()
        rule = self.schedule_model.item_at(row)
        if rule is not None:
            self._open_period(rule, row)

    def _open_period(self, rule: ScheduleRule | None, row: int) -> None:
        dialog = ScheduleRuleDialog(rule, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)

        def done(result: int) -> None:
            self.period_dialog = None
            dialog.deleteLater()
            new = dialog.result_rule
            if result != QDialog.DialogCode.Accepted or new is None:
                return
            if row < 0:
                select_row(self.schedule_view, self.schedule_model.append(new))
            else:
                self.schedule_model.replace(row, new)

        dialog.finished.connect(done)
        self.period_dialog = dialog
        dialog.open()

    @Slot()
    def remove_selected_period(self) -> None:
        row = self._selected_period()
        if row >= 0:
            self.schedule_model.remove(row)

    def move_period(self, delta: int) -> None:
        """Move the selected period ``delta`` places (up: it wins sooner), kept selected."""
        row = self._selected_period()
        if row >= 0:
            select_row(self.schedule_view, self.schedule_model.move(row, delta))

    def _update_moves(self) -> None:
        row = self._selected_period()
        self.up_period.setEnabled(row > 0)
        self.down_period.setEnabled(0 <= row < self.schedule_model.rowCount() - 1)
