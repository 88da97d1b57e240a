"""The upload form's fields as a journalist meets them: an Arabic script typed or pasted in the
English app sits at the right edge (as the Feed's detail pane shows it), Tab goes through the
form one field at a time (the recording date is one stop, the scroll area none), and a text
too long says how long it is — with a count under it before it gets there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, QDateTime, QEvent, QLocale, QMimeData, Qt, QTime
from PySide6.QtGui import QKeyEvent, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDateTimeEdit,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from alu_client.core.uploads import FieldError, UploadFields
from alu_client.ui import colors
from alu_client.ui.i18n import install_translators
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.upload import UploadDialog
from alu_client.ui.views.upload_form import UploadEntry, UploadForm

# the tester's script (finding 5): Arabic paragraphs with Latin names, digits and punctuation
ARABIC_SCRIPT = (
    "أعلنت السلطات في ولاية Borno عن مقتل 3 أشخاص يوم 12 ديسمبر 2026.\n"
    "وقال الحاكم Babagana Zulum إن 1,500 شخص نزحوا من منازلهم في Maiduguri.\n"
    "المصدر: NEMA (الوكالة الوطنية لإدارة الطوارئ)."
)
FRENCH_SCRIPT = (
    "Une cargaison de plus d'un million de doses de vaccins est arrivée à Port-Soudan.\n"
    "Elle sera répartie entre les centres de santé de plusieurs États."
)
# review (i18n) finding 6: an Arabic script quoting a French minister, with an English line and
# a numbered French shot; each line in its own direction
MIXED_SCRIPT = (
    "أعلن الوزير عن خطة جديدة للتطعيم.\n"
    "The minister spoke in French.\n"
    "2. Plan moyen du ministre\n"
    "وقال إن الحملة تبدأ غدا."
)
MIXED_DIRECTIONS = ["rtl", "ltr", "ltr", "rtl"]
RTL, LTR = Qt.LayoutDirection.RightToLeft, Qt.LayoutDirection.LeftToRight
CTRL, NO_MODIFIER = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.NoModifier


@pytest.fixture
def form(qtbot: Any) -> UploadForm:
    form = UploadForm()
    qtbot.addWidget(form)
    form.resize(520, 900)
    form.show()
    qtbot.waitExposed(form)
    return form


def paragraphs(box: QTextEdit) -> list[list[tuple[float, float]]]:
    """The left and right edge of each line, paragraph by paragraph, as laid out."""
    QApplication.processEvents()
    out = []
    block = box.document().firstBlock()
    while block.isValid():
        layout = block.layout()
        rects = [layout.lineAt(i).naturalTextRect() for i in range(layout.lineCount())]
        out.append([(r.left(), r.right()) for r in rects])
        block = block.next()
    return out


def first_direction(box: QTextEdit) -> Qt.LayoutDirection:
    """The direction the box's first paragraph is laid out in."""
    QApplication.processEvents()
    return box.document().firstBlock().layout().textOption().textDirection()


def flush_right(box: QTextEdit) -> bool:
    """Every line of every paragraph ends at the same right edge, and the short ones start
    away from the left one (not flush left, ragged right)."""
    lines = [line for par in paragraphs(box) for line in par]
    lefts, rights = [left for left, _r in lines], [right for _l, right in lines]
    return max(rights) - min(rights) <= 2 and max(lefts) > min(lefts) + 20


def flush_left(box: QTextEdit) -> bool:
    lines = [line for par in paragraphs(box) for line in par]
    lefts, rights = [left for left, _r in lines], [right for _l, right in lines]
    return max(lefts) - min(lefts) <= 2 and max(rights) > min(rights) + 20


def laid_out(document: QTextDocument) -> list[str]:
    """How each paragraph is laid out: "rtl" (right to left, each line's text flush with the
    right end of its line), "ltr" (left to right, flush left), or what else was found."""
    QApplication.processEvents()
    out = []
    block = document.firstBlock()
    while block.isValid():
        layout = block.layout()
        direction = layout.textOption().textDirection()
        lines = [layout.lineAt(i) for i in range(layout.lineCount())]
        # the text's edges, and its line's (the width it may take)
        edges = [(line.naturalTextRect(), line.x(), line.x() + line.width()) for line in lines]
        if direction == RTL and all(abs(r.right() - end) <= 3 for r, _s, end in edges):
            out.append("rtl")
        elif direction == LTR and all(abs(r.left() - start) <= 3 for r, start, _e in edges):
            out.append("ltr")
        else:
            found = [(round(r.left()), round(r.right()), s, e) for r, s, e in edges]
            out.append(f"{direction.name} {found}")
        block = block.next()
    return out


