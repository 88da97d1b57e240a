"""The feed's catch-up drawn on a terminal: a first `alu sync` or `alu feed` on a year's feed
is 335 pages (15–21 s), and a blank terminal that long could not be told from a hang."""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO


class CatchUpLine:
    """``FeedSync.catch_up``'s ``progress``: "Catching up with the feed: 12,400 items so
    far…" overwritten in place on standard error while more pages follow (as `alu get` draws
    its progress), wiped when the catch-up ends, is interrupted or fails, so that what the
    command prints next starts a clean line. Not on a terminal (a script, a log file), nothing:
    a catch-up of one page (the usual one) draws nothing either."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""

    def __call__(self, received: int, more: bool) -> None:
        if not self.enabled:
            return
        if not more:
            self.end()
            return
        line = f"\rCatching up with the feed: {received:,} items so far…"
        self.stream.write(line.ljust(len(self.last)))
        self.stream.flush()
        self.last = line

    def end(self) -> None:
        """Wipe the line (once drawn): the result or the error follows on a clean line."""
        if not self.last:
            return
        blank = "\r" + " " * (len(self.last) - 1) + "\r"
        self.last = ""
        with contextlib.suppress(OSError):  # (a terminal gone: nothing to wipe)
            self.stream.write(blank)
            self.stream.flush()
