"""Speeds typed into the app's fields and dialogs, as people write them in their language, and
rows selected by code in a right-to-left layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QLocale, QStringListModel, Qt
from PySide6.QtWidgets import QApplication, QListView, QTableView, QWidget

from alu_client.ui import formats
from alu_client.ui.i18n import install_translators
from alu_client.ui.views import select_row
from alu_client.ui.views.bandwidth import rate_dialog
from alu_client.ui.views.settings_fields import rate_error, rate_text, read_rate


@pytest.fixture
def locale_back(qapp: QApplication) -> Iterator[None]:
    before = QLocale()
    yield
    QLocale.setDefault(before)
    install_translators(qapp, "en")


def test_a_speed_written_the_way_the_app_shows_it_is_read(
    qapp: QApplication, locale_back: None
) -> None:
    # the app shows 1.5 Mbit/s as "1,5 Mbit/s" in French and "١٫٥ ميغابت/ث" in Arabic; typed
    # back, both were "not a speed"
    QLocale.setDefault(QLocale(QLocale.Language.French))
    assert read_rate("1,5 Mbit/s") == 187_500.0
    install_translators(qapp, "ar")
    QLocale.setDefault(QLocale(QLocale.Language.Arabic))
    assert read_rate("١٫٥ ميغابت/ث") == 187_500.0
    assert read_rate("٣M") == 375_000.0
    assert read_rate("  ") is None
    with pytest.raises(ValueError, match="as a rate"):
        read_rate("سريع")


def test_english_thousands_are_not_read_as_decimals(locale_back: None) -> None:
    QLocale.setDefault(QLocale(QLocale.Language.English))
    with pytest.raises(ValueError, match="as a rate"):
        read_rate("1,5 Mbit/s")  # not 1.5: unreadable, said so


def test_a_rate_under_the_floor_says_why(qapp: QApplication) -> None:
    # "4k" was "not a speed", the engine's reason (too slow: at least 8k) dropped
    with pytest.raises(ValueError, match="too slow") as caught:
        read_rate("4k")
    assert "too slow to move a file" in rate_error("4k", caught.value)
    assert "not a speed" in rate_error("fast", ValueError("can't read 'fast' as a rate"))


@pytest.mark.parametrize(
    "direction", [Qt.LayoutDirection.LeftToRight, Qt.LayoutDirection.RightToLeft]
)
def test_a_row_selected_by_code_is_selected_in_either_direction(
    qtbot: Any, direction: Qt.LayoutDirection
) -> None:
    # QTableView.selectRow under right-to-left (Arabic) selected nothing and cleared the
    # selection: a rule moved up in the settings lost it, and the next move moved another
    view = QTableView()
    qtbot.addWidget(view)
    model = QStringListModel(["Arabic", "Sport", "Flash"])
    view.setModel(model)
    view.setLayoutDirection(direction)
    view.resize(300, 200)
    view.show()
    qtbot.waitExposed(view)
    select_row(view, 2)
    assert [i.row() for i in view.selectionModel().selectedRows()] == [2]
    assert view.currentIndex().row() == 2
    select_row(view, 7)  # no such row: nothing selected, no error
    assert view.selectionModel().selectedRows() == []
    listed = QListView()
    qtbot.addWidget(listed)
    listed.setModel(model)
    select_row(listed, 1)
    assert listed.currentIndex().row() == 1


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_speed_question_is_prefilled_the_way_the_app_writes_speeds(
    qtbot: Any, qapp: QApplication, locale_back: None, lang: str
) -> None:
    """ "Limit speed…" and the quick limit's "Custom…" were prefilled with the core's English
    rate ("1.5 Mbit/s") where the Transfers tab says "1,5 Mbit/s" or "١٫٥ ميغابت/ث"."""
    install_translators(qapp, lang)
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = rate_dialog(parent, "t", "l", 187_500)
    assert dialog.textValue() == formats.speed_text(187_500)
    assert dialog.textValue() != "1.5 Mbit/s"
    assert read_rate(dialog.textValue()) == 187_500
    assert rate_dialog(parent, "t", "l", None).textValue() == ""
    # read back as the same limit, to six significant digits, whatever its size
    for bps in (1_000, 62_500, 154_321, 1_234_567, 125_000_000, 3_000_000_000):
        text = rate_text(bps)
        assert "." not in text, text  # the language's own digits and decimal point
        assert lang != "ar" or not any(c.isascii() and c.isalnum() for c in text), text
        assert read_rate(text) == pytest.approx(bps, rel=1e-5), text
