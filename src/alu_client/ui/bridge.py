"""The core's news, on the GUI thread.

The core calls its listeners on its own threads (sync, workers, media). ``CoreBridge`` turns
each call into a Qt signal; signals emitted from another thread reach GUI-thread slots through
queued connections, so views never touch core threads and the core never waits for the GUI.
Library changes are coalesced (at most a few refreshes a second, whatever the core sends), with
the ids of the items they concern: the Feed and the Library read those items again, not every
row they show.

The core threads do not emit on the bridge themselves: the window may delete it while a core
thread is in the middle of a call. They post to the GUI thread (``tasks.post_to_gui``) with a
weak reference, and the signal is emitted there if the bridge is still alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.hub import Item
from ..core.item_notices import ItemNotice
from ..core.rules import RuleProblem
from ..core.services import Services
from ..core.sync import SyncStatus
from .tasks import install_mailbox, post_to_gui


class CoreBridge(QObject):
    #: new items stored in the library (list[Item]), in the hub's order
    items_added = Signal(list)
    #: library files changed: downloads recorded, probes and thumbnails made, files removed
    library_changed = Signal()
    #: the same news, just before ``library_changed``, with what it concerns: the ids of the
    #: items changed (frozenset[str]), or None when that is not known or they are too many to
    #: read one by one (read everything again)
    library_items_changed = Signal(object)
    #: the sync's state: online / offline (with the reason) / signed out
    sync_status = Signal(object)
    #: the history changed: a download or an upload ended (its event recorded), events sent
    #: to the hub or pulled from the member's other workstations (coalesced as
    #: ``library_changed`` is)
    history_changed = Signal()
    #: the hub no longer has what this workstation saw of it ("feed" or "history"): its feed
    #: and history are read again, this workstation's recent history sent again
    hub_went_back = Signal(str)
    # the rules whose items wait for their folder changed (list[RuleProblem]; [] none)
    rules_problems = Signal(list)
    #: items this workstation has that the agency withdrew or whose restrictions it
    #: corrected (list[ItemNotice]): the user is told
    item_notices = Signal(list)
    #: transfers whose details changed outside the queue's progress (list[int]): an item's
    #: restrictions corrected; the Transfers tab reads them again
    transfers_changed = Signal(list)

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.last_status: SyncStatus | None = None
        self._coalesce = QTimer(self)
        self._coalesce.setSingleShot(True)
        self._coalesce.setInterval(300)
        self._coalesce.timeout.connect(self._emit_library_changed)
        self._history_coalesce = QTimer(self)
        self._history_coalesce.setSingleShot(True)
        self._history_coalesce.setInterval(300)
        self._history_coalesce.timeout.connect(self.history_changed)
        # the items changed since the last emit; None: not known (everything)
        self._changed: set[str] | None = set()
        install_mailbox()
        # the core holds these, not bound methods: a core thread never keeps the bridge alive
        me = weakref.ref(self)
        self._listeners = _listeners(me)
        events = services.events
        events.items_added.append(self._listeners[0])
        events.library_changed.append(self._listeners[1])
        events.sync_status.append(self._listeners[2])
        events.history_changed.append(self._listeners[3])

        def went_back(kind: str) -> None:  # (a core thread)
            def on_gui() -> None:
                bridge = me()
                if bridge is not None and shiboken6.isValid(bridge):
                    bridge.hub_went_back.emit(kind)

            post_to_gui(on_gui)

        self._went_back = went_back
        events.hub_went_back.append(went_back)

        def problems(found: list[RuleProblem]) -> None:  # (a core thread)
            def on_gui() -> None:
                bridge = me()
                if bridge is not None and shiboken6.isValid(bridge):
                    bridge.rules_problems.emit(list(found))

            post_to_gui(on_gui)

        self._problems = problems
        events.rules_problems.append(problems)

        def notices(found: list[ItemNotice]) -> None:  # (a core thread)
            def on_gui() -> None:
                bridge = me()
                if bridge is not None and shiboken6.isValid(bridge):
                    bridge.item_notices.emit(list(found))

            post_to_gui(on_gui)

        self._notices = notices
        events.item_notices.append(notices)

        def transfers(ids: list[int]) -> None:  # (a core thread)
            def on_gui() -> None:
                bridge = me()
                if bridge is not None and shiboken6.isValid(bridge):
                    bridge.transfers_changed.emit(list(ids))

            post_to_gui(on_gui)

        self._transfers = transfers
        events.transfers_changed.append(transfers)
        # The sync may have started before this bridge listened, and it tells only changes:
        # start from its status now (a change after this arrives through the listener).
        sync = services.sync
        self.last_status = sync.status if sync is not None else None

    def detach(self) -> None:
        """Stop listening (the window is closing; the core may outlive it)."""
        events = self.services.events
        on_items, on_library, on_status, on_history = self._listeners
        if on_items in events.items_added:
            events.items_added.remove(on_items)
        if on_library in events.library_changed:
            events.library_changed.remove(on_library)
        if on_status in events.sync_status:
            events.sync_status.remove(on_status)
        if on_history in events.history_changed:
            events.history_changed.remove(on_history)
        if self._went_back in events.hub_went_back:
            events.hub_went_back.remove(self._went_back)
        if self._problems in events.rules_problems:
            events.rules_problems.remove(self._problems)
        if self._notices in events.item_notices:
            events.item_notices.remove(self._notices)
        if self._transfers in events.transfers_changed:
            events.transfers_changed.remove(self._transfers)

    # --- GUI thread ---------------------------------------------------------------------------

    def _schedule_library_changed(self, item_ids: Iterable[str] | None) -> None:
        if item_ids is None:
            self._changed = None
        elif self._changed is not None:
            self._changed.update(item_ids)
            if len(self._changed) > _MANY:
                self._changed = None  # a set this big is a full read anyway
        if not self._coalesce.isActive():
            self._coalesce.start()

    def _emit_library_changed(self) -> None:
        changed, self._changed = self._changed, set()
        self.library_items_changed.emit(None if changed is None else frozenset(changed))
        self.library_changed.emit()

    def _schedule_history_changed(self) -> None:
        if not self._history_coalesce.isActive():
            self._history_coalesce.start()

    def notify_library_changed(self, item_ids: Iterable[str] | None = None) -> None:
        """For the UI's own changes (a file deleted from the Library tab): those of
        ``item_ids``, or of any item (None)."""
        self._schedule_library_changed(None if item_ids is None else list(item_ids))


#: more items changed than this within one coalescing interval are not told one by one
_MANY = 1000


# --- called on core threads -------------------------------------------------------------------


def _listeners(
    me: weakref.ref[CoreBridge],
) -> tuple[
    Callable[[list[Item]], None],
    Callable[[str], None],
    Callable[[SyncStatus], None],
    Callable[[], None],
]:
    def post(call: Callable[[CoreBridge], None]) -> None:
        def on_gui() -> None:
            bridge = me()
            if bridge is not None and shiboken6.isValid(bridge):
                call(bridge)

        post_to_gui(on_gui)

    def on_items(items: list[Item]) -> None:
        copied = list(items)
        post(lambda b: b.items_added.emit(copied))

    def on_library(item_id: str) -> None:
        # '' is many items (or not known which)
        post(lambda b: b._schedule_library_changed([item_id] if item_id else None))

    def on_status(status: SyncStatus) -> None:
        def deliver(b: CoreBridge) -> None:
            b.last_status = status
            b.sync_status.emit(status)

        post(deliver)

    def on_history() -> None:
        post(lambda b: b._schedule_history_changed())

    return on_items, on_library, on_status, on_history
