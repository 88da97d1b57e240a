"""QtQml for ALU Desk: only the QML module the app loads, not all of Qt's.

PyInstaller's own hook collects every QML module in the wheel (Quick Controls, Quick3D, Web
Engine, Charts, …) and, through their plugins, the Qt libraries behind them: hundreds of MB.
The app loads one QML type, ``import QtMultimedia; AudioOutput {}`` (the player's audio output,
see ``alu_client/ui/widgets/player.py``), so this hook keeps the ``QtMultimedia`` QML module
only; its plugin brings the libraries it links (Qt Quick, Qt Multimedia Quick). The self-test
(``--self-test``, check "playback") fails if the type cannot be made in the built app.

This file overrides PyInstaller's ``hook-PySide6.QtQml.py`` through ``hookspath`` in the spec.
"""

from pathlib import PurePath

from PyInstaller.utils.hooks.qt import add_qt6_dependencies, pyside6_library_info

KEEP = ("QtMultimedia",)

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
qml_binaries, qml_datas = pyside6_library_info.collect_qtqml_files()
qml_root = PurePath(pyside6_library_info.qt_rel_dir) / "qml"


def _wanted(dest: str) -> bool:
    try:
        parts = PurePath(dest).relative_to(qml_root).parts
    except ValueError:
        return True
    return bool(parts) and parts[0] in KEEP


binaries += [(src, dest) for src, dest in qml_binaries if _wanted(dest)]
datas += [(src, dest) for src, dest in qml_datas if _wanted(dest)]
