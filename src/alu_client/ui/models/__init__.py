"""Item models (no widgets): each list the app shows is a Qt model over core data, tested
without a view and checked with pytest-qt's ``qtmodeltester``.

Roles shared by the models and the delegates that paint them:

- ``OBJECT_ROLE``: the row's object (e.g. ``TransferRow``), whatever the column;
- ``SORT_ROLE``: a plain value (number or text) the sort proxy compares;
- ``FRACTION_ROLE``: 0.0–1.0 (or None when unknown) for the progress column;
- ``STATE_ROLE``: the untranslated state name, for filters;
- ``BADGES_ROLE``: the badges of a Library card, ``[(text, alarm), …]``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

_USER = int(Qt.ItemDataRole.UserRole)
OBJECT_ROLE = _USER + 1
SORT_ROLE = _USER + 2
FRACTION_ROLE = _USER + 3
STATE_ROLE = _USER + 4
BADGES_ROLE = _USER + 5

__all__ = ["BADGES_ROLE", "FRACTION_ROLE", "OBJECT_ROLE", "SORT_ROLE", "STATE_ROLE"]
