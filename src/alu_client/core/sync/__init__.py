"""Offline-first sync with a hub: the feed down (by the hub's seq, stored once), the history
outbox up, the member's events from its other workstations down. No Qt here.

- ``state.SyncState``: cursors and flags per profile (the ``sync_state`` table)
- ``history``: ``record_event``, ``transfer_outcome_hook``, ``HistorySync`` (push/pull/list)
- ``feed.FeedSync``: catch-up by pages, the event stream or polling, status and backoff;
  ``feed.ChangesRead``: what its last read of the hub's changes did
- ``service.SyncService``: the two sync threads of a profile
"""

from .feed import OFFLINE, ONLINE, SIGNED_OUT, ChangesRead, FeedSync, SyncStatus
from .history import (
    HistoryEvent,
    HistorySync,
    event_for_transfer,
    record_event,
    transfer_outcome_hook,
)
from .service import SyncService
from .state import SyncState

__all__ = [
    "OFFLINE",
    "ONLINE",
    "SIGNED_OUT",
    "ChangesRead",
    "FeedSync",
    "HistoryEvent",
    "HistorySync",
    "SyncService",
    "SyncState",
    "SyncStatus",
    "event_for_transfer",
    "record_event",
    "transfer_outcome_hook",
]
