"""The names of the keys the app's shortcuts show, in the app's own catalogue.

Qt names a key when it writes a shortcut for people ("Del", "Alt+Home": the tooltips and
menus) through its own catalogue, context ``QShortcut`` of ``qtbase_<lang>.qm``. Qt's Arabic
one names the arrows (الأعلى, الأسفل) and not Home, End, Del or Space, so the Arabic Transfers
tab said "Ctrl+الأعلى" beside "Alt+Home" and "(Del)", and the Feed "(Space)". The app's
catalogue is installed after Qt's and is asked first: these entries, in context ``QShortcut``,
let each language name every key the app shows in one vocabulary. An entry left empty leaves
Qt's own name; French's are Qt's (Espace, Suppr, Début, Fin, Haut, Bas). The modifiers (Ctrl,
Shift, Alt) are left to Qt: keyboards print them in Latin letters.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

#: every key named (not a character, not a modifier) in a shortcut the app shows
KEY_NAMES = (
    QT_TRANSLATE_NOOP("QShortcut", "Space"),
    QT_TRANSLATE_NOOP("QShortcut", "Del"),
    QT_TRANSLATE_NOOP("QShortcut", "Home"),
    QT_TRANSLATE_NOOP("QShortcut", "End"),
    QT_TRANSLATE_NOOP("QShortcut", "Up"),
    QT_TRANSLATE_NOOP("QShortcut", "Down"),
)

__all__ = ["KEY_NAMES"]
