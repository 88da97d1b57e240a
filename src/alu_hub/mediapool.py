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
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from .media import MediaError, MediaInfo, make_proxy, make_thumbnail, probe

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


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
    """In each worker, first: a lower CPU priority than the process serving requests, and deaf
    to the stop signals a service manager or a terminal sends the whole process group — the
    hub stops its workers itself, after its publishing threads have let go (a worker killed
    under a running publish would fail that upload for good)."""
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not allowed here: the normal priority then
            os.nice(nice)
    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), name="parent-watch", daemon=True).start()


def _end_with(parent: multiprocessing.process.BaseProcess) -> None:
    """A worker ends when the process that started it is gone (killed, or ended without
    closing its pool): the workers ignore stop signals, and a worker waiting for jobs holds its
    own end of the job queue, so without this it would wait forever, orphaned — one was left
    behind by every stop of a hub with several serving processes."""
    parent.join()  # the parent's sentinel: returns when it has ended, on every OS
    os._exit(0)


class MediaPoolClosed(BaseException):
    """The hub is stopping: the job was not done and must not count as a failure. A
    BaseException so that the publishing code's ``except Exception`` (which marks an upload
    failed) lets it through: the upload stays ``processing``, and the next start publishes it."""


class MediaPool:
    """Runs media functions in worker processes (``workers`` ≥ 1) or in place (0).

    Thread-safe: every publishing thread of the hub calls ``run`` and waits for its result.
    The pool starts with the first job. A worker that dies (a decoder crashing on a hostile
    file) breaks the whole pool, every job on it included: each of those jobs is tried once
    more in a process of its own, and only a job that kills that one too fails, with a
    MediaError; later jobs get a new pool."""

    def __init__(self, workers: int, *, nice: int = 10) -> None:
        self.workers = max(0, workers)
        self.nice = nice
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise MediaPoolClosed()
            if self._pool is None:
                # spawn: the hub runs threads (server, publishers), which fork does not copy
                # safely; spawn starts each worker from a clean interpreter. No
                # max_tasks_per_child: with jobs queued, CPython 3.11-3.13 may not replace a
                # worker that retires (gh-115634), and the queued jobs would wait forever.
                self._pool = self._new_executor(self.workers)
            return self._pool

    def _new_executor(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.nice,),
        )

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``fn(*args, **kwargs)`` in a worker (or here), its result or its exception;
        MediaPoolClosed when the hub is stopping."""
        if self.workers == 0:
            return fn(*args, **kwargs)
        pool = self._executor()
        try:
            return pool.submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            self._drop(pool)
            if self._closed:
                raise MediaPoolClosed() from None
        except CancelledError:  # dropped from the queue by close()
            raise MediaPoolClosed() from None
        # A worker died, and every job on the pool with it: this one is tried again in a
        # process of its own, so that only the job that kills its worker fails.
        log.warning("a media worker stopped; trying the job again in a process of its own")
        alone = self._new_executor(1)
        try:
            return alone.submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            if self._closed:
                raise MediaPoolClosed() from None
            names = [a.name for a in args if isinstance(a, Path)][:1]
            what = names[0] if names else "the file"
            log.error("a media worker stopped twice while working on %s", what)
            raise MediaError(
                f"{what} could not be processed: the video decoder stopped on it"
            ) from None
        finally:
            alone.shutdown(wait=False, cancel_futures=True)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers: jobs waiting are dropped, and a job running is ended with its
        worker; their callers get MediaPoolClosed (as do later ones), so the upload stays
        ``processing`` and the next start publishes it (as when the hub is killed). Returns
        once the workers and the pool's own thread have ended, its queues closed.

        A pool left to end in the background still held its queues' semaphores when the
        process ended by the SIGTERM uvicorn raises again once it has stopped serving, without
        Python's exit handlers: multiprocessing's resource tracker then said "There appear to
        be 5 leaked semaphore objects to clean up at shutdown" at every stop of a hub that had
        published a member's upload (``server.stop_by_sigterm_as_an_exit``)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            _end_pool(pool, timeout)
            del pool
            # its queues are in reference cycles: released now, not at a collection that may
            # never come before the process ends (a serving process of ``serve --workers``
            # still ends by the SIGTERM uvicorn raises again, without exit handlers)
            gc.collect()


def _end_pool(pool: ProcessPoolExecutor, timeout: float) -> None:
    """Shut ``pool`` down now: its workers ignore SIGTERM (``_start_worker``), so those still
    alive after the stop is asked (one busy with a job) are killed; then its thread is joined,
    which closes the pool's queues, and the semaphores are released with them."""
    # (private, in CPython 3.11 to 3.13 alike; read before shutdown() drops them)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                process.kill()
    if manager is not None:
        manager.join(timeout)
    for process in processes:
        process.join(timeout)


__all__ = [
    "MediaError",
    "MediaInfo",
    "MediaPool",
    "MediaPoolClosed",
    "Renderings",
    "probe",
    "render",
]
