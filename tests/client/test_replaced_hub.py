"""The agency rebuilds its hub with a new (empty) database at the same address: the workstation
signed in again (its old token refused) and carried on with the old hub's state. Its history
cursor stood on an event the new hub never had, so the new hub was taken for the old one
restored from a backup and got this workstation's recent events, with the events never sent,
all about items it never had (the agency's figures counted downloads of nothing); the queued
downloads of the old hub's items failed with "no file at this address (HTTP 404)", and were
tried again at every new sign-in. The hub's identity (``hub_id``, kept per profile) tells:
the profile's hub-bound state is made the new hub's at the sign-in, and the user is told.
Against real hubs, one after the other on the same loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths, default_paths
from alu_client.core.profiles import HUB_REPLACED_OPTION, Profiles, ReplacedHub, sign_in
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.sync import SyncState, record_event
from alu_client.core.transfers.base import HUB_REPLACED_DOWNLOAD, HUB_REPLACED_UPLOAD
from alu_client.core.uploads import UploadFields
from alu_hub.app import build_hub, create_app
from alu_hub.server import free_port, serve_in_thread
from tests.client.test_cli_hub import alu, ok
from tests.support.livehub import LiveHub, hub_settings
from tests.support.waiting import wait_until

PW = "pw-replaced-1234"


class Address:
    """One loopback address (port) where hubs are started one after the other."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port("127.0.0.1")
        self.hubs: list[LiveHub] = []

    def start(self, name: str) -> LiveHub:
        """A hub with a new data folder (and database: a new identity) at the address."""
        folder = self.root / name
        settings = hub_settings(folder / "hub")
        built = build_hub(settings)
        server = serve_in_thread(create_app(settings, built), port=self.port)
        live = LiveHub(hub=built, server=server, tmp=folder)
        live.member("ktn", PW)
        self.hubs.append(live)
        return live

    def stop(self, live: LiveHub) -> None:
        live.server.stop()
        live.hub.db.dispose()
        self.hubs.remove(live)


@pytest.fixture
def address(tmp_path: Path) -> Iterator[Address]:
    a = Address(tmp_path / "hubs")
    yield a
    for live in list(a.hubs):
        a.stop(live)
    shutil.rmtree(tmp_path / "hubs", ignore_errors=True)


class Desk:
    def __init__(self, root: Path) -> None:
        self.paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads")
        self.paths.ensure()
        self.secrets = MemorySecrets()
        self.told: list[ReplacedHub] = []

    def sign_in(self, live: LiveHub) -> str:
        store = Store(self.paths.db_path)
        try:
            return sign_in(
                Profiles(store),
                self.secrets,
                live.url,
                "ktn",
                PW,
                allow_http=True,
                on_replaced_hub=lambda _profile, done: self.told.append(done),
            ).name
        finally:
            store.close()


def hub_history(live: LiveHub) -> list[tuple[str, str | None]]:
    session = live.login("ktn", PW)
    r = session.get(live.api("/history?after=0&limit=1000"), timeout=10)
    r.raise_for_status()
    return [(e["type"], e.get("item_id")) for e in r.json()["events"]]


def test_a_new_hub_at_the_same_address_gets_none_of_the_old_hubs_state(
    address: Address, tmp_path: Path, clip: Path, other_clip: Path
) -> None:
    old_hub = address.start("old")
    old = [old_hub.publish(clip, title=f"Old item {n}") for n in range(3)]
    desk = Desk(tmp_path / "desk")
    name = desk.sign_in(old_hub)
    services = Services(desk.paths, desk.secrets)
    assert services.feed_sync().catch_up() == 3
    queue = services.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    done = services.download(old[0])
    queue.wait_for(done, timeout=60)
    downloaded = services.library.get(old[0])
    assert downloaded is not None and downloaded.downloaded
    history = services.history()
    assert history.push() == 1  # the old hub has it
    history.pull()
    waiting = services.download(old[1])
    queue.pause(waiting)
    with services.store.write() as c:  # done while the hub was away: not sent yet
        unsent = record_event(c, name, "download_completed", item_id=old[2], bytes=7)
    # an upload under way: the old hub holds its first bytes at an address of its own
    queue.set_limits(None, 16_000.0)  # (some seconds for its 86 KB)
    upload = services.upload(other_clip, UploadFields(title="Own footage", language="en"))

    def started() -> bool:
        return bool(queue.transfers.load_checkpoint(upload)) and bool(
            (t := queue.transfers.get(upload)) and t.bytes_done > 0
        )

    wait_until(started, timeout=30, what="the upload's first bytes at the old hub")
    queue.pause(upload)
    wait_until(
        lambda: (t := queue.transfers.get(upload)) is not None and t.state == "paused",
        timeout=30,
        what="the upload paused",
    )
    services.stop()
    address.stop(old_hub)

    new_hub = address.start("new")  # rebuilt: a new database, at the same address
    assert new_hub.url == old_hub.url
    new = [new_hub.publish(clip, title=f"New item {n}") for n in range(5)]
    assert desk.sign_in(new_hub) == name  # the same profile: its library stays
    assert desk.told == [ReplacedHub(downloads=1, uploads=1, events=1)]

    services = Services(desk.paths, desk.secrets)
    try:
        state = SyncState(services.store, name)
        assert (state.feed_seq, state.history_seq) == (0, 0)
        went_back: list[str] = []
        feed = services.feed_sync()
        feed.on_went_back = lambda: went_back.append("feed")
        assert feed.catch_up() == 5  # the new hub's feed, read whole
        assert all(services.library.get(i) is not None for i in new)
        kept = services.library.get(old[0])  # the old hub's items and files stay
        assert kept is not None and kept.downloaded
        f = kept.file("broadcast")
        assert f is not None and Path(f.path).is_file()

        history = services.history()
        history.on_went_back = lambda: went_back.append("history")
        assert history.pending() == 0
        history.pull()
        assert history.push() == 0
        assert went_back == []  # no "restored from a backup": it is another hub
        assert hub_history(new_hub) == []  # nothing of the old hub's items sent to it
        [event] = [e for e in history.list(limit=50) if e.id == unsent]
        assert event.kept_from_new_hub and not event.pending

        queue = services.start_engine(sync=False, rules=False, hot_folders=False, media=False)
        down = queue.transfers.get(waiting)
        assert down is not None and down.state == "failed"
        assert down.last_error == HUB_REPLACED_DOWNLOAD
        assert down.options.get(HUB_REPLACED_OPTION)
        assert waiting not in [t.id for t in services._failed_hub_transfers()]
        assert HUB_REPLACED_UPLOAD in [m for _at, _kind, m in queue.transfers.log(upload)]
        queue.resume(upload)
        queue.wait_for(upload, timeout=60)
        up = queue.transfers.get(upload)
        assert up is not None and up.state == "done", up.last_error
        item_id = up.result.get("item_id")
        assert item_id and new_hub.hub.db.hub_id()
        titles = [i.title for i in services.client().items(limit=100).items]
        assert "Own footage" in titles  # published on the new hub
    finally:
        services.stop()


