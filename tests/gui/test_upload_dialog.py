"""Uploading from the desktop, as a user does it: files dropped (a real QDropEvent), the form
prefilled from the name and the probe, mistakes shown at the field, and an upload that reaches
a real hub on loopback and comes back in the library."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDateTime, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from alu_client.core import media
from alu_client.core.services import Services
from alu_client.core.transfers.queue import TransferQueue
from alu_client.ui import formats
from alu_client.ui.i18n import install_translators
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views import upload as upload_module
from alu_client.ui.views import upload_files
from alu_client.ui.views.upload import DropTarget, UploadDialog, collect_files, open_upload_for_urls
from alu_client.ui.views.upload_files import Inspection
from alu_client.ui.views.upload_form import UploadEntry
from tests.gui.conftest import contrast
from tests.support.livehub import LiveHub

PASSWORD = "pw-upload-gui"


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path) -> Iterator[Services]:
    """A workstation signed in to the live hub as member ``ktn`` (Kenya), engine running."""
    live_hub.member("ktn", PASSWORD, country="KE")
    root = tmp_path / "desk"
    services = live_hub.workstation(root, "ktn", PASSWORD)
    services.start_engine(hot_folders=False, rules=False)
    yield services
    services.stop()


@pytest.fixture
def tasks(qapp: QApplication) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


@pytest.fixture
def footage(tmp_path: Path, clip: Path) -> Path:
    """The session's real clip under a camera-like name."""
    path = tmp_path / "footage" / "2026-11-22_nairobi-floods_v2.mp4"
    path.parent.mkdir()
    shutil.copy(clip, path)
    return path


def engine(services: Services) -> TransferQueue:
    assert services.queue is not None
    return services.queue


def open_dialog(qtbot: Any, services: Services, tasks: TaskRunner, *files: Path) -> UploadDialog:
    dialog = UploadDialog(services, tasks, list(files))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    # the probe and the thumbnail arrive from the workers
    qtbot.waitUntil(lambda: all(e.inspected for e in dialog.model.entries), timeout=20_000)
    return dialog


