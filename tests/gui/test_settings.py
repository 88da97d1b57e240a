"""The Settings dialog driven as a user would, on a real store and core services (a profile is
saved directly: no hub is needed). General, Transfers, Network, the login entry, and the live
application of limits to a running queue. Rules and hot folders: test_settings_rules.py and
test_settings_hot.py."""

from __future__ import annotations

import datetime
import os
import plistlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QTime
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QDialog, QLineEdit, QWidget

from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.proxy_login import ProxyLogin
from alu_client.core.proxy_login import key_for as proxy_key_for
from alu_client.core.proxy_login import load as load_proxy_login
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.transfers.schedule import Schedule, ScheduleRule
from alu_client.ui import autostart
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.settings import SettingsDialog
from alu_client.ui.views.settings_models import ScheduleModel, week_days
from alu_client.ui.views.settings_transfers import ScheduleRuleDialog
from alu_client.ui.views.transfers import TransfersPanel
from tests.gui.conftest import DARK, contrast

PROFILE = "ktn@127.0.0.1:8750"
COMMAND = ["/opt/alu desk/alu-client", "--minimized"]


# --- shared by the settings tests -------------------------------------------------------------


def make_desk(root: Path) -> Services:
    """Services on a fresh data folder with a saved (not signed-in) hub profile."""
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    store = Store(paths.db_path)
    Profiles(store).save(
        Profile(name=PROFILE, url="http://127.0.0.1:8750", username="ktn", allow_http=True)
    )
    store.close()
    return Services(paths, MemorySecrets())


def open_dialog(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> SettingsDialog:
    dialog = SettingsDialog(desk, settings, tasks, autostart_command=COMMAND)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.is_loaded)
    return dialog


def click(qtbot: Any, button: QAbstractButton) -> None:
    qtbot.waitUntil(button.isEnabled)
    # A check box on its box: a wide row's centre may be past the text.
    pos = (
        QPoint(8, button.height() // 2) if isinstance(button, QCheckBox) else button.rect().center()
    )
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=pos)


def type_into(qtbot: Any, edit: QLineEdit | QWidget, text: str) -> None:
    """Select what the field holds and type over it."""
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(edit, text)


def press_ok(qtbot: Any, dialog: SettingsDialog) -> None:
    """OK, and wait until the dialog closed (everything written)."""
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        click(qtbot, dialog.ok_button)
    assert dialog.result() == QDialog.DialogCode.Accepted


def press_ok_expecting_error(qtbot: Any, dialog: SettingsDialog, label: QWidget) -> None:
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: label.isVisible() and dialog.ok_button.isEnabled())
    assert dialog.isVisible()


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The login entry goes to a folder of the test, never the user's own."""
    config = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return config


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Services]:
    services = make_desk(tmp_path / "desk")
    yield services
    services.stop()


@pytest.fixture
def settings(desk: Services) -> AppSettings:
    return AppSettings(desk.store, desk.paths.downloads_dir)


@pytest.fixture
def tasks(desk: Services) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


# --- General ----------------------------------------------------------------------------------


def test_general_round_trip_and_language_signal(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner, private_config: Path
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.general
    assert page.language.currentData() == "system"
    assert page.close_to_tray.isChecked() and page.notify.isChecked()
    page.language.setFocus()
    qtbot.keyClick(page.language, Qt.Key.Key_End)  # the last one: العربية
    assert page.language.currentText() == "العربية"
    click(qtbot, page.close_to_tray)
    click(qtbot, page.notify)
    click(qtbot, page.start_at_login)
    with qtbot.waitSignal(dialog.language_changed) as changed:
        press_ok(qtbot, dialog)
    assert changed.args == ["ar"]
    assert settings.language == "ar"
    assert (settings.close_to_tray, settings.notify, settings.start_at_login) == (
        False,
        False,
        True,
    )
    entry = private_config / "autostart" / "alu-client.desktop"
    text = entry.read_text()
    assert 'Exec="/opt/alu desk/alu-client" --minimized' in text
    assert "Type=Application" in text

    again = open_dialog(qtbot, desk, settings, tasks)
    assert again.general.language.currentData() == "ar"
    assert again.general.start_at_login.isChecked()
    assert not again.general.close_to_tray.isChecked()
    click(qtbot, again.general.start_at_login)
    with qtbot.assertNotEmitted(again.language_changed):
        press_ok(qtbot, again)
    assert not entry.exists()
    assert settings.start_at_login is False


def test_cancel_discards(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    click(qtbot, dialog.general.notify)
    type_into(qtbot, dialog.transfers.limit_down.edit, "2M")
    with qtbot.waitSignal(dialog.finished):
        click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Cancel))
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert settings.notify is True
    assert settings.limit_down is None


