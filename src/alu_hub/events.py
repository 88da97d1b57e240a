"""Wake the server-sent-event streams when the feed grows.

Publishing happens on worker threads; the streams wait on the event loop. ``FeedBroker.notify``
is safe from any thread. The streams read new items from the database by seq, so a missed wake-up
costs at most one keep-alive interval, and replicas that share a database stay correct by that
same poll.
"""

from __future__ import annotations

import asyncio
import contextlib


class FeedBroker:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        #: set at shutdown: open streams end instead of holding the server up
        self.closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

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
        for waiter in self._waiters:
            waiter.set()

    async def wait(self, timeout: float) -> bool:
        """Wait until something was published or ``timeout`` passed; True if woken."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(waiter)