def type_text(qtbot: Any, box: QWidget, text: str) -> None:
    """Type as a keyboard does: ASCII through key clicks, Return for a new line, an Arabic
    letter as a key event carrying its text (as an input method sends it; QTest's key clicks
    take Latin-1 only)."""
    for ch in text:
        if ch == "\n":
            qtbot.keyClick(box, Qt.Key.Key_Return)
        elif ord(ch) < 128:
            qtbot.keyClicks(box, ch)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(box, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))


def paste(qtbot: Any, box: QTextEdit, text: str) -> None:
    QApplication.clipboard().setText(text)
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


# --- 1. an Arabic script at the right edge, as it is typed or pasted --------------------------


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_a_pasted_arabic_script_sits_at_the_right_edge(
    qtbot: Any, qapp: QApplication, form: UploadForm, lang: str
) -> None:
    """Finding 5: laid out right to left but flush left, ragged right, in the English and
    French app (the Arabic one too); each of its paragraphs, mixed with Latin names and
    digits, now ends at the right edge, and the text is what was pasted."""
    install_translators(qapp, lang)
    for box in (form.script, form.shotlist):
        paste(qtbot, box, ARABIC_SCRIPT)
        assert box.toPlainText() == ARABIC_SCRIPT
        assert flush_right(box), paragraphs(box)
        assert box.textCursor().position() == len(ARABIC_SCRIPT)  # the caret after the paste
    assert form.value("script") == ARABIC_SCRIPT


def test_typing_arabic_moves_the_text_to_the_right_and_undo_brings_it_back(
    qtbot: Any, form: UploadForm
) -> None:
    """The layout follows each key: a first Arabic letter in an empty box takes it to the right;
    a Latin text stays at the left; undo and redo change the text alone (the layout is no
    step of its own) and the layout follows."""
    box = form.script
    box.setFocus()
    type_text(qtbot, box, "Nairobi\nMore rain is expected on Tuesday in the whole region.")
    assert flush_left(box), paragraphs(box)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(box, Qt.Key.Key_Delete)
    typed = "وقال الحاكم Babagana Zulum\nإن 1,500 شخص نزحوا من منازلهم في Maiduguri."
    type_text(qtbot, box, typed)
    assert box.toPlainText() == typed
    assert box.textCursor().position() == len(typed)
    assert flush_right(box), paragraphs(box)
    # undo to the Latin text, then redo: the text as it was each time, the layout following
    while box.toPlainText() != "Nairobi\nMore rain is expected on Tuesday in the whole region.":
        assert box.document().isUndoAvailable()
        qtbot.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert flush_left(box), paragraphs(box)
    while box.document().isRedoAvailable():
        qtbot.keyClick(box, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert box.toPlainText() == typed
    assert flush_right(box), paragraphs(box)
    assert form.value("script") == typed


def test_each_file_shows_its_script_in_its_own_direction(qtbot: Any, form: UploadForm) -> None:
    """Going from one file of a batch to another (``load``): the Arabic script at the right,
    the French one at the left, an empty box at the start of the app's lines."""
    arabic = UploadEntry(Path("a.mp4"), {"script": ARABIC_SCRIPT, "shotlist": FRENCH_SCRIPT})
    french = UploadEntry(Path("b.mp4"), {"script": FRENCH_SCRIPT, "shotlist": ""})
    form.load(arabic)
    assert flush_right(form.script) and flush_left(form.shotlist)
    form.load(french)
    assert flush_left(form.script)
    assert first_direction(form.shotlist) == LTR
    form.load(arabic)
    assert flush_right(form.script)


def test_the_arabic_app_keeps_its_own_layout(
    qtbot: Any, qapp: QApplication, form: UploadForm
) -> None:
    """In the Arabic app: an empty box writes from the right (the caret at the right edge), a
    French script stays left to right at the left, an Arabic one at the right; switching the
    app's language back moves the empty box's start with it."""
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: form.isRightToLeft())
    box = form.shotlist
    assert first_direction(box) == RTL
    QApplication.processEvents()
    assert box.cursorRect().left() > box.viewport().width() // 2  # empty: the caret at the right
    paste(qtbot, box, FRENCH_SCRIPT)
    assert flush_left(box), paragraphs(box)
    paste(qtbot, form.script, ARABIC_SCRIPT)
    assert flush_right(form.script), paragraphs(form.script)
    assert form.isRightToLeft() and form.title.isRightToLeft()  # the form itself is mirrored
    box.clear()
    assert first_direction(box) == RTL
    install_translators(qapp, "en")
    qtbot.waitUntil(lambda: not form.isRightToLeft())
    assert first_direction(box) == LTR
    assert first_direction(form.script) == RTL  # still Arabic


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_each_paragraph_of_a_mixed_script_reads_in_its_own_direction(
    qtbot: Any, qapp: QApplication, form: UploadForm, lang: str
) -> None:
    """Review (i18n) finding 6: the whole text took its first letter's direction, so the
    English and French lines of an Arabic script were drawn right to left (".The minister
    spoke in French", "Plan moyen du ministre .2"). Each paragraph now has its own direction
    and sits flush with its own start, in every language of the app; pasted or loaded."""
    install_translators(qapp, lang)
    for box in (form.script, form.shotlist):
        paste(qtbot, box, MIXED_SCRIPT)
        assert box.toPlainText() == MIXED_SCRIPT
        assert laid_out(box.document()) == MIXED_DIRECTIONS
    assert form.value("script") == MIXED_SCRIPT
    latin_first = "\n".join(reversed(MIXED_SCRIPT.split("\n")))
    form.load(UploadEntry(Path("a.mp4"), {"script": latin_first, "shotlist": MIXED_SCRIPT}))
    assert laid_out(form.script.document()) == list(reversed(MIXED_DIRECTIONS))
    assert laid_out(form.shotlist.document()) == MIXED_DIRECTIONS