def test_autostart_entries(tmp_path: Path, private_config: Path) -> None:
    assert not autostart.is_enabled("linux")
    path = autostart.enable(["/usr/bin/alu-client"], environment={"ALU_CLIENT_HOME": "/srv/a b"})
    assert path == private_config / "autostart" / "alu-client.desktop"
    assert autostart.is_enabled("linux")
    assert 'Exec=env "ALU_CLIENT_HOME=/srv/a b" /usr/bin/alu-client' in path.read_text()
    # a desktop skips the entry once the program is gone (uninstalled with the entry on)
    assert "TryExec=/usr/bin/alu-client\n" in path.read_text()
    # a backslash in a quoted argument is four in the file (the spec's two escapes)
    autostart.enable(["/srv/a\\b c/alu-client"], environment={})
    assert 'Exec="/srv/a\\\\\\\\b c/alu-client"\n' in path.read_text()
    assert "TryExec=/srv/a\\\\b c/alu-client\n" in path.read_text()
    autostart.disable("linux")
    assert not path.exists() and not autostart.is_enabled("linux")
    autostart.disable("linux")  # nothing there: nothing to do

    home = tmp_path / "mac"
    program = tmp_path / "Applications" / "ALU Desk.app" / "Contents" / "MacOS" / "alu-client"
    program.parent.mkdir(parents=True)
    program.write_bytes(b"")
    agent = autostart.enable([str(program)], environment={}, platform="darwin", home=home)
    assert agent == home / "Library" / "LaunchAgents" / "africa.alu.desk.plist"
    data = plistlib.loads(agent.read_bytes())
    assert data["ProgramArguments"] == [str(program)]
    assert data["RunAtLoad"] is True
    assert autostart.is_enabled("darwin", home)
    # the copy deleted (or its disk image ejected): launchd would start nothing at login
    program.unlink()
    assert not autostart.is_enabled("darwin", home)
    autostart.set_enabled(False, platform="darwin", home=home)
    assert not agent.exists()