def retype(qtbot: Any, widget: QWidget, text: str) -> None:
    """Select what the field holds and type over it, as a user does."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(widget, text)


def uploads(services: Services) -> list[int]:
    return [t.id for t in engine(services).transfers.all(None, "upload")]


def test_collect_files_searches_folders_and_says_what_it_left_out(
    qapp: QApplication, tmp_path: Path
) -> None:
    tree = tmp_path / "card"
    (tree / "DAY1" / "B-ROLL").mkdir(parents=True)
    (tree / ".thumbs").mkdir()
    for name in ("DAY1/interview.MOV", "DAY1/B-ROLL/market.mp4", "DAY1/B-ROLL/b.mxf"):
        (tree / name).write_bytes(b"x")
    (tree / "DAY1" / "notes.txt").write_text("names of the people interviewed")
    (tree / "DAY1" / ".DS_Store").write_bytes(b"x")
    (tree / ".thumbs" / "hidden.mp4").write_bytes(b"x")
    loose = tmp_path / "loose.webm"
    loose.write_bytes(b"x")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x")
    urls = [
        QUrl.fromLocalFile(str(tree)),
        QUrl.fromLocalFile(str(loose)),
        QUrl.fromLocalFile(str(loose)),  # dropped twice: once
        QUrl.fromLocalFile(str(photo)),
        QUrl.fromLocalFile(str(tmp_path / "gone.mp4")),
        QUrl("https://example.org/clip.mp4"),
    ]
    files, skipped = collect_files(urls)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "card/DAY1/interview.MOV",
        "card/DAY1/B-ROLL/b.mxf",
        "card/DAY1/B-ROLL/market.mp4",
        "loose.webm",
    ]
    assert skipped == [
        # names and URLs isolated: they keep their order inside an Arabic sentence
        f"{formats.isolated('notes.txt')} is not a video file.",
        f"{formats.isolated('photo.jpg')} is not a video file.",
        f"{formats.isolated('gone.mp4')} was not found.",
        f"{formats.isolated('https://example.org/clip.mp4')} is not a file on this computer.",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert collect_files([QUrl.fromLocalFile(str(empty))]) == (
        [],
        [f"The folder {formats.isolated('empty')} has no video files."],
    )


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links and pipes as on a Mac")
def test_a_dropped_folders_unreadable_entries_are_said_with_why(
    qapp: QApplication, tmp_path: Path
) -> None:
    # a link loop, a link to a card no longer mounted and a pipe named .mp4 vanished from
    # the batch without a word (and a loop dropped by itself "was not found")
    card = tmp_path / "card"
    card.mkdir()
    (card / "good.mp4").write_bytes(b"x")
    (card / "A.mp4").symlink_to("B.mp4")
    (card / "B.mp4").symlink_to("A.mp4")
    (card / "dangling.mp4").symlink_to(tmp_path / "unmounted" / "gone.mp4")
    os.mkfifo(card / "pipe.mp4")
    files, skipped = collect_files([QUrl.fromLocalFile(str(card))])
    assert files == [card / "good.mp4"]
    loop = os.strerror(errno.ELOOP)
    assert skipped == [
        f"{formats.isolated('A.mp4')} could not be read ({loop}).",
        f"{formats.isolated('B.mp4')} could not be read ({loop}).",
        f"{formats.isolated('dangling.mp4')} was not found.",
        f"{formats.isolated('pipe.mp4')} is not a regular file (a pipe or a device).",
    ]
    assert collect_files([QUrl.fromLocalFile(str(card / "A.mp4"))]) == (
        [],
        [f"{formats.isolated('A.mp4')} could not be read ({loop})."],
    )


def test_the_form_is_prefilled_from_the_name_and_the_probe(
    qtbot: Any, qtmodeltester: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    entry = dialog.model.entries[0]
    assert form.title.text() == "2026 11 22 nairobi floods v2"
    assert form.country.text() == "KE"  # the member's country
    assert form.language.currentText() == "English"
    assert form.priority.currentText() == "Routine"
    assert entry.probe is not None and entry.probe.duration > 0
    info = form.info.text()
    assert formats.duration_text(entry.probe.duration) in info
    assert formats.frame_size(320, 240) in info
    pixmap = form.thumbnail.pixmap()
    assert not pixmap.isNull() and pixmap.width() > 100
    # no recording date in the clip: its file time is shown, not ticked (not sent as known)
    assert not form.recorded_known.isChecked()
    shown = form.recorded.dateTime().toSecsSinceEpoch()
    assert abs(shown - footage.stat().st_mtime) < 60
    assert not dialog.upload_button.isDefault()  # (Enter in a field does not send)
    assert dialog.windowTitle() == f"Upload {formats.isolated(footage.name)}"
    qtmodeltester.check(dialog.model)


def test_mistakes_are_shown_at_the_field_and_nothing_is_queued(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    retype(qtbot, form.title, "")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert form.shown_error("title") == "A title is needed."
    assert form.errors["title"].isVisible()
    assert form.title.hasFocus()
    assert dialog.isVisible() and not dialog.busy
    assert uploads(desk) == []
    # typing in the field takes its message away
    qtbot.keyClicks(form.title, "Nairobi floods")
    assert form.shown_error("title") == ""
    retype(qtbot, form.country, "Kenya")
    qtbot.keyClick(form.country, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert form.shown_error("country") == "The country is a two-letter code, like KE or SN."
    assert form.errors["country"].isVisible()
    assert form.shown_error("title") == ""
    assert uploads(desk) == []
    # a recording date the hub would refuse (a camera's clock a year ahead): said here, at
    # the field, before anything is sent (it failed in Transfers after the form had closed)
    retype(qtbot, form.country, "KE")
    form.recorded_known.setChecked(True)
    form.recorded.setDateTime(QDateTime.currentDateTime().addYears(1))
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert form.shown_error("recorded_at") == (
        "The recording date is in the future; check it (and the camera's clock)."
    )
    assert dialog.isVisible() and form.title.text() == "Nairobi floods"
    assert uploads(desk) == []

    # Escape cancels: asked first (details were typed), then the dialog closes, still
    # nothing queued
    def discard() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        (button,) = [b for b in box.buttons() if b.text() == "&Discard"]
        button.click()

    QTimer.singleShot(0, discard)
    qtbot.keyClick(form.country, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == UploadDialog.DialogCode.Rejected
    assert uploads(desk) == []


def test_the_recorded_date_goes_by_the_hubs_clock(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, monkeypatch: Any
) -> None:
    # the Recorded field was filled with this computer's "now": ticked on a clock a year
    # fast, the hub refused the upload once the form had closed ("not a date footage can be
    # from"), and the form blamed the camera's clock for a date it had filled in itself
    year = 365 * 86400
    monkeypatch.setattr(desk, "clock_offset", lambda: -float(year))  # (as the sync kept it)
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    assert not form.recorded_known.isChecked()
    hub_now = QDateTime.currentDateTime().addSecs(-year)
    assert abs(form.recorded.dateTime().secsTo(hub_now)) < 120
    form.recorded_known.setChecked(True)
    form.recorded.setDateTime(QDateTime.currentDateTime())  # this computer's own "now"
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    said = form.shown_error("recorded_at")
    assert said.startswith("The recording date is in the future (the hub's clock says ")
    assert said.endswith(
        "); this computer's clock is 365 days ahead of the hub's: check the date, and set the "
        "clock right in the system's date and time settings."
    )
    assert dialog.isVisible() and uploads(desk) == []


def test_a_fields_error_reads_on_a_dark_palette(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, dark_palette: QPalette
) -> None:
    # #b00020 was 1.9:1 on a dark window
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    retype(qtbot, form.title, "")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    error = form.errors["title"]
    assert error.isVisible()
    text = error.palette().color(QPalette.ColorRole.WindowText)
    assert contrast(text, dark_palette.color(QPalette.ColorRole.Window)) >= 4.5, text.name()


def test_upload_completes_and_the_item_is_published(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    retype(qtbot, form.title, "Floods cut the Nairobi-Mombasa road")
    qtbot.keyClicks(form.slug, "KENYA-FLOODS")
    qtbot.keyClicks(form.dateline, "NAIROBI, Kenya")
    qtbot.keyClicks(form.category, "environment")
    form.script.setFocus()
    qtbot.keyClicks(form.script, "Heavy rain overnight cut the main road.")
    # the clip has no recording date: its file time, shown, goes once ticked
    qtbot.mouseClick(form.recorded_known, Qt.MouseButton.LeftButton)
    assert form.recorded_known.isChecked()
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000) as queued:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        assert dialog.busy  # preparing: the form is locked, the dialog stays responsive
    (tid,) = queued.args[0]
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == UploadDialog.DialogCode.Accepted
    t = engine(desk).wait_for(tid, timeout=60)
    assert t.state == "done", t.last_error
    item_id = t.result.get("item_id")
    assert isinstance(item_id, str) and item_id
    desk.feed_sync().catch_up()
    li = desk.library.get(item_id)
    assert li is not None
    assert li.item.title == "Floods cut the Nairobi-Mombasa road"
    assert (li.item.slug, li.item.dateline, li.item.country) == (
        "KENYA-FLOODS",
        "NAIROBI, Kenya",
        "KE",
    )
    assert li.item.script == "Heavy rain overnight cut the main road."
    assert li.item.recorded_at is not None


def test_a_batch_of_two_with_apply_to_all(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, other_clip: Path
) -> None:
    second = footage.parent / "mombasa_port.mov"
    shutil.copy(other_clip, second)  # (other footage: the same bytes twice would be asked)
    dialog = open_dialog(qtbot, desk, tasks, footage, second)
    form = dialog.form
    assert dialog.files_view.isVisible() and dialog.windowTitle() == "Upload 2 files"
    assert dialog.model.rowCount() == 2
    retype(qtbot, form.title, "Kenya floods: the road")
    qtbot.keyClicks(form.dateline, "MOMBASA, Kenya")
    qtbot.keyClicks(form.category, "economy")
    form.language.setFocus()
    qtbot.keyClicks(form.language, "Fr")  # Français
    assert form.language.currentData() == "fr"
    qtbot.mouseClick(dialog.apply_all, Qt.MouseButton.LeftButton)
    # the second file now reads the same shared fields; its own title stays its own
    view = dialog.files_view
    rect = view.visualRect(dialog.model.index(1))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: form.title.text() == "mombasa port")
    assert form.dateline.text() == "MOMBASA, Kenya"
    assert form.category.text() == "economy"
    assert form.language.currentData() == "fr"
    assert view.model().index(0, 0).data() == formats.isolated("Kenya floods: the road")
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000) as queued:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    ids = queued.args[0]
    assert len(ids) == 2
    qtbot.waitUntil(lambda: not dialog.isVisible())
    items = []
    for tid in ids:
        t = engine(desk).wait_for(tid, timeout=60)
        assert t.state == "done", t.last_error
        items.append(t.result["item_id"])
    desk.feed_sync().catch_up()
    got = [desk.library.get(i) for i in items]
    assert [li.item.title for li in got if li] == ["Kenya floods: the road", "mombasa port"]
    assert {(li.item.dateline, li.item.category, li.item.language) for li in got if li} == {
        ("MOMBASA, Kenya", "economy", "fr")
    }


def drag_events(urls: list[QUrl]) -> tuple[QMimeData, QDragEnterEvent, QDragMoveEvent, QDropEvent]:
    mime = QMimeData()
    mime.setUrls(urls)
    action = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(20, 20), action, mime, buttons, mods)
    move = QDragMoveEvent(QPoint(30, 30), action, mime, buttons, mods)
    drop = QDropEvent(QPointF(30, 30), action, mime, buttons, mods)
    return mime, enter, move, drop


def test_a_real_drop_opens_the_form(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, tmp_path: Path
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.resize(400, 300)
    target = DropTarget(window)
    target.dropped.connect(lambda urls: open_upload_for_urls(desk, tasks, urls, window))
    window.show()
    qtbot.waitExposed(window)
    assert window.acceptDrops()

    # text is not taken
    text = QMimeData()
    text.setText("just words")
    refused = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        text,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()

    notes = tmp_path / "notes.txt"
    notes.write_text("who is who")
    # the folder holding the footage, and a text file beside it
    _mime, enter, move, drop = drag_events(
        [QUrl.fromLocalFile(str(footage.parent)), QUrl.fromLocalFile(str(notes))]
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted() and enter.dropAction() == Qt.DropAction.CopyAction
    QApplication.sendEvent(window, move)
    assert move.isAccepted()
    with qtbot.waitSignal(target.dropped) as dropped:
        QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    assert [u.toLocalFile() for u in dropped.args[0]] == [str(footage.parent), str(notes)]

    def dialog() -> UploadDialog | None:
        found = window.findChild(UploadDialog)
        return found if isinstance(found, UploadDialog) and found.isVisible() else None

    qtbot.waitUntil(lambda: dialog() is not None)
    d = dialog()
    assert d is not None
    entries: list[UploadEntry] = d.model.entries
    assert [e.path for e in entries] == [footage]
    assert f"{formats.isolated('notes.txt')} is not a video file." in d.message.text()
    qtbot.waitUntil(lambda: entries[0].inspected, timeout=20_000)
    assert d.form.title.text() == "2026 11 22 nairobi floods v2"
    d.reject()
    qtbot.waitUntil(lambda: not d.isVisible())


def test_sound_without_picture_is_refused_before_it_is_sent(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path, clip: Path
) -> None:
    # the hub publishes videos only: a reporter's voice-over went whole before it said so
    from tests.support.media_files import sound_only

    sound = sound_only(clip, tmp_path / "voice-over.m4a")
    dialog = open_dialog(qtbot, desk, tasks, sound)
    assert dialog.model.entries[0].probe is None  # refused at the file, as a photo is
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy and dialog.isVisible() and uploads(desk) == []
    assert dialog.message.text() == (
        f"{formats.isolated('voice-over.m4a')} has sound but no picture: it is not a video "
        "file. The hub would refuse it."
    )


def test_preparing_shows_progress_and_can_be_canceled(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    big = tmp_path / "rushes.mxf"
    with open(big, "wb") as f:  # sparse: 3 GB to hash, nothing written
        f.truncate(3 * 1000**3)
    dialog = open_dialog(qtbot, desk, tasks, big)
    assert "rushes.mxf" in dialog.form.info.text()  # not readable media: said
    # the probe found no video: refused at once, at the file, before 3 GB are hashed
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy and dialog.isVisible()
    assert dialog.message.text().startswith(f"{formats.isolated('rushes.mxf')} is not a video")
    assert dialog.message.text().endswith("The hub would refuse it.")
    assert dialog.model.entries[0].error
    # a large file the probe took for a video (the probe is faked: 3 GB of real video is
    # too much for a test) is hashed with progress, and Escape stops that
    entry = dialog.model.entries[0]
    entry.probe = media.Probe(10.0, "mxf", "mpeg2video", 1920, 1080, 25.0, None, 0, 0)
    entry.probe_error = ""
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.busy and not dialog.upload_button.isEnabled()
    assert dialog.message.text() == "Preparing…"
    # the GUI thread keeps going while the file is read: the bar moves
    qtbot.waitUntil(lambda: dialog.progress.isVisible() and 0 < dialog.progress.value() < 1000)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.workers.wait_for_done(10_000)  # the hashing stopped at once
    assert dialog.result() == UploadDialog.DialogCode.Rejected
    assert uploads(desk) == []


def test_the_form_speaks_french_and_arabic(
    qtbot: Any, qapp: QApplication, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: dialog.form.labels["title"].text() == "&Titre :")
    assert dialog.upload_button.text() == "&Envoyer"
    retype(qtbot, dialog.form.title, "")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.form.shown_error("title") == "Il faut un titre."
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: dialog.form.labels["country"].text() == "ال&بلد:")
    assert dialog.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert dialog.windowTitle() == f"رفع {formats.isolated(footage.name)}"
    assert uploads(desk) == []


def test_files_the_hub_would_refuse_are_refused_before_anything_is_sent(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, tmp_path: Path
) -> None:
    """A file the probe found is no video, or empty, is flagged at the file and Upload
    refuses it (it was hashed, sent in full, and failed in Transfers after the form closed);
    once it is removed from the list, the others go."""
    renamed = tmp_path / "report.mp4"
    renamed.write_bytes(b"%PDF-1.4 " + b"x" * 4000)
    empty = tmp_path / "zero.mp4"
    empty.write_bytes(b"")
    dialog = open_dialog(qtbot, desk, tasks, footage, renamed, empty)
    hashed: list[Path] = []
    real = upload_module.hash_all

    def spy(paths: list[Path], *args: Any) -> list[str]:
        hashed.extend(paths)
        return real(paths, *args)

    upload_module.hash_all = spy  # type: ignore[assignment]
    try:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        entry = dialog.model.entries[1]
        assert not dialog.busy and hashed == [] and uploads(desk) == []
        assert dialog.files_view.currentIndex().row() == 1  # the first file is shown
        # both named at once (they were said one Upload at a time)
        assert dialog.message.text() == (
            f"The hub would refuse 2 files: {formats.isolated('report.mp4')} and "
            f"{formats.isolated('zero.mp4')}. Remove them from the list."
        )
        assert entry.error.startswith(
            f"{formats.isolated('report.mp4')} is not a video file we can read ("
        )
        assert entry.error.endswith("The hub would refuse it: remove it from the list.")
        assert dialog.model.data(dialog.model.index(1), Qt.ItemDataRole.DecorationRole)
        qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
        assert [e.path for e in dialog.model.entries] == [footage, empty]
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        assert hashed == [] and uploads(desk) == []
        assert f"{formats.isolated('zero.mp4')} is empty" in dialog.message.text()
        # a good file selected: the other's refusal is not shown under it (read as its own)
        dialog.select(dialog.model.entries[0])
        assert not dialog.message.isVisibleTo(dialog)
        dialog.select(dialog.model.entries[1])  # the refused one again: said again
        assert dialog.message.isVisibleTo(dialog)
        assert f"{formats.isolated('zero.mp4')} is empty" in dialog.message.text()
        qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
        assert hashed == [footage] and len(uploads(desk)) == 1
    finally:
        upload_module.hash_all = real  # type: ignore[assignment]


def test_cancel_stops_the_probes_still_queued(
    qtbot: Any, desk: Services, tasks: TaskRunner, tmp_path: Path, monkeypatch: Any
) -> None:
    """Cancel while a folder's files are being probed: the probes not started are not run
    (every one ran, into the closed dialog's folder)."""
    files = []
    for i in range(12):
        path = tmp_path / f"clip{i:02}.mp4"
        path.write_bytes(b"x")
        files.append(path)
    started: list[Path] = []
    gate = threading.Event()

    def slow(path: Path, thumbnail: Path) -> Inspection:
        started.append(path)
        gate.wait(5)
        return Inspection(None, "no", None, None)

    monkeypatch.setattr(upload_module, "inspect_file", slow)
    dialog = UploadDialog(desk, tasks, files)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: len(started) == 2)  # two workers
    dialog.reject()
    gate.set()
    assert dialog.workers.wait_for_done(10_000)
    assert len(started) == 2


