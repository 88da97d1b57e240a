"""Settings › Auto-download while another program (`alu rules …` in a terminal: a second
connection to the same data folder) changes the rules (review "rules", finding 1), and a rule
whose language the app does not know opened in the rule form (finding 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QCheckBox

from alu_client.core.rules import Conditions, Rule, RuleStore
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.settings import SettingsDialog
from tests.gui.test_settings import PROFILE, click, make_desk, open_dialog, press_ok, type_into
from tests.gui.test_settings_rules import ok, open_form, select


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
def mine(desk: Services) -> RuleStore:
    return RuleStore(desk.store, PROFILE)


@pytest.fixture
def other(desk: Services) -> Iterator[RuleStore]:
    """The rules as `alu rules …` in a terminal sees them: its own connection."""
    store = Store(desk.paths.db_path)
    yield RuleStore(store, PROFILE)
    store.close()


@pytest.fixture
def settings(desk: Services) -> AppSettings:
    return AppSettings(desk.store, desk.paths.downloads_dir)


@pytest.fixture
def tasks() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


def state(store: RuleStore) -> list[tuple[str, bool]]:
    return [(r.name, r.enabled) for r in store.all()]


def test_ok_keeps_the_rules_another_program_added_or_changed(
    qtbot: Any, desk: Services, mine: RuleStore, other: RuleStore, settings: AppSettings,
    tasks: TaskRunner,
) -> None:  # fmt: skip
    """OK removed the rule added in a terminal and turned the one turned off there on again."""
    mine.add("flash", Conditions.of(priorities="flash"))
    dialog = open_dialog(qtbot, desk, settings, tasks)
    other.add("elections-fr", Conditions.of(languages="fr", words="élection"))
    other.disable(other.by_name("flash").id)
    press_ok(qtbot, dialog)  # nothing touched on the Auto-download page
    assert state(mine) == [("flash", False), ("elections-fr", True)]


def test_ok_writes_the_users_changes_beside_the_other_programs(
    qtbot: Any, desk: Services, mine: RuleStore, other: RuleStore, settings: AppSettings,
    tasks: TaskRunner,
) -> None:  # fmt: skip
    for name in ("a", "b", "c"):
        mine.add(name, Conditions.of(words=name))
    dialog = open_dialog(qtbot, desk, settings, tasks)
    dialog.tabs.setCurrentWidget(dialog.rules)
    page = dialog.rules
    select(qtbot, dialog, 1)
    click(qtbot, page.up_button)  # b first
    click(qtbot, page.toggle_button)  # b off
    select(qtbot, dialog, 2)
    click(qtbot, page.remove_button)  # c gone
    other.update(other.by_name("a").id, conditions=Conditions.of(words="alpha"))
    other.add("x", Conditions.of(words="x"))
    press_ok(qtbot, dialog)
    assert [(r.name, r.enabled, r.conditions.words) for r in mine.all()] == [
        ("b", False, ("b",)),
        ("a", True, ("alpha",)),
        ("x", True, ("x",)),
    ]


def test_a_rule_removed_elsewhere_does_not_block_ok(
    qtbot: Any, desk: Services, mine: RuleStore, other: RuleStore, settings: AppSettings,
    tasks: TaskRunner,
) -> None:  # fmt: skip
    """OK said "A new order must list every rule of the profile exactly once." and the dialog
    could only be cancelled."""
    mine.add("flash", Conditions.of(priorities="flash"))
    mine.add("fr", Conditions.of(languages="fr"))
    dialog = open_dialog(qtbot, desk, settings, tasks)
    other.remove(other.by_name("flash").id)
    press_ok(qtbot, dialog)
    assert state(mine) == [("fr", True)]


def test_a_clash_is_said_and_nothing_is_saved_then_ok_again_saves(
    qtbot: Any, desk: Services, mine: RuleStore, other: RuleStore, settings: AppSettings,
    tasks: TaskRunner,
) -> None:  # fmt: skip
    """The other pages were written before the rules failed: a partial save."""
    mine.add("flash", Conditions.of(priorities="flash"))
    mine.add("fr", Conditions.of(languages="fr"))
    dialog: SettingsDialog = open_dialog(qtbot, desk, settings, tasks)
    type_into(qtbot, dialog.transfers.max_downloads, "5")
    dialog.tabs.setCurrentWidget(dialog.rules)
    select(qtbot, dialog, 0)
    click(qtbot, dialog.rules.toggle_button)  # the user turns flash off …
    select(qtbot, dialog, 1)
    click(qtbot, dialog.rules.toggle_button)  # … and fr off
    other.remove(other.by_name("flash").id)  # … while a terminal removes flash
    click(qtbot, dialog.ok_button)
    message = dialog.rules.message
    qtbot.waitUntil(lambda: message.isVisible() and dialog.ok_button.isEnabled())
    assert dialog.isVisible() and dialog.tabs.currentWidget() is dialog.rules
    text = message.text()
    assert "changed by another program" in text and "nothing was saved" in text
    assert "“flash” was removed meanwhile" in text
    assert "every rule of the profile" not in text
    # nothing written: not the Transfers page, not fr
    assert settings.max_downloads == 2
    assert state(mine) == [("fr", True)]
    # the page shows the rules as they are now, with the change that did not clash
    assert [(r.name, r.enabled) for r in dialog.rules.model.rules()] == [("fr", False)]
    press_ok(qtbot, dialog)
    assert settings.max_downloads == 5
    assert state(mine) == [("fr", False)]


# --- a language the app does not know (finding 4) -------------------------------------------


def stored_with_languages(rules: RuleStore, name: str, languages: str) -> Rule:
    """As a version without the check stored `alu rules add NAME --language …`."""
    rule = rules.add(name, Conditions.of(words="vote"))
    with rules.store.write() as c:
        c.execute(
            "UPDATE rules SET conditions = ? WHERE id = ?",
            (f'{{"languages": {languages}, "words": ["vote"]}}', rule.id),
        )
    return rules.get(rule.id)


def test_a_language_stored_by_name_shows_ticked_in_the_form(
    qtbot: Any, desk: Services, mine: RuleStore, settings: AppSettings, tasks: TaskRunner
) -> None:
    """Settings showed "Language: FRENCH", the form no box ticked, and saving it dropped the
    language: the rule took every item."""
    stored_with_languages(mine, "fr-news", '["french"]')
    dialog = open_dialog(qtbot, desk, settings, tasks)
    dialog.tabs.setCurrentWidget(dialog.rules)
    assert "Language: French" in dialog.rules.model.conditions_text(dialog.rules.model.rules()[0])
    select(qtbot, dialog, 0)
    form = open_form(qtbot, dialog, dialog.rules.edit_button)
    assert form.languages["fr"].isChecked()
    type_into(qtbot, form.destination.edit, str(desk.paths.downloads_dir / "fr"))
    ok(qtbot, form)
    press_ok(qtbot, dialog)
    assert mine.by_name("fr-news").conditions.languages == ("fr",)


def test_an_unknown_language_is_not_dropped_by_the_form(
    qtbot: Any, desk: Services, mine: RuleStore, settings: AppSettings, tasks: TaskRunner
) -> None:
    stored_with_languages(mine, "odd", '["xx"]')
    dialog = open_dialog(qtbot, desk, settings, tasks)
    dialog.tabs.setCurrentWidget(dialog.rules)
    select(qtbot, dialog, 0)
    form = open_form(qtbot, dialog, dialog.rules.edit_button)
    box = form.findChild(QCheckBox, "rule-language-xx")
    assert box is not None and box.isChecked() and "xx" in box.text()
    type_into(qtbot, form.destination.edit, str(desk.paths.downloads_dir / "odd"))
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    qtbot.waitUntil(form.languages_error.isVisible)
    assert form.isVisible() and form.result_rule is None
    assert "“xx” is not a language" in form.languages_error.text()
    click(qtbot, box)  # the user's own choice: any language
    assert not form.languages_error.isVisible()
    click(qtbot, form.languages["ar"])
    ok(qtbot, form)
    press_ok(qtbot, dialog)
    assert mine.by_name("odd").conditions.languages == ("ar",)
