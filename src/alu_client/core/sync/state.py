"""Where sync stands for one hub profile, kept in the ``sync_state`` table.

Cursors are the hub's sequence numbers (``feed_seq`` for items, ``history_seq`` for history
events, ``changes_seq`` for items corrected or withdrawn), never times: workstation clocks are
wrong, the hub's order is the truth. A cursor only moves forward, so an event that arrives late
or twice can never take it back — except by ``rewind_*``, when the hub itself says its numbers
end before the cursor (restored from a backup: it numbers its next items and events again from
there).
"""

from __future__ import annotations

import sqlite3
import time

from ..store import Store

FEED_SEQ = "feed_seq"
HISTORY_SEQ = "history_seq"
#: the hub's change number (items corrected or withdrawn) read up to: its own counter
CHANGES_SEQ = "changes_seq"
LAST_CONTACT = "last_contact"
ONLINE = "online"
STATUS_REASON = "status_reason"
#: the hub's clock minus this workstation's, in seconds, as last measured (``HubClient``)
CLOCK_OFFSET = "hub_clock_offset"


class SyncState:
    """Get and set one profile's sync cursors and flags.

    Every setter takes an optional open connection (``conn``) so a cursor can move in the same
    transaction as the rows it covers; without one it writes in a transaction of its own."""

    def __init__(self, store: Store, profile: str) -> None:
        self.store = store
        self.profile = profile

    # --- raw values ----------------------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.store.query_one(
            "SELECT value FROM sync_state WHERE profile = ? AND key = ?", (self.profile, key)
        )
        return str(row[0]) if row is not None else default

    def set(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        sql = (
            "INSERT INTO sync_state (profile, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (profile, key) DO UPDATE SET value = excluded.value"
        )
        if conn is not None:
            conn.execute(sql, (self.profile, key, value))
            return
        with self.store.write() as c:
            c.execute(sql, (self.profile, key, value))

    # --- cursors -------------------------------------------------------------------------------

    def _cursor(self, key: str) -> int:
        value = self.get(key, "0") or "0"
        try:
            return max(0, int(value))
        except ValueError:
            return 0

    def _advance(self, key: str, seq: int, conn: sqlite3.Connection | None) -> int:
        """Move a cursor to ``seq`` if that is further; returns the cursor as it now stands."""

        def run(c: sqlite3.Connection) -> int:
            current = self._cursor_in(c, key)
            if seq > current:
                self.set(key, str(seq), c)
                return seq
            return current

        if conn is not None:
            return run(conn)
        with self.store.write() as c:
            return run(c)

    @property
    def feed_seq(self) -> int:
        """The seq of the last feed item stored (0: nothing yet)."""
        return self._cursor(FEED_SEQ)

    def advance_feed(self, seq: int, conn: sqlite3.Connection | None = None) -> int:
        return self._advance(FEED_SEQ, seq, conn)

    @property
    def changes_seq(self) -> int:
        """The hub's change number of the last item change read (0: none yet)."""
        return self._cursor(CHANGES_SEQ)

    def advance_changes(self, seq: int, conn: sqlite3.Connection | None = None) -> int:
        return self._advance(CHANGES_SEQ, seq, conn)

    def rewind_changes(self, seq: int = 0, conn: sqlite3.Connection | None = None) -> None:
        """Read the hub's changes again from ``seq`` (a hub restored from a backup numbers
        them again from there: every change is read again, there are few)."""
        self._rewind(CHANGES_SEQ, seq, conn)

    @property
    def history_seq(self) -> int:
        """The hub seq of the last history event pulled."""
        return self._cursor(HISTORY_SEQ)

    def advance_history(self, seq: int, conn: sqlite3.Connection | None = None) -> int:
        return self._advance(HISTORY_SEQ, seq, conn)

    def mark(
        self, key: str, seq: int, item_id: str, conn: sqlite3.Connection | None = None
    ) -> None:
        """Remember which item (or event) the cursor ``key`` was moved onto: a hub restored
        from a backup is told by it no longer being there (``at``)."""
        self.set(f"{key}_at", f"{seq} {item_id}", conn)

    def at(self, key: str, seq: int) -> str | None:
        """The id ``mark`` remembered for the cursor ``key`` at ``seq``, or None."""
        seen, _, item_id = (self.get(f"{key}_at", "") or "").partition(" ")
        return item_id if item_id and seen == str(seq) else None

    def rewind_feed(self, seq: int, conn: sqlite3.Connection | None = None) -> None:
        """Move the feed cursor back to ``seq`` (the hub's feed ends there)."""
        self._rewind(FEED_SEQ, seq, conn)

    def rewind_history(self, seq: int, conn: sqlite3.Connection | None = None) -> None:
        """Move the history cursor back to ``seq`` (the hub's history ends there)."""
        self._rewind(HISTORY_SEQ, seq, conn)

    def _rewind(self, key: str, seq: int, conn: sqlite3.Connection | None) -> None:
        if conn is not None:
            if self._cursor_in(conn, key) > seq:
                self.set(key, str(max(0, seq)), conn)
            return
        with self.store.write() as c:
            self._rewind(key, seq, c)

    def _cursor_in(self, c: sqlite3.Connection, key: str) -> int:
        row = c.execute(
            "SELECT value FROM sync_state WHERE profile = ? AND key = ?", (self.profile, key)
        ).fetchone()
        try:
            return int(row[0]) if row is not None else 0
        except ValueError:
            return 0

    def reset(self, conn: sqlite3.Connection | None = None) -> None:
        """Forget the cursors and the items (events) they stood on (another hub behind the
        same profile): everything comes again, and is stored once."""
        if conn is None:
            with self.store.write() as c:
                self.reset(c)
            return
        keys = (FEED_SEQ, f"{FEED_SEQ}_at", HISTORY_SEQ, f"{HISTORY_SEQ}_at", CHANGES_SEQ)
        conn.execute(
            "DELETE FROM sync_state WHERE profile = ? AND key IN (?, ?, ?, ?, ?)",
            (self.profile, *keys),
        )

    # --- contact -------------------------------------------------------------------------------

    @property
    def last_contact(self) -> float | None:
        """When the hub last answered (epoch seconds, this workstation's clock: for display)."""
        value = self.get(LAST_CONTACT)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def touch(self, when: float | None = None, conn: sqlite3.Connection | None = None) -> None:
        self.set(LAST_CONTACT, repr(time.time() if when is None else when), conn)

    @property
    def clock_offset(self) -> float | None:
        """The hub's clock minus this workstation's (seconds) as last measured; None: never."""
        value = self.get(CLOCK_OFFSET)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def set_clock_offset(self, offset: float) -> None:
        self.set(CLOCK_OFFSET, repr(round(offset, 1)))

    @property
    def online(self) -> bool:
        return self.get(ONLINE, "0") == "1"

    @property
    def reason(self) -> str:
        """Why the hub is not reachable (the sentence shown with "offline"); '' when online."""
        return self.get(STATUS_REASON, "") or ""

    def set_online(self, online: bool, reason: str = "") -> None:
        with self.store.write() as c:
            self.set(ONLINE, "1" if online else "0", c)
            self.set(STATUS_REASON, "" if online else reason, c)
