"""The formats of the language the app speaks: numbers, dates, day names and rates follow it
whatever other locale the workstation formats with; the schedule counts the week from the
locale's first day; rates are read back in the units and digits the app writes them in."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QWidget

import alu_client
from alu_client.core.transfers.schedule import ScheduleRule
from alu_client.ui import formats
from alu_client.ui.i18n import formatting_locale, install_translators
from alu_client.ui.views.bandwidth import not_a_rate
from alu_client.ui.views.settings_fields import (
    byte_rate_text,
    rate_error,
    rate_text,
    read_rate,
    too_slow,
)
from alu_client.ui.views.settings_models import ScheduleModel, day_names, week_days
from alu_client.ui.views.settings_transfers import ScheduleRuleDialog

LEFT = Qt.MouseButton.LeftButton
SRC = Path(alu_client.__file__).resolve().parents[1]

# what the app writes under a language setting, in a fresh process started with an environment
PROBE = """
import json, sys
from PySide6.QtCore import QDate, QDateTime, QLocale, QTime
from PySide6.QtWidgets import QApplication
app = QApplication([])
from alu_client.ui import formats
from alu_client.ui.i18n import install_translators
from alu_client.ui.views.settings_fields import read_rate
code = install_translators(app, sys.argv[1])
loc = QLocale()
try:
    typed = read_rate(sys.argv[2])
except ValueError:
    typed = "refused"
