"""After the update that made saved rules' words whole words (store migration 16), Settings ›
Auto-download says so once: it was only in the README, and a rule's "NGO" no longer finding
"NGOs" went unexplained."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import Conditions, RuleStore
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.ui.tasks import TaskRunner
from tests.gui.test_settings import PROFILE, open_dialog


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def tasks() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


def desk(root: Path, conditions: Conditions, *, from_version: int | None) -> Services:
    """A data folder with a profile and one rule, updated from ``from_version`` (None: made
    by this version)."""
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    store = Store(paths.db_path)
    Profiles(store).save(
        Profile(name=PROFILE, url="http://127.0.0.1:8750", username="ktn", allow_http=True)
    )
    RuleStore(store, PROFILE).add("politics", conditions)
    store.close()
    if from_version is not None:
        conn = sqlite3.connect(paths.db_path)
        conn.execute(f"PRAGMA user_version = {from_version}")  # (the steps after it run again)
        conn.commit()
        conn.close()
    return Services(paths, MemorySecrets())


def test_the_update_says_once_that_saved_words_are_whole_words(
    qtbot: Any, tmp_path: Path, tasks: TaskRunner
) -> None:
    services = desk(tmp_path, Conditions.of(words="vote, NGO"), from_version=15)
    try:
        settings = AppSettings(services.store, services.paths.downloads_dir)
        assert settings.rule_words_notice
        dialog = open_dialog(qtbot, services, settings, tasks)
        notice = dialog.rules.words_notice
        assert notice.isVisibleTo(dialog.rules)
        assert "match whole words" in notice.text() and "vote* finds" in notice.text()
        # not seen while another page is in front
        assert dialog.tabs.currentWidget() is not dialog.rules
        tasks.wait_for_done()
        assert settings.rule_words_notice
        dialog.tabs.setCurrentWidget(dialog.rules)
        assert notice.isVisible()
        qtbot.waitUntil(lambda: not settings.rule_words_notice)
        dialog.reject()
        # seen: never again
        again = open_dialog(qtbot, services, settings, tasks)
        again.tabs.setCurrentWidget(again.rules)
        assert not again.rules.words_notice.isVisibleTo(again.rules)
        again.reject()
    finally:
        tasks.wait_for_done()
        services.stop()


@pytest.mark.parametrize(
    ("conditions", "from_version"),
    [
        (Conditions.of(categories="politics"), 15),  # no words: nothing changed
        (Conditions.of(words="vote*"), 16),  # updated before: not this update's change
        (Conditions.of(words="vote*"), None),  # made by this version: whole words all along
    ],
)
def test_no_notice_without_saved_words_the_update_changed(
    qtbot: Any, tmp_path: Path, tasks: TaskRunner, conditions: Conditions, from_version: int | None
) -> None:
    services = desk(tmp_path, conditions, from_version=from_version)
    try:
        settings = AppSettings(services.store, services.paths.downloads_dir)
        assert not settings.rule_words_notice
        dialog = open_dialog(qtbot, services, settings, tasks)
        dialog.tabs.setCurrentWidget(dialog.rules)
        assert dialog.rules.isVisible() and not dialog.rules.words_notice.isVisible()
        dialog.reject()
    finally:
        tasks.wait_for_done()
        services.stop()