def test_folders_and_files_that_cannot_be_entered_are_said_not_a_silent_no_op(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    """A dropped folder with a sub-folder that can be listed but not entered, and a file in a
    folder that cannot be entered (as on a shared disk; faked, the tests run as root): the
    readable clips open in the form, the rest is "Left out" with the reason. Both raised
    PermissionError off the GUI thread and the drop did nothing."""
    shared = footage.parent
    readonly = shared / "readonly"
    readonly.mkdir()
    (readonly / "locked.mp4").write_bytes(b"x")
    noexec = tmp_path / "noexec" / "clip.mp4"
    noexec.parent.mkdir()
    noexec.write_bytes(b"x")
    denied = PermissionError(13, "Permission denied")
    real_hidden = upload_files._hidden
    real_is_dir = Path.is_dir

    def hidden(path: Path) -> bool:
        if path.parent == readonly:
            raise denied
        return real_hidden(path)

    def is_dir(path: Path) -> bool:
        if path == noexec:
            raise denied
        return real_is_dir(path)

    monkeypatch.setattr(upload_files, "_hidden", hidden)
    monkeypatch.setattr(Path, "is_dir", is_dir)
    urls = [QUrl.fromLocalFile(str(shared)), QUrl.fromLocalFile(str(noexec))]
    files, skipped = collect_files(urls)
    assert files == [footage]
    assert skipped == [
        f"{formats.isolated('readonly')} could not be read (Permission denied).",
        f"{formats.isolated('clip.mp4')} could not be read (Permission denied).",
    ]

    # whatever else goes wrong while searching, the drop says so
    def broken(_urls: object) -> object:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(upload_module, "collect_files", broken)
    window = QWidget()
    qtbot.addWidget(window)
    open_upload_for_urls(desk, tasks, urls, window)

    def box() -> QMessageBox | None:
        found = window.findChild(QMessageBox)
        return found if isinstance(found, QMessageBox) else None

    qtbot.waitUntil(lambda: box() is not None)
    shown = box()
    assert shown is not None
    assert shown.text() == "What was dropped could not be read (Input/output error)."


def test_a_file_gone_after_it_was_added_is_said_in_the_users_language(
    qtbot: Any, qapp: QApplication, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    """The card was ejected after the file was added: the message names the file once,
    isolated, with the system's reason in the user's language (it was Python's English
    "[Errno 2] No such file or directory: '/…'" in every language)."""
    dialog = open_dialog(qtbot, desk, tasks, footage)
    footage.unlink()
    name = formats.isolated(footage.name)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy)
    assert dialog.message.text() == (
        f"Could not prepare the upload: {name} can no longer be read (No such file or directory)."
    )
    assert dialog.model.entries[0].error and uploads(desk) == []
    install_translators(qapp, "fr")
    try:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy)
        assert dialog.message.text() == (
            f"Impossible de préparer l'envoi : {name} ne peut plus être lu "
            "(Aucun fichier ou dossier de ce nom)."
        )
        install_translators(qapp, "ar")
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy)
        text = dialog.message.text()
        assert name in text and "لا يوجد ملف أو مجلد بهذا الاسم" in text
        assert "Errno" not in text and str(footage) not in text
    finally:
        install_translators(qapp, "en")
    assert uploads(desk) == []