def test_typed_paragraphs_each_take_their_own_direction(
    qtbot: Any, qapp: QApplication, form: UploadForm
) -> None:
    """As typed: a new line under an Arabic one writes from the right until a letter says
    otherwise (Qt made a paragraph without a letter left to right), a line of digits keeps
    the one before it's, a Latin line goes left; undo and redo bring text and layout back
    together, and Qt still makes one undo step of a word typed after its first letter."""
    box = form.script
    box.setFocus()
    type_text(qtbot, box, "وقال الحاكم\n")
    assert laid_out(box.document()) == ["rtl", "rtl"]
    assert box.cursorRect().left() > box.viewport().width() // 2  # the caret at the right
    type_text(qtbot, box, "12:30\nThe minister spoke in French.")
    assert laid_out(box.document()) == ["rtl", "rtl", "ltr"]
    steps = []
    while box.document().isUndoAvailable():
        qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
        steps.append((box.toPlainText(), laid_out(box.document())))
    assert steps[0] == ("وقال الحاكم\n12:30\nT", ["rtl", "rtl", "ltr"])  # "he minister…"
    assert ("وقال الحاكم\n12:30\n", ["rtl", "rtl", "rtl"]) in steps
    assert steps[-1] == ("", ["ltr"])
    while box.document().isRedoAvailable():
        qtbot.keyClick(box, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert box.toPlainText() == "وقال الحاكم\n12:30\nThe minister spoke in French."
    assert laid_out(box.document()) == ["rtl", "rtl", "ltr"]


def test_a_script_pasted_from_a_web_page_comes_in_as_its_text(qtbot: Any, form: UploadForm) -> None:
    """The editors are rich-text boxes now (their paragraphs' own directions): what is pasted
    from a browser or a word processor comes in as plain text, without its markup or fonts,
    and its paragraphs still take their own directions."""
    mime = QMimeData()
    mime.setHtml('<p dir="rtl"><b style="font-size:40pt">وقال الحاكم</b></p><p>Nairobi</p>')
    mime.setText("وقال الحاكم\nNairobi")
    QApplication.clipboard().setMimeData(mime)
    form.script.setFocus()
    qtbot.keyClick(form.script, Qt.Key.Key_V, CTRL)
    assert form.value("script") == "وقال الحاكم\nNairobi"
    html = form.script.toHtml()
    assert "font-weight:700" not in html and "40pt" not in html  # no bold, no size
    assert laid_out(form.script.document()) == ["rtl", "ltr"]


# --- 2. the keyboard path --------------------------------------------------------------------


@pytest.fixture
def tasks(qapp: QApplication) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_for_done()


def open_dialog(qtbot: Any, tasks: TaskRunner, clip: Path, tmp_path: Path) -> UploadDialog:
    """The real dialog on a real clip, on a data folder of its own with no hub; nothing is
    sent."""
    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.paths import Paths
    from alu_client.core.services import Services

    footage = tmp_path / "lagos_market.mp4"
    shutil.copy(clip, footage)
    root = tmp_path / "desk"
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    services = Services(paths, MemorySecrets())
    dialog = UploadDialog(services, tasks, [footage])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: all(e.inspected for e in dialog.model.entries), timeout=20_000)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def press(qtbot: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = NO_MODIFIER) -> QWidget:
    """Press ``key`` where the keyboard focus is, as a user does; the new focus widget."""
    qtbot.keyClick(focused(), key, modifier)
    return focused()


