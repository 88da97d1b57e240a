"""The feed down: items by the hub's seq, stored once, however often they arrive.

``FeedSync.catch_up`` pages ``GET /items?after=<cursor>`` until the hub says there is no more;
each page is stored first and the cursor moves after (a crash in between brings the page
again, and the store keeps each item once). ``FeedSync.run`` keeps the feed current: catch up,
then listen on the hub's event stream from the cursor; when the hub has no stream (404, 501, a
proxy that does not pass it, anything else) it polls instead, and tries the stream again later.

An event stream that brings nothing, keep-alives included, for ``hub.EVENTS_READ_TIMEOUT_S``
(two and a half of the hub's keep-alive periods) asks the hub for one item with a short wait
(``HubClient.answers``, one keep-alive period): no answer says "offline" at once (the hub
stopped answering: ~52 s, was 90 s); an answer means something on the way holds the stream
back (a proxy that buffers responses), which counts as a stream that failed, so polling takes
over after a few — the status stays "online" (it said "offline" every 37.5 s on a healthy hub
behind such a proxy). One call that meets no answer while all is well is tried again before it
is said.
After the feed, ``FeedSync.read_changes`` pages ``GET /items/changes?after=<changes cursor>``
(the items the agency corrected or withdrew, at their current state) and updates those the
library has; the rest come with the feed. The stream's ``change`` event reads them at once. A
hub without changes (older than withdrawals: 404) is asked again at the next round, said once.
The status says "online" from the first page the hub answers, with the items received so far
while a catch-up of several pages goes on (``SyncStatus.catching_up``: a year's feed is 335
pages, and said "offline" until the last). When the hub is down, slow or answers garbage,
the status says "offline" with the reason and the loop backs off (about 1 s doubling to
5 min, jittered, never sooner than the hub's Retry-After); a refused session says "signed
out" and waits to be woken after a new sign-in.
Nothing half-read is stored: the client validates every answer before it reaches here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..hub import (
    AuthError,
    EventStream,
    HubClient,
    HubError,
    Item,
    ItemPage,
    NoAnswer,
    NotFound,
    ServerError,
    Skipped,
    Unreachable,
)
from ..transfers.retry import Backoff
from .state import FEED_SEQ, SyncState

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
SIGNED_OUT = "signed_out"
#: the longest wait between two tries of a hub that does not answer (seconds)
FEED_RETRY_CAP_S = 60.0
#: signed out, the sync looks again this often whether a new sign-in came from elsewhere
SIGNED_OUT_RECHECK_S = 15.0

#: a hub whose feed ends before our cursor (restored from a backup) is read again from this
#: many items before its end: what it published since the restore (15 days of pushes and
#: uploads); items already here are stored once and are not new
REREAD_AFTER_RESTORE = 1000
#: how often the loop looks at its stop event while it waits (stop takes effect within this)
TICK_S = 0.2
#: an event stream that ends sooner than this counts as a failed one
QUICK_STREAM_S = 10.0
#: failed streams in a row before polling takes over
QUICK_STREAM_LIMIT = 3

#: a measured clock offset that changed by less than this is not written again (seconds)
CLOCK_KEEP_S = 5.0
#: a workstation clock this far from the hub's is said in the log (as ``alu doctor`` does)
CLOCK_SKEW_SAID_S = 120.0

ClientProvider = Callable[[], HubClient | None]
StoreItems = Callable[[list[Item]], list[Item]]
#: told after each page of a catch-up: the items received so far, whether more pages follow
CatchUpProgress = Callable[[int, bool], None]


@dataclass(frozen=True)
class SyncStatus:
    """How the workstation stands with the hub: ``online``, ``offline`` (``reason`` says why,
    in words for the newsroom) or ``signed_out`` (a person must sign in again)."""

    state: str
    reason: str = ""
    at: float = field(default_factory=time.time, compare=False)
    #: online, in a catch-up of more than one page: the items received so far (else None)
    catching_up: int | None = None

    @property
    def online(self) -> bool:
        return self.state == ONLINE


@dataclass
class ChangesRead:
    """What one ``FeedSync.read_changes`` did (``FeedSync.last_changes``): the items of the
    library it updated, withdrawn and corrected (at their new state), and how many downloads
    ``on_changed`` ended because their item was withdrawn. `alu sync` says them."""

    withdrawn: list[Item] = field(default_factory=list)
    corrected: list[Item] = field(default_factory=list)
    downloads_canceled: int = 0


def _places(page: ItemPage) -> list[tuple[int, str]]:
    """(seq, id) of every item of ``page``, the malformed ones skipped too."""
    return [(i.seq, i.id) for i in page.items] + [(s.seq, s.id) for s in page.skipped]


def interrupt(stream: EventStream) -> None:
    """Close ``stream`` from another thread, ending a read blocked on it now."""
    stream.close()


class FeedSync:
    """Keeps one profile's feed current.

    ``client_provider`` returns the signed-in client (None when signed out); ``store_items``
    stores a batch of items and returns those it did not have (it must keep each item once:
    the same item can come twice); ``on_new`` gets the new items (rules, UI) and ``on_status``
    every change of status. Both callbacks run on the sync thread: keep them short."""

    def __init__(
        self,
        client_provider: ClientProvider,
        state: SyncState,
        store_items: StoreItems,
        *,
        on_new: Callable[[list[Item]], None] | None = None,
        on_status: Callable[[SyncStatus], None] | None = None,
        update_items: StoreItems | None = None,
        on_changed: Callable[[list[Item]], list[int] | None] | None = None,
        page_size: int = 100,
        poll_interval: float = 60.0,
        sse_retry_interval: float = 600.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client_provider = client_provider
        self.state = state
        self.store_items = store_items
        self.on_new = on_new
        #: updates the items of a changes page the library has; returns those it changed
        self.update_items = update_items
        #: gets the items a change updated (a withdrawal ends their downloads), on the sync
        #: thread; may return the ids of the downloads it ended
        self.on_changed = on_changed
        #: what the last ``read_changes`` did (a new one at each call)
        self.last_changes = ChangesRead()
        self._no_changes_said = False
        self.status_listeners: list[Callable[[SyncStatus], None]] = []
        if on_status is not None:
            self.status_listeners.append(on_status)
        self.page_size = max(1, min(page_size, 500))
        self.poll_interval = poll_interval
        self.sse_retry_interval = sse_retry_interval
        # at least once a minute while the hub does not answer, or answers 503 with a long
        # Retry-After (maintenance: 600 s kept the app offline ten minutes after the hub was
        # back): the app says "online" soon after it is back, and the transfers waiting for a
        # retry go then (``Services``)
        self.backoff = backoff or Backoff(
            base=1.0, cap=FEED_RETRY_CAP_S, max_retry_after=FEED_RETRY_CAP_S
        )
        # Until the first answer: what the last run knew (the app shows it at once).
        if state.online:
            self.status = SyncStatus(ONLINE)
        else:
            self.status = SyncStatus(OFFLINE, state.reason or "Not in contact with the hub yet.")
        #: True while the event stream is open (new items arrive without polling)
        self.live = False
        #: the malformed items the feed went on past, by id: why each was (said once in the log)
        self.skipped: dict[str, str] = {}
        self._wake = threading.Event()
        self._take_lock = threading.RLock()
        self._skew_said = False
        #: told (on the sync thread) when the hub's feed no longer has where this workstation
        #: left it (restored from a backup, or another hub at this address): the app says so
        self.on_went_back: Callable[[], None] | None = None

    # --- one pass --------------------------------------------------------------------------------

    def client(self) -> HubClient:
        client = self.client_provider()
        if client is None:
            raise AuthError("Not signed in to this hub; sign in first.")
        return client

    def catch_up(self, progress: CatchUpProgress | None = None) -> int:
        """Fetch every item after the cursor, page by page; returns how many were new.
        Raises HubError when the hub cannot be used (the pages stored so far stay stored).
        ``progress`` is told after each page answered (a year's feed is 335 pages: the app
        says "online" from the first, and the CLI draws how far it is).

        The first page starts at the item the cursor stands on, when it is known here: the
        hub must still have that item there. A hub restored from a backup numbers its items
        again from the backup's last, and asking after our cursor passed over those it
        published since, for good once its numbers had passed ours; then the last
        ``REREAD_AFTER_RESTORE`` items are read again (those already here are not new). An
        empty page's ``last`` (the feed's end) tells it too when the item is not known here."""
        client = self.client()
        new = received = 0
        rewound = checked = False
        while True:
            after = self.state.feed_seq
            known = None if checked or after <= 0 else self._item_at(after)
            checked = True
            if known is not None:
                # (one more for the item the cursor stands on; the hub takes 500 at most)
                page = client.items(after=after - 1, limit=min(self.page_size + 1, 500))
                head = min(_places(page), default=None)  # (a malformed one skipped too)
                went_back = head != (after, known)
            else:
                page = client.items(after=after, limit=self.page_size)
                went_back = not _places(page) and page.last is not None and page.last < after
            if went_back and not rewound:  # (once per catch-up: a hub cannot keep us reading)
                rewound = True
                end = after if page.last is None else min(page.last, after)
                start = max(0, end - REREAD_AFTER_RESTORE)
                log.warning(
                    "the hub's feed no longer has item %d where this workstation left it "
                    "(restored from a backup?): reading it again from %d",
                    after,
                    start,
                )
                with self._take_lock, self.state.store.write() as c:
                    self.state.rewind_feed(start, c)
                    # its changes are numbered again from the backup's too: all read again
                    self.state.rewind_changes(0, c)
                if self.on_went_back is not None:
                    self.on_went_back()
                continue
            fresh = [i for i in page.items if i.seq > after]
            passed = [s for s in page.skipped if s.seq > after]
            if fresh or passed:
                new += self._take(fresh, passed)
            received += len(fresh) + len(passed)
            # An empty page that says "more" would loop for ever: the hub's seq must move.
            more = page.more and bool(fresh or passed)
            if progress is not None:
                # the hub's clock first: "online" (progress) makes the window read the kept
                # offset at once, and it was kept only after the last page (the status bar's
                # "⚠ Clock 2 hours ahead" waited for its next minute's look)
                self._keep_clock(client)
                progress(received, more)
            if not more:
                break
        self.read_changes(client)
        self.state.touch()
        self._keep_clock(client)
        return new

    def read_changes(self, client: HubClient | None = None) -> int:
        """Read the hub's changes after the changes cursor, page by page, updating the items
        the library has (each page stored, then the cursor moved: a crash in between brings
        it again, and an item the same is not changed twice); returns how many were updated.
        A hub that has no changes (404: older than withdrawals) is fine: nothing is said but
        once in the log, and it is asked again next time. Raises HubError otherwise."""
        if self.update_items is None:
            return 0
        client = client or self.client()
        updated = 0
        rewound = False
        report = self.last_changes = ChangesRead()
        while True:
            after = self.state.changes_seq
            try:
                page = client.item_changes(after=after, limit=self.page_size)
            except NotFound:
                if not self._no_changes_said:
                    self._no_changes_said = True
                    log.info("the hub has no changes feed (older than withdrawals)")
                return updated
            if not page.items and page.last is not None and page.last < after and not rewound:
                # the hub's changes end before our cursor: restored from a backup (or another
                # hub): all read again (there are few; an item the same is not changed twice)
                rewound = True
                log.warning("the hub's changes end at %d, before %d: read again", page.last, after)
                self.state.rewind_changes(0)
                continue
            for s in page.skipped:
                if s.id not in self.skipped:
                    log.warning("changes: skipped item %r (seq %d): %s", s.id, s.seq, s.reason)
                self.skipped[s.id] = s.reason
            with self._take_lock:
                changed = self.update_items(page.items) if page.items else []
                self.state.advance_changes(page.next)
            updated += len(changed)
            for item in changed:
                (report.withdrawn if item.withdrawn else report.corrected).append(item)
            if changed and self.on_changed is not None:
                try:
                    ended = self.on_changed(changed)
                    report.downloads_canceled += len(ended or ())
                except Exception:
                    log.exception("handling changed items failed")
            # (a page that says "more" and does not move on would loop for ever)
            if not page.more or page.next <= after:
                return updated

    def _changes_said(self) -> None:
        """The event stream said items changed: read the changes now (a failure is left to
        the next round, which reads them too)."""
        try:
            self.read_changes()
        except HubError as e:
            log.info("changes: %s; read at the next round", e)

    def _keep_clock(self, client: HubClient) -> None:
        """Keep the hub's clock offset the client measured (the rules' "older than a day" is
        the hub's day: a workstation clock a year behind downloaded the back catalogue, two
        days ahead nothing); a large one is said once in the log."""
        offset = getattr(client, "clock_offset", None)
        if not isinstance(offset, float):
            return
        kept = self.state.clock_offset
        if kept is None or abs(kept - offset) > CLOCK_KEEP_S:
            self.state.set_clock_offset(offset)
        if abs(offset) > CLOCK_SKEW_SAID_S and not self._skew_said:
            self._skew_said = True
            log.warning(
                "the workstation's clock is %.1f hours %s the hub's; the auto-download rules "
                "go by the hub's time (fix the clock: turn on automatic date and time)",
                abs(offset) / 3600,
                "behind" if offset > 0 else "ahead of",
            )

    def _item_at(self, seq: int) -> str | None:
        """The id of the item the cursor was moved onto at ``seq`` (else, for a cursor moved
        before that was kept, the library's item there, the newest stored), or None."""
        known = self.state.at(FEED_SEQ, seq)
        if known is not None:
            return known
        row = self.state.store.query_one(
            "SELECT id FROM items WHERE profile = ? AND seq = ? ORDER BY pk DESC LIMIT 1",
            (self.state.profile, seq),
        )
        return str(row[0]) if row is not None else None

    def _take(self, items: list[Item], passed: list[Skipped] | None = None) -> int:
        """Store items (in seq order, each once), then move the cursor past them, and past
        the malformed ones ``passed`` among them: one item no workstation can keep must not
        hold back every item after it, for ever (it is said once in the log)."""
        with self._take_lock:
            after = self.state.feed_seq
            unique = {i.id: i for i in items if i.seq > after}
            batch = sorted(unique.values(), key=lambda i: i.seq)
            over = [s for s in passed or () if s.seq > after and s.id not in unique]
            if not batch and not over:
                return 0
            for s in over:
                if s.id not in self.skipped:
                    log.warning("feed sync: skipped item %r (seq %d): %s", s.id, s.seq, s.reason)
                self.skipped[s.id] = s.reason
            new = self.store_items(batch) if batch else []
            seq, item_id = max([(i.seq, i.id) for i in batch] + [(s.seq, s.id) for s in over])
            with self.state.store.write() as c:
                self.state.advance_feed(seq, c)
                self.state.mark(FEED_SEQ, seq, item_id, c)
        if new and self.on_new is not None:
            try:
                self.on_new(new)
            except Exception:
                log.exception("handling new feed items failed")
        return len(new)

    # --- the loop --------------------------------------------------------------------------------

    def wake(self) -> None:
        """Try again now: after an error, during a poll wait, or to reopen the stream (the
        user pressed "sync", the network came back, a new sign-in)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Keep the feed current until ``stop`` is set (returns within about a second)."""
        failures = 0  # hub errors in a row
        quick_streams = 0  # event streams in a row that ended at once
        stream_off_until = 0.0  # monotonic time before which the loop polls
        while not stop.is_set():
            if self._wake.is_set():
                self._wake.clear()
                stream_off_until = 0.0
            try:
                self.catch_up(self._catching_up(stop))
                if stop.is_set():
                    break  # (an answer that came after the stop: see ended_after_stop)
                failures = 0
                self._set_status(ONLINE)
                if time.monotonic() < stream_off_until:
                    self._pause(self.poll_interval, stop)
                    continue
                stream = self._open_stream()
                if stream is None:
                    stream_off_until = time.monotonic() + self.sse_retry_interval
                    self._pause(self.poll_interval, stop)
                    continue
                began = time.monotonic()
                held_back = self._listen(stream, stop)
                if stop.is_set() or self._wake.is_set():
                    continue
                if time.monotonic() - began >= QUICK_STREAM_S and not held_back:
                    quick_streams = 0
                    continue  # a long stream ended (hub restart, proxy timeout): reconnect
                quick_streams += 1
                if quick_streams >= QUICK_STREAM_LIMIT:
                    log.info("the hub's live feed keeps ending; polling for a while")
                    quick_streams = 0
                    stream_off_until = time.monotonic() + self.sse_retry_interval
                else:
                    self._pause(self.backoff.delay(quick_streams), stop)
            except AuthError as e:
                if ended_after_stop(stop, e):
                    break
                self._set_status(SIGNED_OUT, str(e))
                # until a new sign-in wakes us, or one made by another process (``alu
                # login``: the client reads its token again) is found on the next look
                self._pause(SIGNED_OUT_RECHECK_S, stop)
            except HubError as e:
                if ended_after_stop(stop, e):
                    break
                failures += 1
                stream_off_until = 0.0  # once back, try the stream again
                # One call that met no answer while all was well (a "Sync now" in a link's
                # drop of some seconds) is tried again before the status says so: it said
                # "offline" for the second until that next try went through. A hub gone
                # silent is said by the stream itself (``_listen``); a second failure here.
                blip = isinstance(e, NoAnswer) and failures == 1 and self.status.online
                if self.status.state != SIGNED_OUT and not blip:
                    # (signed out, it stays so until a call succeeds: a look for a new
                    # sign-in that met a network blip made it "offline", then "signed out"
                    # again, and the app asked for the password after each blip)
                    self._set_status(OFFLINE, str(e))
                retry_after = e.retry_after if isinstance(e, ServerError) else None
                delay = self.backoff.delay(failures, retry_after)
                log.info("feed sync: %s; again in %.1f s", e, delay)
                self._pause(delay, stop)
            except Exception as e:
                if ended_after_stop(stop, e):
                    break
                # A bug or the local store failing: logged, retried with backoff, never a
                # dead sync thread.
                failures += 1
                log.exception("feed sync failed")
                self._pause(self.backoff.delay(failures), stop)
        self.live = False

    def _catching_up(self, stop: threading.Event) -> CatchUpProgress:
        """The hub answered a page: "online" at once, with how far a catch-up of several
        pages is (a year's feed said "offline" for the 48 s of its 335 pages)."""

        def progress(received: int, more: bool) -> None:
            if not stop.is_set():
                self._set_status(ONLINE, catching_up=received if more else None)

        return progress

    def _open_stream(self) -> EventStream | None:
        """The hub's event stream from the cursor, or None when it has none (polling then):
        404, 405, 501, a proxy's 502/504 or page, anything but the link failing (that is
        "offline") or a busy hub (that says when to come back)."""
        try:
            return self.client().events(after=self.state.feed_seq)
        except (AuthError, Unreachable):
            raise
        except ServerError as e:
            if e.status in (429, 503):
                raise
            log.info("the hub's live feed is not available (%s); polling instead", e)
            return None
        except HubError as e:
            log.info("the hub's live feed is not available (%s); polling instead", e)
            return None

    def _listen(self, stream: EventStream, stop: threading.Event) -> bool:
        """Store items from the stream until it ends, is cut, or stop/wake close it. True when
        it went silent while the hub answers (``answers``): the stream is held back on the
        way, and counts as one that failed."""
        held_back = False
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(stream, stop, done), name="sync-feed-watch", daemon=True
        )
        watcher.start()
        stream.on_change = self._changes_said
        self.live = True
        try:
            for item in stream:
                self._take([item])
                self.state.touch()
        except NoAnswer as e:
            # Silent past its keep-alives: the hub (or the link) no longer answers — or a proxy
            # holds the stream back. One short question tells: no answer is said now (waiting
            # for the catch-up that follows to fail too kept "the feed is live" on screen for
            # another read timeout, 90 s in all); an answer keeps "online".
            log.info("feed sync: %s", e)
            self.live = False
            if self.status.state != SIGNED_OUT:
                try:
                    self.client().answers()
                    held_back = True
                    log.info("the hub answers, but its live feed was held back on the way")
                except AuthError:
                    pass  # (the catch-up that follows says "signed out")
                except HubError:
                    self._set_status(OFFLINE, str(e))
        except Unreachable as e:
            # Cut off: the next catch-up says whether the hub is still there. Garbage in the
            # stream (BadResponse) is not caught here: that is "offline", with the reason.
            log.info("feed sync: %s", e)
        finally:
            self.live = False
            done.set()
            stream.close()
            watcher.join(2 * TICK_S)
        return held_back

    def _watch(self, stream: EventStream, stop: threading.Event, done: threading.Event) -> None:
        while not done.wait(TICK_S):
            if stop.is_set() or self._wake.is_set():
                interrupt(stream)
                return

    def _pause(self, seconds: float | None, stop: threading.Event) -> None:
        """Wait ``seconds`` (None: for ever), ending early on stop or wake."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and not self._wake.is_set():
            remaining = TICK_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.wait(min(remaining, TICK_S))

    def _set_status(self, state: str, reason: str = "", catching_up: int | None = None) -> None:
        was = self.status
        if (was.state, was.reason, was.catching_up) == (state, reason, catching_up):
            return
        self.status = SyncStatus(state, reason, catching_up=catching_up)
        if (was.state, was.reason) != (state, reason):  # (not once per page of a catch-up)
            try:
                self.state.set_online(state == ONLINE, reason)
            except Exception:
                log.exception("saving the sync status failed")
        for listener in list(self.status_listeners):
            try:
                listener(self.status)
            except Exception:
                log.exception("a sync status listener failed")


def ended_after_stop(stop: threading.Event, error: Exception) -> bool:
    """A round that failed after ``stop`` was set: the engine's stop waits a second for the
    sync, not a hub's read timeout (one that accepts and never answers froze the app's Quit
    for 30 s), so a round may end later, its store closed: nothing more is kept or said."""
    if stop.is_set():
        log.debug("sync round ended after the stop: %s", type(error).__name__)
        return True
    return False
