"""Stop sending a rendition soon after its item is withdrawn, whoever withdrew it.

A download under way when the agency withdraws the item would otherwise run to its end: the
410 ``item_withdrawn`` is answered only to requests that begin after the withdrawal. So while a
rendition is being sent (``files.file_response`` with a ``keep_sending`` check), every
``files.CHECK_S`` (2 s) the response asks ``ItemGuard.still_served``; on False it ends the
connection without the remaining bytes (the client sees a short body, asks again to resume,
and is answered 410).

The check is cheap whatever the number of downloads: a withdrawal takes a change number
(``changes``: the ``item_change_seq`` counter moves in the withdrawing transaction, made by any
process on the same database: a replica, a worker, ``alu-hub items withdraw``). Each process
reads that counter (one row, by key) at most once every ``COUNTER_MAX_AGE_S`` for all its
downloads (``ChangeWatch``); a download looks its item up only when the counter has moved
since the rendition's row was read (in the same statement as the counter), which is rare.
"""

from __future__ import annotations

import logging
import time

import anyio.to_thread
from sqlalchemy import ScalarSelect, select

from .db import Database
from .models import Counter, Item

log = logging.getLogger(__name__)

#: How old the changes' counter a download is told may be (seconds).
COUNTER_MAX_AGE_S = 1.0
CHANGE_COUNTER = "item_change_seq"  # (changes.CHANGE_COUNTER: changes imports publish)


def counter_value() -> ScalarSelect[int]:
    """The changes' counter as a column of another query (``None`` when it has no row yet)."""
    return select(Counter.value).where(Counter.name == CHANGE_COUNTER).scalar_subquery()


class ChangeWatch:
    """This process's reading of the changes' counter, shared by its downloads (event loop
    only)."""

    def __init__(self, db: Database, max_age: float = COUNTER_MAX_AGE_S) -> None:
        self._db = db
        self._max_age = max_age
        self._value: int | None = None
        self._read_at = -float("inf")

    def _read(self) -> int:
        with self._db.engine.connect() as conn:
            value = conn.execute(
                select(Counter.value).where(Counter.name == CHANGE_COUNTER)
            ).scalar()
        return int(value or 0)

    async def counter(self) -> int | None:
        """The counter, read at most ``max_age`` ago (None when it could not be read yet).
        Downloads asking while it is being read get the reading before: no pile of queries."""
        now = time.monotonic()
        if now - self._read_at >= self._max_age:
            self._read_at = now
            try:
                self._value = await anyio.to_thread.run_sync(self._read)
            except Exception:  # the database away for a moment: keep sending, ask again later
                log.warning("reading the changes' counter failed", exc_info=True)
        return self._value

    def _withdrawn(self, item_id: str) -> bool:
        with self._db.engine.connect() as conn:
            when = conn.execute(select(Item.withdrawn_at).where(Item.id == item_id)).scalar()
        return when is not None

    async def withdrawn(self, item_id: str) -> bool:
        try:
            return await anyio.to_thread.run_sync(self._withdrawn, item_id)
        except Exception:
            log.warning("reading whether item %s was withdrawn failed", item_id, exc_info=True)
            return False


class ItemGuard:
    """Whether a rendition of ``item_id`` may still be sent; ``seen``: the changes' counter as
    read with the rendition's row (the item was not withdrawn then)."""

    def __init__(self, watch: ChangeWatch, item_id: str, seen: int | None) -> None:
        self._watch = watch
        self._item_id = item_id
        self._seen = int(seen or 0)

    async def still_served(self) -> bool:
        now = await self._watch.counter()
        if now is None or now == self._seen:
            return True
        if await self._watch.withdrawn(self._item_id):
            log.info("stopped sending a rendition of item %s: it was withdrawn", self._item_id)
            return False
        self._seen = now  # a correction, or another item's change
        return True
