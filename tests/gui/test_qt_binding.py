"""Guard against a Qt binding that corrupts the interpreter (PySide6 6.12.0 on CPython 3.11
dropped a reference to None on every void Qt call; the app aborted after a while with
"Fatal Python error: none_dealloc"). A lock update to such a version fails here first."""

from __future__ import annotations

import gc
import sys

import pytest
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QCheckBox
from pytestqt.qtbot import QtBot


class _NoneModel(QAbstractListModel):
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        return None


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="None and True are immortal from Python 3.12 on (PEP 683): their reference counts "
    "no longer move, so this check could not fail there, and the bug cannot happen",
)
def test_void_calls_and_none_data_keep_reference_counts(qtbot: QtBot) -> None:
    box = QCheckBox("x")
    qtbot.addWidget(box)
    model = _NoneModel()
    index = model.index(0, 0)
    gc.collect()
    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True))}
    for _ in range(1000):
        box.setChecked(True)
        index.data(Qt.ItemDataRole.DisplayRole)
    gc.collect()
    after = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True))}
    for name in before:
        # other threads may hold a few more or fewer; a leak shows as about -1000 or -2000
        assert abs(after[name] - before[name]) < 100, (name, before[name], after[name])
