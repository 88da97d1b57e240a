"""Wake the server-sent-event streams when the feed grows or an item in it changes.

Publishing happens on worker threads; the streams wait on the event loop. ``FeedBroker.notify``
is safe from any thread. The streams read new items from the database by seq, so a wake-up
only tells them to look.

Items committed by other processes sharing the database (replicas behind one address,
``alu-hub publish``, ``alu-hub items withdraw``) never call this process's ``notify``: while any
stream waits, one task per process reads the feed's counters (two rows, by key) every
``FEED_POLL_S`` and wakes the streams when they moved. So an item, or a change, reaches the
streams of every replica within about a second; the keep-alive interval bounds anything missed
besides.

Every wake-up moves ``generation``. A stream notes it before it reads its page and waits with
``since=`` that value: a wake-up that came while it was reading (between its query and its wait)
ends the wait at once, so the stream neither misses an item nor reads its page twice for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import func, select

from .db import Database
from .models import Counter

log = logging.getLogger(__name__)

#: How often a process reads the feed counter while any of its streams waits.
FEED_POLL_S = 1.0
#: The app's broker in the ASGI lifespan state (``app.create_app``), where the server's
#: connections find it to end the streams as soon as the server begins to stop
#: (``server.BoundedHttpToolsProtocol.shutdown``).
BROKER_STATE = "alu_event_broker"


def feed_counter(db: Database) -> int:
    """The feed's seq counter plus the changes' (``item_change_seq``): one or the other moves
    in the transaction that publishes an item, or corrects or withdraws one."""
    with db.engine.connect() as conn:
        value = conn.execute(
            select(func.sum(Counter.value)).where(Counter.name.in_(("item_seq", "item_change_seq")))
        ).scalar()
    return int(value or 0)


class FeedBroker:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        #: set at shutdown: open streams end instead of holding the server up
        self.closing = False
        self._probe: Callable[[], int] | None = None
        self._interval = FEED_POLL_S
        self._watcher: asyncio.Task[None] | None = None
        #: moves at every wake-up (event loop only)
        self.generation = 0
        #: the feed counter as the watcher read it last
        self._counter_seen: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def watch(self, probe: Callable[[], int], interval: float = FEED_POLL_S) -> None:
        """Read ``probe`` (on a worker thread) every ``interval`` while streams wait, and wake
        them when its value moves: items published by other processes."""
        self._probe = probe
        self._interval = interval

    def notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closing during shutdown
            loop.call_soon_threadsafe(self._wake_all)

    def close(self) -> None:
        self.closing = True
        self.notify()

    def _wake_all(self) -> None:
        self.generation += 1
        for waiter in self._waiters:
            waiter.set()

    async def wait(self, timeout: float, since: int | None = None) -> bool:
        """Wait until something was published or ``timeout`` passed; True if woken. With
        ``since`` (a ``generation`` noted earlier), at once when woken after it was noted."""
        if since is not None and since != self.generation:
            return True
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        self._ensure_watcher()
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(waiter)

    def _ensure_watcher(self) -> None:
        if self._probe is None or self.closing:
            return
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch(self._probe))

    async def _watch(self, probe: Callable[[], int]) -> None:
        """Runs while streams wait (started again by the next one after, from the value this
        one saw last: a restart under load must not wake every stream for nothing)."""
        last = self._counter_seen
        failing = False
        while self._waiters and not self.closing:
            value: int | None
            try:
                value = await asyncio.to_thread(probe)
            except Exception:  # the database may be away for a moment: the next tick tells
                if not failing:
                    log.warning("reading the feed counter failed", exc_info=True)
                failing = True
                value = last
            else:
                failing = False
            if value != last:  # the very first reading wakes too: a stream may be behind it
                self._wake_all()
            last = self._counter_seen = value
            await asyncio.sleep(self._interval)
