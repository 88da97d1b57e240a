"""The transfer queue: persistent, ordered, pausable, and safe across crashes.

Rows live in the store (``TransferStore``); this object schedules them. One scheduler thread
starts queued transfers in priority then manual order, within separate caps for downloads and
uploads, each on its own worker thread running a job (``download.run`` / ``upload.run``). The
outcome of an attempt is written in one transaction; a failed attempt goes back to the queue
with a back-off time (``retry.RetryPolicy``), or ends as failed when retrying cannot help.

Pause and cancel go through the job's ``Control`` and take effect within a second, mid-read.
Progress is counted in memory per block and handed to listeners in batches a few times a
second (never per block), and written to the store about once a second.

After a crash (even SIGKILL) ``start()`` puts transfers left 'active' back in the queue; each
job resumes from its checkpoint and from what is on disk or on the server.

A server that cannot be reached (``origins``: an attempt failed before any answer) holds the
transfers queued to it: they no longer each try at their retry time; one light probe at a
time stands for them, on a back-off of its own (seconds, growing to ~30 s), and when the server
answers they all go at once, in their order and within the caps. The user's retry or resume
of one tries it at once all the same; transfers to other servers are not held.

A hub that refuses the sign-in (``SignInRefused``: the session ended) holds, in an engine told
which transfers need it (``needs_sign_in``), those transfers queued: the one refused goes back
to the queue, not to "failed" (no history event, no failure said), and the others are not
started, until a new sign-in (``signed_in_again``). Transfers that send no sign-in (a signed
link to a CDN, ``alu fetch``) go on.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..safe_names import check_text_path
from ..store import Store
from ..store.problems import disk_full
from ..store.transfers import (
    KEPT_UNTIL,
    PRIORITIES,
    StoreCheckpoint,
    Transfer,
    TransferStore,
    profile_of,
)
from .base import (
    PHASE_LIBRARY,
    PHASE_SIGN_IN,
    REFUSED_SIGN_IN,
    ChooseDestination,
    Control,
    ItemWithdrawn,
    PermanentError,
    SessionPool,
    SignInRefused,
    Stopped,
    TransferContext,
    TransferError,
    Tuning,
)
from .jobs import Cleanup, Job, download_job, upload_cleanup, upload_job
from .origins import Down, answers, origin_of, out_of_reach, probe_backoff, probe_url
from .rates import _normalize_rate
from .retry import MSG_DATA_DISK_FULL, Backoff, RetryPolicy, in_server_words, user_message
from .throttle import Meter, RateLimiter, Schedule

log = logging.getLogger(__name__)

#: what a job returns that must not be written to the store
SECRET_RESULT_KEYS = frozenset({"url"})
#: an upload whose options say so (``alu tus-put``) keeps the URL it ended with this long in
#: its checkpoint (``TransferStore.kept``): the command run again after a kill that came
#: after the end prints it again instead of sending the file twice
KEEP_URL_S = 24 * 3600.0
#: a transfer whose row in the store cannot be read (edited, damaged on the disk)
MSG_DAMAGED_ROW = (
    "This transfer's record in the library is damaged; cancel it and add the file again."
)
#: an attempt ended and the library could not record it: the disk that holds the data folder
#: is full (the listeners are told, the store cannot be: see ``TransferQueue._finish``)
MSG_LIBRARY_FULL = MSG_DATA_DISK_FULL
#: ... the library could not be written for another reason (an I/O error)
MSG_LIBRARY_UNWRITABLE = (
    "ALU Desk's library cannot be written; the transfer goes on when it can be written again."
)
#: a transfer's first speed is measured over this many seconds from its start
_FIRST_SPAN_S = 1.0
#: then smoothed with this time constant: speeds measured over each 0.25 s tick swing with the
#: link (and the ETA with them), and the average over the last few seconds is what people read
SPEED_SMOOTHING_S = 2.0
#: the settings key (with the server's origin after it) of what one upload stream carried
_LINK_RATE_KEY = "link.upload_rate "
#: why a job was stopped → the state the transfer takes
_STOP_STATES = {"pause": "paused", "cancel": "canceled", "shutdown": "queued", "preempt": "queued"}
#: a flash transfer does not wait for a free slot: it takes the one of a running transfer of a
#: lower priority, which goes back to the queue and resumes where it was (see ``_preempt``)
PREEMPTING = PRIORITIES["flash"]
#: ... once in this many seconds for one flash transfer: one that keeps failing fast (a flaky
#: link, a full disk) stopped the same routine transfer every second or two, for ever
PREEMPT_AGAIN_S = 60.0
#: a stored retry time this far (in seconds) from the one the engine measures is written again:
#: the wall clock was set back or forward meanwhile (see ``TransferQueue._waits``)
CLOCK_JUMP_S = 2.0


def steady() -> float:
    """Seconds on a clock nobody sets, for the back-off of a running engine: the wall clock is
    set back or forward (NTP correcting a clock that ran fast, a user, a virtual machine
    restored) and a 2 s back-off measured on it became an hour. Where the system has one
    (Linux), a clock that counts the time the computer slept: a retry due during a night
    asleep goes at the wake-up, not a back-off later; elsewhere ``time.monotonic()``, which
    may stop while the computer sleeps (then what was left of the back-off is waited after the
    wake-up)."""
    return _STEADY()


def _boot_clock() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


_STEADY: Callable[[], float] = (
    _boot_clock if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic  # (not on macOS, Windows)
)


def _address(t: Transfer) -> str:
    """The address of ``t``'s server: a download's source, an upload's endpoint."""
    return t.destination if t.direction == "upload" else t.source


def _words_for(t: Transfer, message: str) -> str:
    """A message for ``t``: the engine words its messages for the ALU hub; a transfer of the
    CLI's verbs for any server (no hub profile: ``alu fetch``, ``alu tus-put``) speaks of
    "the server"."""
    return message if t.options.get("profile") else in_server_words(message)


#: the states in which a download can be sent to another folder (``retarget_download``)
_RETARGETABLE: Final = frozenset({"queued", "paused", "failed"})


@dataclass(frozen=True)
class Progress:
    """One transfer's state as listeners see it (batched a few times a second)."""

    id: int
    direction: str
    state: str
    label: str
    bytes_done: int
    size: int | None
    #: bytes per second, smoothed
    speed: float
    #: seconds left at the current speed, None when unknown
    eta: float | None
    last_error: str
    #: what an active transfer does when it moves no bytes (``TransferContext.phase``), or
    #: what a queued one waits for (``PHASE_SIGN_IN``), or ""
    phase: str = ""

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.bytes_done / self.size) if self.size else None


@dataclass(frozen=True)
class LimitsNow:
    """``TransferQueue.limits_now()``: bytes/s per direction (None: unlimited), whether a weekly
    schedule is set, and whether one of its periods sets these limits."""

    download: float | None
    upload: float | None
    scheduled: bool = False
    by_rule: bool = False


def _authorization(headers: dict[str, str]) -> str | None:
    """The Authorization header among ``headers`` (whatever its case), None without one."""
    return next((v for k, v in headers.items() if k.lower() == "authorization"), None)