def test_hashing_refuses_a_file_that_grows_while_it_is_read(tmp_path: Path) -> None:
    """A camera copy still being written: hashed as a snapshot, more was then sent than
    declared and the hub refused the checksum. The change is noticed instead."""
    growing = tmp_path / "CAMERA_COPY.mp4"
    growing.write_bytes(b"x" * (3 << 20))

    def copying(_done: int, _total: int) -> None:
        with open(growing, "ab") as f:  # the copy goes on while the file is read
            f.write(b"y" * 4096)

    with pytest.raises(upload_files.StillCopying) as raised:
        upload_files.hash_all([growing], threading.Event(), copying)
    assert raised.value.path == growing
    settled = upload_files.hash_all([growing], threading.Event(), lambda _d, _t: None)
    assert settled[0].size == growing.stat().st_size


def test_a_copy_still_being_written_is_never_queued_as_a_snapshot(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, clip: Path, monkeypatch: Any
) -> None:
    """The file grows between hashing and queueing: not queued (the queue recorded a size
    the hash did not cover). A file whose probe failed while it was being copied is read
    again once it changed, and then goes."""
    dialog = open_dialog(qtbot, desk, tasks, footage)
    real = upload_module.hash_all

    def then_grows(*args: Any) -> Any:
        out = real(*args)
        with open(footage, "ab") as f:
            f.write(b"more of the copy")
        return out

    monkeypatch.setattr(upload_module, "hash_all", then_grows)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy)
    assert dialog.isVisible() and uploads(desk) == []
    assert f"{formats.isolated(footage.name)} changed while it was read" in dialog.message.text()
    dialog.reject()

    # still empty when it was dropped: refused; the copy then finishes
    copy = footage.parent / "C0002.mp4"
    copy.write_bytes(b"")
    monkeypatch.setattr(upload_module, "hash_all", real)
    dialog = open_dialog(qtbot, desk, tasks, copy)
    assert dialog.model.entries[0].probe is None
    shutil.copy(clip, copy)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert "changed since it was read" in dialog.message.text() and uploads(desk) == []
    qtbot.waitUntil(lambda: dialog.model.entries[0].probe is not None, timeout=20_000)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
    assert len(uploads(desk)) == 1


