"""The upload form guards what the user typed and what the newsroom sends: a half-filled form is
not lost without a question (Escape, Cancel, closing it, the app's Quit) nor by a crash (a
draft per file comes back), footage this workstation sent already is not sent again without
a question, a time guessed from the file system is not sent as a recording date, a new form
starts in the language of the last upload, the files the probe refused are marked as soon as
it answers, and Enter in a one-line field moves on instead of sending."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.upload_drafts import UploadDrafts
from alu_client.core.uploads import UploadFields
from alu_client.ui import formats
from alu_client.ui import main_window as main_window_module
from alu_client.ui.delegates_items import local_time
from alu_client.ui.i18n import install_translators
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.upload import UploadDialog
from alu_client.ui.views.upload_files import file_stamp
from tests.gui.test_app_shell import SimplePanels, build_window
from tests.gui.test_upload_dialog import desk as desk  # (the fixture)
from tests.gui.test_upload_dialog import engine, open_dialog, retype, uploads
from tests.gui.test_upload_dialog import tasks as tasks  # (the fixture)
from tests.support.livehub import LiveHub


@pytest.fixture
def footage(tmp_path: Path, clip: Path) -> Path:
    path = tmp_path / "footage" / "lagos_market.mp4"
    path.parent.mkdir()
    shutil.copy(clip, path)
    return path


class Answers:
    """Answers the message boxes the dialog asks with ``exec`` (which returns only once
    answered): each box shown is recorded (its text, informative text, buttons, default) and
    answered with the next button text given; a box with nothing to answer is rejected."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.seen: list[dict[str, Any]] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._look)
        self._timer.start()

    def answer(self, *buttons: str) -> None:
        self.plan.extend(buttons)

    def _look(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            return
        if any(s["box"] is box for s in self.seen):
            return
        texts = [b.text().replace("&", "") for b in box.buttons()]
        default = box.defaultButton()
        escape = box.escapeButton()
        self.seen.append(
            {
                "box": box,
                "text": box.text(),
                "info": box.informativeText(),
                "buttons": texts,
                "default": default.text().replace("&", "") if default else "",
                "escape": escape.text().replace("&", "") if escape else "",
            }
        )
        if not self.plan:
            box.reject()
            return
        want = self.plan.pop(0)
        if want == "<Escape>":
            QTimer.singleShot(0, lambda: _key(box, Qt.Key.Key_Escape))
            return
        if want == "<Enter>":
            QTimer.singleShot(0, lambda: _key(box, Qt.Key.Key_Return))
            return
        (button,) = [b for b in box.buttons() if b.text().replace("&", "") == want]
        QTimer.singleShot(0, button.click)

    def stop(self) -> None:
        self._timer.stop()


def _key(box: QMessageBox, key: Qt.Key) -> None:
    QTest.keyClick(box, key)


@pytest.fixture
def answers(qapp: QApplication) -> Iterator[Answers]:
    a = Answers()
    yield a
    a.stop()


def texts(answers: Answers) -> list[str]:
    return [s["text"] for s in answers.seen]


# --- 1. what was typed is not lost without a question ------------------------------------------


def test_escape_cancel_and_close_ask_before_typed_details_go(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, clip: Path, answers: Answers
) -> None:
    # files only dropped, nothing typed: Escape closes at once, no question
    dialog = open_dialog(qtbot, desk, tasks, footage)
    qtbot.keyClick(dialog.form.title, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert answers.seen == []

    dialog = open_dialog(qtbot, desk, tasks, footage)
    retype(qtbot, dialog.form.title, "Market day in Lagos")
    qtbot.keyClicks(dialog.form.dateline, "LAGOS, Nigeria")
    question = f"Discard the details you typed for {formats.isolated(footage.name)}?"
    # Escape asks; Escape in the question (and Enter: its default) keeps editing
    answers.answer("<Escape>")
    qtbot.keyClick(dialog.form.dateline, Qt.Key.Key_Escape)
    assert texts(answers) == [question]
    assert sorted(answers.seen[0]["buttons"]) == ["Discard", "Keep editing"]
    assert answers.seen[0]["default"] == answers.seen[0]["escape"] == "Keep editing"
    answers.answer("<Enter>")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert texts(answers) == [question] * 2
    # the window's close asks too (its close button)
    answers.answer("Keep editing")
    assert not dialog.close()
    assert texts(answers) == [question] * 3
    assert dialog.isVisible()
    assert dialog.form.title.text() == "Market day in Lagos"
    assert dialog.form.dateline.text() == "LAGOS, Nigeria"
    # Discard: gone, nothing queued
    answers.answer("Discard")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == UploadDialog.DialogCode.Rejected
    assert uploads(desk) == []

    # a batch names how many files have typed details
    second = footage.parent / "lagos_port.mp4"
    shutil.copy(clip, second)
    dialog = open_dialog(qtbot, desk, tasks, footage, second)
    qtbot.keyClicks(dialog.form.slug, "NIGERIA-MARKET")
    qtbot.mouseClick(dialog.apply_all, Qt.MouseButton.LeftButton)
    answers.answer("Discard")
    qtbot.keyClick(dialog.form.slug, Qt.Key.Key_Escape)
    assert texts(answers)[-1] == "Discard the details you typed for 2 files?"
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_escape_while_preparing_stops_it_and_keep_editing_finds_the_form(
    qtbot: Any,
    desk: Services,
    tasks: TaskRunner,
    footage: Path,
    answers: Answers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from alu_client.ui.views import upload as upload_module

    gate = threading.Event()
    real = upload_module.hash_all

    def slow(*args: Any) -> Any:
        gate.wait(10)
        return real(*args)

    monkeypatch.setattr(upload_module, "hash_all", slow)
    dialog = open_dialog(qtbot, desk, tasks, footage)
    retype(qtbot, dialog.form.title, "Market day in Lagos")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.busy
    answers.answer("Keep editing")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert len(answers.seen) == 1
    assert dialog.isVisible() and not dialog.busy and dialog.form.isEnabled()
    gate.set()
    assert dialog.workers.wait_for_done(10_000)
    qtbot.wait(50)  # (the stopped preparation's outcome, delivered and dropped)
    assert uploads(desk) == [] and dialog.isVisible() and not dialog.busy
    # Upload again goes (once)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
    assert len(uploads(desk)) == 1


def test_the_apps_quit_asks_about_an_open_form_a_stop_signal_does_not(
    qtbot: Any,
    live_hub: LiveHub,
    tmp_path: Path,
    tasks: TaskRunner,
    clip: Path,
    answers: Answers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.gui.test_app_shell import menu_action, signed_in_services

    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    footage = tmp_path / "goma_refugees.mp4"
    shutil.copy(clip, footage)
    try:
        quits: list[bool] = []
        window.quit_requested.connect(lambda: quits.append(True))
        dialog = UploadDialog.open_for(services, tasks, [footage], window)
        qtbot.waitUntil(lambda: dialog.model.entries[0].inspected, timeout=20_000)
        dialog.form.script.setFocus()
        qtbot.keyClicks(dialog.form.script, "Thousands crossed the border overnight.")
        question = f"Discard the details you typed for {formats.isolated(footage.name)}?"
        # File > Quit: asked; Keep editing keeps the app and the form
        answers.answer("Keep editing")
        menu_action(window, "file", "quit").trigger()
        assert texts(answers) == [question]
        assert quits == [] and not window._shut_down and dialog.isVisible()
        # the tray's Quit: the same question; Discard quits
        assert window.tray is not None
        answers.answer("Keep editing")
        window.tray.quit_requested.emit()
        assert texts(answers) == [question] * 2 and quits == []
        answers.answer("Discard")
        window.tray.quit_requested.emit()
        assert quits == [True] and window._shut_down
        assert dialog.result() == UploadDialog.DialogCode.Rejected
    finally:
        window.shutdown()


def test_a_stop_signal_quits_without_asking_and_the_draft_comes_back(
    qtbot: Any,
    live_hub: LiveHub,
    tmp_path: Path,
    tasks: TaskRunner,
    clip: Path,
    answers: Answers,
) -> None:
    """SIGTERM (a logout) goes through ``MainWindow.quit``: nothing can ask then. What was
    typed is kept as a draft of the file, and the form offers it back at the next drop of
    the same file; another file at that path (exported again) does not get it."""
    from tests.gui.test_app_shell import signed_in_services

    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    footage = tmp_path / "goma_refugees.mp4"
    shutil.copy(clip, footage)
    script = "Thousands crossed the border overnight. " * 40
    try:
        dialog = UploadDialog.open_for(services, tasks, [footage], window)
        qtbot.waitUntil(lambda: dialog.model.entries[0].inspected, timeout=20_000)
        retype(qtbot, dialog.form.title, "Goma: thousands cross")
        qtbot.keyClicks(dialog.form.dateline, "GOMA, DR Congo")
        dialog.form.script.setPlainText(script)  # (a paste)
        drafts = drafts_of(services)
        stamp = file_stamp(footage)
        assert stamp is not None
        qtbot.waitUntil(lambda: (drafts.load(footage, stamp) or {}).get("script") == script)
        window.quit()  # what a stop signal does (app.Desk.request_quit)
        assert window._shut_down and answers.seen == []
    finally:
        window.shutdown()

    # the next start: the same file dropped again
    services2 = Services(services.paths, services.secrets)
    try:
        dialog = UploadDialog(services2, tasks, [footage])
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.model.entries[0].inspected, timeout=20_000)
        form = dialog.form
        assert form.title.text() == "Goma: thousands cross"
        assert form.dateline.text() == "GOMA, DR Congo"
        assert form.script.toPlainText() == script
        assert dialog.message.text() == (
            f"The details you typed for {formats.isolated(footage.name)} before ALU Desk "
            "closed are back."
        )
        # they count as typed: closing asks, and Discard forgets them
        answers.answer("Discard")
        dialog.reject()
        assert len(answers.seen) == 1 and not dialog.isVisible()
        assert dialog.draft_writer.wait_for_done(5_000)
        assert drafts_of(services2).load(footage, stamp) is None

        # a draft of other bytes at the same path is not offered
        drafts_of(services2).save(footage, stamp, {"title": "Old cut"})
        os.utime(footage, ns=(stamp[1], stamp[1] + 10**9))
        dialog = UploadDialog(services2, tasks, [footage])
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.model.entries[0].inspected, timeout=20_000)
        assert dialog.form.title.text() == "goma refugees"
        assert dialog.typed() == []
        dialog.reject()
    finally:
        services2.store.close()


def drafts_of(services: Services) -> UploadDrafts:
    assert services.profile is not None
    return UploadDrafts(services.store, services.profile.name)


def test_a_draft_is_dropped_once_the_file_is_queued(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    retype(qtbot, dialog.form.title, "Market day in Lagos")
    stamp = file_stamp(footage)
    assert stamp is not None
    qtbot.waitUntil(lambda: drafts_of(desk).load(footage, stamp) is not None)
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000):
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.draft_writer.wait_for_done(5_000)
    assert drafts_of(desk).load(footage, stamp) is None


# --- 2. footage already sent ---------------------------------------------------------------


def send(desk: Services, path: Path, title: str) -> int:
    tid = desk.upload(path, UploadFields(title=title, language="en"))
    t = engine(desk).wait_for(tid, timeout=60)
    assert t.state == "done", t.last_error
    return tid


def test_footage_sent_already_from_this_workstation_is_asked_about(
    qtbot: Any,
    desk: Services,
    tasks: TaskRunner,
    footage: Path,
    other_clip: Path,
    answers: Answers,
) -> None:
    tid = send(desk, footage, "Market day in Lagos")
    sent = engine(desk).transfers.get(tid)
    assert sent is not None and sent.finished_at is not None
    when = local_time(dt.datetime.fromtimestamp(sent.finished_at, dt.UTC))
    copy = footage.parent / "lagos_market_COPY.mp4"
    shutil.copy(footage, copy)
    new = footage.parent / "ibadan.mp4"
    shutil.copy(other_clip, new)
    dialog = open_dialog(qtbot, desk, tasks, footage, copy, new)
    before = uploads(desk)

    # Cancel: back to the form, nothing sent, nothing lost
    answers.answer("Cancel")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(answers.seen) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: not dialog.busy)
    title = formats.isolated("Market day in Lagos")
    assert answers.seen[0]["text"] == (
        "Send 2 files again? Each would make another item in every feed."
    )
    assert answers.seen[0]["info"].split("\n") == [
        f"{formats.isolated(name)} was already sent from this workstation on {when} as “{title}”."
        for name in ("lagos_market.mp4", "lagos_market_COPY.mp4")
    ]
    assert sorted(answers.seen[0]["buttons"]) == ["Cancel", "Leave them out", "Send again"]
    assert uploads(desk) == before and dialog.isVisible() and dialog.form.isEnabled()
    assert len(dialog.model.entries) == 3

    # Leave them out: only the new footage goes
    answers.answer("Leave them out")
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000) as queued:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    (tid_new,) = queued.args[0]
    queued_t = engine(desk).transfers.get(tid_new)
    assert queued_t is not None and queued_t.source == str(new)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_the_same_bytes_twice_in_a_batch_and_footage_on_its_way_are_asked_about(
    qtbot: Any,
    desk: Services,
    tasks: TaskRunner,
    footage: Path,
    other_clip: Path,
    answers: Answers,
) -> None:
    queue = engine(desk)
    queue.caps["upload"] = 0  # nothing runs: the first upload stays queued
    first = desk.upload(footage, UploadFields(title="Market day in Lagos"))
    fresh = footage.parent / "ibadan.mp4"
    shutil.copy(other_clip, fresh)
    twin = footage.parent / "ibadan_twin.mp4"
    shutil.copy(other_clip, twin)
    dialog = open_dialog(qtbot, desk, tasks, footage, fresh, twin)
    answers.answer("Send again")
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000) as queued:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert answers.seen[0]["info"].split("\n") == [
        f"{formats.isolated('lagos_market.mp4')} is already being sent from this workstation "
        f"as “{formats.isolated('Market day in Lagos')}” (see Transfers).",
        f"{formats.isolated('ibadan_twin.mp4')} holds the same footage as "
        f"{formats.isolated('ibadan.mp4')}, above it.",
    ]
    assert len(queued.args[0]) == 3  # sent again, as asked
    assert first not in queued.args[0]