class _Live:
    """In-memory progress of one running transfer."""

    def __init__(self, done: int, size: int | None) -> None:
        self.done = done
        self.size = size
        self.speed = 0.0
        self.last_done = done
        self.last_at = self.began = time.monotonic()
        self.measured = False
        self.control = Control()
        #: this attempt moved the transfer on (see ``TransferContext.advanced``)
        self.advanced = False
        #: after a loss (``TransferContext.lost``), progress is getting beyond this many bytes
        self.floor = -1
        self.phase = ""
        #: resumed while its pause was winding down: it goes back to the queue, not paused
        self.resumed = False
        #: why its end cannot be recorded (``PHASE_LIBRARY``), or ""
        self.problem = ""
        #: the sign-in it began with (its Authorization header), None without one
        self.authorization: str | None = None
        #: canceled saying this (the agency withdrew its item), "" for a plain cancel
        self.cancel_error = ""

    def remeasure(self) -> None:
        """Measure the speed anew, over the next second: a limit changed (the average of the
        old rate took ~10 s to follow it: 5 Mbit/s shown under a 400 kbit/s limit)."""
        self.last_done, self.last_at = self.done, time.monotonic()
        self.began = self.last_at
        self.measured = False

    def stop_reason(self, raised: str = "") -> str:
        """Why it stops, as asked last (a cancel after a pause; no pause once resumed)."""
        reason = self.control.reason if self.control.stopped else raised
        return "" if reason == "pause" and self.resumed else reason


def local_now() -> datetime.datetime:
    """The workstation's local time, in its time zone as it is now: a zone changed while the
    engine runs (a laptop that travelled, IT fixing a wrong zone) is read again (POSIX keeps
    the zone it read at start until ``tzset``; the schedule's periods kept the old zone's hours
    until a restart). ``tzset`` only stats the zone file when nothing changed."""
    if hasattr(time, "tzset"):
        time.tzset()
    return datetime.datetime.now()


