"""Finished downloads told in few balloons: one per item, items close together in one.

Each finished download is read off the GUI thread (``core.download_notices.download_done``):
an item with another download still to finish (the broadcast file after its proxy) is told
when that one is in. Items finishing close together are gathered: the first waits
``gather_ms`` for others, and after a balloon the next one waits until ``gap_ms`` have passed,
gathering what finishes meanwhile, so a backlog of 60 items makes a balloon a minute
("12 items downloaded"), not 120. An item told is not told again within ``RECENT_S`` (its two
files finishing at the same moment each see the other done).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from alu_client.core.download_notices import DownloadDone

#: the first finished item waits this long for others finishing with it (ms)
GATHER_MS = 3_000
#: at least this long between two balloons of finished downloads (ms)
GAP_MS = 60_000
#: an item told is not told again within this many seconds
RECENT_S = 300.0


class DownloadNotices(QObject):
    """Signal ``ready(list[DownloadDone])``: the items to tell in one balloon (one each)."""

    ready = Signal(list)

    def __init__(
        self, parent: QObject | None = None, *, gather_ms: int = GATHER_MS, gap_ms: int = GAP_MS
    ) -> None:
        super().__init__(parent)
        self.gather_ms = gather_ms
        self.gap_ms = gap_ms
        self._pending: dict[str, DownloadDone] = {}
        self._told: dict[str, float] = {}
        self._since_shown = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)

    def add(self, notice: DownloadDone | None) -> None:
        """A finished download (None: nothing to tell)."""
        if notice is None or notice.more_to_come:
            return
        now = time.monotonic()
        told = self._told.get(notice.key)
        if told is not None and now - told < RECENT_S:
            return
        self._pending.setdefault(notice.key, notice)
        if self._timer.isActive():
            return
        wait = self.gather_ms
        if self._since_shown.isValid():
            wait = max(wait, self.gap_ms - int(self._since_shown.elapsed()))
        self._timer.start(wait)

    def _flush(self) -> None:
        notices = list(self._pending.values())
        self._pending.clear()
        if not notices:
            return
        now = time.monotonic()
        self._told = {k: t for k, t in self._told.items() if now - t < RECENT_S}
        for n in notices:
            self._told[n.key] = now
        self._since_shown.restart()
        self.ready.emit(notices)