def test_a_single_file_sent_already_left_out_sends_nothing(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path, answers: Answers
) -> None:
    send(desk, footage, "Market day in Lagos")
    before = uploads(desk)
    dialog = open_dialog(qtbot, desk, tasks, footage)
    answers.answer("Leave it out")
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(answers.seen) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: not dialog.busy)
    assert answers.seen[0]["text"] == (
        "Send this file again? It would make another item in every feed."
    )
    assert answers.seen[0]["default"] == "Leave it out"
    assert dialog.message.text() == "Nothing was sent: this file was sent already."
    assert dialog.isVisible() and uploads(desk) == before


# --- 3. a time guessed from the file system is not a recording date ------------------------------


def tagged(source: Path, dest: Path, when: str) -> Path:
    """``source`` remuxed with a camera's creation_time tag."""
    with av.open(str(source)) as inp, av.open(str(dest), "w", format="mp4") as out:
        out.metadata["creation_time"] = when
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dest


def test_recorded_is_ticked_only_from_the_files_own_date(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    camera = tagged(footage, footage.parent / "C0001.mp4", "2026-11-22T08:15:00.000000Z")
    dialog = open_dialog(qtbot, desk, tasks, camera, footage)
    form = dialog.form
    assert form.recorded_known.isChecked()
    assert dialog.fields_for(dialog.model.entries[0]).recorded_at == (
        dt.datetime(2026, 11, 22, 8, 15, tzinfo=dt.UTC).astimezone().isoformat()
    )
    dialog.select(dialog.model.entries[1])
    # no tag: the file's time shown, unticked, not sent; one click sends it
    assert not form.recorded_known.isChecked() and not form.recorded.isEnabled()
    mtime = footage.stat().st_mtime
    assert abs(form.recorded.dateTime().toSecsSinceEpoch() - mtime) < 60
    assert dialog.fields_for(dialog.model.entries[1]).recorded_at == ""
    assert dialog.typed() == []  # (shown by the program: nothing to ask about on Cancel)
    qtbot.mouseClick(form.recorded_known, Qt.MouseButton.LeftButton)
    recorded = dialog.fields_for(dialog.model.entries[1]).validated().recorded_at
    assert abs(dt.datetime.fromisoformat(recorded).timestamp() - mtime) < 60


# --- 4. the language of the last upload ------------------------------------------------------------


def test_a_new_form_starts_in_the_language_of_the_last_upload_else_the_apps(
    qtbot: Any,
    qapp: QApplication,
    desk: Services,
    tasks: TaskRunner,
    footage: Path,
    other_clip: Path,
) -> None:
    settings = AppSettings(desk.store, desk.paths.downloads_dir)
    assert settings.upload_language == ""
    install_translators(qapp, "fr")
    try:
        dialog = open_dialog(qtbot, desk, tasks, footage)
        assert dialog.form.language.currentData() == "fr"  # the app's
        dialog.form.language.setFocus()
        qtbot.keyClick(dialog.form.language, Qt.Key.Key_Down)  # العربية
        assert dialog.form.language.currentData() == "ar"
        qtbot.keyClicks(dialog.form.restrictions, "No access Nigeria")
        dialog.form.script.setFocus()
        qtbot.keyClicks(dialog.form.script, "Le marche.")
        with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000):
            qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        assert dialog.draft_writer.wait_for_done(5_000)
        assert settings.upload_language == "ar"
    finally:
        install_translators(qapp, "en")
    # the English app: the next form is in Arabic, the last upload's; nothing else carried
    other = footage.parent / "ibadan.mp4"
    shutil.copy(other_clip, other)
    dialog = open_dialog(qtbot, desk, tasks, other)
    qtbot.waitUntil(lambda: dialog.form.language.currentData() == "ar")
    assert dialog.fields_for(dialog.model.entries[0]).language == "ar"
    form = dialog.form
    assert (form.restrictions.text(), form.script.toPlainText()) == ("", "")
    assert form.title.text() == "ibadan"
    assert dialog.typed() == []


