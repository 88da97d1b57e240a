"""Languages of the desktop app: English (the source strings), French and Arabic.

Every user-visible string goes through ``tr()`` (or ``QCoreApplication.translate`` outside a
QObject, with a literal context so lupdate finds it). In the UI sources a ``#:`` comment is a
note to translators (lupdate attaches it to the next string), so plain ``#`` elsewhere.

Translations are Qt Linguist sources in ``resources/translations/alu_<lang>.ts``, kept up to
date with ``python tools/i18n.py update``; the ``.qm`` files Qt loads are build output
(``python tools/i18n.py build``, or :func:`build_missing_translations` at start-up from a
source checkout). A count goes in with ``tr(text, "", n)`` and ``%Ln`` (the number in the
language's digits) and has plural forms in each catalogue: two in French, six in Arabic, two in
``alu_en.ts``, which holds English's plural forms and nothing else. Qt's own strings (dialog
buttons, context menus) come from the ``qtbase`` translations shipped with PySide6. Arabic
turns the whole layout right to left (and draws menus' keys left to right: ``menu_keys``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QLibraryInfo,
    QLocale,
    Qt,
    QTranslator,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from .menu_keys import follow_layout_direction

log = logging.getLogger(__name__)

# what the language setting may hold; "system" follows the workstation's language
LANGUAGES = ("system", "en", "fr", "ar")
# languages the app is translated into (English is the source)
TRANSLATED = ("fr", "ar")
# English has a catalogue of its own for the counts alone (``lupdate -pluralonly``): a
# source string says "%Ln events waiting…", its English catalogue "1 event waiting…" for one
PLURALS_ONLY = ("en",)
RIGHT_TO_LEFT = frozenset({"ar"})
CATALOG = "alu"

# Qt's own words that the app says too, in the app's catalogue (installed after qtbase's, so
# asked first): qtbase's Arabic "Cancel" button said "ألغِ" beside the app's "إلغاء" (GNOME's
# and other GTK desktops' theme asks its own context, with a mnemonic)
QT_WORDS = (
    QT_TRANSLATE_NOOP("QPlatformTheme", "Cancel"),
    QT_TRANSLATE_NOOP("QGnomeTheme", "&Cancel"),
)

# Translators must outlive the call that installs them (Qt does not own them).
_installed: list[QTranslator] = []


def resources_dir() -> Path:
    """The top-level ``resources/`` folder: beside ``src/`` in a source checkout, or unpacked
    next to the code in a frozen (PyInstaller) app."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def translations_dir() -> Path:
    return resources_dir() / "translations"


def resolve_language(language: str) -> str:
    """The language the app will speak for a setting: 'system' picks the first of the
    workstation's UI languages we have, else English."""
    if language in ("en", *TRANSLATED):
        return language
    if language != "system":
        log.warning("unknown language setting %r; using the system language", language)
    for name in QLocale.system().uiLanguages():
        code = name.replace("_", "-").split("-")[0].lower()
        if code in ("en", *TRANSLATED):
            return code
    return "en"


def formatting_locale_names() -> list[str]:
    """The names of the locales the workstation writes numbers and dates with ("en_US.UTF-8").

    On Linux and the BSDs these come from the environment as the C library reads it
    (``LC_ALL``, else ``LC_NUMERIC`` / ``LC_TIME``, else ``LANG``), not from
    ``QLocale.system().name()``: Qt names the system locale after ``LANGUAGE`` (the UI
    languages), "fr_FR" under ``LANG=en_US.UTF-8 LANGUAGE=fr``, while its numbers and dates
    still follow ``en_US``. Elsewhere (Windows, macOS) the system locale's name is the one of
    its formats."""
    if os.name != "posix" or sys.platform == "darwin":
        return [QLocale.system().name()]
    every = os.environ.get("LC_ALL", "")
    if every:
        return [every]
    lang = os.environ.get("LANG", "")
    return [os.environ.get(var, "") or lang for var in ("LC_NUMERIC", "LC_TIME")]


