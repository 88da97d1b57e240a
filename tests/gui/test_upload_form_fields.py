"""The upload form's fields as a journalist meets them: an Arabic script typed or pasted in the
English app sits at the right edge (as the Feed's detail pane shows it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QPlainTextEdit,
    QWidget,
)

from alu_client.ui.i18n import install_translators
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


def paragraphs(box: QPlainTextEdit) -> list[list[tuple[float, float]]]:
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


def flush_right(box: QPlainTextEdit) -> bool:
    """Every line of every paragraph ends at the same right edge, and the short ones start
    away from the left one (not flush left, ragged right)."""
    lines = [line for par in paragraphs(box) for line in par]
    lefts, rights = [left for left, _r in lines], [right for _l, right in lines]
    return max(rights) - min(rights) <= 2 and max(lefts) > min(lefts) + 20


def flush_left(box: QPlainTextEdit) -> bool:
    lines = [line for par in paragraphs(box) for line in par]
    lefts, rights = [left for left, _r in lines], [right for _l, right in lines]
    return max(lefts) - min(lefts) <= 2 and max(rights) > min(rights) + 20


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


def paste(qtbot: Any, box: QPlainTextEdit, text: str) -> None:
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
    assert form.shotlist.document().defaultTextOption().textDirection() == LTR
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
    assert box.document().defaultTextOption().textDirection() == RTL
    QApplication.processEvents()
    assert box.cursorRect().left() > box.viewport().width() // 2  # empty: the caret at the right
    paste(qtbot, box, FRENCH_SCRIPT)
    assert flush_left(box), paragraphs(box)
    paste(qtbot, form.script, ARABIC_SCRIPT)
    assert flush_right(form.script), paragraphs(form.script)
    assert form.isRightToLeft() and form.title.isRightToLeft()  # the form itself is mirrored
    box.clear()
    assert box.document().defaultTextOption().textDirection() == RTL
    install_translators(qapp, "en")
    qtbot.waitUntil(lambda: not form.isRightToLeft())
    assert box.document().defaultTextOption().textDirection() == LTR
    assert form.script.document().defaultTextOption().textDirection() == RTL  # still Arabic