# --- 5. files the probe refused are marked at once, named together ------------------------------


def test_files_the_probe_refused_are_marked_at_once_and_named_together(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    empty = footage.parent / "empty.mp4"
    empty.write_bytes(b"")
    fake = footage.parent / "fake.mp4"
    fake.write_text("not a video at all\n" * 50)
    dialog = open_dialog(qtbot, desk, tasks, footage, empty, fake)
    model = dialog.model
    # before any Upload: the warning icon and the reason in the tooltip
    assert model.data(model.index(0), Qt.ItemDataRole.DecorationRole) is not None  # thumbnail
    for row, name in ((1, "empty.mp4"), (2, "fake.mp4")):
        entry = model.entries[row]
        assert entry.error.startswith(formats.isolated(name))
        assert entry.error.endswith("The hub would refuse it: remove it from the list.")
        icon = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
        assert icon is not None and not icon.isNull()
        assert entry.error in model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
    assert model.entries[0].error == ""
    # Upload names them all at once, and shows the first
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text() == (
        f"The hub would refuse 2 files: {formats.isolated('empty.mp4')} and "
        f"{formats.isolated('fake.mp4')}. Remove them from the list."
    )
    assert dialog.files_view.currentIndex().row() == 1
    assert uploads(desk) == [] and not dialog.busy
    # selecting one says its own reason
    dialog.select(model.entries[2])
    assert dialog.message.text() == model.entries[2].error


# --- 6. Enter moves on, Ctrl+Enter sends ---------------------------------------------------


def test_enter_in_a_one_line_field_moves_on_and_ctrl_enter_sends(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    form = dialog.form
    assert not dialog.upload_button.isDefault()
    keys = formats.keys_text(QKeySequence("Ctrl+Return"))
    assert dialog.upload_button.toolTip() == f"Send to the hub ({keys})"
    retype(qtbot, form.title, "Market day in Lagos")
    steps: list[tuple[Any, Any]] = [
        (form.title, form.slug),
        (form.slug, form.dateline),
        (form.dateline, form.recorded_known),
        (form.recorded_known, form.language),  # (the date is off: skipped)
        (form.language, form.category),
    ]
    for here, there in steps:
        here.setFocus()
        qtbot.keyClick(here, Qt.Key.Key_Return)
        assert there.hasFocus(), (here.objectName(), QApplication.focusWidget())
    form.restrictions.setFocus()
    qtbot.keyClick(form.restrictions, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert form.script.hasFocus()
    # Enter in the script is a new line, as ever
    qtbot.keyClicks(form.script, "One")
    qtbot.keyClick(form.script, Qt.Key.Key_Return)
    assert form.script.toPlainText() == "One\n"
    assert dialog.isVisible() and not dialog.busy and uploads(desk) == []
    # Ctrl+Enter sends, from a field
    form.slug.setFocus()
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000):
        qtbot.keyClick(form.slug, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert len(uploads(desk)) == 1


def test_enter_on_the_upload_button_presses_it(
    qtbot: Any, desk: Services, tasks: TaskRunner, footage: Path
) -> None:
    dialog = open_dialog(qtbot, desk, tasks, footage)
    dialog.upload_button.setFocus()
    with qtbot.waitSignal(dialog.uploads_queued, timeout=20_000):
        qtbot.keyClick(dialog.upload_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