def focused() -> QWidget:
    focus = QApplication.focusWidget()
    assert focus is not None
    return focus


def test_tab_goes_through_the_form_one_named_field_at_a_time(
    qtbot: Any, tasks: TaskRunner, clip: Path, tmp_path: Path
) -> None:
    """Finding 10: a stop with no name and no visible focus on the scroll area between Shotlist
    and Upload, and five stops on the recording date (one per section). Now every stop is a
    named field, the date one of them, and Shift+Tab walks the same way back."""
    dialog = open_dialog(qtbot, tasks, clip, tmp_path)
    form = dialog.form
    form.recorded_known.setChecked(True)
    form.title.setFocus()
    w = form.widgets
    expected: list[QWidget] = [
        *(w[n] for n in ("title", "slug", "dateline")),
        form.recorded_known,
        *(w[n] for n in ("recorded_at", "language", "category", "region", "country")),
        *(w[n] for n in ("priority", "restrictions", "script", "shotlist")),
        dialog.upload_button,
        dialog.cancel_button,
    ]
    forward = [focused()]
    for _ in expected[1:]:
        forward.append(press(qtbot, Qt.Key.Key_Tab))
    assert not any(isinstance(x, QScrollArea) for x in forward)
    assert [x.objectName() for x in forward] == [x.objectName() for x in expected]
    # each stop says what it is: its accessible name, or a button's own text
    assert all(x.accessibleName() or (isinstance(x, QAbstractButton) and x.text()) for x in forward)
    back = [focused()]
    for _ in expected[1:]:
        back.append(press(qtbot, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier))
    assert [x.objectName() for x in back] == [x.objectName() for x in reversed(expected)]


def test_the_recording_date_is_still_edited_from_the_keyboard(qtbot: Any, form: UploadForm) -> None:
    """One Tab stop, yet every section is reached: Tab in selects the year, a full section typed
    goes on to the next, the arrows move between sections and Up/Down change the one at the
    caret; Tab then leaves for Language (the date kept), Shift+Tab from there comes back."""
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow)
    form.recorded_known.setChecked(True)
    form.recorded.setDateTime(QDateTime(QDate(2026, 11, 22), QTime(14, 30)))
    form.recorded_known.setFocus()
    assert press(qtbot, Qt.Key.Key_Tab) is form.recorded
    assert form.recorded.currentSection() == QDateTimeEdit.Section.YearSection
    qtbot.keyClicks(form.recorded, "2025")  # the year typed whole: on to the month
    assert form.recorded.currentSection() == QDateTimeEdit.Section.MonthSection
    qtbot.keyClicks(form.recorded, "03")
    qtbot.keyClick(form.recorded, Qt.Key.Key_Up)  # the day, one up
    assert form.recorded.date() == QDate(2025, 3, 23)
    qtbot.keyClick(form.recorded, Qt.Key.Key_Right)
    qtbot.keyClick(form.recorded, Qt.Key.Key_Right)
    qtbot.keyClick(form.recorded, Qt.Key.Key_Right)
    qtbot.keyClick(form.recorded, Qt.Key.Key_Right)
    assert form.recorded.currentSection() == QDateTimeEdit.Section.HourSection
    qtbot.keyClick(form.recorded, Qt.Key.Key_Down)
    assert press(qtbot, Qt.Key.Key_Tab) is form.language
    assert form.recorded.dateTime() == QDateTime(QDate(2025, 3, 23), QTime(13, 30))
    assert form.value("recorded_at").startswith("2025-03-23T13:30")
    assert press(qtbot, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier) is form.recorded
    assert press(qtbot, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier) is (
        form.recorded_known
    )


# --- 3. too long: by how much, and a count before it gets there --------------------------------


