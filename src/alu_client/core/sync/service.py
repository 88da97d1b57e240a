"""``SyncService``: the sync threads of one profile, owned together.

One thread keeps the feed current (``FeedSync.run``); a sibling sends the history outbox and
pulls the member's events from its other workstations, every ``history_interval`` seconds,
soon after a transfer ends (``push_soon``), at once when the hub comes back, and on
``sync_now``. Both back off on errors and stop within about a second.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from ..hub import AuthError, HubError, ServerError
from ..store.problems import disk_full
from ..transfers.retry import Backoff
from .feed import ONLINE, SIGNED_OUT_RECHECK_S, TICK_S, FeedSync, SyncStatus, ended_after_stop
from .history import SENDER_CODES, HistorySync

log = logging.getLogger(__name__)

#: the history could not be kept: the disk that holds the data folder is full
MSG_HISTORY_DISK_FULL = (
    "The disk that holds ALU Desk's data folder is full; the history is synced when there is "
    "space there again."
)


class SyncService:
    def __init__(
        self,
        feed: FeedSync,
        history: HistorySync | None = None,
        *,
        history_interval: float = 60.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.feed = feed
        self.history = history
        self.history_interval = history_interval
        # a hub's long Retry-After is held to the cap too: the feed wakes the history when
        # the hub is back, and a 5-minute wait is the most an event waits to be sent
        self.backoff = backoff or Backoff(base=1.0, cap=300.0, max_retry_after=300.0)
        self._stop = threading.Event()
        self._history_wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._was_online = feed.status.online
        feed.status_listeners.append(self._on_feed_status)
        #: the last history error ('' when the last round went through)
        self.history_error = ""

    @property
    def status(self) -> SyncStatus:
        return self.feed.status

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._threads = [
            threading.Thread(
                target=self.feed.run, args=(self._stop,), name="sync-feed", daemon=True
            )
        ]
        if self.history is not None:
            self._threads.append(
                threading.Thread(target=self._history_loop, name="sync-history", daemon=True)
            )
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads, waiting ``timeout`` seconds at most: one still waiting on the hub
        then (it does not answer) ends by itself when its request does, keeping nothing."""
        self._stop.set()
        self.feed.wake()
        self._history_wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._threads:
            log.info("sync threads still waiting on the hub after %.1f s; left to end", timeout)

    def sync_now(self) -> None:
        """Everything again now: the feed, the outbox, the member's other events."""
        self.feed.wake()
        self._history_wake.set()

    def push_soon(self) -> None:
        """Send the outbox now (a transfer just ended)."""
        self._history_wake.set()

    def _on_feed_status(self, status: SyncStatus) -> None:
        if status.state == ONLINE and not self._was_online:
            self._history_wake.set()  # the hub is back: what waited in the outbox goes now
        self._was_online = status.state == ONLINE

    def _history_loop(self) -> None:
        history = self.history
        assert history is not None
        failures = 0
        while not self._stop.is_set():
            self._history_wake.clear()
            delay: float | None
            try:
                refused: HubError | None = None
                try:
                    history.push()
                except HubError as e:
                    if e.code not in SENDER_CODES:
                        raise
                    refused = e  # this workstation's clock: the events wait; still pull
                history.pull()
                if refused is not None:
                    raise refused
                failures = 0
                self.history_error = ""
                delay = self.history_interval
            except AuthError as e:
                if ended_after_stop(self._stop, e):
                    break
                self.history_error = str(e)
                # until sync_now, or a new sign-in from another process found (``client``)
                delay = SIGNED_OUT_RECHECK_S
            except HubError as e:
                if ended_after_stop(self._stop, e):
                    break
                failures += 1
                self.history_error = str(e)
                retry_after = e.retry_after if isinstance(e, ServerError) else None
                delay = self.backoff.delay(failures, retry_after)
                log.info("history sync: %s; again in %.1f s", e, delay)
            except Exception as e:
                if ended_after_stop(self._stop, e):
                    break
                failures += 1
                delay = self.backoff.delay(failures)
                if self._disk_full(e):
                    # a known condition, not a fault of the program: no traceback
                    self.history_error = MSG_HISTORY_DISK_FULL
                    log.warning("history sync: %s; again in %.1f s", e, delay)
                else:
                    self.history_error = f"History could not be synced ({type(e).__name__})."
                    log.exception("history sync failed")
            self._pause(delay)

    def _disk_full(self, error: Exception) -> bool:
        """``error`` is the data folder's disk being full (SQLite's "database or disk is
        full", ENOSPC), which the history cannot help and a traceback does not explain."""
        if not isinstance(error, (sqlite3.Error, OSError)):
            return False
        path = getattr(getattr(self.history, "store", None), "path", None)
        return disk_full(error, path.parent if path is not None else Path("."))

    def _pause(self, seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set() and not self._history_wake.is_set():
            remaining = TICK_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            self._history_wake.wait(min(remaining, TICK_S))