print(json.dumps({
    "code": code,
    "name": loc.name(),
    "language": loc.languageToCode(loc.language()),
    "speed": formats.speed_text(190_000),
    "date": loc.toString(QDateTime(QDate(2026, 12, 7), QTime(15, 3)), loc.FormatType.ShortFormat),
    "monday": loc.dayName(1, loc.FormatType.ShortFormat),
    "typed": typed,
}))
"""


def probe(env: dict[str, str], setting: str, typed: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    clean.update(env, PYTHONPATH=str(SRC), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, setting, typed],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_french_words_from_language_get_french_numbers_dates_and_days() -> None:
    # LANGUAGE=fr on an American workstation: French words beside "1.52 Mbit/s", "12/7/26
    # 3:03 PM" and "Mon"; "2,5 Mo/s" typed the French way was "not a speed"
    got = probe({"LANG": "en_US.UTF-8", "LANGUAGE": "fr"}, "system", "2,5 Mo/s")
    assert got["code"] == "fr" and got["language"] == "fr"
    assert got["speed"] == "1,52 Mbit/s"
    assert got["date"] == "07/12/2026 15:03"
    assert got["monday"] == "lun."
    assert got["typed"] == 2_500_000


def test_arabic_words_from_language_get_arabic_digits() -> None:
    got = probe({"LANG": "en_US.UTF-8", "LANGUAGE": "ar"}, "system", "١٫٥ ميغابت/ث")
    assert got["code"] == "ar" and got["language"] == "ar"
    assert got["speed"] == "١٫٥٢ ميغابت/ث"
    assert "PM" not in got["date"] and "٢٠٢٦" in got["date"]
    assert got["monday"] == QLocale("ar_EG").dayName(1, QLocale.FormatType.ShortFormat)
    assert got["typed"] == 187_500


def test_a_language_picked_in_settings_formats_in_that_language() -> None:
    got = probe({"LANG": "en_US.UTF-8"}, "fr", "1,5 Mbit/s")
    assert (got["name"], got["speed"], got["typed"]) == ("fr_FR", "1,52 Mbit/s", 187_500)


def test_the_workstations_own_locale_of_that_language_is_kept() -> None:
    # Senegal's French, not France's
    got = probe({"LANG": "fr_SN.UTF-8", "LANGUAGE": "fr"}, "system", "1,5 Mbit/s")
    assert got["name"] == "fr_SN" and got["speed"] == "1,52 Mbit/s"


def test_english_picked_under_french_language_formats_as_the_workstation() -> None:
    # Qt names the system locale "fr_FR" after LANGUAGE; its numbers are LANG's (en_US)
    got = probe({"LANG": "en_US.UTF-8", "LANGUAGE": "fr"}, "en", "1.5 Mbit/s")
    assert (got["name"], got["language"], got["speed"]) == ("en_US", "en", "1.52 Mbit/s")
    assert got["date"].startswith("12/7/26")


def test_lc_all_and_lc_numeric_decide_the_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_NUMERIC", "LC_TIME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert formatting_locale("fr").name() == "fr_FR"
    assert formatting_locale("ar").language() == QLocale.Language.Arabic
    monkeypatch.setenv("LANG", "C")
    assert formatting_locale("fr").name() == "fr_FR"
    # numbers in English and dates in French: not all French, so the language's own
    monkeypatch.setenv("LC_NUMERIC", "en_GB.UTF-8")
    monkeypatch.setenv("LC_TIME", "fr_BE.UTF-8")
    assert formatting_locale("fr").name() == "fr_FR"
    # LC_ALL beats the others
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    assert formatting_locale("en").name() == "en_US"


# --- the weekly schedule ----------------------------------------------------------------------


def arabic(qapp: QApplication) -> None:
    assert install_translators(qapp, "ar") == "ar"
    QLocale.setDefault(QLocale("ar_EG"))  # a week from Saturday, a Sunday–Thursday work week


def test_an_egyptian_work_week_is_one_range_in_arabic(qapp: QApplication) -> None:
    arabic(qapp)
    assert week_days() == [5, 6, 0, 1, 2, 3, 4]
    assert day_names(frozenset({6, 0, 1, 2, 3})) == "الأحد–الخميس"
    # joined as Arabic joins a list, not with a Latin comma
    weekend = day_names(frozenset({4, 5}))
    assert weekend == "السبت والجمعة" and "," not in weekend
    model = ScheduleModel()
    rule = ScheduleRule(
        days=frozenset({0}),
        start=datetime.time(7, 0),
        end=datetime.time(0, 0),
        down_bps=12_500,
        up_bps=None,
    )
    # the times in the same digits as the rate beside them
    assert [model.text(rule, c) for c in range(1, 4)] == ["٠٧:٠٠", "٢٤:٠٠", "١٠٠ كيلوبت/ث"]


def test_french_days_are_french_from_monday(qapp: QApplication) -> None:
    install_translators(qapp, "fr")
    QLocale.setDefault(QLocale("fr_FR"))
    assert day_names(frozenset(range(5))) == "lun.–ven."
    assert day_names(frozenset({5, 6})) == "sam. et dim."
    assert day_names(frozenset({0, 2, 4})) == "lun., mer. et ven."


def shown_order(dialog: ScheduleRuleDialog) -> list[int]:
    """The days of the period form's boxes as a reader meets them, from the start of the line."""
    boxes = sorted(dialog.days, key=lambda box: box.mapTo(dialog, box.rect().center()).x())
    if dialog.isRightToLeft():
        boxes.reverse()
    return [dialog.days.index(box) for box in boxes]


def test_the_period_form_starts_the_week_on_the_locales_first_day(
    qtbot: Any, qapp: QApplication
) -> None:
    arabic(qapp)
    dialog = ScheduleRuleDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert shown_order(dialog) == [5, 6, 0, 1, 2, 3, 4]
    assert dialog.days[5].text() == QLocale().dayName(6, QLocale.FormatType.ShortFormat)
    # a new period covers the locale's working days: Sunday to Thursday
    assert {d for d, box in enumerate(dialog.days) if box.isChecked()} == {6, 0, 1, 2, 3}
    for box in dialog.days:
        box.setChecked(False)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), LEFT)
    # the first box of the row takes the focus for "Tick at least one day"
    assert dialog.focusWidget() is dialog.days[5]
    assert isinstance(dialog.focusWidget(), QCheckBox)