def formatting_locale(code: str) -> QLocale:
    """The locale the app writes numbers, dates and day names with when it speaks ``code``:
    the workstation's own when it formats in that language (fr_SN, ar_MA keep their
    territory's conventions), else that language's (``LANG=C`` or ``en_US`` with French
    words wrote "1.5 Mbit/s", US dates and English day names)."""
    language = QLocale(code).language()
    names = formatting_locale_names()
    if not all(QLocale(name).language() == language for name in names):
        return QLocale(code)
    system = QLocale.system()
    # (the system locale named after another UI language, e.g. LANGUAGE=fr for an English
    # app under LANG=en_US: its numbers are right, its language() would say French)
    return system if system.language() == language else QLocale(names[0])


def install_translators(app: QCoreApplication, language: str) -> str:
    """Install Qt's and our translations for ``language`` (a ``LANGUAGES`` value) in ``app``,
    replacing any installed before, and set the layout direction. Returns the language used.

    Widgets get a ``LanguageChange`` event and retranslate themselves; a missing ``.qm`` is
    logged and leaves the English strings."""
    code = resolve_language(language)
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    QLocale.setDefault(formatting_locale(code))
    catalogues = [(CATALOG, str(translations_dir()))]
    if code != "en":  # English: our plural forms alone
        qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        catalogues.insert(0, ("qtbase", qt_dir))
    for name, folder in catalogues:
        translator = QTranslator(app)
        if translator.load(f"{name}_{code}", folder):
            app.installTranslator(translator)
            _installed.append(translator)
        else:
            log.warning("no %s translation for %r in %s", name, code, folder)
    if isinstance(app, QGuiApplication):
        right_to_left = code in RIGHT_TO_LEFT
        app.setLayoutDirection(
            Qt.LayoutDirection.RightToLeft if right_to_left else Qt.LayoutDirection.LeftToRight
        )
        if isinstance(app, QApplication):  # menus' keys left to right (menu_keys.py)
            follow_layout_direction(app, right_to_left)
    return code


# --- building the .qm files -------------------------------------------------------------------


def qt_tool(name: str) -> Path:
    """A Qt Linguist tool (``lrelease``, ``lupdate``) as shipped inside the PySide6 wheel."""
    import PySide6

    exe = Path(PySide6.__file__).resolve().parent / (name + (".exe" if os.name == "nt" else ""))
    if not exe.exists():
        raise FileNotFoundError(f"{exe} is missing; reinstall PySide6-Essentials")
    return exe


def build_translations(folder: Path | None = None, *, force: bool = False) -> list[Path]:
    """Compile each ``alu_<lang>.ts`` in ``folder`` into ``alu_<lang>.qm`` when the ``.ts`` is
    newer (or ``force``). Returns the ``.qm`` files written."""
    folder = folder or translations_dir()
    built: list[Path] = []
    for ts in sorted(folder.glob(f"{CATALOG}_*.ts")):
        qm = ts.with_suffix(".qm")
        if not force and qm.exists() and qm.stat().st_mtime >= ts.stat().st_mtime:
            continue
        subprocess.run(  # noqa: S603 - a fixed tool from the PySide6 wheel, our own files
            [str(qt_tool("lrelease")), "-silent", str(ts), "-qm", str(qm)],
            check=True,
            capture_output=True,
        )
        built.append(qm)
    return built


def build_missing_translations() -> list[Path]:
    """At start-up from a source checkout: build the ``.qm`` files that are missing or older
    than their ``.ts``. A frozen app ships them built; a failure only costs the translations."""
    if getattr(sys, "frozen", False) or not translations_dir().is_dir():
        return []
    try:
        return build_translations()
    except (OSError, subprocess.CalledProcessError) as e:
        log.warning("could not build the translations (%s); the app stays in English", e)
        return []
