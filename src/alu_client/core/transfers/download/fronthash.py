"""The front hasher: a segmented download's sha256, computed while the segments download.

SHA-256 is sequential, so only the *front* of the part file can be hashed early: the bytes from
0 up to the first byte not yet written (every segment before it complete, the one it is in
written up to there). A thread follows that front while the streams run, reading what they
wrote back from the part file (the page cache, normally), so once the last byte lands only the
rest has to be hashed (``_finish``). The pieces are fetched in file order (``_plan``), so on a
fast link the front grows about as fast as the download and the hash keeps pace with it.

A byte is hashed only once a stream counted it as written, and nothing rewrites a written byte
within a run, so the running hash always describes the part file's bytes ``[0, hashed_to)``.
Its state cannot be saved (hashlib has no export): after a restart (a crash, a pause, an error)
the next run hashes the part file again from byte 0 while it fetches the rest. Whatever this
thread hashed, the final digest is still compared against the expected sha256 before the file
may be renamed into place.
"""

from __future__ import annotations

import hashlib
import threading

from ..base import redact_url
from .checkpoint import _CheckpointJob
from .partfile import _read_at
from .protocol import _HASH_BLOCK

_IDLE_WAIT_S = 0.5  # a missed wake-up costs at most this; writes wake the thread


class _FrontHashJob(_CheckpointJob):
    # -- the front hasher --------------------------------------------------------------

    def _front(self) -> int:
        """The end of the part file's written prefix (call with the lock held)."""
        front = 0
        for seg in sorted(self.segments, key=lambda s: s.start):
            if seg.start != front:
                break
            front = seg.pos
            if not seg.complete:
                break
        return front

    def _start_front_hasher(self, gen: int) -> tuple[threading.Thread, threading.Event]:
        """Follow the front on a thread until the event is set (see ``_stop_front_hasher``)."""
        if self.hasher is None:
            self.hasher, self.hashed_to = hashlib.sha256(), 0  # after a restart: from byte 0
        stop = threading.Event()
        thread = threading.Thread(
            target=self._follow_front, args=(gen, stop), name="download-hash", daemon=True
        )
        thread.start()
        return thread, stop

    def _stop_front_hasher(self, hashing: tuple[threading.Thread, threading.Event]) -> None:
        """Stop following: the thread ends after the block it is hashing (a few ms)."""
        thread, stop = hashing
        with self.cond:
            stop.set()
            self.cond.notify_all()
        thread.join()

    def _follow_front(self, gen: int, stop: threading.Event) -> None:
        hasher = self.hasher
        try:
            while True:
                with self.cond:
                    while True:
                        if stop.is_set() or gen != self.gen or self.abort.is_set():
                            return
                        front = self._front()
                        if front > self.hashed_to:
                            break
                        self.cond.wait(_IDLE_WAIT_S)  # every write notifies
                pos = self.hashed_to
                while pos < front and not stop.is_set():
                    n = min(_HASH_BLOCK, front - pos)
                    data = _read_at(self.fd, n, pos, self.io_lock)
                    if len(data) != n:
                        raise OSError(f"short read at {pos}")
                    hasher.update(data)
                    pos += n
                    self.hashed_to = pos  # only this thread moves it while it runs
        except Exception as e:  # give up on it: the end hashes the whole file instead
            self.ctx.log.info(
                "download %s: hashing while downloading stopped: %s", redact_url(self.spec.url), e
            )
            self.hasher, self.hashed_to = None, 0