class TransferQueue:
    def __init__(
        self,
        store: Store,
        *,
        sessions: SessionPool | None = None,
        tuning: Tuning | None = None,
        policy: RetryPolicy | None = None,
        max_downloads: int = 2,
        max_uploads: int = 1,
        headers_for: Callable[[Transfer], dict[str, str]] = lambda _t: {},
        progress_interval: float = 0.25,
        jobs: dict[str, Job] | None = None,
        probe: Backoff | None = None,
    ) -> None:
        """``probe``: the back-off of the probe of a server that does not answer
        (``origins.probe_backoff()``: 1-2 s growing to 15-30 s)."""
        self.transfers = TransferStore(store)
        self.sessions = sessions or SessionPool()
        self.tuning = tuning or Tuning()
        self.policy = policy or RetryPolicy()
        self.caps = {"download": max_downloads, "upload": max_uploads}
        self.limits = {"download": RateLimiter(None), "upload": RateLimiter(None)}
        self.headers_for = headers_for
        self.progress_interval = progress_interval
        self.jobs: dict[str, Job] = jobs or {"download": download_job, "upload": upload_job}
        #: what a transfer canceled while not running leaves to clean up, per direction (a
        #: download's part file goes at once, in ``cancel``; an upload needs the network)
        self.cleanups: dict[str, Cleanup] = {"upload": upload_cleanup}
        self._cleaning: set[int] = set()
        #: when set, this engine starts (and cleans up after) these transfers alone: the CLI's
        #: one-shot verbs, whose headers belong to their own transfer, not to the others queued
        #: in the same data folder
        self.only: frozenset[int] | None = None
        #: when set, this engine runs the transfers of this hub profile and those of none (''
        #: for those of none alone): the headers it has are the signed-in profile's, and
        #: another member's upload sent with them was published as this member's item. The
        #: others wait, queued, for an engine of their own profile (None: it runs them all)
        self.profile: str | None = None
        #: the transfers that send the hub's sign-in (the engine's owner says, for a long-run
        #: engine): once the hub refused it (``SignInRefused``) they wait, queued, for a new one
        #: (``signed_in_again``) instead of each starting and failing. None: no wait (a
        #: one-shot verb fails with the refusal, and says it)
        self.needs_sign_in: Callable[[Transfer], bool] | None = None
        #: the hub refused the sign-in, and no new one came since (under ``_cv``)
        self._sign_in_refused = False
        #: the queued transfers held for it now (under ``_cv``; ``_sign_in_holds``)
        self._held_for_sign_in: frozenset[int] = frozenset()
        self._swept = 0.0
        self._cv = threading.Condition()
        self._live: dict[int, _Live] = {}
        self._workers: dict[int, threading.Thread] = {}
        self._per_transfer: dict[int, RateLimiter] = {}
        #: flash transfer → when it last took a running transfer's slot (``_preempt``)
        self._preempted_for: dict[int, float] = {}
        self._limit_lock = threading.Lock()
        #: held while a download chooses a new name and its row takes it (``_move_download``)
        self._moving = threading.Lock()
        self._listeners: list[Callable[[list[Progress]], None]] = []
        self._changed: set[int] = set()
        #: transfer → (its retry time in the store, when it is due on ``steady()``): the
        #: back-off is measured here, not by the wall clock (``_waits``)
        self._due: dict[int, tuple[float, float]] = {}
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.probe = probe or probe_backoff()
        #: the servers (``origins.origin_of``) that do not answer, and when each is probed
        #: next; under ``_cv``. In memory: after a restart each is found out again
        self._down: dict[str, Down] = {}
        #: transfer → (the address of its server, that server's origin)
        self._origins: dict[int, tuple[str, str | None]] = {}
        #: transfers the user retried or resumed here: they try at once, held or not (one
        #: tried before needs no note: its retry time is gone; one never tried does)
        self._asked: set[int] = set()
        #: transfer → the origin its last attempt failed to reach: when that server answers
        #: again these go at once (their back-off grew with the outage); one that failed for
        #: a reason of its own (a 503 and its Retry-After, its folder) keeps its back-off
        self._unreached: dict[int, str] = {}
        #: transfers hurried because their server answered (→ its origin), until their attempt
        #: ends: one that fails to reach it again at once (a server that answers the probe,
        #: not its request) keeps its back-off, rather than going again at every probe
        self._hurried: dict[int, str] = {}
        self.schedule: Schedule | None = None
        self._manual_limits: tuple[float | None, float | None] = (None, None)
        self._schedule_checked = 0.0
        #: called with a finished transfer's full result (secrets included), on its worker
        #: thread, just before the transfer is recorded as done
        self.on_result: Callable[[int, dict[str, Any]], None] = lambda _tid, _result: None
        #: called with a transfer and a note of it as the history keeps it ("The hub had lost
        #: the partial upload; it started again…"), on the thread that made it, once it is
        #: kept: the CLI says it as it happens (no alu command shows a transfer's log)
        self.on_note: Callable[[Transfer, str], None] = lambda _t, _message: None

    # --- life -------------------------------------------------------------------------------

    def start(self) -> TransferQueue:
        recovered = self.transfers.recover_after_crash()
        if recovered:
            log.info("%d transfers were active when the engine stopped; they resume", recovered)
        for target, name in (
            (self._schedule_loop, "alu-scheduler"),
            (self._progress_loop, "alu-progress"),
            (self._housekeeping, "alu-housekeeping"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _housekeeping(self) -> None:
        """What done transfers kept past its time, and old transfer logs, deleted: on a thread
        of its own, not on the engine's start. It is housekeeping: on a full data-folder disk
        its deletes fail, and the engine started all the same (they failed the start, out of
        the app's launch with a traceback); after an upgrade, deleting millions of rows held
        the start for as long."""
        try:
            self.transfers.forget_kept()
            pruned = self.transfers.prune_log(stopping=lambda: self._stopping)
        except sqlite3.Error as e:
            log.warning("old transfer logs could not be deleted (%s); tried at the next start", e)
            return
        if pruned:
            log.info("%d log entries of transfers that ended long ago deleted", pruned)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the engine: running transfers stop where they are and stay queued."""
        with self._cv:
            self._stopping = True
            lives = list(self._live.values())
            self._cv.notify_all()
        for live in lives:
            live.control.stop("shutdown")
        deadline = time.monotonic() + timeout
        with self._cv:  # (a worker telling a server of a cancel moves from one to the other)
            waited = list(self._workers.values()) + list(self._threads)
        for w in waited:
            w.join(max(0.0, deadline - time.monotonic()))
        self._flush_progress()
        self._take_requests()  # asked as it stopped: a pause still holds at the next start
        self.sessions.close()

    # --- adding -----------------------------------------------------------------------------

    def add_download(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None = None,
        size: int | None = None,
        label: str = "",
        priority: str = "routine",
        segments: int | None = None,
        item_id: str | None = None,
        rendition: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """``extra``: kept with the transfer for whoever records its outcome (profile, rule)."""
        check_text_path(dest)
        options: dict[str, Any] = dict(extra or {})
        if segments:
            options["segments"] = segments
        # the size the caller expects (the item's), apart from the transfer's size, which is
        # what the server said: a file replaced there by one of another size is fetched anew
        options["expected_size"] = size
        tid = self.transfers.add(
            "download",
            url,
            str(dest),
            label=label or dest.name,
            priority=PRIORITIES[priority],
            size=size,
            sha256=sha256.lower() if sha256 else None,
            item_id=item_id,
            rendition=rendition,
            options=options,
        )
        self._wake(tid)
        return tid

    def add_upload(
        self,
        path: Path,
        endpoint: str,
        metadata: dict[str, str],
        *,
        label: str = "",
        priority: str = "routine",
        chunk_size: int | None = None,
        parallel: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        check_text_path(path)  # NameNotText: said plainly, nothing queued
        options: dict[str, Any] = {**(extra or {}), "metadata": metadata}
        if chunk_size:
            options["chunk_size"] = chunk_size
        if parallel:
            options["parallel"] = parallel
        tid = self.transfers.add(
            "upload",
            str(path),
            endpoint,
            label=label or metadata.get("title") or path.name,
            priority=PRIORITIES[priority],
            size=path.stat().st_size,
            sha256=metadata.get("sha256"),
            options=options,
        )
        self._wake(tid)
        return tid

    # --- commands ---------------------------------------------------------------------------

    def pause(self, tid: int) -> None:
        # under the scheduler's lock: a transfer it is starting is either not claimed yet
        # (queued: paused here) or claimed and live (stopped); never in between, neither
        with self._cv:
            live = self._live.get(tid)
            if live is not None:
                live.resumed = False
                live.control.stop("pause")
            # also when live: one just ending in a retry is queued again, and stays paused
            self.transfers.set_state(tid, "paused", only_from=("queued",), reason="paused")
            self._asked.discard(tid)
            self._wake(tid)

    def resume(self, tid: int) -> None:
        """Back to the queue now: from paused, failed, or a queued one waiting for its retry;
        one still winding down from a pause goes back to the queue when it has stopped."""
        with self._cv:
            live = self._live.get(tid)
            if live is not None and live.control.stopped and live.control.reason == "pause":
                live.resumed = True
            if self.transfers.set_state(tid, "queued", only_from=("paused", "failed", "queued")):
                self._asked.add(tid)
        self._wake(tid)

    retry_now = resume

    def retarget_download(self, tid: int, dest: Path, same_as: Path | None) -> bool:
        """A download not running (queued, paused or failed) asked for into another folder:
        its part file goes (when it is its own; a disk no longer there has none) and it starts
        again at ``dest``; False (nothing changed) when it runs or ended. Under the queue's
        lock: never between a look for runnable transfers and the claim of one."""
        with self._cv:
            t = self.transfers.get(tid)
            if t is None or t.direction != "download" or t.state not in _RETARGETABLE:
                return False
            if Path(t.destination) != dest:
                from .download import discard_part

                try:
                    discard_part(Path(t.destination), self.transfers.load_checkpoint(tid))
                except OSError as e:  # (left where it was: a disk gone read-only, …)
                    log.info("transfer %d: its old part file was left: %s", tid, e.strerror)
            same = None if same_as is None or same_as == dest else str(same_as)
            return self.transfers.retarget_download(tid, str(dest), same)

    def cancel(self, tid: int, error: str = "") -> None:
        """Cancel ``tid``; ``error``: what it says from then on (why: the agency withdrew its
        item), where a plain cancel says nothing."""
        with self._cv:  # see pause
            self._asked.discard(tid)
            live = self._live.get(tid)
            if live is not None:
                live.cancel_error = error or live.cancel_error
                live.control.stop("cancel")
                self._wake(tid)
                return
            canceled = self.transfers.set_state(
                tid, "canceled", only_from=("queued", "paused", "failed"), error=error or None
            )
        if canceled:
            t = self.transfers.get(tid)
            if t is not None:
                self._discard(t)
            self._swept = 0.0  # an upload's server side: at the scheduler's next pass
        self._wake(tid)

    def cancel_withdrawn(self, tid: int, error: str) -> None:
        """Cancel ``tid`` saying ``error`` (the agency withdrew its item): here when this
        engine runs it or nothing does; else the engine of another process that runs it is
        asked to (``request``)."""
        t = self.transfers.get(tid)
        if t is None:
            return
        with self._cv:
            here = tid in self._live
        if t.state == "active" and not here:
            self.transfers.request(tid, "withdrawn", error)
            return
        self.cancel(tid, error)

    def retry_waiting(self, which: Callable[[Transfer], bool]) -> int:
        """The transfers of ``which`` that wait for a retry after a failure go now (the caller
        knows their server answers again: the hub is back after an outage, where the back-off
        had grown to minutes). Their failure count stays: failing again, they wait as long as
        they would have. Returns how many."""
        with self._cv:
            held, _ = self._waits()
            by_origin, _ = self._held_by_origins()
        chosen = [t for t in self.transfers.waiting(held | by_origin) if which(t)]
        with self._cv:  # their server answers: it holds none of its transfers any longer
            for t in chosen:
                self._down.pop(self._origin(t.id, _address(t)) or "", None)
        ids = [t.id for t in chosen]
        hurried = self.transfers.hurry([tid for tid in ids if tid in held], time.time())
        # (those its hold alone kept back had their retry time: they go now too)
        hurried += sum(1 for tid in ids if tid in by_origin and tid not in held)
        if hurried:
            log.info("the server is back: %d transfer(s) waiting to retry go now", hurried)
        if ids:
            with self._cv:
                self._changed.update(ids)
                self._cv.notify_all()
        return hurried

    @property
    def waits_for_sign_in(self) -> bool:
        """The hub refused the sign-in and its transfers wait for a new one."""
        with self._cv:
            return self._sign_in_refused

    def signed_in_again(self, which: Callable[[Transfer], bool]) -> list[int]:
        """A new sign-in (its token changed, or the hub accepts it again): the wait for one
        ends, and the transfers of ``which`` that the hub refused the old one for — queued,
        or failed (before this engine, by a one-shot verb) — go now, their error gone (it
        was the old sign-in's: rows kept saying it, "Waiting to retry", once all was well).
        Returns their ids."""
        with self._cv:
            self._sign_in_refused = False
            self._changed.update(self._held_for_sign_in)
            self._held_for_sign_in = frozenset()
        refused = [
            t
            for t in self.transfers.all(("queued", "active", "failed"))
            if self.runs(t) and which(t) and t.last_error.startswith(REFUSED_SIGN_IN)
        ]
        ids = [t.id for t in refused]
        for t in refused:
            if t.state == "failed":
                log.info("transfer %d refused for its sign-in is tried again", t.id)
                self.resume(t.id)
        self.transfers.clear_errors(ids)
        with self._cv:
            self._changed.update(ids)
            self._cv.notify_all()
        return ids

    def pause_all(self) -> None:
        for t in self.mine(("queued", "active")):
            self.pause(t.id)

    def resume_all(self) -> None:
        # "active" too: one still winding down from a pause_all a moment ago (see resume)
        for t in self.mine(("paused", "active")):
            self.resume(t.id)

    def move(self, tid: int, before: int | None) -> None:
        self.transfers.move(tid, before)
        self._wake(tid)

    def set_priority(self, tid: int, priority: str) -> None:
        self.transfers.set_priority(tid, PRIORITIES[priority])
        self._wake(tid)

    def set_limits(self, download_bps: float | None, upload_bps: float | None) -> None:
        """Global limits per direction, effective at once for running transfers too.
        (With a schedule set, the schedule decides; this sets what applies without one.)
        A rate that is not one (negative, not a number) raises ValueError and changes
        nothing: kept, it would stop the scheduler at its next look at the limits."""
        download_bps, upload_bps = _normalize_rate(download_bps), _normalize_rate(upload_bps)
        self._manual_limits = (download_bps, upload_bps)
        if self.schedule is None:
            self._apply_limits(download_bps, upload_bps)

    def set_schedule(self, schedule: Schedule | None) -> None:
        """A weekly schedule of limits (e.g. 2 Mbit/s 07:00-19:00 on weekdays); None drops it."""
        self.schedule = schedule
        self._apply_schedule(force=True)

    def limits_now(self) -> LimitsNow:
        """The limits in force at this moment, as the user should see them: the schedule's
        when one is set (the scheduler applies a period's within a second of its start), else the
        plain ones; and whether a period of the schedule sets them."""
        schedule = self.schedule
        if schedule is None:
            return LimitsNow(self.limits["download"].rate_bps, self.limits["upload"].rate_bps)
        now = local_now()
        down, up = schedule.limits_at(now)
        return LimitsNow(down, up, scheduled=True, by_rule=schedule.rule_at(now) is not None)

    def _apply_limits(self, download_bps: float | None, upload_bps: float | None) -> None:
        for direction, bps in (("download", download_bps), ("upload", upload_bps)):
            if self.limits[direction].rate_bps != bps:  # (the scheduler asks every second)
                self.limits[direction].rate_bps = bps
                with self._cv:
                    for tid, w in self._workers.items():
                        live = self._live.get(tid)
                        if live is not None and w.name.startswith(direction):
                            live.remeasure()
                log.info("%s limit now %s", direction, "none" if bps is None else f"{bps:.0f} B/s")

    def _apply_schedule(self, force: bool = False) -> None:
        """The limits of the schedule's period now: at every pass of the scheduler (at least
        once a second), so a period starts within a second of its time (it was within 30 s:
        a rule shorter than that could pass unapplied)."""
        now = time.monotonic()
        if not force and now - self._schedule_checked < 1.0:
            return
        self._schedule_checked = now
        if self.schedule is None:
            self._apply_limits(*self._manual_limits)
        else:
            self._apply_limits(*self.schedule.limits_at(local_now()))

    def set_transfer_limit(self, tid: int, bps: float | None) -> None:
        """A transfer's own limit (ValueError, nothing stored, for a rate that is not one)."""
        bps = _normalize_rate(bps)
        with self._limit_lock:  # (see _flush_progress)
            self.transfers.set_limit(tid, bps)
            limiter = self._per_transfer.get(tid)
            if limiter is not None and limiter.rate_bps != bps:
                limiter.rate_bps = bps
                with self._cv:
                    if (live := self._live.get(tid)) is not None:
                        live.remeasure()

    def add_listener(self, cb: Callable[[list[Progress]], None]) -> None:
        self._listeners.append(cb)

    def remove_listener(self, cb: Callable[[list[Progress]], None]) -> None:
        with self._cv:
            if cb in self._listeners:
                self._listeners.remove(cb)

    def wait_for(
        self,
        tid: int,
        timeout: float | None = None,
        states: tuple[str, ...] = ("done", "failed", "canceled"),
    ) -> Transfer:
        """Block until transfer ``tid`` is in one of ``states`` (or the timeout passes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while True:
                t = self.transfers.get(tid)
                if t is None:
                    raise KeyError(tid)
                if t.state in states:
                    return t
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return t
                self._cv.wait(0.5 if left is None else min(0.5, left))

    def snapshot(self) -> list[Progress]:
        return [self._progress_of(t) for t in self.mine()]

    def runs(self, t: Transfer) -> bool:
        """``t`` is one this engine runs (see ``only`` and ``profile``)."""
        return (self.only is None or t.id in self.only) and (
            self.profile is None or profile_of(t) in ("", self.profile)
        )

    def mine(
        self, states: tuple[str, ...] | None = None, direction: str | None = None
    ) -> list[Transfer]:
        """The transfers this engine runs (``runs``), in queue order: what its user sees and
        commands all at once (pause all); another profile's wait for their own."""
        return [t for t in self.transfers.all(states, direction) if self.runs(t)]

    # --- scheduling -------------------------------------------------------------------------

    def _wake(self, _tid: int | None = None) -> None:
        with self._cv:
            if _tid is not None:
                self._changed.add(_tid)
            self._cv.notify_all()

    def _schedule_loop(self) -> None:
        while True:
            with self._cv:
                if self._stopping:
                    return
                timeout = 1.0
                try:
                    self._apply_schedule()
                    held, wake = self._waits()
                    by_origin, probes = self._held_by_origins()
                    self._start_runnable(held | by_origin | self._sign_in_holds())
                    self._sweep_canceled()
                    probe_wake = self._probe(probes)
                    if probe_wake is not None:
                        wake = probe_wake if wake is None else min(wake, probe_wake)
                    if wake is not None:
                        timeout = max(0.05, min(1.0, wake - steady()))
                except Exception:  # one bad row or a passing store error: never the engine
                    log.exception("the transfer scheduler met an error; it goes on")
                    timeout = 5.0
                self._cv.wait(timeout)

    def _waits(self) -> tuple[frozenset[int], float | None]:
        """The queued transfers whose retry time has not come (on ``steady()``), and when the
        first of them is due; under ``_cv``. A retry time this engine set is measured on the
        steady clock from when it was set. One it finds in the store (set before a restart,
        or by another engine) is taken as the wall clock says, but never further than the
        longest wait there can be (``RetryPolicy.longest_wait``): it is the clock that was set
        back, not the wait that grew. The store follows: a time the wall clock no longer
        agrees with (set back or forward meanwhile) is written again, so that after a restart
        the retry is still due when it was."""
        stored = self.transfers.retry_times()
        wall, now = time.time(), steady()
        longest = self.policy.longest_wait
        due: dict[int, tuple[float, float]] = {}
        moves: dict[int, tuple[float, float]] = {}
        for tid, at in stored.items():
            known = self._due.get(tid)
            if known is not None and known[0] == at:
                when = known[1]
            else:  # read from the store: the wall clock's word, within reason
                when = now + min(max(at - wall, 0.0), longest)
            left = when - now
            if left > 0 and abs(at - (wall + left)) > CLOCK_JUMP_S:
                moves[tid] = (at, wall + left)
            due[tid] = (at, when)
        if moves:  # one transaction for all (an outage's backlog after a jump: thousands)
            try:
                for tid in self.transfers.move_retries(moves):
                    due[tid] = (moves[tid][1], due[tid][1])
            except sqlite3.Error as e:  # (a full disk): the waits hold, only the store lags
                log.debug("retry times not written again: %s", e)
        self._due = due
        held = frozenset(tid for tid, (_, when) in due.items() if when > now)
        first = min((due[tid][1] for tid in held), default=None)
        return held, first

    def _sign_in_holds(self) -> frozenset[int]:
        """(under ``_cv``) The queued transfers held because the hub refused the sign-in
        they need (``needs_sign_in``); their rows are told when this changes (their phase)."""
        needs = self.needs_sign_in
        if not self._sign_in_refused or needs is None:
            now: frozenset[int] = frozenset()
        else:
            now = frozenset(t.id for t in self.mine(("queued",)) if needs(t))
        if now != self._held_for_sign_in:
            self._changed.update(now ^ self._held_for_sign_in)
            self._held_for_sign_in = now
        return now

    # --- servers that do not answer (``origins``) -------------------------------------------

    def _origin(self, tid: int, address: str) -> str | None:
        """The origin of ``address``, transfer ``tid``'s server (remembered: the scheduler
        asks at each pass while one does not answer)."""
        known = self._origins.get(tid)
        if known is not None and known[0] == address:
            return known[1]
        key = origin_of(address)
        self._origins[tid] = (address, key)
        return key

    def _held_by_origins(self) -> tuple[frozenset[int], dict[str, str]]:
        """(under ``_cv``) The queued transfers held because their server does not answer,
        and for each such server an address on it to probe. A server none waits for any
        longer (paused, canceled, or retried by hand and running) is forgotten: there is
        nothing to probe it for, and a transfer that fails to reach it says so again."""
        if not self._down:
            return frozenset(), {}
        held: set[int] = set()
        probes: dict[str, str] = {}
        queued = self.transfers.queued_addresses(self.only, self.profile)
        for tid, address, holdable in queued:
            key = self._origin(tid, address)
            if holdable and key is not None and key in self._down and tid not in self._asked:
                held.add(tid)
                probes.setdefault(key, address)
        for key in [k for k in self._down if k not in probes]:
            del self._down[key]
        if len(self._origins) > 4 * len(queued) + 1000:  # (transfers long ended)
            self._origins = {tid: v for tid, v in self._origins.items() if tid in held}
            self._unreached = {tid: k for tid, k in self._unreached.items() if tid in held}
            self._hurried = {t: k for t, k in self._hurried.items() if t in self._workers}
        return frozenset(held), probes

    def _probe(self, probes: dict[str, str]) -> float | None:
        """(under ``_cv``) Probe each server of ``probes`` whose probe is due, one at a time
        for each, on a thread of its own (a connect timeout through a black-holed route takes
        15 s: no transfer's slot waits for it); returns when the next one is due."""
        now, wake = steady(), None
        for key, address in probes.items():
            down = self._down[key]
            if down.probing:
                continue
            if down.due > now:
                wake = down.due if wake is None else min(wake, down.due)
                continue
            w = threading.Thread(
                target=self._probe_one, args=(key, address), name="alu-probe", daemon=True
            )
            try:
                w.start()
            except RuntimeError as e:  # (no thread to be had): not "probing" for ever
                log.warning("probing %s could not start: %s", key, e)
                down.due = now + self.probe.delay(down.probes + 1)
                wake = down.due if wake is None else min(wake, down.due)
                continue
            down.probing = True  # (the probe reads it under ``_cv``: once this pass ends)
        return wake

    def _probe_one(self, key: str, address: str) -> None:
        url = probe_url(address)
        try:
            with self._cv:  # (``stop`` closes the sessions after it said so: none made after)
                if self._stopping:
                    return
                session = self.sessions.get(address)
            answered = answers(
                session,
                url,
                self.tuning.connect_timeout,
                self.tuning.stall_timeout,
            )
        except Exception:  # a bug here must not leave the server probing for ever
            log.exception("probing %s failed", key)
            answered = False
        if self._stopping:
            return
        if answered:
            self._answered(key)
            return
        with self._cv:
            down = self._down.get(key)
            if down is not None:
                down.probing = False
                down.probes += 1
                down.due = steady() + self.probe.delay(down.probes + 1)
                log.debug("%s does not answer yet; asked again in %.0f s", key, down.due - steady())
            self._cv.notify_all()

    def _unreachable(self, key: str) -> None:
        """Server ``key`` did not answer an attempt: the transfers queued to it wait for the
        probe (the first in ~1-2 s)."""
        with self._cv:
            if key in self._down:
                return
            self._down[key] = Down(due=steady() + self.probe.delay(1))
            self._cv.notify_all()
        log.info(
            "%s does not answer: the transfers to it wait until it does (asked every few "
            "seconds, at most every %.0f s)",
            key,
            self.probe.cap,
        )

    def _answered(self, key: str) -> None:
        """Server ``key`` answers (a probe, a transfer done): the transfers it held go now, and
        those still in the back-off of a failure to reach it with them (it had grown to
        minutes); not one waiting after a failure of its own (a 503's Retry-After, its file)."""
        with self._cv:
            if self._down.pop(key, None) is None:
                return
            unreached = frozenset(tid for tid, k in self._unreached.items() if k == key)
            for tid in unreached:
                self._hurried[tid] = key
        log.info("%s answers again: the transfers waiting for it go now", key)
        try:
            self.retry_waiting(lambda t: t.id in unreached and self.runs(t))
        except sqlite3.Error as e:  # (the engine stopping: its store closed)
            log.debug("transfers waiting for %s not hurried: %s", key, e)

    def _start_runnable(self, held: frozenset[int]) -> None:
        # (under ``_cv``) a transfer whose worker is still ending is not started again: its
        # failure may have been written after ``_waits`` read the retry times, and the store
        # (``runnable`` no longer compares them) would give it back at once, untracked
        held = held | frozenset(self._workers)
        for direction, cap in self.caps.items():
            running = [tid for tid, w in self._workers.items() if w.name.startswith(direction)]
            free = cap - len(running)
            if free <= 0:
                self._preempt(direction, running, held)
                continue
            for t in self.transfers.runnable(direction, None, free, self.only, self.profile, held):
                if self.transfers.claim(t.id):
                    self._launch(t)

    def _preempt(self, direction: str, running: list[int], held: frozenset[int]) -> None:
        """Breaking news does not wait behind the day's routine: with every slot of
        ``direction`` taken and a flash transfer next in line, the running transfer of the
        lowest priority (the last in its order) is stopped and goes back to the queue; its
        slot frees within a second and the flash one starts in it. It resumes later where it
        was (a download's part file, an upload's offset on the server); its failures and
        back-off are untouched. One at a time: not while another of ``direction`` stops; and
        once a minute for one flash transfer (``PREEMPT_AGAIN_S``): one failing fast waits."""
        if any(self._live[tid].control.stopped for tid in running if tid in self._live):
            return
        waiting = self.transfers.runnable(direction, None, 1, self.only, self.profile, held)
        if not waiting or waiting[0].priority > PREEMPTING:
            return
        clock = time.monotonic()
        self._preempted_for = {
            tid: at for tid, at in self._preempted_for.items() if clock - at < PREEMPT_AGAIN_S
        }
        if waiting[0].id in self._preempted_for:
            return  # it took a slot lately and failed since: it waits for one now
        rows = [r for r in (self.transfers.get(tid) for tid in running) if r is not None]
        lower = [r for r in rows if r.priority > waiting[0].priority]
        # (not one checking its last bytes: it is about to end and free the slot anyway)
        lower = [r for r in lower if r.id in self._live and not self._live[r.id].phase]
        if not lower:
            return
        victim = max(lower, key=lambda r: (r.priority, r.position))
        log.info(
            "transfer %d goes back to the queue for flash transfer %d", victim.id, waiting[0].id
        )
        self._live[victim.id].control.stop("preempt")
        self._preempted_for[waiting[0].id] = clock

    def _sweep_canceled(self) -> None:
        """Clean up after transfers canceled while not running, on a thread each: at start,
        at once after ``cancel``, and every 30 s for those canceled from another process."""
        now = time.monotonic()
        if self._swept and now - self._swept < 30:
            return
        self._swept = now
        for direction, cleanup in self.cleanups.items():
            for t in self.transfers.canceled_with_checkpoint(direction):
                if t.id in self._cleaning or t.id in self._live:
                    continue
                if not self.runs(t):  # (another profile's: with its own credentials, later)
                    continue
                self._cleaning.add(t.id)
                w = threading.Thread(
                    target=self._clean, args=(t, cleanup), name=f"cleanup-{t.id}", daemon=True
                )
                self._threads[:] = [x for x in self._threads if x.is_alive()]
                self._threads.append(w)
                w.start()

    def clean_up_canceled(self) -> None:
        """Tell the servers now of uploads canceled from another process (`alu queue cancel`
        beside an `alu tus-put` waiting to retry), not at the next sweep 30 s on: the command
        ended at the cancel, and left the upload on the server and its address in the
        library. ``stop`` waits for it."""
        with self._cv:
            self._swept = 0.0
            self._sweep_canceled()

    def _clean(self, t: Transfer, cleanup: Cleanup) -> None:
        try:
            cleanup(t, self._cleanup_context(t, Control(), self.tuning))
        except Exception:  # a bug here must not bring it back every 30 s, nor stop the engine
            log.exception("cleaning up after canceled transfer %d failed", t.id)
        finally:
            self.transfers.clear_checkpoint(t.id)
            with self._cv:
                self._cleaning.discard(t.id)

    def _cleanup_context(self, t: Transfer, control: Control, tuning: Tuning) -> TransferContext:
        return TransferContext(
            control=control,
            checkpoint=StoreCheckpoint(self.transfers, t.id),
            sessions=self.sessions,
            meter=Meter([], control, lambda _n: None),
            headers=self.headers_for(t),  # may fail (a keyring): as any other failure
            tuning=tuning,
            note=lambda msg: self._note(t, msg),
            log=log,
        )

    def clean_up_now(self, t: Transfer, timeout: float) -> bool:
        """Clean up after ``t``, canceled while not running, here and now on this thread, in
        about ``timeout`` seconds at most: for `alu queue cancel` when no engine runs (it
        holds the engine lock), where no sweep would come (``alu tus-put`` runs its own
        transfer only, `alu watch run` needs a hub). True when done: the checkpoint goes; else
        it stays, for another try (this one's, the next engine's sweep)."""
        cleanup = self.cleanups.get(t.direction)
        if cleanup is None:
            return True
        control = Control()
        # a stop cuts the request in flight, and the job's next ones stop at once
        timer = threading.Timer(timeout, control.stop, ("shutdown",))
        timer.daemon = True
        timer.start()
        short = dataclasses.replace(
            self.tuning,
            connect_timeout=min(self.tuning.connect_timeout, timeout),
            stall_timeout=min(self.tuning.stall_timeout, timeout),
        )
        try:
            done = cleanup(t, self._cleanup_context(t, control, short))
        except Exception:  # best effort: said as not done, never a traceback
            log.exception("cleaning up after canceled transfer %d failed", t.id)
            done = False
        finally:
            timer.cancel()
        if done:
            self.transfers.clear_checkpoint(t.id)
        return done

    def _launch(self, t: Transfer) -> None:
        if t.id in self._workers:  # (never: ``_start_runnable`` holds them back)
            log.error("transfer %d: already running; not started twice", t.id)
            return
        self._asked.discard(t.id)
        self._unreached.pop(t.id, None)
        live = _Live(t.bytes_done, t.size)
        self._live[t.id] = live
        w = threading.Thread(
            target=self._work, args=(t.id,), name=f"{t.direction}-{t.id}", daemon=True
        )
        self._workers[t.id] = w
        self._changed.add(t.id)
        w.start()

    def _work(self, tid: int) -> None:
        live = self._live[tid]
        try:
            t = self.transfers.get(tid)
            assert t is not None
            if t.damaged:
                raise PermanentError(MSG_DAMAGED_ROW)
            per = RateLimiter(t.limit_bps)
        except Exception as e:  # a row damaged in the file: said, never a dead worker
            log.warning("transfer %d cannot run: %s", tid, e)
            self.transfers.finish(tid, "failed", error=MSG_DAMAGED_ROW)
            with self._cv:
                self._live.pop(tid, None)
                self._workers.pop(tid, None)
                self._changed.add(tid)
            return
        self._per_transfer[tid] = per

        def on_bytes(n: int) -> None:
            live.done += n
            # bytes received are kept (an upload's: see advanced), once past what a start over
            # threw away (``lost``)
            if t.direction == "download" and live.done > live.floor:
                live.advanced = True

        def advanced() -> None:
            if live.done > live.floor:
                live.advanced = True

        def lost() -> None:
            live.floor = max(live.floor, live.done)
            live.advanced = False

        def on_progress(done: int, total: int | None) -> None:
            live.done = done
            if total is not None:
                live.size = total

        def rewind(n: int) -> None:
            live.done = max(0, live.done - n)

        def on_phase(phase: str) -> None:
            live.phase = phase

        clean_up = False  # canceled as it ran: the server is told once the state is written
        try:
            headers = self.headers_for(t)  # may fail (a keyring): recorded like the job's
            live.authorization = _authorization(headers)
            ctx = TransferContext(
                control=live.control,
                checkpoint=StoreCheckpoint(self.transfers, tid),
                sessions=self.sessions,
                meter=Meter([self.limits[t.direction], per], live.control, on_bytes),
                throttle=Meter([self.limits[t.direction], per], live.control, lambda _n: None),
                progress=on_progress,
                headers=headers,
                tuning=self.tuning,
                note=lambda msg: self._note(t, msg),
                log=log,
                advanced=advanced,
                lost=lost,
                phase=on_phase,
                rewind=rewind,
                link_rate=self._link_rate,
                remember_link_rate=self._remember_link_rate,
                limit=lambda: min(
                    (r for r in (self.limits[t.direction].rate_bps, per.rate_bps) if r),
                    default=None,
                ),
                move_download=(
                    (lambda choose: self._move_download(tid, choose))
                    if t.direction == "download"
                    else None
                ),
            )
            result = self.jobs[t.direction](t, ctx)
        except Stopped as s:
            # as asked last: a cancel after a pause, a resume after a pause (back in the queue)
            reason = live.stop_reason(s.reason)
            state = _STOP_STATES.get(reason, "queued" if not reason else "paused")
            clean_up = state == "canceled" and t.direction in self.cleanups
            if state == "canceled":
                self._discard(t)
            if clean_up:
                # the server is told after the state is written (a DELETE can wait for a
                # dead link's timeouts: the cancel took 10 s, the next upload waited)
                with self._cv:
                    self._cleaning.add(tid)
            self._finish(
                t,
                live,
                state,
                bytes_done=live.done,
                size=live.size,
                pause_reason=reason,
                keep_checkpoint=clean_up,
                **(
                    {"error": live.cancel_error}
                    if state == "canceled" and live.cancel_error
                    else {}
                ),
            )
        except BaseException as e:  # every failure is recorded; none kills the engine
            if not self._hold_for_sign_in(t, live, e):
                self._attempt_failed(t, live, e)
        else:
            size = int(result.get("size") or live.size or live.done)
            # Upload URLs are secrets: handed to the caller in memory, never stored once done.
            kept = {k: v for k, v in result.items() if k not in SECRET_RESULT_KEYS}
            # Handed over before the transfer is done in the store: a crash in between leaves
            # it to resume (its checkpoint says complete: the same URL, nothing sent again);
            # the other way round, the URL would be lost with the crash, and the file sent again.
            try:
                self.on_result(tid, result)
            except Exception:
                log.exception("the result of transfer %d could not be handed over", tid)
            # (the checkpoint goes in the same transaction: ``TransferStore.finish``)
            keep = None
            if t.options.get("keep_url") and result.get("url"):
                keep = {"url": result["url"], KEPT_UNTIL: time.time() + KEEP_URL_S}
            self._finish(t, live, "done", bytes_done=size, size=size, result=kept, keep=keep)
            if (key := self._origin(tid, _address(t))) is not None:
                self._answered(key)
        finally:
            with self._cv:
                if clean_up:  # stop() waits for the server to be told, as for a worker
                    self._threads.append(threading.current_thread())
                self._live.pop(tid, None)
                self._hurried.pop(tid, None)
                self._workers.pop(tid, None)
                self._per_transfer.pop(tid, None)
                self._changed.add(tid)
                self._cv.notify_all()
        if clean_up:  # canceled as it ran: its slot is free, the server is told now
            self._clean(t, self.cleanups[t.direction])

    def _attempt_failed(self, t: Transfer, live: _Live, e: BaseException) -> None:
        """An attempt of ``t`` failed with ``e``: queued again for a retry, or failed."""
        tid = t.id
        # the back-off grows with the failures in a row without progress, not with all the
        # attempts: after hours of a lossy link, the next outage starts again at ~1 s
        # (an attempt that threw its bytes away moved nothing on, see TransferError.wasted)
        wasted = isinstance(e, TransferError) and e.wasted
        failures = 1 if live.advanced and not wasted else t.failures + 1
        if isinstance(e, ItemWithdrawn):
            # the agency withdrew the item: canceled, its part file gone, never tried again
            log.info("transfer %d canceled: %s", tid, e.message)
            self._discard(t)
            self._finish(t, live, "canceled", error=e.message, bytes_done=live.done, size=live.size)
            return
        decision = self.policy.decide(e, failures)
        message = _words_for(t, user_message(e, will_retry=decision.state != "failed"))
        if decision.state == "failed":
            log.info("transfer %d failed: %s", tid, message)
            self._finish(
                t,
                live,
                "failed",
                error=message,
                bytes_done=live.done,
                size=live.size,
                failures=failures,
            )
        else:
            # an attempt that failed as the one before did (a hub down, each queued
            # transfer tried every few minutes) says nothing new: the app log keeps the
            # change, not thousands of lines that push out what came before the outage
            said = log.debug if message == t.last_error else log.info
            said("transfer %d: %s; again in %.0f s", tid, message, decision.delay)
            # stored by the wall clock (for after a restart), measured on the steady one
            due, at = steady() + decision.delay, time.time() + decision.delay
            self._finish(
                t,
                live,
                "queued",
                error=message,
                next_attempt_at=at,
                bytes_done=live.done,
                size=live.size,
                pause_reason="disk full" if decision.state == "paused" else "",
                failures=failures,
            )
            with self._cv:
                self._due[tid] = (at, due)
            key = self._origin(tid, _address(t))
            if decision.state == "queued" and key is not None and out_of_reach(e, key):
                with self._cv:
                    if self._hurried.pop(tid, None) != key:
                        self._unreached[tid] = key
                self._unreachable(key)

    def _hold_for_sign_in(self, t: Transfer, live: _Live, e: BaseException) -> bool:
        """``e`` is the hub refusing the sign-in ``t`` needs (``needs_sign_in``): ``t`` goes
        back to the queue, not to "failed" (no history event, no failure said: the session
        ended, the transfer did not fail), with the refusal as its error and its back-off as
        it was, and the transfers that need the sign-in wait for a new one from now on. True
        when so; False for any other failure (and in an engine that does not wait).
        """
        needs = self.needs_sign_in
        if not isinstance(e, SignInRefused) or needs is None or not needs(t):
            return False
        try:
            now = _authorization(self.headers_for(t))
        except Exception:  # (the token store unreadable now: as if unchanged)
            now = live.authorization
        if now != live.authorization:
            # the sign-in it began with was refused, and a new one was taken since (a long
            # download's next range, an upload's next chunk): it goes again with the new one.
            # Held, nothing would have let it go: the new sign-in was already taken
            log.info("transfer %d: refused the sign-in it began with; goes on with the new", t.id)
            self._finish(
                t,
                live,
                "queued",
                error="",
                bytes_done=live.done,
                size=live.size,
                failures=t.failures,
            )
            return True
        with self._cv:
            first = not self._sign_in_refused
            self._sign_in_refused = True
            # (its row says so from its first report: ``_sign_in_holds`` agrees at its pass)
            self._held_for_sign_in |= {t.id}
        message = _words_for(t, user_message(e))
        if first:
            log.info(
                "transfer %d: %s; the transfers that need the sign-in wait for a new one",
                t.id,
                message,
            )
        else:
            log.debug("transfer %d waits for a new sign-in", t.id)
        self._finish(
            t,
            live,
            "queued",
            error=message,
            bytes_done=live.done,
            size=live.size,
            failures=t.failures,
        )
        return True

    def _link_rate(self, server: str) -> float | None:
        """What one stream to ``server`` carried when last measured (``TransferContext``)."""
        row = self.transfers.store.query_one(
            "SELECT value FROM settings WHERE key = ?", (_LINK_RATE_KEY + server,)
        )
        try:
            bps = float(row[0]) if row is not None else 0.0
        except (TypeError, ValueError):  # an edited row: as if never measured
            return None
        return bps if 0 < bps < math.inf else None

    def _remember_link_rate(self, server: str, bps: float) -> None:
        with self.transfers.store.write() as c:
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_LINK_RATE_KEY + server, str(round(bps))),
            )

    def _finish(self, t: Transfer, live: _Live, state: str, **fields: Any) -> None:
        """``TransferStore.finish``, until it is written. A store that could not be written
        (the data folder's disk full, an I/O error) killed the worker and left the transfer
        "active" for good: pause and cancel were accepted and never done, and space coming
        back changed nothing. The end is written again, waiting longer each time (up to 30 s);
        a pause or cancel asked meanwhile is what is written then (a done transfer stays done).
        At shutdown it is left "active", for the next start to take back
        (``recover_after_crash``)."""
        wait = 1.0
        while True:
            try:
                self.transfers.finish(t.id, state, **fields)
                return
            except sqlite3.Error as e:
                log.warning(
                    "transfer %d: its end could not be recorded (%s); trying again in %.0f s",
                    t.id,
                    e,
                    wait,
                )
                self._held_by_library(t, live, e)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self._stopping:
                    return
                time.sleep(0.2)
            wait = min(wait * 2, 30.0)
            reason = live.stop_reason()
            if state != "done" and reason in ("pause", "cancel") and state != _STOP_STATES[reason]:
                state = _STOP_STATES[reason]
                if state == "canceled":
                    self._discard(t)
                fields = {
                    "bytes_done": fields.get("bytes_done"),
                    "size": fields.get("size"),
                    "pause_reason": reason,
                }

    def _held_by_library(self, t: Transfer, live: _Live, error: sqlite3.Error) -> None:
        """Tell the listeners why ``t`` waits in ``_finish``: the store, where its state and
        message go, is what cannot be written, so the row said "Transferring" with no reason
        for as long as the disk stayed full, and the reason came once space was back."""
        folder = self.transfers.store.path
        full = disk_full(error, folder.parent if folder is not None else Path("."))
        with self._cv:
            live.problem = MSG_LIBRARY_FULL if full else MSG_LIBRARY_UNWRITABLE
            live.phase = PHASE_LIBRARY
        self._wake(t.id)

    def _move_download(
        self, tid: int, choose: ChooseDestination
    ) -> tuple[Path, Path | None] | None:
        """``TransferContext.move_download``: the name ``choose`` gives, on ``tid``'s row."""
        with self._moving:
            chosen = choose(self.transfers.names_taken(("queued", "active", "paused")))
            if chosen is None:
                return None
            dest, same_as = chosen
            same = None if same_as is None or same_as == dest else str(same_as)
            if not self.transfers.move_download(tid, str(dest), same):
                return None
            return chosen

    def _note(self, t: Transfer, message: str) -> None:
        said = _words_for(t, message)
        self.transfers.note(t.id, "note", said)
        try:
            self.on_note(t, said)
        except Exception:  # who listens must not fail the transfer
            log.exception("a note of transfer %d could not be handed over", t.id)

    def _discard(self, t: Transfer) -> None:
        """What a canceled transfer leaves behind: a download's partial file."""
        if t.direction == "download":
            from .download import discard_part

            # the row's destination now: its job may have moved it (``_move_download``), and
            # the name it left holds another workstation's part file
            now = self.transfers.get(t.id)
            dest = now.destination if now is not None else t.destination
            discard_part(Path(dest), self.transfers.load_checkpoint(t.id))
            self.transfers.clear_checkpoint(t.id)

    # --- progress ---------------------------------------------------------------------------

    def _progress_of(self, t: Transfer) -> Progress:
        live = self._live.get(t.id)
        done = live.done if live else t.bytes_done
        size = (live.size if live and live.size is not None else None) or t.size
        speed = live.speed if live else 0.0
        phase = live.phase if live and t.state == "active" else ""
        if t.state == "queued" and t.id in self._held_for_sign_in:
            phase = PHASE_SIGN_IN
        if phase:  # no bytes move: no speed, no time left to guess
            speed = 0.0
        eta = (size - done) / speed if (size and speed > 1) else None
        # (the store cannot record why it waits: the listeners hear it from here, while it
        # waits; once its end is written, the store's word is the last one, as for the phase)
        error = live.problem if live and live.problem and t.state == "active" else t.last_error
        return Progress(t.id, t.direction, t.state, t.label, done, size, speed, eta, error, phase)

    def _progress_loop(self) -> None:
        """Every ``progress_interval``: speeds measured over that span, one batch to the
        listeners. Its own clock: the condition it waits on is notified by every add, pause,
        move and end, which sent ~70 batches a second with many short transfers, and speeds
        measured over a few milliseconds (0 to 6x the real rate)."""
        last_flush = time.monotonic()
        tick = last_flush
        failing = False
        while True:
            with self._cv:
                tick += self.progress_interval
                if tick <= time.monotonic():  # behind (a slow listener): no burst to catch up
                    tick = time.monotonic() + self.progress_interval
                while not (self._stopping and not self._live):
                    left = tick - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                exiting = self._stopping and not self._live
                now = time.monotonic()
                for tid, live in self._live.items():
                    dt = now - live.last_at
                    # the first second is one span: a limiter's allowance or what socket
                    # buffers held comes at once (the first speed read 2.6-2.9x the limit)
                    if dt > 0 and now - live.began >= _FIRST_SPAN_S:
                        rate = max(0.0, (live.done - live.last_done) / dt)  # (a restart: 0)
                        weight = 1.0 - math.exp(-dt / SPEED_SMOOTHING_S)
                        live.speed = (
                            live.speed + weight * (rate - live.speed) if live.measured else rate
                        )
                        live.measured = True
                        live.last_done, live.last_at = live.done, now
                    self._changed.add(tid)
                changed, self._changed = self._changed, set()
            wrote, error = False, None
            # the data folder's disk full: this thread died with it, and with it progress and
            # the pause/cancel asked from other processes; said once, tried each second
            if now - last_flush >= 1.0:
                last_flush = now
                try:
                    wrote = self._flush_progress()
                except sqlite3.Error as e:
                    # (on its own: a transfer that ended, or was paused, in that second was
                    # in this batch alone, and its row kept its old state)
                    error = e
            try:
                # asked of it from other processes (the `alu` CLI beside the app): each tick,
                # to pause or cancel within a second (read each second, 1.0-1.2 s)
                self._take_requests()
            except sqlite3.Error as e:
                error = error or e
            try:
                self._send(changed)
            except sqlite3.Error as e:
                error = error or e
            if error is not None:
                if not failing:
                    log.warning("progress cannot be saved in the library (%s); trying again", error)
                    failing = True
            # (only once a write went through: a tick without one proves nothing, and the log
            # said so every second of a full disk)
            elif failing and wrote:
                log.info("the library can be written again")
                failing = False
            if exiting:
                return

    def _send(self, changed: set[int]) -> None:
        """The progress of the transfers ``changed`` since the last batch, to the listeners."""
        if not changed or not self._listeners:
            return
        batch = [
            self._progress_of(t)
            for tid in sorted(changed)
            if (t := self.transfers.get(tid)) and self.runs(t)
        ]
        for cb in list(self._listeners) if batch else ():
            try:
                cb(batch)
            except Exception:
                log.exception("a progress listener failed")

    def _flush_progress(self) -> bool:
        """Progress to the store; returns whether something was written."""
        with self._cv:
            updates = {tid: (live.done, live.size) for tid, live in self._live.items()}
            limiters = dict(self._per_transfer)
        self.transfers.set_progress(updates)
        # a transfer's own limit set from another process (`alu queue limit`); read and set
        # under the lock set_transfer_limit holds: a row read before its change, set after
        # it, put the old limit back for a second
        for tid, limiter in limiters.items():
            with self._limit_lock:
                t = self.transfers.get(tid)
                try:
                    bps = _normalize_rate(t.limit_bps) if t is not None else limiter.rate_bps
                except (TypeError, ValueError):  # an edited row: the limit it ran with stays
                    continue
                if bps != limiter.rate_bps:
                    limiter.rate_bps = bps
                    with self._cv:
                        if (live := self._live.get(tid)) is not None:
                            live.remeasure()
        return bool(updates)

    def _take_requests(self) -> None:
        """Commands from other processes on the same data folder."""
        for tid, what in self.transfers.take_requests():
            if what == "withdrawn":  # (its error was written with the request)
                t = self.transfers.get(tid)
                self.cancel(tid, t.last_error if t is not None else "")
            else:
                (self.pause if what == "pause" else self.cancel)(tid)
