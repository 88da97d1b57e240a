"""The drop-down whose text ends with "…" when the box is too narrow (the filter bars')."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QAccessible, QFontMetrics, QHelpEvent, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QProxyStyle,
    QStyle,
    QStyleOption,
    QStyleOptionComboBox,
    QToolTip,
    QWidget,
)

from alu_client.ui import formats
from alu_client.ui.widgets.combo import ElidingComboBox, elided_text

LONG = "Toutes les catégories de la rédaction régionale"
ARABIC = "جميع الفئات في غرفة الأخبار الإقليمية"


def bare(text: str) -> str:
    """``text`` without the directional isolate around it."""
    return text.removeprefix(formats.FSI).removesuffix(formats.PDI)


def kept(text: str) -> str:
    """What ``text`` cut with "…" kept of the whole (Qt joins an Arabic letter to the "…"
    with a zero-width joiner, so that it keeps its joined form)."""
    return text.removesuffix("…").removesuffix("\u200d")


class LabelRecorder(QProxyStyle):
    """The style of the box under test: records the text of each label it is asked to draw,
    and the room the label has (the edit field less 1 px each side, as QCommonStyle draws)."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[tuple[str, int]] = []

    def drawControl(
        self,
        element: QStyle.ControlElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.ControlElement.CE_ComboBoxLabel:
            assert isinstance(option, QStyleOptionComboBox)
            field = self.subControlRect(
                QStyle.ComplexControl.CC_ComboBox,
                option,
                QStyle.SubControl.SC_ComboBoxEditField,
                widget,
            )
            self.labels.append((option.currentText, field.width() - 2))
        super().drawControl(element, option, painter, widget)


def painted_label(box: QComboBox) -> tuple[str, int]:
    """The text ``box`` paints as its label (without its isolate) and the label's room."""
    recorder = LabelRecorder()
    own = box.style()
    box.setStyle(recorder)
    try:
        box.grab()
    finally:
        box.setStyle(own)
    assert recorder.labels, "the box painted no label"
    text, room = recorder.labels[-1]
    return bare(text), room


def fits(box: QComboBox) -> bool:
    """Whether the label ``box`` paints fits its room, ending with "…" when cut."""
    text, room = painted_label(box)
    whole = text == box.currentText()
    return box.fontMetrics().horizontalAdvance(text) <= room and (whole or text.endswith("…"))


def test_a_text_too_long_is_cut_at_its_end_with_an_ellipsis(qtbot: Any) -> None:
    w = QWidget()
    qtbot.addWidget(w)
    fm = QFontMetrics(w.font())
    room = fm.horizontalAdvance(LONG) // 2
    for text in (LONG, ARABIC):
        short = elided_text(text, fm, room)
        # isolated: the "…" ends the text in its own direction, whatever the layout's
        assert short.startswith(formats.FSI) and short.endswith(formats.PDI)
        assert bare(short).endswith("…")
        assert text.startswith(kept(bare(short)))
        assert fm.horizontalAdvance(bare(short)) <= room
    # room for it (a pixel more than its rounded advance: Qt measures in fractions): whole
    assert bare(elided_text(LONG, fm, fm.horizontalAdvance(LONG) + 1)) == LONG
    assert elided_text("", fm, 10) == ""


def test_a_narrow_box_paints_its_text_cut_with_an_ellipsis_and_tells_it_whole(
    qtbot: Any,
) -> None:
    """QComboBox clipped its text at its edge, mid-word, with nothing to say more was hidden."""
    box = ElidingComboBox()
    qtbot.addWidget(box)
    box.addItem("All", None)
    box.addItem(LONG, "long")
    box.setCurrentIndex(1)
    box.setFixedWidth(box.fontMetrics().horizontalAdvance(LONG) // 2)
    box.show()
    qtbot.waitExposed(box)
    text, room = painted_label(box)
    assert text.endswith("…") and LONG.startswith(kept(text))
    assert box.fontMetrics().horizontalAdvance(text) <= room
    assert bare(box.label_option().currentText) == text  # what the paint uses
    assert box.is_elided()
    # the whole text: in the tooltip while it is cut, above the box's own tip, and for
    # screen readers (the accessible value)
    box.setToolTip("Category")
    QToolTip.hideText()
    box.event(QHelpEvent(QEvent.Type.ToolTip, QPoint(2, 2), box.mapToGlobal(QPoint(2, 2))))
    assert QToolTip.text() == f"{LONG}\nCategory"
    QToolTip.hideText()
    access = QAccessible.queryAccessibleInterface(box)
    assert access is not None and access.text(QAccessible.Text.Value) == LONG
    # a text that fits is painted whole, with the box's own tooltip only
    box.setCurrentIndex(0)
    assert painted_label(box)[0] == "All"
    assert not box.is_elided()


def test_right_to_left_the_text_is_cut_at_its_own_end(qtbot: Any) -> None:
    box = ElidingComboBox()
    qtbot.addWidget(box)
    box.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    box.addItems([ARABIC, LONG])
    box.setFixedWidth(box.fontMetrics().horizontalAdvance(ARABIC) // 2)
    box.show()
    qtbot.waitExposed(box)
    for row, whole in enumerate((ARABIC, LONG)):
        box.setCurrentIndex(row)
        text, room = painted_label(box)
        assert text.endswith("…") and whole.startswith(kept(text))
        assert box.fontMetrics().horizontalAdvance(text) <= room
        # isolated: a French choice in the Arabic layout reads "Toutes les…", not "…Toutes les"
        assert box.label_option().currentText.startswith(formats.FSI)


def test_a_placeholder_cut_is_told_whole_too(qtbot: Any) -> None:
    """A placeholder was painted cut ("Ch…") with no tooltip: the box said it was whole."""
    box = ElidingComboBox()
    qtbot.addWidget(box)
    box.setPlaceholderText(LONG)
    box.addItem("All")
    box.setCurrentIndex(-1)
    box.setToolTip("Category")
    box.setFixedWidth(box.fontMetrics().horizontalAdvance(LONG) // 2)
    box.show()
    qtbot.waitExposed(box)
    text = bare(box.label_option().currentText)
    assert text.endswith("…") and LONG.startswith(kept(text))
    assert box.is_elided()
    QToolTip.hideText()
    box.event(QHelpEvent(QEvent.Type.ToolTip, QPoint(2, 2), box.mapToGlobal(QPoint(2, 2))))
    assert QToolTip.text() == f"{LONG}\nCategory"
    QToolTip.hideText()
    # a choice made: the placeholder is no longer what is shown
    box.setCurrentIndex(0)
    assert not box.is_elided()