def test_texts_too_large_for_the_hub_are_said_at_the_field(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    """20,000 emoji in the script and in the shot list: within the character limit, over the
    hub's Upload-Metadata bytes. Said at the field, nothing queued (the upload failed after
    the form closed, blaming the file's size)."""
    dialog = open_dialog(qtbot, desk, tasks, footage)
    emoji = "\U0001f30a" * 20_000
    dialog.form.widgets["script"].setPlainText(emoji[:-1] + "a")
    dialog.form.widgets["shotlist"].setPlainText(emoji)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.form.shown_error("shotlist") == (
        "The script, shot list and restrictions together are more than the hub takes "
        "(210 KiB of at most 192 KiB once encoded; Arabic letters and emoji count for more "
        "than one): shorten this text."
    )
    assert not dialog.busy and uploads(desk) == []


def test_the_probes_problem_is_said_in_french_naming_the_file_once(
    qtbot: Any, qapp: QApplication, desk: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    empty = tmp_path / "zero_bytes.mp4"
    empty.write_bytes(b"")
    dialog = open_dialog(qtbot, desk, tasks, empty)
    install_translators(qapp, "fr")
    try:
        entry = dialog.model.entries[0]
        name = formats.isolated("zero_bytes.mp4")
        assert dialog.form.describe(entry) == f"{name} est vide (0 octet)."
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        assert dialog.message.text() == f"{name} est vide (0 octet). Le hub le refuserait."
    finally:
        install_translators(qapp, "en")


def test_upload_pressed_while_the_file_is_read_goes_once_it_is_read(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, monkeypatch: Any
) -> None:
    """The probe decides whether a file may go: Upload pressed before it is in waits for it
    (and then goes by itself), rather than sending a file nobody has looked at."""
    gate = threading.Event()
    real = upload_module.inspect_file

    def slow(path: Path, thumbnail: Path) -> Inspection:
        gate.wait(10)
        return real(path, thumbnail)

    monkeypatch.setattr(upload_module, "inspect_file", slow)
    dialog = UploadDialog(desk, tasks, [footage])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text() == "Reading the files first…"
    assert not dialog.busy and uploads(desk) == []
    gate.set()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
    assert len(uploads(desk)) == 1