def too_long(field: str, length: int) -> FieldError:
    with pytest.raises(FieldError) as refused:
        UploadFields.from_mapping({"title": "Khartoum", field: "a" * length}).validated()
    return refused.value


def test_the_core_says_the_length_of_a_text_too_long() -> None:
    """The core gave the limit alone for a script, shot list or restrictions; it says the
    length too (as the hub and the other fields do), and gives both numbers to the form."""
    error = too_long("script", 20_001)
    assert error.field == "script"
    assert (error.length, error.limit) == (20_001, 20_000)
    assert str(error) == "The script is too long (20001 characters; at most 20000)."
    title = too_long("title", 501)
    assert (title.length, title.limit) == (501, 500)
    assert too_long("script", 20_001 + 3).length == 20_004
    # what is checked is what is sent: spaces around the text do not count
    UploadFields(title="Khartoum", script="  " + "a" * 20_000 + "\n\n").validated()


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_too_long_says_the_current_length_in_the_languages_digits(
    qapp: QApplication, form: UploadForm, lang: str
) -> None:
    """Finding 11: "This is too long (at most 20,000 characters)." did not say how much to
    cut. The sentence gives the length and the limit, written as the language writes numbers
    (20,001 · 20 001 · ٢٠٬٠٠١)."""
    install_translators(qapp, lang)
    message = form.message_for(too_long("script", 20_001))
    locale = QLocale()
    assert locale.toString(20_001) in message and locale.toString(20_000) in message
    if lang == "en":
        assert message == "This is too long: 20,001 characters, at most 20,000."
    title = form.message_for(too_long("title", 600))
    assert locale.toString(600) in title and locale.toString(500) in title


def test_pressing_upload_with_a_script_too_long_says_its_length_at_the_field(
    qtbot: Any, tasks: TaskRunner, clip: Path, tmp_path: Path
) -> None:
    """The tester's path (s14): a 20,001-character script pasted, Upload pressed."""
    dialog = open_dialog(qtbot, tasks, clip, tmp_path)
    form = dialog.form
    paste(qtbot, form.script, "a" * 20_001)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert form.shown_error("script") == "This is too long: 20,001 characters, at most 20,000."
    assert form.script.hasFocus() and len(form.value("script")) == 20_001
    assert dialog.isVisible()


def test_a_count_shows_under_the_script_near_its_limit(
    qtbot: Any, qapp: QApplication, form: UploadForm
) -> None:
    """No count until the text passes 90 % of the limit (18,000 characters, counted as the core
    counts: surrounding spaces left out); then "N of 20,000 characters", in the error colour
    once over; in the language's digits; gone again when the text is cut."""
    count = form.counts["script"]
    form.script.setPlainText("a" * 18_000 + "   \n")
    assert count.isHidden()
    form.script.setFocus()
    form.script.moveCursor(form.script.textCursor().MoveOperation.Start)
    qtbot.keyClicks(form.script, "b")  # at the start: the spaces at the end still do not count
    assert not count.isHidden() and count.isVisible()
    assert count.text() == "18,001 of 20,000 characters"
    window_text = count.palette().color(QPalette.ColorRole.WindowText)
    assert window_text != colors.on_window(colors.ERROR, count.palette())
    paste(qtbot, form.script, "c" * 2_000)
    assert count.text() == "20,001 of 20,000 characters"
    error_text = count.palette().color(QPalette.ColorRole.WindowText)
    assert error_text == colors.on_window(colors.ERROR, count.palette())
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: QLocale().toString(20_001) in count.text())
    install_translators(qapp, "en")
    qtbot.keyClick(form.script, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert count.text() == "18,001 of 20,000 characters"
    assert count.palette().color(QPalette.ColorRole.WindowText) == window_text
    form.script.clear()
    assert count.isHidden()
    # the shot list has its own, the same way
    form.shotlist.setPlainText("s" * 19_000)
    assert form.counts["shotlist"].text() == "19,000 of 20,000 characters"
    assert count.isHidden()


def test_the_count_sits_under_its_own_box(form: UploadForm) -> None:
    """Between the box and its message line, in the box's column."""
    form.script.setPlainText("a" * 19_500)
    QApplication.processEvents()
    count, box = form.counts["script"], form.script
    assert count.geometry().top() >= box.geometry().bottom()
    assert count.geometry().bottom() < form.labels["shotlist"].geometry().top()
    assert count.geometry().left() >= box.geometry().left() - 1
    assert count.geometry().right() <= box.geometry().right() + 1