def test_the_period_form_grows_to_show_its_whole_error(qtbot: Any, qapp: QApplication) -> None:
    # the three-line French error was drawn on one line's height, its end cut off
    install_translators(qapp, "fr")
    dialog = ScheduleRuleDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.up.edit.setText("beaucoup trop vite")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), LEFT)
    error = dialog.up.error
    assert error.isVisible() and dialog.isVisible()

    def whole() -> bool:
        return error.height() >= error.heightForWidth(error.width())

    qtbot.waitUntil(whole)
    assert error.heightForWidth(error.width()) > error.fontMetrics().lineSpacing() * 1.5

    # and nothing below it is drawn over it
    def top(w: QWidget) -> int:
        return w.mapTo(dialog, w.rect().topLeft()).y()

    bottom = top(error) + error.height()
    below = [w for w in dialog.findChildren(QWidget) if w.isVisible() and top(w) > top(error)]
    below = [w for w in below if not error.isAncestorOf(w) and w is not error]
    assert below and all(top(w) >= bottom for w in below)


# --- rates ------------------------------------------------------------------------------------


LOCALES = {"en": "en_US", "fr": "fr_FR", "ar": "ar_EG"}


def speak(qapp: QApplication, lang: str) -> None:
    assert install_translators(qapp, lang) == lang
    QLocale.setDefault(QLocale(LOCALES[lang]))


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_every_rate_the_app_writes_reads_back_the_same(qapp: QApplication, lang: str) -> None:
    speak(qapp, lang)
    for bps in (1000, 1234.5, 30_000, 62_500, 187_500, 1_500_000, 125_000_000, 3e9):
        assert read_rate(rate_text(bps)) == pytest.approx(bps, rel=1e-6)
        shown = formats.speed_text(bps)
        back = read_rate(shown)
        assert back is not None and formats.speed_text(back) == shown
        assert read_rate(byte_rate_text(bps)) == pytest.approx(bps, rel=1e-6)


def examples(message: str) -> list[str]:
    """The isolated parts of a message: its examples (and what was typed)."""
    return [part.split(formats.PDI)[0] for part in message.split(formats.FSI)[1:]]


@pytest.mark.parametrize(
    ("lang", "megabytes", "typed"),
    [
        # a number grouped as the language writes it ("1 500" in French) is read too
        ("en", "1.5 MB/s", {"2.5 MB/s": 2_500_000, "500 kB/s": 500_000, "1,500 kB/s": 1_500_000}),
        (
            "fr",
            "1,5 Mo/s",
            {
                "2,5 Mo/s": 2_500_000,
                "500 ko/s": 500_000,
                "1,5 Mbit/s": 187_500,
                "1 500 kbit/s": 187_500,
                "1\u202f500 kbit/s": 187_500,
                "1 500,5 ko/s": 1_500_500,
            },
        ),
        (
            "ar",
            "١٫٥ ميغابايت/ث",
            {
                "٢ ميغابايت/ث": 2_000_000,
                "٥٠٠ كيلوبايت/ث": 500_000,
                "2 ميغابايت / ث": 2_000_000,
                "٢٫٥ ميغابت/ث": 312_500,
                "١٬٥٠٠ كيلوبايت/ث": 1_500_000,
            },
        ),
    ],
)
def test_rate_hints_use_the_languages_numbers_and_units_and_read_back(
    qapp: QApplication, lang: str, megabytes: str, typed: dict[str, float]
) -> None:
    speak(qapp, lang)
    assert byte_rate_text(1_500_000) == megabytes
    for text, bps in typed.items():
        assert read_rate(text) == bps, text
    if lang == "en":  # a comma with fewer than three digits after it is no grouping
        with pytest.raises(ValueError, match="as a rate"):
            read_rate("1,5 MB/s")
    message = rate_error("vite")
    assert megabytes in examples(message)
    hints = [message, not_a_rate("vite"), too_slow("1")]
    for hint in hints:
        shown = [e for e in examples(hint) if e not in ("vite", "1")]
        assert shown
        for example in shown:
            assert read_rate(example) is not None, example
    if lang != "en":
        assert "1.5 MB/s" not in message and "MB/s" not in not_a_rate("vite")
