"""The core's news, on the GUI thread.

The core calls its listeners on its own threads (sync, workers, media). ``CoreBridge`` turns
each call into a Qt signal; signals emitted from another thread reach GUI-thread slots through
queued connections, so views never touch core threads and the core never waits for the GUI.
Library changes are coalesced (at most a few refreshes a second, whatever the core sends).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.hub import Item
from ..core.services import Services
from ..core.sync import SyncStatus


class CoreBridge(QObject):
    #: new items stored in the library (list[Item]), in the hub's order
    items_added = Signal(list)
    #: library files changed: downloads recorded, probes and thumbnails made, files removed
    library_changed = Signal()
    #: the sync's state: online / offline (with the reason) / signed out
    sync_status = Signal(object)

    _library_poke = Signal()

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.last_status: SyncStatus | None = None
        self._coalesce = QTimer(self)
        self._coalesce.setSingleShot(True)
        self._coalesce.setInterval(300)
        self._coalesce.timeout.connect(self.library_changed.emit)
        self._library_poke.connect(self._schedule_library_changed)
        events = services.events
        events.items_added.append(self._on_items)
        events.library_changed.append(self._on_library)
        events.sync_status.append(self._on_status)

    def detach(self) -> None:
        """Stop listening (the window is closing; the core may outlive it)."""
        events = self.services.events
        for listeners, cb in (
            (events.items_added, self._on_items),
            (events.library_changed, self._on_library),
            (events.sync_status, self._on_status),
        ):
            if cb in listeners:
                listeners.remove(cb)  # type: ignore[arg-type]

    # --- called on core threads ---------------------------------------------------------------

    def _on_items(self, items: list[Item]) -> None:
        self.items_added.emit(list(items))

    def _on_library(self, _item_id: str) -> None:
        self._library_poke.emit()

    def _on_status(self, status: SyncStatus) -> None:
        self.last_status = status
        self.sync_status.emit(status)

    # --- GUI thread ---------------------------------------------------------------------------

    def _schedule_library_changed(self) -> None:
        if not self._coalesce.isActive():
            self._coalesce.start()

    def notify_library_changed(self) -> None:
        """For the UI's own changes (a file deleted from the Library tab)."""
        self._schedule_library_changed()
