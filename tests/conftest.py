"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

# Qt tests run without a screen (CI has none); set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A real hub on loopback (`live_hub`) and one short real clip (`clip`), for every test folder.
from tests.support.livehub import clip, live_hub  # noqa: F401
