"""Settings › Hot folders: folders added with defaults, switched off and removed through the
dialog (engine stopped, then running), and a file that could not be sent taken again with
Retry."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtWidgets import QApplication

from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.watch import HotFolders
from alu_client.ui import formats
from alu_client.ui.formats import FSI, PDI
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import OBJECT_ROLE
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.settings import SettingsDialog
from alu_client.ui.views.settings_apply import FolderRow, not_running
from alu_client.ui.views.settings_hot import HotFolderDialog
from alu_client.ui.views.settings_models import (
    COL_DEFAULTS,
    COL_ERRORS,
    COL_FOLDER_ON,
    COL_SENT,
    HotFoldersModel,
    WatchErrorsModel,
)
from tests.gui.test_settings import PROFILE, click, make_desk, open_dialog, press_ok
from tests.support.waiting import wait_until


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
def tasks(desk: Services) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


def open_hot(qtbot: Any, desk: Services, tasks: TaskRunner) -> SettingsDialog:
    d = open_dialog(qtbot, desk, AppSettings(desk.store, desk.paths.downloads_dir), tasks)
    d.tabs.setCurrentWidget(d.hot_page)
    return d


def select(qtbot: Any, view: Any, row: int) -> None:
    rect = view.visualRect(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: [i.row() for i in view.selectionModel().selectedRows()] == [row])


def add_through_form(qtbot: Any, dialog: SettingsDialog, folder: Path) -> HotFolderDialog:
    page = dialog.hot_page
    click(qtbot, page.add_button)
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible())
    form = page.dialog
    assert form is not None
    qtbot.keyClicks(form.folder.edit, str(folder))
    return form


def test_the_defaults_column_names_things_as_the_feed_does(qapp: QApplication) -> None:
    """It showed the stored keys and codes, "category: politics, country: SN, language: fr,
    priority: urgent", in every language. Now the item detail's labels and the Feed's words
    (the category as typed: the hub keeps it so)."""
    model = HotFoldersModel()
    model.set_items(
        [
            FolderRow(
                1,
                Path("/srv/inbox"),
                True,
                {"priority": "urgent", "category": "politics", "language": "fr", "country": "SN"},
            ),
            FolderRow(2, Path("/srv/other"), True, {}),
        ]
    )

    def shown(row: int) -> str:
        return str(model.index(row, COL_DEFAULTS).data()).replace(FSI, "").replace(PDI, "")

    assert shown(0) == "Language: French · Category: politics · Country: Senegal · Priority: Urgent"
    assert shown(1) == "—"
    install_translators(qapp, "fr")
    assert shown(0) == (
        "Langue : Français · Rubrique : politics · Pays : Sénégal · Priorité : Urgent"
    )
    install_translators(qapp, "ar")
    assert not re.search(r"\b(fr|urgent|language|priority)\b", shown(0))
    assert QCoreApplication.translate("ItemsModel", "Urgent") in shown(0)


def test_add_a_folder_with_defaults_then_switch_off_and_remove(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    dialog = open_hot(qtbot, desk, tasks)
    form = add_through_form(qtbot, dialog, inbox)
    form.language.setFocus()
    qtbot.keyClick(form.language, Qt.Key.Key_End)  # Arabic
    qtbot.keyClicks(form.category, "politics")
    qtbot.keyClicks(form.country, "Kenya")
    form.priority.setFocus()
    qtbot.keyClick(form.priority, Qt.Key.Key_End)  # flash
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert form.isVisible() and "two-letter" in form.error.text()
    form.country.clear()
    qtbot.keyClicks(form.country, "ke")
    with qtbot.waitSignal(form.finished):
        click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert dialog.hot_page.model.rowCount() == 1
    press_ok(qtbot, dialog)

    hot = HotFolders(desk.store, PROFILE, not_running)
    [folder] = hot.list_folders()
    assert folder.path == inbox.resolve() and folder.enabled
    assert folder.defaults == {
        "language": "ar",
        "category": "politics",
        "country": "KE",
        "priority": "flash",
    }

    # The engine runs now: the dialog works on its hot folders.
    desk.start_engine(sync=False, media=False)
    assert desk.hot_folders is not None
    again = open_hot(qtbot, desk, tasks)
    assert again.hot is desk.hot_folders
    page = again.hot_page
    view = page.view
    rect = view.visualRect(page.model.index(0, COL_FOLDER_ON))
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y())
    )
    qtbot.waitUntil(lambda: not page.model.items()[0].enabled)
    press_ok(qtbot, again)
    assert desk.hot_folders.folder(folder.id).enabled is False

    third = open_hot(qtbot, desk, tasks)
    select(qtbot, third.hot_page.view, 0)
    click(qtbot, third.hot_page.remove_button)
    press_ok(qtbot, third)
    assert desk.hot_folders.list_folders() == []


def test_the_same_folder_twice_is_refused(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    HotFolders(desk.store, PROFILE, not_running).add_folder(inbox)
    dialog = open_hot(qtbot, desk, tasks)
    qtbot.waitUntil(lambda: dialog.hot_page.model.rowCount() == 1)
    form = add_through_form(qtbot, dialog, inbox)
    form.country.setFocus()
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert form.isVisible() and "already a hot folder" in form.folder.error.text()
    assert form.focusWidget() is form.folder.edit  # at the folder, which says why
    assert form.folder.edit.accessibleDescription() == form.folder.error.text()
    # a default the hub would refuse: at its own field
    form.folder.set_text(str(tmp_path))
    qtbot.keyClicks(form.country, "Kenya")
    click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
    assert "two-letter code" in form.error.text()
    assert form.focusWidget() is form.country
    assert form.country.accessibleDescription() == form.error.text()


def test_the_folder_labels_key_reaches_the_folder_box(qtbot: Any, tmp_path: Path) -> None:
    """Alt+F ("&Folder:") put the focus on the folder field's container, which takes none:
    it stayed in the field that had it, and the path typed went there."""
    form = HotFolderDialog(set())
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    form.category.setFocus()
    qtbot.waitUntil(form.category.hasFocus)
    qtbot.keyClick(form.category, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    assert form.folder.edit.hasFocus()
    qtbot.keyClicks(form.folder.edit, str(tmp_path))
    assert form.folder.text() == str(tmp_path) and form.category.text() == ""


def test_files_not_sent_are_listed_and_retried(
    qtbot: Any, qtmodeltester: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    scanner = HotFolders(desk.store, PROFILE, not_running)
    scanner.add_folder(inbox, settle_seconds=0)
    (inbox / "floods.mp4").write_bytes(b"\0" * 4096)
    (inbox / "floods.json").write_text("{ not json")

    def errors() -> int:
        scanner.scan_now()
        return sum(1 for f in scanner.files(scanner.list_folders()[0].id) if f.state == "error")

    wait_until(errors, timeout=10, what="the bad sidecar reported")
    dialog = open_hot(qtbot, desk, tasks)
    page = dialog.hot_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.model.index(0, COL_ERRORS).data() == "1"
    assert page.model.index(0, COL_SENT).data() == "0"
    qtmodeltester.check(page.model)
    select(qtbot, page.view, 0)
    qtbot.waitUntil(lambda: page.errors_model.rowCount() == 1)
    qtmodeltester.check(page.errors_model)
    assert page.errors_model.index(0, 0).data() == formats.isolated("floods.mp4")
    assert page.errors_model.index(0, 1).data()  # what to fix, in words
    assert not page.retry_button.isEnabled()
    select(qtbot, page.errors_view, 0)
    file = page.errors_model.index(0, 0).data(OBJECT_ROLE)
    click(qtbot, page.retry_button)
    qtbot.waitUntil(lambda: page.errors_model.rowCount() == 0)
    assert page.model.index(0, COL_ERRORS).data() == "0"
    assert all(f.id != file.id for f in scanner.files(file.folder_id))


def test_models_without_rows(qtmodeltester: Any) -> None:
    folders, errors = HotFoldersModel(), WatchErrorsModel()
    qtmodeltester.check(folders)
    qtmodeltester.check(errors)
    assert folders.headerData(0, Qt.Orientation.Horizontal) == "Folder"
    assert errors.headerData(1, Qt.Orientation.Horizontal) == "Problem"


def test_another_profiles_hot_folder_is_refused_in_the_users_language(
    qtbot: Any, qapp: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    """The dialog knows this profile's folders only; another hub profile's was refused at the
    save by the core, whose English reached the French Settings as it was."""
    from alu_client.ui.i18n import install_translators

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    HotFolders(desk.store, "other-hub", not_running).add_folder(inbox)
    install_translators(qapp, "fr")
    try:
        dialog = open_hot(qtbot, desk, tasks)
        form = add_through_form(qtbot, dialog, inbox)
        with qtbot.waitSignal(form.finished):
            click(qtbot, form.buttons.button(form.buttons.StandardButton.Ok))
        click(qtbot, dialog.ok_button)
        page = dialog.hot_page
        qtbot.waitUntil(lambda: bool(page.message.text()))
        said = page.message.text()
        assert "already a hot folder" not in said, said
        assert "déjà un dossier surveillé" in said and "other-hub" in said, said
    finally:
        install_translators(qapp, "en")


def test_a_folder_that_cannot_be_watched_says_why(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    # an unplugged drive, a share away: in the log only; Settings showed the folder as fine
    from PySide6.QtGui import QIcon

    from alu_client.ui.views.settings_models import COL_FOLDER

    share = tmp_path / "share"
    share.mkdir()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    scanner = HotFolders(desk.store, PROFILE, not_running, video_problem=None)
    scanner.add_folder(inbox, settle_seconds=0)
    scanner.add_folder(share, settle_seconds=0)
    share.rmdir()
    scanner.scan_now()
    dialog = open_hot(qtbot, desk, tasks)
    page = dialog.hot_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    said = (
        f"The hot folder {share} is not there (a drive unplugged, a share not mounted?): its"
        " files are taken once it is back."
    )
    assert page.problem.isVisibleTo(page) and page.problem.text() == said  # none selected: all
    gone = page.model.index(1, COL_FOLDER)
    assert gone.data(Qt.ItemDataRole.ToolTipRole) == said
    assert isinstance(gone.data(Qt.ItemDataRole.DecorationRole), QIcon)
    assert page.model.index(0, COL_FOLDER).data(Qt.ItemDataRole.DecorationRole) is None
    select(qtbot, page.view, 0)  # the folder that works
    assert not page.problem.isVisibleTo(page)
    select(qtbot, page.view, 1)
    assert page.problem.text() == said


class _Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def two_workstations(desk: Services, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """This desk and another workstation (a store of its own, its own clock) watching one
    shared hot folder: ``shared``, ``folder`` (this desk's), ``here``, ``other``, ``mine``,
    ``theirs`` (the clocks)."""
    from alu_client.core.store import Store
    from alu_client.core.transfers.queue import TransferQueue

    shared = tmp_path / "nas" / "hot"
    shared.mkdir(parents=True)
    queue = TransferQueue(desk.store)

    def enqueue(path: Path, metadata: dict[str, str], folder: Any) -> int:
        return queue.add_upload(path, "https://hub.example/api/v1/uploads/", metadata)

    mine, theirs = _Clock(), _Clock()
    here = HotFolders(desk.store, PROFILE, enqueue, clock=mine, video_problem=None)
    other_store = Store(tmp_path / "other" / "library.sqlite3")
    other = HotFolders(other_store, PROFILE, lambda *_a: 7, clock=theirs, video_problem=None)
    try:
        folder = here.add_folder(shared, settle_seconds=0)
        other.add_folder(shared, settle_seconds=0)
        yield SimpleNamespace(
            shared=shared, folder=folder, here=here, other=other, mine=mine, theirs=theirs
        )
    finally:
        other_store.close()


def taken_over_by_the_other(ws: SimpleNamespace, name: str) -> None:
    """A clip queued here, then taken over there while this workstation sleeps past the
    stale time (this one learns it at its next scan)."""
    (ws.shared / name).write_bytes(os.urandom(4000))
    ws.here.scan_now()
    ws.here.scan_now()  # queued here; this workstation then sleeps past the stale time
    ws.other.scan_now()
    ws.other.scan_now()  # (settled, its claim seen there)
    ws.theirs.now += 600
    ws.other.scan_now()  # unchanged for the stale time: taken over there


def sent_by_the_other(ws: SimpleNamespace, *names: str) -> None:
    """Clips the other workstation takes first."""
    for name in names:
        (ws.shared / name).write_bytes(os.urandom(4000))
    ws.other.scan_now()
    ws.other.scan_now()


def test_files_another_workstation_sends_are_shown_and_a_taken_over_one_is_no_error(
    qtbot: Any, qapp: Any, qtmodeltester: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    """A hot folder shared by two workstations: the clip the other one took over from this
    one was listed among the files not sent, with Retry (it would have been sent twice), and
    the one the other is sending was said in the log only (outside review). Both are listed
    apart now, as being sent by the other workstation, in the user's language."""
    import socket

    with two_workstations(desk, tmp_path) as ws:
        taken_over_by_the_other(ws, "taken.mp4")
        sent_by_the_other(ws, "theirs.mp4")
        ws.mine.now += 60
        ws.here.scan_now()  # awake: its upload of taken.mp4 canceled
    here, folder = ws.here, ws.folder
    assert {f.path.name: f.state for f in here.files(folder.id)} == {"taken.mp4": "taken_over"}

    dialog = open_hot(qtbot, desk, tasks)
    page = dialog.hot_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.model.index(0, COL_ERRORS).data() == "0"
    assert not page.elsewhere_view.isVisibleTo(page)  # (no folder selected)
    select(qtbot, page.view, 0)
    assert page.errors_model.rowCount() == 0  # not "not sent", no Retry for it
    assert page.elsewhere_view.isVisibleTo(page) and page.elsewhere_label.isVisibleTo(page)
    qtmodeltester.check(page.elsewhere_model)
    host = socket.gethostname()

    def shown() -> dict[str, str]:
        m = page.elsewhere_model
        return {
            str(m.index(r, 0).data()).replace(FSI, "").replace(PDI, ""): str(m.index(r, 1).data())
            for r in range(m.rowCount())
        }

    assert shown() == {
        "taken.mp4": f"taken.mp4 was taken over by {host}, another workstation watching this"
        " folder, while this one was asleep or off the network: it is sent from there, and its"
        " upload here was canceled. Nothing needs to be done.",
        "theirs.mp4": f"theirs.mp4 is being sent by {host}, another workstation watching this"
        " folder; it is not sent from here.",
    }
    install_translators(qapp, "fr")
    try:
        said = shown()
        assert said["theirs.mp4"].startswith(f"theirs.mp4 est en cours d’envoi par {host}")
        assert said["taken.mp4"].startswith(f"taken.mp4 a été repris par {host}")
    finally:
        install_translators(qapp, "en")


def test_the_files_another_workstation_sends_read_well(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    """The list of files another workstation sends was cramped (review of diff34): the empty
    list of files not sent took as much room and it showed three rows, its date and time
    wrapped onto two lines, and rows went by name, so the clip taken over from this
    workstation (the one a user asks about), named in Arabic, came last, below the fold. It
    comes first now, then the latest; the date fits its column, the name its own, and an
    empty list of files not sent leaves the room to it."""
    taken = "نشرة_الأخبار.mp4"  # (after the Latin names by name)
    with two_workstations(desk, tmp_path) as ws:
        taken_over_by_the_other(ws, taken)
        sent_by_the_other(ws, "a-0.mp4", "a-1.mp4")
        ws.mine.now += 60
        ws.here.scan_now()  # awake: the clip taken over, and the two sent there, found
        sent_by_the_other(ws, "b-later.mp4")
        ws.here.scan_now()  # found later
    here, folder = ws.here, ws.folder
    listed = [e.path.name for e in here.sent_elsewhere(folder.id)]
    assert listed == [taken, "b-later.mp4", "a-0.mp4", "a-1.mp4"]  # (`alu watch list` too)

    dialog = open_hot(qtbot, desk, tasks)
    page = dialog.hot_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    dialog.resize(900, 650)  # (the reviewer's size; the dialog opens smaller)
    select(qtbot, page.view, 0)
    view, model = page.elsewhere_view, page.elsewhere_model
    assert page.errors_model.rowCount() == 0
    names = [str(model.index(r, 0).data()).strip(FSI + PDI) for r in range(model.rowCount())]
    assert names == listed

    def hidden() -> list[int]:  # (rows not whole in the list, once laid out)
        shown = view.viewport().rect()
        return [r for r in range(4) if not shown.contains(view.visualRect(model.index(r, 1)))]

    with contextlib.suppress(qtbot.TimeoutError):  # (laid out after the resize; said below)
        qtbot.waitUntil(lambda: hidden() == [], timeout=1000)
    assert hidden() == []
    when, file = 2, 0  # (the columns)
    assert view.columnWidth(when) >= view.sizeHintForColumn(when) > 0  # one line
    assert view.columnWidth(file) >= view.sizeHintForColumn(file) > 0  # the whole name
    assert not view.wordWrap()  # (a long sentence is not cut in two lines of a row)
    # the empty list of files not sent: a blank line under its header
    errors = page.errors_view
    assert errors.height() <= (
        errors.horizontalHeader().height()
        + errors.verticalHeader().defaultSectionSize()
        + 2 * errors.frameWidth()
    )
