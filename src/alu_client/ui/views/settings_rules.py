"""Settings › Auto-download: the rules of the hub profile, in the order they are tried, and the
small form that edits one. Changes are kept in the model and written when the user presses OK."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alu_client.core.rules import (
    ACTIONS,
    LANGUAGES,
    Conditions,
    Rule,
    RuleError,
    RulesChanged,
    split_values,
)

from .. import formats, plain_text
from ..delegates_items import language_name, priority_name
from ..models.rules import COL_CONDITIONS, RulesModel
from . import new_table, select_row
from .settings_apply import Loaded, Values
from .settings_fields import ErrorLabel, PathField, focus_first_error

LANGUAGE_CODES = LANGUAGES
PRIORITY_CODES = ("flash", "urgent", "routine")


class RuleDialog(QDialog):
    """Add or edit one rule. ``taken``: the names of the other rules."""

    def __init__(
        self,
        rule: Rule | None,
        taken: set[str],
        model: RulesModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("rule-dialog")
        self.setWindowTitle(self.tr("Edit rule") if rule else self.tr("New rule"))
        self.rule = rule
        self.taken = taken
        self.model = model
        self.result_rule: Rule | None = None
        c = rule.conditions if rule else Conditions()
        form = QFormLayout(self)

        def line(
            name: str, label: str, accessible: str, values: tuple[str, ...], hint: str
        ) -> tuple[QLineEdit, ErrorLabel]:
            edit = QLineEdit(", ".join(values), self)
            edit.setObjectName(f"rule-{name}")
            edit.setAccessibleName(accessible)
            edit.setPlaceholderText(hint)
            error = ErrorLabel(self, edit)
            edit.textEdited.connect(error.clear_message)
            form.addRow(label, edit)
            form.addRow("", error)
            return edit, error

        any_hint = self.tr("any")
        self.name, self.name_error = line(
            "name", self.tr("&Name:"), self.tr("Rule name"), (rule.name,) if rule else (), ""
        )
        self.enabled = QCheckBox(self.tr("Rule on"), self)
        self.enabled.setObjectName("rule-enabled")
        self.enabled.setChecked(rule.enabled if rule else True)
        form.addRow("", self.enabled)
        form.addRow(QLabel(self.tr("Items that match every condition filled in:"), self))
        self.categories, _ = line(
            "categories", self.tr("Categories:"), self.tr("Categories"), c.categories, any_hint
        )
        self.regions, _ = line(
            "regions", self.tr("Regions:"), self.tr("Regions"), c.regions, any_hint
        )
        self.countries, self.countries_error = line(
            "countries",
            self.tr("Countries:"),
            self.tr("Countries (two-letter codes)"),
            c.countries,
            self.tr("any (e.g. KE, SN)"),
        )
        self.languages = self._boxes("language", c.languages, form, self.tr("Languages:"))
        self.languages_error = ErrorLabel(self, next(iter(self.languages.values())))
        form.addRow("", self.languages_error)
        for box in self.languages.values():
            box.toggled.connect(self.languages_error.clear_message)
        self.priorities = self._boxes("priority", c.priorities, form, self.tr("Priorities:"))
        self.words, self.words_error = line(
            "words",
            self.tr("Words:"),
            self.tr("Words or phrases"),
            c.words,
            self.tr("any (e.g. ONU, élection*)"),
        )
        self.words.setToolTip(
            self.tr(
                "Whole words, whatever the case and accents: UN does not find “une”. End a "
                "word with * for the words that begin with it: vote* finds “voters”."
            )
        )
        self.action = QComboBox(self)
        self.action.setObjectName("rule-action")
        self.action.setAccessibleName(self.tr("What to download"))
        for a in ACTIONS:
            self.action.addItem(model.action_text(a), a)
        self.action.setCurrentIndex(max(0, self.action.findData(rule.action if rule else "")))
        form.addRow(self.tr("&Download:"), self.action)
        self.destination = PathField(self)
        self.destination.edit.setObjectName("rule-destination")
        self.destination.edit.setAccessibleName(self.tr("Destination folder"))
        self.destination.edit.setPlaceholderText(self.tr("the download folder"))
        self.destination.set_text(rule.destination if rule else "")
        form.addRow(self.tr("&To folder:"), self.destination)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def _boxes(
        self, name: str, chosen: tuple[str, ...], form: QFormLayout, label: str
    ) -> dict[str, QCheckBox]:
        codes: tuple[str, ...] = LANGUAGE_CODES if name == "language" else PRIORITY_CODES
        # the Feed's words (one vocabulary: this dialog had its own, and Arabic's differed)
        texts = {
            code: (language_name if name == "language" else priority_name)(code) for code in codes
        }
        if name == "language":
            # a language stored before languages were checked ("xx"): shown ticked, so that
            # the rule is not turned into "any language" by a form that left it out
            for code in chosen:
                if code not in codes:
                    codes += (code,)
                    texts[code] = self.tr("“{code}” (no item is in it)").format(code=code)
        row = QHBoxLayout()
        boxes: dict[str, QCheckBox] = {}
        for code in codes:
            box = QCheckBox(texts[code], self)
            box.setObjectName(f"rule-{name}-{code}")
            box.setChecked(code in chosen)
            row.addWidget(box)
            boxes[code] = box
        row.addStretch(1)
        form.addRow(label, row)
        return boxes

    def _check(self, check: Callable[[], object], error: ErrorLabel, message: str) -> bool:
        try:
            check()
        except RuleError:
            error.show_message(message)
            return False
        return True

    @Slot()
    def _accept(self) -> None:
        ok = True
        name = " ".join(self.name.text().split())
        if not name:
            self.name_error.show_message(self.tr("Give the rule a name."))
            ok = False
        elif len(name) > 100:
            self.name_error.show_message(self.tr("A rule's name is at most 100 characters."))
            ok = False
        elif name in self.taken:
            self.name_error.show_message(
                self.tr("Another rule is already named “{name}”.").format(name=name)
            )
            ok = False
        countries = self.countries.text()
        ok &= self._check(
            lambda: Conditions.of(countries=countries),
            self.countries_error,
            self.tr("Countries are two-letter codes separated by commas, like KE, SN."),
        )
        unknown = [c for c, b in self.languages.items() if b.isChecked() and c not in LANGUAGES]
        if unknown:
            self.languages_error.show_message(
                self.tr(
                    "“{code}” is not a language of the hub's items: this rule takes no item. "
                    "Untick it and tick English, French or Arabic (none ticked: any language)."
                ).format(code=unknown[0])
            )
            ok = False
        for word in split_values(self.words.text()):
            if not self._check(
                lambda w=word: Conditions.of(words=[w]),  # type: ignore[misc]
                self.words_error,
                self.tr("“{word}” has no letters or digits to look for.").format(word=word.strip()),
            ):
                ok = False
                break
        if not ok:
            focus_first_error(self)
            return
        try:
            conditions = Conditions.of(
                categories=self.categories.text(),
                regions=self.regions.text(),
                countries=countries,
                languages=[c for c, b in self.languages.items() if b.isChecked()],
                priorities=[c for c, b in self.priorities.items() if b.isChecked()],
                words=self.words.text(),
            )
        except RuleError as e:  # anything the checks above did not foresee, in the core's words
            self.name_error.show_message(str(e))
            focus_first_error(self)
            return
        values = {
            "name": name,
            "enabled": self.enabled.isChecked(),
            "conditions": conditions,
            "action": str(self.action.currentData()),
            "destination": self.destination.text(),
        }
        if self.rule is not None:
            self.result_rule = dataclasses.replace(self.rule, **values)  # type: ignore[arg-type]
        else:
            self.result_rule = Rule(id=self.model.new_id(), position=0, **values)  # type: ignore[arg-type]
        self.accept()


class RulesPage(QWidget):
    """Signals: ``words_notice_seen()``: the notice that saved rules' words are whole words
    now was shown (once: it is not shown again)."""

    words_notice_seen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RulesModel(self)
        self.view = new_table(self)
        self.view.setObjectName("settings-rules")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(
            COL_CONDITIONS, QHeaderView.ResizeMode.Stretch
        )
        self.view.doubleClicked.connect(self._double_clicked)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        # after the update that made saved rules' words whole words (store migration 16)
        self.words_notice = QLabel(self)
        self.words_notice.setObjectName("rules-words-notice")
        self.words_notice.setWordWrap(True)
        self.words_notice.hide()
        self.words_notice_said = False
        self.message = ErrorLabel(self)
        self.message.setObjectName("rules-message")
        self.add_button = QPushButton(self)
        self.add_button.setObjectName("rule-add")
        self.edit_button = QPushButton(self)
        self.edit_button.setObjectName("rule-edit")
        self.remove_button = QPushButton(self)
        self.remove_button.setObjectName("rule-remove")
        self.up_button = QPushButton(self)
        self.up_button.setObjectName("rule-up")
        self.down_button = QPushButton(self)
        self.down_button.setObjectName("rule-down")
        self.toggle_button = QPushButton(self)
        self.toggle_button.setObjectName("rule-toggle")
        self.add_button.clicked.connect(self.add_rule)
        self.edit_button.clicked.connect(self.edit_rule)
        self.remove_button.clicked.connect(self.remove_rule)
        self.up_button.clicked.connect(lambda: self.move_rule(-1))
        self.down_button.clicked.connect(lambda: self.move_rule(1))
        self.toggle_button.clicked.connect(self.toggle_rule)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.view)
        delete.activated.connect(self.remove_rule)
        self.dialog: RuleDialog | None = None
        # removing a rule with downloads not finished, or turning it off, asks what becomes
        # of them
        self.question: QMessageBox | None = None
        self.downloads: dict[int, list[int]] = {}
        self.cancel_with: dict[int, Rule] = {}
        buttons = QHBoxLayout()
        for b in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.up_button,
            self.down_button,
            self.toggle_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.words_notice)
        layout.addWidget(self.note)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.dataChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.model.rowsMoved.connect(self._update_buttons)
        self.has_profile = False
        # the rules as last read from the store: OK writes only the changes made since
        self.base: list[Rule] = []
        self.retranslate()

    def retranslate(self) -> None:
        if self.has_profile:
            self.note.setText(
                self.tr(
                    "New items are checked against the rules from the top: the first rule "
                    "that is on and matches downloads the item. Items older than a day are "
                    "never downloaded by a rule."
                )
            )
        else:
            self.note.setText(self.tr("Sign in to a hub to set up automatic downloads."))
        self.words_notice.setText(
            self.tr(
                "Since this update, the words of your saved rules match whole words: UN no "
                "longer finds “une”. A * at the end of a word finds the words that begin "
                "with it: vote* finds “voters”. Your saved words were given a * to find "
                "what they found before, except acronyms and words of fewer than four "
                "letters: check your rules."
            )
        )
        self.view.setAccessibleName(self.tr("Auto-download rules"))
        self.add_button.setText(self.tr("&Add…"))
        self.edit_button.setText(self.tr("&Edit…"))
        self.remove_button.setText(self.tr("&Remove"))
        self.up_button.setText(self.tr("Move &up"))
        self.down_button.setText(self.tr("Move do&wn"))
        self._update_buttons()

    def load(self, loaded: Loaded) -> None:
        self.has_profile = loaded.profile is not None
        self.model.set_rules(loaded.values.rules, loaded.values.rule_problems)
        self.base = list(loaded.values.rules_base)
        self.downloads = dict(loaded.rule_downloads)
        self.cancel_with = {}
        # (kept in sight while this dialog is open, once said)
        self.words_notice.setVisible(loaded.rule_words_notice and self.has_profile)
        self._words_notice_shown()
        self.setEnabled(True)
        for w in (self.view, self.add_button):
            w.setEnabled(self.has_profile)
        self.retranslate()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._words_notice_shown()

    def _words_notice_shown(self) -> None:
        """The notice in sight (the page shown with it): said once, then never again."""
        if self.words_notice_said or not self.words_notice.isVisibleTo(self):
            return
        if self.isVisible():
            self.words_notice_said = True
            self.words_notice_seen.emit()

    def collect(self, v: Values) -> bool:
        v.rules = self.model.rules()
        v.rules_base = list(self.base)
        # (a rule turned off, then on again: its downloads are no longer canceled)
        on = {r.id for r in v.rules if r.enabled}
        v.cancel_downloads_of = [r for rid, r in self.cancel_with.items() if rid not in on]
        return True

    def show_error(self, message: str) -> None:
        self.message.show_message(message)

    def show_changed(self, error: RulesChanged) -> None:
        """Another program changed the rules while the dialog was open, clashing with the
        user's changes (nothing was saved): the rules as they are now, with the user's other
        changes, and what happened to the clashing ones."""
        self.model.set_rules(error.merged.rules)
        self.base = list(error.current)
        lines = [
            self.tr(
                "The rules were changed by another program (such as alu rules in a terminal) "
                "while Settings was open. Here they are again as they are now, with your "
                "other changes; nothing was saved yet. Check them and press OK again."
            )
        ]
        for c in error.merged.conflicts:
            if c.reason == "removed":
                text = self.tr("“{name}” was removed meanwhile: your changes to it are lost.")
            elif c.reason == "changed":
                text = self.tr(
                    "“{name}” was changed meanwhile: it is shown as it is now; make your "
                    "changes to it again."
                )
            else:
                text = self.tr("A rule named “{name}” was added meanwhile: rename yours.")
            lines.append(text.format(name=c.name))
        self.message.show_message("\n".join(lines))

    # --- commands ---------------------------------------------------------------------------

    def selected_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _update_buttons(self) -> None:
        row = self.selected_row()
        rule = self.model.rule_at(row)
        has = rule is not None and self.has_profile
        for b in (self.edit_button, self.remove_button, self.toggle_button):
            b.setEnabled(has)
        self.up_button.setEnabled(has and row > 0)
        self.down_button.setEnabled(has and row < self.model.rowCount() - 1)
        on = rule is not None and rule.enabled
        self.toggle_button.setText(self.tr("Turn &off") if on else self.tr("Turn o&n"))

    @Slot(QModelIndex)
    def _double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.edit_rule()

    @Slot()
    def add_rule(self) -> None:
        self._open(None, -1)

    @Slot()
    def edit_rule(self) -> None:
        row = self.selected_row()
        rule = self.model.rule_at(row)
        if rule is not None:
            self._open(rule, row)

    def _open(self, rule: Rule | None, row: int) -> None:
        taken = {r.name for r in self.model.rules() if rule is None or r.id != rule.id}
        dialog = RuleDialog(rule, taken, self.model, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)

        def done(result: int) -> None:
            self.dialog = None
            dialog.deleteLater()
            new = dialog.result_rule
            if result != QDialog.DialogCode.Accepted or new is None:
                return
            self.message.clear_message()
            if row < 0:
                select_row(self.view, self.model.append(new))
            elif rule is not None and rule.enabled and not new.enabled:
                # "Rule on" unticked: asked as the Turn off button asks; the question's
                # Cancel keeps the other changes, with the rule on
                self._stop_rule(
                    new,
                    "off",
                    lambda r: self.model.replace(row, r),
                    lambda r: self.model.replace(row, dataclasses.replace(r, enabled=True)),
                )
            else:
                self.model.replace(row, new)

        dialog.finished.connect(done)
        self.dialog = dialog
        dialog.open()

    @Slot()
    def remove_rule(self) -> None:
        """Remove the selected rule, asking first what becomes of its downloads not finished."""
        rule = self.model.rule_at(self.selected_row())
        if rule is not None:
            self._stop_rule(rule, "remove", self._remove)

    def _stop_rule(
        self,
        rule: Rule,
        step: str,
        done: Callable[[Rule], None],
        back: Callable[[Rule], None] | None = None,
    ) -> None:
        """Remove the rule or turn it off (``step`` "remove" or "off") by ``done``; one whose
        downloads have not all finished asks first whether they are canceled with it (they
        ran on unsaid, to be canceled one by one): canceled at OK, or let finish; the
        question's Cancel (Escape, the window closed) leaves the rule as it was (calls
        ``back`` when given)."""
        if self.question is not None:
            return
        pending = len(self.downloads.get(rule.id, ()))
        if not pending:
            done(rule)
            return
        name = formats.isolated(rule.name)
        box = QMessageBox(self)
        box.setObjectName(f"rule-{step}-question")
        box.setIcon(QMessageBox.Icon.Question)
        if step == "remove":
            box.setWindowTitle(self.tr("Remove rule"))
            box.setText(
                self.tr(
                    "The rule %1 has %Ln downloads that have not finished. Cancel them with "
                    "the rule, or let them finish?",
                    "",
                    pending,
                ).replace("%1", name)
            )  # (set as typed below)
        else:
            box.setWindowTitle(self.tr("Turn off rule"))
            box.setText(
                self.tr(
                    "The rule %1 has %Ln downloads that have not finished. Turning it off "
                    "does not stop them: cancel them, or let them finish?",
                    "",
                    pending,
                ).replace("%1", name)
            )
            box.setInformativeText(self.tr("Cancel leaves the rule on."))
        box.setText(plain_text.shown_as_typed(box.text()))  # (a rule's name: as typed)
        cancel = box.addButton(
            self.tr("Cancel its %Ln downloads", "", pending),
            QMessageBox.ButtonRole.DestructiveRole,
        )
        cancel.setObjectName(f"rule-{step}-cancel-downloads")
        keep = box.addButton(self.tr("Let them finish"), QMessageBox.ButtonRole.AcceptRole)
        keep.setObjectName(f"rule-{step}-keep-downloads")
        # Escape, or the window closed: the rule stays as it was (both answers change it)
        stay = box.addButton(QMessageBox.StandardButton.Cancel)
        stay.setObjectName(f"rule-{step}-back")
        box.setDefaultButton(keep)
        box.setEscapeButton(stay)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered() -> None:
            self.question = None
            clicked = box.clickedButton()
            box.deleteLater()
            if clicked not in (cancel, keep):
                if back is not None:
                    back(rule)
                return
            if clicked is cancel:
                self.cancel_with[rule.id] = rule  # (at OK, with the rule removed or off)
            else:  # (an earlier "cancel" of a rule turned on again meanwhile no longer holds)
                self.cancel_with.pop(rule.id, None)
            done(rule)

        box.finished.connect(answered)
        self.question = box
        box.open()

    def _remove(self, rule: Rule) -> None:
        row = next((n for n, r in enumerate(self.model.rules()) if r.id == rule.id), -1)
        if row >= 0:
            self.model.remove(row)
            if self.model.rowCount():
                select_row(self.view, min(row, self.model.rowCount() - 1))

    def move_rule(self, delta: int) -> None:
        row = self.selected_row()
        if row >= 0:
            select_row(self.view, self.model.move(row, delta))

    @Slot()
    def toggle_rule(self) -> None:
        """Turn the selected rule off, asking first as removing it does, or on again (which
        changes nothing of the downloads it queued before)."""
        rule = self.model.rule_at(self.selected_row())
        if rule is None:
            return
        if rule.enabled:
            self._stop_rule(rule, "off", lambda r: self._set_enabled(r, False))
        elif self.question is None:
            self._set_enabled(rule, True)

    def _set_enabled(self, rule: Rule, enabled: bool) -> None:
        row = next((n for n, r in enumerate(self.model.rules()) if r.id == rule.id), -1)
        self.model.set_enabled(row, enabled)