def test_the_windows_run_value_names_the_data_folder_without_a_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ALU_CLIENT_HOME set, the Run value was ``cmd /c "set … && start "" …"``: a console
    window flashed at every login. The app's own ``--data`` says the same."""
    run_key = QSettings(str(tmp_path / "run.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(autostart, "_run_key", lambda: run_key)
    program = "C:\\Program Files\\ALU Desk\\alu-client.exe"
    assert (
        autostart.enable(
            [program, "--minimized"],
            environment={"ALU_CLIENT_HOME": "D:\\ALU data"},
            platform="win32",
        )
        is None
    )
    line = run_key.value("ALU Desk")
    assert line == f'"{program}" --minimized --data "D:\\ALU data"'
    assert "cmd" not in line
    assert autostart.is_enabled("win32")
    autostart.enable([program, "--minimized"], environment={}, platform="win32")
    assert run_key.value("ALU Desk") == f'"{program}" --minimized'
    autostart.disable("win32")
    assert not autostart.is_enabled("win32")


#: where macOS runs a copy that is not installed: its disk image, a translocated download
TRANSIENT = [
    "/Volumes/ALU Desk 0.1.0/ALU Desk.app/Contents/MacOS/alu-client",
    "/private/var/folders/x1/abcd1234/T/AppTranslocation/6F1E2A3B-0000-4C5D-9E8F-123456789ABC"
    "/d/ALU Desk.app/Contents/MacOS/alu-client",
]


@pytest.mark.parametrize("program", TRANSIENT)
def test_a_macos_login_item_for_a_copy_that_goes_away_is_refused(
    tmp_path: Path, program: str
) -> None:
    home = tmp_path / "mac"
    with pytest.raises(autostart.NotInstalled):
        autostart.enable([program], environment={}, platform="darwin", home=home)
    assert not (home / "Library" / "LaunchAgents").exists()
    assert not autostart.is_enabled("darwin", home)
    # elsewhere those paths mean nothing special
    autostart.enable([program], environment={}, platform="linux")
    assert autostart.is_enabled("linux")


def test_a_macos_app_on_a_second_disk_may_start_at_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every /Volumes path was refused: an app installed on a second (writable) disk too; a
    # disk image is mounted read-only
    program = "/Volumes/Media/Applications/ALU Desk.app/Contents/MacOS/alu-client"
    asked: list[str] = []

    def statvfs(path: str, read_only: bool) -> os.statvfs_result:
        asked.append(path)
        flag = os.ST_RDONLY if read_only else 0
        return os.statvfs_result((4096, 4096, 1, 1, 1, 1, 1, 1, flag, 255))

    monkeypatch.setattr(os, "statvfs", lambda path: statvfs(path, read_only=False))
    assert not autostart.transient_location(program)
    monkeypatch.setattr(os, "statvfs", lambda path: statvfs(path, read_only=True))
    assert autostart.transient_location(program)
    assert asked == ["/Volumes/Media", "/Volumes/Media"]


def test_settings_says_to_move_the_app_to_applications_first(
    qtbot: Any,
    desk: Services,
    settings: AppSettings,
    tasks: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(autostart, "_platform", lambda platform=None: "macos")
    # an entry written earlier from the disk image, since ejected: it starts nothing
    agent = tmp_path / "home" / "Library" / "LaunchAgents" / "africa.alu.desk.plist"
    agent.parent.mkdir(parents=True)
    written = plistlib.dumps({"Label": "africa.alu.desk", "ProgramArguments": [TRANSIENT[0]]})
    agent.write_bytes(written)
    settings.start_at_login = True
    dialog = SettingsDialog(desk, settings, tasks, autostart_command=[TRANSIENT[0]])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.is_loaded)
    page = dialog.general
    assert not page.start_at_login.isChecked()  # not shown as on: nothing starts at login
    click(qtbot, page.start_at_login)
    press_ok_expecting_error(qtbot, dialog, page.login_error)
    assert page.login_error.text() == (
        "ALU Desk is running from its disk image or from a temporary copy, which is gone "
        "after a restart. Move ALU Desk to Applications first, then turn on Start ALU Desk "
        "when I log in."
    )
    assert agent.read_bytes() == written  # nothing written


# --- Transfers --------------------------------------------------------------------------------


def test_transfers_round_trip_with_a_schedule(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "Videos ALU"
    folder.mkdir()
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentWidget(page)
    assert page.download_dir.text() == str(desk.paths.downloads_dir)
    type_into(qtbot, page.download_dir.edit, str(folder))
    type_into(qtbot, page.max_downloads, "5")
    type_into(qtbot, page.max_uploads, "3")
    type_into(qtbot, page.limit_down.edit, "2M")
    type_into(qtbot, page.limit_up.edit, "500 kbit/s")

    click(qtbot, page.add_period)
    qtbot.waitUntil(lambda: page.period_dialog is not None and page.period_dialog.isVisible())
    period = page.period_dialog
    assert isinstance(period, ScheduleRuleDialog)
    assert [b.isChecked() for b in period.days] == [True] * 5 + [False] * 2  # weekdays
    type_into(qtbot, period.down.edit, "1M")
    click(qtbot, period.buttons.button(period.buttons.StandardButton.Ok))
    qtbot.waitUntil(lambda: page.schedule_model.rowCount() == 1)
    press_ok(qtbot, dialog)

    assert settings.download_dir == folder
    assert (settings.max_downloads, settings.max_uploads) == (5, 3)
    assert settings.limit_down == 250_000 and settings.limit_up == 62_500
    schedule = settings.schedule
    assert schedule is not None
    assert schedule.rules == (
        ScheduleRule(
            frozenset(range(5)), datetime.time(7), datetime.time(19), down_bps=125_000, up_bps=None
        ),
    )
    # outside the periods, the plain limits
    assert (schedule.default_down, schedule.default_up) == (250_000, 62_500)

    again = open_dialog(qtbot, desk, settings, tasks)
    p = again.transfers
    assert (p.max_downloads.value(), p.max_uploads.value()) == (5, 3)
    assert p.limit_down.edit.text() == "2 Mbit/s" and p.limit_up.edit.text() == "500 kbit/s"
    assert p.schedule_model.rowCount() == 1
    p.schedule_view.selectRow(0)
    click(qtbot, p.remove_period)
    type_into(qtbot, p.limit_up.edit, "")
    press_ok(qtbot, again)
    assert settings.schedule is None and settings.limit_up is None
    assert settings.limit_down == 250_000


def test_a_bad_limit_shows_at_the_field_and_nothing_is_applied(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentIndex(0)
    type_into(qtbot, page.limit_down.edit, "fast please")
    type_into(qtbot, page.max_downloads, "6")
    press_ok_expecting_error(qtbot, dialog, page.limit_down.error)
    assert dialog.tabs.currentWidget() is page
    assert "fast please" in page.limit_down.error.text()
    assert not page.limit_up.error.isVisible()
    tasks.wait_for_done()
    assert settings.max_downloads == 2 and settings.limit_down is None
    # Typing again clears the message; a good rate goes through.
    type_into(qtbot, page.limit_down.edit, "1.5 MB/s")
    assert not page.limit_down.error.isVisible()
    press_ok(qtbot, dialog)
    assert settings.limit_down == 1_500_000 and settings.max_downloads == 6


def test_a_refused_entry_takes_the_focus_and_is_said_to_a_screen_reader(
    qtbot: Any,
    desk: Services,
    settings: AppSettings,
    tasks: TaskRunner,
    tmp_path: Path,
    announced: list[tuple[str, str]],
) -> None:
    # OK "did nothing": the focus stayed on it and the message was a red line no reader read
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentWidget(page)
    type_into(qtbot, page.limit_down.edit, "fast")
    dialog.tabs.setCurrentWidget(dialog.general)
    press_ok_expecting_error(qtbot, dialog, page.limit_down.error)
    message = page.limit_down.error.text()
    assert "“fast” is not a speed" in message
    assert dialog.focusWidget() is page.limit_down.edit
    assert page.limit_down.edit.accessibleDescription() == message
    assert announced[-1] == (message, "Assertive")
    type_into(qtbot, page.limit_down.edit, "2M")  # typing again clears it
    assert page.limit_down.edit.accessibleDescription() == ""
    # refused by the worker's check on disk: the same
    type_into(qtbot, page.download_dir.edit, str(tmp_path / "nowhere"))
    dialog.tabs.setCurrentWidget(dialog.network)
    press_ok_expecting_error(qtbot, dialog, page.download_dir.error)
    assert dialog.tabs.currentWidget() is page
    assert dialog.focusWidget() is page.download_dir.edit
    assert "does not exist" in page.download_dir.edit.accessibleDescription()
    assert announced[-1] == (page.download_dir.error.text(), "Assertive")


def test_the_error_lines_read_on_a_dark_palette(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner, dark_palette: QPalette
) -> None:
    # #c62828 was 2.5:1 on a dark window
    dialog = open_dialog(qtbot, desk, settings, tasks)
    error = dialog.transfers.limit_down.error
    error.show_message("“fast” is not a speed")
    palette = error.palette()
    text, ground = (
        palette.color(r) for r in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Window)
    )
    assert ground == QColor(DARK["Window"])
    assert contrast(text, ground) >= 4.5, text.name()


def test_a_bad_schedule_rate_keeps_the_period_form_open(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentWidget(page)
    click(qtbot, page.add_period)
    qtbot.waitUntil(lambda: page.period_dialog is not None and page.period_dialog.isVisible())
    period = page.period_dialog
    assert period is not None
    for box in period.days[:5]:
        click(qtbot, box)
    type_into(qtbot, period.up.edit, "lots")
    click(qtbot, period.buttons.button(period.buttons.StandardButton.Ok))
    assert period.isVisible()
    assert period.days_error.isVisible() and period.up.error.isVisible()
    # the first error's field: the days, at the first box of the row (the locale's first day)
    first = period.days[week_days()[0]]
    assert period.focusWidget() is first
    assert first.accessibleDescription() == "Tick at least one day."
    assert "“lots” is not a speed" in period.up.edit.accessibleDescription()
    click(qtbot, period.days[6])
    type_into(qtbot, period.up.edit, "256k")
    with qtbot.waitSignal(period.finished):
        click(qtbot, period.buttons.button(period.buttons.StandardButton.Ok))
    rule = page.schedule_model.item_at(0)
    assert rule is not None and rule.days == frozenset({6}) and rule.up_bps == 32_000


def test_periods_move_up_and_down_by_keyboard_and_the_order_is_the_engines(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    # Friday prayers unlimited, added after the weekdays' 2 Mbit/s: it never won
    weekdays = ScheduleRule(range(5), datetime.time(7), datetime.time(19), 250_000, None)
    prayers = ScheduleRule({4}, datetime.time(12), datetime.time(14), None, None)
    settings.schedule = Schedule([weekdays, prayers])
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.schedule_model.rowCount() == 2)
    assert not page.up_period.isEnabled() and not page.down_period.isEnabled()  # none selected
    page.schedule_view.setFocus()
    page.schedule_view.selectRow(1)
    assert page.up_period.isEnabled() and not page.down_period.isEnabled()
    qtbot.keyClick(page.schedule_view, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: page.schedule_model.items() == [prayers, weekdays])
    assert page._selected_period() == 0  # the moved period stays selected
    assert not page.up_period.isEnabled() and page.down_period.isEnabled()
    press_ok(qtbot, dialog)

    schedule = settings.schedule
    assert schedule is not None and schedule.rules == (prayers, weekdays)
    friday_noon = datetime.datetime(2025, 5, 2, 13, 0)
    assert schedule.limits_at(friday_noon) == (None, None)
    assert schedule.limits_at(friday_noon - datetime.timedelta(days=1)) == (250_000, None)

    again = open_dialog(qtbot, desk, settings, tasks)
    p = again.transfers
    qtbot.waitUntil(lambda: p.schedule_model.rowCount() == 2)
    p.schedule_view.selectRow(0)
    click(qtbot, p.down_period)
    assert p.schedule_model.items() == [weekdays, prayers]


def test_a_period_from_a_time_to_the_same_time_is_said_as_a_whole_day(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    dialog.tabs.setCurrentWidget(page)
    click(qtbot, page.add_period)
    qtbot.waitUntil(lambda: page.period_dialog is not None and page.period_dialog.isVisible())
    period = page.period_dialog
    assert period is not None
    assert "runs past midnight" in period.span_note.text()
    period.end.setTime(QTime(7, 0))
    qtbot.waitUntil(lambda: "whole day" in period.span_note.text())
    with qtbot.waitSignal(period.finished):
        click(qtbot, period.buttons.button(period.buttons.StandardButton.Ok))
    rule = page.schedule_model.item_at(0)
    assert rule is not None and rule.start == rule.end == datetime.time(7)
    # as the schedule reads it: 24 hours from Monday 07:00
    schedule = Schedule([rule])
    assert schedule.rule_at(datetime.datetime(2025, 5, 6, 6, 59)) is rule  # Tuesday morning
    assert page.schedule_model.index(0, 2).data() == "07:00 next day"


def test_a_missing_download_folder_is_refused_before_anything_is_written(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    click(qtbot, dialog.general.notify)
    type_into(qtbot, page.download_dir.edit, str(tmp_path / "nowhere"))
    press_ok_expecting_error(qtbot, dialog, page.download_dir.error)
    assert "does not exist" in page.download_dir.error.text()
    assert dialog.tabs.currentWidget() is page
    assert settings.notify is True  # nothing written


def test_paths_and_addresses_read_left_to_right_in_an_arabic_layout(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    dialog = open_dialog(qtbot, desk, settings, tasks)
    dialog.setLayoutDirection(Qt.LayoutDirection.RightToLeft)  # as the app in Arabic
    assert dialog.general.layoutDirection() == Qt.LayoutDirection.RightToLeft
    ltr = Qt.LayoutDirection.LeftToRight
    assert dialog.transfers.download_dir.edit.layoutDirection() == ltr
    assert dialog.network.ca_bundle.edit.layoutDirection() == ltr
    assert dialog.network.proxy.layoutDirection() == ltr


def test_schedule_model(qtmodeltester: Any) -> None:
    model = ScheduleModel()
    model.set_items(
        [
            ScheduleRule(
                frozenset({0, 1, 2, 3, 4}), datetime.time(7), datetime.time(19), 250e3, None
            ),
            ScheduleRule(frozenset({5, 6}), datetime.time(22), datetime.time(0), None, 1e5),
        ]
    )
    qtmodeltester.check(model)
    assert model.move(0, 1) == 1 and model.move(1, 5) == 1 and model.move(-1, 1) == -1
    qtmodeltester.check(model)
    model.move(1, -1)
    assert model.index(1, 2).data() == "24:00"
    assert model.index(0, 3).data() == "2 Mbit/s"
    assert model.index(0, 4).data() == "Unlimited"


# --- Network ----------------------------------------------------------------------------------


def test_network_round_trip_and_ca_bundle_check(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner, tmp_path: Path
) -> None:
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("this is not a certificate\n")
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.network
    dialog.tabs.setCurrentWidget(page)
    assert page.allow_http.isChecked() and page.http_warning.isVisible()
    type_into(qtbot, page.proxy, "proxy.newsroom:3128")
    press_ok_expecting_error(qtbot, dialog, page.proxy_error)
    type_into(qtbot, page.proxy, "socks5://proxy.newsroom:1080")  # not spoken by ALU Desk
    press_ok_expecting_error(qtbot, dialog, page.proxy_error)
    assert "not a proxy address" in page.proxy_error.text()
    type_into(qtbot, page.proxy, "http://desk:s3cret@proxy.newsroom.local:3128")
    press_ok_expecting_error(qtbot, dialog, page.proxy_error)
    assert "address alone" in page.proxy_error.text()
    assert "s3cret" not in page.proxy_error.text()
    type_into(qtbot, page.proxy, "http://proxy.newsroom.local:3128")
    type_into(qtbot, page.ca_bundle.edit, str(not_pem))
    press_ok_expecting_error(qtbot, dialog, page.ca_bundle.error)
    assert "PEM" in page.ca_bundle.error.text()
    type_into(qtbot, page.ca_bundle.edit, str(tmp_path / "missing.pem"))
    press_ok_expecting_error(qtbot, dialog, page.ca_bundle.error)
    assert "no file" in page.ca_bundle.error.text()
    type_into(qtbot, page.ca_bundle.edit, certifi.where())
    click(qtbot, page.allow_http)
    assert not page.http_warning.isVisible()
    press_ok(qtbot, dialog)
    profile = Profiles(desk.store).require(PROFILE)
    assert profile.proxy == "http://proxy.newsroom.local:3128"
    assert profile.ca_bundle == certifi.where()
    assert profile.allow_http is False
    assert profile.url == "http://127.0.0.1:8750" and profile.username == "ktn"


def test_the_proxys_login_is_kept_in_the_keyring_and_never_shown(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    key = Profiles(desk.store).require(PROFILE).secret_key
    try:
        dialog = open_dialog(qtbot, desk, settings, tasks)
        page = dialog.network
        dialog.tabs.setCurrentWidget(page)
        assert page.proxy_user.text() == "" and page.proxy_password.placeholderText() == ""
        assert page.proxy_password.echoMode() == QLineEdit.EchoMode.Password
        type_into(qtbot, page.proxy, "http://proxy.newsroom.local:3128")
        type_into(qtbot, page.proxy_user, "desk")
        type_into(qtbot, page.proxy_password, "proxy-s3cret")
        press_ok(qtbot, dialog)
        assert load_proxy_login(desk.secrets, key) == ProxyLogin("desk", "proxy-s3cret")
        assert Profiles(desk.store).require(PROFILE).proxy == "http://proxy.newsroom.local:3128"

        again = open_dialog(qtbot, desk, settings, tasks)
        page = again.network
        assert page.proxy_user.text() == "desk"
        assert page.proxy_password.text() == ""  # the kept password is never shown...
        assert "kept" in page.proxy_password.placeholderText()  # ...only said to be there
        press_ok(qtbot, again)  # the password left empty: the kept one stays
        assert load_proxy_login(desk.secrets, key) == ProxyLogin("desk", "proxy-s3cret")

        third = open_dialog(qtbot, desk, settings, tasks)
        type_into(qtbot, third.network.proxy_user, "")  # no user name: no login
        press_ok(qtbot, third)
        assert load_proxy_login(desk.secrets, key) is None
    finally:
        desk.secrets.delete(proxy_key_for(key))  # the memory store is the whole process's


# --- live application -------------------------------------------------------------------------


def test_ok_applies_limits_schedule_and_caps_to_a_running_queue(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    queue = desk.start_engine(sync=False, media=False)
    assert queue.limits["download"].rate_bps is None
    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    type_into(qtbot, page.limit_down.edit, "2M")
    type_into(qtbot, page.limit_up.edit, "1M")
    type_into(qtbot, page.max_downloads, "4")
    press_ok(qtbot, dialog)
    assert queue.caps == {"download": 4, "upload": 1}
    assert queue.limits["download"].rate_bps == 250_000
    assert queue.limits["upload"].rate_bps == 125_000

    # A period covering the whole week (from 00:00 to 00:00 is a whole day) wins at once.
    again = open_dialog(qtbot, desk, settings, tasks)
    p = again.transfers
    click(qtbot, p.add_period)
    qtbot.waitUntil(lambda: p.period_dialog is not None and p.period_dialog.isVisible())
    period = p.period_dialog
    assert period is not None
    for box in period.days[5:]:
        click(qtbot, box)
    for edit in (period.start, period.end):  # the hours typed over: 00:00
        edit.setFocus()
        edit.setSelectedSection(edit.Section.HourSection)
        qtbot.keyClicks(edit, "00")
    type_into(qtbot, period.down.edit, "512k")
    with qtbot.waitSignal(period.finished):
        click(qtbot, period.buttons.button(period.buttons.StandardButton.Ok))
    press_ok(qtbot, again)
    assert queue.schedule is not None
    assert queue.limits["download"].rate_bps == 64_000
    assert queue.limits["upload"].rate_bps is None


def test_the_transfers_tabs_quick_limit_and_the_dialog_are_one_limit(
    qtbot: Any, desk: Services, settings: AppSettings, tasks: TaskRunner
) -> None:
    """Chosen in the Transfers tab, the dialog shows it (its OK used to undo it); set in the
    dialog, the tab's box shows it."""
    queue = desk.start_engine(sync=False, media=False)
    panel = TransfersPanel(queue, tasks=tasks, settings=settings)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    box = panel.limit_box
    box.setFocus()
    for _ in range(2):  # Unlimited → 512 kbit/s → 1 Mbit/s
        qtbot.keyClick(box, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: settings.limit_up == 125_000)
    tasks.wait_for_done()
    assert queue.limits["upload"].rate_bps == 125_000

    dialog = open_dialog(qtbot, desk, settings, tasks)
    page = dialog.transfers
    assert page.limit_down.edit.text() == "1 Mbit/s" and page.limit_up.edit.text() == "1 Mbit/s"
    type_into(qtbot, page.limit_down.edit, "5M")
    press_ok(qtbot, dialog)
    assert queue.limits["upload"].rate_bps == 125_000  # the OK kept the tab's choice
    qtbot.waitUntil(lambda: box.currentText() == "↓ 5 Mbit/s  ↑ 1 Mbit/s", timeout=3000)