def test_the_same_hub_signed_in_again_keeps_its_state(
    address: Address, tmp_path: Path, clip: Path
) -> None:
    """A hub restarted (or restored from a backup: its identity goes with its database) is
    the same hub: nothing is reset, nothing said."""
    live = address.start("hub")
    item = live.publish(clip, title="Item")
    desk = Desk(tmp_path / "desk")
    name = desk.sign_in(live)
    services = Services(desk.paths, desk.secrets)
    try:
        assert services.feed_sync().catch_up() == 1
        tid = services.download(item)
        services.make_queue().pause(tid)
    finally:
        services.stop()
    desk.sign_in(live)
    assert desk.told == []
    store = Store(desk.paths.db_path)
    try:
        assert SyncState(store, name).feed_seq == 1
        from alu_client.core.store.transfers import TransferStore

        t = TransferStore(store).get(tid)
        assert t is not None and t.state == "paused"
    finally:
        store.close()


def test_a_hub_that_says_no_identity_is_signed_in_to_as_before(
    address: Address, tmp_path: Path, clip: Path
) -> None:
    """An older hub says no identity: a workstation cannot tell, and keeps its state."""
    live = address.start("hub")
    live.publish(clip, title="Item")
    desk = Desk(tmp_path / "desk")
    name = desk.sign_in(live)
    store = Store(desk.paths.db_path)
    try:
        assert SyncState(store, name).feed_seq == 0
        Profiles(store).set_hub_id(name, "")  # signed in to it before it had one
    finally:
        store.close()
    services = Services(desk.paths, desk.secrets)
    try:
        assert services.feed_sync().catch_up() == 1
    finally:
        services.stop()
    address.stop(live)
    desk.sign_in(address.start("new"))
    assert desk.told == []
    store = Store(desk.paths.db_path)
    try:
        assert SyncState(store, name).feed_seq == 1  # (its own "went back" check follows)
    finally:
        store.close()


def test_alu_login_says_the_hub_is_another_one(
    address: Address, tmp_path: Path, clip: Path
) -> None:
    home = tmp_path / "home"
    live = address.start("old")
    login = ("login", live.url, "--user", "ktn", "--password-stdin", "--allow-http")
    ok(alu(home, *login, stdin=PW + "\n"))
    live.publish(clip, title="Old item")
    ok(alu(home, "sync"))
    address.stop(live)
    live = address.start("new")
    live.publish(clip, title="New item")
    r = alu(home, *login, stdin=PW + "\n")
    assert r.returncode == 0, r.stderr
    assert f"Signed in to {live.url}" in r.stdout
    assert f"the hub at {live.url} is not the hub this workstation knew there" in r.stderr
    assert "0 download(s) not done yet ended" in r.stderr
    ok(alu(home, "sync"))
    titles = [line for line in ok(alu(home, "feed")).splitlines() if "item" in line]
    assert any("New item" in t for t in titles) and any("Old item" in t for t in titles)
    # signed in again to the same (new) hub: nothing more to say
    r = alu(home, *login, stdin=PW + "\n")
    assert r.returncode == 0 and "is not the hub" not in r.stderr


def test_alu_login_waits_for_a_running_engine_before_making_the_queue_the_new_hubs(
    address: Address, tmp_path: Path
) -> None:
    from alu_client.core.lockfile import EngineLock

    home = tmp_path / "home"
    live = address.start("old")
    login = ("login", live.url, "--user", "ktn", "--password-stdin", "--allow-http")
    ok(alu(home, *login, stdin=PW + "\n"))
    address.stop(live)
    address.start("new")
    held = EngineLock(default_paths({"ALU_CLIENT_HOME": str(home)}).engine_lock).acquire(say=False)
    try:
        r = alu(home, *login, stdin=PW + "\n")
    finally:
        held.release()
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "close the app (or stop alu watch run)" in r.stderr
    r = alu(home, *login, stdin=PW + "\n")  # once it is closed: the identity was kept
    assert r.returncode == 0 and "is not the hub this workstation knew" in r.stderr
