"""The client core for one data folder and its active hub profile, built once.

Both the ``alu`` CLI and the desktop app build a ``Services`` and use its parts (store, library,
queue, sync, rules, hot folders, media worker); neither wires them by itself. Two levels:

- ``Services(paths, secrets)``: the store, profiles, library and the hub client — what a
  command like ``alu feed`` or ``alu library`` needs, safe beside a running app.
- ``services.start_engine()``: the engine (transfer queue, feed and history sync, rules, hot
  folders, media worker), which needs the data folder's lock: one engine per data folder.

Where things join:

- A finished download is recorded in the library and in the history outbox *inside the
  transaction that ends the transfer* (outcome hooks), so a crash never leaves one without the
  other; the media worker then probes it and makes its thumbnail on its own thread.
- New feed items are evaluated by the auto-download rules once (``items.rules_done``).
- The token only goes to the hub's own origin (``HubClient.headers_for``), never to a CDN or S3,
  and only with the active profile's transfers: two members (or two hubs) on one workstation
  share the data folder and its queue, and the engine runs the transfers of the profile signed
  in (and those of none); the others wait for theirs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Container, Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import urljoin

import requests

from . import http, hub, proxy_login
from .credentials import Secrets, SecretsError
from .engine_settings import ENGINE_LOCK_WAIT, SAVED, Limit, apply_settings
from .item_notices import ItemNotice, notices
from .library import Library, record_file, update_items, upsert_items
from .library.items import Before
from .lockfile import EngineLock
from .media import MediaWorker
from .paths import Paths
from .profiles import HUB_REPLACED_OPTION, Profile, Profiles, client_for
from .relocate import follow_move
from .rules import (
    Match,
    Rule,
    RuleEngine,
    RuleProblem,
    RuleStore,
    hub_clock_offset,
    rule_problems,
)
from .rules.downloads import rule_downloads
from .safe_names import names_already, safe_filename, unique_path
from .settings import AppSettings
from .store import Store
from .store.transfers import OutcomeHook, Transfer, TransferStore, profile_of
from .sync import ONLINE, SIGNED_OUT, FeedSync, HistorySync, SyncService, SyncState, SyncStatus
from .sync.history import transfer_outcome_hook
from .sync.nudge import feed_nudger
from .transfers.base import SessionPool
from .transfers.queue import Progress, TransferQueue
from .uploads import UploadFields, file_sha256
from .watch import HotFolders, WatchFolder
from .withdrawn import WithdrawnItem, end_downloads, log_changed

log = logging.getLogger(__name__)

#: how often a running engine reads its token again from the token store (see ``client``)
TOKEN_RECHECK_S = 10.0
#: the hub back after an outage: waiting transfers go at once, and again this much later
HUB_BACK_AGAIN_S: Final = 45.0

#: a running engine evaluates the rules again this often (seconds), besides when new items
#: come: a rule's folder back after an outage gets its waiting items, and items another
#: process stored (`alu sync` beside the app) are evaluated
RULES_RECHECK_S: Final = 60.0

#: the states a transfer ends in (its history event, if any, is written then)
_ENDED = frozenset({"done", "failed", "canceled"})
#: seconds an upload waits, after its last byte, for the hub to say "published" or why not
PUBLISH_WAIT = 300.0
#: an upload in one of these states made, or is making, an item of its file on the hub
SENT_OR_SENDING: Final = ("done", "queued", "active", "paused")
#: a hub thumbnail larger than this is not one
MAX_THUMBNAIL = 4 * 1024 * 1024
#: the start of an item's usage restrictions kept with its download (said in the Transfers tab
#: and the notification; the item's own record has them whole)
RESTRICTIONS_KEPT = 500
#: a hub thumbnail not shown for this long leaves the cache folder at the next engine start
#: (fetched again if its row is shown again): ~11 KB an item, 60 items a day, were kept for
#: good — a quarter of a gigabyte a year on the workstation's system disk
HUB_THUMBNAILS_KEPT_S = 90 * 24 * 3600.0
#: how long ``stop`` waits for the sync threads: one waiting on a hub that accepts connections
#: and never answers (30 s read timeout) ends by itself later, writing nothing (it stops, and
#: the store is closed); the app's window froze on Quit and on Sign out meanwhile
SYNC_STOP_WAIT = 1.0


class NoProfile(hub.AuthError):
    def __init__(self) -> None:
        super().__init__("Not signed in to any hub yet; sign in first (alu login HUB_URL).")


class AlreadyDownloaded(Exception):
    """The rendition's file is on this workstation already (``path``, with its recorded size):
    a second copy would only orphan the first. Delete it (or lose it) to download again."""

    def __init__(self, title: str, path: Path) -> None:
        super().__init__(f"{title!r} is already downloaded: {path}")
        self.title = title
        self.path = path


#: Settings' download folder is gone (a drive unplugged, a share away): nothing is queued
MSG_DOWNLOAD_FOLDER_GONE = (
    "The download folder {folder} is not there (a drive unplugged, or a network share away); "
    "plug it in, or choose another folder in Settings."
)


class DownloadFolderGone(Exception):
    def __init__(self, folder: Path) -> None:
        super().__init__(MSG_DOWNLOAD_FOLDER_GONE.format(folder=folder))
        self.folder = folder


class CoreEvents:
    """Listeners for what changes under the UI's feet; called on core threads (the UI bridges
    them to its own thread). Each callback must be quick and must not raise."""

    def __init__(self) -> None:
        self.items_added: list[Callable[[list[hub.Item]], None]] = []
        self.library_changed: list[Callable[[str], None]] = []  # item id ('' = many)
        self.sync_status: list[Callable[[SyncStatus], None]] = []
        #: the history changed: a transfer's event recorded (a download or an upload ending),
        #: events sent to the hub or pulled from the member's other workstations
        self.history_changed: list[Callable[[], None]] = []
        # the hub no longer has what this workstation saw of it: "feed" or "history"
        self.hub_went_back: list[Callable[[str], None]] = []
        #: the rules whose items wait for their folder changed (list[RuleProblem]; [] none)
        self.rules_problems: list[Callable[[list[RuleProblem]], None]] = []
        #: items this workstation has that the agency withdrew, or whose restrictions it
        #: corrected (list[ItemNotice], never empty): the user is told
        self.item_notices: list[Callable[[list[ItemNotice]], None]] = []
        #: transfers whose details changed outside the queue's progress (list[int] of ids):
        #: an item's restrictions corrected; the Transfers tab reads them again
        self.transfers_changed: list[Callable[[list[int]], None]] = []

    @staticmethod
    def emit(listeners: list[Callable[..., None]], *args: Any) -> None:
        for cb in list(listeners):
            try:
                cb(*args)
            except Exception:
                log.exception("a core listener failed")


def _asked_elsewhere(t: Transfer, dest_dir: Path | None) -> bool:
    """Whether a download not running, ``t``, is asked for into another folder than its own
    (``dest_dir``, an explicit --dest or "Download to…"; None: wherever it was going)."""
    if dest_dir is None or t.state == "active":
        return False
    here = os.path.normcase(os.path.abspath(os.path.dirname(t.destination)))
    return here != os.path.normcase(os.path.abspath(dest_dir))


class Services:
    def __init__(self, paths: Paths, secrets: Secrets, *, store: Store | None = None) -> None:
        self.paths = paths.ensure()
        self.secrets = secrets
        self.store = store or Store(paths.db_path)
        #: the data folder opened at another path than last time (said once by the CLI)
        self.relocated = follow_move(self.store, self.paths)
        self.profiles = Profiles(self.store)
        self.profile: Profile | None = self.profiles.active()
        self._client: hub.HubClient | None = None
        self._client_lock = threading.Lock()
        self._token_read = 0.0
        self._stopping = threading.Event()
        self.library = Library(
            self.store,
            self.profile.name if self.profile else "",
            self.profile.username if self.profile else "",
            download_folder=lambda: AppSettings(self.store, self.paths.downloads_dir).download_dir,
        )
        #: what the items just changed by the hub were (``_items_changed`` takes them)
        self._before: dict[str, Before] = {}
        self.queue: TransferQueue | None = None
        self.sync: SyncService | None = None
        self.rules: RuleEngine | None = None
        self.hot_folders: HotFolders | None = None
        self.media: MediaWorker | None = None
        self._lock: EngineLock | None = None
        self._rules_lock = threading.Lock()
        self._problems_said: list[RuleProblem] = []
        self.events = CoreEvents()

    # --- the hub ------------------------------------------------------------------------------

    def require_profile(self) -> Profile:
        if self.profile is None:
            raise NoProfile()
        return self.profile

    def clock_offset(self) -> float:
        """The hub's clock minus this workstation's (seconds), as the feed sync kept it
        (``hub_clock_offset``): the recording date of an upload is checked on the hub's clock."""
        return hub_clock_offset(self.store, self.require_profile().name)

    def client(self) -> hub.HubClient:
        """The signed-in client of the active profile (made once; NotSignedIn without token).
        Its token is read again from the token store every ``TOKEN_RECHECK_S``: a member who
        signed in again from another process (`alu login` beside `alu watch run`, after a
        password change) was refused by the running engine with the revoked one for good."""
        again = False
        with self._client_lock:
            if self._client is None:
                self._client = client_for(self.require_profile(), self.secrets)
                self._token_read = time.monotonic()
            elif time.monotonic() - self._token_read > TOKEN_RECHECK_S:
                self._token_read = time.monotonic()
                again = self._take_new_token(self._client)
            client = self._client
        if again:
            self._signed_in_again()
        return client

    def _take_new_token(self, client: hub.HubClient) -> bool:
        profile = self.profile
        if profile is None:
            return False
        try:
            token = self.secrets.get(profile.secret_key)
        except SecretsError as e:  # (the store is said by who needs it; this is a hint)
            log.info("the token store could not be read again: %s", e)
            return False
        if not token or client.has_token(token):
            return False
        client.set_token(token)
        log.info("a new sign-in to %s on this workstation is used from now on", profile.url)
        return True

    def _signed_in_again(self) -> None:
        """A new sign-in was taken: the transfers waiting for one go at once, their error of
        the old one gone; the hub's transfers that failed get another try (those refused for
        the old sign-in among them; others fail again as they did, said again)."""
        queue = self.queue
        if queue is None:
            return
        self._retry_refused_sign_ins(queue)
        for t in self._failed_hub_transfers():
            queue.resume(t.id)

    def _retry_refused_sign_ins(self, queue: TransferQueue) -> None:
        """The active profile's transfers the hub refused their sign-in for (signed out
        meanwhile, the session ended, the password changed) or that had none — waiting in
        the queue, or failed — go now, and say that error no longer (``signed_in_again``):
        the engine starts with the sign-in kept now, most often a new one (the app's sign-in
        dialog, `alu login`). They stayed failed after the member signed in again, and those
        queued said the old error, "Waiting to retry". Refused again, they wait again (one
        request each)."""
        profile = self.profile
        if profile is None:
            return
        name = profile.name
        queue.signed_in_again(lambda t: profile_of(t) == name)

    def _needs_sign_in(self, t: Transfer) -> bool:
        """``t`` sends the hub's sign-in (``TransferQueue.needs_sign_in``): the active
        profile's, to the hub's own origin; not a signed link to a CDN or S3, nor another
        profile's, nor `alu fetch`'s plain address, which go on while the hub refuses it."""
        profile, client = self.profile, self._client
        if profile is None or client is None or profile_of(t) != profile.name:
            return False
        return http.same_origin(t.destination if t.direction == "upload" else t.source, client.url)

    def _failed_hub_transfers(self) -> list[Transfer]:
        """The failed transfers of the active profile's hub (none without an engine); not the
        downloads of a hub replaced since (``forget_replaced_hub``): the new one has not got
        their items."""
        queue, profile = self.queue, self.profile
        if queue is None or profile is None:
            return []
        return [
            t
            for t in queue.transfers.all(("failed",))
            if t.options.get("profile") == profile.name and not t.options.get(HUB_REPLACED_OPTION)
        ]

    def _client_or_none(self) -> hub.HubClient | None:
        try:
            return self.client()
        except hub.HubError:
            return None

    def store_items(self, items: list[hub.Item]) -> list[hub.Item]:
        profile = self.require_profile()
        # the member's own uploads are stored read: its own footage is no news to it
        changed: list[hub.Item] = []
        new = upsert_items(
            self.store,
            profile.name,
            items,
            member=profile.username,
            changed=changed,
            before=self._before,
        )
        if new:
            self.events.emit(self.events.items_added, new)
        if changed:
            self._items_changed(changed)
        return new

    def update_items(self, items: list[hub.Item]) -> list[hub.Item]:
        """The hub's changes (items corrected or withdrawn), kept where the library has the
        item; returns those updated."""
        return update_items(self.store, self.require_profile().name, items, self._before)

    def _logged_changes(self, items: list[hub.Item]) -> list[int]:
        log_changed(items)
        return self._items_changed(items)

    def _items_changed(self, items: list[hub.Item]) -> list[int]:
        """Items the agency corrected or withdrew, updated in the library: a withdrawn one's
        downloads end (``withdrawn.end_downloads``), the UI shows their new state, and the
        user is told of those this workstation has (``item_notices``). Returns the ids of the
        downloads ended."""
        profile = self.require_profile()
        withdrawn = [i for i in items if i.withdrawn]
        ended: list[int] = []
        canceled: dict[str, int] = {}
        if withdrawn:
            with self._queue_for_a_call() as q:
                for item in withdrawn:
                    ids = end_downloads(q, item, profile.name)
                    canceled[item.id] = len(ids)
                    ended += ids
        # a correction of the restrictions reaches the item's downloads too (queued ones end
        # with a notice that names them; the Transfers tab shows them)
        retold = [
            tid
            for item in items
            if not item.withdrawn
            for tid in TransferStore(self.store).set_restrictions(
                item.id, profile.name, item.restrictions.strip()[:RESTRICTIONS_KEPT]
            )
        ]
        before = {i.id: self._before.pop(i.id) for i in items if i.id in self._before}
        has_files = {i.id for i in items if self.library.files(i.id)}
        told = notices(items, before, has_files, canceled)
        for item in items:
            self.events.emit(self.events.library_changed, item.id)
        if told:
            self.events.emit(self.events.item_notices, told)
        if retold:
            self.events.emit(self.events.transfers_changed, retold)
        return ended

    def history(self) -> HistorySync:
        sync = HistorySync(
            self.store,
            self.require_profile().name,
            self._client_or_none,
            on_change=self._history_changed,
        )
        sync.on_went_back = lambda: self.events.emit(self.events.hub_went_back, "history")
        return sync

    def _history_changed(self) -> None:
        self.events.emit(self.events.history_changed)

    def feed_sync(self, *, log_changes: bool = False, **kw: Any) -> FeedSync:
        """The profile's feed sync; ``log_changes``: the engine's, which logs the items the
        agency withdrew or corrected (`alu sync` prints them instead)."""
        profile = self.require_profile()
        sync = FeedSync(
            self._client_or_none,
            SyncState(self.store, profile.name),
            self.store_items,
            on_new=self._new_items,
            on_status=lambda status: self.events.emit(self.events.sync_status, status),
            update_items=self.update_items,
            on_changed=self._logged_changes if log_changes else self._items_changed,
            **kw,
        )
        sync.on_went_back = lambda: self.events.emit(self.events.hub_went_back, "feed")
        return sync

    # --- the engine ---------------------------------------------------------------------------

    def make_queue(self, **kw: Any) -> TransferQueue:
        """A queue wired to the library and the history (started or not by the caller)."""
        profile = self.profile
        proxy = ""
        if profile and profile.proxy:
            login = proxy_login.load(self.secrets, profile.secret_key)
            proxy = proxy_login.with_login(profile.proxy, login)
        sessions = SessionPool(
            verify=(profile.ca_bundle or True) if profile else True,
            proxies={"http": proxy, "https": proxy} if proxy else None,
        )
        queue = TransferQueue(self.store, sessions=sessions, headers_for=self._headers_for, **kw)
        # the sign-in, proxy and certificates are the active profile's: its transfers run, and
        # those of no profile (`alu fetch`); another profile's wait, queued, for its own
        queue.profile = profile.name if profile else ""
        queue.transfers.outcome_hooks.extend(self.outcome_hooks())
        return queue

    def transfer_store(self) -> TransferStore:
        """The queue's rows, for commands made without an engine (`alu queue cancel`): a
        transfer they end is written to the library and the history as the engine does."""
        transfers = TransferStore(self.store)
        transfers.outcome_hooks.extend(self.outcome_hooks())
        return transfers

    def outcome_hooks(self) -> list[OutcomeHook]:
        """What a transfer's end writes in its transaction: the library, the history outbox."""
        device = self.profile.device if self.profile else ""
        store, changed = self.store, self._history_changed
        # (told once the transaction that ends the transfer has committed: the row is there)
        recorded = transfer_outcome_hook(
            _profile_of, device, on_recorded=lambda: store.after_commit(changed)
        )
        return [self._library_hook, recorded]

    def start_engine(
        self,
        *,
        sync: bool = True,
        rules: bool = True,
        hot_folders: bool = True,
        media: bool = True,
        only: frozenset[int] | None = None,
        limit_down: Limit = SAVED,
        limit_up: Limit = SAVED,
        lock_wait: float = ENGINE_LOCK_WAIT,
        **queue_kw: Any,
    ) -> TransferQueue:
        """Take the data folder's lock and start the engine (EngineBusy if another runs).

        ``only``: the transfers it runs (the CLI's `get` and `put`: their own), else all the
        active profile's and those of no profile (another profile's wait, queued, until an
        engine starts with it active: its sign-in is not this one); said in the lock's file
        for other processes waiting on the folder (lockfile.holder).

        The workstation's saved settings (``AppSettings``: transfers at once, bandwidth limits,
        weekly schedule) apply, for the app and the CLI alike; ``max_downloads`` /
        ``max_uploads`` given here, or a limit (a CLI flag: None is unlimited), replace the
        saved ones for this run (see ``apply_settings``)."""
        self._lock = EngineLock(self.paths.engine_lock).acquire(
            only=only, wait=lock_wait, profile=self.profile.name if self.profile else ""
        )
        settings = AppSettings(self.store, self.paths.downloads_dir)
        queue_kw.setdefault("max_downloads", settings.max_downloads)
        queue_kw.setdefault("max_uploads", settings.max_uploads)
        queue = self.queue = self.make_queue(**queue_kw)
        queue.only = only
        for tid in only or ():
            # a one-shot verb (`alu get`, `alu put`) run again for its own transfer: a pause or
            # cancel still in the row was asked of an engine that died before it took it (this
            # one holds the lock now); the user's rerun must not be stopped by it
            queue.transfers.clear_request(tid)
        if only is None:
            # a running engine: while the hub refuses the sign-in, the transfers that need it
            # wait for a new one instead of each failing (a one-shot verb fails, and says so)
            queue.needs_sign_in = self._needs_sign_in
            self._retry_refused_sign_ins(queue)
        apply_settings(queue, settings, limit_down=limit_down, limit_up=limit_up)
        profile = self.profile
        if profile is not None and hot_folders:
            self.hot_folders = HotFolders(
                self.store,
                profile.name,
                self._enqueue_hot,
                download_folders=lambda: self._download_folders(profile.name),
                cancel_upload=queue.cancel,
            )
            queue.transfers.outcome_hooks.append(self.hot_folders.outcome_hook)
        if profile is not None and rules:
            self.rules = RuleEngine(
                self.store, profile.name, self._enqueue_rule, member=profile.username
            )
            threading.Thread(target=self._recheck_rules, name="alu-rules", daemon=True).start()
        if media:
            self.media = MediaWorker(self.store, self.paths)
            self.media.on_done = lambda _fid, item_id: self.events.emit(
                self.events.library_changed, item_id
            )
        queue.start()
        if profile is not None and sync:
            service = self.sync = SyncService(self.feed_sync(log_changes=True), self.history())
            service.feed.status_listeners.append(
                self._hub_back(queue, profile.name, self._stopping)
            )
            service.start()

            def ended(batch: list[Progress]) -> None:
                # a transfer that ended wrote its history event (in the transaction that ended
                # it): sent now, not at the next round a minute later
                if any(p.state in _ENDED for p in batch):
                    service.push_soon()

            queue.add_listener(ended)
            queue.add_listener(feed_nudger(service.feed))
        if self.hot_folders is not None:
            self.hot_folders.start()
        if profile is not None:
            watch = threading.Thread(target=self._watch_token, name="alu-token", daemon=True)
            watch.start()
            folder = self.paths.thumbnails_dir / "hub"
            threading.Thread(
                target=prune_hub_thumbnails, args=(folder,), name="alu-thumbs", daemon=True
            ).start()
        self.evaluate_rules()
        return queue

    @staticmethod
    def _hub_back(
        queue: TransferQueue, name: str, stopping: threading.Event
    ) -> Callable[[SyncStatus], None]:
        """A feed status listener: when the hub answers again after an outage, the profile's
        transfers waiting for a retry go at once (their back-off had grown to minutes; the feed
        tries the hub at least once a minute); and those waiting for a sign-in the hub had
        refused, if it takes it again (the feed's requests carry it too: an account enabled
        again, a hub that refused the token for a time)."""
        online = [False]

        def hurry() -> None:
            if not online[0] or stopping.is_set():
                return
            try:
                queue.retry_waiting(lambda t: t.options.get("profile") == name)
            except Exception as e:  # (the engine stopping meanwhile: its store closed)
                log.debug("waiting transfers not hurried: %s", e)

        def listener(status: SyncStatus) -> None:
            now = status.state == ONLINE
            back = now and not online[0]
            online[0] = now
            if back and queue.waits_for_sign_in and not stopping.is_set():
                try:
                    queue.signed_in_again(lambda t: profile_of(t) == name)
                except Exception as e:  # (the engine stopping meanwhile: its store closed)
                    log.debug("transfers waiting for the sign-in not let go: %s", e)
            if back:
                hurry()
                # once more when the attempts under way in the outage have had their time out
                # (a connect or stall timeout): one failing just after would wait its back-off
                again = threading.Timer(HUB_BACK_AGAIN_S, hurry)
                again.daemon = True
                again.start()

        return listener

    def _watch_token(self) -> None:
        """While the hub refuses this workstation (the sync signed out, transfers wait for a
        sign-in, hub transfers failed),
        look for a new sign-in made by another process every ``TOKEN_RECHECK_S`` (``client``
        takes it); otherwise the token store is not read."""
        while not self._stopping.wait(TOKEN_RECHECK_S):
            sync = self.sync
            try:
                queue = self.queue
                if (
                    (sync is not None and sync.status.state == SIGNED_OUT)
                    or (queue is not None and queue.waits_for_sign_in)
                    or self._failed_hub_transfers()
                ):
                    self.client()
            except Exception as e:  # (the store closing at stop, a token store gone)
                log.debug("looking for a new sign-in: %s", e)

    def stop(self) -> None:
        self._stopping.set()
        if self.sync is not None:
            self.sync.stop(SYNC_STOP_WAIT)
        if self.hot_folders is not None:
            self.hot_folders.stop()
        if self.queue is not None:
            self.queue.stop()
        if self.media is not None:
            self.media.stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._client is not None:
            self._client.close()
        self.store.close()

    # --- what users ask for -------------------------------------------------------------------

    def download(
        self,
        item_id: str,
        rendition: str = "broadcast",
        *,
        dest_dir: Path | None = None,
        priority: str | None = None,
        rule: str | None = None,
        queue: TransferQueue | None = None,
    ) -> int:
        """Queue a rendition of an item (known to the library, or asked from the hub).
        Raises AlreadyDownloaded when its file is here (checked on disk: one deleted or changed
        by hand is recorded missing and downloaded again)."""
        profile = self.require_profile()
        known = self.library.get(item_id)
        if known is not None and known.item.withdrawn:
            raise WithdrawnItem(known.item)
        f = known.file(rendition) if known is not None else None
        if f is not None and f.state in ("present", "missing"):
            self.library.check_files(item_ids=[item_id])  # the record follows the disk
            again = self.library.get(item_id)
            f = again.file(rendition) if again is not None else None
            if again is not None and f is not None and f.present:
                raise AlreadyDownloaded(again.title, f.path)
        if known is None or known.damaged:
            # a row damaged in the file is written anew from the hub's copy
            item = self.client().item(item_id)
            self.store_items([item])
        else:
            item = known.item
        return self._enqueue_download(
            item, rendition, dest_dir, priority or item.priority, rule, queue, profile
        )

    def download_folder(self) -> Path:
        """Where downloads go when nothing else is said: Settings → Download folder, else the
        default one (made when missing). A chosen folder existed when it was chosen (Settings
        checks it): one that is not there now (its drive unplugged, a share away — its mount
        point left empty) is not made anew on the system disk: ``DownloadFolderGone``."""
        default = self.paths.downloads_dir
        chosen = AppSettings(self.store, default).download_dir
        if chosen != default and not chosen.is_dir():
            raise DownloadFolderGone(chosen)
        return chosen

    def _download_folders(self, profile: str) -> list[Path]:
        """Every folder downloads are saved in (the download folder, the rules' folders of
        ``profile``): a hot folder there would publish again what was downloaded."""
        chosen = AppSettings(self.store, self.paths.downloads_dir).download_dir
        return [chosen, *self.rule_folders(profile)]

    def rule_folders(self, profile: str) -> list[Path]:
        """The folders of ``profile``'s enabled rules that say one of their own."""
        return [
            r.dest_dir
            for r in RuleStore(self.store, profile).all()
            if r.enabled and r.dest_dir is not None
        ]

    def _enqueue_download(
        self,
        item: hub.Item,
        rendition: str,
        dest_dir: Path | None,
        priority: str,
        rule: str | None,
        queue: TransferQueue | None,
        profile: Profile,
        *,
        rule_id: int | None = None,
        item_priority: str | None = None,
    ) -> int:
        """``rule_id``: the rule's id (its downloads are found by it: ``rules.downloads``);
        ``item_priority``: the item's own priority when it is queued at another (a rule's
        proxy, one step higher): the Transfers tab shows the item's, the queue runs by the
        other."""
        if item.withdrawn:
            raise WithdrawnItem(item)
        r = item.rendition(rendition)
        if r is None:
            raise hub.NotFound(f"The item {item.title!r} has no {rendition} file.")
        q = queue or self.queue or self.make_queue()
        elsewhere: Transfer | None = None
        for t in q.transfers.of_item(item.id, rendition, ("queued", "active", "paused", "failed")):
            if profile_of(t) != profile.name:
                continue  # another member's (or hub's) on this workstation: not this one's
            if t.state == "failed" and (t.source, t.sha256, t.size) != (r.url, r.sha256, r.size):
                continue  # the item's file changed since: a new transfer for the new one
            if _asked_elsewhere(t, dest_dir):
                # asked into another folder (`alu get --dest B` after one to A failed: A a
                # disk too small, or gone): it goes there, not on to A, once the name is known
                elsewhere = t
                break
            if t.state in ("paused", "failed"):
                # asked again: the user wants it now (it said nothing and stayed paused, or
                # a second row began beside the failed one)
                q.resume(t.id)
            return t.id  # asked twice: the same transfer
        folder = dest_dir or self.download_folder()
        folder.mkdir(parents=True, exist_ok=True)
        taken = q.transfers.names_taken(
            ("queued", "active", "paused"), but=elsewhere.id if elsewhere is not None else None
        )
        name = r.filename or f"{item.slug or item.title or item.id}.mp4"
        if rendition != "broadcast" and not names_already(name, rendition):
            # the broadcast's name would be taken ("c27 (2).mp4"); the hub's own proxy name
            # ("c27.proxy.mp4") says it already
            name = safe_filename(name, marker=f" ({rendition})")
        dest = unique_path(folder, name, taken)
        extra: dict[str, Any] = {"profile": profile.name}
        same = _same_item_there(folder / safe_filename(name), dest, r.sha256, r.size, taken)
        if same is not None and self.store.query_one(
            "SELECT 1 FROM library_files WHERE path = ? AND state != 'removed'", (str(same),)
        ):
            # this workstation's Library has that file as another item's (the agency's same
            # video under another item, in another language): each item keeps a file of its
            # own, or deleting one's would delete the other's
            same = None
        if same is not None:
            # the item downloaded before into this folder (by another workstation on a shared
            # folder, or before the data folder was new), or being downloaded there by another
            # workstation: the job (waits for it and) checks its bytes and keeps it instead of
            # fetching a "NAME (2)" copy over the link
            extra["same_as"] = str(same)
        if rule:
            extra["rule"] = rule
        if rule_id is not None:
            extra["rule_id"] = rule_id
        if item_priority is not None and item_priority != priority:
            extra["item_priority"] = item_priority
        if item.restrictions.strip():
            # (said in the Transfers tab and the notification: what may not be aired, where)
            extra["restrictions"] = item.restrictions.strip()[:RESTRICTIONS_KEPT]
        if elsewhere is not None:
            if q.retarget_download(elsewhere.id, dest, same):
                q.resume(elsewhere.id)
            return elsewhere.id  # (started meanwhile: it goes on where it was going)
        return q.add_download(
            r.url,
            dest,
            sha256=r.sha256,
            size=r.size,
            label=item.title or dest.name,
            priority=priority,
            item_id=item.id,
            rendition=rendition,
            extra=extra,
        )

    def open_upload(self, path: Path, sha256: str) -> Transfer | None:
        """An unfinished upload (queued, active, paused or failed) of this very file to this
        profile's hub — same path, same size, same sha256: sending it again resumes that one
        instead of publishing the file twice."""
        size = path.stat().st_size
        for t in self._unfinished_uploads_of(path):
            if t.size == size and (t.sha256 or "").lower() == sha256.lower():
                return t
        return None

    def sent_upload(
        self, path: Path, sha256: str, metadata: dict[str, str], within_s: float = 24 * 3600.0
    ) -> Transfer | None:
        """The upload of this very file (same path, size and sha256) with these very details
        to this profile's hub that ended in the last ``within_s`` seconds, if any: `alu put`
        run again after a kill that came once its end was recorded (before it said so), or
        after a success, says that one instead of publishing the file a second time."""
        profile = self.require_profile()
        endpoint = self.client().uploads_url
        q = self.queue or self.make_queue()
        size = path.stat().st_size
        since = time.time() - within_s
        newest_first = sorted(q.transfers.all(("done",), "upload"), key=lambda t: -t.id)
        for t in newest_first:
            if (
                t.source == str(path)
                and t.destination == endpoint
                and profile_of(t) == profile.name
                and t.size == size
                and (t.sha256 or "").lower() == sha256.lower()
                and (t.finished_at or 0) >= since
                and t.options.get("metadata", {}) == metadata
            ):
                return t
        return None

    def _unfinished_uploads_of(self, path: Path) -> list[Transfer]:
        """This profile's uploads of ``path`` to its hub not finished yet (queued, active,
        paused or failed); another member's of the same file on this workstation is theirs."""
        profile = self.require_profile()
        endpoint = self.client().uploads_url
        q = self.queue or self.make_queue()
        return [
            t
            for t in q.transfers.all(("queued", "active", "paused", "failed"), "upload")
            if t.source == str(path) and t.destination == endpoint and profile_of(t) == profile.name
        ]

    def superseded_uploads(self, path: Path, sha256: str) -> list[Transfer]:
        """Unfinished uploads of this path to this profile's hub that were of other content
        (the file was exported again since): their bytes are no longer on disk, so they can
        never finish; the caller cancels them rather than leave them to fail later."""
        size = path.stat().st_size
        return [
            t
            for t in self._unfinished_uploads_of(path)
            if t.size != size or (t.sha256 or "").lower() != sha256.lower()
        ]

    def uploads_of_content(self, sha256s: Collection[str]) -> dict[str, list[Transfer]]:
        """This profile's uploads to its hub of these contents (sha256, any case) that were
        sent (done) or are on their way (queued, active, paused), newest first, keyed by the
        sha256 in lower case; a content none of them carried is not a key. Whatever the
        path: a copy, or the file exported again to another name, is the same footage. The
        app's upload form asks before a second item of the same bytes is made of it."""
        profile = self.require_profile()
        endpoint = self.client().uploads_url
        wanted = {s.lower() for s in sha256s}
        q = self.queue or self.make_queue()
        found: dict[str, list[Transfer]] = {}
        for t in sorted(q.transfers.all(SENT_OR_SENDING, "upload"), key=lambda t: -t.id):
            digest = (t.sha256 or "").lower()
            if digest in wanted and t.destination == endpoint and profile_of(t) == profile.name:
                found.setdefault(digest, []).append(t)
        return found

    def upload(
        self,
        path: Path,
        fields: UploadFields,
        *,
        sha256: str | None = None,
        queue: TransferQueue | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Queue a member upload (fields checked first; FieldError says what to fix)."""
        profile = self.require_profile()
        offset = self.clock_offset()
        clean = fields.validated(offset)
        digest = sha256 or file_sha256(path)
        q = queue or self.queue or self.make_queue()
        return q.add_upload(
            path,
            self.client().uploads_url,
            clean.metadata(path, digest, offset),
            label=clean.title,
            priority=clean.priority,
            extra={"profile": profile.name, "publish_wait": PUBLISH_WAIT, **(extra or {})},
        )

    def cancel_rule_downloads(self, rule: Rule) -> list[int]:
        """Cancel the downloads ``rule`` queued that have not finished (the user removed the
        rule or turned it off, and chose so): the running engine stops an active one; each
        part file goes.
        Returns their ids."""
        profile = self.require_profile()
        ids = rule_downloads(self.store, profile.name, rule)
        if not ids:
            return []
        with self._queue_for_a_call() as q:  # (not started: it changes the rows, part files)
            for tid in ids:
                q.cancel(tid)
        return ids

    @contextlib.contextmanager
    def _queue_for_a_call(self) -> Iterator[TransferQueue]:
        """The running engine's queue; without one, a queue made for the call (not started),
        its HTTP sessions closed after it."""
        if self.queue is not None:
            yield self.queue
            return
        made = self.make_queue()
        try:
            yield made
        finally:
            made.sessions.close()

    def evaluate_rules(self) -> list[Match]:
        """Run the auto-download rules over items not evaluated yet (once each); returns
        what they asked for. The rules whose items wait for their folder are told
        (``events.rules_problems``) when they change."""
        engine = self.rules
        if engine is None:
            return []
        with self._rules_lock:
            try:
                matches = engine.evaluate_pending()
                problems = rule_problems(self.store, engine.profile)
            except Exception:
                log.exception("evaluating the auto-download rules failed")
                return []
            changed = problems != self._problems_said
            self._problems_said = problems
        for m in matches:
            if m.transfer_id is not None and not m.already:
                log.info("rule %r queued %s (%s)", m.rule.name, m.item.id, m.rendition)
        if changed:
            self.events.emit(self.events.rules_problems, problems)
        return matches

    def _new_items(self, _items: list[hub.Item]) -> None:
        self.evaluate_rules()

    def rule_problems(self) -> list[RuleProblem]:
        """The active profile's rules whose items wait for their folder (any process's last
        evaluation)."""
        return rule_problems(self.store, self.profile.name) if self.profile else []

    def evaluate_rules_now(self) -> list[Match]:
        """For a command without an engine (`alu sync`, `alu feed`): evaluate the rules over
        the new items, queueing their downloads for the next engine to fetch (`alu watch run`,
        the app). EngineBusy when another process holds the data folder: an engine evaluates
        them itself (its periodic look, ``RULES_RECHECK_S``); a one-shot command (`alu get`,
        another `alu sync`: ``one_shot``) does not, and two must not at once. The lock says
        what holds it: a one-shot running no transfer (an `alu sync` beside it was told "the
        engine running applies them", and nothing did)."""
        if self.rules is not None:
            return self.evaluate_rules()
        profile = self.require_profile()
        lock = EngineLock(self.paths.engine_lock).acquire(frozenset(), profile=profile.name)
        try:
            with self._queue_for_a_call() as queue:

                def enqueue(
                    item: hub.Item, rendition: str, dest: Path | None, rule: Rule
                ) -> int | None:
                    return self._enqueue_rule(item, rendition, dest, rule, queue)

                self.rules = RuleEngine(self.store, profile.name, enqueue, member=profile.username)
                return self.evaluate_rules()
        finally:
            self.rules = None
            lock.release()

    def _recheck_rules(self) -> None:
        """A running engine's rules, evaluated again every ``RULES_RECHECK_S`` (see there)."""
        while not self._stopping.wait(RULES_RECHECK_S):
            self.evaluate_rules()

    def fetch_hub_thumbnail(self, item_id: str) -> Path:
        """The hub's thumbnail of an item, kept in the cache folder (a worker's job: network).
        Raises OSError or HubError when there is none to have."""
        folder = self.paths.thumbnails_dir / "hub"
        dest = folder / f"{safe_filename(item_id)}.jpg"
        if dest.exists():
            with contextlib.suppress(OSError):
                os.utime(dest)  # shown now: kept (``prune_hub_thumbnails`` goes by this time)
            return dest
        known = self.library.get(item_id)
        url = known.item.thumbnail_url if known is not None else ""
        if not url:
            raise OSError(f"item {item_id} has no thumbnail")
        client = self.client()
        r = _thumbnail_answer(client, url, item_id)
        try:
            if r.status_code != 200 or not r.headers.get("Content-Type", "").startswith("image/"):
                raise OSError(f"thumbnail of {item_id}: HTTP {r.status_code}")
            data = bytearray()
            for chunk in r.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_THUMBNAIL:
                    raise OSError(f"thumbnail of {item_id} is too large")
        finally:
            r.close()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(bytes(data))
        tmp.replace(dest)
        return dest

    # --- wiring -------------------------------------------------------------------------------

    def _headers_for(self, t: Transfer) -> dict[str, str]:
        profile, mine = self.profile, profile_of(t)
        if mine and (profile is None or mine != profile.name):
            # another profile's (the engine does not run them): never this one's sign-in
            log.info("transfer %d is profile %s's: no sign-in of another sent", t.id, mine)
            return {}
        client = self._client_or_none()
        if client is None:
            return {}
        return client.headers_for(t.source if t.direction == "download" else t.destination)

    def _enqueue_rule(
        self,
        item: hub.Item,
        rendition: str,
        dest_dir: Path | None,
        rule: Rule,
        queue: TransferQueue | None = None,
    ) -> int | None:
        profile = self.require_profile()
        writable_folder(dest_dir or self.download_folder())
        # ``item`` comes at the priority to queue at (a first proxy one step higher): the
        # item's own, as the library has it, is the one shown
        known = self.library.get(item.id)
        own = known.item.priority if known is not None and not known.damaged else item.priority
        return self._enqueue_download(
            item,
            rendition,
            dest_dir,
            item.priority,
            rule.name,
            queue or self.queue,
            profile,
            rule_id=rule.id,
            item_priority=own,
        )

    def _enqueue_hot(self, path: Path, metadata: dict[str, str], folder: WatchFolder) -> int:
        q = self.queue or self.make_queue()
        return q.add_upload(
            path,
            self.client().uploads_url,
            metadata,
            label=metadata.get("title") or path.name,
            priority=metadata.get("priority") or "routine",
            extra={
                "profile": folder.profile,
                "hot_folder": folder.id,
                "publish_wait": PUBLISH_WAIT,
            },
        )

    def _library_hook(self, conn: sqlite3.Connection, t: Transfer) -> None:
        profile = _profile_of(t)
        if t.direction != "download" or t.state != "done" or not t.item_id or not profile:
            return
        record_file(
            conn,
            profile,
            t.item_id,
            t.rendition or "broadcast",
            t.destination,
            int(t.size or t.bytes_done),
            t.sha256 or "",
            t.id,
            mtime_ns=_placed_mtime_ns(t),
        )
        item_id = t.item_id
        # This runs inside the transaction: the media worker and the UI read the new row
        # once it is committed.
        self.store.after_commit(lambda: self._recorded(item_id))

    def _recorded(self, item_id: str) -> None:
        if self.media is not None:
            self.media.wake()
        self.events.emit(self.events.library_changed, item_id)


def writable_folder(folder: Path) -> None:
    """Make ``folder`` if need be and see that a file can be written in it (a share mounted
    read-only, a folder without write permission, a plain file in the way); OSError with one
    plain line naming the folder and the cause when not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".alu-write-test-"):
            pass
    except OSError as e:
        cause = e.strerror or str(e) or type(e).__name__
        raise OSError(f"the folder {folder} cannot be written ({cause})") from None


def _same_item_there(
    first: Path, dest: Path, sha256: str | None, size: int | None, taken: Container[str]
) -> Path | None:
    """``first`` (the item's own name in its folder) when a file is there that may be the
    item's — of its size, with a sha256 to check it by — or when another download writes
    there (a part file beside it: another workstation sharing the folder, which the job waits
    for), and no transfer of this workstation writes it; else None. Only the size is looked at
    here (a share may be slow: the job reads the bytes)."""
    if first == dest or not sha256 or size is None or first.name in taken:
        return None
    try:
        if first.with_name(first.name + ".part").exists():
            return first  # being downloaded: the job waits for it, then checks it
        st = first.stat()
    except OSError:
        return None
    return first if stat.S_ISREG(st.st_mode) and st.st_size == size else None


def _placed_mtime_ns(t: Transfer) -> int | None:
    """The modification time of a done download's file as its file system gave it once in
    place (the job's result, ``download.verify.placed_mtime_ns``): the library then deletes
    the file only while it still has it. Not read from the disk here: this runs under the
    library's write lock, and a share may take seconds to answer."""
    value = t.result.get("mtime_ns")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _profile_of(t: Transfer) -> str | None:
    value = t.options.get("profile")
    return value if isinstance(value, str) and value else None


#: redirects a thumbnail's address may take (the hub's to a store, a CDN's own)
_THUMBNAIL_REDIRECTS: Final = 5


def prune_hub_thumbnails(
    folder: Path, kept_for: float = HUB_THUMBNAILS_KEPT_S, now: float | None = None
) -> int:
    """Delete the hub thumbnails in ``folder`` not shown for ``kept_for`` seconds (their file
    time, refreshed when one is shown) and the partial ones a stop left; how many went. The
    folder is a cache: what goes is fetched again when its row is shown."""
    cutoff = (time.time() if now is None else now) - kept_for
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0  # none yet
    for entry in entries:
        if not entry.name.endswith((".jpg", ".jpg.part")):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # (gone meanwhile, or not ours to delete: left)
    if removed:
        log.info(
            "%d hub thumbnails not shown for %d days left the cache", removed, kept_for // 86400
        )
    return removed


def _thumbnail_answer(client: hub.HubClient, url: str, item_id: str) -> requests.Response:
    """The answer to a GET of a thumbnail at ``url``, its redirects followed here: the token
    goes only to the hub's origin, and not on from there to another one, on origins as
    requests connects to them (its own redirects decide on ``urllib.parse``'s reading of the
    address, which a backslash in it can make another server's). An address that is not a
    valid one (``http.origin``) is an OSError, as any thumbnail that cannot be had."""
    headers = client.headers_for(url)
    for _ in range(_THUMBNAIL_REDIRECTS + 1):
        if not http.valid_address(url):
            raise OSError(f"thumbnail of {item_id}: not a valid address")
        r = client.session.get(
            url, headers=headers, timeout=(10, 30), stream=True, allow_redirects=False
        )
        location = r.headers.get("Location")
        if not r.is_redirect or not location:
            return r
        r.close()
        try:
            target = urljoin(url, location)
        except ValueError:
            raise OSError(f"thumbnail of {item_id}: not a valid address") from None
        if not http.same_origin(url, target):
            headers = {}
        url = target
    raise OSError(f"thumbnail of {item_id}: redirected too many times")
