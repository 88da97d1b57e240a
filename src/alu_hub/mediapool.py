"""Media work (probe, proxy, thumbnail) in worker processes, off the hub's interpreter.

Decoding and encoding video runs in PyAV's per-frame Python loops: in the hub's own process
that holds the GIL for seconds per file (1–3 s for a 4 s clip on this project's 2-core test
machine; minutes for a real broadcast file), and every request of every member waits behind
it. So ``alu-hub serve`` hands the work to a small pool of processes (``media_workers``,
``ALU_HUB_MEDIA_WORKERS``, default 1) that run at a lower CPU priority (``media_nice``): the
API keeps answering while a file is transcoded, and a decoder that crashes on a hostile file
takes a worker down, not the hub. ``media_workers = 0`` runs the work on the calling thread
(the demo hub inside the desktop app, most tests).

Only paths and small picklable results cross the process boundary; the bytes stay on disk.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from .media import MediaError, MediaInfo, make_proxy, make_thumbnail, probe

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: A worker is replaced after this many jobs (FFmpeg's libraries keep caches; a long-lived
#: worker that leaks a little per file would grow without bound).
JOBS_PER_WORKER = 100


@dataclass(frozen=True)
class Renderings:
    """What the worker made: the preview proxy (described) and its thumbnail."""

    proxy: MediaInfo
    thumbnail_size: tuple[int, int]


def render(src: Path, proxy_path: Path, thumbnail_path: Path) -> Renderings:
    """The proxy of ``src`` at ``proxy_path`` and its thumbnail at ``thumbnail_path``."""
    proxy = make_proxy(src, proxy_path)
    size = make_thumbnail(proxy_path, thumbnail_path)
    return Renderings(proxy=proxy, thumbnail_size=size)


def _start_worker(nice: int) -> None:
    """In each worker, first: a lower CPU priority than the process serving requests."""
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not allowed here: the normal priority then
            os.nice(nice)


class MediaPool:
    """Runs media functions in worker processes (``workers`` ≥ 1) or in place (0).

    Thread-safe: every publishing thread of the hub calls ``run`` and waits for its result.
    The pool starts with the first job, and again after a worker died (the job that was
    running fails with a MediaError naming the file; later jobs get a fresh pool)."""

    def __init__(self, workers: int, *, nice: int = 10) -> None:
        self.workers = max(0, workers)
        self.nice = nice
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: the hub runs threads (server, publishers), which fork does not copy
                # safely; spawn starts each worker from a clean interpreter.
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.nice,),
                    max_tasks_per_child=JOBS_PER_WORKER,
                )
            return self._pool

    def run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``fn(*args, **kwargs)`` in a worker (or here), its result or its exception."""
        if self.workers == 0:
            return fn(*args, **kwargs)
        pool = self._executor()
        try:
            return pool.submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            names = [a.name for a in args if isinstance(a, Path)][:1]
            what = names[0] if names else "the file"
            log.error("a media worker stopped while working on %s; starting a new one", what)
            raise MediaError(
                f"{what} could not be processed: the video decoder stopped on it"
            ) from None

    def close(self) -> None:
        """Stop the workers (jobs still waiting are dropped; the one running ends). A job
        after this starts new ones (a hub whose server stopped and started again)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["MediaError", "MediaInfo", "MediaPool", "Renderings", "probe", "render"]
