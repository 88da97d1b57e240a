"""Settings › Auto-download: rules added, edited, removed, reordered and switched on and off
through the dialog, and what the RuleStore holds after OK."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QDialog

from alu_client.core.rules import Conditions, Rule, RuleStore
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import OBJECT_ROLE
from alu_client.ui.models.rules import COL_CONDITIONS, COL_DESTINATION, COL_ENABLED, RulesModel
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.settings import SettingsDialog
from alu_client.ui.views.settings_rules import RuleDialog
from tests.gui.test_settings import PROFILE, click, make_desk, open_dialog, press_ok, type_into


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Services]:
    services = make_desk(tmp_path / "desk")
    yield services
    services.stop()


@pytest.fixture
def rules(desk: Services) -> RuleStore:
    return RuleStore(desk.store, PROFILE)


@pytest.fixture
def dialog(qtbot: Any, desk: Services, rules: RuleStore) -> Iterator[SettingsDialog]:
    tasks = TaskRunner()
    d = open_dialog(qtbot, desk, AppSettings(desk.store, desk.paths.downloads_dir), tasks)
    d.tabs.setCurrentWidget(d.rules)
    yield d
    tasks.wait_for_done()


def select(qtbot: Any, dialog: SettingsDialog, row: int) -> None:
    view = dialog.rules.view
    rect = view.visualRect(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: dialog.rules.selected_row() == row)


def open_form(qtbot: Any, dialog: SettingsDialog, button: Any) -> RuleDialog:
    click(qtbot, button)
    qtbot.waitUntil(lambda: dialog.rules.dialog is not None and dialog.rules.dialog.isVisible())
    form = dialog.rules.dialog
    assert form is not None
    return form


def ok(qtbot: Any, form: RuleDialog) -> None:
    with qtbot.waitSignal(form.finished):
        click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))


def names(store: RuleStore) -> list[str]:
    return [r.name for r in store.all()]


def test_rules_model(qtmodeltester: Any) -> None:
    model = RulesModel()
    model.set_rules(
        [
            Rule(1, "Flash", True, 1, Conditions.of(priorities="flash"), "broadcast", ""),
            Rule(
                2,
                "Kenya FR",
                False,
                2,
                Conditions.of(countries="KE", languages="fr", words="élection, vote"),
                "proxy_then_broadcast",
                "/srv/news/kenya",
            ),
            Rule(3, "All", True, 3, Conditions(), "proxy", ""),
        ]
    )
    qtmodeltester.check(model)
    assert model.index(1, COL_CONDITIONS).data() == (
        "Country: Kenya; Language: French; Words: “élection”, “vote”"
    )
    assert model.index(0, COL_CONDITIONS).data() == "Priority: Flash"
    assert model.index(2, COL_CONDITIONS).data() == "Every new item"
    assert model.index(0, COL_DESTINATION).data() == "Download folder"
    assert model.index(1, COL_ENABLED).data(Qt.ItemDataRole.CheckStateRole) == (
        Qt.CheckState.Unchecked
    )
    assert model.setData(
        model.index(1, COL_ENABLED), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
    )
    assert model.rule_at(1) is not None and model.rule_at(1).enabled  # type: ignore[union-attr]
    assert model.move(2, -2) == 0
    assert [r.id for r in model.rules()] == [3, 1, 2]
    assert model.move(0, 1) == 1
    assert [r.id for r in model.rules()] == [1, 3, 2]
    model.remove(0)
    qtmodeltester.check(model)
    assert model.index(0, 0).data(OBJECT_ROLE).id == 3


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("ar", "البلد: السودان؛ اللغة: الفرنسية, العربية؛ الأولوية: عاجل جدًا, عاجل"),
        ("fr", "Pays : SD ; Langue : Français, Arabe ; Priorité : Flash, Urgent"),
    ],
    ids=["ar", "fr"],
)
def test_the_rules_list_names_things_as_the_feed_does(
    qapp: QApplication, lang: str, said: str
) -> None:
    """The Conditions column showed the stored codes, "اللغة: fr, ar؛ الأولوية: flash, urgent",
    in the Arabic table: a third word for each priority beside the Feed's and the editor's.
    Now the Feed's words (its priorities, its language names), and a country's name where Qt
    has one in the language."""
    install_translators(qapp, lang)
    model = RulesModel()
    model.set_rules(
        [
            Rule(
                1,
                "Sudan",
                True,
                1,
                Conditions.of(countries="SD", languages="fr, ar", priorities="flash, urgent"),
                "broadcast",
                "",
            )
        ]
    )
    text = model.index(0, COL_CONDITIONS).data()
    feed = [QCoreApplication.translate("ItemsModel", p) for p in ("Flash", "Urgent")]
    assert all(word in text for word in feed)
    assert not re.search(r"\b(flash|urgent|fr|ar)\b", text)
    # (the catalogues' separators between the values: ", " until they give their own)
    assert text.replace(QCoreApplication.translate("RulesModel", ", "), ", ") == said


def test_add_a_rule_through_the_form(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore, tmp_path: Path
) -> None:
    form = open_form(qtbot, dialog, dialog.rules.add_button)
    qtbot.keyClicks(form.name, "Flash politics")
    click(qtbot, form.priorities["flash"])
    click(qtbot, form.languages["fr"])
    qtbot.keyClicks(form.countries, "ke, sn")
    qtbot.keyClicks(form.words, "election, vote")
    form.action.setFocus()
    qtbot.keyClick(form.action, Qt.Key.Key_End)  # proxy first, then broadcast
    qtbot.keyClicks(form.destination.edit, str(tmp_path / "politics"))
    ok(qtbot, form)
    assert dialog.rules.model.rowCount() == 1
    assert rules.all() == []  # nothing written before OK
    press_ok(qtbot, dialog)
    [rule] = rules.all()
    assert rule.name == "Flash politics" and rule.enabled
    assert rule.conditions == Conditions(
        countries=("KE", "SN"), languages=("fr",), priorities=("flash",), words=("election", "vote")
    )
    assert rule.action == "proxy_then_broadcast"
    assert rule.destination == str(tmp_path / "politics")


def test_the_destination_labels_key_reaches_the_folder_box(
    qtbot: Any, dialog: SettingsDialog
) -> None:
    """Alt+T ("&To folder:") put the focus on the folder field's container, which takes none:
    the focus stayed on "Download:" and the path typed went nowhere."""
    form = open_form(qtbot, dialog, dialog.rules.add_button)
    form.action.setFocus()
    qtbot.waitUntil(form.action.hasFocus)
    qtbot.keyClick(form.action, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    assert form.destination.edit.hasFocus()


def test_wrong_entries_are_shown_in_the_form(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore
) -> None:
    rules.add("Taken")
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.rules.model.rowCount() == 1)
    form = open_form(qtbot, dialog, dialog.rules.add_button)
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert form.isVisible() and form.name_error.text() == "Give the rule a name."
    qtbot.keyClicks(form.name, "Taken")
    qtbot.keyClicks(form.countries, "Kenya")
    qtbot.keyClicks(form.words, "vote, ???")
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert form.isVisible()
    assert "already named “Taken”" in form.name_error.text()
    assert "two-letter codes" in form.countries_error.text()
    assert "“???” has no letters" in form.words_error.text()
    # the focus on the first field in error, which describes it to a screen reader
    assert form.focusWidget() is form.name
    assert form.name.accessibleDescription() == form.name_error.text()
    assert form.countries.accessibleDescription() == form.countries_error.text()
    type_into(qtbot, form.name, "Kenya")
    type_into(qtbot, form.countries, "KE")
    type_into(qtbot, form.words, "vote")
    ok(qtbot, form)
    assert form.result() == QDialog.DialogCode.Accepted
    press_ok(qtbot, dialog)
    assert names(rules) == ["Taken", "Kenya"]


def test_an_ampersand_in_an_error_is_shown_and_read_as_typed(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore
) -> None:
    """The error line had its field as buddy, so Qt took the "&" of a name typed for a
    mnemonic: "Sports _News" on screen, "Sports  News" to a screen reader, and Alt+Space (the
    window menu on Windows) jumped to the name field."""
    rules.add("Sports & News")
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.rules.model.rowCount() == 1)
    form = open_form(qtbot, dialog, dialog.rules.add_button)
    qtbot.keyClicks(form.name, "Sports & News")
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    message = "Another rule is already named “Sports & News”."
    assert form.name_error.text() == message
    label = QAccessible.queryAccessibleInterface(form.name_error)
    assert label is not None and label.text(QAccessible.Text.Name) == message
    assert form.name.accessibleDescription() == message
    form.countries.setFocus()
    qtbot.waitUntil(form.countries.hasFocus)
    qtbot.keyClick(form.countries, Qt.Key.Key_Space, Qt.KeyboardModifier.AltModifier)
    assert form.countries.hasFocus()


def test_edit_remove_reorder_and_switch_off(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore
) -> None:
    first = rules.add("Sport", Conditions.of(categories="sport"))
    second = rules.add("Flash", Conditions.of(priorities="flash"), action="proxy")
    third = rules.add("Arabic", Conditions.of(languages="ar"))
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.rules.model.rowCount() == 3)
    page = dialog.rules

    select(qtbot, dialog, 2)
    click(qtbot, page.up_button)
    click(qtbot, page.up_button)
    assert [r.name for r in page.model.rules()] == ["Arabic", "Sport", "Flash"]
    assert not page.up_button.isEnabled()  # already first

    select(qtbot, dialog, 1)  # Sport
    click(qtbot, page.remove_button)

    select(qtbot, dialog, 1)  # Flash
    form = open_form(qtbot, dialog, page.edit_button)
    assert form.priorities["flash"].isChecked()
    type_into(qtbot, form.name, "Flash only")
    click(qtbot, form.languages["en"])
    ok(qtbot, form)
    click(qtbot, page.toggle_button)  # off
    assert page.toggle_button.text() == "Turn o&n"

    # The check box in the table switches a rule too.
    view = page.view
    rect = view.visualRect(page.model.index(0, COL_ENABLED))
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y())
    )
    qtbot.waitUntil(lambda: not page.model.rules()[0].enabled)
    select(qtbot, dialog, 0)  # Arabic
    click(qtbot, page.down_button)
    assert not page.down_button.isEnabled()  # now last
    press_ok(qtbot, dialog)

    assert [(r.id, r.name, r.enabled) for r in rules.all()] == [
        (second.id, "Flash only", False),
        (third.id, "Arabic", False),
    ]
    assert first.id not in {r.id for r in rules.all()}
    flash = rules.get(second.id)
    assert flash.conditions == Conditions(languages=("en",), priorities=("flash",))
    assert flash.action == "proxy"


def test_names_passed_between_rules_and_cancel(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore
) -> None:
    a = rules.add("Morning")
    b = rules.add("Evening")
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.rules.model.rowCount() == 2)
    for row, name in ((0, "Evening"), (1, "Morning")):  # swap the two names
        select(qtbot, dialog, row)
        form = open_form(qtbot, dialog, dialog.rules.edit_button)
        form.taken.discard(name)  # the user renames the other one next
        type_into(qtbot, form.name, name)
        ok(qtbot, form)
    press_ok(qtbot, dialog)
    assert (rules.get(a.id).name, rules.get(b.id).name) == ("Evening", "Morning")


def test_cancel_leaves_the_rules_as_they_were(
    qtbot: Any, dialog: SettingsDialog, rules: RuleStore
) -> None:
    rules.add("Keep me")
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.rules.model.rowCount() == 1)
    select(qtbot, dialog, 0)
    click(qtbot, dialog.rules.remove_button)
    assert dialog.rules.model.rowCount() == 0
    with qtbot.waitSignal(dialog.finished):
        click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Cancel))
    assert names(rules) == ["Keep me"]
