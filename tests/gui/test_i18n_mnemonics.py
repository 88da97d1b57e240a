"""Alt+letter in every menu, question and page, in each language: one letter, one control.

With the same letter twice in one place Qt moves the focus between the two instead of pressing
one: in Arabic the discard question could never answer "Keep editing" with Alt+ت, and the
Feed's context menu and Settings' Auto-download page had the same letter two and three times.
The sign-in dialog, the hot folder dialog, the upload form, the menus and the Transfers tab
are checked on the real widgets in test_i18n.py; the other places are listed here, with a
check that a new label with an Alt+letter is in one of the two lists.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from alu_client.ui.i18n import install_translators, translations_dir
from tests.gui.test_i18n import clashes, messages

MENU_BAR = [("ShellActions", s) for s in ("&File", "&Transfers", "&View", "T&ools", "&Help")]
UPLOAD_FORM = [
    ("UploadForm", s)
    for s in (
        "&Title:", "S&lug:", "&Dateline:", "Lan&guage:", "Cat&egory:", "Regi&on:", "Countr&y:",
        "&Priority:", "&Restrictions:", "&Script:", "S&hotlist:", "Re&corded:",
    )
]  # fmt: skip
RULES_PAGE = [("RulesPage", s) for s in ("&Add…", "&Edit…", "&Remove", "Move &up", "Move do&wn")]

# The labels that answer Alt+letter together: one menu, one question, one page (with the main
# window's menu bar where the page is a tab of the main window).
PLACES: dict[str, list[tuple[str, str]]] = {
    "Feed: the list's menu": [
        ("FeedPanel", s) for s in ("&Download", "Download &proxy", "Pre&view", "Mark all &read")
    ],
    "Feed tab": [*MENU_BAR, ("FilterBar", "&Search:")],
    "Library: the list's menu": [
        ("LibraryPanel", s)
        for s in (
            "Show in &folder",
            "&Open file",
            "&Copy to…",
            "&Delete local file",
            "Download &again",
            "&Grid",
            "&List",
        )
    ],
    "Library tab": [*MENU_BAR, ("FilterBar", "&Search:")],
    "History: the commands": [("HistoryPanel", s) for s in ("&Refresh", "&Sync now")],
    "Settings: General": [("GeneralPage", "&Language:")],
    "Settings: Transfers": [
        ("TransfersPage", s)
        for s in (
            "&Download folder:",
            "Downloads at &once:",
            "&Uploads at once:",
            "Download &limit:",
            "Upload l&imit:",
            "Move u&p",
            "Move do&wn",
        )
    ],
    "Settings: Auto-download, a rule on": [*RULES_PAGE, ("RulesPage", "Turn &off")],
    "Settings: Auto-download, a rule off": [*RULES_PAGE, ("RulesPage", "Turn o&n")],
    "Settings: Auto-download, a rule": [
        ("RuleDialog", s) for s in ("&Name:", "&Download:", "&To folder:")
    ],
    "Settings: Hot folders": [
        ("HotFoldersPage", s)
        for s in (
            "Files of this folder that were &not sent:",
            "Files of this folder another &workstation is sending (nothing to do):",
            "&Add folder…",
            "&Remove",
            "Re&try",
        )
    ],
    "Settings: Network": [
        ("NetworkPage", s)
        for s in ("&Proxy:", "Proxy user na&me:", "Proxy pass&word:", "&CA bundle:")
    ],
    "Upload": [
        *UPLOAD_FORM,
        *[("UploadDialog", s) for s in ("&Apply to all files", "&Upload", "Remo&ve from the list")],
    ],
    "Upload: send this file again?": [
        ("UploadDialog", "&Send again"),
        ("UploadDialog", "&Leave it out"),
    ],
    "Upload: send these files again?": [
        ("UploadDialog", "&Send again"),
        ("UploadDialog", "&Leave them out"),
    ],
    "Upload: discard the details?": [
        ("UploadDialog", "&Discard"),
        ("UploadDialog", "&Keep editing"),
    ],
    "Sign out?": [("MainWindow", "Sign &out"), ("MainWindow", "&Stay signed in")],
}

# checked on the widgets in test_i18n.py (and Qt's own Cancel, in QGnomeTheme)
CHECKED_ELSEWHERE = {
    "SignInDialog", "HotFolderDialog", "UploadForm", "ShellActions", "TransfersPanel",
    "QGnomeTheme",
}  # fmt: skip


def has_mnemonic(source: str) -> bool:
    return "<" not in source and re.search(r"&[^&\s]", source.replace("&&", "")) is not None


def is_gone(msg: ET.Element) -> bool:
    """A message the app no longer has (kept in the catalogue for the translators)."""
    tr = msg.find("translation")
    return tr is not None and tr.get("type") in ("vanished", "obsolete")


def test_every_label_with_an_alt_letter_is_checked_somewhere() -> None:
    listed = {label for labels in PLACES.values() for label in labels}
    found = messages(translations_dir() / "alu_fr.ts")
    current = {(c, s) for c, s, msg in found if not is_gone(msg)}
    unchecked = [
        (context, source)
        for context, source in sorted(current)
        if has_mnemonic(source) and context not in CHECKED_ELSEWHERE
        and (context, source) not in listed
    ]  # fmt: skip
    assert unchecked == []
    assert listed <= current  # (no label listed that the app lost)


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_no_letter_twice_in_one_menu_question_or_page(qapp: QApplication, lang: str) -> None:
    install_translators(qapp, lang)
    try:
        found: dict[str, Any] = {}
        for place, labels in PLACES.items():
            texts = [QCoreApplication.translate(c, s) for c, s in labels]
            if clash := clashes(texts):
                found[place] = clash
        assert found == {}
    finally:
        install_translators(qapp, "en")
