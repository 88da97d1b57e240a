"""The system's words for a file error ("Permission denied") in the user's language."""

from __future__ import annotations

import errno
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from alu_client.ui import engine_text, os_text
from alu_client.ui.i18n import install_translators, translations_dir


def _translations(lang: str) -> dict[str, str]:
    tree = ET.parse(translations_dir() / f"alu_{lang}.ts")
    return {
        m.findtext("source", ""): m.findtext("translation", "")
        for context in tree.getroot().iter("context")
        if context.findtext("name") == os_text.CONTEXT
        for m in context.iter("message")
    }


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_every_os_text_is_translated(lang: str) -> None:
    done = _translations(lang)
    assert done, lang
    for text in os_text.TEXTS:
        assert done.get(text) and done[text] != text, (lang, text)


@pytest.mark.skipif(sys.platform == "win32", reason="the C library's words (Windows has its own)")
@pytest.mark.parametrize(
    "code", [errno.EACCES, errno.ENOENT, errno.ENOSPC, errno.EROFS, errno.EEXIST, errno.EISDIR]
)
def test_this_systems_words_for_common_errors_are_known(code: int) -> None:
    # the table is keyed on what Python says here, not on what we think it says
    assert os.strerror(code).casefold() in {t.casefold() for t in os_text.TEXTS}


def test_a_file_error_in_a_message_is_said_in_the_users_language(
    qapp: QApplication, tmp_path: Path
) -> None:
    try:
        (tmp_path / "missing" / "x").read_bytes()
    except OSError as e:
        error: OSError = e
    assert os_text.os_error_text(error) == error.strerror  # English: as the system said it
    message = f"The file cannot be saved there ({error.strerror}); choose another folder or name."

    install_translators(qapp, "fr")
    assert os_text.os_error_text(error) == "Aucun fichier ou dossier de ce nom"
    assert os_text.os_text("Access is denied.") == "Accès refusé"  # Windows, with its period
    assert os_text.os_text("Something only this system says") == ("Something only this system says")
    shown = engine_text.shown(message)
    assert "(Aucun fichier ou dossier de ce nom)" in shown, shown
    assert not re.search(r"[Nn]o such file", shown), shown

    install_translators(qapp, "ar")
    assert os_text.os_text("Permission denied") == "تم رفض الإذن"


def test_the_download_folder_setting_says_why_in_the_users_language(
    qtbot: Any, qapp: QApplication
) -> None:
    from alu_client.ui.views.settings_transfers import TransfersPage

    install_translators(qapp, "fr")
    page = TransfersPage()
    qtbot.addWidget(page)
    page.show_problem("not_writable", "Permission denied")
    said = page.download_dir.error.text()
    assert "(Permission refusée)" in said and "denied" not in said, said
