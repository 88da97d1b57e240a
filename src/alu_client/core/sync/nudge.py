"""Bytes moving while the feed says "offline": the link is back, so the feed tries the hub now.

The feed retries the hub on a back-off (up to a minute). A download that resumed on its own
retry already moved bytes while the status bar still said "○ Offline" for ~25 s more; now the
first batch of progress that shows bytes moving wakes the feed (at most every ``NUDGE_EVERY_S``:
a download from elsewhere, an S3 link, while the hub stays down, costs one try of the hub then).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .feed import OFFLINE, FeedSync

if TYPE_CHECKING:
    from ..transfers.queue import Progress

#: the feed is woken by moving transfers at most this often (seconds)
NUDGE_EVERY_S: Final = 10.0


def feed_nudger(
    feed: FeedSync, clock: Callable[[], float] = time.monotonic
) -> Callable[[Sequence[Progress]], None]:
    """A queue listener (``TransferQueue.add_listener``) waking ``feed`` when, while it says
    offline, a running transfer's bytes done grew since the batch before."""
    seen: dict[int, int] = {}
    last = [-math.inf]

    def listener(batch: Sequence[Progress]) -> None:
        moved = False
        for p in batch:
            before = seen.get(p.id)
            if p.state == "active":
                seen[p.id] = p.bytes_done
                moved = moved or (before is not None and p.bytes_done > before)
            else:
                seen.pop(p.id, None)
        if not moved or feed.status.state != OFFLINE:
            return
        now = clock()
        if now - last[0] < NUDGE_EVERY_S:
            return
        last[0] = now
        feed.wake()

    return listener
